//! Verified domains on every database: two organizations verifying one domain at once from two
//! replicas, one wins; a verified domain joins an account once, however many of its logins
//! arrive together, and never again after it leaves; the member limit holds; a role a domain
//! joins with is not removed.

use gatehouse::model::domain::{AutoJoin, AutoJoined, DomainVerification, OrgDomain};
use gatehouse::model::org::{OrgActor, OrgRole, RoleRemoval};
use gatehouse::model::outcome::Effects;
use uuid::Uuid;

use crate::Harness;
use crate::scenarios::{founded, now, seeded};

crate::per_backend! {
    stores:
        two_organizations_verifying_one_domain_at_once_one_wins,
        a_domain_joins_an_account_once_however_many_logins_arrive_together;
    sessions:
}

fn claim(org_id: Uuid, domain: &str, role: Option<&str>) -> OrgDomain {
    OrgDomain {
        org_id,
        domain: domain.to_owned(),
        challenge: format!("gatehouse-domain-verification={}", Uuid::now_v7().simple()),
        verified_at: None,
        auto_join_role: role.map(str::to_owned),
        auto_join_by: None,
        created_at: now(),
    }
}

pub async fn two_organizations_verifying_one_domain_at_once_one_wins(h: Harness) {
    let replica = h.another_replica().await;
    let ann = seeded(&h, "ann@example.com").await;
    let bob = seeded(&h, "bob@example.com").await;
    let (acme, rival) = (founded(&h, "acme", ann).await, founded(&h, "rival", bob).await);
    for round in 0..4 {
        for org in [acme, rival] {
            assert!(
                h.store.insert_org_domain(&claim(org, "contested.test", None), 50, &Effects::none()).await.unwrap()
            );
        }
        let verify = |store: std::sync::Arc<dyn gatehouse::store::Store>, org: Uuid| {
            tokio::spawn(async move {
                store.verify_org_domain(org, "contested.test", now(), &Effects::none()).await.unwrap()
            })
        };
        let (a, b) = (verify(h.store.clone(), acme), verify(replica.clone(), rival));
        let outcomes = [a.await.unwrap(), b.await.unwrap()];
        let won = outcomes.iter().filter(|o| matches!(o, DomainVerification::Verified(_))).count();
        assert_eq!(won, 1, "round {round}: one verifies, {outcomes:?}");
        assert!(outcomes.contains(&DomainVerification::Taken), "round {round}: the other is told it is taken");
        let holder = h.store.verified_domain("contested.test").await.unwrap().unwrap();
        assert!(holder.verified_at.is_some());
        for org in [acme, rival] {
            assert!(h.store.delete_org_domain(org, "contested.test", &Effects::none()).await.unwrap());
        }
        assert!(h.store.verified_domain("contested.test").await.unwrap().is_none());
    }
    // A claim is one per organization and name; names no domain can have name none.
    assert!(h.store.insert_org_domain(&claim(acme, "acme.test", None), 50, &Effects::none()).await.unwrap());
    assert!(!h.store.insert_org_domain(&claim(acme, "acme.test", None), 50, &Effects::none()).await.unwrap());
    assert!(!h.store.insert_org_domain(&claim(acme, "more.test", None), 1, &Effects::none()).await.unwrap());
    for odd in ["ACME.test", "acme.test ", "acme.test\0", "acme.test."] {
        assert!(h.store.find_org_domain(acme, odd).await.unwrap().is_none(), "{odd:?}");
        assert_eq!(
            h.store.verify_org_domain(acme, odd, now(), &Effects::none()).await.unwrap(),
            DomainVerification::NotFound
        );
    }
}

pub async fn a_domain_joins_an_account_once_however_many_logins_arrive_together(h: Harness) {
    let replica = h.another_replica().await;
    let ann = seeded(&h, "ann@example.com").await;
    let dave = seeded(&h, "dave@acme.test").await;
    let erin = seeded(&h, "erin@acme.test").await;
    let org = founded(&h, "acme", ann).await;
    let role =
        OrgRole { name: "staff".into(), permissions: vec!["docs:read".into()], created_at: now(), updated_at: now() };
    assert!(h.store.insert_org_role(org, &role, &Effects::none()).await.unwrap());
    assert!(h.store.insert_org_domain(&claim(org, "acme.test", Some("staff")), 50, &Effects::none()).await.unwrap());
    // Not verified yet: no offer.
    assert!(h.store.auto_join_offer("acme.test", dave).await.unwrap().is_none());
    h.store.verify_org_domain(org, "acme.test", now(), &Effects::none()).await.unwrap();
    assert_eq!(h.store.auto_join_offer("acme.test", dave).await.unwrap().unwrap().org_id, org);

    let join = |store: std::sync::Arc<dyn gatehouse::store::Store>, account_id: Uuid, limit: u64| {
        tokio::spawn(async move {
            let join = AutoJoin {
                org_id: org,
                account_id,
                domain: "acme.test",
                role: "staff",
                now: now(),
                member_limit: limit,
            };
            store.auto_join(&join, &Effects::none()).await.unwrap()
        })
    };
    let (a, b) = (join(h.store.clone(), dave, 100), join(replica.clone(), dave, 100));
    let outcomes = [a.await.unwrap(), b.await.unwrap()];
    let joined: Vec<_> =
        outcomes.iter().filter_map(|o| if let AutoJoined::Joined(m) = o { Some(m) } else { None }).collect();
    assert_eq!(joined.len(), 1, "one login joins, {outcomes:?}");
    assert_eq!((joined[0].role.as_str(), joined[0].permissions.clone()), ("staff", vec!["docs:read".to_owned()]));
    assert!(outcomes.contains(&AutoJoined::No));

    // Joined once: removed, Dave is offered nothing and joined by nothing again.
    h.store.remove_member(org, dave, OrgActor::AsOwner, &Effects::none()).await.unwrap();
    assert!(h.store.auto_join_offer("acme.test", dave).await.unwrap().is_none());
    assert_eq!(join(h.store.clone(), dave, 100).await.unwrap(), AutoJoined::No);
    assert!(h.store.membership(org, dave).await.unwrap().is_none());

    // The organization is full (ann alone, a limit of one): Erin waits, and is still offered.
    assert_eq!(join(h.store.clone(), erin, 1).await.unwrap(), AutoJoined::No);
    assert!(h.store.auto_join_offer("acme.test", erin).await.unwrap().is_some());

    // The role a domain joins with stays; the domain no longer offering it, nobody joins with it.
    assert_eq!(h.store.delete_org_role(org, "staff", now(), &Effects::none()).await.unwrap(), RoleRemoval::InUse);
    h.store.set_auto_join(org, "acme.test", None, None, &Effects::none()).await.unwrap();
    assert_eq!(join(h.store.clone(), erin, 100).await.unwrap(), AutoJoined::No);
    assert_eq!(h.store.delete_org_role(org, "staff", now(), &Effects::none()).await.unwrap(), RoleRemoval::Done);
}
