//! Serving as an AWS Lambda function (the `lambda` feature): the same binary, deployed as the
//! function's `bootstrap`, is one of two functions chosen by the function's handler name, which
//! the Lambda runtime passes in `_HANDLER`:
//!
//! - `http` (the default): the HTTP API and pages, the same router as `gatehouse serve`, for
//!   function URLs, API Gateway (HTTP and REST APIs) and an Application Load Balancer. No worker
//!   runs beside it: a function is frozen between requests.
//! - `work`: one round of the background work per invocation (`gatehouse work --once`), for a
//!   schedule (EventBridge) or a stream of the job queue's changes; a scheduled invocation also
//!   sweeps what expired.
//!
//! Each instance opens the services once, at its cold start, and keeps them for the invocations
//! it serves. The per-instance session memory is off: instances come and go, and a logout must
//! hold on every one at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{Services, ensure_admin, round, router_of};
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::mail::outbox::OutboxSettings;

/// Time kept back from an invocation's deadline for closing the round and answering.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Which function this instance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    Http,
    Work,
}

impl Handler {
    /// From the function's handler name (`_HANDLER`): `http` or `work`; unset, or the
    /// customary `bootstrap`, is `http`.
    pub fn named(name: Option<&str>) -> Result<Self, ConfigError> {
        match name.map(str::trim) {
            None | Some("" | "http" | "bootstrap") => Ok(Self::Http),
            Some("work") => Ok(Self::Work),
            Some(other) => Err(ConfigError {
                problems: vec![format!(
                    "the Lambda function's handler is {other:?}: name it http (the API) or work (the background work)"
                )],
            }),
        }
    }
}

/// Whether the Lambda runtime started this process (it sets `AWS_LAMBDA_RUNTIME_API`).
pub fn started_by_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Serves invocations until the runtime stops the instance. A database no other instance can
/// reach (a SQLite file) or an unknown handler stops the start with its cause.
pub async fn run(config: Config) -> anyhow::Result<()> {
    if !started_by_lambda() {
        return Err(ConfigError {
            problems: vec![
                "`gatehouse lambda` serves the Lambda runtime, which sets AWS_LAMBDA_RUNTIME_API; it is not set here \
                 (a server runs `gatehouse serve`)"
                    .into(),
            ],
        }
        .into());
    }
    let handler = Handler::named(std::env::var("_HANDLER").ok().as_deref())?;
    if super::sqlite_path(&config.database_url).is_some() {
        return Err(ConfigError {
            problems: vec![
                "a Lambda function needs a database all its instances share: set GATEHOUSE_DATABASE_URL to \
                 PostgreSQL or MariaDB/MySQL (a SQLite file would be one per instance, and lost with it)"
                    .into(),
            ],
        }
        .into());
    }
    let outbox = OutboxSettings { lease: config.outbox_lease, ..OutboxSettings::default() };
    let services = Services::open(&config, config.public_url.clone(), outbox, false, Clock::system()).await?;
    tracing::info!(handler = ?handler, "serving as an AWS Lambda function");
    let served = match handler {
        Handler::Http => {
            if let Some(admin) = &config.admin {
                ensure_admin(&services, admin).await?;
            }
            let router = router_of(&services, &config, &config.public_url);
            lambda_http::run(router.map_request(with_peer)).await
        }
        Handler::Work => {
            let services = Arc::new(services);
            let retention = config.security.audit_retention;
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                let services = services.clone();
                async move { work(&services, retention, event).await }
            }))
            .await
        }
    };
    served.map_err(|error| anyhow::anyhow!("the Lambda runtime stopped: {error}"))
}

/// What started a work invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    /// EventBridge's schedule: deliver, then sweep.
    Schedule,
    /// A batch of the job queue's changes: deliver.
    Stream,
    /// Anything else (an operator's invocation): deliver.
    Direct,
}

impl Trigger {
    fn of(event: &Value) -> Self {
        if event["source"] == "aws.events" || event["detail-type"] == "Scheduled Event" {
            return Self::Schedule;
        }
        let records = event["Records"].as_array();
        if records.is_some_and(|records| records.iter().any(|r| r["eventSource"] == "aws:dynamodb")) {
            return Self::Stream;
        }
        Self::Direct
    }
}

