//! Invitations and custom roles on every database: an invitation is spent once, by its address
//! alone, in the write that makes the membership (two acceptances at once on two replicas: one
//! joins); the member limit holds; a new invitation replaces the pending one; a custom role's
//! permissions come with the membership, and a role held or offered is not removed.

use gatehouse::model::invitation::{Acceptance, Acceptor, InvitationKey, NewInvitation};
use gatehouse::model::org::{OrgRole, RoleRemoval};
use gatehouse::model::outcome::Effects;
use gatehouse::model::token::TokenHash;
use uuid::Uuid;

use crate::Harness;
use crate::scenarios::{founded, minutes, now, seeded};

crate::per_backend! {
    stores:
        an_invitation_is_spent_once_by_its_address_and_replaced_by_a_new_one,
        two_acceptances_at_once_make_one_membership_and_the_member_limit_holds,
        a_custom_role_s_permissions_come_with_the_membership_and_a_held_role_stays;
    sessions:
}

fn invitation(org_id: Uuid, email: &str, role: &str, token: &str) -> NewInvitation {
    NewInvitation {
        id: Uuid::now_v7(),
        org_id,
        email: email.to_owned(),
        role: role.to_owned(),
        hash: TokenHash::of(token),
        invited_by: None,
        created_at: now(),
        expires_at: now() + minutes(60),
    }
}

pub async fn an_invitation_is_spent_once_by_its_address_and_replaced_by_a_new_one(h: Harness) {
    let ann = seeded(&h, "ann@example.com").await;
    let carol = seeded(&h, "carol@example.com").await;
    let org = founded(&h, "acme", ann).await;
    let first = h
        .store
        .insert_invitation(&invitation(org, "carol@example.com", "admin", "first"), &Effects::none())
        .await
        .unwrap();
    let second = invitation(org, "carol@example.com", "member", "second");
    h.store.insert_invitation(&second, &Effects::none()).await.unwrap();
    let pending = h.store.org_invitations(org, now()).await.unwrap();
    assert_eq!(pending.iter().map(|i| i.id).collect::<Vec<_>>(), [second.id], "the new one replaced {}", first.id);
    let addressed = h.store.invitations_to("carol@example.com", now()).await.unwrap();
    assert_eq!((addressed.len(), addressed[0].org.slug.as_str()), (1, "acme"));
    assert!(h.store.invitations_to("carol@example.com", now() + minutes(61)).await.unwrap().is_empty());

    let first_hash = TokenHash::of("first");
    let second_hash = TokenHash::of("second");
    let carol_accepts = Acceptor { account_id: carol, email: "carol@example.com" };
    let none = Effects::none();
    let accept = |key, acceptor, at| h.store.accept_invitation(key, acceptor, at, 100, &none);
    assert_eq!(accept(InvitationKey::Token(&first_hash), carol_accepts, now()).await.unwrap(), Acceptance::NotFound);
    let mallory = Acceptor { account_id: ann, email: "mallory@example.com" };
    assert_eq!(accept(InvitationKey::Token(&second_hash), mallory, now()).await.unwrap(), Acceptance::EmailMismatch);
    let late = now() + minutes(61);
    assert_eq!(accept(InvitationKey::Token(&second_hash), carol_accepts, late).await.unwrap(), Acceptance::Expired);
    let Acceptance::Joined(joined) = accept(InvitationKey::Id(second.id), carol_accepts, now()).await.unwrap() else {
        panic!("carol joins");
    };
    assert_eq!((joined.org.id, joined.role.as_str(), joined.permissions.len()), (org, "member", 0));
    assert_eq!(
        accept(InvitationKey::Token(&second_hash), carol_accepts, now()).await.unwrap(),
        Acceptance::NotFound,
        "once"
    );
    assert!(h.store.org_invitations(org, now()).await.unwrap().is_empty());

    // An invitation is worth its inviter's word at acceptance: bob, an admin, invites erin as
    // an admin and is then made a member; his invitation is void.
    let bob = seeded(&h, "bob@example.com").await;
    let erin = seeded(&h, "erin@example.com").await;
    assert!(h.store.add_member(org, bob, "admin", now(), &Effects::none()).await.unwrap());
    let by_bob = NewInvitation { invited_by: Some(bob), ..invitation(org, "erin@example.com", "admin", "bobs") };
    h.store.insert_invitation(&by_bob, &Effects::none()).await.unwrap();
    let actor = gatehouse::model::org::OrgActor::AsOwner;
    h.store.set_member_role(org, bob, "member", actor, &Effects::none()).await.unwrap();
    let erin_accepts = Acceptor { account_id: erin, email: "erin@example.com" };
    let bobs = TokenHash::of("bobs");
    assert_eq!(accept(InvitationKey::Token(&bobs), erin_accepts, now()).await.unwrap(), Acceptance::NotFound, "void");
    h.store.set_member_role(org, bob, "admin", actor, &Effects::none()).await.unwrap();
    assert!(matches!(accept(InvitationKey::Token(&bobs), erin_accepts, now()).await.unwrap(), Acceptance::Joined(_)));

    let revoked = invitation(org, "dave@example.com", "member", "third");
    h.store.insert_invitation(&revoked, &Effects::none()).await.unwrap();
    assert!(h.store.revoke_invitation(org, revoked.id, &Effects::none()).await.unwrap());
    assert!(!h.store.revoke_invitation(org, revoked.id, &Effects::none()).await.unwrap());
    assert!(h.store.find_invitation(InvitationKey::Token(&TokenHash::of("third"))).await.unwrap().is_none());
}

