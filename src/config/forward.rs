//! `GATEHOUSE_FORWARD_RULES`: what the apps behind a forward-auth proxy (`GET /auth/forward`)
//! require, by host and path. A comma-separated list of `HOST[/PATH]=ACCESS`, checked in order,
//! the first match deciding:
//!
//! - `HOST` is a host name (`app.example.com`, in Unicode or its IDNA form), with a port when
//!   only that port is meant (`localhost:8081`), or `*.example.com` for every subdomain of
//!   `example.com`. Hosts are compared in one canonical form ([`Authority`]: lower case, IDNA,
//!   no trailing dot); a rule without a port matches the host on any port (a proxy routes
//!   `app.example.com:8443` to the `app.example.com` site), and a request on a port that no rule
//!   of its host names, where only rules naming other ports would match, is refused;
//! - `PATH`, when given, matches that path and everything under it at a segment boundary
//!   (`/admin` matches `/admin` and `/admin/x`, not `/administrator`), in any letter case (an
//!   app that routes `/ADMIN` to `/admin` is covered too);
//! - `ACCESS` is `public` (no login), `authenticated` (any active account), `group:NAME`
//!   (accounts whose role is `NAME`, or whose `app_data.roles` lists it), or `org:SLUG` (or
//!   `org:ID`, which no other organization can ever take, unlike a slug given up)
//!   (members of that organization), `org:SLUG:ROLE` (members with that role there) or
//!   `org:SLUG:RESOURCE:ACTION` (members whose role there grants that permission), or
//!   `org:SLUG:group:NAME` (members in that group of the organization, as its SCIM client
//!   keeps them; the name in any case, spaces allowed, no comma); or `resource` (a protected
//!   resource of `GATEHOUSE_RESOURCES` whose URL has this host, and whose path the rule's path
//!   is at or under: an access token a client got for it passes, as does a login of
//!   gatehouse's own) or `resource:SCOPE` (a client's token must carry that scope of the
//!   resource).
//!
//! A request no rule matches needs a login (`authenticated`).

use crate::model::authority::{Authority, HostPattern};
use crate::model::resource::Resource;

/// Who may pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Public,
    Authenticated,
    Group(String),
    /// Members of the organization of this slug (or id); with `need`, a role's name or
    /// (holding a `:`) a permission the member's role must be or grant.
    Org {
        slug: String,
        need: Option<String>,
    },
    /// A protected resource's callers: a client's access token for it (with `scope`, when
    /// given), or a login. `resource` is the resource's canonical URL, bound at start (see
    /// [`ForwardRules::bind_resources`]).
    Resource {
        resource: String,
        scope: Option<String>,
    },
}

/// One rule of `GATEHOUSE_FORWARD_RULES`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardRule {
    host: HostPattern,
    /// Empty, or a path starting with `/` without a trailing one.
    path: String,
    access: Access,
}

/// The rules, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForwardRules(Vec<ForwardRule>);

const AUTHENTICATED: Access = Access::Authenticated;

/// A request on a port that no rule of its host names, where a rule naming another port of the
/// host would have matched: it reaches an app the rules do not describe, and is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnnamedPort;

