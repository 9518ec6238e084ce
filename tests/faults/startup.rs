//! Starting while the database is down: the server listens at once, is alive but not ready,
//! answers 503 to everything else, and serves normally as soon as the database appears.

use std::time::Duration;

use reqwest::StatusCode;

use crate::database::{Kind, TestDatabase};
use crate::proxy::Proxy;
use crate::{Server, assert_problem, config, logs, quick_outbox};

/// What a server that has not reached its database answers.
async fn assert_starting(server: &Server) {
    assert_eq!(server.get("/healthz", None).await.status(), StatusCode::OK);
    let body = assert_problem(server.get("/readyz", None).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(body["detail"].as_str().unwrap().contains("database is not reachable"), "{body}");
    let signup = server.sign_up("early@example.com").await;
    assert_eq!(signup.headers()["retry-after"], "1");
    assert_problem(signup, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_problem(server.get("/user", Some("whatever")).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}

/// `GATEHOUSE_DATABASE_TIMEOUT=1s` instead of 5 s: each attempt against the cut connection gives
/// up sooner, so the test reaches the "starting" state in a second rather than five; what it
/// checks (503 while down, ready once the database appears) is the same at any timeout.
#[tokio::test]
async fn a_server_started_while_postgres_is_down_becomes_ready_when_it_appears() {
    let Some(server_url) = Kind::Postgres.server_url() else {
        crate::database::skip("postgres", "GATEHOUSE_TEST_POSTGRES_URL", "the start-up test while PostgreSQL is down");
        return;
    };
    let db = TestDatabase::create_on(Kind::Postgres, &server_url).await;
    let mut url = url::Url::parse(&db.url).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(target).await;
    proxy.cut().await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    let config = config(url.as_str(), &[("GATEHOUSE_DATABASE_TIMEOUT", "1s")]);

    let server = Server::start(&config, quick_outbox()).await;
    assert_starting(&server).await;

    proxy.restore();
    server.until_status("/readyz", StatusCode::OK, Duration::from_secs(30)).await;
    let signup = server.sign_up("late@example.com").await;
    assert_eq!(signup.status(), StatusCode::CREATED, "{}", signup.text().await.unwrap());
    assert_eq!(db.count("SELECT COUNT(*) FROM accounts").await, 1);
    let logs = logs();
    assert!(logs.contains("the database is not reachable yet"), "{logs}");
    assert!(logs.contains("gatehouse is ready"), "{logs}");
    server.stop().await.unwrap();
}

/// A local file cannot appear by waiting: a SQLite file in a directory that does not exist is a
/// mistake in the configuration, reported at once with the absolute path.
#[tokio::test]
async fn a_sqlite_file_in_a_missing_directory_stops_the_start_with_its_absolute_path() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = config(&format!("sqlite://{}", data.join("gatehouse.db").display()), &[]);

    let error = gatehouse::app::Application::build(&config).await.expect_err("start-up refused");

    let problem = error.downcast_ref::<gatehouse::config::ConfigError>().expect("a configuration error");
    let text = problem.to_string();
    assert!(text.contains(&data.display().to_string()) && text.contains("does not exist"), "{text}");
}

/// A port nothing listens on: a database that refuses connections, as one still starting does.
const UNREACHABLE_POSTGRES: &str = "postgres://gatehouse@127.0.0.1:9/gatehouse";

#[tokio::test]
async fn a_bad_admin_password_stops_start_up_at_once_even_without_a_database() {
    let url = UNREACHABLE_POSTGRES;
    let config = config(url, &[("GATEHOUSE_ADMIN_EMAIL", "admin@example.com"), ("GATEHOUSE_ADMIN_PASSWORD", "short")]);

    let error = gatehouse::app::Application::build(&config).await.expect_err("start-up refused");

    let problem = error.downcast_ref::<gatehouse::config::ConfigError>().expect("a configuration error");
    assert!(problem.to_string().contains("GATEHOUSE_ADMIN_PASSWORD"), "{problem}");
}

#[tokio::test]
async fn a_server_still_starting_stops_cleanly() {
    let server = Server::start(&config(UNREACHABLE_POSTGRES, &[]), quick_outbox()).await;
    assert_eq!(server.get("/healthz", None).await.status(), StatusCode::OK);

    let stopped = tokio::time::timeout(Duration::from_secs(10), server.stop()).await;

    stopped.expect("stopped in time").unwrap();
}
