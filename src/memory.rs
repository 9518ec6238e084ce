//! Handing the memory the process has freed back to the system, and the start-up code's pages.
//!
//! glibc's allocator keeps what a program frees for its next allocations, in one heap per
//! allocating thread, and gives a heap's memory back only from its top. After a burst (hundreds
//! of connections at once, each holding hyper's two 8 KiB buffers) the process would keep that
//! high-water mark for good: a burst of 512 connections took a fresh server from 12.5 to
//! 21.5 MiB, still there seconds later, and 13.1 MiB after one `malloc_trim`, which hands the
//! free pages of every heap back. A thread of its own does that every few seconds. With another
//! C library this does nothing.
//!
//! The start-up (migrations, the configuration's checks, the catalog of four languages, the
//! keys, the TLS set-up of the HTTP clients) runs code that never runs again, and each page of
//! the binary it touched stays mapped: about 12 MiB of the server's 20 MiB resident after start
//! was its own code, though a request runs a small part of it. [`release_start_up_code`] drops
//! those pages from the process once it is up; the kernel keeps them in its page cache, and a
//! page that runs again is mapped back by a minor fault.

use std::sync::OnceLock;
use std::time::Duration;

/// How often the freed memory is handed back.
const TRIM_EVERY: Duration = Duration::from_secs(5);
/// How long after the server's services are up its start-up code is released: the start's
/// background work (the first sweep, the keys' reload schedule) has run by then.
const START_UP_DONE: Duration = Duration::from_millis(500);

/// Starts the thread that hands freed memory back, and releases the start-up code once; once
/// per process.
pub fn start_trimming() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("gatehouse-trim".into())
            .spawn(|| {
                std::thread::sleep(START_UP_DONE);
                let released = release_start_up_code();
                trim();
                tracing::debug!(mib = released >> 20, "start-up code released from memory");
                loop {
                    std::thread::sleep(TRIM_EVERY);
                    trim();
                }
            })
            .expect("spawning the memory trimming thread");
    });
}

/// Hands the pages the allocator holds free back to the system now.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn trim() {
    // SAFETY: `malloc_trim` takes no pointer and touches only the allocator's own free lists,
    // under the allocator's own locks; any thread may call it at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Hands the pages the allocator holds free back to the system now (here: nothing to do).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() {}

/// Unmaps the pages of the binary's code and read-only data from this process, after start-up:
/// what runs again is mapped back from the page cache on first use. Only mappings of the
/// executable that hold no private copy of a page (`Anonymous: 0 kB` in `/proc/self/smaps`) are
/// released: the relocated read-only data (RELRO) holds such copies, and dropping them would
/// lose the relocations. The executable cannot be written while it runs (`ETXTBSY`), so what is
/// read back is what was there. Answers the bytes released.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn release_start_up_code() -> usize {
    let Ok(exe) = std::env::current_exe() else { return 0 };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else { return 0 };
    let mut released = 0;
    for (start, end) in releasable(&smaps, &exe.to_string_lossy()) {
        // SAFETY: [start, end) is a whole mapping of this process, listed by the kernel a moment
        // ago: a private, read-only mapping of the executable with no private page (checked
        // above), so MADV_DONTNEED only drops page-table entries that the next access refills
        // from the unchanged file. No Rust reference is invalidated: the memory stays mapped
        // and readable throughout.
        let done = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if done == 0 {
            released += end - start;
        }
    }
    released
}

/// Unmaps nothing where there is no `/proc/self/smaps`.
#[cfg(not(target_os = "linux"))]
pub fn release_start_up_code() -> usize {
    0
}

/// The address ranges of the mappings of `exe` that are read-only (code, or data) and hold no
/// private page.
fn releasable(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            let perms = fields.next().unwrap_or_default();
            let path = line.splitn(6, char::is_whitespace).filter(|part| !part.is_empty()).nth(5).unwrap_or("").trim();
            let read_only = perms == "r-xp" || perms == "r--p";
            let range = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16));
            current = match range {
                (Ok(start), Ok(end)) if read_only && path == exe => Some((start, end)),
                _ => None,
            };
        } else if first == "Anonymous:"
            && let Some(range) = current.take()
            && fields.next() == Some("0")
        {
            found.push(range);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_read_only_mappings_without_private_pages_are_released() {
        let smaps = "\
55d000000000-55d000100000 r--p 00000000 08:01 42      /srv/gatehouse
Rss:                 800 kB
Anonymous:             0 kB
55d000100000-55d000900000 r-xp 00100000 08:01 42      /srv/gatehouse
Anonymous:             0 kB
55d000900000-55d000a00000 r--p 00900000 08:01 42      /srv/gatehouse
Anonymous:           120 kB
55d000a00000-55d000b00000 rw-p 00a00000 08:01 42      /srv/gatehouse
Anonymous:            64 kB
7f0000000000-7f0000100000 r-xp 00000000 08:01 77      /usr/lib/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
Anonymous:             8 kB
";
        assert_eq!(
            releasable(smaps, "/srv/gatehouse"),
            vec![(0x55d000000000, 0x55d000100000), (0x55d000100000, 0x55d000900000)],
            "not the relocated data, not the writable data, not another file"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn releasing_the_code_leaves_the_process_running_its_code() {
        let released = release_start_up_code();
        // The test binary's code is mapped back as it runs on.
        let again: usize = (1..=100).map(|n| n * 2).sum();
        assert_eq!(again, 10_100);
        assert!(released > 0, "the test binary's code was released");
    }
}
