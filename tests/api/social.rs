//! Social login against real providers running locally: panva's `oidc-provider` (a real
//! OpenID Connect provider, `e2e/oidc/provider.mjs`) and a stand-in for GitHub with its quirks
//! (`e2e/oidc/github.mjs`). Each test starts its own, since their control APIs (who logs in
//! next, which ID token to break) are global to the process.
//!
//! The servers need `e2e/oidc/node_modules` (`e2e/oidc/run.sh` installs it). Without it these
//! tests say so and pass, unless `GATEHOUSE_TEST_OIDC` is set (as `.ci/run` does), when they
//! fail.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use crate::helpers::{Options, TestApp, assert_problem, jwt_payload, spawn_app_with, try_spawn_app_with};
use crate::stored::Stored;

/// Where the app lives: browsers are sent here at the end, and never fetch it.
pub(crate) const APP: &str = "http://app.test/";

/// A node server from `e2e/oidc/`, stopped when dropped.
pub(crate) struct Node {
    child: Child,
    pub(crate) ready: Value,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn oidc_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/oidc")
}

/// Whether the servers can run; when they cannot and `GATEHOUSE_TEST_OIDC` is set, a failure.
pub(crate) fn servers_available() -> bool {
    let installed = oidc_dir().join("node_modules/oidc-provider").is_dir();
    if !installed {
        assert!(
            std::env::var_os("GATEHOUSE_TEST_OIDC").is_none(),
            "GATEHOUSE_TEST_OIDC is set but e2e/oidc/node_modules is missing: run e2e/oidc/run.sh"
        );
        eprintln!("social login tests skipped: e2e/oidc/node_modules is missing (e2e/oidc/run.sh installs it)");
    }
    installed
}

pub(crate) fn start_node(script: &str, env: &[(&str, String)]) -> Node {
    let mut command = Command::new("node");
    command.arg(oidc_dir().join(script)).stdout(Stdio::piped()).stderr(Stdio::inherit());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("node starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the ready line");
    let ready = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{script} printed {line:?}"));
    Node { child, ready }
}

/// The app, the OpenID Connect provider and the GitHub stand-in, wired together.
struct World {
    app: TestApp,
    idp: Node,
    _github: Node,
    /// The provider's control API.
    control: reqwest::Client,
}

/// Providers: `idp` (client `gatehouse`, HTTP Basic, trusted), `idppost` (client
/// `gatehouse-post`, form post, not trusted) and `github` (trusted).
async fn world(extra: &[(&str, &str)]) -> Option<World> {
    if !servers_available() {
        return None;
    }
    // The provider must know the callbacks before the app starts, so the app's port is picked
    // first, then bound: another process may take it in between, and then all starts again on
    // another port.
    let mut tries = 0;
    loop {
        tries += 1;
        match try_world(extra).await {
            Ok(world) => return Some(world),
            Err(error) if tries < 5 => eprintln!("the world did not start ({error:#}); again on another port"),
            Err(error) => panic!("the world did not start in five tries: {error:#}"),
        }
    }
}

async fn try_world(extra: &[(&str, &str)]) -> anyhow::Result<World> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let callbacks = ["idp", "idppost"].map(|name| format!("{base}/auth/oidc/{name}/callback")).join(",");
    let idp = start_node("provider.mjs", &[("REDIRECT_URIS", callbacks)]);
    let github = start_node("github.mjs", &[]);
    let issuer = idp.ready["issuer"].as_str().unwrap().to_owned();
    let gh = github.ready["base"].as_str().unwrap().to_owned();
    let mut options = Options::default()
        .var("GATEHOUSE_BIND", &format!("127.0.0.1:{port}"))
        .var("GATEHOUSE_REDIRECT_ALLOW", APP)
        .var("GATEHOUSE_OIDC_IDP_ISSUER", &issuer)
        .var("GATEHOUSE_OIDC_IDP_CLIENT_ID", "gatehouse")
        .var("GATEHOUSE_OIDC_IDP_CLIENT_SECRET", "gatehouse-secret")
        .var("GATEHOUSE_OIDC_IDP_TRUST_EMAIL", "true")
        .var("GATEHOUSE_OIDC_IDPPOST_ISSUER", &issuer)
        .var("GATEHOUSE_OIDC_IDPPOST_CLIENT_ID", "gatehouse-post")
        .var("GATEHOUSE_OIDC_IDPPOST_CLIENT_SECRET", "gatehouse-post-secret")
        .var("GATEHOUSE_OIDC_IDPPOST_TOKEN_AUTH", "post")
        .var("GATEHOUSE_OIDC_GITHUB_CLIENT_ID", "gh-client")
        .var("GATEHOUSE_OIDC_GITHUB_CLIENT_SECRET", "gh-secret")
        .var("GATEHOUSE_OIDC_GITHUB_TRUST_EMAIL", "true")
        .var("GATEHOUSE_OIDC_GITHUB_AUTH_URL", &format!("{gh}/login/oauth/authorize"))
        .var("GATEHOUSE_OIDC_GITHUB_TOKEN_URL", &format!("{gh}/login/oauth/access_token"))
        .var("GATEHOUSE_OIDC_GITHUB_API_URL", &gh);
    for (name, value) in extra {
        options = options.var(name, value);
    }
    let app = try_spawn_app_with(options).await?;
    Ok(World { app, idp, _github: github, control: reqwest::Client::new() })
}

