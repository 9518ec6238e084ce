#!/usr/bin/env bash
# Line coverage of the README's test command, `cargo test` on SQLite with no services (the unit
# tests and the api, store, faults, cli, parsers, architecture... suites; the PostgreSQL,
# MariaDB and Redis cases skip themselves), measured with cargo-llvm-cov.
#
# Usage: scripts/coverage.sh [extra `cargo llvm-cov` options, e.g. --test api]
#
# Writes the HTML report to target/coverage/html/index.html and ends with one line:
#   coverage: lines 12345/23456 (52.63%), functions ..., regions ...
# Files under tests/, examples/ and benches/ are left out of the figures (cargo-llvm-cov's
# default), and so are doctests. The gatehouse binary that tests spawn is instrumented too and
# writes its profile where LLVM_PROFILE_FILE says; the tests that start it with `env_clear()`
# (tests/cli.rs, tests/faults/process.rs, tests/replicas.rs) pass that variable through.
#
# Installs what it needs once:
#   - LLVM's llvm-profdata and llvm-cov matching rustc's LLVM: rustup's llvm-tools component,
#     or else Debian's llvm-N package of the same major version (set as LLVM_COV and
#     LLVM_PROFDATA);
#   - cargo-llvm-cov (pinned) from crates.io.
# The instrumented build goes to its own directory, ~/.cache/gatehouse-coverage-target
# (GATEHOUSE_COVERAGE_TARGET_DIR overrides it), so the shared build cache is left alone. A first
# run builds everything instrumented (about 15 minutes on two cores), and runs at nice 10.
set -euo pipefail
cd "$(dirname "$0")/.."

LLVM_COV_VERSION=0.9.1
export CARGO_TARGET_DIR="${GATEHOUSE_COVERAGE_TARGET_DIR:-$HOME/.cache/gatehouse-coverage-target}"
export CARGO_TERM_COLOR=never
out=target/coverage

say() { printf 'coverage: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# LLVM tools that read the profiles this rustc writes (same LLVM major version).
llvm_major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
[ -n "$llvm_major" ] || die "could not read rustc's LLVM version from \`rustc -vV\`"
sysroot_bin="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
if [ -n "${LLVM_COV:-}" ] && [ -n "${LLVM_PROFDATA:-}" ]; then
  say "using LLVM_COV=$LLVM_COV LLVM_PROFDATA=$LLVM_PROFDATA"
elif [ -x "$sysroot_bin/llvm-profdata" ] && [ -x "$sysroot_bin/llvm-cov" ]; then
  : # rustup's llvm-tools component, which cargo-llvm-cov finds by itself
elif rustup component add llvm-tools >&2 || rustup component add llvm-tools-preview >&2; then
  say "installed rustup's llvm-tools component"
else
  say "rustup's llvm-tools component cannot be had; trying Debian's llvm-$llvm_major"
  if ! command -v "llvm-profdata-$llvm_major" >/dev/null || ! command -v "llvm-cov-$llvm_major" >/dev/null; then
    [ "$(id -u)" -eq 0 ] || die "llvm-$llvm_major is not installed and installing it needs root"
    apt-get install -y -qq "llvm-$llvm_major" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq "llvm-$llvm_major" >/dev/null; } \
      || die "neither rustup's llvm-tools nor Debian's llvm-$llvm_major could be installed"
  fi
  export LLVM_COV="llvm-cov-$llvm_major" LLVM_PROFDATA="llvm-profdata-$llvm_major"
fi

if ! cargo llvm-cov --version 2>/dev/null | grep -qx "cargo-llvm-cov $LLVM_COV_VERSION"; then
  say "installing cargo-llvm-cov $LLVM_COV_VERSION from crates.io (once)"
  nice -n 10 cargo install --locked --quiet "cargo-llvm-cov@$LLVM_COV_VERSION"
fi

say "cargo test, instrumented (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
rm -rf "$out"
# cargo-llvm-cov first removes the profiles of earlier runs (and the workspace's own artifacts).
env -u GATEHOUSE_TEST_BACKEND -u GATEHOUSE_TEST_POSTGRES_URL -u GATEHOUSE_TEST_MYSQL_URL -u GATEHOUSE_TEST_REDIS_URL \
  nice -n 10 cargo llvm-cov --locked --html --output-dir "$out" "$@"
cargo llvm-cov report --json --summary-only --output-path "$out/summary.json"
say "HTML report: $out/html/index.html"
python3 - "$out/summary.json" <<'EOF'
import json, sys

totals = json.load(open(sys.argv[1]))["data"][0]["totals"]
parts = [
    f"{name} {totals[key]['covered']}/{totals[key]['count']} ({totals[key]['percent']:.2f}%)"
    for name, key in (("lines", "lines"), ("functions", "functions"), ("regions", "regions"))
]
print("coverage: " + ", ".join(parts))
EOF
