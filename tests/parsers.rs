//! Property tests over everything that parses untrusted input: the JSON extractor, every route
//! that takes a body, a query string, a path key or a header (driven through the real
//! application), the account domain parsers, the access-token decoder and the opaque-token
//! helpers. Each property runs `PROPTEST_CASES` cases (proptest's default, 256, when unset);
//! a longer run is `PROPTEST_CASES=100000 cargo test --release --test parsers`.
//!
//! The HTTP properties share one application (SQLite in a temporary directory, rate limits
//! off, two hashing threads) and say: whatever arrives, the answer is never a 5xx, and a 4xx
//! is a problem+json document with its `code` (or, from the routes that serve pages, HTML).

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use gatehouse::app::Application;
use gatehouse::config::Config;
use gatehouse::http::error::ApiError;
use gatehouse::http::extract::{Object, parse_json};
use gatehouse::model::account::{AccountData, AccountKey, DisplayName, Email, NewPassword, Username};
use gatehouse::tokens::jwt::{AccessClaims, KeyRing, MAX_TOKEN_LEN, OrgClaim, SigningKey, TokenError};
use gatehouse::tokens::opaque::{self, OpaqueToken, TokenHash};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";
const ADMIN: &str = "admin@parsers.test";

// ---------------------------------------------------------------------------------------------
// The application under test
// ---------------------------------------------------------------------------------------------

