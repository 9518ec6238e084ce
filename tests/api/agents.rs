//! The agent front door: what an MCP client (or any OAuth client that configures itself from
//! an address alone) finds and is given.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, query_param};
use crate::helpers::{Options, TestApp, assert_problem, jwt_payload, spawn_app, spawn_app_with};
use crate::oauth::{Client, REDIRECT, authorize, authorize_url, pkce, redeem, token};

/// RFC 8414's metadata answers where MCP clients ask, and it is the OpenID discovery document;
/// at an issuer with a path, RFC 8414's path-inserted forms of both answer too, and no other
/// path under them does.
#[tokio::test]
async fn the_authorization_server_metadata_is_the_discovery_document_and_answers_at_the_issuer_s_path() {
    let app = spawn_app().await;
    let openid: Value = app.get("/.well-known/openid-configuration", None).await.json().await.unwrap();
    let metadata = app.get("/.well-known/oauth-authorization-server", None).await;
    assert_eq!(metadata.status(), StatusCode::OK);
    assert_eq!(metadata.headers()["cache-control"], "public, max-age=60");
    assert_eq!(metadata.json::<Value>().await.unwrap(), openid);
    assert_eq!(openid["issuer"], app.address.as_str());
    let without_path = app.get("/.well-known/oauth-authorization-server/auth", None).await;
    assert_eq!(without_path.status(), StatusCode::NOT_FOUND);

    let issuer = "https://auth.example.com/auth";
    let app = spawn_app_with(Options::default().var("GATEHOUSE_PUBLIC_URL", issuer)).await;
    for path in [
        "/.well-known/oauth-authorization-server/auth",
        "/.well-known/oauth-authorization-server/auth/",
        "/.well-known/openid-configuration/auth",
        "/.well-known/oauth-authorization-server",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let document: Value = response.json().await.unwrap();
        assert_eq!(document["issuer"], issuer, "{path}");
        assert_eq!(document["token_endpoint"], format!("{issuer}/oauth2/token"), "{path}");
        assert_eq!(document["code_challenge_methods_supported"], serde_json::json!(["S256"]), "{path}");
    }
    for path in [
        "/.well-known/oauth-authorization-server/other",
        "/.well-known/oauth-authorization-server/auth/more",
        "/.well-known/openid-configuration/Auth",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }
}

pub(crate) const MCP: &str = "https://mcp.test/";
const REPORTS: &str = "https://api.test/v1";

/// gatehouse in front of two protected resources, behind a proxy on this host: an MCP server
/// whose `/admin` needs the `mcp:admin` scope, and a reports API.
async fn front_door() -> TestApp {
    front_door_with(Options::default()).await
}

pub(crate) async fn front_door_with(options: Options) -> TestApp {
    let options = options
        .var("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1,::1")
        .var("GATEHOUSE_RESOURCES", &format!("{MCP} mcp:tools mcp:admin, {REPORTS} reports:read"))
        .var("GATEHOUSE_FORWARD_RULES", "mcp.test/admin=resource:mcp:admin, mcp.test=resource, api.test/v1=resource");
    spawn_app_with(options).await
}

