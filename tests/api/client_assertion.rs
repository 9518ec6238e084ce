//! `private_key_jwt` (RFC 7523 section 2.2): a confidential client that registered public keys,
//! inline or at a URL of its own, proves itself with an assertion signed by one of them at every
//! endpoint that authenticates clients (token, PAR, device authorization, introspection,
//! revocation); every way of getting an assertion wrong is refused, each assertion is taken
//! once (on every replica), and a client keeps the one way it registered.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::dpop::{Key, handmade};
use crate::helpers::{Options, TestApp, spawn_app_with};
use crate::oauth::{Client, REDIRECT, pkce, register};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The endpoints that authenticate a client, with a request each takes from a client that may
/// use it, and the status that request gets.
const DOORS: [(&str, StatusCode); 5] = [
    ("/oauth2/token", StatusCode::OK),
    ("/oauth2/par", StatusCode::CREATED),
    ("/oauth2/device_authorization", StatusCode::OK),
    ("/oauth2/introspect", StatusCode::OK),
    ("/oauth2/revoke", StatusCode::OK),
];

async fn app_with(options: Options) -> TestApp {
    spawn_app_with(options.var("GATEHOUSE_CLIENT_REGISTRATION", "open")).await
}

/// A client with keys, as an admin registers it: `keys` is `{"jwks": …}` or `{"jwks_uri": …}`.
async fn keyed_client(app: &TestApp, admin: &str, keys: Value) -> Client {
    let mut body = json!({
        "name": "Agent", "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials",
                        "urn:ietf:params:oauth:grant-type:device_code"],
        "scopes": ["openid", "email", "offline_access"],
    });
    body.as_object_mut().unwrap().extend(keys.as_object().unwrap().clone());
    let client = register(app, admin, body).await;
    assert_eq!(client.secret, None, "a client with keys gets no secret");
    client
}

fn jwks(key: &Key, kid: &str) -> Value {
    json!({"keys": [key.public_jwk(kid)]})
}

/// The claims of a good assertion of `client` for `aud`.
fn claims(client: &str, aud: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": client, "sub": client, "aud": aud, "exp": now + 60, "iat": now, "jti": uuid::Uuid::new_v4().to_string()})
}

fn assertion(key: &Key, kid: &str, claims: &Value) -> String {
    key.signed(json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}), claims)
}

/// The request `door` takes, with the client's credential fields `credentials`.
fn request(app: &TestApp, door: &str, credentials: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let challenge = pkce().1;
    let mut form: Vec<(&str, String)> = match door {
        "/oauth2/token" => vec![("grant_type", "client_credentials".into())],
        "/oauth2/par" => vec![
            ("response_type", "code".into()),
            ("redirect_uri", REDIRECT.into()),
            ("scope", "openid email".into()),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256".into()),
        ],
        "/oauth2/device_authorization" => vec![("scope", "openid".into())],
        _ => vec![("token", "not-a-token".into())],
    };
    form.extend(credentials.iter().map(|(k, v)| (*k, (*v).to_owned())));
    app.client.post(app.url(door)).form(&form)
}

