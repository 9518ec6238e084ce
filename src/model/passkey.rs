//! Passkeys as they are kept, and the WebAuthn ceremonies waiting for a browser.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A stored passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub account_id: Uuid,
    pub credential_id: Vec<u8>,
    /// The credential as the WebAuthn library serialises it (public key, counter, flags).
    pub passkey: String,
    pub name: String,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What a ceremony is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ceremony {
    /// Adding a passkey to the account.
    Register,
    /// A passwordless login with a discoverable passkey.
    Login,
    /// A second factor (after a password) or a step-up, with the account's passkeys.
    Verify,
}

impl Ceremony {
    pub fn as_str(self) -> &'static str {
        match self {
            Ceremony::Register => "register",
            Ceremony::Login => "login",
            Ceremony::Verify => "verify",
        }
    }
}

/// A ceremony about to be stored.
#[derive(Clone, Debug)]
pub struct NewCeremony {
    /// SHA-256 of the challenge.
    pub hash: [u8; 32],
    pub account_id: Option<Uuid>,
    pub purpose: Ceremony,
    /// The library's server-side state, serialised.
    pub state: String,
    pub expires_at: DateTime<Utc>,
}
