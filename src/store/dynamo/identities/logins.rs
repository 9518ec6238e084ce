//! Logins waiting at a provider. A login sent to its provider is the item `OL#s#<state hash>`,
//! spent by one write on condition that it is unspent and unexpired, so a `state` answers once.
//! A link started by an API call waits for its browser as `OL#t#<start hash>`: the browser
//! starts it by one transaction that marks it started, on condition that it was not, and puts
//! the login under its new state, so a start URL answers once.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::super::DynamoStore;
use super::super::items::{Item, Write, hex, id, item, key, opt_text, s, stamp, text, time, ttl};
use crate::model::email_login::HandoffBinding;
use crate::store::error::StoreResult;
use crate::store::identities::{NewOidcLogin, OidcLogin, Pending};
use crate::tokens::opaque::TokenHash;

fn state_key(hash: &TokenHash) -> Item {
    key(format!("OL#s#{}", hex(hash.as_bytes())), "OL")
}

fn start_key(hash: &TokenHash) -> Item {
    key(format!("OL#t#{}", hex(hash.as_bytes())), "OL")
}

fn bytes(value: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(value.to_vec()))
}

fn read_bytes(found: &Item, name: &str) -> StoreResult<Option<Vec<u8>>> {
    match found.get(name) {
        None => Ok(None),
        Some(AttributeValue::B(value)) => Ok(Some(value.as_ref().to_vec())),
        Some(_) => Err(anyhow::anyhow!("{name:?} is not bytes").into()),
    }
}

fn read_hash(found: &Item, name: &str) -> StoreResult<Option<TokenHash>> {
    read_bytes(found, name)?
        .map(|value| {
            TokenHash::from_bytes(&value).ok_or_else(|| anyhow::anyhow!("a stored {name:?} is not 32 bytes").into())
        })
        .transpose()
}

fn opt_id(found: &Item, name: &str) -> StoreResult<Option<Uuid>> {
    opt_text(found, name)?.map(|text| Uuid::parse_str(text).map_err(|e| anyhow::Error::from(e).into())).transpose()
}

/// What every waiting login keeps: its id, provider, where it returns to, the account it links
/// to, and its expiry.
fn common(
    id: Uuid,
    provider: &str,
    redirect_to: Option<&str>,
    link_account: Option<Uuid>,
    created: AttributeValue,
    expires_at: DateTime<Utc>,
) -> Vec<(&'static str, AttributeValue)> {
    let mut attributes = vec![
        ("id", s(id.to_string())),
        ("provider", s(provider)),
        ("created", created),
        ("expires", stamp(expires_at)),
        ("ttl", ttl(expires_at)),
    ];
    attributes.extend(redirect_to.map(|to| ("redirect_to", s(to))));
    attributes.extend(link_account.map(|account| ("link_account", s(account.to_string()))));
    attributes
}

/// A login sent to its provider, under its state.
fn sent(pending: &Pending, mut attributes: Vec<(&'static str, AttributeValue)>, handoff: &HandoffBinding) -> Item {
    attributes.extend([
        ("binding", bytes(pending.binding_hash.as_bytes())),
        ("nonce", s(pending.nonce.as_str())),
        ("pkce", bytes(&pending.pkce_verifier)),
    ]);
    attributes.extend(handoff.browser.as_ref().map(|browser| ("browser", bytes(browser.as_bytes()))));
    attributes.extend(handoff.challenge.as_ref().map(|challenge| ("challenge", s(challenge.as_str()))));
    let mut written = item("", "", attributes);
    written.extend(state_key(&pending.state_hash));
    written
}

impl DynamoStore {
    pub(super) async fn put_oidc_login(&self, login: &NewOidcLogin) -> StoreResult<()> {
        let attributes = common(
            login.id,
            &login.provider,
            login.redirect_to.as_deref(),
            login.link_account_id,
            stamp(login.created_at),
            login.expires_at,
        );
        let written = match (&login.pending, &login.start_hash) {
            (Some(pending), _) => sent(pending, attributes, &login.handoff),
            // A link started by an API call has no browser to bind its hand-off to, as on SQL.
            (None, Some(start_hash)) => {
                let mut written = item("", "", attributes);
                written.extend(start_key(start_hash));
                written
            }
            (None, None) => return Err(anyhow::anyhow!("a login needs its pending state or a start token").into()),
        };
        let write = Write::put(&self.tables.main, written).when("attribute_not_exists(#pk)");
        self.insert_new(vec![write], "insert_oidc_login").await
    }

    /// The link waiting for its browser under `start_hash`, if it is of `provider`, unstarted
    /// and unexpired at `now`.
    async fn waiting(&self, provider: &str, start_hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<Item>> {
        let Some(found) = self.get(&self.tables.main, start_key(start_hash)).await? else { return Ok(None) };
        let open =
            text(&found, "provider")? == provider && !found.contains_key("started") && time(&found, "expires")? > now;
        Ok(open.then_some(found))
    }

    pub(super) async fn start_waiting_login(
        &self,
        provider: &str,
        start_hash: &TokenHash,
        pending: &Pending,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>> {
        let Some(found) = self.waiting(provider, start_hash, now).await? else { return Ok(None) };
        let redirect_to = opt_text(&found, "redirect_to")?.map(str::to_owned);
        let created = found.get("created").cloned().ok_or_else(|| anyhow::anyhow!("a login without its creation"))?;
        let attributes = common(
            id(&found, "id")?,
            provider,
            redirect_to.as_deref(),
            opt_id(&found, "link_account")?,
            created,
            time(&found, "expires")?,
        );
        // Started once: on condition that it was not, and is still open.
        let started = Write::update(&self.tables.main, start_key(start_hash), "SET #started = :now")
            .when("attribute_exists(#pk) AND attribute_not_exists(#started) AND #expires > :now")
            .value("now", stamp(now));
        let login = Write::put(&self.tables.main, sent(pending, attributes, &HandoffBinding::default()))
            .when("attribute_not_exists(#pk)");
        match self.write_if(vec![started, login], "start_oidc_login").await? {
            true => Ok(Some(redirect_to)),
            false => Ok(None),
        }
    }

    pub(super) async fn waiting_link_account(
        &self,
        provider: &str,
        start_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>> {
        let Some(found) = self.waiting(provider, start_hash, now).await? else { return Ok(None) };
        opt_id(&found, "link_account")
    }

    pub(super) async fn take_waiting_login(
        &self,
        provider: &str,
        state_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OidcLogin>> {
        // Spent once: on condition that it is unspent, unexpired and of this provider.
        let take = Write::update(&self.tables.main, state_key(state_hash), "SET #used = :now")
            .when("attribute_exists(#pk) AND attribute_not_exists(#used) AND #expires > :now AND #provider = :provider")
            .value("now", stamp(now))
            .value("provider", s(provider));
        let Some(taken) = self.update_if(take).await? else { return Ok(None) };
        Ok(Some(OidcLogin {
            id: id(&taken, "id")?,
            binding_hash: read_hash(&taken, "binding")?
                .ok_or_else(|| anyhow::anyhow!("a login without its binding"))?,
            nonce: text(&taken, "nonce")?.to_owned(),
            pkce_verifier: read_bytes(&taken, "pkce")?
                .ok_or_else(|| anyhow::anyhow!("a login without its verifier"))?,
            redirect_to: opt_text(&taken, "redirect_to")?.map(str::to_owned),
            link_account_id: opt_id(&taken, "link_account")?,
            handoff: HandoffBinding {
                browser: read_hash(&taken, "browser")?,
                challenge: opt_text(&taken, "challenge")?.map(str::to_owned),
            },
        }))
    }
}
