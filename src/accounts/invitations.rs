//! Invitations: a member with `members:invite` invites an address to the organization with a
//! role (never one granting more of gatehouse's permissions than the inviter holds); an email
//! carries the link. Only an account whose verified address is the invited one may accept,
//! once, before it expires: a forwarded or leaked link is no use to anyone else.

use uuid::Uuid;

use super::access::{self, matrix::Operation};
use super::orgs::OrgView;
use super::{Caller, ClientInfo, Error, Organizations, Result};
use crate::model::account::{AccountKey, Email};
use crate::model::invitation::{Acceptance, Acceptor, Addressed, Invitation, InvitationKey, NewInvitation};
use crate::model::org::Permission;
use crate::model::org::{Held, Membership};
use crate::model::outcome::{Effects, Kind, Outcome};
use crate::tokens::opaque::{OpaqueToken, TokenHash, plausible};

/// An invitation as asked for.
#[derive(Debug)]
pub struct InviteRequest {
    pub email: String,
    pub role: String,
}

impl Organizations {
    fn invitation_outcome(
        &self,
        kind: Kind,
        account: Uuid,
        invitation: &Invitation,
        slug: &str,
        client: &ClientInfo,
    ) -> Outcome {
        self.outcome(kind, Some(account), client)
            .with("org_id", invitation.org_id.to_string())
            .with("slug", slug)
            .with("invitation_id", invitation.id.to_string())
            .with("role", invitation.role.clone())
            .with("email", invitation.email.clone())
    }

