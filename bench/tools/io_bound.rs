//! The bare round-trip bound for the benchmark on PostgreSQL + Redis: a plain axum server whose
//! routes do only the I/O a token-checked `GET /user` does there, with the same client crates
//! and connection settings and nothing else (no token, no middleware, no JSON), so that the
//! benchmark can say how close gatehouse comes to what one Redis read and one database read
//! per request allow on this machine.
//!
//! `gatehouse-bench io-bound <bind> <redis-url> <postgres-url>` serves until
//! killed:
//! - `GET /healthz`: `ok`, the same baseline as gatehouse's;
//! - `GET /redis`: one `HMGET` of three fields of a hash (the per-request session check);
//! - `GET /both`: that, then one primary-key `SELECT` of a row shaped like an account.
//!
//! It prints `ready` once both stores answer.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

struct Stores {
    redis: ConnectionManager,
    postgres: PgPool,
    key: String,
    id: Uuid,
}

type Shared = State<Arc<Stores>>;

/// The account row's columns, decoded as gatehouse decodes them.
type Row = (
    Uuid,
    String,
    Option<String>,
    Option<String>,
    sqlx::types::Json<serde_json::Value>,
    String,
    String,
    String,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
);

async fn session(stores: &Stores) -> Result<(), StatusCode> {
    let mut connection = stores.redis.clone();
    let fields: Vec<Option<String>> = redis::cmd("HMGET")
        .arg(&stores.key)
        .arg("account")
        .arg("expires")
        .arg("used")
        .query_async(&mut connection)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    if fields.first().is_some_and(Option::is_some) { Ok(()) } else { Err(StatusCode::UNAUTHORIZED) }
}

async fn redis_only(State(stores): Shared) -> Result<&'static str, StatusCode> {
    session(&stores).await?;
    Ok("ok")
}

async fn both(State(stores): Shared) -> Result<&'static str, StatusCode> {
    session(&stores).await?;
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, email, username, name, data, password_hash, role, status, email_verified, created_at, updated_at
         FROM io_bound_rows WHERE id = $1",
    )
    .bind(stores.id)
    .fetch_optional(&stores.postgres)
    .await
    .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    row.map(|_| "ok").ok_or(StatusCode::UNAUTHORIZED)
}

#[tokio::main]
pub async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(2);
    let (Some(bind), Some(redis_url), Some(postgres_url)) = (args.next(), args.next(), args.next()) else {
        anyhow::bail!("usage: gatehouse-bench io-bound <bind> <redis-url> <postgres-url>");
    };
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(1);
    let mut redis = ConnectionManager::new_with_config(redis::Client::open(redis_url)?, config).await?;
    let key = format!("io-bound:{}", Uuid::now_v7());
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("account")
        .arg(Uuid::now_v7().to_string())
        .arg("expires")
        .arg(i64::MAX)
        .arg("used")
        .arg(0)
        .query_async(&mut redis)
        .await?;
    let _: () = redis::cmd("EXPIRE").arg(&key).arg(3600).query_async(&mut redis).await?;
    let postgres = PgPoolOptions::new().max_connections(10).connect(&postgres_url).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS io_bound_rows (id UUID PRIMARY KEY, email TEXT NOT NULL, username TEXT,
           name TEXT, data JSONB NOT NULL, password_hash TEXT NOT NULL DEFAULT '$argon2id$v=19$m=19456,t=2,p=1$x$y',
           role TEXT NOT NULL DEFAULT 'user', status TEXT NOT NULL DEFAULT 'active',
           email_verified BOOLEAN NOT NULL DEFAULT TRUE, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           updated_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&postgres)
    .await?;
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO io_bound_rows (id, email, data) VALUES ($1, $2, '{\"plan\": \"pro\"}')")
        .bind(id)
        .bind(format!("{id}@example.com"))
        .execute(&postgres)
        .await?;
    let stores = Arc::new(Stores { redis, postgres, key, id });
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/redis", get(redis_only))
        .route("/both", get(both))
        .with_state(stores);
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("ready");
    axum::serve(listener, app).await?;
    Ok(())
}
