//! Scaffold: ports not yet written for DynamoDB. Not to be committed to main.
#![allow(unused_imports, unused_variables, clippy::unimplemented)]

use async_trait::async_trait;

use super::DynamoStore;
use crate::store::scim::Page;
use crate::store::sso::SamlAnswer;
use crate::store::admin::AdminStore;
use crate::store::{ApiKeyStore, ClientStore, DeviceStore, IdentityStore, ImportStore, InitialTokenStore, InvitationStore, MfaStore, OrgDomainStore, OrgRoleStore, OrgStore, PasskeyStore, ScimGroupStore, ScimStore, SsoStore, WebhookStore};
use chrono::{DateTime, Utc};
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
use crate::model::org::{     Member, MemberChange, MemberCursor, Membership, NewOrganization, OrgActor, OrgChange, OrgKey, Organization, };
use crate::model::org::{OrgRole, RoleRemoval};
use crate::model::outcome::Effects;
use crate::model::passkey::{Ceremony, NewCeremony, StoredPasskey};
use crate::model::scim::{     GroupWrite, MembersChange, NewScimToken, Provision, Provisioned, ScimGroup, ScimToken, ScimUser, ScimUserChange,     ScimUserFilter, UserWrite, };
use crate::model::sso::{NewSamlRequest, SamlRequest, SamlSpend, SsoConnection};
use crate::model::webhook::{Delivery, DeliveryStatus, Endpoint, Event, EventType};
use crate::store::accounts::NewAccount;
use crate::store::error::StoreResult;
use crate::store::tokens::NewOneTimeToken;
use crate::tokens::opaque::TokenHash;
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
impl ClientStore for DynamoStore {
    async fn insert_client(
        &self,
        client: &OAuthClient,
        secret: Option<&TokenHash>,
        registration: Option<&TokenHash>,
    ) -> StoreResult<()> {
        unimplemented!("insert_client")
    }

    async fn find_client(&self, id: &str) -> StoreResult<Option<OAuthClient>> {
        unimplemented!("find_client")
    }

    async fn client_secret(&self, id: &str) -> StoreResult<Option<TokenHash>> {
        unimplemented!("client_secret")
    }

    async fn registration_hash(&self, id: &str) -> StoreResult<Option<TokenHash>> {
        unimplemented!("registration_hash")
    }

    async fn list_clients(&self) -> StoreResult<Vec<OAuthClient>> {
        unimplemented!("list_clients")
    }

    async fn update_client(&self, client: &OAuthClient) -> StoreResult<bool> {
        unimplemented!("update_client")
    }

    async fn set_client_secret(&self, id: &str, secret: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool> {
        unimplemented!("set_client_secret")
    }

    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        unimplemented!("delete_client")
    }

    async fn insert_code(&self, code: &NewCode) -> StoreResult<()> {
        unimplemented!("insert_code")
    }

    async fn redeem_code(&self, hash: &TokenHash, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<Redemption> {
        unimplemented!("redeem_code")
    }

    async fn code_reused(&self, hash: &TokenHash) -> StoreResult<bool> {
        unimplemented!("code_reused")
    }

    async fn consent(&self, account_id: Uuid, client_id: &str) -> StoreResult<Option<Vec<String>>> {
        unimplemented!("consent")
    }

    async fn save_consent(
        &self,
        account_id: Uuid,
        client_id: &str,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        unimplemented!("save_consent")
    }
}

#[async_trait]
impl InitialTokenStore for DynamoStore {
    async fn insert_initial_token(&self, token: &InitialToken, hash: &TokenHash) -> StoreResult<()> {
        unimplemented!("insert_initial_token")
    }

    async fn list_initial_tokens(&self, now: DateTime<Utc>) -> StoreResult<Vec<InitialToken>> {
        unimplemented!("list_initial_tokens")
    }

    async fn delete_initial_token(&self, id: Uuid) -> StoreResult<bool> {
        unimplemented!("delete_initial_token")
    }

