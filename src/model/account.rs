//! The account's domain types. Input is parsed into these at the edge; past that point the
//! account rules never re-check it.

use std::fmt;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

/// A problem with one input field, in words meant for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// An email address: trimmed as given, compared in lower case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    address: String,
    normalized: String,
}

impl Email {
    pub const MAX_LEN: usize = 254;

    /// Parses an address. Its lower-case form, which look-ups use, must be a valid address
    /// too (a few letters lower-case into more than one character).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let address = input.trim();
        Self::check(address)?;
        let normalized = address.to_lowercase();
        if normalized != address {
            Self::check(&normalized)?;
        }
        Ok(Self { address: address.to_owned(), normalized })
    }

    fn check(address: &str) -> Result<(), FieldError> {
        let invalid = |why: &str| FieldError::new("email", why);
        if address.is_empty() {
            return Err(invalid("enter an email address"));
        }
        if address.len() > Self::MAX_LEN {
            return Err(invalid("an email address has at most 254 characters"));
        }
        if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("an email address has no spaces or control characters"));
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            address,
            email_address::Options::default().without_display_text().without_domain_literal(),
        )
        .map_err(|_| invalid("this is not a valid email address, like ann@example.com"))?;
        if parsed.domain().starts_with('.') || parsed.domain().ends_with('.') || parsed.domain().contains("..") {
            return Err(invalid("this is not a valid email address, like ann@example.com"));
        }
        Ok(())
    }

    /// An address already stored (and so already valid).
    pub fn from_stored(address: String) -> Self {
        let normalized = address.to_lowercase();
        Self { address, normalized }
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The form uniqueness and look-ups use.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

/// A username: 3–32 of `[A-Za-z0-9_.-]`, unique case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let name = input.trim();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if !(3..=32).contains(&name.len()) {
            return Err(FieldError::new("username", "a username has 3 to 32 characters"));
        }
        if !name.chars().all(ok_char) {
            return Err(FieldError::new(
                "username",
                "a username may hold only letters, digits, underscore, dot and hyphen",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// Whether this is a name that only an admin may give: one of [`RESERVED_USERNAMES`], or one
    /// that differs from it only in letter case, in characters that look alike (the UTS #39
    /// skeletons meet: `ADMlN`, `adrnin`, `r00t`), or in the punctuation a username may hold
    /// (`admin_`, `no-reply`, `gate.house`).
    pub fn reserved(&self) -> bool {
        let bare: String = self.as_str().chars().filter(|c| !matches!(c, '_' | '.' | '-')).collect();
        let own = skeletons(&bare);
        RESERVED_USERNAMES.iter().any(|name| skeletons(name).iter().any(|s| own.contains(s)))
    }
}

/// Names people would take for the service's own voice: an account may not choose them for
/// itself (an admin may still give one).
pub const RESERVED_USERNAMES: &[&str] = &[
    "admin",
    "root",
    "administrator",
    "system",
    "support",
    "security",
    "postmaster",
    "hostmaster",
    "webmaster",
    "abuse",
    "noreply",
    "gatehouse",
];

/// A name's UTS #39 skeletons as written, in lower case and in upper case, each lowered. The
/// skeleton maps look-alikes of one case (`I` and `l`, `rn` and `m`, `0` and `O`), so a name is
/// compared in each case it could be shown in.
fn skeletons(name: &str) -> [String; 3] {
    let skeleton = |s: &str| unicode_security::skeleton(s).collect::<String>().to_lowercase();
    [skeleton(name), skeleton(&name.to_lowercase()), skeleton(&name.to_uppercase())]
}

/// A display name: up to 200 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Empty input means "no name".
    pub fn parse(input: &str) -> Result<Option<Self>, FieldError> {
        let name = input.trim();
        if name.is_empty() {
            return Ok(None);
        }
        if name.chars().count() > 200 {
            return Err(FieldError::new("name", "a name has at most 200 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new("name", "a name may not hold control characters"));
        }
        Ok(Some(Self(name.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A JSON object: the user's own `data` (at most 16 KiB), or the `app_data` only admins set (at
/// most 4 KiB).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountData(serde_json::Map<String, serde_json::Value>);

impl AccountData {
    /// The most the user's `data` may hold, as JSON.
    pub const MAX_BYTES: usize = 16 * 1024;
    /// The most `app_data` may hold: it rides in every access token.
    pub const MAX_APP_BYTES: usize = 4 * 1024;

    /// The user's `data`.
    pub fn parse(value: serde_json::Value) -> Result<Self, FieldError> {
        Self::parse_field(value, "data")
    }

    /// An object for the field `field` (`data` or `app_data`); `null` is the empty object.
    pub fn parse_field(value: serde_json::Value, field: &'static str) -> Result<Self, FieldError> {
        match value {
            serde_json::Value::Object(map) => Self::from_map_field(map, field),
            serde_json::Value::Null => Ok(Self::default()),
            _ => {
                let example = if field == "data" { r#"{"phone": "+49…"}"# } else { r#"{"plan": "pro"}"# };
                Err(FieldError::new(field, format!("{field} must be a JSON object, like {example}")))
            }
        }
    }

    pub fn from_map(map: serde_json::Map<String, serde_json::Value>) -> Result<Self, FieldError> {
        Self::from_map_field(map, "data")
    }

    fn from_map_field(
        map: serde_json::Map<String, serde_json::Value>,
        field: &'static str,
    ) -> Result<Self, FieldError> {
        // Text columns of some databases cannot hold NUL; it has no place in account data anyway.
        if map.iter().any(|(key, value)| key.contains('\0') || holds_nul(value)) {
            return Err(FieldError::new(field, format!("{field} may not contain NUL characters (\\u0000)")));
        }
        let (max, limit) = if field == "data" { (Self::MAX_BYTES, "16 KiB") } else { (Self::MAX_APP_BYTES, "4 KiB") };
        let size = serde_json::to_vec(&map).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > max {
            return Err(FieldError::new(field, format!("{field} may hold at most {limit} of JSON")));
        }
        Ok(Self(map))
    }

    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    pub fn into_map(self) -> serde_json::Map<String, serde_json::Value> {
        self.0
    }
}

fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// A password chosen by a user, checked against the policy: 8 to 1024 characters, not one of
/// the most common passwords, not the email or username itself.
pub struct NewPassword(SecretString);

impl NewPassword {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 1024;

    /// `field` names the input for the error; `identity` holds the email and username, which
    /// the password may not merely repeat.
    pub fn parse(password: &SecretString, field: &'static str, identity: &[&str]) -> Result<Self, FieldError> {
        let text = password.expose_secret();
        let chars = text.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(FieldError::new(field, "a password has at least 8 characters"));
        }
        if chars > Self::MAX_CHARS {
            return Err(FieldError::new(field, "a password has at most 1024 characters"));
        }
        if is_common_password(text) {
            return Err(FieldError::new(
                field,
                "this password is one of the most common ones and easy to guess; choose another",
            ));
        }
        if too_similar(text, identity) {
            return Err(FieldError::new(
                field,
                "this password is too close to your email address or username; choose one that does not contain them",
            ));
        }
        Ok(Self(password.clone()))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// Letters and digits only, lower-cased: `Ann.Smith-1` and `annsmith1` compare equal.
fn letters_and_digits(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Whether the password is little more than the user's own identifiers: it is one of them (or
/// part of one), or what is left once they are taken out is short or a common password.
/// `identity` holds the email address and username; the email's local part and its words
/// (split at `.`, `_`, `-`, `+`) count too. Pieces shorter than four characters are ignored.
pub fn too_similar(password: &str, identity: &[&str]) -> bool {
    let normalized = letters_and_digits(password);
    let mut pieces: Vec<String> = Vec::new();
    for item in identity.iter().filter(|s| !s.is_empty()) {
        pieces.push(letters_and_digits(item));
        if let Some((local, _)) = item.split_once('@') {
            pieces.push(letters_and_digits(local));
            pieces.extend(local.split(['.', '_', '-', '+']).map(letters_and_digits));
        }
    }
    pieces.retain(|p| p.chars().count() >= 4);
    pieces.sort_by_key(|p| std::cmp::Reverse(p.len()));
    pieces.dedup();
    if normalized.chars().count() >= 4 && pieces.iter().any(|p| p.contains(&normalized)) {
        return true;
    }
    let mut rest = normalized.clone();
    for piece in &pieces {
        rest = rest.replace(piece.as_str(), "");
    }
    rest.len() != normalized.len() && (rest.chars().count() < 5 || is_common_password(&rest))
}

/// Whether the password, compared case-insensitively, is on the shipped list of common
/// passwords (every one of eight characters or more among the 30,000 most common).
pub fn is_common_password(password: &str) -> bool {
    static LIST: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    let list = LIST.get_or_init(|| include_str!("common-passwords.txt").lines().collect());
    list.contains(password.to_lowercase().as_str())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether this is a server admin's role.
    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

/// Whether an account with `role` and `status` is an active server admin: the kind of which
/// one must always remain (every store keeps the last one, inside the change's transaction).
pub fn is_active_admin(role: Role, status: Status) -> bool {
    role.is_admin() && status == Status::Active
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Active,
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Status::Pending),
            "active" => Some(Status::Active),
            "disabled" => Some(Status::Disabled),
            _ => None,
        }
    }
}

/// An account as the rules see it. The password hash is kept apart, in [`Credentials`]. It
/// reads the contract's JSON of an account (and its own serde form, which webhook jobs written
/// by earlier versions hold).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub username: Option<String>,
    pub name: Option<String>,
    /// Written by the user: never to be trusted for a decision.
    pub data: serde_json::Map<String, serde_json::Value>,
    /// Written by admins only (plan, tenant, permissions); the user reads it, and it is copied
    /// into the access token.
    pub app_data: serde_json::Map<String, serde_json::Value>,
    pub role: Role,
    pub status: Status,
    pub email_verified: bool,
    /// The language of the account's emails; `None`: the operator's default. (Absent from
    /// webhook deliveries written before it existed.)
    #[serde(default)]
    pub locale: Option<crate::model::locale::Locale>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Account {
    /// How the account is greeted: its username, else its email.
    pub fn display_name(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.email)
    }
}

/// An account with its password hash (a PHC string), as loaded for a login.
#[derive(Clone)]
pub struct Credentials {
    pub account: Account,
    pub password_hash: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("account", &self.account).field("password_hash", &"***").finish()
    }
}

/// How a path's `{key}` names an account: its id, its email or its username.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountKey {
    Id(Uuid),
    Email(String),
    Username(String),
}

impl AccountKey {
    /// Whether a path key is `me`: the caller's own account. No username can be `me` (they are
    /// at least three characters long), so the word is free to mean this.
    pub fn is_me(key: &str) -> bool {
        key.trim().eq_ignore_ascii_case("me")
    }

    /// A key holding `@` is an email; one that parses as a UUID is an id; else a username.
    pub fn parse(key: &str) -> Self {
        let key = key.trim();
        if key.contains('@') {
            AccountKey::Email(key.to_lowercase())
        } else if let Ok(id) = Uuid::parse_str(key) {
            AccountKey::Id(id)
        } else {
            AccountKey::Username(key.to_ascii_lowercase())
        }
    }

    /// Whether this key names the given account.
    pub fn names(&self, account: &Account) -> bool {
        match self {
            AccountKey::Id(id) => *id == account.id,
            AccountKey::Email(email) => *email == account.email.to_lowercase(),
            AccountKey::Username(name) => {
                account.username.as_deref().map(str::to_ascii_lowercase).as_deref() == Some(name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn emails_are_trimmed_and_compared_in_lower_case() {
        let email = Email::parse("  Ann.Lee@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ann.Lee@Example.COM");
        assert_eq!(email.normalized(), "ann.lee@example.com");
    }

    #[test]
    fn bad_emails_are_refused() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@@example.com",
            "ann lee@example.com",
            "Ann <ann@example.com>",
            "ann@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn usernames_follow_the_contract() {
        assert_eq!(Username::parse("ben").unwrap().as_str(), "ben");
        assert_eq!(Username::parse("Ben_1.x-y").unwrap().normalized(), "ben_1.x-y");
        for reserved in [
            "admin",
            "ADMIN",
            "AdMiN",
            "ADMlN",
            "adrnin",
            "r00t",
            "ROOT",
            "n0reply",
            "gatehouse",
            "SUPP0RT",
            "abuse",
            "admin_",
            "_admin",
            "a.d.m.i.n",
            "no-reply",
            "No_Reply",
            "gate-house",
            "gate.h0use",
            "root.",
            "-support-",
        ] {
            assert!(Username::parse(reserved).unwrap().reserved(), "{reserved} is free");
        }
        for free in
            ["ben", "admins", "admin_1", "rooted", "sysadmin", "noreplies", "supporter", "ad-min-team", "gate_keeper"]
        {
            assert!(!Username::parse(free).unwrap().reserved(), "{free} is reserved");
        }
        for bad in ["be", &"x".repeat(33), "ben!", "ben@example.com", "bén", "b en"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn passwords_follow_the_policy() {
        assert!(NewPassword::parse(&secret("correct horse battery"), "password", &[]).is_ok());
        let short = NewPassword::parse(&secret("short"), "password", &[]).unwrap_err();
        assert!(short.message.contains("at least 8"));
        assert!(NewPassword::parse(&secret(&"x".repeat(1025)), "password", &[]).is_err());
        assert!(NewPassword::parse(&secret(&"é".repeat(1024)), "password", &[]).is_ok());
        let common = NewPassword::parse(&secret("password123"), "password", &[]).unwrap_err();
        assert!(common.message.contains("common"));
        assert!(NewPassword::parse(&secret("PASSWORD123"), "password", &[]).is_err());
        let same = NewPassword::parse(&secret("ann.lee.rocks"), "password", &["ann.lee.rocks@example.com"]);
        assert!(same.is_err());
        assert!(NewPassword::parse(&secret("bennyboy99"), "password", &["BennyBoy99"]).is_err());
    }

    #[test]
    fn an_address_whose_lower_case_is_no_address_is_refused() {
        assert!(Email::parse("a@\u{130}\u{130}.com").is_err(), "İ lowers to i and a combining dot");
        assert_eq!(Email::parse("Ann@Example.COM").unwrap().normalized(), "ann@example.com");
    }

    #[test]
    fn passwords_too_close_to_the_identity_are_refused() {
        let me = ["Ann.Smith@example.com", "annsmith"];
        for close in
            ["annsmith2024", "Ann.Smith!!1", "ann-smith-1", "smith1990", "ANNSMITH@EXAMPLE", "annsmith+password1"]
        {
            assert!(too_similar(close, &me), "{close} should be too similar");
        }
        for fine in
            ["correct horse battery", "ann loves blue cheese", "sm1th-and-w3sson-ok?", "!!!!!!!!a", "12345678901"]
        {
            assert!(!too_similar(fine, &me), "{fine} should be allowed");
        }
        let refused = NewPassword::parse(&secret("annsmith2024"), "password", &me).unwrap_err();
        assert!(refused.message.contains("email address or username"), "{}", refused.message);
        assert!(!too_similar("anything-goes-here", &["", ""]));
    }

    #[test]
    fn the_common_list_holds_thousands_of_passwords() {
        let count = include_str!("common-passwords.txt").lines().count();
        assert!(count >= 10_000, "only {count} entries");
        for common in ["12345678", "iloveyou1", "sunshine"] {
            assert!(is_common_password(common), "{common} is not in the list");
        }
        assert!(!is_common_password("correct horse battery staple"));
    }

    #[test]
    fn data_must_be_a_small_object() {
        assert!(AccountData::parse(serde_json::json!({"phone": "+49"})).is_ok());
        assert!(AccountData::parse(serde_json::json!(null)).unwrap().as_map().is_empty());
        assert_eq!(AccountData::parse(serde_json::json!([1])).unwrap_err().field, "data");
        assert!(AccountData::parse(serde_json::json!({"big": "x".repeat(17 * 1024)})).is_err());
        assert!(AccountData::parse(serde_json::json!({"a": ["ok", {"b": "nul\u{0}"}]})).is_err());
        assert!(AccountData::parse(serde_json::json!({"nul\u{0}key": 1})).is_err());
    }

    #[test]
    fn keys_name_accounts_by_id_email_or_username() {
        let id = Uuid::now_v7();
        assert_eq!(AccountKey::parse(&id.to_string()), AccountKey::Id(id));
        assert_eq!(AccountKey::parse("Ann@Example.com"), AccountKey::Email("ann@example.com".into()));
        assert_eq!(AccountKey::parse("Ben"), AccountKey::Username("ben".into()));
        assert!(AccountKey::is_me("me") && AccountKey::is_me(" ME "));
        assert!(!AccountKey::is_me("mel") && Username::parse("me").is_err(), "no username is `me`");
    }

    #[test]
    fn new_password_debug_hides_the_secret() {
        let p = NewPassword::parse(&secret("correct horse battery"), "password", &[]).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    proptest! {
        #[test]
        fn valid_usernames_round_trip(name in "[A-Za-z0-9_.-]{3,32}") {
            let parsed = Username::parse(&name).unwrap();
            prop_assert_eq!(parsed.as_str(), name.as_str());
        }

        #[test]
        fn usernames_with_other_characters_are_refused(name in "[a-z]{2,10}[^A-Za-z0-9_.-][a-z]{1,10}") {
            prop_assert!(Username::parse(&name).is_err() || name.trim() != name);
        }

        #[test]
        fn email_parsing_never_panics(input in "\\PC{0,300}") {
            let _ = Email::parse(&input);
        }

        #[test]
        fn parsed_emails_have_one_at_and_no_spaces(local in "[a-z0-9.]{1,20}", domain in "[a-z]{1,10}\\.[a-z]{2,5}") {
            if let Ok(email) = Email::parse(&format!("{local}@{domain}")) {
                prop_assert_eq!(email.as_str().matches('@').count(), 1);
                prop_assert!(!email.as_str().contains(' '));
            }
        }
    }
}
