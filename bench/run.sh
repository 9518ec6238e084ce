#!/usr/bin/env bash
# The gatehouse benchmark: builds the release binary and the bench programs (bench/tools:
# hash_bound.rs, seed.rs, seed_history.rs, io_bound.rs), installs wrk if it is missing, then runs
# bench/bench.py, which starts the server on a fresh database on loopback, drives every
# scenario at concurrency 1, 64 and 256 for a few seconds, three interleaved rounds, and writes
# bench/results/latest.json, the tables in docs/BENCHMARKS.md and docs/bench-throughput.svg.
#
# Usage: bench/run.sh [--no-build] [--smoke] [bench.py options]   (--help lists them)
#        bench/run.sh [--no-build] --growth [--smoke] [growth.py options]
#   --growth  the growth benchmark (bench/growth.py): the cost of each request at 1k, 100k and
#             1M accounts with their history (seeded by bench/tools/seed_history.rs), the admin
#             list and audit trail at depth, start-up, memory, disk and the purge; results in
#             the growth section of docs/BENCHMARKS.md and docs/bench-growth.svg. About half an
#             hour per backend at 1M. With --smoke: 1k and 2k accounts, under a minute,
#             asserts that every figure is there, writes nothing.
#        bench/run.sh [--no-build] --mail [--smoke] [mail.py options]
#   --mail    the mail benchmark (bench/mail.py): a queue of 10,000 emails drained into a local
#             SMTP sink, a sink answering each message after 100 ms, a minute of sign-ups at the
#             server's full rate (the time from each 201 to its email), and 10,000 webhook
#             deliveries to a local receiver; one summary line per backend. With --smoke: small
#             sizes, checks the harness, asserts no target.
#   --no-build  use the binaries already in $CARGO_TARGET_DIR/release (e.g. a copy taken
#             while others rebuild the shared cache)
#   --smoke   one round of 1-second runs at concurrency 1 and 16 of healthz, GET /user,
#             login and login with an authenticator app; checks that the harness works (throughput, no errors), asserts no target,
#             writes nothing. Well under a minute once built.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/gatehouse-target);
#   GATEHOUSE_BENCH_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test): run on a fresh
#   PostgreSQL database created next to that one (and dropped afterwards);
#   GATEHOUSE_BENCH_REDIS_URL (e.g. redis://127.0.0.1:6379): sessions in Redis, under a unique
#   key prefix (deleted afterwards);
#   GATEHOUSE_BENCH_DYNAMODB=1 (with GATEHOUSE_MOTO_PYTHON, as `eval "$(e2e/aws/tools.sh
#   --print-env)"` sets it): the DynamoDB store on a local DynamoDB-compatible engine (moto,
#   e2e/aws/dynamodb_engine.py) started on a free loopback port and stopped afterwards, fresh
#   tables made by `gatehouse migrate`, start-up timed on fresh tables too. The engine serves one
#   request at a time, so the figures are indicative only: they go to the temp directory, never
#   to the committed tables, and each row counts the engine's calls per request. The members
#   scenario is skipped there (its memberships are inserted with SQL). bench.py only.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    echo
    exec python3 bench/bench.py --help
    ;;
esac

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"

if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk" >&2
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
command -v python3 >/dev/null || { echo "bench: python3 is needed" >&2; exit 1; }

if [ "${1:-}" = --no-build ]; then
  shift
else
  # The server exactly as `cargo build --release --locked` builds it, and the helper programs
  # beside it, sharing every compiled crate (bench/tools/Cargo.toml says how).
  echo "bench: cargo build --release --locked (the server and bench/tools)" >&2
  cargo build --release --locked --quiet -p gatehouse -p gatehouse-bench --bins
fi

if [ "${1:-}" = --growth ]; then
  shift
  exec python3 bench/growth.py "$@"
fi
if [ "${1:-}" = --mail ]; then
  shift
  exec python3 bench/mail.py "$@"
fi
exec python3 bench/bench.py "$@"
