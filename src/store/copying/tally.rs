//! What a copy counts, and the size of the pages it reads.

/// How many accounts (and audit events) are read and written at a time.
pub(super) const PAGE: u32 = 200;

/// What was copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub signing_keys: u64,
    pub sealing_key: bool,
    pub accounts: u64,
    pub authenticators: u64,
    pub recovery_code_sets: u64,
    pub passkeys: u64,
    pub identities: u64,
    pub api_keys: u64,
    pub consents: u64,
    pub clients: u64,
    pub webhook_endpoints: u64,
    pub organizations: u64,
    pub memberships: u64,
    pub org_roles: u64,
    pub org_domains: u64,
    pub sso_connections: u64,
    pub scim_users: u64,
    pub scim_groups: u64,
    pub scim_tokens: u64,
    pub audit_events: u64,
}

impl Copied {
    pub(super) fn add(&mut self, other: &Copied) {
        self.authenticators += other.authenticators;
        self.recovery_code_sets += other.recovery_code_sets;
        self.passkeys += other.passkeys;
        self.identities += other.identities;
        self.api_keys += other.api_keys;
        self.consents += other.consents;
    }
}
