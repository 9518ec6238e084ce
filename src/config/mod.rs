//! Configuration: every `GATEHOUSE_*` setting, read from `gatehouse.toml`, then `.env`, then the
//! environment (the later source wins), parsed once at start-up into a [`Config`]. Each setting
//! is declared once, in [`settings`]; the value parsers are in `parse.rs`, the sources in
//! `sources.rs`, and the reading of each declared setting (value or default, problems, what
//! `config check` shows) in `read.rs`.
//!
//! A bad value stops start-up with a message that names the variable and says how to fix it;
//! every bad value is reported at once. Unknown `GATEHOUSE_*` names are reported as warnings
//! (usually a typo).

pub mod forward;
mod limits;
mod parse;
mod provider_names;
pub mod providers;
mod read;
mod resources;
pub mod settings;
mod sources;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

pub use self::limits::RateLimits;
use self::parse::default_public_url;
pub use self::parse::{
    ClientRegistration, ForwardedHeader, LogFormat, MfaPolicy, RemoteUser, encryption_key_bytes, parse_budget,
    parse_duration,
};
pub use self::providers::{GitHubEndpoints, ProviderConfig, ProviderKind};
pub use self::read::Effective;
use self::read::Parser;
use self::sources::{Source, gather, read_files};
use crate::accounts::redirect::RedirectPolicy;
use crate::limits::Budget;
use crate::secret_url::SecretUrl;
use crate::tokens::keys::KeyAlgorithm;

/// The parsed configuration of one gatehouse process.
#[derive(Clone, Debug)]
pub struct Config {
    pub bind: SocketAddr,
    pub public_url: Url,
    pub database_url: SecretUrl,
    pub database_max_connections: u32,
    pub database_timeout: Duration,
    pub redis_url: Option<SecretUrl>,
    pub redis_prefix: String,
    /// MiB of the serving replica's memory of sessions (0: none).
    pub redis_session_memory: usize,
    pub smtp_url: Option<SecretUrl>,
    pub mail_from: String,
    pub outbox_lease: Duration,
    /// Emails sent at once, over as many pooled connections.
    pub smtp_connections: u32,
    /// The most emails one recipient domain is sent per period, if limited.
    pub smtp_domain_rate: Option<crate::limits::Budget>,
    /// The DNS servers asked to verify domains; none: the system's.
    pub dns_resolver: Vec<SocketAddr>,
    pub admin: Option<AdminSeed>,
    pub access_token_ttl: Duration,
    pub token_algorithm: KeyAlgorithm,
    /// How the ID tokens of client apps are signed.
    pub id_token_algorithm: KeyAlgorithm,
    /// `None`: the public URL, as the issuer.
    pub token_audience: Option<String>,
    pub session_ttl: Duration,
    pub activation_ttl: Duration,
    pub reset_ttl: Duration,
    pub request_timeout: Duration,
    /// How long a client may take to send a request line and headers (slow-loris defence).
    pub header_timeout: Duration,
    pub hash_threads: usize,
    pub hash_queue: usize,
    pub hash_max_wait: Duration,
    pub log: String,
    pub log_format: LogFormat,
    pub security: Security,
    pub policy: Policy,
    /// `GATEHOUSE_DEV`: a development machine (never production: only with a loopback public URL).
    pub dev: bool,
    /// Social login providers (`GATEHOUSE_OIDC_<NAME>_*`), by name.
    pub providers: Vec<ProviderConfig>,
}

/// The brute-force, enumeration and browser defences.
#[derive(Clone, Debug)]
pub struct Security {
    /// `None` when `GATEHOUSE_RATE_LIMIT=off`.
    pub rate_limits: Option<RateLimits>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `GATEHOUSE_FORWARDED_HEADER`.
    pub forwarded_header: ForwardedHeader,
    /// `GATEHOUSE_FORWARD_RULES`.
    pub forward_rules: forward::ForwardRules,
    /// `GATEHOUSE_FORWARD_REMOTE_USER`.
    pub forward_remote_user: RemoteUser,
    /// `GATEHOUSE_COOKIE_DOMAIN`.
    pub cookie_domain: Option<String>,
    pub cors_origins: Vec<String>,
    /// `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE`: webhooks may go to private addresses.
    pub webhook_allow_private: bool,
    /// Zero when off.
    pub refresh_grace: Duration,
    pub audit_retention: Duration,
    /// `GATEHOUSE_WEBAUTHN_RP_ID`; `None`: the public URL's host when it is a domain name.
    pub webauthn_rp_id: Option<String>,
    /// `GATEHOUSE_WEBAUTHN_ORIGINS`: origins besides the public URL's.
    pub webauthn_origins: Vec<String>,
    /// `GATEHOUSE_ENCRYPTION_KEY`; `None`: the key generated and kept in the database.
    pub encryption_key: Option<SecretString>,
}

