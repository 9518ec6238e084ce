//! The administration queries: the account list and count (filters, substring search, keyset
//! pages newest first), the outbox as admins see it (never the bodies, which hold one-time
//! links) and its retry, and bulk seeding for load tests.
//!
//! The substring search is a `LIKE '%q%'` on the lower-cased email and username and on
//! `lower(name)`. PostgreSQL serves it from a trigram index of the three together
//! (`0013_account_search.sql`, the dialect's [`Dialect::SEARCH_PREFILTER`]), asked for the
//! term's rarest part (see [`search`](super::search)), and its list statements are planned
//! with their actual values each time (see [`Built::unprepared`]): whether `q` matches a
//! handful of accounts or half the table is a choice only the values can make.
//! SQLite takes the candidates of a term of three characters or more from its trigram index
//! (`0013_account_search.sql`, the dialect's [`Dialect::SEARCH_INDEX`]), asked for the term's
//! rarest part too, and applies the same
//! `LIKE` to each, so the results are the scan's: a list reads them when fewer than
//! [`INDEXED_CANDIDATES`] accounts hold the term, and scans in id order otherwise (so many match
//! that a page of them comes soon); a count streams them from the index and stops at its bound.
//! A term that a quarter of a sample of the accounts holds is listed and counted by the scan
//! alone (see [`search`](super::search)).
//! MariaDB/MySQL, and SQLite for a shorter term, scan in id order and stop at a page of
//! matches. SQLite's `lower()` folds ASCII letters only, so there a name's non-ASCII capitals
//! match only as typed.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::search::{held_by_many, rarest_part};
use super::{
    ACCOUNT_COLUMNS, Built, Dialect, Exec, Row, SqlStore, Transaction, account_from_row, args, like_pattern, sql,
};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::Account;
use crate::store::admin::{AccountQuery, AdminStore, OutboxEntry, OutboxQuery, Retried};
use crate::store::error::StoreResult;

/// The outbox columns an admin sees: never the bodies, which hold one-time links.
const OUTBOX_COLUMNS: &str =
    "id, topic, target, payload, status, attempts, last_error, created_at, next_attempt_at, finished_at";

/// The most accounts holding a search term for which the list reads them from the search
/// index (and sorts them by id); when more do, a page of them comes sooner from the scan in id
/// order. At a million accounts, reading this many candidates takes about as long as scanning
/// for a page of them.
const INDEXED_CANDIDATES: u64 = 10_000;

