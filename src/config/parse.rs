//! The value parsers: each turns a setting's text into its value, or into advice on how to
//! write it.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use url::Url;

use crate::accounts::redirect::RedirectPolicy;
use crate::limits::Budget;
use crate::model::resource::Resource;
use crate::secret_url::SecretUrl;
use crate::tokens::keys::KeyAlgorithm;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The one header a trusted proxy names the client in (`GATEHOUSE_FORWARDED_HEADER`); the
/// others are ignored, so that a proxy which passes a client's own copy of another header on
/// cannot let the client choose its address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For`, which nginx, Caddy, Traefik and most load balancers append to.
    #[default]
    XForwardedFor,
    /// RFC 7239's `Forwarded` (its `for=` parameters).
    Forwarded,
    /// `X-Real-IP`: one address, which the proxy sets (never appends to).
    XRealIp,
}

impl ForwardedHeader {
    /// The header's name, in lower case.
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
            ForwardedHeader::XRealIp => "x-real-ip",
        }
    }
}

pub(super) fn parse_forwarded_header(value: &str) -> Result<ForwardedHeader, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
        "forwarded" => Ok(ForwardedHeader::Forwarded),
        "x-real-ip" => Ok(ForwardedHeader::XRealIp),
        _ => Err("write x-forwarded-for, forwarded or x-real-ip: the header your proxy sets".into()),
    }
}

/// What forward-auth's `Remote-User` names (`GATEHOUSE_FORWARD_REMOTE_USER`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RemoteUser {
    /// The account's id, which never changes and never names anyone else.
    #[default]
    Id,
    /// The username, which is never given to another account once given (else the id).
    Username,
}

pub(super) fn parse_remote_user(value: &str) -> Result<RemoteUser, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "id" => Ok(RemoteUser::Id),
        "username" => Ok(RemoteUser::Username),
        _ => Err("write id (the account's id) or username (its username, else its id)".into()),
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

/// A duration, or `off` (zero).
/// The outbox lease: renewed every third of itself, so a few seconds at the least.
pub(super) fn parse_lease(value: &str) -> Result<Duration, String> {
    let lease = parse_duration(value)?;
    if lease < Duration::from_secs(3) {
        return Err("must be at least 3s (claims are renewed every third of the lease)".into());
    }
    Ok(lease)
}

/// `EdDSA`, `ES256` or `RS256`, as a JWT header writes them (any case).
pub(super) fn parse_algorithm(value: &str) -> Result<KeyAlgorithm, String> {
    KeyAlgorithm::ALL
        .into_iter()
        .find(|algorithm| algorithm.name().eq_ignore_ascii_case(value.trim()))
        .ok_or_else(|| "write EdDSA, ES256 or RS256".into())
}

/// Any non-empty text: usually the URL of the API the tokens are for.
pub(super) fn parse_audience(value: &str) -> Result<String, String> {
    match value.trim() {
        "" => Err("write the audience the tokens are for, e.g. https://api.example.com".into()),
        audience => Ok(audience.to_owned()),
    }
}

/// A sealing key: 32 bytes, base64 (standard or URL-safe, padded or not).
pub(super) fn parse_encryption_key(value: &str) -> Result<secrecy::SecretString, String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let trimmed = value.trim();
    let bytes = STANDARD
        .decode(trimmed)
        .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed.trim_end_matches('=')))
        .map_err(|_| "write 32 random bytes in base64, e.g. the output of `openssl rand -base64 32`".to_owned())?;
    if bytes.len() != crate::tokens::sealing::KEY_LEN {
        return Err(format!(
            "is {} bytes; a key is exactly 32 random bytes in base64 (`openssl rand -base64 32`)",
            bytes.len()
        ));
    }
    Ok(secrecy::SecretString::from(trimmed.to_owned()))
}

/// The sealing key's bytes, from a value [`parse_encryption_key`] accepted.
pub fn encryption_key_bytes(value: &secrecy::SecretString) -> Option<[u8; 32]> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use secrecy::ExposeSecret;
    let text = value.expose_secret();
    let bytes = STANDARD.decode(text).or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('='))).ok()?;
    bytes.try_into().ok()
}

