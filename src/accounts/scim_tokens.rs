//! An organization's SCIM tokens: made by a member holding `sso:manage` with a standing
//! covering `admin`'s (a SCIM client speaks for the organization's members), shown once, kept
//! as their hash, two at most (one replaces the other); and the organization a bearer token
//! opens SCIM for.

use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::access::matrix::Operation;
use super::authenticator::{SCIM_PREFIX, well_formed_scim_token};
use super::scim::ScimCaller;
use super::{Caller, ClientInfo, Core, Error, Organizations, Result};
use crate::model::outcome::{Effects, Kind};
use crate::model::scim::{MAX_SCIM_TOKENS, NewScimToken, ScimToken};
use crate::tokens::opaque::{OpaqueToken, TokenHash};

fn check_token_name(name: Option<&str>) -> Result<String> {
    let name = name.map(str::trim).unwrap_or("SCIM");
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::field(
            "name",
            "a SCIM token's name has 1 to 100 characters, none of them control characters",
        ));
    }
    Ok(name.to_owned())
}

impl Organizations {
    /// Makes a SCIM token for the organization: shown once, kept as its hash.
    pub async fn create_scim_token(
        &self,
        caller: &Caller,
        key: &str,
        name: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(ScimToken, SecretString)> {
        self.admit(caller, Operation::ScimToken).await?;
        let view = self.configuring_idp(caller, key).await?;
        let secret = format!("{SCIM_PREFIX}{}", OpaqueToken::generate().secret.expose_secret());
        let token = ScimToken {
            id: Uuid::now_v7(),
            org_id: view.org.id,
            name: check_token_name(name)?,
            created_at: self.now(),
            last_used_at: None,
        };
        let added = self
            .org_outcome(Kind::OrgScimTokenAdded, caller, &view.org, client)
            .with("token_id", token.id.to_string())
            .with("name", token.name.as_str());
        let effects = Effects::of(added);
        let new = NewScimToken { token: token.clone(), hash: TokenHash::of(&secret) };
        if !self.commit(&effects, self.store.insert_scim_token(&new, MAX_SCIM_TOKENS, &effects)).await? {
            let why = "an organization holds at most 2 SCIM tokens: revoke one before making another";
            return Err(Error::field("name", why));
        }
        tracing::info!(org_id = %view.org.id, token_id = %token.id, "SCIM token made");
        Ok((token, SecretString::from(secret)))
    }

    pub async fn scim_tokens(&self, caller: &Caller, key: &str) -> Result<Vec<ScimToken>> {
        let view = self.managing_sso(caller, key).await?;
        Ok(self.store.scim_tokens(view.org.id).await?)
    }

    /// Revokes a SCIM token: the next request with it is refused, on every replica.
    pub async fn revoke_scim_token(&self, caller: &Caller, key: &str, id: Uuid, client: &ClientInfo) -> Result<()> {
        let view = self.managing_sso(caller, key).await?;
        let removed =
            self.org_outcome(Kind::OrgScimTokenRemoved, caller, &view.org, client).with("token_id", id.to_string());
        let effects = Effects::of(removed);
        if !self.commit(&effects, self.store.delete_scim_token(view.org.id, id, &effects)).await? {
            return Err(Error::NotFoundScimToken);
        }
        Ok(())
    }
}

impl Core {
    /// The organization a SCIM bearer token acts for, one request taken from the token's budget
    /// (`GATEHOUSE_RATE_LIMIT_SCIM`); `Unauthorized` for any other token.
    pub async fn scim_caller(&self, bearer: &str) -> Result<ScimCaller> {
        if !well_formed_scim_token(bearer) {
            return Err(Error::Unauthorized);
        }
        let token = self.store.scim_token_by_hash(&TokenHash::of(bearer)).await?.ok_or(Error::Unauthorized)?;
        self.throttle.per_scim_token(token.id).await?;
        let now = self.now();
        if token.last_used_at.is_none_or(|at| now - at > Duration::seconds(60)) {
            self.store.scim_token_used(token.id, now).await?;
        }
        Ok(ScimCaller { org_id: token.org_id, token_id: token.id })
    }
}
