//! Configuration: every `GATEHOUSE_*` setting, read from `gatehouse.toml`, then `.env`, then the
//! environment (the later source wins), parsed once at start-up into a [`Config`].
//!
//! A bad value stops start-up with a message that names the variable and says how to fix it;
//! unknown `GATEHOUSE_*` names are reported as warnings (usually a typo).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;

use crate::limits::{Budget, LockoutPolicy};
use url::Url;

use crate::secret_url::SecretUrl;

/// Every setting gatehouse reads, with its default and a one-line description.
/// `config check` prints them in this order.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    ("GATEHOUSE_BIND", "127.0.0.1:8080", "listen address"),
    ("GATEHOUSE_PUBLIC_URL", "http:// + bind", "base of the links in emails"),
    ("GATEHOUSE_DATABASE_URL", "sqlite://gatehouse.db", "sqlite://, postgres:// or mysql:// URL"),
    ("GATEHOUSE_DATABASE_MAX_CONNECTIONS", "10", "database pool size"),
    ("GATEHOUSE_DATABASE_TIMEOUT", "5s", "connect, pool-wait and statement timeout"),
    ("GATEHOUSE_REDIS_URL", "", "when set, sessions and rate limits live in Redis"),
    ("GATEHOUSE_REDIS_PREFIX", "gatehouse:", "prefix of every Redis key"),
    ("GATEHOUSE_SMTP_URL", "", "smtp://host:port or smtps://user:pass@host:465; unset: log"),
    ("GATEHOUSE_MAIL_FROM", "gatehouse <no-reply@localhost>", "sender of every email"),
    ("GATEHOUSE_OUTBOX_LEASE", "2m", "how long a replica's claim on an email lasts before another may retry it"),
    ("GATEHOUSE_ADMIN_EMAIL", "", "bootstrap admin account (with GATEHOUSE_ADMIN_PASSWORD)"),
    ("GATEHOUSE_ADMIN_PASSWORD", "", "bootstrap admin password"),
    ("GATEHOUSE_ACCESS_TOKEN_TTL", "15m", "access token lifetime"),
    ("GATEHOUSE_SESSION_TTL", "24h", "session lifetime from login"),
    ("GATEHOUSE_ACTIVATION_TTL", "24h", "activation link lifetime"),
    ("GATEHOUSE_RESET_TTL", "1h", "password-reset link lifetime"),
    ("GATEHOUSE_REQUEST_TIMEOUT", "30s", "longest time one request may take"),
    ("GATEHOUSE_HEADER_TIMEOUT", "10s", "longest time a client may take to send a request's headers"),
    ("GATEHOUSE_HASH_THREADS", "number of cores", "password-hashing threads"),
    ("GATEHOUSE_HASH_QUEUE", "64", "hash jobs allowed to wait before answering 503"),
    ("GATEHOUSE_HASH_MAX_WAIT", "1s", "longest a login or sign-up waits for a hashing thread before answering 503"),
    ("GATEHOUSE_RATE_LIMIT", "on", "off turns every rate limit and the login lockout off (tests, benchmarks)"),
    ("GATEHOUSE_RATE_LIMIT_LOGIN", "120/1m", "login attempts per client IP"),
    ("GATEHOUSE_RATE_LIMIT_SIGNUP", "60/1m", "sign-ups per client IP"),
    ("GATEHOUSE_RATE_LIMIT_RESEND", "20/1m", "activation-link requests per client IP"),
    ("GATEHOUSE_RATE_LIMIT_FORGOT", "20/1m", "password-reset requests per client IP"),
    ("GATEHOUSE_RATE_LIMIT_REFRESH", "120/1m", "token refreshes per client IP"),
    (
        "GATEHOUSE_RATE_LIMIT_EMAIL",
        "5/1h",
        "emails of one kind sent to one address on request (beyond: accepted, not sent)",
    ),
    ("GATEHOUSE_LOCKOUT_FAILURES", "5", "failed logins for one account from one client before delays begin"),
    ("GATEHOUSE_LOCKOUT_ACCOUNT_FAILURES", "15", "failed logins for one account from anywhere before delays begin"),
    ("GATEHOUSE_LOCKOUT_MAX_DELAY", "15m", "longest delay after repeated failed logins (delays double from 1s)"),
    (
        "GATEHOUSE_TRUSTED_PROXIES",
        "",
        "proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For/Forwarded is believed",
    ),
    ("GATEHOUSE_CORS_ORIGINS", "", "browser origins allowed to call the API (comma-separated); unset: CORS off"),
    ("GATEHOUSE_SIGNUP_CONCEAL_EXISTING", "false", "true: sign-up with a taken email answers like a new one (202)"),
    ("GATEHOUSE_REFRESH_GRACE", "30s", "a spent refresh token presented again this soon gets the same new pair"),
    ("GATEHOUSE_AUDIT_RETENTION", "90days", "how long audit events are kept"),
    ("GATEHOUSE_LOG", "info", "log filter (tracing EnvFilter syntax)"),
    ("GATEHOUSE_LOG_FORMAT", "text", "text or json"),
];

