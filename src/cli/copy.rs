//! What `gatehouse copy --to URL` says it copied (see [`crate::app::copy_to`]).

use crate::app::Copied;

/// Prints what was copied into `to` (masked), one line a kind.
pub fn print(copied: Copied, to: &str) {
    let Copied {
        signing_keys,
        sealing_key,
        accounts,
        authenticators,
        recovery_code_sets,
        passkeys,
        identities,
        api_keys,
        consents,
        clients,
        webhook_endpoints,
        organizations,
        memberships,
        org_roles,
        org_domains,
        sso_connections,
        scim_users,
        scim_groups,
        scim_tokens,
        audit_events,
    } = copied;
    println!("signing keys: {signing_keys}");
    println!("sealing key: {}", if sealing_key { 1 } else { 0 });
    println!("accounts: {accounts}");
    println!("authenticator apps: {authenticators}");
    println!("recovery code sets: {recovery_code_sets}");
    println!("passkeys: {passkeys}");
    println!("social identities: {identities}");
    println!("API keys: {api_keys}");
    println!("consents: {consents}");
    println!("client apps: {clients}");
    println!("webhook endpoints: {webhook_endpoints}");
    println!("organizations: {organizations}");
    println!("memberships: {memberships}");
    println!("organization roles: {org_roles}");
    println!("organization domains: {org_domains}");
    println!("SSO connections: {sso_connections}");
    println!("SCIM-provisioned members: {scim_users}");
    println!("SCIM groups: {scim_groups}");
    println!("SCIM tokens: {scim_tokens}");
    println!("audit events: {audit_events}");
    println!("copied into {to}; sessions were not copied: everybody logs in again");
}
