//! The credential matrix: which kind of credential may exercise each operation that creates
//! lasting access or changes whom gatehouse trusts, in the hands of someone whose standing allows
//! the operation (the account's owner, the organization's owner, an admin).
//!
//! One table, read three ways: the use cases ask [`cell`] before they act (through
//! `Core::admit`), `docs/SECURITY.md` shows [`markdown`] (a test keeps the two the same), and
//! the integration suite performs every operation with every credential and expects what the
//! table says. An operation without a row does not compile; a credential without a column
//! neither.
//!
//! A credential that is not a login never creates lasting access: an API key (a person's or an
//! organization's) is what a leak hands out, and what it could mint would outlive its
//! revocation. An impersonation is an admin acting as someone, who must not plant access in that
//! person's name. A SCIM token and the tokens of client apps open their own protocols only, never
//! gatehouse's own API.

use std::fmt::Write;

use super::super::Error;

/// How the caller proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Credential {
    /// A person's session at one factor (an account without a second factor).
    Session,
    /// A person's session that proved a second factor.
    SessionAal2,
    /// An admin's session acting as the person (`act`).
    Impersonation,
    /// A person's API key.
    PersonalKey,
    /// An organization's API key.
    OrgKey,
    /// An organization's SCIM token.
    ScimToken,
    /// A client app's token of the `client_credentials` grant.
    ClientCredentials,
    /// A third-party client app's access token, granted by the person.
    ClientToken,
}

impl Credential {
    /// The columns, in order.
    pub const ALL: [Credential; 8] = [
        Credential::Session,
        Credential::SessionAal2,
        Credential::Impersonation,
        Credential::PersonalKey,
        Credential::OrgKey,
        Credential::ScimToken,
        Credential::ClientCredentials,
        Credential::ClientToken,
    ];

    /// The column's heading.
    pub fn label(self) -> &'static str {
        match self {
            Credential::Session => "session (aal1)",
            Credential::SessionAal2 => "session (aal2)",
            Credential::Impersonation => "impersonation",
            Credential::PersonalKey => "personal API key",
            Credential::OrgKey => "organization API key",
            Credential::ScimToken => "SCIM token",
            Credential::ClientCredentials => "client credentials",
            Credential::ClientToken => "third-party client token",
        }
    }

    fn column(self) -> usize {
        Credential::ALL.iter().position(|c| *c == self).unwrap_or_default()
    }
}

/// Why a credential is refused, each with its stable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a credential of gatehouse's own API at all: `401 unauthorized`.
    NotThisApi,
    /// A key where a login is meant: `403 api_key_forbidden`.
    Key,
    /// An impersonation: `403 impersonation_forbidden`.
    Impersonated,
}

impl Refusal {
    /// The status and problem code the caller gets.
    pub fn answer(self) -> (u16, &'static str) {
        match self {
            Refusal::NotThisApi => (401, "unauthorized"),
            Refusal::Key => (403, "api_key_forbidden"),
            Refusal::Impersonated => (403, "impersonation_forbidden"),
        }
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotThisApi => Error::Unauthorized,
            Refusal::Key => Error::ApiKeyForbidden,
            Refusal::Impersonated => Error::ImpersonationForbidden,
        }
    }
}

/// One cell of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Allowed,
    /// Allowed to a session that authenticated within `GATEHOUSE_REAUTH_WINDOW` (with its second
    /// factor, when the account has one); an older one gets `403 reauthentication_required`.
    Fresh,
    Refused(Refusal),
}

impl Cell {
    fn mark(self) -> &'static str {
        match self {
            Cell::Allowed => "yes",
            Cell::Fresh => "fresh",
            Cell::Refused(Refusal::NotThisApi) => "401",
            Cell::Refused(Refusal::Key) => "key",
            Cell::Refused(Refusal::Impersonated) => "imp",
        }
    }
}

macro_rules! operations {
    ($($name:ident => $route:literal, $what:literal;)*) => {
        /// What creates lasting access or changes whom gatehouse trusts.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Operation { $($name),* }

        impl Operation {
            /// The rows, in order.
            pub const ALL: &'static [Operation] = &[$(Operation::$name),*];

            /// The route that performs it.
            pub fn route(self) -> &'static str {
                match self { $(Operation::$name => $route),* }
            }

            /// What it does, in words.
            pub fn what(self) -> &'static str {
                match self { $(Operation::$name => $what),* }
            }
        }
    };
}

