#!/usr/bin/env bash
# The TypeScript client's tests (clients/typescript), against the real gatehouse: sign-up and
# its validation errors, login with and without the second factor, refresh with the retry of the
# refused call (once, shared by concurrent calls), logout, the account, organizations (the
# session's active one, invitations), and the server-side token verification; and that
# src/schema.d.ts is still what openapi.json generates.
#
#   clients/typescript/test/run.sh
#       runs `npm ci` when node_modules is missing or older than package-lock.json, builds the
#       client with tsc (dist/) and the tests (build/test/), starts `gatehouse serve` on a free
#       port with a fresh SQLite database in a temporary directory, runs the tests with
#       `node --test`, stops gatehouse with SIGTERM (it must exit 0) and removes what it made.
#
# gatehouse runs with its defaults (rate limits on, emails to the log) but for:
#   GATEHOUSE_ACCESS_TOKEN_TTL=3s   access tokens must expire during the tests, which prove the
#                                   refresh of an expired token (whole seconds: a token lives 2
#                                   to 3 s, long enough to verify one right after a login)
#   GATEHOUSE_LOG_FORMAT=json       the tests read the emailed links from the log, one JSON
#                                   line per email
#   GATEHOUSE_ADMIN_EMAIL/PASSWORD  a bootstrap admin, to make accounts and client apps
#
# Exit status: 0 when every test passed; 1 when one failed, the stack could not be brought up
# or gatehouse did not stop cleanly (the last lines of its log are printed); 2 on a usage error.
#
# Environment: GATEHOUSE_E2E_BIN, a gatehouse binary to use; otherwise
# $CARGO_TARGET_DIR/release/gatehouse (CARGO_TARGET_DIR defaults to ~/.cache/gatehouse-target),
# built with `cargo build --release --locked` only when it is missing. GATEHOUSE_E2E_KEEP=1 keeps
# the temporary directory (database and log).
set -euo pipefail

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

# A relative GATEHOUSE_E2E_BIN is taken from where the script was started.
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")/.."   # clients/typescript

started=$(date +%s)
say() { printf '[typescript-client %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
die() { say "error: $*" >&2; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-ts.XXXXXX")
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
    [ "$status" -ne 0 ] || status=1
    say "error: gatehouse was still running at the end" >&2
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

for tool in node npm python3; do
  command -v "$tool" >/dev/null || die "$tool is needed and not on PATH"
done

# ------------------------------------------------------------------------------------------
# The client and its tests.
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  say "npm ci in clients/typescript"
  npm ci --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1 \
    || { show_log "$work/npm.log"; die "npm ci failed in clients/typescript"; }
  touch node_modules
fi
say "TypeScript $(node -p 'require("./node_modules/typescript/package.json").version'), jose $(node -p 'require("./node_modules/jose/package.json").version'), openapi-typescript $(node -p 'require("./node_modules/openapi-typescript/package.json").version')"

say "tsc: the client (dist/) and the tests (build/test/)"
rm -rf dist build
npm run --silent build || die "the client does not build"
node_modules/.bin/tsc -p test/tsconfig.json || die "the tests do not build"

# ------------------------------------------------------------------------------------------
# gatehouse.
if [ -n "${GATEHOUSE_E2E_BIN:-}" ]; then
  bin=$GATEHOUSE_E2E_BIN
  say "using $bin"
else
  bin="$CARGO_TARGET_DIR/release/gatehouse"
  if [ ! -x "$bin" ]; then
    say "cargo build --release --locked (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd ../.. && cargo build --release --locked)
  fi
  say "using $bin"
fi
[ -x "$bin" ] || die "no gatehouse binary at $bin"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
admin_email=admin@example.com
admin_password="typescript client tests $RANDOM$RANDOM$RANDOM"

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

python3 - "$base/healthz" 60 "$gatehouse_pid" <<'EOF' || die "gatehouse did not answer /healthz"
import os, sys, time, urllib.request
url, seconds, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(f"gatehouse exited before {url} answered")
    try:
        with opener.open(url, timeout=2) as resp:
            if resp.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.25)
sys.exit(f"{url} did not answer 200 within {seconds:g} s")
EOF
say "gatehouse is up"

# ------------------------------------------------------------------------------------------
# The tests, in the background and waited for, so that a signal stops them at once.
export GATEHOUSE_TS_BASE="$base" GATEHOUSE_TS_LOG="$log"
export GATEHOUSE_TS_ADMIN_EMAIL="$admin_email" GATEHOUSE_TS_ADMIN_PASSWORD="$admin_password"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
failed=""

say "node --test build/test/*.test.js"
node --test build/test/*.test.js &
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
say "typescript client: passed"
