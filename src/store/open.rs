//! Opening the database the URL names: the scheme picks the dialect.

use std::sync::Arc;

use super::{DbOptions, FullStore};
use super::{mysql::MySqlStore, postgres::PostgresStore, sqlite::SqliteStore};
use crate::secret_url::SecretUrl;

/// Opens the database named by the URL and brings its schema up to date.
pub async fn connect(url: &SecretUrl, options: &DbOptions) -> anyhow::Result<Arc<dyn FullStore>> {
    Ok(match url.scheme() {
        "sqlite" => Arc::new(SqliteStore::connect(url, options).await?),
        "postgres" | "postgresql" => Arc::new(PostgresStore::connect(url, options).await?),
        "mysql" => Arc::new(MySqlStore::connect(url, options).await?),
        other => anyhow::bail!("unsupported database scheme {other:?}"),
    })
}
