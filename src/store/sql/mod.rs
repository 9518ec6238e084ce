//! The database stores, written once. [`SqlStore`] implements every persistence trait the
//! account rules use ([`Store`](super::Store) and its parts, and [`SessionStore`] for sessions
//! kept in the database) over a [`Dialect`]: SQLite, PostgreSQL or MySQL/MariaDB. The files
//! beside this one hold the operations by concern, each statement written once.
//!
//! What a dialect provides is small: connecting, binding a value ([`Arg`]) and reading a
//! column ([`Row`]) in its native types, turning its errors into [`StoreError`]s, and
//! rewriting a shared statement into its own text ([`Dialect::prepare`]): `?` placeholders
//! become `$1, $2…` on PostgreSQL; the row-locking clauses (`FOR UPDATE`, `FOR NO KEY UPDATE`,
//! `… SKIP LOCKED`) are kept where the server has row locks and dropped on SQLite, whose
//! `BEGIN IMMEDIATE` write transactions already run one at a time. The few operations that
//! truly differ between servers are methods of the dialect, each saying why.

mod accounts;
pub(crate) mod additive;
mod admin;
mod api_keys;
mod audit;
mod clients;
mod devices;
mod email_change;
mod email_login;
mod growth;
mod housekeeping;
mod identities;
mod import;
mod initial_tokens;
mod invitations;
mod jobs;
mod keys;
mod limits;
mod member_guard;
mod mfa;
mod org_domains;
mod org_roles;
mod orgs;
mod outbox;
mod passkeys;
mod probe;
mod scim;
mod scim_groups;
mod search;
pub(crate) mod sessions;
mod sso;
mod tokens;
mod values;
mod webhooks;

use std::future::Future;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use self::values::{Arg, Row};
pub(crate) use self::values::{args, json_from_text, native_columns, object_from_text, uuid_from_text};
use super::error::{StoreError, StoreResult};
use crate::model::account::{Account, AccountKey, Credentials, Role, Status};
use crate::sessions::LiveSession;

/// The account columns, in the order [`account_from_row`] reads them.
pub(crate) const ACCOUNT_COLUMNS: &str = "id, email, username, name, data, app_data, password_hash, role, status, email_verified, created_at, updated_at, locale";

/// How many dialects there are: the size of each statement's cache of prepared texts.
const DIALECTS: usize = 3;

/// A statement of the shared SQL: written with `?` placeholders and, where a server with row
/// locks needs them, locking clauses; prepared once per dialect (see [`Dialect::prepare`]) and
/// kept. Made by the [`sql!`] macro, which gives each statement its own cache.
#[derive(Clone, Copy, Debug)]
pub struct Sql {
    text: fn() -> String,
    prepared: &'static [OnceLock<Box<str>>; DIALECTS],
}

impl Sql {
    #[doc(hidden)]
    pub(crate) const fn new(prepared: &'static [OnceLock<Box<str>>; DIALECTS], text: fn() -> String) -> Self {
        Self { text, prepared }
    }

    /// The statement in `D`'s own text.
    pub(crate) fn text<D: Dialect>(self) -> &'static str {
        self.prepared[D::INDEX].get_or_init(|| D::prepare(&(self.text)()).into_boxed_str())
    }
}

/// A statement of the shared SQL (`format!` syntax, so `{ACCOUNT_COLUMNS}` may be named),
/// prepared once per dialect on first use.
macro_rules! sql {
    ($($text:tt)*) => {{
        static PREPARED: [std::sync::OnceLock<Box<str>>; 3] = [const { std::sync::OnceLock::new() }; 3];
        $crate::store::sql::Sql::new(&PREPARED, || format!($($text)*))
    }};
}
pub(crate) use sql;

/// Runs statements: on the pool (one statement, autocommitted) or inside a transaction.
pub trait Exec: Send {
    type Dialect: Dialect;

