//! The outbox: what is told of a change, written in the change's own transaction: an email is a
//! job of the job queue ([`super::jobs`]), an outcome its audit row and its webhook jobs.

use async_trait::async_trait;
use uuid::Uuid;

use super::audit::insert_audit;
use super::jobs::insert_job;
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, read_account, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::error::StoreResult;
use crate::store::jobs::deliveries;
use crate::store::outbox::{NewEmail, OutboxStore, email_job};
use crate::store::webhooks::{Event, EventType};

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

/// The enabled endpoints that receive events of `kind`.
async fn subscribers(exec: &mut impl Exec, kind: EventType) -> StoreResult<Vec<Uuid>> {
    let pattern = format!("% {} %", kind.as_str());
    exec.fetch_all(sql!("SELECT id FROM webhook_endpoints WHERE enabled = ? AND events LIKE ?"), args![true, &pattern])
        .await?
        .iter()
        .map(|row| row.id("id"))
        .collect()
}

/// Writes one delivery of each event to every enabled endpoint that receives its type, with the
/// account as it stands now in this transaction. An event nobody receives costs one look at
/// the (small) endpoint table; an event of an account that is not there is nobody's news.
pub(super) async fn insert_events(tx: &mut impl Exec, events: &[Event]) -> StoreResult<()> {
    for event in events {
        let receivers = subscribers(tx, event.kind).await?;
        if receivers.is_empty() {
            continue;
        }
        let Some(stored) = read_account(tx, event.account_id).await? else { continue };
        for job in deliveries(event, &stored.account, receivers.iter().map(Uuid::to_string))? {
            insert_job(tx, &job).await?;
        }
    }
    Ok(())
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
