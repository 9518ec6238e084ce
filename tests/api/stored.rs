//! What the tests read and set in the database behind the API, asked the same way of every
//! backend: a SQL query on SQLite, PostgreSQL and MariaDB, a scan of the tables on DynamoDB.
//! Only for what no route shows (what is kept at rest, what the workers will do) and for the
//! states a test cannot reach through the API in its time (an expired link, a failed email).

use crate::database::Kind;
use crate::helpers::TestApp;

/// The jobs of one kind a test counts, narrowed by whichever fields are given.
#[derive(Clone, Copy, Debug, Default)]
pub struct Jobs<'a> {
    pub kind: &'a str,
    pub target: Option<&'a str>,
    pub topic: Option<&'a str>,
    /// Any of these statuses (all, when empty).
    pub statuses: &'a [&'a str],
    /// Text the payload holds.
    pub payload_has: Option<&'a str>,
    /// Text the last error holds.
    pub error_has: Option<&'a str>,
    /// Only those tried at least once.
    pub tried: bool,
}

impl<'a> Jobs<'a> {
    pub fn of(kind: &'a str) -> Self {
        Self { kind, ..Self::default() }
    }

    /// The emails to `target`.
    pub fn emails_to(target: &'a str) -> Self {
        Self { target: Some(target), ..Self::of("email") }
    }
}