/// Names accepted without the `GATEHOUSE_` prefix, as many platforms and `.env` files provide
/// them; the `GATEHOUSE_` name wins where both are set.
const ALIASES: &[(&str, &str)] = &[
    ("DATABASE_URL", "GATEHOUSE_DATABASE_URL"),
    ("REDIS_URL", "GATEHOUSE_REDIS_URL"),
    ("ADMIN_EMAIL", "GATEHOUSE_ADMIN_EMAIL"),
    ("ADMIN_PASSWORD", "GATEHOUSE_ADMIN_PASSWORD"),
];

/// Names other services read that gatehouse does not need, with what to do instead.
const FOREIGN: &[(&str, &str)] = &[(
    "JWT_SECRET_KEY",
    "JWT_SECRET_KEY is ignored: gatehouse generates its signing keys, keeps them in the database (so every \
     replica signs alike) and rotates them with `gatehouse keys rotate`; no shared secret is needed",
)];

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
    pub smtp_url: Option<SecretUrl>,
    pub mail_from: String,
    pub outbox_lease: Duration,
    pub admin: Option<AdminSeed>,
    pub access_token_ttl: Duration,
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
}

/// The brute-force, enumeration and browser defences.
#[derive(Clone, Debug)]
pub struct Security {
    /// `None` when `GATEHOUSE_RATE_LIMIT=off`.
    pub rate_limits: Option<RateLimits>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub cors_origins: Vec<String>,
    pub signup_conceal_existing: bool,
    /// Zero when off.
    pub refresh_grace: Duration,
    pub audit_retention: Duration,
}

/// Every budget and the login lockout policy.
#[derive(Clone, Debug)]
pub struct RateLimits {
    pub login: Budget,
    pub signup: Budget,
    pub resend: Budget,
    pub forgot: Budget,
    pub refresh: Budget,
    /// Per recipient address and kind of email sent on request.
    pub email: Budget,
    /// Failed logins for one account from one client (IP or device).
    pub lockout_client: LockoutPolicy,
    /// Failed logins for one account from anywhere.
    pub lockout_account: LockoutPolicy,
}

/// The admin account ensured at start-up.
#[derive(Clone, Debug)]
pub struct AdminSeed {
    pub email: String,
    pub password: SecretString,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
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
}

impl Config {
    /// Reads `gatehouse.toml` (if present), `.env` (if present) and the process environment,
    /// in that order of increasing precedence.
    pub fn load() -> Result<Loaded, ConfigError> {
        let mut vars = BTreeMap::new();
        let mut warnings = Vec::new();
        let mut problems = Vec::new();
        if let Err(problem) = read_toml(Path::new("gatehouse.toml"), &mut vars) {
            problems.push(problem);
        }
        if let Ok(iter) = dotenvy::from_path_iter(".env") {
            for item in iter {
                match item {
                    Ok((key, value)) => {
                        vars.insert(key, value);
                    }
                    Err(err) => problems.push(format!(".env: {err}; fix the line or remove the file")),
                }
            }
        }
        vars.extend(std::env::vars());
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        let mut loaded = Self::from_vars(vars)?;
        warnings.append(&mut loaded.warnings);
        loaded.warnings = warnings;
        Ok(loaded)
    }

    /// Parses a configuration from name → value pairs. Names that are not gatehouse's are
    /// ignored, except unknown `GATEHOUSE_*` names, which become warnings.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Loaded, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut map: BTreeMap<String, String> = BTreeMap::new();
        let mut warnings = Vec::new();
        let mut aliased = Vec::new();
        for (key, value) in vars {
            let (key, value) = (key.into(), value.into());
            if let Some((_, target)) = ALIASES.iter().find(|(alias, _)| *alias == key) {
                aliased.push((target.to_string(), key, value));
            } else if let Some((_, advice)) = FOREIGN.iter().find(|(name, _)| *name == key) {
                warnings.push((*advice).to_owned());
            } else if key.starts_with("GATEHOUSE_") {
                if !SETTINGS.iter().any(|(name, _, _)| *name == key) && !key.starts_with("GATEHOUSE_TEST_") {
                    warnings.push(format!("unknown setting {key} is ignored; check its spelling"));
                }
                map.insert(key, value);
            }
        }
        // Which name each value was read from, where it was an alias, for the messages.
        let mut read_as: BTreeMap<String, String> = BTreeMap::new();
        for (target, alias, value) in aliased {
            if let std::collections::btree_map::Entry::Vacant(entry) = map.entry(target) {
                read_as.insert(entry.key().clone(), alias);
                entry.insert(value);
            }
        }
        let name = |target: &str| read_as.get(target).cloned().unwrap_or_else(|| target.to_owned());
        let mut p = Parser { map: &map, problems: Vec::new() };

