#!/usr/bin/env bash
# End-to-end run of the whole user story against a real gatehouse process and a real mail
# catcher, over HTTP: e2e/e2e.py walks it, then the Postman collection (postman/) does, run by
# newman.
#
#   e2e/run.sh
#       builds the release binary, starts MailDev (installed once from npm into
#       ~/.cache/gatehouse-maildev) and `gatehouse serve` on free ports with a fresh SQLite
#       database in a temporary directory, runs e2e/e2e.py and then the Postman collection
#       (postman/newman.sh), stops both (gatehouse must exit 0 on SIGTERM) and removes
#       everything it made.
#
#   e2e/run.sh --against http://localhost:8080 --mailpit http://localhost:8025
#   e2e/run.sh --against http://localhost:8080 --maildev http://localhost:1080
#       runs e2e/e2e.py against a stack that is already running (the docker compose stack, a
#       staging deployment…). Add --public-url URL when GATEHOUSE_PUBLIC_URL differs from the
#       --against URL.
#
# Exit status: e2e.py's (0 all passed, 1 a deviation), 1 when the stack cannot be brought up
# or gatehouse does not stop cleanly, 2 on a usage error.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/gatehouse-target), GATEHOUSE_E2E_MAILDEV_DIR
# (default ~/.cache/gatehouse-maildev), GATEHOUSE_E2E_KEEP=1 keeps the temporary directory
# (database and logs) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

against="" mail_flag="" mail_url="" public_url=""
while [ $# -gt 0 ]; do
  case $1 in
    --against) [ $# -ge 2 ] || usage; against=$2; shift 2 ;;
    --mailpit | --maildev) [ $# -ge 2 ] && [ -z "$mail_flag" ] || usage; mail_flag=$1; mail_url=$2; shift 2 ;;
    --public-url) [ $# -ge 2 ] || usage; public_url=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done

# ------------------------------------------------------------------------------------------
# Against a running stack: only the test.
if [ -n "$against" ]; then
  [ -n "$mail_flag" ] || { echo "--against needs --mailpit URL or --maildev URL" >&2; usage; }
  exec python3 e2e/e2e.py --base "$against" "$mail_flag" "$mail_url" ${public_url:+--public-url "$public_url"}
fi
[ -z "$mail_flag$public_url" ] || { echo "--mailpit, --maildev and --public-url go with --against" >&2; usage; }

# ------------------------------------------------------------------------------------------
# Our own stack.
started=$(date +%s)
say() { printf '[e2e %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
die() { say "error: $*" >&2; exit 1; }

for tool in cargo python3 npm node; do
  command -v "$tool" >/dev/null || die "$tool is needed and not on PATH"
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
maildev_dir="${GATEHOUSE_E2E_MAILDEV_DIR:-$HOME/.cache/gatehouse-maildev}"
maildev="$maildev_dir/node_modules/.bin/maildev"

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-e2e.XXXXXX")
gatehouse_pid="" maildev_pid="" e2e_pid=""

stop() { # pid: SIGTERM, then SIGKILL after 10 s
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  stop "$e2e_pid"
  stop "$gatehouse_pid"
  stop "$maildev_pid"
  if [ "${GATEHOUSE_E2E_KEEP:-}" = 1 ]; then
    say "kept $work (database, gatehouse.log, maildev.log)"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_log() { # file: its last lines, for a failure
  [ -s "$1" ] || return 0
  echo "---- last lines of $(basename "$1") ----" >&2
  tail -n 40 "$1" >&2
  echo "----" >&2
}

# Three distinct free TCP ports on 127.0.0.1 (held open together so they differ).
read -r http_port smtp_port web_port < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
EOF
)

# Polls a URL until it answers 200, for at most $2 seconds, while process $3 is alive.
wait_http() {
  local url=$1 seconds=$2 pid=$3
  python3 - "$url" "$seconds" "$pid" <<'EOF'
import os, sys, time, urllib.request
url, seconds, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(f"the process exited before {url} answered")
    try:
        with opener.open(url, timeout=2) as resp:
            if resp.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.25)
sys.exit(f"{url} did not answer 200 within {seconds:g} s")
EOF
}

say "cargo build --release --locked (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --release --locked
bin="$CARGO_TARGET_DIR/release/gatehouse"
[ -x "$bin" ] || die "no binary at $bin after the build"

# MailDev, installed once from the npm registry and cached (under a lock, for concurrent runs).
mkdir -p "$(dirname "$maildev_dir")"
if command -v flock >/dev/null; then
  exec 8>"$maildev_dir.lock"
  flock -w 600 8 || die "could not lock $maildev_dir.lock"
fi
if ! "$maildev" --version >/dev/null 2>&1; then
  say "installing MailDev 3 from npm into $maildev_dir (once)"
  mkdir -p "$maildev_dir"
  if ! npm install --prefix "$maildev_dir" --no-audit --no-fund --loglevel=error maildev@3; then
    # A registry that lags behind may miss the newest mailparser's exact dependencies; pin
    # mailparser to a release whose dependency tree is older, and try once more.
    say "npm install failed; retrying with mailparser pinned to 3.9.30"
    python3 - "$maildev_dir/package.json" <<'EOF'
import json, os, sys
path = sys.argv[1]
manifest = json.load(open(path)) if os.path.exists(path) else {"private": True}
manifest.setdefault("overrides", {})["mailparser"] = "3.9.30"
json.dump(manifest, open(path, "w"), indent=2)
EOF
    npm install --prefix "$maildev_dir" --no-audit --no-fund --loglevel=error maildev@3 \
      || die "could not install MailDev from npm into $maildev_dir"
  fi
fi
exec 8>&-
say "MailDev $("$maildev" --version 2>/dev/null): SMTP 127.0.0.1:$smtp_port, API http://127.0.0.1:$web_port"
"$maildev" --smtp "$smtp_port" --ip 127.0.0.1 --web "$web_port" --web-ip 127.0.0.1 \
  --mail-directory "$work/mail" >"$work/maildev.log" 2>&1 &
maildev_pid=$!
wait_http "http://127.0.0.1:$web_port/api/healthz" 30 "$maildev_pid" \
  || { show_log "$work/maildev.log"; die "MailDev did not come up"; }

# gatehouse, from the temporary directory (so no .env or gatehouse.toml of the clone is read)
# and with nothing of ours from the environment but the settings below.
say "gatehouse serve on http://127.0.0.1:$http_port, SQLite in $work"
(
  cd "$work"
  while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$)' || true)
  export GATEHOUSE_BIND="127.0.0.1:$http_port"
  export GATEHOUSE_PUBLIC_URL="http://127.0.0.1:$http_port"
  export GATEHOUSE_DATABASE_URL="sqlite://$work/gatehouse.db"
  export GATEHOUSE_SMTP_URL="smtp://127.0.0.1:$smtp_port"
  export GATEHOUSE_MAIL_FROM="gatehouse e2e <no-reply@example.com>"
  export GATEHOUSE_LOG="info"
  exec "$bin" serve
) >"$work/gatehouse.log" 2>&1 &
gatehouse_pid=$!
wait_http "http://127.0.0.1:$http_port/readyz" 60 "$gatehouse_pid" \
  || { show_log "$work/gatehouse.log"; die "gatehouse did not become ready"; }
