//! The email domains organizations claim: `pk = O#<org>`, `sk = D#<domain>`, and, once one is
//! verified, its owner's marker `DOM#<domain>` (its companion), put on condition that it does
//! not exist: one organization at most holds a verified domain, however many verify it at once.
//! The accounts a verified domain joined are remembered as `CJ#<account>` in the organization's
//! partition, so that one who leaves is not joined again. Every change takes the organization's
//! turn (see [`super::orgs::turn`]), as the member guard does.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DynamoStore;
use super::items::{Item, Write, id, item, key, opt_text, opt_time, s, stamp, text, time};
use super::orgs::{ATTEMPTS, MemberItem, busy, member_writes, membership_of, turn};
use super::owned::org_owner;
use crate::metrics::{DATABASE as DB, timed};
use crate::model::domain::DomainName;
use crate::model::org::builtin_permissions;
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::org_domains::{AutoJoin, AutoJoinChange, AutoJoined, DomainVerification, OrgDomain, OrgDomainStore};

fn claim_key(org_id: Uuid, domain: &str) -> Item {
    key(org_owner(org_id), format!("D#{domain}"))
}

fn marker_key(domain: &str) -> Item {
    key(format!("DOM#{domain}"), "DOM")
}

fn joined_key(org_id: Uuid, account_id: Uuid) -> Item {
    key(org_owner(org_id), format!("CJ#{account_id}"))
}

/// Only a well-formed name is looked up.
fn well_formed(domain: &str) -> bool {
    DomainName::parse(domain).is_ok_and(|parsed| parsed.as_str() == domain)
}

fn claim_from_item(found: &Item) -> StoreResult<OrgDomain> {
    Ok(OrgDomain {
        org_id: id(found, "org")?,
        domain: text(found, "domain")?.to_owned(),
        challenge: text(found, "challenge")?.to_owned(),
        verified_at: opt_time(found, "verified")?,
        auto_join_role: opt_text(found, "role")?.map(str::to_owned),
        auto_join_by: opt_text(found, "by")?.map(Uuid::parse_str).transpose().map_err(anyhow::Error::from)?,
        created_at: time(found, "created")?,
    })
}

impl DynamoStore {
    /// The organization's claims, by name (strongly consistent).
    pub(super) async fn claims(&self, org_id: Uuid) -> StoreResult<Vec<OrgDomain>> {
        let found = self.partition(&self.tables.main, &org_owner(org_id), "D#").await?;
        found.iter().map(claim_from_item).collect()
    }

    /// The markers of the organization's verified domains.
    pub(super) async fn verified_markers(&self, org_id: Uuid) -> StoreResult<Vec<Item>> {
        let claims = self.claims(org_id).await?;
        Ok(claims.iter().filter(|c| c.verified_at.is_some()).map(|c| marker_key(&c.domain)).collect())
    }

    async fn read_claim(&self, org_id: Uuid, domain: &str) -> StoreResult<Option<OrgDomain>> {
        if !well_formed(domain) {
            return Ok(None);
        }
        let found = self.get(&self.tables.main, claim_key(org_id, domain)).await?;
        found.as_ref().map(claim_from_item).transpose()
    }

    /// The claim that verified the domain, through its marker.
    async fn verified_claim(&self, domain: &str) -> StoreResult<Option<OrgDomain>> {
        if !well_formed(domain) {
            return Ok(None);
        }
        let Some(marker) = self.get(&self.tables.main, marker_key(domain)).await? else { return Ok(None) };
        let claim = self.read_claim(id(&marker, "org")?, domain).await?;
        Ok(claim.filter(|claim| claim.verified_at.is_some()))
    }
}

#[async_trait]
impl OrgDomainStore for DynamoStore {
    async fn org_domains(&self, org_id: Uuid) -> StoreResult<Vec<OrgDomain>> {
        timed!(DB, "org_domains", self.claims(org_id))
    }

    async fn find_org_domain(&self, org_id: Uuid, domain: &str) -> StoreResult<Option<OrgDomain>> {
        timed!(DB, "find_org_domain", self.read_claim(org_id, domain))
    }

