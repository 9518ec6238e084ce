//! The migrations after release 0.1.0, which only add (see `migrations/additive/README.md`).
//!
//! 0.1.0's own migrations (versions 1 to 25) stay with their runner, whose table records them;
//! that runner refuses to start on a database holding a version it does not know, so the
//! release before would refuse every schema a newer one made if the newer versions were
//! recorded there. They are recorded in a table of their own, `gatehouse_migrations`, which
//! older binaries never read: the release before runs on the newer schema, and a rollback is
//! starting it.
//!
//! Replicas starting at once apply each version once: everything happens in one write
//! transaction holding the dialect's migration lock (PostgreSQL's DDL is transactional; SQLite's
//! write transactions run one at a time; MySQL commits each DDL statement by itself, so a
//! statement whose work an interrupted start already did is recognized and passed over).

use super::{Dialect, Exec, SqlStore, Transaction};
use crate::store::error::StoreResult;
use crate::store::migrations::Applied;

/// The table recording the additive migrations applied, in types all three dialects take.
const RECORDS: &str = "CREATE TABLE IF NOT EXISTS gatehouse_migrations (\
                       version BIGINT PRIMARY KEY NOT NULL, name VARCHAR(200) NOT NULL, \
                       checksum VARCHAR(64) NOT NULL, applied_at VARCHAR(40) NOT NULL)";

impl<D: Dialect> SqlStore<D> {
    /// Applies the dialect's additive migrations not yet applied (see the module documentation).
    pub(crate) async fn apply_additive(&self) -> anyhow::Result<Applied> {
        let mut tx = self.db.begin().await?;
        let result = apply::<D>(&mut tx).await;
        if let Some(unlock) = D::MIGRATION_UNLOCK {
            tx.fetch_all_text(unlock, &[]).await?;
        }
        let applied = result?;
        tx.commit().await?;
        if !applied.now.is_empty() {
            tracing::info!(versions = ?applied.now, "applied the schema's additive migrations");
        }
        if !applied.newer.is_empty() {
            tracing::info!(
                versions = ?applied.newer,
                "the schema has additive migrations of a newer release, which only add: running on it"
            );
        }
        Ok(applied)
    }
}

async fn apply<D: Dialect>(tx: &mut D::Tx) -> anyhow::Result<Applied> {
    if let Some(lock) = D::MIGRATION_LOCK {
        tx.fetch_all_text(lock, &[]).await?;
    }
    tx.execute_text(RECORDS, &[]).await?;
    let mut recorded = Vec::new();
    for row in tx.fetch_all_text("SELECT version, checksum FROM gatehouse_migrations", &[]).await? {
        use super::Row as _;
        recorded.push((row.int("version")?, row.text("checksum")?));
    }
    let mut applied = Applied::default();
    for (version, checksum) in &recorded {
        match D::ADDITIVE.iter().find(|m| m.version() == *version) {
            Some(known) if known.checksum() != *checksum => anyhow::bail!(
                "the migration {} applied to this database is not this release's {} (its SHA-256 is {checksum}, this release's {}): \
                 a released migration was changed, or the database was migrated by another build",
                version,
                known.file,
                known.checksum()
            ),
            Some(_) => {}
            None => applied.newer.push(*version),
        }
    }
    // A replica that applied the same version meanwhile (MySQL, its lock not had in time) wrote
    // the same record.
    let insert = D::prepare(&format!(
        "INSERT INTO gatehouse_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?) {}",
        D::skip_duplicates("version")
    ));
    for migration in D::ADDITIVE {
        if recorded.iter().any(|(v, _)| *v == migration.version()) {
            continue;
        }
        for statement in migration.statements() {
            run_statement::<D>(tx, &statement)
                .await
                .map_err(|e| anyhow::anyhow!("applying the migration {}: {e}", migration.file))?;
        }
        let (checksum, now) = (migration.checksum(), chrono::Utc::now().to_rfc3339());
        let args = [migration.version().into(), migration.name().into(), checksum.as_str().into(), now.as_str().into()];
        tx.execute_text(&insert, &args).await?;
        applied.now.push(migration.version());
    }
    Ok(applied)
}

/// Runs one statement; on MySQL, one whose work an interrupted start already did (the
/// column, table or index is there) counts as done.
async fn run_statement<D: Dialect>(tx: &mut D::Tx, statement: &str) -> StoreResult<()> {
    match tx.execute_text(statement, &[]).await {
        Err(e) if D::already_applied(&e) => Ok(()),
        other => other.map(drop),
    }
}
