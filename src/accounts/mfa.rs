//! Second factors: TOTP enrolment and removal, recovery codes, the second step of a login,
//! and step-up (a fresh authentication of the session before a sensitive change).
//!
//! - A TOTP code is accepted once: the factor keeps the last time step it accepted, and a code
//!   of that step or an earlier one is refused ([`MfaStore::accept_totp_step`], one
//!   conditional write, so it holds for two requests at once on any replicas).
//! - A login whose password is right but whose account has a factor gets a challenge (the
//!   `mfa_token`): single use, [`CHALLENGE_TTL`], at most [`MAX_ATTEMPTS`] wrong codes; wrong
//!   codes also count towards a per-account lockout in the shared limiter.
//! - Sessions remember how they were authenticated ([`SessionAuth`]); a step-up requires the
//!   last authentication to be within the reauthentication window, and at level 2 when the
//!   account has a factor.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

use super::access::matrix::Operation;
use super::throttle::Action;
use super::{Authentication, Caller, ClientInfo, Core, Error, Result, TokenPair};
use crate::config::MfaPolicy;
use crate::model::account::{Account, AccountKey, Status};
use crate::model::outcome::{Effects, Kind, Outcome};
use crate::sessions::SessionAuth;
use crate::store::mfa::{Factors, NewChallenge};
use crate::tokens::opaque::{OpaqueToken, TokenHash, plausible};
use crate::tokens::{recovery, totp};

/// How long a login may wait for its second factor.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(300);
/// Wrong codes one challenge takes before it is spent.
pub const MAX_ATTEMPTS: u32 = 5;

/// Whether `policy` requires `account` to have a second factor. A login of such an account
/// without one gets an enrolment-only session: level [`ENROLMENT_ONLY`], good for enrolling a
/// factor (and logging out) and nothing else until then.
pub fn covers(policy: MfaPolicy, account: &Account) -> bool {
    match policy {
        MfaPolicy::None => false,
        MfaPolicy::Admins => super::access::has_admin_role(account),
        MfaPolicy::All => true,
    }
}

/// The assurance level of an enrolment-only session.
pub const ENROLMENT_ONLY: u8 = 0;

/// A second factor as presented.
#[derive(Debug)]
pub enum SecondFactor {
    Totp(SecretString),
    RecoveryCode(SecretString),
    /// A passkey's assertion, answering `POST /auth/webauthn/options`.
    Webauthn(Box<webauthn_rs::prelude::PublicKeyCredential>),
}

impl SecondFactor {
    fn method(&self) -> &'static str {
        match self {
            SecondFactor::Totp(_) => "totp",
            SecondFactor::RecoveryCode(_) => "recovery_code",
            SecondFactor::Webauthn(_) => "webauthn",
        }
    }
}

/// A proof presented for a step-up or to remove a factor.
#[derive(Debug)]
pub enum Proof {
    Password(SecretString),
    Factor(SecondFactor),
}

/// A TOTP enrolment begun: what the authenticator app needs.
#[derive(Debug)]
pub struct Enrolment {
    /// The secret, base32, for typing in.
    pub secret: SecretString,
    /// The `otpauth://` URI, for a QR code.
    pub otpauth_uri: SecretString,
}

/// A login that needs its second factor: the challenge and the methods it accepts.
#[derive(Debug)]
pub struct MfaChallenge {
    pub mfa_token: SecretString,
    pub methods: Vec<&'static str>,
}

/// A fresh access token after a step-up.
#[derive(Debug)]
pub struct Reauthenticated {
    pub access_token: String,
    pub expires_in: u64,
}

/// The methods a login of an account with `factors` may finish with.
fn methods(factors: &Factors) -> Vec<&'static str> {
    let mut methods = Vec::new();
    if factors.totp {
        methods.push("totp");
    }
    if factors.passkeys > 0 {
        methods.push("webauthn");
    }
    if factors.recovery_codes > 0 {
        methods.push("recovery_code");
    }
    methods
}

