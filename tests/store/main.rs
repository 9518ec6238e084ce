//! The store conformance suite: every behaviour the account rules rely on, written once and
//! run against SQLite always, against PostgreSQL and MariaDB/MySQL when
//! `GATEHOUSE_TEST_POSTGRES_URL` / `GATEHOUSE_TEST_MYSQL_URL` are set, and (for sessions)
//! against Redis when `GATEHOUSE_TEST_REDIS_URL` is set. Each test gets a database of its own,
//! dropped afterwards. A backend without its URL is skipped, and says so on stderr.

mod admin;
mod audit;
mod copying;
#[path = "../common/database.rs"]
mod database;
mod domains;
#[cfg(feature = "dynamodb")]
mod dynamo;
#[cfg(feature = "dynamodb")]
#[path = "../common/dynamodb.rs"]
mod dynamodb_engine;
mod email_change;
mod email_login;
mod invitations;
mod limits;
mod mfa;
mod oauth;
mod orgs;
mod scenarios;
mod schema;
mod sso;
mod webhooks;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use database::{Kind, TestDatabase};
use gatehouse::secret_url::SecretUrl;
use gatehouse::sessions::SessionStore;
use gatehouse::sessions::redis::RedisSessions;
use gatehouse::store::probe::Held;
use gatehouse::store::{DbOptions, Pace, Store};

/// A store under test, with the database it lives in.
#[derive(Debug)]
pub struct Harness {
    pub store: Arc<dyn Store>,
    pub sessions: Arc<dyn SessionStore>,
    pub db: Arc<TestDatabase>,
    /// The session store is the database, which holds the accounts too (not Redis).
    pub sessions_in_database: bool,
    /// For Redis: a second session store on the same keys, as another replica has it (each
    /// with its memory of sessions, at the default size).
    pub peer: Option<Arc<dyn SessionStore>>,
}

impl Harness {
    /// A second, independent connection pool on the same database (another replica).
    pub async fn another_replica(&self) -> Arc<dyn Store> {
        open(&self.db).await.0
    }

    /// How many of `what` the store holds, asked through its probe.
    pub async fn held(&self, what: Held) -> u64 {
        self.store.probe().expect("the store offers its probe").count(what).await.unwrap()
    }

    /// Removes what expired before `now`, at `pace`, through the store's maintenance; how many rows went.
    pub async fn purge(&self, now: chrono::DateTime<chrono::Utc>, pace: Pace) -> u64 {
        self.store.maintenance().expect("the store offers maintenance").purge_expired(now, pace).await.unwrap()
    }

    /// As [`Self::purge`], where the store offers a purge; `None` where it expires items by
    /// itself (DynamoDB's `ttl`: its reads answer as if the expired were gone).
    pub async fn purge_if_offered(&self, now: chrono::DateTime<chrono::Utc>, pace: Pace) -> Option<u64> {
        match self.store.maintenance() {
            Some(maintenance) => Some(maintenance.purge_expired(now, pace).await.unwrap()),
            None => {
                assert_eq!(self.db.kind, Kind::Dynamodb, "only DynamoDB expires items by itself");
                None
            }
        }
    }
}

fn options() -> DbOptions {
    DbOptions { max_connections: 8, timeout: Duration::from_secs(10) }
}

async fn open(db: &TestDatabase) -> (Arc<dyn Store>, Arc<dyn SessionStore>) {
    gatehouse::store::connect(&SecretUrl::new(&db.url), &options()).await.expect("the store opens").into_parts()
}

/// Says once per backend that its store tests are skipped (or fails, see [`database::skip`]).
fn skip(backend: &str, var: &str) {
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap();
    if !said.iter().any(|b| b == backend) {
        said.push(backend.to_owned());
        database::skip(backend, var, "the store conformance tests");
    }
}

pub async fn harness(kind: Kind) -> Option<Harness> {
    let db = match kind {
        Kind::Sqlite => TestDatabase::create_sqlite(),
        _ => match kind.server_url() {
            Some(server) => TestDatabase::create_on(kind, &server).await,
            None => {
                skip(kind.name(), kind.env_var());
                return None;
            }
        },
    };
    let (store, sessions) = open(&db).await;
    Some(Harness { store, sessions, db: Arc::new(db), sessions_in_database: true, peer: None })
}

/// What a serving replica keeps in memory of sessions by default (`GATEHOUSE_REDIS_SESSION_MEMORY`).
const MEMORY: usize = 4 << 20;

