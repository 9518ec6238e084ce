//! Sessions and their refresh tokens. A session item carries the generation of its account's
//! sessions it was made in; the per-request check reads the session and its account (two
//! strongly consistent reads at once) and takes the session as live only while it is unexpired
//! and of the account's current generation. Ending every session of an account raises the
//! generation (one write, however many sessions it has); deleting the account ends them all
//! with it. Sessions left behind expire away.
//!
//! A refresh token is an item of its own (`R#<hash>`), spent by a write on condition that it
//! is unspent, in the transaction that writes its successor: of concurrent presentations one
//! rotates, and the others find it spent (a replay within the grace period, or reuse, which
//! ends the session at once).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::items::{
    Item, Write, WriteError, id, item, key, n, opt_text, opt_time, s, sdk_error, stamp, text, time, ttl,
};
use super::plan::{Stored, account_pk};
use super::{DynamoStore, items};
use crate::metrics::{SESSION_STORE as SESSIONS, timed};
use crate::sessions::{
    AccountRead, LiveSession, NewSession, Rotation, SessionAuth, SessionInfo, SessionStore, spent_within,
};
use crate::store::error::StoreResult;
use crate::tokens::opaque::TokenHash;

/// How many times a rotation reads again when a concurrent one wrote first.
const ATTEMPTS: usize = 8;

fn session_key(id: Uuid) -> Item {
    key(format!("S#{id}"), "S")
}

fn refresh_key(hash: &TokenHash) -> Item {
    key(format!("R#{}", super::items::hex(hash.as_bytes())), "R")
}

/// The partition of the `listing` index listing an account's sessions.
fn sessions_of(account_id: Uuid) -> String {
    format!("A#{account_id}#sessions")
}

/// A session item as read: the session, its generation, and what the owner's list shows.
struct StoredSession {
    info: SessionInfo,
    account_id: Uuid,
    generation: i64,
}

impl StoredSession {
    fn live(&self) -> LiveSession {
        LiveSession {
            id: self.info.id,
            account_id: self.account_id,
            expires_at: self.info.expires_at,
            last_used_at: self.info.last_used_at,
            auth: self.info.auth.clone(),
        }
    }

    /// Whether it is live at `now` for the account as `account` has it.
    fn is_live(&self, account: &Stored, now: DateTime<Utc>) -> bool {
        self.info.expires_at > now && self.generation == account.generation && self.account_id == account.account.id
    }
}

fn session_from_item(item: &Item) -> StoreResult<StoredSession> {
    Ok(StoredSession {
        info: SessionInfo {
            id: Uuid::parse_str(text(item, "pk")?.trim_start_matches("S#")).map_err(anyhow::Error::from)?,
            created_at: time(item, "created")?,
            last_used_at: time(item, "last_used")?,
            expires_at: time(item, "expires")?,
            user_agent: opt_text(item, "ua")?.map(str::to_owned),
            ip: opt_text(item, "ip")?.map(str::to_owned),
            auth: SessionAuth::decode(opt_text(item, "auth")?),
        },
        account_id: id(item, "account")?,
        generation: items::number(item, "gen")?,
    })
}

impl DynamoStore {
    async fn read_session(&self, id: Uuid) -> StoreResult<Option<StoredSession>> {
        self.get(&self.tables.main, session_key(id)).await?.as_ref().map(session_from_item).transpose()
    }

    /// The session `id` and its account, when the session is live at `now`; `account_id` is
    /// the account the caller expects (read at once with the session; the session's own when
    /// it names another).
    async fn live(
        &self,
        id: Uuid,
        account_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(StoredSession, Stored)>> {
        let (session, account) = match account_id {
            Some(account_id) => {
                let (session, account) = tokio::join!(self.read_session(id), self.read_account(account_id));
                (session?, account?)
            }
            None => (self.read_session(id).await?, None),
        };
        let Some(session) = session else { return Ok(None) };
        let account = match account {
            Some(account) if account.account.id == session.account_id => Some(account),
            _ => self.read_account(session.account_id).await?,
        };
        Ok(account.filter(|account| session.is_live(account, now)).map(|account| (session, account)))
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        timed!(SESSIONS, "create", async {
            let hash = super::items::hex(session.refresh_hash.as_bytes());
            for _ in 0..ATTEMPTS {
                let Some(account) = self.read_account(session.account_id).await? else {
                    return Err(anyhow::anyhow!("a session for the missing account {}", session.account_id).into());
                };
                let mut attributes = vec![
                    ("account", s(session.account_id.to_string())),
                    ("created", stamp(session.created_at)),
                    ("last_used", stamp(session.created_at)),
                    ("expires", stamp(session.expires_at)),
                    ("auth", s(session.auth.encode())),
                    ("gen", n(account.generation)),
                    ("current", s(hash.as_str())),
                    ("ttl", ttl(session.expires_at)),
                    ("by_pk", s(sessions_of(session.account_id))),
                    ("by_sk", s(format!("{}#{}", items::stamp_text(session.created_at), session.id))),
                ];
                attributes.extend(session.user_agent.as_deref().map(|ua| ("ua", s(ua))));
                attributes.extend(session.ip.as_deref().map(|ip| ("ip", s(ip))));
                let mut written = item("", "", attributes);
                written.extend(session_key(session.id));
                let mut token = item(
                    "",
                    "",
                    vec![
                        ("session", s(session.id.to_string())),
                        ("created", stamp(session.created_at)),
                        ("ttl", ttl(session.expires_at)),
                    ],
                );
                token.extend(refresh_key(&session.refresh_hash));
                let fresh = "attribute_not_exists(#pk)";
                let writes = vec![
                    Write::put(&self.tables.main, written).when(fresh).build()?,
                    Write::put(&self.tables.main, token).when(fresh).build()?,
                    // Made in the generation read: not if every session was ended meanwhile.
                    Write::check(&self.tables.main, key(account_pk(session.account_id), "A"), "#gen = :gen")
                        .value("gen", n(account.generation))
                        .build()?,
                ];
                match self.transact(writes).await {
                    Ok(()) => return Ok(()),
                    Err(WriteError::Store(error)) => return Err(error),
                    Err(failed) if failed.failed(0) || failed.failed(1) => {
                        return Err(anyhow::anyhow!("a new session's key is taken").into());
                    }
                    Err(_) => continue,
                }
            }
            Err(crate::store::error::StoreError::Unavailable(anyhow::anyhow!("the account kept ending its sessions")))
        })
    }

    async fn live_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
        timed!(SESSIONS, "check", async { Ok(self.live(id, None, now).await?.map(|(session, _)| session.live())) })
    }