/// One application for the whole test process, and what the properties need to reach it.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    address: String,
    client: reqwest::Client,
    /// An admin's access token, for the routes behind a login.
    admin_token: String,
    /// An account the admin may edit at will (never the admin's own).
    victim: String,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let vars = [
            ("GATEHOUSE_BIND", "127.0.0.1:0".to_owned()),
            // A domain name, so that passkeys are on and their bodies reach the WebAuthn parsing
            // (with an IP address their routes answer 409 before reading the credential).
            ("GATEHOUSE_PUBLIC_URL", "http://localhost:8080".to_owned()),
            ("GATEHOUSE_DATABASE_URL", format!("sqlite://{}", dir.path().join("parsers.db").display())),
            ("GATEHOUSE_RATE_LIMIT", "off".to_owned()),
            ("GATEHOUSE_HASH_THREADS", "2".to_owned()),
            ("GATEHOUSE_HASH_QUEUE", "256".to_owned()),
            ("GATEHOUSE_HASH_MAX_WAIT", "5m".to_owned()),
            ("GATEHOUSE_ADMIN_EMAIL", ADMIN.to_owned()),
            ("GATEHOUSE_ADMIN_PASSWORD", PASSWORD.to_owned()),
        ];
        let config = Config::from_vars(vars).expect("a valid configuration").config;
        let (address, client, admin_token, victim) = runtime.block_on(async {
            let app = Application::build(&config).await.expect("the app builds");
            let address = format!("http://127.0.0.1:{}", app.port());
            tokio::spawn(app.run_until(std::future::pending()));
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let login = client
                .post(format!("{address}/auth"))
                .json(&json!({"email": ADMIN, "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(login.status(), 200, "the admin logs in");
            let admin_token = login.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
            let signup = client
                .post(format!("{address}/user"))
                .json(&json!({"email": "victim@parsers.test", "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(signup.status(), 201, "the victim signs up");
            let victim = signup.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
            (address, client, admin_token, victim)
        });
        Fixture { runtime, address, client, admin_token, victim, _dir: dir }
    })
}

/// What came back, enough to judge it.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Sends one request to the shared application.
fn send(method: &str, path_and_query: &str, headers: HeaderMap, body: Option<Vec<u8>>) -> Answer {
    let f = fixture();
    f.runtime.block_on(async {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = f.client.request(method, format!("{}{path_and_query}", f.address)).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("the server answers: {e:?}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        Answer { status, content_type, body }
    })
}

/// Never a 5xx; a 4xx is problem+json with a `code` and the same `status`, or (where the
/// route serves pages) an HTML page.
fn judge(what: &str, answer: &Answer, pages: bool) -> Result<(), TestCaseError> {
    let shown =
        || format!("{what}: {} {} {}", answer.status, answer.content_type, String::from_utf8_lossy(&answer.body));
    prop_assert!(answer.status < 500, "a server error for {}", shown());
    if answer.status >= 400 {
        if pages && answer.content_type.starts_with("text/html") {
            prop_assert!(!answer.body.is_empty(), "an empty page for {}", shown());
            return Ok(());
        }
        prop_assert_eq!(answer.content_type.as_str(), "application/problem+json", "{}", shown());
        let problem: Value = serde_json::from_slice(&answer.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(problem["code"].as_str().is_some_and(|c| !c.is_empty()), "no code in {}", shown());
        prop_assert_eq!(problem["status"].as_u64(), Some(u64::from(answer.status)), "{}", shown());
    }
    Ok(())
}

/// A route that takes a body.
#[derive(Clone, Copy, Debug)]
struct Route {
    method: &'static str,
    path: &'static str,
    /// Sends the admin's token.
    authenticated: bool,
    /// Serves HTML pages for some answers.
    pages: bool,
    /// The fields its body knows.
    fields: &'static [&'static str],
}

impl Route {
    const fn new(method: &'static str, path: &'static str, fields: &'static [&'static str]) -> Self {
        Self { method, path, authenticated: false, pages: false, fields }
    }

    const fn with_token(self) -> Self {
        Self { authenticated: true, ..self }
    }

    const fn with_pages(self) -> Self {
        Self { pages: true, ..self }
    }
}

/// Every route with a body; `{victim}` stands for the victim's id.
const ROUTES: &[Route] = &[
    Route::new("POST", "/user", &["email", "password", "username", "name", "data"]),
    Route::new("POST", "/auth", &["email", "username", "password"]),
    Route::new("POST", "/auth/refresh", &["refresh_token"]),
    Route::new("POST", "/activate", &["token"]),
    Route::new("POST", "/activate/resend", &["email"]),
    Route::new("POST", "/password/forgot", &["email"]),
    Route::new("POST", "/password/reset", &["token", "new_password"]).with_pages(),
    Route::new("POST", "/password/change", &["email", "current_password", "new_password"]).with_token(),
    Route::new("PUT", "/user/{victim}", &["username", "name", "data", "role", "status", "email", "id"]).with_token(),
    Route::new("PATCH", "/user/{victim}", &["username", "name", "data", "role", "status"]).with_token(),
    Route::new("POST", "/auth/mfa", &["mfa_token", "code", "recovery_code", "webauthn"]),
    Route::new("POST", "/auth/reauthenticate", &["password", "code", "recovery_code", "webauthn"]).with_token(),
    Route::new("POST", "/mfa/totp", &["password"]).with_token(),
    Route::new("POST", "/mfa/totp/confirm", &["code"]).with_token(),
    Route::new("DELETE", "/mfa/totp", &["password", "code", "recovery_code"]).with_token(),
    Route::new("POST", "/auth/webauthn/options", &["mfa_token"]),
    Route::new("POST", "/auth/webauthn", &["credential"]),
    Route::new("POST", "/webauthn/register", &["credential", "name"]).with_token(),
    Route::new("POST", "/auth/email", &["email", "redirect_to"]),
    Route::new("POST", "/auth/email/verify", &["email", "code", "token", "redirect_to"]).with_pages(),
    Route::new("POST", "/auth/exchange", &["code"]),
];

/// A body each route accepts (or refuses only for its content, like a wrong password).
fn valid_body(route: &Route) -> Value {
    match route.path {
        "/user" => json!({"email": "fuzz@parsers.test", "password": PASSWORD, "username": "fuzzer", "name": "F"}),
        "/auth" => json!({"email": "nobody@parsers.test", "password": PASSWORD}),
        "/auth/refresh" => json!({"refresh_token": "x".repeat(43)}),
        "/activate" | "/password/reset" => json!({"token": "x".repeat(43), "new_password": PASSWORD}),
        "/password/change" => {
            json!({"current_password": "not the password", "new_password": "another long passphrase"})
        }
        "/user/{victim}" => json!({"name": "Victim", "data": {"phone": "+49 30 1234", "tags": ["a"]}}),
        "/auth/mfa" => json!({"mfa_token": "x".repeat(43), "code": "123456"}),
        "/auth/reauthenticate" | "/mfa/totp" => json!({"password": "not the password"}),
        "/mfa/totp/confirm" => json!({"code": "123456"}),
        "/auth/webauthn/options" => json!({}),
        "/auth/email/verify" => json!({"email": "nobody@parsers.test", "code": "12345678"}),
        "/auth/exchange" => json!({"code": "x".repeat(43)}),
        "/auth/webauthn" | "/webauthn/register" => json!({"credential": passkey_answer(), "name": "laptop"}),
        _ => json!({"email": "nobody@parsers.test"}),
    }
}

/// A browser's answer in the WebAuthn JSON shape (`PublicKeyCredential.toJSON()`), with both the
/// registration and the authentication fields, each well-formed but verifying nothing.
fn passkey_answer() -> Value {
    let b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    json!({
        "id": b64, "rawId": b64, "type": "public-key",
        "response": {
            "clientDataJSON": b64, "attestationObject": b64, "transports": ["internal"],
            "authenticatorData": b64, "signature": b64, "userHandle": b64
        },
        "clientExtensionResults": {}
    })
}

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("application/merge-patch+json"),
    Some("application/json; charset=utf-16"),
    Some("text/plain"),
    Some("multipart/form-data; boundary=x"),
    Some("application/"),
    Some("\u{7f}"),
    None,
];

fn send_body(route: &Route, content_type: Option<&str>, body: Vec<u8>) -> Answer {
    let f = fixture();
    let mut headers = HeaderMap::new();
    if let Some(value) = content_type.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(reqwest::header::CONTENT_TYPE, value);
    }
    if route.authenticated {
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", f.admin_token).parse().unwrap());
    }
    send(route.method, &route.path.replace("{victim}", &f.victim), headers, Some(body))
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// Any JSON value, a few levels deep, with the odd strings and numbers that break parsers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |n| serde_json::Number::from_f64(n).map(Value::Number)),
        any::<String>().prop_map(Value::String),
        "[a-z@.\u{0}\u{202e}é日 ]{0,24}".prop_map(Value::String),
        (0usize..70_000).prop_map(|n| Value::String("x".repeat(n))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A field's value: mostly strings near what the field expects (so that requests get past
/// the shape checks to the rules), sometimes anything at all.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => "[a-z0-9._+-]{1,20}@[a-z0-9-]{1,20}\\.[a-z]{2,6}".prop_map(Value::String),
        2 => any::<String>().prop_map(Value::String),
        1 => Just(Value::String(PASSWORD.to_owned())),
        1 => "[A-Za-z0-9_.-]{0,40}".prop_map(Value::String),
        1 => (0usize..1100).prop_map(|n| Value::String("p".repeat(n))),
        1 => "(user|admin|active|disabled|pending|[a-z]{0,8})".prop_map(Value::String),
        2 => json_value(),
    ]
}

/// An object whose keys are mostly the route's own fields.
fn object_for(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let key = prop_oneof![4 => prop::sample::select(fields).prop_map(str::to_owned), 1 => any::<String>()];
    prop::collection::vec((key, field_value()), 0..6).prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
}

/// Bodies built to hurt: arbitrary bytes, invalid UTF-8 inside strings, NULs, deep nesting,
/// sizes around the 64 KiB limit, duplicate keys, numbers where strings belong.
fn nasty_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| {
            let mut body = br#"{"email": ""#.to_vec();
            body.extend(bytes);
            body.extend(br#"", "password": "x"}"#);
            body
        }),
        Just(b"{\"email\": \"a\0b@example.com\", \"password\": \"\0\0\0\0\0\0\0\0\"}".to_vec()),
        Just(br#"{"email": "a\u0000b@example.com", "token": "\u0000", "name": "\ud800"}"#.to_vec()),
        (1usize..12_000).prop_map(|n| "[".repeat(n).into_bytes()),
        (1usize..3_000).prop_map(|n| "{\"data\":".repeat(n).into_bytes()),
        (65_400usize..65_600).prop_map(|n| format!(r#"{{"email": "{}"}}"#, "a".repeat(n)).into_bytes()),
        (65_400usize..65_600).prop_map(|n| format!("email={}&password=x", "a".repeat(n)).into_bytes()),
        Just(br#"{"email": "a@b.c", "email": "d@e.f", "password": "x", "password": 1}"#.to_vec()),
        Just(br#"{"email": 1e999, "password": -0, "token": 123, "refresh_token": [], "data": "str"}"#.to_vec()),
        Just(b"email=%FF%FE&password=%00&token=%&new_password=%zz&email=dup".to_vec()),
        Just(b"\xef\xbb\xbf{\"email\": \"bom@example.com\"}".to_vec()),
        Just(Vec::new()),
    ]
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Retype(usize, Value),
    DuplicateFirstKey,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), json_value()).prop_map(|(at, v)| Mutation::Retype(at, v)),
        Just(Mutation::DuplicateFirstKey),
    ]
}

fn mutate(valid: &Value, mutation: &Mutation) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(valid).unwrap();
    match mutation {
        Mutation::Flip(at, b) => {
            let at = at % bytes.len();
            bytes[at] ^= b | 1;
        }
        Mutation::Truncate(at) => bytes.truncate(at % bytes.len()),
        Mutation::Insert(at, extra) => {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, extra.iter().copied());
        }
        Mutation::Retype(at, value) => {
            let mut object = valid.as_object().cloned().unwrap_or_default();
            if let Some(key) = object.keys().nth(at % object.len().max(1)).cloned() {
                object.insert(key, value.clone());
            }
            bytes = serde_json::to_vec(&object).unwrap();
        }
        Mutation::DuplicateFirstKey => {
            let text = String::from_utf8(bytes).unwrap();
            let first = text.trim_start_matches('{').split(',').next().unwrap_or_default().trim_end_matches('}');
            bytes = format!("{{{first},{}", &text[1..]).into_bytes();
        }
    }
    bytes
}

