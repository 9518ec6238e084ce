//! The DynamoDB side of [`super`]: the tables scanned (strongly consistent) and their items
//! judged or updated as the store keeps them (`src/store/dynamo/mod.rs` gives the layout).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use gatehouse::secret_url::SecretUrl;
use gatehouse::store::dynamo::DynamoStore;

use super::{Change, Jobs, Stored};

type Item = HashMap<String, AttributeValue>;

/// A time long past, as the store writes times.
const LONG_AGO: &str = "2000-01-01T00:00:00.000000Z";

async fn open(url: &str) -> DynamoStore {
    DynamoStore::connect(&SecretUrl::new(url), std::time::Duration::from_secs(30)).await.unwrap()
}

async fn scan(store: &DynamoStore, table: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut from = None;
    loop {
        let page =
            store.client().scan().table_name(table).consistent_read(true).set_exclusive_start_key(from).send().await;
        let page = page.unwrap_or_else(|e| panic!("scanning {table}: {e:?}"));
        items.extend(page.items.unwrap_or_default());
        from = page.last_evaluated_key;
        if from.is_none() {
            return items;
        }
    }
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn keyed(item: &Item, pk_start: &str, sk: impl Fn(&str) -> bool) -> bool {
    text(item, "pk").is_some_and(|pk| pk.starts_with(pk_start)) && text(item, "sk").is_some_and(sk)
}

fn account(item: &Item) -> bool {
    keyed(item, "A#", |sk| sk == "A")
}

fn is(item: &Item, name: &str, value: Option<&str>) -> bool {
    value.is_none_or(|value| text(item, name) == Some(value))
}

fn holds(item: &Item, name: &str, part: Option<&str>) -> bool {
    part.is_none_or(|part| text(item, name).is_some_and(|t| t.contains(part)))
}

fn job(item: &Item, jobs: &Jobs<'_>) -> bool {
    text(item, "sk") == Some("J")
        && is(item, "kind", Some(jobs.kind))
        && is(item, "target", jobs.target)
        && is(item, "topic", jobs.topic)
        && (jobs.statuses.is_empty() || text(item, "status").is_some_and(|s| jobs.statuses.contains(&s)))
        && holds(item, "payload", jobs.payload_has)
        && holds(item, "last_error", jobs.error_has)
        && (!jobs.tried || item.get("attempts").and_then(|n| n.as_n().ok()).is_some_and(|n| n != "0"))
}

fn in_the_clear(item: &Item, text: &str) -> bool {
    item.values().any(|value| match value {
        AttributeValue::S(s) => s.contains(text),
        AttributeValue::Ss(set) => set.iter().any(|s| s.contains(text)),
        _ => false,
    })
}

fn counted(item: &Item, what: &Stored<'_>) -> bool {
    match *what {
        Stored::Accounts => account(item),
        Stored::Admins => account(item) && is(item, "role", Some("admin")),
        Stored::AccountsWithEmail(email) => account(item) && is(item, "email_norm", Some(&email.to_lowercase())),
        Stored::HashesStartingWith(start) => account(item) && text(item, "hash").is_some_and(|h| h.starts_with(start)),
        Stored::Identities => keyed(item, "A#", |sk| sk.starts_with("ID#")),
        Stored::Jobs(ref jobs) => job(item, jobs),
        Stored::AuditEvents(kinds) => text(item, "kind").is_some_and(|kind| kinds.contains(&kind)),
        Stored::AuditEventsStartingWith(start) => text(item, "kind").is_some_and(|kind| kind.starts_with(start)),
        Stored::UnspentLinks(purpose) => {
            keyed(item, "T#", |sk| sk == "T") && is(item, "purpose", Some(purpose)) && !item.contains_key("used")
        }
        Stored::OpenEmailLogins => keyed(item, "EL#", |sk| sk == "EL") && !item.contains_key("used"),
        Stored::SocialLoginsUnderWay => keyed(item, "OL#s#", |sk| sk == "OL"),
        Stored::SsoConnections(kind) => keyed(item, "O#", |sk| sk.starts_with("SSO#")) && is(item, "kind", kind),
        Stored::VerifiedDomains(domain) => {
            keyed(item, "O#", |sk| sk == format!("D#{domain}")) && item.contains_key("verified")
        }
        Stored::ApiKeysWithPrefix(prefix) => {
            keyed(item, "", |sk| sk.starts_with("AK#")) && is(item, "prefix", Some(prefix))
        }
        Stored::InTheClear { text, .. } => in_the_clear(item, text),
    }
}

pub(super) async fn count(url: &str, what: Stored<'_>) -> i64 {
    let store = open(url).await;
    let tables = store.tables();
    let scanned: Vec<&String> = match what {
        Stored::Jobs(_) => vec![&tables.jobs],
        Stored::AuditEvents(_) | Stored::AuditEventsStartingWith(_) => vec![&tables.audit],
        Stored::InTheClear { .. } => vec![&tables.main, &tables.jobs, &tables.audit],
        _ => vec![&tables.main],
    };
    let mut count = 0;
    for table in scanned {
        count += scan(&store, table).await.iter().filter(|item| counted(item, &what)).count();
    }
    count as i64
}

/// One update of the item `key`: `SET` each attribute given.
async fn set(store: &DynamoStore, table: &str, item: &Item, values: Vec<(&str, AttributeValue)>) {
    let key = ["pk", "sk"].map(|name| (name.to_owned(), item[name].clone()));
    let mut update = store.client().update_item().table_name(table).set_key(Some(HashMap::from(key)));
    let mut assignments = Vec::new();
    for (i, (name, value)) in values.into_iter().enumerate() {
        assignments.push(format!("#n{i} = :v{i}"));
        update = update
            .expression_attribute_names(format!("#n{i}"), name)
            .expression_attribute_values(format!(":v{i}"), value);
    }
    update.update_expression(format!("SET {}", assignments.join(", "))).send().await.unwrap();
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// The account's JSON document changed by `edit`, as its `doc` attribute.
fn edited_doc(item: &Item, edit: impl FnOnce(&mut serde_json::Value)) -> AttributeValue {
    let mut doc: serde_json::Value = serde_json::from_str(text(item, "doc").unwrap()).unwrap();
    edit(&mut doc);
    s(doc.to_string())
}

pub(super) async fn change(url: &str, change: Change<'_>) {
    let store = open(url).await;
    let tables = store.tables().clone();
    let (table, scanned) = match change {
        Change::DeliveriesDue | Change::FailEmail { .. } => (&tables.jobs, scan(&store, &tables.jobs).await),
        _ => (&tables.main, scan(&store, &tables.main).await),
    };
    for item in &scanned {
        let values = match change {
            Change::ExpireLinks if keyed(item, "T#", |sk| sk == "T") => vec![("expires", s(LONG_AGO))],
            Change::ExpireCodes if keyed(item, "AC#", |sk| sk == "AC") => vec![("expires", s(LONG_AGO))],
            Change::DeliveriesDue if job(item, &Jobs { statuses: &["queued"], ..Jobs::of("webhook") }) => {
                let id = text(item, "pk").unwrap().trim_start_matches("J#");
                vec![("next_at", s(LONG_AGO)), ("due_sk", s(format!("{LONG_AGO}#{id}")))]
            }
            Change::EmailVerified { email, verified }
                if account(item) && is(item, "email_norm", Some(&email.to_lowercase())) =>
            {
                vec![("doc", edited_doc(item, |doc| doc["email_verified"] = verified.into()))]
            }
            Change::SuspendMemberships { account_id } if keyed(item, "O#", |sk| sk == format!("M#{account_id}")) => {
                vec![("suspended", item["joined"].clone())]
            }
            Change::MoveAddress { account_id, email }
                if text(item, "pk") == Some(&format!("A#{account_id}")) && account(item) =>
            {
                // The address's marker moves too: the account is found by it.
                let old = text(item, "email_norm").unwrap();
                let marker = |address: &str| {
                    HashMap::from([("pk".to_owned(), s(format!("E#{address}"))), ("sk".to_owned(), s("E"))])
                };
                let client = store.client();
                client.delete_item().table_name(table).set_key(Some(marker(old))).send().await.unwrap();
                let mut moved = marker(&email.to_lowercase());
                moved.insert("account".to_owned(), s(account_id));
                client.put_item().table_name(table).set_item(Some(moved)).send().await.unwrap();
                vec![
                    ("doc", edited_doc(item, |doc| doc["email"] = email.into())),
                    ("email_norm", s(email.to_lowercase())),
                ]
            }
            Change::FailEmail { id, error }
                if text(item, "pk") == Some(&format!("J#{id}")) && text(item, "sk") == Some("J") =>
            {
                vec![
                    ("status", s("failed")),
                    ("attempts", AttributeValue::N("15".into())),
                    ("last_error", s(error)),
                    ("body", s(r#"{"text":"x","html":"x"}"#)),
                ]
            }
            _ => continue,
        };
        set(&store, table, item, values).await;
    }
}
