//! The outbox: an email is a job of the job queue ([`super::jobs`]), written in the
//! transaction of the change that causes it.

use async_trait::async_trait;

use super::jobs::insert_job;
use super::{Dialect, Exec, SqlStore, Transaction};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::error::StoreResult;
use crate::store::outbox::{NewEmail, OutboxStore};

pub(super) async fn insert_email(tx: &mut impl Exec, email: &NewEmail) -> StoreResult<()> {
    insert_job(tx, &email.job()).await
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
}
