//! Bulk seeding of what a service of some size has behind it, for the growth benchmark: live
//! and expired sessions with their refresh tokens, spent one-time links, the audit trail,
//! accounts with an authenticator app and recovery codes, social identities and client apps,
//! spread over the accounts [`seed_accounts`](crate::store::seeding::SeedingStore::seed_accounts)
//! wrote. The rows are written with multi-row `INSERT`s, many thousand per transaction, as an
//! import is; none of them is usable for logging in (secrets and hashes are random bytes).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::{NoContext, Timestamp, Uuid};

use super::{Arg, Built, Dialect, Exec, SqlStore, Transaction};
use crate::audit::{AuditEvent, AuditStore};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Kind;
use crate::store::error::StoreResult;
use crate::store::seeding::seed_identity;
use crate::store::seeding::{HistoryPlan, SeedingStore};

/// Rows per transaction.
const ROWS_PER_TRANSACTION: u64 = 50_000;

/// Seeded rows per transaction (each commit is a synced write).
const SEED_ROWS_PER_TRANSACTION: u64 = 100_000;
/// Values per seeded row.
const SEED_VALUES_PER_ROW: usize = 9;

/// One value of a seeded row, owned while its batch is built.
enum Cell {
    Id(Uuid),
    Text(String),
    Time(DateTime<Utc>),
    Bytes([u8; 32]),
    Int(i64),
    Bool(bool),
    /// A time column left NULL.
    NoTime,
}

impl Cell {
    fn arg(&self) -> Arg<'_> {
        match self {
            Cell::Id(id) => Arg::Id(Some(*id)),
            Cell::Text(text) => Arg::Text(Some(text)),
            Cell::Time(time) => Arg::Time(Some(*time)),
            Cell::Bytes(bytes) => Arg::Bytes(Some(bytes)),
            Cell::Int(n) => Arg::Int(*n),
            Cell::Bool(b) => Arg::Bool(*b),
            Cell::NoTime => Arg::Time(None),
        }
    }
}

/// 32 bytes no other seeded row has: where a hash of a secret goes.
fn random_bytes() -> [u8; 32] {
    let mut bytes = [0; 32];
    bytes[..16].copy_from_slice(Uuid::now_v7().as_bytes());
    bytes[16..].copy_from_slice(Uuid::now_v7().as_bytes());
    bytes
}

/// A table and the columns a seeded row fills, with a placeholder each.
struct Table {
    insert: &'static str,
    columns: usize,
}

const SESSIONS: Table = Table {
    insert: "INSERT INTO sessions (id, account_id, created_at, last_used_at, expires_at, user_agent, ip) VALUES ",
    columns: 7,
};
const REFRESH_TOKENS: Table =
    Table { insert: "INSERT INTO refresh_tokens (hash, session_id, created_at, used_at) VALUES ", columns: 4 };
const ONE_TIME_TOKENS: Table = Table {
    insert: "INSERT INTO one_time_tokens (hash, account_id, purpose, created_at, expires_at, used_at) VALUES ",
    columns: 6,
};
const TOTP: Table = Table {
    insert: "INSERT INTO mfa_totp (account_id, secret, created_at, confirmed_at, last_step) VALUES ",
    columns: 5,
};
const RECOVERY_CODES: Table =
    Table { insert: "INSERT INTO recovery_codes (account_id, hash, created_at, used_at) VALUES ", columns: 4 };
const IDENTITIES: Table = Table {
    insert: "INSERT INTO identities (id, account_id, provider, issuer, subject, email, created_at, last_login_at) VALUES ",
    columns: 8,
};
const CLIENTS: Table = Table {
    insert: "INSERT INTO oauth_clients (id, name, confidential, secret_hash, redirect_uris, post_logout_redirect_uris, \
             grant_types, scopes, first_party, created_at, updated_at) VALUES ",
    columns: 11,
};