pub(super) fn parse_grace(value: &str) -> Result<Duration, String> {
    match value {
        "off" | "0" | "0s" => Ok(Duration::ZERO),
        other => parse_duration(other),
    }
}

pub(super) fn parse_count<T: TryFrom<u64>>(value: &str, min: u64, max: u64) -> Result<T, String> {
    let advice = || format!("write a whole number from {min} to {max}");
    let n: u64 = value.parse().map_err(|_| advice())?;
    if !(min..=max).contains(&n) {
        return Err(advice());
    }
    T::try_from(n).map_err(|_| advice())
}

/// A budget like `60/1m`: that many requests per period, all of which may come at once.
pub fn parse_budget(value: &str) -> Result<Budget, String> {
    let advice = || "write a count and a period, like 60/1m or 5/1h".to_owned();
    let (count, period) = value.split_once('/').ok_or_else(advice)?;
    let count = parse_count::<u32>(count.trim(), 1, 1_000_000).map_err(|_| advice())?;
    let period = parse_duration(period.trim()).map_err(|_| advice())?;
    Ok(Budget { count, period })
}

pub(super) fn parse_switch(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err("write on or off".into()),
    }
}

/// `open` (true) or `closed` (false).
pub(super) fn parse_signup(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "open" => Ok(true),
        "closed" => Ok(false),
        _ => Err("write open or closed".into()),
    }
}

/// Who may create organizations (`GATEHOUSE_ORG_CREATION`): `true` for anyone.
pub(super) fn parse_org_creation(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "anyone" => Ok(true),
        "admins" => Ok(false),
        _ => Err("write anyone or admins".into()),
    }
}

/// Whether client apps may register themselves (`GATEHOUSE_CLIENT_REGISTRATION`, RFC 7591).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientRegistration {
    /// Only admins and operators register clients.
    #[default]
    Off,
    /// With an initial access token an admin issued.
    Token,
    /// Anyone, within the per-IP budget.
    Open,
}

pub(super) fn parse_client_registration(value: &str) -> Result<ClientRegistration, String> {
    match value.to_ascii_lowercase().as_str() {
        "off" => Ok(ClientRegistration::Off),
        "token" => Ok(ClientRegistration::Token),
        "open" => Ok(ClientRegistration::Open),
        _ => Err("write off, token or open".into()),
    }
}

/// The resources (RFC 8707) access tokens may be issued for: absolute `https` URIs (or `http`
/// to a loopback address), without fragment, as a client will name them.
pub(super) fn parse_resources(value: &str) -> Result<Vec<Resource>, String> {
    let entries = value.split(',').map(str::trim).filter(|entry| !entry.is_empty()).map(|entry| {
        let mut words = entry.split_whitespace();
        let url = words.next().unwrap_or_default();
        let scopes: Vec<String> = words.map(str::to_owned).collect();
        if let Some(scope) = scopes.iter().find(|scope| scope.contains("://")) {
            return Err(format!(
                "{scope:?} is a URL where a scope of {url} was expected: separate resources by commas"
            ));
        }
        Ok((url, scopes))
    });
    listed(entries)
}

/// Resource URLs, comma-separated, each in its canonical form (`GATEHOUSE_DPOP_RESOURCES`).
pub(super) fn parse_resource_urls(value: &str) -> Result<Vec<String>, String> {
    value.split(',').map(str::trim).filter(|url| !url.is_empty()).map(crate::model::resource::canonical).collect()
}

/// `GATEHOUSE_OAUTH_RESOURCES`, the former name: URLs alone, separated by commas or spaces.
pub(super) fn parse_former_resources(value: &str) -> Result<Vec<Resource>, String> {
    listed(split_list(value).map(|url| Ok((url, Vec::new()))))
}

/// The resources of `entries` (each a URL and its scopes), none listed twice.
fn listed<'a>(entries: impl Iterator<Item = Result<(&'a str, Vec<String>), String>>) -> Result<Vec<Resource>, String> {
    let mut resources: Vec<Resource> = Vec::new();
    for entry in entries {
        let (url, scopes) = entry?;
        let resource = Resource::new(url, scopes)
            .map_err(|why| format!("{why}; write `<resource URL> <scope> <scope>…`, entries separated by commas"))?;
        if resources.iter().any(|r| r.url() == resource.url()) {
            return Err(format!("{url:?} is listed twice (as {})", resource.url()));
        }
        resources.push(resource);
    }
    Ok(resources)
}

