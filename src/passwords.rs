//! Password hashing: Argon2id at 12 MiB, four passes, one lane, as PHC strings, run on a small
//! pool of dedicated threads so that hashing never blocks the async workers.
//!
//! OWASP lists five Argon2id settings that give an equal level of defence, trading memory for
//! passes, from 46 MiB and one pass to 7 MiB and five; at 12 MiB it asks for three passes. A
//! hashing thread holds its work area for good, so the memory per hash is paid once per core,
//! and a login storm is the server's peak: 12 MiB instead of OWASP's first setting (19 MiB, two
//! passes) is 14 MiB less at that peak on two cores. The fourth pass keeps the cost of a guess
//! where that first setting put it and a little above (20–21 ms of CPU per verify on the
//! benchmark machine against 18–20), and fixed costs of a login weigh no more against the hash than
//! they did. Hashes stored with other parameters still verify, and are replaced at the next
//! successful login.
//!
//! The pool's queue is bounded twice. By length: when it is full the caller is told
//! [`HashError::Busy`] promptly (after [`REFUSAL_PACE`]; it answers 503) instead of the queue,
//! and the memory behind it, growing without limit. By time: a caller waits at most the pool's
//! `max_wait` for a thread to take its job up; then it is answered `Busy`, however slowly the
//! threads get through the jobs ahead of it, and the thread that reaches the job later drops it
//! unhashed (its client has had its answer, and hashing it would only make the jobs behind it
//! wait longer). A job a thread has taken up is waited for to the end.
//! Each thread owns one Argon2 work area and reuses it for every job.
//!
//! A stored hash that costs more than an import may ask now ([`foreign::costly`]: one imported
//! before that limit) is verified by one thread of its own, with a queue of
//! [`COSTLY_QUEUE`]: however many logins use such hashes, they wait there and answer `Busy`
//! there, and never hold up the queue of every other login.
//!
//! The threads run below normal scheduling priority (Linux `SCHED_BATCH`, nice 10): hashing is
//! the one CPU-heavy thing the server does, and a login storm must not take the cores from
//! token checks and from the prompt refusals of the logins the queue has no room for. With
//! nothing else to run, hashing still gets every core.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

pub mod foreign;

/// The start of every hash gatehouse makes now: a stored hash without it is replaced at the
/// account's next successful login.
pub const CURRENT_PREFIX: &str = "$argon2id$v=19$m=12288,t=4,p=1$";
/// The stored hash of an account without a password (imported without one): nothing matches
/// it, and its owner sets one by a reset or logs in another way.
pub const NO_PASSWORD: &str = "!";

/// 12 MiB of memory, four passes (OWASP's setting for 12 MiB, and one pass more), one lane.
pub const M_COST_KIB: u32 = 12 * 1024;
pub const T_COST: u32 = 4;
pub const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hash jobs are waiting; try again shortly.
    #[error("the password-hashing queue is full")]
    Busy,
    /// The pool has stopped (the process is shutting down).
    #[error("the password-hashing pool has stopped")]
    Stopped,
    #[error("hashing failed: {0}")]
    Failed(String),
}

/// The outcome of a verification.
#[derive(Debug)]
pub struct Verified {
    pub matches: bool,
    /// A fresh hash at the current parameters, when the stored one used older ones.
    pub rehashed: Option<String>,
}

enum Job {
    Hash { password: SecretString, reply: oneshot::Sender<Result<String, HashError>> },
    Verify { password: SecretString, phc: Option<String>, reply: oneshot::Sender<Result<Verified, HashError>> },
}

/// A job in the queue, with when it was queued and who has it: [`WAITING`] until a thread takes
/// it up ([`TAKEN`]) or its caller stops waiting ([`GIVEN_UP`]), whichever comes first.
struct Queued {
    at: Instant,
    state: Arc<AtomicU8>,
    job: Job,
}

