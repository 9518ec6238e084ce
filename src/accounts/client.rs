//! Where a request came from.

/// Where a request came from: recorded with sessions and audit events, and the key of the
/// per-client rate limits.
#[derive(Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The device token the client holds, if any (see the throttle).
    pub device: Option<String>,
    /// The language the client asks for (`Accept-Language`), when gatehouse speaks it: a new
    /// account's, and that of emails to an address with no account yet.
    pub locale: Option<crate::i18n::Locale>,
}

impl ClientInfo {
    /// Where the request came from, as an outcome records it.
    pub fn origin(&self) -> crate::model::outcome::Origin {
        crate::model::outcome::Origin {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

impl std::fmt::Debug for ClientInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInfo")
            .field("ip", &self.ip)
            .field("request_id", &self.request_id)
            .field("device", &self.device.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}
