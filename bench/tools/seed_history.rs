//! Seeds the history a service of some size has behind it, for the growth benchmark
//! (`bench/run.sh --growth`), over the accounts `seed.rs` wrote: live sessions, expired
//! sessions and spent links for the purge, audit events, second factors, social identities and
//! client apps ([`HistoryPlan`]).
//!
//! `gatehouse-bench seed-history <database-url> <live-sessions> <expired-sessions> <spent-links> <audit-events>
//! <second-factors> <identities> <clients> [<redis-url> <redis-prefix>]`
//!
//! With a Redis URL the live sessions are created in Redis, as the server keeps them there (the
//! database gets none). Prints one JSON line: what was written and how long each part took.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use gatehouse::secret_url::SecretUrl;
use gatehouse::sessions::redis::RedisSessions;
use gatehouse::sessions::{NewSession, SessionAuth, SessionStore};
use gatehouse::store::admin::AccountQuery;
use gatehouse::store::seeding::HistoryPlan;
use gatehouse::store::{DbOptions, connect};
use gatehouse::tokens::opaque::TokenHash;
use uuid::Uuid;

/// Sessions being created in Redis at once (one task each).
const REDIS_IN_FLIGHT: usize = 64;

#[tokio::main]
pub async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let usage = "usage: gatehouse-bench seed-history <database-url> <live-sessions> <expired-sessions> <spent-links> <audit-events> \
                 <second-factors> <identities> <clients> [<redis-url> <redis-prefix>]";
    anyhow::ensure!(args.len() == 8 || args.len() == 10, usage);
    let number = |i: usize| args[i].parse::<u64>().map_err(|_| anyhow::anyhow!("{usage}: {} is not a count", args[i]));
    let redis = args.get(8).zip(args.get(9));
    let mut plan = HistoryPlan {
        live_sessions: number(1)?,
        expired_sessions: number(2)?,
        spent_links: number(3)?,
        audit_events: number(4)?,
        second_factors: number(5)?,
        identities: number(6)?,
        clients: number(7)?,
    };
    let store =
        connect(&SecretUrl::new(&args[0]), &DbOptions { max_connections: 4, timeout: Duration::from_secs(600) })
            .await?;

    let mut redis_seconds = 0.0;
    if let Some((url, prefix)) = redis {
        let started = Instant::now();
        let sessions = Arc::new(RedisSessions::connect(&SecretUrl::new(url), prefix, Duration::from_secs(30)).await?);
        let accounts = account_ids(store.as_ref()).await?;
        anyhow::ensure!(!accounts.is_empty(), "there are no accounts to give sessions to: seed them first");
        let accounts = Arc::new(accounts);
        let now = Utc::now();
        let count = usize::try_from(plan.live_sessions)?;
        let mut workers = tokio::task::JoinSet::new();
        for worker in 0..REDIS_IN_FLIGHT {
            let (sessions, accounts) = (sessions.clone(), accounts.clone());
            workers.spawn(async move {
                for n in (worker..count).step_by(REDIS_IN_FLIGHT) {
                    let session = NewSession {
                        id: Uuid::now_v7(),
                        account_id: accounts[n % accounts.len()],
                        refresh_hash: TokenHash::of(&Uuid::now_v7().to_string()),
                        created_at: now,
                        expires_at: now + chrono::Duration::days(30),
                        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) seeded".to_owned()),
                        ip: Some("198.51.100.7".to_owned()),
                        auth: SessionAuth::password(now),
                    };
                    sessions.create_session(&session).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = workers.join_next().await {
            done??;
        }
        plan.live_sessions = 0;
        redis_seconds = started.elapsed().as_secs_f64();
    }

    let started = Instant::now();
    let seeded = store.seeding().expect("the store seeds").seed_history(&plan, Utc::now()).await?;
    let mut report = serde_json::to_value(&seeded)?;
    if redis.is_some() {
        report["live_sessions"] = serde_json::json!(number(1)?);
        report["redis_seconds"] = serde_json::json!(redis_seconds);
    }
    report["database_seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
    println!("{report}");
    Ok(())
}

/// Every account's id, a page at a time through the admin list.
async fn account_ids(store: &dyn gatehouse::store::FullStore) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = Vec::new();
    let mut query = AccountQuery { limit: 1_000, ..AccountQuery::default() };
    loop {
        let page = store.list_accounts(&query).await?;
        let Some(last) = page.last() else { return Ok(ids) };
        query.before = Some(last.id);
        ids.extend(page.iter().map(|account| account.id));
    }
}
