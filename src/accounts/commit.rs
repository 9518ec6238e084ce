//! A change's one step: the store writes it with what tells of it (its effects) in one
//! transaction, and once it made the change, what follows from its outcomes is settled.

use super::{Core, Result};
use crate::model::outcome::{Effects, Outcome};
use crate::store::error::StoreResult;

/// Whether a store write made its change, and so wrote the effects it was given with it: what
/// [`Core::commit`] settles on.
pub(super) trait Wrote {
    fn wrote(&self) -> bool;
}

impl Wrote for () {
    fn wrote(&self) -> bool {
        true
    }
}

impl Wrote for bool {
    fn wrote(&self) -> bool {
        *self
    }
}

impl<T> Wrote for Option<T> {
    fn wrote(&self) -> bool {
        self.is_some()
    }
}

/// A write that answers what it made: it made it.
macro_rules! always_wrote {
    ($($made:ty),*) => {$(
        impl Wrote for $made {
            fn wrote(&self) -> bool {
                true
            }
        }
    )*};
}
always_wrote!(crate::model::account::Account, crate::model::invitation::Invitation, crate::model::org::Organization);

/// A write that answers how it went: it made its change only in the variant named.
macro_rules! wrote_when {
    ($($answer:ty => $made:pat),* $(,)?) => {$(
        impl Wrote for $answer {
            fn wrote(&self) -> bool {
                matches!(self, $made)
            }
        }
    )*};
}
wrote_when!(
    crate::model::email_change::Redeemed => crate::model::email_change::Redeemed::Changed { .. },
    crate::model::domain::DomainVerification => crate::model::domain::DomainVerification::Verified(_),
    crate::model::domain::AutoJoinChange => crate::model::domain::AutoJoinChange::Done(_),
    crate::model::domain::AutoJoined => crate::model::domain::AutoJoined::Joined(_),
    crate::model::invitation::Acceptance => crate::model::invitation::Acceptance::Joined(_),
    crate::model::identity::Unlink => crate::model::identity::Unlink::Removed,
    crate::model::org::RoleRemoval => crate::model::org::RoleRemoval::Done,
    crate::model::org::MemberChange => crate::model::org::MemberChange::Done,
    crate::model::scim::Provisioned => crate::model::scim::Provisioned::Done,
    crate::model::scim::UserWrite => crate::model::scim::UserWrite::Done,
    crate::model::scim::GroupWrite => crate::model::scim::GroupWrite::Done,
);

/// Adds one to the outcome's counter, if it has one.
fn count(outcome: &Outcome) {
    if let Some(counter) = outcome.counter() {
        match counter.label {
            Some((label, value)) => crate::metrics::event(counter.name, label, value),
            None => crate::metrics::count(counter.name),
        }
    }
}

impl Core {
    /// Writes the outcomes of a change the database did not make (a session starts or ends in
    /// the session store, which may be Redis; an admin ends sessions or imports accounts), right after it:
    /// their audit rows and webhook jobs in one transaction. Should that fail, the request
    /// fails: no token goes out for a login nobody was told of.
    pub(super) async fn tell(&self, effects: Effects) -> Result<()> {
        Ok(self.commit(&effects, self.store.record(&effects)).await?)
    }

    /// Commits a change: `write` is the store's write of it, given `effects` to write in its
    /// own transaction; once it has made the change ([`Wrote`]), what follows from the outcomes
    /// is settled. A change and what it tells are one step: no use case settles by hand
    /// (`tests/architecture.rs`).
    pub(super) async fn commit<T: Wrote>(
        &self,
        effects: &Effects,
        write: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let done = write.await?;
        if done.wrote() {
            self.settle(effects).await;
        }
        Ok(done)
    }

    /// An outcome that changed nothing (a refused attempt, a request): its audit row goes
    /// through the batching writer, so that a flood of refused logins costs no write each.
    pub(super) fn note(&self, outcome: Outcome) {
        debug_assert!(outcome.webhooks().is_empty() && !outcome.kind.changes_account());
        count(&outcome);
        self.audit.record(outcome.audit());
    }

    /// After a change and its effects are committed: what the tables derive from its outcomes
    /// beside the rows (the counters, the session store's stale copy of the account) and the
    /// outbox's wake-up for its emails.
    async fn settle(&self, effects: &Effects) {
        for outcome in &effects.outcomes {
            count(outcome);
            if let (true, Some(account)) = (outcome.kind.changes_account(), outcome.account_id) {
                self.account_changed(account).await;
            }
        }
        for email in &effects.emails {
            crate::metrics::event("gatehouse_emails_queued_total", "kind", email.kind);
        }
        if !effects.emails.is_empty() {
            self.outbox.wake();
        }
    }
}
