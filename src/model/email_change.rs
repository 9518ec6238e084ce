//! An email change's links: which of the two a token is, and the links as they are kept.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::account::Account;
use super::token::TokenHash;

/// The link to the new address confirms the change; the one to the old address undoes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Sent to the new address; following it makes the change.
    Confirm,
    /// Sent to the old address after a change; following it restores the old address.
    Revert,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Confirm => "confirm",
            ChangeKind::Revert => "revert",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confirm" => Some(ChangeKind::Confirm),
            "revert" => Some(ChangeKind::Revert),
            _ => None,
        }
    }
}

/// A change link about to be stored (only its hash). `email` is the address it sets, as typed.
#[derive(Debug, Clone)]
pub struct NewEmailChange {
    pub hash: TokenHash,
    pub account_id: Uuid,
    pub kind: ChangeKind,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored change link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChangeToken {
    pub account_id: Uuid,
    pub kind: ChangeKind,
    pub email: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// What following a link did.
#[derive(Debug)]
pub enum Redeemed {
    /// The address is now the link's; `previous` is the one it replaced.
    Changed { account: Account, previous: String },
    /// The link was spent already (by a concurrent request, say).
    AlreadySpent,
}
