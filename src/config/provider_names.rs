//! The names of the provider variables, `GATEHOUSE_OIDC_<NAME>_<FIELD>`: apart from their
//! reading (`providers.rs`), since gathering the settings needs to know them too.

/// The prefix of every provider variable.
pub const PREFIX: &str = "GATEHOUSE_OIDC_";

/// The fields of a provider, as the suffix of its variables.
const FIELDS: &[&str] = &[
    "ISSUER",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "SCOPES",
    "TRUST_EMAIL",
    "TOKEN_AUTH",
    "LABEL",
    "AUTH_URL",
    "TOKEN_URL",
    "API_URL",
];

/// `(name, field)` of a provider variable, when `key` is one.
pub(super) fn split(key: &str) -> Option<(String, &'static str)> {
    let rest = key.strip_prefix(PREFIX)?;
    FIELDS.iter().find_map(|field| {
        let name = rest.strip_suffix(field)?.strip_suffix('_')?;
        (!name.is_empty()).then(|| (name.to_ascii_lowercase(), *field))
    })
}

/// Whether `key` names a provider field (so it is no unknown setting).
pub fn is_provider_variable(key: &str) -> bool {
    split(key).is_some()
}
