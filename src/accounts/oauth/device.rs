//! The device authorization grant (RFC 8628): `POST /oauth2/device_authorization` hands a device
//! its pair of codes; a person enters the short one on `/device`, logs in there (every way in,
//! a second factor included), sees the client and the scopes and approves or denies; the
//! device polls the token endpoint with the long one until it gets its tokens, once.
//!
//! What bounds a guesser: eight letters of twenty (about 2^34.6) live ten minutes; every code
//! entered is taken from budgets of the client IP and of the account
//! (`GATEHOUSE_RATE_LIMIT_USER_CODE`); a code is shown for approval a few times at most; and it
//! is spent by the first answer. Codes are kept only as hashes, the user code's keyed, so a
//! copy of the database does not give them away. The device's session is its own: logging
//! out of the browser that approved it does not end it (the person ends it among their
//! sessions, or a revocation does).

use chrono::Duration;
use rand::Rng;
use serde_json::json;

use super::tokens::{TokenRequest, TokenResponse};
use super::{OAuthError, OAuthResult, parse_scopes};
use crate::accounts::throttle::Action;
use crate::accounts::{AuthorizationServer, Caller, ClientInfo, Error, Result};
use crate::model::device::{
    DEVICE_CODE_TTL_SECS, DEVICE_GRANT, DeviceCode, DeviceDecision, DeviceState, MAX_VIEWS, POLL_INTERVAL_SECS,
    USER_CODE_ALPHABET, USER_CODE_LEN, display_user_code, normalize_user_code,
};
use crate::model::outcome::Kind;
use crate::sessions::{Grant, SessionAuth};
use crate::store::clients::OAuthClient;
use crate::tokens::opaque::{OpaqueToken, TokenHash, plausible};

/// What the device authorization endpoint answers.
#[derive(Debug)]
pub struct DeviceAuthorization {
    pub device_code: String,
    /// As shown: `WDJB-MJHT`.
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// A device's request as the approval page shows it.
#[derive(Debug)]
pub struct DeviceRequest {
    /// The code as shown, carried by the approval form.
    pub user_code: String,
    pub client: String,
    pub scopes: Vec<String>,
}

fn new_user_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..USER_CODE_LEN).map(|_| char::from(USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())])).collect()
}

impl AuthorizationServer {
    /// The keyed hash a user code is kept and found by.
    fn user_code_hash(&self, code: &str) -> TokenHash {
        OpaqueToken::derive(&self.keys().derive_secret("device-user-code"), code).hash
    }

    /// `POST /oauth2/device_authorization`, for an authenticated client allowed the grant.
    pub async fn device_authorization(
        &self,
        client: OAuthClient,
        scope: Option<&str>,
        info: &ClientInfo,
    ) -> OAuthResult<DeviceAuthorization> {
        self.per_ip(Action::Refresh, info).await?;
        if !client.grant_types.iter().any(|g| g == DEVICE_GRANT) {
            return Err(OAuthError::refused("unauthorized_client", "this client may not use the device grant"));
        }
        let scopes = parse_scopes(scope.unwrap_or("openid"), &self.policy().resources)
            .map_err(|why| OAuthError::refused("invalid_scope", why))?;
        if let Some(scope) = scopes.iter().find(|s| !client.scopes.contains(s)) {
            return Err(OAuthError::refused(
                "invalid_scope",
                format!("this client is not registered for the scope {scope:?}"),
            ));
        }
        let (device, user_code, now) = (OpaqueToken::generate(), new_user_code(), self.now());
        let record = DeviceCode {
            device_hash: device.hash,
            user_hash: self.user_code_hash(&user_code),
            client_id: client.id.clone(),
            scopes,
            state: DeviceState::Pending,
            account_id: None,
            auth: None,
            views: 0,
            polls: 0,
            interval_secs: POLL_INTERVAL_SECS,
            polled_at: None,
            created_at: now,
            expires_at: now + Duration::seconds(DEVICE_CODE_TTL_SECS),
        };
        self.store.insert_device_code(&record).await?;
        let page = format!("{}/device", self.settings.public_url_issuer());
        let shown = display_user_code(&user_code);
        Ok(DeviceAuthorization {
            device_code: device.expose().to_owned(),
            verification_uri_complete: format!("{page}?user_code={shown}"),
            verification_uri: page,
            user_code: shown,
            expires_in: DEVICE_CODE_TTL_SECS.unsigned_abs(),
            interval: POLL_INTERVAL_SECS.unsigned_abs(),
        })
    }