const WAITING: u8 = 0;
const TAKEN: u8 = 1;
const GIVEN_UP: u8 = 2;

/// Moves a queued job's state from [`WAITING`] to `to`; false if the other side moved it first.
fn claim(state: &AtomicU8, to: u8) -> bool {
    state.compare_exchange(WAITING, to, Ordering::AcqRel, Ordering::Acquire).is_ok()
}

/// Counters for the metrics and the benchmark.
#[derive(Debug, Default)]
pub struct PoolStats {
    pub jobs: AtomicU64,
    pub rejected: AtomicU64,
    pub wait_micros: AtomicU64,
}

/// The jobs the thread for costly stored hashes may hold waiting.
pub const COSTLY_QUEUE: usize = 4;

/// A handle to the hashing pool; cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: Sender<Queued>,
    /// The one thread for stored hashes over the import limit.
    costly: Sender<Queued>,
    stats: Arc<PoolStats>,
    threads: usize,
    max_wait: Duration,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("threads", &self.threads).field("queued", &self.queued()).finish()
    }
}

impl PasswordHasher {
    /// Starts `threads` hashing threads that share a queue of at most `queue` waiting jobs, none
    /// of whose callers waits longer than `max_wait` for a thread.
    pub fn start(threads: usize, queue: usize, max_wait: Duration) -> Self {
        let (tx, rx) = crossbeam_channel::bounded::<Queued>(queue);
        let (costly, costly_rx) = crossbeam_channel::bounded::<Queued>(COSTLY_QUEUE);
        let stats = Arc::new(PoolStats::default());
        let queues = (0..threads).map(|n| (format!("gatehouse-hash-{n}"), rx.clone()));
        for (name, rx) in queues.chain([("gatehouse-hash-costly".to_owned(), costly_rx)]) {
            let stats = stats.clone();
            std::thread::Builder::new()
                .name(name)
                .spawn(move || worker(rx, stats, max_wait))
                .expect("spawning a hashing thread");
        }
        Self { jobs: tx, costly, stats, threads, max_wait }
    }

    /// Jobs waiting for a thread right now.
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    pub fn stats(&self) -> &PoolStats {
        &self.stats
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        self.run(&self.jobs, |reply| Job::Hash { password, reply }).await
    }

    /// Checks a password against a stored PHC string. With `None` (an unknown account) it
    /// checks against a dummy hash, so the answer costs the same time, and never matches.
    pub async fn verify(&self, password: SecretString, phc: Option<String>) -> Result<Verified, HashError> {
        let foreign_and_costly = |phc: &str| !phc.starts_with(CURRENT_PREFIX) && foreign::costly(phc);
        let queue = if phc.as_deref().is_some_and(foreign_and_costly) { &self.costly } else { &self.jobs };
        self.run(queue, |reply| Job::Verify { password, phc, reply }).await
    }

    /// Queues the job that `job` makes around its reply channel and waits for the answer: at
    /// most `max_wait` for a thread to take the job up, then to the end. A refusal for a full
    /// queue is held [`REFUSAL_PACE`] first.
    async fn run<T>(
        &self,
        queue: &Sender<Queued>,
        job: impl FnOnce(oneshot::Sender<Result<T, HashError>>) -> Job,
    ) -> Result<T, HashError> {
        let (reply, mut answer) = oneshot::channel();
        let state = Arc::new(AtomicU8::new(WAITING));
        if let Err(error) = self.submit(queue, Queued { at: Instant::now(), state: state.clone(), job: job(reply) }) {
            return Err(paced(error).await);
        }
        match tokio::time::timeout(self.max_wait, &mut answer).await {
            Ok(answered) => answered.map_err(|_| HashError::Stopped)?,
            Err(_) if claim(&state, GIVEN_UP) => Err(rejected(&self.stats)),
            Err(_) => answer.await.map_err(|_| HashError::Stopped)?,
        }
    }

