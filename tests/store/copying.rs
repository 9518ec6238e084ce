//! The copy into another store (`gatehouse copy`): from SQLite into each backend and back out
//! of it into a fresh SQLite, everything that lasts arrives as it was (read back through the
//! target's own reads, as its server reads it); and a copy that would lose something or write
//! over something does not start.

use std::sync::Arc;

use gatehouse::model::account::{AccountKey, Role, Status};
use gatehouse::model::api_key::{ApiKey, KeyOwner, NewApiKey};
use gatehouse::model::audit::{AuditEvent, EventFilter};
use gatehouse::model::client::{ClientKeys, ClientPolicy, InitialToken, OAuthClient};
use gatehouse::model::domain::OrgDomain;
use gatehouse::model::identity::{Identity, IdentityKey};
use gatehouse::model::invitation::NewInvitation;
use gatehouse::model::org::{NewOrganization, OrgChange, OrgKey, OrgRole, Slug};
use gatehouse::model::org_policy::OrgPolicy;
use gatehouse::model::outcome::Effects;
use gatehouse::model::passkey::StoredPasskey;
use gatehouse::model::sso::{Protocol, SamlSettings, SsoConnection};
use gatehouse::model::token::TokenHash;
use gatehouse::model::webhook::{Endpoint, EventType};
use gatehouse::store::Store;
use gatehouse::store::copying::{Copied, Refused, copy};
use gatehouse::tokens::jwt::SigningKey;
use uuid::Uuid;

use crate::scenarios::{account, email, minutes, now};
use crate::{Harness, Kind};

mod directory;

crate::per_backend! {
    stores:
        everything_that_lasts_arrives_whole_and_comes_back_whole,
        a_copy_that_would_lose_or_overwrite_something_does_not_start;
    sessions:
}

/// More than one page of the copy's.
const PLAIN_ACCOUNTS: usize = 230;

const SEALING: &[u8] = b"0123456789abcdef0123456789abcdef";

/// What the source holds: the ids of the accounts that own something.
struct Filled {
    ann: Uuid,
    bob: Uuid,
    cem: Uuid,
    accounts: Vec<Uuid>,
    clients: Vec<String>,
    org: Uuid,
}

fn client(n: u8, confidential: bool, at: chrono::DateTime<chrono::Utc>) -> OAuthClient {
    OAuthClient {
        id: format!("app-{n}"),
        name: format!("App {n}"),
        confidential,
        redirect_uris: vec![format!("https://app{n}.example.com/cb")],
        post_logout_redirect_uris: vec![],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: vec!["openid".into(), "email".into()],
        first_party: n == 1,
        introspect: false,
        self_registered: !confidential,
        backchannel_logout_uri: confidential.then(|| "https://app1.example.com/bye".into()),
        backchannel_logout_session_required: confidential,
        policy: ClientPolicy {
            require_pushed_authorization_requests: n == 1,
            dpop_bound_access_tokens: confidential,
            keys: (n == 1).then(|| ClientKeys::Jwks(serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}))),
        },
        created_at: at,
        updated_at: at,
    }
}

