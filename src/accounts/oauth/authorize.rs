//! The authorization endpoint's decisions (`GET /oauth2/authorize`, and the consent form's
//! post): which client and redirect URI (anything wrong there is shown, never sent back, since
//! the address cannot be trusted), then what the request asks (`response_type=code`, known scopes
//! the client is registered for, PKCE S256), then the person: a login when there is no browser
//! session, or `prompt=login` or `max_age` asks for a fresh one; consent unless the client is
//! first-party or the person agreed to these scopes before (or `prompt=consent` asks again).
//! The answer at the redirect URI carries `state` and `iss` (RFC 9207).

use serde_json::json;
use url::Url;
use uuid::Uuid;

use super::par::Request;
use super::{CODE_TTL, OAuthError, parse_scopes, redirect_matches};
use crate::accounts::{AuthorizationServer, Caller, ClientInfo, Result};
use crate::model::org::OrgKey;
use crate::model::outcome::Kind;
use crate::model::resource::canonical;
use crate::sessions::SessionAuth;
use crate::store::clients::{NewCode, OAuthClient};
use crate::tokens::opaque::OpaqueToken;

/// What the authorization endpoint does with a request.
#[derive(Debug)]
pub enum Authorization {
    /// No known client or no registered redirect URI: nothing may be sent back; show this.
    Refused(String),
    /// Send the browser back to the client, with a code or an error.
    Redirect(Url),
    /// A login first, then the request `again` (its query, without what the login satisfies).
    Login { again: String, login_hint: Option<String> },
    /// Ask the person whether `client` may have `scopes` and reach `resources` (RFC 8707) as
    /// them; `unverified`: it registered itself. The page posts `request` back with the answer.
    Consent {
        request: String,
        client: String,
        scopes: Vec<String>,
        resources: Vec<String>,
        redirect_uri: String,
        unverified: bool,
        /// The organization the `org` scope would name (its name), asked about by name.
        org: Option<String>,
    },
}

/// A request whose client and redirect URI are known: from here on, errors go back there.
struct Checked {
    client: OAuthClient,
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    nonce: Option<String>,
    challenge: String,
    prompt: Vec<String>,
    max_age: Option<i64>,
    login_hint: Option<String>,
    /// Which of the person's organizations the `org` scope names (an id or slug).
    org_hint: Option<String>,
    /// The `resource` parameters (RFC 8707), which may repeat.
    resources: Vec<String>,
    /// The thumbprint of the key the code is for (`dpop_jkt`, RFC 9449 section 10).
    dpop_jkt: Option<String>,
}

/// The value of `name`, if given once and not empty.
fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()).filter(|v| !v.is_empty())
}

/// The redirect URI with the answer's parameters, `state` and `iss` added.
fn answer(redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>, issuer: &str) -> Url {
    let mut url = Url::parse(redirect_uri).expect("a registered redirect URI parses");
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    url
}

/// How a consent records the organization it let a client read: a URN, never a scope's name
/// nor a resource a client may name.
fn consented_org(org: Uuid) -> String {
    format!("urn:gatehouse:org:{org}")
}

