//! Background work below normal scheduling priority: password hashing (its threads)
//! and the `gatehouse purge` command, which must not take the cores from serving requests;
//! and the pace of the purges, which must not take the database from them either.

/// Puts the calling thread at nice 10 in Linux's `SCHED_BATCH`; threads it starts afterwards
/// inherit both. A woken request handler preempts it, and while request handlers want the
/// cores it still gets about a tenth of one (scheduler weight 110 against 1024), so that a storm
/// of cheap requests slows the background work down without stopping it. (For hashing: at nice
/// 19 the benchmark's token checks fared a little better during a login flood, but a closed
/// loop of refused logins starved hashing outright.) `what` names the thread in the warning
/// logged when the system refuses.
#[cfg(target_os = "linux")]
pub(crate) fn lower_this_thread(what: &str) {
    use thread_priority::unix::{NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy};
    use thread_priority::{ThreadPriority, ThreadPriorityValue, thread_native_id};

    // The crate maps 0..=99 onto nice 19..=-20; 22 is nice 10.
    let nice_10 = ThreadPriority::Crossplatform(ThreadPriorityValue::try_from(22u8).expect("in range"));
    let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
    if let Err(error) = set_thread_priority_and_policy(thread_native_id(), nice_10, batch) {
        tracing::warn!(?error, "could not lower the priority of {what}");
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_this_thread(_what: &str) {}

/// How fast a purge removes rows. Either way it removes them in batches, each its own short
/// transaction, so no request waits for more than one batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// The server's own sweep: small batches, and a rows-per-second ceiling that keeps the
    /// database's share of the work near one percent of a core, so that a backlog of millions
    /// of rows goes over hours without the requests noticing (see `store::sql::housekeeping`).
    Background,
    /// `gatehouse purge`, run by hand: whole batches, each followed by a rest as long as it took.
    Full,
}
