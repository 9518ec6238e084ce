//! The one error of every store (the port's, so it lives with the values the port speaks in): what the account rules need to know of a failed database,
//! session-store or rate-limit call.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the email address belongs to another account")]
    EmailTaken,
    #[error("the username belongs to another account")]
    UsernameTaken,
    /// A unique key other than the email or username is taken (a concurrent write took it).
    #[error("a unique key is taken")]
    Conflict,
    /// Another organization has the slug.
    #[error("the slug belongs to another organization")]
    SlugTaken,
    /// The change would leave an organization with members but no owner.
    #[error("the change would leave an organization without an owner")]
    LastOwner,
    /// The change would leave no active admin.
    #[error("the last active admin cannot be removed")]
    LastAdmin,
    /// The database cannot be reached, is locked past the busy timeout, or cannot write.
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;
