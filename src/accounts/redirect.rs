//! Where a browser goes after it completes an emailed link: the `redirect_to` that sign-up,
//! resend, forgot-password and email change accept, allowed only inside a prefix the operator
//! listed (`GATEHOUSE_REDIRECT_ALLOW`). It travels in the emailed link itself and is checked
//! again when the link is followed, so a link edited on the way leads nowhere new.
//!
//! A prefix allows a URL when both are absolute `http`/`https` URLs with the same scheme, host
//! and port, and the URL's path lies under the prefix's path at a segment boundary
//! (`https://app.example.com/welcome` allows `/welcome`, `/welcome?x=1` and `/welcome/step`,
//! not `/welcomed`). Compared are the parsed URLs, not the text: `//evil.com`,
//! `https://app.example.com.evil.com`, `https://app.example.com@evil.com` and their
//! percent-encoded or backslashed forms are other hosts or no URL at all. The browser is sent
//! to the URL as parsed, so what was checked is what it gets.

use url::Url;

use crate::model::account::FieldError;

/// The longest `redirect_to` accepted.
const MAX_LEN: usize = 2048;

/// The prefixes a `redirect_to` may start with; none by default, so that every `redirect_to`
/// is refused until the operator lists where the app lives.
#[derive(Clone, Debug, Default)]
pub struct RedirectPolicy {
    allowed: Vec<Url>,
    /// gatehouse's own login page (`/login`), where a login by email or through a provider
    /// started there comes back: always allowed, whatever the operator listed.
    login_page: Option<Url>,
}

/// A `redirect_to` the policy allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectTo(Url);

impl RedirectTo {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// This address with `name=value` added to its query (the hand-off code of a browser login).
    pub fn with_param(&self, name: &str, value: &str) -> Url {
        let mut url = self.0.clone();
        url.query_pairs_mut().append_pair(name, value);
        url
    }
}

impl RedirectPolicy {
    /// Prefixes as configured: absolute `http`/`https` URLs with a host and no credentials.
    pub fn new(allowed: Vec<Url>) -> Self {
        Self { allowed, login_page: None }
    }

    /// Allows gatehouse's own login page, `login_page` (its path exactly, any query), too.
    pub fn with_login_page(self, login_page: Url) -> Self {
        Self { login_page: Some(login_page), ..self }
    }

    fn is_login_page(&self, url: &Url) -> bool {
        self.login_page.as_ref().is_some_and(|page| {
            url.scheme() == page.scheme()
                && url.host() == page.host()
                && url.port_or_known_default() == page.port_or_known_default()
                && url.path() == page.path()
                && url.username().is_empty()
                && url.password().is_none()
        })
    }

    /// Parses one configured prefix (see `GATEHOUSE_REDIRECT_ALLOW`).
    pub fn prefix(value: &str) -> Result<Url, String> {
        let url = Url::parse(value).map_err(|_| format!("{value:?} is not an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("{value:?} is not an http or https URL with a host"));
        }
        if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
            return Err(format!("{value:?} may not carry credentials, a query or a fragment"));
        }
        Ok(url)
    }

    /// Checks a submitted `redirect_to`; the error names the field for a `422`.
    pub fn check(&self, value: &str) -> Result<RedirectTo, FieldError> {
        let refuse = |why: &str| Err(FieldError::new("redirect_to", why.to_owned()));
        if value.len() <= MAX_LEN
            && let Ok(url) = Url::parse(value)
            && self.is_login_page(&url)
        {
            return Ok(RedirectTo(url));
        }
        if self.allowed.is_empty() {
            return refuse("redirect_to is not accepted here: GATEHOUSE_REDIRECT_ALLOW lists no address");
        }
        if value.len() > MAX_LEN || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return refuse("redirect_to must be an absolute URL of at most 2048 characters, without spaces");
        }
        match Url::parse(value) {
            Ok(url) if self.allows(&url) => Ok(RedirectTo(url)),
            _ => refuse("redirect_to must start with an address listed in GATEHOUSE_REDIRECT_ALLOW"),
        }
    }

    /// The checked `redirect_to` of a followed link, if it has one the policy still allows.
    pub fn recheck(&self, value: Option<&str>) -> Option<RedirectTo> {
        value.and_then(|value| self.check(value).ok())
    }

    fn allows(&self, url: &Url) -> bool {
        let plain = url.username().is_empty() && url.password().is_none();
        plain
            && self.allowed.iter().any(|prefix| {
                url.scheme() == prefix.scheme()
                    && url.host() == prefix.host()
                    && url.port_or_known_default() == prefix.port_or_known_default()
                    && under(prefix.path(), url.path())
            })
    }
}