/// `bytes` percent-encoded, every byte outside the unreserved set escaped.
fn percent(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A query string: parameters with arbitrary names and values, some repeated, some with
/// broken escapes.
fn query_string(names: &'static [&'static str]) -> impl Strategy<Value = String> {
    let name = prop_oneof![3 => prop::sample::select(names).prop_map(|n| n.as_bytes().to_vec()), 1 => prop::collection::vec(any::<u8>(), 0..8)];
    let value = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| percent(&b)),
        "[ -~]{0,64}".prop_map(|s| s.replace(['#', ' '], "+")),
        Just("%".to_owned()),
        Just("%FF%FE".to_owned()),
        // Long, yet five of them stay under the 32 KiB a request's head may weigh: past that,
        // hyper answers a bare 431 before gatehouse sees the request (src/http/serve.rs).
        (0usize..6_000).prop_map(|n| "a".repeat(n)),
    ];
    prop::collection::vec((name, value), 0..5)
        .prop_map(|pairs| pairs.into_iter().map(|(n, v)| format!("{}={v}", percent(&n))).collect::<Vec<_>>().join("&"))
}

/// Bytes a header value may hold (visible ASCII, space, tab, obs-text).
fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')], 0..256),
        "(Bearer|bearer|Basic|BEARER) ?[ -~]{0,300}".prop_map(String::into_bytes),
        "Bearer [A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,90}".prop_map(String::into_bytes),
    ]
    .prop_filter_map("a valid header value", |bytes| HeaderValue::from_bytes(&bytes).ok())
}

