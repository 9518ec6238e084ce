//! Copying what one store keeps into another (`gatehouse copy --to URL`): SQLite or PostgreSQL
//! into DynamoDB, or any store into any other. It reads and writes through the persistence
//! ports alone, so that each backend writes its own layout (DynamoDB's uniqueness markers, key
//! counters and the set of admins; SQL's rows and claims) by the same code that writes it when
//! serving, and nothing here knows a table.
//!
//! What it carries: the signing keys (tokens already issued keep verifying) and the sealing
//! key (sealed secrets stay readable); every account with its id, address, username, profile,
//! app data, language, role, status, verification and password hash; each account's
//! authenticator app (its sealed secret, whether it was confirmed, the last step used), its
//! unspent recovery codes, passkeys, social identities (issuer and subject), API keys (by the
//! hash of their secret, with their scopes, expiry and last use) and consents to client apps;
//! the OAuth client apps (with the hashes of their secrets and registration tokens); the
//! webhook endpoints (with their sealed signing secrets); the organizations with their policy,
//! custom roles, members, domains (verified or not, with the role they join accounts with), SSO
//! connections (SAML and OpenID Connect, their secrets sealed), API keys, the accounts their
//! domains joined (one who left is not joined again) and SCIM directories
//! (the tokens by hash, the provisioned members with their `userName`, `externalId`,
//! attributes and suspension, and whether SCIM made or disabled their accounts; the groups with
//! their members); and the audit trail.
//!
//! What it leaves, by design: what lives minutes or hours and is made again on demand —
//! sessions and refresh tokens (everybody logs in again after the move), one-time links and
//! codes (a pending account asks for a new activation email), login challenges and logins
//! waiting at a provider, authorization and device codes, rate-limit counts — and the history
//! of emails and webhook deliveries already sent or given up on.
//!
//! What stops it before it writes anything: a target that is not empty (copy into tables or a
//! database freshly made by `gatehouse migrate`); emails or webhook deliveries still waiting
//! to be sent (they would be lost: let the servers, or `gatehouse work`, send them first);
//! live client registration tokens and organization invitations (short-lived, and kept by
//! hashes a copy cannot make links of again: withdraw them, and issue new ones after the move).
//!
//! An account's and a provisioned member's updated time becomes its creation time (and a
//! suspension's time the member's provisioning), the times an authenticator app was set up and
//! a consent given become the time of the copy, and an organization's first owner joins it when
//! it was made; usernames an account gave up stay free of it only on the source. The
//! source must not change meanwhile (stop the servers): the copy ends by counting the source's
//! accounts again and fails when they are not the number copied.

mod directory;
mod orgs;
mod refusals;
mod tally;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use uuid::Uuid;

pub use self::tally::Copied;
use self::tally::PAGE;
use super::Store;
use super::accounts::NewAccount;
use crate::model::account::{AccountKey, Email};
use crate::model::admin::AccountQuery;
use crate::model::api_key::KeyOwner;
use crate::model::audit::EventFilter;
use crate::model::outcome::Effects;

/// How many accounts' factors, identities and keys are copied at once.
const AT_ONCE: usize = 8;

/// Why a copy did not start: each reason a line, nothing written.
#[derive(Debug, thiserror::Error)]
#[error("refusing to copy (nothing was written):\n  - {}", .0.join("\n  - "))]
pub struct Refused(pub Vec<String>);

