//! Passkeys (WebAuthn): registering them, listing and removing them, logging in with one and
//! nothing else (a discoverable credential with user verification), and using one as the
//! second factor of a password login or a step-up. The WebAuthn ceremonies are `webauthn-rs`'s;
//! their server-side state is stored (found by the challenge the browser's answer carries),
//! single use, [`CEREMONY_TTL`].
//!
//! Synced passkeys change their backup state and may not count their uses; webauthn-rs refuses
//! a counter that does not grow. gatehouse accepts them: a credential registered backup
//! eligible (BE=1) has its stored counter set to zero before verifying, which skips the
//! counter check, and every change of its flags is audited. A credential registered
//! device-bound (BE=0) keeps the counter check, and if it ever presents itself as backup
//! eligible it is refused: a key that was bound to one device and now says it can be copied
//! is a clone or another authenticator, and must be registered again.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};
use webauthn_rs_proto::{AuthenticatorSelectionCriteria, ResidentKeyRequirement, UserVerificationPolicy};

use super::access::matrix::Operation;
use super::{Authentication, Caller, ClientInfo, Error, Result, TokenPair};
use crate::model::account::{Account, AccountKey, Status};
use crate::model::outcome::{Effects, Kind};
use crate::sessions::SessionAuth;
use crate::store::StoreError;
use crate::store::passkeys::{Ceremony, NewCeremony, StoredPasskey};

/// How long a ceremony waits for the browser.
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);
/// The longest passkey name.
const MAX_NAME: usize = 64;

/// The relying party: `rp_id` (else the public URL's host, when it is a domain name) and the
/// origins allowed to use it. `Ok(None)` when there is no domain to bind passkeys to;
/// an origin that does not belong to the relying party id is an error.
pub fn relying_party(public_url: &Url, rp_id: Option<&str>, origins: &[String]) -> anyhow::Result<Option<Webauthn>> {
    let Some(rp_id) = rp_id.map(str::to_owned).or_else(|| public_url.domain().map(|d| d.to_ascii_lowercase())) else {
        return Ok(None);
    };
    let belongs =
        |origin: &Url| origin.domain().is_some_and(|domain| domain == rp_id || domain.ends_with(&format!(".{rp_id}")));
    let mut allowed: Vec<Url> = Vec::new();
    if belongs(public_url) {
        allowed.push(Url::parse(&public_url.origin().ascii_serialization())?);
    }
    for origin in origins {
        let url = Url::parse(origin)?;
        if !belongs(&url) {
            anyhow::bail!(
                "GATEHOUSE_WEBAUTHN_ORIGINS: {origin} is not {rp_id} or under it (the WebAuthn relying party id)"
            );
        }
        allowed.push(url);
    }
    let Some((first, rest)) = allowed.split_first() else {
        anyhow::bail!(
            "GATEHOUSE_WEBAUTHN_RP_ID is {rp_id}, but neither the public URL nor GATEHOUSE_WEBAUTHN_ORIGINS is under it"
        );
    };
    let mut builder = WebauthnBuilder::new(&rp_id, first)?.rp_name(&rp_id);
    for origin in rest {
        builder = builder.append_allowed_origin(origin);
    }
    Ok(Some(builder.build()?))
}

/// The SHA-256 of the challenge an answer's client data carries: the key of its ceremony.
fn challenge_hash(client_data_json: &[u8]) -> Option<[u8; 32]> {
    let data: Value = serde_json::from_slice(client_data_json).ok()?;
    let challenge = URL_SAFE_NO_PAD.decode(data.get("challenge")?.as_str()?.trim_end_matches('=')).ok()?;
    Some(Sha256::digest(&challenge).into())
}

/// The backup flags (eligible, state) an assertion's authenticator data presents.
fn presented_flags(authenticator_data: &[u8]) -> Option<(bool, bool)> {
    let flags = *authenticator_data.get(32)?;
    Some((flags & 0x08 != 0, flags & 0x10 != 0))
}

