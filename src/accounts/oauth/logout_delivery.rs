//! OpenID Connect Back-Channel Logout 1.0, the sending side: the job queue's worker for logout
//! notices (`backchannel.rs` queues them). An attempt signs a fresh `logout_token` (`typ:
//! logout+jwt`, with the ID-token key the client already trusts: `iss`, `aud` the client, `iat`,
//! `exp` two minutes on, `jti` the notice's id, the same on every attempt so that a receiver
//! can tell a repeat, `events`, `sub` and `sid`) and posts it as a form to the client's
//! `backchannel_logout_uri`. A 2xx delivers it; a 4xx is the client refusing the token, which
//! another attempt would not change, and a client gone (or no longer asking, or at a refused
//! address) has nothing to try again; anything else is tried again for about two hours.
//!
//! Where it may connect: an admin registers clients of the team's own network, so their
//! addresses are taken as they are; a client that registered itself is held to public
//! addresses (the webhook guard, resolving through it so that the connection goes where was
//! checked), unless `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE` says otherwise. Redirects are never
//! followed and no proxy of the environment is used.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use url::Host;

use super::backchannel::LogoutNotice;
use crate::accounts::AuthorizationServer;
use crate::jobs::{QueueSettings, Sender, Worker};
use crate::store::jobs::{Job, JobKind, JobStore, Outcome};
use crate::webhooks::Guard;

/// The event a logout token carries.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The delays before the second, third… attempt: about two hours in all.
const RETRY_DELAYS: [Duration; 6] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(60 * 60),
];

/// The longest one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// How one notice goes.
#[derive(Debug)]
pub struct LogoutSender {
    oauth: AuthorizationServer,
    /// For clients an admin registered.
    direct: reqwest::Client,
    /// For clients that registered themselves: through the guard.
    guarded: reqwest::Client,
    guard: Guard,
}

fn client(builder: reqwest::ClientBuilder) -> anyhow::Result<reqwest::Client> {
    Ok(builder
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .build()?)
}

impl Sender for LogoutSender {
    fn kind(&self) -> JobKind {
        JobKind::Logout
    }

    fn concurrency(&self) -> usize {
        32
    }

    async fn attempt(&self, job: Job) -> Outcome {
        let client_id = job.target.clone();
        let (status, error, gone) = match self.post(&job).await {
            Ok(status) => {
                ::metrics::counter!("gatehouse_backchannel_logouts_total", "outcome" => "delivered").increment(1);
                tracing::debug!(client_id, status, "back-channel logout delivered");
                return Outcome::Done { status: Some(status) };
            }
            Err(refused) => refused,
        };
        let permanent = gone || status.is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429);
        match retry_delay(job.attempts).filter(|_| !permanent) {
            Some(delay) => {
                ::metrics::counter!("gatehouse_backchannel_logouts_total", "outcome" => "retried").increment(1);
                tracing::warn!(
                    client_id,
                    attempts = job.attempts,
                    error,
                    "back-channel logout not delivered; will try again"
                );
                let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
                Outcome::Retry { at, status, error }
            }
            None => {
                ::metrics::counter!("gatehouse_backchannel_logouts_total", "outcome" => "failed").increment(1);
                tracing::error!(client_id, attempts = job.attempts, error, "back-channel logout given up");
                Outcome::Failed { status, error }
            }
        }
    }
}

impl LogoutSender {
    /// Posts the notice: the receiver's 2xx status, or the status, why it did not go, and
    /// whether there is nothing to try again (the notice or its client is gone).
    async fn post(&self, job: &Job) -> Result<u16, (Option<u16>, String, bool)> {
        let refused = |error: &str| (None, error.to_owned(), false);
        let gone = |error: &str| (None, error.to_owned(), true);
        let notice: LogoutNotice =
            serde_json::from_str(&job.payload).map_err(|_| gone("the stored notice could not be read"))?;
        let client = match self.oauth.find_client(&notice.client_id).await {
            Ok(Some(client)) => client,
            Ok(None) => return Err(gone("the client is gone")),
            Err(_) => return Err(refused("the client could not be read")),
        };
        let uri = client.backchannel_logout_uri.as_deref().ok_or_else(|| gone("the client no longer asks for it"))?;
        let url = url::Url::parse(uri).map_err(|_| gone("the URI no longer parses"))?;
        let http = match client.self_registered {
            true => {
                let literal = match url.host() {
                    Some(Host::Ipv4(ip)) => Some(ip.into()),
                    Some(Host::Ipv6(ip)) => Some(ip.into()),
                    _ => None,
                };
                if let Some(ip) = literal.filter(|ip| !self.guard.allows(*ip)) {
                    return Err((None, format!("{ip} is not a public address"), true));
                }
                &self.guarded
            }
            false => &self.direct,
        };
        let now = Utc::now().timestamp();
        let keys = self.oauth.keys();
        let mut claims = json!({
            "iss": keys.issuer(),
            "aud": client.id,
            "iat": now,
            "exp": now + 120,
            "jti": job.ref_id.unwrap_or(job.id),
            "events": { LOGOUT_EVENT: {} },
            "sub": notice.sub,
        });
        if let (Some(sid), Some(fields)) = (notice.sid, claims.as_object_mut()) {
            fields.insert("sid".into(), json!(sid));
        }
        let token = keys.sign_logout_token(&claims).map_err(|_| refused("the logout token could not be signed"))?;
        match http.post(url).form(&[("logout_token", token)]).send().await {
            Ok(answer) if answer.status().is_success() => Ok(answer.status().as_u16()),
            Ok(answer) => {
                let status = answer.status();
                Err((Some(status.as_u16()), format!("the client answered {status}"), false))
            }
            Err(e) if e.is_timeout() => Err(refused("no answer within 10 s")),
            Err(e) => Err((None, format!("{:#}", anyhow::Error::from(e.without_url())), false)),
        }
    }
}

/// The delay before the next attempt after `attempts` have failed; `None` when it is over.
fn retry_delay(attempts: u32) -> Option<Duration> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_DELAYS.get(index).copied()
}

/// The worker that sends logout notices.
#[derive(Clone, Debug)]
pub struct Logouts {
    worker: Worker<LogoutSender>,
}

impl Logouts {
    pub fn new(jobs: std::sync::Arc<dyn JobStore>, oauth: AuthorizationServer, guard: Guard) -> anyhow::Result<Self> {
        let sender = LogoutSender {
            oauth,
            direct: client(reqwest::Client::builder())?,
            guarded: client(reqwest::Client::builder().dns_resolver(guard.resolver()))?,
            guard,
        };
        Ok(Self { worker: Worker::new(jobs, sender, QueueSettings::default()) })
    }

    /// One pass: claims the due notices, sends them and settles them.
    pub async fn deliver_due(&self) -> anyhow::Result<crate::jobs::Pass> {
        self.worker.deliver_due().await
    }

    /// Sends until `shutdown` is cancelled, then waits for the attempts under way to settle.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!("back-channel logout worker started");
        self.worker.run(shutdown).await;
        tracing::info!("back-channel logout worker stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_span_about_two_hours_then_stop() {
        let total: Duration = (1..).map_while(retry_delay).sum();
        assert!(total >= Duration::from_secs(100 * 60) && total <= Duration::from_secs(130 * 60), "{total:?}");
        assert_eq!(retry_delay(7), None);
    }
}
