//! Every setting gatehouse reads, each declared once: its name, default, parser, help, and
//! whether its value is a secret. The parsing (`Config::from_vars`), the table `gatehouse config
//! check` prints and the README's configuration table (kept in step by a test) all come from
//! here. `config check` lists them in this order.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use super::parse::{
    ClientRegistration, parse_client_registration, parse_color, parse_former_resources, parse_locale, parse_logo_url,
    parse_product_name, parse_resource_urls, parse_resources,
};
use super::parse::{
    LogFormat, MfaPolicy, parse_algorithm, parse_audience, parse_bind, parse_bool, parse_budget, parse_count,
    parse_database_url, parse_duration, parse_encryption_key, parse_grace, parse_lease, parse_log_filter,
    parse_log_format, parse_mail_from, parse_mfa_required, parse_org_creation, parse_origins, parse_proxies,
    parse_public_url, parse_redirect_allow, parse_redis_prefix, parse_rp_id, parse_signup, parse_switch,
    parse_url_with_schemes,
};
use crate::limits::Budget;
use crate::secret_url::SecretUrl;
use crate::tokens::keys::KeyAlgorithm;

/// A setting's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// This value, parsed like one that was set.
    Value(&'static str),
    /// Worked out at start from other values or the machine; the text says how.
    Computed(&'static str),
    /// None: the feature stays off, or the value is simply absent.
    Unset,
}

/// How a setting's value is shown by `config check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    Plain,
    /// A URL whose password is masked.
    Url,
    /// Never shown: `***`.
    Secret,
}

/// One setting: everything about it but its value.
#[derive(Debug)]
pub struct Setting<T: 'static> {
    pub name: &'static str,
    pub default: Fallback,
    /// One line for `config check` and the README's table.
    pub help: &'static str,
    pub shown: Shown,
    pub parse: fn(&str) -> Result<T, String>,
}

/// What every setting can say of itself, whatever its value's type.
pub trait Described: Sync {
    fn name(&self) -> &'static str;
    fn default(&self) -> Fallback;
    fn help(&self) -> &'static str;
    fn shown(&self) -> Shown;
}

impl<T> Described for Setting<T> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn default(&self) -> Fallback {
        self.default
    }
    fn help(&self) -> &'static str {
        self.help
    }
    fn shown(&self) -> Shown {
        self.shown
    }
}

macro_rules! settings {
    ($($id:ident: $type:ty = $name:literal, $default:expr, $shown:ident, $parse:expr, $help:literal;)*) => {
        $(
            #[doc = $help]
            pub const $id: Setting<$type> = Setting {
                name: $name,
                default: $default,
                help: $help,
                shown: Shown::$shown,
                parse: $parse,
            };
        )*

        /// Every setting, in the order `config check` and the README list them.
        pub const ALL: &[&dyn Described] = &[$(&$id),*];
    };
}

use Fallback::{Computed, Unset, Value};

