//! `GATEHOUSE_FORWARD_RULES`: what the apps behind a forward-auth proxy (`GET /auth/forward`)
//! require, by host and path. A comma-separated list of `HOST[/PATH]=ACCESS`, checked in order,
//! the first match deciding:
//!
//! - `HOST` is a host name, with a port when the app is reached on one (`app.example.com`,
//!   `localhost:8081`), or `*.example.com` for every subdomain of `example.com`;
//! - `PATH`, when given, matches that path and everything under it at a segment boundary
//!   (`/admin` matches `/admin` and `/admin/x`, not `/administrator`), in any letter case (an
//!   app that routes `/ADMIN` to `/admin` is covered too);
//! - `ACCESS` is `public` (no login), `authenticated` (any active account), `group:NAME`
//!   (accounts whose role is `NAME`, or whose `app_data.roles` lists it), or `org:SLUG` (or
//!   `org:ID`, which no other organization can ever take, unlike a slug given up)
//!   (members of that organization), `org:SLUG:ROLE` (members with that role there) or
//!   `org:SLUG:RESOURCE:ACTION` (members whose role there grants that permission), or
//!   `org:SLUG:group:NAME` (members in that group of the organization, as its SCIM client
//!   keeps them; the name in any case, spaces allowed, no comma).
//!
//! A request no rule matches needs a login (`authenticated`).

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
}

/// One rule of `GATEHOUSE_FORWARD_RULES`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardRule {
    /// Lower case; a leading `*.` matches any subdomain.
    host: String,
    /// Empty, or a path starting with `/` without a trailing one.
    path: String,
    access: Access,
}

/// The rules, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForwardRules(Vec<ForwardRule>);

const AUTHENTICATED: Access = Access::Authenticated;

impl ForwardRules {
    /// What a request for `host` (with its port, if any) and `path` requires.
    pub fn access(&self, host: &str, path: &str) -> &Access {
        let host = host.to_ascii_lowercase();
        // `app.example.com.` is `app.example.com`, written fully qualified.
        let host = match host.split_once(':') {
            Some((name, port)) if !name.starts_with('[') => {
                format!("{}:{port}", name.strip_suffix('.').unwrap_or(name))
            }
            _ => host.strip_suffix('.').map(str::to_owned).unwrap_or(host),
        };
        let path = path.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
        self.0
            .iter()
            .find(|rule| rule.matches_host(&host) && rule.matches_path(&path))
            .map_or(&AUTHENTICATED, |r| &r.access)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
    fn matches_host(&self, host: &str) -> bool {
        match self.host.strip_prefix("*.") {
            Some(parent) => host.strip_suffix(parent).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => host == self.host,
        }
    }

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
                other => match (other.strip_prefix("group:"), other.strip_prefix("org:")) {
                    (Some(group), _) if !group.is_empty() && group.chars().all(|c| c.is_ascii_graphic()) => {
                        Access::Group(group.to_owned())
                    }
                    (_, Some(org)) => org_access(org).ok_or_else(|| {
                        format!("{item:?}: write org:SLUG, org:SLUG:ROLE, org:SLUG:RESOURCE:ACTION (lower case) or org:SLUG:group:NAME")
                    })?,
                    _ => {
                        return Err(format!(
                            "{item:?}: the access is public, authenticated, group:NAME or org:SLUG[:ROLE|:PERMISSION]"
                        ));
                    }
                },
            };
            let target = target.trim().to_ascii_lowercase();
            let (host, path) = match target.find('/') {
                Some(slash) => (&target[..slash], target[slash..].trim_end_matches('/')),
                None => (target.as_str(), ""),
            };
            let bare = host.strip_prefix("*.").unwrap_or(host);
            let valid_host = !bare.is_empty()
                && !bare.contains('*')
                && bare.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            if !valid_host || path.chars().any(|c| c.is_whitespace() || c == '?' || c == '#') {
                return Err(format!("{item:?} does not name a host (and path); {example}"));
            }
            Ok(ForwardRule { host: host.to_owned(), path: path.to_owned(), access })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(ForwardRules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_decides_and_paths_match_at_segment_boundaries() {
        let rules = parse_forward_rules(
            "app.example.com/admin=group:admin, app.example.com/health/=public, *.example.com=authenticated, \
             open.example.com=public, localhost:8081=group:staff",
        )
        .unwrap();
        assert_eq!(rules.access("app.example.com", "/admin"), &Access::Group("admin".into()));
        assert_eq!(rules.access("APP.example.com", "/admin/users?x=1"), &Access::Group("admin".into()));
        assert_eq!(rules.access("app.example.com", "/administrator"), &Access::Authenticated);
        assert_eq!(rules.access("app.example.com", "/ADMIN/x"), &Access::Group("admin".into()), "any letter case");
        assert_eq!(rules.access("app.example.com", "/health"), &Access::Public);
        // The wildcard comes first, so the later rule for open.example.com never applies.
        assert_eq!(rules.access("open.example.com", "/"), &Access::Authenticated);
        assert_eq!(rules.access("example.com", "/"), &Access::Authenticated, "no rule: a login");
        assert_eq!(rules.access("evil-example.com", "/admin"), &Access::Authenticated);
        assert_eq!(rules.access("localhost:8081", "/x"), &Access::Group("staff".into()));
        assert_eq!(rules.access("localhost", "/x"), &Access::Authenticated);
        assert!(parse_forward_rules("").unwrap().is_empty());
    }

    #[test]
    fn org_rules_name_a_slug_and_perhaps_a_role_or_a_permission() {
        let rules = parse_forward_rules(
            "a.example.com=org:acme, b.example.com=org:acme:admin, c.example.com=org:acme:docs:write",
        )
        .unwrap();
        let org = |need: Option<&str>| Access::Org { slug: "acme".into(), need: need.map(str::to_owned) };
        assert_eq!(rules.access("a.example.com", "/"), &org(None));
        assert_eq!(rules.access("b.example.com", "/"), &org(Some("admin")));
        assert_eq!(rules.access("c.example.com", "/"), &org(Some("docs:write")));
        let id = "0193f1e2-0000-7000-8000-000000000001";
        let by_id = parse_forward_rules(&format!("x.com=org:{}:admin", id.to_uppercase())).unwrap();
        assert_eq!(by_id.access("x.com", "/"), &Access::Org { slug: id.into(), need: Some("admin".into()) });
        let grouped = parse_forward_rules("g.example.com=org:acme:group:Site Reliability").unwrap();
        assert_eq!(grouped.access("g.example.com", "/"), &org(Some("group:Site Reliability")));
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
}