/// `auth` after a second factor whose RFC 8176 method is `method` (`otp`, `hwk`, `swk`):
/// level 2, with it and `mfa` among the methods.
pub(super) fn with_second_factor(mut amr: Vec<String>, method: &str, at: DateTime<Utc>) -> SessionAuth {
    for method in [method, "mfa"] {
        if !amr.iter().any(|m| m == method) {
            amr.push(method.to_owned());
        }
    }
    SessionAuth::second_factor(amr, at)
}

fn unix(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or_default()
}

impl Core {
    /// Refuses a sensitive change unless the session was authenticated within the
    /// reauthentication window and, when the account has a factor, at level 2.
    pub(super) fn require_step_up(&self, caller: &Caller, factors: Option<Factors>) -> Result<()> {
        // A key proves no recent login, and never will: what takes a step-up takes a login.
        let session = caller.own_session()?;
        let window = chrono::Duration::from_std(self.policy.reauth_window).unwrap_or(chrono::Duration::minutes(5));
        // An account with a second factor needs it proved recently, not only the password: a
        // password alone refreshes level 1, never level 2.
        let needs_second = factors.as_ref().is_some_and(Factors::any);
        let proved = if needs_second { session.auth.second_factor_at } else { Some(session.auth.at) };
        if proved.is_none_or(|at| self.now() - at > window) {
            return Err(Error::ReauthenticationRequired);
        }
        self.require_level(session.auth.aal, factors)
    }

    /// Refuses a change made at level 1 (or without a session: `aal` 0) to an account with a
    /// factor.
    pub(super) fn require_level(&self, aal: u8, factors: Option<Factors>) -> Result<()> {
        match factors {
            Some(factors) if factors.any() && aal < 2 => Err(Error::ReauthenticationRequired),
            _ => Ok(()),
        }
    }
}

impl Authentication {
    /// The caller's factors.
    pub async fn factors(&self, caller: &Caller) -> Result<Factors> {
        Ok(self.store.factors(caller.account_id).await?)
    }

    /// Starts a TOTP enrolment after checking the password; the factor counts only once
    /// confirmed. Starting again replaces an unconfirmed secret.
    pub async fn begin_totp(&self, caller: &Caller, password: SecretString) -> Result<Enrolment> {
        self.admit(caller, Operation::Totp).await?;
        let account = self.check_password(caller, password).await?;
        let secret = totp::new_secret();
        let sealed = self.sealer.seal(&secret, account.id.as_bytes());
        if !self.store.begin_totp(account.id, &sealed, self.now()).await? {
            return Err(Error::MfaAlreadyEnabled);
        }
        let issuer = self.settings.public_url.host_str().unwrap_or("gatehouse");
        let otpauth_uri = totp::otpauth_uri(&secret, issuer, &account.email)?;
        Ok(Enrolment { secret: totp::base32(&secret).into(), otpauth_uri: otpauth_uri.into() })
    }

    /// Confirms the enrolment with a code from the app: the factor counts from now, the
    /// session is at level 2, and a set of recovery codes comes back, shown this once.
    pub async fn confirm_totp(&self, caller: &Caller, code: SecretString, client: &ClientInfo) -> Result<Vec<String>> {
        caller.refuse_key()?;
        let account = self.me(caller).await?;
        let stored = self.store.totp(account.id).await?.filter(|t| !t.confirmed).ok_or(Error::MfaNotEnabled)?;
        let secret = self.sealer.open(&stored.secret, account.id.as_bytes()).map_err(anyhow::Error::new)?;
        let now = self.now();
        let step = totp::matching_step(&secret, code.expose_secret(), unix(now)).ok_or(Error::InvalidCode)?;
        let codes = recovery::generate();
        let hashes: Vec<[u8; 32]> = codes.iter().map(|c| recovery::hash(account.id, c)).collect();
        let notice = self.email(&account.email, self.policy.letters(account.locale).mfa_enabled(), now);
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        let enabled = self.outcome(Kind::MfaEnabled, Some(account.id), client).with("method", "totp");
        let effects = Effects::of(enabled).email(notice);
        if !self.commit(&effects, self.store.confirm_totp(account.id, step, &hashes, now, &effects)).await? {
            return Err(Error::MfaNotEnabled);
        }
        let session = caller.session()?;
        let auth = SessionAuth {
            org: session.auth.org,
            act: session.auth.act,
            ..with_second_factor(session.auth.amr.clone(), "otp", now)
        };
        self.sessions.set_session_auth(session.id, &auth).await?;
        tracing::info!(account_id = %account.id, "second factor enabled");
        Ok(codes)
    }

