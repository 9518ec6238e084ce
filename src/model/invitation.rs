//! Invitations to an organization: an address, the role it is offered, and a link (whose
//! token the store keeps only hashed) that the person at that address follows to join. Only
//! an account whose verified address is the invited one may accept, once, before it expires.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::org::{Membership, Organization};
use super::token::TokenHash;

/// An invitation to be stored; it replaces any pending one of the same organization and address.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    pub id: Uuid,
    pub org_id: Uuid,
    /// The invited address, normalized (lower case).
    pub email: String,
    pub role: String,
    pub hash: TokenHash,
    /// The account that invited (none when an operator did).
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A pending invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub role: String,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An invitation with the organization it is to, as its addressee lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Addressed {
    pub invitation: Invitation,
    pub org: Organization,
}

/// How an acceptance names its invitation: by the emailed link's token (hashed), or by its id
/// (from the addressee's own list, whose verified address is the proof).
#[derive(Clone, Copy, Debug)]
pub enum InvitationKey<'a> {
    Token(&'a TokenHash),
    Id(Uuid),
}

/// Who accepts an invitation: the account, and its verified address (normalized).
#[derive(Clone, Copy, Debug)]
pub struct Acceptor<'a> {
    pub account_id: Uuid,
    pub email: &'a str,
}

/// What presenting an invitation's token came to, decided in one transaction: the
/// invitation is spent only when the membership is made.
#[derive(Clone, Debug, PartialEq)]
pub enum Acceptance {
    /// The account is now a member (or was one already: the invitation is spent either way).
    Joined(Box<Membership>),
    /// No such invitation: never issued, revoked, replaced or spent.
    NotFound,
    Expired,
    /// Addressed to another address: nothing changed.
    EmailMismatch,
    /// The organization has as many members as it may: nothing changed.
    Full,
}