async fn fill(store: &dyn Store) -> Filled {
    let at = now() - minutes(600);
    store.insert_first_sealing_key(SEALING, at).await.unwrap();
    store.insert_first_signing_key(&SigningKey::generate(at).unwrap()).await.unwrap();
    store.insert_signing_key(&SigningKey::generate(at + minutes(60)).unwrap()).await.unwrap();

    let mut ann = account("Ann.Lee@Example.com", Some("Ann_L"));
    (ann.role, ann.status, ann.email_verified, ann.now) = (Role::Admin, Status::Active, true, at);
    let mut bob = account("bob@example.com", None);
    (bob.locale, bob.name, bob.data, bob.password_hash) = (None, None, Default::default(), "$2b$10$imported".into());
    let mut cem = account("cem@example.com", Some("cem"));
    (cem.status, cem.email_verified) = (Status::Disabled, true);
    let mut new = vec![ann, bob, cem];
    for n in 0..PLAIN_ACCOUNTS {
        let mut plain = account(&format!("user{n}@example.com"), Some(&format!("user{n}")));
        plain.status = Status::Active;
        new.push(plain);
    }
    let mut accounts = store.import_accounts(&new).await.unwrap();
    assert_eq!(accounts.len(), new.len());
    let (ann, bob, cem) = (new[0].id, new[1].id, new[2].id);

    let quiet = Effects::none();
    assert!(store.begin_totp(ann, b"\x01sealed ann", at).await.unwrap());
    assert!(store.confirm_totp(ann, 57_000_123, &[[1; 32], [2; 32], [3; 32]], at, &quiet).await.unwrap());
    assert!(store.spend_recovery_code(ann, &[2; 32], &quiet, at).await.unwrap(), "a spent code stays spent");
    assert!(store.begin_totp(bob, b"\x01sealed bob, never confirmed", at).await.unwrap());
    store.replace_recovery_codes(cem, &[[9; 32]], at, &quiet).await.unwrap();
    let passkey = StoredPasskey {
        id: Uuid::now_v7(),
        account_id: ann,
        credential_id: vec![0, 1, 2, 255],
        passkey: r#"{"cred":{"cred_id":"AAEC_w"}}"#.into(),
        name: "Laptop ü".into(),
        backup_eligible: true,
        backup_state: false,
        created_at: at,
        last_used_at: Some(at + minutes(5)),
    };
    store.insert_passkey(&passkey, &quiet).await.unwrap();
    for (owner, issuer, subject) in
        [(ann, "https://accounts.example.com", "Sub-1"), (cem, "https://idp.example/#tenant#", "sub#2")]
    {
        let identity = Identity {
            id: Uuid::now_v7(),
            account_id: owner,
            provider: "example".into(),
            email: (owner == ann).then(|| "ann@idp.example".into()),
            created_at: at,
            last_login_at: None,
        };
        store.insert_identity(&identity, IdentityKey { issuer, subject }, &quiet).await.unwrap();
    }
    for (n, expires) in [(1u8, None), (2, Some(at + minutes(60 * 24 * 30)))] {
        let key = ApiKey {
            id: Uuid::now_v7(),
            owner: KeyOwner::Account(ann),
            created_by: Some(ann),
            name: format!("ci {n}"),
            prefix: format!("gh_k{n}"),
            scopes: vec!["read".into(), "deploy:prod".into()],
            created_at: at,
            expires_at: expires,
            last_used_at: None,
        };
        let used = key.id;
        assert!(
            store
                .insert_api_key(&NewApiKey { key, hash: TokenHash::of(&format!("key {n}")) }, 5, &quiet)
                .await
                .unwrap()
        );
        if n == 2 {
            store.api_key_used(used, at + minutes(1)).await.unwrap();
        }
    }
    let (confidential, public) = (client(1, true, at), client(2, false, at));
    store.insert_client(&confidential, Some(&TokenHash::of("secret 1")), None, &Effects::none()).await.unwrap();
    store.insert_client(&public, None, Some(&TokenHash::of("registration 2")), &Effects::none()).await.unwrap();
    store.save_consent(ann, &public.id, &["openid".into(), "email".into()], at).await.unwrap();
    let endpoint = Endpoint {
        id: Uuid::now_v7(),
        url: "https://hooks.example.com/in?x=1".into(),
        events: vec![EventType::UserCreated, EventType::UserLogin],
        description: "CRM".into(),
        enabled: true,
        created_at: at,
        updated_at: at,
    };
    store.insert_endpoint(&endpoint, b"\x02sealed webhook secret", &Effects::none()).await.unwrap();
    // An organization: its policy, a custom role, three members, a verified domain that joins
    // accounts with the custom role, an unverified one, and a key of its own.
    let org = NewOrganization {
        id: Uuid::now_v7(),
        name: "Acme".into(),
        slug: Slug::parse("acme").unwrap(),
        data: serde_json::json!({"plan": "team"}).as_object().unwrap().clone(),
        owner: ann,
        now: at,
    };
    store.insert_org(&org, &quiet).await.unwrap();
    let policy = OrgPolicy { mfa_required: true, ..OrgPolicy::default() };
    let change = OrgChange {
        name: "Acme Inc".into(),
        slug: org.slug.clone(),
        data: org.data.clone(),
        policy,
        now: at + minutes(1),
    };
    store.update_org(org.id, &change, &quiet).await.unwrap().unwrap();
    let auditor =
        OrgRole { name: "auditor".into(), permissions: vec!["members:read".into()], created_at: at, updated_at: at };
    assert!(store.insert_org_role(org.id, &auditor, &quiet).await.unwrap());
    assert!(store.add_member(org.id, bob, "member", at + minutes(2), &quiet).await.unwrap());
    assert!(store.add_member(org.id, cem, "auditor", at + minutes(3), &quiet).await.unwrap());
    for domain in ["acme.example", "acme-labs.example"] {
        let claim = OrgDomain {
            org_id: org.id,
            domain: domain.into(),
            challenge: format!("gatehouse-verification={domain}"),
            verified_at: None,
            auto_join_role: None,
            auto_join_by: None,
            created_at: at,
        };
        assert!(store.insert_org_domain(&claim, 10, &quiet).await.unwrap());
    }
    store.verify_org_domain(org.id, "acme.example", at + minutes(4), &quiet).await.unwrap();
    store.set_auto_join(org.id, "acme.example", Some("auditor"), Some(ann), &quiet).await.unwrap();
    // The domain joined the first plain account once, and it left since.
    store.remember_auto_join(org.id, new[3].id, at + minutes(5)).await.unwrap();
    let connection = SsoConnection {
        id: Uuid::now_v7(),
        org_id: org.id,
        name: "Okta".into(),
        default_role: "auditor".into(),
        protocol: Protocol::Saml(SamlSettings {
            idp_entity_id: "https://idp.acme.example/metadata".into(),
            sso_url: "https://idp.acme.example/sso".into(),
            certificates: vec![],
            metadata_url: None,
            allow_idp_initiated: true,
            attribute_mapping: Default::default(),
            legacy_idp: Some("https://old-idp.acme.example/metadata".into()),
        }),
        created_at: at,
        updated_at: at,
    };
    assert!(store.insert_sso_connection(&connection, 10, &quiet).await.unwrap());
    let key = ApiKey {
        id: Uuid::now_v7(),
        owner: KeyOwner::Org(org.id),
        created_by: Some(ann),
        name: "deploy".into(),
        prefix: "gh_org".into(),
        scopes: vec!["deploy".into()],
        created_at: at,
        expires_at: None,
        last_used_at: None,
    };
    assert!(store.insert_api_key(&NewApiKey { key, hash: TokenHash::of("org key") }, 5, &quiet).await.unwrap());
    accounts.push(directory::fill(store, org.id, bob, cem, at).await);

    let events: Vec<AuditEvent> = (0..5)
        .map(|n| AuditEvent::new("login.succeeded").account(ann).detail(serde_json::json!({"n": n})))
        .chain([AuditEvent::new("rate_limited")])
        .collect();
    store.insert_events(&events).await.unwrap();
    Filled { ann, bob, cem, accounts, clients: vec![confidential.id, public.id], org: org.id }
}

