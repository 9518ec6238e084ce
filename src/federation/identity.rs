//! What the flows of every kind of provider take and give.

use secrecy::SecretString;
use url::Url;

use crate::config::ProviderConfig;

/// A provider as gatehouse is registered with it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Registration<'a> {
    pub config: &'a ProviderConfig,
    /// The callback the provider sends the browser back to.
    pub redirect_uri: &'a Url,
}

/// What a provider vouches for, verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// The issuer the identity belongs to; with `subject`, the identity's key.
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// The provider says it has verified `email`.
    pub email_verified: bool,
    pub name: Option<String>,
}

/// What the browser is sent to the provider with, and what must be kept to finish.
#[derive(Debug)]
pub struct Authorization {
    pub url: Url,
    pub state: SecretString,
    pub nonce: String,
    pub pkce_verifier: SecretString,
}

/// Why a provider's answer was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// The provider could not be reached, or answered with something that is not its protocol.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider answered, and the answer does not prove an identity: a refused code, an ID
    /// token with a bad signature, issuer, audience, nonce or expiry.
    #[error("the provider's answer was refused: {0}")]
    Refused(String),
}