/// One round of the background work, within the invocation's time; what it did, as JSON.
async fn work(
    services: &Services,
    retention: Duration,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let trigger = Trigger::of(&event.payload);
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
    let left = Duration::from_millis(event.context.deadline.saturating_sub(now_ms)).saturating_sub(DEADLINE_MARGIN);
    let sweep = (trigger == Trigger::Schedule).then_some(retention);
    let (done, result) = round(services, left, sweep).await;
    tracing::info!(
        trigger = ?trigger,
        emails = done.emails.done,
        webhook_deliveries = done.webhook_deliveries.done,
        logout_notices = done.logout_notices.done,
        seconds = done.seconds,
        "work round done"
    );
    if let Err(error) = result {
        // The invocation fails, as Lambda's logs and metrics should show; what it left is taken
        // by the next round (the schedule's within a minute: the stream's mapping does not retry).
        tracing::error!(error = %format!("{error:#}"), "the work round failed");
        return Err(format!("{error:#}").into());
    }
    let mut answer = serde_json::to_value(&done)?;
    if trigger == Trigger::Stream {
        // Every record is handled by delivering what is due, not one by one: none failed.
        answer["batchItemFailures"] = json!([]);
    }
    Ok(answer)
}

/// Gives the request the client's address as its peer, as a connection would: the address the
/// function URL or API Gateway saw (which the client cannot choose); behind an Application Load
/// Balancer, the last `X-Forwarded-For` entry, the one the balancer appended. Unknown: 0.0.0.0.
fn with_peer(mut request: Request) -> Request {
    let ip = source_ip(&request).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    request.extensions_mut().insert(ConnectInfo(SocketAddr::new(ip, 0)));
    request
}

fn source_ip(request: &Request) -> Option<IpAddr> {
    let named = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.clone(),
        RequestContext::Alb(_) => {
            let forwarded = request.headers().get_all("x-forwarded-for").iter().next_back()?;
            forwarded.to_str().ok()?.rsplit(',').next().map(|last| last.trim().to_owned())
        }
        _ => None,
    }?;
    named.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_name_picks_the_function() {
        assert_eq!(Handler::named(None).unwrap(), Handler::Http);
        assert_eq!(Handler::named(Some("bootstrap")).unwrap(), Handler::Http);
        assert_eq!(Handler::named(Some("work")).unwrap(), Handler::Work);
        let refused = Handler::named(Some("worker")).unwrap_err();
        assert!(refused.problems[0].contains("\"worker\""), "{refused}");
    }

    #[test]
    fn a_work_invocation_knows_what_started_it() {
        let scheduled = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(Trigger::of(&scheduled), Trigger::Schedule);
        let stream = json!({"Records": [{"eventSource": "aws:dynamodb", "eventName": "INSERT"}]});
        assert_eq!(Trigger::of(&stream), Trigger::Stream);
        assert_eq!(Trigger::of(&json!({})), Trigger::Direct);
    }

    /// The events as the function URL and the load balancer deliver them, through lambda_http's
    /// own parsing: the peer is what AWS saw, never a header the client sent (but the one the
    /// balancer appends).
    #[test]
    fn the_peer_is_the_address_aws_saw() {
        let url_event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/user", "rawQueryString": "",
            "headers": {"x-forwarded-for": "203.0.113.66", "host": "abc.lambda-url.eu-west-3.on.aws"},
            "requestContext": {"http": {"method": "GET", "path": "/user", "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7", "userAgent": "curl"}, "requestId": "r", "routeKey": "$default",
                "stage": "$default", "time": "27/Nov/2026:16:13:22 +0000", "timeEpoch": 1795796002,
                "domainName": "abc.lambda-url.eu-west-3.on.aws", "accountId": "anonymous", "apiId": "abc"},
            "isBase64Encoded": false
        });
        let alb_event = json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-3:1:targetgroup/g/1"}},
            "httpMethod": "GET", "path": "/user", "queryStringParameters": {},
            "headers": {"x-forwarded-for": "203.0.113.66, 198.51.100.9", "host": "auth.example.com"},
            "body": "", "isBase64Encoded": false
        });
        for (event, expected) in [(url_event, "198.51.100.7"), (alb_event, "198.51.100.9")] {
            let request = lambda_http::request::from_str(&event.to_string()).expect("lambda_http reads the event");
            let request = with_peer(request);
            let ConnectInfo(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>().unwrap();
            assert_eq!(peer.ip().to_string(), expected);
        }
    }
}