/// At each door, a good assertion (its `aud` the issuer, then the door's own URL) proves the
/// client; the same assertion again is refused, here and at a second replica; so is the
/// client's `client_id` alone, a secret, or a `client_id` other than the assertion's.
#[tokio::test]
async fn a_client_with_keys_proves_itself_with_an_assertion_at_every_door_and_each_assertion_once() {
    let app = app_with(Options::default()).await;
    let admin = app.admin("root@example.com").await;
    let key = Key::new();
    let client = keyed_client(&app, &admin, json!({"jwks": jwks(&key, "k1")})).await;
    let shown: Value = app.get(&format!("/admin/clients/{}", client.id), Some(&admin)).await.json().await.unwrap();
    assert_eq!(shown["token_endpoint_auth_method"], "private_key_jwt", "{shown}");
    assert_eq!(shown["jwks"]["keys"][0]["kid"], "k1", "{shown}");
    let replica = app.replica().await;
    let issuer = app.url("");
    // RFC 9864's name for the same Ed25519 signature, which newer client libraries send.
    let renamed = key.signed(json!({"alg": "Ed25519", "typ": "JWT", "kid": "k1"}), &claims(&client.id, &issuer));
    let fields = [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", renamed.as_str())];
    assert_eq!(request(&app, "/oauth2/token", &fields).send().await.unwrap().status(), StatusCode::OK, "alg Ed25519");
    for (door, ok) in DOORS {
        for aud in [issuer.clone(), app.url(door)] {
            let signed = assertion(&key, "k1", &claims(&client.id, &aud));
            let fields = [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", signed.as_str())];
            let response = request(&app, door, &fields).send().await.unwrap();
            assert_eq!(response.status(), ok, "{door} aud {aud}: {}", response.text().await.unwrap());
            for (at, name) in [(Some(&app), "again"), (replica.as_ref(), "again at a replica")] {
                let Some(at) = at else { continue };
                let response = request(at, door, &fields).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{door} {name}");
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"], "invalid_client", "{door} {name}: {body}");
            }
        }
        let alone = request(&app, door, &[("client_id", client.id.as_str())]).send().await.unwrap();
        assert_eq!(alone.status(), StatusCode::UNAUTHORIZED, "{door}: the client_id alone proves nothing");
        let secret =
            [("client_id", client.id.as_str()), ("client_secret", "a-guess-of-forty-three-characters-or-so-xx")];
        let guessed = request(&app, door, &secret).send().await.unwrap();
        assert_eq!(guessed.status(), StatusCode::UNAUTHORIZED, "{door}: a client with keys has no secret");
        let signed = assertion(&key, "k1", &claims(&client.id, &issuer));
        let other = [
            ("client_id", "another-client"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", signed.as_str()),
        ];
        let response = request(&app, door, &other).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{door}: a client_id other than the assertion's");
    }
}

/// Every way of getting an assertion wrong, each refused at the token endpoint with
/// `invalid_client` (or, for the form of the request, `invalid_request`), before any grant.
#[tokio::test]
async fn every_bad_assertion_is_refused() {
    let app = app_with(Options::default()).await;
    let admin = app.admin("root@example.com").await;
    let key = Key::new();
    let client = keyed_client(&app, &admin, json!({"jwks": jwks(&key, "k1")})).await;
    let secret_client = register(
        &app,
        &admin,
        json!({"name": "Dashboard", "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"], "scopes": ["openid"]}),
    )
    .await;
    let issuer = app.url("");
    let now = chrono::Utc::now().timestamp();
    let good = claims(&client.id, &issuer);
    let with = |change: Value| {
        let mut claims = good.clone();
        claims["jti"] = uuid::Uuid::new_v4().to_string().into();
        for (name, value) in change.as_object().unwrap() {
            match value {
                Value::Null => _ = claims.as_object_mut().unwrap().remove(name),
                value => claims[name] = value.clone(),
            }
        }
        claims
    };
    let stranger = Key::new();
    let unsigned = handmade(json!({"alg": "none", "typ": "JWT"}), &with(json!({})), "");
    let hmac = {
        let header = jsonwebtoken::Header {
            kid: Some("k1".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        };
        jsonwebtoken::encode(&header, &with(json!({})), &jsonwebtoken::EncodingKey::from_secret(b"k1")).unwrap()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("another key's signature", assertion(&stranger, "k1", &with(json!({}))), "invalid_client"),
        ("a kid the client has not", assertion(&key, "k2", &with(json!({}))), "invalid_client"),
        ("alg none", unsigned, "invalid_client"),
        ("an HMAC alg", hmac, "invalid_client"),
        ("expired", assertion(&key, "k1", &with(json!({"exp": now - 120}))), "invalid_client"),
        ("exp two hours away", assertion(&key, "k1", &with(json!({"exp": now + 7200}))), "invalid_client"),
        ("no exp", assertion(&key, "k1", &with(json!({"exp": null}))), "invalid_client"),
        ("no jti", assertion(&key, "k1", &with(json!({"jti": null}))), "invalid_client"),
        ("iat in the future", assertion(&key, "k1", &with(json!({"iat": now + 600}))), "invalid_client"),
        ("another aud", assertion(&key, "k1", &with(json!({"aud": "https://elsewhere.example"}))), "invalid_client"),
        ("no aud", assertion(&key, "k1", &with(json!({"aud": null}))), "invalid_client"),
        ("sub not the client", assertion(&key, "k1", &with(json!({"sub": "someone"}))), "invalid_client"),
        ("iss another client", assertion(&key, "k1", &with(json!({"iss": secret_client.id}))), "invalid_client"),
        ("not a JWT", "not.a.jwt".to_owned(), "invalid_client"),
    ];
    for (what, signed, error) in cases {
        let fields = [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", signed.as_str())];
        let response = request(&app, "/oauth2/token", &fields).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some(error)), "{what}: {body}");
    }

    let signed = assertion(&key, "k1", &with(json!({})));
    let malformed: [(&str, Vec<(&str, &str)>); 3] = [
        ("another assertion type", vec![("client_assertion_type", "urn:other"), ("client_assertion", &signed)]),
        ("an assertion without its type", vec![("client_assertion", &signed)]),
        (
            "an assertion and a secret",
            vec![
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &signed),
                ("client_secret", "a-guess-of-forty-three-characters-or-so-xx"),
            ],
        ),
    ];
    for (what, fields) in malformed {
        let response = request(&app, "/oauth2/token", &fields).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{what}: {body}"
        );
    }

    // A client with a secret proves itself with its secret alone, whatever it signs.
    let claims = claims(&secret_client.id, &issuer);
    let fields = [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &assertion(&key, "k1", &claims))];
    let response = request(&app, "/oauth2/token", &fields).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "a client with a secret");
}

