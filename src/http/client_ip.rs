//! The client's IP address: the TCP peer, unless the peer is a trusted proxy, in which case the
//! one header the operator named (`GATEHOUSE_FORWARDED_HEADER`: `X-Forwarded-For`, RFC 7239's
//! `Forwarded`, or `X-Real-IP`) is read from the right, skipping trusted hops, and the first
//! address not in the trusted list is the client. The other headers are never read: a proxy
//! that appends to one header passes a client's own copy of the others on, and reading those
//! would let the client choose its address. Whatever a client writes into the named header
//! itself ends up left of the address the trusted proxy appended.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::config::ForwardedHeader;

/// The trusted proxies and the header they name the client in.
#[derive(Clone, Debug, Default)]
pub struct Proxies {
    pub trusted: Vec<IpNet>,
    pub header: ForwardedHeader,
}

impl Proxies {
    /// The client address for a request from `peer` carrying `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = canonical(peer);
        for hop in hops(headers, self.header).iter().rev() {
            match hop {
                Some(ip) if self.trusts(*ip) => client = *ip,
                Some(ip) => return *ip,
                // An unknown or obfuscated hop: the last trusted proxy is all that is known.
                None => return client,
            }
        }
        client
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&canonical(ip)))
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The hops the named header lists, left to right (every copy of it, in order); `None` for a
/// hop that is not an address.
fn hops(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let values = headers.get_all(header.name()).iter().map(|v| v.to_str().ok());
    match header {
        ForwardedHeader::Forwarded => values
            .flat_map(|v| v.unwrap_or("for=unknown").split(','))
            .map(|element| {
                let node = element.split(';').find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim().eq_ignore_ascii_case("for").then(|| parse_node(value))
                });
                node.flatten()
            })
            .collect(),
        ForwardedHeader::XForwardedFor | ForwardedHeader::XRealIp => {
            values.flat_map(|v| v.unwrap_or("unknown").split(',')).map(parse_node).collect()
        }
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(value: &str) -> Option<IpAddr> {
    let value = value.trim().trim_matches('"');
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok()).map(canonical);
    }
    value.rsplit_once(':').and_then(|(ip, _)| ip.parse::<std::net::Ipv4Addr>().ok()).map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str], header: ForwardedHeader) -> Proxies {
        Proxies { trusted: list.iter().map(|s| s.parse().unwrap()).collect(), header }
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8"), ("x-real-ip", "9.9.9.9")]);
        for header in [XFF, ForwardedHeader::Forwarded, ForwardedHeader::XRealIp] {
            assert_eq!(proxies(&[], header).client(ip("203.0.113.9"), &h), ip("203.0.113.9"));
            assert_eq!(proxies(&["10.0.0.0/8"], header).client(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        }
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_forged_entries_stay_left() {
        let trusted = proxies(&["10.0.0.0/8", "127.0.0.1/32"], XFF);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.1.1")]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &h), ip("198.51.100.7"));
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(trusted.client(ip("::ffff:127.0.0.1"), &h), ip("198.51.100.7"));
        // Two copies of the header read as one list, in order.
        let h = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn only_the_named_header_is_read() {
        // A client's own Forwarded and X-Real-IP, passed on by a proxy that appends to
        // X-Forwarded-For, choose nothing.
        let h = headers(&[
            ("forwarded", "for=6.6.6.6"),
            ("x-real-ip", "7.7.7.7"),
            ("x-forwarded-for", "8.8.8.8, 198.51.100.7"),
        ]);
        assert_eq!(proxies(&["10.0.0.0/8"], XFF).client(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        assert_eq!(proxies(&["10.0.0.0/8"], ForwardedHeader::Forwarded).client(ip("10.0.0.1"), &h), ip("6.6.6.6"));
        assert_eq!(proxies(&["10.0.0.0/8"], ForwardedHeader::XRealIp).client(ip("10.0.0.1"), &h), ip("7.7.7.7"));
        // The named header absent: the proxy is all that is known.
        let h = headers(&[("forwarded", "for=6.6.6.6"), ("x-real-ip", "7.7.7.7")]);
        assert_eq!(proxies(&["10.0.0.0/8"], XFF).client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_forms_are_read() {
        let trusted = proxies(&["10.0.0.0/8"], ForwardedHeader::Forwarded);
        let h = headers(&[("forwarded", r#"for="[2001:db8::1]:4711";proto=https, for=10.0.0.2"#)]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &h), ip("2001:db8::1"));
        let h = headers(&[("forwarded", "for=192.0.2.60:8080;by=10.0.0.1")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &h), ip("192.0.2.60"));
        // An element without `for` is an unknown hop, not one to skip.
        let h = headers(&[("forwarded", "for=6.6.6.6, proto=https")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn an_unknown_hop_or_no_header_leaves_the_proxy() {
        let trusted = proxies(&["10.0.0.0/8"], XFF);
        let h = headers(&[("x-forwarded-for", "unknown")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        assert_eq!(trusted.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        let h = headers(&[("x-forwarded-for", "10.0.0.5, 10.0.0.6")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &h), ip("10.0.0.5"));
    }
}
