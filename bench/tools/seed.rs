//! Seeds a database with many active accounts for the benchmark's admin-list scenario:
//! `{prefix}{n}@example.com`, username `{prefix}{n}`, all with the same password.
//!
//! `gatehouse-bench seed <database-url> <count> [prefix] [password]`
//! opens the store (bringing the schema up to date) and prints one JSON line.

use std::time::{Duration, Instant};

use gatehouse::passwords::PasswordHasher;
use gatehouse::secret_url::SecretUrl;
use gatehouse::store::{DbOptions, connect};
use secrecy::SecretString;

#[tokio::main]
pub async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(2);
    let usage = "usage: gatehouse-bench seed <database-url> <count> [prefix] [password]";
    let url = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let count: u64 = args.next().and_then(|a| a.parse().ok()).ok_or_else(|| anyhow::anyhow!(usage))?;
    let prefix = args.next().unwrap_or_else(|| "seed".to_owned());
    let password = args.next().unwrap_or_else(|| "bench-password-9f3k2".to_owned());
    let hash =
        PasswordHasher::start(1, 1, std::time::Duration::from_secs(60)).hash(SecretString::from(password)).await?;
    let store =
        connect(&SecretUrl::new(&url), &DbOptions { max_connections: 4, timeout: Duration::from_secs(60) }).await?;
    let started = Instant::now();
    let inserted =
        store.seeding().expect("the store seeds").seed_accounts(&prefix, count, &hash, chrono::Utc::now()).await?;
    println!("{{\"inserted\":{inserted},\"seconds\":{:.3}}}", started.elapsed().as_secs_f64());
    Ok(())
}