impl World {
    fn issuer(&self) -> &str {
        self.idp.ready["issuer"].as_str().unwrap()
    }

    /// Who the provider logs in next: `alice` (verified), `bob` (unverified) or `carol`.
    async fn next_user(&self, sub: &str) {
        let answer =
            self.control.post(format!("{}/_test/login", self.issuer())).json(&json!({"sub": sub})).send().await;
        assert_eq!(answer.unwrap().status(), StatusCode::NO_CONTENT);
    }

    /// Who GitHub logs in next: `octo` (private verified address), `unverified`, `public`.
    async fn next_github_user(&self, user: &str) {
        let base = self._github.ready["base"].as_str().unwrap();
        let answer = self.control.post(format!("{base}/_test/login")).json(&json!({"user": user})).send().await;
        assert_eq!(answer.unwrap().status(), StatusCode::NO_CONTENT);
    }

    /// Breaks the provider's next ID token.
    async fn tamper(&self, change: Value) {
        let answer = self.control.post(format!("{}/_test/tamper", self.issuer())).json(&change).send().await;
        assert_eq!(answer.unwrap().status(), StatusCode::NO_CONTENT);
    }
}

/// A browser: keeps cookies, follows no redirect by itself.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Follows redirects from `url` until one leads to the app, or to the callback when `stop_at`
/// is given; that location.
pub(crate) async fn follow(browser: &reqwest::Client, url: &str, stop_at_callback: bool) -> Url {
    let mut url = Url::parse(url).unwrap();
    for _ in 0..12 {
        if url.as_str().starts_with(APP) || (stop_at_callback && url.path().ends_with("/callback")) {
            return url;
        }
        let response = browser.get(url.clone()).send().await.unwrap();
        let status = response.status();
        let Some(location) = response.headers().get("location") else {
            panic!("{url} answered {status} without a location: {}", response.text().await.unwrap());
        };
        url = url.join(location.to_str().unwrap()).unwrap();
    }
    panic!("too many redirects, last {url}");
}

pub(crate) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The app's PKCE pair for the hand-off codes of its logins: `(verifier, challenge)`. The app
/// exchanges the codes itself (not the browser), so it starts each login with the challenge.
pub(crate) const VERIFIER: &str = "the-app-keeps-this-verifier-of-its-own-43-chars";
pub(crate) fn challenge() -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()))
}

/// A whole browser login through `provider`, started by the app (with its challenge): where it
/// ends at the app.
async fn log_in_through(world: &World, provider: &str) -> Url {
    let start = world
        .app
        .url(&format!("/auth/oidc/{provider}?redirect_to=http://app.test/done&code_challenge={}", challenge()));
    follow(&browser(), &start, false).await
}

/// The app exchanges a hand-off code, with its verifier.
async fn exchange(world: &World, code: &str) -> reqwest::Response {
    let body = json!({"code": code, "code_verifier": VERIFIER});
    world.app.post_json("/auth/oidc/exchange", &body, None).await
}