say "ready; running e2e/e2e.py"

# In the background and waited for, so that a signal to this script stops it at once.
status=0
python3 e2e/e2e.py --base "http://127.0.0.1:$http_port" --maildev "http://127.0.0.1:$web_port" &
e2e_pid=$!
wait "$e2e_pid" || status=$?
e2e_pid=""

# The same story once more, as the Postman collection walks it, run by newman.
say "running the Postman collection with newman (postman/newman.sh)"
postman/newman.sh --base "http://127.0.0.1:$http_port" --maildev "http://127.0.0.1:$web_port" &
e2e_pid=$!
wait "$e2e_pid" || status=$?
e2e_pid=""

say "stopping gatehouse (SIGTERM)"
if ! kill -TERM "$gatehouse_pid" 2>/dev/null; then
  say "error: gatehouse was no longer running at the end of the story" >&2
  status=1
fi
for _ in $(seq 1 300); do kill -0 "$gatehouse_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$gatehouse_pid" 2>/dev/null; then
  say "error: gatehouse did not exit within 30 s of SIGTERM" >&2
  status=1
else
  exit_code=0
  wait "$gatehouse_pid" || exit_code=$?
  gatehouse_pid=""
  if [ "$exit_code" -ne 0 ]; then
    say "error: gatehouse exited with status $exit_code on SIGTERM, expected 0" >&2
    status=1
  else
    say "gatehouse exited 0"
  fi
fi
[ "$status" -eq 0 ] || show_log "$work/gatehouse.log"
say "e2e: $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
exit "$status"
