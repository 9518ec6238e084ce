//! Invitations: `pk = O#<org>`, `sk = I#<id>` in the organization's partition, its link token
//! only hashed, found by the hash through its companion `IN#<hash>` and by its id through
//! `CI#<id>` (both naming the organization; all three expire together). One pending invitation
//! per organization and address: a new one replaces it in the organization's turn. Accepting
//! one spends it in the transaction that makes the membership, in the organization's turn (see
//! [`super::orgs::turn`]), so the member limit holds and two acceptances of one link cannot
//! both join. The invitations to an address are the `listing` index (`by_pk = CIE#<address>`), which
//! lags a new one by a moment.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::DynamoStore;
use super::Tables;
use super::items::{Item, Write, hex, id, item, key, opt_text, s, stamp, stamp_text, text, time, ttl};
use super::orgs::{ATTEMPTS, MemberItem, busy, member_writes, membership_of, org_from_item, org_key, turn};
use super::owned::{org_owner, with_companion};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::org::{self as org, Maker, Organization};
use crate::model::outcome::Effects;
use crate::store::error::StoreResult;
use crate::store::invitations::{
    Acceptance, Acceptor, Addressed, Invitation, InvitationKey, InvitationStore, NewInvitation,
};

/// How long an expired invitation is kept, so that its link answers "expired" (as the SQL
/// store's purge keeps expired tokens).
const KEPT_EXPIRED: Duration = Duration::days(7);

fn invitation_key(org_id: Uuid, id: Uuid) -> Item {
    key(org_owner(org_id), format!("I#{id}"))
}

fn hash_key(hash: &str) -> Item {
    key(format!("IN#{hash}"), "IN")
}

fn id_key(id: Uuid) -> Item {
    key(format!("CI#{id}"), "CI")
}

/// An invitation as stored, with its hash (hex).
pub(super) struct Stored {
    pub invitation: Invitation,
    hash: String,
}

fn stored_from_item(found: &Item) -> StoreResult<Stored> {
    let invited_by = opt_text(found, "by")?.map(Uuid::parse_str).transpose().map_err(anyhow::Error::from)?;
    Ok(Stored {
        invitation: Invitation {
            id: id(found, "id")?,
            org_id: id(found, "org")?,
            email: text(found, "email")?.to_owned(),
            role: text(found, "role")?.to_owned(),
            invited_by,
            created_at: time(found, "created")?,
            expires_at: time(found, "expires")?,
        },
        hash: text(found, "hash")?.to_owned(),
    })
}

/// The writes that delete an invitation with its companions.
pub(super) fn invitation_gone(tables: &Tables, stored: &Stored) -> [Write; 3] {
    let invitation = &stored.invitation;
    [
        Write::delete(&tables.main, invitation_key(invitation.org_id, invitation.id)),
        Write::delete(&tables.main, hash_key(&stored.hash)),
        Write::delete(&tables.main, id_key(invitation.id)),
    ]
}

fn invitation_writes(tables: &Tables, new: &NewInvitation) -> [Write; 3] {
    let hash = hex(new.hash.as_bytes());
    let expiry = ("ttl", ttl(new.expires_at + KEPT_EXPIRED));
    let org = ("org", s(new.org_id.to_string()));
    let mut attributes = vec![
        ("id", s(new.id.to_string())),
        org.clone(),
        ("email", s(new.email.as_str())),
        ("role", s(new.role.as_str())),
        ("hash", s(hash.as_str())),
        ("created", stamp(new.created_at)),
        ("expires", stamp(new.expires_at)),
        expiry.clone(),
        ("by_pk", s(format!("CIE#{}", new.email))),
        ("by_sk", s(format!("{}#{}", stamp_text(new.created_at), new.id))),
    ];
    if let Some(by) = new.invited_by {
        attributes.push(("by", s(by.to_string())));
    }
    let mut written = item("", "", attributes);
    written.extend(invitation_key(new.org_id, new.id));
    let mut by_hash = item("", "", vec![org.clone(), ("id", s(new.id.to_string())), expiry.clone()]);
    by_hash.extend(hash_key(&hash));
    let mut by_id = item("", "", vec![org, expiry]);
    by_id.extend(id_key(new.id));
    let fresh = "attribute_not_exists(#pk)";
    [
        Write::put(&tables.main, with_companion(written, &hash_key(&hash))).when(fresh),
        Write::put(&tables.main, by_hash).when(fresh),
        Write::put(&tables.main, by_id).when(fresh),
    ]
}

impl DynamoStore {
    /// The organization's invitations, expired ones too (strongly consistent).
    pub(super) async fn stored_invitations(&self, org_id: Uuid) -> StoreResult<Vec<Stored>> {
        let found = self.partition(&self.tables.main, &org_owner(org_id), "I#").await?;
        found.iter().map(stored_from_item).collect()
    }

