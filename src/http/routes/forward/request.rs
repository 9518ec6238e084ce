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
//! comparison does not), a control character, a bad escape, or a header that is not text.
//! What remains means the same to every reader, and is the path judged.

use axum::http::HeaderMap;
use url::Url;

/// The request the proxy asks about.
#[derive(Debug)]
pub(super) struct Target {
    pub method: String,
    pub url: Url,
}

/// What a trusted proxy's headers say of the request: nothing, the request, or something that
/// cannot be the request a proxy forwards (the app might see another URL than the one judged).
#[derive(Debug)]
pub(super) enum Forwarded {
    Absent,
    Request(Target),
    Suspicious(&'static str),
}

/// Whether `host` is a host with an optional port and nothing else.
fn plain_host(host: &str) -> bool {
    !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
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
    // No escaped dot remains, so a dot segment can only be written plainly. The last segment
    // may be empty: `/app/` is an ordinary directory.
    let segments: Vec<&str> = path[1..].split('/').collect();
    let (last, before) = segments.split_last().unwrap_or((&"", &[]));
    if before.iter().any(|s| matches!(*s, "" | "." | "..")) || matches!(*last, "." | "..") {
        return Some("the forwarded path has an empty, . or .. segment");
    }
    None
}

/// The forwarded request, from a trusted proxy's headers.
pub(super) fn forwarded(headers: &HeaderMap) -> Forwarded {
    // A header that is there but is not text is a request this check cannot read: refused,
    // never taken for absent.
    let mut unreadable = false;
    let mut get = |name: &str| match headers.get(name).map(|v| v.to_str()) {
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
        Some(host) if !plain_host(host) => return Forwarded::Suspicious("the forwarded host is not a host"),
        Some(host) => {
            let (proto, uri) = (proto.unwrap_or("https"), uri.unwrap_or("/"));
            if !matches!(proto, "http" | "https") || !uri.starts_with('/') {
                return Forwarded::Suspicious("the forwarded scheme or path is not one");
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
    let Some((_, rest)) = text.split_once("://") else { return Forwarded::Suspicious("the forwarded URL is not one") };
    let (authority, path_and_query) = rest.find('/').map_or((rest, "/"), |slash| rest.split_at(slash));
    if !plain_host(authority) {
        return Forwarded::Suspicious("the forwarded host is not a host");
    }
    let raw_path = path_and_query.split('?').next().unwrap_or_default();
    if let Some(why) = ambiguous_path(raw_path) {
        return Forwarded::Suspicious(why);
    }
    let Ok(url) = Url::parse(&text) else { return Forwarded::Suspicious("the forwarded URL does not parse") };
    // What is left means one thing to every reader; the parser must agree, or it is refused.
    if url.path() != raw_path || !url.host_str().is_some_and(plain_host) {
        return Forwarded::Suspicious("the forwarded URL reads differently once parsed");
    }
    Forwarded::Request(Target { method, url })
}

/// `host[:port]` as the forward rules name it: the fully qualified form `app.example.com.`
/// is the same host as `app.example.com`.
pub(super) fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let host = host.strip_suffix('.').unwrap_or(host);
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
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

    #[test]
    fn a_fully_qualified_host_is_the_same_host_and_case_does_not_matter() {
        let rules = rules();
        for host in ["app.test.", "APP.Test", "app.test"] {
            let url = Url::parse(&format!("https://{host}/admin/x")).unwrap();
            assert_eq!(rules.access(&authority(&url), url.path()), &Access::Group("admin".into()), "{host}");
        }
    }

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "admin", "ADMIN", "Admin", "health", "public", "api", "private", "x", "users", ".", "..", "", "%2e", "%2E",
            "%2e%2e", ".%2e", "%2E.", ";", ";x=1", "..;", "admin;", "\\", "%5c", "%5C", "%2f", "%2F", "%00", "%0a",
            "%25", "%252e", "%61dmin", "%41DMIN", "a%20b", "%C3%A9", "%3b", "adm%69n", "~", "-", "_",
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
                let judged = rules.access(&authority(&target.url), target.url.path());
                prop_assert_eq!(judged, rules.access("app.test", &servlet(&path)), "servlet: {}", servlet(&path));
                prop_assert_eq!(judged, rules.access("app.test", &rfc3986(&path)), "RFC 3986: {}", rfc3986(&path));
                prop_assert_eq!(judged, rules.access("app.test", &percent_decode(&path)), "decoded");
            }
        }
    }
}
