//! A URL that may carry a password (a database, Redis or SMTP URL): kept secret, and shown only
//! with the password masked.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// A URL that may carry a password. Its `Debug` and `Display` mask the password.
#[derive(Clone)]
pub struct SecretUrl(SecretString);

impl SecretUrl {
    pub fn new(url: &str) -> Self {
        Self(SecretString::from(url.to_owned()))
    }

    /// The full URL, password included: only for handing to a client library.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn scheme(&self) -> &str {
        self.expose().split(':').next().unwrap_or_default()
    }

    /// The URL with any password replaced by `***`.
    pub fn masked(&self) -> String {
        match Url::parse(self.expose()) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            Ok(url) => url.to_string(),
            Err(_) => "<unparseable URL>".to_owned(),
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_mask_the_password() {
        let url = SecretUrl::new("postgres://app:hunter2@db.internal/gatehouse");
        for shown in [format!("{url:?}"), url.to_string(), url.masked()] {
            assert!(!shown.contains("hunter2") && shown.contains("***"), "{shown}");
        }
        assert_eq!(url.expose(), "postgres://app:hunter2@db.internal/gatehouse");
        assert_eq!(url.scheme(), "postgres");
    }
}
