//! A session and how its holder proved who they are: the values the session stores keep and the
//! account rules decide with.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::account::Account;
use super::token::TokenHash;

#[derive(Debug)]
pub struct NewSession {
    pub id: Uuid,
    pub account_id: Uuid,
    pub refresh_hash: TokenHash,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub auth: SessionAuth,
}

/// A session that is live right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveSession {
    pub id: Uuid,
    pub account_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub auth: SessionAuth,
}

/// How the holder of a session last proved who they are: the authenticator assurance level
/// (1: one factor, 2: two), the methods used (RFC 8176 `amr` values), when they last proved
/// anything (`at`) and when they last proved a second factor. Access tokens carry the level and
/// the methods; step-up checks read the times: a password alone refreshes `at` but not the
/// second factor's, so an action that needs a recent second factor asks for it again. A session
/// an OAuth client holds (through `/oauth2/token`) also records its [`Grant`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionAuth {
    pub aal: u8,
    pub amr: Vec<String>,
    pub at: DateTime<Utc>,
    /// When a second factor was last proved in this session (`None` at level 1).
    pub second_factor_at: Option<DateTime<Utc>>,
    pub grant: Option<Grant>,
    /// The session's active organization: its access tokens carry the `org` claim, read from
    /// the membership when each is signed (none once the account is no longer a member).
    pub org: Option<Uuid>,
    /// An admin acting as the account (impersonation): their id, the `act` claim of the
    /// session's tokens. Such a session may not change credentials, second factors or the
    /// address, delete the account or use admin routes.
    pub act: Option<Uuid>,
}

/// What an OAuth client was granted: the session is that client's, whose tokens open only
/// what its scopes name (never gatehouse's own API), and whose refresh tokens only it redeems.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub client_id: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The browser session the person granted it in; ending that session ends this one.
    pub via: Option<Uuid>,
    /// The resources (RFC 8707) the authorization named: its access tokens' audiences.
    pub resources: Vec<String>,
    /// The key (RFC 9449 thumbprint) a public client's tokens are bound to: its refresh
    /// tokens are redeemed only with a DPoP proof of that key, and its access tokens carry it.
    pub jkt: Option<String>,
}

impl SessionAuth {
    /// A login by password alone.
    pub fn password(at: DateTime<Utc>) -> Self {
        Self::first_factor("pwd", at)
    }

    /// A login by one factor, whose RFC 8176 method is `method`.
    pub fn first_factor(method: &str, at: DateTime<Utc>) -> Self {
        Self { aal: 1, amr: vec![method.to_owned()], at, second_factor_at: None, grant: None, org: None, act: None }
    }

    /// A login, or a step-up, that proved a second factor (RFC 8176 `amr` values, `mfa` among
    /// them) at `at`.
    pub fn second_factor(amr: Vec<String>, at: DateTime<Utc>) -> Self {
        Self { aal: 2, amr, at, second_factor_at: Some(at), grant: None, org: None, act: None }
    }

    /// What a session from before authentication levels were recorded counts as: a password
    /// login, long enough ago that any step-up asks again.
    pub fn unrecorded() -> Self {
        Self::password(DateTime::<Utc>::UNIX_EPOCH)
    }

    /// The stored form: a small JSON object, so that what a session records can grow by a
    /// named field and older rows still read: `{"aal":1,"at":…,"amr":["pwd"]}`, plus
    /// `"second_factor_at"` (unix ms) at level 2, and for a client's session
    /// `"grant":{"client_id":…,"scopes":[…],"via":…,"resources":[…]}` (`via` and `resources`
    /// left out when none).
    pub fn encode(&self) -> String {
        let stored = Stored {
            aal: self.aal,
            at: self.at.timestamp_millis(),
            second_factor_at: self.second_factor_at.map(|at| at.timestamp_millis()),
            amr: self.amr.iter().map(|method| Cow::Borrowed(method.as_str())).collect(),
            grant: self.grant.as_ref().map(|grant| StoredGrant {
                client_id: Cow::Borrowed(&grant.client_id),
                scopes: grant.scopes.iter().map(|scope| Cow::Borrowed(scope.as_str())).collect(),
                via: grant.via,
                resources: grant.resources.iter().map(|r| Cow::Borrowed(r.as_str())).collect(),
                jkt: grant.jkt.as_deref().map(Cow::Borrowed),
            }),
            org: self.org,
            act: self.act,
        };
        serde_json::to_string(&stored).expect("a session's authentication serializes")
    }