/// What a test counts.
#[derive(Clone, Copy, Debug)]
pub enum Stored<'a> {
    Accounts,
    Admins,
    /// Accounts with this address (compared in lower case).
    AccountsWithEmail(&'a str),
    /// Accounts whose password hash starts so.
    HashesStartingWith(&'a str),
    /// Social identities.
    Identities,
    Jobs(Jobs<'a>),
    /// Audit events of any of these kinds.
    AuditEvents(&'a [&'a str]),
    /// Audit events whose kind starts so.
    AuditEventsStartingWith(&'a str),
    /// One-time links of this purpose not yet spent.
    UnspentLinks(&'a str),
    /// Passwordless logins not yet used.
    OpenEmailLogins,
    /// Social logins under way (their states).
    SocialLoginsUnderWay,
    /// SSO connections, of this protocol when given.
    SsoConnections(Option<&'a str>),
    /// Organizations' claims of this domain that are verified.
    VerifiedDomains(&'a str),
    /// API keys with this prefix.
    ApiKeysWithPrefix(&'a str),
    /// Rows (items) holding `text` in the clear: on SQL, in the named columns of the table; on
    /// DynamoDB, in any text attribute of any table (a stricter question: a test asks it of
    /// each table where the text could be kept).
    InTheClear {
        table: &'a str,
        columns: &'a [&'a str],
        text: &'a str,
    },
}

/// `'text'` as a SQL literal (the tests' own values).
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn quoted_list(texts: &[&str]) -> String {
    texts.iter().map(|t| quoted(t)).collect::<Vec<_>>().join(", ")
}

impl Stored<'_> {
    fn sql(&self, kind: Kind) -> String {
        let count = "SELECT COUNT(*) FROM";
        match *self {
            Self::Accounts => format!("{count} accounts"),
            Self::Admins => format!("{count} accounts WHERE role = 'admin'"),
            Self::AccountsWithEmail(email) => {
                format!("{count} accounts WHERE email_normalized = {}", quoted(&email.to_lowercase()))
            }
            Self::HashesStartingWith(start) => {
                format!("{count} accounts WHERE password_hash LIKE {}", quoted(&format!("{start}%")))
            }
            Self::Identities => format!("{count} identities"),
            Self::Jobs(jobs) => {
                let mut query = format!("{count} jobs WHERE kind = {}", quoted(jobs.kind));
                for (column, value) in [("target", jobs.target), ("topic", jobs.topic)] {
                    if let Some(value) = value {
                        query += &format!(" AND {column} = {}", quoted(value));
                    }
                }
                if !jobs.statuses.is_empty() {
                    query += &format!(" AND status IN ({})", quoted_list(jobs.statuses));
                }
                for (column, value) in [("payload", jobs.payload_has), ("last_error", jobs.error_has)] {
                    if let Some(value) = value {
                        query += &format!(" AND {column} LIKE {}", quoted(&format!("%{value}%")));
                    }
                }
                if jobs.tried {
                    query += " AND attempts >= 1";
                }
                query
            }
            Self::AuditEvents(kinds) => format!("{count} audit_events WHERE kind IN ({})", quoted_list(kinds)),
            Self::AuditEventsStartingWith(start) => {
                format!("{count} audit_events WHERE kind LIKE {}", quoted(&format!("{start}%")))
            }
            Self::UnspentLinks(purpose) => {
                format!("{count} one_time_tokens WHERE purpose = {} AND used_at IS NULL", quoted(purpose))
            }
            Self::OpenEmailLogins => format!("{count} email_logins WHERE used_at IS NULL"),
            Self::SocialLoginsUnderWay => format!("{count} oidc_logins"),
            Self::SsoConnections(None) => format!("{count} sso_connections"),
            Self::SsoConnections(Some(kind)) => format!("{count} sso_connections WHERE kind = {}", quoted(kind)),
            Self::VerifiedDomains(domain) => format!("{count} org_domains WHERE verified_domain = {}", quoted(domain)),
            Self::ApiKeysWithPrefix(prefix) => format!("{count} api_keys WHERE prefix = {}", quoted(prefix)),
            Self::InTheClear { table, columns, text } => {
                let pattern = quoted(&format!("%{text}%"));
                // As text, whatever the column's type (PostgreSQL's JSONB has no LIKE).
                let text_of = |column: &str| match kind {
                    Kind::Postgres => format!("CAST({column} AS TEXT)"),
                    Kind::Mysql => format!("CAST({column} AS CHAR)"),
                    Kind::Sqlite | Kind::Dynamodb => column.to_owned(),
                };
                let held =
                    columns.iter().map(|c| format!("{} LIKE {pattern}", text_of(c))).collect::<Vec<_>>().join(" OR ");
                format!("{count} {table} WHERE {held}")
            }
        }
    }
}

impl TestApp {
    /// How many of `what` the database holds.
    pub async fn count(&self, what: Stored<'_>) -> i64 {
        match self.db.kind {
            #[cfg(feature = "dynamodb")]
            Kind::Dynamodb => dynamo::count(&self.db.url, what).await,
            _ => self.db.count(&what.sql(self.db.kind)).await,
        }
    }

    /// Waits (at most five seconds) until `what` counts `expected`, and asserts it does: for
    /// what is written after the answer (audit events are written in the background).
    pub async fn count_reaches(&self, what: Stored<'_>, expected: i64) {
        let asked = format!("{what:?} to count {expected}");
        crate::helpers::eventually(&asked, std::time::Duration::from_secs(5), || async {
            (self.count(what).await == expected).then_some(())
        })
        .await
    }

    /// Moves every emailed link's expiry into the past.
    pub async fn expire_links(&self) {
        self.change(Change::ExpireLinks).await
    }

    /// Moves every OAuth authorization code's expiry into the past.
    pub async fn expire_authorization_codes(&self) {
        self.change(Change::ExpireCodes).await
    }

    /// Makes every webhook delivery waiting for a retry due now.
    pub async fn make_deliveries_due(&self) {
        self.change(Change::DeliveriesDue).await
    }

    /// Marks the address of the account `email` confirmed or not.
    pub async fn set_email_verified(&self, email: &str, verified: bool) {
        self.change(Change::EmailVerified { email, verified }).await
    }

    /// Suspends every membership of the account (as SCIM's deactivation in an organization does).
    pub async fn suspend_memberships(&self, account_id: &str) {
        self.change(Change::SuspendMemberships { account_id }).await
    }

    /// Gives the account another address, with nothing else (as if it had confirmed a change).
    pub async fn move_address(&self, account_id: &str, email: &str) {
        self.change(Change::MoveAddress { account_id, email }).await
    }

    /// Makes the sent email `id` one that failed for good after 15 attempts.
    pub async fn fail_email(&self, id: &str, error: &str) {
        self.change(Change::FailEmail { id, error }).await
    }

    async fn change(&self, change: Change<'_>) {
        match self.db.kind {
            #[cfg(feature = "dynamodb")]
            Kind::Dynamodb => dynamo::change(&self.db.url, change).await,
            _ => self.db.execute(&change.sql(self.db.long_ago())).await,
        }
    }
}

/// What a test sets.
#[derive(Clone, Copy, Debug)]
enum Change<'a> {
    ExpireLinks,
    ExpireCodes,
    DeliveriesDue,
    EmailVerified { email: &'a str, verified: bool },
    SuspendMemberships { account_id: &'a str },
    MoveAddress { account_id: &'a str, email: &'a str },
    FailEmail { id: &'a str, error: &'a str },
}

impl Change<'_> {
    fn sql(&self, long_ago: &str) -> String {
        match *self {
            Self::ExpireLinks => format!("UPDATE one_time_tokens SET expires_at = {long_ago}"),
            Self::ExpireCodes => format!("UPDATE oauth_codes SET expires_at = {long_ago}"),
            Self::DeliveriesDue => format!("UPDATE jobs SET next_attempt_at = {long_ago} WHERE kind = 'webhook'"),
            Self::EmailVerified { email, verified } => format!(
                "UPDATE accounts SET email_verified = {} WHERE email_normalized = {}",
                if verified { "TRUE" } else { "FALSE" },
                quoted(&email.to_lowercase())
            ),
            Self::SuspendMemberships { account_id } => {
                format!("UPDATE memberships SET suspended_at = joined_at WHERE account_id = {}", quoted(account_id))
            }
            Self::MoveAddress { account_id, email } => format!(
                "UPDATE accounts SET email = {}, email_normalized = {} WHERE id = {}",
                quoted(email),
                quoted(&email.to_lowercase()),
                quoted(account_id)
            ),
            Self::FailEmail { id, error } => format!(
                "UPDATE jobs SET status = 'failed', attempts = 15, last_error = {}, \
                 body = '{{\"text\":\"x\",\"html\":\"x\"}}' WHERE id = {}",
                quoted(error),
                quoted(id)
            ),
        }
    }
}

#[cfg(feature = "dynamodb")]
#[path = "stored/dynamo.rs"]
mod dynamo;