    fn submit(&self, queue: &Sender<Queued>, job: Queued) -> Result<(), HashError> {
        match queue.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(rejected(&self.stats)),
            Err(TrySendError::Disconnected(_)) => Err(HashError::Stopped),
        }
    }
}

/// How long a refusal for a full queue is held before it is answered. Without it, clients that
/// retry at once turn refusals into a flood of cheap requests that takes the cores from the
/// hashing threads (which yield to request handling), and logins stop altogether; with it, each
/// such client costs at most ten refusals a second, and a refused login is still answered well
/// within what a queued one waits.
pub const REFUSAL_PACE: Duration = Duration::from_millis(100);

async fn paced(error: HashError) -> HashError {
    if matches!(error, HashError::Busy) {
        tokio::time::sleep(REFUSAL_PACE).await;
    }
    error
}

fn rejected(stats: &PoolStats) -> HashError {
    stats.rejected.fetch_add(1, Ordering::Relaxed);
    ::metrics::counter!("gatehouse_password_hash_rejected_total").increment(1);
    HashError::Busy
}

fn current_params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).expect("gatehouse's parameters are valid")
}

/// One hashing thread: lowers its own priority, then takes jobs until every sender is gone.
fn worker(rx: Receiver<Queued>, stats: Arc<PoolStats>, max_wait: Duration) {
    crate::priority::lower_this_thread("a password-hashing thread");
    let mut memory: Vec<Block> = Vec::new();
    while let Ok(Queued { at, state, job }) = rx.recv() {
        let waited = at.elapsed();
        ::metrics::histogram!("gatehouse_password_hash_wait_seconds").record(waited.as_secs_f64());
        stats.wait_micros.fetch_add(micros(waited), Ordering::Relaxed);
        if !claim(&state, TAKEN) {
            continue; // its caller has stopped waiting and been answered
        }
        if waited > max_wait {
            let busy = rejected(&stats);
            match job {
                Job::Hash { reply, .. } => drop(reply.send(Err(busy))),
                Job::Verify { reply, .. } => drop(reply.send(Err(busy))),
            }
            continue;
        }
        stats.jobs.fetch_add(1, Ordering::Relaxed);
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_with(&mut memory, password.expose_secret().as_bytes()));
            }
            Job::Verify { password, phc, reply } => {
                let _ = reply.send(verify_with(&mut memory, password.expose_secret().as_bytes(), phc.as_deref()));
            }
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn hash_with(memory: &mut Vec<Block>, password: &[u8]) -> Result<String, HashError> {
    let mut salt = [0u8; SALT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let params = current_params();
    let mut out = [0u8; OUTPUT_LEN];
    compute(memory, Algorithm::Argon2id, Version::V0x13, params.clone(), password, &salt, &mut out)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        B64.encode(salt),
        B64.encode(out)
    ))
}

fn verify_with(memory: &mut Vec<Block>, password: &[u8], phc: Option<&str>) -> Result<Verified, HashError> {
    let Some(phc) = phc else {
        // An unknown account: do the same work against the dummy hash, then say no.
        verify_with(memory, password, Some(DUMMY_HASH))?;
        return Ok(Verified { matches: false, rehashed: None });
    };
    if phc.starts_with(NO_PASSWORD) {
        verify_with(memory, password, Some(DUMMY_HASH))?;
        return Ok(Verified { matches: false, rehashed: None });
    }
    if !phc.starts_with("$argon2") {
        // An imported account's hash: replaced with Argon2id once it has matched.
        let matches = foreign::verify(phc, password).map_err(HashError::Failed)?;
        let rehashed = if matches { Some(hash_with(memory, password)?) } else { None };
        return Ok(Verified { matches, rehashed });
    }
    let parsed = PasswordHash::new(phc).map_err(|e| HashError::Failed(format!("stored hash unreadable: {e}")))?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| HashError::Failed(e.to_string()))?;
    let version = parsed.version.map(Version::try_from).transpose().map_err(|e| HashError::Failed(e.to_string()))?;
    let version = version.unwrap_or(Version::V0x13);
    let params = Params::try_from(&parsed).map_err(|e| HashError::Failed(e.to_string()))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(HashError::Failed("stored hash has no salt or output".into()));
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|e| HashError::Failed(e.to_string()))?;
    let expected = expected.as_bytes();
    let mut out = vec![0u8; expected.len()];
    let params = rebuild_params(&params, expected.len())?;
    compute(memory, algorithm, version, params.clone(), password, salt, &mut out)?;
    let matches = bool::from(out.ct_eq(expected));
    let outdated = algorithm != Algorithm::Argon2id
        || version != Version::V0x13
        || params.m_cost() != M_COST_KIB
        || params.t_cost() != T_COST
        || params.p_cost() != P_COST
        || expected.len() != OUTPUT_LEN;
    let rehashed = if matches && outdated { Some(hash_with(memory, password)?) } else { None };
    Ok(Verified { matches, rehashed })
}

