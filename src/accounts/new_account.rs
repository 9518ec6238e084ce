//! The fields of a new account, parsed once for sign-up and for an admin's creation: every
//! problem reported at once, the password (when one is given) checked against the email and
//! username it would sit beside.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use crate::model::account::{AccountData, DisplayName, Email, FieldError, NewPassword, Role, Status, Username};
use crate::store::NewAccount;

/// A new account's fields, each parsed.
#[derive(Debug)]
pub(super) struct NewProfile {
    pub email: Email,
    pub username: Option<Username>,
    pub name: Option<DisplayName>,
    pub data: AccountData,
    pub app_data: AccountData,
    /// Present when one was given, and then valid.
    pub password: Option<NewPassword>,
}

/// A new account's fields as submitted.
#[derive(Debug)]
pub(super) struct Submitted<'a> {
    pub email: &'a str,
    pub username: Option<&'a str>,
    pub name: Option<&'a str>,
    /// The JSON data, already assembled (sign-up gathers unknown top-level fields into it).
    pub data: Result<AccountData, FieldError>,
    /// Only an admin's creation sets it; sign-up leaves it empty.
    pub app_data: Result<AccountData, FieldError>,
    pub password: Option<&'a SecretString>,
}

impl NewProfile {
    pub(super) fn parse(submitted: Submitted<'_>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let email = Email::parse(submitted.email).map_err(|e| errors.push(e)).ok();
        let username = match submitted.username.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => Username::parse(u).map_err(|e| errors.push(e)).ok(),
            None => None,
        };
        let name = DisplayName::parse(submitted.name.unwrap_or_default()).map_err(|e| errors.push(e)).ok().flatten();
        let data = submitted.data.map_err(|e| errors.push(e)).ok();
        let app_data = submitted.app_data.map_err(|e| errors.push(e)).ok();
        let identity = [
            email.as_ref().map(Email::as_str).unwrap_or_default(),
            username.as_ref().map(Username::as_str).unwrap_or_default(),
        ];
        let password = match submitted.password {
            Some(password) => NewPassword::parse(password, "password", &identity).map_err(|e| errors.push(e)).ok(),
            None => None,
        };
        match (email, data, app_data) {
            (Some(email), Some(data), Some(app_data)) if errors.is_empty() => {
                Ok(Self { email, username, name, data, app_data, password })
            }
            _ => Err(errors),
        }
    }

    /// The row to insert for this account.
    pub(super) fn account(
        &self,
        password_hash: String,
        role: Role,
        status: Status,
        email_verified: bool,
        now: DateTime<Utc>,
    ) -> NewAccount {
        NewAccount {
            id: Uuid::now_v7(),
            email: self.email.as_str().to_owned(),
            email_normalized: self.email.normalized().to_owned(),
            username: self.username.as_ref().map(|u| u.as_str().to_owned()),
            name: self.name.as_ref().map(|n| n.as_str().to_owned()),
            data: self.data.clone().into_map(),
            app_data: self.app_data.clone().into_map(),
            password_hash,
            role,
            status,
            email_verified,
            locale: None,
            now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submitted<'a>(email: &'a str, username: Option<&'a str>, password: Option<&'a SecretString>) -> Submitted<'a> {
        Submitted {
            email,
            username,
            name: None,
            data: AccountData::parse(serde_json::Value::Null),
            app_data: Ok(AccountData::default()),
            password,
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let password = SecretString::from("short".to_owned());
        let errors = NewProfile::parse(submitted("not an email", Some("x"), Some(&password))).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["email", "username", "password"]);
    }

    #[test]
    fn the_password_may_not_be_the_username_and_may_be_left_out() {
        let password = SecretString::from("annabelle".to_owned());
        let errors = NewProfile::parse(submitted("ann@example.com", Some("annabelle"), Some(&password))).unwrap_err();
        assert_eq!(errors[0].field, "password");
        let profile = NewProfile::parse(submitted("ann@example.com", Some("annabelle"), None)).unwrap();
        assert!(profile.password.is_none());
    }
}