impl AuthorizationServer {
    /// Decides an authorization request (its query string), for the browser session `session`;
    /// `decision` is the person's answer on the consent page, when this is its post.
    pub async fn authorize(
        &self,
        query: &str,
        session: Option<&Caller>,
        decision: Option<bool>,
        client_info: &ClientInfo,
    ) -> Result<Authorization> {
        let Request { pairs, pushed } = match self.authorization_request(query) {
            Ok(request) => request,
            Err(why) => return Ok(Authorization::Refused(why)),
        };
        let checked = match self.check_request(&pairs).await? {
            Ok(checked) => checked,
            Err(why) => return Ok(Authorization::Refused(why)),
        };
        let issuer = self.keys().issuer().to_owned();
        // A client that registered itself could use its own redirect URI to bounce anyone from
        // this domain to its site: what the person did not answer is shown here. Not when the
        // URI is on loopback (RFC 8252): it leads to the person's own machine, where a native
        // app or a command-line tool waits on it and would otherwise wait for ever.
        let bounce = Url::parse(&checked.redirect_uri).is_ok_and(|uri| !super::is_loopback(&uri));
        let error = |error: &str, description: &str| {
            if checked.client.self_registered && bounce && decision != Some(false) {
                return Ok(Authorization::Refused(format!("The request cannot be answered ({error}): {description}.")));
            }
            let params = [("error", error), ("error_description", description)];
            Ok(Authorization::Redirect(answer(&checked.redirect_uri, &params, checked.state.as_deref(), &issuer)))
        };
        if let Some(why) = self.request_problem(&pairs, &checked, pushed.is_some()) {
            return error(why.0, &why.1);
        }
        let fresh_login = checked.prompt.iter().any(|p| p == "login");
        let none = checked.prompt.iter().any(|p| p == "none");
        // Compared in milliseconds, so that `max_age=0` always asks (it means `prompt=login`).
        let session = session.filter(|caller| {
            let Ok(session) = caller.session() else { return false };
            let age = (self.now() - session.auth.at).num_milliseconds();
            checked.max_age.is_none_or(|max| age <= max.saturating_mul(1000))
        });
        let Some(caller) = session.filter(|_| !fresh_login || decision.is_some()) else {
            if none {
                return error("login_required", "no one is logged in here (or not recently enough)");
            }
            let again: Vec<(String, String)> = pairs
                .iter()
                .filter(|(key, _)| key != "max_age")
                .map(|(key, value)| match key.as_str() {
                    "prompt" => {
                        let rest: Vec<&str> = value.split(' ').filter(|p| *p != "login").collect();
                        (key.clone(), rest.join(" "))
                    }
                    _ => (key.clone(), value.clone()),
                })
                .collect();
            let again = self.carried(pushed, &again);
            return Ok(Authorization::Login { again, login_hint: checked.login_hint });
        };
        let asked = checked.prompt.iter().any(|p| p == "consent");
        // The organization the `org` scope names, agreed to by name: a client the person let
        // read one organization reads no other by naming it in `org_hint`.
        let org = match checked.scopes.iter().any(|s| s == "org") {
            true => self.grant_org(caller, checked.org_hint.as_deref()).await?,
            false => None,
        };
        let org_consent = org.map(consented_org);
        match decision {
            Some(false) => return error("access_denied", "the person did not allow it"),
            Some(true) => {
                let (account, client) = (caller.account_id, &checked.client.id);
                // The resources agreed to are kept beside the scopes (a URI is never a scope
                // name), and so is the organization, as a URN.
                let agreed: Vec<String> =
                    checked.scopes.iter().chain(&checked.resources).chain(&org_consent).cloned().collect();
                self.store.save_consent(account, client, &agreed, self.now()).await?;
                self.note(
                    self.outcome(Kind::OauthConsented, Some(caller.account_id), client_info)
                        .detail(json!({ "client_id": checked.client.id, "scopes": checked.scopes })),
                );
            }
            None if checked.client.first_party && !asked => {}
            None => {
                let agreed = self.store.consent(caller.account_id, &checked.client.id).await?.unwrap_or_default();
                let covered =
                    checked.scopes.iter().chain(&checked.resources).chain(&org_consent).all(|s| agreed.contains(s));
                if asked || !covered {
                    if none {
                        return error("consent_required", "the person has not agreed to share this yet");
                    }
                    let org = match org {
                        Some(id) => self.store.find_org(OrgKey::Id(id)).await?.map(|o| o.name),
                        None => None,
                    };
                    return Ok(Authorization::Consent {
                        request: self.carried(pushed, &pairs),
                        client: checked.client.name.clone(),
                        scopes: checked.scopes.clone(),
                        resources: checked.resources.clone(),
                        redirect_uri: checked.redirect_uri.clone(),
                        unverified: checked.client.self_registered,
                        org,
                    });
                }
            }
        }
        if let Some(push) = pushed
            && !self.spend_pushed(push).await?
        {
            return error("invalid_request", "this pushed authorization request was used already; start again");
        }
        let code = self.issue_code(&checked, caller, org, client_info).await?;
        let url = answer(&checked.redirect_uri, &[("code", &code)], checked.state.as_deref(), &issuer);
        Ok(Authorization::Redirect(url))
    }

