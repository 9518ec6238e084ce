#!/usr/bin/env bash
# gatehouse's OpenID Connect provider against two real relying-party libraries, headless, over
# HTTP: openid-client (node/openid-client.test.mjs) and then Authlib with requests
# (python/authlib_rp.py). Each registers its own clients through the admin API and proves
# discovery, the authorization-code flow with PKCE and a nonce (the login and consent forms
# posted as a browser would), the ID token's claims, userinfo, refresh rotation, introspection,
# revocation, RP-initiated logout, client credentials and a first-party public client, and
# that gatehouse refuses what it must: unregistered or look-alike redirect URIs, plain or
# missing PKCE, a reused code or refresh token (and the tokens they gave die), another client's
# code or ID token, a wrong secret or code_verifier.
#
#   e2e/relying-parties/run.sh
#       runs `npm ci` in e2e/relying-parties/node when its node_modules is missing or older than
#       its lock, installs e2e/relying-parties/python/requirements.txt into a virtualenv at
#       ~/.cache/gatehouse-authlib (again when the requirements change), builds the release
#       binary, starts `gatehouse serve` on a free port with a fresh SQLite database in a
#       temporary directory (a bootstrap admin, every other setting at its default: rate limits
#       on, emails to the log), runs the two tests, stops gatehouse with SIGTERM (it must exit 0)
#       and removes everything it made.
#
#   GATEHOUSE_RP_SLOW=1 e2e/relying-parties/run.sh
#       also proves that an authorization code expires: waits 61 s before redeeming one.
#
# Exit status: 0 when every check passed; 1 when a check failed, the stack could not be brought
# up or gatehouse did not stop cleanly (the last lines of its log are printed); 2 on a usage
# error.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/gatehouse-target); GATEHOUSE_E2E_BIN, a
# gatehouse binary to use instead of building one; GATEHOUSE_RP_VENV (default
# ~/.cache/gatehouse-authlib); GATEHOUSE_RP_SLOW=1 (above); GATEHOUSE_E2E_KEEP=1 keeps the
# temporary directory (database and log).
set -euo pipefail

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

# A relative GATEHOUSE_E2E_BIN is taken from where the script was started.
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")"

started=$(date +%s)
say() { printf '[relying-parties %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
die() { say "error: $*" >&2; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
venv="${GATEHOUSE_RP_VENV:-$HOME/.cache/gatehouse-authlib}"

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-rp.XXXXXX")
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
# The libraries.
if [[ ! -d node/node_modules || node/package-lock.json -nt node/node_modules ]]; then
  say "npm ci in e2e/relying-parties/node"
  (cd node && npm ci --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1) \
    || { show_log "$work/npm.log"; die "npm ci failed in e2e/relying-parties/node"; }
  touch node/node_modules
fi
say "openid-client $(node -p 'require("./node/node_modules/openid-client/package.json").version')"

# The virtualenv is (re)made when it lacks the requirements it was made from.
if ! cmp -s python/requirements.txt "$venv/requirements.txt" || [ ! -x "$venv/bin/python" ]; then
  say "installing python/requirements.txt into $venv"
  rm -rf "$venv"
  { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check -r python/requirements.txt; } \
    >"$work/pip.log" 2>&1 || { show_log "$work/pip.log"; die "could not install python/requirements.txt into $venv"; }
  cp python/requirements.txt "$venv/requirements.txt"
fi
say "Authlib $("$venv/bin/python" -c 'import authlib; print(authlib.__version__)'), requests $("$venv/bin/python" -c 'import requests; print(requests.__version__)')"

# ------------------------------------------------------------------------------------------
# gatehouse.
if [ -n "${GATEHOUSE_E2E_BIN:-}" ]; then
  bin=$GATEHOUSE_E2E_BIN
  say "using $bin"
else
  say "cargo build --release --locked (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd ../.. && cargo build --release --locked)
  bin="$CARGO_TARGET_DIR/release/gatehouse"
fi
[ -x "$bin" ] || die "no gatehouse binary at $bin"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
admin_email=admin@example.com
admin_password="relying parties admin $RANDOM$RANDOM$RANDOM"

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
# The tests, each in the background and waited for, so that a signal stops it at once. The
# loopback addresses go around any proxy of the environment.
export GATEHOUSE_RP_BASE="$base" GATEHOUSE_RP_ADMIN_EMAIL="$admin_email" GATEHOUSE_RP_ADMIN_PASSWORD="$admin_password"
export GATEHOUSE_RP_SLOW="${GATEHOUSE_RP_SLOW:-}"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
failed=""

say "openid-client (node/openid-client.test.mjs)"
node node/openid-client.test.mjs &
test_pid=$!
wait "$test_pid" || failed="$failed openid-client"
test_pid=""

say "Authlib (python/authlib_rp.py)"
"$venv/bin/python" python/authlib_rp.py &
test_pid=$!
wait "$test_pid" || failed="$failed Authlib"
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

[ -z "$failed" ] || die "failed:$failed"
say "relying parties: passed (openid-client, Authlib)"
