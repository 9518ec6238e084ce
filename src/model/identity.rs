//! An account's identity at a social login provider, as its owner and admins see it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An account's identity at a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub id: Uuid,
    pub account_id: Uuid,
    /// The provider's configured name.
    pub provider: String,
    /// The address the provider gave when it was linked, for showing.
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}