settings! {
    BIND: SocketAddr = "GATEHOUSE_BIND", Value("127.0.0.1:8080"), Plain, parse_bind,
        "listen address: `IP:port`, `localhost:port` (loopback), or `:port` for every interface (`0.0.0.0`)";
    PUBLIC_URL: Url = "GATEHOUSE_PUBLIC_URL", Computed("`http://` + bind (`localhost` for `localhost:port` or every interface)"), Plain,
        parse_public_url,
        "the address people reach gatehouse at: base of the links in emails, and the token issuer";
    DATABASE_URL: SecretUrl = "GATEHOUSE_DATABASE_URL", Value("sqlite://gatehouse.db"), Url, parse_database_url,
        "`sqlite://path`, `postgres://user:pass@host/db`, or `mysql://…` (MariaDB too); migrations run at start";
    DATABASE_MAX_CONNECTIONS: u32 = "GATEHOUSE_DATABASE_MAX_CONNECTIONS", Value("10"), Plain,
        |v| parse_count(v, 1, 1000),
        "database pool size (per replica)";
    DATABASE_TIMEOUT: Duration = "GATEHOUSE_DATABASE_TIMEOUT", Value("5s"), Plain, parse_duration,
        "bound on connecting, waiting for a pooled connection, and each statement; past it: `503`";
    REDIS_URL: SecretUrl = "GATEHOUSE_REDIS_URL", Unset, Url,
        |v| parse_url_with_schemes(v, &["redis", "rediss"], "redis://host:6379"),
        "when set, sessions (and refresh tokens) and rate limits live in Redis, shared by every replica";
    REDIS_PREFIX: String = "GATEHOUSE_REDIS_PREFIX", Value("gatehouse:"), Plain, parse_redis_prefix,
        "prefix of every Redis key";
    REDIS_SESSION_MEMORY: usize = "GATEHOUSE_REDIS_SESSION_MEMORY", Value("4"), Plain, |v| parse_count(v, 0, 1024),
        "MiB each replica keeps of the sessions (and account copies) it checked lately, so that a token presented again is checked without a Redis round trip; a logout still holds on every replica at once; 0 turns it off";
    SMTP_URL: SecretUrl = "GATEHOUSE_SMTP_URL", Unset, Url,
        |v| parse_url_with_schemes(v, &["smtp", "smtps"], "smtp://localhost:1025 or smtps://user:pass@host:465"),
        "`smtp://host:port` (plain; add `?tls=required` for STARTTLS), `smtps://user:pass@host:465`; unset: emails are written to the log";
    MAIL_FROM: String = "GATEHOUSE_MAIL_FROM", Value("gatehouse <no-reply@localhost>"), Plain, parse_mail_from,
        "sender of every email";
    OUTBOX_LEASE: Duration = "GATEHOUSE_OUTBOX_LEASE", Value("15s"), Plain, parse_lease,
        "how long a claim on an email lasts unless its sender renews it: how soon a dead replica's emails are taken over";
    SMTP_CONNECTIONS: u32 = "GATEHOUSE_SMTP_CONNECTIONS", Value("8"), Plain, |v| parse_count(v, 1, 64),
        "emails sent at once (per replica), each over a connection to the mail server that is kept open and reused";
    SMTP_DOMAIN_RATE: Budget = "GATEHOUSE_SMTP_DOMAIN_RATE", Unset, Plain, parse_budget,
        "the most emails one recipient domain is sent in a period (like `20/1s`), for relays that throttle; unset: no limit (a 4xx answer slows that domain down either way)";
    DNS_RESOLVER: Vec<std::net::SocketAddr> = "GATEHOUSE_DNS_RESOLVER", Unset, Plain, super::parse::parse_resolvers,
        "the DNS servers asked for domain verification's TXT records, like `1.1.1.1,[2606:4700::1111]:53` (port 53 when none); unset: the system's (`/etc/resolv.conf`)";
    ADMIN_EMAIL: String = "GATEHOUSE_ADMIN_EMAIL", Unset, Plain, |v| Ok(v.to_owned()),
        "with `GATEHOUSE_ADMIN_PASSWORD`: that admin exists, is active and has that password after start";
    ADMIN_PASSWORD: secrecy::SecretString = "GATEHOUSE_ADMIN_PASSWORD", Unset, Secret,
        |v| Ok(secrecy::SecretString::from(v.to_owned())),
        "the bootstrap admin's password (see `GATEHOUSE_ADMIN_EMAIL`)";
    ACCESS_TOKEN_TTL: Duration = "GATEHOUSE_ACCESS_TOKEN_TTL", Value("15m"), Plain, parse_duration,
        "access-token lifetime";
    TOKEN_ALGORITHM: KeyAlgorithm = "GATEHOUSE_TOKEN_ALGORITHM", Value("EdDSA"), Plain, parse_algorithm,
        "how access tokens are signed: `EdDSA` (Ed25519), `ES256` (P-256) or `RS256` (RSA 2048) for verifiers without Ed25519; switching keeps tokens already issued valid";
    ID_TOKEN_ALGORITHM: KeyAlgorithm = "GATEHOUSE_ID_TOKEN_ALGORITHM", Value("RS256"), Plain, parse_algorithm,
        "how the ID tokens of client apps are signed: `RS256`, which every OpenID Connect relying party accepts, or `EdDSA` or `ES256` (only if every app takes them: Apache's `mod_auth_openidc`, among others, refuses EdDSA); its key is made when the first client app is registered";
    TOKEN_AUDIENCE: String = "GATEHOUSE_TOKEN_AUDIENCE", Computed("the public URL, as the issuer"), Plain, parse_audience,
        "the `aud` claim of access tokens, which the APIs verifying them check";
    SESSION_TTL: Duration = "GATEHOUSE_SESSION_TTL", Value("24h"), Plain, parse_duration,
        "session lifetime from login (refresh does not extend it)";
    ACTIVATION_TTL: Duration = "GATEHOUSE_ACTIVATION_TTL", Value("24h"), Plain, parse_duration,
        "activation link lifetime";
    RESET_TTL: Duration = "GATEHOUSE_RESET_TTL", Value("1h"), Plain, parse_duration,
        "password-reset link lifetime";
    REQUEST_TIMEOUT: Duration = "GATEHOUSE_REQUEST_TIMEOUT", Value("30s"), Plain, parse_duration,
        "a request taking longer answers `503`";
    HEADER_TIMEOUT: Duration = "GATEHOUSE_HEADER_TIMEOUT", Value("10s"), Plain, parse_duration,
        "a client that has not sent a request's line and headers within this is disconnected (slow-loris defence); headers over 32 KiB or 100 fields answer `431`";
    HASH_THREADS: usize = "GATEHOUSE_HASH_THREADS", Computed("number of cores"), Plain,
        |v| parse_count(v, 1, 256),
        "password-hashing threads";
    HASH_QUEUE: usize = "GATEHOUSE_HASH_QUEUE", Value("64"), Plain, |v| parse_count(v, 1, 100_000),
        "hash jobs that may wait; beyond that, logins answer `503` at once";
    HASH_MAX_WAIT: Duration = "GATEHOUSE_HASH_MAX_WAIT", Value("1s"), Plain, parse_duration,
        "a login or sign-up that no hashing thread has taken up within this answers `503` then, and is not hashed";
    RATE_LIMIT: bool = "GATEHOUSE_RATE_LIMIT", Value("on"), Plain, parse_switch,
        "`off` turns every rate limit and the login lockout off (tests, benchmarks)";
    RATE_LIMIT_LOGIN: Budget = "GATEHOUSE_RATE_LIMIT_LOGIN", Value("120/1m"), Plain, parse_budget,
        "login attempts per client IP; past it `429` with `Retry-After`";
    RATE_LIMIT_SIGNUP: Budget = "GATEHOUSE_RATE_LIMIT_SIGNUP", Value("60/1m"), Plain, parse_budget,
        "sign-ups per client IP";
    RATE_LIMIT_RESEND: Budget = "GATEHOUSE_RATE_LIMIT_RESEND", Value("20/1m"), Plain, parse_budget,
        "activation-link requests per client IP";
    RATE_LIMIT_FORGOT: Budget = "GATEHOUSE_RATE_LIMIT_FORGOT", Value("20/1m"), Plain, parse_budget,
        "password-reset requests per client IP";
    RATE_LIMIT_REFRESH: Budget = "GATEHOUSE_RATE_LIMIT_REFRESH", Value("120/1m"), Plain, parse_budget,
        "token refreshes per client IP";
    RATE_LIMIT_SCIM: Budget = "GATEHOUSE_RATE_LIMIT_SCIM", Value("1200/1m"), Plain, parse_budget,
        "SCIM requests per SCIM token (an identity provider's bulk push stays within it)";
    RATE_LIMIT_API_KEY: Budget = "GATEHOUSE_RATE_LIMIT_API_KEY", Value("600/1m"), Plain, parse_budget,
        "requests per API key (gatehouse's API, forward-auth and introspection)";
    RATE_LIMIT_USER_CODE: Budget = "GATEHOUSE_RATE_LIMIT_USER_CODE", Value("10/1m"), Plain, parse_budget,
        "device-grant user codes entered on `/device`, per client IP and per account (each entry counts, right or wrong)";
    RATE_LIMIT_REGISTER: Budget = "GATEHOUSE_RATE_LIMIT_REGISTER", Value("60/1h"), Plain, parse_budget,
        "client registrations (`POST /oauth2/register`) per client IP (an IPv6 client's /64): enough for a developer whose MCP client registers on every run";
    RATE_LIMIT_EMAIL: Budget = "GATEHOUSE_RATE_LIMIT_EMAIL", Value("5/1h"), Plain, parse_budget,
        "emails of one kind to one address on request; past it the answer is unchanged but nothing is sent";
    LOCKOUT_FAILURES: u32 = "GATEHOUSE_LOCKOUT_FAILURES", Value("5"), Plain, |v| parse_count(v, 1, 1000),
        "failed logins for one account from one client before delays begin";
    LOCKOUT_ACCOUNT_FAILURES: u32 = "GATEHOUSE_LOCKOUT_ACCOUNT_FAILURES", Value("15"), Plain,
        |v| parse_count(v, 1, 10_000),
        "failed logins for one account from anywhere before delays begin";
    LOCKOUT_MAX_DELAY: Duration = "GATEHOUSE_LOCKOUT_MAX_DELAY", Value("15m"), Plain, parse_duration,
        "the longest delay after repeated failed logins; delays double from 1 s";
    DEV: bool = "GATEHOUSE_DEV", Value("false"), Plain, parse_bool,
        "`true`: a development machine's conveniences (`gatehouse dev token` logs a test user in without a password); refused at start unless the public URL is on loopback";
    TRUSTED_PROXIES: Vec<ipnet::IpNet> = "GATEHOUSE_TRUSTED_PROXIES", Unset, Plain, parse_proxies,
        "proxies (IPs, CIDRs, comma-separated) whose `GATEHOUSE_FORWARDED_HEADER` names the client IP";
    FORWARDED_HEADER: super::parse::ForwardedHeader = "GATEHOUSE_FORWARDED_HEADER", Value("x-forwarded-for"), Plain, super::parse::parse_forwarded_header,
        "the one header a trusted proxy names the client in: `x-forwarded-for`, `forwarded` or `x-real-ip`; the others are ignored, and the rightmost address no trusted proxy holds is the client";
    FORWARD_RULES: super::forward::ForwardRules = "GATEHOUSE_FORWARD_RULES", Unset, Plain, super::forward::parse_forward_rules,
        "what apps behind a forward-auth proxy (`GET /auth/forward`) require: `HOST[/PATH]=public|authenticated|group:NAME|org:SLUG[:ROLE|:RESOURCE:ACTION|:group:NAME]`, comma-separated, first match wins; unset or no match: a login";
    FORWARD_REMOTE_USER: super::parse::RemoteUser = "GATEHOUSE_FORWARD_REMOTE_USER", Value("id"), Plain, super::parse::parse_remote_user,
        "what forward-auth's `Remote-User` names: `id` (the account's id) or `username` (its username, which is never given to anyone else, else its id); `Remote-Email` and `Remote-Name` go beside it";
    COOKIE_DOMAIN: String = "GATEHOUSE_COOKIE_DOMAIN", Unset, Plain, super::parse::parse_cookie_domain,
        "the `Domain` of the browser-session cookie (e.g. `example.com`), so that apps on sibling hosts behind a forward-auth proxy receive it; unset: gatehouse's own host only";
    CORS_ORIGINS: Vec<String> = "GATEHOUSE_CORS_ORIGINS", Unset, Plain, parse_origins,
        "browser origins allowed to call the API (comma-separated); unset: none. Discovery, the keys, client registration and the token endpoint answer any origin (browser-based MCP clients run anywhere; none of them takes a cookie)";
    SIGNUP: bool = "GATEHOUSE_SIGNUP", Value("open"), Plain, parse_signup,
        "`closed`: `POST /user` answers `403 signup_disabled`; admins and the CLI still create accounts (invitations)";
    ORG_CREATION: bool = "GATEHOUSE_ORG_CREATION", Value("anyone"), Plain, parse_org_creation,
        "`admins`: only admins create organizations (`POST /orgs` answers others `403 forbidden`); `anyone`: every active account may";
    ORG_MEMBER_LIMIT: u64 = "GATEHOUSE_ORG_MEMBER_LIMIT", Value("10000"), Plain, |v| parse_count(v, 1, 10_000_000),
        "the most members one organization may have: accepting an invitation past it answers `409 member_limit_reached`";
    INVITATION_TTL: Duration = "GATEHOUSE_INVITATION_TTL", Value("7d"), Plain, parse_duration,
        "how long an invitation to an organization may be accepted";
    INVITATION_BUDGET: Budget = "GATEHOUSE_INVITATION_BUDGET", Value("100/1h"), Plain, parse_budget,
        "invitations one organization may send; past it `POST /orgs/{org}/invitations` answers `429`";
    PASSWORDLESS: bool = "GATEHOUSE_PASSWORDLESS", Value("on"), Plain, parse_switch,
        "`off`: login by an emailed link or code (`POST /auth/email`) answers `403 passwordless_disabled`";
    WEBHOOK_ALLOW_PRIVATE: bool = "GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", Value("false"), Plain, parse_bool,
        "`true`: webhooks, and identity provider metadata fetched by URL, may reach loopback, link-local and private addresses (a receiver or identity provider on the same network); otherwise such a URL answers `422` and a name that resolves to one is not reached";
    SIGNUP_CONCEAL_EXISTING: bool = "GATEHOUSE_SIGNUP_CONCEAL_EXISTING", Value("false"), Plain, parse_bool,
        "`true`: sign-up with a taken email answers `202` like a new one; the owner is told by email";
    APP_URL: Url = "GATEHOUSE_APP_URL", Unset, Plain, parse_public_url,
        "the app's address: the activation, reset and email-change pages link back to it";
    REDIRECT_ALLOW: Vec<Url> = "GATEHOUSE_REDIRECT_ALLOW", Unset, Plain, parse_redirect_allow,
        "URL prefixes (comma-separated, e.g. `https://app.example.com/`) a `redirect_to` of sign-up, resend, forgot and email change must start with; a browser completing the link is sent there (`303`); any other `redirect_to` gets `422`";
    REFRESH_GRACE: Duration = "GATEHOUSE_REFRESH_GRACE", Value("30s"), Plain, parse_grace,
        "a just-spent refresh token presented again this soon gets the same new pair (`off` to disable)";
    REAUTH_WINDOW: Duration = "GATEHOUSE_REAUTH_WINDOW", Value("5m"), Plain, parse_duration,
        "how recent a session's last authentication must be for a step-up (adding or removing a second factor, new recovery codes, deleting one's account, and an admin's changes that create lasting access: clients, webhooks, imports, roles); with a second factor on the account, that factor must be this recent; older sessions get `403 reauthentication_required` until `POST /auth/reauthenticate`";
    CLIENT_REGISTRATION: ClientRegistration = "GATEHOUSE_CLIENT_REGISTRATION", Value("off"), Plain, parse_client_registration,
        "whether client apps may register themselves at `POST /oauth2/register` (RFC 7591, for MCP clients and other self-registering apps): `off`; `token`, with an initial access token an admin issued (`POST /admin/registration-tokens`); `open`, anyone, within `GATEHOUSE_RATE_LIMIT_REGISTER`. Such clients are third-party: people are always asked to consent";
    REQUIRE_PAR: bool = "GATEHOUSE_REQUIRE_PAR", Value("false"), Plain, parse_bool,
        "`true`: every client must push its authorization requests to `POST /oauth2/par` (RFC 9126) and send only `client_id` and `request_uri` to `/oauth2/authorize`; others are answered `invalid_request`. Discovery says so (`require_pushed_authorization_requests`)";
    DPOP_NONCE: bool = "GATEHOUSE_DPOP_NONCE", Value("false"), Plain, parse_bool,
        "`true`: a DPoP proof at the token endpoint must carry a nonce gatehouse gave (RFC 9449 §8): one without it is answered `400 use_dpop_nonce` with the `DPoP-Nonce` header to use, as is every answer of the token endpoint; a nonce lasts five to ten minutes, on every replica. It bounds how long a proof made ahead of time (by a client whose key leaked) stays usable";
    RESOURCES: Vec<crate::model::resource::Resource> = "GATEHOUSE_RESOURCES", Unset, Plain, parse_resources,
        "the protected resources (APIs, MCP servers) gatehouse issues tokens for: `<resource URL> <scope> <scope>…`, entries separated by commas (e.g. `https://mcp.example.com/ mcp:tools mcp:admin`). A client names one as `resource` (RFC 8707) at the authorization and token endpoints and the access token's `aud` is then its URL; any other `resource` is refused with `invalid_target`. URLs are compared in one canonical form (scheme and host in any case, the default port, a trailing slash). Forward-auth rules `HOST[/PATH]=resource[:SCOPE]` protect them, and `/.well-known/oauth-protected-resource` describes them (RFC 9728)";
    DPOP_RESOURCES: Vec<String> = "GATEHOUSE_DPOP_RESOURCES", Unset, Plain, parse_resource_urls,
        "resources of `GATEHOUSE_RESOURCES` (their URLs, comma-separated) that take only access tokens bound to a key (DPoP, RFC 9449): the token endpoint issues tokens for them only with a DPoP proof (`invalid_dpop_proof` otherwise), their forward-auth rules let through nothing but such a token with a fresh proof (no bearer token, API key or browser session), and their metadata says `dpop_bound_access_tokens_required`";
    OAUTH_RESOURCES: Vec<crate::model::resource::Resource> = "GATEHOUSE_OAUTH_RESOURCES", Unset, Plain, parse_former_resources,
        "the former name of `GATEHOUSE_RESOURCES`, read when that is unset (setting both is an error): resource URLs alone, separated by commas or spaces";
    IMPERSONATION_NOTICE: bool = "GATEHOUSE_IMPERSONATION_NOTICE", Value("true"), Plain, parse_bool,
        "email the owner of an account when an admin impersonates it (`POST /admin/users/{key}/impersonate`), with the admin's reason";
    WEBAUTHN_RP_ID: String = "GATEHOUSE_WEBAUTHN_RP_ID", Computed("the public URL's host, when it is a domain name"), Plain, parse_rp_id,
        "the WebAuthn relying party id passkeys are bound to (a domain; an IP address cannot be one, so with an IP public URL passkeys are off until this is set)";
    WEBAUTHN_ORIGINS: Vec<String> = "GATEHOUSE_WEBAUTHN_ORIGINS", Unset, Plain, parse_origins,
        "origins besides the public URL's whose pages may use passkeys (comma-separated, e.g. https://app.example.com); each must be the relying party id or under it";
    MFA_REQUIRED: MfaPolicy = "GATEHOUSE_MFA_REQUIRED", Value("none"), Plain, parse_mfa_required,
        "`admins` or `all`: an account it covers that has no second factor can log in only to enrol one (other routes answer `403 mfa_enrolment_required`)";
    ENCRYPTION_KEY: secrecy::SecretString = "GATEHOUSE_ENCRYPTION_KEY", Computed("generated once and kept in the database"), Secret,
        parse_encryption_key,
        "32 random bytes, base64 (`openssl rand -base64 32`), that seal TOTP secrets at rest; set it (from a secret store) to keep them unreadable to whoever has only the database; secrets sealed by the generated key stay readable";
    AUDIT_RETENTION: Duration = "GATEHOUSE_AUDIT_RETENTION", Value("90days"), Plain, parse_duration,
        "how long audit events are kept";
    DEFAULT_LOCALE: crate::i18n::Locale = "GATEHOUSE_DEFAULT_LOCALE", Value("en"), Plain, parse_locale,
        "the language (`en`, `de`, `fr` or `es`) of emails to an account that has chosen none and of pages whose browser asks for none of these";
    PRODUCT_NAME: String = "GATEHOUSE_PRODUCT_NAME", Computed("the host of `GATEHOUSE_APP_URL`, else of the public URL"), Plain, parse_product_name,
        "the name emails and pages call the service by (\"your account at …\")";
    LOGO_URL: Url = "GATEHOUSE_LOGO_URL", Unset, Plain, parse_logo_url,
        "an `https://` image shown at the top of emails and pages";
    ACCENT_COLOR: String = "GATEHOUSE_ACCENT_COLOR", Value("#1f4f82"), Plain, parse_color,
        "the colour (`#rgb` or `#rrggbb`) of buttons and links in emails and pages";
    TEMPLATES_DIR: std::path::PathBuf = "GATEHOUSE_TEMPLATES_DIR", Unset, Plain, |v| Ok(std::path::PathBuf::from(v)),
        "a directory of the operator's texts (`en.ftl`, `de.ftl`, `fr.ftl`, `es.ftl`: any of gatehouse's messages) and email layouts (`email.html`, `email.txt`); checked at start, and a broken file stops it with its file and line";
    LOG: String = "GATEHOUSE_LOG", Value("info"), Plain, parse_log_filter,
        "log filter, e.g. `gatehouse=debug,info`";
    LOG_FORMAT: LogFormat = "GATEHOUSE_LOG_FORMAT", Value("text"), Plain, parse_log_format,
        "`text` or `json` (JSON lines)";
}