    /// The organization and id of the invitation the key names.
    async fn locate(&self, key: InvitationKey<'_>) -> StoreResult<Option<(Uuid, Uuid)>> {
        Ok(match key {
            InvitationKey::Token(hash) => {
                let found = self.get(&self.tables.main, hash_key(&hex(hash.as_bytes()))).await?;
                found.map(|f| Ok::<_, crate::store::error::StoreError>((id(&f, "org")?, id(&f, "id")?))).transpose()?
            }
            InvitationKey::Id(invitation) => {
                let found = self.get(&self.tables.main, id_key(invitation)).await?;
                found.map(|f| id(&f, "org")).transpose()?.map(|org| (org, invitation))
            }
        })
    }

    /// The invitation the key names, read in its organization's partition (a token must be its
    /// own: a replaced invitation's companion may linger a moment).
    async fn read_invitation(&self, key: InvitationKey<'_>) -> StoreResult<Option<Stored>> {
        let Some((org_id, invitation)) = self.locate(key).await? else { return Ok(None) };
        let Some(found) = self.get(&self.tables.main, invitation_key(org_id, invitation)).await? else {
            return Ok(None);
        };
        let stored = stored_from_item(&found)?;
        if let InvitationKey::Token(hash) = key
            && stored.hash != hex(hash.as_bytes())
        {
            return Ok(None);
        }
        Ok(Some(stored))
    }

    /// Whether an offer of `offered` (an invitation's role, a domain's auto-join role) is still
    /// worth the word of the member who made it, judged on the members and roles read in the
    /// organization's turn: the role still exists, and its maker (when an account made it;
    /// `None`: an operator or a gatehouse admin) is still an unsuspended member who may invite
    /// and holds every permission the role grants now (only an owner offers `owner`). With
    /// `gone_is_none`, a maker whose account is deleted counts as `None` (an invitation's
    /// inviter: the SQL store sets it to NULL then).
    pub(super) async fn offer_stands(
        &self,
        members: &[MemberItem],
        custom: &HashMap<String, Vec<String>>,
        made_by: Option<Uuid>,
        offered: &str,
        gone_is_none: bool,
    ) -> StoreResult<bool> {
        let maker = match made_by.map(|maker| (maker, members.iter().find(|m| m.account == maker))) {
            None => Maker::Unrecorded,
            Some((_, Some(member))) if member.suspended.is_some() => Maker::Gone,
            Some((_, Some(member))) => Maker::Member(&member.role),
            // A maker whose account is deleted since is forgotten, as a SQL store forgets it.
            Some((maker, None)) if gone_is_none && self.read_account(maker).await?.is_none() => Maker::Unrecorded,
            Some((_, None)) => Maker::Gone,
        };
        Ok(org::offer_stands(offered, maker, custom))
    }
}

