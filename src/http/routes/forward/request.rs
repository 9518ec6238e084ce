//! The request a forward-auth proxy asks about, from its `X-Forwarded-Method`, `-Proto`,
//! `-Host` and `-Uri` (or nginx's `X-Original-URL`), and the one form of it the rules judge.
//!
//! The app behind the proxy may read a URL otherwise than the rules do: a servlet container
//! drops `;` parameters and resolves `..` after decoding, IIS turns `\` into `/`, others decode
//! `%2f` or collapse `//`. A rule is only as good as the agreement between the path it judged
//! and the path the app routes, so any path whose meaning depends on the reader is refused
//! (`403`) rather than judged: a `;` parameter, an empty segment, a `.` or `..` segment (raw
//! or percent-encoded, in any case), a backslash, an encoded slash, backslash or percent sign,
//! a percent-encoded letter, digit or `-._~` (which RFC 3986 normalisation decodes and a plain
//! comparison does not), a control character, a bad escape, escaped bytes that are not UTF-8
//! (an overlong `%c0%ae` is a dot to some decoders) or that decode to a character Unicode
//! normalisation changes (a fullwidth `%ef%bc%8e` is a dot after NFKC), or a header that is not
//! text. What remains means the same to every reader, and is the path judged.
//!
//! The host is judged in its one canonical form ([`Authority`]: any case, a trailing dot, a
//! port, Unicode or IDNA all name the same host), and a forwarded header given twice, whose
//! copies a proxy and the app might read differently, is refused.

use axum::http::HeaderMap;
use url::Url;

use crate::model::authority::Authority;

/// The request the proxy asks about.
#[derive(Debug)]
pub(super) struct Target {
    pub method: String,
    /// Its host and port, as the rules are looked up by.
    pub authority: Authority,
    pub url: Url,
}

/// The headers a proxy names the request with: each may be given once.
const FORWARDED: [&str; 6] = [
    "x-forwarded-method",
    "x-original-method",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-uri",
    "x-original-url",
];

/// What a trusted proxy's headers say of the request: nothing, the request, or something that
/// cannot be the request a proxy forwards (the app might see another URL than the one judged).
#[derive(Debug)]
pub(super) enum Forwarded {
    Absent,
    Request(Target),
    Suspicious(&'static str),
}

/// Why a path's meaning depends on who reads it, if it does (see the module's comment).
pub(super) fn ambiguous_path(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("the forwarded path does not start with /");
    }
    if path.contains(';') {
        return Some("the forwarded path has a ; parameter");
    }
    if path.contains('\\') {
        return Some("the forwarded path has a backslash");
    }
    if path.bytes().any(|b| b.is_ascii_control() || !b.is_ascii()) {
        return Some("the forwarded path has a control character");
    }
    let bytes = path.as_bytes();
    for (at, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'%') {
        let escaped = path.get(at + 1..at + 3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(c) = escaped.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
            return Some("the forwarded path has a bad % escape");
        };
        if c.is_ascii_alphanumeric() || b"-._~/\\%;".contains(&c) || c.is_ascii_control() {
            return Some("the forwarded path escapes a letter, digit, separator, dot, % or control character");
        }
    }
    if let Some(why) = unstable_text(path) {
        return Some(why);
    }
    // No escaped dot remains, so a dot segment can only be written plainly. The last segment
    // may be empty: `/app/` is an ordinary directory.
    let segments: Vec<&str> = path[1..].split('/').collect();
    let (last, before) = segments.split_last().unwrap_or((&"", &[]));
    if before.iter().any(|s| matches!(*s, "" | "." | "..")) || matches!(*last, "." | "..") {
        return Some("the forwarded path has an empty, . or .. segment");
    }
    None
}

/// Why the bytes a path escapes are not text that means one thing to every reader: not UTF-8
/// (overlong forms, lone continuation bytes, `%ff`), or text that Unicode's compatibility
/// normalisation (NFKC, which some apps and file systems apply) would change.
fn unstable_text(path: &str) -> Option<&'static str> {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    let Ok(text) = std::str::from_utf8(&decoded) else {
        return Some("the forwarded path escapes bytes that are not UTF-8");
    };
    if !unicode_normalization::is_nfkc(text) {
        return Some("the forwarded path escapes a character that Unicode normalisation changes");
    }
    None
}