// ---------------------------------------------------------------------------------------------
// The JSON extractor, directly
// ---------------------------------------------------------------------------------------------

#[allow(dead_code)]
#[derive(Deserialize, utoipa::ToSchema)]
struct LoginLike {
    email: Option<String>,
    username: Option<String>,
    #[schema(value_type = String)]
    password: SecretString,
}

#[allow(dead_code)]
#[derive(Deserialize, utoipa::ToSchema)]
struct ResetLike {
    token: String,
    #[schema(value_type = String)]
    new_password: SecretString,
}

/// Parses `bytes` as every body shape: each either succeeds or is a malformed request.
fn parse_every_shape(bytes: &[u8]) -> Result<(), TestCaseError> {
    fn malformed_or_ok<T>(result: Result<T, ApiError>) -> Result<(), TestCaseError> {
        match result {
            Ok(_) | Err(ApiError::MalformedRequest(_) | ApiError::MissingFields(_)) => Ok(()),
            Err(other) => Err(TestCaseError::fail(format!("not a malformed request: {other:?}"))),
        }
    }
    malformed_or_ok(parse_json::<Value>(bytes))?;
    malformed_or_ok(parse_json::<Object>(bytes))?;
    malformed_or_ok(parse_json::<LoginLike>(bytes))?;
    malformed_or_ok(parse_json::<ResetLike>(bytes))
}

