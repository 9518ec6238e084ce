//! The token endpoint's grants (authorization code with PKCE, refresh, client credentials), the
//! ID token, the client's access token (RFC 9068 `at+jwt`, `aud` the client), and the endpoints
//! that read them: userinfo and introspection (RFC 7662); revocation and the `id_token_hint`
//! are `revocation.rs`.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

pub use super::claims::ClientAccessClaims;
use super::claims::account_claims;
use super::dpop::{Confirmation, bound_refresh, token_type};
use super::resources::Audience;
use super::{OAuthError, OAuthResult, parse_scopes};
use crate::accounts::throttle::Action;
use crate::accounts::{AuthorizationServer, ClientInfo, Error, Result};
use crate::model::account::{Account, AccountKey, Status};
use crate::model::outcome::{Effects, Kind};
use crate::model::resource::canonical;
use crate::sessions::{Grant, LiveSession, NewSession, Rotation, SessionAuth};
use crate::store::clients::{OAuthClient, Redemption};
use crate::tokens::opaque::{OpaqueToken, TokenHash, plausible};

/// The `typ` of a client's access token.
const ACCESS_TYP: &str = "at+jwt";

/// What the token endpoint was sent, beside the client's credentials.
#[derive(Debug, Default)]
pub struct TokenRequest {
    pub grant_type: String,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub device_code: Option<String>,
    /// Token exchange (RFC 8693).
    pub exchange: Option<super::ExchangeRequest>,
    /// The resource (RFC 8707) the access token is for.
    pub resource: Option<String>,
    /// The `DPoP` header (RFC 9449): a proof of the key the tokens are to be bound to.
    pub dpop: Option<String>,
}

/// What a client session's tokens are made with, beside the session.
#[derive(Debug, Default)]
pub(super) struct Issue<'a> {
    /// The authorization request's, for the ID token.
    pub nonce: Option<&'a str>,
    /// The scopes a refresh asked for, the only ones these tokens carry.
    pub narrowed: Option<&'a [String]>,
    /// The resource (RFC 8707) the token request named.
    pub resource: Option<&'a str>,
    /// The key the access token is bound to (DPoP).
    pub jkt: Option<&'a str>,
}

/// The token endpoint's answer.
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: String,
    pub refresh_token: Option<SecretString>,
    pub id_token: Option<String>,
    /// Token exchange's `issued_token_type`.
    pub issued_token_type: Option<&'static str>,
    /// `DPoP` for an access token bound to a key, else `Bearer`.
    pub token_type: &'static str,
}

impl AuthorizationServer {
    /// The token endpoint, for an authenticated client.
    pub async fn token(
        &self,
        client: OAuthClient,
        request: TokenRequest,
        info: &ClientInfo,
    ) -> OAuthResult<TokenResponse> {
        self.per_ip(Action::Refresh, info).await?;
        if !client.grant_types.contains(&request.grant_type) {
            return Err(match super::GRANT_TYPES.contains(&request.grant_type.as_str()) {
                true => OAuthError::refused("unauthorized_client", "this client may not use this grant type"),
                false => OAuthError::refused(
                    "unsupported_grant_type",
                    format!("the grant types are {}", super::GRANT_TYPES.join(", ")),
                ),
            });
        }
        // Refused before a code or refresh token is spent on it.
        if let Some(resource) = request.resource.as_deref().filter(|r| !self.known_resource(r)) {
            let why = format!("{resource:?} is not a resource this server issues tokens for");
            return Err(OAuthError::refused("invalid_target", why));
        }
        // Checked (and spent) before a code or refresh token is spent on it.
        let proof = self.token_proof(request.dpop.as_deref()).await?;
        let jkt = proof.as_ref().map(|proof| proof.jkt.as_str());
        if client.policy.dpop_bound_access_tokens && jkt.is_none() {
            let why = "this client registered dpop_bound_access_tokens: its token requests carry a DPoP proof";
            return Err(OAuthError::refused("invalid_dpop_proof", why));
        }
        if let Some(resource) = request.resource.as_deref().and_then(|r| canonical(r).ok()) {
            self.bound_as_resources_ask(&Audience::one(resource), jkt)?;
        }
        // Clients registered before ID tokens had a key of their own find it made here.
        self.ensure_id_key().await?;
        match request.grant_type.as_str() {
            "authorization_code" => self.redeem(client, request, jkt, info).await,
            "refresh_token" => self.refresh_client(client, request, jkt).await,
            crate::model::device::DEVICE_GRANT => self.device_grant(client, request, jkt, info).await,
            super::TOKEN_EXCHANGE if request.resource.is_some() => {
                Err(OAuthError::refused("invalid_target", "a token exchange names its target with audience"))
            }
            super::TOKEN_EXCHANGE => self.exchange(client, request, jkt).await,
            _ => self.client_credentials(client, request, jkt),
        }
    }