    /// Whether an authorization request (its query) names a registered client and one of its
    /// redirect URIs: only then may the login page that precedes it let its forms lead to the
    /// client's origin.
    pub async fn authorization_is_registered(&self, query: &str) -> Result<bool> {
        let Ok(Request { pairs, .. }) = self.authorization_request(query) else { return Ok(false) };
        Ok(self.check_request(&pairs).await?.is_ok())
    }

    /// A pushed request checked as the authorization endpoint will check it: what it would
    /// show or send back, as an RFC 6749 error for the client that pushed it.
    pub(super) async fn check_pushed(&self, request: &Request) -> std::result::Result<(), OAuthError> {
        let checked = self.check_request(&request.pairs).await?.map_err(OAuthError::invalid_request)?;
        match self.request_problem(&request.pairs, &checked, true) {
            Some((error, description)) => Err(OAuthError::refused(error, description)),
            None => Ok(()),
        }
    }

    /// The client and its redirect URI, or why the request is refused (a page, never a redirect).
    async fn check_request(&self, pairs: &[(String, String)]) -> Result<std::result::Result<Checked, String>> {
        let refuse = |why: &str| Ok(Err(why.to_owned()));
        let Some(client_id) = param(pairs, "client_id") else {
            return refuse("The request names no client (client_id).");
        };
        let Some(client) = self.find_client(client_id).await? else {
            return refuse("The request names a client that is not registered here.");
        };
        let Some(redirect_uri) = param(pairs, "redirect_uri") else {
            return refuse("The request has no redirect_uri; it is required here.");
        };
        if !client.redirect_uris.iter().any(|registered| redirect_matches(registered, redirect_uri)) {
            return refuse("The redirect_uri is not one registered for this client.");
        }
        // In the one spelling tokens carry and forward-auth compares; a resource that is not one
        // is refused below, as written.
        let resources = pairs.iter().filter(|(key, _)| key == "resource").fold(Vec::new(), |mut kept, (_, value)| {
            let value = canonical(value).unwrap_or_else(|_| value.clone());
            if !kept.contains(&value) {
                kept.push(value);
            }
            kept
        });
        let scopes = match param(pairs, "scope") {
            Some(asked) => parse_scopes(asked, &self.policy().resources).unwrap_or_default(),
            None => self.default_scopes(&client, &resources),
        };
        Ok(Ok(Checked {
            redirect_uri: redirect_uri.to_owned(),
            state: param(pairs, "state").map(str::to_owned),
            scopes,
            nonce: param(pairs, "nonce").map(str::to_owned),
            challenge: param(pairs, "code_challenge").unwrap_or_default().to_owned(),
            prompt: param(pairs, "prompt")
                .unwrap_or_default()
                .split(' ')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            max_age: param(pairs, "max_age").and_then(|v| v.parse().ok()),
            login_hint: param(pairs, "login_hint").map(str::to_owned),
            org_hint: param(pairs, "org_hint").map(str::to_owned),
            dpop_jkt: param(pairs, "dpop_jkt").map(str::to_owned),
            resources,
            client,
        }))
    }

    /// The scopes of a request that names none: `openid`; with resources named, also each
    /// one's scopes and, for a client registered for the refresh grant, `offline_access` (an
    /// MCP client names no scope, and should not send its person back to the browser every
    /// quarter of an hour). Only scopes the client is registered for.
    fn default_scopes(&self, client: &OAuthClient, resources: &[String]) -> Vec<String> {
        let mut scopes = vec!["openid".to_owned()];
        if resources.is_empty() {
            return scopes;
        }
        let listed = self.policy().resources.iter().filter(|r| resources.iter().any(|named| named == r.url()));
        scopes.extend(listed.flat_map(|r| r.scopes().iter().cloned()));
        if client.grant_types.iter().any(|g| g == "refresh_token") {
            scopes.push("offline_access".to_owned());
        }
        let mut kept: Vec<String> = Vec::new();
        for scope in scopes {
            if client.scopes.contains(&scope) && !kept.contains(&scope) {
                kept.push(scope);
            }
        }
        kept
    }

