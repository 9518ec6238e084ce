//! An organization's email domains. An organization claims a domain, proves it by publishing a
//! DNS TXT record of a value gatehouse gave it, and from then on holds it alone: no other
//! organization can verify it. A verified domain may let accounts whose verified address is in
//! it join with a role (`auto_join_role`, none by default), once each: a member who leaves or is
//! removed is not joined again.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::org::Membership;

/// The label under the domain where the challenge is published.
pub const CHALLENGE_LABEL: &str = "_gatehouse-challenge";

/// The most domains one organization may claim.
pub const MAX_ORG_DOMAINS: usize = 50;

/// Mail services anyone can have an address at: an organization cannot claim these, or it
/// would vouch for strangers. One name a line; `#` starts a comment.
const PUBLIC_MAIL_DOMAINS: &str = include_str!("public_mail_domains.txt");

/// A domain name as gatehouse keeps it: lower case, in its ASCII (punycode) form, without a
/// trailing dot; two labels at least, each 1 to 63 of `a-z`, `0-9` and `-` (not at either end),
/// 253 characters at most, and not an IP address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainName(String);

impl DomainName {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        const WHY: &str = "a domain is a name like example.com: letters, digits and hyphens, two labels or more";
        let input = input.trim();
        let input = input.strip_suffix('.').unwrap_or(input);
        if input.is_empty() || input.len() > 253 || input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(WHY);
        }
        let ascii = match url::Host::parse(input) {
            Ok(url::Host::Domain(ascii)) => ascii.to_ascii_lowercase(),
            Ok(_) => return Err("a domain is a name, not an IP address"),
            Err(_) => return Err(WHY),
        };
        let label = |l: &str| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        let labels: Vec<&str> = ascii.split('.').collect();
        let top = labels.last().copied().unwrap_or_default();
        if ascii.len() > 253
            || labels.len() < 2
            || !labels.iter().all(|l| label(l))
            || top.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(WHY);
        }
        Ok(Self(ascii))
    }

    /// The domain of an address (what follows its last `@`), if it is one written as kept:
    /// ASCII, any case. One that takes decoding or mapping to become a name (`%65`, full-width
    /// letters, a soft hyphen, an international name not in its `xn--` form) names none, so
    /// what is matched is what was confirmed.
    pub fn of_email(email: &str) -> Option<Self> {
        let (_, written) = email.rsplit_once('@')?;
        let written = written.to_ascii_lowercase();
        Self::parse(&written).ok().filter(|parsed| parsed.0 == written)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether anyone may have an address here (a public mail service), so that no
    /// organization may claim it.
    pub fn is_public_mail(&self) -> bool {
        PUBLIC_MAIL_DOMAINS.lines().map(|line| line.split('#').next().unwrap_or_default().trim()).any(|d| d == self.0)
    }

    /// Where the challenge's TXT record is published: `_gatehouse-challenge.<domain>`.
    pub fn challenge_name(&self) -> String {
        format!("{CHALLENGE_LABEL}.{}", self.0)
    }
}

/// A domain an organization claims, verified or not yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgDomain {
    pub org_id: Uuid,
    pub domain: String,
    /// The value the TXT record must hold. It proves nothing by being known, only by being
    /// published where only the domain's holder can publish, so it is kept as it is to be shown
    /// again.
    pub challenge: String,
    pub verified_at: Option<DateTime<Utc>>,
    /// The role accounts with a verified address here join with; none: they do not join.
    pub auto_join_role: Option<String>,
    /// The member who offered that role (none: a gatehouse admin); the offer stands only while
    /// it may invite and holds the role's permissions.
    pub auto_join_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// What verifying a claimed domain came to, in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainVerification {
    Verified(OrgDomain),
    /// The organization claims no such domain.
    NotFound,
    /// Another organization verified it first.
    Taken,
}

/// What setting a domain's auto-join role came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutoJoinChange {
    Done(OrgDomain),
    NotFound,
    /// No such role in the organization.
    UnknownRole,
}

/// An account to join to the organization that verified its address's domain.
#[derive(Clone, Debug)]
pub struct AutoJoin<'a> {
    pub org_id: Uuid,
    pub account_id: Uuid,
    pub domain: &'a str,
    /// The role read before; the transaction joins only if the domain still offers it.
    pub role: &'a str,
    pub now: DateTime<Utc>,
    pub member_limit: u64,
}

/// What an auto-join came to.
#[derive(Clone, Debug, PartialEq)]
pub enum AutoJoined {
    Joined(Box<Membership>),
    /// Nothing joined: a member already, joined once before, the organization full, or the
    /// domain no longer offering that role.
    No,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_kept_lower_case_ascii_and_whole() {
        assert_eq!(DomainName::parse(" Example.COM. ").unwrap().as_str(), "example.com");
        assert_eq!(DomainName::parse("bücher.de").unwrap().as_str(), "xn--bcher-kva.de");
        assert_eq!(DomainName::parse("a-b.example.co.uk").unwrap().as_str(), "a-b.example.co.uk");
        for bad in ["", "com", "localhost", "-a.com", "a-.com", "a..com", "a_b.com", "10.0.0.1", "[::1]", "a b.com"] {
            assert!(DomainName::parse(bad).is_err(), "{bad:?} was taken for a domain");
        }
        assert!(DomainName::parse(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(DomainName::parse("example.123").is_err());
    }

    #[test]
    fn public_mail_domains_are_known() {
        for public in ["gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com"] {
            assert!(DomainName::parse(public).unwrap().is_public_mail(), "{public}");
        }
        assert!(!DomainName::parse("example.com").unwrap().is_public_mail());
        assert!(!DomainName::parse("mail.com.example.org").unwrap().is_public_mail());
    }

    #[test]
    fn an_address_names_its_domain() {
        assert_eq!(DomainName::of_email("ann@Example.com").unwrap().as_str(), "example.com");
        assert_eq!(DomainName::of_email("\"a@b\"@example.org").unwrap().as_str(), "example.org");
        assert!(DomainName::of_email("nobody").is_none());
        for mapped in
            ["ann@acm%65.com", "ann@\u{ff41}cme.com", "ann@ac\u{ad}me.com", "ann@b\u{fc}cher.de", "ann@acme.com."]
        {
            assert!(DomainName::of_email(mapped).is_none(), "{mapped:?}");
        }
        assert_eq!(DomainName::of_email("ann@xn--bcher-kva.de").unwrap().as_str(), "xn--bcher-kva.de");
        assert_eq!(DomainName::parse("example.com").unwrap().challenge_name(), "_gatehouse-challenge.example.com");
    }
}
