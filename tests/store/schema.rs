//! The migrations after 0.1.0, which only add, as each database server applies them: recorded
//! once however many replicas start at once, a newer release's versions run on, a changed one
//! stops the start, and on MySQL (whose DDL commits by itself) a start interrupted between a
//! statement and its record finishes the work at the next.

use std::sync::Arc;

use gatehouse::secret_url::SecretUrl;

use crate::database::TestDatabase;
use crate::{Harness, options};

/// The versions recorded, in order.
async fn recorded(db: &TestDatabase) -> Vec<i64> {
    let mut conn = db.connect().await;
    sqlx::query_scalar("SELECT version FROM gatehouse_migrations ORDER BY version").fetch_all(&mut conn).await.unwrap()
}

async fn start(db: &TestDatabase) -> anyhow::Result<()> {
    gatehouse::store::connect(&SecretUrl::new(&db.url), &options()).await.map(drop)
}

/// The schema as 0.1.0 left it: the additive migrations' work and records undone.
async fn as_0_1_0(db: &TestDatabase) {
    db.execute("DELETE FROM gatehouse_migrations").await;
    db.execute("ALTER TABLE oauth_clients DROP COLUMN policy").await;
    db.execute("ALTER TABLE oauth_codes DROP COLUMN dpop_jkt").await;
}

pub async fn replicas_starting_at_once_apply_each_version_once(h: Harness) {
    assert_eq!(recorded(&h.db).await, [26], "the first start applied 0026");
    as_0_1_0(&h.db).await;
    let db = Arc::clone(&h.db);
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let db = Arc::clone(&db);
            tokio::spawn(async move { start(&db).await })
        })
        .collect();
    for started in starts {
        started.await.unwrap().expect("every replica starts");
    }
    assert_eq!(recorded(&h.db).await, [26], "one record");
    // Both columns are back (a statement naming a missing column fails).
    assert_eq!(h.db.count("SELECT COUNT(policy) FROM oauth_clients").await, 0);
    assert_eq!(h.db.count("SELECT COUNT(dpop_jkt) FROM oauth_codes").await, 0);
}

pub async fn a_newer_release_s_versions_are_run_on_and_a_changed_one_stops_the_start(h: Harness) {
    h.db.execute(
        "INSERT INTO gatehouse_migrations (version, name, checksum, applied_at) \
         VALUES (9999, 'from_a_newer_release', 'ab', '2027-01-01T00:00:00Z')",
    )
    .await;
    start(&h.db).await.expect("a version this binary does not know is a newer release's: it runs on");
    assert_eq!(recorded(&h.db).await, [26, 9999]);
    h.db.execute("UPDATE gatehouse_migrations SET checksum = 'cd' WHERE version = 26").await;
    let refused = start(&h.db).await.expect_err("another text of a version it knows");
    let why = format!("{refused:#}");
    assert!(why.contains("0026_client_policy.sql") && why.contains("cd"), "{why}");
}

/// MySQL commits each DDL statement by itself: a start killed after the column was added and
/// before its record leaves the column, and the next start records it without failing.
pub async fn an_interrupted_start_is_finished_by_the_next(h: Harness) {
    h.db.execute("DELETE FROM gatehouse_migrations").await;
    start(&h.db).await.expect("the next start passes over the work done");
    assert_eq!(recorded(&h.db).await, [26]);
}

macro_rules! on_servers {
    ($($kind:ident: $($name:ident),*;)*) => {
        $(
            #[allow(non_snake_case)]
            mod $kind {
                $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                   async fn $name() {
                       if let Some(h) = crate::harness(crate::Kind::$kind).await { super::$name(h).await }
                   } )*
            }
        )*
    };
}

on_servers! {
    Sqlite: replicas_starting_at_once_apply_each_version_once,
        a_newer_release_s_versions_are_run_on_and_a_changed_one_stops_the_start;
    Postgres: replicas_starting_at_once_apply_each_version_once,
        a_newer_release_s_versions_are_run_on_and_a_changed_one_stops_the_start;
    Mysql: replicas_starting_at_once_apply_each_version_once,
        a_newer_release_s_versions_are_run_on_and_a_changed_one_stops_the_start,
        an_interrupted_start_is_finished_by_the_next;
}
