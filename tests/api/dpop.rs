//! DPoP (RFC 9449): tokens bound to a client's key at the token endpoint, which then open a
//! door only with a fresh proof of that key for that very request; every way of presenting a
//! token wrongly is refused at every door that reads client tokens, and a proof is taken once
//! on every replica.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::agents::{MCP, ask, front_door_with, header};
use crate::browser::{Browser, query_param};
use crate::helpers::{Options, TestApp, jwt_payload};
use crate::oauth::{Client, REDIRECT, authorize, pkce, register};

/// A client's key pair (Ed25519), and the proofs it makes.
pub(crate) struct Key {
    pkcs8: Vec<u8>,
    x: String,
}

impl Key {
    pub(crate) fn new() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap().as_ref().to_vec();
        let public = Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap().public_key().as_ref().to_vec();
        Key { pkcs8, x: URL_SAFE_NO_PAD.encode(public) }
    }

    fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": self.x})
    }

    /// Its RFC 7638 thumbprint.
    pub(crate) fn jkt(&self) -> String {
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, self.x);
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// A proof of this key for `method` `url`, with `token`'s hash.
    pub(crate) fn proof(&self, method: &str, url: &str, token: Option<&str>) -> String {
        self.sign(self.jwk(), "dpop+jwt", claims(method, url, token))
    }

    /// Signed by hand, so that the header is exactly what the test says (a private member too).
    fn sign(&self, jwk: Value, typ: &str, claims: Value) -> String {
        self.signed(json!({"typ": typ, "alg": "EdDSA", "jwk": jwk}), &claims)
    }

    /// A JWT of `claims` under `header` as given, signed with this key.
    pub(crate) fn signed(&self, header: Value, claims: &Value) -> String {
        let unsigned = handmade(header, claims, "");
        let input = unsigned.trim_end_matches('.');
        let signature = Ed25519KeyPair::from_pkcs8(&self.pkcs8).unwrap().sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// Its public key as a JWK named `kid`, as a client registers it.
    pub(crate) fn public_jwk(&self, kid: &str) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": kid, "use": "sig", "alg": "EdDSA"})
    }
}

fn claims(method: &str, url: &str, token: Option<&str>) -> Value {
    let mut claims = json!({
        "jti": uuid::Uuid::new_v4().to_string(), "htm": method, "htu": url,
        "iat": chrono::Utc::now().timestamp(),
    });
    if let Some(token) = token {
        claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
    }
    claims
}

/// A JWT by hand: header and claims as given, and `signature` as its third part.
pub(crate) fn handmade(header: Value, claims: &Value, signature: &str) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    format!("{}.{}.{signature}", part(&header), part(claims))
}

async fn front_door() -> TestApp {
    front_door_with(Options::default()).await
}

/// A confidential client's client-credentials token for the MCP server, bound to `key`.
async fn bound_machine_token(app: &TestApp, client: &Client, key: &Key) -> reqwest::Response {
    let proof = key.proof("POST", &app.url("/oauth2/token"), None);
    let form = [("grant_type", "client_credentials"), ("scope", "app_data"), ("resource", MCP)];
    let request = app.client.post(app.url("/oauth2/token")).header("authorization", client.basic());
    request.header("dpop", proof).form(&form).send().await.unwrap()
}

/// The question a proxy asks about `GET https://mcp.test/mcp` with the DPoP scheme.
fn ask_bound(app: &TestApp, token: &str, proof: Option<&str>) -> reqwest::RequestBuilder {
    let request = ask(app, "mcp.test", "/mcp").header("authorization", format!("DPoP {token}"));
    match proof {
        Some(proof) => request.header("dpop", proof),
        None => request,
    }
}