proptest! {
    #[test]
    fn the_json_extractor_takes_any_bytes(bytes in prop_oneof![prop::collection::vec(any::<u8>(), 0..1024), nasty_body()]) {
        parse_every_shape(&bytes)?;
    }

    #[test]
    fn the_json_extractor_takes_mutated_valid_bodies(route in prop::sample::select(ROUTES), m in mutation()) {
        parse_every_shape(&mutate(&valid_body(&route), &m))?;
    }

    #[test]
    fn the_json_extractor_takes_any_json_value(value in json_value()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        parse_every_shape(&bytes)?;
        prop_assert!(parse_json::<Value>(&bytes).is_ok(), "valid JSON refused: {}", value);
    }
}

// ---------------------------------------------------------------------------------------------
// Every route, through the real application
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn routes_survive_hostile_bodies(
        route in prop::sample::select(ROUTES),
        content_type in prop::sample::select(CONTENT_TYPES),
        body in nasty_body(),
    ) {
        let answer = send_body(&route, content_type, body);
        judge(&format!("{} {} ({content_type:?})", route.method, route.path), &answer, route.pages)?;
    }

    #[test]
    fn routes_survive_mutated_valid_bodies(route in prop::sample::select(ROUTES), m in mutation()) {
        let content_type = if route.method == "PATCH" { "application/merge-patch+json" } else { "application/json" };
        let answer = send_body(&route, Some(content_type), mutate(&valid_body(&route), &m));
        judge(&format!("{} {} {m:?}", route.method, route.path), &answer, route.pages)?;
    }

    #[test]
    fn routes_survive_any_json_in_their_fields(
        (route, body) in prop::sample::select(ROUTES).prop_flat_map(|r| (Just(r), object_for(r.fields))),
    ) {
        let answer = send_body(&route, Some("application/json"), serde_json::to_vec(&body).unwrap());
        judge(&format!("{} {} {body}", route.method, route.path), &answer, route.pages)?;
    }

    #[test]
    fn routes_survive_any_form_fields(
        route in prop::sample::select(ROUTES),
        form in query_string(&["email", "username", "password", "token", "new_password", "refresh_token", "name"]),
    ) {
        let answer = send_body(&route, Some("application/x-www-form-urlencoded"), form.clone().into_bytes());
        judge(&format!("{} {} {form}", route.method, route.path), &answer, route.pages)?;
    }

    #[test]
    fn links_survive_any_query_string(
        path in prop::sample::select(&["/activate", "/password/reset"][..]),
        query in query_string(&["token"]),
        html in any::<bool>(),
    ) {
        let mut headers = HeaderMap::new();
        let accept = if html { "text/html" } else { "application/json" };
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static(accept));
        let answer = send("GET", &format!("{path}?{query}"), headers, None);
        judge(&format!("GET {path}?{query} ({accept})"), &answer, html || path == "/password/reset")?;
    }

    #[test]
    fn account_paths_survive_any_key(
        method in prop::sample::select(&["GET", "PUT", "PATCH"][..]),
        key in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..80).prop_map(|b| percent(&b)),
            "[ -~]{0,80}".prop_map(|s| s.replace(['#', '?', '/', '%'], "")),
            Just("%FF%FE".to_owned()),
            Just("%00".to_owned()),
        ],
    ) {
        let f = fixture();
        // Never the admin's own account: an edit could lock the properties out.
        prop_assume!(!key.to_lowercase().contains("admin"));
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", f.admin_token).parse().unwrap());
        headers.insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let body = (method != "GET").then(|| br#"{"name": "Renamed"}"#.to_vec());
        let answer = send(method, &format!("/user/{key}"), headers, body);
        judge(&format!("{method} /user/{key}"), &answer, false)?;
    }

    #[test]
    fn routes_survive_any_header(
        route in prop::sample::select(ROUTES),
        name in prop::sample::select(&["authorization", "content-type", "x-request-id", "x-forwarded-for", "forwarded", "user-agent", "accept", "origin", "cookie"][..]),
        value in header_value(),
    ) {
        let f = fixture();
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(HeaderName::from_static(name), value.clone());
        let body = serde_json::to_vec(&valid_body(&route)).unwrap();
        let answer = send(route.method, &route.path.replace("{victim}", &f.victim), headers, Some(body));
        judge(&format!("{} {} with {name}: {value:?}", route.method, route.path), &answer, route.pages || name == "accept")?;
    }

    #[test]
    fn the_audit_trail_survives_any_query_string(
        query in query_string(&["account", "kind", "ip", "since", "until", "limit", "cursor"]),
    ) {
        let f = fixture();
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", f.admin_token).parse().unwrap());
        let answer = send("GET", &format!("/admin/events?{query}"), headers, None);
        judge(&format!("GET /admin/events?{query}"), &answer, false)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The domain parsers
// ---------------------------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ a-zA-Z0-9._%+\\-@İßΣ\\x00\\x{85}\\x{200B}]{0,80}",
        "[a-zA-Z0-9._+\\-İ]{1,70}@[a-zA-Z0-9\\-İ]{1,63}(\\.[a-zA-Z0-9\\-]{1,63}){0,3}",
        // Addresses whose lower case is longer than they are (İ is two bytes, i̇ three).
        (1usize..=4).prop_map(|labels| format!("a@{}com", format!("{}.", "İ".repeat(30)).repeat(labels))),
    ]
}