/// Audit events per write.
const EVENTS_PER_CALL: u64 = 10_000;

/// What seeded audit events record, in turn: mostly logins.
const EVENT_KINDS: [&str; 10] = [
    Kind::LoginSucceeded.as_str(),
    Kind::LoginSucceeded.as_str(),
    Kind::LoginSucceeded.as_str(),
    Kind::LoginFailed.as_str(),
    Kind::LoginSucceeded.as_str(),
    Kind::Logout.as_str(),
    Kind::LoginSucceeded.as_str(),
    Kind::LoginFailed.as_str(),
    Kind::LoginSucceeded.as_str(),
    Kind::Signup.as_str(),
];

/// Recovery codes each account with an authenticator app gets.
const RECOVERY_CODES_EACH: u64 = 10;

impl<D: Dialect> SqlStore<D> {
    /// Writes `count` rows of `table`, row `n` made by `row(n)`, in multi-row inserts.
    async fn insert_rows(&self, table: &Table, count: u64, mut row: impl FnMut(u64) -> Vec<Cell>) -> StoreResult<()> {
        let per_insert = u64::try_from((D::MAX_PARAMETERS / table.columns).min(2_000)).unwrap_or(1);
        let placeholders = format!("({})", vec!["?"; table.columns].join(", "));
        let mut next = 0;
        while next < count {
            let end_of_transaction = count.min(next + ROWS_PER_TRANSACTION);
            let mut tx = self.db.begin().await?;
            while next < end_of_transaction {
                let end = end_of_transaction.min(next + per_insert);
                let rows: Vec<Vec<Cell>> = (next..end).map(&mut row).collect();
                let mut insert = Built::new(table.insert);
                for (i, cells) in rows.iter().enumerate() {
                    let values: Vec<Arg<'_>> = cells.iter().map(Cell::arg).collect();
                    insert.push(if i == 0 { "" } else { ", " }, &[]).push(&placeholders, &values);
                }
                insert.execute(&mut tx).await?;
                next = end;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Ids of the accounts there are, oldest first.
    async fn account_ids(&self) -> StoreResult<Vec<Uuid>> {
        let rows = self.db.pool().fetch_all_text(&D::prepare("SELECT id FROM accounts ORDER BY id"), &[]).await?;
        rows.iter().map(|row| super::Row::id(row, "id")).collect()
    }

    pub(super) async fn seed_history_rows(&self, plan: &HistoryPlan, now: DateTime<Utc>) -> StoreResult<HistoryPlan> {
        let accounts = self.account_ids().await?;
        let Some(len) = u64::try_from(accounts.len()).ok().filter(|&n| n > 0) else {
            return Ok(HistoryPlan::default());
        };
        let account = |n: u64| accounts[usize::try_from(n % len).unwrap_or_default()];
        let session = |n: u64, id: Uuid, created: DateTime<Utc>, expires: DateTime<Utc>| {
            vec![
                Cell::Id(id),
                Cell::Id(account(n)),
                Cell::Time(created),
                Cell::Time(created),
                Cell::Time(expires),
                Cell::Text("Mozilla/5.0 (X11; Linux x86_64) seeded".to_owned()),
                Cell::Text(format!("198.51.100.{}", n % 250 + 1)),
            ]
        };

        // Live sessions: logged in over the last week, expiring in the next thirty days.
        let live: Vec<Uuid> = (0..plan.live_sessions).map(|_| Uuid::now_v7()).collect();
        self.insert_rows(&SESSIONS, plan.live_sessions, |n| {
            let created = now - Duration::seconds(i64::try_from(n % 604_800).unwrap_or_default());
            session(n, live[usize::try_from(n).unwrap_or_default()], created, created + Duration::days(30))
        })
        .await?;
        self.insert_rows(&REFRESH_TOKENS, plan.live_sessions, |n| {
            vec![
                Cell::Bytes(random_bytes()),
                Cell::Id(live[usize::try_from(n).unwrap_or_default()]),
                Cell::Time(now),
                Cell::NoTime,
            ]
        })
        .await?;
        drop(live);

        // What the purge removes: sessions that expired an hour ago, each with a spent and a
        // current refresh token, and spent password-reset links past their retention.
        let expired: Vec<Uuid> = (0..plan.expired_sessions).map(|_| Uuid::now_v7()).collect();
        let created = now - Duration::days(31);
        self.insert_rows(&SESSIONS, plan.expired_sessions, |n| {
            session(n, expired[usize::try_from(n).unwrap_or_default()], created, now - Duration::hours(1))
        })
        .await?;
        self.insert_rows(&REFRESH_TOKENS, 2 * plan.expired_sessions, |n| {
            let session = Cell::Id(expired[usize::try_from(n / 2).unwrap_or_default()]);
            let used = if n % 2 == 0 { Cell::Time(created) } else { Cell::NoTime };
            vec![Cell::Bytes(random_bytes()), session, Cell::Time(created), used]
        })
        .await?;
        drop(expired);
        self.insert_rows(&ONE_TIME_TOKENS, plan.spent_links, |n| {
            vec![
                Cell::Bytes(random_bytes()),
                Cell::Id(account(n)),
                Cell::Text("password_reset".to_owned()),
                Cell::Time(now - Duration::days(9)),
                Cell::Time(now - Duration::days(8)),
                Cell::Time(now - Duration::days(9)),
            ]
        })
        .await?;

        // Second factors and identities on the newest accounts, so that a load test can seed
        // those apart from the accounts it logs in with a password alone.
        let newest = |n: u64| account(len - 1 - n % len);
        let second_factors = plan.second_factors.min(len);
        self.insert_rows(&TOTP, second_factors, |n| {
            vec![Cell::Id(newest(n)), Cell::Bytes(random_bytes()), Cell::Time(now), Cell::Time(now), Cell::Int(0)]
        })
        .await?;
        self.insert_rows(&RECOVERY_CODES, second_factors * RECOVERY_CODES_EACH, |n| {
            let owner = newest(n / RECOVERY_CODES_EACH);
            vec![Cell::Id(owner), Cell::Bytes(random_bytes()), Cell::Time(now), Cell::NoTime]
        })
        .await?;
        let identities = plan.identities.min(len);
        self.insert_rows(&IDENTITIES, identities, |n| {
            vec![
                Cell::Id(Uuid::now_v7()),
                Cell::Id(newest(n)),
                Cell::Text("seeded".to_owned()),
                Cell::Text("https://idp.example.com".to_owned()),
                Cell::Text(format!("subject-{n}-{}", Uuid::now_v7().simple())),
                Cell::Text(format!("identity{n}@example.com")),
                Cell::Time(now),
                Cell::Time(now),
            ]
        })
        .await?;
        self.insert_rows(&CLIENTS, plan.clients, |n| {
            let uris = format!("https://app{n}.example.com/callback");
            vec![
                Cell::Text(format!("seeded-{n}-{}", Uuid::now_v7().simple())),
                Cell::Text(format!("Seeded app {n}")),
                Cell::Bool(true),
                Cell::Bytes(random_bytes()),
                Cell::Text(uris),
                Cell::Text(String::new()),
                Cell::Text("authorization_code refresh_token".to_owned()),
                Cell::Text("openid email profile".to_owned()),
                Cell::Bool(false),
                Cell::Time(now),
                Cell::Time(now),
            ]
        })
        .await?;
        // The audit trail: the last sixty days' logins, failures, logouts and sign-ups, in
        // order of time, scattered over the accounts; written as the audit log writes them.
        let span_ms = Duration::days(60).num_milliseconds();
        let count = i64::try_from(plan.audit_events).unwrap_or(i64::MAX).max(1);
        let mut next = 0;
        while next < plan.audit_events {
            let end = plan.audit_events.min(next + EVENTS_PER_CALL);
            let events: Vec<AuditEvent> = (next..end)
                .map(|n| {
                    let offset = i64::try_from(n).unwrap_or_default() * span_ms / count;
                    let at = now - Duration::milliseconds(span_ms - offset);
                    let stamp = Timestamp::from_unix(
                        NoContext,
                        u64::try_from(at.timestamp()).unwrap_or_default(),
                        at.timestamp_subsec_nanos(),
                    );
                    AuditEvent {
                        id: Uuid::new_v7(stamp),
                        at,
                        kind: EVENT_KINDS[usize::try_from(n % 10).unwrap_or_default()].to_owned(),
                        account_id: Some(account(n.wrapping_mul(2_654_435_761))),
                        actor_id: None,
                        ip: Some(format!("198.51.100.{}", n % 250 + 1)),
                        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) seeded".to_owned()),
                        request_id: None,
                        detail: None,
                    }
                })
                .collect();
            self.insert_events(&events).await?;
            next = end;
        }
        Ok(HistoryPlan {
            audit_events: plan.audit_events,
            live_sessions: plan.live_sessions,
            expired_sessions: plan.expired_sessions,
            spent_links: plan.spent_links,
            second_factors,
            identities,
            clients: plan.clients,
        })
    }
}

#[async_trait]
impl<D: Dialect> SeedingStore for SqlStore<D> {
    async fn seed_accounts(
        &self,
        prefix: &str,
        count: u64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let rows_per_insert = u64::try_from(D::MAX_PARAMETERS / SEED_VALUES_PER_ROW).unwrap_or(1_000).min(5_000);
        timed!(DB, "seed_accounts", async {
            let mut next = 1;
            while next <= count {
                let last_of_transaction = count.min(next + SEED_ROWS_PER_TRANSACTION - 1);
                let mut tx = self.db.begin().await?;
                while next <= last_of_transaction {
                    let last = last_of_transaction.min(next + rows_per_insert - 1);
                    let rows: Vec<(Uuid, String, String, String, String, String)> = (next..=last)
                        .map(|n| {
                            let (email, username, name) = seed_identity(prefix, n);
                            let normalized = (email.to_lowercase(), username.to_ascii_lowercase());
                            (Uuid::now_v7(), email, normalized.0, username, normalized.1, name)
                        })
                        .collect();
                    let mut insert = Built::new(
                        "INSERT INTO accounts (id, email, email_normalized, username, username_normalized, name, data,
                                               app_data, password_hash, role, status, email_verified, created_at,
                                               updated_at)
                         VALUES ",
                    );
                    for (i, (id, email, email_normalized, username, username_normalized, name)) in
                        rows.iter().enumerate()
                    {
                        let values: [Arg<'_>; SEED_VALUES_PER_ROW] = [
                            (*id).into(),
                            email.into(),
                            email_normalized.into(),
                            username.into(),
                            username_normalized.into(),
                            name.into(),
                            password_hash.into(),
                            now.into(),
                            now.into(),
                        ];
                        let row = "(?, ?, ?, ?, ?, ?, '{}', '{}', ?, 'user', 'active', TRUE, ?, ?)";
                        insert.push(if i == 0 { "" } else { ", " }, &[]).push(row, &values);
                    }
                    insert.execute(&mut tx).await?;
                    next = last + 1;
                }
                tx.commit().await?;
            }
            if let Some(analyze) = D::ANALYZE_ACCOUNTS {
                // Statistics now rather than at the server's next pass: the search plans by them.
                self.db.pool().execute_text(analyze, &[]).await?;
            }
            Ok(count)
        })
    }

    async fn seed_history(&self, plan: &HistoryPlan, now: DateTime<Utc>) -> StoreResult<HistoryPlan> {
        timed!(DB, "seed_history", self.seed_history_rows(plan, now))
    }
}
