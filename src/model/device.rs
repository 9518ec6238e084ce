//! The device authorization grant (RFC 8628): a device (a TV, a CLI on a server) asks for a
//! pair of codes, shows the short one to a person, who approves it in a browser elsewhere,
//! while the device polls the token endpoint with the long one.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::token::TokenHash;

/// The grant type a client polls with, and registers for.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The letters of a user code: no vowels (no words), nothing easily read as another letter.
pub const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Eight of them: 20^8, about 2^34.6, against a handful of guesses a minute per IP and account.
pub const USER_CODE_LEN: usize = 8;
/// How long a pair of codes waits for the person.
pub const DEVICE_CODE_TTL_SECS: i64 = 600;
/// The least interval between two polls, in seconds; `slow_down` adds five.
pub const POLL_INTERVAL_SECS: i64 = 5;
/// How many times the approval page may be shown for one code before it is void: a code
/// passed round to many people is not approved by the last of them.
pub const MAX_VIEWS: i64 = 5;

/// Where a device's request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceState {
    Pending,
    Approved,
    Denied,
    /// Its tokens were handed out.
    Spent,
}

impl DeviceState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Pending => "pending",
            DeviceState::Approved => "approved",
            DeviceState::Denied => "denied",
            DeviceState::Spent => "spent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Denied, Self::Spent].into_iter().find(|s| s.as_str() == text)
    }
}

/// A device's request, as kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCode {
    pub device_hash: TokenHash,
    pub user_hash: TokenHash,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub state: DeviceState,
    /// Who approved it, and how they had logged in (`SessionAuth`'s stored form).
    pub account_id: Option<Uuid>,
    pub auth: Option<String>,
    pub views: i64,
    pub polls: i64,
    pub interval_secs: i64,
    pub polled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The person's answer on the approval page.
#[derive(Clone, Debug)]
pub enum DeviceDecision {
    Approve { account_id: Uuid, auth: String },
    Deny,
}

/// A user code as people type it: letters of the alphabet only, case and dashes or spaces
/// ignored; `None` when it cannot be one.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| !matches!(c, '-' | ' ')).map(|c| c.to_ascii_uppercase()).collect();
    let fits = code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    fits.then_some(code)
}

/// A user code as shown: `WDJB-MJHT`.
pub fn display_user_code(code: &str) -> String {
    let (head, tail) = code.split_at(code.len() / 2);
    format!("{head}-{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_read_as_people_type_them() {
        assert_eq!(normalize_user_code("wdjb-mjht").as_deref(), Some("WDJBMJHT"));
        assert_eq!(normalize_user_code(" WDJB MJHT ").as_deref(), Some("WDJBMJHT"));
        assert_eq!(display_user_code("WDJBMJHT"), "WDJB-MJHT");
        for bad in ["WDJB-MJH", "WDJB-MJHTX", "WAJB-MJHT", "WDJB-MJH1", "", "WDJB_MJHT"] {
            assert_eq!(normalize_user_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn states_read_back() {
        for state in [DeviceState::Pending, DeviceState::Approved, DeviceState::Denied, DeviceState::Spent] {
            assert_eq!(DeviceState::parse(state.as_str()), Some(state));
        }
    }
}