/// The credential's backup flags as the library's serialised form holds them.
fn stored_flags(passkey: &Passkey) -> (bool, bool) {
    let value = serde_json::to_value(passkey).unwrap_or_default();
    let flag = |name: &str| value["cred"][name].as_bool().unwrap_or(false);
    (flag("backup_eligible"), flag("backup_state"))
}

/// The stored credential, ready to verify an assertion presenting `presented` flags: it takes
/// the presented backup eligibility, and a backup-eligible one's counter is zeroed (synced
/// passkeys' counters do not grow), which skips the check. `None`: a device-bound credential
/// presents itself as backup eligible, which is refused.
fn prepared(stored: &StoredPasskey, presented: (bool, bool)) -> Result<Option<Passkey>> {
    if presented.0 && !stored.backup_eligible {
        tracing::warn!(passkey_id = %stored.id, "a passkey registered device-bound presented itself as backup eligible: refused; it must be registered again");
        return Ok(None);
    }
    let mut value: Value = serde_json::from_str(&stored.passkey).map_err(anyhow::Error::new)?;
    let cred = value
        .get_mut("cred")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| anyhow::anyhow!("a stored passkey has no credential"))?;
    cred.insert("backup_eligible".into(), json!(presented.0));
    if stored.backup_eligible {
        cred.insert("counter".into(), json!(0));
    }
    Ok(Some(serde_json::from_value(value).map_err(anyhow::Error::new)?))
}

/// An authentication state allowing `passkey` alone.
fn with_credential(mut state: Value, passkey: &Passkey) -> Result<PasskeyAuthentication> {
    let credential = serde_json::to_value(passkey).map_err(anyhow::Error::new)?["cred"].take();
    let ast = state
        .get_mut("ast")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| anyhow::anyhow!("a stored ceremony has no state"))?;
    ast.insert("credentials".into(), Value::Array(vec![credential]));
    Ok(serde_json::from_value(state).map_err(anyhow::Error::new)?)
}

/// A passkey as its owner sees it.
#[derive(Clone, Debug)]
pub struct PasskeyInfo {
    pub id: Uuid,
    pub name: String,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: chrono::DateTime<Utc>,
    pub last_used_at: Option<chrono::DateTime<Utc>>,
}

