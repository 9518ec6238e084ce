//! The mail server down, hanging, or refusing: sign-ups keep succeeding at full speed, emails
//! wait in the outbox and are retried with backoff, and all arrive once the server behaves; a
//! permanent refusal marks the email failed in the log, the metrics and `/admin/outbox`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::database::{Kind, TestDatabase};
use crate::mail_server::SmtpServer;
use crate::{PASSWORD, Server, config, eventually, logs, quick_outbox};

/// How the faulty mail server behaves towards new commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Greets, then never answers again.
    Hang,
    /// Answers `451` (try later) to every recipient.
    Busy,
    /// Answers `550` (no such user) to every recipient.
    Reject,
    /// Passes the connection to a real mail server.
    Deliver,
}

/// A mail server whose behaviour the test switches; in `Deliver` mode, messages land in `real`.
struct FaultyMail {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    real: SmtpServer,
}

impl FaultyMail {
    async fn start(mode: Mode) -> Self {
        let real = SmtpServer::start().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new(mode));
        let (shared, real_port) = (mode.clone(), real.port);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(converse(stream, shared.clone(), real_port));
            }
        });
        Self { port, mode, real }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
}

async fn converse(mut stream: TcpStream, mode: Arc<Mutex<Mode>>, real_port: u16) {
    let current = || *mode.lock().unwrap();
    if current() == Mode::Deliver {
        if let Ok(mut real) = TcpStream::connect(("127.0.0.1", real_port)).await {
            let _ = tokio::io::copy_bidirectional(&mut stream, &mut real).await;
        }
        return;
    }
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    if write.write_all(b"220 faulty.test ESMTP\r\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let answer: &[u8] = match (current(), verb.as_str()) {
            (Mode::Hang, _) => continue,
            (_, "QUIT") => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            (_, "EHLO" | "HELO") => b"250 faulty.test\r\n",
            (Mode::Busy, "RCPT") => b"451 4.3.0 mailbox busy, try again later\r\n",
            (Mode::Reject, "RCPT") => b"550 5.1.1 no such user here\r\n",
            // Back to normal while this connection is open: close it, so the next one is relayed.
            (Mode::Deliver, "RCPT" | "MAIL") => {
                let _ = write.write_all(b"421 4.3.2 closing, come back\r\n").await;
                return;
            }
            _ => b"250 OK\r\n",
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}

async fn sign_up_quickly(server: &Server, email: &str) {
    let started = Instant::now();
    let response = server.sign_up(email).await;
    let took = started.elapsed();
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());
    assert!(took < Duration::from_secs(2), "signing up {email} took {took:?}");
}

async fn count(db: &TestDatabase, query: &str) -> i64 {
    db.count(query).await
}