    async fn insert_org_domain(&self, claim: &OrgDomain, max: usize, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "insert_org_domain", async {
            if !well_formed(&claim.domain) {
                return Ok(false);
            }
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(claim.org_id).await? else { return Ok(false) };
                // The count is exact in the organization's turn.
                let held = self.claims(claim.org_id).await?;
                if held.len() >= max || held.iter().any(|c| c.domain == claim.domain) {
                    return Ok(false);
                }
                let mut attributes = vec![
                    ("org", s(claim.org_id.to_string())),
                    ("domain", s(claim.domain.as_str())),
                    ("challenge", s(claim.challenge.as_str())),
                    ("created", stamp(claim.created_at)),
                ];
                if let Some(role) = &claim.auto_join_role {
                    attributes.push(("role", s(role.as_str())));
                    if let Some(by) = claim.auto_join_by {
                        attributes.push(("by", s(by.to_string())));
                    }
                }
                let mut written = item("", "", attributes);
                written.extend(claim_key(claim.org_id, &claim.domain));
                let writes = vec![
                    turn(&self.tables, claim.org_id, read.ver),
                    Write::put(&self.tables.main, written).when("attribute_not_exists(#pk)"),
                ];
                if self.commit(writes, &told).await?.is_none() {
                    return Ok(true);
                }
            }
            Err(busy(claim.org_id))
        })
    }

    async fn verify_org_domain(
        &self,
        org_id: Uuid,
        domain: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<DomainVerification> {
        timed!(DB, "verify_org_domain", async {
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(org_id).await? else { return Ok(DomainVerification::NotFound) };
                let Some(claim) = self.read_claim(org_id, domain).await? else {
                    return Ok(DomainVerification::NotFound);
                };
                if claim.verified_at.is_some() {
                    return Ok(DomainVerification::Verified(claim));
                }
                if self.get(&self.tables.main, marker_key(domain)).await?.is_some() {
                    return Ok(DomainVerification::Taken);
                }
                let marker = item(format!("DOM#{domain}"), "DOM", vec![("org", s(org_id.to_string()))]);
                let companion = marker_key(domain);
                let verified = Write::update(
                    &self.tables.main,
                    claim_key(org_id, domain),
                    "SET #verified = :now, #also_pk = :also_pk, #also_sk = :also_sk",
                )
                .when("attribute_exists(#pk)")
                .value("now", stamp(now))
                .value("also_pk", companion["pk"].clone())
                .value("also_sk", companion["sk"].clone());
                let writes = vec![
                    turn(&self.tables, org_id, read.ver),
                    verified,
                    // One organization holds a verified domain: of two verifying it at once,
                    // one puts the marker.
                    Write::put(&self.tables.main, marker).when("attribute_not_exists(#pk)"),
                ];
                match self.commit(writes, &told).await? {
                    None => return Ok(DomainVerification::Verified(OrgDomain { verified_at: Some(now), ..claim })),
                    Some(failed) if failed.failed(2) => return Ok(DomainVerification::Taken),
                    Some(_) => continue,
                }
            }
            Err(busy(org_id))
        })
    }

    async fn set_auto_join(
        &self,
        org_id: Uuid,
        domain: &str,
        role: Option<&str>,
        by: Option<Uuid>,
        effects: &Effects,
    ) -> StoreResult<AutoJoinChange> {
        timed!(DB, "set_auto_join", async {
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(org_id).await? else { return Ok(AutoJoinChange::NotFound) };
                let Some(claim) = self.read_claim(org_id, domain).await? else { return Ok(AutoJoinChange::NotFound) };
                if let Some(role) = role
                    && builtin_permissions(role).is_none()
                    && !self.custom_roles(org_id).await?.contains_key(role)
                {
                    return Ok(AutoJoinChange::UnknownRole);
                }
                let by = by.filter(|_| role.is_some());
                let mut change = match role {
                    Some(role) => Write::update(
                        &self.tables.main,
                        claim_key(org_id, domain),
                        match by {
                            Some(_) => "SET #role = :role, #by = :by",
                            None => "SET #role = :role REMOVE #by",
                        },
                    )
                    .value("role", s(role)),
                    None => Write::update(&self.tables.main, claim_key(org_id, domain), "REMOVE #role, #by"),
                };
                if let Some(by) = by {
                    change = change.value("by", s(by.to_string()));
                }
                let writes = vec![turn(&self.tables, org_id, read.ver), change.when("attribute_exists(#pk)")];
                if self.commit(writes, &told).await?.is_none() {
                    let changed = OrgDomain { auto_join_role: role.map(str::to_owned), auto_join_by: by, ..claim };
                    return Ok(AutoJoinChange::Done(changed));
                }
            }
            Err(busy(org_id))
        })
    }

    async fn delete_org_domain(&self, org_id: Uuid, domain: &str, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_org_domain", async {
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(org_id).await? else { return Ok(false) };
                let Some(claim) = self.read_claim(org_id, domain).await? else { return Ok(false) };
                let mut writes = vec![
                    turn(&self.tables, org_id, read.ver),
                    Write::delete(&self.tables.main, claim_key(org_id, domain)).when("attribute_exists(#pk)"),
                ];
                if claim.verified_at.is_some() {
                    let mine = s(org_id.to_string());
                    writes.push(
                        Write::delete(&self.tables.main, marker_key(domain)).when("#org = :id").value("id", mine),
                    );
                }
                if self.commit(writes, &told).await?.is_none() {
                    return Ok(true);
                }
            }
            Err(busy(org_id))
        })
    }

    async fn verified_domain(&self, domain: &str) -> StoreResult<Option<OrgDomain>> {
        timed!(DB, "verified_domain", self.verified_claim(domain))
    }

    async fn auto_joined(&self, org_id: Uuid) -> StoreResult<Vec<(Uuid, DateTime<Utc>)>> {
        timed!(DB, "auto_joined", async {
            let items = self.partition(&self.tables.main, &org_owner(org_id), "CJ#").await?;
            let mut joined = Vec::with_capacity(items.len());
            for found in &items {
                let account = text(found, "sk")?.strip_prefix("CJ#").and_then(|id| Uuid::parse_str(id).ok());
                let account = account.ok_or_else(|| StoreError::Other(anyhow::anyhow!("a remembered join's key")))?;
                joined.push((account, time(found, "joined")?));
            }
            joined.sort_by_key(|(account, at)| (*at, *account));
            Ok(joined)
        })
    }

    async fn remember_auto_join(&self, org_id: Uuid, account_id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "remember_auto_join", async {
            let mut remembered = item("", "", vec![("joined", stamp(at))]);
            remembered.extend(joined_key(org_id, account_id));
            // Remembered already: the condition fails, and nothing changes.
            let put = Write::put(&self.tables.main, remembered).when("attribute_not_exists(#pk)");
            self.write_if(vec![put], "remember_auto_join").await?;
            Ok(())
        })
    }

    async fn auto_join_offer(&self, domain: &str, account_id: Uuid) -> StoreResult<Option<OrgDomain>> {
        timed!(DB, "auto_join_offer", async {
            let Some(claim) = self.verified_claim(domain).await? else { return Ok(None) };
            if claim.auto_join_role.is_none()
                || self.get(&self.tables.main, joined_key(claim.org_id, account_id)).await?.is_some()
            {
                return Ok(None);
            }
            Ok(Some(claim))
        })
    }

    async fn auto_join(&self, join: &AutoJoin<'_>, effects: &Effects) -> StoreResult<AutoJoined> {
        timed!(DB, "auto_join", async {
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(join.org_id).await? else { return Ok(AutoJoined::No) };
                // The domain still offers the role, and its offer is still worth its maker's word.
                let claim = self.read_claim(join.org_id, join.domain).await?;
                let Some(claim) = claim
                    .filter(|claim| claim.verified_at.is_some() && claim.auto_join_role.as_deref() == Some(join.role))
                else {
                    return Ok(AutoJoined::No);
                };
                let members = self.members(join.org_id).await?;
                let custom = self.custom_roles(join.org_id).await?;
                if !self.offer_stands(&members, &custom, claim.auto_join_by, join.role, false).await? {
                    return Ok(AutoJoined::No);
                }
                if self.get(&self.tables.main, joined_key(join.org_id, join.account_id)).await?.is_some() {
                    return Ok(AutoJoined::No);
                }
                let is_member = members.iter().any(|m| m.account == join.account_id);
                if !is_member && members.len() as u64 >= join.member_limit {
                    return Ok(AutoJoined::No);
                }
                let mut remembered = item("", "", vec![("joined", stamp(join.now))]);
                remembered.extend(joined_key(join.org_id, join.account_id));
                // Joined once: the remembered join is new (of two logins at once, one writes it).
                let mut writes = vec![
                    turn(&self.tables, join.org_id, read.ver),
                    Write::put(&self.tables.main, remembered).when("attribute_not_exists(#pk)"),
                ];
                if !is_member {
                    writes.extend(member_writes(&self.tables, join.org_id, join.account_id, join.role, join.now));
                }
                // Effects commit only with a join.
                let no_effects = Vec::new();
                match self.commit(writes, if is_member { &no_effects } else { &told }).await? {
                    None if is_member => return Ok(AutoJoined::No),
                    None => {
                        let member = MemberItem {
                            account: join.account_id,
                            role: join.role.to_owned(),
                            joined: join.now,
                            suspended: None,
                            groups: Vec::new(),
                        };
                        let joined = membership_of(&read.org, &member, custom.get(join.role).cloned());
                        return Ok(AutoJoined::Joined(Box::new(joined)));
                    }
                    // The account is gone (the last of the membership's writes).
                    Some(failed) if !is_member && failed.failed(4) => return Ok(AutoJoined::No),
                    Some(_) => continue,
                }
            }
            Err(busy(join.org_id))
        })
    }
}