impl From<StoredPasskey> for PasskeyInfo {
    fn from(p: StoredPasskey) -> Self {
        Self {
            id: p.id,
            name: p.name,
            backup_eligible: p.backup_eligible,
            backup_state: p.backup_state,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

impl Authentication {
    /// Whether passkeys can be used here (the public URL names a domain to bind them to).
    pub fn passkeys_available(&self) -> bool {
        self.webauthn.is_some()
    }

    fn relying_party(&self) -> Result<&Webauthn> {
        self.webauthn.as_deref().ok_or(Error::PasskeysUnavailable)
    }

    async fn store_ceremony(
        &self,
        challenge: &[u8],
        account_id: Option<Uuid>,
        purpose: Ceremony,
        state: &impl serde::Serialize,
    ) -> Result<()> {
        let ceremony = NewCeremony {
            hash: Sha256::digest(challenge).into(),
            account_id,
            purpose,
            state: serde_json::to_string(state).map_err(anyhow::Error::new)?,
            expires_at: self.now() + chrono::Duration::from_std(CEREMONY_TTL).unwrap_or(chrono::Duration::minutes(5)),
        };
        Ok(self.store.insert_ceremony(&ceremony).await?)
    }

    /// The ceremony an answer belongs to: its account and state, spent now.
    async fn take_ceremony<S: serde::de::DeserializeOwned>(
        &self,
        client_data_json: &[u8],
        purpose: Ceremony,
    ) -> Result<Option<(Option<Uuid>, S)>> {
        let Some(hash) = challenge_hash(client_data_json) else { return Ok(None) };
        let Some((account_id, state)) = self.store.take_ceremony(&hash, purpose, self.now()).await? else {
            return Ok(None);
        };
        let state = serde_json::from_str(&state).map_err(anyhow::Error::new)?;
        Ok(Some((account_id, state)))
    }

    /// Creation options for a new passkey of the caller (a step-up): a discoverable credential
    /// with user verification, no attestation; the caller's passkeys are excluded.
    pub async fn passkey_registration_options(&self, caller: &Caller) -> Result<CreationChallengeResponse> {
        let webauthn = self.relying_party()?;
        self.admit(caller, Operation::Passkey).await?;
        let account = self.me(caller).await?;
        let existing = self.store.passkeys(account.id).await?;
        let exclude = existing.iter().map(|p| p.credential_id.clone()).collect();
        let display = account.name.clone().unwrap_or_else(|| account.email.clone());
        let (mut options, state) = webauthn
            .start_passkey_registration(account.id, &account.email, &display, Some(exclude))
            .map_err(|e| anyhow::anyhow!("starting a passkey registration: {e}"))?;
        options.public_key.authenticator_selection = Some(AuthenticatorSelectionCriteria {
            authenticator_attachment: None,
            resident_key: Some(ResidentKeyRequirement::Required),
            require_resident_key: true,
            user_verification: UserVerificationPolicy::Required,
        });
        self.store_ceremony(options.public_key.challenge.as_ref(), Some(account.id), Ceremony::Register, &state)
            .await?;
        Ok(options)
    }

    /// Stores the passkey the browser made from the options; the owner is told by email.
    pub async fn register_passkey(
        &self,
        caller: &Caller,
        credential: &RegisterPublicKeyCredential,
        name: Option<String>,
        client: &ClientInfo,
    ) -> Result<PasskeyInfo> {
        caller.refuse_key()?;
        let webauthn = self.relying_party()?;
        let name = match name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) {
            Some(name) if name.chars().count() > MAX_NAME => {
                return Err(Error::field("name", format!("a passkey's name has at most {MAX_NAME} characters")));
            }
            Some(name) => name,
            None => format!("Passkey added {}", self.now().format("%Y-%m-%d")),
        };
        let taken = self
            .take_ceremony::<PasskeyRegistration>(&credential.response.client_data_json, Ceremony::Register)
            .await?;
        let state = match taken {
            Some((Some(account_id), state)) if account_id == caller.account_id => state,
            _ => return Err(Error::WebauthnFailed("the options are unknown, used, expired or another account's")),
        };
        let passkey = webauthn.finish_passkey_registration(credential, &state).map_err(|e| {
            tracing::info!(error = %e, "passkey registration refused");
            Error::WebauthnFailed("the authenticator's answer did not verify (user verification is required)")
        })?;
        let account = self.me(caller).await?;
        let (backup_eligible, backup_state) = stored_flags(&passkey);
        let now = self.now();
        let stored = StoredPasskey {
            id: Uuid::now_v7(),
            account_id: account.id,
            credential_id: passkey.cred_id().to_vec(),
            passkey: serde_json::to_string(&passkey).map_err(anyhow::Error::new)?,
            name,
            backup_eligible,
            backup_state,
            created_at: now,
            last_used_at: None,
        };
        let notice = self.email(&account.email, self.policy.letters(account.locale).passkey_added(&stored.name), now);
        let added = self
            .outcome(Kind::PasskeyAdded, Some(account.id), client)
            .detail(json!({ "passkey_id": stored.id, "name": stored.name, "backup_eligible": backup_eligible }));
        let effects = Effects::of(added).email(notice);
        match self.commit(&effects, self.store.insert_passkey(&stored, &effects)).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(Error::WebauthnFailed("this passkey is registered already")),
            Err(other) => return Err(other.into()),
        }
        // Like a confirmed authenticator app: the session that added the passkey has shown it.
        if let Ok(session) = caller.session()
            && session.auth.aal < 2
        {
            let method = if backup_eligible { "swk" } else { "hwk" };
            let auth = crate::sessions::SessionAuth {
                org: session.auth.org,
                act: session.auth.act,
                ..super::mfa::with_second_factor(session.auth.amr.clone(), method, now)
            };
            self.sessions.set_session_auth(session.id, &auth).await?;
        }
        tracing::info!(account_id = %account.id, passkey_id = %stored.id, "passkey added");
        Ok(stored.into())
    }

    pub async fn passkeys(&self, caller: &Caller) -> Result<Vec<PasskeyInfo>> {
        Ok(self.store.passkeys(caller.account_id).await?.into_iter().map(PasskeyInfo::from).collect())
    }

    /// Removes one of the caller's passkeys (a step-up); the owner is told by email.
    pub async fn delete_passkey(&self, caller: &Caller, id: Uuid, client: &ClientInfo) -> Result<()> {
        caller.refuse_key()?;
        self.require_step_up(caller, Some(self.store.factors(caller.account_id).await?))?;
        let account = self.me(caller).await?;
        let notice = self.email(&account.email, self.policy.letters(account.locale).passkey_removed(), self.now());
        let removed = self.outcome(Kind::PasskeyRemoved, Some(account.id), client).with("passkey_id", id.to_string());
        let effects = Effects::of(removed).email(notice);
        if !self.commit(&effects, self.store.delete_passkey(account.id, id, &effects)).await? {
            return Err(Error::NotFoundPasskey);
        }
        Ok(())
    }

    /// Request options: for a passwordless login (`account` none: any discoverable passkey;
    /// counted against the client's login budget, since anyone may ask), or for a second factor
    /// or step-up of `account` (its passkeys).
    pub async fn passkey_request_options(
        &self,
        account: Option<Uuid>,
        client: &ClientInfo,
    ) -> Result<RequestChallengeResponse> {
        let webauthn = self.relying_party()?;
        match account {
            None => {
                self.per_ip(super::throttle::Action::Login, client).await?;
                let (mut options, state) = webauthn
                    .start_discoverable_authentication()
                    .map_err(|e| anyhow::anyhow!("starting a passkey login: {e}"))?;
                // A button press, not the autofill prompt: the page may still ask for autofill.
                options.mediation = None;
                self.store_ceremony(options.public_key.challenge.as_ref(), None, Ceremony::Login, &state).await?;
                Ok(options)
            }
            Some(account_id) => {
                let passkeys: Vec<Passkey> = self
                    .store
                    .passkeys(account_id)
                    .await?
                    .iter()
                    .map(|p| serde_json::from_str(&p.passkey).map_err(|e| Error::Unexpected(anyhow::Error::new(e))))
                    .collect::<Result<_>>()?;
                if passkeys.is_empty() {
                    return Err(Error::WebauthnFailed("the account has no passkey"));
                }
                let (options, state) = webauthn
                    .start_passkey_authentication(&passkeys)
                    .map_err(|e| anyhow::anyhow!("starting a passkey check: {e}"))?;
                self.store_ceremony(options.public_key.challenge.as_ref(), Some(account_id), Ceremony::Verify, &state)
                    .await?;
                Ok(options)
            }
        }
    }

    /// The account whose login challenge `mfa_token` is, for second-factor options.
    pub async fn mfa_token_account(&self, mfa_token: &str) -> Result<Uuid> {
        let hash = crate::tokens::opaque::TokenHash::of(mfa_token);
        self.store.challenge_account(&hash, super::mfa::MAX_ATTEMPTS, self.now()).await?.ok_or(Error::MfaTokenInvalid)
    }

    /// A passwordless login with a discoverable passkey: a session at level 2 (the passkey is
    /// something held, unlocked by something known or a body part).
    pub async fn log_in_with_passkey(&self, credential: &PublicKeyCredential, client: ClientInfo) -> Result<TokenPair> {
        let result = self.try_passkey_login(credential, &client).await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(Error::InvalidCredentials) => "invalid_credentials",
            Err(_) => "error",
        };
        crate::metrics::event("gatehouse_passkey_logins_total", "outcome", outcome);
        result
    }

