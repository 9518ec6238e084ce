//! A protected resource: an API or MCP server that gatehouse issues access tokens for (RFC 8707,
//! where a client names it as `resource`) and whose metadata it answers (RFC 9728). A resource
//! is named by its URL in one canonical form, so that every spelling a client, a proxy or an
//! operator may write (scheme and host in any case, the default port written out or not, a
//! trailing slash or none) is the one resource, and two resources are never the same URL.

use url::Url;

/// The scopes of OpenID Connect and gatehouse's own, which no resource may take as its own:
/// a scope names one thing.
const RESERVED: &[&str] = &["openid", "profile", "email", "offline_access", "app_data", "org"];

/// A resource and the scopes a token for it may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// The canonical URL (see [`canonical`]).
    url: String,
    /// Its scopes, in the order the operator wrote them; the first ones are what a client that
    /// names no scope is given.
    scopes: Vec<String>,
    /// It takes only access tokens bound to a key (DPoP, RFC 9449): `GATEHOUSE_DPOP_RESOURCES`.
    dpop_required: bool,
}

impl Resource {
    /// A resource from its URL, as an operator or a client may write it, and its scopes.
    pub fn new(url: &str, scopes: Vec<String>) -> Result<Self, String> {
        let url = canonical(url)?;
        if let Some(scope) = scopes.iter().find(|scope| !valid_scope(scope)) {
            return Err(format!(
                "{scope:?} is not a scope a resource may have: printable ASCII without spaces, quotes, commas or \
                 backslashes, and none of OpenID Connect's or gatehouse's own ({})",
                RESERVED.join(" ")
            ));
        }
        let mut unique: Vec<String> = Vec::with_capacity(scopes.len());
        for scope in scopes {
            if !unique.contains(&scope) {
                unique.push(scope);
            }
        }
        Ok(Self { url, scopes: unique, dpop_required: false })
    }

    /// The same resource, taking only DPoP-bound tokens.
    pub fn requiring_dpop(self) -> Self {
        Self { dpop_required: true, ..self }
    }

    /// Whether it takes only access tokens bound to a key.
    pub fn dpop_required(&self) -> bool {
        self.dpop_required
    }

    /// The canonical URL: what tokens carry as `aud` and metadata as `resource`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether `scope` is one of this resource's.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Where its protected resource metadata lives (RFC 9728 section 3.1): the well-known path
    /// inserted between the host and the resource's path.
    pub fn metadata_url(&self) -> String {
        let url = Url::parse(&self.url).expect("a canonical URL parses");
        let origin = url.origin().ascii_serialization();
        let path = url.path().trim_end_matches('/');
        format!("{origin}/.well-known/oauth-protected-resource{path}")
    }

    /// The host (with a port other than the scheme's default) and the path a request to this
    /// resource goes to.
    pub fn authority_and_path(&self) -> (String, String) {
        let url = Url::parse(&self.url).expect("a canonical URL parses");
        let host = url.host_str().unwrap_or_default();
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        (authority, url.path().trim_end_matches('/').to_owned())
    }
}

/// The one spelling of a resource URL: absolute, `https` (or `http` on loopback, for
/// development), without user, query or fragment; scheme and host in lower case (the host in
/// its IDNA form), the scheme's default port left out, and no trailing slash but the root's.
pub fn canonical(text: &str) -> Result<String, String> {
    let url = Url::parse(text.trim()).map_err(|_| format!("{text:?} is not an absolute URL"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    let usable = url.host().is_some()
        && (url.scheme() == "https" || (url.scheme() == "http" && loopback))
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    if !usable {
        return Err(format!(
            "{text:?}: write an https URL (http only on a loopback address) without user, query or fragment"
        ));
    }
    // The URL parser has lowered the scheme and host, put the host in IDNA form, dropped a
    // default port and resolved dot segments already.
    let mut canonical = url.as_str().to_owned();
    if url.path() != "/" {
        while canonical.ends_with('/') {
            canonical.pop();
        }
    }
    Ok(canonical)
}

/// A scope a resource may define: RFC 6749's scope-token without what would break the lists
/// and headers it travels in (a comma, a quote, a backslash), and not a reserved name.
fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 64
        && scope.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b','))
        && !RESERVED.contains(&scope)
}

/// Whether `scope` is one that OpenID Connect or gatehouse defines for itself.
pub fn is_reserved(scope: &str) -> bool {
    RESERVED.contains(&scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_resource_is_one_url() {
        let spellings = [
            ("https://MCP.Example.COM", "https://mcp.example.com/"),
            ("HTTPS://mcp.example.com:443/", "https://mcp.example.com/"),
            ("https://mcp.example.com/api/", "https://mcp.example.com/api"),
            ("https://mcp.example.com/api//", "https://mcp.example.com/api"),
            ("https://mcp.example.com/a/../api", "https://mcp.example.com/api"),
            ("https://mcp.example.com:8443/api", "https://mcp.example.com:8443/api"),
            ("https://bücher.example/", "https://xn--bcher-kva.example/"),
            ("http://localhost:3000/mcp", "http://localhost:3000/mcp"),
        ];
        for (written, one) in spellings {
            assert_eq!(canonical(written).as_deref(), Ok(one), "{written}");
        }
        for refused in [
            "mcp.example.com",
            "http://mcp.example.com/",
            "https://user@mcp.example.com/",
            "https://mcp.example.com/?a=1",
            "https://mcp.example.com/#x",
        ] {
            assert!(canonical(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn the_metadata_lives_at_the_well_known_path_inserted_before_the_resource_s_path() {
        let root = Resource::new("https://mcp.example.com", vec![]).unwrap();
        assert_eq!(root.metadata_url(), "https://mcp.example.com/.well-known/oauth-protected-resource");
        assert_eq!(root.authority_and_path(), ("mcp.example.com".to_owned(), String::new()));
        let nested = Resource::new("https://api.example.com:8443/mcp/", vec![]).unwrap();
        assert_eq!(nested.metadata_url(), "https://api.example.com:8443/.well-known/oauth-protected-resource/mcp");
        assert_eq!(nested.authority_and_path(), ("api.example.com:8443".to_owned(), "/mcp".to_owned()));
    }

    #[test]
    fn a_resource_s_scopes_are_its_own_and_never_openid_s() {
        let resource = Resource::new("https://mcp.example.com/", vec!["mcp:tools".into(), "mcp:tools".into()]).unwrap();
        assert_eq!(resource.scopes(), ["mcp:tools"]);
        assert!(resource.has_scope("mcp:tools") && !resource.has_scope("mcp:admin"));
        for bad in ["email", "openid", "a,b", "a b", "q\"", ""] {
            assert!(Resource::new("https://mcp.example.com/", vec![bad.into()]).is_err(), "{bad:?}");
        }
    }
}
