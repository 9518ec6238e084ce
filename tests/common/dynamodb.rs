//! The DynamoDB engine tests run against: the endpoint `GATEHOUSE_TEST_DYNAMODB_URL` names, or
//! (with `GATEHOUSE_MOTO_PYTHON`, the python of moto's virtualenv, as `e2e/aws/tools.sh
//! --print-env` gives it) local DynamoDB-compatible engines, `e2e/aws/dynamodb_engine.py`,
//! started once per test program and stopped when it exits. Each test gets tables of its own,
//! under a fresh prefix, on one engine. An engine serves one request at a time (its module says
//! why), so a program starts [`ENGINES`] of them and hands them to its tests in turn: the tests'
//! requests are then answered side by side, as by the service itself. The AWS SDK needs
//! credentials even for a local engine: any will do (`AWS_ACCESS_KEY_ID=test
//! AWS_SECRET_ACCESS_KEY=test`).

#![allow(dead_code)]

use std::io::Read as _;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The region tests name (a local engine accepts the real regions only).
pub const REGION: &str = "us-east-1";

/// How many engines one test program starts: one a core's worth, for the two cores a test
/// program and its engines share.
pub const ENGINES: usize = 2;

/// An engine's endpoint, the next in turn (starting them the first time); `None` when the
/// environment names none.
pub fn endpoint() -> Option<String> {
    if let Ok(url) = std::env::var("GATEHOUSE_TEST_DYNAMODB_URL")
        && !url.is_empty()
    {
        return Some(url);
    }
    let python = std::env::var("GATEHOUSE_MOTO_PYTHON").ok().filter(|p| !p.is_empty())?;
    static STARTED: OnceLock<Vec<(Child, String)>> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let engines = STARTED.get_or_init(|| {
        let starting: Vec<_> = (0..ENGINES).map(|_| spawn(&python)).collect();
        starting.into_iter().map(|(child, port)| ready(child, port)).collect()
    });
    Some(engines[NEXT.fetch_add(1, Ordering::Relaxed) % engines.len()].1.clone())
}

/// Fails with the fix when the SDK would find no credentials.
pub fn require_credentials() {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    assert!(
        set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY"),
        "the DynamoDB tests need credentials, any for a local engine: \
         AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"
    );
}

/// A database URL naming fresh tables on the engine.
pub fn database_url(endpoint: &str) -> String {
    format!("dynamodb://t{}-?region={REGION}&endpoint={endpoint}", uuid::Uuid::now_v7().simple())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts an engine under a shell that stops it when this program's end closes its stdin: the
/// shell, and the port it listens on.
// The shell lives as long as this program (its handle is kept in a static), so it is never
// waited for: the program's end closes its stdin, and it stops the engine and exits.
#[allow(clippy::zombie_processes)]
fn spawn(python: &str) -> (Child, u16) {
    let port = free_port();
    let engine = concat!(env!("CARGO_MANIFEST_DIR"), "/e2e/aws/dynamodb_engine.py");
    let script = r#""$0" "$1" -H 127.0.0.1 -p "$2" >/dev/null 2>&1 & engine=$!; cat >/dev/null; kill $engine"#;
    let child = Command::new("sh")
        .args(["-c", script, python, engine, &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {engine} with {python}: {e}"));
    (child, port)
}

/// The engine started on `port` once it answers, with its endpoint.
fn ready(child: Child, port: u16) -> (Child, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if answers(port) {
            return (child, format!("http://127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the DynamoDB engine did not answer on port {port} within a minute");
}

/// Whether the engine answers its status page.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    use std::io::Write as _;
    let request = "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}
