//! The DynamoDB store's parts built so far, against a DynamoDB engine (see
//! `tests/common/dynamodb.rs`): the tables it creates and checks, accounts with their
//! uniqueness markers and the last-admin guard, and one-time links, with their races.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use gatehouse::model::account::{AccountKey, Role, Status};
use gatehouse::model::outcome::Effects;
use gatehouse::secret_url::SecretUrl;
use gatehouse::store::dynamo::DynamoStore;
use gatehouse::store::{AccountStore, ProfileChange, StoreError, TokenPurpose, TokenStore};
use uuid::Uuid;

use crate::dynamodb_engine as engine;
use crate::scenarios::{account, email, link, minutes, now};

/// A store on fresh tables, created; `None` (and a note) without an engine.
pub(crate) async fn store() -> Option<Arc<DynamoStore>> {
    let Some(endpoint) = engine::endpoint() else {
        crate::skip("dynamodb", "GATEHOUSE_MOTO_PYTHON or GATEHOUSE_TEST_DYNAMODB_URL");
        return None;
    };
    engine::require_credentials();
    let url = SecretUrl::new(&engine::database_url(&endpoint));
    let store = DynamoStore::connect(&url, Duration::from_secs(10)).await.expect("the client is made");
    store.create_tables().await.expect("the tables are created");
    Some(Arc::new(store))
}

fn change_of(at: &gatehouse::model::account::Account) -> ProfileChange {
    ProfileChange {
        username: at.username.clone(),
        name: at.name.clone(),
        data: at.data.clone(),
        app_data: at.app_data.clone(),
        role: at.role,
        status: at.status,
        locale: at.locale,
        now: now(),
    }
}

/// How many items the partition `pk` of `table` holds.
async fn items_in(store: &DynamoStore, table: &str, pk: &str) -> usize {
    let query = store
        .client()
        .query()
        .table_name(table)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", "pk")
        .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
        .consistent_read(true);
    query.send().await.unwrap().items().len()
}

#[tokio::test]
async fn the_tables_are_created_once_and_a_foreign_table_is_refused() {
    let Some(store) = store().await else { return };
    assert!(store.check_tables().await.unwrap().is_empty(), "all three exist");
    store.create_tables().await.expect("creating them again changes nothing");

    let endpoint = engine::endpoint().unwrap();
    let url = SecretUrl::new(&engine::database_url(&endpoint));
    let other = DynamoStore::connect(&url, Duration::from_secs(10)).await.unwrap();
    assert_eq!(other.check_tables().await.unwrap().len(), 3, "a fresh prefix has none");
    let key = aws_sdk_dynamodb::types::KeySchemaElement::builder()
        .attribute_name("id")
        .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
        .build()
        .unwrap();
    let attribute = aws_sdk_dynamodb::types::AttributeDefinition::builder()
        .attribute_name("id")
        .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
        .build()
        .unwrap();
    other
        .client()
        .create_table()
        .table_name(&other.tables().main)
        .key_schema(key)
        .attribute_definitions(attribute)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let refused = other.create_tables().await.unwrap_err();
    assert!(format!("{refused:#}").contains("other keys"), "{refused:#}");
}

#[tokio::test]
async fn accounts_round_trip_and_their_email_is_queued_in_the_same_write() {
    let Some(store) = store().await else { return };
    let new = account("Ann.Lee@Example.com", Some("AnnLee"));
    let (token, record) = link(new.id, TokenPurpose::Activation, now() + minutes(60));
    let told = Effects::none().email(email("Ann.Lee@Example.com", now()));

    let created = store.insert_account(&new, Some(&record), &told).await.unwrap();

    assert_eq!(created.id, new.id);
    for key in
        [AccountKey::Id(new.id), AccountKey::Email("ann.lee@EXAMPLE.com".into()), AccountKey::Username("annlee".into())]
    {
        let found = store.find_account(&key).await.unwrap().unwrap_or_else(|| panic!("not found by {key:?}"));
        assert_eq!(found.account, created);
        assert_eq!(found.password_hash, new.password_hash);
        assert_eq!(found.account.created_at, new.now, "timestamps come back as the same instant");
    }
    assert!(store.find_account(&AccountKey::Email("nobody@example.com".into())).await.unwrap().is_none());
    assert_eq!(store.find_token(&token.hash).await.unwrap().unwrap().account_id, new.id);
    let lane = "L#email#email ann.lee@example.com";
    assert_eq!(items_in(&store, &store.tables().jobs, lane).await, 1, "the email waits in its lane");
    let job = format!("J#{}", told.emails[0].id);
    assert_eq!(items_in(&store, &store.tables().jobs, &job).await, 1, "written with the account");
}