/// Names accepted without the `GATEHOUSE_` prefix, as many platforms and `.env` files provide
/// them; the `GATEHOUSE_` name wins where both are set.
pub const ALIASES: &[(&str, &str)] = &[
    ("DATABASE_URL", "GATEHOUSE_DATABASE_URL"),
    ("REDIS_URL", "GATEHOUSE_REDIS_URL"),
    ("ADMIN_EMAIL", "GATEHOUSE_ADMIN_EMAIL"),
    ("ADMIN_PASSWORD", "GATEHOUSE_ADMIN_PASSWORD"),
];

/// Names other services read that gatehouse does not need, with what to do instead.
pub const FOREIGN: &[(&str, &str)] = &[(
    "JWT_SECRET_KEY",
    "JWT_SECRET_KEY is ignored: gatehouse generates its signing keys, keeps them in the database (so every \
     replica signs alike) and rotates them with `gatehouse keys rotate`; no shared secret is needed",
)];

/// The README's configuration table: one row per setting, from the declarations above.
pub fn markdown_table() -> String {
    let mut table = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for setting in ALL {
        let default = match setting.default() {
            Fallback::Value(value) => format!("`{value}`"),
            Fallback::Computed(how) => how.to_owned(),
            Fallback::Unset => "unset".to_owned(),
        };
        table.push_str(&format!("| `{}` | {default} | {} |\n", setting.name(), setting.help()));
    }
    table
}

