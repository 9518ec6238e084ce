//! The bare Argon2id bound for the benchmark: how many password verifications this machine
//! does per second at gatehouse's parameters, on `threads` threads each reusing one work area
//! (as the server's hashing pool does), with nothing else around them.
//!
//! `gatehouse-bench hash-bound [threads] [seconds]` prints one JSON line:
//! `{"threads":2,"seconds":3.0,"verifies":180,"per_second":60.0,"cpu_ms_per_verify":22.1}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use gatehouse::passwords::{M_COST_KIB, P_COST, T_COST};

pub fn main() {
    let mut args = std::env::args().skip(2);
    let threads: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(1));
    let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3.0);
    let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(32)).expect("gatehouse's parameters are valid");
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let cpu_before = process_cpu();
    let workers: Vec<_> = (0..threads)
        .map(|n| {
            let (stop, done, params) = (stop.clone(), done.clone(), params.clone());
            std::thread::spawn(move || {
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                let mut memory = vec![Block::default(); params.block_count()];
                let salt = *b"0123456789abcdef";
                let password = format!("correct horse battery staple {n}");
                let mut out = [0u8; 32];
                while !stop.load(Ordering::Relaxed) {
                    argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut memory).unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().expect("a hashing thread panicked");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let verifies = done.load(Ordering::Relaxed);
    let cpu_ms = process_cpu().zip(cpu_before).map(|(after, before)| (after - before) * 1000.0);
    let per_verify = cpu_ms.map(|ms| ms / verifies.max(1) as f64);
    println!(
        "{{\"threads\":{threads},\"seconds\":{elapsed:.3},\"verifies\":{verifies},\"per_second\":{:.2},\"cpu_ms_per_verify\":{}}}",
        verifies as f64 / elapsed,
        per_verify.map_or("null".to_owned(), |ms| format!("{ms:.3}"))
    );
}

/// This process's user + system CPU seconds, from `/proc/self/stat` (Linux; `None` elsewhere).
fn process_cpu() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