#[tokio::test]
async fn emails_and_usernames_are_unique_whatever_their_case_and_a_race_has_one_winner() {
    let Some(store) = store().await else { return };
    store.insert_account(&account("ben@example.com", Some("Ben")), None, &Effects::none()).await.unwrap();

    let same_email = store.insert_account(&account("BEN@example.COM", None), None, &Effects::none()).await;
    let same_username = store.insert_account(&account("other@example.com", Some("bEN")), None, &Effects::none()).await;
    assert!(matches!(same_email, Err(StoreError::EmailTaken)), "{same_email:?}");
    assert!(matches!(same_username, Err(StoreError::UsernameTaken)), "{same_username:?}");

    let racers: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            let address = if n % 2 == 0 { "race@example.com" } else { "RACE@example.com" };
            tokio::spawn(async move { store.insert_account(&account(address, None), None, &Effects::none()).await })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::EmailTaken | StoreError::Conflict) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 1, "one sign-up of an address wins");
}

#[tokio::test]
async fn a_username_once_given_never_goes_to_another_account() {
    let Some(store) = store().await else { return };
    let ann = store.insert_account(&account("ann@example.com", Some("Fay")), None, &Effects::none()).await.unwrap();
    let renamed = ProfileChange { username: Some("fae".into()), ..change_of(&ann) };
    let renamed = store.update_profile(ann.id, &renamed, &Effects::none()).await.unwrap().unwrap();
    assert_eq!(renamed.username.as_deref(), Some("fae"));
    assert!(store.find_account(&AccountKey::Username("fay".into())).await.unwrap().is_none(), "not its name now");

    let taken = store.insert_account(&account("eve@example.com", Some("FAY")), None, &Effects::none()).await;
    assert!(matches!(taken, Err(StoreError::UsernameTaken)), "{taken:?}");
    let back = ProfileChange { username: Some("fay".into()), ..change_of(&renamed) };
    let back = store.update_profile(ann.id, &back, &Effects::none()).await.unwrap().unwrap();
    assert_eq!(back.username.as_deref(), Some("fay"), "its holder takes it back");

    assert!(store.delete_account(ann.id, &Effects::none()).await.unwrap());
    assert!(!store.delete_account(ann.id, &Effects::none()).await.unwrap(), "a second delete finds nothing");
    let eve = store.insert_account(&account("ann@example.com", Some("Fae")), None, &Effects::none()).await;
    assert!(matches!(eve, Err(StoreError::UsernameTaken)), "a deleted account's names stay its own: {eve:?}");
    let eve = store.insert_account(&account("ann@example.com", None), None, &Effects::none()).await;
    assert!(eve.is_ok(), "its address is free again: {eve:?}");
}

#[tokio::test]
async fn updates_replace_the_editable_fields_and_set_the_password() {
    let Some(store) = store().await else { return };
    let fay = store.insert_account(&account("fay@example.com", None), None, &Effects::none()).await.unwrap();
    let later = now() + minutes(1);
    let change = ProfileChange {
        username: Some("fay".into()),
        name: None,
        data: serde_json::json!({"lang": "de"}).as_object().unwrap().clone(),
        app_data: serde_json::json!({"plan": "pro"}).as_object().unwrap().clone(),
        role: Role::Admin,
        status: Status::Disabled,
        locale: None,
        now: later,
    };
    let updated = store.update_profile(fay.id, &change, &Effects::none()).await.unwrap().unwrap();
    let found = store.find_account(&AccountKey::Id(fay.id)).await.unwrap().unwrap();
    assert_eq!(found.account, updated);
    assert_eq!((updated.role, updated.status, updated.updated_at), (Role::Admin, Status::Disabled, later));
    assert!(store.update_profile(Uuid::now_v7(), &change, &Effects::none()).await.unwrap().is_none());

    store.set_password_hash(fay.id, "$argon2id$new", later, &Effects::none()).await.unwrap();
    assert_eq!(store.find_account(&AccountKey::Id(fay.id)).await.unwrap().unwrap().password_hash, "$argon2id$new");
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let Some(store) = store().await else { return };
    let mut admins = Vec::new();
    for address in ["root1@example.com", "root2@example.com"] {
        let mut new = account(address, None);
        (new.role, new.status) = (Role::Admin, Status::Active);
        admins.push(store.insert_account(&new, None, &Effects::none()).await.unwrap());
    }
    for _ in 0..3 {
        let demotions: Vec<_> = admins
            .iter()
            .map(|admin| {
                let (store, demoted) = (store.clone(), ProfileChange { role: Role::User, ..change_of(admin) });
                let id = admin.id;
                tokio::spawn(async move { store.update_profile(id, &demoted, &Effects::none()).await })
            })
            .collect();
        let mut results = Vec::new();
        for demotion in demotions {
            results.push(demotion.await.unwrap());
        }
        let refused = results.iter().filter(|r| matches!(r, Err(StoreError::LastAdmin))).count();
        assert_eq!((results.len() - refused, refused), (1, 1), "{results:?}");
        // The demoted one is made an admin again for the next round.
        let demoted = admins.iter().find(|a| results.iter().any(|r| matches!(r, Ok(Some(d)) if d.id == a.id))).unwrap();
        let promoted = ProfileChange { role: Role::Admin, ..change_of(demoted) };
        store.update_profile(demoted.id, &promoted, &Effects::none()).await.unwrap().unwrap();
    }
    let last = admins[0].id;
    let second = admins[1].id;
    assert!(store.delete_account(second, &Effects::none()).await.unwrap());
    let refused = store.delete_account(last, &Effects::none()).await;
    assert!(matches!(refused, Err(StoreError::LastAdmin)), "{refused:?}");
    let disabled = ProfileChange { status: Status::Disabled, ..change_of(&admins[0]) };
    let refused = store.update_profile(last, &disabled, &Effects::none()).await;
    assert!(matches!(refused, Err(StoreError::LastAdmin)), "{refused:?}");
}