/// The question a proxy asks about `GET path` on `host`.
pub(crate) fn ask(app: &TestApp, host: &str, path: &str) -> reqwest::RequestBuilder {
    app.client
        .get(app.url("/auth/forward"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", path)
}

pub(crate) fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// A client-credentials token of an admin's client for `resource`.
async fn machine_token(app: &TestApp, admin: &str, resource: &str) -> (Client, String) {
    let body = json!({"name": "Nightly job", "grant_types": ["client_credentials"], "scopes": ["app_data"]});
    let job = crate::oauth::register(app, admin, body).await;
    let form = [("grant_type", "client_credentials"), ("scope", "app_data"), ("resource", resource)];
    let response = token(app, &job, &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let token = answer["access_token"].as_str().unwrap().to_owned();
    (job, token)
}

/// A protected resource's rule lets through a token a client was issued for that resource
/// (whoever it acts for, named in `Remote-User` and `Remote-Client`), and gatehouse's own logins;
/// a token for another resource, none, or one whose grant has ended gets RFC 9728's challenge,
/// and a rule's scope the token lacks gets `insufficient_scope`.
#[tokio::test]
async fn a_resource_takes_the_tokens_issued_for_it_and_challenges_the_rest() {
    let app = front_door().await;
    let admin = app.admin("root@example.com").await;
    let metadata_url = "https://mcp.test/.well-known/oauth-protected-resource";

    let anonymous = ask(&app, "mcp.test", "/mcp").send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&anonymous, "www-authenticate").as_deref(),
        Some(format!(r#"Bearer scope="mcp:tools mcp:admin", resource_metadata="{metadata_url}""#).as_str())
    );

    let (job, machine) = machine_token(&app, &admin, "https://MCP.test:443").await;
    assert_eq!(jwt_payload(&machine)["aud"], MCP, "the resource's one spelling");
    let passed = ask(&app, "mcp.test", "/mcp").bearer_auth(&machine).send().await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(header(&passed, "remote-user").as_deref(), Some(job.id.as_str()), "a machine is its client");
    assert_eq!(header(&passed, "remote-client").as_deref(), Some(job.id.as_str()));
    assert_eq!(header(&passed, "remote-scopes").as_deref(), Some("app_data"));

    let elsewhere = ask(&app, "api.test", "/v1/reports").bearer_auth(&machine).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED, "a token for another resource");
    assert_eq!(
        header(&elsewhere, "www-authenticate").as_deref(),
        Some(
            r#"Bearer error="invalid_token", scope="reports:read", resource_metadata="https://api.test/.well-known/oauth-protected-resource/v1""#
        )
    );
    let narrow = ask(&app, "mcp.test", "/admin/tools").bearer_auth(&machine).send().await.unwrap();
    assert_eq!(narrow.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        header(&narrow, "www-authenticate").as_deref(),
        Some(
            format!(r#"Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="{metadata_url}""#)
                .as_str()
        )
    );

    // A person's grant to a client, for the resource: the person passes through the client.
    let person = app.active_user("ann@example.com", None).await;
    let body = json!({
        "name": "Agent", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile", "email", "offline_access"],
    });
    let agent = crate::oauth::register(&app, &admin, body).await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &agent, &challenge, &[("resource", "https://mcp.test")]);
    let back = authorize(&app, &browser, &url, "ann@example.com").await;
    let granted: Value =
        redeem(&app, &agent, &query_param(&back, "code").unwrap(), &verifier).await.json().await.unwrap();
    let delegated = granted["access_token"].as_str().unwrap();
    let passed = ask(&app, "mcp.test", "/mcp").bearer_auth(delegated).send().await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(header(&passed, "remote-user").as_deref(), person["id"].as_str());
    assert_eq!(header(&passed, "remote-client").as_deref(), Some(agent.id.as_str()));
    assert_eq!(header(&passed, "remote-scopes").as_deref(), Some("openid,profile,email,offline_access"));

    // gatehouse's own login passes as it does at any rule that asks for a login.
    let (_, own) = app.logged_in_user("bob@example.com").await;
    let passed = ask(&app, "mcp.test", "/mcp").bearer_auth(&own).send().await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    assert!(header(&passed, "remote-client").is_none());

    // The grant ends with the session: the token is refused from the next request on.
    let revoked = app
        .client
        .post(app.url("/oauth2/revoke"))
        .header("authorization", agent.basic())
        .form(&[("token", granted["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let ended = ask(&app, "mcp.test", "/mcp").bearer_auth(delegated).send().await.unwrap();
    assert_eq!(ended.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&ended, "www-authenticate").unwrap().starts_with(r#"Bearer error="invalid_token""#));
}

/// The protected resource metadata answers, through a trusted proxy, for the resource whose
/// host the proxy forwards and whose path follows the well-known name; for nothing else.
#[tokio::test]
async fn a_resource_s_metadata_names_gatehouse_as_its_authorization_server_for_its_proxy_alone() {
    let app = front_door().await;
    let issuer = app.address.clone();
    let through = |host: &str, path: &str| {
        app.client.get(app.url(path)).header("x-forwarded-proto", "https").header("x-forwarded-host", host)
    };

    for (host, path, resource, scopes) in [
        ("mcp.test", "/.well-known/oauth-protected-resource", MCP, json!(["mcp:tools", "mcp:admin"])),
        ("MCP.test:443", "/.well-known/oauth-protected-resource", MCP, json!(["mcp:tools", "mcp:admin"])),
        ("api.test", "/.well-known/oauth-protected-resource/v1", REPORTS, json!(["reports:read"])),
    ] {
        let response = through(host, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{host}{path}");
        let metadata: Value = response.json().await.unwrap();
        assert_eq!(metadata["resource"], resource, "{host}{path}");
        assert_eq!(metadata["authorization_servers"], json!([issuer]));
        assert_eq!(metadata["scopes_supported"], scopes);
        assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));
    }
    for (host, path) in [
        ("api.test", "/.well-known/oauth-protected-resource"),
        ("mcp.test", "/.well-known/oauth-protected-resource/v1"),
        ("other.test", "/.well-known/oauth-protected-resource"),
    ] {
        let response = through(host, path).send().await.unwrap();
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let direct = app.get("/.well-known/oauth-protected-resource", None).await;
    assert_eq!(direct.status(), StatusCode::NOT_FOUND, "no proxy named a resource's host");

    let untrusted = spawn_app_with(
        Options::default()
            .var("GATEHOUSE_TRUSTED_PROXIES", "10.9.9.9")
            .var("GATEHOUSE_RESOURCES", &format!("{MCP} mcp:tools")),
    )
    .await;
    let forged = untrusted
        .client
        .get(untrusted.url("/.well-known/oauth-protected-resource"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "mcp.test")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND, "forwarded headers from anyone but a trusted proxy");
}

/// What an MCP client does: it registers itself naming no scope, asks for a token for the
/// resource naming no scope either, and gets the resource's scopes (with a refresh token, as it
/// registered the refresh grant); a client that asked for less meets a rule's scope with
/// `insufficient_scope`, asks again for the union, and passes.
#[tokio::test]
async fn a_client_that_names_no_scope_gets_the_resource_s_and_asks_again_for_more_when_a_rule_needs_it() {
    let app = front_door_with(Options::default().var("GATEHOUSE_CLIENT_REGISTRATION", "open")).await;
    let discovery: Value = app.get("/.well-known/oauth-authorization-server", None).await.json().await.unwrap();
    let supported = discovery["scopes_supported"].as_array().unwrap();
    assert!(["openid", "mcp:tools", "mcp:admin", "reports:read"].iter().all(|s| supported.contains(&json!(s))));
    let metadata = json!({
        "client_name": "Coding agent", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
    });
    let registered: Value = app.post_json("/oauth2/register", &metadata, None).await.json().await.unwrap();
    assert_eq!(registered["scope"], "openid profile email offline_access mcp:tools mcp:admin reports:read");
    let client = Client { id: registered["client_id"].as_str().unwrap().to_owned(), secret: None };
    app.active_user("ann@example.com", None).await;
    let browser = Browser::new(&app);
    let ask_for = |scope: Option<&str>| {
        let (verifier, challenge) = pkce();
        let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("client_id", client.id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("state", "st"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("resource", "https://mcp.test"),
        ]);
        if let Some(scope) = scope {
            url.query_pairs_mut().append_pair("scope", scope);
        }
        (url.to_string(), verifier)
    };
    let redeem_public = |code: String, verifier: String| {
        let form = [
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_verifier", verifier),
            ("client_id", client.id.clone()),
        ];
        app.client.post(app.url("/oauth2/token")).form(&form).send()
    };

    let (url, verifier) = ask_for(None);
    let back = authorize(&app, &browser, &url, "ann@example.com").await;
    let tokens: Value =
        redeem_public(query_param(&back, "code").unwrap(), verifier).await.unwrap().json().await.unwrap();
    assert_eq!(tokens["scope"], "openid mcp:tools mcp:admin offline_access");
    assert!(tokens["refresh_token"].is_string(), "it registered the refresh grant: {tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let admin = ask(&app, "mcp.test", "/admin/x").bearer_auth(access).send().await.unwrap();
    assert_eq!(admin.status(), StatusCode::OK);
    assert_eq!(header(&admin, "remote-scopes").as_deref(), Some("openid,mcp:tools,mcp:admin,offline_access"));

    let (url, verifier) = ask_for(Some("mcp:tools"));
    let back = authorize(&app, &browser, &url, "ann@example.com").await;
    let narrow: Value =
        redeem_public(query_param(&back, "code").unwrap(), verifier).await.unwrap().json().await.unwrap();
    let narrow = narrow["access_token"].as_str().unwrap().to_owned();
    assert_eq!(ask(&app, "mcp.test", "/tools").bearer_auth(&narrow).send().await.unwrap().status(), StatusCode::OK);
    let refused = ask(&app, "mcp.test", "/admin/x").bearer_auth(&narrow).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(header(&refused, "www-authenticate").unwrap().contains(r#"scope="mcp:admin""#));
    let (url, verifier) = ask_for(Some("mcp:tools mcp:admin"));
    let back = authorize(&app, &browser, &url, "ann@example.com").await;
    let wider: Value =
        redeem_public(query_param(&back, "code").unwrap(), verifier).await.unwrap().json().await.unwrap();
    let wider = wider["access_token"].as_str().unwrap();
    assert_eq!(ask(&app, "mcp.test", "/admin/x").bearer_auth(wider).send().await.unwrap().status(), StatusCode::OK);

    let unknown =
        app.post_json("/oauth2/register", &json!({"redirect_uris": [REDIRECT], "scope": "mcp:root"}), None).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST, "a scope no resource has");

    // As MCP clients register: with the scope of the first challenge they met. The resource's
    // other scopes come with it, so that their step-up to mcp:admin asks the person instead of
    // being invalid_scope.
    let challenged = json!({
        "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "scope": "mcp:tools offline_access",
        "grant_types": ["authorization_code", "refresh_token"],
    });
    let registered: Value = app.post_json("/oauth2/register", &challenged, None).await.json().await.unwrap();
    assert_eq!(registered["scope"], "mcp:tools mcp:admin offline_access", "not reports:read, another resource's");
    let sdk = Client { id: registered["client_id"].as_str().unwrap().to_owned(), secret: None };
    let (verifier, challenge) = pkce();
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", sdk.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "mcp:tools mcp:admin"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", "https://mcp.test"),
    ]);
    let back = authorize(&app, &browser, url.as_str(), "ann@example.com").await;
    let form = [
        ("grant_type", "authorization_code".to_owned()),
        ("code", query_param(&back, "code").unwrap_or_else(|| panic!("a code: {back}"))),
        ("redirect_uri", REDIRECT.to_owned()),
        ("code_verifier", verifier),
        ("client_id", sdk.id.clone()),
    ];
    let stepped: Value =
        app.client.post(app.url("/oauth2/token")).form(&form).send().await.unwrap().json().await.unwrap();
    assert_eq!(stepped["scope"], "mcp:tools mcp:admin", "{stepped}");
}

/// A browser-based MCP client, at an origin nobody listed, reaches discovery, registration and
/// the token endpoint (its preflight naming `mcp-protocol-version`), and nothing else.
#[tokio::test]
async fn the_front_door_answers_any_origin_and_the_rest_of_the_api_only_listed_ones() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_CORS_ORIGINS", "https://app.example.com")).await;
    let inspector = "http://localhost:6274";
    let preflight = |path: &str, origin: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,mcp-protocol-version")
            .send()
    };
    for path in ["/oauth2/token", "/oauth2/par", "/oauth2/register", "/.well-known/oauth-authorization-server"] {
        let answer = preflight(path, inspector).await.unwrap();
        assert_eq!(answer.headers()["access-control-allow-origin"], inspector, "{path}");
        let headers = answer.headers()["access-control-allow-headers"].to_str().unwrap().to_owned();
        assert!(headers.contains("mcp-protocol-version"), "{path}: {headers}");
        assert!(answer.headers().get("access-control-allow-credentials").is_none(), "never credentials");
    }
    let discovery = app.client.get(app.url("/.well-known/openid-configuration")).header("origin", inspector).send();
    assert_eq!(discovery.await.unwrap().headers()["access-control-allow-origin"], inspector);

    for path in ["/user", "/auth", "/admin/users", "/oauth2/introspect"] {
        let answer = preflight(path, inspector).await.unwrap();
        assert!(answer.headers().get("access-control-allow-origin").is_none(), "{path}");
        let listed = preflight(path, "https://app.example.com").await.unwrap();
        assert_eq!(listed.headers()["access-control-allow-origin"], "https://app.example.com", "{path}");
    }
}

/// The resource door, every kind of credential: what passes and what hears the challenge, at a
/// rule that asks only for the resource. A client's token passes only when issued for this
/// resource; gatehouse's own credentials pass as at any rule that asks for a login; a SCIM
/// token and anything unknown are no one.
#[tokio::test]
async fn every_kind_of_credential_meets_the_resource_door_as_the_table_says() {
    let app = front_door().await;
    let admin = app.admin("root@example.com").await;
    let (_, session) = app.logged_in_user("ann@example.com").await;
    let personal: Value =
        app.post_json("/user/api-keys", &json!({"name": "laptop"}), Some(&session)).await.json().await.unwrap();
    let created = app.post_json("/orgs", &json!({"name": "Acme", "slug": "acme"}), Some(&session)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let org_key: Value =
        app.post_json("/orgs/acme/api-keys", &json!({"name": "ci"}), Some(&session)).await.json().await.unwrap();
    let (_, for_mcp) = machine_token(&app, &admin, MCP).await;
    let (_, for_reports) = machine_token(&app, &admin, REPORTS).await;
    let job = crate::oauth::register(
        &app,
        &admin,
        json!({"name": "Own API", "grant_types": ["client_credentials"], "scopes": ["app_data"]}),
    )
    .await;
    let own: Value = token(&app, &job, &[("grant_type", "client_credentials")]).await.json().await.unwrap();

    let table: [(&str, &str, StatusCode); 8] = [
        ("gatehouse's access token", &session, StatusCode::OK),
        ("a person's API key", personal["key"].as_str().unwrap(), StatusCode::OK),
        ("an organization's API key", org_key["key"].as_str().unwrap(), StatusCode::OK),
        ("a client's token for this resource", &for_mcp, StatusCode::OK),
        ("a client's token for another resource", &for_reports, StatusCode::UNAUTHORIZED),
        ("a client's token for itself", own["access_token"].as_str().unwrap(), StatusCode::UNAUTHORIZED),
        ("a SCIM token's shape", "scim_0123456789abcdef", StatusCode::UNAUTHORIZED),
        ("no token of gatehouse's", "not-a-token", StatusCode::UNAUTHORIZED),
    ];
    for (what, credential, status) in table {
        let answer = ask(&app, "mcp.test", "/mcp").bearer_auth(credential).send().await.unwrap();
        assert_eq!(answer.status(), status, "{what}");
        if status == StatusCode::UNAUTHORIZED {
            let challenge = header(&answer, "www-authenticate").unwrap_or_default();
            assert!(challenge.starts_with(r#"Bearer error="invalid_token""#), "{what}: {challenge}");
        }
    }
}
