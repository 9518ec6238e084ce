//! The services: the database (with its session and rate-limit stores), the account rules,
//! the outbox and webhook workers, the keys, the hashing pool and the audit writer, opened
//! together; what the server and the operator commands share.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::accounts::oauth::logout_delivery::Logouts;
use crate::accounts::{Capabilities, Parts, Settings, Throttle, keys};
use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::http;
use crate::limits::LimitStore;
use crate::limits::redis::RedisLimits;
use crate::mail::outbox::{Outbox, OutboxSettings};
use crate::passwords::PasswordHasher;
use crate::sessions::SessionStore;
use crate::sessions::redis::RedisSessions;
use crate::store::{self, Backend, DbOptions};
use crate::webhooks::{Deliverer, DeliverySettings, Guard};

/// Everything but the listener: what the server and the operator commands share.
#[derive(Clone, Debug)]
pub struct Services {
    pub backend: Backend,
    /// The account rules, by capability.
    pub capabilities: Capabilities,
    pub outbox: Outbox,
    pub webhooks: Deliverer,
    /// The back-channel logout worker.
    pub logouts: Logouts,
    /// The audit writer runs from `open` until [`Services::close`].
    audit_stop: CancellationToken,
    audit_writer: Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Services {
    /// Connects to the database (migrating it), loads or creates the signing key, and builds
    /// the account service. `public_url` is the base of emailed links and the token issuer.
    /// A process `serving` requests keeps a memory of sessions when they live in Redis. The
    /// rules go by `clock` (the system's, but for tests).
    pub async fn open(
        config: &Config,
        public_url: url::Url,
        outbox_settings: OutboxSettings,
        serving: bool,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let options = DbOptions { max_connections: config.database_max_connections, timeout: config.database_timeout };
        let (store, database_sessions) = store::connect(&config.database_url, &options).await?.into_parts();
        let sessions: Arc<dyn SessionStore> = match &config.redis_url {
            Some(url) => {
                let sessions = RedisSessions::connect(url, &config.redis_prefix, config.database_timeout).await?;
                let memory = if serving { config.redis_session_memory << 20 } else { 0 };
                Arc::new(sessions.with_memory(memory))
            }
            None => database_sessions,
        };
        crate::metrics::handle();
        let backend = Backend { store, sessions };
        let outbox_settings = OutboxSettings {
            connections: config.smtp_connections,
            domain_rate: config.smtp_domain_rate,
            ..outbox_settings
        };
        let transport = crate::mail::smtp::transport(config.smtp_url.as_ref(), &config.mail_from)?;
        let outbox = Outbox::new(backend.store.clone(), transport, outbox_settings);
        let hasher = PasswordHasher::start(config.hash_threads, config.hash_queue, config.hash_max_wait);
        let security = &config.security;
        let issuer = public_url.as_str().trim_end_matches('/').to_owned();
        let token_audience = config.token_audience.clone().unwrap_or(issuer); // the issuer unless configured
        let login = login_page(&public_url);
        let settings = Settings {
            public_url,
            access_token_ttl: config.access_token_ttl,
            token_audience,
            token_algorithm: config.token_algorithm,
            id_token_algorithm: config.id_token_algorithm,
            session_ttl: config.session_ttl,
            activation_ttl: config.activation_ttl,
            reset_ttl: config.reset_ttl,
            refresh_grace: security.refresh_grace,
            webhooks_allow_private: security.webhook_allow_private,
        };
        let policy = config.policy.clone().with_login_page(login);
        http::routes::forward::warn_of_role_groups(&security.forward_rules);
        let keys = keys::load_or_create(backend.store.as_ref(), &settings.issuing()).await?;
        let webauthn = relying_party(&settings.public_url, security)?;
        let providers = crate::federation::Providers::new(&config.providers, &settings.public_url)?;
        if providers.list().next().is_some() {
            let names: Vec<&str> = providers.list().map(|(name, _)| name).collect();
            tracing::info!(providers = %names.join(", "), "social login providers configured");
        }
        let sealer = Arc::new(keys::load_sealer(backend.store.as_ref(), security.encryption_key.as_ref()).await?);
        let guard = Guard::new(security.webhook_allow_private);
        let webhooks = Deliverer::new(
            backend.store.clone(),
            backend.store.clone(),
            sealer.clone(),
            guard,
            DeliverySettings::default(),
        )?;
        // Rate limits live beside the sessions: in Redis when configured, else the database.
        let limits: Arc<dyn LimitStore> = match &config.redis_url {
            Some(url) => Arc::new(RedisLimits::connect(url, &config.redis_prefix, config.database_timeout).await?),
            None => backend.store.clone(),
        };
        let keys = Arc::new(keys);
        let throttle =
            Throttle::new(limits, security.rate_limits.clone(), keys.derive_secret("device-tokens"), clock.clone());
        // One server holds a SQLite file alone: its one-time values (DPoP proofs, pushed
        // requests) need no shared write each.
        let throttle = match (&config.redis_url, config.database_url.scheme()) {
            (None, "sqlite") => throttle.with_once_in_memory(),
            _ => throttle,
        };
        let (audit, writer) = AuditLog::start(backend.store.clone());
        let audit_stop = CancellationToken::new();
        let audit_writer = tokio::spawn(writer.run(audit_stop.clone()));
        let capabilities = Capabilities::new(Parts {
            store: backend.store.clone(),
            sessions: backend.sessions.clone(),
            hasher,
            keys,
            outbox: outbox.clone(),
            settings,
            policy,
            throttle,
            audit,
            sealer,
            webauthn,
            providers,
            dns: crate::dns::Dns::new(&config.dns_resolver),
            clock,
        });
        let logouts = Logouts::new(backend.store.clone(), capabilities.oauth.clone(), guard)?;
        Ok(Self {
            logouts,
            backend,
            capabilities,
            outbox,
            webhooks,
            audit_stop,
            audit_writer: Arc::new(tokio::sync::Mutex::new(Some(audit_writer))),
        })
    }

    /// Writes the audit events still queued and stops the writer.
    pub async fn close(&self) {
        self.audit_stop.cancel();
        if let Some(writer) = self.audit_writer.lock().await.take() {
            let _ = writer.await;
        }
    }
}

/// gatehouse's hosted login page under the public URL (which may have a path prefix).
fn login_page(public_url: &url::Url) -> url::Url {
    let mut page = public_url.clone();
    page.set_path(&format!("{}/login", public_url.path().trim_end_matches('/')));
    page.set_query(None);
    page
}

/// The WebAuthn relying party from the public URL and the WebAuthn settings; an origin that
/// does not belong to it stops the start.
fn relying_party(
    public_url: &url::Url,
    security: &crate::config::Security,
) -> anyhow::Result<Option<Arc<webauthn_rs::Webauthn>>> {
    let party = crate::accounts::passkeys::relying_party(
        public_url,
        security.webauthn_rp_id.as_deref(),
        &security.webauthn_origins,
    )
    .map_err(|why| ConfigError { problems: vec![format!("{why:#}")] })?;
    if party.is_none() {
        tracing::info!(
            "passkeys are off: the public URL's host is not a domain name (set GATEHOUSE_WEBAUTHN_RP_ID to turn them on)"
        );
    }
    Ok(party.map(Arc::new))
}
