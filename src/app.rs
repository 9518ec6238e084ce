//! Wiring: opens the database, loads the signing keys, starts the hashing pool and the outbox
//! worker, ensures the bootstrap admin, binds the listener and serves until told to stop —
//! answering 503 and retrying in the background while the database is not reachable yet.
//! Tests start exactly this, on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::accounts::FieldError;
use crate::clock::Clock;
use crate::config::{AdminSeed, Config, ConfigError};
use crate::http::{self, AppState, Edge};
use crate::mail::outbox::OutboxSettings;
use crate::model::account::{Email, NewPassword};
use crate::store::sqlite::file::{self as sqlite_file, ServerLock};

mod database;
mod housekeeping;
#[cfg(feature = "lambda")]
pub mod lambda;
mod rounds;
mod services;
pub use self::database::{Copied, CopyRefused, copy_to, migrate, sqlite_path};
use self::housekeeping::housekeeping;
pub use self::housekeeping::{Swept, sweep};
pub use self::rounds::{Round, round};
pub use self::services::Services;

/// How long shutdown waits for the outbox worker to settle the email it is sending.
const WORKER_GRACE: Duration = Duration::from_secs(30);

/// The first pause between attempts to reach the database at start-up; it doubles up to the next.
const STARTUP_RETRY_FIRST: Duration = Duration::from_secs(1);
const STARTUP_RETRY_MAX: Duration = Duration::from_secs(30);

/// A bound, ready-to-run server.
///
/// The database may be unreachable when the server starts. Then `build` still succeeds and
/// `run_until` serves at once, from the same listener, a small "starting" router (`/healthz`
/// 200, `/readyz` and everything else 503) while a background task keeps trying to open the
/// services. When it succeeds it builds the real router and publishes it in a `OnceLock` that
/// every request consults first; from then on the server is the one it would have been.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    /// The lock on the SQLite file, held while the server runs (none for other databases).
    _lock: Option<ServerLock>,
    /// `None` while the database has not been reached yet.
    services: Option<Services>,
    opener: Opener,
}

impl Application {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_with(config, OutboxSettings { lease: config.outbox_lease, ..OutboxSettings::default() }).await
    }

    /// Like [`Application::build`], with the outbox worker's timings chosen by the caller.
    ///
    /// Binds the listener and makes one attempt to open the services. A configuration error
    /// (a bootstrap admin the rules refuse…) fails the build; an unreachable database does not:
    /// the server starts without it and keeps trying (see [`Application`]).
    pub async fn build_with(config: &Config, outbox_settings: OutboxSettings) -> anyhow::Result<Self> {
        Self::build_on(config, outbox_settings, Clock::system()).await
    }

    /// Like [`Application::build_with`], the rules going by `clock`: the API tests move it on
    /// to pass a lockout or a window without waiting.
    pub async fn build_on(config: &Config, outbox_settings: OutboxSettings, clock: Clock) -> anyhow::Result<Self> {
        // A local file the server cannot write, or that another server holds, is a mistake in
        // the configuration: it stops the start with its cause instead of answering 503 for ever.
        let lock = match sqlite_file::path_of(&config.database_url) {
            Some(path) => {
                let refused = |problem| ConfigError { problems: vec![problem] };
                sqlite_file::check_writable(&path).map_err(refused)?;
                Some(ServerLock::take(&path).map_err(refused)?)
            }
            None => None,
        };
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {} (GATEHOUSE_BIND); is another process using it?", config.bind))?;
        let address = listener.local_addr()?;
        let mut public_url = config.public_url.clone();
        if public_url.port() == Some(0) {
            // Bound to port 0 without an explicit public URL: links point at the real port.
            let _ = public_url.set_port(Some(address.port()));
        }
        let opener = Opener { config: config.clone(), public_url, outbox_settings, clock };
        let services = match opener.open().await {
            Ok(services) => Some(services),
            Err(error) if error.is::<ConfigError>() => return Err(error),
            Err(error) => {
                // What the database would have refused must not wait for it to come back.
                check_admin_seed(config)?;
                tracing::warn!(
                    error = %format!("{error:#}"),
                    "the database is not reachable yet; serving 503 until it is, and trying again"
                );
                None
            }
        };
        Ok(Self { listener, address, _lock: lock, services, opener })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then finishes in-flight requests and stops the worker.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, address, _lock, services, opener } = self;
        let router: Arc<OnceLock<Router>> = Arc::default();
        // Start-up met a configuration error: stop serving and report it.
        let fatal = CancellationToken::new();
        let give_up = CancellationToken::new();
        // Already open: the router is in place before the first connection is accepted.
        let running = services.map(|services| Running::start(services, &opener, &router));
        let startup = tokio::spawn({
            let (opener, router, fatal, give_up) = (opener.clone(), router.clone(), fatal.clone(), give_up.clone());
            async move {
                if running.is_some() {
                    return Ok(running);
                }
                match opener.open_eventually(give_up).await {
                    Ok(Some(services)) => Ok(Some(Running::start(services, &opener, &router))),
                    Ok(None) => Ok(None),
                    Err(error) => {
                        fatal.cancel();
                        Err(error)
                    }
                }
            }
        });
        tracing::info!(%address, "gatehouse is listening");
        let stop = async move {
            tokio::select! {
                () = stop => {}
                () = fatal.cancelled() => {}
            }
        };
        http::serve::serve(listener, router, opener.config.header_timeout, stop).await;
        tracing::info!("no longer accepting requests; stopping background work");
        give_up.cancel();
        match startup.await {
            Ok(Ok(Some(running))) => running.stop().await,
            Ok(Ok(None)) => {}
            Ok(Err(error)) => return Err(error),
            Err(error) => return Err(anyhow::Error::new(error).context("starting the services")),
        }
        Ok(())
    }
}

