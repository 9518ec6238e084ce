#!/usr/bin/env bash
# The tests of gatehouse-middleware (clients/node-middleware), against the real gatehouse: real
# tokens through Express (5 and 4), Fastify (5 and 4) and plain node:http apps listening on real
# ports; every kind of bad token refused with gatehouse's problem document; the options' 403s;
# the live check after a logout; a misconfigured issuer; an algorithm switch (a new key, fetched
# once) and made-up key ids (at most one fetch of the keys per interval), on servers of the
# tests' own; a protected resource (the resource option: client apps' tokens for it, RFC 9728's
# challenges and metadata), on a server of its own with GATEHOUSE_RESOURCES; the types a
# TypeScript app sees.
#
#   clients/node-middleware/test/run.sh
#       runs `npm ci` when node_modules is missing or older than package-lock.json, builds the
#       package with tsc (dist/), type-checks test/types.ts against it, starts `gatehouse serve`
#       on a free port with a fresh SQLite database in a temporary directory, runs the tests with
#       `node --test`, stops gatehouse with SIGTERM (it must exit 0) and removes what it made.
#
# gatehouse runs with its defaults (rate limits on, emails to the log) but for:
#   GATEHOUSE_ACCESS_TOKEN_TTL=3s   access tokens must expire during the tests (whole seconds: a
#                                   token lives 2 to 3 s, long enough to use one right after a login)
#   GATEHOUSE_LOG_FORMAT=json       the tests read the activation links from the log, one JSON
#                                   line per email
#   GATEHOUSE_ADMIN_EMAIL/PASSWORD  a bootstrap admin, to make accounts
# The key tests (test/keys.test.mjs) and the resource tests (test/resource.test.mjs) start
# gatehouse servers of their own with the same binary.
#
# Exit status: 0 when every test passed; 1 when one failed, the stack could not be brought up
# or gatehouse did not stop cleanly (the last lines of its log are printed); 2 on a usage error.
#
# Environment: GATEHOUSE_E2E_BIN, a gatehouse binary to use; otherwise
# $CARGO_TARGET_DIR/release/gatehouse (CARGO_TARGET_DIR defaults to ~/.cache/gatehouse-target),
# built with `cargo build --release --locked` only when it is missing. GATEHOUSE_E2E_KEEP=1 keeps
# the temporary directory (database and log). GATEHOUSE_MW_TESTS, the test files to run (default
# test/*.test.mjs).
set -euo pipefail

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

# A relative GATEHOUSE_E2E_BIN is taken from where the script was started.
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")/.."   # clients/node-middleware