fn all_events() -> EventFilter {
    EventFilter { limit: 1_000, ..EventFilter::default() }
}

/// Asserts that `to` holds what `from` holds, as each reads it.
async fn assert_same(from: &dyn Store, to: &dyn Store, filled: &Filled) {
    let api_keys = |keys: Vec<NewApiKey>| keys.into_iter().map(|k| (k.key, *k.hash.as_bytes())).collect::<Vec<_>>();
    assert_eq!(from.sealing_key().await.unwrap(), to.sealing_key().await.unwrap());
    let keys = |keys: Vec<SigningKey>| {
        keys.into_iter().map(|k| (k.kid, k.algorithm, k.private_pkcs8, k.public_key, k.created_at)).collect::<Vec<_>>()
    };
    let signing = keys(from.signing_keys().await.unwrap());
    assert_eq!(signing.len(), 2);
    assert_eq!(signing, keys(to.signing_keys().await.unwrap()), "the same keys, oldest first");

    for &id in &filled.accounts {
        let was = from.find_account(&AccountKey::Id(id)).await.unwrap().unwrap();
        let is = to.find_account(&AccountKey::Id(id)).await.unwrap().unwrap();
        assert_eq!(is.password_hash, was.password_hash);
        let mut expected = was.account.clone();
        expected.updated_at = expected.created_at;
        assert_eq!(is.account, expected);
        let by_email = to.find_account(&AccountKey::Email(was.account.email.to_lowercase())).await.unwrap();
        assert_eq!(by_email.map(|c| c.account.id), Some(id), "found by its address");
        if let Some(username) = &was.account.username {
            let by_name = to.find_account(&AccountKey::Username(username.to_lowercase())).await.unwrap();
            assert_eq!(by_name.map(|c| c.account.id), Some(id), "found by its username");
        }
        assert_eq!(to.totp(id).await.unwrap(), from.totp(id).await.unwrap());
        let codes = |mut codes: Vec<[u8; 32]>| {
            codes.sort();
            codes
        };
        assert_eq!(codes(to.recovery_codes(id).await.unwrap()), codes(from.recovery_codes(id).await.unwrap()));
        assert_eq!(to.passkeys(id).await.unwrap(), from.passkeys(id).await.unwrap());
        assert_eq!(to.keyed_identities(id).await.unwrap(), from.keyed_identities(id).await.unwrap());
        assert_eq!(
            api_keys(to.api_keys_with_hashes(KeyOwner::Account(id)).await.unwrap()),
            api_keys(from.api_keys_with_hashes(KeyOwner::Account(id)).await.unwrap())
        );
    }
    assert_eq!(to.factors(filled.ann).await.unwrap(), from.factors(filled.ann).await.unwrap());
    assert!(to.factors(filled.ann).await.unwrap().any(), "ann's second factors count");
    assert!(!to.totp(filled.bob).await.unwrap().unwrap().confirmed, "bob's app is still unconfirmed");
    assert_eq!(to.recovery_codes(filled.cem).await.unwrap(), vec![[9; 32]]);
    assert_eq!(to.recovery_codes(filled.ann).await.unwrap().len(), 2, "the spent code stayed spent");
    let last = to.totp(filled.ann).await.unwrap().unwrap().last_step.unwrap();
    assert!(!to.accept_totp_step(filled.ann, last).await.unwrap(), "the last step used stays used");
    assert!(to.accept_totp_step(filled.ann, last + 1).await.unwrap(), "and the next is taken");

    let found = to.api_key_by_hash(&TokenHash::of("key 1")).await.unwrap().expect("a key opens by its secret");
    assert_eq!((found.key.owner, found.owner_active), (KeyOwner::Account(filled.ann), true));
    let key = IdentityKey { issuer: "https://idp.example/#tenant#", subject: "sub#2" };
    assert_eq!(to.identity(key).await.unwrap().map(|i| i.account_id), Some(filled.cem));
    let passkey = to.passkey_by_credential(&[0, 1, 2, 255]).await.unwrap();
    assert_eq!(passkey.map(|p| p.account_id), Some(filled.ann));

    let mut clients = (from.list_clients().await.unwrap(), to.list_clients().await.unwrap());
    clients.0.sort_by(|a, b| a.id.cmp(&b.id));
    clients.1.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(clients.0.len(), 2);
    assert_eq!(clients.0, clients.1);
    for id in &filled.clients {
        let hash = |hash: Option<TokenHash>| hash.map(|h| *h.as_bytes());
        assert_eq!(hash(to.client_secret(id).await.unwrap()), hash(from.client_secret(id).await.unwrap()));
        assert_eq!(hash(to.registration_hash(id).await.unwrap()), hash(from.registration_hash(id).await.unwrap()));
        assert_eq!(to.consent(filled.ann, id).await.unwrap(), from.consent(filled.ann, id).await.unwrap());
    }
    assert!(to.consent(filled.ann, &filled.clients[1]).await.unwrap().is_some(), "ann's consent came along");
    let endpoints = from.endpoints().await.unwrap();
    assert_eq!(endpoints.len(), 1);
    assert_eq!(to.endpoints().await.unwrap(), endpoints);
    assert_eq!(
        to.endpoint_with_secret(endpoints[0].id).await.unwrap(),
        from.endpoint_with_secret(endpoints[0].id).await.unwrap(),
        "with its sealed secret"
    );

    let org = from.find_org(OrgKey::Id(filled.org)).await.unwrap().unwrap();
    assert!(org.policy.mfa_required);
    assert_eq!(to.find_org(OrgKey::Slug("acme")).await.unwrap(), Some(org.clone()));
    assert_eq!(to.list_members(org.id, None, 10).await.unwrap(), from.list_members(org.id, None, 10).await.unwrap());
    assert_eq!(to.count_members(org.id).await.unwrap(), 4);
    assert_eq!(to.org_roles(org.id).await.unwrap(), from.org_roles(org.id).await.unwrap());
    assert_eq!(to.org_domains(org.id).await.unwrap(), from.org_domains(org.id).await.unwrap());
    let verified = to.verified_domain("acme.example").await.unwrap().expect("the verified domain is found");
    assert_eq!((verified.org_id, verified.auto_join_role.as_deref()), (org.id, Some("auditor")));
    assert!(to.verified_domain("acme-labs.example").await.unwrap().is_none(), "the unverified one stays so");
    let joined = from.auto_joined(org.id).await.unwrap();
    assert_eq!(joined.len(), 1);
    assert_eq!(to.auto_joined(org.id).await.unwrap(), joined);
    let other = to.find_account(&AccountKey::Email("user1@example.com".into())).await.unwrap().unwrap();
    let (left, other) = (joined[0].0, other.account.id);
    assert!(to.auto_join_offer("acme.example", left).await.unwrap().is_none(), "who left is not joined again");
    assert!(to.auto_join_offer("acme.example", other).await.unwrap().is_some(), "the others are");
    let membership = to.membership(org.id, filled.cem).await.unwrap().expect("cem is a member");
    assert_eq!(
        (membership.role.as_str(), membership.permissions.clone()),
        ("auditor", vec!["members:read".to_owned()])
    );
    let connections = from.sso_connections(org.id).await.unwrap();
    assert_eq!(connections.len(), 1);
    assert_eq!(to.sso_connections(org.id).await.unwrap(), connections);
    assert_eq!(to.sso_connection(connections[0].id).await.unwrap().as_ref(), Some(&connections[0]));
    assert!(to.any_sso_connection().await.unwrap());
    let org_keys = api_keys(to.api_keys_with_hashes(KeyOwner::Org(org.id)).await.unwrap());
    assert_eq!(org_keys, api_keys(from.api_keys_with_hashes(KeyOwner::Org(org.id)).await.unwrap()));
    assert_eq!(org_keys.len(), 1);
    let found = to.api_key_by_hash(&TokenHash::of("org key")).await.unwrap().expect("the organization's key opens");
    assert_eq!(found.key.owner, KeyOwner::Org(org.id));
    directory::assert_same(from, to, org.id, filled.bob).await;

    let ids = |events: Vec<AuditEvent>| {
        events.into_iter().map(|e| (e.id, e.kind, e.account_id, e.detail)).collect::<Vec<_>>()
    };
    assert_eq!(ids(to.list_events(&all_events()).await.unwrap()), ids(from.list_events(&all_events()).await.unwrap()));
}