/// Whether `path` is `prefix` or lies below it at a `/`.
fn under(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RedirectPolicy {
        let prefixes = ["https://app.example.com/", "https://shop.example.com/welcome", "http://localhost:3000/"];
        RedirectPolicy::new(prefixes.iter().map(|p| RedirectPolicy::prefix(p).unwrap()).collect())
    }

    #[test]
    fn the_own_login_page_is_allowed_whatever_is_listed_and_nothing_beside_it() {
        let policy = RedirectPolicy::default().with_login_page(Url::parse("https://id.example.com/login").unwrap());
        assert!(policy.check("https://id.example.com/login?next=https%3A%2F%2Fapp.example.com%2F").is_ok());
        for other in [
            "https://id.example.com/login/x",
            "https://id.example.com/loginx",
            "https://id.example.com.evil.com/login",
            "https://u@id.example.com/login",
            "http://id.example.com/login",
        ] {
            assert!(policy.check(other).is_err(), "{other}");
        }
    }

    #[test]
    fn addresses_under_a_listed_prefix_are_allowed_as_parsed() {
        let policy = policy();
        for (given, sent) in [
            ("https://app.example.com/", "https://app.example.com/"),
            ("https://app.example.com", "https://app.example.com/"),
            ("https://app.example.com/dashboard?tab=1#top", "https://app.example.com/dashboard?tab=1#top"),
            ("HTTPS://APP.EXAMPLE.COM:443/x", "https://app.example.com/x"),
            ("https://shop.example.com/welcome", "https://shop.example.com/welcome"),
            ("https://shop.example.com/welcome/back?x=1", "https://shop.example.com/welcome/back?x=1"),
            ("http://localhost:3000/after", "http://localhost:3000/after"),
            // A backslash is a slash in an http URL, for browsers as for the parser.
            ("https://app.example.com\\@evil.com", "https://app.example.com/@evil.com"),
        ] {
            let checked = policy.check(given).unwrap_or_else(|e| panic!("{given}: {}", e.message));
            assert_eq!(checked.as_str(), sent, "{given}");
        }
    }

    #[test]
    fn the_open_redirect_attack_list_is_refused() {
        let policy = policy();
        for attack in [
            "//evil.com",
            "//app.example.com/",
            "/\\evil.com",
            "\\\\evil.com",
            "/relative/path",
            "evil.com",
            "https://app.example.com.evil.com/",
            "https://app.example.com@evil.com/",
            "https://user:pass@app.example.com/",
            "https://evil.com/https://app.example.com/",
            "https://evil.com#https://app.example.com/",
            "https://evil.com?next=https://app.example.com/",
            "https:%2F%2Fevil.com",
            "https://app.example.com%2F@evil.com",
            "https://app.example.com%2f%2fevil.com",
            "https://%61pp.example.com.evil.com/",
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "https://shop.example.com/welcomed",
            "https://shop.example.com/",
            "https://shop.example.com/other/welcome",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "https://app.example.com/\nLocation: https://evil.com",
            "https://app.example.com/ x",
            " https://app.example.com/",
            "http://localhost:3001/",
            "http://127.0.0.1:3000/",
            "",
        ] {
            let refused = policy.check(attack);
            assert!(refused.is_err(), "{attack:?} was allowed as {refused:?}");
            assert_eq!(refused.unwrap_err().field, "redirect_to");
        }
        let long = format!("https://app.example.com/{}", "a".repeat(MAX_LEN));
        assert!(policy.check(&long).is_err(), "too long");
    }

    #[test]
    fn without_a_listed_prefix_every_redirect_is_refused_and_prefixes_are_checked() {
        let none = RedirectPolicy::default();
        assert!(none.check("https://app.example.com/").unwrap_err().message.contains("GATEHOUSE_REDIRECT_ALLOW"));
        for bad in [
            "app.example.com",
            "ftp://app.example.com/",
            "https://u:p@app.example.com/",
            "https://app.example.com/?x=1",
        ] {
            assert!(RedirectPolicy::prefix(bad).is_err(), "{bad}");
        }
        assert_eq!(none.recheck(Some("https://app.example.com/")), None);
        assert_eq!(policy().recheck(None), None);
        assert!(policy().recheck(Some("https://app.example.com/x")).is_some());
    }
}
