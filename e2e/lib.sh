# shellcheck shell=bash
# What the end-to-end scripts share: their progress lines, the temporary work directory and its
# cleanup, the gatehouse binary, free ports, a clean environment for gatehouse, waiting for a
# server to answer and stopping the processes they started.
#
# Sourced by each script, right after its `set -euo pipefail`, with a path relative to the script:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"      # e2e/*.sh
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"   # e2e/*/run.sh
#
# It starts nothing and sets no trap by itself: it defines functions, and notes where the
# repository is (e2e_root) so that a build runs there whatever the script's directory.
#
# Variables the functions set for the script: work (make_work_dir), bin (gatehouse_binary).
# Variables the script may set for them: cleanup_pids and cleanup_hooks (make_work_dir),
# show_log_full_paths (show_log).

# The repository's root, as an absolute path (the script may change directory afterwards).
e2e_root=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

# ------------------------------------------------------------------------------------------
# Progress lines.

# say_as NAME: starts the clock of the script's progress lines and names them. Afterwards
# `say TEXT…` prints "[NAME  12s] TEXT…" (seconds since say_as) on stdout; `die TEXT…` says
# "error: TEXT…" on stderr and exits 1; `skip TEXT…` says "skipped: TEXT…" and exits 0, for a
# script that cannot run here and is not to fail for it.
say_as() {
  e2e_say_name=$1
  e2e_say_started=$(date +%s)
}

say() { printf '[%s %3ss] %s\n' "$e2e_say_name" "$(( $(date +%s) - e2e_say_started ))" "$*"; }
die() { say "error: $*" >&2; exit 1; }
skip() { say "skipped: $*"; exit 0; }

# need_tools TOOL…: dies naming the first TOOL that is not on PATH.
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is needed and not on PATH"
  done
}

