//! Scaffold: ports not yet written for DynamoDB. Not to be committed to main.
#![allow(unused_imports, unused_variables, clippy::unimplemented)]

use async_trait::async_trait;

use super::DynamoStore;
use crate::model::account::Account;
use crate::model::admin::{AccountQuery, OutboxEntry, OutboxQuery};
use crate::model::api_key::{ApiKey, FoundKey, KeyOwner, NewApiKey};
use crate::model::client::OAuthClient;
use crate::model::client::{InitialToken, NewCode, Redemption};
use crate::model::device::{DeviceCode, DeviceDecision, DeviceState};
use crate::model::domain::{AutoJoin, AutoJoinChange, AutoJoined, DomainVerification, OrgDomain};
use crate::model::identity::Identity;
use crate::model::identity::{IdentityKey, NewOidcLogin, OidcLogin, Pending, Unlink};
use crate::model::invitation::{Acceptance, Acceptor, Addressed, Invitation, InvitationKey, NewInvitation};
use crate::model::mfa::{Claimed, Factors, NewChallenge, StoredTotp};
use crate::model::org::{
    Member, MemberChange, MemberCursor, Membership, NewOrganization, OrgActor, OrgChange, OrgKey, Organization,
};
use crate::model::org::{OrgRole, RoleRemoval};
use crate::model::outcome::Effects;
use crate::model::passkey::{Ceremony, NewCeremony, StoredPasskey};
use crate::model::scim::{
    GroupWrite, MembersChange, NewScimToken, Provision, Provisioned, ScimGroup, ScimToken, ScimUser, ScimUserChange,
    ScimUserFilter, UserWrite,
};
use crate::model::sso::{NewSamlRequest, SamlRequest, SamlSpend, SsoConnection};
use crate::model::webhook::{Delivery, DeliveryStatus, Endpoint, Event, EventType};
use crate::store::accounts::NewAccount;
use crate::store::admin::AdminStore;
use crate::store::error::StoreResult;
use crate::store::scim::Page;
use crate::store::sso::SamlAnswer;
use crate::store::tokens::NewOneTimeToken;
use crate::store::{
    ApiKeyStore, ClientStore, DeviceStore, IdentityStore, ImportStore, InitialTokenStore, InvitationStore, MfaStore,
    OrgDomainStore, OrgRoleStore, OrgStore, PasskeyStore, ScimGroupStore, ScimStore, SsoStore, WebhookStore,
};
use crate::tokens::opaque::TokenHash;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[async_trait]
impl IdentityStore for DynamoStore {
    async fn insert_oidc_login(&self, login: &NewOidcLogin) -> StoreResult<()> {
        unimplemented!("insert_oidc_login")
    }

