#!/usr/bin/env bash
# Times `gatehouse import` of a generated file of N accounts (1,000,000 by default) on a fresh
# SQLite database and, with GATEHOUSE_BENCH_POSTGRES_URL, on a fresh PostgreSQL database made
# next to that one (and dropped afterwards); then imports the same file again (every line is
# already there) and times that too. Each line carries a username, a name, a little data and a
# bcrypt hash (the same one: nothing is hashed during an import, so its cost does not matter).
# Prints one line per run (time, lines per second, the importing process's peak RSS); the
# figures go in docs/BENCHMARKS.md by hand. Needs python3, GNU time (/usr/bin/time) and, for
# PostgreSQL, psql.
#
# Usage: bench/import.sh [N]        (uses $CARGO_TARGET_DIR/release/gatehouse, building it if absent)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
count="${1:-1000000}"
bin="$CARGO_TARGET_DIR/release/gatehouse"
[ -x "$bin" ] || cargo build --release
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 - "$count" > "$work/users.jsonl" <<'PY'
import json, sys
hash = "$2b$04$o4g2bmmyULpl8D3aY/ykre6Suxo8q4GRkuuQ6A2WFoUAPbPv8LoAS"
write = sys.stdout.write
for n in range(1, int(sys.argv[1]) + 1):
    write(json.dumps({"email": f"user{n}@example.com", "username": f"user{n}", "name": f"User {n}",
                      "data": {"plan": "free", "n": n}, "email_verified": True, "password_hash": hash}) + "\n")
PY
echo "import: $count lines, $(du -h "$work/users.jsonl" | cut -f1)"

run() { # label, database url
  export GATEHOUSE_DATABASE_URL="$2" GATEHOUSE_LOG=warn
  env -u GATEHOUSE_BENCH_POSTGRES_URL "$bin" migrate >/dev/null
  for pass in first again; do
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -f %M -o "$work/rss" env -u GATEHOUSE_BENCH_POSTGRES_URL "$bin" import "$work/users.jsonl" --json > "$work/report.json"
    end=$(date +%s.%N)
    python3 - "$1" "$pass" "$start" "$end" "$work/report.json" "$(cat "$work/rss")" <<'PY'
import json, sys
label, run, start, end, report = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), json.load(open(sys.argv[5]))
rss_mib = int(sys.argv[6]) / 1024
seconds = end - start
print(f"{label} ({run}): {report['lines']} lines, {report['imported']} imported, {report['existing']} already there, "
      f"{len(report['bad'])} bad in {seconds:.1f} s ({report['lines'] / seconds:,.0f} lines/s), peak RSS {rss_mib:.0f} MiB")
PY
  done
}

run sqlite "sqlite://$work/import.db"
if [ -n "${GATEHOUSE_BENCH_POSTGRES_URL:-}" ]; then
  database="gatehouse_import_$$"
  psql "$GATEHOUSE_BENCH_POSTGRES_URL" -qc "CREATE DATABASE $database" >/dev/null
  trap 'psql "$GATEHOUSE_BENCH_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $database" >/dev/null; rm -rf "$work"' EXIT
  run postgres "${GATEHOUSE_BENCH_POSTGRES_URL%/*}/$database"
fi
