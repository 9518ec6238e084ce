//! Rate limits and the login lockout, as the account rules apply them.
//!
//! - Every rate-limited action has a budget per client IP; past it, `429` with `Retry-After`.
//! - Emails sent on request (activation links, reset links, "someone tried to sign up with
//!   your address") have a budget per recipient; past it the request is still answered as
//!   usual but nothing is sent, so the budget neither reveals whether an account exists nor
//!   lets anyone flood an inbox.
//! - Failed logins are counted per login name (whether or not such an account exists, so the
//!   answers reveal nothing) twice: per client (device, else IP) and account-wide. Past the free
//!   failures each one adds a doubling delay, during which attempts get `429` without the
//!   password being checked. A device that has logged in to the account before (it holds a
//!   device token) is not held back by the account-wide delay that others cause, so an
//!   attacker elsewhere cannot lock the owner out.
//!
//! Keys are digests: the limit store never sees an address, a login name or an IP.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::client::ClientInfo;
use super::error::{Error, Result};
use crate::clock::Clock;
use crate::config::RateLimits;
use crate::limits::{Budget, Decision, FailureState, LimitStore};
use crate::tokens::mac::{MacKey, same};
use crate::tokens::opaque::OpaqueToken;

/// The actions with a per-IP budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Login,
    SignUp,
    Resend,
    Forgot,
    Refresh,
    /// Asking for a login link and code by email (the password-reset budget).
    EmailLogin,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::SignUp => "signup",
            Action::Resend => "resend",
            Action::Forgot => "forgot",
            Action::Refresh => "refresh",
            Action::EmailLogin => "email_login",
        }
    }
}

/// The checks to make around one login attempt, keyed by the login name and the client.
#[derive(Debug, Clone)]
pub struct LoginGate {
    client_key: String,
    account_key: String,
    /// The client holds a device token for this login name.
    known_device: bool,
    /// Which runs of failures the gate saw, so that a success clears them without reading
    /// them again.
    client_failed: bool,
    account_failed: bool,
}

/// The throttle: the limit store and the configured budgets (`None`: limits are off).
#[derive(Clone, Debug)]
pub struct Throttle {
    store: Arc<dyn LimitStore>,
    limits: Option<RateLimits>,
    device_key: Arc<MacKey>,
    /// What "now" is (the system's time, unless a test moved it on).
    clock: Clock,
    /// Where one-time values are remembered when one process is the only one that can see them
    /// (a SQLite file, which one server holds alone): in its memory, at no write per value.
    /// `None`: in the limit store, which every replica shares.
    once: Option<Arc<std::sync::Mutex<OnceMemory>>>,
}

/// One-time values seen by this process, each with when it may be forgotten (Unix ms).
#[derive(Debug, Default)]
pub struct OnceMemory {
    until: std::collections::HashMap<String, i64>,
    inserts: usize,
}

/// The most one-time values held at once: past it (after forgetting the expired ones), a new one
/// is refused rather than the memory growing without bound.
const ONCE_MEMORY_MAX: usize = 1_000_000;

impl OnceMemory {
    /// Whether `key` is new now; then it is remembered until `until_ms`.
    fn first(&mut self, key: String, now_ms: i64, until_ms: i64) -> bool {
        if self.until.get(&key).is_some_and(|until| *until > now_ms) {
            return false;
        }
        self.inserts += 1;
        if self.inserts.is_multiple_of(4096) || self.until.len() >= ONCE_MEMORY_MAX {
            self.until.retain(|_, until| *until > now_ms);
        }
        if self.until.len() >= ONCE_MEMORY_MAX {
            tracing::warn!("too many one-time values to remember at once; this one is refused");
            return false;
        }
        self.until.insert(key, until_ms);
        true
    }
}

/// `namespace:digest(parts)`; the digest keeps raw identifiers out of the limit store.
fn key(namespace: &str, parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("{namespace}:{}", URL_SAFE_NO_PAD.encode(&hasher.finalize()[..18]))
}

impl Throttle {
    pub fn new(store: Arc<dyn LimitStore>, limits: Option<RateLimits>, device_key: MacKey, clock: Clock) -> Self {
        Self { store, limits, device_key: Arc::new(device_key), clock, once: None }
    }