# show_log FILE: the last 40 lines of FILE on stderr, for a failure; nothing when FILE is empty
# or missing. The title names FILE by its path inside $work, or by its whole path when the
# script has set show_log_full_paths=1.
show_log() {
  [ -s "$1" ] || return 0
  local title=${1#"$work"/}
  [ "${show_log_full_paths:-}" != 1 ] || title=$1
  echo "---- last lines of $title ----" >&2
  tail -n 40 "$1" >&2
  echo "----" >&2
}

# ------------------------------------------------------------------------------------------
# The work directory and the cleanup.

# make_work_dir PREFIX KEEP_VARIABLE KEPT: makes the temporary directory $work
# (${TMPDIR:-/tmp}/PREFIX.XXXXXX) and sets the traps that clean up however the script ends:
# SIGINT exits 130 and SIGTERM 143, both through the EXIT trap, e2e_cleanup.
#
# On the way out e2e_cleanup
#   - stops the processes whose pids are in the variables named by the array cleanup_pids, in
#     its order (an empty variable is skipped: set it to "" once a process has been waited for);
#   - calls the functions named by the array cleanup_hooks, in its order; they may read and
#     change the exit status in cleanup_status;
#   - removes $work, or keeps it when the environment variable named KEEP_VARIABLE is 1 and says
#     "kept $work (KEPT)";
#   - exits with cleanup_status, the script's exit status unless a hook changed it.
# Set cleanup_pids (and cleanup_hooks) before calling make_work_dir.
make_work_dir() {
  e2e_keep_variable=$2
  e2e_kept=$3
  work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap e2e_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

e2e_cleanup() {
  cleanup_status=$?
  local name hook
  for name in ${cleanup_pids[@]+"${cleanup_pids[@]}"}; do
    stop "${!name:-}"
  done
  for hook in ${cleanup_hooks[@]+"${cleanup_hooks[@]}"}; do
    "$hook"
  done
  if [ "${!e2e_keep_variable:-}" = 1 ]; then
    say "kept $work ($e2e_kept)"
  else
    rm -rf "$work"
  fi
  exit "$cleanup_status"
}

# ------------------------------------------------------------------------------------------
# Node packages.

# npm_ci_when_stale DIR: runs `npm ci` in DIR (a path relative to the repository's root) when
# its node_modules is missing or older than its package-lock.json, saying so; dies with the end
# of npm's log when it fails. Needs $work.
npm_ci_when_stale() {
  local dir="$e2e_root/$1" npm_log
  [[ ! -d "$dir/node_modules" || "$dir/package-lock.json" -nt "$dir/node_modules" ]] || return 0
  say "npm ci in $1"
  npm_log="$work/npm-${1//\//-}.log"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >"$npm_log" 2>&1) \
    || { show_log "$npm_log"; die "npm ci failed in $1"; }
  touch "$dir/node_modules"
}

# ------------------------------------------------------------------------------------------
# A mail catcher.

# start_maildev SMTP_PORT WEB_PORT: installs MailDev 3 from npm into $maildev_dir (default
# ~/.cache/gatehouse-maildev, or GATEHOUSE_E2E_MAILDEV_DIR) once, under a lock for concurrent
# runs, and starts it on 127.0.0.1 (its log $work/maildev.log, its mail in $work/mail); sets
# maildev_pid, and returns once its API answers (dies otherwise). Needs $work.
start_maildev() {
  local smtp_port=$1 web_port=$2
  maildev_dir="${GATEHOUSE_E2E_MAILDEV_DIR:-$HOME/.cache/gatehouse-maildev}"
  local maildev="$maildev_dir/node_modules/.bin/maildev"
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
      python3 - "$maildev_dir/package.json" <<'PY'
import json, os, sys
path = sys.argv[1]
manifest = json.load(open(path)) if os.path.exists(path) else {"private": True}
manifest.setdefault("overrides", {})["mailparser"] = "3.9.30"
json.dump(manifest, open(path, "w"), indent=2)
PY
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
}

# ------------------------------------------------------------------------------------------
# A database of the run's own on a database server.

# fresh_database SERVER_URL: makes a database gatehouse_e2e_<time>_<random> on the PostgreSQL
# (postgres://…) or MariaDB/MySQL (mysql://…) server SERVER_URL, whose user may create databases,
# with psql or mysql; sets database_url to its URL and fresh_database_name to its name. The
# script calls drop_fresh_database on the way out (from a cleanup hook). Dies when it cannot.
fresh_database() {
  local server_url=$1
  fresh_database_name="gatehouse_e2e_$(date +%s)_$RANDOM"
  local parts
  parts=$(python3 - "$server_url" "$fresh_database_name" <<'PY'
import sys, urllib.parse as p
u = p.urlsplit(sys.argv[1])
print(u.scheme, u.hostname or "127.0.0.1", u.port or 0, p.unquote(u.username or "-"), p.unquote(u.password or "-"),
      p.urlunsplit(u._replace(path="/" + sys.argv[2])))
PY
  ) || die "not a database URL: $server_url"
  read -r fresh_database_scheme fresh_database_host fresh_database_port fresh_database_user fresh_database_password \
    database_url <<<"$parts"
  fresh_database_server=$server_url
  fresh_database_sql "CREATE DATABASE $fresh_database_name" >/dev/null \
    || die "could not create the database $fresh_database_name on $fresh_database_scheme://$fresh_database_host"
  fresh_database_made=1
}

# fresh_database_sql STATEMENT: runs STATEMENT on fresh_database's server, outside its database.
fresh_database_sql() {
  case $fresh_database_scheme in
    postgres | postgresql)
      need_tools psql
      psql -X -q -v ON_ERROR_STOP=1 "$fresh_database_server" -c "$1"
      ;;
    *)
      need_tools mysql
      local args=(--protocol=TCP -h "$fresh_database_host" -u "$fresh_database_user")
      [ "$fresh_database_port" = 0 ] || args+=(-P "$fresh_database_port")
      [ "$fresh_database_password" = - ] || args+=("-p$fresh_database_password")
      mysql "${args[@]}" -e "$1"
      ;;
  esac
}

# drop_fresh_database: drops fresh_database's database, if it made one, unless GATEHOUSE_E2E_KEEP
# is 1; a failure is only said.
drop_fresh_database() {
  [ "${fresh_database_made:-}" = 1 ] || return 0
  if [ "${GATEHOUSE_E2E_KEEP:-}" = 1 ]; then
    say "kept the database $fresh_database_name"
    return 0
  fi
  local statement="DROP DATABASE IF EXISTS $fresh_database_name"
  case $fresh_database_scheme in postgres | postgresql) statement="$statement WITH (FORCE)" ;; esac
  fresh_database_sql "$statement" >/dev/null 2>&1 || say "warning: could not drop the database $fresh_database_name"
  fresh_database_made=""
}

# ------------------------------------------------------------------------------------------
# The gatehouse binary.

