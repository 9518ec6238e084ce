//! The guard against server-side request forgery: an admin's webhook URL must not make gatehouse
//! call into the network behind it (a cloud's metadata service, a database's admin page,
//! loopback). Registration refuses a URL whose host is, or resolves to, a loopback, link-local,
//! private or otherwise non-public address; and since a name may resolve elsewhere by the time
//! of delivery (DNS rebinding), every delivery resolves through [`Guard::resolver`], which
//! hands the HTTP client only addresses that pass, so the connection goes where was checked.
//! `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true` lifts it, for receivers on the same network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, LazyLock};

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

    /// Whether it lets private addresses through (`GATEHOUSE_WEBHOOK_ALLOW_PRIVATE`).
    pub fn allows_private(&self) -> bool {
        self.allow_private
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
                "the host is or resolves to {ip}, a loopback, private or otherwise special-purpose address ({}); \
                 webhooks go to public addresses unless GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true",
                special(*ip).map_or("reserved", |(_, name)| name)
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

/// The IANA special-purpose address registries (IPv4 and IPv6, as of 2025) and the blocks
/// outside them that no public host has: `(block, globally reachable, what it is)`. An address
/// is judged by the most specific block holding it, so that a globally reachable assignment
/// inside a reserved block (an anycast service in `192.0.0.0/24`) keeps its own answer.
const SPECIAL: &[(&str, bool, &str)] = &[
    ("0.0.0.0/8", false, "this network"),
    ("10.0.0.0/8", false, "private use"),
    ("100.64.0.0/10", false, "shared address space"),
    ("127.0.0.0/8", false, "loopback"),
    ("169.254.0.0/16", false, "link local"),
    ("172.16.0.0/12", false, "private use"),
    ("192.0.0.0/24", false, "IETF protocol assignments"),
    ("192.0.0.9/32", true, "port control protocol anycast"),
    ("192.0.0.10/32", true, "traversal using relays around NAT anycast"),
    ("192.0.2.0/24", false, "documentation (TEST-NET-1)"),
    ("192.31.196.0/24", true, "AS112-v4"),
    ("192.52.193.0/24", true, "automatic multicast tunneling"),
    ("192.88.99.0/24", false, "deprecated 6to4 relay anycast"),
    ("192.168.0.0/16", false, "private use"),
    ("192.175.48.0/24", true, "direct delegation AS112 service"),
    ("198.18.0.0/15", false, "benchmarking"),
    ("198.51.100.0/24", false, "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", false, "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", false, "multicast"),
    ("240.0.0.0/4", false, "reserved"),
    ("255.255.255.255/32", false, "limited broadcast"),
    ("::/0", false, "outside global unicast (2000::/3)"),
    ("2000::/3", true, "global unicast"),
    ("::1/128", false, "loopback"),
    ("::/128", false, "unspecified"),
    ("::ffff:0:0:0/96", false, "IPv4-translated"),
    ("64:ff9b::/96", false, "IPv4-IPv6 translation (NAT64)"),
    ("64:ff9b:1::/48", false, "IPv4-IPv6 translation, local use"),
    ("100::/64", false, "discard only"),
    ("100:0:0:1::/64", false, "dummy prefix"),
    ("2001::/23", false, "IETF protocol assignments"),
    ("2001::/32", false, "Teredo"),
    ("2001:1::1/128", true, "port control protocol anycast"),
    ("2001:1::2/128", true, "traversal using relays around NAT anycast"),
    ("2001:1::3/128", true, "DNS-SD service registration protocol anycast"),
    ("2001:2::/48", false, "benchmarking"),
    ("2001:3::/32", true, "automatic multicast tunneling"),
    ("2001:4:112::/48", true, "AS112-v6"),
    ("2001:10::/28", false, "deprecated ORCHID"),
    ("2001:20::/28", true, "ORCHIDv2"),
    ("2001:30::/28", true, "drone remote ID protocol entity tags"),
    ("2001:db8::/32", false, "documentation"),
    ("2002::/16", false, "6to4"),
    ("2620:4f:8000::/48", true, "direct delegation AS112 service"),
    ("3fff::/20", false, "documentation"),
    ("5f00::/16", false, "segment routing (SRv6) SIDs"),
    ("fc00::/7", false, "unique local"),
    ("fe80::/10", false, "link-local unicast"),
    ("fec0::/10", false, "deprecated site-local"),
    ("ff00::/8", false, "multicast"),
];

static BLOCKS: LazyLock<Vec<(ipnet::IpNet, bool, &'static str)>> = LazyLock::new(|| {
    SPECIAL
        .iter()
        .map(|(block, reachable, name)| (block.parse().expect("the table's blocks parse"), *reachable, *name))
        .collect()
});