/// The forwarded request, from a trusted proxy's headers.
pub(super) fn forwarded(headers: &HeaderMap) -> Forwarded {
    // Two copies of one header: the proxy may have judged one and the app read the other.
    if FORWARDED.iter().any(|name| headers.get_all(*name).iter().nth(1).is_some()) {
        return Forwarded::Suspicious("a forwarded header is given more than once");
    }
    // A header that is there but is not text is a request this check cannot read: refused,
    // never taken for absent.
    let mut unreadable = false;
    // UTF-8, so a host written in Unicode is read (and brought to its IDNA form); a path in
    // anything but ASCII is refused below.
    let mut get = |name: &str| match headers.get(name).map(|v| std::str::from_utf8(v.as_bytes())) {
        None => None,
        Some(Ok(text)) => Some(text.trim()).filter(|v| !v.is_empty()),
        Some(Err(_)) => {
            unreadable = true;
            None
        }
    };
    let method = get("x-forwarded-method").or(get("x-original-method")).unwrap_or("GET").to_ascii_uppercase();
    let (host, proto, uri, original) =
        (get("x-forwarded-host"), get("x-forwarded-proto"), get("x-forwarded-uri"), get("x-original-url"));
    if unreadable {
        return Forwarded::Suspicious("a forwarded header is not text");
    }
    let from_parts = match host {
        None => None,
        Some(host) => {
            let (proto, uri) = (proto.unwrap_or("https"), uri.unwrap_or("/"));
            if !matches!(proto, "http" | "https") || !uri.starts_with('/') {
                return Forwarded::Suspicious("the forwarded scheme or path is not one");
            }
            // The host alone: a `/` or `?` in it would move part of it into the path.
            if Authority::parse(host, proto).is_err() {
                return Forwarded::Suspicious("the forwarded host is not a host");
            }
            Some(format!("{proto}://{host}{uri}"))
        }
    };
    let text = match (from_parts, original.map(str::to_owned)) {
        (None, None) => return Forwarded::Absent,
        (Some(parts), Some(original)) if parts != original => {
            return Forwarded::Suspicious("X-Original-URL and X-Forwarded-* name different requests");
        }
        (Some(url), _) | (None, Some(url)) => url,
    };
    if text.contains('#') {
        return Forwarded::Suspicious("the forwarded URL holds a fragment");
    }
    // The authority and the path as written: a `?` or `@` in the authority would move the real
    // path into a query or the host into credentials.
    let Some((scheme, rest)) = text.split_once("://") else {
        return Forwarded::Suspicious("the forwarded URL is not one");
    };
    if !matches!(scheme, "http" | "https") {
        return Forwarded::Suspicious("the forwarded scheme or path is not one");
    }
    let (written, path_and_query) = rest.find('/').map_or((rest, "/"), |slash| rest.split_at(slash));
    let authority = match Authority::parse(written, scheme) {
        Ok(authority) => authority,
        Err(why) => {
            tracing::debug!(why, "the forwarded host is not a host");
            return Forwarded::Suspicious("the forwarded host is not a host");
        }
    };
    let raw_path = path_and_query.split('?').next().unwrap_or_default();
    if let Some(why) = ambiguous_path(raw_path) {
        return Forwarded::Suspicious(why);
    }
    let canonical = format!("{scheme}://{}{path_and_query}", authority.for_url(scheme));
    let Ok(url) = Url::parse(&canonical) else { return Forwarded::Suspicious("the forwarded URL does not parse") };
    // What is left means one thing to every reader; the parser must agree, or it is refused.
    if url.path() != raw_path || url.host_str() != Some(authority.host()) {
        return Forwarded::Suspicious("the forwarded URL reads differently once parsed");
    }
    Forwarded::Request(Target { method, authority, url })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    use super::*;
    use crate::config::forward::{Access, ForwardRules};

    fn rules() -> ForwardRules {
        crate::config::forward::parse_forward_rules(
            "app.test/admin=group:admin, app.test/health=public, app.test/public=public, app.test/api/private=group:staff",
        )
        .unwrap()
    }

    fn ask(uri: &str) -> Forwarded {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-host", HeaderValue::from_static("app.test"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        headers.insert("x-forwarded-uri", HeaderValue::from_str(uri).unwrap());
        forwarded(&headers)
    }

    /// How a servlet container reads a path: `;` parameters dropped from each segment, every
    /// escape decoded, `\` as `/`, empty segments collapsed, dot segments resolved.
    fn servlet(path: &str) -> String {
        let without_params: Vec<&str> = path.split('/').map(|s| s.split(';').next().unwrap_or_default()).collect();
        let decoded = percent_decode(&without_params.join("/")).replace('\\', "/");
        resolve(decoded.split('/').filter(|s| !s.is_empty()))
    }

    /// RFC 3986 normalisation: unreserved escapes decoded, dot segments (also escaped ones)
    /// removed; everything else as written.
    fn rfc3986(path: &str) -> String {
        let mut out = String::new();
        let mut rest = path;
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            let hex = rest.get(at + 1..at + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(c) if c.is_ascii_alphanumeric() || b"-._~".contains(&c) => out.push(c as char),
                Some(_) => out.push_str(&rest[at..at + 3].to_ascii_uppercase()),
                None => out.push('%'),
            }
            rest = &rest[(at + if hex.is_some() { 3 } else { 1 })..];
        }
        out.push_str(rest);
        let trailing = out.ends_with('/');
        let mut resolved = resolve(out.split('/').skip(1));
        if trailing && resolved != "/" {
            resolved.push('/');
        }
        resolved
    }

    fn percent_decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match (bytes[i], text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'%', Some(c)) => {
                    out.push(c);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn resolve<'a>(segments: impl Iterator<Item = &'a str>) -> String {
        let mut stack: Vec<&str> = Vec::new();
        for segment in segments {
            match segment {
                "." => {}
                ".." => {
                    stack.pop();
                }
                other => stack.push(other),
            }
        }
        format!("/{}", stack.join("/"))
    }

    #[test]
    fn paths_that_read_differently_are_refused() {
        for uri in [
            "/health/..;/admin",
            "/admin;x=1",
            "/admin;/users",
            "//admin",
            "/public//../admin",
            "/admin/.",
            "/admin/..",
            "/public/./../admin",
            "/%2e%2e/admin",
            "/public/%2E%2E/admin",
            "/public/%2e./admin",
            "/public/.%2E/admin",
            "/public/..%2fadmin",
            "/public/..%2Fadmin",
            "/public\\..\\admin",
            "/public/..%5cadmin",
            "/public/%5C../admin",
            "/%61dmin",
            "/public/%252e%252e/admin",
            "/public/%00/../admin",
            "/public/%0a",
            "/public/x%",
            "/public/x%zz",
            "/public/%3b/admin",
            "/public/a b",
            "/public/%c0%ae%c0%ae/admin",
            "/public/%C0%AE/admin",
            "/public/%e0%80%ae",
            "/public/%ff",
            "/public/%C3",
            "/public/%80admin",
            "/public/%ef%bc%8e%ef%bc%8e/admin",
            "/public/%EF%BC%8F",
            "/%EF%BD%81dmin",
            "/public/e%CC%81",
            "/public/%e2%80%a4",
        ] {
            assert!(matches!(ask(uri), Forwarded::Suspicious(_)), "{uri} was judged");
        }
        for uri in
            ["/", "/admin", "/admin/", "/ADMIN/x", "/public/a%20b%C3%A9", "/api/v1/items?x=1;y=2&z=..", "/a.b/c..d"]
        {
            assert!(matches!(ask(uri), Forwarded::Request(_)), "{uri} was refused");
        }
    }

    #[test]
    fn a_header_that_is_not_text_is_refused_not_taken_for_absent() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-host", HeaderValue::from_static("app.test"));
        headers.insert("x-forwarded-uri", HeaderValue::from_bytes(b"/public/\xff/../admin").unwrap());
        assert!(matches!(forwarded(&headers), Forwarded::Suspicious(_)));
    }

    fn ask_host(headers: &[(&'static str, &str)]) -> Forwarded {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        forwarded(&map)
    }

    #[test]
    fn every_spelling_of_the_host_is_judged_as_the_host() {
        let rules = rules();
        let admin = Access::Group("admin".into());
        for host in ["app.test.", "APP.Test", "app.test", "app.test:443", "app.test:8443", "app.test:1", "App.Test.:80"]
        {
            let Forwarded::Request(target) = ask_host(&[("x-forwarded-host", host), ("x-forwarded-uri", "/admin/x")])
            else {
                panic!("{host} was refused")
            };
            assert_eq!(rules.access(&target.authority, target.url.path()), Ok(&admin), "{host}");
        }
        for host in [
            "user@app.test",
            "app.test@evil.test",
            "app.test, evil.test",
            "app.test evil.test",
            "app%2etest",
            "app.test:0",
            "app.test:99999",
            "app..test",
            "::1",
            "app.test/public",
            "app.test?",
        ] {
            let asked = ask_host(&[("x-forwarded-host", host), ("x-forwarded-uri", "/admin/x")]);
            assert!(matches!(asked, Forwarded::Suspicious(_)), "{host} was judged");
        }
        let original = ask_host(&[("x-original-url", "https://user@app.test/admin")]);
        assert!(matches!(original, Forwarded::Suspicious(_)));
    }

    #[test]
    fn a_forwarded_header_given_twice_is_refused() {
        for name in FORWARDED {
            let value = if name.ends_with("host") {
                "app.test"
            } else if name.ends_with("url") {
                "https://app.test/"
            } else if name.ends_with("uri") {
                "/"
            } else if name.ends_with("proto") {
                "https"
            } else {
                "GET"
            };
            let asked = ask_host(&[("x-forwarded-host", "app.test"), (name, value), (name, value)]);
            assert!(matches!(asked, Forwarded::Suspicious(_)), "{name} twice was judged");
        }
    }

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "admin",
            "ADMIN",
            "Admin",
            "health",
            "public",
            "api",
            "private",
            "x",
            "users",
            ".",
            "..",
            "",
            "%2e",
            "%2E",
            "%2e%2e",
            ".%2e",
            "%2E.",
            ";",
            ";x=1",
            "..;",
            "admin;",
            "\\",
            "%5c",
            "%5C",
            "%2f",
            "%2F",
            "%00",
            "%0a",
            "%25",
            "%252e",
            "%61dmin",
            "%41DMIN",
            "a%20b",
            "%C3%A9",
            "%3b",
            "adm%69n",
            "~",
            "-",
            "_",
            "%c0%ae",
            "%ef%bc%8e",
            "%ff",
            "%EF%BD%81dmin",
        ])
    }

    fn path() -> impl Strategy<Value = String> {
        (prop::collection::vec(prop::collection::vec(piece(), 1..3), 1..6), any::<bool>()).prop_map(
            |(segments, trailing)| {
                let mut path: String = segments.iter().map(|parts| format!("/{}", parts.concat())).collect();
                if trailing {
                    path.push('/');
                }
                path
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// A judged path falls under the same rule as each of its normal forms: nothing a
        /// servlet container or an RFC 3986 normaliser reads differently gets through.
        #[test]
        fn a_judged_path_falls_under_the_rule_of_its_normal_forms(path in path()) {
            let rules = rules();
            if let Forwarded::Request(target) = ask(&path) {
                let judged = rules.access(&target.authority, target.url.path());
                let host = Authority::parse("app.test", "https").unwrap();
                prop_assert_eq!(judged, rules.access(&host, &servlet(&path)), "servlet: {}", servlet(&path));
                prop_assert_eq!(judged, rules.access(&host, &rfc3986(&path)), "RFC 3986: {}", rfc3986(&path));
                prop_assert_eq!(judged, rules.access(&host, &percent_decode(&path)), "decoded");
            }
        }
    }
}