/// Accounts in SQLite, sessions in Redis: the session scenarios against the Redis store.
pub async fn redis_harness() -> Option<Harness> {
    let Ok(url) = std::env::var("GATEHOUSE_TEST_REDIS_URL") else {
        skip("redis", "GATEHOUSE_TEST_REDIS_URL");
        return None;
    };
    let db = TestDatabase::create_sqlite();
    let (store, _) = open(&db).await;
    let prefix = format!("gh-store-test-{}:", uuid::Uuid::now_v7().simple());
    let replica = || async {
        let sessions = RedisSessions::connect(&SecretUrl::new(&url), &prefix, Duration::from_secs(5)).await.unwrap();
        Arc::new(sessions.with_memory(MEMORY)) as Arc<dyn SessionStore>
    };
    let (sessions, peer) = (replica().await, replica().await);
    Some(Harness { store, sessions, db: Arc::new(db), sessions_in_database: false, peer: Some(peer) })
}

/// For each named scenario of the module it is invoked in, one test per backend (the store
/// scenarios on the three databases, the session ones on those and on Redis).
macro_rules! per_backend {
    (stores: $($name:ident),* ; sessions: $($session:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Sqlite).await { super::$name(h).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $session() { if let Some(h) = crate::harness(crate::Kind::Sqlite).await { super::$session(h).await } } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Postgres).await { super::$name(h).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $session() { if let Some(h) = crate::harness(crate::Kind::Postgres).await { super::$session(h).await } } )*
        }
        mod mysql {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Mysql).await { super::$name(h).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $session() { if let Some(h) = crate::harness(crate::Kind::Mysql).await { super::$session(h).await } } )*
        }
        #[cfg(feature = "dynamodb")]
        mod dynamodb {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Dynamodb).await { super::$name(h).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $session() { if let Some(h) = crate::harness(crate::Kind::Dynamodb).await { super::$session(h).await } } )*
        }
        mod redis_sessions {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $session() { if let Some(h) = crate::redis_harness().await { super::$session(h).await } } )*
        }
    };
}
pub(crate) use per_backend;

/// For each named scenario, one test per backend.
macro_rules! conformance {
    (stores: $($store:ident),* ; sessions: $($session:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $store() { if let Some(h) = crate::harness(crate::Kind::Sqlite).await { crate::scenarios::$store(h).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $session() { if let Some(h) = crate::harness(crate::Kind::Sqlite).await { crate::scenarios::$session(h).await } } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $store() { if let Some(h) = crate::harness(crate::Kind::Postgres).await { crate::scenarios::$store(h).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $session() { if let Some(h) = crate::harness(crate::Kind::Postgres).await { crate::scenarios::$session(h).await } } )*
        }
        mod mysql {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $store() { if let Some(h) = crate::harness(crate::Kind::Mysql).await { crate::scenarios::$store(h).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $session() { if let Some(h) = crate::harness(crate::Kind::Mysql).await { crate::scenarios::$session(h).await } } )*
        }
        #[cfg(feature = "dynamodb")]
        mod dynamodb {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $store() { if let Some(h) = crate::harness(crate::Kind::Dynamodb).await { crate::scenarios::$store(h).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $session() { if let Some(h) = crate::harness(crate::Kind::Dynamodb).await { crate::scenarios::$session(h).await } } )*
        }
        mod redis_sessions {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $session() { if let Some(h) = crate::redis_harness().await { crate::scenarios::$session(h).await } } )*
        }
    };
}

conformance! {
    stores:
        accounts_round_trip_every_field,
        emails_and_usernames_are_unique_whatever_their_case,
        updates_replace_the_editable_fields,
        deleting_an_account_takes_its_sessions_and_links_with_it,
        a_link_is_redeemed_once_and_not_after_it_expires,
        a_username_once_given_never_goes_to_another_account,
        activating_a_pending_account_another_way_drops_what_its_maker_linked,
        a_hand_off_code_keeps_its_binding_and_is_spent_once,
        concurrent_redemptions_of_one_reset_link_succeed_once,
        the_outbox_hands_out_each_due_email_once_per_lease,
        retried_failed_and_sent_emails_leave_the_queue_as_they_should,
        one_addresss_emails_go_one_at_a_time_in_the_order_written,
        two_replicas_claiming_at_once_never_get_the_same_email,
        replicas_racing_on_an_empty_database_agree_on_one_signing_key,
        purging_removes_expired_sessions_only;
    sessions:
        a_session_is_live_until_it_expires_or_is_revoked,
        what_one_replica_ends_another_refuses_at_once,
        the_per_request_read_gives_the_session_and_its_current_account,
        a_copy_of_the_account_is_read_until_the_account_changes,
        refresh_rotation_spends_the_old_token_and_reuse_revokes_the_session,
        concurrent_refreshes_with_one_token_rotate_once,
        a_replay_within_the_grace_period_with_the_successor_changes_nothing,
        a_replay_after_the_grace_period_revokes_the_session,
        a_replay_after_the_successor_rotated_again_revokes_the_session,
        a_replay_with_another_successor_revokes_the_session,
        concurrent_refreshes_with_one_token_and_its_successor_rotate_once_and_replay,
        only_the_owner_can_end_a_session_and_revoke_all_spares_the_exception,
        the_session_list_shows_live_sessions_newest_first,
}