proptest! {
    #[test]
    fn emails_parse_stably(input in text()) {
        if let Ok(email) = Email::parse(&input) {
            let again = Email::parse(email.as_str()).expect("an accepted address is accepted again");
            prop_assert_eq!(again.normalized(), email.normalized());
            prop_assert_eq!(email.normalized(), email.as_str().to_lowercase());
            prop_assert!(email.as_str().len() <= Email::MAX_LEN);
        }
    }

    /// `İ` lowers to `i` and a combining dot: an address is accepted only if its lower-case
    /// form is an address too.
    #[test]
    fn the_lower_case_of_an_accepted_email_is_accepted(input in text()) {
        if let Ok(email) = Email::parse(&input) {
            let lower = Email::parse(email.normalized()).expect("the lower-case form of an accepted address is accepted");
            prop_assert_eq!(lower.normalized(), email.normalized());
        }
    }

    #[test]
    fn usernames_parse_stably(input in prop_oneof![text(), "[A-Za-z0-9_.\\- ]{0,40}"]) {
        if let Ok(name) = Username::parse(&input) {
            prop_assert_eq!(Username::parse(name.as_str()).unwrap(), name.clone());
            let lower = Username::parse(&name.normalized()).expect("the lower-case form of an accepted name is accepted");
            prop_assert_eq!(lower.as_str(), name.normalized());
        }
    }

    #[test]
    fn display_names_parse_stably(input in text()) {
        if let Ok(Some(name)) = DisplayName::parse(&input) {
            prop_assert_eq!(DisplayName::parse(name.as_str()).unwrap(), Some(name.clone()));
        }
    }

    #[test]
    fn account_data_parses_stably(value in json_value()) {
        if let Ok(data) = AccountData::parse(value) {
            let again = AccountData::parse(Value::Object(data.as_map().clone())).expect("accepted data is accepted again");
            prop_assert_eq!(again, data);
        }
    }

    #[test]
    fn passwords_parse_stably(password in text(), email in text(), username in text()) {
        let secret = SecretString::from(password);
        let first = NewPassword::parse(&secret, "password", &[&email, &username]).is_ok();
        prop_assert_eq!(NewPassword::parse(&secret, "password", &[&email, &username]).is_ok(), first);
    }

    #[test]
    fn account_keys_parse_stably(input in text()) {
        let key = AccountKey::parse(&input);
        let again = match &key {
            AccountKey::Id(id) => AccountKey::parse(&id.to_string()),
            AccountKey::Email(email) => AccountKey::parse(email),
            AccountKey::Username(name) => AccountKey::parse(name),
        };
        prop_assert_eq!(again, key);
    }
}

