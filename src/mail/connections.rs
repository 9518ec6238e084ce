//! The connections to the mail server, kept open and reused: one per email under way at most
//! (`GATEHOUSE_SMTP_CONNECTIONS`), each closed after a minute unused. lettre speaks SMTP on
//! them; this file opens them itself for two reasons lettre's own pool does not cover:
//!
//! - **`TCP_NODELAY`.** lettre writes a message's body and its final `.` in two writes before
//!   it reads the answer; with Nagle's algorithm on, the second waits for the server to
//!   acknowledge the first, which a Linux server delays by up to 40 ms: every email then took
//!   about 44 ms, and 8 connections delivered 180 emails a second on loopback.
//! - **A closed connection is noticed before it is used.** A server may close an idle
//!   connection (or one that sent many messages) whenever it likes. Before reusing one, a
//!   non-blocking peek at its socket (a duplicate of the descriptor, no round trip) finds the end
//!   of the stream, and the connection is dropped instead of failing the next email.
//! - **Pipelining** (RFC 2920). Where the server's EHLO offers `PIPELINING`, a message's
//!   `MAIL FROM`, `RCPT TO` and `DATA` go in one write and their answers are read after it: two
//!   round trips a message instead of four. lettre parses no `PIPELINING` keyword, so the EHLO is
//!   asked once more when the connection opens (before `AUTH`, as RFC 5321 allows) and its lines
//!   are read here; commands and answers are still lettre's.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
// `AsyncNetworkStream` is public but deprecated in lettre 0.11 ("not meant to be made public"):
// it is the one way to start TLS on a stream lettre did not open, which implicit TLS needs.
#[allow(deprecated)]
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use lettre::transport::smtp::{Error, SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

use crate::secret_url::SecretUrl;

/// How long an unused connection is kept.
const IDLE: Duration = Duration::from_secs(60);

/// How the connection is encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Encryption {
    None,
    /// STARTTLS after the greeting: `required`, or only when the server offers it.
    Starttls {
        required: bool,
    },
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

/// Where the mail server is and how to speak to it, from `GATEHOUSE_SMTP_URL` (the forms
/// lettre's URLs take: `smtp://host[:port][?tls=required|opportunistic]`,
/// `smtps://user:password@host[:port]`, a path naming the EHLO name).
#[derive(Clone)]
pub(super) struct Server {
    host: String,
    port: u16,
    encryption: Encryption,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.encryption)
            .finish_non_exhaustive()
    }
}

impl Server {
    pub(super) fn parse(url: &SecretUrl) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url.expose()).map_err(|e| anyhow::anyhow!("GATEHOUSE_SMTP_URL {url}: {e}"))?;
        let host = parsed.host_str().ok_or_else(|| anyhow::anyhow!("GATEHOUSE_SMTP_URL {url} names no host"))?;
        let asked = parsed.query_pairs().find(|(key, _)| key == "tls").map(|(_, value)| value.into_owned());
        let (encryption, default_port) = match (parsed.scheme(), asked.as_deref()) {
            ("smtp", None) => (Encryption::None, SMTP_PORT),
            ("smtp", Some("required")) => (Encryption::Starttls { required: true }, SUBMISSION_PORT),
            ("smtp", Some("opportunistic")) => (Encryption::Starttls { required: false }, SUBMISSION_PORT),
            ("smtps", _) => (Encryption::Implicit, SUBMISSIONS_PORT),
            (scheme, tls) => anyhow::bail!("GATEHOUSE_SMTP_URL {url}: unknown scheme {scheme:?} or tls={tls:?}"),
        };
        let decode = |part: &str| percent_encoding::percent_decode_str(part).decode_utf8().map(|s| s.into_owned());
        let credentials = match parsed.password() {
            Some(password) => Some(Credentials::new(decode(parsed.username())?, decode(password)?)),
            None => None,
        };
        let name = parsed.path().trim_matches('/');
        let hello = if name.is_empty() { ClientId::default() } else { ClientId::Domain(name.to_owned()) };
        Ok(Self { host: host.to_owned(), port: parsed.port().unwrap_or(default_port), encryption, credentials, hello })
    }

    fn tls_parameters(&self) -> Result<TlsParameters, Error> {
        TlsParameters::new(self.host.clone())
    }

    /// Opens a connection: TCP (no Nagle), TLS as asked, EHLO, AUTH.
    async fn connect(&self) -> Result<Connection, Failure> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(lettre_network)?;
        tcp.set_nodelay(true).map_err(lettre_network)?;
        let std = tcp.into_std().map_err(lettre_network)?;
        let probe = std.try_clone().map_err(lettre_network)?;
        let tcp = TcpStream::from_std(std).map_err(lettre_network)?;
        let stream: Box<dyn AsyncTokioStream> = match self.encryption {
            #[allow(deprecated)]
            Encryption::Implicit => {
                let peer = tcp.peer_addr().map_err(lettre_network)?;
                let mut network = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
                network.upgrade_tls(self.tls_parameters()?).await?;
                Box::new(Encrypted { inner: network.compat(), peer })
            }
            _ => Box::new(tcp),
        };
        let mut connection = AsyncSmtpConnection::connect_with_transport(stream, &self.hello).await?;
        if let Encryption::Starttls { required } = self.encryption {
            if connection.can_starttls() {
                connection.starttls(self.tls_parameters()?, &self.hello).await?;
            } else if required {
                let refused = "the mail server does not offer STARTTLS (GATEHOUSE_SMTP_URL asks tls=required)";
                return Err(lettre_network(std::io::Error::other(refused)));
            }
        }
        let pipelining = offers_pipelining(&connection.command(Ehlo::new(self.hello.clone())).await?);
        if let Some(credentials) = &self.credentials {
            connection.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await?;
        }
        Ok(Connection { smtp: connection, probe, idle_since: Instant::now(), pipelining })
    }
}