    async fn live_session_of(
        &self,
        id: Uuid,
        account_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LiveSession>> {
        timed!(SESSIONS, "check", async {
            Ok(self.live(id, Some(account_id), now).await?.map(|(session, _)| session.live()))
        })
    }

    async fn live_session_and_account(
        &self,
        id: Uuid,
        account_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(LiveSession, AccountRead)>> {
        timed!(SESSIONS, "check", async {
            let found = self.live(id, Some(account_id), now).await?;
            Ok(found.map(|(session, account)| (session.live(), AccountRead::Current(account.account))))
        })
    }

    async fn set_session_auth(&self, id: Uuid, auth: &SessionAuth) -> StoreResult<bool> {
        timed!(SESSIONS, "set_auth", async {
            let Some((_, account)) = self.live(id, None, Utc::now()).await? else { return Ok(false) };
            let write = Write::update(&self.tables.main, session_key(id), "SET #auth = :auth")
                .when("attribute_exists(#pk) AND #gen = :gen")
                .value("auth", s(auth.encode()))
                .value("gen", n(account.generation));
            match self.transact(vec![write.build()?]).await {
                Ok(()) => Ok(true),
                Err(WriteError::Store(error)) => Err(error),
                Err(_) => Ok(false),
            }
        })
    }

    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        timed!(SESSIONS, "touch", async {
            let touch = Write::update(&self.tables.main, session_key(id), "SET #last_used = :now")
                .when("attribute_exists(#pk) AND #last_used < :now")
                .value("now", stamp(now));
            // Not touched: the session is gone, or a later use touched it first.
            self.update_if(touch).await.map(|_| ())
        })
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> StoreResult<Rotation> {
        timed!(SESSIONS, "rotate", async {
            for _ in 0..ATTEMPTS {
                let Some(token) = self.get(&self.tables.main, refresh_key(presented)).await? else {
                    return Ok(Rotation::Unknown);
                };
                let session_id = id(&token, "session")?;
                let Some((session, account)) = self.live(session_id, None, now).await? else {
                    return Ok(Rotation::Unknown);
                };
                let live = session.live();
                if let Some(spent_at) = opt_time(&token, "used")? {
                    // A replay within the grace period: `next` must be the token this one was
                    // spent for (made at that very instant) and still be the session's current one.
                    if spent_within(spent_at, now, grace)
                        && let Some(successor) = self.get(&self.tables.main, refresh_key(next)).await?
                        && id(&successor, "session")? == session_id
                        && opt_time(&successor, "used")?.is_none()
                        && time(&successor, "created")? == spent_at
                    {
                        return Ok(Rotation::Replayed(live));
                    }
                    let ended =
                        self.client.delete_item().table_name(&self.tables.main).set_key(Some(session_key(session_id)));
                    ended.send().await.map_err(sdk_error)?;
                    return Ok(Rotation::Reused { session_id, account_id: live.account_id });
                }
                let mut successor = item(
                    "",
                    "",
                    vec![
                        ("session", s(session_id.to_string())),
                        ("created", stamp(now)),
                        ("ttl", ttl(live.expires_at)),
                    ],
                );
                successor.extend(refresh_key(next));
                let writes = vec![
                    Write::update(&self.tables.main, refresh_key(presented), "SET #used = :now")
                        .when("attribute_not_exists(#used)")
                        .value("now", stamp(now))
                        .build()?,
                    Write::put(&self.tables.main, successor).when("attribute_not_exists(#pk)").build()?,
                    Write::update(
                        &self.tables.main,
                        session_key(session_id),
                        "SET #last_used = :now, #current = :next",
                    )
                    .when("attribute_exists(#pk) AND #gen = :gen")
                    .value("now", stamp(now))
                    .value("next", s(super::items::hex(next.as_bytes())))
                    .value("gen", n(account.generation))
                    .build()?,
                ];
                match self.transact(writes).await {
                    Ok(()) => return Ok(Rotation::Rotated(LiveSession { last_used_at: now, ..live })),
                    Err(WriteError::Store(error)) => return Err(error),
                    // Spent by a concurrent presentation (which may have stored this very
                    // successor): read again, and answer as a replay or reuse.
                    Err(failed) if failed.failed(0) => continue,
                    Err(failed) if failed.failed(2) => return Ok(Rotation::Unknown),
                    Err(failed) if failed.failed(1) => {
                        return Err(anyhow::anyhow!("the successor refresh token is stored already").into());
                    }
                    Err(_) => continue,
                }
            }
            Err(crate::store::error::StoreError::Unavailable(anyhow::anyhow!("a refresh token kept being presented")))
        })
    }

    async fn refresh_token_session(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
        timed!(SESSIONS, "find_by_refresh", async {
            let Some(token) = self.get(&self.tables.main, refresh_key(hash)).await? else { return Ok(None) };
            Ok(self.live(id(&token, "session")?, None, now).await?.map(|(session, _)| session.live()))
        })
    }

    async fn revoke_session(&self, account_id: Uuid, id: Uuid) -> StoreResult<bool> {
        timed!(SESSIONS, "revoke", async {
            let Some(account) = self.read_account(account_id).await? else { return Ok(false) };
            let ended = Write::delete(&self.tables.main, session_key(id))
                .when("#account = :account AND #gen = :gen AND #expires > :now")
                .value("account", s(account_id.to_string()))
                .value("gen", n(account.generation))
                .value("now", stamp(Utc::now()));
            match self.transact(vec![ended.build()?]).await {
                Ok(()) => Ok(true),
                Err(WriteError::Store(error)) => Err(error),
                Err(WriteError::Condition(_)) => Ok(false),
                Err(WriteError::Conflict) => Err(crate::store::error::StoreError::Conflict),
            }
        })
    }

    async fn revoke_all_sessions(&self, account_id: Uuid, except: Option<Uuid>) -> StoreResult<u64> {
        timed!(SESSIONS, "revoke_all", async {
            let now = Utc::now();
            for _ in 0..ATTEMPTS {
                let Some(account) = self.read_account(account_id).await? else { return Ok(0) };
                let ended = self.sessions_in(&account, now).await?.iter().filter(|s| Some(s.info.id) != except).count();
                let next = account.generation + 1;
                let mut writes = vec![
                    Write::update(
                        &self.tables.main,
                        key(account_pk(account_id), "A"),
                        "SET #gen = :next, #ver = :after",
                    )
                    .when("#ver = :ver")
                    .value("next", n(next))
                    .value("after", n(account.version + 1))
                    .value("ver", n(account.version))
                    .build()?,
                ];
                if let Some(kept) = except {
                    writes.push(
                        Write::update(&self.tables.main, session_key(kept), "SET #gen = :next")
                            .when("#account = :account AND #gen = :gen")
                            .value("next", n(next))
                            .value("account", s(account_id.to_string()))
                            .value("gen", n(account.generation))
                            .build()?,
                    );
                }
                match self.transact(writes).await {
                    Ok(()) => return Ok(ended as u64),
                    Err(WriteError::Store(error)) => return Err(error),
                    // The session to keep has ended already: end the others all the same.
                    Err(failed) if failed.failed(1) && !failed.failed(0) => {
                        return self.revoke_all_sessions(account_id, None).await;
                    }
                    Err(_) => continue,
                }
            }
            Err(crate::store::error::StoreError::Unavailable(anyhow::anyhow!("the account {account_id} kept changing")))
        })
    }

    async fn list_sessions(&self, account_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<SessionInfo>> {
        timed!(SESSIONS, "list", async {
            let Some(account) = self.read_account(account_id).await? else { return Ok(Vec::new()) };
            Ok(self.sessions_in(&account, now).await?.into_iter().map(|session| session.info).collect())
        })
    }

    async fn ping_sessions(&self) -> StoreResult<()> {
        timed!(SESSIONS, "ping", self.ping_tables())
    }
}

impl DynamoStore {
    /// The account's live sessions, newest first (the `listing` index, which may lag a session made
    /// a moment ago).
    async fn sessions_in(&self, account: &Stored, now: DateTime<Utc>) -> StoreResult<Vec<StoredSession>> {
        let items = self.listed(&sessions_of(account.account.id), true).await?;
        let sessions = items.iter().map(session_from_item).collect::<StoreResult<Vec<_>>>()?;
        Ok(sessions.into_iter().filter(|session| session.is_live(account, now)).collect())
    }

    /// A cheap round trip: the read of an item that never exists.
    pub(super) async fn ping_tables(&self) -> StoreResult<()> {
        self.get(&self.tables.main, key("PING", "PING")).await.map(|_| ())
    }
}
