//! The guard against server-side request forgery: an admin's webhook URL must not make gatehouse
//! call into the network behind it (a cloud's metadata service, a database's admin page,
//! loopback). Registration refuses a URL whose host is, or resolves to, a loopback, link-local,
//! private or otherwise non-public address; and since a name may resolve elsewhere by the time
//! of delivery (DNS rebinding), every delivery resolves through [`Guard::resolver`], which
//! hands the HTTP client only addresses that pass, so the connection goes where was checked.
//! `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true` lifts it, for receivers on the same network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// The longest URL an endpoint may have.
pub const URL_MAX: usize = 2048;
/// How long registration waits for a name to resolve.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
pub struct Guard {
    allow_private: bool,
}

impl Guard {
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }

    /// Whether a delivery may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }

    /// Checks a URL an admin registers: its form, then where its host points now. The reason
    /// when it may not be used.
    pub async fn check(&self, url: &str) -> Result<Url, String> {
        let url = parse(url)?;
        match url.host() {
            Some(Host::Ipv4(ip)) => self.verdict(&[IpAddr::V4(ip)])?,
            Some(Host::Ipv6(ip)) => self.verdict(&[IpAddr::V6(ip)])?,
            Some(Host::Domain(name)) => {
                let port = url.port_or_known_default().unwrap_or(443);
                let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)))
                    .await
                    .map_err(|_| format!("the host {name:?} was not resolved within {RESOLVE_TIMEOUT:?}"))?;
                let found: Vec<IpAddr> = lookup
                    .map_err(|e| format!("the host {name:?} cannot be resolved ({e})"))?
                    .map(|addr| addr.ip())
                    .collect();
                self.verdict(&found)?;
            }
            None => return Err("the URL names no host".into()),
        }
        Ok(url)
    }

    fn verdict(&self, addresses: &[IpAddr]) -> Result<(), String> {
        match addresses.iter().find(|ip| !self.allows(**ip)) {
            None if !addresses.is_empty() => Ok(()),
            None => Err("the host resolves to no address".into()),
            Some(ip) => Err(format!(
                "the host is or resolves to {ip}, a loopback, link-local or private address; webhooks go to public \
                 addresses unless GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true"
            )),
        }
    }

    /// The resolver deliveries use: a name's addresses that pass the guard, or an error when
    /// none does.
    pub fn resolver(&self) -> Arc<Guard> {
        Arc::new(*self)
    }
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = *self;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|addr| guard.allows(addr.ip())).collect();
            if allowed.is_empty() {
                let why = format!("{} resolves to no public address", name.as_str());
                return Err(why.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// A URL's form: `http` or `https`, a host, no credentials, at most [`URL_MAX`] bytes.
fn parse(text: &str) -> Result<Url, String> {
    if text.len() > URL_MAX {
        return Err(format!("at most {URL_MAX} characters"));
    }
    let url = Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    if url.as_str().len() > URL_MAX {
        return Err(format!("at most {URL_MAX} characters, written out (percent-encoded, the host in punycode)"));
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err("an http or https URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("no credentials in the URL; the signature proves the sender".into());
    }
    if url.fragment().is_some() {
        return Err("no fragment (#…): it never reaches the receiver".into());
    }
    Ok(url)
}

/// Whether `ip` is an address of the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, 198.18.0.0/15.
        || (a == 198 && (b == 18 || b == 19))
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local, fc00::/7.
        || (first & 0xfe00) == 0xfc00
        // Link-local, fe80::/10, and the old site-local, fec0::/10.
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // Documentation, 2001:db8::/32.
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// The IPv4 address inside an IPv4-mapped, IPv4-compatible or NAT64 (64:ff9b::/96) address,
/// which reaches that IPv4 host and is judged as it.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s[..6] {
        [0, 0, 0, 0, 0, 0] if !ip.is_loopback() && !ip.is_unspecified() => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0] => Some(tail),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "::7f00:1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private} passed");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public} was refused");
        }
    }

    #[tokio::test]
    async fn registration_refuses_private_hosts_and_odd_urls_with_a_reason() {
        let guard = Guard::new(false);
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://2130706433/",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "not a url",
        ] {
            let refused = guard.check(url).await;
            assert!(refused.is_err(), "{url} was accepted");
        }
        let why = guard.check("http://10.0.0.5/hook").await.unwrap_err();
        assert!(why.contains("10.0.0.5") && why.contains("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE"), "{why}");
        assert!(Guard::new(true).check("http://127.0.0.1:9/hook").await.is_ok());
    }

    #[tokio::test]
    async fn the_delivery_resolver_hands_out_no_private_address() {
        let refused = Guard::new(false).resolve(Name::from_str("localhost").unwrap()).await;
        assert!(refused.is_err());
        let mut allowed = Guard::new(true).resolve(Name::from_str("localhost").unwrap()).await.unwrap();
        assert!(allowed.all(|addr| addr.ip().is_loopback()));
    }
}