    /// The same, remembering one-time values in this process's memory: only for a store no
    /// other process can use (a SQLite file, which one server holds alone).
    pub fn with_once_in_memory(self) -> Self {
        Self { once: Some(Arc::default()), ..self }
    }

    pub fn enabled(&self) -> bool {
        self.limits.is_some()
    }

    async fn take(&self, key: &str, budget: Budget) -> Result<Decision> {
        Ok(self.store.take(key, budget, self.clock.now_ms()).await?)
    }

    /// Takes one from an organization's budget for `what` (its invitations), whether or not the
    /// per-client limits are on: it bounds the mail one organization can make gatehouse send.
    pub async fn per_org(&self, what: &str, org_id: uuid::Uuid, budget: Budget) -> Result<()> {
        self.per_key(&format!("org:{what}"), &org_id.to_string(), budget, "org").await
    }

    /// Takes one from the budget of emails of `kind` to `address` (normalized) that an
    /// authenticated caller asks for (an invitation), with the limits on: refused with
    /// `RateLimited`, where anonymous requests are answered alike and simply not sent.
    pub async fn per_recipient(&self, kind: &str, address: &str) -> Result<()> {
        let Some(limits) = &self.limits else { return Ok(()) };
        self.per_key(&format!("mail:{kind}"), address, limits.email, "invitation").await
    }

    async fn per_key(&self, namespace: &str, part: &str, budget: Budget, action: &'static str) -> Result<()> {
        match self.take(&key(namespace, &[part]), budget).await? {
            Decision::Allowed => Ok(()),
            Decision::Limited { retry_after } => {
                crate::metrics::event("gatehouse_rate_limited_total", "action", action);
                tracing::info!(namespace, "an organization's or a recipient's budget was reached");
                Err(Error::RateLimited { retry_after })
            }
        }
    }

    /// Takes one request of `action` from the client IP's budget.
    pub async fn per_ip(&self, action: Action, client: &ClientInfo) -> Result<()> {
        let Some(limits) = &self.limits else { return Ok(()) };
        let Some(ip) = &client.ip else { return Ok(()) };
        let budget = match action {
            Action::Login => limits.login,
            Action::SignUp => limits.signup,
            Action::Resend => limits.resend,
            Action::Forgot | Action::EmailLogin => limits.forgot,
            Action::Refresh => limits.refresh,
        };
        match self.take(&key(&format!("ip:{}", action.as_str()), &[ip]), budget).await? {
            Decision::Allowed => Ok(()),
            Decision::Limited { retry_after } => {
                crate::metrics::event("gatehouse_rate_limited_total", "action", action.as_str());
                tracing::info!(action = action.as_str(), "rate limit reached for a client IP");
                Err(Error::RateLimited { retry_after })
            }
        }
    }

    /// Takes one request from a SCIM token's budget.
    pub async fn per_scim_token(&self, token_id: uuid::Uuid) -> Result<()> {
        let Some(limits) = &self.limits else { return Ok(()) };
        self.per_credential("scim", token_id, limits.scim).await
    }

    /// Takes one user code entered on `/device` from the budgets of the client IP and of the
    /// account: guessing codes is bounded for one address and for one account alike.
    pub async fn per_user_code(&self, account_id: uuid::Uuid, client: &ClientInfo) -> Result<()> {
        let Some(limits) = &self.limits else { return Ok(()) };
        if let Some(ip) = &client.ip {
            self.per_key("user_code:ip", ip, limits.user_code, "user_code").await?;
        }
        self.per_key("user_code:account", &account_id.to_string(), limits.user_code, "user_code").await
    }