/// An account query's search: the `LIKE` pattern; the dialect's search index (its `FROM`
/// clause) with the phrase to ask it, where it has one, the term is long enough for it (three
/// characters: the trigram's) and the sample does not say that a quarter of the accounts hold
/// it (then the scan in id order is the faster plan); and the pattern for the dialect's
/// prefilter, where it has one. Index and prefilter are asked for the term's rarest part (see
/// [`search`](super::search)); the `LIKE` of the whole term decides.
struct Search {
    pattern: String,
    index: Option<(&'static str, String)>,
    prefilter: Option<(&'static str, String)>,
}

impl Search {
    fn of<D: Dialect>(query: &AccountQuery, sample: Option<&[String]>) -> Option<Self> {
        let q = query.q.as_deref().filter(|q| !q.is_empty())?;
        let part = sample.and_then(|sample| rarest_part(q, sample)).unwrap_or(q);
        let common = || sample.is_some_and(|sample| held_by_many(q, sample));
        let index = D::SEARCH_INDEX.filter(|_| q.chars().count() >= 3 && !common()).map(|index| (index, phrase(part)));
        let prefilter = D::SEARCH_PREFILTER.map(|prefilter| (prefilter, like_pattern(part, false)));
        Some(Self { pattern: like_pattern(q, false), index, prefilter })
    }

    fn index(&self) -> Option<(&'static str, &str)> {
        self.index.as_ref().map(|(index, phrase)| (*index, phrase.as_str()))
    }
}

/// The full-text query matching `q` as a substring: one quoted phrase, its quotes doubled.
fn phrase(q: &str) -> String {
    format!("\"{}\"", q.replace('"', "\"\""))
}

/// The filters of an account query, appended to `… WHERE TRUE`; with the keyset cursor when
/// `cursor` is set, and limited to the search index's candidates when `candidates` is set.
fn push_filters<'a>(
    sql: &mut Built<'a>,
    query: &'a AccountQuery,
    search: Option<&'a Search>,
    candidates: Option<(&'static str, &'a str)>,
    cursor: bool,
) {
    if let Some(Search { pattern, prefilter, .. }) = search {
        if let Some((prefilter, part)) = prefilter {
            sql.and(prefilter, part.as_str());
        }
        let pattern = pattern.as_str();
        sql.push(
            " AND (email_normalized LIKE ? ESCAPE '!' OR username_normalized LIKE ? ESCAPE '!' \
             OR lower(name) LIKE ? ESCAPE '!')",
            args![pattern, pattern, pattern],
        );
    }
    if let Some((index, phrase)) = candidates {
        sql.push(" AND id IN (SELECT account_id FROM ", &[]).push(index, args![phrase]).push(")", &[]);
    }
    if let Some(status) = query.status {
        sql.and("status = ?", status.as_str());
    }
    if let Some(role) = query.role {
        sql.and("role = ?", role.as_str());
    }
    if let Some(after) = query.created_after {
        sql.and("created_at >= ?", after);
    }
    if let Some(before) = query.created_before {
        sql.and("created_at < ?", before);
    }
    if let (true, Some(before)) = (cursor, query.before) {
        sql.and("id < ?", before);
    }
}

/// An email job as the outbox shows it: `done` is `sent`; the subject comes from the kept
/// payload.
fn outbox_from_row(row: &impl Row) -> StoreResult<OutboxEntry> {
    let status = match row.text("status")?.as_str() {
        "done" => "sent".to_owned(),
        other => other.to_owned(),
    };
    let payload: serde_json::Value = serde_json::from_str(&row.text("payload")?).map_err(anyhow::Error::from)?;
    let sent = status == "sent";
    Ok(OutboxEntry {
        id: row.id("id")?,
        kind: row.text("topic")?,
        recipient: row.text("target")?,
        subject: payload["subject"].as_str().unwrap_or_default().to_owned(),
        status,
        attempts: row.int("attempts")?.try_into().unwrap_or(u32::MAX),
        last_error: row.opt_text("last_error")?,
        created_at: row.time("created_at")?,
        next_attempt_at: row.time("next_attempt_at")?,
        sent_at: if sent { row.opt_time("finished_at")? } else { None },
    })
}

impl<D: Dialect> SqlStore<D> {
    /// The sample of accounts' search texts for choosing the part of the term the index is
    /// asked for, where the dialect takes one and the term has more than one trigram to choose
    /// from; taken again when the one held has served its time.
    async fn search_sample(&self, query: &AccountQuery) -> StoreResult<Option<Arc<[String]>>> {
        let Some(statement) = D::SEARCH_SAMPLE else { return Ok(None) };
        if query.q.as_deref().is_none_or(|q| q.chars().count() < 4) {
            return Ok(None);
        }
        if let Some(sample) = self.samples.fresh() {
            return Ok(Some(sample));
        }
        let rows = self.db.pool().fetch_all_text(statement, &[]).await?;
        let texts = rows.iter().map(|row| row.text("t")).collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(self.samples.keep(texts)))
    }
}

#[async_trait]
impl<D: Dialect> AdminStore for SqlStore<D> {
    async fn list_accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        timed!(DB, "list_accounts", async {
            let sample = self.search_sample(query).await?;
            let search = Search::of::<D>(query, sample.as_deref());
            let mut candidates = None;
            if let Some((index, phrase)) = search.as_ref().and_then(Search::index) {
                let mut sql = Built::new("SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM ");
                sql.push(index, args![phrase]).push(" LIMIT ?) AS held", args![INDEXED_CANDIDATES as i64]);
                let held = sql.fetch_optional(&mut self.db.pool()).await?.map_or(Ok(0), |row| row.count("n"))?;
                candidates = (held < INDEXED_CANDIDATES).then_some((index, phrase));
            }
            let mut sql = Built::new(format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE TRUE")).unprepared();
            push_filters(&mut sql, query, search.as_ref(), candidates, true);
            sql.push(" ORDER BY id DESC LIMIT ?", args![i64::from(query.limit)]);
            let rows = sql.fetch_all(&mut self.db.pool()).await?;
            rows.iter().map(|row| Ok(account_from_row(row)?.account)).collect()
        })
    }

    async fn count_accounts(&self, query: &AccountQuery) -> StoreResult<u64> {
        self.count_accounts_up_to(query, u64::MAX).await
    }

    async fn count_accounts_up_to(&self, query: &AccountQuery, at_most: u64) -> StoreResult<u64> {
        timed!(DB, "count_accounts", async {
            let sample = self.search_sample(query).await?;
            let search = Search::of::<D>(query, sample.as_deref());
            let mut sql = Built::new("SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM ").unprepared();
            match search.as_ref().and_then(Search::index) {
                // The candidates first, in the index's order: the count stops at its bound
                // after reading about that many, however many accounts hold the term.
                Some((index, phrase)) => {
                    sql.push("(SELECT account_id FROM ", &[])
                        .push(index, args![phrase])
                        .push(") AS found CROSS JOIN accounts ON accounts.id = found.account_id WHERE TRUE", &[]);
                }
                None => {
                    sql.push("accounts WHERE TRUE", &[]);
                }
            }
            push_filters(&mut sql, query, search.as_ref(), None, false);
            sql.push(" LIMIT ?) AS matched", args![i64::try_from(at_most).unwrap_or(i64::MAX)]);
            let row = sql.fetch_optional(&mut self.db.pool()).await?;
            row.map_or(Ok(0), |row| row.count("n"))
        })
    }

