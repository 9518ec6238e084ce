//! The browser session of gatehouse's own pages: one login at `/login` that every client app
//! (`/oauth2/authorize`) and every app behind a forward-auth proxy (`/auth/forward`) shares.
//!
//! It is an ordinary session (so logout, a password change, disabling and "log out everywhere"
//! end it at once, as they end any other), named by a cookie that holds the session's and the
//! account's ids and an HMAC of both under a key derived from the signing keys: nothing is
//! stored beside the session, a cookie cannot be made without the key, and the ids an access
//! token shows (its `sid`) open nothing without it. The forms that post to gatehouse carry a
//! token bound the same way to something only that browser holds (see [`Core::form_token`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use uuid::Uuid;

use super::{Caller, ClientInfo, Core, Error, Result};
use crate::model::outcome::{Effects, Kind};

/// The cookie that holds the browser session.
pub const SESSION_COOKIE: &str = "gatehouse_session";

impl Core {
    fn cookie_mac(&self, session_id: Uuid, account_id: Uuid) -> String {
        let key = self.keys().derive_secret("browser-session");
        let message = format!("{}.{}", session_id.simple(), account_id.simple());
        URL_SAFE_NO_PAD.encode(key.tag(&[message.as_bytes()]))
    }

    /// The value of the cookie naming `session_id` (of `account_id`) as a browser session.
    pub fn browser_cookie(&self, session_id: Uuid, account_id: Uuid) -> String {
        format!("{}.{}.{}", session_id.simple(), account_id.simple(), self.cookie_mac(session_id, account_id))
    }

    /// The caller whose browser session the cookie names, if the cookie is ours and the session
    /// is live; an enrolment-only session is refused like on the API.
    pub async fn browser_caller(&self, cookie: &str) -> Result<Caller> {
        let mut parts = cookie.splitn(3, '.');
        let (Some(session), Some(account), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::Unauthorized);
        };
        let (Ok(session_id), Ok(account_id)) = (Uuid::try_parse(session), Uuid::try_parse(account)) else {
            return Err(Error::Unauthorized);
        };
        let Ok(mac) = URL_SAFE_NO_PAD.decode(mac) else { return Err(Error::Unauthorized) };
        let key = self.keys().derive_secret("browser-session");
        let message = format!("{}.{}", session_id.simple(), account_id.simple());
        if !key.verify(message.as_bytes(), &mac) {
            return Err(Error::Unauthorized);
        }
        self.live_caller(session_id, account_id, true).await?.enrolled()
    }

    /// A token for a form of gatehouse's pages, bound to `binding` (the browser session's id,
    /// or before a login the random value of the form cookie): a page of another site cannot
    /// post one, since it can read neither.
    pub fn form_token(&self, binding: &str) -> String {
        let key = self.keys().derive_secret("form-token");
        URL_SAFE_NO_PAD.encode(key.tag(&[binding.as_bytes()]))
    }

    /// Whether `token` is [`Self::form_token`] of `binding` (compared in constant time).
    pub fn form_token_valid(&self, binding: &str, token: &str) -> bool {
        let key = self.keys().derive_secret("form-token");
        URL_SAFE_NO_PAD.decode(token).is_ok_and(|tag| key.verify(binding.as_bytes(), &tag))
    }

    /// A new login in a browser that had a session: the old one ends. The client sessions
    /// granted through it move to the new one when it is the same account (so that logging out
    /// later still reaches them), and end with it when another account logs in.
    pub async fn replace_browser_session(
        &self,
        old: &Caller,
        new_session: Uuid,
        new_account: Uuid,
        client: &ClientInfo,
    ) -> Result<()> {
        if old.account_id != new_account {
            return self.log_out_browser(old, client).await;
        }
        let now = self.now();
        let old_session = old.session()?.id;
        for session in self.sessions.list_sessions(old.account_id, now).await? {
            let Some(grant) = session.auth.grant.as_ref().filter(|grant| grant.via == Some(old_session)) else {
                continue;
            };
            let grant = crate::sessions::Grant { via: Some(new_session), ..grant.clone() };
            let auth = crate::sessions::SessionAuth { grant: Some(grant), ..session.auth.clone() };
            self.sessions.set_session_auth(session.id, &auth).await?;
        }
        self.close_session(old.account_id, old_session).await?;
        Ok(())
    }

    /// Ends a browser session and every client session granted through it: signing out of
    /// gatehouse signs out of the apps it let in.
    pub async fn log_out_browser(&self, caller: &Caller, client: &ClientInfo) -> Result<()> {
        let now = self.now();
        let browser = caller.session()?.id;
        let granted = self.sessions.list_sessions(caller.account_id, now).await?;
        let through: Vec<Uuid> = granted
            .into_iter()
            .filter(|s| s.auth.grant.as_ref().is_some_and(|grant| grant.via == Some(browser)))
            .map(|s| s.id)
            .collect();
        for session_id in &through {
            self.close_session(caller.account_id, *session_id).await?;
        }
        self.close_session(caller.account_id, browser).await?;
        let logged_out = self.outcome(Kind::Logout, Some(caller.account_id), client).detail(json!({
            "scope": "browser",
            "session_id": browser,
            "client_sessions": through,
        }));
        self.tell(Effects::of(logged_out)).await?;
        tracing::info!(account_id = %caller.account_id, session_id = %browser, clients = through.len(), "logged out of the browser session");
        Ok(())
    }
}