        let bind = p.parse("GATEHOUSE_BIND", "127.0.0.1:8080", |v| {
            v.parse::<SocketAddr>()
                .map_err(|_| "write an IP address and port, like 127.0.0.1:8080 or 0.0.0.0:8080".into())
        });
        // When the bind address is bad, that is the problem to report, not the derived URL.
        let default_public = bind.map(|b| format!("http://{b}")).unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let public_url = p.parse("GATEHOUSE_PUBLIC_URL", &default_public, parse_public_url);
        let database_url = p.parse("GATEHOUSE_DATABASE_URL", "sqlite://gatehouse.db", parse_database_url);
        let database_max_connections = p.parse("GATEHOUSE_DATABASE_MAX_CONNECTIONS", "10", |v| parse_count(v, 1, 1000));
        let database_timeout = p.parse("GATEHOUSE_DATABASE_TIMEOUT", "5s", parse_duration);
        let redis_prefix = p.parse("GATEHOUSE_REDIS_PREFIX", "gatehouse:", |v| {
            if v.len() <= 64 && v.chars().all(|c| c.is_ascii_graphic()) {
                Ok(v.to_owned())
            } else {
                Err("write up to 64 visible characters without spaces, like gatehouse: or app1:auth:".into())
            }
        });
        let redis_url =
            p.optional("GATEHOUSE_REDIS_URL", |v| parse_url_with_schemes(v, &["redis", "rediss"], "redis://host:6379"));
        let smtp_url = p.optional("GATEHOUSE_SMTP_URL", |v| {
            parse_url_with_schemes(v, &["smtp", "smtps"], "smtp://localhost:1025 or smtps://user:pass@host:465")
        });
        let mail_from = p.parse("GATEHOUSE_MAIL_FROM", "gatehouse <no-reply@localhost>", |v| {
            v.parse::<lettre::message::Mailbox>()
                .map(|_| v.to_owned())
                .map_err(|_| "write an address, like no-reply@example.com or Name <no-reply@example.com>".into())
        });
        let outbox_lease = p.parse("GATEHOUSE_OUTBOX_LEASE", "2m", parse_duration);
        let admin_email = p.optional("GATEHOUSE_ADMIN_EMAIL", |v| Ok(v.to_owned()));
        let admin_password = p.optional("GATEHOUSE_ADMIN_PASSWORD", |v| Ok(SecretString::from(v.to_owned())));
        let admin = match (admin_email, admin_password) {
            (Some(Some(email)), Some(Some(password))) => Some(AdminSeed { email, password }),
            (None | Some(None), Some(Some(_))) => {
                p.problems.push(format!(
                    "{} is set but no admin email is: set GATEHOUSE_ADMIN_EMAIL (or ADMIN_EMAIL) too, or remove the \
                     password",
                    name("GATEHOUSE_ADMIN_PASSWORD")
                ));
                None
            }
            (Some(Some(_)), None | Some(None)) => {
                p.problems.push(format!(
                    "{} is set but no admin password is: set GATEHOUSE_ADMIN_PASSWORD (or ADMIN_PASSWORD) too, or \
                     remove the email",
                    name("GATEHOUSE_ADMIN_EMAIL")
                ));
                None
            }
            _ => None,
        };
        let access_token_ttl = p.parse("GATEHOUSE_ACCESS_TOKEN_TTL", "15m", parse_duration);
        let session_ttl = p.parse("GATEHOUSE_SESSION_TTL", "24h", parse_duration);
        let activation_ttl = p.parse("GATEHOUSE_ACTIVATION_TTL", "24h", parse_duration);
        let reset_ttl = p.parse("GATEHOUSE_RESET_TTL", "1h", parse_duration);
        let request_timeout = p.parse("GATEHOUSE_REQUEST_TIMEOUT", "30s", parse_duration);
        let header_timeout = p.parse("GATEHOUSE_HEADER_TIMEOUT", "10s", parse_duration);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let hash_threads = p.parse("GATEHOUSE_HASH_THREADS", &cores.to_string(), |v| parse_count(v, 1, 256));
        let hash_queue = p.parse("GATEHOUSE_HASH_QUEUE", "64", |v| parse_count(v, 1, 100_000));
        let hash_max_wait = p.parse("GATEHOUSE_HASH_MAX_WAIT", "1s", parse_duration);
        let log = p.parse("GATEHOUSE_LOG", "info", |v| {
            tracing_subscriber::EnvFilter::try_new(v)
                .map(|_| v.to_owned())
                .map_err(|e| format!("{e}; write a filter like info or gatehouse=debug,info"))
        });
        let log_format = p.parse("GATEHOUSE_LOG_FORMAT", "text", |v| match v {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("write text or json".into()),
        });

