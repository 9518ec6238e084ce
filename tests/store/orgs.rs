//! Organizations on every database: an organization round-trips with its first owner, its slug
//! is unique, its members are listed a page at a time in the order they joined, an account is a
//! member once, and no change leaves an organization without an owner, however many owners
//! demote each other at once.

use std::sync::Arc;

use gatehouse::model::org::{
    MemberChange, MemberCursor, NewOrganization, OrgActor, OrgChange, OrgKey, OrgPolicy, OrgRole, Slug,
};
use gatehouse::model::outcome::Effects;
use gatehouse::store::{Store, StoreError};
use serde_json::json;
use uuid::Uuid;

use crate::Harness;
use crate::scenarios::{minutes, now, seeded};

crate::per_backend! {
    stores:
        an_organization_round_trips_with_its_owner_and_keeps_its_slug_unique,
        members_are_listed_in_the_order_they_joined_and_an_account_joins_once,
        the_last_owner_can_be_neither_demoted_nor_removed,
        owners_demoting_each_other_at_once_leave_exactly_one_owner,
        an_actor_s_own_role_is_read_in_the_change_and_owners_alone_touch_owners,
        an_account_that_alone_owns_an_organization_with_members_cannot_be_deleted,
        deleting_an_organization_or_an_account_takes_the_memberships_with_it;
    sessions:
}

/// A gatehouse admin or the operator, who act as an owner would.
const AS_OWNER: OrgActor = OrgActor::AsOwner;

fn new_org(slug: &str, owner: Uuid) -> NewOrganization {
    NewOrganization {
        id: Uuid::now_v7(),
        name: format!("The {slug} company"),
        slug: Slug::parse(slug).unwrap(),
        data: json!({"plan": "team", "seats": 5}).as_object().unwrap().clone(),
        owner,
        now: now(),
    }
}

async fn founded(h: &Harness, slug: &str, owner: Uuid) -> Uuid {
    h.store.insert_org(&new_org(slug, owner), &Effects::none()).await.unwrap().id
}

pub async fn an_organization_round_trips_with_its_owner_and_keeps_its_slug_unique(h: Harness) {
    let ann = seeded(&h, "ann@example.com").await;
    let new = new_org("acme", ann);
    let stored = h.store.insert_org(&new, &Effects::none()).await.unwrap();
    assert_eq!((stored.id, stored.name.as_str(), stored.slug.as_str()), (new.id, "The acme company", "acme"));
    assert_eq!(stored.data, new.data);
    assert_eq!(h.store.find_org(OrgKey::Id(new.id)).await.unwrap(), Some(stored.clone()));
    assert_eq!(h.store.find_org(OrgKey::Slug("acme")).await.unwrap(), Some(stored.clone()));
    assert_eq!(h.store.find_org(OrgKey::Slug("ACME")).await.unwrap(), None, "slugs are compared exactly");
    assert_eq!(h.store.find_org(OrgKey::Id(Uuid::now_v7())).await.unwrap(), None);

    let mine = h.store.memberships(ann).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].org.id, mine[0].role.as_str()), (new.id, "owner"), "the creator owns it");
    assert_eq!(h.store.membership(new.id, ann).await.unwrap().unwrap().role, "owner");

    let taken = h.store.insert_org(&new_org("acme", ann), &Effects::none()).await;
    assert!(matches!(taken, Err(StoreError::SlugTaken)), "{taken:?}");
    let other = founded(&h, "globex", ann).await;
    let change = |slug: &str| OrgChange {
        name: "Globex".into(),
        slug: Slug::parse(slug).unwrap(),
        data: json!({"plan": "enterprise"}).as_object().unwrap().clone(),
        policy: OrgPolicy { mfa_required: true, login_methods: Some(vec!["passkey".into()]), sso_required: true },
        now: now() + minutes(1),
    };
    let taken = h.store.update_org(other, &change("acme"), &Effects::none()).await;
    assert!(matches!(taken, Err(StoreError::SlugTaken)), "{taken:?}");
    let updated = h.store.update_org(other, &change("globex-corp"), &Effects::none()).await.unwrap().unwrap();
    assert_eq!((updated.name.as_str(), updated.slug.as_str()), ("Globex", "globex-corp"));
    assert_eq!(updated.policy, change("globex").policy, "the policy round-trips");
    assert_eq!(h.store.find_org(OrgKey::Id(new.id)).await.unwrap().unwrap().policy, OrgPolicy::default());
    assert_eq!(updated.data["plan"], "enterprise");
    assert!(updated.updated_at > updated.created_at);
    let same = h.store.update_org(other, &change("globex-corp"), &Effects::none()).await.unwrap();
    assert!(same.is_some(), "keeping its own slug is no conflict");
    assert!(h.store.update_org(Uuid::now_v7(), &change("nobody"), &Effects::none()).await.unwrap().is_none());
    assert_eq!(h.store.memberships(ann).await.unwrap().len(), 2);

    // Every organization, newest first, a page at a time; a search in the name or slug, any case.
    let third = founded(&h, "initech", ann).await;
    let ids = |orgs: Vec<gatehouse::model::org::Organization>| orgs.into_iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(ids(h.store.list_orgs(None, None, 2).await.unwrap()), vec![third, other]);
    assert_eq!(ids(h.store.list_orgs(None, Some(other), 2).await.unwrap()), vec![new.id]);
    assert_eq!(ids(h.store.list_orgs(Some("GLOB"), None, 10).await.unwrap()), vec![other], "by name, any case");
    assert_eq!(ids(h.store.list_orgs(Some("init"), None, 10).await.unwrap()), vec![third], "by slug");
    assert!(h.store.list_orgs(Some("%"), None, 10).await.unwrap().is_empty(), "wildcards are literal");
}

