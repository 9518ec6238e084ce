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
use lettre::transport::smtp::extension::ClientId;
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
        if let Some(credentials) = &self.credentials {
            connection.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await?;
        }
        Ok(Connection { smtp: connection, probe, idle_since: Instant::now() })
    }
}

/// Why a message did not go: what lettre said, or a connection that could not be opened.
#[derive(Debug)]
pub(super) enum Failure {
    Smtp(Error),
    Connect(std::io::Error),
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

/// An open connection, and a duplicate of its socket to peek at.
struct Connection {
    smtp: AsyncSmtpConnection,
    probe: std::net::TcpStream,
    idle_since: Instant,
}

impl Connection {
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
        connection.smtp.send(envelope, message).await?;
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
    use super::*;

    fn server(url: &str) -> Server {
        Server::parse(&SecretUrl::new(url)).unwrap()
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