fn expected_counts(filled: &Filled) -> Copied {
    Copied {
        signing_keys: 2,
        sealing_key: true,
        accounts: filled.accounts.len() as u64,
        authenticators: 2,
        recovery_code_sets: 2,
        passkeys: 1,
        identities: 2,
        api_keys: 3,
        consents: 1,
        clients: 2,
        webhook_endpoints: 1,
        organizations: 1,
        memberships: 4,
        org_roles: 1,
        org_domains: 2,
        sso_connections: 1,
        scim_users: 3,
        scim_groups: 2,
        scim_tokens: 1,
        audit_events: 6,
    }
}

fn quietly(_: &Copied) {}

pub async fn everything_that_lasts_arrives_whole_and_comes_back_whole(h: Harness) {
    let source = crate::harness(Kind::Sqlite).await.unwrap();
    let filled = fill(&*source.store).await;
    let copied = copy(source.store.clone(), h.store.clone(), now(), &quietly).await.unwrap();
    assert_eq!(copied, expected_counts(&filled));
    assert_same(&*source.store, &*h.store, &filled).await;

    // And out of the backend again, into a fresh SQLite: its reads give back all it was given.
    let back = crate::harness(Kind::Sqlite).await.unwrap();
    let copied = copy(h.store.clone(), back.store.clone(), now(), &quietly).await.unwrap();
    assert_eq!(copied, expected_counts(&filled));
    assert_same(&*h.store, &*back.store, &filled).await;
    directory::scim_enables_what_it_disabled(&*back.store, filled.org).await;
}