pub async fn members_are_listed_in_the_order_they_joined_and_an_account_joins_once(h: Harness) {
    let ann = seeded(&h, "ann@example.com").await;
    let org = founded(&h, "acme", ann).await;
    let mut joined = vec![ann];
    for n in 0..7 {
        let member = seeded(&h, &format!("m{n}@example.com")).await;
        // Two at each moment: the page boundary falls between members who joined together.
        let at = now() + minutes(1 + n / 2);
        assert!(h.store.add_member(org, member, "member", at, &Effects::none()).await.unwrap());
        joined.push(member);
    }
    assert!(!h.store.add_member(org, joined[3], "admin", now(), &Effects::none()).await.unwrap(), "a member already");
    assert_eq!(h.store.membership(org, joined[3]).await.unwrap().unwrap().role, "member", "unchanged");
    assert_eq!(h.store.count_members(org).await.unwrap(), 8);

    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = h.store.list_members(org, after, 3).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(MemberCursor::of(last));
        listed.extend(page);
    }
    let mut expected = joined[1..].to_vec();
    // Members who joined at the same moment come in id order.
    expected.chunks_mut(2).for_each(|pair| pair.sort());
    expected.insert(0, ann);
    assert_eq!(listed.iter().map(|m| m.account_id).collect::<Vec<_>>(), expected);
    assert_eq!((listed[0].email.as_str(), listed[0].role.as_str()), ("ann@example.com", "owner"));
    assert_eq!(listed[0].name.as_deref(), Some("Ann Lee"));

    // A second account in two organizations: each membership is its own. It joined the first
    // a minute from now, and founds the second now.
    let other = founded(&h, "globex", joined[2]).await;
    let roles: Vec<_> = h.store.memberships(joined[2]).await.unwrap().into_iter().map(|m| (m.org.id, m.role)).collect();
    assert_eq!(roles, vec![(other, "owner".to_owned()), (org, "member".to_owned())], "the oldest first");
    // A cursor names a place, not a member: the page after one who has left since still comes.
    let first = h.store.list_members(org, None, 3).await.unwrap();
    let cursor = MemberCursor::of(first.last().unwrap());
    h.store.remove_member(org, cursor.account_id, OrgActor::AsOwner, &Effects::none()).await.unwrap();
    let next = h.store.list_members(org, Some(cursor), 3).await.unwrap();
    assert_eq!(next.iter().map(|m| m.account_id).collect::<Vec<_>>(), expected[3..6].to_vec());
}

