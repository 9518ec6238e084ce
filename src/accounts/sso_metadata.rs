//! An identity provider's metadata fetched from the URL its admins give (`metadata_url`),
//! through the guard webhooks go through: an admin's URL must not make gatehouse call into the
//! network behind it. The URL is checked (form, and where its host resolves now), the client
//! connects only to addresses that pass the guard (a name rebound meanwhile reaches nothing),
//! follows no redirect and no proxy of the environment, gives up after 10 s and reads at most
//! 256 KiB. `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true` lifts the guard, as for webhooks, for an
//! identity provider on a private network.

use std::time::Duration;

use super::{Error, Organizations, Result};
use crate::webhooks::guard::Guard;

/// The most a metadata document may weigh, as fetched.
const MAX_METADATA: usize = 256 * 1024;
/// How long the fetch may take in all.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

fn unusable(why: impl std::fmt::Display) -> Error {
    Error::field("metadata_url", format!("the metadata URL cannot be used: {why}"))
}

fn not_fetched(why: impl std::fmt::Display) -> Error {
    Error::SsoMetadataInvalid(format!("the metadata could not be fetched: {why}"))
}

impl Organizations {
    /// The metadata at `url`, and the URL as checked.
    pub(super) async fn fetch_idp_metadata(&self, url: &str) -> Result<(String, String)> {
        let allow_private = self.settings.webhooks_allow_private;
        let guard = Guard::new(allow_private);
        let url = guard.check(url).await.map_err(unusable)?;
        if url.scheme() != "https" && !allow_private {
            return Err(unusable("it must be https"));
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(FETCH_TIMEOUT)
            .dns_resolver(guard.resolver())
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("the HTTP client cannot be made: {e}"))?;
        let mut response = client.get(url.clone()).send().await.map_err(|e| not_fetched(e.without_url()))?;
        if !response.status().is_success() {
            return Err(not_fetched(format!("the server answered {} (redirects are not followed)", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| not_fetched(e.without_url()))? {
            if body.len() + chunk.len() > MAX_METADATA {
                return Err(not_fetched("it is larger than 256 KiB"));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body).map_err(|_| not_fetched("it is not UTF-8 text"))?;
        Ok((text, url.to_string()))
    }
}