impl ForwardRules {
    /// What a request for `authority` and `path` requires.
    pub fn access(&self, authority: &Authority, path: &str) -> Result<&Access, UnnamedPort> {
        let path = path.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
        let mut on_other_port = false;
        for rule in self.0.iter().filter(|rule| rule.host.names_host(authority) && rule.matches_path(&path)) {
            if rule.host.matches(authority) {
                return Ok(&rule.access);
            }
            on_other_port = true;
        }
        match on_other_port {
            true => Err(UnnamedPort),
            false => Ok(&AUTHENTICATED),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Binds each `resource` rule to the resource of `resources` it protects: the one whose URL
    /// has the rule's host (and the rule's port, when it names one) and whose path the rule's
    /// path is at or under, the longest such. A rule that names no resource or two (the same
    /// host and path on two ports, and the rule names no port), names one with a wildcard host,
    /// or asks for a scope its resource does not have stops the start.
    pub fn bind_resources(&mut self, resources: &[Resource]) -> Result<(), String> {
        for rule in &mut self.0 {
            let Access::Resource { resource: bound, scope } = &mut rule.access else { continue };
            let candidates: Vec<&Resource> = resources
                .iter()
                .filter(|resource| {
                    let (authority, path) = resource.authority_and_path();
                    let scheme = resource.url().split(':').next().unwrap_or("https");
                    let at = Authority::parse(&authority, scheme);
                    let under = rule.path.strip_prefix(&path.to_ascii_lowercase());
                    !rule.host.is_wildcard()
                        && at.is_ok_and(|at| rule.host.matches(&at))
                        && under.is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                })
                .collect();
            let longest = candidates.iter().map(|resource| resource.authority_and_path().1.len()).max();
            let named: Vec<&Resource> =
                candidates.into_iter().filter(|r| Some(r.authority_and_path().1.len()) == longest).collect();
            if let [first, second, ..] = named.as_slice() {
                return Err(format!(
                    "the rule for {}{} could mean {} or {}: name the port in the rule",
                    rule.host,
                    rule.path,
                    first.url(),
                    second.url()
                ));
            }
            let Some(resource) = named.first() else {
                return Err(format!(
                    "the rule for {}{} asks for a resource, and no resource of GATEHOUSE_RESOURCES has that host \
                     (without a wildcard) with the rule's path at or under its own",
                    rule.host, rule.path
                ));
            };
            if let Some(scope) = scope.as_deref().filter(|scope| !resource.has_scope(scope)) {
                return Err(format!(
                    "the rule for {}{} asks for the scope {scope:?}, which {} does not have (its scopes: {})",
                    rule.host,
                    rule.path,
                    resource.url(),
                    resource.scopes().join(" ")
                ));
            }
            *bound = resource.url().to_owned();
        }
        Ok(())
    }

    /// The groups the rules ask for (`group:NAME`), each once.
    pub fn groups(&self) -> Vec<&str> {
        let mut groups: Vec<&str> = self
            .0
            .iter()
            .filter_map(|rule| match &rule.access {
                Access::Group(group) => Some(group.as_str()),
                _ => None,
            })
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }
}

impl ForwardRule {
    fn matches_path(&self, path: &str) -> bool {
        self.path.is_empty()
            || path.strip_prefix(&self.path).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// `SLUG[:ROLE|:RESOURCE:ACTION]` of an `org:` rule, checked as the organizations' own rules
/// check slugs, role names and permissions.
fn org_access(text: &str) -> Option<Access> {
    use crate::model::org::{Slug, valid_permission, valid_role_name};
    let (slug, need) = match text.split_once(':') {
        Some((slug, need)) => (slug, Some(need)),
        None => (text, None),
    };
    // An id names the organization for good; a slug can be given up and taken by another
    // organization later.
    let slug = match uuid::Uuid::parse_str(slug) {
        Ok(id) => id.to_string(),
        Err(_) => Slug::parse(slug)?.as_str().to_owned(),
    };
    let need = match need {
        Some(need)
            if need
                .strip_prefix("group:")
                .is_some_and(|g| !g.trim().is_empty() && !g.chars().any(char::is_control)) =>
        {
            Some(need.to_owned())
        }
        Some(need) if valid_role_name(need) || valid_permission(need) => Some(need.to_owned()),
        Some(_) => return None,
        None => None,
    };
    Some(Access::Org { slug, need })
}

/// Parses the setting's value.
pub fn parse_forward_rules(value: &str) -> Result<ForwardRules, String> {
    let example = "write a list like app.example.com/admin=group:admin,app.example.com/health=public";
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (target, access) =
                item.split_once('=').ok_or_else(|| format!("{item:?} has no `=ACCESS`; {example}"))?;
            let access = match access.trim() {
                "public" => Access::Public,
                "authenticated" => Access::Authenticated,
                "resource" => Access::Resource { resource: String::new(), scope: None },
                other if other.starts_with("resource:") => {
                    let scope = &other["resource:".len()..];
                    if scope.is_empty() || !scope.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\')) {
                        return Err(format!("{item:?}: write resource or resource:SCOPE"));
                    }
                    Access::Resource { resource: String::new(), scope: Some(scope.to_owned()) }
                }
                other => match (other.strip_prefix("group:"), other.strip_prefix("org:")) {
                    (Some(group), _) if !group.is_empty() && group.chars().all(|c| c.is_ascii_graphic()) => {
                        Access::Group(group.to_owned())
                    }
                    (_, Some(org)) => org_access(org).ok_or_else(|| {
                        format!("{item:?}: write org:SLUG, org:SLUG:ROLE, org:SLUG:RESOURCE:ACTION (lower case) or org:SLUG:group:NAME")
                    })?,
                    _ => {
                        return Err(format!(
                            "{item:?}: the access is public, authenticated, group:NAME, org:SLUG[:ROLE|:PERMISSION] or \
                             resource[:SCOPE]"
                        ));
                    }
                },
            };
            let target = target.trim();
            let (host, path) = match target.find('/') {
                Some(slash) => (&target[..slash], target[slash..].trim_end_matches('/').to_ascii_lowercase()),
                None => (target, String::new()),
            };
            let host = HostPattern::parse(host)
                .map_err(|why| format!("{item:?} does not name a host (and path): {why}; {example}"))?;
            if path.chars().any(|c| c.is_whitespace() || c == '?' || c == '#') {
                return Err(format!("{item:?} does not name a host (and path); {example}"));
            }
            Ok(ForwardRule { host, path, access })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(ForwardRules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(host: &str) -> Authority {
        Authority::parse(host, "https").unwrap()
    }

    #[test]
    fn the_first_matching_rule_decides_and_paths_match_at_segment_boundaries() {
        let rules = parse_forward_rules(
            "app.example.com/admin=group:admin, app.example.com/health/=public, *.example.com=authenticated, \
             open.example.com=public, localhost:8081=group:staff",
        )
        .unwrap();
        assert_eq!(rules.access(&at("app.example.com"), "/admin").unwrap(), &Access::Group("admin".into()));
        assert_eq!(rules.access(&at("APP.example.com"), "/admin/users?x=1").unwrap(), &Access::Group("admin".into()));
        assert_eq!(rules.access(&at("app.example.com"), "/administrator").unwrap(), &Access::Authenticated);
        assert_eq!(
            rules.access(&at("app.example.com"), "/ADMIN/x").unwrap(),
            &Access::Group("admin".into()),
            "any letter case"
        );
        assert_eq!(rules.access(&at("app.example.com"), "/health").unwrap(), &Access::Public);
        // The wildcard comes first, so the later rule for open.example.com never applies.
        assert_eq!(rules.access(&at("open.example.com"), "/").unwrap(), &Access::Authenticated);
        assert_eq!(rules.access(&at("example.com"), "/").unwrap(), &Access::Authenticated, "no rule: a login");
        assert_eq!(rules.access(&at("evil-example.com"), "/admin").unwrap(), &Access::Authenticated);
        assert_eq!(rules.access(&at("localhost:8081"), "/x").unwrap(), &Access::Group("staff".into()));
        assert_eq!(rules.access(&at("localhost"), "/x"), Err(UnnamedPort), "a port no rule of localhost names");
        assert_eq!(rules.access(&at("localhost:9"), "/x"), Err(UnnamedPort));
        assert!(parse_forward_rules("").unwrap().is_empty());
    }

    #[test]
    fn a_port_escapes_no_rule_and_a_port_no_rule_names_is_refused() {
        let rules = parse_forward_rules(
            "app.example.com=group:admin, grafana.example.com=org:acme, *.example.org=group:staff, \
             api.example.net:8443/admin=group:admin, api.example.net=public",
        )
        .unwrap();
        let admin = Access::Group("admin".into());
        for spelling in [
            "app.example.com",
            "app.example.com:8443",
            "app.example.com:1",
            "app.example.com:80",
            "APP.EXAMPLE.COM.:443",
        ] {
            assert_eq!(rules.access(&at(spelling), "/").unwrap(), &admin, "{spelling}");
        }
        let acme = Access::Org { slug: "acme".into(), need: None };
        assert_eq!(rules.access(&at("grafana.example.com:8443"), "/").unwrap(), &acme);
        assert_eq!(rules.access(&at("x.example.org:1"), "/").unwrap(), &Access::Group("staff".into()));
        // The port-named rule first, then the host's other rule on any port.
        assert_eq!(rules.access(&at("api.example.net:8443"), "/admin").unwrap(), &admin);
        assert_eq!(rules.access(&at("api.example.net:9443"), "/admin").unwrap(), &Access::Public);
        let idn = parse_forward_rules("bücher.example=group:admin").unwrap();
        assert_eq!(idn.access(&at("XN--BCHER-KVA.example.:444"), "/").unwrap(), &admin);
    }

    #[test]
    fn org_rules_name_a_slug_and_perhaps_a_role_or_a_permission() {
        let rules = parse_forward_rules(
            "a.example.com=org:acme, b.example.com=org:acme:admin, c.example.com=org:acme:docs:write",
        )
        .unwrap();
        let org = |need: Option<&str>| Access::Org { slug: "acme".into(), need: need.map(str::to_owned) };
        assert_eq!(rules.access(&at("a.example.com"), "/").unwrap(), &org(None));
        assert_eq!(rules.access(&at("b.example.com"), "/").unwrap(), &org(Some("admin")));
        assert_eq!(rules.access(&at("c.example.com"), "/").unwrap(), &org(Some("docs:write")));
        let id = "0193f1e2-0000-7000-8000-000000000001";
        let by_id = parse_forward_rules(&format!("x.com=org:{}:admin", id.to_uppercase())).unwrap();
        assert_eq!(
            by_id.access(&at("x.com"), "/").unwrap(),
            &Access::Org { slug: id.into(), need: Some("admin".into()) }
        );
        let grouped = parse_forward_rules("g.example.com=org:acme:group:Site Reliability").unwrap();
        assert_eq!(grouped.access(&at("g.example.com"), "/").unwrap(), &org(Some("group:Site Reliability")));
        for bad in [
            "x.com=org:",
            "x.com=org:Acme",
            "x.com=org:acme:",
            "x.com=org:acme:Admin",
            "x.com=org:acme:a:b:c",
            "x.com=org:acme:group: ",
        ] {
            assert!(parse_forward_rules(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_rules_are_refused_with_the_item() {
        for bad in ["app.example.com", "app.example.com=admins", "=public", "a*b.com=public", "x.com=group:"] {
            let error = parse_forward_rules(bad).unwrap_err();
            assert!(error.contains(bad.split('=').next().unwrap()), "{bad}: {error}");
        }
    }

    #[test]
    fn a_resource_rule_is_bound_to_the_resource_its_host_and_path_name_or_stops_the_start() {
        let resources = crate::config::parse::parse_resources(
            "https://mcp.example.com/ mcp:tools mcp:admin, https://api.example.com/v1 reports:read, \
             https://api.example.com/v1/beta",
        )
        .unwrap();
        let mut rules = parse_forward_rules(
            "mcp.example.com/admin=resource:mcp:admin, MCP.example.com=resource, api.example.com/v1/beta/x=resource, \
             api.example.com/v1=resource:reports:read",
        )
        .unwrap();
        rules.bind_resources(&resources).unwrap();
        let bound_of = |rules: &ForwardRules, host: &str, path: &str| {
            rules.access(&Authority::parse(host, "http").unwrap(), path).unwrap().clone()
        };
        let bound = |host: &str, path: &str| rules.access(&at(host), path).unwrap().clone();
        let resource = |url: &str, scope: Option<&str>| Access::Resource {
            resource: url.to_owned(),
            scope: scope.map(str::to_owned),
        };
        assert_eq!(bound("mcp.example.com", "/admin/x"), resource("https://mcp.example.com/", Some("mcp:admin")));
        assert_eq!(bound("mcp.example.com", "/mcp"), resource("https://mcp.example.com/", None));
        assert_eq!(bound("api.example.com", "/v1/beta/x/y"), resource("https://api.example.com/v1/beta", None));
        assert_eq!(bound("api.example.com", "/v1/r"), resource("https://api.example.com/v1", Some("reports:read")));

        for (rules, why) in [
            ("other.example.com=resource", "no resource of GATEHOUSE_RESOURCES has that host"),
            ("*.example.com=resource", "no resource of GATEHOUSE_RESOURCES has that host"),
            ("api.example.com=resource", "no resource of GATEHOUSE_RESOURCES has that host"),
            ("mcp.example.com=resource:reports:read", "which https://mcp.example.com/ does not have"),
        ] {
            let mut parsed = parse_forward_rules(rules).unwrap();
            let refused = parsed.bind_resources(&resources).unwrap_err();
            assert!(refused.contains(why), "{rules}: {refused}");
        }
        assert!(parse_forward_rules("mcp.example.com=resource:").is_err());

        // One host, two ports: the rule's port picks, and a rule without one is ambiguous.
        let two =
            crate::config::parse::parse_resources("http://127.0.0.1:8001/mcp, http://127.0.0.1:8002/mcp").unwrap();
        let mut rules = parse_forward_rules("127.0.0.1:8001/mcp=resource, 127.0.0.1:8002/mcp=resource").unwrap();
        rules.bind_resources(&two).unwrap();
        assert_eq!(bound_of(&rules, "127.0.0.1:8002", "/mcp"), resource("http://127.0.0.1:8002/mcp", None));
        assert_eq!(bound_of(&rules, "127.0.0.1:8001", "/mcp/x"), resource("http://127.0.0.1:8001/mcp", None));
        let mut unported = parse_forward_rules("127.0.0.1/mcp=resource").unwrap();
        assert!(unported.bind_resources(&two).unwrap_err().contains("name the port"));
    }
}