pub async fn the_last_owner_can_be_neither_demoted_nor_removed(h: Harness) {
    let ann = seeded(&h, "ann@example.com").await;
    let bob = seeded(&h, "bob@example.com").await;
    let org = founded(&h, "acme", ann).await;
    let none = Effects::none();
    assert!(h.store.add_member(org, bob, "member", now(), &none).await.unwrap());

    assert_eq!(h.store.set_member_role(org, ann, "admin", AS_OWNER, &none).await.unwrap(), MemberChange::LastOwner);
    assert_eq!(h.store.remove_member(org, ann, AS_OWNER, &none).await.unwrap(), MemberChange::LastOwner);
    assert_eq!(h.store.membership(org, ann).await.unwrap().unwrap().role, "owner", "nothing changed");
    assert_eq!(
        h.store.set_member_role(org, ann, "owner", AS_OWNER, &none).await.unwrap(),
        MemberChange::Done,
        "still an owner"
    );

    assert_eq!(h.store.set_member_role(org, bob, "owner", AS_OWNER, &none).await.unwrap(), MemberChange::Done);
    let billing = OrgRole {
        name: "billing".into(),
        permissions: vec!["invoices:read".into()],
        created_at: now(),
        updated_at: now(),
    };
    assert!(h.store.insert_org_role(org, &billing, &none).await.unwrap());
    assert_eq!(
        h.store.set_member_role(org, ann, "billing", AS_OWNER, &none).await.unwrap(),
        MemberChange::Done,
        "another owns it"
    );
    assert_eq!(h.store.membership(org, ann).await.unwrap().unwrap().role, "billing");
    assert_eq!(h.store.remove_member(org, bob, AS_OWNER, &none).await.unwrap(), MemberChange::LastOwner);
    assert_eq!(h.store.remove_member(org, ann, AS_OWNER, &none).await.unwrap(), MemberChange::Done);
    assert_eq!(h.store.remove_member(org, ann, AS_OWNER, &none).await.unwrap(), MemberChange::NotFound);
    assert_eq!(h.store.set_member_role(org, ann, "member", AS_OWNER, &none).await.unwrap(), MemberChange::NotFound);
    assert!(h.store.membership(org, ann).await.unwrap().is_none());
    assert_eq!(h.store.count_members(org).await.unwrap(), 1);
}

pub async fn owners_demoting_each_other_at_once_leave_exactly_one_owner(h: Harness) {
    let replica = h.another_replica().await;
    for round in 0..6 {
        let ann = seeded(&h, &format!("ann{round}@example.com")).await;
        let bob = seeded(&h, &format!("bob{round}@example.com")).await;
        let org = founded(&h, &format!("race-{round}"), ann).await;
        assert!(h.store.add_member(org, bob, "owner", now(), &Effects::none()).await.unwrap());

        // Even rounds: each demotes the other; odd rounds: each steps down itself.
        let crossed = round % 2 == 0;
        let demote = |store: Arc<dyn Store>, who: Uuid, by: Uuid| {
            let actor = OrgActor::Member(by);
            tokio::spawn(
                async move { store.set_member_role(org, who, "member", actor, &Effects::none()).await.unwrap() },
            )
        };
        let (a, b) = match crossed {
            true => (demote(h.store.clone(), bob, ann), demote(replica.clone(), ann, bob)),
            false => (demote(h.store.clone(), ann, ann), demote(replica.clone(), bob, bob)),
        };
        let mut outcomes = [a.await.unwrap(), b.await.unwrap()];
        outcomes.sort_by_key(|o| *o == MemberChange::Done);
        // The loser is refused: a crossed demoter was demoted first (its own role is read in
        // its transaction), a self-demoter would leave no owner.
        let refused = if crossed { MemberChange::Forbidden } else { MemberChange::LastOwner };
        assert_eq!(outcomes, [refused, MemberChange::Done], "round {round}: one wins");
        let mut owners = Vec::new();
        for who in [ann, bob] {
            owners.push(h.store.membership(org, who).await.unwrap().unwrap().role == "owner");
        }
        assert_eq!(owners.iter().filter(|owner| **owner).count(), 1, "round {round}: {owners:?}");
    }
}

