//! Login, refresh, the per-request token check, logout and the session list.
//!
//! An access token is a short-lived signed JWT naming its session; the session lives in the
//! session store. Checking both on every request gives the speed of a JWT and the instant
//! revocation of a server-side session.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use serde_json::json;

use super::authenticator::{Shape, shape};
use super::login::{LoginId, LoginStep, TokenPair};
use super::throttle::Action;
use super::{Authentication, Caller, CallerSession, ClientInfo, Core, Error, Result, Via};
use crate::model::account::{Account, AccountKey, Email, Status};
use crate::model::outcome::{Effects, Kind};
use crate::sessions::{AccountRead, LiveSession, NewSession, Rotation, SessionAuth, SessionInfo};

use crate::tokens::jwt::AccessClaims;
use crate::tokens::opaque::{OpaqueToken, TokenHash, plausible};

/// Sessions are marked used at most this often, so the per-request check stays a read.
const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

impl Core {
    /// The per-request check: signature, expiry, and a live session for the token's account;
    /// with it, what the session store holds of the account (see [`Caller::account`]). An
    /// enrolment-only session (see [`super::mfa::MfaPolicy`]) is refused.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        self.check(token, true).await?.enrolled()
    }

    /// The same check, for routes that need no more than the caller's ids: the session alone is
    /// read.
    pub async fn authenticate_session(&self, token: &str) -> Result<Caller> {
        self.check(token, false).await?.enrolled()
    }

    /// The check for the routes an enrolment-only session may use: enrolling a second factor,
    /// the session list, logout.
    pub async fn authenticate_enrolling(&self, token: &str) -> Result<Caller> {
        self.check(token, true).await
    }

    async fn check(&self, token: &str, with_account: bool) -> Result<Caller> {
        if shape(token) == Shape::ApiKey {
            return self.key_caller(token).await;
        }
        let claims = self.verify_token(token).await.map_err(|why| {
            tracing::debug!(%why, "access token refused");
            Error::Unauthorized
        })?;
        let mut caller = self.live_caller(claims.sid, claims.sub, with_account).await?;
        if let Via::Session(session) = &mut caller.via {
            session.token_expires_at = DateTime::from_timestamp(claims.exp, 0);
        }
        Ok(caller)
    }

    /// The caller of session `session_id` of `account_id`, if it is live (with what the session
    /// store read of the account, when `with_account`); marks it used now and then.
    pub(super) async fn live_caller(&self, session_id: Uuid, account_id: Uuid, with_account: bool) -> Result<Caller> {
        let now = self.now();
        let found = if with_account {
            self.sessions.live_session_and_account(session_id, account_id, now).await?
        } else {
            let session = self.sessions.live_session_of(session_id, account_id, now).await?;
            session.map(|session| (session, AccountRead::Unread { seen: None }))
        };
        let (session, account) = found.ok_or(Error::Unauthorized)?;
        if session.account_id != account_id {
            return Err(Error::Unauthorized);
        }
        // An impersonation lasts only while its admin is one: demoted or disabled, it ends.
        if let Some(admin) = session.auth.act {
            let found = self.store.find_account(&AccountKey::Id(admin)).await?.map(|c| c.account);
            if !found.is_some_and(|a| super::access::is_active_admin(&a)) {
                return Err(Error::Unauthorized);
            }
        }
        if now - session.last_used_at > TOUCH_INTERVAL {
            let (sessions, session_id) = (self.sessions.clone(), session.id);
            tokio::spawn(async move {
                if let Err(error) = sessions.touch_session(session_id, now).await {
                    tracing::debug!(%error, "could not mark the session used");
                }
            });
        }
        Ok(Caller {
            account_id,
            account,
            via: Via::Session(CallerSession {
                id: session_id,
                expires_at: session.expires_at,
                auth: session.auth,
                token_expires_at: None,
            }),
        })
    }

    /// The caller's own account, current: the one read with the session where the session
    /// store holds the accounts, else from the database.
    pub async fn me(&self, caller: &Caller) -> Result<Account> {
        if let AccountRead::Current(account) = &caller.account {
            return Ok(account.clone());
        }
        self.stored_account(caller.account_id).await
    }

    /// The caller's account as the database has it (gone: the token is no longer good).
    pub(crate) async fn stored_account(&self, account_id: Uuid) -> Result<Account> {
        let found = self.store.find_account(&AccountKey::Id(account_id)).await?;
        found.map(|c| c.account).ok_or(Error::Unauthorized)
    }

    /// The caller's own account, to show it to its owner (`GET /user`, the greeting at `GET /`):
    /// the one read with the session, or its copy, else the database's, of which the session
    /// store then keeps a copy.
    pub async fn into_me(&self, caller: Caller) -> Result<Account> {
        match caller.account {
            AccountRead::Current(account) | AccountRead::Copy(account) => Ok(account),
            AccountRead::Unread { seen } => {
                let account = self.stored_account(caller.account_id).await?;
                if let Some(seen) = seen
                    && let Err(error) = self.sessions.keep_account_copy(&account, &seen).await
                {
                    tracing::debug!(%error, "could not keep a copy of the account");
                }
                Ok(account)
            }
        }
    }

    /// After any change to an account: marks the session store's copy of it stale. The change
    /// is made by then, so a failure is reported, not returned: the owner may see the old
    /// account in `GET /user` until the copy expires.
    pub(crate) async fn account_changed(&self, account_id: Uuid) {
        if let Err(error) = self.sessions.drop_account_copy(account_id).await {
            tracing::warn!(%error, %account_id, "could not mark the copy of the account stale; it shows until it expires");
        }
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

impl Authentication {
    /// Checks the password and starts a session. An unknown account costs the same time as a
    /// wrong password and gets the same answer; both count towards the login lockout.
    /// With `org` (an organization's id or slug), the session starts in it: the caller must be
    /// a member (`NotAMember`, checked once the password is).
    pub async fn log_in(
        &self,
        id: LoginId,
        password: SecretString,
        org: Option<&str>,
        client: ClientInfo,
    ) -> Result<LoginStep> {
        let result = self.try_log_in(id, password, org, &client).await;
        let outcome = match &result {
            Ok(LoginStep::Session(_)) => "success",
            Ok(LoginStep::SecondFactor(_)) => "mfa_required",
            Err(Error::InvalidCredentials) => "invalid_credentials",
            Err(Error::NotActivated) => "not_activated",
            Err(Error::Disabled) => "disabled",
            Err(Error::RateLimited { .. }) => "rate_limited",
            Err(Error::Busy) => "busy",
            Err(_) => "error",
        };
        crate::metrics::event("gatehouse_logins_total", "outcome", outcome);
        result
    }

    async fn try_log_in(
        &self,
        id: LoginId,
        password: SecretString,
        org: Option<&str>,
        client: &ClientInfo,
    ) -> Result<LoginStep> {
        let (key, login) = match &id {
            LoginId::Email(email) => match Email::parse(email) {
                Ok(email) => (Some(AccountKey::Email(email.normalized().to_owned())), email.normalized().to_owned()),
                Err(_) => (None, email.trim().to_lowercase()),
            },
            LoginId::Username(name) => {
                let name = name.trim().to_ascii_lowercase();
                (Some(AccountKey::Username(name.clone())), name)
            }
        };
        let gate = match self.throttle.login_gate(&login, client).await {
            Ok(gate) => gate,
            Err(error @ Error::RateLimited { .. }) => {
                self.note(self.outcome(Kind::LoginLocked, None, client).detail(json!({ "login": login })));
                return Err(error);
            }
            Err(other) => return Err(other),
        };
        let found = match &key {
            Some(key) => self.store.find_account(key).await?,
            None => None,
        };
        let known = found.as_ref().map(|c| c.account.id);
        let stored = found.as_ref().map(|c| c.password_hash.clone()).unwrap_or_default();
        let (account, rehashed) = match self.verify_credentials(found, password).await {
            Ok(verified) => verified,
            Err(Error::InvalidCredentials) => {
                tracing::info!("login refused: wrong credentials");
                if let Some(gate) = &gate {
                    self.throttle.login_failed(gate).await?;
                }
                self.note(self.outcome(Kind::LoginFailed, known, client).detail(json!({ "login": login })));
                return Err(Error::InvalidCredentials);
            }
            Err(other) => {
                let reason = match &other {
                    Error::NotActivated => Some("not_activated"),
                    Error::Disabled => Some("disabled"),
                    _ => None,
                };
                if let Some(reason) = reason {
                    self.note(self.outcome(Kind::LoginFailed, known, client).with("reason", reason));
                }
                return Err(other);
            }
        };
        if let Some(gate) = &gate {
            self.throttle.login_succeeded(gate).await?;
        }
        if let Some(upgraded) = rehashed {
            // Only the hash just verified is replaced: a password changed meanwhile stays.
            match self.store.replace_password_hash(account.id, &stored, &upgraded, self.now()).await {
                Ok(replaced) => {
                    let from = crate::passwords::foreign::Format::of(&stored).map_or("?", |f| f.name());
                    tracing::info!(account_id = %account.id, from, replaced, "the password hash was replaced with gatehouse's");
                    self.account_changed(account.id).await;
                }
                Err(error) => {
                    tracing::warn!(account_id = %account.id, error = %error, "could not store the upgraded password hash");
                }
            }
        }
        self.sso_gate(&account, None, client).await?;
        // With a second factor, the organization is named again, and checked, at `/auth/mfa`;
        // without one, the login is whole: a domain may join the account before the check.
        let org = match org {
            Some(key) if !self.store.factors(account.id).await?.any() => {
                self.join_by_domain(&account, client).await;
                self.login_org(&account, Some(key), &["pwd".to_owned()], 1).await?
            }
            _ => None,
        };
        let step = self.after_first_factor(account, "pwd", org, client, json!({})).await?;
        Ok(match step {
            LoginStep::Session(mut pair) => {
                pair.device_token = self.throttle.enabled().then(|| self.throttle.device_token(&login));
                LoginStep::Session(pair)
            }
            second => second,
        })
    }

    /// What follows a first factor (`method`, RFC 8176: `pwd`, `email`): the second step when
    /// the account has a second factor, an enrolment-only session when
    /// `GATEHOUSE_MFA_REQUIRED` covers it and it has none, else a session of level 1.
    pub(super) async fn after_first_factor(
        &self,
        account: Account,
        method: &str,
        org: Option<Uuid>,
        client: &ClientInfo,
        mut detail: serde_json::Value,
    ) -> Result<LoginStep> {
        if let Some(challenge) = self.challenge_if_needed(&account, method).await? {
            tracing::info!(account_id = %account.id, method, "first factor right; second factor required");
            self.note(
                self.outcome(Kind::LoginMfaRequired, Some(account.id), client).detail(json!({ "method": method })),
            );
            return Ok(LoginStep::SecondFactor(challenge));
        }
        let mut auth = SessionAuth { org, ..SessionAuth::first_factor(method, self.now()) };
        if super::mfa::covers(self.policy.mfa_required, &account) {
            tracing::info!(account_id = %account.id, "a second factor is required and missing: enrolment-only session");
            auth.aal = super::mfa::ENROLMENT_ONLY;
            if let Some(detail) = detail.as_object_mut() {
                detail.insert("enrolment_only".into(), json!(true));
            }
        }
        self.start_session(account, auth, client, detail).await.map(|pair| LoginStep::Session(Box::new(pair)))
    }

    /// Starts a session of an authenticated account (joined first by a verified domain's
    /// organization, if one offers) and hands out its first pair; audited with `detail`.
    pub(super) async fn start_session(
        &self,
        account: Account,
        auth: SessionAuth,
        client: &ClientInfo,
        detail: serde_json::Value,
    ) -> Result<TokenPair> {
        self.join_by_domain(&account, client).await;
        let now = self.now();
        let refresh = OpaqueToken::generate();
        let session = NewSession {
            id: Uuid::now_v7(),
            account_id: account.id,
            refresh_hash: refresh.hash,
            created_at: now,
            expires_at: now
                + chrono::Duration::from_std(self.settings.session_ttl).unwrap_or(chrono::Duration::days(1)),
            user_agent: client.user_agent.clone().map(|ua| truncate(ua, 256)),
            ip: client.ip.clone(),
            auth,
        };
        self.sessions.create_session(&session).await?;
        let logged_in = self
            .outcome(Kind::LoginSucceeded, Some(account.id), client)
            .detail(detail)
            .with("session_id", session.id.to_string());
        self.tell(Effects::of(logged_in)).await?;
        tracing::info!(account_id = %account.id, session_id = %session.id, "logged in");
        let live = LiveSession {
            id: session.id,
            account_id: account.id,
            expires_at: session.expires_at,
            last_used_at: now,
            auth: session.auth,
        };
        self.token_pair(account, &live, refresh.secret, now).await
    }

    /// Spends a refresh token for a new pair. A token spent within the grace period (a retry,
    /// a second tab) gets the same new refresh token; one spent before that revokes the session.
    pub async fn refresh(&self, refresh_token: &str, client: ClientInfo) -> Result<TokenPair> {
        let result = self.try_refresh(refresh_token, &client).await;
        let outcome = match &result {
            Ok(_) => "rotated",
            Err(Error::TokenInvalid) => "invalid",
            Err(Error::RateLimited { .. }) => "rate_limited",
            Err(_) => "error",
        };
        crate::metrics::event("gatehouse_refreshes_total", "outcome", outcome);
        result
    }

    async fn try_refresh(&self, refresh_token: &str, client: &ClientInfo) -> Result<TokenPair> {
        self.per_ip(Action::Refresh, client).await?;
        if !plausible(refresh_token) {
            return Err(Error::TokenInvalid);
        }
        // The next token follows from the presented one, so a replay within the grace period
        // can be answered with the very same token on any replica.
        let next = OpaqueToken::derive(&self.keys().derive_secret("refresh-rotation"), refresh_token);
        let now = self.now();
        let presented = TokenHash::of(refresh_token);
        let session = match self
            .sessions
            .rotate_refresh(&presented, &next.hash, now, self.settings.refresh_grace)
            .await?
        {
            Rotation::Rotated(session) => session,
            Rotation::Replayed(session) => {
                crate::metrics::event("gatehouse_refreshes_total", "outcome", "replayed");
                tracing::info!(session_id = %session.id, "a refresh token was presented again within the grace period");
                session
            }
            Rotation::Reused { session_id, account_id } => {
                crate::metrics::event("gatehouse_refreshes_total", "outcome", "reused");
                tracing::warn!(%account_id, %session_id, "a spent refresh token was presented; session revoked");
                self.note(
                    self.outcome(Kind::RefreshReused, Some(account_id), client)
                        .detail(json!({ "session_id": session_id })),
                );
                return Err(Error::TokenInvalid);
            }
            Rotation::Unknown => return Err(Error::TokenInvalid),
        };
        if session.auth.grant.is_some() {
            // A client app's refresh token belongs at `/oauth2/token`; here it could only mint
            // tokens for gatehouse's own API, which its grant never covered.
            tracing::warn!(session_id = %session.id, "a client's refresh token was sent to /auth/refresh; its session ended");
            self.close_session(session.account_id, session.id).await?;
            return Err(Error::TokenInvalid);
        }
        let account = self.store.find_account(&AccountKey::Id(session.account_id)).await?.map(|c| c.account);
        let Some(account) = account.filter(|a| a.status == Status::Active) else {
            self.close_session(session.account_id, session.id).await?;
            return Err(Error::TokenInvalid);
        };
        self.token_pair(account, &session, next.secret, now).await
    }

    async fn token_pair(
        &self,
        account: Account,
        session: &LiveSession,
        refresh: SecretString,
        now: DateTime<Utc>,
    ) -> Result<TokenPair> {
        let (access_token, expires_in) =
            self.sign_access_token(&account, session.id, session.expires_at, &session.auth, now).await?;
        Ok(TokenPair {
            access_token,
            expires_in,
            refresh_token: refresh,
            account,
            session_id: session.id,
            device_token: None,
        })
    }

    /// An access token of the session, living the access-token lifetime but never past the
    /// session's end; with its lifetime in seconds.
    pub(super) async fn sign_access_token(
        &self,
        account: &Account,
        session_id: Uuid,
        session_expires_at: DateTime<Utc>,
        auth: &SessionAuth,
        now: DateTime<Utc>,
    ) -> Result<(String, u64)> {
        let ttl = chrono::Duration::from_std(self.settings.access_token_ttl).unwrap_or(chrono::Duration::minutes(15));
        let exp = (now + ttl).min(session_expires_at);
        let org = match auth.org {
            Some(org_id) => self.org_claim(org_id, account.id, auth).await?,
            None => None,
        };
        let claims = AccessClaims {
            iss: self.keys().issuer().to_owned(),
            sub: account.id,
            aud: self.keys().audience().to_owned(),
            sid: session_id,
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti: Uuid::now_v7(),
            email: account.email.clone(),
            role: account.role.as_str().to_owned(),
            app_data: account.app_data.clone(),
            amr: auth.amr.clone(),
            aal: auth.aal,
            org,
            act: auth.act.map(|sub| crate::tokens::jwt::ActClaim { sub }),
        };
        let access_token = self.keys().sign(&claims)?;
        let expires_in = u64::try_from((exp - now).num_seconds()).unwrap_or_default();
        Ok((access_token, expires_in))
    }

    /// Ends the caller's session, or with `everywhere` every session of the account.
    pub async fn log_out(&self, caller: &Caller, everywhere: bool, client: &ClientInfo) -> Result<()> {
        let scope = if everywhere { "all" } else { "session" };
        let logged_out = self
            .outcome(Kind::Logout, Some(caller.account_id), client)
            .detail(json!({ "scope": scope, "session_id": caller.session_id() }));
        if everywhere {
            let ended = self.close_all_sessions(caller.account_id, None).await?;
            self.tell(Effects::of(logged_out)).await?;
            tracing::info!(account_id = %caller.account_id, ended, "logged out everywhere");
        } else {
            // A key has no session to end: it lives until it is revoked or expires.
            if let Some(session_id) = caller.session_id() {
                self.close_session(caller.account_id, session_id).await?;
            }
            self.tell(Effects::of(logged_out)).await?;
            tracing::info!(account_id = %caller.account_id, session_id = ?caller.session_id(), "logged out");
        }
        Ok(())
    }

    pub async fn list_sessions(&self, caller: &Caller) -> Result<Vec<SessionInfo>> {
        Ok(self.sessions.list_sessions(caller.account_id, self.now()).await?)
    }

    /// Ends one of the caller's own sessions.
    pub async fn end_session(&self, caller: &Caller, session_id: Uuid, client: &ClientInfo) -> Result<()> {
        if self.close_session(caller.account_id, session_id).await? {
            let ended = self
                .outcome(Kind::SessionEnded, Some(caller.account_id), client)
                .with("session_id", session_id.to_string());
            self.tell(Effects::of(ended)).await?;
            Ok(())
        } else {
            Err(Error::SessionNotFound)
        }
    }
}