    /// Reads [`Self::encode`]'s form, or the positional text sessions were stored in before it
    /// (see [`Self::decode_positional`]); anything else (or nothing) is [`Self::unrecorded`].
    pub fn decode(stored: Option<&str>) -> Self {
        let parsed = match stored {
            Some(text) if text.starts_with('{') => Self::decode_json(text),
            Some(text) => Self::decode_positional(text),
            None => None,
        };
        parsed.unwrap_or_else(Self::unrecorded)
    }

    fn decode_json(text: &str) -> Option<Self> {
        let stored: Stored<'_> = serde_json::from_str(text).ok()?;
        let at = DateTime::from_timestamp_millis(stored.at)?;
        let second_factor_at = match (stored.aal, stored.second_factor_at) {
            (0 | 1, _) => None,
            (_, Some(ms)) => Some(DateTime::from_timestamp_millis(ms)?),
            (_, None) => Some(at),
        };
        Some(Self {
            aal: stored.aal,
            amr: stored.amr.into_iter().map(Cow::into_owned).collect(),
            at,
            second_factor_at,
            grant: stored.grant.map(|grant| Grant {
                client_id: grant.client_id.into_owned(),
                scopes: grant.scopes.into_iter().map(Cow::into_owned).collect(),
                via: grant.via,
                resources: grant.resources.into_iter().map(Cow::into_owned).collect(),
                jkt: grant.jkt.map(Cow::into_owned),
            }),
            org: stored.org,
            act: stored.act,
        })
    }

    /// The form sessions and authorization codes were stored in before the JSON one:
    /// `"{aal}[@{second factor's unix ms}] {unix ms} {amr,…}"`, and for a client's session
    /// ` {client_id} {scope+…} {browser session or -}`. (A level 2 written before the second
    /// factor's time was kept has it at `at`.)
    fn decode_positional(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        let first = parts.next()?;
        let (aal, second) = match first.split_once('@') {
            Some((aal, ms)) => (aal.parse().ok()?, Some(DateTime::from_timestamp_millis(ms.parse().ok()?)?)),
            None => (first.parse().ok()?, None),
        };
        let at = DateTime::from_timestamp_millis(parts.next()?.parse().ok()?)?;
        let second_factor_at = if aal >= 2 { Some(second.unwrap_or(at)) } else { None };
        let amr = parts.next()?.split(',').filter(|m| !m.is_empty()).map(str::to_owned).collect();
        let grant = match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => None,
            (Some(client_id), Some(scopes), Some(via)) => Some(Grant {
                client_id: client_id.to_owned(),
                scopes: scopes.split('+').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                via: if via == "-" { None } else { Some(Uuid::parse_str(via).ok()?) },
                resources: Vec::new(),
                jkt: None,
            }),
            _ => return None,
        };
        Some(Self { aal, amr, at, second_factor_at, grant, org: None, act: None })
    }
}

/// [`SessionAuth`] as stored (times in unix milliseconds); borrowed where it can be.
#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    aal: u8,
    at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    second_factor_at: Option<i64>,
    #[serde(borrow)]
    amr: Vec<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    grant: Option<StoredGrant<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    act: Option<Uuid>,
}

#[derive(Serialize, Deserialize)]
struct StoredGrant<'a> {
    #[serde(borrow)]
    client_id: Cow<'a, str>,
    #[serde(borrow)]
    scopes: Vec<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    via: Option<Uuid>,
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    resources: Vec<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    jkt: Option<Cow<'a, str>>,
}

/// A session as its owner sees it in the list.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub auth: SessionAuth,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current; it is now spent and `next` is current.
    Rotated(LiveSession),
    /// The token was spent less than the grace period ago, by the rotation that made `next`
    /// current, and `next` still is: nothing changed; the caller answers as that rotation did.
    Replayed(LiveSession),
    /// The token was spent already (and this is no replay): the session has been revoked.
    Reused { session_id: Uuid, account_id: Uuid },
    /// No live session knows this token.
    Unknown,
}

/// What the per-request read found of the session's account.
#[derive(Clone, Debug, PartialEq)]
pub enum AccountRead {
    /// Read with the session, in the same statement: current, fit for any decision.
    Current(Account),
    /// The copy kept beside the sessions: current unless the mark of a change to the account
    /// was lost (Redis failing right after the database write), and then for at most the
    /// copy's lifetime. Fit to show the account to its owner; never used to authorise.
    Copy(Account),
    /// Not read: ask the database. `seen` is what the store held in the copy's place, to hand
    /// to [`SessionStore::keep_account_copy`] with the account read; `None` when the store
    /// keeps no copies.
    Unread { seen: Option<String> },
}

