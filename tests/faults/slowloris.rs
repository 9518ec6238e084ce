//! Hostile connections: a client that sends its headers a byte at a time is cut off after
//! `GATEHOUSE_HEADER_TIMEOUT` while others are served; oversized headers answer 431; an
//! oversized token is an ordinary 401 problem.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::database::TestDatabase;
use crate::{Server, assert_problem, config, quick_outbox};

async fn server(header_timeout: &str) -> (Server, TestDatabase) {
    let db = TestDatabase::create_sqlite();
    let server = Server::start(&config(&db.url, &[("GATEHOUSE_HEADER_TIMEOUT", header_timeout)]), quick_outbox()).await;
    (server, db)
}

/// Reads until the server closes the connection (or resets it); returns what it sent.
async fn read_to_close(stream: &mut tokio::net::tcp::OwnedReadHalf) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Sends `request` on a fresh connection and returns the first line of the answer, or `None`
/// when the server closed the connection without one. Fails the test after five seconds.
async fn raw_exchange(server: &Server, request: Vec<u8>) -> Option<String> {
    let stream = TcpStream::connect(server.socket_address()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        // The server may answer and close before reading everything; that is fine.
        let _ = write.write_all(&request).await;
        write
    });
    let received = tokio::time::timeout(Duration::from_secs(5), read_to_close(&mut read)).await.expect("no hang");
    let _ = writer.await;
    let text = String::from_utf8_lossy(&received).into_owned();
    text.lines().next().map(str::to_owned)
}

#[tokio::test]
async fn a_client_dribbling_its_headers_is_cut_off_while_others_are_served() {
    let (server, _db) = server("1s").await;
    let stream = TcpStream::connect(server.socket_address()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let started = Instant::now();
    write.write_all(b"GET /healthz HTTP/1.1\r\nHost: gatehouse\r\nX-Slow: ").await.unwrap();
    let dribbler = tokio::spawn(async move {
        // One byte every 200 ms, for as long as the server listens.
        while write.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });

    // Meanwhile, other clients are answered promptly.
    for _ in 0..3 {
        let asked = Instant::now();
        assert_eq!(server.get("/healthz", None).await.status(), StatusCode::OK);
        assert!(asked.elapsed() < Duration::from_millis(500), "a request waited {:?}", asked.elapsed());
    }
    let answer = tokio::time::timeout(Duration::from_secs(5), read_to_close(&mut read)).await;
    let closed_after = started.elapsed();

    let answer = answer.expect("the slow connection is closed by the server");
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "{}", String::from_utf8_lossy(&answer));
    assert!(closed_after >= Duration::from_millis(900), "closed after {closed_after:?}");
    assert!(closed_after < Duration::from_secs(3), "closed after {closed_after:?}");
    dribbler.abort();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn oversized_headers_answer_431_and_never_a_500_or_a_hang() {
    let (server, _db) = server("5s").await;
    let request = |headers: String| format!("GET /healthz HTTP/1.1\r\nHost: gatehouse\r\n{headers}\r\n").into_bytes();

    // 40 KiB fits in the socket buffers, so the answer is read in full.
    let big = raw_exchange(&server, request(format!("X-Big: {}\r\n", "a".repeat(40 * 1024)))).await;
    assert_eq!(big.as_deref(), Some("HTTP/1.1 431 Request Header Fields Too Large"));
    let many = raw_exchange(&server, request((0..150).map(|i| format!("X-H{i}: v\r\n")).collect())).await;
    assert_eq!(many.as_deref(), Some("HTTP/1.1 431 Request Header Fields Too Large"));
    // 100 KiB may be cut off mid-send: a 431 or a closed connection, nothing else.
    let huge = raw_exchange(&server, request(format!("X-Big: {}\r\n", "a".repeat(100 * 1024)))).await;
    assert!(matches!(huge.as_deref(), None | Some("HTTP/1.1 431 Request Header Fields Too Large")), "{huge:?}");

    // The server is none the worse.
    assert_eq!(server.get("/healthz", None).await.status(), StatusCode::OK);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_oversized_or_malformed_token_answers_401_problem() {
    let (server, _db) = server("5s").await;
    let huge = format!("eyJhbGciOiJFZERTQSJ9.{}.{}", "a".repeat(10 * 1024), "b".repeat(86));

    for token in [huge.as_str(), "a.b.c", "not a jwt", "...."] {
        assert_problem(server.get("/user", Some(token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    server.stop().await.unwrap();
}