/// The setting named `name`, if gatehouse has one.
pub fn find(name: &str) -> Option<&'static dyn Described> {
    ALL.iter().copied().find(|setting| setting.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's configuration table is the declarations' own: `UPDATE_README=1 cargo test
    /// --lib config` rewrites it after a setting changes.
    #[test]
    fn the_readme_s_configuration_table_matches_the_declared_settings() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let section = readme.find("## Configuration").expect("the README has a Configuration section");
        let start = section + readme[section..].find("| variable | default | meaning |").expect("a settings table");
        let end = start + readme[start..].find("\n\n").unwrap_or(readme.len() - start) + 1;
        let (written, declared) = (&readme[start..end], markdown_table());
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(path, format!("{}{declared}{}", &readme[..start], &readme[end..])).unwrap();
            return;
        }
        // A row missing, undeclared, or with another default or meaning shows on one side.
        let only = |these: &str, not: &str| {
            these.lines().filter(|row| !not.lines().any(|other| other == *row)).collect::<Vec<_>>().join("\n")
        };
        assert!(
            written == declared,
            "README.md's configuration table is out of step with src/config/settings.rs; run \
             `UPDATE_README=1 cargo test --lib config` and commit it.\nOnly in the README:\n{}\nOnly declared:\n{}",
            only(written, &declared),
            only(&declared, written),
        );
    }
}