/// Which accounts must have a second factor (`GATEHOUSE_MFA_REQUIRED`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MfaPolicy {
    #[default]
    None,
    Admins,
    All,
}

pub(super) fn parse_mfa_required(value: &str) -> Result<MfaPolicy, String> {
    match value.to_ascii_lowercase().as_str() {
        "none" => Ok(MfaPolicy::None),
        "admins" => Ok(MfaPolicy::Admins),
        "all" => Ok(MfaPolicy::All),
        _ => Err("write none, admins or all".into()),
    }
}

pub(super) fn parse_bool(value: &str) -> Result<bool, String> {
    parse_switch(value).map_err(|_| "write true or false".into())
}

/// `IP:port`; `localhost:port` (the loopback address); `:port` (every interface, as most
/// servers read it).
pub(super) fn parse_bind(value: &str) -> Result<SocketAddr, String> {
    let advice = || "write an IP address and port, like 127.0.0.1:8080, localhost:8080 or :8080".to_owned();
    if let Ok(address) = value.parse::<SocketAddr>() {
        return Ok(address);
    }
    let (host, port) = value.rsplit_once(':').ok_or_else(advice)?;
    let port: u16 = port.parse().map_err(|_| advice())?;
    match host {
        "" => Ok(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))),
        "localhost" => Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
        _ => Err(advice()),
    }
}

/// The public URL when none is set: `http://` + the bind address, but `localhost` where the
/// bind was written `localhost:port` or listens on every interface (a link to `0.0.0.0`
/// reaches nothing).
pub(super) fn default_public_url(written_bind: Option<&str>, bind: SocketAddr) -> String {
    let localhost = written_bind.is_some_and(|written| written.starts_with("localhost:"));
    if localhost || bind.ip().is_unspecified() {
        format!("http://localhost:{}", bind.port())
    } else {
        format!("http://{bind}")
    }
}

pub(super) fn parse_public_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|_| "write an absolute URL, like https://auth.example.com".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("write an http:// or https:// URL with a host, like https://auth.example.com".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("leave out the query and fragment; links are built by appending paths".into());
    }
    Ok(url)
}

pub(super) fn parse_database_url(value: &str) -> Result<SecretUrl, String> {
    let advice = "write sqlite://path/to/file.db, postgres://user:pass@host/db, mysql://user:pass@host/db or \
                  dynamodb://<table-prefix>";
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
        #[cfg(feature = "dynamodb")]
        "dynamodb" => match crate::store::dynamo::Target::from_url(value) {
            Ok(_) => Ok(SecretUrl::new(value)),
            Err(error) => Err(format!("{error:#}")),
        },
        _ => Err(advice.into()),
    }
}

pub(super) fn parse_url_with_schemes(value: &str, schemes: &[&str], example: &str) -> Result<SecretUrl, String> {
    match Url::parse(value) {
        Ok(url) if schemes.contains(&url.scheme()) && url.host().is_some() => Ok(SecretUrl::new(value)),
        _ => Err(format!("write a URL like {example}")),
    }
}

pub(super) fn parse_redis_prefix(value: &str) -> Result<String, String> {
    if value.len() <= 64 && value.chars().all(|c| c.is_ascii_graphic()) {
        Ok(value.to_owned())
    } else {
        Err("write up to 64 visible characters without spaces, like gatehouse: or app1:auth:".into())
    }
}

pub(super) fn parse_mail_from(value: &str) -> Result<String, String> {
    value
        .parse::<lettre::message::Mailbox>()
        .map(|_| value.to_owned())
        .map_err(|_| "write an address, like no-reply@example.com or Name <no-reply@example.com>".into())
}

pub(super) fn parse_log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_owned())
        .map_err(|e| format!("{e}; write a filter like info or gatehouse=debug,info"))
}

pub(super) fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("write text or json".into()),
    }
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split([',', ' ']).map(str::trim).filter(|item| !item.is_empty())
}

pub(super) fn parse_proxies(value: &str) -> Result<Vec<ipnet::IpNet>, String> {
    split_list(value)
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{item:?} is not an IP address or CIDR; write a list like 10.0.0.0/8,127.0.0.1"))
        })
        .collect()
}