    async fn start_oidc_login(
        &self,
        provider: &str,
        start_hash: &TokenHash,
        pending: &Pending,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>> {
        unimplemented!("start_oidc_login")
    }

    async fn oidc_link_account(
        &self,
        provider: &str,
        start_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>> {
        unimplemented!("oidc_link_account")
    }

    async fn take_oidc_login(
        &self,
        provider: &str,
        state_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OidcLogin>> {
        unimplemented!("take_oidc_login")
    }

    async fn identity(&self, key: IdentityKey<'_>) -> StoreResult<Option<Identity>> {
        unimplemented!("identity")
    }

    async fn identities(&self, account_id: Uuid) -> StoreResult<Vec<Identity>> {
        unimplemented!("identities")
    }

    async fn insert_identity(&self, identity: &Identity, key: IdentityKey<'_>, effects: &Effects) -> StoreResult<()> {
        unimplemented!("insert_identity")
    }

    async fn insert_account_with_identity(
        &self,
        account: &NewAccount,
        identity: &Identity,
        key: IdentityKey<'_>,
        activation: Option<&NewOneTimeToken>,
        effects: &Effects,
    ) -> StoreResult<()> {
        unimplemented!("insert_account_with_identity")
    }

    async fn identity_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        unimplemented!("identity_used")
    }

    async fn delete_identity(&self, account_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<Unlink> {
        unimplemented!("delete_identity")
    }
}

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn insert_device_code(&self, code: &DeviceCode) -> StoreResult<()> {
        unimplemented!("insert_device_code")
    }

    async fn view_device_code(
        &self,
        user_hash: &TokenHash,
        max_views: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DeviceCode>> {
        unimplemented!("view_device_code")
    }

    async fn decide_device_code(
        &self,
        device_hash: &TokenHash,
        decision: &DeviceDecision,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        unimplemented!("decide_device_code")
    }

    async fn device_code(&self, device_hash: &TokenHash) -> StoreResult<Option<DeviceCode>> {
        unimplemented!("device_code")
    }

    async fn record_poll(
        &self,
        device_hash: &TokenHash,
        seen: i64,
        interval_secs: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        unimplemented!("record_poll")
    }

    async fn spend_device_code(&self, device_hash: &TokenHash) -> StoreResult<bool> {
        unimplemented!("spend_device_code")
    }
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn insert_api_key(&self, new: &NewApiKey, max: usize, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("insert_api_key")
    }

    async fn api_keys(&self, owner: KeyOwner) -> StoreResult<Vec<ApiKey>> {
        unimplemented!("api_keys")
    }

    async fn api_key_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<FoundKey>> {
        unimplemented!("api_key_by_hash")
    }

    async fn api_key_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        unimplemented!("api_key_used")
    }

    async fn delete_api_key(&self, owner: KeyOwner, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("delete_api_key")
    }
}

#[async_trait]
impl ScimStore for DynamoStore {
    async fn insert_scim_token(&self, token: &NewScimToken, max: usize, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("insert_scim_token")
    }

    async fn scim_tokens(&self, org_id: Uuid) -> StoreResult<Vec<ScimToken>> {
        unimplemented!("scim_tokens")
    }

    async fn scim_token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<ScimToken>> {
        unimplemented!("scim_token_by_hash")
    }

    async fn scim_token_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        unimplemented!("scim_token_used")
    }

    async fn delete_scim_token(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("delete_scim_token")
    }

    async fn scim_user(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<ScimUser>> {
        unimplemented!("scim_user")
    }

    async fn scim_users(
        &self,
        org_id: Uuid,
        filter: &ScimUserFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Page<ScimUser>> {
        unimplemented!("scim_users")
    }

    async fn provision_scim_user(
        &self,
        provision: &Provision<'_>,
        member_limit: u64,
        effects: &Effects,
    ) -> StoreResult<Provisioned> {
        unimplemented!("provision_scim_user")
    }

    async fn update_scim_user(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        change: &ScimUserChange<'_>,
        effects: &Effects,
    ) -> StoreResult<UserWrite> {
        unimplemented!("update_scim_user")
    }

    async fn deprovision_scim_user(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        disable_account: bool,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<UserWrite> {
        unimplemented!("deprovision_scim_user")
    }
}

#[async_trait]
impl ScimGroupStore for DynamoStore {
    async fn insert_scim_group(
        &self,
        group: &ScimGroup,
        members: &[Uuid],
        effects: &Effects,
    ) -> StoreResult<GroupWrite> {
        unimplemented!("insert_scim_group")
    }

    async fn scim_group(&self, org_id: Uuid, id: Uuid) -> StoreResult<Option<ScimGroup>> {
        unimplemented!("scim_group")
    }

    async fn scim_groups(
        &self,
        org_id: Uuid,
        display_name: Option<&str>,
        external_id: Option<&str>,
        offset: u64,
        limit: u32,
        members: bool,
    ) -> StoreResult<Page<ScimGroup>> {
        unimplemented!("scim_groups")
    }

    async fn update_scim_group(
        &self,
        group: &ScimGroup,
        members: &MembersChange,
        effects: &Effects,
    ) -> StoreResult<GroupWrite> {
        unimplemented!("update_scim_group")
    }

    async fn delete_scim_group(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("delete_scim_group")
    }
}

#[async_trait]
impl ImportStore for DynamoStore {
    async fn import_accounts(&self, accounts: &[NewAccount]) -> StoreResult<Vec<uuid::Uuid>> {
        unimplemented!("import_accounts")
    }

    async fn replace_password_hash(
        &self,
        id: uuid::Uuid,
        old: &str,
        new: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool> {
        unimplemented!("replace_password_hash")
    }

    async fn foreign_hash_prefixes(&self, current_prefix: &str) -> StoreResult<Vec<(String, u64)>> {
        unimplemented!("foreign_hash_prefixes")
    }
}
