//! A document fetched from a URL someone else gave (an identity provider's metadata, a client's
//! key set), through the guard webhooks go through: such a URL must not make gatehouse call into
//! the network behind it. The URL is checked (form, and where its host resolves now), the client
//! connects only to addresses that pass the guard (a name rebound meanwhile reaches nothing),
//! follows no redirect and no proxy of the environment, gives up after [`TIMEOUT`] and reads at
//! most the caller's limit. It must be `https` unless the guard lets private addresses through
//! (`GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true`, for a network of one's own).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{CACHE_CONTROL, HeaderMap};
use url::Url;

use super::guard::Guard;

/// How long one fetch may take in all.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A document as fetched.
#[derive(Debug)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// The URL as checked.
    pub url: Url,
    /// How long its server lets it be kept (`Cache-Control: max-age`); `None` when it said
    /// nothing, `Some(0)` for `no-store`, `no-cache` or `max-age=0`.
    pub max_age: Option<Duration>,
}

/// Why a URL could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL itself: its form, its scheme, where it points.
    #[error("the URL cannot be used: {0}")]
    Unusable(String),
    /// The fetch: no answer, a non-2xx answer, too large, too slow.
    #[error("it could not be fetched: {0}")]
    NotFetched(String),
}

/// GETs `url` through `guard`, reading at most `limit` bytes.
pub async fn fetch(guard: Guard, url: &str, limit: usize) -> Result<Fetched, FetchError> {
    let url = guard.check(url).await.map_err(FetchError::Unusable)?;
    if url.scheme() != "https" && !guard.allows_private() {
        return Err(FetchError::Unusable("it must be https".into()));
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(TIMEOUT)
        .dns_resolver(guard.resolver())
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::NotFetched(format!("the HTTP client cannot be made: {e}")))?;
    let not_fetched = |e: reqwest::Error| FetchError::NotFetched(e.without_url().to_string());
    let mut response = client.get(url.clone()).send().await.map_err(not_fetched)?;
    if !response.status().is_success() {
        let why = format!("the server answered {} (redirects are not followed)", response.status());
        return Err(FetchError::NotFetched(why));
    }
    let max_age = max_age(response.headers());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(not_fetched)? {
        if body.len() + chunk.len() > limit {
            return Err(FetchError::NotFetched(format!("it is larger than {} KiB", limit / 1024)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched { body, url, max_age })
}

/// Documents fetched and kept, by URL, each until its own time, by the server's clock (which
/// tests move). At most [`Kept::MAX`] at once: past that the expired go, then all.
#[derive(Debug)]
pub struct Kept<T> {
    kept: Mutex<HashMap<String, Entry<T>>>,
}

/// One document kept.
#[derive(Clone, Debug)]
pub struct Entry<T> {
    pub value: T,
    pub fetched: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Self { kept: Mutex::new(HashMap::new()) }
    }
}

impl<T: Clone> Kept<T> {
    pub const MAX: usize = 1000;

    /// The document of `url`, unless it is past its time.
    pub fn get(&self, url: &str, now: DateTime<Utc>) -> Option<Entry<T>> {
        let kept = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.get(url).filter(|entry| entry.until > now).cloned()
    }

    /// Keeps `value`, fetched `now`, for `keep`.
    pub fn put(&self, url: &str, value: T, now: DateTime<Utc>, keep: Duration) -> Entry<T> {
        let until = now + chrono::TimeDelta::from_std(keep).unwrap_or_default();
        let entry = Entry { value, fetched: now, until };
        let mut kept = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() >= Self::MAX {
            kept.retain(|_, entry| entry.until > now);
            if kept.len() >= Self::MAX {
                kept.clear();
            }
        }
        kept.insert(url.to_owned(), entry.clone());
        entry
    }
}

/// What `Cache-Control` allows.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found = None;
    for directive in headers.get_all(CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
        let directive = directive.trim().to_ascii_lowercase();
        if matches!(directive.as_str(), "no-store" | "no-cache") {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            found = Some(Duration::from_secs(seconds.trim_matches('"').parse().unwrap_or(0)));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_is_read_as_rfc_9111_says() {
        let cases: [(&[&str], Option<u64>); 6] = [
            (&[], None),
            (&["public, max-age=600"], Some(600)),
            (&["max-age=\"60\""], Some(60)),
            (&["max-age=600", "no-cache"], Some(0)),
            (&["no-store"], Some(0)),
            (&["max-age=soon"], Some(0)),
        ];
        for (values, expected) in cases {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(CACHE_CONTROL, value.parse().unwrap());
            }
            assert_eq!(max_age(&headers), expected.map(Duration::from_secs), "{values:?}");
        }
    }
}