// ---------------------------------------------------------------------------------------------
// Access tokens
// ---------------------------------------------------------------------------------------------

const ISSUER: &str = "https://auth.parsers.test";

fn rings() -> &'static (KeyRing, KeyRing) {
    static RINGS: OnceLock<(KeyRing, KeyRing)> = OnceLock::new();
    RINGS.get_or_init(|| {
        let ring = || KeyRing::new(ISSUER, vec![SigningKey::generate(Utc::now()).unwrap()]).unwrap();
        (ring(), ring())
    })
}

fn claims() -> impl Strategy<Value = AccessClaims> {
    (any::<u128>(), any::<u128>(), any::<u128>(), 1i64..1_000_000, any::<String>(), "user|admin|[a-z]{0,8}").prop_map(
        |(sub, sid, jti, lifetime, email, role)| {
            let now = Utc::now().timestamp();
            AccessClaims {
                iss: ISSUER.into(),
                sub: Uuid::from_u128(sub),
                aud: ISSUER.into(),
                sid: Uuid::from_u128(sid),
                iat: now,
                exp: now + lifetime,
                jti: Uuid::from_u128(jti),
                email,
                role: role.clone(),
                app_data: serde_json::Map::new(),
                amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
                aal: 2,
                org: (sub % 2 == 0).then(|| OrgClaim {
                    id: Uuid::from_u128(jti),
                    slug: "acme".into(),
                    role: role.clone(),
                    permissions: vec!["members:invite".into(), "docs:write".into()],
                    groups: if sub % 4 == 0 { vec!["Engineering".into()] } else { Vec::new() },
                }),
                act: (sub % 3 == 0).then(|| gatehouse::tokens::jwt::ActClaim { sub: Uuid::from_u128(sid ^ jti) }),
            }
        },
    )
}

/// A token's three parts.
fn parts(token: &str) -> (&str, &str, &str) {
    let mut parts = token.splitn(3, '.');
    (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap())
}