    async fn spend_initial_token(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool> {
        unimplemented!("spend_initial_token")
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
impl OrgStore for DynamoStore {
    async fn insert_org(&self, org: &NewOrganization, effects: &Effects) -> StoreResult<Organization> {
        unimplemented!("insert_org")
    }

    async fn find_org(&self, key: OrgKey<'_>) -> StoreResult<Option<Organization>> {
        unimplemented!("find_org")
    }

    async fn list_orgs(&self, q: Option<&str>, before: Option<Uuid>, limit: u32) -> StoreResult<Vec<Organization>> {
        unimplemented!("list_orgs")
    }

    async fn update_org(&self, id: Uuid, change: &OrgChange, effects: &Effects) -> StoreResult<Option<Organization>> {
        unimplemented!("update_org")
    }

    async fn delete_org(&self, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("delete_org")
    }

    async fn memberships(&self, account_id: Uuid) -> StoreResult<Vec<Membership>> {
        unimplemented!("memberships")
    }

    async fn membership(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<Membership>> {
        unimplemented!("membership")
    }

    async fn membership_record(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<Membership>> {
        unimplemented!("membership_record")
    }

    async fn all_memberships(&self, account_id: Uuid) -> StoreResult<Vec<Membership>> {
        unimplemented!("all_memberships")
    }

    async fn list_members(&self, org_id: Uuid, after: Option<MemberCursor>, limit: u32) -> StoreResult<Vec<Member>> {
        unimplemented!("list_members")
    }

    async fn orgs_only_owned_by(&self, account_id: Uuid) -> StoreResult<Vec<Uuid>> {
        unimplemented!("orgs_only_owned_by")
    }

    async fn count_members(&self, org_id: Uuid) -> StoreResult<u64> {
        unimplemented!("count_members")
    }

    async fn add_member(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        role: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<bool> {
        unimplemented!("add_member")
    }

    async fn set_member_role(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        role: &str,
        actor: OrgActor,
        effects: &Effects,
    ) -> StoreResult<MemberChange> {
        unimplemented!("set_member_role")
    }

    async fn remove_member(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        actor: OrgActor,
        effects: &Effects,
    ) -> StoreResult<MemberChange> {
        unimplemented!("remove_member")
    }
}

#[async_trait]
impl OrgRoleStore for DynamoStore {
    async fn org_roles(&self, org_id: Uuid) -> StoreResult<Vec<OrgRole>> {
        unimplemented!("org_roles")
    }

    async fn find_org_role(&self, org_id: Uuid, name: &str) -> StoreResult<Option<OrgRole>> {
        unimplemented!("find_org_role")
    }

    async fn insert_org_role(&self, org_id: Uuid, role: &OrgRole, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("insert_org_role")
    }

    async fn update_org_role(
        &self,
        org_id: Uuid,
        name: &str,
        permissions: &[String],
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Option<OrgRole>> {
        unimplemented!("update_org_role")
    }

    async fn delete_org_role(
        &self,
        org_id: Uuid,
        name: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<RoleRemoval> {
        unimplemented!("delete_org_role")
    }
}

#[async_trait]
impl OrgDomainStore for DynamoStore {
    async fn org_domains(&self, org_id: Uuid) -> StoreResult<Vec<OrgDomain>> {
        unimplemented!("org_domains")
    }

    async fn find_org_domain(&self, org_id: Uuid, domain: &str) -> StoreResult<Option<OrgDomain>> {
        unimplemented!("find_org_domain")
    }

    async fn insert_org_domain(&self, domain: &OrgDomain, max: usize, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("insert_org_domain")
    }

    async fn verify_org_domain(
        &self,
        org_id: Uuid,
        domain: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<DomainVerification> {
        unimplemented!("verify_org_domain")
    }

    async fn set_auto_join(
        &self,
        org_id: Uuid,
        domain: &str,
        role: Option<&str>,
        by: Option<Uuid>,
        effects: &Effects,
    ) -> StoreResult<AutoJoinChange> {
        unimplemented!("set_auto_join")
    }

    async fn delete_org_domain(&self, org_id: Uuid, domain: &str, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("delete_org_domain")
    }

    async fn verified_domain(&self, domain: &str) -> StoreResult<Option<OrgDomain>> {
        unimplemented!("verified_domain")
    }

    async fn auto_join_offer(&self, domain: &str, account_id: Uuid) -> StoreResult<Option<OrgDomain>> {
        unimplemented!("auto_join_offer")
    }

    async fn auto_join(&self, join: &AutoJoin<'_>, effects: &Effects) -> StoreResult<AutoJoined> {
        unimplemented!("auto_join")
    }
}

#[async_trait]
impl InvitationStore for DynamoStore {
    async fn insert_invitation(&self, invitation: &NewInvitation, effects: &Effects) -> StoreResult<Invitation> {
        unimplemented!("insert_invitation")
    }

    async fn org_invitations(&self, org_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>> {
        unimplemented!("org_invitations")
    }

    async fn invitations_to(&self, email: &str, now: DateTime<Utc>) -> StoreResult<Vec<Addressed>> {
        unimplemented!("invitations_to")
    }

    async fn find_invitation(&self, key: InvitationKey<'_>) -> StoreResult<Option<(Invitation, Organization)>> {
        unimplemented!("find_invitation")
    }

    async fn revoke_invitation(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("revoke_invitation")
    }

    async fn accept_invitation(
        &self,
        key: InvitationKey<'_>,
        acceptor: Acceptor<'_>,
        now: DateTime<Utc>,
        member_limit: u64,
        effects: &Effects,
    ) -> StoreResult<Acceptance> {
        unimplemented!("accept_invitation")
    }
}

#[async_trait]
impl SsoStore for DynamoStore {
    async fn insert_sso_connection(
        &self,
        connection: &SsoConnection,
        max: usize,
        effects: &Effects,
    ) -> StoreResult<bool> {
        unimplemented!("insert_sso_connection")
    }

    async fn sso_connection(&self, id: Uuid) -> StoreResult<Option<SsoConnection>> {
        unimplemented!("sso_connection")
    }

    async fn sso_connections(&self, org_id: Uuid) -> StoreResult<Vec<SsoConnection>> {
        unimplemented!("sso_connections")
    }

    async fn any_sso_connection(&self) -> StoreResult<bool> {
        unimplemented!("any_sso_connection")
    }

    async fn update_sso_connection(&self, connection: &SsoConnection, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("update_sso_connection")
    }

    async fn delete_sso_connection(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        unimplemented!("delete_sso_connection")
    }

    async fn insert_saml_request(&self, request: &NewSamlRequest) -> StoreResult<()> {
        unimplemented!("insert_saml_request")
    }

    async fn spend_saml_answer(&self, answer: &SamlAnswer<'_>) -> StoreResult<SamlSpend> {
        unimplemented!("spend_saml_answer")
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


