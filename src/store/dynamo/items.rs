//! Items and their attributes: building the writes of a transaction, reading the attributes
//! back, and turning the SDK's errors into [`StoreError`]s.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use crate::store::error::{StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

/// An item as the SDK gives it.
pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A time as stored: RFC 3339 in UTC with microseconds, so that stored times compare as text
/// in the order of time (conditions such as `expires > :now`).
pub(super) fn stamp(at: DateTime<Utc>) -> AttributeValue {
    s(stamp_text(at))
}

pub(super) fn stamp_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The `ttl` attribute of an item that expires at `at`: epoch seconds, as DynamoDB's expiry
/// reads it (a little late; reads check the expiry themselves).
pub(super) fn ttl(at: DateTime<Utc>) -> AttributeValue {
    n(at.timestamp().max(0))
}

/// Bytes as lower-case hex (a token hash in a key).
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes `text` spells in [`hex`]; `None` when it is not lower- or upper-case hex pairs.
pub(super) fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|at| text.get(at..at + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

/// The primary key of the item `pk`/`sk`.
pub(super) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// An item's primary key attributes and the others given.
pub(super) fn item(pk: impl Into<String>, sk: impl Into<String>, attributes: Vec<(&str, AttributeValue)>) -> Item {
    let mut item = key(pk, sk);
    item.extend(attributes.into_iter().map(|(name, value)| (name.to_owned(), value)));
    item
}

/// The attribute names an expression writes as `#name` (every attribute is named so, since
/// DynamoDB reserves hundreds of words — `status`, `current`, `auth` — as names in expressions).
pub(super) fn names(expressions: &[&str]) -> Option<HashMap<String, String>> {
    let mut names = HashMap::new();
    for expression in expressions {
        let mut rest = *expression;
        while let Some(at) = rest.find('#') {
            let name: String = rest[at + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            rest = &rest[at + 1 + name.len()..];
            names.insert(format!("#{name}"), name);
        }
    }
    (!names.is_empty()).then_some(names)
}

/// One write of a transaction, with its condition and the values the expressions name
/// (`:name` placeholders; attributes are written `#name`, see [`names`]).
#[derive(Clone, Debug)]
pub(super) struct Write {
    table: String,
    kind: WriteKind,
    condition: Option<String>,
    values: Item,
}

#[derive(Clone, Debug)]
enum WriteKind {
    Put(Item),
    Update(Item, String),
    Delete(Item),
    Check(Item),
}

impl Write {
    pub(super) fn put(table: &str, item: Item) -> Self {
        Self { table: table.to_owned(), kind: WriteKind::Put(item), condition: None, values: Item::new() }
    }

    /// An update of the item `key` by the update expression `expression`.
    pub(super) fn update(table: &str, key: Item, expression: impl Into<String>) -> Self {
        let kind = WriteKind::Update(key, expression.into());
        Self { table: table.to_owned(), kind, condition: None, values: Item::new() }
    }

    pub(super) fn delete(table: &str, key: Item) -> Self {
        Self { table: table.to_owned(), kind: WriteKind::Delete(key), condition: None, values: Item::new() }
    }

    /// A condition on an item the transaction does not write.
    pub(super) fn check(table: &str, key: Item, condition: impl Into<String>) -> Self {
        let kind = WriteKind::Check(key);
        Self { table: table.to_owned(), kind, condition: Some(condition.into()), values: Item::new() }
    }

    /// Written only when `condition` holds (else the whole transaction is cancelled).
    pub(super) fn when(mut self, condition: impl Into<String>) -> Self {
        self.condition = Some(condition.into());
        self
    }

    /// The value of the placeholder `:name` in the expressions.
    pub(super) fn value(mut self, name: &str, value: AttributeValue) -> Self {
        self.values.insert(format!(":{name}"), value);
        self
    }

    /// This update as a call of its own (not in a transaction).
    pub(super) fn single_update(self, client: &Client) -> StoreResult<UpdateItemFluentBuilder> {
        let WriteKind::Update(key, expression) = self.kind else {
            return Err(anyhow::anyhow!("only an update is written alone").into());
        };
        let names = names(&[&expression, self.condition.as_deref().unwrap_or_default()]);
        Ok(client
            .update_item()
            .table_name(self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .set_condition_expression(self.condition)
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .set_expression_attribute_names(names))
    }

    pub(super) fn build(self) -> StoreResult<TransactWriteItem> {
        let values = (!self.values.is_empty()).then_some(self.values);
        let condition = self.condition.as_deref().unwrap_or_default();
        let names = match &self.kind {
            WriteKind::Update(_, expression) => names(&[expression, condition]),
            _ => names(&[condition]),
        };
        let built = TransactWriteItem::builder();
        let built = match self.kind {
            WriteKind::Put(item) => built.put(
                Put::builder()
                    .table_name(self.table)
                    .set_item(Some(item))
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_values(values)
                    .set_expression_attribute_names(names)
                    .build()
                    .map_err(anyhow::Error::from)?,
            ),
            WriteKind::Update(key, expression) => built.update(
                Update::builder()
                    .table_name(self.table)
                    .set_key(Some(key))
                    .update_expression(expression)
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_values(values)
                    .set_expression_attribute_names(names)
                    .build()
                    .map_err(anyhow::Error::from)?,
            ),
            WriteKind::Delete(key) => built.delete(
                Delete::builder()
                    .table_name(self.table)
                    .set_key(Some(key))
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_values(values)
                    .set_expression_attribute_names(names)
                    .build()
                    .map_err(anyhow::Error::from)?,
            ),
            WriteKind::Check(key) => built.condition_check(
                ConditionCheck::builder()
                    .table_name(self.table)
                    .set_key(Some(key))
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_values(values)
                    .set_expression_attribute_names(names)
                    .build()
                    .map_err(anyhow::Error::from)?,
            ),
        };
        Ok(built.build())
    }
}

/// How a transaction failed.
#[derive(Debug)]
pub(super) enum WriteError {
    /// Cancelled: for each item, in order, whether its condition failed.
    Condition(Vec<bool>),
    /// Cancelled because another transaction wrote one of its items at the same moment: it may
    /// simply run again.
    Conflict,
    Store(StoreError),
}

impl WriteError {
    /// Whether the condition of the `index`th item failed.
    pub(super) fn failed(&self, index: usize) -> bool {
        matches!(self, WriteError::Condition(failed) if failed.get(index).copied().unwrap_or(false))
    }
}

impl WriteError {
    /// The error of a transaction whose conditions only guard new keys against a collision
    /// (`what` names it): a cancelled one is a conflict.
    pub(super) fn into_store(self, what: &str) -> StoreError {
        match self {
            WriteError::Store(error) => error,
            WriteError::Conflict => StoreError::Conflict,
            WriteError::Condition(_) => anyhow::anyhow!("{what}: a new item's key is taken").into(),
        }
    }
}

impl From<StoreError> for WriteError {
    fn from(error: StoreError) -> Self {
        WriteError::Store(error)
    }
}

pub(super) fn write_error<R: std::fmt::Debug + Send + Sync + 'static>(
    error: SdkError<TransactWriteItemsError, R>,
) -> WriteError {
    if let SdkError::ServiceError(service) = &error
        && let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err()
    {
        let codes: Vec<&str> = cancelled.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")).collect();
        if codes.contains(&"ConditionalCheckFailed") {
            return WriteError::Condition(codes.iter().map(|code| *code == "ConditionalCheckFailed").collect());
        }
        if codes.contains(&"TransactionConflict") {
            return WriteError::Conflict;
        }
    }
    if let SdkError::ServiceError(service) = &error
        && service.err().code() == Some("TransactionConflictException")
    {
        return WriteError::Conflict;
    }
    WriteError::Store(sdk_error(error))
}

/// Any other call's error: [`StoreError::Unavailable`] when DynamoDB could not be reached or
/// asked to slow down (the request may succeed later), [`StoreError::Other`] otherwise.
pub(super) fn sdk_error<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    const PASSING: [&str; 6] = [
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
    ];
    let passing = match &error {
        SdkError::ServiceError(service) => service.err().code().is_some_and(|code| PASSING.contains(&code)),
        SdkError::ConstructionFailure(_) => false,
        _ => true,
    };
    let described = anyhow::anyhow!("DynamoDB: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&error));
    match passing {
        true => StoreError::Unavailable(described),
        false => StoreError::Other(described),
    }
}

/// The text attribute `name`.
pub(super) fn text<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    opt_text(item, name)?.ok_or_else(|| anyhow::anyhow!("an item without its {name:?}").into())
}

/// The text attribute `name`, if the item has it.
pub(super) fn opt_text<'a>(item: &'a Item, name: &str) -> StoreResult<Option<&'a str>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(text)) => Ok(Some(text)),
        Some(_) => Err(anyhow::anyhow!("the attribute {name:?} is not text").into()),
    }
}

