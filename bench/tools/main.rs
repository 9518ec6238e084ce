//! The benchmark's helper programs (`bench/run.sh`), one binary so that a release build links
//! once: `gatehouse-bench <tool> [arguments]`.
//!
//! - `hash-bound [threads] [seconds]`: the bare Argon2id bound at gatehouse's parameters;
//! - `seed <database-url> <count> [prefix] [password]`: active accounts for the admin list;
//! - `seed-history <database-url> …`: the history a service of that size has behind it;
//! - `io-bound <bind> <redis-url> <postgres-url>`: the bare I/O bound of a token-checked read;
//! - `dpop <key-file> <method> <url> <count> [<tokens-file>]`: DPoP proofs of one key.
//!
//! A package of its own in the workspace, with no dev-dependencies, so that its build shares
//! every compiled dependency (and the `gatehouse` library) with `cargo build --release`: an
//! example of the main package would take the dev-dependencies' features and rebuild them all.

mod dpop;
mod hash_bound;
mod io_bound;
mod seed;
mod seed_history;

fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("hash-bound") => {
            hash_bound::main();
            Ok(())
        }
        Some("seed") => seed::main(),
        Some("seed-history") => seed_history::main(),
        Some("io-bound") => io_bound::main(),
        Some("dpop") => dpop::main(),
        _ => anyhow::bail!("usage: gatehouse-bench hash-bound|seed|seed-history|io-bound|dpop [arguments]"),
    }
}