/// The policy the operator sets for the people who use gatehouse: who may sign up and how, the
/// ways in, the second factor, the step-up window, where browsers may be sent, and the texts and
/// brand of every page and email. It is kept apart from the process's settings (links, token
/// lifetimes, algorithms) and is the one type of it: the account rules hold it whole as
/// `accounts::Policy`, read through `Core::policy`, so that an organization may later have
/// its own. A new policy setting is a field here and a line in [`policy`].
#[derive(Clone, Debug)]
pub struct Policy {
    /// Anyone may sign up (`GATEHOUSE_SIGNUP=open`); when closed, only admins create accounts.
    pub signup_open: bool,
    pub signup_conceal_existing: bool,
    /// Login by an emailed link or code (`GATEHOUSE_PASSWORDLESS`).
    pub passwordless: bool,
    /// Which accounts must have a second factor.
    pub mfa_required: MfaPolicy,
    /// How recent a session's authentication must be for a step-up.
    pub reauth_window: Duration,
    /// `GATEHOUSE_APP_URL`: the pages of emailed links point back to it.
    pub app_url: Option<Url>,
    /// `GATEHOUSE_REDIRECT_ALLOW`: the prefixes a `redirect_to` must start with (and, once the
    /// service is assembled, gatehouse's own login page).
    pub redirects: RedirectPolicy,
    /// Any active account may create an organization (`GATEHOUSE_ORG_CREATION=anyone`).
    pub org_creation_open: bool,
    /// An organization's most members, how long its invitations last and how many it may send
    /// (`GATEHOUSE_ORG_MEMBER_LIMIT`, `GATEHOUSE_INVITATION_TTL`, `GATEHOUSE_INVITATION_BUDGET`).
    pub org_member_limit: u64,
    pub invitation_ttl: Duration,
    pub invitation_budget: Budget,
    /// `GATEHOUSE_IMPERSONATION_NOTICE`: the owner hears of an admin acting as them.
    pub impersonation_notice: bool,
    /// `GATEHOUSE_CLIENT_REGISTRATION`: who may register a client app.
    pub client_registration: ClientRegistration,
    /// `GATEHOUSE_REQUIRE_PAR`: authorization requests must be pushed first (RFC 9126).
    pub pushed_requests_required: bool,
    /// `GATEHOUSE_DPOP_NONCE`: DPoP proofs at the token endpoint carry a server nonce.
    pub dpop_nonce: bool,
    /// `GATEHOUSE_RESOURCES` (or its former name `GATEHOUSE_OAUTH_RESOURCES`): the protected
    /// resources, which a client may name as `resource`.
    pub resources: Vec<crate::model::resource::Resource>,
    /// Every text in every language, with the brand and the operator's templates: read and
    /// checked with the rest of the configuration.
    pub texts: std::sync::Arc<crate::i18n::Catalog>,
}

/// The admin account ensured at start-up.
#[derive(Clone, Debug)]
pub struct AdminSeed {
    pub email: String,
    pub password: SecretString,
}

/// Everything wrong with a configuration, each problem with its advice.
#[derive(Debug)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.problems.len())?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A configuration together with the warnings found while reading it.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
    /// Every setting as `config check` shows it, in declaration order.
    pub effective: Vec<Effective>,
}

impl Config {
    /// Reads `gatehouse.toml` (if present), `.env` (if present) and the process environment,
    /// in that order of increasing precedence.
    pub fn load() -> Result<Loaded, ConfigError> {
        let mut vars = read_files().map_err(|problems| ConfigError { problems })?;
        vars.extend(std::env::vars().map(|(k, v)| (k, v, Source::Env)));
        Self::parse(vars)
    }

