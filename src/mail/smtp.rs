//! The SMTP transport: lettre builds each message and speaks SMTP over this transport's own
//! connections (`connections.rs`: reused, without Nagle's delay, pipelined where offered).
//! `smtp://host:port` speaks plain SMTP (add `?tls=required` for STARTTLS),
//! `smtps://user:pass@host:465` speaks TLS from the start. Connection errors are transient (retried); a `4xx` answer is transient too and
//! slows down the recipient's domain; a `5xx` is permanent.

use std::sync::Arc;
use std::time::Duration;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

use super::connections::{Connections, Failure, Server};
use super::{LogTransport, SendError, Transport};
use crate::secret_url::SecretUrl;
use crate::store::QueuedEmail;

/// How long one SMTP conversation may take before it counts as a transient failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

pub struct SmtpTransport {
    connections: Connections,
    from: Mailbox,
    described: String,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTransport").field("server", &self.described).finish_non_exhaustive()
    }
}

impl SmtpTransport {
    pub fn new(url: &SecretUrl, from: &str) -> anyhow::Result<Self> {
        let connections = Connections::new(Server::parse(url)?);
        let from = from.parse().map_err(|e| anyhow::anyhow!("GATEHOUSE_MAIL_FROM {from:?}: {e}"))?;
        Ok(Self { connections, from, described: format!("SMTP at {url}") })
    }

    fn build(&self, email: &QueuedEmail) -> Result<Message, SendError> {
        let to: Mailbox = email
            .recipient
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient address {:?} unusable: {e}", email.recipient)))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(email.message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(email.text_body.clone(), email.html_body.clone()))
            .map_err(|e| SendError::Permanent(format!("building the message: {e}")))
    }
}

/// Sorts a failure into retry-or-not, with advice an operator can act on.
fn classify(failure: Failure) -> SendError {
    let error = match failure {
        Failure::Connect(error) => {
            return SendError::Transient(format!(
                "could not talk to the mail server ({error}); is GATEHOUSE_SMTP_URL right and the server up?"
            ));
        }
        Failure::Refused(reason) => return SendError::Permanent(reason),
        Failure::Smtp(error) => error,
    };
    if error.is_permanent() {
        SendError::Permanent(format!("the mail server refused the message: {error}"))
    } else if error.is_transient() {
        SendError::Busy(error.to_string())
    } else if error.is_timeout() {
        SendError::Transient(format!("the mail server did not answer in time: {error}"))
    } else if error.is_tls() {
        SendError::Transient(format!(
            "TLS with the mail server failed ({error}); check smtps:// versus smtp://…?tls=required and the certificate"
        ))
    } else {
        SendError::Transient(format!(
            "could not talk to the mail server ({error}); is GATEHOUSE_SMTP_URL right and the server up?"
        ))
    }
}

#[async_trait::async_trait]
impl Transport for SmtpTransport {
    async fn send(&self, email: &QueuedEmail) -> Result<(), SendError> {
        let message = self.build(email)?;
        let formatted = message.formatted();
        let sending = self.connections.send(message.envelope(), &formatted);
        match tokio::time::timeout(SMTP_TIMEOUT, sending).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(failure)) => Err(classify(failure)),
            Err(_) => Err(SendError::Transient("the mail server did not answer in time".into())),
        }
    }

    async fn ping(&self) -> Result<(), SendError> {
        match tokio::time::timeout(Duration::from_secs(5), self.connections.ping()).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(SendError::Transient("the mail server closed the connection".into())),
            Ok(Err(failure)) => Err(classify(failure)),
            Err(_) => Err(SendError::Transient("the mail server did not answer in time".into())),
        }
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}

/// The transport the configuration names: SMTP at `smtp_url`, or the log when there is none.
/// The number of connections follows from the sender's concurrency: one per email under way.
pub fn transport(smtp_url: Option<&SecretUrl>, mail_from: &str) -> anyhow::Result<Arc<dyn Transport>> {
    Ok(match smtp_url {
        Some(url) => Arc::new(SmtpTransport::new(url, mail_from)?),
        None => Arc::new(LogTransport),
    })
}
