//! Second factors as they are kept: the sealed TOTP secret with the last time step it
//! accepted, what factors an account has, and the logins waiting for a second factor.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::token::TokenHash;

/// An account's TOTP factor as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTotp {
    /// The sealed secret.
    pub secret: Vec<u8>,
    /// Enrolment was confirmed with a code: the factor counts.
    pub confirmed: bool,
    /// The time step of the last code accepted.
    pub last_step: Option<i64>,
}

/// What second factors an account has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Factors {
    /// A confirmed TOTP factor.
    pub totp: bool,
    /// Unspent recovery codes.
    pub recovery_codes: u32,
    /// Passkeys.
    pub passkeys: u32,
}

impl Factors {
    /// Whether a login needs a second factor.
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

/// A login waiting for its second factor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChallenge {
    pub hash: TokenHash,
    pub account_id: Uuid,
    /// The RFC 8176 method of the first factor (`pwd`).
    pub first_factor: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A challenge claimed for one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub account_id: Uuid,
    pub first_factor: String,
}
