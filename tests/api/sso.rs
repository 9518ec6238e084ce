//! SAML single sign-on against a real identity provider: pysaml2's IdP signing with Debian's
//! `xmlsec1` (`e2e/saml/idp.py`), which reads our metadata and our `AuthnRequest` as a real
//! IdP does, and answers signed responses; the attacks are built from its real output.
//!
//! The IdP needs its virtualenv (`e2e/saml/setup.sh` makes it). Without it these tests say so
//! and pass, unless `GATEHOUSE_TEST_SAML` is set (as `.ci/run` does), when they fail.

use std::path::PathBuf;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use crate::dns::DnsServer;
use crate::helpers::{Options, TestApp, assert_problem, eventually, spawn_app_with};
use crate::stored::Stored;

const APP: &str = "http://app.test/";
const IDP: &str = "https://idp.test/metadata";
const IDP_SSO: &str = "https://idp.test/sso";
/// Another identity provider, an organization admin's own.
const BOB_IDP: &str = "https://bob-idp.test/metadata";

fn saml_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/saml")
}

/// The IdP's python, when its virtualenv is there.
fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("GATEHOUSE_SAML_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/gatehouse-saml-venv")
    });
    let python = venv.join("bin/python");
    let ready = python.is_file() && which_xmlsec1();
    if !ready {
        assert!(
            std::env::var_os("GATEHOUSE_TEST_SAML").is_none(),
            "GATEHOUSE_TEST_SAML is set but the SAML IdP's virtualenv or xmlsec1 is missing: run e2e/saml/setup.sh"
        );
        eprintln!("SAML tests skipped: no IdP virtualenv (e2e/saml/setup.sh makes it)");
    }
    ready.then_some(python)
}

fn which_xmlsec1() -> bool {
    Command::new("xmlsec1").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Runs `idp.py` with `args`: its JSON answer, or its refusal (stderr) as `Err`.
fn idp(python: &PathBuf, args: &[&str]) -> Result<Value, String> {
    let output = Command::new(python).arg(saml_dir().join("idp.py")).args(args).output().expect("idp.py runs");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&output.stdout).expect("idp.py answers JSON"))
}

struct World {
    app: TestApp,
    dns: DnsServer,
    python: PathBuf,
    owner: String,
    connection: Value,
    sp_metadata: tempfile::NamedTempFile,
}

fn idp_metadata(python: &PathBuf, certs: &[&str]) -> String {
    idp_metadata_of(python, IDP, certs)
}

/// The metadata of an identity provider of entity id `entity` that signs with `certs`.
fn idp_metadata_of(python: &PathBuf, entity: &str, certs: &[&str]) -> String {
    let mut args = vec!["metadata", "--entity-id", entity, "--sso-url", IDP_SSO];
    for cert in certs {
        args.extend(["--cert", cert]);
    }
    idp(python, &args).unwrap()["xml"].as_str().unwrap().to_owned()
}

/// The app, an organization `acme` that verified `acme.test`, and its SAML connection to the
/// test IdP.
async fn world() -> Option<World> {
    let world = world_without_domain().await?;
    world.verify_domain().await;
    Some(world)
}