    /// The request a typed user code names, for `caller` to decide: taken from the budgets
    /// first, right or wrong; `None` for a code that is not (or no longer) waiting.
    pub async fn device_request(
        &self,
        typed: &str,
        caller: &Caller,
        info: &ClientInfo,
    ) -> Result<Option<DeviceRequest>> {
        self.throttle.per_user_code(caller.account_id, info).await?;
        let Some(code) = normalize_user_code(typed) else { return Ok(None) };
        let Some(found) = self.store.view_device_code(&self.user_code_hash(&code), MAX_VIEWS, self.now()).await? else {
            return Ok(None);
        };
        let Some(client) = self.find_client(&found.client_id).await? else { return Ok(None) };
        Ok(Some(DeviceRequest { user_code: display_user_code(&code), client: client.name, scopes: found.scopes }))
    }

    /// The person's answer on `/device`; `false` when the code is no longer waiting (answered,
    /// expired, shown too often, or never issued).
    pub async fn decide_device(&self, typed: &str, caller: &Caller, approve: bool, info: &ClientInfo) -> Result<bool> {
        self.throttle.per_user_code(caller.account_id, info).await?;
        let Some(code) = normalize_user_code(typed) else { return Ok(false) };
        let now = self.now();
        // The answer's post counts as one more showing: the page may have been shown the most
        // times already.
        let hash = self.user_code_hash(&code);
        let Some(found) = self.store.view_device_code(&hash, MAX_VIEWS + 1, now).await? else {
            return Ok(false);
        };
        let detail = json!({ "client_id": found.client_id, "scopes": found.scopes, "grant": DEVICE_GRANT });
        let decision = match approve {
            true => {
                let org = match found.scopes.iter().any(|s| s == "org") {
                    true => self.grant_org(caller, None).await?,
                    false => None,
                };
                let auth = SessionAuth { org, ..caller.session()?.auth.clone() }.encode();
                DeviceDecision::Approve { account_id: caller.account_id, auth }
            }
            false => DeviceDecision::Deny,
        };
        if !self.store.decide_device_code(&found.device_hash, &decision, now).await? {
            return Ok(false);
        }
        let kind = if approve { Kind::OauthAuthorized } else { Kind::OauthDeviceDenied };
        self.note(self.outcome(kind, Some(caller.account_id), info).detail(detail));
        Ok(true)
    }

    /// The token endpoint's device grant: a poll.
    pub(super) async fn device_grant(
        &self,
        client: OAuthClient,
        request: TokenRequest,
        jkt: Option<&str>,
        info: &ClientInfo,
    ) -> OAuthResult<TokenResponse> {
        let code = request
            .device_code
            .filter(|c| plausible(c))
            .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
        let hash = TokenHash::of(&code);
        let now = self.now();
        let found = self.store.device_code(&hash).await?;
        let Some(found) = found.filter(|f| f.client_id == client.id) else {
            return Err(OAuthError::invalid_grant("the device code is unknown, or was issued to another client"));
        };
        if found.state == DeviceState::Spent {
            return Err(OAuthError::invalid_grant("the device code has been used already"));
        }
        if found.expires_at <= now {
            return Err(OAuthError::refused("expired_token", "the device code has expired; start again"));
        }
        match found.state {
            DeviceState::Pending => {
                // Half a second of slack for the network: a client that waits the interval is
                // not told to slow down because its request arrived a little early. Two polls
                // at once: one is counted, the other slows down.
                let since = found.polled_at.map(|at| now - at);
                let interval = Duration::seconds(found.interval_secs) - Duration::milliseconds(500);
                let too_soon = since.is_some_and(|s| s < interval);
                let interval = found.interval_secs + if too_soon { 5 } else { 0 };
                let alone = self.store.record_poll(&hash, found.polls, interval, now).await?;
                if too_soon || !alone {
                    return Err(OAuthError::refused("slow_down", format!("poll at most every {interval} seconds")));
                }
                Err(OAuthError::refused("authorization_pending", "the person has not answered yet"))
            }
            DeviceState::Denied => Err(OAuthError::refused("access_denied", "the person denied the request")),
            DeviceState::Approved | DeviceState::Spent => {
                if !self.store.spend_device_code(&hash).await? {
                    return Err(OAuthError::invalid_grant("the device code has been used already"));
                }
                let account_id = found
                    .account_id
                    .ok_or_else(|| Error::Unexpected(anyhow::anyhow!("a device code approved by no one")))?;
                let account = self.active_account(account_id).await?;
                let auth = SessionAuth {
                    grant: Some(Grant {
                        client_id: client.id.clone(),
                        scopes: found.scopes,
                        via: None,
                        resources: Vec::new(),
                        jkt: super::dpop::bound_refresh(&client, jkt),
                    }),
                    ..SessionAuth::decode(found.auth.as_deref())
                };
                let id = uuid::Uuid::now_v7();
                let (session, refresh) = self.client_session(id, &client, &account, auth, info).await?;
                let issue = super::tokens::Issue { resource: request.resource.as_deref(), jkt, ..Default::default() };
                self.client_tokens(&client, &account, &session, refresh, issue, now).await
            }
        }
    }
}
