//! The outbox: what is told of a change, written in the change's own transaction: an email is a
//! job of the job queue ([`super::jobs`]), an outcome its audit row and its webhook jobs.

use async_trait::async_trait;

use super::audit::insert_audit;
use super::jobs::insert_job;
use super::webhooks::insert_events;
use super::{Dialect, Exec, SqlStore, Transaction};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::error::StoreResult;
use crate::store::outbox::{NewEmail, OutboxStore, email_job};

pub(super) async fn insert_email(tx: &mut impl Exec, email: &NewEmail) -> StoreResult<()> {
    insert_job(tx, &email_job(email)).await
}

/// Writes what a change commits beside its own rows, inside its transaction: the emails, the
/// outcomes' audit rows and their webhook jobs.
pub(super) async fn insert_effects(tx: &mut impl Exec, effects: &Effects) -> StoreResult<()> {
    for email in &effects.emails {
        insert_email(tx, email).await?;
    }
    insert_audit(tx, &effects.audit()).await?;
    insert_events(tx, &effects.webhooks()).await
}

/// Commits `tx` with `effects` written in it when the change it holds `wrote` (nothing tells of
/// a change that was not made); whether it did.
pub(super) async fn committed(mut tx: impl Transaction, wrote: bool, effects: &Effects) -> StoreResult<bool> {
    if wrote {
        insert_effects(&mut tx, effects).await?;
        tx.commit().await?;
    }
    Ok(wrote)
}

#[async_trait]
impl<D: Dialect> OutboxStore for SqlStore<D> {
    async fn queue_email(&self, email: &NewEmail) -> StoreResult<()> {
        timed!(
            DB,
            "queue_email",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                insert_email(&mut tx, email).await?;
                tx.commit().await
            })
        )
    }

    async fn record(&self, effects: &Effects) -> StoreResult<()> {
        if effects.is_empty() {
            return Ok(());
        }
        timed!(
            DB,
            "record",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await
            })
        )
    }
}