/// The same before the organization verifies a domain: its connection takes no logins.
async fn world_without_domain() -> Option<World> {
    let python = python()?;
    let dns = DnsServer::start().await;
    let options =
        Options::default().var("GATEHOUSE_REDIRECT_ALLOW", APP).var("GATEHOUSE_DNS_RESOLVER", &dns.address.to_string());
    let app = spawn_app_with(options).await;
    let (_, owner) = app.logged_in_user("owner@example.com").await;
    let created = app.post_json("/orgs", &json!({"name": "Acme", "slug": "acme"}), Some(&owner)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let body = json!({"metadata_xml": idp_metadata(&python, &["idp"]), "name": "Acme IdP"});
    let added = app.post_json("/orgs/acme/sso/saml", &body, Some(&owner)).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let connection: Value = added.json().await.unwrap();
    let metadata = reqwest::get(connection["metadata_url"].as_str().unwrap()).await.unwrap();
    assert_eq!(metadata.headers()["content-type"], "application/samlmetadata+xml");
    let sp_metadata = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(sp_metadata.path(), metadata.text().await.unwrap()).unwrap();
    Some(World { app, dns, python, owner, connection, sp_metadata })
}

/// A browser's cookies, kept by hand (the binding cookie is `Secure`, sent here over http).
#[derive(Default)]
struct Browser {
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn keep(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn header(&self) -> String {
        self.header_without("")
    }

    fn header_without(&self, left_out: &str) -> String {
        let sent = self.cookies.iter().filter(|(n, _)| n != left_out);
        sent.map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

impl World {
    fn id(&self) -> &str {
        self.connection["id"].as_str().unwrap()
    }

    /// Starts a login in `browser`: the URL it is sent to at the IdP.
    async fn start(&self, browser: &mut Browser) -> String {
        let login = format!("{}?redirect_to=http://app.test/done", self.connection["login_url"].as_str().unwrap());
        let response = client().get(&login).header("cookie", browser.header()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        browser.keep(&response);
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// The IdP's answer to the request at `at` (none: unsolicited), with `extra` options.
    fn answer(&self, at: Option<&str>, name_id: &str, extra: &[&str]) -> Value {
        let metadata = self.sp_metadata.path().to_str().unwrap();
        let mut args = vec!["response", "--sp-metadata", metadata, "--idp-entity-id", IDP, "--sso-url", IDP_SSO];
        args.extend(["--name-id", name_id]);
        if let Some(at) = at {
            args.extend(["--authn-request-url", at]);
        }
        args.extend(extra);
        idp(&self.python, &args).unwrap_or_else(|e| panic!("the IdP refused: {e}"))
    }

    /// Posts an answer to the ACS from `browser`.
    async fn post(&self, browser: &mut Browser, answer: &Value) -> reqwest::Response {
        let form = [
            ("SAMLResponse", answer["saml_response"].as_str().unwrap()),
            ("RelayState", answer["relay_state"].as_str().unwrap_or("")),
        ];
        let acs = self.connection["acs_url"].as_str().unwrap();
        // The IdP's post is cross-site: a browser leaves out the `SameSite=Lax` hand-off cookie.
        let sent = browser.header_without("gatehouse_handoff");
        let response = client().post(acs).header("cookie", sent).form(&form).send().await.unwrap();
        browser.keep(&response);
        response
    }

    /// A whole login of `name_id` with `extra` options: where the browser lands.
    async fn log_in(&self, name_id: &str, extra: &[&str]) -> (reqwest::Response, Browser) {
        let mut browser = Browser::default();
        let at = self.start(&mut browser).await;
        let answer = self.answer(Some(&at), name_id, extra);
        (self.post(&mut browser, &answer).await, browser)
    }

    /// The organization proves it holds acme.test (its TXT record published).
    async fn verify_domain(&self) {
        let claimed =
            self.app.post_json("/orgs/acme/domains", &json!({"domain": "acme.test"}), Some(&self.owner)).await;
        let claimed: Value = claimed.json().await.unwrap();
        let challenge = &claimed["challenge"];
        self.dns.publish_txt(challenge["name"].as_str().unwrap(), challenge["value"].as_str().unwrap()).await;
        let verified = self.app.post_json("/orgs/acme/domains/acme.test/verify", &json!({}), Some(&self.owner)).await;
        assert_eq!(verified.status(), StatusCode::OK);
    }

    /// The account a landing's code logs in to.
    async fn me(&self, landed: &reqwest::Response, browser: &Browser) -> Value {
        let tokens = self.exchange(landed, browser).await;
        assert_eq!(tokens.status(), StatusCode::OK);
        let tokens: Value = tokens.json().await.unwrap();
        self.app.get("/user", tokens["access_token"].as_str()).await.json().await.unwrap()
    }

    /// Exchanges the code a landing carries for tokens, from the browser that logged in.
    async fn exchange(&self, landed: &reqwest::Response, browser: &Browser) -> reqwest::Response {
        let code = param(&location(landed), "code").expect("a code");
        client()
            .post(self.app.url("/auth/exchange"))
            .header("cookie", browser.header())
            .json(&json!({"code": code}))
            .send()
            .await
            .unwrap()
    }
}

/// The reasons of the SAML refusals in the audit trail, once there are `at_least` of them
/// (events are written after the answer).
async fn audit_reasons(app: &TestApp, at_least: usize) -> Vec<String> {
    let store = app.services().await.backend.store;
    let filter = gatehouse::model::audit::EventFilter {
        account_id: None,
        kind: Some("login.social_failed".into()),
        ip: None,
        since: None,
        until: None,
        before: None,
        limit: 200,
    };
    eventually("the refusals audited", std::time::Duration::from_secs(5), || async {
        let events = store.list_events(&filter).await.unwrap();
        let reasons: Vec<String> =
            events.iter().filter_map(|e| e.detail.as_ref()?["reason"].as_str().map(str::to_owned)).collect();
        (reasons.len() >= at_least).then_some(reasons)
    })
    .await
}

fn location(response: &reqwest::Response) -> Url {
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn a_person_logs_in_through_the_organizations_idp_and_joins_it_with_the_default_role() {
    let Some(world) = world().await else { return };
    let connection = &world.connection;
    assert_eq!(connection["type"], "saml");
    assert_eq!(connection["idp"]["entity_id"], IDP);
    assert_eq!(connection["default_role"], "member");
    assert!(connection["acs_url"].as_str().unwrap().ends_with(&format!("/sso/saml/{}/acs", world.id())));

    // A real IdP reads our AuthnRequest: ours, for our ACS, with our RelayState.
    let mut browser = Browser::default();
    let at = world.start(&mut browser).await;
    assert!(at.starts_with(IDP_SSO), "{at}");
    assert!(browser.cookies.iter().any(|(n, _)| n.starts_with("gatehouse_saml_")));
    let metadata = world.sp_metadata.path().to_str().unwrap();
    let read = idp(
        &world.python,
        &[
            "login-url-check",
            "--authn-request-url",
            &at,
            "--sp-metadata",
            metadata,
            "--idp-entity-id",
            IDP,
            "--sso-url",
            IDP_SSO,
        ],
    )
    .unwrap();
    assert_eq!(read["acs_url"], connection["acs_url"]);
    assert_eq!(read["issuer"], connection["sp_entity_id"]);

    let answer = world.answer(Some(&at), "ann@acme.test", &["--attr", "givenName=Ann"]);
    let landed = world.post(&mut browser, &answer).await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    let to = location(&landed);
    assert!(to.as_str().starts_with("http://app.test/done?code="), "{to}");
    // The code is bound to the hand-off cookie the login set, which the ACS left alone.
    assert!(
        !landed.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("gatehouse_handoff="))
    );
    let me = world.me(&landed, &browser).await;
    assert_eq!(me["email"], "ann@acme.test");
    // acme.test is a domain the organization verified: it vouches for the address.
    assert_eq!(me["email_verified"], true);
    let members: Value = world.app.get("/orgs/acme/members", Some(&world.owner)).await.json().await.unwrap();
    let ann = members["members"].as_array().unwrap().iter().find(|m| m["account"]["email"] == "ann@acme.test");
    assert_eq!(ann.map(|m| m["role"].clone()), Some(json!("member")), "{members}");

    // The same answer again: its request is spent.
    let again = world.post(&mut browser, &answer).await;
    assert_problem(again, StatusCode::BAD_REQUEST, "saml_invalid").await;
    // A second login of the same person finds the same account (keyed on connection and NameID).
    let (landed, browser) = world.log_in("ann@acme.test", &[]).await;
    assert_eq!(world.me(&landed, &browser).await["id"], me["id"]);
}

/// The review's finding 6: anyone may make an organization and name its connection "Google";
/// its identity provider may name any address. At a domain the organization never verified it
/// makes nothing, pending or not, and nobody is emailed.
#[tokio::test]
async fn an_address_at_a_domain_the_organization_did_not_verify_gets_no_account_and_no_email() {
    let Some(world) = world().await else { return };
    let path = format!("/orgs/acme/sso/{}", world.id());
    let google = json!({"name": "Google"});
    let renamed = world.app.send_json(reqwest::Method::PATCH, &path, &google, Some(&world.owner)).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let (landed, _) = world.log_in("victim@gmail.example", &[]).await;
    assert_eq!(param(&location(&landed), "error").as_deref(), Some("sso_domain_not_verified"));
    world.app.count_reaches(Stored::AccountsWithEmail("victim@gmail.example"), 0).await;
    world.app.outbox_settled().await;
    assert!(world.app.smtp.messages_to("victim@gmail.example").is_empty(), "nobody is told anything");
}

#[tokio::test]
async fn with_sign_up_closed_only_a_verified_domain_provisions_new_accounts() {
    let Some(mut world) = world().await else { return };
    world.app = world.app.restart_changing(|config| config.policy.signup_open = false).await;
    let (landed, _) = world.log_in("new@elsewhere.test", &[]).await;
    assert_eq!(param(&location(&landed), "error").as_deref(), Some("sso_domain_not_verified"));
    let (landed, browser) = world.log_in("new@acme.test", &[]).await;
    assert_eq!(world.me(&landed, &browser).await["email"], "new@acme.test");
}

/// The review's finding 7: until its organization verifies a domain, a connection sends no
/// browser to the address its metadata names, and says so.
#[tokio::test]
async fn a_connection_sends_no_browser_anywhere_before_its_organization_verifies_a_domain() {
    let Some(world) = world_without_domain().await else { return };
    assert_eq!(world.connection["active"], false, "{}", world.connection);
    let login = world.connection["login_url"].as_str().unwrap();
    let refused = client().get(login).send().await.unwrap();
    assert!(refused.headers().get("location").is_none(), "no redirect");
    assert_problem(refused, StatusCode::FORBIDDEN, "sso_connection_inactive").await;
    world.verify_domain().await;
    let shown: Value =
        world.app.get(&format!("/orgs/acme/sso/{}", world.id()), Some(&world.owner)).await.json().await.unwrap();
    assert_eq!(shown["active"], true);
    let mut browser = Browser::default();
    assert!(world.start(&mut browser).await.starts_with(IDP_SSO));
}

#[tokio::test]
async fn every_forged_or_misdirected_answer_is_refused_without_saying_why() {
    let Some(world) = world().await else { return };
    // Each forgery, and the reason the audit trail must give for it.
    let recipient = world.app.url("/sso/saml/00000000-0000-0000-0000-000000000000/acs");
    let refusals: [(Vec<&str>, &str); 16] = [
        (vec!["--sign", "none"], "not signed"),
        (vec!["--key", "other"], "pinned certificate"),
        (vec!["--sig-alg", "rsa-sha1", "--digest-alg", "sha1"], "algorithm not accepted"),
        (vec!["--variant", "tamper-nameid"], "digest mismatch"),
        (vec!["--attr", "email=ann@acme.test", "--variant", "tamper-attribute"], "digest mismatch"),
        (vec!["--variant", "strip-signature"], "not signed"),
        (vec!["--sign", "response", "--variant", "xsw-wrap-response-detached"], "more than one Assertion"),
        (vec!["--variant", "xsw-sibling-assertion"], "more than one Assertion"),
        (vec!["--variant", "xsw-extensions"], "more than one Assertion"),
        (vec!["--variant", "xsw-wrap-assertion"], "same ID"),
        (vec!["--variant", "doctype-entity"], "DTD"),
        (vec!["--audience", "https://other-sp.test/metadata"], "Audience"),
        (vec!["--not-on-or-after-offset", "-120"], "SubjectConfirmation"),
        (vec!["--not-before-offset", "300"], "NotBefore"),
        (vec!["--recipient", recipient.as_str()], "SubjectConfirmation"),
        (vec!["--destination", recipient.as_str()], "Destination"),
    ];
    for (extra, why) in &refusals {
        let (landed, _) = world.log_in("ann@acme.test", extra).await;
        let problem = assert_problem(landed, StatusCode::BAD_REQUEST, "saml_invalid").await;
        assert!(!problem.to_string().contains(why), "{why} told the browser: {problem}");
    }
    // An encrypted assertion, which no key of this connection decrypts.
    let cert = saml_dir().join("keys/other-cert.pem");
    let (landed, _) = world.log_in("ann@acme.test", &["--encrypt-assertion-with", cert.to_str().unwrap()]).await;
    assert_problem(landed, StatusCode::BAD_REQUEST, "saml_invalid").await;
    // No one logged in.
    let members: Value = world.app.get("/orgs/acme/members", Some(&world.owner)).await.json().await.unwrap();
    assert_eq!(members["members"].as_array().unwrap().len(), 1, "{members}");
    // The reasons are in the audit trail, one for each, in order.
    let mut reasons = audit_reasons(&world.app, refusals.len() + 1).await;
    reasons.reverse();
    assert!(reasons[refusals.len()].contains("encrypted"), "{reasons:#?}");
    for ((extra, why), reason) in refusals.iter().zip(&reasons) {
        assert!(reason.contains(why), "{extra:?}: {reason}");
    }
}

#[tokio::test]
async fn an_answer_counts_only_in_the_browser_that_asked_and_only_once() {
    let Some(world) = world().await else { return };
    // A login started in one browser, its answer posted from another (login CSRF).
    let mut mine = Browser::default();
    let at = world.start(&mut mine).await;
    let answer = world.answer(Some(&at), "mallory@acme.test", &[]);
    let mut victim = Browser::default();
    assert_problem(world.post(&mut victim, &answer).await, StatusCode::BAD_REQUEST, "saml_invalid").await;
    // That request is spent by the attempt: not even its own browser uses it now.
    assert_problem(world.post(&mut mine, &answer).await, StatusCode::BAD_REQUEST, "saml_invalid").await;

    // An assertion ID seen once is not taken again, even answering another request.
    let (first, _) = world.log_in("ann@acme.test", &["--assertion-id", "id-reused-assertion"]).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let (second, _) = world.log_in("ann@acme.test", &["--assertion-id", "id-reused-assertion"]).await;
    assert_problem(second, StatusCode::BAD_REQUEST, "saml_invalid").await;

    // Unsolicited answers are off by default; on where the connection allows them.
    let mut browser = Browser::default();
    let unsolicited = world.answer(None, "ann@acme.test", &[]);
    assert_problem(world.post(&mut browser, &unsolicited).await, StatusCode::BAD_REQUEST, "saml_invalid").await;
    let path = format!("/orgs/acme/sso/{}", world.id());
    let changed = world
        .app
        .send_json(reqwest::Method::PATCH, &path, &json!({"allow_idp_initiated": true}), Some(&world.owner))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let unsolicited = world.answer(None, "ann@acme.test", &[]);
    let landed = world.post(&mut browser, &unsolicited).await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    assert!(location(&landed).path().ends_with("/account"), "{}", location(&landed));
}

#[tokio::test]
async fn a_new_certificate_is_taken_after_a_rollover_and_the_old_one_after_it_is_dropped_no_more() {
    let Some(world) = world().await else { return };
    let (before, _) = world.log_in("ann@acme.test", &["--key", "rollover"]).await;
    assert_problem(before, StatusCode::BAD_REQUEST, "saml_invalid").await;
    let path = format!("/orgs/acme/sso/{}", world.id());
    let both = json!({"metadata_xml": idp_metadata(&world.python, &["idp", "rollover"])});
    let changed: Value =
        world.app.send_json(reqwest::Method::PATCH, &path, &both, Some(&world.owner)).await.json().await.unwrap();
    assert_eq!(changed["idp"]["certificate_fingerprints"].as_array().unwrap().len(), 2);
    for key in ["idp", "rollover"] {
        let (landed, _) = world.log_in("ann@acme.test", &["--key", key]).await;
        assert_eq!(landed.status(), StatusCode::SEE_OTHER, "{key}");
    }
    let only_new = json!({"metadata_xml": idp_metadata(&world.python, &["rollover"])});
    assert_eq!(
        world.app.send_json(reqwest::Method::PATCH, &path, &only_new, Some(&world.owner)).await.status(),
        StatusCode::OK
    );
    let (old, _) = world.log_in("ann@acme.test", &["--key", "idp"]).await;
    assert_problem(old, StatusCode::BAD_REQUEST, "saml_invalid").await;
}

#[tokio::test]
async fn an_existing_account_is_linked_only_at_a_domain_the_organization_verified() {
    let Some(world) = world().await else { return };
    let (bob, _) = world.app.logged_in_user("bob@acme.test").await;
    // Accounts at acme.test an admin with sso:manage must not capture: an owner of another
    // organization, and a server admin.
    let (_, dora) = world.app.logged_in_user("dora@acme.test").await;
    let other = world.app.post_json("/orgs", &json!({"name": "Other", "slug": "other"}), Some(&dora)).await;
    assert_eq!(other.status(), StatusCode::CREATED);
    world.app.admin("root@acme.test").await;

    let (landed, browser) = world.log_in("bob@acme.test", &[]).await;
    assert_eq!(world.me(&landed, &browser).await["id"], bob["id"]);
    for captured in ["dora@acme.test", "root@acme.test"] {
        let (landed, _) = world.log_in(captured, &[]).await;
        assert_eq!(param(&location(&landed), "error").as_deref(), Some("identity_not_linked"), "{captured}");
    }
    // bob, linked, made an owner since: the IdP no longer logs him in.
    let owners = json!({"role": "owner"});
    let promoted = world
        .app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/orgs/acme/members/{}", bob["id"].as_str().unwrap()),
            &owners,
            Some(&world.owner),
        )
        .await;
    assert_eq!(promoted.status(), StatusCode::OK);
    let (landed, _) = world.log_in("bob@acme.test", &[]).await;
    assert_eq!(param(&location(&landed), "error").as_deref(), Some("identity_not_linked"));
}

/// The review's finding 2: a known identity logs in only while its account belongs to this
/// organization alone, asked at every login; an admin who puts an identity provider of his own
/// in the connection's place inherits none of the identities linked under the last one, and
/// every owner is told of the change.
#[tokio::test]
async fn a_known_identity_logs_in_only_while_its_account_is_the_organizations_alone() {
    let Some(world) = world().await else { return };
    let (landed, browser) = world.log_in("alice@acme.test", &[]).await;
    let tokens: Value = world.exchange(&landed, &browser).await.json().await.unwrap();
    let alice = tokens["access_token"].as_str().unwrap();
    let own = world.app.post_json("/orgs", &json!({"name": "Alice's", "slug": "alices"}), Some(alice)).await;
    assert_eq!(own.status(), StatusCode::CREATED);
    // Her identity provider would now act as another organization's owner: refused.
    let (landed, _) = world.log_in("alice@acme.test", &[]).await;
    assert_eq!(param(&location(&landed), "error").as_deref(), Some("identity_not_linked"));

    // bob, an admin of acme (not its owner), swaps the connection's identity provider for one of
    // his own, which names alice.
    let (bob, bob_token) = world.app.logged_in_user("bob@example.com").await;
    crate::orgs::add_member(&world.app, "acme", &bob, "admin").await;
    let path = format!("/orgs/acme/sso/{}", world.id());
    let his = json!({"metadata_xml": idp_metadata_of(&world.python, BOB_IDP, &["other"])});
    let swapped = world.app.send_json(reqwest::Method::PATCH, &path, &his, Some(&bob_token)).await;
    assert_eq!(swapped.status(), StatusCode::OK);
    let bobs = ["--idp-entity-id", BOB_IDP, "--key", "other"];
    let (landed, _) = world.log_in("alice@acme.test", &bobs).await;
    assert_eq!(param(&location(&landed), "error").as_deref(), Some("identity_not_linked"));
    // The owner is told, by email, which identity provider the connection trusts now (after the
    // activation email of their sign-up).
    let told = world.app.smtp.wait_for("owner@example.com", 2).await;
    let told = &told[1];
    assert!(told.text().contains(BOB_IDP) && told.text().contains("Acme"), "{}", told.text());
    assert!(!told.text().contains("Acme IdP"), "the connection's name is never shown as a provider");
    let audited = Stored::AuditEvents(&["org.sso_updated"]);
    world.app.count_reaches(audited, 1).await;
}

/// Identities linked before they were keyed on the identity provider (keyed on the connection
/// alone) keep logging in while the connection names the identity provider they were linked
/// under, and never through another.
#[tokio::test]
async fn an_identity_keyed_on_the_connection_alone_logs_in_only_through_its_own_identity_provider() {
    let Some(world) = world().await else { return };
    let daniel = world.app.active_user("daniel@acme.test", None).await;
    let daniel_id = daniel["id"].as_str().unwrap();
    let store = world.app.services().await.backend.store;
    let connection = uuid::Uuid::parse_str(world.id()).unwrap();
    let legacy = format!("urn:gatehouse:sso:{}", connection.simple());
    let identity = gatehouse::model::identity::Identity {
        id: uuid::Uuid::now_v7(),
        account_id: uuid::Uuid::parse_str(daniel_id).unwrap(),
        provider: format!("sso:{}", connection.simple()),
        email: Some("dan@acme.test".into()),
        created_at: chrono::Utc::now(),
        last_login_at: None,
    };
    let key = gatehouse::model::identity::IdentityKey { issuer: &legacy, subject: "dan@acme.test" };
    store.insert_identity(&identity, key, &gatehouse::model::outcome::Effects::none()).await.unwrap();
    let (landed, browser) = world.log_in("dan@acme.test", &[]).await;
    assert_eq!(world.me(&landed, &browser).await["id"], daniel["id"], "the identity of before logs in");

    let path = format!("/orgs/acme/sso/{}", world.id());
    let another = json!({"metadata_xml": idp_metadata_of(&world.python, BOB_IDP, &["other"])});
    let swapped = world.app.send_json(reqwest::Method::PATCH, &path, &another, Some(&world.owner)).await;
    assert_eq!(swapped.status(), StatusCode::OK);
    let (landed, browser) = world.log_in("dan@acme.test", &["--idp-entity-id", BOB_IDP, "--key", "other"]).await;
    let dan = world.me(&landed, &browser).await;
    assert_eq!(dan["email"], "dan@acme.test");
    assert_ne!(dan["id"], daniel["id"], "another identity provider starts afresh");
}

#[tokio::test]
async fn connections_are_managed_with_sso_manage_and_bad_metadata_is_refused_with_its_cause() {
    let Some(world) = world().await else { return };
    let (someone, member) = world.app.logged_in_user("member@example.com").await;
    crate::orgs::add_member(&world.app, "acme", &someone, "member").await;
    let path = format!("/orgs/acme/sso/{}", world.id());
    assert_problem(world.app.get(&path, Some(&member)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let body = json!({"metadata_xml": idp_metadata(&world.python, &["idp"])});
    let denied = world.app.post_json("/orgs/acme/sso/saml", &body, Some(&member)).await;
    assert_problem(denied, StatusCode::FORBIDDEN, "forbidden").await;
    // A role holding sso:manage (and members:invite) but less than admin's rights reads the
    // connections, and sets up no IdP: it would speak for the organization's admins.
    let role = json!({"name": "sso-helper", "permissions": ["sso:manage", "members:invite"]});
    let created = world.app.post_json("/orgs/acme/roles", &role, Some(&world.owner)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let (helper, helper_token) = world.app.logged_in_user("helper@example.com").await;
    crate::orgs::add_member(&world.app, "acme", &helper, "sso-helper").await;
    assert_eq!(world.app.get(&path, Some(&helper_token)).await.status(), StatusCode::OK);
    let added = world.app.post_json("/orgs/acme/sso/saml", &body, Some(&helper_token)).await;
    assert_problem(added, StatusCode::FORBIDDEN, "forbidden").await;
    let swapped = world.app.send_json(reqwest::Method::PATCH, &path, &body, Some(&helper_token)).await;
    assert_problem(swapped, StatusCode::FORBIDDEN, "forbidden").await;

    let owner = Some(world.owner.as_str());
    let not_metadata = world.app.post_json("/orgs/acme/sso/saml", &json!({"metadata_xml": "<a/>"}), owner).await;
    assert_problem(not_metadata, StatusCode::UNPROCESSABLE_ENTITY, "sso_metadata_invalid").await;
    let entity = "<!DOCTYPE a [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><a>&e;</a>";
    let dtd = world.app.post_json("/orgs/acme/sso/saml", &json!({"metadata_xml": entity}), owner).await;
    assert_problem(dtd, StatusCode::UNPROCESSABLE_ENTITY, "sso_metadata_invalid").await;
    let owners = world
        .app
        .post_json(
            "/orgs/acme/sso/saml",
            &json!({"metadata_xml": idp_metadata(&world.python, &["idp"]), "default_role": "owner"}),
            owner,
        )
        .await;
    assert_problem(owners, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let listed: Value = world.app.get("/orgs/acme/sso", owner).await.json().await.unwrap();
    assert_eq!(listed["connections"].as_array().unwrap().len(), 1);
    assert_eq!(world.app.delete(&path, owner).await.status(), StatusCode::NO_CONTENT);
    assert_problem(world.app.get(&path, owner).await, StatusCode::NOT_FOUND, "not_found").await;
    let gone = reqwest::get(world.connection["metadata_url"].as_str().unwrap()).await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}