#[tokio::test]
async fn emails_queued_while_the_mail_server_is_down_are_all_delivered_when_it_comes_back() {
    let db = TestDatabase::create_sqlite();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = config(&db.url, &[("GATEHOUSE_SMTP_URL", &format!("smtp://127.0.0.1:{port}"))]);
    let server = Server::start(&config, quick_outbox()).await;
    let people = ["down1@example.com", "down2@example.com", "down3@example.com"];

    for email in people {
        sign_up_quickly(&server, email).await;
    }
    eventually(Duration::from_secs(10), "every email has failed an attempt", async || {
        count(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'queued' AND attempts >= 1").await == 3
    })
    .await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'done'").await, 0);
    let mail = SmtpServer::start_on(TcpListener::bind(("127.0.0.1", port)).await.unwrap());

    for email in people {
        mail.wait_for(email, 1).await;
    }
    eventually(Duration::from_secs(5), "every email is marked sent", async || {
        count(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'done'").await == 3
    })
    .await;
    server.stop().await.unwrap();
}

/// A send timeout of 1 s instead of 30 s: each attempt at the hanging server gives up sooner,
/// so the test waits seconds, not minutes; requests never wait for a send at any timeout.
#[tokio::test]
async fn a_hanging_mail_server_never_slows_requests_and_its_emails_arrive_later() {
    let db = TestDatabase::create_sqlite();
    let mail = FaultyMail::start(Mode::Hang).await;
    let config = config(&db.url, &[("GATEHOUSE_SMTP_URL", &mail.url())]);
    let outbox = gatehouse::mail::outbox::OutboxSettings { send_timeout: Duration::from_secs(1), ..quick_outbox() };
    let server = Server::start(&config, outbox).await;

    for n in 0..4 {
        sign_up_quickly(&server, &format!("hang{n}@example.com")).await;
    }
    eventually(Duration::from_secs(10), "a send attempt timed out", async || {
        count(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND attempts >= 1 AND last_error LIKE '%did not finish within%'")
            .await
            >= 1
    })
    .await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'done'").await, 0);
    mail.set(Mode::Deliver);

    for n in 0..4 {
        mail.real.wait_for(&format!("hang{n}@example.com"), 1).await;
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_mail_server_answering_4xx_is_retried_with_backoff_until_it_accepts() {
    let db = TestDatabase::create_sqlite();
    let mail = FaultyMail::start(Mode::Busy).await;
    let config = config(&db.url, &[("GATEHOUSE_SMTP_URL", &mail.url())]);
    let server = Server::start(&config, quick_outbox()).await;

    sign_up_quickly(&server, "busy@example.com").await;
    eventually(Duration::from_secs(10), "the email was tried three times", async || {
        count(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'queued' AND attempts >= 3").await == 1
    })
    .await;
    let error = db.count("SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND last_error LIKE '%451%'").await;
    assert_eq!(error, 1, "the last error names the server's answer");
    mail.set(Mode::Deliver);

    mail.real.wait_for("busy@example.com", 1).await;
    eventually(Duration::from_secs(5), "the email is marked sent", async || {
        count(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'done'").await == 1
    })
    .await;
    assert!(logs().contains("email not delivered; will retry"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_permanent_5xx_marks_the_email_failed_in_the_outbox_the_log_and_the_metrics() {
    let db = TestDatabase::create_sqlite();
    let mail = FaultyMail::start(Mode::Reject).await;
    let admin = "postmaster@example.com";
    let config = config(
        &db.url,
        &[
            ("GATEHOUSE_SMTP_URL", &mail.url()),
            ("GATEHOUSE_ADMIN_EMAIL", admin),
            ("GATEHOUSE_ADMIN_PASSWORD", PASSWORD),
        ],
    );
    let server = Server::start(&config, quick_outbox()).await;

    sign_up_quickly(&server, "nobody@example.com").await;
    eventually(Duration::from_secs(10), "the email is marked failed", async || {
        count(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'failed'").await == 1
    })
    .await;

    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND attempts = 1").await,
        1,
        "no retry after a 5xx"
    );
    let login = server.post_json("/auth", &json!({"email": admin, "password": PASSWORD})).await;
    let token = login.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let listed = server.get("/admin/outbox?status=failed", Some(&token)).await;
    assert_eq!(listed.status(), StatusCode::OK);
    let page: Value = listed.json().await.unwrap();
    let emails = page["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 1, "{page}");
    assert_eq!(emails[0]["recipient"], "nobody@example.com");
    let last_error = emails[0]["last_error"].as_str().unwrap();
    assert!(last_error.contains("550"), "{last_error}");
    let id = emails[0]["id"].as_str().unwrap();
    let logs = logs();
    let line = logs.lines().find(|l| l.contains(id) && l.contains("email failed for good")).expect("logged");
    assert!(line.contains("ERROR"), "{line}");
    let metrics = server.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.lines().any(|l| l.starts_with("gatehouse_emails_failed_total{")), "{metrics}");
    assert!(mail.real.messages().is_empty());
    server.stop().await.unwrap();
}

/// SQLite, and PostgreSQL and MariaDB where their test servers are configured (the job queue's
/// claims differ by server); says on stderr what it skips.
async fn databases(test: &str) -> Vec<TestDatabase> {
    let mut all = vec![TestDatabase::create_sqlite()];
    for kind in [Kind::Postgres, Kind::Mysql] {
        match kind.server_url() {
            Some(server) => all.push(TestDatabase::create_on(kind, &server).await),
            None => crate::database::skip(kind.name(), kind.env_var(), test),
        }
    }
    all
}

/// Signs up `count` people (`{prefix}{n}@example.com`), four at a time (a sign-up that finds the
/// hashing queue full, `503`, is tried again); their addresses.
async fn sign_up_many(server: &Server, prefix: &str, count: usize) -> Vec<String> {
    let emails: Vec<String> = (0..count).map(|n| format!("{prefix}{n}@example.com")).collect();
    for group in emails.chunks(4) {
        let mut signing_up = tokio::task::JoinSet::new();
        for email in group {
            let (client, url, email) = (server.client.clone(), server.url("/user"), email.clone());
            signing_up.spawn(async move {
                loop {
                    let body = json!({"email": email, "password": PASSWORD});
                    let status = client.post(&url).json(&body).send().await.unwrap().status();
                    if status != StatusCode::SERVICE_UNAVAILABLE {
                        return status;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
        for status in signing_up.join_all().await {
            assert_eq!(status, StatusCode::CREATED);
        }
    }
    emails
}

/// Every address got exactly one email.
fn once_each(mail: &SmtpServer, emails: &[String]) {
    for email in emails {
        let received = mail.messages_to(email);
        assert_eq!(received.len(), 1, "{email} got {} emails", received.len());
    }
}

/// A relay that takes a second to accept each message, at the default settings: emails go out
/// several at a time over pooled connections, each exactly once, none held up behind another
/// for long.
#[tokio::test]
async fn a_mail_server_taking_a_second_per_message_gets_each_email_once_several_at_a_time() {
    for db in databases("slow mail server").await {
        slow_mail_server(db).await;
    }
}

async fn slow_mail_server(db: TestDatabase) {
    let manner = crate::mail_server::Manner { accept_after: Duration::from_secs(1), close_after: None };
    let mail = SmtpServer::start_with(manner).await;
    let config = config(&db.url, &[("GATEHOUSE_SMTP_URL", &mail.url())]);
    let server = Server::start(&config, gatehouse::mail::outbox::OutboxSettings::default()).await;

    let emails = sign_up_many(&server, "slow", 24).await;
    eventually(Duration::from_secs(60), "every email arrived", async || mail.messages().len() >= emails.len()).await;

    once_each(&mail, &emails);
    let connections = mail.connections();
    assert!(connections >= 2, "sent one at a time: {connections} connection");
    assert!(connections <= 8, "{connections} connections: at most GATEHOUSE_SMTP_CONNECTIONS");
    eventually(Duration::from_secs(5), "every email is marked sent", async || {
        count(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'done'").await == 24
    })
    .await;
    server.stop().await.unwrap();
}

/// A relay that closes the connection after every tenth message, at the default settings: the
/// pooled connection it closed is noticed and replaced, and no email is lost or sent twice.
#[tokio::test]
async fn a_mail_server_closing_the_connection_after_every_tenth_message_loses_and_repeats_nothing() {
    for db in databases("closing mail server").await {
        closing_mail_server(db).await;
    }
}

async fn closing_mail_server(db: TestDatabase) {
    let manner = crate::mail_server::Manner { accept_after: Duration::ZERO, close_after: Some(10) };
    let mail = SmtpServer::start_with(manner).await;
    let config = config(&db.url, &[("GATEHOUSE_SMTP_URL", &mail.url())]);
    let server = Server::start(&config, gatehouse::mail::outbox::OutboxSettings::default()).await;

    let mut emails = Vec::new();
    for round in 0..6 {
        emails.extend(sign_up_many(&server, &format!("close{round}x"), 10).await);
    }
    eventually(Duration::from_secs(45), "every email arrived", async || mail.messages().len() >= emails.len()).await;
    eventually(Duration::from_secs(10), "every email is marked sent", async || {
        count(&db, "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'done'").await == emails.len() as i64
    })
    .await;

    once_each(&mail, &emails);
    assert!(mail.connections() >= 6, "the closed connections were replaced: {}", mail.connections());
    server.stop().await.unwrap();
}