    async fn try_passkey_login(&self, credential: &PublicKeyCredential, client: &ClientInfo) -> Result<TokenPair> {
        self.per_ip(super::throttle::Action::Login, client).await?;
        let webauthn = self.relying_party()?;
        let Some((_, state)) = self
            .take_ceremony::<DiscoverableAuthentication>(&credential.response.client_data_json, Ceremony::Login)
            .await?
        else {
            return Err(Error::InvalidCredentials);
        };
        let (user, credential_id) =
            webauthn.identify_discoverable_authentication(credential).map_err(|_| Error::InvalidCredentials)?;
        let stored = self.store.passkey_by_credential(credential_id).await?.filter(|p| p.account_id == user);
        let Some(stored) = stored else {
            tracing::info!("passkey login refused: unknown credential");
            return Err(Error::InvalidCredentials);
        };
        let presented = presented_flags(&credential.response.authenticator_data).ok_or(Error::InvalidCredentials)?;
        let Some(passkey) = prepared(&stored, presented)? else {
            self.note(
                self.outcome(Kind::LoginFailed, Some(stored.account_id), client)
                    .detail(json!({ "method": "passkey", "reason": "backup_eligibility_changed" })),
            );
            return Err(Error::InvalidCredentials);
        };
        #[allow(deprecated)]
        let verified =
            webauthn.finish_discoverable_authentication(credential, state, &[DiscoverableKey::from(&passkey)]);
        let result = verified.map_err(|e| {
            tracing::info!(error = %e, "passkey login refused");
            self.note(
                self.outcome(Kind::LoginFailed, Some(stored.account_id), client).detail(json!({ "method": "passkey" })),
            );
            Error::InvalidCredentials
        })?;
        let hardware = self.passkey_used(stored.clone(), passkey, &result, client).await?;
        let account = self.store.find_account(&AccountKey::Id(stored.account_id)).await?.map(|c| c.account);
        let account = match account {
            Some(account) if account.status == Status::Active => account,
            Some(account) if account.status == Status::Disabled => return Err(Error::Disabled),
            Some(_) => return Err(Error::NotActivated),
            None => return Err(Error::InvalidCredentials),
        };
        self.sso_gate(&account, None, client).await?;
        let method = if hardware { "hwk" } else { "swk" };
        let amr = vec![method.to_owned(), "user".to_owned(), "mfa".to_owned()];
        let auth = SessionAuth::second_factor(amr, self.now());
        self.start_session(account, auth, client, json!({ "method": "passkey", "passkey_id": stored.id })).await
    }