#[async_trait]
impl InvitationStore for DynamoStore {
    async fn insert_invitation(&self, new: &NewInvitation, effects: &Effects) -> StoreResult<Invitation> {
        timed!(DB, "insert_invitation", async {
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(new.org_id).await? else {
                    return Err(anyhow::anyhow!("an invitation to no organization").into());
                };
                let mut writes = vec![turn(&self.tables, new.org_id, read.ver)];
                // The pending one to the address is replaced (its link no longer works).
                for replaced in self.stored_invitations(new.org_id).await? {
                    if replaced.invitation.email == new.email {
                        writes.extend(invitation_gone(&self.tables, &replaced));
                    }
                }
                writes.extend(invitation_writes(&self.tables, new));
                if self.commit(writes, &told).await?.is_none() {
                    return Ok(Invitation {
                        id: new.id,
                        org_id: new.org_id,
                        email: new.email.clone(),
                        role: new.role.clone(),
                        invited_by: new.invited_by,
                        created_at: new.created_at,
                        expires_at: new.expires_at,
                    });
                }
            }
            Err(busy(new.org_id))
        })
    }

    async fn org_invitations(&self, org_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>> {
        timed!(DB, "org_invitations", async {
            let mut pending: Vec<Invitation> = self
                .stored_invitations(org_id)
                .await?
                .into_iter()
                .map(|stored| stored.invitation)
                .filter(|invitation| invitation.expires_at > now)
                .collect();
            pending.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
            Ok(pending)
        })
    }

    async fn invitations_to(&self, email: &str, now: DateTime<Utc>) -> StoreResult<Vec<Addressed>> {
        timed!(DB, "invitations_to", async {
            // The `listing` index (it lags by a moment); each invitation is read again from its
            // organization's partition, so a replaced or spent one is not listed.
            let listed = self.listed(&format!("CIE#{email}"), true).await?;
            let mut keys = Vec::new();
            for found in &listed {
                keys.push(key(text(found, "pk")?, text(found, "sk")?));
                keys.push(org_key(id(found, "org")?));
            }
            let (mut orgs, mut invitations) = (HashMap::new(), Vec::new());
            for found in self.batch_get(keys).await? {
                if text(&found, "sk")? == "O" {
                    let org: Organization = org_from_item(&found)?;
                    orgs.insert(org.id, org);
                } else {
                    invitations.push(stored_from_item(&found)?.invitation);
                }
            }
            invitations.retain(|i| i.email == email && i.expires_at > now);
            invitations.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
            Ok(invitations
                .into_iter()
                .filter_map(|invitation| {
                    let org = orgs.get(&invitation.org_id)?.clone();
                    Some(Addressed { invitation, org })
                })
                .collect())
        })
    }

    async fn find_invitation(&self, key: InvitationKey<'_>) -> StoreResult<Option<(Invitation, Organization)>> {
        timed!(DB, "find_invitation", async {
            let Some(stored) = self.read_invitation(key).await? else { return Ok(None) };
            let Some(read) = self.read_org(stored.invitation.org_id).await? else { return Ok(None) };
            Ok(Some((stored.invitation, read.org)))
        })
    }

    async fn revoke_invitation(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "revoke_invitation", async {
            let Some(found) = self.get(&self.tables.main, invitation_key(org_id, id)).await? else { return Ok(false) };
            let stored = stored_from_item(&found)?;
            let [gone, by_hash, by_id] = invitation_gone(&self.tables, &stored);
            // Once: an acceptance or another revocation that came first leaves nothing to delete.
            let writes = vec![gone.when("attribute_exists(#pk)"), by_hash, by_id];
            let told = self.told_built(effects).await?;
            Ok(self.commit(writes, &told).await?.is_none())
        })
    }

    async fn accept_invitation(
        &self,
        key: InvitationKey<'_>,
        acceptor: Acceptor<'_>,
        now: DateTime<Utc>,
        member_limit: u64,
        effects: &Effects,
    ) -> StoreResult<Acceptance> {
        timed!(DB, "accept_invitation", async {
            let Some((org_id, _)) = self.locate(key).await? else { return Ok(Acceptance::NotFound) };
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                // The organization's turn first, then the invitation, read again: an acceptance
                // that came first has spent it by now.
                let Some(read) = self.read_org(org_id).await? else { return Ok(Acceptance::NotFound) };
                let Some(stored) = self.read_invitation(key).await? else { return Ok(Acceptance::NotFound) };
                let invitation = &stored.invitation;
                if invitation.email != acceptor.email {
                    return Ok(Acceptance::EmailMismatch);
                }
                if invitation.expires_at <= now {
                    return Ok(Acceptance::Expired);
                }
                let members = self.members(org_id).await?;
                let custom = self.custom_roles(org_id).await?;
                if !self.offer_stands(&members, &custom, invitation.invited_by, &invitation.role, true).await? {
                    return Ok(Acceptance::NotFound);
                }
                let held = members.iter().find(|m| m.account == acceptor.account_id).cloned();
                // A suspended member's membership is the organization's SCIM client's to lift: an
                // invitation does not.
                if held.as_ref().is_some_and(|m| m.suspended.is_some()) {
                    return Ok(Acceptance::NotFound);
                }
                let mut writes = vec![turn(&self.tables, org_id, read.ver)];
                let [gone, by_hash, by_id] = invitation_gone(&self.tables, &stored);
                writes.extend([gone.when("attribute_exists(#pk)"), by_hash, by_id]);
                let joining = held.is_none();
                let member = match held {
                    Some(member) => member,
                    None => {
                        if members.len() as u64 >= member_limit {
                            return Ok(Acceptance::Full);
                        }
                        let role = invitation.role.as_str();
                        writes.extend(member_writes(&self.tables, org_id, acceptor.account_id, role, now));
                        let (groups, suspended) = (Vec::new(), None);
                        MemberItem {
                            account: acceptor.account_id,
                            role: role.to_owned(),
                            joined: now,
                            suspended,
                            groups,
                        }
                    }
                };
                match self.commit(writes, &told).await? {
                    None => {
                        let joined = membership_of(&read.org, &member, custom.get(&member.role).cloned());
                        return Ok(Acceptance::Joined(Box::new(joined)));
                    }
                    // The acceptor's account is gone (the last of the membership's writes).
                    Some(failed) if joining && failed.failed(6) => return Ok(Acceptance::NotFound),
                    Some(_) => continue,
                }
            }
            Err(busy(org_id))
        })
    }
}