/// The special-purpose block `ip` falls in (the most specific): `(globally reachable, name)`;
/// `None` for an ordinary IPv4 address. IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible
/// (`::a.b.c.d`) addresses reach the IPv4 host and are judged as it.
fn special(ip: IpAddr) -> Option<(bool, &'static str)> {
    let ip = match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    BLOCKS
        .iter()
        .filter(|(block, _, _)| block.contains(&ip))
        .max_by_key(|(block, _, _)| block.prefix_len())
        .map(|(_, reachable, name)| (*reachable, *name))
}

/// Whether `ip` is an address of the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    special(ip).is_none_or(|(reachable, _)| reachable)
}

/// The IPv4 address inside an IPv4-mapped or IPv4-compatible address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s[..6] {
        [0, 0, 0, 0, 0, 0] if !ip.is_loopback() && !ip.is_unspecified() => Some(tail),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    /// One address from each block of the registries, and the answer it must get.
    #[test]
    fn each_special_purpose_block_is_judged_by_its_reachability() {
        let cases: &[(&str, bool)] = &[
            ("0.1.2.3", false),
            ("10.1.2.3", false),
            ("100.64.0.1", false),
            ("100.127.255.254", false),
            ("127.0.0.1", false),
            ("169.254.169.254", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.0.0.1", false),
            ("192.0.0.9", true),
            ("192.0.0.10", true),
            ("192.0.2.1", false),
            ("192.31.196.1", true),
            ("192.52.193.1", true),
            ("192.88.99.1", false),
            ("192.168.1.1", false),
            ("192.175.48.1", true),
            ("198.18.0.1", false),
            ("198.19.255.255", false),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("224.0.0.251", false),
            ("239.255.255.250", false),
            ("240.0.0.1", false),
            ("255.255.255.255", false),
            ("::1", false),
            ("::", false),
            ("::ffff:0:a00:1", false),
            ("::ffff:0:808:808", false),
            ("64:ff9b::808:808", false),
            ("64:ff9b:1::1", false),
            ("100::1", false),
            ("100:0:0:1::1", false),
            ("2001::1", false),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false),
            ("2001:1::1", true),
            ("2001:1::2", true),
            ("2001:1::3", true),
            ("2001:1::4", false),
            ("2001:2::1", false),
            ("2001:3::1", true),
            ("2001:4:112::1", true),
            ("2001:10::1", false),
            ("2001:20::1", true),
            ("2001:30::1", true),
            ("2001:db8::1", false),
            ("2002:c0a8:101::1", false),
            ("2002:808:808::1", false),
            ("2620:4f:8000::1", true),
            ("3fff::1", false),
            ("5f00::1", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("fe80::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            ("4000::1", false),
            // IPv4-mapped and IPv4-compatible forms are judged as their IPv4 address.
            ("::ffff:127.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:8.8.8.8", true),
            ("::7f00:1", false),
            ("::a9fe:a9fe", false),
            ("::808:808", true),
            // Ordinary public addresses.
            ("93.184.216.34", true),
            ("1.1.1.1", true),
            ("2606:4700:4700::1111", true),
            ("2a00:1450:4001:80b::200e", true),
        ];
        for (address, public) in cases {
            assert_eq!(is_public(address.parse().unwrap()), *public, "{address}");
        }
        // Every block of the table parses and has a test address above.
        for (block, _, name) in SPECIAL {
            let net: ipnet::IpNet = block.parse().unwrap();
            let covered = cases.iter().any(|(address, _)| net.contains(&address.parse::<IpAddr>().unwrap()));
            assert!(covered, "{block} ({name}) has no case");
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
