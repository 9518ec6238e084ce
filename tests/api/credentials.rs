//! The credential matrix, performed: every kind of credential (`Credential::ALL`) against every
//! operation that creates lasting access or changes whom gatehouse trusts (`Operation::ALL`), in
//! the hands of someone whose standing allows it (a server admin who owns the organization), each
//! answer held to the cell of the table `docs/SECURITY.md` shows. An operation or a credential
//! this file cannot perform does not compile.

use gatehouse::accounts::access::matrix::{self, Cell, Credential, Operation};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::browser::{Browser, query_param};
use crate::dns::DnsServer;
use crate::helpers::{Options, PASSWORD, TestApp, spawn_app_with};
use crate::oauth::{Client, authorize, authorize_url, pkce, redeem, register, token};

const NEW_PASSWORD: &str = "another correct horse battery staple";
const ORIGIN: &str = "http://localhost:8080";

/// The order the operations are performed in: what ends the world (the organization, the
/// account) last, the password once nothing else needs it.
const ORDER: [Operation; 24] = [
    Operation::OwnApiKey,
    Operation::Totp,
    Operation::EmailChange,
    Operation::Passkey,
    Operation::OrgApiKey,
    Operation::ScimToken,
    Operation::SsoConnection,
    Operation::SsoMetadata,
    Operation::MemberInvitation,
    Operation::AdminInvitation,
    Operation::OwnerInvitation,
    Operation::OrgRole,
    Operation::DomainVerification,
    Operation::OrgPolicy,
    Operation::Webhook,
    Operation::Client,
    Operation::RegistrationToken,
    Operation::Impersonation,
    Operation::MemberPromotion,
    Operation::AdminGrant,
    Operation::OwnershipGrant,
    Operation::PasswordChange,
    Operation::OrgDeletion,
    Operation::AccountDeletion,
];

async fn app(dns: &DnsServer) -> TestApp {
    spawn_app_with(
        Options::default()
            .var("GATEHOUSE_DNS_RESOLVER", &dns.address.to_string())
            .var("GATEHOUSE_WEBAUTHN_RP_ID", "localhost")
            .var("GATEHOUSE_WEBAUTHN_ORIGINS", ORIGIN),
    )
    .await
}

fn metadata() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/e2e/saml/fixtures/idp-metadata.xml")).unwrap()
}

/// A principal with every standing the operations need (but the impersonated one, see
/// [`world`]), and one credential of a kind.
struct World {
    /// `w{n}`: the principal `w{n}@example.com`, its organization `w{n}`, domain `w{n}.test`.
    name: String,
    principal_id: String,
    member_id: String,
    connection: String,
    credential: String,
}

