//! Handing the memory the process has freed back to the system.
//!
//! glibc's allocator keeps what a program frees for its next allocations, in one heap per
//! allocating thread, and gives a heap's memory back only from its top. After a burst (hundreds
//! of connections at once, each holding hyper's two 8 KiB buffers) the process would keep that
//! high-water mark for good: a burst of 512 connections took a fresh server from 12.5 to
//! 21.5 MiB, still there seconds later, and 13.1 MiB after one `malloc_trim`, which hands the
//! free pages of every heap back. A thread of its own does that every few seconds. With another
//! C library this does nothing.

use std::sync::OnceLock;
use std::time::Duration;

/// How often the freed memory is handed back.
const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Starts the thread that hands freed memory back; once per process.
pub fn start_trimming() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("gatehouse-trim".into())
            .spawn(|| {
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