    /// Parses a configuration from name → value pairs, as if from the environment. Names that
    /// are not gatehouse's are ignored, except unknown `GATEHOUSE_*` names, which become
    /// warnings.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Loaded, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self::parse(vars.into_iter().map(|(k, v)| (k.into(), v.into(), Source::Env)))
    }

    fn parse(vars: impl IntoIterator<Item = (String, String, Source)>) -> Result<Loaded, ConfigError> {
        use self::settings::*;
        let gathered = gather(vars);
        let mut p = Parser::new(&gathered.values);

        let bind = p.get(&BIND);
        // When the bind address is bad, that is the problem to report, not the derived URL.
        let public_url = match bind {
            Some(bind) => {
                let derived = default_public_url(p.written(&BIND), bind);
                p.get_or(&PUBLIC_URL, &derived)
            }
            None => p.get(&PUBLIC_URL),
        };
        let database_url = p.get(&DATABASE_URL);
        let database_max_connections = p.get(&DATABASE_MAX_CONNECTIONS);
        let database_timeout = p.get(&DATABASE_TIMEOUT);
        let redis_prefix = p.get(&REDIS_PREFIX);
        let redis_url = p.optional(&REDIS_URL);
        let redis_session_memory = p.get(&REDIS_SESSION_MEMORY);
        let smtp_url = p.optional(&SMTP_URL);
        let mail_from = p.get(&MAIL_FROM);
        let outbox_lease = p.get(&OUTBOX_LEASE);
        let smtp_connections = p.get(&SMTP_CONNECTIONS);
        let smtp_domain_rate = p.optional(&SMTP_DOMAIN_RATE);
        let dns_resolver = p.optional(&DNS_RESOLVER);
        let admin = admin_seed(&mut p);
        let access_token_ttl = p.get(&ACCESS_TOKEN_TTL);
        let token_algorithm = p.get(&TOKEN_ALGORITHM);
        let id_token_algorithm = p.get(&ID_TOKEN_ALGORITHM);
        let token_audience = p.optional(&TOKEN_AUDIENCE);
        let session_ttl = p.get(&SESSION_TTL);
        let activation_ttl = p.get(&ACTIVATION_TTL);
        let reset_ttl = p.get(&RESET_TTL);
        let request_timeout = p.get(&REQUEST_TIMEOUT);
        let header_timeout = p.get(&HEADER_TIMEOUT);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let hash_threads = p.get_or(&HASH_THREADS, &cores.to_string());
        let hash_queue = p.get(&HASH_QUEUE);
        let hash_max_wait = p.get(&HASH_MAX_WAIT);
        let log = p.get(&LOG);
        let log_format = p.get(&LOG_FORMAT);
        let mut security = security(&mut p);
        let policy = policy(&mut p, public_url.as_ref());
        if let (Some(security), Some(policy)) = (security.as_mut(), policy.as_ref())
            && let Err(why) = security.forward_rules.bind_resources(&policy.resources)
        {
            p.problems.push(format!("{}: {why}", FORWARD_RULES.name));
        }
        let dev = p.get(&DEV);
        if let (Some(true), Some(url)) = (dev, public_url.as_ref())
            && !parse::is_loopback(url)
        {
            p.problems.push(format!(
                "{} is true but {} ({url}) is not on loopback: development conveniences log people in without a \
                 password, so they run only on a development machine; unset it in production",
                DEV.name, PUBLIC_URL.name
            ));
        }
        let (providers, mut provider_problems, provider_lines) = providers::read(p.raw());
        p.problems.append(&mut provider_problems);

        if let (Some(access), Some(session)) = (access_token_ttl, session_ttl)
            && access > session
        {
            p.problems.push(format!(
                "{} is longer than {}; make the access token the shorter one",
                ACCESS_TOKEN_TTL.name, SESSION_TTL.name
            ));
        }

        let build = || {
            Some(Config {
                bind: bind?,
                public_url: public_url?,
                database_url: database_url?,
                database_max_connections: database_max_connections?,
                database_timeout: database_timeout?,
                redis_url: redis_url?,
                redis_prefix: redis_prefix?,
                redis_session_memory: redis_session_memory?,
                smtp_url: smtp_url?,
                mail_from: mail_from?,
                outbox_lease: outbox_lease?,
                smtp_connections: smtp_connections?,
                smtp_domain_rate: smtp_domain_rate?,
                dns_resolver: dns_resolver?.unwrap_or_default(),
                admin: admin?,
                access_token_ttl: access_token_ttl?,
                token_algorithm: token_algorithm?,
                id_token_algorithm: id_token_algorithm?,
                token_audience: token_audience?,
                session_ttl: session_ttl?,
                activation_ttl: activation_ttl?,
                reset_ttl: reset_ttl?,
                request_timeout: request_timeout?,
                header_timeout: header_timeout?,
                hash_threads: hash_threads?,
                hash_queue: hash_queue?,
                hash_max_wait: hash_max_wait?,
                log: log?,
                log_format: log_format?,
                security: security?,
                policy: policy?,
                dev: dev?,
                providers,
            })
        };
        match build() {
            Some(config) if p.problems.is_empty() => {
                let mut effective = p.effective();
                effective.extend(provider_lines);
                Ok(Loaded { config, warnings: gathered.warnings, effective })
            }
            _ => Err(ConfigError { problems: p.problems }),
        }
    }
}