started=$(date +%s)
say() { printf '[node-middleware %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
die() { say "error: $*" >&2; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-mw.XXXXXX")
gatehouse_pid="" test_pid=""
log="$work/gatehouse.log"

stop() { # pid: SIGTERM, then SIGKILL after 10 s
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

show_log() { # file: its last lines, for a failure
  [ -s "$1" ] || return 0
  echo "---- last lines of $1 ----" >&2
  tail -n 40 "$1" >&2
  echo "----" >&2
}

cleanup() {
  local status=$?
  stop "$test_pid"
  if [ -n "$gatehouse_pid" ] && kill -0 "$gatehouse_pid" 2>/dev/null; then
    stop "$gatehouse_pid"
    if [ "$status" -eq 0 ]; then
      status=1
      say "error: gatehouse was still running at the end" >&2
    fi
  fi
  [ "$status" -eq 0 ] || show_log "$log"
  if [ "${GATEHOUSE_E2E_KEEP:-}" = 1 ]; then
    say "kept $work (gatehouse.db, gatehouse.log)"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in node npm; do
  command -v "$tool" >/dev/null || die "$tool is needed and not on PATH"
done

# ------------------------------------------------------------------------------------------
# The package and its tests.
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  say "npm ci in clients/node-middleware"
  npm ci --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1 \
    || { show_log "$work/npm.log"; die "npm ci failed in clients/node-middleware"; }
  touch node_modules
fi
version() { node -p "require('./node_modules/$1/package.json').version"; }
say "Node.js $(node --version), TypeScript $(version typescript), jose $(version jose), Express $(version express) and $(version express4), Fastify $(version fastify) and $(version fastify4)"

say "tsc: the package (dist/), then the types a TypeScript app sees (test/types.ts)"
npm run --silent build || die "the package does not build"
node_modules/.bin/tsc -p test/tsconfig.json || die "test/types.ts does not type-check against dist/"

# ------------------------------------------------------------------------------------------
# gatehouse.
if [ -n "${GATEHOUSE_E2E_BIN:-}" ]; then
  bin=$GATEHOUSE_E2E_BIN
else
  bin="$CARGO_TARGET_DIR/release/gatehouse"
  if [ ! -x "$bin" ]; then
    say "cargo build --release --locked (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd ../.. && cargo build --release --locked)
  fi
fi
[ -x "$bin" ] || die "no gatehouse binary at $bin"
say "using $bin"

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
port=$(free_port)
base="http://127.0.0.1:$port"
admin_email=admin@example.com
admin_password="node middleware tests $RANDOM$RANDOM$RANDOM"

say "gatehouse serve on $base, SQLite in $work"
(
  # The temporary directory as working directory (no .env or gatehouse.toml of the clone is
  # read) and none of our environment's gatehouse settings but these.
  cd "$work"
  while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$)' || true)
  export GATEHOUSE_BIND="127.0.0.1:$port"
  export GATEHOUSE_PUBLIC_URL="$base"
  export GATEHOUSE_DATABASE_URL="sqlite://$work/gatehouse.db"
  export GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password"
  export GATEHOUSE_ACCESS_TOKEN_TTL=3s GATEHOUSE_LOG_FORMAT=json
  exec "$bin" serve
) >"$log" 2>&1 &
gatehouse_pid=$!

node --input-type=module - "$base/healthz" 60 "$gatehouse_pid" <<'EOF' || die "gatehouse did not answer /healthz"
const [url, seconds, pid] = process.argv.slice(2);
const deadline = Date.now() + Number(seconds) * 1000;
for (;;) {
  try {
    process.kill(Number(pid), 0);
  } catch {
    console.error(`gatehouse exited before ${url} answered`);
    process.exit(1);
  }
  try {
    if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).status === 200) process.exit(0);
  } catch {}
  if (Date.now() > deadline) {
    console.error(`${url} did not answer 200 within ${seconds} s`);
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}
EOF
say "gatehouse is up"

# ------------------------------------------------------------------------------------------
# The tests, in the background and waited for, so that a signal stops them at once.
export GATEHOUSE_MW_BASE="$base" GATEHOUSE_MW_LOG="$log" GATEHOUSE_MW_BIN="$bin"
export GATEHOUSE_MW_ADMIN_EMAIL="$admin_email" GATEHOUSE_MW_ADMIN_PASSWORD="$admin_password"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
failed=""

tests=${GATEHOUSE_MW_TESTS:-test/*.test.mjs}
say "node --test $tests"
# shellcheck disable=SC2086 # a list of files, split as given
node --test $tests &
test_pid=$!
wait "$test_pid" || failed=1
test_pid=""

# ------------------------------------------------------------------------------------------
kill -0 "$gatehouse_pid" 2>/dev/null || die "gatehouse was no longer running at the end"
kill -TERM "$gatehouse_pid"
gatehouse_status=0
for _ in $(seq 1 150); do kill -0 "$gatehouse_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$gatehouse_pid" 2>/dev/null; then
  die "gatehouse did not stop within 15 s of SIGTERM"
fi
wait "$gatehouse_pid" || gatehouse_status=$?
gatehouse_pid=""
[ "$gatehouse_status" -eq 0 ] || die "gatehouse exited with status $gatehouse_status on SIGTERM (expected 0)"
say "gatehouse stopped cleanly on SIGTERM"

[ -z "$failed" ] || die "some tests failed"
say "node middleware: passed"