pub(super) fn number(item: &Item, name: &str) -> StoreResult<i64> {
    match item.get(name) {
        Some(AttributeValue::N(number)) => {
            number.parse().map_err(|_| anyhow::anyhow!("the attribute {name:?} is not a whole number").into())
        }
        _ => Err(anyhow::anyhow!("an item without its number {name:?}").into()),
    }
}

pub(super) fn id(item: &Item, name: &str) -> StoreResult<Uuid> {
    let text = text(item, name)?;
    Uuid::parse_str(text).map_err(|_| anyhow::anyhow!("the attribute {name:?} is not a UUID").into())
}

pub(super) fn time(item: &Item, name: &str) -> StoreResult<DateTime<Utc>> {
    opt_time(item, name)?.ok_or_else(|| anyhow::anyhow!("an item without its time {name:?}").into())
}

pub(super) fn opt_time(item: &Item, name: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let Some(text) = opt_text(item, name)? else { return Ok(None) };
    let parsed =
        DateTime::parse_from_rfc3339(text).map_err(|_| anyhow::anyhow!("the attribute {name:?} is not a time"))?;
    Ok(Some(parsed.with_timezone(&Utc)))
}

/// The hash kept as the attribute `name`, if the item has it.
pub(super) fn opt_hash(item: &Item, name: &str) -> StoreResult<Option<TokenHash>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::B(bytes)) => TokenHash::from_bytes(bytes.as_ref())
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("a stored {name:?} is not 32 bytes").into()),
        Some(_) => Err(anyhow::anyhow!("the attribute {name:?} is not bytes").into()),
    }
}
