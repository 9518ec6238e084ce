//! The rate limits: every budget and the login lockout policy.

use std::time::Duration;

use super::read::Parser;
use crate::limits::{Budget, LockoutPolicy};

/// Every budget and the login lockout policy.
#[derive(Clone, Debug)]
pub struct RateLimits {
    pub login: Budget,
    pub signup: Budget,
    pub resend: Budget,
    pub forgot: Budget,
    pub refresh: Budget,
    /// Per SCIM token, and per API key.
    pub scim: Budget,
    pub api_key: Budget,
    /// User codes entered on `/device`, per client IP and per account.
    pub user_code: Budget,
    /// Client registrations per client IP.
    pub register: Budget,
    /// Per recipient address and kind of email sent on request.
    pub email: Budget,
    /// Failed logins for one account from one client (IP or device).
    pub lockout_client: LockoutPolicy,
    /// Failed logins for one account from anywhere.
    pub lockout_account: LockoutPolicy,
}

/// The budgets and lockout policy, or `None` with `GATEHOUSE_RATE_LIMIT=off`; every setting is
/// read (and its problem reported) either way.
pub(super) fn rate_limits(p: &mut Parser<'_>) -> Option<Option<RateLimits>> {
    use super::settings::*;
    let enabled = p.get(&RATE_LIMIT);
    let login = p.get(&RATE_LIMIT_LOGIN);
    let signup = p.get(&RATE_LIMIT_SIGNUP);
    let resend = p.get(&RATE_LIMIT_RESEND);
    let forgot = p.get(&RATE_LIMIT_FORGOT);
    let refresh = p.get(&RATE_LIMIT_REFRESH);
    let scim = p.get(&RATE_LIMIT_SCIM);
    let api_key = p.get(&RATE_LIMIT_API_KEY);
    let user_code = p.get(&RATE_LIMIT_USER_CODE);
    let register = p.get(&RATE_LIMIT_REGISTER);
    let email = p.get(&RATE_LIMIT_EMAIL);
    let client_failures = p.get(&LOCKOUT_FAILURES);
    let account_failures = p.get(&LOCKOUT_ACCOUNT_FAILURES);
    let max_delay = p.get(&LOCKOUT_MAX_DELAY)?;
    let lockout = |free| LockoutPolicy {
        free,
        base: Duration::from_secs(1),
        max: max_delay,
        forget_after: (max_delay * 2).max(Duration::from_secs(3600)),
    };
    Some(match enabled? {
        true => Some(RateLimits {
            login: login?,
            signup: signup?,
            resend: resend?,
            forgot: forgot?,
            refresh: refresh?,
            scim: scim?,
            api_key: api_key?,
            user_code: user_code?,
            register: register?,
            email: email?,
            lockout_client: lockout(client_failures?),
            lockout_account: lockout(account_failures?),
        }),
        false => None,
    })
}