# gatehouse_binary [MODE]: sets bin to the gatehouse binary to run, or dies. CARGO_TARGET_DIR
# must be set. MODE:
#   (none)         $GATEHOUSE_E2E_BIN when it is set ("using …"), otherwise the release binary,
#                  built first with cargo in the repository's root;
#   --no-build     $GATEHOUSE_E2E_BIN when it is set, otherwise the release binary as it is,
#                  never built here; says which binary and when it was built;
#   --build        the release binary, always built first (GATEHOUSE_E2E_BIN is not read);
#   --build-debug  the same with the debug binary.
gatehouse_binary() {
  case ${1:-} in
    "")
      if [ -n "${GATEHOUSE_E2E_BIN:-}" ]; then
        bin=$GATEHOUSE_E2E_BIN
        say "using $bin"
      else
        e2e_cargo_build release
      fi
      [ -x "$bin" ] || die "no gatehouse binary at $bin"
      ;;
    --no-build)
      bin=${GATEHOUSE_E2E_BIN:-$CARGO_TARGET_DIR/release/gatehouse}
      [ -x "$bin" ] || die "no gatehouse binary at $bin: build it first (cargo build --release --locked) or set GATEHOUSE_E2E_BIN"
      say "using $bin ($(date -u -r "$bin" '+built %Y-%m-%d %H:%M:%S UTC'))"
      ;;
    --build | --build-debug)
      if [ "$1" = --build ]; then e2e_cargo_build release; else e2e_cargo_build debug; fi
      [ -x "$bin" ] || die "no binary at $bin after the build"
      ;;
    *) die "gatehouse_binary: unknown mode $1" ;;
  esac
}

# e2e_cargo_build PROFILE: builds gatehouse (PROFILE release or debug, locked) in the
# repository's root, saying so first, and sets bin to where the binary lands.
e2e_cargo_build() {
  local flags=(--locked)
  [ "$1" = debug ] || flags=(--release --locked)
  say "cargo build ${flags[*]} (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$e2e_root" && cargo build "${flags[@]}")
  bin="$CARGO_TARGET_DIR/$1/gatehouse"
}

# ------------------------------------------------------------------------------------------
# Ports, gatehouse's environment, waiting and stopping.

# free_ports COUNT: prints COUNT distinct free TCP ports on 127.0.0.1 on one line, separated by
# spaces (the sockets are held open together while asked for, so that they differ):
#   read -r port other_port < <(free_ports 2)
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
EOF
}

# clean_gatehouse_env: for a subshell that then starts gatehouse. Makes $work the working
# directory, so that no .env or gatehouse.toml of the clone is read, and unsets every GATEHOUSE_*
# variable, DATABASE_URL and REDIS_URL, so that gatehouse gets none of the environment's
# settings, only those the script exports afterwards:
#   ( clean_gatehouse_env; export GATEHOUSE_BIND=…; exec "$bin" serve ) >"$work/gatehouse.log" 2>&1 &
clean_gatehouse_env() {
  cd "$work"
  local name
  while read -r name; do
    unset "$name"
  done < <(compgen -e | grep -E '^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$)' || true)
}

# wait_http URL SECONDS PID [NAME]: polls URL (bypassing any proxy of the environment) until it
# answers 200, for at most SECONDS, while process PID is alive. Returns 1 with a line on stderr
# saying why when it does not: NAME (default "the process") exited first, or the time ran out.
wait_http() {
  python3 - "$1" "$2" "$3" "${4:-the process}" <<'EOF'
import os, sys, time, urllib.request
url, seconds, pid, name = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(f"{name} exited before {url} answered")
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

# stop PID: stops a process the script started, if it still runs: SIGTERM, then SIGKILL after
# 10 s, and waits for it. An empty PID does nothing.
stop() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# stop_gatehouse WHAT: the end of a run, where gatehouse must stop cleanly. Sends SIGTERM to the
# gatehouse in $gatehouse_pid and gives it 30 s to exit with status 0, saying what happened;
# WHAT ends the error "gatehouse was no longer running at the end of WHAT". Clears gatehouse_pid
# once gatehouse has exited (one still running is left to the cleanup). Returns 1 when gatehouse
# had already stopped, did not exit in time or exited with another status.
stop_gatehouse() {
  local what=$1 result=0 exit_code=0
  say "stopping gatehouse (SIGTERM)"
  if ! kill -TERM "$gatehouse_pid" 2>/dev/null; then
    say "error: gatehouse was no longer running at the end of $what" >&2
    result=1
  fi
  for _ in $(seq 1 300); do kill -0 "$gatehouse_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$gatehouse_pid" 2>/dev/null; then
    say "error: gatehouse did not exit within 30 s of SIGTERM" >&2
    return 1
  fi
  wait "$gatehouse_pid" || exit_code=$?
  gatehouse_pid=""
  if [ "$exit_code" -ne 0 ]; then
    say "error: gatehouse exited with status $exit_code on SIGTERM, expected 0" >&2
    return 1
  fi
  say "gatehouse exited 0"
  return "$result"
}
