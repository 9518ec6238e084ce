//! The DynamoDB store (`dynamodb://<table-prefix>` database URLs): the persistence ports over
//! three tables, every guarantee of the SQL store carried by conditional writes and
//! `TransactWriteItems`.
//!
//! # Tables
//!
//! - `<prefix>main`: one table for what the account rules read and change (single-table
//!   design: an item's kind is in its keys), keys `pk` and `sk` (strings), expiry in `ttl`
//!   (epoch seconds; DynamoDB deletes late, so every read checks the expiry itself).
//!   - an account: `pk = A#<id>`, `sk = A`, its fields as the JSON `doc`, the password hash,
//!     and `ver`, the version every change checks and raises (optimistic concurrency: a change
//!     reads the account, computes the new item and writes it on condition that `ver` is
//!     still what it read, or reads again);
//!   - uniqueness markers, written in the transaction of the change that takes the value, on
//!     condition that they do not exist: `E#<email, lower case>` (moved when the address
//!     changes, removed with the account) and `U#<username, lower case>` (never removed: a
//!     username once given never goes to another account);
//!   - the set of active admins (`pk = sk = ADMINS`, string set `ids`): a change that makes an
//!     account an active admin adds it; one that ends it removes it on condition that another
//!     remains (the last-admin guard, exact under any concurrency, since every such change
//!     writes this one item in its transaction);
//!   - a one-time link token: `T#<hash, hex>` (only the hash is stored), spent by a write on
//!     condition that it is unspent and unexpired, in the transaction of what it does.
//! - `<prefix>jobs`: the job queue. A job is the item `J#<id>`; while it waits, is held or is
//!   being sent, its lane has an entry for it (`pk = L#<kind>#<lane>`, `sk = <job id>`,
//!   UUIDv7, so in the order written), where a strongly consistent query finds the lane's
//!   first job; the index `due` (`due_pk = <kind>`, `due_sk = <time>#<id>`: when it is next
//!   due, or when its claim runs out) lists what a claim may take.
//! - `<prefix>audit`: the audit trail, `pk = M#<month>`, `sk = <event id>`, with the index
//!   `account` (`account_pk`, `sk`).
//!
//! A change and what it tells (its emails as jobs, its audit events) are one transaction of at
//! most [`MAX_TRANSACTION`] items.

mod accounts;
mod admin;
mod api_keys;
mod audit;
mod clients;
mod devices;
mod effects;
mod email_change;
mod email_login;
mod identities;
mod import;
mod invitations;
mod items;
mod jobs;
mod keys;
mod limits;
mod mfa;
mod org_domains;
mod org_roles;
mod orgs;
mod owned;
mod passkeys;
mod plan;
mod probe;
mod reads;
mod scim;
mod scim_groups;
mod seeding;
mod sessions;
mod sso;
mod tables;
mod tokens;
mod webhooks;

use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::TransactWriteItem;

use self::items::{Item, Write, WriteError};
pub use self::tables::{Tables, Target};
use crate::secret_url::SecretUrl;
use crate::store::error::{StoreError, StoreResult};

/// How many times a transaction is written again when a concurrent one met the same items.
const ATTEMPTS: usize = 8;

/// The most items one `TransactWriteItems` may write.
pub const MAX_TRANSACTION: usize = 100;

/// The DynamoDB store; see the module documentation.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
}