#[tokio::test]
async fn a_link_is_redeemed_once_and_not_after_it_expires() {
    let Some(store) = store().await else { return };
    let id = store.insert_account(&account("hal@example.com", None), None, &Effects::none()).await.unwrap().id;
    let (token, record) = link(id, TokenPurpose::Activation, now() + minutes(60));
    store.insert_link(&record, &Effects::none().email(email("hal@example.com", now()))).await.unwrap();

    let stored = store.find_token(&token.hash).await.unwrap().unwrap();
    assert_eq!((stored.account_id, stored.purpose, stored.used_at), (id, TokenPurpose::Activation, None));
    assert!(store.redeem_activation(&token.hash, now(), &Effects::none()).await.unwrap());
    assert!(!store.redeem_activation(&token.hash, now(), &Effects::none()).await.unwrap(), "single use");
    let a = store.find_account(&AccountKey::Id(id)).await.unwrap().unwrap().account;
    assert_eq!((a.status, a.email_verified), (Status::Active, true));
    assert!(store.find_token(&token.hash).await.unwrap().unwrap().used_at.is_some());

    let (old, record) = link(id, TokenPurpose::PasswordReset, now() - minutes(1));
    store.insert_link(&record, &Effects::none()).await.unwrap();
    assert!(!store.redeem_reset(&old.hash, "$argon2id$x", now(), &Effects::none()).await.unwrap(), "expired");
    assert!(!store.redeem_activation(&old.hash, now(), &Effects::none()).await.unwrap(), "wrong purpose");
}

#[tokio::test]
async fn concurrent_redemptions_of_one_reset_link_succeed_once_and_spend_the_others() {
    let Some(store) = store().await else { return };
    let id = store.insert_account(&account("ivy@example.com", None), None, &Effects::none()).await.unwrap().id;
    let (token, record) = link(id, TokenPurpose::PasswordReset, now() + minutes(60));
    let (other, other_record) = link(id, TokenPurpose::PasswordReset, now() + minutes(60));
    store.insert_link(&record, &Effects::none()).await.unwrap();
    store.insert_link(&other_record, &Effects::none()).await.unwrap();

    let attempts: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            let hash = token.hash;
            tokio::spawn(async move {
                store.redeem_reset(&hash, &format!("$argon2id${n}"), now(), &Effects::none()).await.unwrap()
            })
        })
        .collect();
    let mut won = Vec::new();
    for (n, attempt) in attempts.into_iter().enumerate() {
        if attempt.await.unwrap() {
            won.push(n);
        }
    }
    assert_eq!(won.len(), 1, "one redemption wins: {won:?}");
    let found = store.find_account(&AccountKey::Id(id)).await.unwrap().unwrap();
    assert_eq!(found.password_hash, format!("$argon2id${}", won[0]), "the winner's password is set");
    assert_eq!((found.account.status, found.account.email_verified), (Status::Active, true));
    assert!(store.find_token(&other.hash).await.unwrap().unwrap().used_at.is_some(), "the other link is spent");
    assert!(!store.redeem_reset(&other.hash, "$argon2id$late", now(), &Effects::none()).await.unwrap());
}

#[tokio::test]
async fn replicas_racing_on_empty_tables_agree_on_one_signing_key_and_rotation_adds_the_next() {
    use gatehouse::store::KeyStore;
    use gatehouse::tokens::jwt::SigningKey;
    let Some(store) = store().await else { return };
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store.insert_first_signing_key(&SigningKey::generate(chrono::Utc::now()).unwrap()).await.unwrap();
                store.signing_keys().await.unwrap().into_iter().map(|k| k.kid).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = Vec::new();
    for racer in racers {
        seen.push(racer.await.unwrap());
    }
    assert!(seen.iter().all(|kids| kids.len() == 1), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");

    let next = SigningKey::generate(chrono::Utc::now()).unwrap();
    store.insert_signing_key(&next).await.unwrap();
    let kids: Vec<String> = store.signing_keys().await.unwrap().into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, vec![seen[0][0].clone(), next.kid.clone()], "oldest first");
    assert_eq!(store.delete_signing_keys_before(chrono::Utc::now() + minutes(1)).await.unwrap(), 1);
    let kept = store.signing_keys().await.unwrap();
    assert_eq!(kept.len(), 1, "the newest key stays, however old");
    assert_eq!((kept[0].kid.as_str(), kept[0].public_key.as_slice()), (next.kid.as_str(), next.public_key.as_slice()));

    assert_eq!(store.sealing_key().await.unwrap(), None);
    store.insert_first_sealing_key(&[7; 32], now()).await.unwrap();
    store.insert_first_sealing_key(&[9; 32], now()).await.unwrap();
    assert_eq!(store.sealing_key().await.unwrap(), Some(vec![7; 32]), "the first one stays");
}
