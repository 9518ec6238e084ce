//! An organization's domains: claimed, proved by a TXT record that a DNS server the test runs
//! answers, held by one organization alone; public mail services refused; and a verified
//! domain joining accounts whose verified address is in it, once each.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dns::DnsServer;
use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, spawn_app_with};
use crate::orgs::add_member;
use crate::stored::Stored;

async fn app_with_dns() -> (TestApp, DnsServer) {
    let dns = DnsServer::start().await;
    let app = spawn_app_with(Options::default().var("GATEHOUSE_DNS_RESOLVER", &dns.address.to_string())).await;
    (app, dns)
}

async fn org(app: &TestApp, token: &str, slug: &str) {
    let response = app.post_json("/orgs", &json!({"name": slug, "slug": slug}), Some(token)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn claim(app: &TestApp, token: &str, slug: &str, body: Value) -> reqwest::Response {
    app.post_json(&format!("/orgs/{slug}/domains"), &body, Some(token)).await
}

async fn verify(app: &TestApp, token: &str, slug: &str, domain: &str) -> reqwest::Response {
    app.post_json(&format!("/orgs/{slug}/domains/{domain}/verify"), &json!({}), Some(token)).await
}

/// Claims the domain for the organization, publishes its challenge and verifies it.
async fn verified(app: &TestApp, dns: &DnsServer, token: &str, slug: &str, body: Value) -> Value {
    let claimed = claim(app, token, slug, body).await;
    assert_eq!(claimed.status(), StatusCode::CREATED);
    let claimed: Value = claimed.json().await.unwrap();
    let challenge = &claimed["challenge"];
    dns.publish_txt(challenge["name"].as_str().unwrap(), challenge["value"].as_str().unwrap()).await;
    let done = verify(app, token, slug, claimed["domain"].as_str().unwrap()).await;
    assert_eq!(done.status(), StatusCode::OK);
    done.json().await.unwrap()
}

async fn slugs(app: &TestApp, token: &str) -> Vec<String> {
    let mine: Value = app.get("/orgs", Some(token)).await.json().await.unwrap();
    mine["orgs"].as_array().unwrap().iter().map(|m| m["org"]["slug"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_domain_is_verified_by_its_txt_record_and_then_held_by_that_organization_alone() {
    let (app, dns) = app_with_dns().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (_, bob) = app.logged_in_user("bob@example.com").await;
    org(&app, &ann, "acme").await;
    org(&app, &bob, "rival").await;

    let claimed = claim(&app, &ann, "acme", json!({"domain": "Acme-Corp.Test."})).await;
    assert_eq!(claimed.status(), StatusCode::CREATED);
    let claimed: Value = claimed.json().await.unwrap();
    assert_eq!((claimed["domain"].as_str(), claimed["verified"].as_bool()), (Some("acme-corp.test"), Some(false)));
    assert_eq!(claimed["challenge"]["type"], "dns_txt");
    assert_eq!(claimed["challenge"]["name"], "_gatehouse-challenge.acme-corp.test");
    let value = claimed["challenge"]["value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("gatehouse-domain-verification=") && value.len() > 60, "{value}");
    assert_problem(
        claim(&app, &ann, "acme", json!({"domain": "acme-corp.test"})).await,
        StatusCode::CONFLICT,
        "domain_exists",
    )
    .await;

    // Nothing published yet; then only someone else's value, and one under another name.
    let none = assert_problem(
        verify(&app, &ann, "acme", "acme-corp.test").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "domain_verification_failed",
    )
    .await;
    assert!(none["detail"].as_str().unwrap().contains("No TXT record"), "{none}");
    dns.publish_txt("_gatehouse-challenge.acme-corp.test", "gatehouse-domain-verification=someone-elses").await;
    dns.publish_txt("acme-corp.test", &value).await;
    let wrong = verify(&app, &ann, "acme", "acme-corp.test").await;
    assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "domain_verification_failed").await;

    // Rival claims it too (a claim proves nothing), but cannot verify with acme's record.
    let rivals: Value = claim(&app, &bob, "rival", json!({"domain": "acme-corp.test"})).await.json().await.unwrap();
    assert_ne!(rivals["challenge"]["value"].as_str(), Some(value.as_str()));

    dns.publish_txt("_gatehouse-challenge.acme-corp.test", &value).await;
    assert_problem(
        verify(&app, &bob, "rival", "acme-corp.test").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "domain_verification_failed",
    )
    .await;
    let done = verify(&app, &ann, "acme", "acme-corp.test").await;
    assert_eq!(done.status(), StatusCode::OK);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["verified"], true);
    assert!(done["verified_at"].is_string());
    // Asking again answers it as it is.
    assert_eq!(verify(&app, &ann, "acme", "acme-corp.test").await.status(), StatusCode::OK);

    // Held: even with its own record published, rival cannot verify it. A claim tells nobody
    // whether a domain is held (only a verification, once the record is published, does).
    dns.publish_txt("_gatehouse-challenge.acme-corp.test", rivals["challenge"]["value"].as_str().unwrap()).await;
    assert_problem(verify(&app, &bob, "rival", "acme-corp.test").await, StatusCode::CONFLICT, "domain_taken").await;
    let deleted = app.delete("/orgs/rival/domains/acme-corp.test", Some(&bob)).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(claim(&app, &bob, "rival", json!({"domain": "acme-corp.test"})).await.status(), StatusCode::CREATED);
    assert_eq!(app.delete("/orgs/rival/domains/acme-corp.test", Some(&bob)).await.status(), StatusCode::NO_CONTENT);

    // Given up by acme, it is free again; rival claims it and verifies with its new record.
    assert_eq!(app.delete("/orgs/acme/domains/acme-corp.test", Some(&ann)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.delete("/orgs/acme/domains/acme-corp.test", Some(&ann)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    verified(&app, &dns, &bob, "rival", json!({"domain": "acme-corp.test"})).await;
    let listed: Value = app.get("/orgs/rival/domains", Some(&bob)).await.json().await.unwrap();
    assert_eq!(listed["domains"][0]["verified"], true);
    assert!(
        app.get("/orgs/acme/domains", Some(&ann)).await.json::<Value>().await.unwrap()["domains"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    for kind in ["org.domain_added", "org.domain_verified", "org.domain_removed"] {
        let rows = app.count(Stored::AuditEvents(&[kind])).await;
        assert!(rows >= 1, "{kind} audited");
    }
}

#[tokio::test]
async fn public_mail_domains_malformed_names_and_callers_without_org_update_are_refused() {
    let (app, _dns) = app_with_dns().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (bob_user, bob) = app.logged_in_user("bob@example.com").await;
    org(&app, &ann, "acme").await;
    for public in ["gmail.com", "Outlook.com", "proton.me"] {
        assert_problem(
            claim(&app, &ann, "acme", json!({"domain": public})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "public_mail_domain",
        )
        .await;
    }
    for bad in ["localhost", "10.0.0.1", "a..b", "exa mple.com", "x_y.com", "-a.com", ""] {
        let refused = claim(&app, &ann, "acme", json!({"domain": bad})).await;
        assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let owner_role = claim(&app, &ann, "acme", json!({"domain": "acme.test", "auto_join_role": "owner"})).await;
    assert_problem(owner_role, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let unknown = claim(&app, &ann, "acme", json!({"domain": "acme.test", "auto_join_role": "nobody"})).await;
    assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // Not a member, then a plain member: no domains for them.
    assert_problem(
        claim(&app, &bob, "acme", json!({"domain": "acme.test"})).await,
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;
    add_member(&app, "acme", &bob_user, "member").await;
    assert_problem(claim(&app, &bob, "acme", json!({"domain": "acme.test"})).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    assert_problem(app.get("/orgs/acme/domains", Some(&bob)).await, StatusCode::FORBIDDEN, "forbidden").await;
    // A path that cannot name a domain names none.
    assert_problem(verify(&app, &ann, "acme", "not%20a%20domain").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(verify(&app, &ann, "acme", "unclaimed.test").await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn two_organizations_verifying_one_domain_at_once_one_wins() {
    let (app, dns) = app_with_dns().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (_, bob) = app.logged_in_user("bob@example.com").await;
    org(&app, &ann, "acme").await;
    org(&app, &bob, "rival").await;
    for (token, slug) in [(&ann, "acme"), (&bob, "rival")] {
        let claimed: Value = claim(&app, token, slug, json!({"domain": "contested.test"})).await.json().await.unwrap();
        dns.publish_txt("_gatehouse-challenge.contested.test", claimed["challenge"]["value"].as_str().unwrap()).await;
    }
    let (a, b) =
        tokio::join!(verify(&app, &ann, "acme", "contested.test"), verify(&app, &bob, "rival", "contested.test"));
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let holders = app.count(Stored::VerifiedDomains("contested.test")).await;
    assert_eq!(holders, 1);
}

#[tokio::test]
async fn a_verified_domain_joins_its_people_once_with_its_role_and_never_makes_owners() {
    let (app, dns) = app_with_dns().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    org(&app, &ann, "acme").await;
    let role = json!({"name": "staff", "permissions": ["docs:read"]});
    assert_eq!(app.post_json("/orgs/acme/roles", &role, Some(&ann)).await.status(), StatusCode::CREATED);
    verified(&app, &dns, &ann, "acme", json!({"domain": "acme.test", "auto_join_role": "staff"})).await;

    // Dave's verified address is at acme.test: his login joins him, as staff.
    let (_, dave) = app.logged_in_user("dave@acme.test").await;
    assert_eq!(slugs(&app, &dave).await, ["acme"]);
    let mine: Value = app.get("/orgs", Some(&dave)).await.json().await.unwrap();
    assert_eq!(mine["orgs"][0]["role"], "staff");
    assert_eq!(mine["orgs"][0]["permissions"], json!(["docs:read"]));
    let joined = app.count(Stored::AuditEvents(&["org.member_added"])).await;
    assert_eq!(joined, 1);
    // Someone at another domain, or at a subdomain, is not joined.
    let (_, erin) = app.logged_in_user("erin@mail.acme.test").await;
    assert!(slugs(&app, &erin).await.is_empty());

    // The role a domain joins with cannot be removed while it does.
    assert_problem(app.delete("/orgs/acme/roles/staff", Some(&ann)).await, StatusCode::CONFLICT, "role_in_use").await;

    // Removed, Dave is not joined again at his next login.
    let members: Value = app.get("/orgs/acme/members", Some(&ann)).await.json().await.unwrap();
    let dave = members["members"].as_array().unwrap().iter().find(|m| m["account"]["email"] == "dave@acme.test");
    let dave_account = dave.unwrap()["account"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.delete(&format!("/orgs/acme/members/{dave_account}"), Some(&ann)).await.status(),
        StatusCode::NO_CONTENT
    );
    let again = app.tokens("dave@acme.test", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    assert!(slugs(&app, &again).await.is_empty());

    // Auto-join off: a new person is not joined; the members stay.
    let off = app
        .send_json(Method::PATCH, "/orgs/acme/domains/acme.test", &json!({"auto_join_role": null}), Some(&ann))
        .await;
    assert_eq!(off.status(), StatusCode::OK);
    assert!(off.json::<Value>().await.unwrap()["auto_join_role"].is_null());
    let (_, fay) = app.logged_in_user("fay@acme.test").await;
    assert!(slugs(&app, &fay).await.is_empty());
    assert_eq!(app.delete("/orgs/acme/roles/staff", Some(&ann)).await.status(), StatusCode::NO_CONTENT);

    // An offer is worth its maker's word at each join: Carol, an admin, offers admin; once she
    // is demoted, nobody joins by her offer (as her invitations would be void).
    let (carol_user, carol) = app.logged_in_user("carol@example.com").await;
    add_member(&app, "acme", &carol_user, "admin").await;
    let by_carol = app
        .send_json(Method::PATCH, "/orgs/acme/domains/acme.test", &json!({"auto_join_role": "admin"}), Some(&carol))
        .await;
    assert_eq!(by_carol.status(), StatusCode::OK);
    let carol_path = format!("/orgs/acme/members/{}", carol_user["id"].as_str().unwrap());
    assert_eq!(
        app.send_json(Method::PATCH, &carol_path, &json!({"role": "member"}), Some(&ann)).await.status(),
        StatusCode::OK
    );
    let (_, hana) = app.logged_in_user("hana@acme.test").await;
    assert!(slugs(&app, &hana).await.is_empty(), "a demoted admin's offer is void");

    // Joining people is inviting them: org:update alone does not set a role to join with.
    let branding = json!({"name": "branding", "permissions": ["org:update"]});
    assert_eq!(app.post_json("/orgs/acme/roles", &branding, Some(&ann)).await.status(), StatusCode::CREATED);
    assert_eq!(
        app.send_json(Method::PATCH, &carol_path, &json!({"role": "branding"}), Some(&ann)).await.status(),
        StatusCode::OK
    );
    let refused = app
        .send_json(Method::PATCH, "/orgs/acme/domains/acme.test", &json!({"auto_join_role": "member"}), Some(&carol))
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.get("/orgs/acme/domains", Some(&carol)).await.status(), StatusCode::OK);

    // Owner is never given by a domain, nor anything the caller does not hold.
    let owner = app
        .send_json(Method::PATCH, "/orgs/acme/domains/acme.test", &json!({"auto_join_role": "owner"}), Some(&ann))
        .await;
    assert_problem(owner, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let member = app
        .send_json(Method::PATCH, "/orgs/acme/domains/acme.test", &json!({"auto_join_role": "member"}), Some(&ann))
        .await;
    assert_eq!(member.status(), StatusCode::OK);
    let (_, gus) = app.logged_in_user("gus@acme.test").await;
    assert_eq!(slugs(&app, &gus).await, ["acme"]);
}

#[tokio::test]
async fn an_unclaimed_or_unverified_domain_joins_nobody_and_dns_down_is_a_503() {
    let (app, dns) = app_with_dns().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    org(&app, &ann, "acme").await;
    // Claimed with a role but never verified: nobody joins.
    let claimed = claim(&app, &ann, "acme", json!({"domain": "pending.test", "auto_join_role": "member"})).await;
    assert_eq!(claimed.status(), StatusCode::CREATED);
    let (_, hal) = app.logged_in_user("hal@pending.test").await;
    assert!(slugs(&app, &hal).await.is_empty());
    drop(dns);

    // A resolver that never answers: the check says so, and nothing changes.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let app = app.restart_changing(|config| config.dns_resolver = vec![silent.local_addr().unwrap()]).await;
    let ann = app.tokens("ann@example.com", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    assert_problem(
        verify(&app, &ann, "acme", "pending.test").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "dns_unavailable",
    )
    .await;
    let listed: Value = app.get("/orgs/acme/domains", Some(&ann)).await.json().await.unwrap();
    assert_eq!(listed["domains"][0]["verified"], false);
}
