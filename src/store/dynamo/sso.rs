//! Organizations' single sign-on connections, the logins waiting at their identity providers
//! and the assertions used.
//!
//! - A connection is the item `SSO#<id>` of its organization's partition (it goes with the
//!   organization, see `owned.rs`), with its companion `SC#<id>`/`SC` naming the organization,
//!   by which it is found by id. Every connection is also in the `listing` index (`by_pk = SSO`),
//!   which answers whether any exists.
//! - Adding one takes its turn with the organization's other changes as the SQL store's lock of
//!   the organization row makes it: it reads the organization's `ver`, counts the connections
//!   (a consistent query of the partition) and writes on condition that `ver` is unchanged,
//!   raising it; so the bound on connections is exact however many are added at once.
//! - A waiting login is the item `SR#<hash of its ID, hex>`/`R`; a used assertion is
//!   `SR#<hash, hex>`/`A`, kept until it expires. An answer is spent by one transaction: the
//!   request's update on condition that it is unspent, unexpired and of this connection, the
//!   check that the connection still exists (a deleted connection's waiting logins answer
//!   nothing, as the SQL store's cascade removes them; they expire by themselves), and the put
//!   of the assertion on condition that it was not used: both or neither, so two posts of one
//!   answer log in once.

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use super::DynamoStore;
use super::items::opt_hash;
use super::items::{
    Item, Write, WriteError, hex, id, item, key, n, names, number, opt_text, s, sdk_error, stamp, text, time, ttl,
};
use super::owned::{org_owner, with_companion};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::email_login::HandoffBinding;
use crate::model::outcome::Effects;
use crate::model::sso::Protocol;
use crate::store::error::{StoreError, StoreResult};
use crate::store::sso::{NewSamlRequest, SamlAnswer, SamlRequest, SamlSpend, SsoConnection, SsoStore};
use crate::tokens::opaque::TokenHash;

/// How many times a change is written again when another change of the organization came first.
const ATTEMPTS: usize = 8;

/// The sort key prefix of connections in their organization's partition.
const CONNECTION: &str = "SSO#";

/// The partition of the `listing` index listing every connection.
const CONNECTIONS: &str = "SSO";

fn connection_key(org_id: Uuid, id: Uuid) -> Item {
    key(org_owner(org_id), format!("{CONNECTION}{id}"))
}

fn companion_key(id: Uuid) -> Item {
    key(format!("SC#{id}"), "SC")
}

fn request_key(hash: &TokenHash) -> Item {
    key(format!("SR#{}", hex(hash.as_bytes())), "R")
}

fn assertion_key(hash: &TokenHash) -> Item {
    key(format!("SR#{}", hex(hash.as_bytes())), "A")
}

fn bytes(hash: &TokenHash) -> AttributeValue {
    AttributeValue::B(Blob::new(hash.as_bytes().to_vec()))
}

fn settings_text(connection: &SsoConnection) -> StoreResult<String> {
    let written = match &connection.protocol {
        Protocol::Saml(saml) => serde_json::to_string(saml),
        Protocol::Oidc(oidc) => serde_json::to_string(oidc),
    };
    written.map_err(|e| anyhow::anyhow!("settings not written: {e}").into())
}

fn connection_from_item(item: &Item) -> StoreResult<SsoConnection> {
    let settings = text(item, "settings")?;
    let unreadable = |e: serde_json::Error| anyhow::anyhow!("a stored connection's settings are not readable: {e}");
    let protocol = match text(item, "kind")? {
        "oidc" => Protocol::Oidc(serde_json::from_str(settings).map_err(unreadable)?),
        "saml" => Protocol::Saml(serde_json::from_str(settings).map_err(unreadable)?),
        other => return Err(anyhow::anyhow!("a stored connection of an unknown kind: {other}").into()),
    };
    Ok(SsoConnection {
        id: id(item, "id")?,
        org_id: id(item, "org")?,
        name: text(item, "name")?.to_owned(),
        default_role: text(item, "default_role")?.to_owned(),
        protocol,
        created_at: time(item, "created")?,
        updated_at: time(item, "updated")?,
    })
}

fn request_from_item(item: &Item) -> StoreResult<SamlRequest> {
    Ok(SamlRequest {
        binding_hash: opt_hash(item, "binding")?
            .ok_or_else(|| anyhow::anyhow!("a waiting login without its binding"))?,
        redirect_to: opt_text(item, "redirect_to")?.map(str::to_owned),
        handoff: HandoffBinding {
            browser: opt_hash(item, "browser")?,
            challenge: opt_text(item, "challenge")?.map(str::to_owned),
        },
    })
}