impl DynamoStore {
    /// A client for the tables `url` names, configured as the AWS SDK is (`AWS_REGION`, the
    /// credentials chain, `AWS_ENDPOINT_URL_DYNAMODB` for a local engine) unless the URL names
    /// the region or endpoint, each call bounded by `timeout`. Neither creates nor checks the
    /// tables: see [`Self::create_tables`] and [`Self::check_tables`].
    pub async fn connect(url: &SecretUrl, timeout: Duration) -> anyhow::Result<Self> {
        let Target { tables, region, endpoint } = Target::from_url(url.expose())?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let timeouts =
            aws_config::timeout::TimeoutConfig::builder().connect_timeout(timeout).operation_timeout(timeout).build();
        let mut loader =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http).timeout_config(timeouts);
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region));
        }
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        if config.region().is_none() {
            anyhow::bail!("a dynamodb:// database needs a region: set AWS_REGION (e.g. AWS_REGION=eu-west-1)");
        }
        Ok(Self { client: Client::new(&config), tables })
    }

    /// The SDK's client, for the tools and tests that look at the tables themselves.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table names.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Creates the tables that are missing (on-demand billing, with their indexes, expiry and
    /// the job table's stream) and waits until all are active.
    pub async fn create_tables(&self) -> anyhow::Result<()> {
        tables::create(&self.client, &self.tables).await.context("creating the DynamoDB tables")
    }

    /// The tables that are missing; an error when one exists without the keys and indexes
    /// this version reads.
    pub async fn check_tables(&self) -> anyhow::Result<Vec<String>> {
        tables::check(&self.client, &self.tables).await
    }

    /// The item `key` of `table`, read strongly consistent.
    async fn get(&self, table: &str, key: Item) -> StoreResult<Option<Item>> {
        let read = self.client.get_item().table_name(table).set_key(Some(key)).consistent_read(true);
        Ok(read.send().await.map_err(items::sdk_error)?.item)
    }

    /// Writes the one item of `update` if its condition holds: the item as written, or `None`
    /// when the condition failed (another writer came first, or the item is gone or spent).
    async fn update_if(&self, update: Write) -> StoreResult<Option<Item>> {
        let request = update.single_update(&self.client)?;
        match request.return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew).send().await {
            Ok(written) => Ok(written.attributes),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(None)
            }
            Err(error) => Err(items::sdk_error(error)),
        }
    }

    /// Writes `writes` in one transaction, read again on a conflict: `false` when one of their
    /// conditions failed (nothing was written).
    async fn write_if(&self, writes: Vec<Write>, what: &str) -> StoreResult<bool> {
        let built: Vec<TransactWriteItem> = writes.into_iter().map(Write::build).collect::<StoreResult<_>>()?;
        for _ in 0..ATTEMPTS {
            match self.transact(built.clone()).await {
                Ok(()) => return Ok(true),
                Err(WriteError::Conflict) => continue,
                Err(WriteError::Condition(_)) => return Ok(false),
                Err(WriteError::Store(error)) => return Err(error),
            }
        }
        Err(StoreError::Unavailable(anyhow::anyhow!("{what}: kept meeting concurrent writes")))
    }

    /// The items of the partition `pk` of `table` whose sort keys begin with `prefix`, in the
    /// order of their sort keys (strongly consistent, every page).
    async fn partition(&self, table: &str, pk: &str, prefix: &str) -> StoreResult<Vec<Item>> {
        // DynamoDB refuses an empty string in a key condition: no prefix is the whole partition.
        let condition = match prefix.is_empty() {
            true => "#pk = :pk",
            false => "#pk = :pk AND begins_with(#sk, :prefix)",
        };
        let mut query = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression(condition)
            .set_expression_attribute_names(items::names(&[condition]))
            .expression_attribute_values(":pk", items::s(pk))
            .consistent_read(true);
        if !prefix.is_empty() {
            query = query.expression_attribute_values(":prefix", items::s(prefix));
        }
        query.into_paginator().items().send().try_collect().await.map_err(items::sdk_error)
    }

    /// Writes `items` in one transaction: all or none. A failed condition comes back as
    /// [`WriteError::Condition`], with which items' conditions failed.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), WriteError> {
        if items.len() > MAX_TRANSACTION {
            let error = anyhow::anyhow!("a change of {} items exceeds DynamoDB's transaction", items.len());
            return Err(WriteError::Store(error.into()));
        }
        let request = self.client.transact_write_items().set_transact_items(Some(items));
        request.send().await.map(|_| ()).map_err(items::write_error)
    }
}