/// What a login or refresh hands out.
pub struct TokenPair {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: secrecy::SecretString,
    pub account: Account,
    /// The session the pair belongs to (a browser login keeps it in its cookie).
    pub session_id: Uuid,
    /// After a login with limits on: proof for later logins that this client is known.
    pub device_token: Option<String>,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair").field("account", &self.account.id).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_auth_survives_its_stored_form_and_unknown_forms_count_as_unrecorded() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let auth = SessionAuth::second_factor(vec!["pwd".into(), "otp".into(), "mfa".into()], at);
        let stored = r#"{"aal":2,"at":1700000000123,"second_factor_at":1700000000123,"amr":["pwd","otp","mfa"]}"#;
        assert_eq!(auth.encode(), stored);
        assert_eq!(SessionAuth::decode(Some(&auth.encode())), auth);
        // A password alone later: the second factor keeps its own time.
        let later = SessionAuth { at: at + chrono::Duration::minutes(10), ..auth.clone() };
        assert_eq!(SessionAuth::decode(Some(&later.encode())), later);
        let via = Uuid::now_v7();
        let scopes = vec!["openid".to_owned(), "email".to_owned()];
        let granted = SessionAuth {
            grant: Some(Grant {
                client_id: "c_1".into(),
                scopes,
                via: Some(via),
                resources: vec!["https://api.example.com/".into()],
                jkt: Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into()),
            }),
            ..auth
        };
        assert!(
            granted
                .encode()
                .ends_with(&format!(r#""grant":{{"client_id":"c_1","scopes":["openid","email"],"via":"{via}","resources":["https://api.example.com/"],"jkt":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"}}}}"#))
        );
        assert_eq!(SessionAuth::decode(Some(&granted.encode())), granted);
        let machine = SessionAuth {
            grant: Some(Grant { client_id: "c_2".into(), scopes: vec![], via: None, resources: vec![], jkt: None }),
            ..granted.clone()
        };
        assert_eq!(SessionAuth::decode(Some(&machine.encode())), machine);
        let in_org = SessionAuth { org: Some(Uuid::now_v7()), ..machine.clone() };
        assert!(in_org.encode().contains(r#""org":""#) && !machine.encode().contains("org"));
        assert_eq!(SessionAuth::decode(Some(&in_org.encode())), in_org);
        // A field a later version adds is passed over; one missing or mistyped is not.
        let added = stored.replace(r#""aal":2,"#, r#""aal":2,"tenant":"acme","#);
        assert_eq!(SessionAuth::decode(Some(&added)), SessionAuth::decode(Some(stored)));
        assert_eq!(SessionAuth::decode(Some(r#"{"aal":2,"amr":["pwd"]}"#)), SessionAuth::unrecorded());
        assert_eq!(SessionAuth::decode(Some(r#"{"aal":"2","at":1,"amr":[]}"#)), SessionAuth::unrecorded());
        assert_eq!(SessionAuth::decode(None), SessionAuth::unrecorded());
        assert_eq!(SessionAuth::unrecorded().aal, 1);
    }

    #[test]
    fn session_auth_stored_before_the_json_form_still_reads() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let auth = SessionAuth::second_factor(vec!["pwd".into(), "otp".into(), "mfa".into()], at);
        assert_eq!(SessionAuth::decode(Some("2 1700000000123 pwd,otp,mfa")), auth);
        let later = SessionAuth { at: at + chrono::Duration::minutes(10), ..auth.clone() };
        assert_eq!(SessionAuth::decode(Some("2@1700000000123 1700000600123 pwd,otp,mfa")), later);
        let via = Uuid::now_v7();
        let scopes = vec!["openid".to_owned(), "email".to_owned()];
        let granted = SessionAuth {
            grant: Some(Grant { client_id: "c_1".into(), scopes, via: Some(via), resources: vec![], jkt: None }),
            ..auth
        };
        let positional = format!("2 1700000000123 pwd,otp,mfa c_1 openid+email {}", via.simple());
        assert_eq!(SessionAuth::decode(Some(&positional)), granted);
        let machine = SessionAuth {
            grant: Some(Grant { client_id: "c_2".into(), scopes: vec![], via: None, resources: vec![], jkt: None }),
            ..granted
        };
        assert_eq!(SessionAuth::decode(Some("2 1700000000123 pwd,otp,mfa c_2  -")), machine);
        assert_eq!(SessionAuth::decode(Some("1 1700000000123 pwd c_1")), SessionAuth::unrecorded());
        assert_eq!(SessionAuth::decode(Some("two x")), SessionAuth::unrecorded());
        assert_eq!(SessionAuth::decode(Some("2@x 1700000000123 pwd")), SessionAuth::unrecorded());
    }
}
