//! An identity provider's metadata fetched from the URL its admins give (`metadata_url`),
//! through the guarded fetch (`webhooks::fetch`), reading at most 256 KiB.

use super::{Error, Organizations, Result};
use crate::webhooks::Guard;
use crate::webhooks::fetch::{FetchError, fetch};

/// The most a metadata document may weigh, as fetched.
const MAX_METADATA: usize = 256 * 1024;

impl Organizations {
    /// The metadata at `url`, and the URL as checked.
    pub(super) async fn fetch_idp_metadata(&self, url: &str) -> Result<(String, String)> {
        let fetched = match fetch(Guard::new(self.settings.webhooks_allow_private), url, MAX_METADATA).await {
            Ok(fetched) => fetched,
            Err(FetchError::Unusable(why)) => {
                return Err(Error::field("metadata_url", format!("the metadata URL cannot be used: {why}")));
            }
            Err(FetchError::NotFetched(why)) => {
                return Err(Error::SsoMetadataInvalid(format!("the metadata could not be fetched: {why}")));
            }
        };
        let text = String::from_utf8(fetched.body)
            .map_err(|_| Error::SsoMetadataInvalid("the metadata could not be fetched: it is not UTF-8 text".into()))?;
        Ok((text, fetched.url.to_string()))
    }
}