    /// Takes one client registration (RFC 7591) from the client IP's budget: an IPv6 client's
    /// whole /64, which one host usually has to itself.
    pub async fn per_registration(&self, client: &ClientInfo) -> Result<()> {
        let Some(limits) = &self.limits else { return Ok(()) };
        let Some(ip) = &client.ip else { return Ok(()) };
        let network = match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
            _ => ip.clone(),
        };
        self.per_key("register:ip", &network, limits.register, "register").await
    }

    /// Whether this is the first use of `id` (a one-time value of kind `what`) on any replica,
    /// remembered for `lasting`, which must cover the value's whole life. Whether or not the
    /// per-client limits are on: single use is a guarantee, not a budget. A budget of one per
    /// `lasting` is exactly that, kept where the budgets are.
    pub async fn first_use(&self, what: &str, id: &str, lasting: Duration) -> Result<bool> {
        let key = key(&format!("once:{what}"), &[id]);
        if let Some(memory) = &self.once {
            let now = self.clock.now_ms();
            let until = now.saturating_add(i64::try_from(lasting.as_millis()).unwrap_or(i64::MAX));
            let mut memory = memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            return Ok(memory.first(key, now, until));
        }
        let once = Budget { count: 1, period: lasting };
        Ok(self.take(&key, once).await? == Decision::Allowed)
    }

    /// Takes one request from an API key's budget.
    pub async fn per_api_key(&self, key_id: uuid::Uuid) -> Result<()> {
        let Some(limits) = &self.limits else { return Ok(()) };
        self.per_credential("api_key", key_id, limits.api_key).await
    }

    async fn per_credential(&self, kind: &'static str, id: uuid::Uuid, budget: Budget) -> Result<()> {
        match self.take(&key(kind, &[&id.simple().to_string()]), budget).await? {
            Decision::Allowed => Ok(()),
            Decision::Limited { retry_after } => {
                crate::metrics::event("gatehouse_rate_limited_total", "action", kind);
                tracing::info!(kind, %id, "rate limit reached for a credential");
                Err(Error::RateLimited { retry_after })
            }
        }
    }

    /// Whether one more email of `kind` may go to `address` (normalized) now.
    pub async fn may_email(&self, kind: &str, address: &str) -> Result<bool> {
        let Some(limits) = &self.limits else { return Ok(true) };
        let allowed =
            matches!(self.take(&key(&format!("mail:{kind}"), &[address]), limits.email).await?, Decision::Allowed);
        if !allowed {
            crate::metrics::event("gatehouse_rate_limited_total", "action", "email");
            tracing::info!(kind, "email budget of a recipient reached; not sending");
        }
        Ok(allowed)
    }

    /// A device token for `login`: proof, on later attempts, that this client has logged in to
    /// the account before.
    pub fn device_token(&self, login: &str) -> String {
        let nonce = OpaqueToken::generate().expose().to_owned();
        let tag = self.device_key.tag(&[nonce.as_bytes(), b"\0", login.as_bytes()]);
        format!("{nonce}.{}", URL_SAFE_NO_PAD.encode(&tag[..16]))
    }

    /// The device id in `token` if it was issued for `login`.
    fn device_id<'a>(&self, token: &'a str, login: &str) -> Option<&'a str> {
        let (nonce, tag) = token.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let expected = self.device_key.tag(&[nonce.as_bytes(), b"\0", login.as_bytes()]);
        same(&expected[..16], &tag).then_some(nonce)
    }

    /// Before a password is checked: answers `RateLimited` while the login name is held back
    /// for this client. `login` is the normalized login name (email or username).
    pub async fn login_gate(&self, login: &str, client: &ClientInfo) -> Result<Option<LoginGate>> {
        if self.limits.is_none() {
            return Ok(None);
        }
        self.per_ip(Action::Login, client).await?;
        let device = client.device.as_deref().and_then(|token| self.device_id(token, login));
        let client_id = match (device, &client.ip) {
            (Some(device), _) => format!("device:{device}"),
            (None, Some(ip)) => format!("ip:{ip}"),
            (None, None) => "ip:unknown".to_owned(),
        };
        let client_key = key("fail:client", &[login, &client_id]);
        let account_key = key("fail:account", &[login]);
        let now = self.clock.now_ms();
        let client = self.store.failures(&client_key, now).await?;
        // A known device is not held back by the account-wide run, so it is not read for one.
        let account = match device {
            Some(_) => FailureState::default(),
            None => self.store.failures(&account_key, now).await?,
        };
        let wait = crate::limits::retry_after(client, now).max(crate::limits::retry_after(account, now));
        let gate = LoginGate {
            client_key,
            account_key,
            known_device: device.is_some(),
            client_failed: client.failures > 0,
            account_failed: account.failures > 0,
        };
        match wait {
            Some(retry_after) if retry_after > Duration::ZERO => {
                crate::metrics::event("gatehouse_rate_limited_total", "action", "login_lockout");
                Err(Error::RateLimited { retry_after })
            }
            _ => Ok(Some(gate)),
        }
    }

    /// After a wrong password (or an unknown login name): one more failure on both counters.
    pub async fn login_failed(&self, gate: &LoginGate) -> Result<()> {
        let Some(limits) = &self.limits else { return Ok(()) };
        let now = self.clock.now_ms();
        let client = self.store.record_failure(&gate.client_key, &limits.lockout_client, now).await?;
        let account = self.store.record_failure(&gate.account_key, &limits.lockout_account, now).await?;
        if client.locked_until_ms > now || account.locked_until_ms > now {
            tracing::info!(
                client_failures = client.failures,
                account_failures = account.failures,
                "repeated failed logins: further attempts are delayed"
            );
        }
        Ok(())
    }

    /// After a right password: the client's run of failures ends, and so does the account's
    /// when the client had to pass the account-wide check. A known device, which is let past
    /// that check, leaves the account's run alone: the owner logging in from their own browser
    /// must not hand an attacker elsewhere a fresh set of free guesses.
    pub async fn login_succeeded(&self, gate: &LoginGate) -> Result<()> {
        if gate.client_failed {
            self.store.clear(&gate.client_key).await?;
        }
        if gate.account_failed && !gate.known_device {
            self.store.clear(&gate.account_key).await?;
        }
        Ok(())
    }

    /// The key of an account's run of wrong second-factor codes.
    fn second_factor_key(account_id: uuid::Uuid) -> String {
        key("mfa:account", &[&account_id.to_string()])
    }

    /// Refuses a second-factor attempt while the account's run of wrong codes holds it back.
    pub async fn second_factor_gate(&self, account_id: uuid::Uuid) -> Result<()> {
        if self.limits.is_none() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let state = self.store.failures(&Self::second_factor_key(account_id), now).await?;
        match u64::try_from(state.locked_until_ms - now) {
            Ok(wait) if wait > 0 => {
                crate::metrics::event("gatehouse_rate_limited_total", "action", "second_factor");
                Err(Error::RateLimited { retry_after: Duration::from_millis(wait) })
            }
            _ => Ok(()),
        }
    }

    /// After a wrong second-factor code: one more failure in the account's run (the login
    /// lockout's per-client policy: a few free, then doubling delays).
    pub async fn second_factor_failed(&self, account_id: uuid::Uuid) -> Result<()> {
        let Some(limits) = &self.limits else { return Ok(()) };
        let state = self
            .store
            .record_failure(&Self::second_factor_key(account_id), &limits.lockout_client, self.clock.now_ms())
            .await?;
        if state.locked_until_ms > self.clock.now_ms() {
            tracing::info!(
                failures = state.failures,
                "repeated wrong second-factor codes: further attempts are delayed"
            );
        }
        Ok(())
    }

    /// After a right second-factor code: the account's run of wrong ones ends.
    pub async fn second_factor_succeeded(&self, account_id: uuid::Uuid) -> Result<()> {
        if self.limits.is_none() {
            return Ok(());
        }
        Ok(self.store.clear(&Self::second_factor_key(account_id)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::OnceMemory;

    #[test]
    fn a_one_time_value_is_taken_once_until_it_may_be_forgotten() {
        let mut memory = OnceMemory::default();
        assert!(memory.first("a".into(), 1_000, 2_000));
        assert!(!memory.first("a".into(), 1_999, 3_000), "seen, and still remembered");
        assert!(memory.first("b".into(), 1_999, 3_000), "another value");
        assert!(memory.first("a".into(), 2_000, 3_000), "forgotten once its time is over");
        assert!(!memory.first("a".into(), 2_500, 3_500));
    }
}