/// The bootstrap admin: both the email and the password, or neither. A lone one is an error
/// that names the variable it was read from.
fn admin_seed(p: &mut Parser<'_>) -> Option<Option<AdminSeed>> {
    use self::settings::{ADMIN_EMAIL, ADMIN_PASSWORD};
    let email = p.optional(&ADMIN_EMAIL)?;
    let password = p.optional(&ADMIN_PASSWORD)?;
    match (email, password) {
        (Some(email), Some(password)) => Some(Some(AdminSeed { email, password })),
        (None, None) => Some(None),
        (None, Some(_)) => {
            let name = p.read_as(&ADMIN_PASSWORD);
            p.problems.push(format!(
                "{name} is set but no admin email is: set GATEHOUSE_ADMIN_EMAIL (or ADMIN_EMAIL) too, or remove \
                 the password"
            ));
            None
        }
        (Some(_), None) => {
            let name = p.read_as(&ADMIN_EMAIL);
            p.problems.push(format!(
                "{name} is set but no admin password is: set GATEHOUSE_ADMIN_PASSWORD (or ADMIN_PASSWORD) too, or \
                 remove the email"
            ));
            None
        }
    }
}

/// The languages, the brand and the operator's templates, which are read and checked here so
/// that a broken one stops the start (and shows in `config check`).
fn presentation(
    p: &mut Parser<'_>,
    public_url: Option<&Url>,
    app_url: Option<&Url>,
) -> Option<std::sync::Arc<crate::i18n::Catalog>> {
    use self::settings::*;
    let default_locale = p.get(&DEFAULT_LOCALE);
    let product_name = p.optional(&PRODUCT_NAME);
    let logo_url = p.optional(&LOGO_URL);
    let accent_color = p.get(&ACCENT_COLOR);
    let templates_dir = p.optional(&TEMPLATES_DIR);
    let public_url = public_url?;
    let named = app_url.unwrap_or(public_url);
    let host = named.host_str().unwrap_or("gatehouse");
    let options = crate::i18n::Options {
        default_locale: default_locale?,
        product_name: product_name?.unwrap_or_else(|| host.to_owned()),
        site: public_url.as_str().trim_end_matches('/').to_owned(),
        logo_url: logo_url?,
        accent_color: accent_color?,
        templates_dir: templates_dir?,
    };
    match crate::i18n::Catalog::load(&options) {
        Ok(catalog) => Some(std::sync::Arc::new(catalog)),
        Err(problems) => {
            let problems = problems.into_iter().map(|problem| format!("{}: {problem}", TEMPLATES_DIR.name));
            p.problems.extend(problems);
            None
        }
    }
}