        let security = parse_security(&mut p);

        if let (Some(access), Some(session)) = (access_token_ttl, session_ttl)
            && access > session
        {
            p.problems.push(
                "GATEHOUSE_ACCESS_TOKEN_TTL is longer than GATEHOUSE_SESSION_TTL; make the access token the shorter one"
                    .into(),
            );
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
                smtp_url: smtp_url?,
                mail_from: mail_from?,
                outbox_lease: outbox_lease?,
                admin,
                access_token_ttl: access_token_ttl?,
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
            })
        };
        match build() {
            Some(config) if p.problems.is_empty() => Ok(Loaded { config, warnings }),
            _ => Err(ConfigError { problems: p.problems }),
        }
    }

    /// The effective configuration as `NAME=value` lines, secrets masked.
    pub fn describe(&self) -> Vec<(String, String)> {
        let show = |d: Duration| humantime::format_duration(d).to_string();
        let or_unset = |v: Option<String>| v.unwrap_or_else(|| "(unset)".to_owned());
        let mut lines: Vec<(String, String)> = vec![
            ("GATEHOUSE_BIND".into(), self.bind.to_string()),
            ("GATEHOUSE_PUBLIC_URL".into(), self.public_url.to_string()),
            ("GATEHOUSE_DATABASE_URL".into(), self.database_url.masked()),
            ("GATEHOUSE_DATABASE_MAX_CONNECTIONS".into(), self.database_max_connections.to_string()),
            ("GATEHOUSE_DATABASE_TIMEOUT".into(), show(self.database_timeout)),
            ("GATEHOUSE_REDIS_URL".into(), or_unset(self.redis_url.as_ref().map(SecretUrl::masked))),
            ("GATEHOUSE_REDIS_PREFIX".into(), self.redis_prefix.clone()),
            (
                "GATEHOUSE_SMTP_URL".into(),
                self.smtp_url.as_ref().map(SecretUrl::masked).unwrap_or_else(|| "(unset: emails go to the log)".into()),
            ),
            ("GATEHOUSE_MAIL_FROM".into(), self.mail_from.clone()),
            ("GATEHOUSE_OUTBOX_LEASE".into(), show(self.outbox_lease)),
            ("GATEHOUSE_ADMIN_EMAIL".into(), or_unset(self.admin.as_ref().map(|a| a.email.clone()))),
            ("GATEHOUSE_ADMIN_PASSWORD".into(), or_unset(self.admin.as_ref().map(|_| "***".to_owned()))),
            ("GATEHOUSE_ACCESS_TOKEN_TTL".into(), show(self.access_token_ttl)),
            ("GATEHOUSE_SESSION_TTL".into(), show(self.session_ttl)),
            ("GATEHOUSE_ACTIVATION_TTL".into(), show(self.activation_ttl)),
            ("GATEHOUSE_RESET_TTL".into(), show(self.reset_ttl)),
            ("GATEHOUSE_REQUEST_TIMEOUT".into(), show(self.request_timeout)),
            ("GATEHOUSE_HEADER_TIMEOUT".into(), show(self.header_timeout)),
            ("GATEHOUSE_HASH_THREADS".into(), self.hash_threads.to_string()),
            ("GATEHOUSE_HASH_QUEUE".into(), self.hash_queue.to_string()),
            ("GATEHOUSE_HASH_MAX_WAIT".into(), show(self.hash_max_wait)),
            ("GATEHOUSE_RATE_LIMIT".into(), if self.security.rate_limits.is_some() { "on" } else { "off" }.into()),
        ];
        let limits = self.security.rate_limits.as_ref();
        let budget = |pick: fn(&RateLimits) -> Budget| {
            limits.map(pick).map(|b| format!("{}/{}", b.count, show(b.period))).unwrap_or_else(|| "(off)".into())
        };
        let failures =
            |pick: fn(&RateLimits) -> u32| limits.map(|l| pick(l).to_string()).unwrap_or_else(|| "(off)".into());
        lines.extend([
            ("GATEHOUSE_RATE_LIMIT_LOGIN".into(), budget(|l| l.login)),
            ("GATEHOUSE_RATE_LIMIT_SIGNUP".into(), budget(|l| l.signup)),
            ("GATEHOUSE_RATE_LIMIT_RESEND".into(), budget(|l| l.resend)),
            ("GATEHOUSE_RATE_LIMIT_FORGOT".into(), budget(|l| l.forgot)),
            ("GATEHOUSE_RATE_LIMIT_REFRESH".into(), budget(|l| l.refresh)),
            ("GATEHOUSE_RATE_LIMIT_EMAIL".into(), budget(|l| l.email)),
            ("GATEHOUSE_LOCKOUT_FAILURES".into(), failures(|l| l.lockout_client.free)),
            ("GATEHOUSE_LOCKOUT_ACCOUNT_FAILURES".into(), failures(|l| l.lockout_account.free)),
            (
                "GATEHOUSE_LOCKOUT_MAX_DELAY".into(),
                limits.map(|l| show(l.lockout_client.max)).unwrap_or_else(|| "(off)".into()),
            ),
            ("GATEHOUSE_TRUSTED_PROXIES".into(), join_or_unset(&self.security.trusted_proxies)),
            ("GATEHOUSE_CORS_ORIGINS".into(), join_or_unset(&self.security.cors_origins)),
            ("GATEHOUSE_SIGNUP_CONCEAL_EXISTING".into(), self.security.signup_conceal_existing.to_string()),
            ("GATEHOUSE_REFRESH_GRACE".into(), show(self.security.refresh_grace)),
            ("GATEHOUSE_AUDIT_RETENTION".into(), show(self.security.audit_retention)),
            ("GATEHOUSE_LOG".into(), self.log.clone()),
            (
                "GATEHOUSE_LOG_FORMAT".into(),
                match self.log_format {
                    LogFormat::Text => "text".into(),
                    LogFormat::Json => "json".into(),
                },
            ),
        ]);
        lines
    }
}

