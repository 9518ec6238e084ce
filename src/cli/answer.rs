//! What every command answers with: a refusal by the rules (one line, exit 1), the one-line
//! reason for a domain error, and the HTTP API's JSON shapes printed for scripts.

use crate::accounts::Error;

/// A refusal by the rules (no such account, the last admin, a bad value, no confirmation):
/// one line on standard error and exit 1, without an error in the log.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The one-line reason for a domain error; an unexpected failure keeps its cause chain.
pub fn explain(error: Error, not_found: impl FnOnce() -> String) -> anyhow::Error {
    let reason = match error {
        Error::Unexpected(cause) => return cause,
        Error::Unavailable(cause) => return cause.context("a backing service is unavailable"),
        Error::Validation(errors) => errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "),
        Error::LastAdmin => {
            "the last active admin cannot be demoted, disabled or deleted; make another admin first".to_owned()
        }
        Error::NotFound
        | Error::NotFoundClient
        | Error::NotFoundWebhook
        | Error::NotFoundDelivery
        | Error::NotFoundDomain => not_found(),
        Error::EmailTaken => "an account with this email exists already".to_owned(),
        Error::UsernameTaken => "an account with this username exists already".to_owned(),
        other => other.to_string(),
    };
    Refused(reason).into()
}

/// Prints one of the contract's JSON shapes (`contract`), so scripts read what API clients do.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
