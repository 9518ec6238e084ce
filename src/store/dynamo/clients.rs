//! Client apps, their authorization codes and the consents people gave them.
//!
//! - A client is the item `CL#<client id>`/`CL`, listed through the `listing` index (`by_pk = CL`,
//!   `by_sk = <created>#<id>`). Its secret and registration access token are kept as their
//!   SHA-256 only (`secret`, `registration`), as the SQL store keeps them.
//! - A code is the item `AC#<hash, hex>`/`AC`, spent by one transaction: its update on condition
//!   that it is unspent and unexpired, with the conditions that its client and its account still
//!   exist. A code presented again after that is marked `reused`.
//! - A consent is the item `CG#<client id>` of its account's partition (it goes with the
//!   account), listed per client through the `listing` index (`by_pk = CG#<client id>`).
//!
//! Deleting a client deletes its item only; what the SQL store's cascades delete with it is made
//! unusable by the reads instead: redeeming a code checks, in its transaction, that the client
//! exists, and a consent is read only beside its client. Client ids are random and never given
//! again, so nothing left behind ever meets a new client. The consents found through the index
//! are then deleted too, so that they do not linger in the accounts' partitions; codes expire
//! within minutes.

mod initial_tokens;

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::items::{
    Item, Write, WriteError, hex, id, item, key, opt_hash, opt_text, s, stamp, stamp_text, text, time, ttl,
};
use super::owned::{account_owner, owner_exists};
use super::{DynamoStore, MAX_TRANSACTION};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::client::ClientPolicy;
use crate::model::outcome::Effects;
use crate::store::clients::{ClientStore, NewCode, OAuthClient, Redemption};
use crate::store::error::{StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

/// How many times a redemption is written again when a concurrent one met the same code.
const ATTEMPTS: usize = 8;

/// The partition of the `listing` index listing every client.
const CLIENTS: &str = "CL";

pub(super) fn client_key(id: &str) -> Item {
    key(format!("CL#{id}"), "CL")
}

fn code_key(hash: &TokenHash) -> Item {
    key(format!("AC#{}", hex(hash.as_bytes())), "AC")
}

fn consent_key(account_id: Uuid, client_id: &str) -> Item {
    key(account_owner(account_id), format!("CG#{client_id}"))
}

/// The partition of the `listing` index listing a client's consents.
fn consents_of(client_id: &str) -> String {
    format!("CG#{client_id}")
}

fn bytes(hash: &TokenHash) -> AttributeValue {
    AttributeValue::B(Blob::new(hash.as_bytes().to_vec()))
}

fn flag(item: &Item, name: &str) -> bool {
    matches!(item.get(name), Some(AttributeValue::Bool(true)))
}

/// A list as kept: space-separated (no item holds a space), as in the SQL store.
fn list(item: &Item, name: &str) -> StoreResult<Vec<String>> {
    Ok(text(item, name)?.split_whitespace().map(str::to_owned).collect())
}

fn client_item(client: &OAuthClient, secret: Option<&TokenHash>, registration: Option<&TokenHash>) -> Item {
    let mut attributes = vec![
        ("id", s(client.id.as_str())),
        ("name", s(client.name.as_str())),
        ("confidential", AttributeValue::Bool(client.confidential)),
        ("redirect_uris", s(client.redirect_uris.join(" "))),
        ("logout_uris", s(client.post_logout_redirect_uris.join(" "))),
        ("grant_types", s(client.grant_types.join(" "))),
        ("scopes", s(client.scopes.join(" "))),
        ("first_party", AttributeValue::Bool(client.first_party)),
        ("introspect", AttributeValue::Bool(client.introspect)),
        ("backchannel_sid", AttributeValue::Bool(client.backchannel_logout_session_required)),
        ("created", stamp(client.created_at)),
        ("updated", stamp(client.updated_at)),
        ("by_pk", s(CLIENTS)),
        ("by_sk", s(format!("{}#{}", stamp_text(client.created_at), client.id))),
    ];
    attributes.extend(client.backchannel_logout_uri.as_deref().map(|uri| ("backchannel_uri", s(uri))));
    attributes.extend(client.policy.stored().map(|policy| ("policy", s(policy))));
    attributes.extend(secret.map(|hash| ("secret", bytes(hash))));
    attributes.extend(registration.map(|hash| ("registration", bytes(hash))));
    let mut written = item("", "", attributes);
    written.extend(client_key(&client.id));
    written
}

fn client_from_item(item: &Item) -> StoreResult<OAuthClient> {
    Ok(OAuthClient {
        id: text(item, "id")?.to_owned(),
        name: text(item, "name")?.to_owned(),
        confidential: flag(item, "confidential"),
        redirect_uris: list(item, "redirect_uris")?,
        post_logout_redirect_uris: list(item, "logout_uris")?,
        grant_types: list(item, "grant_types")?,
        scopes: list(item, "scopes")?,
        first_party: flag(item, "first_party"),
        introspect: flag(item, "introspect"),
        self_registered: opt_hash(item, "registration")?.is_some(),
        backchannel_logout_uri: opt_text(item, "backchannel_uri")?.map(str::to_owned),
        backchannel_logout_session_required: flag(item, "backchannel_sid"),
        policy: ClientPolicy::from_stored(opt_text(item, "policy")?),
        created_at: time(item, "created")?,
        updated_at: time(item, "updated")?,
    })
}

fn code_from_item(item: &Item, hash: TokenHash) -> StoreResult<NewCode> {
    Ok(NewCode {
        hash,
        client_id: text(item, "client")?.to_owned(),
        account_id: id(item, "account")?,
        browser_session_id: id(item, "browser_session")?,
        redirect_uri: text(item, "redirect_uri")?.to_owned(),
        scopes: list(item, "scopes")?,
        nonce: opt_text(item, "nonce")?.map(str::to_owned),
        resources: list(item, "resources")?,
        code_challenge: text(item, "code_challenge")?.to_owned(),
        dpop_jkt: opt_text(item, "dpop_jkt")?.map(str::to_owned),
        auth: text(item, "auth")?.to_owned(),
        created_at: time(item, "created")?,
        expires_at: time(item, "expires")?,
    })
}

impl DynamoStore {
    async fn read_client(&self, id: &str) -> StoreResult<Option<Item>> {
        self.get(&self.tables.main, client_key(id)).await
    }

    /// Marks the spent code `hash` reused: the client session its redemption started, or
    /// [`Redemption::Unknown`] when it was never spent (expired, or unknown).
    async fn mark_reused(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Redemption> {
        let reused = Write::update(&self.tables.main, code_key(hash), "SET #reused = :now")
            .when("attribute_exists(#used)")
            .value("now", stamp(now));
        // A transaction of its own, so that it is retried when it meets a concurrent redemption.
        if !self.write_if(vec![reused], "redeem_code").await? {
            return Ok(Redemption::Unknown);
        }
        let Some(code) = self.get(&self.tables.main, code_key(hash)).await? else { return Ok(Redemption::Unknown) };
        let session_id = opt_text(&code, "session")?.map(Uuid::parse_str).transpose().map_err(anyhow::Error::from)?;
        Ok(Redemption::Reused { account_id: id(&code, "account")?, session_id })
    }
}

#[async_trait]
impl ClientStore for DynamoStore {
    async fn insert_client(
        &self,
        client: &OAuthClient,
        secret: Option<&TokenHash>,
        registration: Option<&TokenHash>,
        effects: &Effects,
    ) -> StoreResult<()> {
        timed!(DB, "insert_client", async {
            let written = client_item(client, secret, registration);
            let mut writes = vec![Write::put(&self.tables.main, written).when("attribute_not_exists(#pk)")];
            writes.extend(self.told(effects).await?);
            self.insert_new(writes, "insert_client").await
        })
    }

    async fn find_client(&self, id: &str) -> StoreResult<Option<OAuthClient>> {
        timed!(DB, "find_client", async { self.read_client(id).await?.as_ref().map(client_from_item).transpose() })
    }

    async fn client_secret(&self, id: &str) -> StoreResult<Option<TokenHash>> {
        timed!(DB, "client_secret", async {
            Ok(match self.read_client(id).await? {
                Some(found) => opt_hash(&found, "secret")?,
                None => None,
            })
        })
    }

    async fn registration_hash(&self, id: &str) -> StoreResult<Option<TokenHash>> {
        timed!(DB, "registration_hash", async {
            Ok(match self.read_client(id).await? {
                Some(found) => opt_hash(&found, "registration")?,
                None => None,
            })
        })
    }

    /// Through the `listing` index: a client registered a moment ago may be missing from the list.
    async fn list_clients(&self) -> StoreResult<Vec<OAuthClient>> {
        timed!(DB, "list_clients", async {
            let items = self.listed(CLIENTS, false).await?;
            let mut clients = items.iter().map(client_from_item).collect::<StoreResult<Vec<_>>>()?;
            clients.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(clients)
        })
    }

    async fn update_client(&self, client: &OAuthClient, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "update_client", async {
            let mut update = "SET #name = :name, #redirect_uris = :redirects, #logout_uris = :logouts, \
                              #grant_types = :grants, #scopes = :scopes, #first_party = :first_party, \
                              #introspect = :introspect, #updated = :updated, #backchannel_sid = :sid"
                .to_owned();
            let policy = client.policy.stored();
            let mut removed = Vec::new();
            match &client.backchannel_logout_uri {
                Some(_) => update.push_str(", #backchannel_uri = :uri"),
                None => removed.push("#backchannel_uri"),
            }
            match &policy {
                Some(_) => update.push_str(", #policy = :policy"),
                None => removed.push("#policy"),
            }
            if !removed.is_empty() {
                update.push_str(&format!(" REMOVE {}", removed.join(", ")));
            }
            let mut write = Write::update(&self.tables.main, client_key(&client.id), update)
                .when("attribute_exists(#pk)")
                .value("name", s(client.name.as_str()))
                .value("redirects", s(client.redirect_uris.join(" ")))
                .value("logouts", s(client.post_logout_redirect_uris.join(" ")))
                .value("grants", s(client.grant_types.join(" ")))
                .value("scopes", s(client.scopes.join(" ")))
                .value("first_party", AttributeValue::Bool(client.first_party))
                .value("introspect", AttributeValue::Bool(client.introspect))
                .value("updated", stamp(client.updated_at))
                .value("sid", AttributeValue::Bool(client.backchannel_logout_session_required));
            if let Some(uri) = &client.backchannel_logout_uri {
                write = write.value("uri", s(uri.as_str()));
            }
            if let Some(policy) = policy {
                write = write.value("policy", s(policy));
            }
            let mut writes = vec![write];
            writes.extend(self.told(effects).await?);
            self.write_if(writes, "update_client").await
        })
    }

    async fn set_client_secret(
        &self,
        id: &str,
        secret: &TokenHash,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<bool> {
        timed!(DB, "set_client_secret", async {
            let write = Write::update(&self.tables.main, client_key(id), "SET #secret = :secret, #updated = :now")
                .when("attribute_exists(#pk) AND #confidential = :yes")
                .value("secret", bytes(secret))
                .value("now", stamp(now))
                .value("yes", AttributeValue::Bool(true));
            let mut writes = vec![write];
            writes.extend(self.told(effects).await?);
            self.write_if(writes, "set_client_secret").await
        })
    }

    async fn delete_client(&self, id: &str, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_client", async {
            let mut writes = vec![Write::delete(&self.tables.main, client_key(id)).when("attribute_exists(#pk)")];
            writes.extend(self.told(effects).await?);
            if !self.write_if(writes, "delete_client").await? {
                return Ok(false);
            }
            // The consents the index lists already (one saved a moment before may be missing:
            // it is unusable all the same, since its client is gone).
            let items = self.listed(&consents_of(id), false).await?;
            let keys =
                items.iter().map(|c| Ok(key(text(c, "pk")?, text(c, "sk")?))).collect::<StoreResult<Vec<_>>>()?;
            for chunk in keys.chunks(MAX_TRANSACTION) {
                let writes = chunk.iter().map(|k| Write::delete(&self.tables.main, k.clone())).collect();
                self.write_if(writes, "delete_client").await?;
            }
            Ok(true)
        })
    }

    async fn insert_code(&self, code: &NewCode) -> StoreResult<()> {
        timed!(DB, "insert_code", async {
            let mut attributes = vec![
                ("client", s(code.client_id.as_str())),
                ("account", s(code.account_id.to_string())),
                ("browser_session", s(code.browser_session_id.to_string())),
                ("redirect_uri", s(code.redirect_uri.as_str())),
                ("scopes", s(code.scopes.join(" "))),
                ("resources", s(code.resources.join(" "))),
                ("code_challenge", s(code.code_challenge.as_str())),
                ("auth", s(code.auth.as_str())),
                ("created", stamp(code.created_at)),
                ("expires", stamp(code.expires_at)),
                ("ttl", ttl(code.expires_at)),
            ];
            attributes.extend(code.nonce.as_deref().map(|nonce| ("nonce", s(nonce))));
            attributes.extend(code.dpop_jkt.as_deref().map(|jkt| ("dpop_jkt", s(jkt))));
            let mut written = item("", "", attributes);
            written.extend(code_key(&code.hash));
            let put = Write::put(&self.tables.main, written).when("attribute_not_exists(#pk)");
            self.insert_new(vec![put], "insert_code").await
        })
    }

    async fn redeem_code(&self, hash: &TokenHash, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<Redemption> {
        timed!(DB, "redeem_code", async {
            let Some(code) = self.get(&self.tables.main, code_key(hash)).await? else {
                return Ok(Redemption::Unknown);
            };
            let issued = code_from_item(&code, *hash)?;
            // The code's update carries "once": of the redemptions racing for it, the one
            // transaction whose condition held spends it. The checks make a code of a deleted
            // client or account unknown, as the SQL store's cascades do.
            let writes = || {
                vec![
                    Write::update(&self.tables.main, code_key(hash), "SET #used = :now, #session = :session")
                        .when("attribute_exists(#pk) AND attribute_not_exists(#used) AND #expires > :now")
                        .value("now", stamp(now))
                        .value("session", s(session_id.to_string())),
                    Write::check(&self.tables.main, client_key(&issued.client_id), "attribute_exists(#pk)"),
                    owner_exists(&self.tables, &account_owner(issued.account_id)),
                ]
            };
            for _ in 0..ATTEMPTS {
                let built = writes().into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
                match self.transact(built).await {
                    Ok(()) => return Ok(Redemption::Spent(Box::new(issued))),
                    Err(WriteError::Conflict) => continue,
                    Err(WriteError::Store(error)) => return Err(error),
                    Err(failed) if failed.failed(1) || failed.failed(2) => return Ok(Redemption::Unknown),
                    Err(_) => return self.mark_reused(hash, now).await,
                }
            }
            Err(StoreError::Unavailable(anyhow::anyhow!("redeem_code: kept meeting concurrent writes")))
        })
    }

    async fn code_reused(&self, hash: &TokenHash) -> StoreResult<bool> {
        timed!(DB, "code_reused", async {
            let code = self.get(&self.tables.main, code_key(hash)).await?;
            Ok(code.is_some_and(|code| code.contains_key("reused")))
        })
    }

    async fn consent(&self, account_id: Uuid, client_id: &str) -> StoreResult<Option<Vec<String>>> {
        timed!(DB, "consent", async {
            let Some(found) = self.get(&self.tables.main, consent_key(account_id, client_id)).await? else {
                return Ok(None);
            };
            // A consent counts only while its client exists (see the module documentation).
            if self.read_client(client_id).await?.is_none() {
                return Ok(None);
            }
            list(&found, "scopes").map(Some)
        })
    }

    async fn save_consent(
        &self,
        account_id: Uuid,
        client_id: &str,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        timed!(DB, "save_consent", async {
            let attributes = vec![
                ("client", s(client_id)),
                ("scopes", s(scopes.join(" "))),
                ("granted", stamp(now)),
                ("by_pk", s(consents_of(client_id))),
                ("by_sk", s(account_id.to_string())),
            ];
            let mut written = item("", "", attributes);
            written.extend(consent_key(account_id, client_id));
            // The consent replaces the one before, in a transaction with the conditions that its
            // account and its client exist (a consent never outlives either).
            let writes = vec![
                Write::put(&self.tables.main, written),
                owner_exists(&self.tables, &account_owner(account_id)),
                Write::check(&self.tables.main, client_key(client_id), "attribute_exists(#pk)"),
            ];
            match self.write_if(writes, "save_consent").await? {
                true => Ok(()),
                false => Err(anyhow::anyhow!("save_consent: the account or the client is gone").into()),
            }
        })
    }
}
