//! A real SMTP server for the tests, built on the `mailin` protocol library: gatehouse's
//! lettre transport talks to it over TCP, and the tests read the delivered messages.

#![allow(dead_code)]

use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin::{Action, Handler, Response, SessionBuilder};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as the server received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(&self.raw).expect("a parseable message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_owned()
    }

    /// The decoded plain-text part.
    pub fn text(&self) -> String {
        self.parsed().body_text(0).map(|t| t.into_owned()).unwrap_or_default()
    }

    /// The decoded HTML part.
    pub fn html(&self) -> String {
        self.parsed().body_html(0).map(|t| t.into_owned()).unwrap_or_default()
    }

    /// The line of the plain-text part that is a link containing `path`.
    pub fn link(&self, path: &str) -> String {
        let text = self.text();
        text.lines()
            .map(str::trim)
            .find(|line| line.starts_with("http") && line.contains(path))
            .unwrap_or_else(|| panic!("no {path} link on a line of its own in:\n{text}"))
            .to_owned()
    }
}

#[derive(Clone, Default)]
struct Collector {
    inbox: Arc<Mutex<Vec<Received>>>,
    to: Vec<String>,
    data: Vec<u8>,
    /// Messages accepted on this connection.
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let message = Received { to: std::mem::take(&mut self.to), raw: std::mem::take(&mut self.data) };
        self.inbox.lock().unwrap().push(message);
        self.accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        mailin::response::OK
    }
}

/// How the test's mail server treats the messages it accepts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Manner {
    /// How long it takes to answer each message's end (its `250`), as a slow relay does.
    pub accept_after: Duration,
    /// Closes a connection right after accepting this many messages on it.
    pub close_after: Option<usize>,
}

/// The test's mail server; every message it accepted stays in its inbox.
#[derive(Clone)]
pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
    /// Connections accepted so far.
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    /// A server that accepts in its own manner (slowly, or closing connections).
    pub async fn start_with(manner: Manner) -> Self {
        Self::serve_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), manner)
    }

    /// Serves on a listener the test bound itself (to bring a "down" server back on its port).
    pub fn start_on(listener: TcpListener) -> Self {
        Self::serve_on(listener, Manner::default())
    }

    fn serve_on(listener: TcpListener, manner: Manner) -> Self {
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (shared, counted) = (inbox.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let handler = Collector { inbox: shared.clone(), ..Default::default() };
                tokio::spawn(serve(stream, peer.ip(), handler, manner));
            }
        });
        Self { port, inbox, connections }
    }

    /// How many connections clients have opened.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn messages(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    pub fn messages_to(&self, address: &str) -> Vec<Received> {
        self.messages().into_iter().filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address))).collect()
    }

    /// Waits (at most ten seconds) until `count` messages to `address` have arrived.
    pub async fn wait_for(&self, address: &str, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.messages_to(address);
            if found.len() >= count {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} email(s) to {address}, got {}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The newest message to `address`, waiting for the `nth` (1-based) to arrive.
    pub async fn nth_to(&self, address: &str, nth: usize) -> Received {
        self.wait_for(address, nth).await.swap_remove(nth - 1)
    }
}

async fn serve(stream: tokio::net::TcpStream, ip: IpAddr, handler: Collector, manner: Manner) {
    let accepted_count = handler.accepted.clone();
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut session = SessionBuilder::new("smtp.test").build(ip, handler);
    if write.write_all(&session.greeting().buffer().unwrap()).await.is_err() {
        return;
    }
    let mut line = Vec::new();
    let mut accepted_here = 0;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let before = accepted_count.load(std::sync::atomic::Ordering::SeqCst);
        let response = session.process(&line);
        let accepted = accepted_count.load(std::sync::atomic::Ordering::SeqCst) > before;
        if accepted && !manner.accept_after.is_zero() {
            tokio::time::sleep(manner.accept_after).await;
        }
        match response.action {
            Action::Reply => {
                if write.write_all(&response.buffer().unwrap()).await.is_err() {
                    return;
                }
                if accepted {
                    accepted_here += 1;
                    if manner.close_after.is_some_and(|n| accepted_here >= n) {
                        return;
                    }
                }
            }
            Action::Close | Action::UpgradeTls => {
                let _ = write.write_all(&response.buffer().unwrap()).await;
                return;
            }
            Action::NoReply => {}
        }
    }
}
