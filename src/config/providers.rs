//! Social login providers: `GATEHOUSE_OIDC_<NAME>_<FIELD>` (or `[oidc.<name>]` in
//! `gatehouse.toml`), one group per provider. `<NAME>` is upper-case in the variable and
//! lower-case in paths (`/auth/oidc/google`). Any OpenID Connect provider needs its issuer, id
//! and secret; the presets `google`, `microsoft` and `gitlab` know their issuer, and `github`
//! (OAuth2, not OpenID Connect) knows GitHub's endpoints, which may be overridden (GitHub
//! Enterprise).

use std::collections::BTreeMap;

use secrecy::SecretString;
use url::Url;

use super::parse::{parse_bool, parse_public_url};
pub use super::provider_names::PREFIX;
#[cfg(test)]
use super::provider_names::is_provider_variable;
use super::provider_names::split;
use super::read::Effective;
use super::sources::Raw;

/// How a provider is spoken to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect: discovery, the code flow with PKCE, a signed ID token.
    Oidc,
    /// GitHub's OAuth2 web flow and REST API (no ID token).
    GitHub(Box<GitHubEndpoints>),
}

/// Where GitHub (or GitHub Enterprise) answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubEndpoints {
    pub auth_url: Url,
    pub token_url: Url,
    /// The REST API's base (`/user`, `/user/emails` under it).
    pub api_url: Url,
}

/// One configured provider.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// Lower-case, as in paths.
    pub name: String,
    /// Shown on the login button.
    pub label: String,
    pub kind: ProviderKind,
    /// The OpenID Connect issuer exactly as the provider writes it (discovery and the ID
    /// token's `iss` must match it to the byte); for GitHub, the name its identities are kept
    /// under.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    /// The client authenticates at the token endpoint with a form post (`client_secret_post`),
    /// not HTTP Basic (`client_secret_basic`).
    pub token_auth_post: bool,
    /// The provider's `email_verified` is trusted enough to link an account with that address
    /// without its owner logging in first.
    pub trust_email: bool,
}

/// What a preset fills in.
struct Preset {
    label: &'static str,
    issuer: &'static str,
}

fn preset(name: &str) -> Option<Preset> {
    Some(match name {
        "google" => Preset { label: "Google", issuer: "https://accounts.google.com" },
        // Personal Microsoft accounts; a work tenant sets its own issuer
        // (`https://login.microsoftonline.com/<tenant id>/v2.0`). The multi-tenant `common`
        // endpoint is not an issuer: its ID tokens each name their own tenant.
        "microsoft" => Preset {
            label: "Microsoft",
            issuer: "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
        },
        "gitlab" => Preset { label: "GitLab", issuer: "https://gitlab.com" },
        "github" => Preset { label: "GitHub", issuer: "https://github.com" },
        _ => return None,
    })
}

/// Every provider configured in `raw`, with the problems found; each provider's lines for
/// `config check`.
pub(super) fn read(raw: &BTreeMap<String, Raw>) -> (Vec<ProviderConfig>, Vec<String>, Vec<Effective>) {
    let mut grouped: BTreeMap<String, BTreeMap<&'static str, (&str, &Raw)>> = BTreeMap::new();
    for (key, value) in raw {
        if let Some((name, field)) = split(key) {
            grouped.entry(name).or_default().insert(field, (key.as_str(), value));
        }
    }
    let (mut providers, mut problems, mut effective) = (Vec::new(), Vec::new(), Vec::new());
    for (name, fields) in grouped {
        for (field, (key, raw)) in &fields {
            let value = if *field == "CLIENT_SECRET" { "***".to_owned() } else { raw.value.trim().to_owned() };
            effective.push(Effective { name: (*key).to_owned(), value, source: raw.source.as_str().to_owned() });
        }
        let get = |field: &str| fields.get(field).map(|(_, raw)| raw.value.trim()).filter(|v| !v.is_empty());
        match provider(&name, get) {
            Ok(provider) => providers.push(provider),
            Err(mut found) => problems.append(&mut found),
        }
    }
    (providers, problems, effective)
}