/// Why a message did not go: what lettre said, a connection that could not be opened, or a
/// message this server cannot carry.
#[derive(Debug)]
pub(super) enum Failure {
    Smtp(Error),
    Connect(std::io::Error),
    Refused(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Smtp(error)
    }
}

fn lettre_network(error: std::io::Error) -> Failure {
    Failure::Connect(error)
}

/// An encrypted stream as lettre's connections take one.
#[derive(Debug)]
struct Encrypted {
    #[allow(deprecated)]
    inner: Compat<AsyncNetworkStream>,
    peer: SocketAddr,
}

impl AsyncRead for Encrypted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Encrypted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Encrypted {
    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

/// Whether an EHLO answer lists `PIPELINING` (each line after the first names one extension).
fn offers_pipelining(ehlo: &Response) -> bool {
    ehlo.message()
        .skip(1)
        .any(|line| line.split_whitespace().next().is_some_and(|word| word.eq_ignore_ascii_case("PIPELINING")))
}

/// The `MAIL FROM` parameters a message needs, as lettre's own `send` sets them: `SMTPUTF8` for
/// an address outside ASCII, `8BITMIME` for a body outside it; refused where the server lacks one.
fn mail_parameters(
    smtp: &AsyncSmtpConnection,
    envelope: &Envelope,
    message: &[u8],
) -> Result<Vec<MailParameter>, String> {
    let mut parameters = Vec::new();
    let non_ascii = |address: &lettre::Address| !AsRef::<str>::as_ref(address).is_ascii();
    if envelope.from().is_some_and(non_ascii) || envelope.to().iter().any(non_ascii) {
        if !smtp.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err("an address is not ASCII and the mail server does not offer SMTPUTF8".into());
        }
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !message.is_ascii() {
        if !smtp.server_info().supports_feature(Extension::EightBitMime) {
            return Err("the message is not ASCII and the mail server does not offer 8BITMIME".into());
        }
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    Ok(parameters)
}

/// An open connection, and a duplicate of its socket to peek at.
struct Connection {
    smtp: AsyncSmtpConnection,
    probe: std::net::TcpStream,
    idle_since: Instant,
    /// The server's EHLO offered `PIPELINING`.
    pipelining: bool,
}

impl Connection {
    /// Sends one message: pipelined where the server allows it, else lettre's command by
    /// command. After any refusal the connection is closed (as lettre does), never reused.
    async fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<(), Failure> {
        if !self.pipelining {
            self.smtp.send(envelope, message).await?;
            return Ok(());
        }
        let parameters = mail_parameters(&self.smtp, envelope, message).map_err(Failure::Refused)?;
        let mut group = Mail::new(envelope.from().cloned(), parameters).to_string();
        for recipient in envelope.to() {
            group.push_str(&Rcpt::new(recipient.clone(), Vec::new()).to_string());
        }
        group.push_str(&Data.to_string());
        // One write of the whole group; `command` then reads the first answer (MAIL's), and one
        // answer follows for each RCPT and for DATA, in order (RFC 2920 section 3.1).
        let mut first_refusal = match self.smtp.command(group.as_str()).await {
            Ok(_) => None,
            Err(refusal) if refusal.status().is_some() => Some(refusal),
            Err(broken) => return Err(Failure::Smtp(broken)),
        };
        let mut in_data = false;
        for answer in 0..=envelope.to().len() {
            let last = answer == envelope.to().len();
            match self.smtp.read_response().await {
                Ok(_) => in_data = last,
                // A refusal is an answer, so the conversation is still in step; the first is kept.
                Err(refusal) if refusal.status().is_some() => {
                    first_refusal.get_or_insert(refusal);
                }
                // The connection broke or spoke nonsense: nothing more to read on it.
                Err(broken) => return Err(Failure::Smtp(first_refusal.unwrap_or(broken))),
            }
        }
        if let Some(refusal) = first_refusal {
            // A server that opened DATA although a command before it failed would take QUIT as
            // text of the message: the connection is dropped without a word instead.
            if !in_data {
                self.smtp.abort().await;
            }
            return Err(Failure::Smtp(refusal));
        }
        self.smtp.message(message).await?;
        Ok(())
    }

    /// Whether it may be used again: not broken, not unused too long, and the server has not
    /// closed it (or sent something unasked, such as a `421` before closing).
    fn usable(&self) -> bool {
        if self.smtp.has_broken() || self.idle_since.elapsed() > IDLE {
            return false;
        }
        let mut byte = [0u8; 1];
        matches!(self.probe.peek(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock)
    }
}

/// The open connections not in use.
pub(super) struct Connections {
    server: Server,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections").field("server", &self.server).finish_non_exhaustive()
    }
}

impl Connections {
    pub(super) fn new(server: Server) -> Self {
        Self { server, idle: Mutex::new(Vec::new()) }
    }

    /// A usable open connection, or a new one.
    async fn take(&self) -> Result<Connection, Failure> {
        loop {
            let next = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
            match next {
                Some(connection) if connection.usable() => return Ok(connection),
                Some(_) => continue, // dropped: closed without a word, as the server did
                None => return self.server.connect().await,
            }
        }
    }

    fn put_back(&self, mut connection: Connection) {
        if connection.smtp.has_broken() {
            return;
        }
        connection.idle_since = Instant::now();
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(connection);
    }

    /// Sends one message over a connection of the pool; a connection that failed is dropped.
    pub(super) async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), Failure> {
        let mut connection = self.take().await?;
        connection.send(envelope, message).await?;
        self.put_back(connection);
        Ok(())
    }

    /// Whether the server answers: a `NOOP` on a connection of the pool.
    pub(super) async fn ping(&self) -> Result<bool, Failure> {
        let mut connection = self.take().await?;
        let alive = connection.smtp.test_connected().await;
        if alive {
            self.put_back(connection);
        }
        Ok(alive)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    /// What the fake mail server below saw.
    #[derive(Default)]
    struct Seen {
        connections: usize,
        messages: Vec<String>,
        /// Commands that came before the answer to the command before them.
        unasked: Vec<String>,
    }

    /// A mail server that speaks just enough SMTP for these tests. With `pipelining` it offers
    /// `PIPELINING` and answers `MAIL FROM` only once `RCPT TO` and `DATA` have arrived too, so a
    /// client that waits for each answer stalls; without it, a command sent before the answer
    /// to the one before it is written down in `unasked`. RCPT is answered `rcpt`.
    async fn fake_server(pipelining: bool, rcpt: &'static str) -> (u16, Arc<Mutex<Seen>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                record.lock().unwrap().connections += 1;
                tokio::spawn(conversation(socket, pipelining, rcpt, record.clone()));
            }
        });
        (port, seen)
    }

    async fn conversation(socket: TcpStream, pipelining: bool, rcpt: &str, seen: Arc<Mutex<Seen>>) {
        let (read, mut write) = socket.into_split();
        let mut read = BufReader::new(read);
        let ehlo =
            if pipelining { "250-fake\r\n250-PIPELINING\r\n250 8BITMIME\r\n" } else { "250-fake\r\n250 8BITMIME\r\n" };
        write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
        let mut line = String::new();
        let data_answer = if rcpt.starts_with('2') { "354 go on" } else { "554 no valid recipients" };
        while next(&mut read, &mut line).await {
            let command = line.trim_end().to_ascii_uppercase();
            let mut answers = Vec::new();
            if command.starts_with("EHLO") {
                answers.push(ehlo.trim_end().to_owned());
            } else if command.starts_with("MAIL") && pipelining {
                assert!(next(&mut read, &mut line).await && line.starts_with("RCPT"), "RCPT after MAIL: {line:?}");
                assert!(next(&mut read, &mut line).await && line.starts_with("DATA"), "DATA after RCPT: {line:?}");
                answers.extend(["250 sender ok", rcpt, data_answer].map(str::to_owned));
            } else if command.starts_with("MAIL") || command.starts_with("RCPT") || command.starts_with("DATA") {
                let early = tokio::time::timeout(Duration::from_millis(100), read.fill_buf()).await;
                if matches!(early, Ok(Ok(bytes)) if !bytes.is_empty()) {
                    seen.lock().unwrap().unasked.push(command.clone());
                }
                answers.push(
                    match &command[..4] {
                        "MAIL" => "250 sender ok",
                        "RCPT" => rcpt,
                        _ => data_answer,
                    }
                    .to_owned(),
                );
            } else if command == "QUIT" {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            } else {
                answers.push("250 ok".to_owned());
            }
            let opened_data = answers.last().is_some_and(|answer| answer.starts_with("354"));
            let text: String = answers.iter().map(|answer| format!("{answer}\r\n")).collect();
            write.write_all(text.as_bytes()).await.unwrap();
            if opened_data {
                let mut body = String::new();
                while next(&mut read, &mut line).await && line != ".\r\n" {
                    body.push_str(&line);
                }
                seen.lock().unwrap().messages.push(body);
                write.write_all(b"250 queued\r\n").await.unwrap();
            }
        }
    }

    async fn next(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, line: &mut String) -> bool {
        line.clear();
        read.read_line(line).await.unwrap_or(0) > 0
    }

    fn envelope() -> Envelope {
        Envelope::new(Some("gatehouse@example.com".parse().unwrap()), vec!["ann@example.com".parse().unwrap()]).unwrap()
    }

    async fn send(connections: &Connections, text: &str) -> Result<(), Failure> {
        let message = format!("Subject: {text}\r\n\r\n{text}\r\n");
        tokio::time::timeout(Duration::from_secs(5), connections.send(&envelope(), message.as_bytes()))
            .await
            .expect("the send stalled: the client waited for an answer the server gives only to a pipelined group")
    }

    fn server(url: &str) -> Server {
        Server::parse(&SecretUrl::new(url)).unwrap()
    }

    /// A pool of connections to a new fake server.
    async fn pool(pipelining: bool, rcpt: &'static str) -> (Connections, Arc<Mutex<Seen>>) {
        let (port, seen) = fake_server(pipelining, rcpt).await;
        (Connections::new(server(&format!("smtp://127.0.0.1:{port}"))), seen)
    }

    /// The refusal a send ended with.
    fn refusal(sent: Result<(), Failure>) -> Error {
        match sent {
            Err(Failure::Smtp(error)) => error,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn where_pipelining_is_offered_the_envelope_goes_in_one_group_on_a_reused_connection() {
        let (connections, seen) = pool(true, "250 recipient ok").await;
        send(&connections, "first").await.unwrap();
        send(&connections, "second").await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.connections, 1);
        assert_eq!(seen.messages.len(), 2);
        assert!(seen.messages[0].contains("first") && seen.messages[1].contains("second"), "{:?}", seen.messages);
    }

    #[tokio::test]
    async fn without_pipelining_each_command_waits_for_its_answer() {
        let (connections, seen) = pool(false, "250 recipient ok").await;
        send(&connections, "one").await.unwrap();
        send(&connections, "two").await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!((seen.connections, seen.messages.len()), (1, 2));
        assert!(seen.unasked.is_empty(), "sent before their answers: {:?}", seen.unasked);
    }

    #[tokio::test]
    async fn a_refused_recipient_in_a_group_is_permanent_and_its_connection_is_not_reused() {
        let (connections, seen) = pool(true, "550 no such mailbox").await;
        let first = refusal(send(&connections, "lost").await);
        assert!(first.is_permanent(), "{first}");
        let second = refusal(send(&connections, "again").await);
        assert!(second.is_permanent(), "{second}");
        let seen = seen.lock().unwrap();
        assert_eq!((seen.connections, seen.messages.len()), (2, 0));
    }

    #[tokio::test]
    async fn a_busy_recipient_in_a_group_is_transient() {
        let (connections, _) = pool(true, "451 try again later").await;
        let busy = refusal(send(&connections, "later").await);
        assert!(busy.is_transient(), "{busy}");
    }

    #[test]
    fn the_url_names_the_port_the_encryption_the_login_and_the_ehlo_name() {
        let plain = server("smtp://mail.example.com");
        assert_eq!((plain.host.as_str(), plain.port, &plain.encryption), ("mail.example.com", 25, &Encryption::None));
        assert!(plain.credentials.is_none());
        let starttls = server("smtp://mail.example.com?tls=required");
        assert_eq!((starttls.port, &starttls.encryption), (587, &Encryption::Starttls { required: true }));
        let opportunistic = server("smtp://mail.example.com:2525?tls=opportunistic");
        assert_eq!((opportunistic.port, &opportunistic.encryption), (2525, &Encryption::Starttls { required: false }));
        let implicit = server("smtps://ann%40example.com:p%3Ass@mail.example.com/gatehouse.example.com");
        assert_eq!((implicit.port, &implicit.encryption), (465, &Encryption::Implicit));
        assert_eq!(implicit.credentials, Some(Credentials::new("ann@example.com".into(), "p:ss".into())));
        assert_eq!(implicit.hello, ClientId::Domain("gatehouse.example.com".into()));
        assert!(Server::parse(&SecretUrl::new("smtp://mail.example.com?tls=sometimes")).is_err());
        assert!(Server::parse(&SecretUrl::new("imap://mail.example.com")).is_err());
    }
}