    /// Runs a statement already in the dialect's text; the number of rows it changed.
    fn execute_text(&mut self, text: &str, args: &[Arg<'_>]) -> impl Future<Output = StoreResult<u64>> + Send;
    fn fetch_optional_text(
        &mut self,
        text: &str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Option<<Self::Dialect as Dialect>::Row>>> + Send;
    fn fetch_all_text(
        &mut self,
        text: &str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Vec<<Self::Dialect as Dialect>::Row>>> + Send;

    /// Runs a statement planned afresh with its values (see [`Built::unprepared`]).
    fn fetch_all_unprepared_text(
        &mut self,
        text: &str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Vec<<Self::Dialect as Dialect>::Row>>> + Send;

    /// Runs a statement; the number of rows it changed.
    fn execute(&mut self, sql: Sql, args: &[Arg<'_>]) -> impl Future<Output = StoreResult<u64>> + Send {
        self.execute_text(sql.text::<Self::Dialect>(), args)
    }

    fn fetch_optional(
        &mut self,
        sql: Sql,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Option<<Self::Dialect as Dialect>::Row>>> + Send {
        self.fetch_optional_text(sql.text::<Self::Dialect>(), args)
    }

    fn fetch_all(
        &mut self,
        sql: Sql,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Vec<<Self::Dialect as Dialect>::Row>>> + Send {
        self.fetch_all_text(sql.text::<Self::Dialect>(), args)
    }

    /// Takes the row locks a locking read names, on servers that have row locks; on SQLite,
    /// whose write transactions run one at a time, it runs nothing.
    fn lock(&mut self, sql: Sql, args: &[Arg<'_>]) -> impl Future<Output = StoreResult<()>> + Send {
        async move {
            if <Self::Dialect as Dialect>::ROW_LOCKS {
                self.fetch_all(sql, args).await?;
            }
            Ok(())
        }
    }
}

/// A dialect's statement runners: `$pool` (statements on the pool) and `$tx` (a write
/// transaction), both implementing [`Exec`], over the sqlx database `$db`. The dialect's module
/// provides `arguments(args)` (the values bound in its native types) and `map_err`. With
/// `written: f`, `f()` runs after each statement run for its changes and after each commit.
macro_rules! runners {
    (db: $db:ty, dialect: $dialect:ty, row: $row:ty, pool: $pool:ident, tx: $tx:ident) => {
        $crate::store::sql::runners!(db: $db, dialect: $dialect, row: $row, pool: $pool, tx: $tx, written: (|| ()));
    };
    (db: $db:ty, dialect: $dialect:ty, row: $row:ty, pool: $pool:ident, tx: $tx:ident, written: $written:expr) => {
        /// Statements on the pool.
        #[derive(Debug)]
        pub struct $pool<'a>(&'a sqlx::Pool<$db>);

        /// A write transaction; rolled back when dropped uncommitted.
        #[derive(Debug)]
        pub struct $tx(sqlx::Transaction<'static, $db>);

        $crate::store::sql::runners!(@exec $pool<'_>, $dialect, $row, $written, this => this.0);
        $crate::store::sql::runners!(@exec $tx, $dialect, $row, $written, this => &mut *this.0);

        impl $crate::store::sql::Transaction for $tx {
            async fn commit(self) -> StoreResult<()> {
                let committed = self.0.commit().await.map_err(map_err);
                ($written)();
                committed
            }
        }
    };
    (@exec $type:ty, $dialect:ty, $row:ty, $written:expr, $this:ident => $executor:expr) => {
        impl $crate::store::sql::Exec for $type {
            type Dialect = $dialect;

            async fn execute_text(&mut self, text: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
                let $this = self;
                let query = sqlx::query_with(text, arguments(args).map_err(map_err)?);
                let done = query.execute($executor).await.map_err(map_err);
                ($written)();
                Ok(done?.rows_affected())
            }

            async fn fetch_optional_text(&mut self, text: &str, args: &[Arg<'_>]) -> StoreResult<Option<$row>> {
                let $this = self;
                let query = sqlx::query_with(text, arguments(args).map_err(map_err)?);
                query.fetch_optional($executor).await.map_err(map_err)
            }

            async fn fetch_all_text(&mut self, text: &str, args: &[Arg<'_>]) -> StoreResult<Vec<$row>> {
                let $this = self;
                let query = sqlx::query_with(text, arguments(args).map_err(map_err)?);
                query.fetch_all($executor).await.map_err(map_err)
            }

            async fn fetch_all_unprepared_text(&mut self, text: &str, args: &[Arg<'_>]) -> StoreResult<Vec<$row>> {
                let $this = self;
                let query = sqlx::query_with(text, arguments(args).map_err(map_err)?).persistent(false);
                query.fetch_all($executor).await.map_err(map_err)
            }
        }
    };
}
pub(crate) use runners;

/// A write transaction: rolled back when dropped uncommitted.
pub trait Transaction: Exec {
    fn commit(self) -> impl Future<Output = StoreResult<()>> + Send;
}

/// What a database server brings to [`SqlStore`]: see the module documentation.
pub trait Dialect: Send + Sync + std::fmt::Debug + Sized + 'static {
    /// This dialect's slot in each statement's cache.
    const INDEX: usize;
    /// Whether the server has row locks (and so takes the locking clauses).
    const ROW_LOCKS: bool;
    /// The most placeholders one statement may have.
    const MAX_PARAMETERS: usize;

    type Row: Row;
    /// Runs statements on the pool.
    type Pool<'a>: Exec<Dialect = Self>
    where
        Self: 'a;
    type Tx: Transaction<Dialect = Self>;

    /// Rewrites a statement of the shared SQL into this dialect's text.
    fn prepare(shared: &str) -> String;

    fn pool(&self) -> Self::Pool<'_>;
    /// Begins a write transaction.
    fn begin(&self) -> impl Future<Output = StoreResult<Self::Tx>> + Send;
    /// Whether the failed transaction was rolled back by the server to break a deadlock, so it
    /// may simply run again.
    fn is_deadlock(error: &StoreError) -> bool;

    /// Reads the account without a pool round trip, where the dialect can (SQLite's in-place
    /// reader); `None` to read through the pool.
    fn find_account_in_place(&self, _key: &AccountKey) -> Option<StoreResult<Option<Credentials>>> {
        None
    }
    /// Reads the session without a pool round trip, where the dialect can.
    fn live_session_in_place(&self, _id: Uuid, _now: DateTime<Utc>) -> Option<StoreResult<Option<LiveSession>>> {
        None
    }
    /// Reads the session and its account without a pool round trip, where the dialect can.
    fn live_session_and_account_in_place(
        &self,
        _id: Uuid,
        _now: DateTime<Utc>,
    ) -> Option<StoreResult<Option<(LiveSession, Account)>>> {
        None
    }

    /// The API key of this hash, read in place where the dialect can (see `sqlite/reader.rs`);
    /// `None`: read it through the pool.
    fn api_key_in_place(&self, _hash: &[u8]) -> Option<StoreResult<Option<crate::model::api_key::FoundKey>>> {
        None
    }

    /// The tail of an `INSERT` that skips a row whose unique key (`key_column`'s) is stored
    /// already, without the leniency toward other errors that `INSERT IGNORE` would bring.
    fn skip_duplicates(key_column: &str) -> String;
    /// The tail of the `INSERT` of a blank `rate_limits` row that, when a concurrent caller
    /// inserted the key first, waits for it and then holds the row's lock exclusively (so that
    /// two such callers do not deadlock upgrading a shared lock).
    const INSERT_BLANK_LIMIT: &'static str;
    /// A statement refreshing the planner's statistics of `accounts` after a bulk insert, where
    /// the planner needs them at once.
    const ANALYZE_ACCOUNTS: Option<&'static str>;
    /// The accounts' text-search index, where the dialect has one beside the `LIKE` (see
    /// [`admin`]): the `FROM` clause (one `?`, the full-text phrase) of the accounts that may
    /// hold the phrase, each with its `account_id`, in no useful order.
    const SEARCH_INDEX: Option<&'static str>;
    /// A condition (one `?`, the search's `LIKE` pattern) that every account the search
    /// matches meets and that an index serves, where the dialect has one: the search asks it
    /// besides the per-field `LIKE`.
    const SEARCH_PREFILTER: Option<&'static str>;
    /// A query of the search texts (column `t`, lower-cased as the index holds them) of a
    /// couple of thousand accounts taken at random, without reading the others, where the
    /// dialect has a search index or a prefilter: the store asks it for the rarest part of a
    /// term (see [`search`]).
    const SEARCH_SAMPLE: Option<&'static str>;

    /// The migrations after 0.1.0, which only add (applied by [`additive`]).
    const ADDITIVE: &'static [crate::store::migrations::Additive];
    /// The statement taking the lock that lets one replica at a time apply them, in the
    /// transaction that applies them, where the dialect's write transactions do not already run
    /// one at a time; and the one giving it back, where committing does not.
    const MIGRATION_LOCK: Option<&'static str>;
    const MIGRATION_UNLOCK: Option<&'static str>;
    /// Whether a migration's statement failed only because its work is done already (a start
    /// interrupted between a statement and its record, where DDL commits by itself).
    fn already_applied(_error: &StoreError) -> bool {
        false
    }
}

/// The database store over a dialect; see the module documentation.
#[derive(Debug)]
pub struct SqlStore<D> {
    pub(crate) db: D,
    /// The sample of accounts' search texts the account search weighs its terms by.
    samples: search::Samples,
}

impl<D: Dialect> SqlStore<D> {
    pub(crate) fn new(db: D) -> Self {
        Self { db, samples: search::Samples::default() }
    }

    /// Runs `transaction`, and once more if the server rolled it back to break a deadlock.
    /// The closure begins and commits its own transaction (see [`Dialect::begin`]).
    pub(crate) async fn retrying<T, F, Fut>(&self, mut transaction: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        match transaction().await {
            Err(error) if D::is_deadlock(&error) => {
                tracing::debug!("deadlock victim, retrying once");
                transaction().await
            }
            done => done,
        }
    }
}

/// A statement assembled at run time — a list with optional filters, a batch insert — with its
/// values; prepared for the dialect each time it runs.
#[derive(Debug)]
pub(crate) struct Built<'a> {
    sql: String,
    args: Vec<Arg<'a>>,
    /// Planned with its values each time, not prepared once for all (see [`Self::unprepared`]).
    unprepared: bool,
}

impl<'a> Built<'a> {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), args: Vec::new(), unprepared: false }
    }

    /// A statement whose best plan depends on its values (a substring search that matches a
    /// handful of rows or half the table): PostgreSQL plans it afresh each time instead of
    /// caching one generic plan.
    pub(crate) fn unprepared(mut self) -> Self {
        self.unprepared = true;
        self
    }

    /// Appends text holding as many `?` as `args` has values.
    pub(crate) fn push(&mut self, sql: &str, args: &[Arg<'a>]) -> &mut Self {
        self.sql.push_str(sql);
        self.args.extend_from_slice(args);
        self
    }

    /// Appends ` AND {condition}`, whose one `?` takes `arg`.
    pub(crate) fn and(&mut self, condition: &str, arg: impl Into<Arg<'a>>) -> &mut Self {
        self.sql.push_str(" AND ");
        self.push(condition, &[arg.into()])
    }

    pub(crate) async fn fetch_all<E: Exec>(&self, exec: &mut E) -> StoreResult<Vec<<E::Dialect as Dialect>::Row>> {
        let text = E::Dialect::prepare(&self.sql);
        match self.unprepared {
            true => exec.fetch_all_unprepared_text(&text, &self.args).await,
            false => exec.fetch_all_text(&text, &self.args).await,
        }
    }

    pub(crate) async fn fetch_optional<E: Exec>(
        &self,
        exec: &mut E,
    ) -> StoreResult<Option<<E::Dialect as Dialect>::Row>> {
        let text = E::Dialect::prepare(&self.sql);
        match self.unprepared {
            true => Ok(exec.fetch_all_unprepared_text(&text, &self.args).await?.into_iter().next()),
            false => exec.fetch_optional_text(&text, &self.args).await,
        }
    }

    pub(crate) async fn execute<E: Exec>(&self, exec: &mut E) -> StoreResult<u64> {
        exec.execute_text(&E::Dialect::prepare(&self.sql), &self.args).await
    }
}

/// A `LIKE` pattern (with `!` as the escape character, the same in every dialect, unlike the
/// backslash) matching every text that contains `q`, or (`prefix`) starts with it: `%`, `_`
/// and `!` in `q` are literal.
pub(crate) fn like_pattern(q: &str, prefix: bool) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    if !prefix {
        pattern.push('%');
    }
    for c in q.chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The `?, ?, …` of an `IN` list of `n` values.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The account `id` as stored now, read inside a transaction (the account store's, the email
/// changes' and the webhook events', which carry the account).
pub(crate) async fn read_account(tx: &mut impl Exec, id: Uuid) -> StoreResult<Option<Credentials>> {
    let row = tx.fetch_optional(sql!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?"), args![id]).await?;
    row.as_ref().map(account_from_row).transpose()
}

/// An account and its password hash from a row holding [`ACCOUNT_COLUMNS`].
pub(crate) fn account_from_row(row: &impl Row) -> StoreResult<Credentials> {
    let role = row.text("role")?;
    let status = row.text("status")?;
    let account = Account {
        id: row.id("id")?,
        email: row.text("email")?,
        username: row.opt_text("username")?,
        name: row.opt_text("name")?,
        data: row.object("data")?,
        app_data: row.object("app_data")?,
        role: Role::parse(&role).ok_or_else(|| anyhow::anyhow!("bad role {role:?}"))?,
        status: Status::parse(&status).ok_or_else(|| anyhow::anyhow!("bad status {status:?}"))?,
        email_verified: row.bool("email_verified")?,
        locale: row.opt_text("locale")?.as_deref().and_then(crate::i18n::Locale::parse),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    };
    Ok(Credentials { account, password_hash: row.text("password_hash")? })
}

/// Rewrites `?` placeholders (outside quoted text) as `$1, $2…`, PostgreSQL's.
pub(crate) fn numbered_placeholders(shared: &str) -> String {
    let mut out = String::with_capacity(shared.len() + 16);
    let (mut n, mut quoted) = (0, false);
    for c in shared.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

/// Removes the row-locking clauses, for a server without row locks.
pub(crate) fn without_locks(shared: &str) -> String {
    shared.replace(" FOR UPDATE SKIP LOCKED", "").replace(" FOR NO KEY UPDATE", "").replace(" FOR UPDATE", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quoted_text() {
        assert_eq!(
            numbered_placeholders("SELECT 1 FROM t WHERE a = ? AND b = '?' AND c IN (?, ?)"),
            "SELECT 1 FROM t WHERE a = $1 AND b = '?' AND c IN ($2, $3)"
        );
    }

    #[test]
    fn like_patterns_escape_wildcards_and_the_escape_character() {
        assert_eq!(like_pattern("ann", false), "%ann%");
        assert_eq!(like_pattern("50%_off!", false), "%50!%!_off!!%");
        assert_eq!(like_pattern("", false), "%%");
        assert_eq!(like_pattern("login.", true), "login.%");
        assert_eq!(like_pattern("rate_limited.", true), "rate!_limited.%");
        assert_eq!(like_pattern("a%b!", true), "a!%b!!%");
    }

    #[test]
    fn locking_clauses_are_dropped_whole() {
        assert_eq!(
            without_locks("SELECT id FROM outbox WHERE x LIMIT ? FOR UPDATE SKIP LOCKED"),
            "SELECT id FROM outbox WHERE x LIMIT ?"
        );
        assert_eq!(
            without_locks("SELECT 1 FROM accounts WHERE id = ? FOR NO KEY UPDATE"),
            "SELECT 1 FROM accounts WHERE id = ?"
        );
        assert_eq!(without_locks("SELECT 1 FROM a WHERE id = ? FOR UPDATE"), "SELECT 1 FROM a WHERE id = ?");
    }
}
