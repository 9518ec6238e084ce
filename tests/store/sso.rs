//! SAML answers on every database: one answer spent once, however many posts of it arrive
//! together from two replicas; an assertion used once even against another request; an
//! expired request, or another connection's, answered by nothing.

use gatehouse::model::email_login::HandoffBinding;
use gatehouse::model::outcome::Effects;
use gatehouse::model::sso::{NewSamlRequest, OidcSettings, Protocol, SamlSettings, SamlSpend, SsoConnection};
use gatehouse::store::sso::SamlAnswer;
use gatehouse::tokens::opaque::TokenHash;
use uuid::Uuid;

use crate::Harness;
use crate::scenarios::{founded, minutes, now, seeded};

crate::per_backend! {
    stores:
        one_answer_logs_in_once_however_many_posts_of_it_arrive_together,
        an_assertion_is_used_once_and_a_request_answers_only_its_connection_in_time;
    sessions:
}

async fn connection(h: &Harness, slug: &str) -> SsoConnection {
    let owner = seeded(h, &format!("owner@{slug}.test")).await;
    let org_id = founded(h, slug, owner).await;
    let connection = SsoConnection {
        id: Uuid::now_v7(),
        org_id,
        name: "IdP".into(),
        default_role: "member".into(),
        protocol: Protocol::Saml(SamlSettings {
            idp_entity_id: "https://idp.test/metadata".into(),
            sso_url: "https://idp.test/sso".into(),
            certificates: vec![],
            metadata_url: None,
            allow_idp_initiated: false,
            attribute_mapping: Default::default(),
            legacy_idp: None,
        }),
        created_at: now(),
        updated_at: now(),
    };
    assert!(h.store.insert_sso_connection(&connection, 10, &Effects::none()).await.unwrap());
    assert_eq!(h.store.sso_connection(connection.id).await.unwrap().as_ref(), Some(&connection));
    connection
}

async fn request(h: &Harness, connection: Uuid, id: &str, ttl: chrono::Duration) -> TokenHash {
    let hash = TokenHash::of(id);
    let pending = NewSamlRequest {
        hash: TokenHash::of(id),
        connection_id: connection,
        binding_hash: TokenHash::of("the browser's cookie"),
        redirect_to: Some("https://app.test/done".into()),
        handoff: HandoffBinding::default(),
        created_at: now(),
        expires_at: now() + ttl,
    };
    h.store.insert_saml_request(&pending).await.unwrap();
    hash
}

fn answer<'a>(request: Option<&'a TokenHash>, assertion: &'a TokenHash, connection: Uuid) -> SamlAnswer<'a> {
    SamlAnswer { connection_id: connection, request, assertion, assertion_expires_at: now() + minutes(5), now: now() }
}

pub async fn one_answer_logs_in_once_however_many_posts_of_it_arrive_together(h: Harness) {
    let replica = h.another_replica().await;
    let connection = connection(&h, "acme").await;
    for round in 0..4 {
        let hash = request(&h, connection.id, &format!("_request-{round}"), minutes(10)).await;
        let assertion = TokenHash::of(&format!("assertion-{round}"));
        let posts = [h.store.clone(), replica.clone(), h.store.clone(), replica.clone()].map(|store| {
            let id = connection.id;
            tokio::spawn(async move {
                let answer = SamlAnswer {
                    connection_id: id,
                    request: Some(&hash),
                    assertion: &assertion,
                    assertion_expires_at: now() + minutes(5),
                    now: now(),
                };
                store.spend_saml_answer(&answer).await.unwrap()
            })
        });
        let mut spent = 0;
        for post in posts {
            match post.await.unwrap() {
                SamlSpend::Spent(Some(request)) => {
                    assert_eq!(request.redirect_to.as_deref(), Some("https://app.test/done"));
                    assert_eq!(request.binding_hash, TokenHash::of("the browser's cookie"));
                    spent += 1;
                }
                SamlSpend::UnknownRequest | SamlSpend::Replayed => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(spent, 1, "round {round}: one post of the answer logs in");
    }
}

pub async fn an_assertion_is_used_once_and_a_request_answers_only_its_connection_in_time(h: Harness) {
    let acme = connection(&h, "acme").await;
    let rival = connection(&h, "rival").await;
    let first = request(&h, acme.id, "_first", minutes(10)).await;
    let second = request(&h, acme.id, "_second", minutes(10)).await;
    let assertion = TokenHash::of("one assertion");
    assert!(matches!(
        h.store.spend_saml_answer(&answer(Some(&first), &assertion, acme.id)).await.unwrap(),
        SamlSpend::Spent(Some(_))
    ));
    // The same assertion, answering another request: a replay, and that request stays unspent.
    assert!(matches!(
        h.store.spend_saml_answer(&answer(Some(&second), &assertion, acme.id)).await.unwrap(),
        SamlSpend::Replayed
    ));
    let fresh = TokenHash::of("another assertion");
    // Another connection cannot spend acme's request.
    assert!(matches!(
        h.store.spend_saml_answer(&answer(Some(&second), &fresh, rival.id)).await.unwrap(),
        SamlSpend::UnknownRequest
    ));
    assert!(matches!(
        h.store.spend_saml_answer(&answer(Some(&second), &fresh, acme.id)).await.unwrap(),
        SamlSpend::Spent(Some(_))
    ));
    // An expired request answers nothing.
    let late = request(&h, acme.id, "_late", minutes(-1)).await;
    let other = TokenHash::of("a third assertion");
    assert!(matches!(
        h.store.spend_saml_answer(&answer(Some(&late), &other, acme.id)).await.unwrap(),
        SamlSpend::UnknownRequest
    ));
    // An unsolicited answer spends only its assertion.
    assert!(matches!(h.store.spend_saml_answer(&answer(None, &other, acme.id)).await.unwrap(), SamlSpend::Spent(None)));
    assert!(matches!(h.store.spend_saml_answer(&answer(None, &other, acme.id)).await.unwrap(), SamlSpend::Replayed));
    // A removed connection takes its waiting logins with it.
    assert!(h.store.delete_sso_connection(acme.org_id, acme.id, &Effects::none()).await.unwrap());
    assert!(h.store.sso_connection(acme.id).await.unwrap().is_none());
    // A connection of the other kind is kept as it is, beside one of SAML.
    let mut oidc = rival.clone();
    oidc.id = Uuid::now_v7();
    oidc.protocol = Protocol::Oidc(OidcSettings {
        issuer: "https://login.rival.test/".into(),
        client_id: "gatehouse".into(),
        client_secret_sealed: "c2VhbGVk".into(),
        allow_unverified_email: true,
    });
    assert!(h.store.insert_sso_connection(&oidc, 10, &Effects::none()).await.unwrap());
    assert_eq!(h.store.sso_connections(rival.org_id).await.unwrap(), vec![rival, oidc]);
}