/// A token bound at the token endpoint opens the resource's door with a proof of its key for
/// that request (the app hears the key in `Remote-Dpop-Jkt`), and every other presentation is
/// refused, each with the challenge naming DPoP: as a bearer token, without a proof, a proof of
/// another method, URL, token or key, too old, replayed, unsigned, HMAC-signed, not typed
/// `dpop+jwt`, or carrying a private key. The token endpoint refuses a bad proof before the
/// grant is spent; introspection tells a resource server the key.
#[tokio::test]
async fn a_bound_token_opens_a_door_only_with_a_fresh_proof_of_its_key() {
    let app = front_door().await;
    let discovery: Value = app.get("/.well-known/oauth-authorization-server", None).await.json().await.unwrap();
    assert_eq!(
        discovery["dpop_signing_alg_values_supported"],
        json!(["ES256", "ES384", "EdDSA", "Ed25519", "RS256", "PS256"])
    );
    let admin = app.admin("root@example.com").await;
    let body =
        json!({"name": "Agent", "grant_types": ["client_credentials"], "scopes": ["app_data"], "introspect": true});
    let agent = register(&app, &admin, body).await;
    let key = Key::new();

    let wrong_url = key.proof("POST", "https://elsewhere.test/oauth2/token", None);
    let form = [("grant_type", "client_credentials"), ("resource", MCP)];
    let refused =
        app.client.post(app.url("/oauth2/token")).header("authorization", agent.basic()).header("dpop", wrong_url);
    let refused = refused.form(&form).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "invalid_dpop_proof");

    let answer: Value = bound_machine_token(&app, &agent, &key).await.json().await.unwrap();
    assert_eq!(answer["token_type"], "DPoP", "{answer}");
    let token = answer["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_payload(&token)["cnf"]["jkt"], key.jkt());

    let url = "https://mcp.test/mcp";
    let passed = ask_bound(&app, &token, Some(&key.proof("GET", url, Some(&token)))).send().await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(header(&passed, "remote-dpop-jkt"), Some(key.jkt()));
    assert_eq!(header(&passed, "remote-client").as_deref(), Some(agent.id.as_str()));
    // RFC 9864's name for the same Ed25519 signature, which newer client libraries send.
    let renamed =
        key.signed(json!({"typ": "dpop+jwt", "alg": "Ed25519", "jwk": key.jwk()}), &claims("GET", url, Some(&token)));
    assert_eq!(ask_bound(&app, &token, Some(&renamed)).send().await.unwrap().status(), StatusCode::OK, "alg Ed25519");

    let other = Key::new();
    let fresh = |method: &str, url: &str| claims(method, url, Some(&token));
    let mut stale = fresh("GET", url);
    stale["iat"] = json!(chrono::Utc::now().timestamp() - 120);
    let mut no_ath = fresh("GET", url);
    no_ath.as_object_mut().unwrap().remove("ath");
    let reused = key.proof("GET", url, Some(&token));
    assert_eq!(ask_bound(&app, &token, Some(&reused)).send().await.unwrap().status(), StatusCode::OK);
    let mut private = key.jwk();
    private["d"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    let hmac = {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(serde_json::from_value(key.jwk()).unwrap());
        jsonwebtoken::encode(&header, &fresh("GET", url), &EncodingKey::from_secret(b"shared")).unwrap()
    };
    let unsigned = handmade(json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()}), &fresh("GET", url), "");
    let table: Vec<(&str, Option<String>)> = vec![
        ("no proof", None),
        ("a proof of another method", Some(key.proof("POST", url, Some(&token)))),
        ("a proof of another URL", Some(key.proof("GET", "https://mcp.test/other", Some(&token)))),
        ("a proof of another host", Some(key.proof("GET", "https://api.test/mcp", Some(&token)))),
        ("a proof of another token", Some(key.proof("GET", url, Some("another-token")))),
        ("a proof without ath", Some(key.sign(key.jwk(), "dpop+jwt", no_ath))),
        ("a proof of another key", Some(other.proof("GET", url, Some(&token)))),
        ("a proof two minutes old", Some(key.sign(key.jwk(), "dpop+jwt", stale))),
        ("a proof seen before", Some(reused)),
        ("an unsigned proof", Some(unsigned)),
        ("an HMAC proof", Some(hmac)),
        ("a proof typed JWT", Some(key.sign(key.jwk(), "JWT", fresh("GET", url)))),
        ("a proof carrying its private key", Some(key.sign(private, "dpop+jwt", fresh("GET", url)))),
        ("a proof not a JWT", Some("not-a-proof".into())),
    ];
    for (what, proof) in table {
        let answer = ask_bound(&app, &token, proof.as_deref()).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{what}");
        let challenges: Vec<&str> =
            answer.headers().get_all("www-authenticate").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(
            challenges.iter().any(|c| c.starts_with(r#"DPoP error="invalid_token", algs=""#)),
            "{what}: {challenges:?}"
        );
        assert!(challenges.iter().any(|c| c.starts_with("Bearer ")), "{what}: {challenges:?}");
    }
    let as_bearer = ask(&app, "mcp.test", "/mcp").bearer_auth(&token).send().await.unwrap();
    assert_eq!(as_bearer.status(), StatusCode::UNAUTHORIZED, "a bound token as a bearer token");
    let twice = ask_bound(&app, &token, None)
        .header("dpop", key.proof("GET", url, Some(&token)))
        .header("dpop", key.proof("GET", url, Some(&token)));
    assert_eq!(twice.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "two proofs");

    // An unbound token with the DPoP scheme, and gatehouse's own.
    let form = [("grant_type", "client_credentials"), ("resource", MCP)];
    let bearer: Value = crate::oauth::token(&app, &agent, &form).await.json().await.unwrap();
    assert_eq!(bearer["token_type"], "Bearer");
    let unbound = bearer["access_token"].as_str().unwrap();
    let answer = ask_bound(&app, unbound, Some(&key.proof("GET", url, Some(unbound)))).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "an unbound token with the DPoP scheme");
    let (_, session) = app.logged_in_user("ann@example.com").await;
    let answer = ask_bound(&app, &session, Some(&key.proof("GET", url, Some(&session)))).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "gatehouse's own token with the DPoP scheme");

    let seen = app.client.post(app.url("/oauth2/introspect")).header("authorization", agent.basic());
    let seen: Value = seen.form(&[("token", token.as_str())]).send().await.unwrap().json().await.unwrap();
    assert_eq!((&seen["active"], &seen["token_type"]), (&json!(true), &json!("DPoP")), "{seen}");
    assert_eq!(seen["cnf"]["jkt"], key.jkt());
}