#[async_trait]
impl SsoStore for DynamoStore {
    async fn insert_sso_connection(
        &self,
        connection: &SsoConnection,
        max: usize,
        effects: &Effects,
    ) -> StoreResult<bool> {
        timed!(DB, "insert_sso_connection", async {
            let attributes = vec![
                ("id", s(connection.id.to_string())),
                ("org", s(connection.org_id.to_string())),
                ("kind", s(connection.protocol.kind())),
                ("name", s(connection.name.as_str())),
                ("default_role", s(connection.default_role.as_str())),
                ("settings", s(settings_text(connection)?)),
                ("created", stamp(connection.created_at)),
                ("updated", stamp(connection.updated_at)),
                ("by_pk", s(CONNECTIONS)),
                ("by_sk", s(connection.id.to_string())),
            ];
            let mut owned = item("", "", attributes);
            owned.extend(connection_key(connection.org_id, connection.id));
            let companion = companion_key(connection.id);
            let owned = with_companion(owned, &companion);
            let mut marker = item("", "", vec![("org", s(connection.org_id.to_string()))]);
            marker.extend(companion);
            let org = key(org_owner(connection.org_id), "O");
            for _ in 0..ATTEMPTS {
                let Some(read) = self.get(&self.tables.main, org.clone()).await? else {
                    return Err(anyhow::anyhow!("insert_sso_connection: the organization is gone").into());
                };
                let version = number(&read, "ver")?;
                let held = self.partition(&self.tables.main, &org_owner(connection.org_id), CONNECTION).await?;
                if held.len() >= max {
                    return Ok(false);
                }
                // The organization's version carries the bound: the count read stays true until
                // this transaction writes, or it fails and the count is read again.
                let turn = Write::update(&self.tables.main, org.clone(), "SET #ver = #ver + :one")
                    .when("#ver = :ver")
                    .value("one", n(1))
                    .value("ver", n(version));
                let fresh = "attribute_not_exists(#pk)";
                let mut writes = vec![
                    turn,
                    Write::put(&self.tables.main, owned.clone()).when(fresh),
                    Write::put(&self.tables.main, marker.clone()).when(fresh),
                ];
                writes.extend(self.told(effects).await?);
                let built = writes.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
                match self.transact(built).await {
                    Ok(()) => return Ok(true),
                    Err(WriteError::Conflict) => continue,
                    Err(failed) if failed.failed(0) => continue,
                    Err(failed) => return Err(failed.into_store("insert_sso_connection")),
                }
            }
            Err(StoreError::Unavailable(anyhow::anyhow!(
                "the organization {} kept changing while a connection was added",
                connection.org_id
            )))
        })
    }

    async fn sso_connection(&self, id: Uuid) -> StoreResult<Option<SsoConnection>> {
        timed!(DB, "sso_connection", async {
            let Some(marker) = self.get(&self.tables.main, companion_key(id)).await? else { return Ok(None) };
            let owned = connection_key(super::items::id(&marker, "org")?, id);
            self.get(&self.tables.main, owned).await?.as_ref().map(connection_from_item).transpose()
        })
    }

    async fn sso_connections(&self, org_id: Uuid) -> StoreResult<Vec<SsoConnection>> {
        timed!(DB, "sso_connections", async {
            let items = self.partition(&self.tables.main, &org_owner(org_id), CONNECTION).await?;
            let mut connections = items.iter().map(connection_from_item).collect::<StoreResult<Vec<_>>>()?;
            connections.sort_by_key(|connection| (connection.created_at, connection.id));
            Ok(connections)
        })
    }

    /// Through the `listing` index: a connection added (or removed) a moment ago may not count yet.
    async fn any_sso_connection(&self) -> StoreResult<bool> {
        timed!(DB, "any_sso_connection", async {
            let query = self
                .client
                .query()
                .table_name(&self.tables.main)
                .index_name("listing")
                .key_condition_expression("#by_pk = :pk")
                .set_expression_attribute_names(names(&["#by_pk"]))
                .expression_attribute_values(":pk", s(CONNECTIONS))
                .limit(1);
            let found = query.send().await.map_err(sdk_error)?;
            Ok(!found.items().is_empty())
        })
    }

