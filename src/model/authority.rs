//! The one form of a host and port that rules are written in and requests are judged in.
//!
//! A host reaches a proxy spelt many ways that route to the same site: in any letter case, fully
//! qualified (`app.example.com.`), with its scheme's port written out or another port (Caddy
//! routes `app.example.com:1` to the `app.example.com` site), in Unicode or in its IDNA A-label
//! (`bücher.example`, `xn--bcher-kva.example`), an IPv6 address in any of its spellings. Every
//! such spelling is brought to one [`Authority`]: the host lower case, as IDNA's A-label, without
//! its trailing dot, an IP address in its shortest form, and the port always known (the scheme's
//! when none is written). What is not a host and a port (credentials `user@host`, a list, a path,
//! a percent escape, a space, an IPv6 address without brackets, a port out of range) is refused,
//! never guessed at. Forward-auth's rules and the forwarded request both go through
//! [`Authority::parse`], so they can only meet in this form.

use std::fmt;

/// A host and the port it is reached on, in its one canonical form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Authority {
    /// Lower case ASCII (IDNA A-labels), no trailing dot; an IPv6 address in brackets.
    host: String,
    /// The port as written, or the scheme's default.
    port: u16,
}

/// A host and perhaps a port, as a rule names them: the port only where the rule names one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    /// The canonical host; for `*.example.com` the parent `example.com`.
    host: String,
    /// Whether every subdomain of `host` is meant (and `host` itself is not).
    wildcard: bool,
    port: Option<u16>,
}

/// The scheme's port: 443 for `https`, 80 for anything else (`http`).
fn default_port(scheme: &str) -> u16 {
    if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 }
}

/// `host[:port]` split, the port as written (`None`: none written, or an empty one).
fn split(text: &str) -> Result<(&str, Option<&str>), &'static str> {
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or("an IPv6 address without its closing ]")?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("something follows an IPv6 address that is not a port")?),
        };
        return Ok((&text[..inside.len() + 2], port.filter(|p| !p.is_empty())));
    }
    match text.split_once(':') {
        Some((_, port)) if port.contains(':') => Err("an IPv6 address must be written in brackets"),
        Some((host, port)) => Ok((host, Some(port).filter(|p| !p.is_empty()))),
        None => Ok((text, None)),
    }
}

/// The canonical form of a host as written (without a port): see the module's comment.
fn canonical_host(host: &str) -> Result<String, &'static str> {
    if host.is_empty() {
        return Err("no host");
    }
    // What the URL standard would decode or read past: a host is letters, digits, dots,
    // hyphens (Unicode letters for IDNA), an IPv6 address in brackets, and nothing else.
    if host.chars().any(|c| c.is_whitespace() || c.is_control() || "@%/\\?#,;*\"'<>^`{|}=+&$!()~".contains(c)) {
        return Err("the host holds a character no host has");
    }
    let stripped = match host.strip_suffix('.') {
        Some(rest) if !rest.starts_with('[') => rest,
        _ => host,
    };
    if stripped.is_empty() || stripped.ends_with('.') || stripped.starts_with('.') || stripped.contains("..") {
        return Err("the host has an empty label");
    }
    let parsed = url::Host::parse(stripped).map_err(|_| "the host is not one (IDNA refuses it)")?;
    Ok(match parsed {
        url::Host::Domain(domain) => {
            // IDNA maps some look-alike characters to a dot; none may appear after it.
            if domain.is_empty() || domain.ends_with('.') || domain.contains("..") {
                return Err("the host has an empty label");
            }
            domain
        }
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => format!("[{ip}]"),
    })
}

fn port_of(text: &str) -> Result<u16, &'static str> {
    if !text.bytes().all(|b| b.is_ascii_digit()) || text.len() > 5 {
        return Err("the port is not a number");
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err("the port is out of range"),
        Ok(port) => Ok(port),
    }
}