/// A login that must succeed: the token pair the hand-off code is exchanged for.
async fn tokens_through(world: &World, provider: &str) -> Value {
    let landed = log_in_through(world, provider).await;
    assert!(landed.as_str().starts_with("http://app.test/done?"), "{landed}");
    let code = param(&landed, "code").unwrap_or_else(|| panic!("no code in {landed}"));
    let answer = exchange(world, &code).await;
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

/// Opens a link's start URL in `browser`: the page that asks first, naming the account; then
/// its button, and on through the provider. Where it ends at the app.
async fn confirm_link(browser: &reqwest::Client, start: &str, account: &str) -> Url {
    let page = browser.get(start).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the start URL asks before it leaves");
    assert!(page.headers().get("location").is_none());
    let html = page.text().await.unwrap();
    assert!(html.contains(account), "the page names the account: {html}");
    let href = html.split("href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    let go_on = Url::parse(start).unwrap().join(&href).unwrap();
    follow(browser, go_on.as_str(), false).await
}

#[tokio::test]
async fn a_verified_identity_of_a_trusted_provider_signs_up_active_and_logs_in_again_to_the_same_account() {
    let Some(world) = world(&[]).await else { return };
    let app = &world.app;
    let listed: Value = app.get("/auth/oidc", None).await.json().await.unwrap();
    assert_eq!(listed["providers"].as_array().unwrap().len(), 3, "{listed}");

    let pair = tokens_through(&world, "idp").await;
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(jwt_payload(access)["amr"], json!(["fed"]));
    let me: Value = app.get("/user", Some(access)).await.json().await.unwrap();
    assert_eq!((me["email"].as_str(), me["name"].as_str()), (Some("alice@example.com"), Some("Alice Liddell")));
    assert_eq!(me["status"], "active");
    let identities: Value = app.get("/user/identities", Some(access)).await.json().await.unwrap();
    assert_eq!(identities["identities"][0]["provider"], "idp", "{identities}");

    let again = tokens_through(&world, "idp").await;
    assert_eq!(again["user"]["id"], me["id"], "the same identity logs in to the same account");
    assert_eq!(app.count(Stored::Accounts).await, 1);
    app.count_reaches(Stored::AuditEvents(&["signup.by_provider"]), 1).await;
    app.count_reaches(Stored::AuditEvents(&["login.social"]), 2).await;
    // A hand-off code works once.
    let landed = log_in_through(&world, "idp").await;
    let code = param(&landed, "code").unwrap();
    assert_eq!(exchange(&world, &code).await.status(), StatusCode::OK);
    let replay = exchange(&world, &code).await;
    assert_problem(replay, StatusCode::BAD_REQUEST, "token_invalid").await;
}

#[tokio::test]
async fn an_unverified_or_untrusted_address_makes_a_pending_account_confirmed_by_our_own_email() {
    let Some(world) = world(&[]).await else { return };
    world.next_user("bob").await;
    let landed = log_in_through(&world, "idp").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("account_not_activated"), "{landed}");
    let link = world.app.activation_link("bob@example.com", 1).await;
    assert!(link.contains("/activate?token="), "{link}");
    // Confirmed, the same identity logs in.
    let confirmed =
        world.app.client.post(world.app.url("/activate")).json(&json!({"token": link.split("token=").nth(1).unwrap()}));
    assert_eq!(confirmed.send().await.unwrap().status(), StatusCode::OK);
    world.next_user("bob").await;
    tokens_through(&world, "idp").await;

    // carol's address is verified, but idppost is not trusted to say so. The confirmation
    // email says which login made the account.
    world.next_user("carol").await;
    let landed = log_in_through(&world, "idppost").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("account_not_activated"), "{landed}");
    let email = world.app.smtp.nth_to("carol@example.com", 1).await.text();
    assert!(email.contains("logging in with the Idppost account carol@example.com"), "{email}");
}