    async fn update_sso_connection(&self, connection: &SsoConnection, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "update_sso_connection", async {
            let update = "SET #name = :name, #default_role = :role, #settings = :settings, #updated = :updated";
            let changed = Write::update(&self.tables.main, connection_key(connection.org_id, connection.id), update)
                .when("attribute_exists(#pk)")
                .value("name", s(connection.name.as_str()))
                .value("role", s(connection.default_role.as_str()))
                .value("settings", s(settings_text(connection)?))
                .value("updated", stamp(connection.updated_at));
            let mut writes = vec![changed];
            writes.extend(self.told(effects).await?);
            self.write_if(writes, "update_sso_connection").await
        })
    }

    async fn delete_sso_connection(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_sso_connection", async {
            // Its waiting logins stay until they expire, unusable: a spend checks the companion.
            let mut writes = vec![
                Write::delete(&self.tables.main, connection_key(org_id, id)).when("attribute_exists(#pk)"),
                Write::delete(&self.tables.main, companion_key(id)),
            ];
            writes.extend(self.told(effects).await?);
            self.write_if(writes, "delete_sso_connection").await
        })
    }

    async fn insert_saml_request(&self, request: &NewSamlRequest) -> StoreResult<()> {
        timed!(DB, "insert_saml_request", async {
            let mut attributes = vec![
                ("connection", s(request.connection_id.to_string())),
                ("binding", bytes(&request.binding_hash)),
                ("created", stamp(request.created_at)),
                ("expires", stamp(request.expires_at)),
                ("ttl", ttl(request.expires_at)),
            ];
            attributes.extend(request.redirect_to.as_deref().map(|to| ("redirect_to", s(to))));
            attributes.extend(request.handoff.browser.as_ref().map(|browser| ("browser", bytes(browser))));
            attributes.extend(request.handoff.challenge.as_deref().map(|challenge| ("challenge", s(challenge))));
            let mut written = item("", "", attributes);
            written.extend(request_key(&request.hash));
            let writes = vec![
                Write::put(&self.tables.main, written).when("attribute_not_exists(#pk)"),
                Write::check(&self.tables.main, companion_key(request.connection_id), "attribute_exists(#pk)"),
            ];
            self.insert_new(writes, "insert_saml_request").await
        })
    }

    async fn spend_saml_answer(&self, answer: &SamlAnswer<'_>) -> StoreResult<SamlSpend> {
        timed!(DB, "spend_saml_answer", async {
            let request = match answer.request {
                None => None,
                Some(hash) => match self.get(&self.tables.main, request_key(hash)).await? {
                    Some(found) => Some((hash, request_from_item(&found)?)),
                    None => return Ok(SamlSpend::UnknownRequest),
                },
            };
            let writes = || {
                let mut writes = Vec::new();
                if let Some((hash, _)) = &request {
                    let spent = "attribute_exists(#pk) AND #connection = :connection AND attribute_not_exists(#used) \
                                 AND #expires > :now";
                    writes.push(
                        Write::update(&self.tables.main, request_key(hash), "SET #used = :now")
                            .when(spent)
                            .value("connection", s(answer.connection_id.to_string()))
                            .value("now", stamp(answer.now)),
                    );
                    writes.push(Write::check(
                        &self.tables.main,
                        companion_key(answer.connection_id),
                        "attribute_exists(#pk)",
                    ));
                }
                // The assertion's put carries the replay protection: it is written only when
                // no answer used it before (or that use has expired).
                let remembered =
                    vec![("expires", stamp(answer.assertion_expires_at)), ("ttl", ttl(answer.assertion_expires_at))];
                let mut remembered = item("", "", remembered);
                remembered.extend(assertion_key(answer.assertion));
                writes.push(
                    Write::put(&self.tables.main, remembered)
                        .when("attribute_not_exists(#pk) OR #expires <= :now")
                        .value("now", stamp(answer.now)),
                );
                writes
            };
            let asks = usize::from(request.is_some()) * 2;
            for _ in 0..ATTEMPTS {
                let built = writes().into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
                match self.transact(built).await {
                    Ok(()) => return Ok(SamlSpend::Spent(request.map(|(_, found)| found))),
                    Err(WriteError::Conflict) => continue,
                    Err(WriteError::Store(error)) => return Err(error),
                    // The request's refusal comes first, as in the SQL store.
                    Err(failed) if (0..asks).any(|index| failed.failed(index)) => {
                        return Ok(SamlSpend::UnknownRequest);
                    }
                    Err(_) => return Ok(SamlSpend::Replayed),
                }
            }
            Err(StoreError::Unavailable(anyhow::anyhow!("spend_saml_answer: kept meeting concurrent writes")))
        })
    }
}