fn provider<'a>(name: &str, get: impl Fn(&str) -> Option<&'a str>) -> Result<ProviderConfig, Vec<String>> {
    let var = |field: &str| format!("{PREFIX}{}_{field}", name.to_ascii_uppercase());
    let mut problems = Vec::new();
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        problems.push(format!("{}: a provider's name is letters, digits and underscores", var("…")));
    }
    let preset = preset(name);
    let url = |field: &str, default: Option<&str>, problems: &mut Vec<String>| -> Option<Url> {
        let value = get(field).or(default)?;
        parse_public_url(value.trim_end_matches('/'))
            .map_err(|advice| problems.push(format!("{}={value:?} is not valid: {advice}", var(field))))
            .ok()
    };
    let issuer = url("ISSUER", preset.as_ref().map(|p| p.issuer), &mut problems)
        .and(get("ISSUER").or(preset.as_ref().map(|p| p.issuer)))
        .map(str::to_owned);
    if issuer.is_none() && get("ISSUER").is_none() {
        problems.push(format!(
            "{} is required: the provider's OpenID Connect issuer, like https://accounts.example.com (the presets \
             google, microsoft, gitlab and github know theirs)",
            var("ISSUER")
        ));
    }
    let client_id = get("CLIENT_ID").map(str::to_owned);
    let client_secret = get("CLIENT_SECRET").map(|s| SecretString::from(s.to_owned()));
    for (field, missing) in [("CLIENT_ID", client_id.is_none()), ("CLIENT_SECRET", client_secret.is_none())] {
        if missing {
            problems.push(format!("{} is required: the client registered at the provider for gatehouse", var(field)));
        }
    }
    let trust_email = match get("TRUST_EMAIL").map(parse_bool).transpose() {
        Ok(trust) => trust.unwrap_or(false),
        Err(advice) => {
            problems.push(format!("{} is not valid: {advice}", var("TRUST_EMAIL")));
            false
        }
    };
    let token_auth_post = match get("TOKEN_AUTH") {
        None | Some("basic") => false,
        Some("post") => true,
        Some(other) => {
            problems.push(format!(
                "{}={other:?} is not valid: write basic (client_secret_basic) or post (client_secret_post), as the client is registered at the provider",
                var("TOKEN_AUTH")
            ));
            false
        }
    };
    let kind = if name == "github" {
        let auth_url = url("AUTH_URL", Some("https://github.com/login/oauth/authorize"), &mut problems);
        let token_url = url("TOKEN_URL", Some("https://github.com/login/oauth/access_token"), &mut problems);
        let api_url = url("API_URL", Some("https://api.github.com"), &mut problems);
        match (auth_url, token_url, api_url) {
            (Some(auth_url), Some(token_url), Some(api_url)) => {
                Some(ProviderKind::GitHub(Box::new(GitHubEndpoints { auth_url, token_url, api_url })))
            }
            _ => None,
        }
    } else {
        for field in ["AUTH_URL", "TOKEN_URL", "API_URL"] {
            if get(field).is_some() {
                problems.push(format!(
                    "{} is only for github: an OpenID Connect provider's endpoints come from its discovery document",
                    var(field)
                ));
            }
        }
        Some(ProviderKind::Oidc)
    };
    let scopes = match (get("SCOPES"), &kind) {
        (Some(scopes), _) => scopes.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        (None, Some(ProviderKind::GitHub(_))) => vec!["read:user".to_owned(), "user:email".to_owned()],
        (None, _) => vec!["openid".to_owned(), "email".to_owned(), "profile".to_owned()],
    };
    if matches!(kind, Some(ProviderKind::Oidc)) && !scopes.iter().any(|s| s == "openid") {
        problems.push(format!("{} must include openid", var("SCOPES")));
    }
    let label = get("LABEL").map(str::to_owned).or(preset.map(|p| p.label.to_owned())).unwrap_or_else(|| {
        let mut label = name.replace('_', " ");
        if let Some(first) = label.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        label
    });
    match (issuer, client_id, client_secret, kind) {
        (Some(issuer), Some(client_id), Some(client_secret), Some(kind)) if problems.is_empty() => Ok(ProviderConfig {
            name: name.to_owned(),
            label,
            kind,
            issuer,
            client_id,
            client_secret,
            scopes,
            token_auth_post,
            trust_email,
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::super::sources::Source;
    use super::*;

    fn read_vars(vars: &[(&str, &str)]) -> (Vec<ProviderConfig>, Vec<String>) {
        let raw = vars
            .iter()
            .map(|(k, v)| (k.to_string(), Raw { value: v.to_string(), source: Source::Env, alias: None }))
            .collect();
        let (providers, problems, _) = read(&raw);
        (providers, problems)
    }

    #[test]
    fn a_preset_needs_only_its_client_and_an_oidc_provider_its_issuer_too() {
        let (providers, problems) = read_vars(&[
            ("GATEHOUSE_OIDC_GOOGLE_CLIENT_ID", "id"),
            ("GATEHOUSE_OIDC_GOOGLE_CLIENT_SECRET", "secret"),
            ("GATEHOUSE_OIDC_MY_CORP_ISSUER", "https://id.corp.example/"),
            ("GATEHOUSE_OIDC_MY_CORP_CLIENT_ID", "gh"),
            ("GATEHOUSE_OIDC_MY_CORP_CLIENT_SECRET", "s"),
            ("GATEHOUSE_OIDC_MY_CORP_TRUST_EMAIL", "true"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        let google = providers.iter().find(|p| p.name == "google").unwrap();
        assert_eq!((google.label.as_str(), google.issuer.as_str()), ("Google", "https://accounts.google.com"));
        assert_eq!(google.scopes, ["openid", "email", "profile"]);
        assert!(!google.trust_email, "no provider is trusted unless the operator says so");
        let corp = providers.iter().find(|p| p.name == "my_corp").unwrap();
        assert_eq!(
            (corp.label.as_str(), corp.issuer.as_str(), corp.trust_email),
            ("My corp", "https://id.corp.example/", true)
        );
    }

    #[test]
    fn github_knows_its_endpoints_and_scopes_which_may_be_overridden() {
        let (providers, problems) = read_vars(&[
            ("GATEHOUSE_OIDC_GITHUB_CLIENT_ID", "id"),
            ("GATEHOUSE_OIDC_GITHUB_CLIENT_SECRET", "secret"),
            ("GATEHOUSE_OIDC_GITHUB_API_URL", "http://127.0.0.1:9999"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        let ProviderKind::GitHub(endpoints) = &providers[0].kind else { panic!("github is not OpenID Connect") };
        assert_eq!(endpoints.api_url.as_str(), "http://127.0.0.1:9999/");
        assert_eq!(endpoints.token_url.as_str(), "https://github.com/login/oauth/access_token");
        assert_eq!(providers[0].scopes, ["read:user", "user:email"]);
    }

    #[test]
    fn each_missing_or_bad_field_is_named_with_advice() {
        let (providers, problems) = read_vars(&[
            ("GATEHOUSE_OIDC_ACME_CLIENT_ID", "id"),
            ("GATEHOUSE_OIDC_ACME_SCOPES", "email"),
            ("GATEHOUSE_OIDC_ACME_TRUST_EMAIL", "maybe"),
            ("GATEHOUSE_OIDC_ACME_TOKEN_URL", "https://acme.example/token"),
        ]);
        assert!(providers.is_empty());
        let all = problems.join("\n");
        for expected in [
            "GATEHOUSE_OIDC_ACME_ISSUER is required",
            "GATEHOUSE_OIDC_ACME_CLIENT_SECRET is required",
            "GATEHOUSE_OIDC_ACME_TRUST_EMAIL is not valid",
            "GATEHOUSE_OIDC_ACME_TOKEN_URL is only for github",
            "GATEHOUSE_OIDC_ACME_SCOPES must include openid",
        ] {
            assert!(all.contains(expected), "{expected:?} missing from:\n{all}");
        }
        assert!(!is_provider_variable("GATEHOUSE_OIDC_ACME_COLOUR") && is_provider_variable("GATEHOUSE_OIDC_A_ISSUER"));
    }
}