    async fn list_outbox(&self, query: &OutboxQuery) -> StoreResult<Vec<OutboxEntry>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        timed!(DB, "list_outbox", async {
            let mut sql = Built::new(format!("SELECT {OUTBOX_COLUMNS} FROM jobs WHERE kind = 'email'"));
            if let Some(status) = &query.status {
                sql.and("status = ?", if status == "sent" { "done" } else { status.as_str() });
            }
            let lane = query.recipient.as_ref().map(|recipient| format!("email {}", recipient.to_lowercase()));
            if let Some(lane) = &lane {
                sql.and("lane = ?", lane);
            }
            if let Some(before) = query.before {
                sql.and("id < ?", before);
            }
            sql.push(" ORDER BY id DESC LIMIT ?", args![i64::from(query.limit)]);
            let rows = sql.fetch_all(&mut self.db.pool()).await?;
            rows.iter().map(outbox_from_row).collect()
        })
    }

    async fn find_outbox(&self, id: Uuid) -> StoreResult<Option<OutboxEntry>> {
        timed!(DB, "find_outbox", async {
            let sql = sql!("SELECT {OUTBOX_COLUMNS} FROM jobs WHERE id = ? AND kind = 'email'");
            let row = self.db.pool().fetch_optional(sql, args![id]).await?;
            row.as_ref().map(outbox_from_row).transpose()
        })
    }

    /// Keeps `last_error`, so the list still says why the email failed until the next attempt
    /// replaces it.
    async fn retry_email(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Retried> {
        timed!(
            DB,
            "retry_email",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let row =
                    tx.fetch_optional(sql!("SELECT status FROM jobs WHERE id = ? AND kind = 'email' FOR UPDATE"), args![id]).await?;
                match row.map(|row| row.text("status")).transpose()?.as_deref() {
                    None => return Ok(Retried::NotFound),
                    Some("failed") => {}
                    Some(_) => return Ok(Retried::NotFailed),
                }
                tx.execute(
                    sql!(
                        "UPDATE jobs SET status = 'queued', attempts = 0, next_attempt_at = ?, claimed_until = NULL, finished_at = NULL
                         WHERE id = ?"
                    ),
                    args![now, id],
                )
                .await?;
                tx.commit().await?;
                Ok(Retried::Requeued)
            })
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use super::*;
    use crate::secret_url::SecretUrl;
    use crate::store::DbOptions;
    use crate::store::seeding::SeedingStore;
    use crate::store::sqlite::SqliteStore;

    fn search(q: &str) -> AccountQuery {
        AccountQuery { q: Some(q.into()), limit: 10, ..AccountQuery::default() }
    }

    /// SQLite draws its sample by random document numbers: distinct accounts, as its index
    /// holds them, and enough of them to weigh a term by.
    #[tokio::test]
    async fn sqlite_samples_distinct_accounts_by_random_number() {
        let dir = tempfile::tempdir().unwrap();
        let options = DbOptions { max_connections: 2, timeout: Duration::from_secs(5) };
        let open = |name: &str| SecretUrl::new(&format!("sqlite://{}", dir.path().join(name).display()));
        let empty = SqliteStore::connect(&open("empty.db"), &options).await.unwrap();
        assert_eq!(empty.search_sample(&search("bench7")).await.unwrap().as_deref(), Some(&[][..]));

        let store = SqliteStore::connect(&open("t.db"), &options).await.unwrap();
        store.seed_accounts("Bench", 1_000, "$argon2id$unused", Utc::now()).await.unwrap();
        assert!(store.search_sample(&search("ben")).await.unwrap().is_none(), "a term of one trigram");
        let sample = store.search_sample(&search("bench7")).await.unwrap().unwrap();
        let distinct: HashSet<&String> = sample.iter().collect();
        assert_eq!(distinct.len(), sample.len());
        assert!((300..=1_000).contains(&sample.len()), "{} of 1,000 (2,000 draws)", sample.len());
        assert!(
            sample.iter().all(|t| t.starts_with("bench") && t.contains("@example.com bench") && t.contains(" seed "))
        );
        let part = rarest_part("bench7@example.com", &sample);
        assert_eq!(part, Some("ch7"), "{sample:?}");
    }
}