pub async fn two_acceptances_at_once_make_one_membership_and_the_member_limit_holds(h: Harness) {
    let replica = h.another_replica().await;
    let ann = seeded(&h, "ann@example.com").await;
    let carol = seeded(&h, "carol@example.com").await;
    let dave = seeded(&h, "dave@example.com").await;
    let org = founded(&h, "acme", ann).await;
    for round in 0..4 {
        let token = format!("race-{round}");
        let (email, who) = if round % 2 == 0 { ("carol@example.com", carol) } else { ("dave@example.com", dave) };
        h.store.insert_invitation(&invitation(org, email, "member", &token), &Effects::none()).await.unwrap();
        let accept = |store: std::sync::Arc<dyn gatehouse::store::Store>| {
            let (token, email) = (token.clone(), email.to_owned());
            tokio::spawn(async move {
                let acceptor = Acceptor { account_id: who, email: &email };
                let key = InvitationKey::Token(&TokenHash::of(&token));
                store.accept_invitation(key, acceptor, now(), 100, &Effects::none()).await.unwrap()
            })
        };
        let (a, b) = (accept(h.store.clone()), accept(replica.clone()));
        let outcomes = [a.await.unwrap(), b.await.unwrap()];
        let joined = outcomes.iter().filter(|o| matches!(o, Acceptance::Joined(_))).count();
        assert_eq!(joined, 1, "round {round}: one joins, {outcomes:?}");
        assert!(outcomes.contains(&Acceptance::NotFound), "round {round}: the other finds it spent");
        h.store.remove_member(org, who, gatehouse::model::org::OrgActor::AsOwner, &Effects::none()).await.unwrap();
    }

    // A limit of two: ann and carol fill it; dave's acceptance changes nothing.
    for (email, who, token) in [("carol@example.com", carol, "c"), ("dave@example.com", dave, "d")] {
        h.store.insert_invitation(&invitation(org, email, "member", token), &Effects::none()).await.unwrap();
        let acceptor = Acceptor { account_id: who, email };
        let outcome = h
            .store
            .accept_invitation(InvitationKey::Token(&TokenHash::of(token)), acceptor, now(), 2, &Effects::none())
            .await
            .unwrap();
        let expected_full = who == dave;
        assert_eq!(outcome == Acceptance::Full, expected_full, "{email}: {outcome:?}");
    }
    assert_eq!(h.store.count_members(org).await.unwrap(), 2);
    assert_eq!(h.store.org_invitations(org, now()).await.unwrap().len(), 1, "a refused invitation stays");
}

pub async fn a_custom_role_s_permissions_come_with_the_membership_and_a_held_role_stays(h: Harness) {
    let ann = seeded(&h, "ann@example.com").await;
    let bob = seeded(&h, "bob@example.com").await;
    let org = founded(&h, "acme", ann).await;
    let role = |name: &str, permissions: &[&str]| OrgRole {
        name: name.to_owned(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        created_at: now(),
        updated_at: now(),
    };
    assert!(h.store.insert_org_role(org, &role("billing", &["invoices:read"]), &Effects::none()).await.unwrap());
    assert!(!h.store.insert_org_role(org, &role("billing", &[]), &Effects::none()).await.unwrap(), "one of a name");
    assert!(h.store.add_member(org, bob, "billing", now(), &Effects::none()).await.unwrap());
    let held = h.store.membership(org, bob).await.unwrap().unwrap();
    assert_eq!(held.permissions, ["invoices:read"]);

    let wider = ["invoices:read".to_owned(), "invoices:pay".to_owned()];
    let updated = h.store.update_org_role(org, "billing", &wider, now(), &Effects::none()).await.unwrap().unwrap();
    assert_eq!(updated.permissions, wider);
    assert_eq!(h.store.membership(org, bob).await.unwrap().unwrap().permissions, wider, "read with the membership");
    assert_eq!(h.store.memberships(bob).await.unwrap()[0].permissions, wider);
    assert!(h.store.update_org_role(org, "ghost", &wider, now(), &Effects::none()).await.unwrap().is_none());

    assert_eq!(h.store.delete_org_role(org, "billing", now(), &Effects::none()).await.unwrap(), RoleRemoval::InUse);
    let actor = gatehouse::model::org::OrgActor::AsOwner;
    h.store.set_member_role(org, bob, "member", actor, &Effects::none()).await.unwrap();
    h.store.insert_invitation(&invitation(org, "x@example.com", "billing", "offer"), &Effects::none()).await.unwrap();
    assert_eq!(
        h.store.delete_org_role(org, "billing", now(), &Effects::none()).await.unwrap(),
        RoleRemoval::InUse,
        "offered"
    );
    let later = now() + minutes(61);
    let expired_offer = h.store.delete_org_role(org, "billing", later, &Effects::none()).await.unwrap();
    assert_eq!(expired_offer, RoleRemoval::Done, "an expired offer holds nothing back");
    assert!(h.store.insert_org_role(org, &role("billing", &["invoices:read"]), &Effects::none()).await.unwrap());
    h.store.insert_invitation(&invitation(org, "x@example.com", "member", "offer2"), &Effects::none()).await.unwrap();
    assert_eq!(h.store.delete_org_role(org, "billing", now(), &Effects::none()).await.unwrap(), RoleRemoval::Done);
    assert_eq!(h.store.delete_org_role(org, "billing", now(), &Effects::none()).await.unwrap(), RoleRemoval::NotFound);
    let unknown = h.store.set_member_role(org, bob, "billing", actor, &Effects::none()).await.unwrap();
    assert_eq!(unknown, gatehouse::model::org::MemberChange::UnknownRole);
    assert!(h.store.org_roles(org).await.unwrap().is_empty());
    for odd in ["BILLING", "billing ", "bil\u{0}ling", ""] {
        assert!(h.store.find_org_role(org, odd).await.unwrap().is_none(), "{odd:?} names no role");
    }
}