    /// Removes the caller's TOTP factor and recovery codes. The proof is a code of the factor,
    /// or the password from a session already at level 2.
    pub async fn disable_totp(&self, caller: &Caller, proof: Proof, client: &ClientInfo) -> Result<()> {
        caller.refuse_key()?;
        let account = match proof {
            Proof::Password(password) => {
                let account = self.check_password(caller, password).await?;
                if caller.aal() < 2 {
                    return Err(Error::ReauthenticationRequired);
                }
                account
            }
            Proof::Factor(factor) => {
                let account = self.me(caller).await?;
                if !self.store.factors(account.id).await?.any() {
                    return Err(Error::MfaNotEnabled);
                }
                self.check_second_factor(&account, &factor, client).await?;
                account
            }
        };
        let notice = self.email(&account.email, self.policy.letters(account.locale).mfa_disabled(false), self.now());
        let disabled = self.outcome(Kind::MfaDisabled, Some(account.id), client).with("method", "totp");
        let effects = Effects::of(disabled).email(notice);
        if !self.commit(&effects, self.store.remove_factors(account.id, false, &effects)).await? {
            return Err(Error::MfaNotEnabled);
        }
        tracing::info!(account_id = %account.id, "second factor removed");
        Ok(())
    }

    /// A new set of recovery codes (step-up); the old set dies.
    pub async fn new_recovery_codes(&self, caller: &Caller, client: &ClientInfo) -> Result<Vec<String>> {
        caller.refuse_key()?;
        let factors = self.store.factors(caller.account_id).await?;
        if !factors.any() {
            return Err(Error::MfaNotEnabled);
        }
        self.require_step_up(caller, Some(factors))?;
        let codes = recovery::generate();
        let hashes: Vec<[u8; 32]> = codes.iter().map(|c| recovery::hash(caller.account_id, c)).collect();
        let renewed = Effects::of(self.outcome(Kind::MfaRecoveryCodesRenewed, Some(caller.account_id), client));
        self.commit(&renewed, self.store.replace_recovery_codes(caller.account_id, &hashes, self.now(), &renewed))
            .await?;
        Ok(codes)
    }

    /// Authenticates the session afresh (a step-up): the password refreshes the time, a
    /// second factor also raises the session to level 2. Returns an access token carrying
    /// the new level.
    pub async fn reauthenticate(&self, caller: &Caller, proof: Proof, client: &ClientInfo) -> Result<Reauthenticated> {
        let session = caller.own_session()?;
        let now = self.now();
        let (account, auth) = match proof {
            Proof::Password(password) => {
                let account = self.check_password(caller, password).await?;
                (account, SessionAuth { at: now, ..session.auth.clone() })
            }
            Proof::Factor(factor) => {
                let account = self.me(caller).await?;
                let method = self.check_second_factor(&account, &factor, client).await?;
                (
                    account,
                    SessionAuth {
                        org: session.auth.org,
                        act: session.auth.act,
                        ..with_second_factor(session.auth.amr.clone(), method, now)
                    },
                )
            }
        };
        if !self.sessions.set_session_auth(session.id, &auth).await? {
            return Err(Error::Unauthorized);
        }
        self.note(
            self.outcome(Kind::Reauthenticated, Some(account.id), client)
                .detail(json!({ "session_id": session.id, "aal": auth.aal })),
        );
        let (access_token, expires_in) =
            self.sign_access_token(&account, session.id, session.expires_at, &auth, now).await?;
        Ok(Reauthenticated { access_token, expires_in })
    }

