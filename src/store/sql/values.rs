//! The values a statement binds ([`Arg`]) and the columns a row gives back ([`Row`]), in the
//! store's terms; each dialect maps them to its server's native types.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::store::error::{StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

/// A value bound to a statement's next placeholder, in the store's terms; each dialect binds it
/// in its native type (an id is a `UUID` on PostgreSQL and text elsewhere, say).
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    Id(Option<Uuid>),
    Text(Option<&'a str>),
    Int(i64),
    Bool(bool),
    Time(Option<DateTime<Utc>>),
    Bytes(Option<&'a [u8]>),
    /// A JSON object column (`data`).
    Object(&'a Map<String, Value>),
    /// Any JSON, or NULL.
    Json(Option<&'a Value>),
}

impl From<Uuid> for Arg<'_> {
    fn from(id: Uuid) -> Self {
        Arg::Id(Some(id))
    }
}

impl From<Option<Uuid>> for Arg<'_> {
    fn from(id: Option<Uuid>) -> Self {
        Arg::Id(id)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(text: &'a str) -> Self {
        Arg::Text(Some(text))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(text: &'a String) -> Self {
        Arg::Text(Some(text))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(text: Option<&'a str>) -> Self {
        Arg::Text(text)
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(text: &'a Option<String>) -> Self {
        Arg::Text(text.as_deref())
    }
}

impl From<i64> for Arg<'_> {
    fn from(n: i64) -> Self {
        Arg::Int(n)
    }
}

impl From<bool> for Arg<'_> {
    fn from(b: bool) -> Self {
        Arg::Bool(b)
    }
}

impl From<DateTime<Utc>> for Arg<'_> {
    fn from(time: DateTime<Utc>) -> Self {
        Arg::Time(Some(time))
    }
}

impl From<Option<DateTime<Utc>>> for Arg<'_> {
    fn from(time: Option<DateTime<Utc>>) -> Self {
        Arg::Time(time)
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Arg::Bytes(Some(bytes))
    }
}

impl<'a> From<&'a TokenHash> for Arg<'a> {
    fn from(hash: &'a TokenHash) -> Self {
        Arg::Bytes(Some(hash.as_bytes()))
    }
}

impl<'a> From<Option<&'a TokenHash>> for Arg<'a> {
    fn from(hash: Option<&'a TokenHash>) -> Self {
        Arg::Bytes(hash.map(|hash| hash.as_bytes().as_slice()))
    }
}

impl<'a> From<&'a Map<String, Value>> for Arg<'a> {
    fn from(data: &'a Map<String, Value>) -> Self {
        Arg::Object(data)
    }
}

/// The values for a statement's placeholders, in order: `args![id, now]`.
macro_rules! args {
    ($($arg:expr),* $(,)?) => {
        &[$($crate::store::sql::Arg::from($arg)),*]
    };
}
pub(crate) use args;

/// One row of a result, read column by column in the store's terms.
pub trait Row: Send + Sync + 'static {
    fn id(&self, column: &str) -> StoreResult<Uuid>;
    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>>;
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    /// Any integer column (counts, attempts, milliseconds).
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn bool(&self, column: &str) -> StoreResult<bool>;
    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>>;
    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>>;
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>>;
    fn opt_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>>;
    /// A JSON object column.
    fn object(&self, column: &str) -> StoreResult<Map<String, Value>>;
    /// A JSON column that may be NULL.
    fn opt_json(&self, column: &str) -> StoreResult<Option<Value>>;

    /// A count, as `u64`.
    fn count(&self, column: &str) -> StoreResult<u64> {
        Ok(self.int(column)?.try_into().unwrap_or_default())
    }

    /// A stored hash of a token, code or key (32 bytes).
    fn hash(&self, column: &str) -> StoreResult<TokenHash> {
        let bytes = self.bytes(column)?;
        Ok(TokenHash::from_bytes(&bytes).ok_or_else(|| anyhow::anyhow!("the stored {column} is not 32 bytes"))?)
    }
}

/// The columns every driver reads natively (text, booleans, times, bytes), for a dialect's
/// [`Row`] implementation; its module provides `get(row, column)`.
macro_rules! native_columns {
    () => {
        fn text(&self, column: &str) -> StoreResult<String> {
            get(self, column)
        }
        fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
            get(self, column)
        }
        fn bool(&self, column: &str) -> StoreResult<bool> {
            get(self, column)
        }
        fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
            get(self, column)
        }
        fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
            get(self, column)
        }
        fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
            get(self, column)
        }
        fn opt_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>> {
            get(self, column)
        }
        fn int(&self, column: &str) -> StoreResult<i64> {
            self.opt_int(column)?.ok_or_else(|| StoreError::Other(anyhow::anyhow!("{column} is NULL")))
        }
    };
    // Servers that have `INT` columns (attempts, counts of failures) beside `BIGINT` ones
    // (milliseconds, `COUNT(*)`): either is read as `i64`.
    (widening integers) => {
        $crate::store::sql::native_columns!();

        fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
            match self.try_get::<Option<i64>, _>(column) {
                Ok(n) => Ok(n),
                Err(sqlx::Error::ColumnDecode { .. }) => Ok(get::<Option<i32>>(self, column)?.map(i64::from)),
                Err(error) => Err(map_err(error)),
            }
        }
    };
}
pub(crate) use native_columns;

/// An id stored as text (SQLite, MySQL).
pub(crate) fn uuid_from_text(text: &str, column: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| StoreError::Other(anyhow::anyhow!("bad uuid in {column}: {e}")))
}

/// JSON stored as text (SQLite, MySQL).
pub(crate) fn json_from_text(text: &str, column: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Other(anyhow::anyhow!("bad json in {column}: {e}")))
}

/// A JSON object stored as text (SQLite, MySQL).
pub(crate) fn object_from_text(text: &str, column: &str) -> StoreResult<Map<String, Value>> {
    match json_from_text(text, column)? {
        Value::Object(map) => Ok(map),
        _ => Err(StoreError::Other(anyhow::anyhow!("{column} is not a JSON object"))),
    }
}