    /// What is wrong with the rest of the request, as an error code and description.
    fn request_problem(
        &self,
        pairs: &[(String, String)],
        checked: &Checked,
        pushed: bool,
    ) -> Option<(&'static str, String)> {
        let mut names: Vec<&str> = pairs.iter().map(|(key, _)| key.as_str()).filter(|key| *key != "resource").collect();
        names.sort_unstable();
        if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
            return Some(("invalid_request", format!("{} is given more than once", twice[0])));
        }
        if param(pairs, "request").is_some() {
            return Some(("request_not_supported", "request objects are not supported".into()));
        }
        if self.policy().pushed_requests_required && !pushed {
            return Some((
                "invalid_request",
                "authorization requests are pushed here first: POST them to /oauth2/par, then send request_uri".into(),
            ));
        }
        if checked.client.policy.require_pushed_authorization_requests && !pushed {
            return Some((
                "invalid_request",
                "this client registered require_pushed_authorization_requests: POST the request to /oauth2/par, then \
                 send request_uri"
                    .into(),
            ));
        }
        if checked.dpop_jkt.as_deref().is_some_and(|jkt| !crate::tokens::dpop::plausible_thumbprint(jkt)) {
            return Some((
                "invalid_request",
                "dpop_jkt is the base64url SHA-256 thumbprint of a key (RFC 7638)".into(),
            ));
        }
        match param(pairs, "response_type") {
            Some("code") => {}
            None => return Some(("invalid_request", "response_type is required (code)".into())),
            Some(_) => return Some(("unsupported_response_type", "only response_type=code is supported".into())),
        }
        if !checked.client.grant_types.iter().any(|g| g == "authorization_code") {
            return Some(("unauthorized_client", "this client may not use the authorization code grant".into()));
        }
        if let Some(Err(why)) = param(pairs, "scope").map(|asked| parse_scopes(asked, &self.policy().resources)) {
            return Some(("invalid_scope", why));
        }
        if let Some(scope) = checked.scopes.iter().find(|s| !checked.client.scopes.contains(s)) {
            return Some(("invalid_scope", format!("this client is not registered for the scope {scope:?}")));
        }
        if checked.challenge.is_empty() {
            return Some((
                "invalid_request",
                "PKCE is required: send code_challenge and code_challenge_method=S256".into(),
            ));
        }
        if param(pairs, "code_challenge_method") != Some("S256") {
            return Some(("invalid_request", "only code_challenge_method=S256 is supported (plain is not)".into()));
        }
        if !crate::tokens::pkce::plausible_challenge(&checked.challenge) {
            return Some(("invalid_request", "code_challenge is not a base64url SHA-256".into()));
        }
        let named: Vec<&str> = checked.resources.iter().map(String::as_str).collect();
        if let Err(why) = self.requested_resources(&named) {
            return Some(("invalid_target", why));
        }
        if param(pairs, "max_age").is_some() && checked.max_age.is_none_or(|age| age < 0) {
            return Some(("invalid_request", "max_age is a number of seconds".into()));
        }
        let none = checked.prompt.iter().any(|p| p == "none");
        if none && checked.prompt.len() > 1 {
            return Some(("invalid_request", "prompt=none cannot be combined with other values".into()));
        }
        None
    }

    async fn issue_code(
        &self,
        checked: &Checked,
        caller: &Caller,
        org: Option<Uuid>,
        client_info: &ClientInfo,
    ) -> Result<String> {
        let now = self.now();
        let session = caller.session()?;
        let code = OpaqueToken::generate();
        let record = NewCode {
            hash: code.hash,
            client_id: checked.client.id.clone(),
            account_id: caller.account_id,
            browser_session_id: session.id,
            redirect_uri: checked.redirect_uri.clone(),
            scopes: checked.scopes.clone(),
            nonce: checked.nonce.clone(),
            resources: checked.resources.clone(),
            code_challenge: checked.challenge.clone(),
            dpop_jkt: checked.dpop_jkt.clone(),
            auth: SessionAuth { org, ..session.auth.clone() }.encode(),
            created_at: now,
            expires_at: now + chrono::Duration::from_std(CODE_TTL).unwrap_or_default(),
        };
        self.store.insert_code(&record).await?;
        self.note(self.outcome(Kind::OauthAuthorized, Some(caller.account_id), client_info).detail(
            json!({ "client_id": checked.client.id, "scopes": checked.scopes, "resources": record.resources }),
        ));
        Ok(code.expose().to_owned())
    }
}