/// A JWK Set served at a URL of the client's own.
struct KeySetServer {
    url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<Mutex<usize>>,
}

impl KeySetServer {
    async fn start(keys: Value) -> KeySetServer {
        let (keys, fetches) = (Arc::new(Mutex::new(keys)), Arc::new(Mutex::new(0)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let served = (keys.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let (keys, fetches) = served.clone();
                async move {
                    *fetches.lock().unwrap() += 1;
                    axum::Json(keys.lock().unwrap().clone())
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        KeySetServer { url, keys, fetches }
    }

    fn fetches(&self) -> usize {
        *self.fetches.lock().unwrap()
    }
}

/// Keys at a `jwks_uri`: fetched once and kept; a new key (a `kid` the kept set lacks) is
/// fetched for, at most once a minute; and a `jwks_uri` at a private address is refused where
/// the guard is on (the default), at the first assertion, not at registration.
#[tokio::test]
async fn keys_at_a_url_are_fetched_through_the_guard_kept_and_fetched_again_for_a_new_key() {
    let old = Key::new();
    let served = KeySetServer::start(jwks(&old, "old")).await;
    let app = app_with(Options::default().var("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", "true")).await;
    let admin = app.admin("root@example.com").await;
    let client = keyed_client(&app, &admin, json!({"jwks_uri": served.url})).await;
    let issuer = app.url("");
    let prove = |key: &Key, kid: &str| {
        let signed = assertion(key, kid, &claims(&client.id, &issuer));
        let app = &app;
        async move {
            let fields = [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", signed.as_str())];
            request(app, "/oauth2/token", &fields).send().await.unwrap().status()
        }
    };
    assert_eq!(prove(&old, "old").await, StatusCode::OK);
    assert_eq!(prove(&old, "old").await, StatusCode::OK);
    assert_eq!(served.fetches(), 1, "the key set is kept");

    let new = Key::new();
    *served.keys.lock().unwrap() = json!({"keys": [old.public_jwk("old"), new.public_jwk("new")]});
    assert_eq!(prove(&new, "new").await, StatusCode::UNAUTHORIZED, "fetched again only a minute after the last");
    app.clock.advance(std::time::Duration::from_secs(61));
    // The new key's assertion names its algorithm by RFC 9864's name: its kid is read all the same.
    let renamed = new.signed(json!({"alg": "Ed25519", "typ": "JWT", "kid": "new"}), &claims(&client.id, &issuer));
    let fields = [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", renamed.as_str())];
    let status = request(&app, "/oauth2/token", &fields).send().await.unwrap().status();
    assert_eq!(status, StatusCode::OK, "a new kid is fetched for");
    assert_eq!(served.fetches(), 2);

    let guarded = app_with(Options::default()).await;
    let admin = guarded.admin("root@example.com").await;
    let client = keyed_client(&guarded, &admin, json!({"jwks_uri": served.url})).await;
    let signed = assertion(&old, "old", &claims(&client.id, &guarded.url("")));
    let fields = [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", signed.as_str())];
    let response = request(&guarded, "/oauth2/token", &fields).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert!(body["error_description"].as_str().unwrap().contains("jwks_uri"), "{body}");
    assert_eq!(served.fetches(), 2, "nothing was fetched from a private address");
}

/// Registration (RFC 7591): `private_key_jwt` needs keys, keys need `private_key_jwt`, a private
/// or symmetric key is refused, no secret is issued, and an update cannot trade the keys for a
/// secret; it may replace the keys.
#[tokio::test]
async fn a_client_registers_itself_with_keys_and_keeps_proving_itself_with_them() {
    let app = app_with(Options::default()).await;
    let key = Key::new();
    let base = json!({"client_name": "Agent", "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]});
    let metadata = |extra: Value| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let mut private = key.public_jwk("k1");
    private["d"] = "c2VjcmV0".into();
    for (what, extra) in [
        ("private_key_jwt without keys", json!({"token_endpoint_auth_method": "private_key_jwt"})),
        ("keys with a secret", json!({"token_endpoint_auth_method": "client_secret_basic", "jwks": jwks(&key, "k1")})),
        ("a private key", json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [private]}})),
        (
            "a symmetric key",
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
        ),
        (
            "both jwks and jwks_uri",
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(&key, "k1"), "jwks_uri": "https://agent.example/jwks.json"}),
        ),
    ] {
        let response = app.post_json("/oauth2/register", &metadata(extra), None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client_metadata", "{what}: {body}");
    }

    let response = app
        .post_json(
            "/oauth2/register",
            &metadata(json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(&key, "k1")})),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let registered: Value = response.json().await.unwrap();
    assert_eq!(registered["token_endpoint_auth_method"], "private_key_jwt", "{registered}");
    assert!(registered.get("client_secret").is_none(), "no secret is issued: {registered}");
    let id = registered["client_id"].as_str().unwrap().to_owned();
    let (uri, access) = (
        registered["registration_client_uri"].as_str().unwrap(),
        registered["registration_access_token"].as_str().unwrap(),
    );
    let signed = assertion(&key, "k1", &claims(&id, &app.url("")));
    let fields = [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", signed.as_str())];
    assert_eq!(request(&app, "/oauth2/token", &fields).send().await.unwrap().status(), StatusCode::OK);

    let to_secret = metadata(json!({"client_id": id, "token_endpoint_auth_method": "client_secret_basic"}));
    let response = app.client.put(uri).bearer_auth(access).json(&to_secret).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "the keys are not traded for a secret");
    let rotated = Key::new();
    let new_keys = metadata(
        json!({"client_id": id, "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(&rotated, "k2")}),
    );
    let response = app.client.put(uri).bearer_auth(access).json(&new_keys).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the keys are replaced");
    for (key, kid, status) in [(&key, "k1", StatusCode::UNAUTHORIZED), (&rotated, "k2", StatusCode::OK)] {
        let signed = assertion(key, kid, &claims(&id, &app.url("")));
        let fields = [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", signed.as_str())];
        assert_eq!(request(&app, "/oauth2/token", &fields).send().await.unwrap().status(), status, "{kid}");
    }
}
