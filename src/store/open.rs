//! Opening the database the URL names: the scheme picks the dialect.

use std::sync::Arc;

#[cfg(feature = "dynamodb")]
use super::dynamo::DynamoStore;
use super::{DbOptions, FullStore};
use super::{mysql::MySqlStore, postgres::PostgresStore, sqlite::SqliteStore};
use crate::secret_url::SecretUrl;

/// Opens the database named by the URL and brings its schema up to date.
pub async fn connect(url: &SecretUrl, options: &DbOptions) -> anyhow::Result<Arc<dyn FullStore>> {
    Ok(match url.scheme() {
        "sqlite" => Arc::new(SqliteStore::connect(url, options).await?),
        "postgres" | "postgresql" => Arc::new(PostgresStore::connect(url, options).await?),
        "mysql" => Arc::new(MySqlStore::connect(url, options).await?),
        #[cfg(feature = "dynamodb")]
        "dynamodb" => {
            let store = DynamoStore::connect(url, options.timeout).await?;
            let missing = store.check_tables().await?;
            if !missing.is_empty() {
                anyhow::bail!(
                    "the DynamoDB tables {} do not exist: create them with `gatehouse migrate` (which needs the \
                     dynamodb:CreateTable permission) or with the deployment's template",
                    missing.join(", ")
                );
            }
            Arc::new(store)
        }
        other => anyhow::bail!("unsupported database scheme {other:?}"),
    })
}

/// Brings the database named by the URL up to date: the SQL schema's migrations, or the
/// DynamoDB tables created where missing (on-demand billing) and the others checked.
pub async fn migrate(url: &SecretUrl, options: &DbOptions) -> anyhow::Result<()> {
    match url.scheme() {
        #[cfg(feature = "dynamodb")]
        "dynamodb" => DynamoStore::connect(url, options.timeout).await?.create_tables().await,
        _ => connect(url, options).await.map(|_| ()),
    }
}