    /// After the right password of an account with a factor: the challenge the second step
    /// answers. `None` when the account has no factor.
    pub(super) async fn challenge_if_needed(
        &self,
        account: &Account,
        first_factor: &str,
    ) -> Result<Option<MfaChallenge>> {
        let factors = self.store.factors(account.id).await?;
        if !factors.any() {
            return Ok(None);
        }
        let token = OpaqueToken::generate();
        let now = self.now();
        let challenge = NewChallenge {
            hash: token.hash,
            account_id: account.id,
            first_factor: first_factor.to_owned(),
            created_at: now,
            expires_at: now + chrono::Duration::from_std(CHALLENGE_TTL).unwrap_or(chrono::Duration::minutes(5)),
        };
        self.store.insert_challenge(&challenge).await?;
        Ok(Some(MfaChallenge { mfa_token: token.secret, methods: methods(&factors) }))
    }

    /// The second step of a login: the challenge and a second factor give the token pair.
    /// With `org`, the session starts in that organization, as [`Self::log_in`]'s.
    pub async fn complete_login(
        &self,
        mfa_token: &str,
        factor: SecondFactor,
        org: Option<&str>,
        client: ClientInfo,
    ) -> Result<TokenPair> {
        let result = self.try_complete_login(mfa_token, &factor, org, &client).await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(Error::InvalidCode) => "invalid_code",
            Err(Error::MfaTokenInvalid) => "mfa_token_invalid",
            Err(Error::RateLimited { .. }) => "rate_limited",
            Err(_) => "error",
        };
        crate::metrics::event("gatehouse_second_factor_total", "outcome", outcome);
        result
    }

    async fn try_complete_login(
        &self,
        mfa_token: &str,
        factor: &SecondFactor,
        org: Option<&str>,
        client: &ClientInfo,
    ) -> Result<TokenPair> {
        self.per_ip(Action::Login, client).await?;
        if !plausible(mfa_token) {
            return Err(Error::MfaTokenInvalid);
        }
        let hash = TokenHash::of(mfa_token);
        let now = self.now();
        let claimed = self.store.claim_challenge(&hash, MAX_ATTEMPTS, now).await?.ok_or(Error::MfaTokenInvalid)?;
        let checked = async {
            let found = self.store.find_account(&AccountKey::Id(claimed.account_id)).await?.map(|c| c.account);
            let account = match found {
                Some(account) if account.status == Status::Active => account,
                Some(account) if account.status == Status::Disabled => return Err(Error::Disabled),
                _ => return Err(Error::MfaTokenInvalid),
            };
            // The organization first: a wrong one must not spend the code it came with.
            let org = self.login_org(&account, org, std::slice::from_ref(&claimed.first_factor), 2).await?;
            let method = self.check_second_factor(&account, factor, client).await?;
            Ok((account, method, org))
        };
        let (account, method, org) = match checked.await {
            Ok(checked) => checked,
            Err(error) => {
                // A wrong code counts against the challenge; any other failure (the lockout, an
                // outage) leaves it for another attempt.
                self.store.release_challenge(&hash, matches!(error, Error::InvalidCode)).await?;
                return Err(error);
            }
        };
        let auth = SessionAuth { org, ..with_second_factor(vec![claimed.first_factor], method, self.now()) };
        self.start_session(account, auth, client, json!({ "second_factor": factor.method() })).await
    }

    /// Checks a second factor of `account`, spending what it presents (the TOTP time step, the
    /// recovery code, the passkey's challenge); its RFC 8176 method. A wrong one counts towards
    /// the account's lockout and is audited.
    async fn check_second_factor(
        &self,
        account: &Account,
        factor: &SecondFactor,
        client: &ClientInfo,
    ) -> Result<&'static str> {
        self.throttle.second_factor_gate(account.id).await?;
        let right = match factor {
            SecondFactor::Totp(code) => self.accept_totp(account.id, code.expose_secret()).await?.then_some("otp"),
            SecondFactor::RecoveryCode(code) => {
                self.spend_recovery_code(account, code.expose_secret()).await?.then_some("otp")
            }
            SecondFactor::Webauthn(credential) => self
                .verify_passkey(account, credential, client)
                .await?
                .map(|hardware| if hardware { "hwk" } else { "swk" }),
        };
        if let Some(method) = right {
            self.throttle.second_factor_succeeded(account.id).await?;
            return Ok(method);
        }
        tracing::info!(account_id = %account.id, method = factor.method(), "second factor refused");
        self.throttle.second_factor_failed(account.id).await?;
        self.note(self.outcome(Kind::MfaFailed, Some(account.id), client).detail(json!({ "method": factor.method() })));
        Err(Error::InvalidCode)
    }

    /// Whether `code` is a TOTP code of the account not accepted before; accepting it.
    async fn accept_totp(&self, account_id: Uuid, code: &str) -> Result<bool> {
        let Some(stored) = self.store.totp(account_id).await?.filter(|t| t.confirmed) else { return Ok(false) };
        let secret = self.sealer.open(&stored.secret, account_id.as_bytes()).map_err(anyhow::Error::new)?;
        let Some(step) = totp::matching_step(&secret, code, unix(self.now())) else { return Ok(false) };
        Ok(self.store.accept_totp_step(account_id, i64::try_from(step).unwrap_or(i64::MAX)).await?)
    }

    /// Whether `code` is an unspent recovery code of the account; spending it and telling the
    /// owner how many are left.
    async fn spend_recovery_code(&self, account: &Account, code: &str) -> Result<bool> {
        let unspent = self.store.recovery_codes(account.id).await?;
        let Some(hash) = recovery::find(account.id, code, &unspent) else { return Ok(false) };
        let left = unspent.len().saturating_sub(1);
        let notice =
            self.email(&account.email, self.policy.letters(account.locale).recovery_code_used(left), self.now());
        let effects = Effects::none().email(notice);
        Ok(self.commit(&effects, self.store.spend_recovery_code(account.id, &hash, &effects, self.now())).await?)
    }

    /// The caller's account, after checking its password. A wrong one answers
    /// `invalid_credentials` and counts in the same per-account run as wrong codes, so a stolen
    /// access token is no way to guess the password at leisure.
    async fn check_password(&self, caller: &Caller, password: SecretString) -> Result<Account> {
        self.throttle.second_factor_gate(caller.account_id).await?;
        let found = self.store.find_account(&AccountKey::Id(caller.account_id)).await?;
        match self.verify_credentials(found, password).await {
            Ok((account, _)) => Ok(account),
            Err(Error::InvalidCredentials) => {
                self.throttle.second_factor_failed(caller.account_id).await?;
                Err(Error::InvalidCredentials)
            }
            Err(other) => Err(other),
        }
    }

    /// Removes every factor of an account (an admin's reset); the owner is told.
    pub(super) async fn reset_factors(&self, account: &Account, reset: Outcome) -> Result<bool> {
        let notice = self.email(&account.email, self.policy.letters(account.locale).mfa_disabled(true), self.now());
        let effects = Effects::of(reset).email(notice);
        Ok(self.commit(&effects, self.store.remove_factors(account.id, true, &effects)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_factor_raises_the_level_and_adds_its_methods_once() {
        let at = chrono::Utc::now();
        let auth = with_second_factor(vec!["pwd".into()], "otp", at);
        assert_eq!(auth, SessionAuth::second_factor(vec!["pwd".into(), "otp".into(), "mfa".into()], at));
        assert_eq!(with_second_factor(auth.amr.clone(), "otp", at).amr, auth.amr);
        assert_eq!(with_second_factor(vec!["pwd".into()], "hwk", at).amr, ["pwd", "hwk", "mfa"]);
    }

    #[test]
    fn recovery_codes_are_offered_only_while_some_are_left() {
        assert_eq!(methods(&Factors { totp: true, recovery_codes: 3, passkeys: 0 }), ["totp", "recovery_code"]);
        assert_eq!(methods(&Factors { totp: true, recovery_codes: 0, passkeys: 0 }), ["totp"]);
        assert_eq!(methods(&Factors { totp: false, recovery_codes: 0, passkeys: 2 }), ["webauthn"]);
    }
}