fn rebuild_params(params: &Params, output_len: usize) -> Result<Params, HashError> {
    Params::new(params.m_cost(), params.t_cost(), params.p_cost(), Some(output_len))
        .map_err(|e| HashError::Failed(e.to_string()))
}

/// Runs Argon2 in this thread's reusable work area, growing it when a stored hash asks for more
/// (one made with older parameters) and shrinking it back after, so that between jobs a thread
/// holds only what the current parameters need.
fn compute(
    memory: &mut Vec<Block>,
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let result = Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
        .map_err(|e| HashError::Failed(e.to_string()));
    let current = current_params().block_count();
    if memory.len() > current {
        memory.truncate(current);
        memory.shrink_to_fit();
    }
    result
}

/// A hash of a random, forgotten password at the current parameters, verified against when
/// the account does not exist so that the answer takes as long as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=12288,t=4,p=1$scU/gyhYOFxZhvAlzPmwcg$bz5qyu3bfa9FI1XpYJ9nYfD4B9HITTy/3BO6qoyYIqo";

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[tokio::test]
    async fn a_hash_verifies_its_own_password_only() {
        let pool = PasswordHasher::start(1, 4, Duration::from_secs(60));
        let phc = pool.hash(secret("correct horse battery")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=12288,t=4,p=1$"), "{phc}");
        let good = pool.verify(secret("correct horse battery"), Some(phc.clone())).await.unwrap();
        assert!(good.matches && good.rehashed.is_none());
        let bad = pool.verify(secret("correct horse batterz"), Some(phc)).await.unwrap();
        assert!(!bad.matches);
    }

    #[tokio::test]
    async fn unknown_accounts_never_match() {
        let pool = PasswordHasher::start(1, 4, Duration::from_secs(60));
        let verified = pool.verify(secret("anything at all"), None).await.unwrap();
        assert!(!verified.matches);
    }

    #[test]
    fn the_dummy_hash_uses_the_current_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!((params.m_cost(), params.t_cost(), params.p_cost()), (M_COST_KIB, T_COST, P_COST));
        assert_eq!(parsed.hash.unwrap().as_bytes().len(), OUTPUT_LEN);
    }

    #[tokio::test]
    async fn hashes_with_older_parameters_are_upgraded_on_success() {
        // A hash made with weaker parameters, as an older release would have stored it.
        let weak = Params::new(8 * 1024, 1, 1, Some(32)).unwrap();
        let salt = b"0123456789abcdef";
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, weak)
            .hash_password_into(b"old password ok", salt, &mut out)
            .unwrap();
        let old = format!("$argon2id$v=19$m=8192,t=1,p=1${}${}", B64.encode(salt), B64.encode(out));
        let pool = PasswordHasher::start(1, 4, Duration::from_secs(60));
        let verified = pool.verify(secret("old password ok"), Some(old.clone())).await.unwrap();
        assert!(verified.matches);
        let new = verified.rehashed.expect("an upgraded hash");
        assert!(new.starts_with("$argon2id$v=19$m=12288,t=4,p=1$"));
        assert!(pool.verify(secret("old password ok"), Some(new)).await.unwrap().matches);
        let wrong = pool.verify(secret("not the password"), Some(old)).await.unwrap();
        assert!(!wrong.matches && wrong.rehashed.is_none());
    }

    #[test]
    fn the_work_area_shrinks_back_after_a_hash_that_needed_more() {
        let mut memory = Vec::new();
        let mut out = [0u8; 32];
        let larger = Params::new(M_COST_KIB + 4096, 1, 1, Some(32)).unwrap();
        compute(&mut memory, Algorithm::Argon2id, Version::V0x13, larger, b"pw", b"0123456789abcdef", &mut out)
            .unwrap();
        assert_eq!(memory.len(), current_params().block_count());
        assert!(memory.capacity() < Params::new(M_COST_KIB + 4096, 1, 1, None).unwrap().block_count());
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_promptly() {
        let pool = PasswordHasher::start(1, 1, Duration::from_secs(60));
        let mut pending = Vec::new();
        let mut busy = 0;
        for _ in 0..8 {
            let pool = pool.clone();
            pending.push(tokio::spawn(async move { pool.hash(secret("correct horse battery")).await }));
        }
        for job in pending {
            if let Err(HashError::Busy) = job.await.unwrap() {
                busy += 1;
            }
        }
        assert!(busy >= 1, "eight jobs fit in a pool of one thread and a queue of one");
        assert!(pool.stats().rejected.load(Ordering::Relaxed) >= 1);
    }

    /// A stored hash of four times gatehouse's iterations (within what an import takes, so it is
    /// verified on the login queue): it keeps a thread busy for four hashes' time, far longer
    /// than the bounds of the tests below, however slow the machine.
    const SLOW_HASH: &str =
        "$argon2id$v=19$m=12288,t=16,p=1$c29tZXNhbHRzb21lc2FsdA$1SbgmDTgXM1oFz9lVD3trlnUv4F1ZfBBO1zv38jRdZ0";
    /// Ten times gatehouse's iterations: over the import limit, so verified on its own thread.
    const COSTLY_HASH: &str =
        "$argon2id$v=19$m=12288,t=40,p=1$c29tZXNhbHRzb21lc2FsdA$1SbgmDTgXM1oFz9lVD3trlnUv4F1ZfBBO1zv38jRdZ0";

    #[tokio::test]
    async fn costly_stored_hashes_wait_on_their_own_thread_and_never_hold_up_the_logins_queue() {
        for _ in 0..5 {
            // One login thread, taking up a job within 100 ms or refusing it: a costly hash
            // (ten hashes' time) on that thread would make the login below wait far longer.
            let pool = PasswordHasher::start(1, 16, Duration::from_millis(100));
            let costly: Vec<_> = (0..COSTLY_QUEUE + 3)
                .map(|_| {
                    spawn_job(&pool, |pool| async move {
                        pool.verify(secret("correct horse battery"), Some(COSTLY_HASH.into())).await
                    })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(pool.queued(), 0, "no costly job waits on the logins' queue");
            let (hashed, _) = hash_job(&pool).await.unwrap();
            let mut refused = 0;
            for job in costly {
                if matches!(job.await.unwrap().0, Err(HashError::Busy)) {
                    refused += 1;
                }
            }
            assert!(refused >= 3, "the costly thread's queue is bounded: {refused} refused");
            if hashed.is_ok() {
                return;
            }
            // A busy machine kept the idle login thread from taking the job up within 100 ms.
        }
        panic!("a login's hash waited behind costly stored hashes in five tries");
    }

    /// Starts `job` on the pool; its answer comes with the moment it came.
    fn spawn_job<T, F>(
        pool: &PasswordHasher,
        job: impl FnOnce(PasswordHasher) -> F,
    ) -> tokio::task::JoinHandle<(Result<T, HashError>, Instant)>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, HashError>> + Send + 'static,
    {
        let answer = job(pool.clone());
        tokio::spawn(async move { (answer.await, Instant::now()) })
    }

    /// A job that keeps the pool's thread busy.
    fn occupy(pool: &PasswordHasher) -> tokio::task::JoinHandle<(Result<Verified, HashError>, Instant)> {
        spawn_job(
            pool,
            |pool| async move { pool.verify(secret("correct horse battery"), Some(SLOW_HASH.into())).await },
        )
    }

    /// A hash job.
    fn hash_job(pool: &PasswordHasher) -> tokio::task::JoinHandle<(Result<String, HashError>, Instant)> {
        spawn_job(pool, |pool| async move { pool.hash(secret("correct horse battery")).await })
    }

    #[tokio::test]
    async fn jobs_that_waited_longer_than_the_bound_are_refused_unhashed() {
        for _ in 0..20 {
            // One thread and a 1 ms bound: a first job occupies the thread, five more wait.
            let pool = PasswordHasher::start(1, 16, Duration::from_millis(1));
            let first = occupy(&pool);
            tokio::time::sleep(Duration::from_millis(5)).await;
            let rest: Vec<_> = (0..5).map(|_| hash_job(&pool)).collect();
            let mut answers = Vec::new();
            for job in rest {
                answers.push(job.await.unwrap().0);
            }
            if first.await.unwrap().0.is_err() {
                // A busy machine kept the thread from taking the first job up within 1 ms.
                continue;
            }
            for answer in &answers {
                assert!(matches!(answer, Err(HashError::Busy)), "waited behind a busy thread, refused: {answer:?}");
            }
            assert_eq!(pool.stats().rejected.load(Ordering::Relaxed), 5);
            return;
        }
        panic!("the thread never took a first job up within 1 ms in twenty tries");
    }

    #[tokio::test]
    async fn a_caller_behind_a_slow_thread_is_refused_at_the_bound_not_when_the_thread_is_free() {
        for _ in 0..20 {
            // One thread and a 5 ms bound: a first job occupies the thread, three more wait.
            let pool = PasswordHasher::start(1, 16, Duration::from_millis(5));
            let started = Instant::now();
            let first = occupy(&pool);
            tokio::time::sleep(Duration::from_millis(1)).await;
            let behind: Vec<_> = (0..3).map(|_| hash_job(&pool)).collect();
            let (first, first_at) = first.await.unwrap();
            let first_done = first_at - started;
            if first.is_err() {
                // A busy machine kept the thread from taking the first job up within 5 ms.
                continue;
            }
            for job in behind {
                let (answer, at) = job.await.unwrap();
                let answered = at - started;
                assert!(matches!(answer, Err(HashError::Busy)), "a job left waiting past the bound is refused");
                assert!(
                    answered < first_done,
                    "refused at the bound ({answered:?}), before the thread was free ({first_done:?})"
                );
            }
            // The thread reaches the three given-up jobs and drops them unhashed.
            let deadline = Instant::now() + Duration::from_secs(10);
            while pool.queued() > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            assert_eq!(pool.queued(), 0);
            assert_eq!(pool.stats().jobs.load(Ordering::Relaxed), 1, "only the first job was worked on");
            assert_eq!(pool.stats().rejected.load(Ordering::Relaxed), 3, "each refusal counted once");
            return;
        }
        panic!("the thread never took a first job up within 5 ms in twenty tries");
    }

    #[tokio::test]
    async fn garbage_in_the_stored_hash_is_an_error_not_a_match() {
        let pool = PasswordHasher::start(1, 4, Duration::from_secs(60));
        assert!(pool.verify(secret("whatever123"), Some("not a phc".into())).await.is_err());
    }
}
