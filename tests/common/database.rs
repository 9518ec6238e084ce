//! The database a test runs on. SQLite in a temporary directory by default; with
//! `GATEHOUSE_TEST_BACKEND=postgres` or `mysql`, a fresh database created for the test on the
//! server named by `GATEHOUSE_TEST_POSTGRES_URL` / `GATEHOUSE_TEST_MYSQL_URL`, and dropped
//! when the test ends.

#![allow(dead_code)]

use sqlx::{Connection, Executor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    Mysql,
    /// Tables of their own on the DynamoDB engine of `dynamodb.rs` (the test program includes
    /// it as `dynamodb_engine`).
    Dynamodb,
}

impl Kind {
    /// The backend chosen by `GATEHOUSE_TEST_BACKEND` (SQLite when unset).
    pub fn from_env() -> Self {
        match std::env::var("GATEHOUSE_TEST_BACKEND").unwrap_or_default().as_str() {
            "" | "sqlite" => Kind::Sqlite,
            "postgres" => Kind::Postgres,
            "mysql" | "mariadb" => Kind::Mysql,
            "dynamodb" => Kind::Dynamodb,
            other => panic!("GATEHOUSE_TEST_BACKEND={other:?}: write sqlite, postgres, mysql or dynamodb"),
        }
    }

    /// The server URL for this backend, if the environment names one.
    pub fn server_url(self) -> Option<String> {
        let var = match self {
            Kind::Sqlite => return None,
            Kind::Dynamodb => return dynamodb_endpoint(),
            Kind::Postgres => "GATEHOUSE_TEST_POSTGRES_URL",
            Kind::Mysql => "GATEHOUSE_TEST_MYSQL_URL",
        };
        std::env::var(var).ok().filter(|v| !v.is_empty())
    }

    /// The backend's name in `GATEHOUSE_TEST_BACKEND` and `GATEHOUSE_TEST_REQUIRE`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
            Kind::Mysql => "mysql",
            Kind::Dynamodb => "dynamodb",
        }
    }

    pub fn env_var(self) -> &'static str {
        match self {
            Kind::Sqlite => "",
            Kind::Postgres => "GATEHOUSE_TEST_POSTGRES_URL",
            Kind::Mysql => "GATEHOUSE_TEST_MYSQL_URL",
            Kind::Dynamodb => "GATEHOUSE_MOTO_PYTHON or GATEHOUSE_TEST_DYNAMODB_URL",
        }
    }
}

/// The DynamoDB engine's endpoint, started if need be.
#[cfg(feature = "dynamodb")]
fn dynamodb_endpoint() -> Option<String> {
    let endpoint = crate::dynamodb_engine::endpoint()?;
    crate::dynamodb_engine::require_credentials();
    Some(endpoint)
}

#[cfg(not(feature = "dynamodb"))]
fn dynamodb_endpoint() -> Option<String> {
    None
}

/// One test's database; dropped with it.
pub struct TestDatabase {
    pub kind: Kind,
    pub url: String,
    server: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// `url` with its path (the database name) replaced.
fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a database server URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

impl TestDatabase {
    /// A database of the backend chosen by the environment.
    pub async fn create() -> Self {
        let kind = Kind::from_env();
        match kind.server_url() {
            None if kind == Kind::Sqlite => Self::create_sqlite(),
            None => panic!("GATEHOUSE_TEST_BACKEND asks for {kind:?} but {} is not set", kind.env_var()),
            Some(server) => Self::create_on(kind, &server).await,
        }
    }

    pub fn create_sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
        Self { kind: Kind::Sqlite, url, server: None, _dir: Some(dir) }
    }

