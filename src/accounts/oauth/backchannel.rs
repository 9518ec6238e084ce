//! OpenID Connect Back-Channel Logout 1.0, the producing side: every way a session ends goes
//! through [`Core::close_session`] or [`Core::close_all_sessions`], which end it in the
//! session store and then queue, for each client session among those ended whose client has a
//! `backchannel_logout_uri`, a job that tells the client (`logout_delivery.rs` sends it). The jobs
//! are written right after the sessions end, before the request answers: a failure to write them
//! fails the request, so an acknowledged logout has its notices queued. A session that expires
//! on its own tells nobody: the client's tokens expire with it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::{Core, Result};
use crate::model::session::Grant;
use crate::store::jobs::{JobKind, NewJob};

/// What a logout job holds: whose session ended, for which client. The token itself is signed
/// at each attempt, so a late retry is not refused as stale.
#[derive(Debug, Serialize, Deserialize)]
pub struct LogoutNotice {
    pub client_id: String,
    /// The account.
    pub sub: String,
    /// The ID token's `sid` (see [`sid_of`]); absent only from notices queued before every
    /// grant had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// The client session that ended.
    pub session_id: Uuid,
}

/// The `sid` of a client session's ID tokens and logout tokens: the browser session the grant
/// was made in, or, for a grant made without one (the device grant), the client session itself.
/// Every ID token has one, so a client that registered `backchannel_logout_session_required`
/// always gets the `sid` it can match.
pub fn sid_of(grant: &Grant, session_id: Uuid) -> Uuid {
    grant.via.unwrap_or(session_id)
}

/// The job's `topic`.
pub const TOPIC: &str = "backchannel_logout";

impl Core {
    /// Ends one session of the account, telling its client when it is a client session whose
    /// client asked to hear of it; `false` when there was no such session.
    pub async fn close_session(&self, account_id: Uuid, id: Uuid) -> Result<bool> {
        let before = self.sessions.live_session(id, self.now()).await?;
        if !self.sessions.revoke_session(account_id, id).await? {
            return Ok(false);
        }
        let granted = before.filter(|s| s.account_id == account_id).and_then(|s| s.auth.grant.map(|g| (s.id, g)));
        self.tell_clients(account_id, granted.into_iter().collect()).await?;
        Ok(true)
    }

    /// Ends every session of the account but `except`, telling the clients of those that were
    /// client sessions; how many ended.
    pub async fn close_all_sessions(&self, account_id: Uuid, except: Option<Uuid>) -> Result<u64> {
        let listed = self.sessions.list_sessions(account_id, self.now()).await?;
        let ended = self.sessions.revoke_all_sessions(account_id, except).await?;
        let granted = listed
            .into_iter()
            .filter(|s| Some(s.id) != except)
            .filter_map(|s| s.auth.grant.map(|grant| (s.id, grant)))
            .collect();
        self.tell_clients(account_id, granted).await?;
        Ok(ended)
    }

    /// Queues a notice for each ended client session whose client has a back-channel logout URI.
    async fn tell_clients(&self, account_id: Uuid, ended: Vec<(Uuid, Grant)>) -> Result<()> {
        let mut jobs = Vec::new();
        for (session_id, grant) in ended {
            let Some(client) = self.find_client(&grant.client_id).await? else { continue };
            if client.backchannel_logout_uri.is_none() {
                continue;
            }
            let notice = LogoutNotice {
                client_id: client.id.clone(),
                sub: account_id.to_string(),
                sid: Some(sid_of(&grant, session_id)),
                session_id,
            };
            let jti = Uuid::now_v7();
            jobs.push(NewJob {
                id: jti,
                kind: JobKind::Logout,
                // One lane per client: a client's slow or failing receiver holds back its own
                // notices, never another client's.
                lane: format!("logout {}", client.id),
                topic: TOPIC.to_owned(),
                target: client.id,
                account_id: Some(account_id),
                ref_id: Some(jti),
                payload: serde_json::to_string(&notice).map_err(anyhow::Error::from)?,
                body: None,
                created_at: self.now(),
            });
        }
        if !jobs.is_empty() {
            self.store.queue_jobs(&jobs).await?;
            tracing::debug!(%account_id, notices = jobs.len(), "back-channel logout notices queued");
        }
        Ok(())
    }
}
