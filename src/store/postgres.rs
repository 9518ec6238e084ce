//! The PostgreSQL store.

use std::sync::Arc;

use super::{DbOptions, FullStore};
use crate::config::SecretUrl;

/// Opens the database and runs its migrations.
pub async fn open(url: &SecretUrl, _options: &DbOptions) -> anyhow::Result<Arc<dyn FullStore>> {
    anyhow::bail!("PostgreSQL at {url} is not supported by this build yet")
}