/// The copy's refusal, with its reasons.
async fn refusal(from: &Harness, to: &Harness) -> Vec<String> {
    let error = copy(from.store.clone(), to.store.clone(), now(), &quietly).await.unwrap_err();
    error.downcast::<Refused>().expect("a refusal, not a failure").0
}

async fn untouched(store: &Arc<dyn Store>) {
    assert!(store.signing_keys().await.unwrap().is_empty() && store.sealing_key().await.unwrap().is_none());
    let one = gatehouse::model::admin::AccountQuery { limit: 1, ..Default::default() };
    assert!(store.list_accounts(&one).await.unwrap().is_empty());
}

pub async fn a_copy_that_would_lose_or_overwrite_something_does_not_start(h: Harness) {
    // A source with an email waiting, a live registration token and an invitation: each named,
    // nothing written.
    let source = crate::harness(Kind::Sqlite).await.unwrap();
    let waiting = account("dan@example.com", None);
    let effects = Effects::none().email(email("dan@example.com", now()));
    source.store.insert_account(&waiting, None, &effects).await.unwrap();
    let org = NewOrganization {
        id: Uuid::now_v7(),
        name: "Acme".into(),
        slug: Slug::parse("acme").unwrap(),
        data: Default::default(),
        owner: waiting.id,
        now: now(),
    };
    source.store.insert_org(&org, &Effects::none()).await.unwrap();
    let invitation = NewInvitation {
        id: Uuid::now_v7(),
        org_id: org.id,
        email: "eve@example.com".into(),
        role: "member".into(),
        hash: TokenHash::of("invitation"),
        invited_by: Some(waiting.id),
        created_at: now(),
        expires_at: now() + minutes(60),
    };
    source.store.insert_invitation(&invitation, &Effects::none()).await.unwrap();
    let token = InitialToken {
        id: Uuid::now_v7(),
        name: "ci".into(),
        created_by: None,
        uses_left: 3,
        created_at: now(),
        expires_at: now() + minutes(60),
    };
    source.store.insert_initial_token(&token, &TokenHash::of("initial"), &Effects::none()).await.unwrap();
    let reasons = refusal(&source, &h).await;
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].starts_with("1 emails wait to be sent"), "{reasons:?}");
    assert!(reasons[1].starts_with("the source has 1 live client registration tokens"), "{reasons:?}");
    assert!(reasons[2].starts_with("the source has 1 live organization invitations"), "{reasons:?}");
    untouched(&h.store).await;

    // A target in use: refused, and the source's own copy into it never begins.
    let clean = crate::harness(Kind::Sqlite).await.unwrap();
    fill(&*clean.store).await;
    h.store.insert_first_signing_key(&SigningKey::generate(now()).unwrap()).await.unwrap();
    let reasons = refusal(&clean, &h).await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].starts_with("the target already holds keys"), "{reasons:?}");
    let one = gatehouse::model::admin::AccountQuery { limit: 1, ..Default::default() };
    assert!(h.store.list_accounts(&one).await.unwrap().is_empty(), "no account was written");
}