/// DNS servers: IP addresses, each with a port or port 53.
pub(super) fn parse_resolvers(value: &str) -> Result<Vec<std::net::SocketAddr>, String> {
    split_list(value)
        .map(|item| {
            item.parse::<std::net::SocketAddr>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
                .map_err(|_| format!("{item:?} is not a DNS server's address; write a list like 1.1.1.1,[::1]:5353"))
        })
        .collect()
}

/// A cookie's `Domain`: a domain name, lower case, without a leading dot, scheme or port.
pub(super) fn parse_cookie_domain(value: &str) -> Result<String, String> {
    let domain = value.trim().trim_start_matches('.').to_ascii_lowercase();
    let valid = domain.contains('.')
        && domain
            .split('.')
            .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if valid { Ok(domain) } else { Err(format!("{value:?} is not a domain name; write one like example.com")) }
}

/// URL prefixes for `redirect_to` (see [`crate::accounts::redirect`]).
pub(super) fn parse_redirect_allow(value: &str) -> Result<Vec<Url>, String> {
    split_list(value).map(RedirectPolicy::prefix).collect()
}

/// A WebAuthn relying party id: a domain name, lower case, without scheme, port or path.
pub(super) fn parse_rp_id(value: &str) -> Result<String, String> {
    let id = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = !id.is_empty()
        && id.parse::<std::net::IpAddr>().is_err()
        && id.split('.').all(|label| {
            !label.is_empty() && label.len() <= 63 && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(id)
    } else {
        Err("write a domain name, like example.com or localhost (no scheme, port or IP address)".into())
    }
}

pub(super) fn parse_origins(value: &str) -> Result<Vec<String>, String> {
    split_list(value)
        .map(|item| match Url::parse(item) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() && url.path() == "/" => {
                Ok(url.origin().ascii_serialization())
            }
            _ => Err(format!(
                "{item:?} is not an origin; write a list like https://app.example.com,http://localhost:3000"
            )),
        })
        .collect()
}

pub(super) fn parse_locale(value: &str) -> Result<crate::i18n::Locale, String> {
    crate::i18n::Locale::parse(value).ok_or_else(|| "write one of en, de, fr or es".into())
}

pub(super) fn parse_product_name(value: &str) -> Result<String, String> {
    let name = value.trim();
    match name.chars().count() {
        1..=64 if !name.chars().any(char::is_control) => Ok(name.to_owned()),
        _ => Err("write a name of 1 to 64 characters, like Acme or Acme Cloud".into()),
    }
}

pub(super) fn parse_logo_url(value: &str) -> Result<Url, String> {
    match Url::parse(value) {
        Ok(url) if url.scheme() == "https" && url.host().is_some() => Ok(url),
        _ => Err("write an https:// address of an image, like https://example.com/logo.png".into()),
    }
}

pub(super) fn parse_color(value: &str) -> Result<String, String> {
    let color = value.trim().to_ascii_lowercase();
    match crate::i18n::is_hex_color(&color) {
        true => Ok(color),
        false => Err("write a colour as #rgb or #rrggbb, like #1f4f82".into()),
    }
}

/// Whether a URL names this machine: `localhost` (or a name under it), or a loopback address.
pub(super) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost" || name.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_bind_address_takes_localhost_and_a_bare_port() {
        assert_eq!(parse_bind("127.0.0.1:8080").unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(parse_bind("[::1]:8080").unwrap().to_string(), "[::1]:8080");
        assert_eq!(parse_bind("localhost:8080").unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(parse_bind(":8080").unwrap().to_string(), "0.0.0.0:8080");
        for bad in ["localhost", "example.com:8080", ":http", "8080"] {
            assert!(parse_bind(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_default_public_url_names_a_host_people_can_reach() {
        let url = |written: &str| default_public_url(Some(written), parse_bind(written).unwrap());
        assert_eq!(url("127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(url("192.0.2.7:80"), "http://192.0.2.7:80");
        assert_eq!(url("localhost:9000"), "http://localhost:9000");
        assert_eq!(url(":8080"), "http://localhost:8080");
        assert_eq!(url("0.0.0.0:8080"), "http://localhost:8080");
        assert_eq!(url("[::]:8080"), "http://localhost:8080");
    }
}