    async fn redeem(
        &self,
        client: OAuthClient,
        request: TokenRequest,
        jkt: Option<&str>,
        info: &ClientInfo,
    ) -> OAuthResult<TokenResponse> {
        let code =
            request.code.filter(|c| plausible(c)).ok_or_else(|| OAuthError::invalid_request("code is required"))?;
        let verifier =
            request.code_verifier.ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE)"))?;
        let now = self.now();
        let hash = TokenHash::of(&code);
        let session_id = Uuid::now_v7();
        let issued = match self.store.redeem_code(&hash, session_id, now).await? {
            Redemption::Spent(issued) => *issued,
            Redemption::Reused { account_id, session_id } => {
                if let Some(session_id) = session_id {
                    self.close_session(account_id, session_id).await?;
                }
                tracing::warn!(%account_id, client_id = %client.id, "an authorization code was presented again; its session ended");
                self.note(
                    self.outcome(Kind::OauthCodeReused, Some(account_id), info)
                        .detail(json!({ "client_id": client.id, "session_id": session_id })),
                );
                return Err(OAuthError::invalid_grant(
                    "the code has been used already; the tokens it gave are revoked",
                ));
            }
            Redemption::Unknown => return Err(OAuthError::invalid_grant("the code is unknown or expired")),
        };
        if issued.client_id != client.id {
            return Err(OAuthError::invalid_grant("the code was issued to another client"));
        }
        if request.redirect_uri.as_deref() != Some(issued.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant("redirect_uri is not the one of the authorization request"));
        }
        if !crate::tokens::pkce::holds(&verifier, &issued.code_challenge) {
            return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
        }
        if issued.dpop_jkt.as_deref().is_some_and(|bound| jkt != Some(bound)) {
            let why = "the authorization request named a DPoP key (dpop_jkt) this request did not prove";
            return Err(OAuthError::refused("invalid_dpop_proof", why));
        }
        // The browser session that granted it must still be live: a logout in between wins.
        let browser = self.sessions.live_session(issued.browser_session_id, now).await?;
        if browser.is_none_or(|b| b.account_id != issued.account_id) {
            return Err(OAuthError::invalid_grant("the login that granted the code has ended"));
        }
        let account = self.active_account(issued.account_id).await?;
        let auth = SessionAuth {
            grant: Some(Grant {
                client_id: client.id.clone(),
                scopes: issued.scopes.clone(),
                via: Some(issued.browser_session_id),
                resources: issued.resources.clone(),
                jkt: bound_refresh(&client, jkt),
            }),
            ..SessionAuth::decode(Some(&issued.auth))
        };
        let (live, refresh) = self.client_session(session_id, &client, &account, auth, info).await?;
        // A replay that came while the session was being made found nothing to end yet.
        if self.store.code_reused(&hash).await? {
            self.close_session(account.id, live.id).await?;
            return Err(OAuthError::invalid_grant("the code has been used already; the tokens it gave are revoked"));
        }
        let resource = request.resource.as_deref();
        let tokens = Issue { nonce: issued.nonce.as_deref(), narrowed: None, resource, jkt };
        self.client_tokens(&client, &account, &live, refresh, tokens, now).await
    }

    /// Starts a client session `id` for `account`, granted as `auth` says: its refresh token's
    /// secret, and the session as the tokens are made from it.
    pub(super) async fn client_session(
        &self,
        id: Uuid,
        client: &OAuthClient,
        account: &Account,
        auth: SessionAuth,
        info: &ClientInfo,
    ) -> OAuthResult<(LiveSession, SecretString)> {
        let (refresh, now) = (OpaqueToken::generate(), self.now());
        let ttl = chrono::Duration::from_std(self.settings.session_ttl).unwrap_or(chrono::Duration::days(1));
        let session = NewSession {
            id,
            account_id: account.id,
            refresh_hash: refresh.hash,
            created_at: now,
            expires_at: now + ttl,
            user_agent: info.user_agent.clone(),
            ip: info.ip.clone(),
            auth,
        };
        self.sessions.create_session(&session).await?;
        let token_issued = self
            .outcome(Kind::OauthTokenIssued, Some(account.id), info)
            .with("client_id", client.id.as_str())
            .with("session_id", session.id.to_string());
        self.tell(Effects::of(token_issued)).await?;
        let live = LiveSession {
            id: session.id,
            account_id: account.id,
            expires_at: session.expires_at,
            last_used_at: now,
            auth: session.auth,
        };
        Ok((live, refresh.secret))
    }

    async fn refresh_client(
        &self,
        client: OAuthClient,
        request: TokenRequest,
        jkt: Option<&str>,
    ) -> OAuthResult<TokenResponse> {
        let presented = request
            .refresh_token
            .filter(|t| plausible(t))
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
        let next = OpaqueToken::derive(&self.keys().derive_secret("refresh-rotation"), &presented);
        let now = self.now();
        let rotation = self
            .sessions
            .rotate_refresh(&TokenHash::of(&presented), &next.hash, now, self.settings.refresh_grace)
            .await?;
        let session = match rotation {
            Rotation::Rotated(session) | Rotation::Replayed(session) => session,
            Rotation::Reused { session_id, account_id } => {
                tracing::warn!(%account_id, %session_id, client_id = %client.id, "a spent refresh token was presented; the client session ended");
                return Err(OAuthError::invalid_grant("the refresh token was used already; its session has ended"));
            }
            Rotation::Unknown => return Err(OAuthError::invalid_grant("the refresh token is unknown or expired")),
        };
        let grant = session.auth.grant.clone();
        let Some(grant) = grant.filter(|g| g.client_id == client.id && g.scopes.iter().any(|s| s == "offline_access"))
        else {
            // Another client's, or gatehouse's own: stolen, or sent to the wrong place. Either way it
            // is no longer secret.
            self.close_session(session.account_id, session.id).await?;
            return Err(OAuthError::invalid_grant("the refresh token was not issued to this client"));
        };
        // Bound to a key: whoever sent it without a proof of that key does not hold the key, so
        // the token is no longer the client's alone.
        if grant.jkt.as_deref().is_some_and(|bound| jkt != Some(bound)) {
            self.close_session(session.account_id, session.id).await?;
            let why = "the refresh token is bound to a DPoP key this request did not prove; its session has ended";
            return Err(OAuthError::refused("invalid_dpop_proof", why));
        }
        // RFC 6749 section 6: a refresh may ask for less than was granted; these tokens carry
        // only that, and the grant keeps the rest for the refreshes after it.
        let narrowed = match request.scope.as_deref() {
            Some(scope) => {
                let asked = parse_scopes(scope, &self.policy().resources)
                    .map_err(|why| OAuthError::refused("invalid_scope", why))?;
                if asked.iter().any(|s| !grant.scopes.contains(s)) {
                    return Err(OAuthError::refused("invalid_scope", "a refresh cannot widen the granted scopes"));
                }
                Some(asked)
            }
            None => None,
        };
        let account = match self.active_account(session.account_id).await {
            Ok(account) => account,
            Err(error) => {
                self.close_session(session.account_id, session.id).await?;
                return Err(error);
            }
        };
        let tokens = Issue { nonce: None, narrowed: narrowed.as_deref(), resource: request.resource.as_deref(), jkt };
        self.client_tokens(&client, &account, &session, next.secret, tokens, now).await
    }

    fn client_credentials(
        &self,
        client: OAuthClient,
        request: TokenRequest,
        jkt: Option<&str>,
    ) -> OAuthResult<TokenResponse> {
        let asked = parse_scopes(request.scope.as_deref().unwrap_or_default(), &self.policy().resources)
            .map_err(|why| OAuthError::refused("invalid_scope", why))?;
        if let Some(scope) =
            asked.iter().find(|s| matches!(s.as_str(), "openid" | "offline_access") || !client.scopes.contains(s))
        {
            return Err(OAuthError::refused(
                "invalid_scope",
                format!("{scope:?} cannot be granted to the client itself"),
            ));
        }
        let now = self.now();
        let aud = self.client_audience(&client, request.resource.as_deref())?;
        let (access_token, expires_in) =
            self.client_access_token(&client, client.id.clone(), aud, None, &asked, None, jkt, now)?;
        Ok(TokenResponse {
            access_token,
            expires_in,
            scope: asked.join(" "),
            refresh_token: None,
            id_token: None,
            issued_token_type: None,
            token_type: token_type(jkt),
        })
    }

    /// The account, if it is still active; else the grant is void.
    pub(super) async fn active_account(&self, account_id: Uuid) -> OAuthResult<Account> {
        let account = self.store.find_account(&AccountKey::Id(account_id)).await?.map(|c| c.account);
        account
            .filter(|a| a.status == Status::Active)
            .ok_or_else(|| OAuthError::invalid_grant("the account is disabled or gone"))
    }

    #[allow(clippy::too_many_arguments)]
    fn client_access_token(
        &self,
        client: &OAuthClient,
        sub: String,
        aud: Audience,
        session: Option<&LiveSession>,
        scopes: &[String],
        end: Option<DateTime<Utc>>,
        jkt: Option<&str>,
        now: DateTime<Utc>,
    ) -> OAuthResult<(String, u64)> {
        self.bound_as_resources_ask(&aud, jkt)?;
        let ttl = chrono::Duration::from_std(self.settings.access_token_ttl).unwrap_or(chrono::Duration::minutes(15));
        let exp = end.map_or(now + ttl, |end| (now + ttl).min(end));
        let claims = ClientAccessClaims {
            iss: self.keys().issuer().to_owned(),
            sub,
            aud,
            client_id: client.id.clone(),
            scope: scopes.join(" "),
            sid: session.map(|s| s.id),
            act: None,
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti: Uuid::now_v7(),
            cnf: jkt.map(|jkt| Confirmation { jkt: jkt.to_owned() }),
        };
        let token = self.keys().sign_typed(&claims, ACCESS_TYP).map_err(Error::from)?;
        Ok((token, u64::try_from((exp - now).num_seconds()).unwrap_or_default()))
    }

    /// The tokens of a client session: an access token, the ID token with `openid`, and the
    /// refresh token with `offline_access` (granted, whatever `issue.narrowed` leaves out: it is
    /// the grant's).
    pub(super) async fn client_tokens(
        &self,
        client: &OAuthClient,
        account: &Account,
        session: &LiveSession,
        refresh: SecretString,
        issue: Issue<'_>,
        now: DateTime<Utc>,
    ) -> OAuthResult<TokenResponse> {
        let Issue { nonce, narrowed, resource, jkt } = issue;
        let granted = session.auth.grant.as_ref().ok_or_else(|| OAuthError::invalid_grant("not a client session"))?;
        // What the client is registered for now bounds what it was granted before.
        let registered = |s: &&String| client.scopes.contains(s);
        let offline = granted.scopes.iter().filter(registered).any(|s| s == "offline_access")
            && client.grant_types.iter().any(|g| g == "refresh_token");
        let grant = &Grant {
            scopes: granted
                .scopes
                .iter()
                .filter(registered)
                .filter(|s| narrowed.is_none_or(|asked| asked.contains(s)))
                .cloned()
                .collect(),
            ..granted.clone()
        };
        let aud = self.session_audience(client, &granted.resources, resource)?;
        let (access_token, expires_in) = self.client_access_token(
            client,
            account.id.to_string(),
            aud,
            Some(session),
            &grant.scopes,
            Some(session.expires_at),
            jkt,
            now,
        )?;
        let has = |scope: &str| grant.scopes.iter().any(|s| s == scope);
        let id_token = match has("openid") {
            true => {
                let org = self.org_claim_of(session, &grant.scopes).await?;
                Some(self.id_token(client, account, session, grant, nonce, org, now)?)
            }
            false => None,
        };
        Ok(TokenResponse {
            access_token,
            expires_in,
            scope: grant.scopes.join(" "),
            refresh_token: offline.then_some(refresh),
            id_token,
            issued_token_type: None,
            token_type: token_type(jkt),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn id_token(
        &self,
        client: &OAuthClient,
        account: &Account,
        session: &LiveSession,
        grant: &Grant,
        nonce: Option<&str>,
        org: Option<Value>,
        now: DateTime<Utc>,
    ) -> OAuthResult<String> {
        let ttl = chrono::Duration::from_std(self.settings.access_token_ttl).unwrap_or(chrono::Duration::minutes(15));
        let mut claims = account_claims(account, &grant.scopes);
        if let Some(org) = org {
            claims.insert("org".into(), org);
        }
        let auth = &session.auth;
        claims.extend([
            ("iss".to_owned(), json!(self.keys().issuer())),
            ("aud".to_owned(), json!(client.id)),
            ("azp".to_owned(), json!(client.id)),
            ("iat".to_owned(), json!(now.timestamp())),
            ("exp".to_owned(), json!((now + ttl).timestamp())),
            ("auth_time".to_owned(), json!(auth.at.timestamp())),
            ("amr".to_owned(), json!(auth.amr)),
            ("acr".to_owned(), json!(if auth.aal >= 2 { "aal2" } else { "aal1" })),
        ]);
        claims.insert("sid".into(), json!(super::backchannel::sid_of(grant, session.id)));
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        Ok(self.keys().sign_id_token(&claims).map_err(Error::from)?)
    }

    /// The client session (or client) a client access token belongs to, if it is still good:
    /// signature, expiry, a registered client, and a live session granted to that client.
    pub(in crate::accounts) async fn live_client_token(
        &self,
        token: &str,
    ) -> Result<(std::sync::Arc<ClientAccessClaims>, Option<LiveSession>)> {
        let claims = self.verify_client_token(token, ACCESS_TYP).await.map_err(|_| Error::Unauthorized)?;
        let audience_known = self.audience_known(&claims.aud, &claims.client_id, claims.act.is_some()).await?;
        if !audience_known || self.find_client(&claims.client_id).await?.is_none() {
            return Err(Error::Unauthorized);
        }
        let Some(sid) = claims.sid else { return Ok((claims, None)) };
        let session = self.sessions.live_session(sid, self.now()).await?.ok_or(Error::Unauthorized)?;
        let granted = session.auth.grant.as_ref().is_some_and(|g| g.client_id == claims.client_id);
        if !granted || session.account_id.to_string() != claims.sub {
            return Err(Error::Unauthorized);
        }
        Ok((claims, Some(session)))
    }
}
