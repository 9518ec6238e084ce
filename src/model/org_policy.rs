//! An organization's own policy: whether its members must use a second factor to work in it,
//! and which ways of logging in it takes. It is checked when a session enters the organization
//! (a login naming it, `POST /auth/org`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The ways of logging in a policy may name, as the session's first factor shows them.
pub const LOGIN_METHODS: [&str; 4] = ["password", "passkey", "email", "social"];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgPolicy {
    /// Sessions in the organization must have proved a second factor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mfa_required: bool,
    /// The ways of logging in the organization takes; `None`: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_methods: Option<Vec<String>>,
    /// Accounts whose address is at one of the organization's verified domains log in through
    /// its identity provider only (its owners excepted, so a broken IdP locks nobody out).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sso_required: bool,
}

/// Whether a session may enter an organization under its policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// A second factor is required and the account has none: enrol one first.
    EnrolmentRequired,
    /// A second factor is required and this session has not proved it: step up first.
    StepUpRequired,
    /// The session was started in a way the organization does not take.
    MethodNotAllowed,
}

impl OrgPolicy {
    /// A policy as submitted: `{"mfa_required"?: bool, "login_methods"?: [...],
    /// "sso_required"?: bool}`, nothing else;
    /// the methods known ones, at least one, each once.
    pub fn parse(value: Value) -> Result<Self, String> {
        if !value.is_object() {
            return Err("a policy is a JSON object: {\"mfa_required\": true|false, \"login_methods\": [...], \"sso_required\": true|false}".into());
        }
        let policy: OrgPolicy = serde_json::from_value(value)
            .map_err(|why| format!("a policy is {{\"mfa_required\": true|false, \"login_methods\": [...], \"sso_required\": true|false}}: {why}"))?;
        if let Some(methods) = &policy.login_methods {
            if methods.is_empty() {
                return Err("login_methods names at least one way in (or is left out: any)".into());
            }
            if let Some(unknown) = methods.iter().find(|m| !LOGIN_METHODS.contains(&m.as_str())) {
                return Err(format!("{unknown:?} is not a login method: {}", LOGIN_METHODS.join(", ")));
            }
            if methods.iter().enumerate().any(|(i, m)| methods[..i].contains(m)) {
                return Err("login_methods names each method once".into());
            }
        }
        Ok(policy)
    }

    /// The stored form (a JSON object; `{}` for the default); a stored value that does not read
    /// is the default, which asks for nothing more than gatehouse's own policy.
    pub fn from_stored(stored: Option<Value>) -> Self {
        stored.and_then(|value| serde_json::from_value(value).ok()).unwrap_or_default()
    }

    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// Whether a session whose methods are `amr`, at level `aal`, of an account that has a
    /// second factor or not, may enter.
    pub fn admits(&self, amr: &[String], aal: u8, has_factor: bool) -> Admission {
        if let Some(methods) = &self.login_methods
            && !methods.iter().any(|m| Some(m.as_str()) == first_factor(amr))
        {
            return Admission::MethodNotAllowed;
        }
        match (self.mfa_required, aal >= 2, has_factor) {
            (false, _, _) | (true, true, _) => Admission::Admitted,
            (true, false, false) => Admission::EnrolmentRequired,
            (true, false, true) => Admission::StepUpRequired,
        }
    }
}

/// The login method of a session, by its first RFC 8176 method.
pub fn first_factor(amr: &[String]) -> Option<&'static str> {
    match amr.first().map(String::as_str) {
        Some("pwd") => Some("password"),
        Some("hwk" | "swk") => Some("passkey"),
        Some("email") => Some("email"),
        Some("fed") => Some("social"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn amr(methods: &[&str]) -> Vec<String> {
        methods.iter().map(|m| (*m).to_owned()).collect()
    }

    #[test]
    fn a_policy_is_read_strictly_and_stored_as_an_object() {
        let policy = OrgPolicy::parse(json!({"mfa_required": true, "login_methods": ["passkey", "password"]})).unwrap();
        assert_eq!(
            policy.to_map(),
            *json!({"mfa_required": true, "login_methods": ["passkey", "password"]}).as_object().unwrap()
        );
        assert_eq!(OrgPolicy::parse(json!({})).unwrap().to_map(), Map::new());
        for bad in [
            json!({"mfa": true}),
            json!({"mfa_required": "yes"}),
            json!({"login_methods": []}),
            json!({"login_methods": ["sms"]}),
            json!({"login_methods": ["email", "email"]}),
            json!([]),
        ] {
            assert!(OrgPolicy::parse(bad.clone()).is_err(), "{bad}");
        }
        assert_eq!(OrgPolicy::from_stored(Some(json!({"bogus": 1}))), OrgPolicy::default());
        assert_eq!(OrgPolicy::from_stored(None), OrgPolicy::default());
    }

    #[test]
    fn a_session_enters_when_its_method_is_taken_and_its_second_factor_proved() {
        let strict = OrgPolicy {
            mfa_required: true,
            login_methods: Some(vec!["password".into(), "passkey".into()]),
            sso_required: false,
        };
        assert_eq!(strict.admits(&amr(&["pwd", "otp", "mfa"]), 2, true), Admission::Admitted);
        assert_eq!(strict.admits(&amr(&["hwk", "user", "mfa"]), 2, true), Admission::Admitted);
        assert_eq!(strict.admits(&amr(&["pwd"]), 1, true), Admission::StepUpRequired);
        assert_eq!(strict.admits(&amr(&["pwd"]), 1, false), Admission::EnrolmentRequired);
        assert_eq!(strict.admits(&amr(&["email", "otp", "mfa"]), 2, true), Admission::MethodNotAllowed);
        assert_eq!(strict.admits(&amr(&["fed"]), 1, false), Admission::MethodNotAllowed);
        assert_eq!(OrgPolicy::default().admits(&amr(&["email"]), 1, false), Admission::Admitted);
    }
}