/// Copies everything `from` keeps that lasts (see the module documentation) into `to`, which
/// must be empty; `progress` is told the running totals after each page of accounts.
pub async fn copy(
    from: Arc<dyn Store>,
    to: Arc<dyn Store>,
    now: DateTime<Utc>,
    progress: &(dyn Fn(&Copied) + Sync),
) -> anyhow::Result<Copied> {
    let mut refusals = refusals::not_carried(&*from, now).await?;
    refusals.extend(refusals::not_empty(&*to).await?);
    if !refusals.is_empty() {
        return Err(Refused(refusals).into());
    }
    let mut copied = Copied::default();

    // The keys first: an account's sealed secrets are read with the sealing key.
    if let Some(sealing) = from.sealing_key().await? {
        to.insert_first_sealing_key(&sealing, now).await?;
        copied.sealing_key = true;
    }
    for (generation, key) in from.signing_keys().await?.iter().enumerate() {
        match generation {
            0 => to.insert_first_signing_key(key).await?,
            _ => to.insert_signing_key(key).await?,
        }
        copied.signing_keys += 1;
    }

    // The client apps before the accounts' consents to them.
    let clients = from.list_clients().await?;
    for client in &clients {
        let (secret, registration) = (from.client_secret(&client.id).await?, from.registration_hash(&client.id).await?);
        to.insert_client(client, secret.as_ref(), registration.as_ref(), &Effects::none()).await?;
        copied.clients += 1;
    }
    let clients: Arc<[String]> = clients.into_iter().map(|client| client.id).collect();
    for endpoint in from.endpoints().await? {
        let (endpoint, sealed) = from
            .endpoint_with_secret(endpoint.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("webhook endpoint {} went away during the copy", endpoint.id))?;
        to.insert_endpoint(&endpoint, &sealed, &Effects::none()).await?;
        copied.webhook_endpoints += 1;
    }

    let mut before = None;
    loop {
        let page = from.list_accounts(&AccountQuery { before, limit: PAGE, ..AccountQuery::default() }).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        let ids: Vec<Uuid> = page.iter().map(|account| account.id).collect();
        let accounts = each(&ids, |id| {
            let from = from.clone();
            async move {
                let found = from.find_account(&AccountKey::Id(id)).await?;
                found.ok_or_else(|| anyhow::anyhow!("account {id} went away during the copy: stop the servers first"))
            }
        })
        .await?;
        let new: Vec<NewAccount> = accounts
            .into_iter()
            .map(|credentials| {
                let account = credentials.account;
                NewAccount {
                    id: account.id,
                    email_normalized: Email::from_stored(account.email.clone()).normalized().to_owned(),
                    email: account.email,
                    username: account.username,
                    name: account.name,
                    data: account.data,
                    app_data: account.app_data,
                    password_hash: credentials.password_hash,
                    role: account.role,
                    status: account.status,
                    email_verified: account.email_verified,
                    locale: account.locale,
                    now: account.created_at,
                }
            })
            .collect();
        let written = to.import_accounts(&new).await?;
        if written.len() != new.len() {
            anyhow::bail!(
                "{} of {} accounts were not written: an address or username is taken in the target, which was \
                 empty when the copy began (is something else writing to it?)",
                new.len() - written.len(),
                new.len()
            );
        }
        copied.accounts += new.len() as u64;
        let owned = each(&ids, |id| {
            let (from, to, clients) = (from.clone(), to.clone(), clients.clone());
            async move { copy_owned(&*from, &*to, id, &clients, now).await }
        })
        .await?;
        owned.iter().for_each(|one| copied.add(one));
        progress(&copied);
    }

    for org in &orgs::all_orgs(&*from).await? {
        orgs::copy_org(&*from, &*to, org, &mut copied).await?;
        // After its members: provisioning finds each membership there.
        directory::copy_directory(&*from, &*to, org, &mut copied).await?;
    }
    progress(&copied);

    let mut before = None;
    loop {
        let page = from.list_events(&EventFilter { before, limit: PAGE, ..EventFilter::default() }).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        to.insert_events(&page).await?;
        copied.audit_events += page.len() as u64;
    }
    progress(&copied);

    // Every write into the target was acknowledged whole; the source is counted again, since
    // an account made while the copy read its pages would be missing (DynamoDB's index, which
    // counts the target, may lag behind the writes a moment ago).
    let source = from.count_accounts(&AccountQuery { limit: u32::MAX, ..AccountQuery::default() }).await?;
    if source != copied.accounts {
        anyhow::bail!(
            "the source holds {source} accounts, but {} were copied: the source changed during the copy (stop the \
             servers, then copy again into freshly made tables)",
            copied.accounts
        );
    }
    Ok(copied)
}

/// `task` for each of `ids`, [`AT_ONCE`] at a time: the results in the order of `ids`, or the
/// first error.
async fn each<T, F, Task>(ids: &[Uuid], task: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(Uuid) -> Task,
    Task: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(ids.len()).collect();
    let mut running = JoinSet::new();
    for (at, &id) in ids.iter().enumerate() {
        if running.len() == AT_ONCE
            && let Some(done) = running.join_next().await
        {
            let (index, result) = done?;
            results[index] = Some(result?);
        }
        let work = task(id);
        running.spawn(async move { (at, work.await) });
    }
    while let Some(done) = running.join_next().await {
        let (index, result) = done?;
        results[index] = Some(result?);
    }
    Ok(results.into_iter().flatten().collect())
}

/// What belongs to account `id`: its authenticator app and recovery codes, passkeys, social
/// identities, API keys and consents to the `clients`. Written as it was; none of it tells
/// anybody (no audit event, no email, no webhook).
async fn copy_owned(
    from: &dyn Store,
    to: &dyn Store,
    id: Uuid,
    clients: &[String],
    now: DateTime<Utc>,
) -> anyhow::Result<Copied> {
    let mut copied = Copied::default();
    let quiet = Effects::none();
    let codes = from.recovery_codes(id).await?;
    let totp = from.totp(id).await?;
    if let Some(totp) = &totp {
        to.begin_totp(id, &totp.secret, now).await?;
        if totp.confirmed {
            // The step of the last code accepted: a code seen before the move stays spent.
            to.confirm_totp(id, totp.last_step.unwrap_or(0), &codes, now, &quiet).await?;
        }
        copied.authenticators += 1;
    }
    if !codes.is_empty() {
        if !totp.as_ref().is_some_and(|totp| totp.confirmed) {
            to.replace_recovery_codes(id, &codes, now, &quiet).await?;
        }
        copied.recovery_code_sets += 1;
    }
    for passkey in from.passkeys(id).await? {
        to.insert_passkey(&passkey, &quiet).await?;
        copied.passkeys += 1;
    }
    for keyed in from.keyed_identities(id).await? {
        to.insert_identity(&keyed.identity, keyed.key(), &quiet).await?;
        copied.identities += 1;
    }
    for key in from.api_keys_with_hashes(KeyOwner::Account(id)).await? {
        if !to.insert_api_key(&key, usize::MAX, &quiet).await? {
            anyhow::bail!("the target refused an API key of account {id}");
        }
        if let Some(used) = key.key.last_used_at {
            to.api_key_used(key.key.id, used).await?;
        }
        copied.api_keys += 1;
    }
    for client in clients {
        if let Some(scopes) = from.consent(id, client).await? {
            to.save_consent(id, client, &scopes, now).await?;
            copied.consents += 1;
        }
    }
    Ok(copied)
}