/// What it takes to open the services, kept so that start-up can try again later.
#[derive(Clone, Debug)]
struct Opener {
    config: Config,
    public_url: url::Url,
    outbox_settings: OutboxSettings,
    clock: Clock,
}

impl Opener {
    /// Opens the services and ensures the bootstrap admin.
    async fn open(&self) -> anyhow::Result<Services> {
        let services = Services::open(
            &self.config,
            self.public_url.clone(),
            self.outbox_settings.clone(),
            true,
            self.clock.clone(),
        )
        .await?;
        if let Some(admin) = &self.config.admin
            && let Err(error) = ensure_admin(&services, admin).await
        {
            services.close().await;
            return Err(error);
        }
        self.greet(&services).await;
        Ok(services)
    }

    /// Says where the API reference and the admin console are, and warns when no one could
    /// use the console: no active admin exists.
    async fn greet(&self, services: &Services) {
        let site = self.public_url.as_str().trim_end_matches('/');
        tracing::info!(docs = %format!("{site}/docs"), console = %format!("{site}/admin"), "API reference and admin console");
        let admins = crate::store::admin::AccountQuery {
            role: Some(crate::model::account::Role::Admin),
            status: Some(crate::model::account::Status::Active),
            ..Default::default()
        };
        if let Ok(0) = services.backend.store.count_accounts(&admins).await {
            tracing::warn!(
                "there is no active admin account: create one with `gatehouse user create --email you@example.com \
                 --admin`, or set GATEHOUSE_ADMIN_EMAIL and GATEHOUSE_ADMIN_PASSWORD"
            );
        }
    }

    /// Tries again, pausing longer after each failure, until the services open (`None` if
    /// `stop` comes first). Only a configuration error ends the attempts.
    async fn open_eventually(&self, stop: CancellationToken) -> anyhow::Result<Option<Services>> {
        let mut pause = STARTUP_RETRY_FIRST;
        let mut attempt = 1;
        loop {
            tokio::select! {
                () = stop.cancelled() => return Ok(None),
                () = tokio::time::sleep(pause) => {}
            }
            attempt += 1;
            let opened = tokio::select! {
                () = stop.cancelled() => return Ok(None),
                opened = self.open() => opened,
            };
            match opened {
                Ok(services) => {
                    tracing::info!(attempt, "the database is reachable now; gatehouse is ready");
                    return Ok(Some(services));
                }
                Err(error) if error.is::<ConfigError>() => return Err(error),
                Err(error) => {
                    pause = (pause * 2).min(STARTUP_RETRY_MAX);
                    tracing::warn!(
                        attempt, retry_in = %humantime::format_duration(pause), error = %format!("{error:#}"),
                        "the database is still not reachable; serving 503 until it is"
                    );
                }
            }
        }
    }
}