async fn ok(response: Response, status: StatusCode) -> Value {
    let code = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(code, status, "{body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// A world whose principal (an admin, owner of an organization with a member, a SAML connection
/// and a domain whose challenge is published) holds a `credential`; `root`, another admin, acts
/// where someone else must (impersonating the principal, registering the client apps).
async fn world(app: &TestApp, dns: &DnsServer, root: &str, n: usize, credential: Credential) -> World {
    let name = format!("w{n}");
    let email = format!("{name}@example.com");
    // An admin's account is never impersonated: that column's principal owns the organization
    // and its account, and is no admin (the admin routes refuse an impersonation first anyway).
    let session = match credential {
        Credential::Impersonation => app.logged_in_user(&email).await.1,
        _ => app.admin(&email).await,
    };
    let session = match credential {
        Credential::SessionAal2 => with_authenticator_app(app, session).await,
        _ => session,
    };
    let principal_id =
        ok(app.get("/user", Some(&session)).await, StatusCode::OK).await["id"].as_str().unwrap().to_owned();
    let member = app.active_user(&format!("{name}-member@example.com"), None).await;
    let member_id = member["id"].as_str().unwrap().to_owned();
    ok(app.post_json("/orgs", &json!({"name": name, "slug": name}), Some(&session)).await, StatusCode::CREATED).await;
    let operator = app.services().await.capabilities.organizations;
    assert!(operator.as_operator().add_member(&name, &member_id, "member").await.unwrap());
    let added =
        app.post_json(&format!("/orgs/{name}/sso/saml"), &json!({"metadata_xml": metadata()}), Some(&session)).await;
    let connection = ok(added, StatusCode::CREATED).await["id"].as_str().unwrap().to_owned();
    let domain = format!("{name}.test");
    let claimed = app.post_json(&format!("/orgs/{name}/domains"), &json!({"domain": domain}), Some(&session)).await;
    let claimed = ok(claimed, StatusCode::CREATED).await;
    dns.publish_txt(claimed["challenge"]["name"].as_str().unwrap(), claimed["challenge"]["value"].as_str().unwrap())
        .await;
    let credential = match credential {
        Credential::Session | Credential::SessionAal2 => session,
        Credential::Impersonation => {
            let body = json!({"reason": "the credential matrix"});
            let made = app.post_json(&format!("/admin/users/{principal_id}/impersonate"), &body, Some(root)).await;
            ok(made, StatusCode::OK).await["access_token"].as_str().unwrap().to_owned()
        }
        Credential::PersonalKey => {
            let made = app.post_json("/user/api-keys", &json!({"name": "matrix"}), Some(&session)).await;
            ok(made, StatusCode::CREATED).await["key"].as_str().unwrap().to_owned()
        }
        Credential::OrgKey => {
            let made =
                app.post_json(&format!("/orgs/{name}/api-keys"), &json!({"name": "matrix"}), Some(&session)).await;
            ok(made, StatusCode::CREATED).await["key"].as_str().unwrap().to_owned()
        }
        Credential::ScimToken => {
            let made =
                app.post_json(&format!("/orgs/{name}/scim/tokens"), &json!({"name": "matrix"}), Some(&session)).await;
            ok(made, StatusCode::CREATED).await["token"].as_str().unwrap().to_owned()
        }
        Credential::ClientCredentials => {
            let body = json!({"name": "Machine", "grant_types": ["client_credentials"], "scopes": ["openid"]});
            let client = register(app, root, body).await;
            let answer = token(app, &client, &[("grant_type", "client_credentials")]).await;
            ok(answer, StatusCode::OK).await["access_token"].as_str().unwrap().to_owned()
        }
        Credential::ClientToken => third_party_token(app, root, &email).await,
    };
    World { name, principal_id, member_id, connection, credential }
}

/// The session, once its account confirmed an authenticator app: at level 2 from then on.
async fn with_authenticator_app(app: &TestApp, session: String) -> String {
    let enrolment =
        ok(app.post_json("/mfa/totp", &json!({"password": PASSWORD}), Some(&session)).await, StatusCode::OK).await;
    let secret = totp_rs::Secret::try_from_base32(enrolment["secret"].as_str().unwrap()).unwrap().as_bytes().to_vec();
    let code = crate::mfa::code(&secret, 0);
    ok(app.post_json("/mfa/totp/confirm", &json!({"code": code}), Some(&session)).await, StatusCode::OK).await;
    session
}

/// An access token a third-party app got from the principal through the code flow.
async fn third_party_token(app: &TestApp, root: &str, email: &str) -> String {
    let body = json!({
        "name": "Third party", "redirect_uris": [crate::oauth::REDIRECT], "first_party": false,
        "grant_types": ["authorization_code", "refresh_token"], "scopes": ["openid", "profile", "email", "offline_access"],
    });
    let client: Client = register(app, root, body).await;
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let back = authorize(app, &browser, &authorize_url(app, &client, &challenge, &[]), email).await;
    let answer = redeem(app, &client, &query_param(&back, "code").unwrap(), &verifier).await;
    ok(answer, StatusCode::OK).await["access_token"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, method: Method, path: &str, body: Value, credential: &str) -> Response {
    let request = app.client.request(method, app.url(path)).bearer_auth(credential);
    match body {
        Value::Null => request.send().await.unwrap(),
        body => request.json(&body).send().await.unwrap(),
    }
}

/// Performs `operation` in `world` with its credential.
async fn perform(app: &TestApp, world: &World, operation: Operation) -> Response {
    let (org, token) = (&world.name, world.credential.as_str());
    let member = |role: &str| (format!("/orgs/{org}/members/{}", world.member_id), json!({"role": role}));
    let invite = |role: &str| json!({"email": format!("{org}-invitee-{role}@example.com"), "role": role});
    let (method, path, body) = match operation {
        Operation::OwnApiKey => (Method::POST, "/user/api-keys".to_owned(), json!({"name": "another"})),
        Operation::PasswordChange => (
            Method::POST,
            "/password/change".to_owned(),
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ),
        Operation::EmailChange => (
            Method::POST,
            "/email/change".to_owned(),
            json!({"new_email": format!("{org}-new@example.com"), "current_password": PASSWORD}),
        ),
        Operation::Totp => (Method::POST, "/mfa/totp".to_owned(), json!({"password": PASSWORD})),
        Operation::Passkey => (Method::POST, "/webauthn/register/options".to_owned(), json!({})),
        Operation::AccountDeletion => (Method::DELETE, "/user".to_owned(), Value::Null),
        Operation::OrgApiKey => (Method::POST, format!("/orgs/{org}/api-keys"), json!({"name": "another"})),
        Operation::ScimToken => (Method::POST, format!("/orgs/{org}/scim/tokens"), json!({"name": "another"})),
        Operation::SsoConnection => {
            (Method::POST, format!("/orgs/{org}/sso/saml"), json!({"metadata_xml": metadata()}))
        }
        Operation::SsoMetadata => {
            (Method::PATCH, format!("/orgs/{org}/sso/{}", world.connection), json!({"metadata_xml": metadata()}))
        }
        Operation::MemberInvitation => (Method::POST, format!("/orgs/{org}/invitations"), invite("member")),
        Operation::AdminInvitation => (Method::POST, format!("/orgs/{org}/invitations"), invite("admin")),
        Operation::OwnerInvitation => (Method::POST, format!("/orgs/{org}/invitations"), invite("owner")),
        Operation::OrgRole => {
            (Method::POST, format!("/orgs/{org}/roles"), json!({"name": "billing", "permissions": ["invoices:read"]}))
        }
        Operation::DomainVerification => (Method::POST, format!("/orgs/{org}/domains/{org}.test/verify"), json!({})),
        Operation::OrgPolicy => (
            Method::PATCH,
            format!("/orgs/{org}"),
            json!({"policy": {"login_methods": ["password", "passkey", "email", "social"]}}),
        ),
        Operation::MemberPromotion => {
            let (path, body) = member("admin");
            (Method::PATCH, path, body)
        }
        Operation::OwnershipGrant => {
            let (path, body) = member("owner");
            (Method::PATCH, path, body)
        }
        Operation::OrgDeletion => (Method::DELETE, format!("/orgs/{org}"), Value::Null),
        Operation::Webhook => (
            Method::POST,
            "/admin/webhooks".to_owned(),
            json!({"url": "https://93.184.216.34/in", "events": ["user.created"]}),
        ),
        Operation::Client => (
            Method::POST,
            "/admin/clients".to_owned(),
            json!({"name": "App", "redirect_uris": ["https://app.example.com/cb"], "scopes": ["openid"]}),
        ),
        Operation::RegistrationToken => {
            (Method::POST, "/admin/registration-tokens".to_owned(), json!({"name": "installs"}))
        }
        Operation::AdminGrant => (Method::PATCH, format!("/user/{}", world.member_id), json!({"role": "admin"})),
        Operation::Impersonation => (
            Method::POST,
            format!("/admin/users/{}/impersonate", world.member_id),
            json!({"reason": "the credential matrix"}),
        ),
    };
    send(app, method, &path, body, token).await
}

/// Holds an answer to its cell; what it was, for the report.
async fn judge(operation: Operation, credential: Credential, response: Response) -> Result<(), String> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let cell = matrix::cell(operation, credential);
    let held = match cell {
        // The account of the aal2 column has an authenticator app already: the credential was
        // let in, and the operation told it so.
        Cell::Allowed if operation == Operation::Totp && credential == Credential::SessionAal2 => {
            status == StatusCode::CONFLICT && body["code"] == "mfa_already_enabled"
        }
        Cell::Allowed | Cell::Fresh => status.is_success(),
        Cell::Refused(refusal) => {
            let (code, problem) = refusal.answer();
            status.as_u16() == code && body["code"] == problem
        }
    };
    match held {
        true => Ok(()),
        false => Err(format!(
            "{operation:?} ({}) with {credential:?}: expected {cell:?}, got {status} {body}",
            operation.route()
        )),
    }
}

#[tokio::test]
async fn every_credential_meets_every_operation_as_the_table_says() {
    let mut ordered = ORDER.to_vec();
    ordered.sort_by_key(|op| Operation::ALL.iter().position(|o| o == op));
    assert_eq!(ordered, Operation::ALL, "ORDER performs every operation once");
    let dns = DnsServer::start().await;
    let app = app(&dns).await;
    let root = app.admin("root@example.com").await;
    let mut failures = Vec::new();
    for (n, credential) in Credential::ALL.into_iter().enumerate() {
        let world = world(&app, &dns, &root, n, credential).await;
        for operation in ORDER {
            if let Err(failure) = judge(operation, credential, perform(&app, &world, operation).await).await {
                failures.push(failure);
            }
        }
        // The last operation took effect exactly where the table lets it.
        let principal = app.get(&format!("/user/{}", world.principal_id), Some(&root)).await;
        let deleted = !matches!(matrix::cell(Operation::AccountDeletion, credential), Cell::Refused(_));
        assert_eq!(principal.status() == StatusCode::NOT_FOUND, deleted, "{credential:?}: the account deleted or not");
    }
    assert!(failures.is_empty(), "{} cells differ from the table:\n{}", failures.len(), failures.join("\n"));
}

/// A cell `fresh` takes a session that authenticated within `GATEHOUSE_REAUTH_WINDOW`: an older
/// one is told so, and after `POST /auth/reauthenticate` is let in.
#[tokio::test]
async fn what_takes_a_fresh_login_is_refused_to_an_older_session_until_it_authenticates_again() {
    let dns = DnsServer::start().await;
    let app = app(&dns).await;
    let root = app.admin("root@example.com").await;
    let world = world(&app, &dns, &root, 0, Credential::Session).await;
    app.clock.advance(std::time::Duration::from_secs(6 * 60));
    let fresh: Vec<Operation> =
        ORDER.into_iter().filter(|op| matrix::cell(*op, Credential::Session) == Cell::Fresh).collect();
    assert!(fresh.len() >= 5, "{fresh:?}");
    for operation in &fresh {
        let refused = perform(&app, &world, *operation).await;
        let status = refused.status();
        let body: Value = refused.json().await.unwrap();
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("reauthentication_required")),
            "{operation:?}"
        );
    }
    let again = app.post_json("/auth/reauthenticate", &json!({"password": PASSWORD}), Some(&world.credential)).await;
    let again = ok(again, StatusCode::OK).await;
    let world = World { credential: again["access_token"].as_str().unwrap().to_owned(), ..world };
    // The account's deletion waits for its organization's (it is its last owner).
    let org = app.delete(&format!("/orgs/{}", world.name), Some(&world.credential)).await;
    assert_eq!(org.status(), StatusCode::NO_CONTENT);
    for operation in fresh {
        let answer = perform(&app, &world, operation).await;
        assert!(answer.status().is_success(), "{operation:?}: {}", answer.text().await.unwrap());
    }
}

/// `docs/SECURITY.md` shows the very table the server decides by.
#[test]
fn the_security_document_shows_the_table() {
    let document = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/SECURITY.md")).unwrap();
    assert!(document.contains(&matrix::markdown()), "docs/SECURITY.md must hold this table:\n{}", matrix::markdown());
}