    /// A fresh database on the server at `server` (whose own database is used to create it).
    pub async fn create_on(kind: Kind, server: &str) -> Self {
        if kind == Kind::Dynamodb {
            return Self::create_tables(server).await;
        }
        let name = format!("gh_test_{}", uuid::Uuid::now_v7().simple());
        sqlx::any::install_default_drivers();
        let mut admin = sqlx::AnyConnection::connect(server)
            .await
            .unwrap_or_else(|e| panic!("connecting to the test database server {server}: {e}"));
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
        admin.close().await.unwrap();
        Self { kind, url: with_database(server, &name), server: Some((server.to_owned(), name)), _dir: None }
    }

    /// Fresh tables on the DynamoDB engine at `endpoint`, created as `gatehouse migrate` does.
    #[cfg(feature = "dynamodb")]
    async fn create_tables(endpoint: &str) -> Self {
        let url = crate::dynamodb_engine::database_url(endpoint);
        let options = gatehouse::store::DbOptions { max_connections: 1, timeout: std::time::Duration::from_secs(30) };
        gatehouse::store::migrate(&gatehouse::secret_url::SecretUrl::new(&url), &options).await.unwrap();
        Self { kind: Kind::Dynamodb, url, server: None, _dir: None }
    }

    #[cfg(not(feature = "dynamodb"))]
    async fn create_tables(_: &str) -> Self {
        unreachable!("DynamoDB tests are built with the dynamodb feature")
    }

    pub async fn connect(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.url).await.unwrap()
    }

    /// A count from the database.
    pub async fn count(&self, query: &str) -> i64 {
        let mut conn = self.connect().await;
        sqlx::query_scalar::<_, i64>(query).fetch_one(&mut conn).await.unwrap()
    }

    /// Runs one statement.
    pub async fn execute(&self, statement: &str) {
        let mut conn = self.connect().await;
        conn.execute(statement).await.unwrap();
    }

    /// A timestamp literal long past, in the form this backend's timestamp columns accept.
    pub fn long_ago(&self) -> &'static str {
        match self.kind {
            Kind::Mysql => "'2000-01-01 00:00:00'",
            Kind::Sqlite | Kind::Postgres | Kind::Dynamodb => "'2000-01-01T00:00:00+00:00'",
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.server.take() else { return };
        let kind = self.kind;
        // Drop runs inside the test's runtime; do the async work on a thread of its own.
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                sqlx::any::install_default_drivers();
                let Ok(mut admin) = sqlx::AnyConnection::connect(&server).await else { return };
                if kind == Kind::Mysql {
                    // The app may still hold a transaction open; DROP would wait on its locks.
                    let query =
                        format!("SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST WHERE DB = '{name}'");
                    let ids: Vec<i64> = sqlx::query_scalar(&query).fetch_all(&mut admin).await.unwrap_or_default();
                    for id in ids {
                        let _ = admin.execute(format!("KILL {id}").as_str()).await;
                    }
                }
                let statement = match kind {
                    Kind::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    _ => format!("DROP DATABASE IF EXISTS {name}"),
                };
                let _ = admin.execute(statement.as_str()).await;
            });
        });
        let _ = done.join();
    }
}

/// Whether `GATEHOUSE_TEST_REQUIRE` (a comma-separated list of `postgres`, `mysql` and `redis`;
/// `.ci/run` names the servers it started) names `backend`.
pub fn required(backend: &str) -> bool {
    std::env::var("GATEHOUSE_TEST_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .any(|named| named.trim().eq_ignore_ascii_case(backend))
}

/// `what` is skipped on `backend` because `variable` is not set: says so in a line nobody can
/// miss, on the real stderr (not captured), or fails when `GATEHOUSE_TEST_REQUIRE` names the
/// backend, so that a suite meant to run on a server never passes by skipping it.
pub fn skip(backend: &str, variable: &str, what: &str) {
    use std::io::Write;
    assert!(
        !required(backend),
        "{what} would be skipped on {backend}: GATEHOUSE_TEST_REQUIRE names it but {variable} is not set"
    );
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED on {backend}: {what} ({variable} is not set) ***\n");
}
