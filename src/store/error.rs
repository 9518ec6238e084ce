//! The one error of every store (kept in the model, beside the values the ports speak in).

pub use crate::model::error::{StoreError, StoreResult};