    /// Invites an address to the organization (`members:invite`): replaces any pending
    /// invitation of that address, and emails the link. `AlreadyMember` when the address's
    /// account is a member.
    pub async fn invite(
        &self,
        caller: &Caller,
        key: &str,
        request: InviteRequest,
        client: &ClientInfo,
    ) -> Result<Invitation> {
        let OrgView { org, standing } = self.org_with(caller, key, Permission::MembersInvite).await?;
        let email = Email::parse(&request.email).map_err(|e| Error::field("email", e.message))?;
        let permissions = self.role_permissions(org.id, &request.role).await?;
        let operation =
            access::granting(&request.role, &permissions, Operation::OwnerInvitation, Operation::AdminInvitation);
        self.admit(caller, operation.unwrap_or(Operation::MemberInvitation)).await?;
        let inviter = Held { role: &standing.role, permissions: &standing.permissions };
        let offered = Held { role: &request.role, permissions: &permissions };
        if !standing.may_handle(&request.role) || !inviter.covers(&offered) {
            return Err(Error::Forbidden);
        }
        let invitee = self.store.find_account(&AccountKey::Email(email.normalized().to_owned())).await?;
        let invitee = invitee.map(|found| found.account);
        if let Some(invitee) = &invitee
            && self.store.membership(org.id, invitee.id).await?.is_some()
        {
            return Err(Error::AlreadyMember);
        }
        self.throttle.per_org("invitations", org.id, self.policy.invitation_budget).await?;
        self.throttle.per_recipient("invitation", email.normalized()).await?;
        let now = self.now();
        let ttl = self.policy.invitation_ttl;
        let token = OpaqueToken::generate();
        let new = NewInvitation {
            id: Uuid::now_v7(),
            org_id: org.id,
            email: email.normalized().to_owned(),
            role: request.role.clone(),
            hash: token.hash,
            invited_by: (!standing.as_admin).then_some(caller.account_id),
            created_at: now,
            expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(7)),
        };
        let link = self.settings.link("invitations/accept", token.expose(), None);
        let letters = self.policy.letters(invitee.as_ref().and_then(|a| a.locale));
        let mail = self.email(email.as_str(), letters.invitation(&link, ttl, &org.name, &request.role), now);
        let pending = Invitation {
            id: new.id,
            org_id: org.id,
            email: new.email.clone(),
            role: new.role.clone(),
            invited_by: new.invited_by,
            created_at: now,
            expires_at: new.expires_at,
        };
        let created = self.invitation_outcome(Kind::InvitationCreated, caller.account_id, &pending, &org.slug, client);
        let effects = Effects::of(created).email(mail);
        let stored = self.commit(&effects, self.store.insert_invitation(&new, &effects)).await?;
        tracing::info!(org_id = %org.id, invitation_id = %stored.id, "invitation sent");
        Ok(stored)
    }

    /// The organization's pending invitations (`members:invite`).
    pub async fn org_invitations(&self, caller: &Caller, key: &str) -> Result<Vec<Invitation>> {
        let OrgView { org, .. } = self.org_with(caller, key, Permission::MembersInvite).await?;
        Ok(self.store.org_invitations(org.id, self.now()).await?)
    }

    /// Revokes a pending invitation (`members:invite`): its link no longer works.
    pub async fn revoke_invitation(&self, caller: &Caller, key: &str, id: Uuid, client: &ClientInfo) -> Result<()> {
        let OrgView { org, standing } = self.org_with(caller, key, Permission::MembersInvite).await?;
        let found = self.store.find_invitation(InvitationKey::Id(id)).await?.map(|(invitation, _)| invitation);
        let pending = found.filter(|i| i.org_id == org.id && i.expires_at > self.now());
        let invitation = pending.ok_or(Error::NotFoundInvitation)?;
        // Nobody revokes an offer it could not have made (a role gone since offers nothing).
        let offered = self.role_permissions(org.id, &invitation.role).await.unwrap_or_default();
        let mine = Held { role: &standing.role, permissions: &standing.permissions };
        if !standing.may_handle(&invitation.role) || !mine.covers(&Held { role: "", permissions: &offered }) {
            return Err(Error::Forbidden);
        }
        let revoked =
            self.invitation_outcome(Kind::InvitationRevoked, caller.account_id, &invitation, &org.slug, client);
        let effects = Effects::of(revoked);
        if !self.commit(&effects, self.store.revoke_invitation(org.id, id, &effects)).await? {
            return Err(Error::NotFoundInvitation);
        }
        Ok(())
    }

    /// The pending invitations to the caller's address, once it is verified (none before:
    /// the address is not yet proven the caller's).
    pub async fn my_invitations(&self, caller: &Caller) -> Result<Vec<Addressed>> {
        let me = self.me(caller).await?;
        if !me.email_verified {
            return Ok(Vec::new());
        }
        let email = Email::from_stored(me.email);
        Ok(self.store.invitations_to(email.normalized(), self.now()).await?)
    }

    /// Accepts the invitation the emailed link's token names: only with the invited address,
    /// verified; once; before it expires. The membership and the spending of the invitation
    /// are one write.
    pub async fn accept_invitation(&self, caller: &Caller, token: &str, client: &ClientInfo) -> Result<Membership> {
        if !plausible(token) {
            return Err(Error::NotFoundInvitation);
        }
        self.accept(caller, InvitationKey::Token(&TokenHash::of(token)), client).await
    }

    /// Accepts an invitation of the caller's own list by its id: the same checks, the verified
    /// address being the proof the link's token would otherwise add.
    pub async fn accept_invitation_by_id(&self, caller: &Caller, id: Uuid, client: &ClientInfo) -> Result<Membership> {
        self.accept(caller, InvitationKey::Id(id), client).await
    }

    async fn accept(&self, caller: &Caller, key: InvitationKey<'_>, client: &ClientInfo) -> Result<Membership> {
        caller.refuse_impersonation()?;
        let me = self.me(caller).await?;
        let (invitation, org) = self.store.find_invitation(key).await?.ok_or(Error::NotFoundInvitation)?;
        let email = Email::from_stored(me.email.clone());
        let now = self.now();
        // The address first: to anyone else, an invitation tells nothing, not even its expiry.
        if !me.email_verified || invitation.email != email.normalized() {
            tracing::info!(org_id = %org.id, invitation_id = %invitation.id, "an invitation was presented by another address");
            return Err(Error::InvitationEmailMismatch);
        }
        if invitation.expires_at <= now {
            return Err(Error::InvitationExpired);
        }
        let accepted = self.invitation_outcome(Kind::InvitationAccepted, me.id, &invitation, &org.slug, client);
        let effects = Effects::of(accepted);
        let acceptor = Acceptor { account_id: me.id, email: email.normalized() };
        let limit = self.policy.org_member_limit;
        match self.commit(&effects, self.store.accept_invitation(key, acceptor, now, limit, &effects)).await? {
            Acceptance::Joined(membership) => {
                tracing::info!(org_id = %org.id, account_id = %me.id, "invitation accepted");
                Ok(*membership)
            }
            Acceptance::NotFound => Err(Error::NotFoundInvitation),
            Acceptance::Expired => Err(Error::InvitationExpired),
            Acceptance::EmailMismatch => Err(Error::InvitationEmailMismatch),
            Acceptance::Full => Err(Error::MemberLimitReached),
        }
    }
}
