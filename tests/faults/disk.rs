//! The SQLite file becomes unwritable under a running server (as a full or read-only disk
//! would make it): writes answer 503 at once, reads keep working, and once the file is
//! writable again writes succeed and the database is intact.
//!
//! Made unwritable with `chattr +i` (immutable), which stops writes even through the file
//! descriptors SQLite already holds — `chmod` would not, and root ignores it anyway. Needs root
//! on a filesystem with the immutable flag (ext4, xfs, btrfs); skipped with a note otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::database::TestDatabase;
use crate::mail_server::SmtpServer;
use crate::{PASSWORD, Server, assert_problem, config, eventually, quick_outbox};

/// The database file and its write-ahead log, immutable until dropped. Not the `-shm` index:
/// SQLite writes it through a shared memory map, and a mapped page of an immutable file
/// faults (SIGBUS) — a disk that is full or read-only does not do that to pages already there.
struct Frozen(Vec<PathBuf>);

impl Frozen {
    /// `None` (after a note) when the immutable flag cannot be set here.
    fn freeze(database: &Path) -> Option<Self> {
        let files: Vec<PathBuf> =
            ["", "-wal"].iter().map(|suffix| PathBuf::from(format!("{}{suffix}", database.display()))).collect();
        let mut frozen = Self(Vec::new());
        for file in files.into_iter().filter(|f| f.exists()) {
            let set = Command::new("chattr").arg("+i").arg(&file).output();
            if !matches!(&set, Ok(output) if output.status.success()) {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: read-only database test skipped: `chattr +i` is not available here (needs root and ext4/xfs/btrfs): {set:?}"
                );
                return None;
            }
            frozen.0.push(file);
        }
        Some(frozen)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(file).status();
        }
    }
}

#[tokio::test]
async fn an_unwritable_sqlite_file_fails_writes_with_503_keeps_reads_and_recovers_intact() {
    let db = TestDatabase::create_sqlite();
    let path = PathBuf::from(db.url.trim_start_matches("sqlite://"));
    let mail = SmtpServer::start().await;
    let server = Server::start(&config(&db.url, &[("GATEHOUSE_SMTP_URL", &mail.url())]), quick_outbox()).await;
    let email = "reader@example.com";
    assert_eq!(server.sign_up(email).await.status(), StatusCode::CREATED);
    let link = mail.nth_to(email, 1).await.link("/activate?token=");
    assert_eq!(server.client.get(&link).send().await.unwrap().status(), StatusCode::OK);
    let login = server.post_json("/auth", &json!({"email": email, "password": PASSWORD})).await;
    let token = login.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();

    let Some(frozen) = Frozen::freeze(&path) else { return };

    let started = Instant::now();
    assert_problem(server.sign_up("refused@example.com").await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let login = server.post_json("/auth", &json!({"email": email, "password": PASSWORD})).await;
    assert_problem(login, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(started.elapsed() < Duration::from_secs(4), "failing writes took {:?}", started.elapsed());
    assert_eq!(server.get("/healthz", None).await.status(), StatusCode::OK);
    for _ in 0..3 {
        let me = server.get("/user", Some(&token)).await;
        assert_eq!(me.status(), StatusCode::OK, "{}", me.text().await.unwrap());
    }

    drop(frozen);
    // The first write may still meet a connection opened read-only during the outage (it is
    // closed after that use); then every connection writes again, none is left over.
    eventually(Duration::from_secs(5), "a write succeeds again", async || {
        server.sign_up("first@example.com").await.status() == StatusCode::CREATED
    })
    .await;
    for n in 0..5 {
        let signup = server.sign_up(&format!("writer{n}@example.com")).await;
        assert_eq!(signup.status(), StatusCode::CREATED, "{}", signup.text().await.unwrap());
    }
    assert_eq!(server.get("/user", Some(&token)).await.status(), StatusCode::OK);
    server.stop().await.unwrap();

    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await.unwrap();
    assert_eq!(check, "ok");
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(&mut conn).await.unwrap();
    assert_eq!(accounts, 7, "the refused sign-up left nothing behind");
}