/// An account made through a provider whose word on the address was not enough, then taken
/// over by the address's owner another way than its confirmation link: the login that made it
/// no longer gets in.
#[tokio::test]
async fn the_owner_of_the_address_who_resets_the_password_of_a_pending_account_unlinks_its_maker() {
    let Some(world) = world(&[]).await else { return };
    let app = &world.app;
    world.next_user("bob").await;
    let landed = log_in_through(&world, "idp").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("account_not_activated"), "{landed}");
    assert_eq!(app.count(Stored::Identities).await, 1);

    let forgot = app.post_json("/password/forgot", &json!({"email": "bob@example.com"}), None).await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);
    let link = app.reset_link("bob@example.com", 2).await;
    let token = link.split("token=").nth(1).unwrap().split('&').next().unwrap();
    let body = json!({"token": token, "new_password": "the owner's own passphrase"});
    assert!(app.post_json("/password/reset", &body, None).await.status().is_success());
    assert_eq!(app.count(Stored::Identities).await, 0, "the maker's login is unlinked");

    world.next_user("bob").await;
    let landed = log_in_through(&world, "idp").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("identity_not_linked"), "{landed}");
    let owner = app.log_in("bob@example.com", "the owner's own passphrase").await;
    assert_eq!(owner.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_new_identity_links_to_an_account_with_its_address_only_through_a_trusted_provider() {
    let Some(world) = world(&[]).await else { return };
    let app = &world.app;
    let alice = app.active_user("alice@example.com", None).await;

    let landed = log_in_through(&world, "idppost").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("identity_not_linked"), "{landed}");
    assert!(param(&landed, "error_description").unwrap().contains("log in and link"), "{landed}");
    assert_eq!(app.count(Stored::Identities).await, 0);

    let pair = tokens_through(&world, "idp").await;
    assert_eq!(pair["user"]["id"], alice["id"]);
    app.smtp.wait_for("alice@example.com", 2).await;
    let notice = app.smtp.messages_to("alice@example.com").pop().unwrap();
    assert!(notice.text().contains("Idp account (alice@example.com)"), "{}", notice.text());
    app.count_reaches(Stored::AuditEvents(&["identity.linked"]), 1).await;
}

#[tokio::test]
async fn an_id_token_with_a_wrong_audience_nonce_issuer_expiry_or_key_is_refused() {
    let Some(world) = world(&[]).await else { return };
    for (change, reason) in [
        (json!({"aud": "other"}), "audience"),
        (json!({"nonce": "not-the-one-sent"}), "nonce"),
        (json!({"iss": "http://127.0.0.1:1"}), "issuer"),
        (json!({"exp_offset_s": -600}), "xpired"),
        (json!({"sign_with_unknown_key": true}), "ignature"),
    ] {
        world.tamper(change.clone()).await;
        let landed = log_in_through(&world, "idp").await;
        assert_eq!(param(&landed, "error").as_deref(), Some("oidc_failed"), "{change}: {landed}");
        let description = param(&landed, "error_description").unwrap();
        assert!(description.contains(reason), "{change}: {description}");
    }
    assert_eq!(world.app.count(Stored::Accounts).await, 0);
    world.app.count_reaches(Stored::AuditEvents(&["login.social_failed"]), 5).await;
    // The provider, untampered, still logs in.
    tokens_through(&world, "idp").await;
}