    /// Checks a passkey assertion as the second factor of `account` (after its password, or for
    /// a step-up): whether the passkey is bound to its device, or `None` when it does not verify.
    pub(super) async fn verify_passkey(
        &self,
        account: &Account,
        credential: &PublicKeyCredential,
        client: &ClientInfo,
    ) -> Result<Option<bool>> {
        let webauthn = self.relying_party()?;
        let Some((owner, state)) =
            self.take_ceremony::<Value>(&credential.response.client_data_json, Ceremony::Verify).await?
        else {
            return Ok(None);
        };
        if owner != Some(account.id) {
            return Ok(None);
        }
        let stored = self.store.passkey_by_credential(&credential.raw_id).await?.filter(|p| p.account_id == account.id);
        let (Some(stored), Some(presented)) = (stored, presented_flags(&credential.response.authenticator_data)) else {
            return Ok(None);
        };
        let Some(passkey) = prepared(&stored, presented)? else { return Ok(None) };
        // The stored state lists the account's passkeys as they were when the options were made;
        // the one presented is checked, as prepared for the flags it presents.
        let state = with_credential(state, &passkey)?;
        match webauthn.finish_passkey_authentication(credential, &state) {
            Ok(result) if result.cred_id().as_slice() == stored.credential_id.as_slice() => {
                Ok(Some(self.passkey_used(stored, passkey, &result, client).await?))
            }
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::info!(error = %e, "passkey check refused");
                Ok(None)
            }
        }
    }

    /// Records a verified use: the credential's new counter and flags (a change of the backup
    /// flags is audited). Whether the passkey is bound to its device (not backup eligible).
    async fn passkey_used(
        &self,
        mut stored: StoredPasskey,
        mut passkey: Passkey,
        result: &webauthn_rs::prelude::AuthenticationResult,
        client: &ClientInfo,
    ) -> Result<bool> {
        passkey.update_credential(result);
        let (eligible, state) = (result.backup_eligible(), result.backup_state());
        if (eligible, state) != (stored.backup_eligible, stored.backup_state) {
            tracing::info!(passkey_id = %stored.id, eligible, state, "a passkey's backup flags changed; accepted");
            self.note(self.outcome(Kind::PasskeyBackupChanged, Some(stored.account_id), client).detail(json!({
                "passkey_id": stored.id,
                "backup_eligible": { "from": stored.backup_eligible, "to": eligible },
                "backup_state": { "from": stored.backup_state, "to": state },
            })));
        }
        stored.passkey = serde_json::to_string(&passkey).map_err(anyhow::Error::new)?;
        stored.backup_eligible = eligible;
        stored.backup_state = state;
        self.store.record_passkey_use(&stored, self.now()).await?;
        Ok(!eligible)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_a_domain_and_its_origins_belong_to_it() {
        let ip = Url::parse("http://127.0.0.1:8080").unwrap();
        assert!(relying_party(&ip, None, &[]).unwrap().is_none(), "an IP address cannot be a relying party id");
        let site = Url::parse("https://id.example.com").unwrap();
        assert!(relying_party(&site, None, &[]).unwrap().is_some());
        assert!(relying_party(&site, Some("example.com"), &["https://app.example.com".into()]).unwrap().is_some());
        assert!(relying_party(&site, None, &["https://evil.test".into()]).is_err());
        assert!(relying_party(&ip, Some("example.com"), &[]).is_err(), "no origin under the id");
        assert!(relying_party(&ip, Some("localhost"), &["http://localhost:3000".into()]).unwrap().is_some());
    }

    #[test]
    fn the_challenge_and_the_backup_flags_are_read_from_the_answer() {
        let client_data = br#"{"type":"webauthn.get","challenge":"AAEC","origin":"https://example.com"}"#;
        assert_eq!(challenge_hash(client_data), Some(Sha256::digest([0u8, 1, 2]).into()));
        assert_eq!(challenge_hash(b"not json"), None);
        let mut data = vec![0u8; 37];
        data[32] = 0x1d; // UP, UV, BE, BS
        assert_eq!(presented_flags(&data), Some((true, true)));
        data[32] = 0x05;
        assert_eq!(presented_flags(&data), Some((false, false)));
        assert_eq!(presented_flags(&data[..10]), None);
    }

    #[test]
    fn a_device_bound_credential_that_turns_backup_eligible_is_refused() {
        let stored = |backup_eligible: bool| StoredPasskey {
            id: Uuid::now_v7(),
            account_id: Uuid::now_v7(),
            credential_id: vec![1, 2, 3],
            passkey: "not consulted before the flags are".into(),
            name: "key".into(),
            backup_eligible,
            backup_state: false,
            created_at: chrono::Utc::now(),
            last_used_at: None,
        };
        assert!(prepared(&stored(false), (true, false)).unwrap().is_none());
        assert!(prepared(&stored(false), (true, true)).unwrap().is_none());
        // The others go on to be read (and this one's stored form is not a credential).
        assert!(prepared(&stored(false), (false, false)).is_err());
        assert!(prepared(&stored(true), (true, true)).is_err());
    }
}