/// A public client's code grant with a proof: its tokens are bound, userinfo takes them only
/// with a proof, and its refresh token is redeemed only with a proof of the same key; one of
/// another key (someone who stole the refresh token) ends the session. A proof seen at one
/// replica is refused at another.
#[tokio::test]
async fn a_public_client_s_refresh_token_is_bound_to_its_key_and_a_proof_is_taken_once_everywhere() {
    let app = front_door().await;
    let admin = app.admin("root@example.com").await;
    app.active_user("ann@example.com", None).await;
    let body = json!({
        "name": "CLI", "redirect_uris": [REDIRECT], "confidential": false,
        "grant_types": ["authorization_code", "refresh_token"], "scopes": ["openid", "email", "offline_access"],
    });
    let cli = register(&app, &admin, body).await;
    let key = Key::new();
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", cli.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email offline_access"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let back = authorize(&app, &browser, url.as_str(), "ann@example.com").await;
    let code = query_param(&back, "code").unwrap();
    let token_url = app.url("/oauth2/token");
    let post = |form: Vec<(&'static str, String)>, proof: Option<String>| {
        let request = app.client.post(&token_url).form(&form);
        let request = match proof {
            Some(proof) => request.header("dpop", proof),
            None => request,
        };
        request.send()
    };
    let redeem = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", REDIRECT.to_owned()),
        ("code_verifier", verifier),
        ("client_id", cli.id.clone()),
    ];
    let tokens: Value = post(redeem, Some(key.proof("POST", &token_url, None))).await.unwrap().json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP", "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_payload(&access)["cnf"]["jkt"], key.jkt());

    let userinfo = app.url("/oauth2/userinfo");
    let with_proof = app.client.get(&userinfo).header("authorization", format!("DPoP {access}"));
    let with_proof = with_proof.header("dpop", key.proof("GET", &userinfo, Some(&access))).send().await.unwrap();
    assert_eq!(with_proof.status(), StatusCode::OK);
    let as_bearer = app.get("/oauth2/userinfo", Some(&access)).await;
    assert_eq!(as_bearer.status(), StatusCode::UNAUTHORIZED, "userinfo: a bound token as a bearer token");
    let replayed = app.client.get(&userinfo).header("authorization", format!("DPoP {access}"));
    let proof = key.proof("GET", &userinfo, Some(&access));
    assert_eq!(replayed.header("dpop", &proof).send().await.unwrap().status(), StatusCode::OK);
    if let Some(replica) = app.replica().await {
        let elsewhere =
            replica.client.get(replica.url("/oauth2/userinfo")).header("authorization", format!("DPoP {access}"));
        let answer = elsewhere.header("dpop", &proof).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "a proof seen at the other replica");
        assert!(
            answer.headers().get_all("www-authenticate").iter().any(|v| v.to_str().unwrap().starts_with("DPoP ")),
            "the DPoP challenge"
        );
    }

    let refresh = |token: &str| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", token.to_owned()),
            ("client_id", cli.id.clone()),
        ]
    };
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let rotated: Value =
        post(refresh(&first), Some(key.proof("POST", &token_url, None))).await.unwrap().json().await.unwrap();
    assert_eq!(rotated["token_type"], "DPoP", "{rotated}");
    assert_eq!(jwt_payload(rotated["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());
    let next = rotated["refresh_token"].as_str().unwrap().to_owned();

    let thief = post(refresh(&next), Some(Key::new().proof("POST", &token_url, None))).await.unwrap();
    assert_eq!(thief.status(), StatusCode::BAD_REQUEST);
    assert_eq!(thief.json::<Value>().await.unwrap()["error"], "invalid_dpop_proof");
    let after: Value =
        post(refresh(&next), Some(key.proof("POST", &token_url, None))).await.unwrap().json().await.unwrap();
    assert_eq!(after["error"], "invalid_grant", "the session ended: {after}");
    let info = app.client.get(&userinfo).header("authorization", format!("DPoP {access}"));
    let info = info.header("dpop", key.proof("GET", &userinfo, Some(&access))).send().await.unwrap();
    assert_eq!(info.status(), StatusCode::UNAUTHORIZED, "its access tokens died with it");
}

/// With `GATEHOUSE_DPOP_NONCE`, the token endpoint asks for a nonce of its own (RFC 9449 §8):
/// a proof without one, or with one it did not give, is `use_dpop_nonce` with the nonce to use;
/// with it the grant goes through; every answer names the nonce; one from ten minutes ago is
/// stale.
#[tokio::test]
async fn a_server_nonce_is_asked_for_given_and_taken_for_a_while() {
    let app = front_door_with(Options::default().var("GATEHOUSE_DPOP_NONCE", "true")).await;
    let admin = app.admin("root@example.com").await;
    let agent = register(&app, &admin, json!({"name": "Agent", "grant_types": ["client_credentials"]})).await;
    let key = Key::new();
    let token_url = app.url("/oauth2/token");
    let proof_with = |nonce: Option<&str>| {
        let mut claims = claims("POST", &token_url, None);
        claims["iat"] = json!(app.clock.now().timestamp());
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        key.sign(key.jwk(), "dpop+jwt", claims)
    };
    let grant = |proof: String| {
        let request = app.client.post(&token_url).header("authorization", agent.basic()).header("dpop", proof);
        request.form(&[("grant_type", "client_credentials")]).send()
    };

    let asked = grant(proof_with(None)).await.unwrap();
    assert_eq!(asked.status(), StatusCode::BAD_REQUEST);
    let nonce = header(&asked, "dpop-nonce").expect("the nonce to use");
    assert_eq!(asked.json::<Value>().await.unwrap()["error"], "use_dpop_nonce");
    let made_up = grant(proof_with(Some("made-up"))).await.unwrap();
    assert_eq!(made_up.json::<Value>().await.unwrap()["error"], "use_dpop_nonce", "a nonce gatehouse did not give");

    let granted = grant(proof_with(Some(&nonce))).await.unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    assert!(header(&granted, "dpop-nonce").is_some(), "every answer names the nonce");
    assert_eq!(granted.json::<Value>().await.unwrap()["token_type"], "DPoP");

    app.clock.advance(std::time::Duration::from_secs(11 * 60));
    let stale = grant(proof_with(Some(&nonce))).await.unwrap();
    assert_eq!(stale.status(), StatusCode::BAD_REQUEST);
    let fresh = header(&stale, "dpop-nonce").unwrap();
    assert_ne!(fresh, nonce);
    assert_eq!(stale.json::<Value>().await.unwrap()["error"], "use_dpop_nonce", "ten minutes on");
    assert_eq!(grant(proof_with(Some(&fresh))).await.unwrap().status(), StatusCode::OK);
}

/// A resource of `GATEHOUSE_DPOP_RESOURCES` takes nothing but a DPoP-bound token with its
/// proof: the token endpoint makes no bearer token for it, its door refuses gatehouse's own
/// credentials and sends no browser to log in, and its metadata says so; another resource
/// is untouched.
#[tokio::test]
async fn a_resource_that_takes_only_bound_tokens_takes_nothing_else() {
    let app = front_door_with(Options::default().var("GATEHOUSE_DPOP_RESOURCES", MCP)).await;
    let admin = app.admin("root@example.com").await;
    let body = json!({"name": "Agent", "grant_types": ["client_credentials"], "scopes": ["app_data"]});
    let agent = register(&app, &admin, body).await;
    let metadata = |host: &str, path: &str| {
        let request = app.client.get(app.url(path)).header("x-forwarded-proto", "https");
        request.header("x-forwarded-host", host).send()
    };
    let mcp: Value = metadata("mcp.test", "/.well-known/oauth-protected-resource").await.unwrap().json().await.unwrap();
    assert_eq!(mcp["dpop_bound_access_tokens_required"], true, "{mcp}");
    let reports: Value =
        metadata("api.test", "/.well-known/oauth-protected-resource/v1").await.unwrap().json().await.unwrap();
    assert_eq!(reports["dpop_bound_access_tokens_required"], false, "{reports}");

    let form = [("grant_type", "client_credentials"), ("resource", "https://MCP.test:443")];
    let bearer = crate::oauth::token(&app, &agent, &form).await;
    assert_eq!(bearer.status(), StatusCode::BAD_REQUEST);
    assert_eq!(bearer.json::<Value>().await.unwrap()["error"], "invalid_dpop_proof", "no bearer token for it");
    let other =
        crate::oauth::token(&app, &agent, &[("grant_type", "client_credentials"), ("resource", "https://api.test/v1")]);
    assert_eq!(other.await.status(), StatusCode::OK, "a bearer token for the other resource");

    let key = Key::new();
    let answer: Value = bound_machine_token(&app, &agent, &key).await.json().await.unwrap();
    let token = answer["access_token"].as_str().expect("a bound token").to_owned();
    let proof = key.proof("GET", "https://mcp.test/mcp", Some(&token));
    assert_eq!(ask_bound(&app, &token, Some(&proof)).send().await.unwrap().status(), StatusCode::OK);

    let (_, session) = app.logged_in_user("ann@example.com").await;
    let key_of_ann: Value =
        app.post_json("/user/api-keys", &json!({"name": "laptop"}), Some(&session)).await.json().await.unwrap();
    for (what, credential) in
        [("gatehouse's access token", session.as_str()), ("an API key", key_of_ann["key"].as_str().unwrap())]
    {
        let answer = ask(&app, "mcp.test", "/mcp").bearer_auth(credential).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{what}");
        let challenges: Vec<&str> =
            answer.headers().get_all("www-authenticate").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(challenges.iter().any(|c| c.starts_with("DPoP ")), "{what}: {challenges:?}");
    }
    let browser = ask(&app, "mcp.test", "/mcp").header("accept", "text/html").send().await.unwrap();
    assert_eq!(browser.status(), StatusCode::UNAUTHORIZED, "no browser is sent to log in");
    assert!(browser.headers().get("location").is_none());
    let at_reports = ask(&app, "api.test", "/v1/x").bearer_auth(&session).send().await.unwrap();
    assert_eq!(at_reports.status(), StatusCode::OK, "the other resource takes gatehouse's logins as before");
}