fn join_or_unset<T: ToString>(items: &[T]) -> String {
    if items.is_empty() { "(unset)".into() } else { items.iter().map(T::to_string).collect::<Vec<_>>().join(",") }
}

/// The security settings: rate limits and lockout, proxies, CORS, sign-up concealment,
/// refresh grace, audit retention.
fn parse_security(p: &mut Parser<'_>) -> Option<Security> {
    let enabled = p.parse("GATEHOUSE_RATE_LIMIT", "on", parse_switch);
    let login = p.parse("GATEHOUSE_RATE_LIMIT_LOGIN", "120/1m", parse_budget);
    let signup = p.parse("GATEHOUSE_RATE_LIMIT_SIGNUP", "60/1m", parse_budget);
    let resend = p.parse("GATEHOUSE_RATE_LIMIT_RESEND", "20/1m", parse_budget);
    let forgot = p.parse("GATEHOUSE_RATE_LIMIT_FORGOT", "20/1m", parse_budget);
    let refresh = p.parse("GATEHOUSE_RATE_LIMIT_REFRESH", "120/1m", parse_budget);
    let email = p.parse("GATEHOUSE_RATE_LIMIT_EMAIL", "5/1h", parse_budget);
    let client_failures = p.parse("GATEHOUSE_LOCKOUT_FAILURES", "5", |v| parse_count::<u32>(v, 1, 1000));
    let account_failures = p.parse("GATEHOUSE_LOCKOUT_ACCOUNT_FAILURES", "15", |v| parse_count::<u32>(v, 1, 10_000));
    let max_delay = p.parse("GATEHOUSE_LOCKOUT_MAX_DELAY", "15m", parse_duration);
    let trusted_proxies = p.parse("GATEHOUSE_TRUSTED_PROXIES", "", |v| {
        split_list(v)
            .map(|item| {
                item.parse::<ipnet::IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!("{item:?} is not an IP address or CIDR; write a list like 10.0.0.0/8,127.0.0.1")
                    })
            })
            .collect::<Result<Vec<_>, _>>()
    });
    let cors_origins = p.parse("GATEHOUSE_CORS_ORIGINS", "", |v| {
        split_list(v)
            .map(|item| match Url::parse(item) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() && url.path() == "/" => {
                    Ok(url.origin().ascii_serialization())
                }
                _ => Err(format!(
                    "{item:?} is not an origin; write a list like https://app.example.com,http://localhost:3000"
                )),
            })
            .collect::<Result<Vec<_>, _>>()
    });
    let signup_conceal_existing = p.parse("GATEHOUSE_SIGNUP_CONCEAL_EXISTING", "false", parse_bool);
    let refresh_grace = p.parse("GATEHOUSE_REFRESH_GRACE", "30s", |v| match v {
        "off" | "0" | "0s" => Ok(Duration::ZERO),
        other => parse_duration(other),
    });
    let audit_retention = p.parse("GATEHOUSE_AUDIT_RETENTION", "90days", parse_duration);
    let max_delay = max_delay?;
    let lockout = |free| LockoutPolicy {
        free,
        base: Duration::from_secs(1),
        max: max_delay,
        forget_after: (max_delay * 2).max(Duration::from_secs(3600)),
    };
    let rate_limits = enabled?.then(|| -> Option<RateLimits> {
        Some(RateLimits {
            login: login?,
            signup: signup?,
            resend: resend?,
            forgot: forgot?,
            refresh: refresh?,
            email: email?,
            lockout_client: lockout(client_failures?),
            lockout_account: lockout(account_failures?),
        })
    });
    Some(Security {
        rate_limits: match rate_limits {
            Some(limits) => Some(limits?),
            None => None,
        },
        trusted_proxies: trusted_proxies?,
        cors_origins: cors_origins?,
        signup_conceal_existing: signup_conceal_existing?,
        refresh_grace: refresh_grace?,
        audit_retention: audit_retention?,
    })
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split([',', ' ']).map(str::trim).filter(|item| !item.is_empty())
}

