//! Initial access tokens (RFC 7591 section 3): with `GATEHOUSE_CLIENT_REGISTRATION=token`, a
//! client registers itself only with one of these, which an admin issues for a number of
//! registrations and a time, from a session that authenticated recently (the credential matrix).
//! The token is shown once and kept as its SHA-256.

use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::accounts::admin::Admin;
use crate::accounts::{AuthorizationServer, Error, Result};
use crate::model::outcome::{Effects, Kind};
use crate::store::clients::InitialToken;
use crate::tokens::opaque::OpaqueToken;

/// The most registrations one token may allow, and its longest life.
pub const MAX_USES: i64 = 10_000;
pub const MAX_TTL: chrono::Duration = chrono::Duration::days(90);

/// A token just issued, with its secret: shown this once.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: InitialToken,
    pub secret: SecretString,
}

impl Admin<'_, AuthorizationServer> {
    /// Issues an initial access token good for `uses` registrations (1 when absent) until
    /// `ttl` from now (a day when absent).
    pub async fn create_initial_token(
        &self,
        name: &str,
        uses: Option<i64>,
        ttl: Option<chrono::Duration>,
    ) -> Result<IssuedToken> {
        // A token lets clients register themselves: lasting access, which takes a fresh login.
        self.admit(crate::accounts::access::matrix::Operation::RegistrationToken).await?;
        let name = name.trim();
        let mut problems = Vec::new();
        if name.is_empty() || name.chars().count() > 200 {
            problems.push(crate::accounts::FieldError::new("name", "a token has a name of 1 to 200 characters"));
        }
        let uses = uses.unwrap_or(1);
        if !(1..=MAX_USES).contains(&uses) {
            problems.push(crate::accounts::FieldError::new("uses", format!("from 1 to {MAX_USES} registrations")));
        }
        let ttl = ttl.unwrap_or(chrono::Duration::days(1));
        if ttl < chrono::Duration::minutes(1) || ttl > MAX_TTL {
            problems.push(crate::accounts::FieldError::new("expires_in", "from 60 seconds to 90 days"));
        }
        if !problems.is_empty() {
            return Err(Error::Validation(problems));
        }
        self.require_recent().await?;
        let now = self.service().now();
        let token = InitialToken {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            created_by: self.admin_id(),
            uses_left: uses,
            created_at: now,
            expires_at: now + ttl,
        };
        let secret = OpaqueToken::generate();
        let detail = json!({ "token_id": token.id, "name": token.name, "uses": uses, "expires_at": token.expires_at });
        let created = Effects::of(self.outcome(Kind::AdminRegistrationTokenCreated, None).detail(detail));
        self.service()
            .commit(&created, self.service().store.insert_initial_token(&token, &secret.hash, &created))
            .await?;
        Ok(IssuedToken { token, secret: secret.secret })
    }

    /// The live tokens, newest first.
    pub async fn initial_tokens(&self) -> Result<Vec<InitialToken>> {
        Ok(self.service().store.list_initial_tokens(self.service().now()).await?)
    }

    /// Withdraws a token: no registration takes it from now on.
    pub async fn delete_initial_token(&self, id: Uuid) -> Result<()> {
        let deleted =
            Effects::of(self.outcome(Kind::AdminRegistrationTokenDeleted, None).detail(json!({ "token_id": id })));
        if !self.service().commit(&deleted, self.service().store.delete_initial_token(id, &deleted)).await? {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}
