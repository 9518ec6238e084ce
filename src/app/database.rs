//! The database as operator commands reach it: which SQLite file a URL names, and a migration
//! alone. The command line asks here rather than the store, which only the composition root
//! (this room) opens.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::secret_url::SecretUrl;
pub use crate::store::copying::{Copied, Refused as CopyRefused};
use crate::store::sqlite::file as sqlite_file;
use crate::store::{self, DbOptions};

/// The SQLite file `url` names, or `None` for a database server.
pub fn sqlite_path(url: &SecretUrl) -> Option<PathBuf> {
    sqlite_file::path_of(url)
}

/// Brings the schema up to date and nothing else (no signing key is made), over one
/// connection given at least 30 s.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let options = DbOptions { max_connections: 1, timeout: config.database_timeout.max(Duration::from_secs(30)) };
    store::migrate(&config.database_url, &options).await
}

/// Copies what the configured database keeps into the empty store `to` names (see
/// [`store::copying`]), telling `progress` the running totals. Both are opened as a server
/// opens them: a SQL target's schema is made or brought up to date, DynamoDB's tables must exist.
pub async fn copy_to(config: &Config, to: &SecretUrl, progress: &(dyn Fn(&Copied) + Sync)) -> anyhow::Result<Copied> {
    let options = DbOptions { max_connections: 8, timeout: config.database_timeout.max(Duration::from_secs(30)) };
    let (from, _) = store::connect(&config.database_url, &options).await?.into_parts();
    let (to, _) = store::connect(to, &options).await?.into_parts();
    store::copying::copy(from, to, chrono::Utc::now(), progress).await
}