/// The security settings: rate limits and lockout, proxies, CORS, sign-up concealment,
/// refresh grace, audit retention.
fn security(p: &mut Parser<'_>) -> Option<Security> {
    use self::settings::*;
    let rate_limits = self::limits::rate_limits(p);
    let trusted_proxies = p.optional(&TRUSTED_PROXIES);
    let forwarded_header = p.get(&FORWARDED_HEADER);
    let forward_rules = p.optional(&FORWARD_RULES);
    let forward_remote_user = p.get(&FORWARD_REMOTE_USER);
    let cookie_domain = p.optional(&COOKIE_DOMAIN);
    let cors_origins = p.optional(&CORS_ORIGINS);
    let webhook_allow_private = p.get(&WEBHOOK_ALLOW_PRIVATE);
    let refresh_grace = p.get(&REFRESH_GRACE);
    let audit_retention = p.get(&AUDIT_RETENTION);
    let webauthn_rp_id = p.optional(&WEBAUTHN_RP_ID);
    let webauthn_origins = p.optional(&WEBAUTHN_ORIGINS);
    let encryption_key = p.optional(&ENCRYPTION_KEY);
    let (trusted_proxies, forward_rules) = (trusted_proxies?.unwrap_or_default(), forward_rules?.unwrap_or_default());
    if trusted_proxies.is_empty() && !forward_rules.is_empty() {
        p.problems.push(format!(
            "{} is set but {} is not: forward-auth judges the request a proxy names in its headers, and without \
             trusted proxies no header is believed, so every rule would be skipped; list the proxies' addresses",
            FORWARD_RULES.name, TRUSTED_PROXIES.name
        ));
        return None;
    }
    Some(Security {
        rate_limits: rate_limits?,
        trusted_proxies,
        forwarded_header: forwarded_header?,
        forward_rules,
        forward_remote_user: forward_remote_user?,
        cookie_domain: cookie_domain?,
        cors_origins: cors_origins?.unwrap_or_default(),
        webhook_allow_private: webhook_allow_private?,
        refresh_grace: refresh_grace?,
        audit_retention: audit_retention?,
        webauthn_rp_id: webauthn_rp_id?,
        webauthn_origins: webauthn_origins?.unwrap_or_default(),
        encryption_key: encryption_key?,
    })
}

/// The policy settings (see [`Policy`]); the texts name the app's address when one is set.
fn policy(p: &mut Parser<'_>, public_url: Option<&Url>) -> Option<Policy> {
    use self::settings::*;
    let signup_open = p.get(&SIGNUP);
    let signup_conceal_existing = p.get(&SIGNUP_CONCEAL_EXISTING);
    let passwordless = p.get(&PASSWORDLESS);
    let mfa_required = p.get(&MFA_REQUIRED);
    let reauth_window = p.get(&REAUTH_WINDOW);
    let app_url = p.optional(&APP_URL);
    let redirect_allow = p.optional(&REDIRECT_ALLOW);
    let org_creation_open = p.get(&ORG_CREATION);
    let org_member_limit = p.get(&ORG_MEMBER_LIMIT);
    let invitation_ttl = p.get(&INVITATION_TTL);
    let invitation_budget = p.get(&INVITATION_BUDGET);
    let impersonation_notice = p.get(&IMPERSONATION_NOTICE);
    let client_registration = p.get(&CLIENT_REGISTRATION);
    let pushed_requests_required = p.get(&REQUIRE_PAR);
    let dpop_nonce = p.get(&DPOP_NONCE);
    let resources = resources::resources(p);
    let texts = presentation(p, public_url, app_url.as_ref().and_then(Option::as_ref));
    Some(Policy {
        signup_open: signup_open?,
        signup_conceal_existing: signup_conceal_existing?,
        passwordless: passwordless?,
        mfa_required: mfa_required?,
        reauth_window: reauth_window?,
        app_url: app_url?,
        redirects: RedirectPolicy::new(redirect_allow?.unwrap_or_default()),
        org_creation_open: org_creation_open?,
        org_member_limit: org_member_limit?,
        invitation_ttl: invitation_ttl?,
        invitation_budget: invitation_budget?,
        impersonation_notice: impersonation_notice?,
        client_registration: client_registration?,
        pushed_requests_required: pushed_requests_required?,
        dpop_nonce: dpop_nonce?,
        resources: resources?,
        texts: texts?,
    })
}

#[cfg(test)]
mod tests;