impl Authority {
    /// A request's `host[:port]` (a `Host` or `X-Forwarded-Host` value) reached by `scheme`.
    pub fn parse(text: &str, scheme: &str) -> Result<Self, &'static str> {
        let (host, port) = split(text)?;
        let port = port.map(port_of).transpose()?.unwrap_or_else(|| default_port(scheme));
        Ok(Self { host: canonical_host(host)?, port })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How a URL of `scheme` writes it: the port left out when it is the scheme's.
    pub fn for_url(&self, scheme: &str) -> String {
        match self.port == default_port(scheme) {
            true => self.host.clone(),
            false => format!("{}:{}", self.host, self.port),
        }
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl HostPattern {
    /// A rule's host: `host[:port]` or `*.parent[:port]`, in any of the spellings a request
    /// may use.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (host, port) = split(rest)?;
        if wildcard && host.starts_with('[') {
            return Err("an IP address has no subdomains");
        }
        Ok(Self { host: canonical_host(host)?, wildcard, port: port.map(port_of).transpose()? })
    }

    /// Whether the pattern names `authority`'s host, whatever the port.
    pub fn names_host(&self, authority: &Authority) -> bool {
        match self.wildcard {
            false => authority.host == self.host,
            true => authority
                .host
                .strip_suffix(&self.host)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.') && !sub.starts_with('[')),
        }
    }

    /// Whether the pattern matches `authority`: its host, and its port when it names one.
    pub fn matches(&self, authority: &Authority) -> bool {
        self.names_host(authority) && self.port.is_none_or(|port| port == authority.port)
    }

    /// Whether it names a port.
    pub fn has_port(&self) -> bool {
        self.port.is_some()
    }

    /// Whether it means every subdomain of a host (`*.example.com`).
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wildcard = if self.wildcard { "*." } else { "" };
        match self.port {
            Some(port) => write!(f, "{wildcard}{}:{port}", self.host),
            None => write!(f, "{wildcard}{}", self.host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn https(text: &str) -> Result<Authority, &'static str> {
        Authority::parse(text, "https")
    }

    #[test]
    fn every_spelling_of_a_host_is_one_authority() {
        let canonical = https("app.example.com").unwrap();
        assert_eq!((canonical.host(), canonical.port()), ("app.example.com", 443));
        for spelling in
            ["APP.Example.COM", "app.example.com.", "app.example.com:443", "App.Example.Com.:443", "app.example.com:"]
        {
            assert_eq!(https(spelling).unwrap(), canonical, "{spelling}");
        }
        assert_eq!(https("app.example.com:8443").unwrap().port(), 8443);
        assert_eq!(https("app.example.com:80").unwrap().port(), 80);
        assert_eq!(Authority::parse("app.example.com", "http").unwrap().port(), 80);
        let idn = https("bücher.example").unwrap();
        assert_eq!(idn.host(), "xn--bcher-kva.example");
        assert_eq!(https("XN--BCHER-KVA.example.").unwrap(), idn);
        assert_eq!(https("BÜCHER.example").unwrap(), idn);
        assert_eq!(https("[0:0:0:0:0:0:0:1]:8080").unwrap(), https("[::1]:8080").unwrap());
        assert_eq!(https("[::1]").unwrap().host(), "[::1]");
        assert_eq!(https("127.0.0.1:1").unwrap().for_url("https"), "127.0.0.1:1");
        assert_eq!(canonical.for_url("https"), "app.example.com");
        assert_eq!(canonical.for_url("http"), "app.example.com:443");
    }

    #[test]
    fn what_is_not_a_host_and_a_port_is_refused() {
        for bad in [
            "",
            ":443",
            "user@app.example.com",
            "app.example.com@evil.example",
            "app.example.com, evil.example",
            "app.example.com evil.example",
            "app%2eexample.com",
            "app.example.com/admin",
            "app.example.com\\x",
            "app..example.com",
            ".app.example.com",
            "app.example.com..",
            "app.example.com:0",
            "app.example.com:65536",
            "app.example.com:+443",
            "app.example.com:44 3",
            "app.example.com:1:2",
            "::1",
            "[::1",
            "[::1]x",
            "app.example.com\t",
            "app.example.com?x",
            "app.example.com#x",
            "a\u{0}b",
        ] {
            assert!(https(bad).is_err(), "{bad:?} was taken");
        }
        // An empty port after brackets is no port, as after a name.
        assert_eq!(https("[::1]:").unwrap(), https("[::1]").unwrap());
    }

    #[test]
    fn a_pattern_names_its_port_only_when_written_and_a_wildcard_only_subdomains() {
        let plain = HostPattern::parse("App.Example.com.").unwrap();
        let ported = HostPattern::parse("app.example.com:8443").unwrap();
        let wild = HostPattern::parse("*.Example.ORG").unwrap();
        for spelling in ["app.example.com", "app.example.com:1", "APP.example.com.:8443"] {
            assert!(plain.matches(&https(spelling).unwrap()), "{spelling}");
        }
        assert!(ported.matches(&https("app.example.com:8443").unwrap()));
        assert!(!ported.matches(&https("app.example.com").unwrap()));
        assert!(ported.names_host(&https("app.example.com:1").unwrap()) && ported.has_port());
        assert!(wild.matches(&https("grafana.example.org:9").unwrap()));
        assert!(wild.matches(&https("a.b.EXAMPLE.org.").unwrap()));
        assert!(!wild.matches(&https("example.org").unwrap()));
        assert!(!wild.matches(&https("evilexample.org").unwrap()));
        assert_eq!(HostPattern::parse("bücher.example").unwrap(), HostPattern::parse("xn--bcher-kva.example").unwrap());
        assert!(HostPattern::parse("*.[::1]").is_err());
        assert!(HostPattern::parse("a*b.com").is_err());
    }
}