#[tokio::test]
async fn a_state_works_once_and_only_in_the_browser_that_started_the_login() {
    let Some(world) = world(&[]).await else { return };
    let app = &world.app;
    let start = app.url("/auth/oidc/idp?redirect_to=http://app.test/done");

    // Login CSRF: a callback URL carried to another browser (without the cookie) is refused.
    let callback = follow(&browser(), &start, true).await;
    let elsewhere = follow(&browser(), callback.as_str(), false).await;
    assert_eq!(param(&elsewhere, "error").as_deref(), Some("oidc_state_invalid"), "{elsewhere}");

    // A finished login's callback, replayed in the same browser, names no login any more.
    let same = browser();
    let callback = follow(&same, &start, true).await;
    let landed = follow(&same, callback.as_str(), false).await;
    assert!(param(&landed, "code").is_some(), "{landed}");
    let replay = same.get(callback).send().await.unwrap();
    assert_problem(replay, StatusCode::BAD_REQUEST, "oidc_state_invalid").await;

    let unknown = app.get("/auth/oidc/idp/callback?state=made-up&code=x", None).await;
    assert_problem(unknown, StatusCode::BAD_REQUEST, "oidc_state_invalid").await;
    assert_problem(app.get("/auth/oidc/nope", None).await, StatusCode::NOT_FOUND, "not_found").await;
    let elsewhere = app.get("/auth/oidc/idp?redirect_to=https://evil.example/", None).await;
    assert_problem(elsewhere, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn github_s_private_address_comes_from_user_emails_and_its_200_errors_are_refusals() {
    let Some(world) = world(&[]).await else { return };
    let pair = tokens_through(&world, "github").await;
    assert_eq!(pair["user"]["email"], "octo@example.com", "the primary verified address, though /user has null");
    assert_eq!(pair["user"]["name"], "The Octocat");

    world.next_github_user("unverified").await;
    let landed = log_in_through(&world, "github").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("account_not_activated"), "{landed}");

    // A code GitHub refuses (with status 200 and an `error`) is a refusal, not a token.
    let browser = browser();
    let callback = follow(&browser, &world.app.url("/auth/oidc/github?redirect_to=http://app.test/done"), true).await;
    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let value = if k == "code" { "wrong".to_owned() } else { v.into_owned() };
            (k.into_owned(), value)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let landed = follow(&browser, forged.as_str(), false).await;
    assert_eq!(param(&landed, "error").as_deref(), Some("oidc_failed"), "{landed}");
    assert!(param(&landed, "error_description").unwrap().contains("bad_verification_code"), "{landed}");
}

#[tokio::test]
async fn a_logged_in_person_links_a_provider_logs_in_with_it_and_unlinks_it_but_never_the_last_way_in() {
    let Some(world) = world(&[]).await else { return };
    let app = &world.app;
    let (me, token) = app.logged_in_user("dana@example.com").await;
    world.next_user("carol").await;
    let started = app
        .post_json("/user/identities/idppost", &json!({"redirect_to": "http://app.test/linked"}), Some(&token))
        .await;
    assert_eq!(started.status(), StatusCode::OK);
    let url: Value = started.json().await.unwrap();
    let landed = confirm_link(&browser(), url["url"].as_str().unwrap(), "dana@example.com").await;
    assert_eq!(param(&landed, "linked").as_deref(), Some("idppost"), "{landed}");
    // The start URL worked once.
    let again = app.client.get(url["url"].as_str().unwrap()).send().await.unwrap();
    assert_problem(again, StatusCode::BAD_REQUEST, "oidc_state_invalid").await;
    app.smtp.wait_for("dana@example.com", 2).await;

    world.next_user("carol").await;
    let pair = tokens_through(&world, "idppost").await;
    assert_eq!(pair["user"]["id"], me["id"], "carol's identity logs in to dana's account");

    // Another account cannot take the identity.
    let (_, other) = app.logged_in_user("erin@example.com").await;
    let body = json!({"redirect_to": "http://app.test/linked"});
    let started: Value = app.post_json("/user/identities/idppost", &body, Some(&other)).await.json().await.unwrap();
    world.next_user("carol").await;
    let landed = confirm_link(&browser(), started["url"].as_str().unwrap(), "erin@example.com").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("identity_taken"), "{landed}");

    let listed: Value = app.get("/user/identities", Some(&token)).await.json().await.unwrap();
    let id = listed["identities"][0]["id"].as_str().unwrap().to_owned();
    // With an unconfirmed address and nothing else, the identity is the last way in.
    app.set_email_verified("dana@example.com", false).await;
    let last = app.delete(&format!("/user/identities/{id}"), Some(&token)).await;
    assert_problem(last, StatusCode::CONFLICT, "last_way_in").await;
    app.set_email_verified("dana@example.com", true).await;
    assert_eq!(app.delete(&format!("/user/identities/{id}"), Some(&token)).await.status(), StatusCode::NO_CONTENT);
    let notice = app.smtp.nth_to("dana@example.com", 3).await.text();
    assert!(notice.contains("no longer logs in"), "{notice}");
    let listed: Value = app.get("/user/identities", Some(&token)).await.json().await.unwrap();
    assert_eq!(listed["identities"], json!([]));
    app.count_reaches(Stored::AuditEvents(&["identity.unlinked"]), 1).await;
}