pub async fn an_actor_s_own_role_is_read_in_the_change_and_owners_alone_touch_owners(h: Harness) {
    let ann = seeded(&h, "ann@example.com").await;
    let mallory = seeded(&h, "mallory@example.com").await;
    let dave = seeded(&h, "dave@example.com").await;
    let org = founded(&h, "acme", ann).await;
    let none = Effects::none();
    for (who, role) in [(mallory, "admin"), (dave, "member")] {
        assert!(h.store.add_member(org, who, role, now(), &none).await.unwrap());
    }
    let by = OrgActor::Member;
    // An admin of the organization changes members, but not an owner, and makes none.
    assert_eq!(h.store.set_member_role(org, dave, "admin", by(mallory), &none).await.unwrap(), MemberChange::Done);
    assert_eq!(h.store.set_member_role(org, dave, "owner", by(mallory), &none).await.unwrap(), MemberChange::Forbidden);
    // Dave became an owner after the admin looked: the change itself refuses to touch him.
    assert_eq!(h.store.set_member_role(org, dave, "owner", by(ann), &none).await.unwrap(), MemberChange::Done);
    assert_eq!(
        h.store.set_member_role(org, dave, "member", by(mallory), &none).await.unwrap(),
        MemberChange::Forbidden
    );
    assert_eq!(h.store.remove_member(org, dave, by(mallory), &none).await.unwrap(), MemberChange::Forbidden);
    // Demoted, the former admin can do nothing more, but may leave.
    assert_eq!(h.store.set_member_role(org, mallory, "member", by(ann), &none).await.unwrap(), MemberChange::Done);
    assert_eq!(h.store.set_member_role(org, ann, "member", by(mallory), &none).await.unwrap(), MemberChange::Forbidden);
    assert_eq!(h.store.remove_member(org, mallory, by(mallory), &none).await.unwrap(), MemberChange::Done);
    // Removed, it is nobody here.
    assert_eq!(h.store.remove_member(org, dave, by(mallory), &none).await.unwrap(), MemberChange::Forbidden);
    assert_eq!(h.store.membership(org, dave).await.unwrap().unwrap().role, "owner", "unchanged");
}

pub async fn an_account_that_alone_owns_an_organization_with_members_cannot_be_deleted(h: Harness) {
    let ann = seeded(&h, "ann@example.com").await;
    let bob = seeded(&h, "bob@example.com").await;
    let solo = founded(&h, "solo", ann).await;
    let shared = founded(&h, "shared", ann).await;
    assert!(h.store.add_member(shared, bob, "member", now(), &Effects::none()).await.unwrap());

    assert_eq!(h.store.orgs_only_owned_by(ann).await.unwrap(), vec![shared], "not the one she is alone in");
    assert!(h.store.orgs_only_owned_by(bob).await.unwrap().is_empty());
    let refused = h.store.delete_account(ann, &Effects::none()).await;
    assert!(matches!(refused, Err(StoreError::LastOwner)), "{refused:?}");
    assert!(h.store.find_org(OrgKey::Id(solo)).await.unwrap().is_some(), "nothing changed");

    assert_eq!(
        h.store.set_member_role(shared, bob, "owner", AS_OWNER, &Effects::none()).await.unwrap(),
        MemberChange::Done
    );
    assert!(h.store.orgs_only_owned_by(ann).await.unwrap().is_empty(), "bob owns it too now");
    assert!(h.store.delete_account(ann, &Effects::none()).await.unwrap());
    assert!(h.store.find_org(OrgKey::Id(solo)).await.unwrap().is_none(), "her own organization went with her");
    assert!(h.store.find_org(OrgKey::Id(shared)).await.unwrap().is_some(), "the shared one has its other owner");
    assert_eq!(h.store.count_members(shared).await.unwrap(), 1);
}

pub async fn deleting_an_organization_or_an_account_takes_the_memberships_with_it(h: Harness) {
    let ann = seeded(&h, "ann@example.com").await;
    let bob = seeded(&h, "bob@example.com").await;
    let org = founded(&h, "acme", ann).await;
    let kept = founded(&h, "globex", ann).await;
    assert!(h.store.add_member(org, bob, "member", now(), &Effects::none()).await.unwrap());
    assert!(h.store.add_member(kept, bob, "member", now(), &Effects::none()).await.unwrap());

    assert!(h.store.delete_org(org, &Effects::none()).await.unwrap());
    assert!(!h.store.delete_org(org, &Effects::none()).await.unwrap(), "gone already");
    assert!(h.store.find_org(OrgKey::Id(org)).await.unwrap().is_none());
    assert!(h.store.membership(org, bob).await.unwrap().is_none());
    assert_eq!(h.store.memberships(bob).await.unwrap().len(), 1, "the other organization's stays");

    assert!(h.store.delete_account(bob, &Effects::none()).await.unwrap());
    assert_eq!(h.store.count_members(kept).await.unwrap(), 1);
    assert!(h.store.membership(kept, bob).await.unwrap().is_none());
}