/// Makes sure the admin named by `GATEHOUSE_ADMIN_EMAIL` exists, is active and has the
/// configured password. Values the rules refuse are a configuration error.
async fn ensure_admin(services: &Services, admin: &AdminSeed) -> anyhow::Result<()> {
    match services.capabilities.accounts.ensure_admin(&admin.email, admin.password.clone()).await {
        Ok(_) => Ok(()),
        Err(crate::accounts::Error::Validation(errors)) => Err(admin_problems(errors).into()),
        Err(other) => Err(anyhow::Error::new(other).context("ensuring the admin from GATEHOUSE_ADMIN_EMAIL")),
    }
}

/// The checks of [`ensure_admin`] that need no database, for a start without one: a bad
/// bootstrap admin stops start-up at once rather than whenever the database appears.
fn check_admin_seed(config: &Config) -> Result<(), ConfigError> {
    let Some(admin) = &config.admin else { return Ok(()) };
    let mut errors = Vec::new();
    let _ = Email::parse(&admin.email).map_err(|e| errors.push(e));
    let _ = NewPassword::parse(&admin.password, "password", &[admin.email.trim(), ""]).map_err(|e| errors.push(e));
    if errors.is_empty() { Ok(()) } else { Err(admin_problems(errors)) }
}

fn admin_problems(errors: Vec<FieldError>) -> ConfigError {
    let problems = errors
        .iter()
        .map(|e| match e.field {
            "email" => format!("GATEHOUSE_ADMIN_EMAIL is not valid: {}", e.message),
            _ => format!("GATEHOUSE_ADMIN_PASSWORD is not valid: {}", e.message),
        })
        .collect();
    ConfigError { problems }
}

/// The HTTP API and pages over `services`, as `config` and the public URL shape the edge.
fn router_of(services: &Services, config: &Config, public_url: &url::Url) -> Router {
    let edge = Edge {
        proxies: http::client_ip::Proxies {
            trusted: config.security.trusted_proxies.clone(),
            header: config.security.forwarded_header,
        },
        cors_origins: config.security.cors_origins.clone(),
        https: public_url.scheme() == "https",
        origin: public_url.origin().ascii_serialization(),
        forward_rules: config.security.forward_rules.clone(),
        remote_user: config.security.forward_remote_user,
        cookie_domain: config.security.cookie_domain.clone(),
    };
    let state = AppState::new(services.capabilities.clone(), services.outbox.clone(), edge);
    http::router(state, config.request_timeout)
}

/// The services at work: their router published, their background tasks running.
struct Running {
    services: Services,
    background: CancellationToken,
    worker: tokio::task::JoinHandle<()>,
    deliverer: tokio::task::JoinHandle<()>,
    logouts: tokio::task::JoinHandle<()>,
    sweeper: tokio::task::JoinHandle<()>,
    reloader: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Starts the outbox worker, housekeeping and key reloading, and publishes the router.
    fn start(services: Services, opener: &Opener, router: &OnceLock<Router>) -> Self {
        let config = &opener.config;
        let background = CancellationToken::new();
        let worker = tokio::spawn(services.outbox.clone().run(background.child_token()));
        let deliverer = tokio::spawn(services.webhooks.clone().run(background.child_token()));
        let logouts = tokio::spawn(services.logouts.clone().run(background.child_token()));
        let sweeper = tokio::spawn(housekeeping(
            services.backend.store.clone(),
            services.capabilities.authentication.audit().clone(),
            config.security.audit_retention,
            background.child_token(),
        ));
        let reloader = tokio::spawn(
            crate::accounts::Core::clone(&services.capabilities.accounts).reload_keys_until(background.child_token()),
        );
        crate::memory::start_trimming();
        let _ = router.set(router_of(&services, config, &opener.public_url));
        Self { services, background, worker, deliverer, logouts, sweeper, reloader }
    }

    /// Lets the worker settle the email it is sending, stops the rest, flushes the audit log.
    async fn stop(self) {
        self.background.cancel();
        if tokio::time::timeout(WORKER_GRACE, self.worker).await.is_err() {
            tracing::warn!("the outbox worker did not stop in time; its claim will expire and be retried");
        }
        if tokio::time::timeout(WORKER_GRACE, self.deliverer).await.is_err() {
            tracing::warn!("the webhook worker did not stop in time; its claims will expire and be retried");
        }
        if tokio::time::timeout(WORKER_GRACE, self.logouts).await.is_err() {
            tracing::warn!(
                "the back-channel logout worker did not stop in time; its claims will expire and be retried"
            );
        }
        self.sweeper.abort();
        self.reloader.abort();
        self.services.close().await;
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C received; shutting down"),
        _ = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}