fn parse_switch(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err("write on or off".into()),
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    parse_switch(value).map_err(|_| "write true or false".into())
}

/// A budget like `60/1m`: that many requests per period, all of which may come at once.
pub fn parse_budget(value: &str) -> Result<Budget, String> {
    let advice = || "write a count and a period, like 60/1m or 5/1h".to_owned();
    let (count, period) = value.split_once('/').ok_or_else(advice)?;
    let count = parse_count::<u32>(count.trim(), 1, 1_000_000).map_err(|_| advice())?;
    let period = parse_duration(period.trim()).map_err(|_| advice())?;
    Ok(Budget { count, period })
}

/// Collects parse problems so that one run reports every bad value at once.
struct Parser<'a> {
    map: &'a BTreeMap<String, String>,
    problems: Vec<String>,
}

impl Parser<'_> {
    fn parse<T>(&mut self, name: &str, default: &str, f: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let raw = self.map.get(name).map(String::as_str).map(str::trim).filter(|v| !v.is_empty());
        let value = raw.unwrap_or(default);
        match f(value) {
            Ok(v) => Some(v),
            Err(advice) => {
                let shown = if name.contains("PASSWORD") { "***" } else { value };
                self.problems.push(format!("{name}={shown:?} is not valid: {advice}"));
                None
            }
        }
    }

    /// `Some(None)` when unset, `Some(Some(v))` when set and valid, `None` when invalid.
    fn optional<T>(&mut self, name: &str, f: impl FnOnce(&str) -> Result<T, String>) -> Option<Option<T>> {
        match self.map.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Some(None),
            Some(value) => match f(value) {
                Ok(v) => Some(Some(v)),
                Err(advice) => {
                    self.problems.push(format!("{name} is not valid: {advice}"));
                    None
                }
            },
        }
    }
}

/// Parses a human duration such as `15m`, `24h` or `1h 30m`. Zero is refused.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    match humantime::parse_duration(value) {
        Ok(d) if d.is_zero() => Err("must be longer than zero".into()),
        Ok(d) => Ok(d),
        Err(_) => Err("write a number with a unit, like 30s, 15m, 24h or 7days".into()),
    }
}

fn parse_count<T: TryFrom<u64>>(value: &str, min: u64, max: u64) -> Result<T, String> {
    let advice = || format!("write a whole number from {min} to {max}");
    let n: u64 = value.parse().map_err(|_| advice())?;
    if !(min..=max).contains(&n) {
        return Err(advice());
    }
    T::try_from(n).map_err(|_| advice())
}

fn parse_public_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|_| "write an absolute URL, like https://auth.example.com".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("write an http:// or https:// URL with a host, like https://auth.example.com".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("leave out the query and fragment; links are built by appending paths".into());
    }
    Ok(url)
}

