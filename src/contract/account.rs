//! The account as the contract shows it: in every answer, on the command line and in a webhook
//! delivery's `data.account`. It imports nothing above the model, so the webhook worker (which
//! writes a delivery's account in it as it sends) uses it as the API does.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::account::Account;

/// A time as the API writes it: RFC 3339, UTC, milliseconds.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The account, as every endpoint shows it. The password hash is not part of it.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Account, example = json!({
    "id": "0193b5d2-7c1e-7a4b-9d3e-2f1a6c8b9e01", "email": "ann@example.com", "username": "ann",
    "name": "Ann", "data": {"phone": "+49 30 1234"}, "role": "user", "status": "active",
    "email_verified": true, "locale": "de", "created_at": "2026-01-02T03:04:05.678Z",
    "updated_at": "2026-01-02T03:04:05.678Z"
}))]
pub struct AccountBody {
    /// UUIDv7.
    pub id: Uuid,
    /// As the user typed it (trimmed); unique case-insensitively.
    pub email: String,
    /// 3–32 of `[A-Za-z0-9_.-]`, unique case-insensitively.
    pub username: Option<String>,
    pub name: Option<String>,
    /// Any JSON object the user chose (at most 16 KiB). The user writes it: never base a
    /// decision (a permission, a plan) on it.
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// A JSON object only admins write (at most 4 KiB: it rides in every access token): plan,
    /// tenant, permissions. The user reads it; access tokens carry it as the `app_data` claim.
    #[schema(value_type = Object, example = json!({"plan": "pro"}))]
    pub app_data: serde_json::Map<String, serde_json::Value>,
    #[schema(value_type = String, example = "user")]
    /// `user` or `admin`.
    pub role: &'static str,
    /// `pending` (not yet activated), `active` or `disabled`.
    #[schema(value_type = String, example = "active")]
    pub status: &'static str,
    pub email_verified: bool,
    /// The language of the account's emails: `en`, `de`, `fr` or `es`; `null` until chosen
    /// (the operator's `GATEHOUSE_DEFAULT_LOCALE` then). Taken from the browser's
    /// `Accept-Language` at sign-up; set it with `PATCH /user`.
    #[schema(value_type = Option<String>, example = "de")]
    pub locale: Option<&'static str>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

impl From<Account> for AccountBody {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            created_at: rfc3339(&a.created_at),
            updated_at: rfc3339(&a.updated_at),
            email: a.email,
            username: a.username,
            name: a.name,
            data: a.data,
            app_data: a.app_data,
            role: a.role.as_str(),
            status: a.status.as_str(),
            email_verified: a.email_verified,
            locale: a.locale.map(|l| l.as_str()),
        }
    }
}

/// The account of a webhook job as the API shows it: what a delivery's `data.account` holds.
/// The stores write a job's account in the account's own serde form (deciding nothing of its
/// shape); jobs of some earlier releases hold it in this form already, which reads the same way.
pub fn stored_account(stored: serde_json::Value) -> Option<serde_json::Value> {
    let account: Account = serde_json::from_value(stored).ok()?;
    serde_json::to_value(AccountBody::from(account)).ok()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::model::account::{Role, Status};

    fn account() -> Account {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::microseconds(678_901);
        Account {
            id: Uuid::now_v7(),
            email: "ann@example.com".into(),
            username: Some("ann".into()),
            name: None,
            data: serde_json::Map::new(),
            app_data: json!({ "plan": "pro" }).as_object().unwrap().clone(),
            role: Role::User,
            status: Status::Active,
            email_verified: true,
            locale: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_webhook_job_s_account_reads_the_same_in_the_contract_s_form_and_the_older_serde_form() {
        let account = account();
        let contract = serde_json::to_value(AccountBody::from(account.clone())).unwrap();
        let older = serde_json::to_value(&account).unwrap();
        assert_ne!(contract, older, "the forms differ (the times' precision)");
        assert_eq!(stored_account(contract.clone()), Some(contract.clone()), "the contract's form is sent as stored");
        assert_eq!(stored_account(older), Some(contract.clone()), "an older job is sent in the contract's form");
        assert_eq!(contract["created_at"], "2026-01-02T03:04:05.678Z");
        assert_eq!(stored_account(json!({ "id": "not an account" })), None);
    }
}