operations! {
    OwnApiKey => "POST /user/api-keys", "make an API key of one's own";
    PasswordChange => "POST /password/change", "change one's password";
    EmailChange => "POST /email/change", "change one's address";
    Totp => "POST /mfa/totp", "add an authenticator app";
    Passkey => "POST /webauthn/register/options", "add a passkey";
    AccountDeletion => "DELETE /user", "delete one's account";
    OrgApiKey => "POST /orgs/{org}/api-keys", "make an organization's API key";
    ScimToken => "POST /orgs/{org}/scim/tokens", "make a SCIM token";
    SsoConnection => "POST /orgs/{org}/sso/saml", "add an SSO connection";
    SsoMetadata => "PATCH /orgs/{org}/sso/{id}", "change an SSO connection's identity provider";
    MemberInvitation => "POST /orgs/{org}/invitations", "invite a member (role member)";
    AdminInvitation => "POST /orgs/{org}/invitations", "invite an admin (role admin)";
    OwnerInvitation => "POST /orgs/{org}/invitations", "invite an owner (role owner)";
    OrgRole => "POST /orgs/{org}/roles", "make a custom role";
    DomainVerification => "POST /orgs/{org}/domains/{domain}/verify", "verify a domain";
    OrgPolicy => "PATCH /orgs/{org}", "change the organization's policy";
    MemberPromotion => "PATCH /orgs/{org}/members/{id}", "make a member an admin";
    OwnershipGrant => "PATCH /orgs/{org}/members/{id}", "make a member an owner";
    OrgDeletion => "DELETE /orgs/{org}", "delete the organization";
    Webhook => "POST /admin/webhooks", "add a webhook endpoint";
    Client => "POST /admin/clients", "register a client app";
    RegistrationToken => "POST /admin/registration-tokens", "issue a client registration token";
    AdminGrant => "PATCH /user/{key}", "make an account an admin";
    Impersonation => "POST /admin/users/{key}/impersonate", "act as another account";
}

use Cell::{Allowed as A, Fresh as F};
/// A key where a login is meant.
const K: Cell = Cell::Refused(Refusal::Key);
/// An impersonation.
const I: Cell = Cell::Refused(Refusal::Impersonated);
/// Not a credential of gatehouse's API.
const U: Cell = Cell::Refused(Refusal::NotThisApi);

/// The table: a row per operation, a column per [`Credential::ALL`] (session at aal1, at aal2,
/// impersonation, personal key, organization key, SCIM token, client credentials, third-party
/// client token). A member's role holds no power over others, so a person's key may invite one
/// (who still accepts with a login of their own).
#[rustfmt::skip]
const fn row(operation: Operation) -> [Cell; 8] {
    use Operation::*;
    match operation {
        //                      aal1 aal2 imp key org scim cc client
        OwnApiKey =>          [A, A, I, K, K, U, U, U],
        PasswordChange =>     [A, A, I, K, K, U, U, U],
        EmailChange =>        [A, A, I, K, K, U, U, U],
        Totp =>               [A, A, I, K, K, U, U, U],
        Passkey =>            [F, F, I, K, K, U, U, U],
        AccountDeletion =>    [F, F, I, K, K, U, U, U],
        OrgApiKey =>          [A, A, I, K, K, U, U, U],
        ScimToken =>          [A, A, I, K, K, U, U, U],
        SsoConnection =>      [A, A, I, K, K, U, U, U],
        SsoMetadata =>        [A, A, I, K, K, U, U, U],
        MemberInvitation =>   [A, A, I, A, K, U, U, U],
        AdminInvitation =>    [A, A, I, K, K, U, U, U],
        OwnerInvitation =>    [A, A, I, K, K, U, U, U],
        OrgRole =>            [A, A, I, K, K, U, U, U],
        DomainVerification => [A, A, I, K, K, U, U, U],
        OrgPolicy =>          [A, A, I, K, K, U, U, U],
        MemberPromotion =>    [A, A, I, K, K, U, U, U],
        OwnershipGrant =>     [A, A, I, K, K, U, U, U],
        OrgDeletion =>        [A, A, I, K, K, U, U, U],
        Webhook =>            [F, F, I, K, K, U, U, U],
        Client =>             [F, F, I, K, K, U, U, U],
        RegistrationToken =>  [F, F, I, K, K, U, U, U],
        AdminGrant =>         [F, F, I, K, K, U, U, U],
        Impersonation =>      [F, F, I, K, K, U, U, U],
    }
}

/// What `credential` may do of `operation`.
pub fn cell(operation: Operation, credential: Credential) -> Cell {
    row(operation)[credential.column()]
}

/// The table as `docs/SECURITY.md` shows it.
pub fn markdown() -> String {
    let mut out = String::from("| operation | route |");
    for credential in Credential::ALL {
        let _ = write!(out, " {} |", credential.label());
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(Credential::ALL.len()));
    for operation in Operation::ALL {
        let _ = write!(out, "\n| {} | `{}` |", operation.what(), operation.route());
        for credential in Credential::ALL {
            let _ = write!(out, " {} |", cell(*operation, credential).mark());
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_credential_but_a_login_creates_lasting_access_except_a_key_s_member_invitation() {
        for operation in Operation::ALL {
            for credential in
                [Credential::OrgKey, Credential::ScimToken, Credential::ClientCredentials, Credential::ClientToken]
            {
                assert!(matches!(cell(*operation, credential), Cell::Refused(_)), "{operation:?} {credential:?}");
            }
            assert_eq!(cell(*operation, Credential::Impersonation), I, "{operation:?}");
            let key = cell(*operation, Credential::PersonalKey);
            assert_eq!(key == A, *operation == Operation::MemberInvitation, "{operation:?}");
            assert_eq!(cell(*operation, Credential::Session), cell(*operation, Credential::SessionAal2));
        }
    }

    #[test]
    fn the_table_renders_a_row_per_operation() {
        let table = markdown();
        assert_eq!(table.lines().count(), Operation::ALL.len() + 2);
        assert!(table.contains(
            "| make a SCIM token | `POST /orgs/{org}/scim/tokens` | yes | yes | imp | key | key | 401 | 401 | 401 |"
        ));
    }
}
