//! The device authorization grant's requests. A request is the item `DC#<device code hash>`;
//! the user code's hash points at the newest request given it (`DU#<user code hash>`). Every
//! change of state is one write on condition of the state it changes (pending and live to be
//! shown or answered, the poll count seen to record a poll, approved to be spent), so a code is
//! answered once, its tokens handed out once, and of two polls at once one is counted. Both
//! items expire with the request (as SQL's housekeeping purges it).

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DynamoStore;
use super::items::{Item, Write, hex, item, key, n, number, opt_text, opt_time, s, stamp, text, time, ttl};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::devices::{DeviceCode, DeviceDecision, DeviceState, DeviceStore};
use crate::store::error::StoreResult;
use crate::tokens::opaque::TokenHash;

fn code_key(device_hash: &TokenHash) -> Item {
    key(format!("DC#{}", hex(device_hash.as_bytes())), "DC")
}

fn user_key(user_hash: &TokenHash) -> Item {
    key(format!("DU#{}", hex(user_hash.as_bytes())), "DU")
}

fn bytes(hash: &TokenHash) -> AttributeValue {
    AttributeValue::B(Blob::new(hash.as_bytes().to_vec()))
}

fn read_hash(found: &Item, name: &str) -> StoreResult<TokenHash> {
    match found.get(name) {
        Some(AttributeValue::B(value)) => TokenHash::from_bytes(value.as_ref())
            .ok_or_else(|| anyhow::anyhow!("a stored {name:?} is not 32 bytes").into()),
        _ => Err(anyhow::anyhow!("an item without its hash {name:?}").into()),
    }
}

fn code_from_item(found: &Item) -> StoreResult<DeviceCode> {
    let state = text(found, "state")?;
    Ok(DeviceCode {
        device_hash: read_hash(found, "device")?,
        user_hash: read_hash(found, "user")?,
        client_id: text(found, "client")?.to_owned(),
        scopes: text(found, "scopes")?.split_whitespace().map(str::to_owned).collect(),
        state: DeviceState::parse(state).ok_or_else(|| anyhow::anyhow!("unknown device code state {state:?}"))?,
        account_id: opt_text(found, "account")?.map(Uuid::parse_str).transpose().map_err(anyhow::Error::from)?,
        auth: opt_text(found, "auth")?.map(str::to_owned),
        views: number(found, "views")?,
        polls: number(found, "polls")?,
        interval_secs: number(found, "interval")?,
        polled_at: opt_time(found, "polled")?,
        created_at: time(found, "created")?,
        expires_at: time(found, "expires")?,
    })
}

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn insert_device_code(&self, code: &DeviceCode) -> StoreResult<()> {
        timed!(DB, "insert_device_code", async {
            let mut attributes = vec![
                ("device", bytes(&code.device_hash)),
                ("user", bytes(&code.user_hash)),
                ("client", s(code.client_id.as_str())),
                ("scopes", s(code.scopes.join(" "))),
                ("state", s(code.state.as_str())),
                ("views", n(code.views)),
                ("polls", n(code.polls)),
                ("interval", n(code.interval_secs)),
                ("created", stamp(code.created_at)),
                ("expires", stamp(code.expires_at)),
                ("ttl", ttl(code.expires_at)),
            ];
            attributes.extend(code.account_id.map(|account| ("account", s(account.to_string()))));
            attributes.extend(code.auth.as_ref().map(|auth| ("auth", s(auth.as_str()))));
            attributes.extend(code.polled_at.map(|at| ("polled", stamp(at))));
            let mut written = item("", "", attributes);
            written.extend(code_key(&code.device_hash));
            let pointer = vec![
                ("device", bytes(&code.device_hash)),
                ("created", stamp(code.created_at)),
                ("ttl", ttl(code.expires_at)),
            ];
            let mut pointer = item("", "", pointer);
            pointer.extend(user_key(&code.user_hash));
            // The user code names the request written last (SQL shows the newest of the
            // requests sharing one).
            let writes = vec![
                Write::put(&self.tables.main, written).when("attribute_not_exists(#pk)"),
                Write::put(&self.tables.main, pointer),
            ];
            self.insert_new(writes, "insert_device_code").await
        })
    }

    async fn view_device_code(
        &self,
        user_hash: &TokenHash,
        max_views: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DeviceCode>> {
        timed!(DB, "view_device_code", async {
            let Some(pointer) = self.get(&self.tables.main, user_key(user_hash)).await? else { return Ok(None) };
            let device = read_hash(&pointer, "device")?;
            // Counted by a write on condition that the count is under the bound: concurrent
            // showings cannot pass it together.
            let shown = Write::update(&self.tables.main, code_key(&device), "SET #views = #views + :one")
                .when("attribute_exists(#pk) AND #state = :pending AND #expires > :now AND #views < :max")
                .value("one", n(1))
                .value("pending", s(DeviceState::Pending.as_str()))
                .value("now", stamp(now))
                .value("max", n(max_views));
            self.update_if(shown).await?.as_ref().map(code_from_item).transpose()
        })
    }

    async fn decide_device_code(
        &self,
        device_hash: &TokenHash,
        decision: &DeviceDecision,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        timed!(DB, "decide_device_code", async {
            let decided = match decision {
                DeviceDecision::Approve { account_id, auth } => Write::update(
                    &self.tables.main,
                    code_key(device_hash),
                    "SET #state = :state, #account = :account, #auth = :auth",
                )
                .value("state", s(DeviceState::Approved.as_str()))
                .value("account", s(account_id.to_string()))
                .value("auth", s(auth.as_str())),
                DeviceDecision::Deny => Write::update(
                    &self.tables.main,
                    code_key(device_hash),
                    "SET #state = :state REMOVE #account, #auth",
                )
                .value("state", s(DeviceState::Denied.as_str())),
            };
            // Answered once: on condition that it is still pending and live.
            let decided = decided
                .when("attribute_exists(#pk) AND #state = :pending AND #expires > :now")
                .value("pending", s(DeviceState::Pending.as_str()))
                .value("now", stamp(now));
            Ok(self.update_if(decided).await?.is_some())
        })
    }

    async fn device_code(&self, device_hash: &TokenHash) -> StoreResult<Option<DeviceCode>> {
        timed!(DB, "device_code", async {
            // Expired requests are given as they are (the grant tells the device so), until
            // expiry deletes them.
            self.get(&self.tables.main, code_key(device_hash)).await?.as_ref().map(code_from_item).transpose()
        })
    }

    async fn record_poll(
        &self,
        device_hash: &TokenHash,
        seen: i64,
        interval_secs: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        timed!(DB, "record_poll", async {
            // Counted on condition that the count is still the one seen: of polls at once, one.
            let polled = Write::update(
                &self.tables.main,
                code_key(device_hash),
                "SET #polls = #polls + :one, #polled = :now, #interval = :interval",
            )
            .when("attribute_exists(#pk) AND #polls = :seen")
            .value("one", n(1))
            .value("now", stamp(now))
            .value("interval", n(interval_secs))
            .value("seen", n(seen));
            Ok(self.update_if(polled).await?.is_some())
        })
    }

    async fn spend_device_code(&self, device_hash: &TokenHash) -> StoreResult<bool> {
        timed!(DB, "spend_device_code", async {
            // Spent once: on condition that it is approved.
            let spent = Write::update(&self.tables.main, code_key(device_hash), "SET #state = :spent")
                .when("attribute_exists(#pk) AND #state = :approved")
                .value("spent", s(DeviceState::Spent.as_str()))
                .value("approved", s(DeviceState::Approved.as_str()));
            Ok(self.update_if(spent).await?.is_some())
        })
    }
}