fn parse_database_url(value: &str) -> Result<SecretUrl, String> {
    let advice = "write sqlite://path/to/file.db, postgres://user:pass@host/db or mysql://user:pass@host/db";
    let scheme = value.split("://").next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(SecretUrl::new(value)),
        "postgres" | "postgresql" | "mysql" | "mariadb" => match Url::parse(value) {
            Ok(url) if url.host().is_some() && url.path().len() > 1 => {
                // MariaDB speaks the MySQL protocol; one driver serves both.
                Ok(SecretUrl::new(&value.replacen("mariadb://", "mysql://", 1)))
            }
            _ => Err(format!("{advice} (with a host and a database name)")),
        },
        _ => Err(advice.into()),
    }
}

fn parse_url_with_schemes(value: &str, schemes: &[&str], example: &str) -> Result<SecretUrl, String> {
    match Url::parse(value) {
        Ok(url) if schemes.contains(&url.scheme()) && url.host().is_some() => Ok(SecretUrl::new(value)),
        _ => Err(format!("write a URL like {example}")),
    }
}

/// Reads `gatehouse.toml`: keys are the setting names without the prefix, in lower case
/// (`bind = "0.0.0.0:8080"`, `session_ttl = "12h"`).
fn read_toml(path: &Path, vars: &mut BTreeMap<String, String>) -> Result<(), String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let table: toml::Table =
        text.parse().map_err(|e| format!("{}: {e}; fix the syntax or remove the file", path.display()))?;
    for (key, value) in table {
        let name = format!("GATEHOUSE_{}", key.to_ascii_uppercase());
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(format!(
                    "{}: `{key}` must be a string or a number, not {}",
                    path.display(),
                    other.type_str()
                ));
            }
        };
        vars.insert(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
        Config::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = load(&[]).unwrap().config;
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(config.database_url.expose(), "sqlite://gatehouse.db");
        assert_eq!(config.access_token_ttl, Duration::from_secs(15 * 60));
        assert_eq!(config.session_ttl, Duration::from_secs(24 * 3600));
        assert_eq!(config.activation_ttl, Duration::from_secs(24 * 3600));
        assert_eq!(config.reset_ttl, Duration::from_secs(3600));
        assert_eq!(config.mail_from, "gatehouse <no-reply@localhost>");
        assert!(config.redis_url.is_none() && config.smtp_url.is_none() && config.admin.is_none());
        assert_eq!(config.database_timeout, Duration::from_secs(5));
        assert_eq!(config.redis_prefix, "gatehouse:");
        assert_eq!(config.log_format, LogFormat::Text);
    }

    #[test]
    fn security_defaults_honour_the_contract() {
        let security = load(&[]).unwrap().config.security;
        let limits = security.rate_limits.expect("rate limits are on by default");
        assert!(limits.login.count >= 60 && limits.login.period <= Duration::from_secs(60));
        assert!(limits.signup.count >= 30 && limits.signup.period <= Duration::from_secs(60));
        assert!(limits.lockout_client.free < 20 && limits.lockout_account.free < 20);
        assert!(security.trusted_proxies.is_empty() && security.cors_origins.is_empty());
        assert!(!security.signup_conceal_existing);
        assert_eq!(security.refresh_grace, Duration::from_secs(30));
        assert!(load(&[("GATEHOUSE_RATE_LIMIT", "off")]).unwrap().config.security.rate_limits.is_none());
    }

    #[test]
    fn security_lists_and_budgets_are_parsed_with_advice() {
        let config = load(&[
            ("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1,::1"),
            ("GATEHOUSE_CORS_ORIGINS", "https://app.example.com,http://localhost:3000/"),
            ("GATEHOUSE_RATE_LIMIT_LOGIN", "10/30s"),
            ("GATEHOUSE_REFRESH_GRACE", "off"),
        ])
        .unwrap()
        .config;
        assert_eq!(config.security.trusted_proxies.len(), 3);
        assert_eq!(config.security.cors_origins, ["https://app.example.com", "http://localhost:3000"]);
        assert_eq!(config.security.rate_limits.unwrap().login, Budget { count: 10, period: Duration::from_secs(30) });
        assert_eq!(config.security.refresh_grace, Duration::ZERO);
        let err = load(&[
            ("GATEHOUSE_TRUSTED_PROXIES", "proxy.local"),
            ("GATEHOUSE_CORS_ORIGINS", "https://app.example.com/path"),
            ("GATEHOUSE_RATE_LIMIT_SIGNUP", "lots"),
        ])
        .unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5_400));
        assert!(parse_duration("15").unwrap_err().contains("unit"));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn every_bad_value_is_reported_with_advice() {
        let err = load(&[("GATEHOUSE_BIND", "localhost"), ("GATEHOUSE_SESSION_TTL", "forever")]).unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(err.problems[0].contains("GATEHOUSE_BIND") && err.problems[0].contains("127.0.0.1:8080"));
        assert!(err.problems[1].contains("GATEHOUSE_SESSION_TTL") && err.problems[1].contains("24h"));
    }

    #[test]
    fn unknown_gatehouse_names_are_warned_about() {
        let loaded = load(&[("GATEHOUSE_SESION_TTL", "1h"), ("HOME", "/root")]).unwrap();
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains("GATEHOUSE_SESION_TTL"));
    }

    #[test]
    fn unprefixed_database_url_is_accepted_but_the_prefixed_one_wins() {
        let config = load(&[("DATABASE_URL", "sqlite://a.db")]).unwrap().config;
        assert_eq!(config.database_url.expose(), "sqlite://a.db");
        let config =
            load(&[("DATABASE_URL", "sqlite://a.db"), ("GATEHOUSE_DATABASE_URL", "sqlite://b.db")]).unwrap().config;
        assert_eq!(config.database_url.expose(), "sqlite://b.db");
    }

    #[test]
    fn the_database_is_chosen_by_the_url_scheme() {
        for url in ["postgres://u:p@db/gatehouse", "postgresql://db/gatehouse", "mysql://root@db:3306/gatehouse"] {
            assert_eq!(load(&[("GATEHOUSE_DATABASE_URL", url)]).unwrap().config.database_url.expose(), url);
        }
        let maria = load(&[("GATEHOUSE_DATABASE_URL", "mariadb://root@db/gatehouse")]).unwrap().config;
        assert_eq!(maria.database_url.scheme(), "mysql");
        assert!(load(&[("GATEHOUSE_DATABASE_URL", "postgres://db")]).is_err(), "a database name is needed");
        assert!(load(&[("GATEHOUSE_DATABASE_URL", "oracle://db/x")]).is_err());
    }

    #[test]
    fn admin_email_and_password_go_together() {
        let err = load(&[("GATEHOUSE_ADMIN_EMAIL", "root@example.com")]).unwrap_err();
        assert!(err.problems[0].contains("no admin password"), "{err}");
    }

    #[test]
    fn the_common_env_names_set_the_admin_and_a_lone_password_is_an_error_that_names_it() {
        let config =
            load(&[("ADMIN_EMAIL", "root@example.com"), ("ADMIN_PASSWORD", "correct horse battery")]).unwrap().config;
        assert_eq!(config.admin.unwrap().email, "root@example.com");
        let err = load(&[("ADMIN_PASSWORD", "correct horse battery")]).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert!(err.problems[0].starts_with("ADMIN_PASSWORD is set but no admin email is"), "{err}");
        let config = load(&[
            ("ADMIN_EMAIL", "a@example.com"),
            ("GATEHOUSE_ADMIN_EMAIL", "b@example.com"),
            ("ADMIN_PASSWORD", "x"),
        ])
        .unwrap()
        .config;
        assert_eq!(config.admin.unwrap().email, "b@example.com", "the GATEHOUSE_ name wins");
    }

    #[test]
    fn a_jwt_secret_is_warned_about_and_never_used() {
        let loaded = load(&[("JWT_SECRET_KEY", "s3cret-value")]).unwrap();
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains("generates its signing keys"), "{:?}", loaded.warnings);
        assert!(!loaded.warnings[0].contains("s3cret-value"));
    }

    #[test]
    fn secrets_are_masked_in_debug_and_describe() {
        let config = load(&[
            ("GATEHOUSE_SMTP_URL", "smtps://mailer:hunter22secret@mail.example.com:465"),
            ("GATEHOUSE_ADMIN_EMAIL", "root@example.com"),
            ("GATEHOUSE_ADMIN_PASSWORD", "correct horse battery"),
        ])
        .unwrap()
        .config;
        let debug = format!("{config:?}");
        let described = format!("{:?}", config.describe());
        for text in [debug, described] {
            assert!(!text.contains("hunter22secret"), "{text}");
            assert!(!text.contains("correct horse battery"), "{text}");
            assert!(text.contains("mail.example.com"));
        }
    }

    #[test]
    fn a_bad_password_value_is_not_echoed() {
        let err = load(&[("GATEHOUSE_SMTP_URL", "not a url with secret")]).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