proptest! {
    #[test]
    fn valid_tokens_verify_to_their_claims(claims in claims()) {
        let (ring, _) = rings();
        let token = ring.sign(&claims).unwrap();
        prop_assert_eq!(ring.verify(&token), Ok(claims));
    }

    #[test]
    fn arbitrary_strings_are_refused(token in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,300}\\.[A-Za-z0-9_-]{0,100}",
        (MAX_TOKEN_LEN - 2..MAX_TOKEN_LEN + 2).prop_map(|n| format!("a.{}.b", "c".repeat(n))),
    ]) {
        prop_assert!(rings().0.verify(&token).is_err());
    }

    #[test]
    fn a_token_with_any_character_changed_is_refused(
        claims in claims(),
        at in any::<usize>(),
        replacement in prop_oneof![any::<char>(), prop::sample::select(&['A', 'B', 'a', '_', '-', '.', '0', '='][..])],
    ) {
        let (ring, _) = rings();
        let token = ring.sign(&claims).unwrap();
        let mut chars: Vec<char> = token.chars().collect();
        let at = at % chars.len();
        prop_assume!(chars[at] != replacement);
        chars[at] = replacement;
        let tampered: String = chars.into_iter().collect();
        prop_assert!(ring.verify(&tampered).is_err(), "{}", tampered);
    }

    #[test]
    fn a_truncated_or_extended_token_is_refused(claims in claims(), cut in any::<usize>(), tail in "[A-Za-z0-9_.=-]{1,8}") {
        let (ring, _) = rings();
        let token = ring.sign(&claims).unwrap();
        let cut = cut % token.len();
        let extended = format!("{token}{tail}");
        for broken in [&token[..cut], extended.as_str()] {
            prop_assert!(ring.verify(broken).is_err(), "{}", broken);
        }
    }

    #[test]
    fn unsigned_and_foreign_tokens_are_refused(claims in claims()) {
        let (ring, other) = rings();
        let token = ring.sign(&claims).unwrap();
        let foreign = other.sign(&claims).unwrap();
        let (header, payload, _) = parts(&token);
        let (foreign_header, _, foreign_signature) = parts(&foreign);
        let kid = ring.jwks()[0].kid.clone();
        let none = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
        let hs256 = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT", "kid": kid}).to_string());

        let signature = parts(&token).2;
        let forged = [
            format!("{none}.{payload}."),
            format!("{none}.{payload}.{signature}"),
            format!("{hs256}.{payload}.{signature}"),
            format!("{header}.{payload}.{foreign_signature}"),
            format!("{foreign_header}.{payload}.{signature}"),
            format!("{header}.{payload}"),
        ];
        for token in &forged {
            prop_assert!(ring.verify(token).is_err(), "{}", token);
        }
        prop_assert_eq!(ring.verify(&forged[0]), Err(TokenError::Malformed));
        prop_assert_eq!(ring.verify(&foreign), Err(TokenError::UnknownKey));
    }

    #[test]
    fn expired_tokens_are_refused(claims in claims(), ago in 1i64..10_000_000) {
        let (ring, _) = rings();
        let now = Utc::now().timestamp();
        let expired = AccessClaims { iat: now - ago - 60, exp: now - ago, ..claims };
        prop_assert_eq!(ring.verify(&ring.sign(&expired).unwrap()), Err(TokenError::Expired));
    }

    #[test]
    fn tokens_for_another_issuer_are_refused(claims in claims(), issuer in any::<String>()) {
        prop_assume!(issuer != ISSUER);
        let (ring, _) = rings();
        let token = ring.sign(&AccessClaims { iss: issuer, ..claims }).unwrap();
        prop_assert!(ring.verify(&token).is_err());
    }

    #[test]
    fn tokens_for_another_audience_are_refused(claims in claims(), audience in any::<String>()) {
        prop_assume!(audience != ISSUER);
        let (ring, _) = rings();
        let token = ring.sign(&AccessClaims { aud: audience, ..claims }).unwrap();
        prop_assert_eq!(ring.verify(&token), Err(TokenError::Invalid));
    }
}

// ---------------------------------------------------------------------------------------------
// Opaque tokens
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn opaque_token_helpers_take_any_input(token in any::<String>(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(opaque::plausible(&token), !token.is_empty() && token.len() <= 128);
        prop_assert_eq!(TokenHash::of(&token), TokenHash::of(&token));
        let hash = TokenHash::from_bytes(&bytes);
        prop_assert_eq!(hash.is_some(), bytes.len() == 32);
        if let Some(hash) = hash {
            prop_assert_eq!(hash.as_bytes().as_slice(), bytes.as_slice());
        }
        let key = gatehouse::tokens::mac::MacKey::new(&bytes);
        let (a, b) = (OpaqueToken::derive(&key, &token), OpaqueToken::derive(&key, &token));
        prop_assert_eq!(a.expose(), b.expose());
        prop_assert_eq!(a.hash, TokenHash::of(a.expose()));
        prop_assert!(opaque::plausible(a.expose()));
    }
}