/// Needs no node server: the provider here is a port nobody listens on.
#[tokio::test]
async fn a_provider_that_is_down_stops_neither_the_start_nor_other_logins_and_answers_502() {
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://127.0.0.1:{}", down.local_addr().unwrap().port());
    drop(down);
    let app = spawn_app_with(
        Options::default()
            .var("GATEHOUSE_OIDC_DOWN_ISSUER", &issuer)
            .var("GATEHOUSE_OIDC_DOWN_CLIENT_ID", "id")
            .var("GATEHOUSE_OIDC_DOWN_CLIENT_SECRET", "secret"),
    )
    .await;
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    let answer = app.get("/auth/oidc/down", None).await;
    let problem = assert_problem(answer, StatusCode::BAD_GATEWAY, "provider_unavailable").await;
    assert!(!problem["detail"].as_str().unwrap().contains("127.0.0.1"), "no address is shown: {problem}");
    app.count_reaches(Stored::SocialLoginsUnderWay, 0).await;
    app.active_user("fay@example.com", None).await;
    assert_eq!(app.log_in("fay@example.com", crate::helpers::PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn sign_up_through_a_provider_obeys_the_sign_up_switch() {
    let Some(world) = world(&[("GATEHOUSE_SIGNUP", "closed")]).await else { return };
    let landed = log_in_through(&world, "idp").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("signup_disabled"), "{landed}");
    assert_eq!(world.app.count(Stored::Accounts).await, 0);
}

#[tokio::test]
async fn the_hosted_login_page_offers_each_provider_and_its_login_ends_in_the_browser_session() {
    let Some(world) = world(&[]).await else { return };
    let app = &world.app;
    let browser = browser();
    let next = "http://app.test/reports";
    let page = browser.get(app.url("/login?next=http%3A%2F%2Fapp.test%2Freports")).send().await.unwrap();
    let html = page.text().await.unwrap();
    let mut links = html.split("<a href=\"").skip(1).map(|rest| rest.split('"').next().unwrap().replace("&amp;", "&"));
    let start = links.find(|href| href.contains("/auth/oidc/idp?")).expect("a link for each provider");
    assert!(html.contains("Continue with"));
    let landed = follow(&browser, &start, false).await;
    assert_eq!(landed.as_str(), next, "back to where the login was for, through /login");
    let signed_in = browser.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(signed_in.contains("logged in as alice@example.com"), "the browser session is the provider's login");
}

/// Login CSRF through a hand-off code: whoever finishes a login in their own browser holds a
/// code for their own account; carried to another browser (a link in a chat), or presented by
/// an app without the verifier of the login it started, it logs nobody in and changes nothing
/// there.
#[tokio::test]
async fn a_hand_off_code_opened_in_another_browser_or_without_the_verifier_logs_nobody_in() {
    let Some(world) = world(&[]).await else { return };
    let app = &world.app;
    // The attacker logs in through the hosted page in their own browser, and stops where the
    // browser would spend the code.
    let attacker = browser();
    let start = app.url("/auth/oidc/idp?redirect_to=")
        + &url::form_urlencoded::byte_serialize(app.url("/login?next=http%3A%2F%2Fapp.test%2Freports").as_bytes())
            .collect::<String>();
    let callback = follow(&attacker, &start, true).await;
    let answer = attacker.get(callback).send().await.unwrap();
    let back = Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    assert!(param(&back, "code").is_some() && back.path().ends_with("/login"), "{back}");

    // The victim's browser opens it: refused, and no session is set there.
    let victim = browser();
    let refused = victim.get(back.as_str()).header("accept", "text/html").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let cookies: Vec<_> =
        refused.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(!cookies.iter().any(|c| c.starts_with("gatehouse_session=")), "{cookies:?}");
    assert!(refused.text().await.unwrap().contains("started in another browser"));
    let signed_in = victim.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(!signed_in.contains("logged in as"), "the victim's browser holds no session");

    // An app that started a login with a challenge must show its verifier; the browser's
    // cookie is not enough there, and a wrong verifier opens nothing.
    let landed = log_in_through(&world, "idp").await;
    let code = param(&landed, "code").unwrap();
    let without = app.post_json("/auth/oidc/exchange", &json!({"code": code}), None).await;
    assert_problem(without, StatusCode::BAD_REQUEST, "handoff_invalid").await;
    let landed = log_in_through(&world, "idp").await;
    let code = param(&landed, "code").unwrap();
    let wrong = json!({"code": code, "code_verifier": "another-verifier-that-is-long-enough-to-count-x"});
    assert_problem(
        app.post_json("/auth/oidc/exchange", &wrong, None).await,
        StatusCode::BAD_REQUEST,
        "handoff_invalid",
    )
    .await;
    let landed = log_in_through(&world, "idp").await;
    assert_eq!(exchange(&world, &param(&landed, "code").unwrap()).await.status(), StatusCode::OK);
    app.count_reaches(Stored::AuditEvents(&["login.failed"]), 3).await;
}

/// A forced link: the start URL of a link is anyone's to send. Opened in someone else's browser,
/// it names the account it would link to and goes nowhere until that page's own button is
/// pressed; a made-up answer to the page goes nowhere either.
#[tokio::test]
async fn a_link_start_url_opened_elsewhere_asks_first_and_only_its_own_page_goes_on() {
    let Some(world) = world(&[]).await else { return };
    let app = &world.app;
    let (_, token) = app.logged_in_user("mallory@example.com").await;
    let body = json!({"redirect_to": "http://app.test/linked"});
    let started: Value = app.post_json("/user/identities/idp", &body, Some(&token)).await.json().await.unwrap();
    let start = started["url"].as_str().unwrap();

    let victim = browser();
    let page = victim.get(start).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("mallory@example.com") && html.contains("close this page"), "{html}");
    let forged = victim.get(format!("{start}&confirm=made-up")).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::OK, "a made-up answer shows the page again");
    assert!(forged.headers().get("location").is_none());
    // Another browser's answer is not this one's either.
    let other = browser();
    let other_page = other.get(start).send().await.unwrap().text().await.unwrap();
    let other_href = other_page.split("href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    let carried = victim.get(Url::parse(start).unwrap().join(&other_href).unwrap()).send().await.unwrap();
    assert_eq!(carried.status(), StatusCode::OK, "another browser's answer shows the page again");
    assert_eq!(app.count(Stored::Identities).await, 0, "nothing was linked");
    world.next_user("carol").await;
    let landed = confirm_link(&victim, start, "mallory@example.com").await;
    assert_eq!(param(&landed, "linked").as_deref(), Some("idp"), "{landed}");
}

/// Pre-account takeover: someone makes a pending account with another person's address through
/// a provider that does not vouch for it, then waits for the owner to activate it some other way
/// than that sign-up's own confirmation link. Any such way removes the maker's login.
#[tokio::test]
async fn activating_a_pending_account_another_way_than_its_provider_link_drops_the_makers_login() {
    let Some(world) = world(&[]).await else { return };
    let app = &world.app;
    world.next_user("bob").await;
    let landed = log_in_through(&world, "idp").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("account_not_activated"), "{landed}");
    assert_eq!(app.count(Stored::Identities).await, 1);

    // The owner asks for the activation link again: its email names the login it removes.
    let resend = app.post_json("/activate/resend", &json!({"email": "bob@example.com"}), None).await;
    assert_eq!(resend.status(), StatusCode::ACCEPTED);
    let email = app.smtp.nth_to("bob@example.com", 2).await;
    assert!(email.text().contains("removes that Idp login"), "{}", email.text());
    let link = email.link("/activate?token=");
    let token = link.split("token=").nth(1).unwrap().split('&').next().unwrap();
    assert_eq!(app.post_json("/activate", &json!({"token": token}), None).await.status(), StatusCode::OK);
    assert_eq!(app.count(Stored::Identities).await, 0, "the maker's login is gone");
    world.next_user("bob").await;
    let landed = log_in_through(&world, "idp").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("identity_not_linked"), "{landed}");

    // The same by an admin's activation.
    world.next_user("carol").await;
    let landed = log_in_through(&world, "idppost").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("account_not_activated"), "{landed}");
    assert_eq!(app.count(Stored::Identities).await, 1);
    let admin = app.admin("root@example.com").await;
    let activated = app
        .send_json(reqwest::Method::PATCH, "/user/carol@example.com", &json!({"status": "active"}), Some(&admin))
        .await;
    assert_eq!(activated.status(), StatusCode::OK);
    assert_eq!(app.count(Stored::Identities).await, 0, "an admin vouches for the address only");
}
