//! Forward-auth path and host differentials: what a servlet container, IIS or an RFC 3986
//! normaliser makes of a path must never fall under another rule than the one gatehouse judged.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestRunner};
use reqwest::StatusCode;

use crate::helpers::{Options, TestApp, spawn_app_with};

const HOST: &str = "app.test:8081";

async fn guarded() -> TestApp {
    let rules = format!("{HOST}/admin=group:admin, {HOST}/public=public, {HOST}/health=public");
    spawn_app_with(
        Options::default().var("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1,::1").var("GATEHOUSE_FORWARD_RULES", &rules),
    )
    .await
}

/// Asks about `GET uri` on `host`, with a user's token (or none).
async fn ask(app: &TestApp, host: &str, uri: &str, token: Option<&str>) -> StatusCode {
    let mut request = app
        .client
        .get(app.url("/auth/forward"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", reqwest::header::HeaderValue::from_bytes(host.as_bytes()).unwrap());
    request = match reqwest::header::HeaderValue::from_bytes(uri.as_bytes()) {
        Ok(value) => request.header("x-forwarded-uri", value),
        Err(_) => return StatusCode::FORBIDDEN,
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status()
}

/// How a servlet container routes a path: `;` parameters dropped, escapes decoded, `\` as
/// `/`, empty segments collapsed, dot segments resolved, and (as IIS and many apps do) in any
/// letter case.
fn servlet(path: &str) -> String {
    let without_params: Vec<&str> = path.split('/').map(|s| s.split(';').next().unwrap_or_default()).collect();
    let joined = without_params.join("/");
    let bytes = joined.as_bytes();
    let (mut decoded, mut i) = (Vec::new(), 0);
    while i < bytes.len() {
        match (bytes[i], joined.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(c)) => {
                decoded.push(c);
                i += 3;
            }
            (b, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    let decoded = String::from_utf8_lossy(&decoded).replace('\\', "/").to_ascii_lowercase();
    let mut stack: Vec<&str> = Vec::new();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        match segment {
            "." => {}
            ".." => {
                stack.pop();
            }
            other => stack.push(other),
        }
    }
    format!("/{}", stack.join("/"))
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{prefix}/"))
}

/// Paths built from the pieces that differentials are made of.
fn paths(cases: u32) -> Vec<String> {
    let ordinary =
        proptest::sample::select(vec!["admin", "ADMIN", "public", "Public", "health", "x", "a%20b", "%C3%A9", "~"]);
    let tricky = proptest::sample::select(vec![
        ".", "..", "", "%2e", "%2E%2e", ".%2e", ";", ";x=1", "..;", "admin;", "\\", "%5c", "%2f", "%2F", "%00",
        "%0d%0a", "%25", "%252e", "%61dmin", "%3b",
    ]);
    let piece = proptest::prop_oneof![3 => ordinary, 1 => tricky];
    let path = (proptest::collection::vec(proptest::collection::vec(piece, 1..3), 1..5), proptest::bool::ANY).prop_map(
        |(segments, trailing)| {
            let mut path: String = segments.iter().map(|parts| format!("/{}", parts.concat())).collect();
            if trailing {
                path.push('/');
            }
            path
        },
    );
    let mut runner = TestRunner::new(Config::default());
    (0..cases).map(|_| path.new_tree(&mut runner).unwrap().current()).collect()
}

/// Whatever the path, a user without the admin group is let through only to what a servlet
/// container would route outside `/admin`, and nobody without a login gets further than what
/// it would route under `/public` or `/health`.
#[tokio::test]
async fn random_paths_never_reach_a_rule_other_than_their_routed_form_falls_under() {
    let app = guarded().await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    let mut judged = 0;
    for path in paths(300) {
        let routed = servlet(&path);
        let with_token = ask(&app, HOST, &path, Some(&token)).await;
        if with_token == StatusCode::OK {
            judged += 1;
            assert!(!under(&routed, "/admin"), "{path} (routed as {routed}) passed a user into /admin");
        }
        let without = ask(&app, HOST, &path, None).await;
        if without == StatusCode::OK {
            assert!(under(&routed, "/public") || under(&routed, "/health"), "{path} (routed as {routed}) was public");
        }
        assert!(
            [StatusCode::OK, StatusCode::FORBIDDEN].contains(&with_token),
            "{path}: {with_token} (a user is let through or refused)"
        );
    }
    assert!(judged > 50, "the strategy must also make ordinary paths ({judged} judged)");
}

/// The review's own paths.
#[tokio::test]
async fn the_reviewed_differentials_are_refused() {
    let app = guarded().await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    for path in [
        "/health/..;/admin",
        "/admin;x=1",
        "/admin;/users",
        "//admin",
        "/admin/.",
        "/%2e%2e/admin",
        "/public/%2e%2e/admin",
        "/public/..%2fadmin",
        "/public\\..\\admin",
        "/public/%5c..%5cadmin",
        "/public/%00/../admin",
        "/public/%2E%2E/ADMIN",
    ] {
        assert_eq!(ask(&app, HOST, path, Some(&token)).await, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(ask(&app, HOST, path, None).await, StatusCode::FORBIDDEN, "{path}");
    }
    // The host as written fully qualified, or in capitals, is the same host and its rules apply.
    for host in ["app.test.:8081", "APP.TEST:8081", "App.Test.:8081"] {
        assert_eq!(ask(&app, host, "/admin/x", Some(&token)).await, StatusCode::FORBIDDEN, "{host}");
        assert_eq!(ask(&app, host, "/public/x", None).await, StatusCode::OK, "{host}");
    }
}

/// The review's host differential: a port (any, the scheme's or another), a trailing dot, capitals
/// or the host's IDNA form reach the same app through Caddy and nginx, so they must fall under the
/// same rules; what is not a host (credentials, a list, a bare IPv6 address) is refused.
#[tokio::test]
async fn every_spelling_of_a_guarded_host_falls_under_its_rules() {
    let rules = "app.example.com=group:admin, grafana.example.com=org:acme, *.example.org=group:admin, \
                 bücher.example=group:admin, [::1]:8080=group:admin";
    let app = spawn_app_with(
        Options::default().var("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1,::1").var("GATEHOUSE_FORWARD_RULES", rules),
    )
    .await;
    let (_, user) = app.logged_in_user("ann@example.com").await;
    let admin = app.admin("root@example.com").await;
    let created = app.post_json("/orgs", &serde_json::json!({"name": "Acme", "slug": "acme"}), Some(&admin)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let same = [
        (
            "app.example.com",
            &[
                "app.example.com:8443",
                "app.example.com:1",
                "app.example.com:80",
                "app.example.com:443",
                "APP.Example.COM",
                "app.example.com.",
                "app.example.com.:8443",
            ][..],
        ),
        ("grafana.example.com", &["grafana.example.com:8443", "GRAFANA.example.com.:1"][..]),
        ("x.example.org", &["x.example.org:8443", "X.EXAMPLE.ORG.", "a.b.example.org:1"][..]),
        ("xn--bcher-kva.example", &["bücher.example", "BÜCHER.example:8443", "XN--BCHER-KVA.EXAMPLE."][..]),
        ("[::1]:8080", &["[0:0:0:0:0:0:0:1]:8080", "[::0001]:8080"][..]),
    ];
    for (canonical, spellings) in same {
        let user_verdict = ask(&app, canonical, "/", Some(&user)).await;
        assert_eq!(user_verdict, StatusCode::FORBIDDEN, "{canonical}: a plain user is refused");
        assert_eq!(ask(&app, canonical, "/", Some(&admin)).await, StatusCode::OK, "{canonical}: the admin passes");
        for spelling in spellings {
            assert_eq!(ask(&app, spelling, "/", Some(&user)).await, user_verdict, "{spelling} as {canonical}");
        }
    }
    // A port no rule of [::1] names is refused, not taken for an unguarded host.
    assert_eq!(ask(&app, "[::1]:9090", "/", Some(&admin)).await, StatusCode::FORBIDDEN);
    for broken in [
        "user@app.example.com",
        "app.example.com@x.test",
        "app.example.com,x.test",
        "::1",
        "app%2eexample.com",
        "app.example.com:99999",
    ] {
        assert_eq!(ask(&app, broken, "/", Some(&admin)).await, StatusCode::FORBIDDEN, "{broken}");
    }
    // One header twice: the proxy may have read one and the app the other.
    let twice = app
        .client
        .get(app.url("/auth/forward"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "open.example.net")
        .header("x-forwarded-host", "app.example.com")
        .header("x-forwarded-uri", "/")
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), StatusCode::FORBIDDEN);
    // Escaped bytes that are not UTF-8, or that normalisation turns into a dot, are refused.
    for path in ["/public/%c0%ae%c0%ae/admin", "/public/%ff", "/public/%ef%bc%8e%ef%bc%8e/admin"] {
        assert_eq!(ask(&app, "open.example.net", path, Some(&user)).await, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(ask(&app, "open.example.net", "/caf%C3%A9", Some(&user)).await, StatusCode::OK);
}

/// Rules without trusted proxies would be rules nobody applies: the start is refused.
#[test]
fn rules_without_trusted_proxies_refuse_to_start_with_the_cause() {
    let refused = gatehouse::config::Config::from_vars([
        ("GATEHOUSE_DATABASE_URL", "sqlite://gatehouse.db"),
        ("GATEHOUSE_FORWARD_RULES", "app.example.com/admin=group:admin"),
    ])
    .unwrap_err();
    let problems = refused.problems.join("\n");
    assert!(problems.contains("GATEHOUSE_TRUSTED_PROXIES"), "{problems}");
}
