//! The memory a burst freed goes back to the system. A test binary of its own, so that no
//! other test allocates or frees while the resident size is compared.

use std::time::Duration;

/// The process's resident size, in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn memory_freed_after_a_burst_is_handed_back() {
    // Arrange: a thread allocates 64 MiB in small blocks (the allocator's heaps, not maps of
    // their own), frees all but the last, which keeps the top of its heap in use so the heap
    // cannot shrink by itself, and stays alive with it.
    let (freed_tx, freed_rx) = std::sync::mpsc::channel();
    let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
    let burst = std::thread::spawn(move || {
        let mut blocks: Vec<Vec<u8>> = (0..16 * 1024).map(|i| vec![i as u8; 4096]).collect();
        let last = blocks.pop();
        drop(blocks);
        freed_tx.send(()).unwrap();
        finish_rx.recv().unwrap();
        drop(last);
    });
    freed_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let before = resident_kib();

    // Act
    gatehouse::memory::trim();

    // Assert
    let after = resident_kib();
    finish_tx.send(()).unwrap();
    burst.join().unwrap();
    assert!(before >= after + 48 * 1024, "resident {before} KiB before the trim, {after} KiB after");
}
