# shellcheck shell=bash disable=SC2034  # sourced; its variables are for the run.sh files
# What the quickstarts' run.sh files share, sourced by them: gatehouse on a free port with a
# fresh SQLite database and a bootstrap admin, the admin's token, one line per check, and the
# clean-up. Not a quickstart itself.
#
#   source "$(dirname "$0")/../lib.sh"
#   qs_begin NAME "$@"          the name its lines start with; --help prints the run.sh's header
#   qs_gatehouse [VAR=VALUE]... starts gatehouse (with those settings besides the defaults) and
#                               sets ISSUER (http://127.0.0.1:PORT, its issuer, as discovery says),
#                               QS_GATEHOUSE_LOG (its log, JSON lines: emails are written there),
#                               ADMIN_EMAIL and ADMIN_PASSWORD (the bootstrap admin)
#   qs_admin_token              sets ADMIN, the admin's access token (POST /auth)
#   qs_api METHOD PATH [JSON]   calls gatehouse with $ADMIN; the body lands in $QS_BODY, the
#                               status in $QS_STATUS
#   qs_field NAME [FILE]        a top-level field of a JSON answer ($QS_BODY by default)
#   qs_start LABEL CMD...       runs a command (an app) in the background, its output in
#                               $QS_WORK/LABEL.log; stopped at the end
#   qs_wait_http URL PID        until URL answers (any status), while PID lives
#   ok NAME / fail NAME [WHY]   one line per check; fail exits 1
#   qs_checks CMD...            runs a command that prints one line per check ("ok   …" or
#                               "FAIL …") and counts them with ours; its failure is ours
#   qs_gatehouse_stop           stops gatehouse: it must exit 0 on SIGTERM
#   qs_end                      stops what still runs (gatehouse as above), prints the count
#
# Nothing prints a token or a password: a check says that one is there, never what it is.
#
# Environment: GATEHOUSE_E2E_BIN, a gatehouse binary to use; otherwise
# $CARGO_TARGET_DIR/release/gatehouse (CARGO_TARGET_DIR defaults to ~/.cache/gatehouse-target),
# built with `cargo build --release --locked` only when it is missing. GATEHOUSE_E2E_KEEP=1 keeps
# the temporary directory (database and logs).

# A relative GATEHOUSE_E2E_BIN is taken from where the script was started.
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
QS_HERE="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"   # the quickstart's directory
QS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"   # the repository
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
# Loopback addresses go around any proxy of the environment.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

QS_NAME=quickstart QS_PASSED=0 QS_GATEHOUSE_PID="" QS_PIDS=()

say() { printf '[%s] %s\n' "$QS_NAME" "$*"; }
die() { say "error: $*" >&2; exit 1; }
ok() { QS_PASSED=$((QS_PASSED + 1)); printf 'ok   %s\n' "$1"; }
fail() {
  printf 'FAIL %s\n' "$1"
  [[ -z "${2:-}" ]] || printf '     %s\n' "${2:0:600}"
  printf '%s: %s passed, 1 failed\n' "$QS_NAME" "$QS_PASSED"
  exit 1
}

qs_stop() { # pid: SIGTERM, then SIGKILL after 10 s
  local pid=$1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

qs_show_log() { # file: its last lines, for a failure
  [[ -s "$1" ]] || return 0
  echo "---- last lines of ${1#"$QS_WORK"/} ----" >&2
  tail -n 30 "$1" >&2
}

qs_cleanup() {
  local status=$? pid
  for pid in "${QS_PIDS[@]}"; do qs_stop "$pid"; done
  qs_stop "$QS_GATEHOUSE_PID"
  if [[ $status -ne 0 ]]; then
    for log in "$QS_WORK"/*.log; do qs_show_log "$log"; done
  fi
  if [[ "${GATEHOUSE_E2E_KEEP:-}" == 1 ]]; then
    say "kept $QS_WORK (the database and the logs)"
  else
    rm -rf "$QS_WORK"
  fi
  exit "$status"
}

qs_begin() {
  QS_NAME=$1
  shift
  case ${1:-} in
    "") ;;
    -h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  for tool in python3 curl; do
    command -v "$tool" >/dev/null || die "$tool is needed and not on PATH"
  done
  QS_WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-$QS_NAME.XXXXXX")
  trap qs_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if [[ -n "${GATEHOUSE_E2E_BIN:-}" ]]; then
    QS_BIN=$GATEHOUSE_E2E_BIN
  else
    QS_BIN="$CARGO_TARGET_DIR/release/gatehouse"
    if [[ ! -x "$QS_BIN" ]]; then
      say "cargo build --release --locked (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
      (cd "$QS_ROOT" && cargo build --release --locked)
    fi
  fi
  [[ -x "$QS_BIN" ]] || die "no gatehouse binary at $QS_BIN"
}

qs_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

qs_wait_http() { # url pid: until the URL answers (any status), for 60 s, while the process lives
  local url=$1 pid=$2
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || return 1
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" != 000 ]] && return 0
    sleep 0.1
  done
  return 1
}

qs_gatehouse() {
  local port name=gatehouse
  port=$(qs_free_port)
  QS_RUNS=$((${QS_RUNS:-0} + 1))
  [[ $QS_RUNS -eq 1 ]] || name="gatehouse-$QS_RUNS"   # a fresh database for each start
  ISSUER="http://127.0.0.1:$port"
  QS_GATEHOUSE_LOG="$QS_WORK/$name.log"
  ADMIN_EMAIL=admin@example.com
  ADMIN_PASSWORD="quickstart admin $(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  (
    # The temporary directory as working directory (no .env or gatehouse.toml of the clone is
    # read) and none of the caller's gatehouse settings but these.
    cd "$QS_WORK" || exit 1
    while read -r variable; do unset "$variable"; done < <(compgen -e | grep -E '^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$)' || true)
    export GATEHOUSE_BIND="127.0.0.1:$port" GATEHOUSE_PUBLIC_URL="$ISSUER"
    export GATEHOUSE_DATABASE_URL="sqlite://$QS_WORK/$name.db" GATEHOUSE_LOG_FORMAT=json
    export GATEHOUSE_ADMIN_EMAIL="$ADMIN_EMAIL" GATEHOUSE_ADMIN_PASSWORD="$ADMIN_PASSWORD"
    local setting
    for setting in "$@"; do export "${setting?}"; done
    exec "$QS_BIN" serve
  ) >"$QS_GATEHOUSE_LOG" 2>&1 &
  QS_GATEHOUSE_PID=$!
  qs_wait_http "$ISSUER/healthz" "$QS_GATEHOUSE_PID" || die "gatehouse did not answer at $ISSUER"
  say "gatehouse on $ISSUER${1:+ with $*} (SQLite: $QS_WORK/$name.db)"
}

qs_field() { # name [file]: a top-level field of a JSON document
  python3 -c 'import json, sys; v = json.load(open(sys.argv[2])).get(sys.argv[1]); print("" if v is None else v)' "$1" "${2:-$QS_WORK/body.json}"
}

qs_api() { # method path [json]
  local args=(-s -X "$1" -o "$QS_WORK/body.json" -w '%{http_code}' -H "authorization: Bearer $ADMIN")
  [[ -z "${3:-}" ]] || args+=(-H 'content-type: application/json' --data-binary "$3")
  QS_STATUS=$(curl "${args[@]}" "$ISSUER$2")
  QS_BODY="$QS_WORK/body.json"
}

qs_admin_token() {
  local login
  login=$(ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" python3 -c \
    'import json, os; print(json.dumps({"email": os.environ["ADMIN_EMAIL"], "password": os.environ["ADMIN_PASSWORD"]}))')
  QS_STATUS=$(curl -s -o "$QS_WORK/body.json" -w '%{http_code}' "$ISSUER/auth" \
    -H 'content-type: application/json' --data-binary "$login")
  [[ "$QS_STATUS" == 200 ]] || fail "the admin logs in (POST /auth)" "answered $QS_STATUS"
  ADMIN=$(qs_field access_token)
  [[ -n "$ADMIN" ]] || fail "the admin logs in (POST /auth)" "no access_token in the answer"
  ok "the admin logs in (POST /auth): an access token, \$ADMIN"
}

qs_start() { # label command...: in the background, its output in $QS_WORK/label.log
  local label=$1
  shift
  "$@" >"$QS_WORK/$label.log" 2>&1 &
  QS_PIDS+=($!)
  QS_STARTED_PID=$!
}

qs_checks() {
  local status=0
  "$@" | tee "$QS_WORK/checks.out" || status=$?
  QS_PASSED=$((QS_PASSED + $(grep -c '^ok ' "$QS_WORK/checks.out" || true)))
  if [[ $status -ne 0 ]]; then
    printf '%s: %s passed, 1 failed\n' "$QS_NAME" "$QS_PASSED"
    exit 1
  fi
}

qs_gatehouse_stop() { # SIGTERM; it must exit 0 within 15 s
  local status=0
  kill -0 "$QS_GATEHOUSE_PID" 2>/dev/null || fail "gatehouse ran to the end"
  kill -TERM "$QS_GATEHOUSE_PID"
  for _ in $(seq 1 150); do kill -0 "$QS_GATEHOUSE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$QS_GATEHOUSE_PID" 2>/dev/null && fail "gatehouse stops within 15 s of SIGTERM"
  wait "$QS_GATEHOUSE_PID" || status=$?
  QS_GATEHOUSE_PID=""
  [[ $status -eq 0 ]] || fail "gatehouse exits 0 on SIGTERM" "it exited with status $status"
  ok "gatehouse exits 0 on SIGTERM"
}

qs_end() {
  local pid
  for pid in "${QS_PIDS[@]}"; do qs_stop "$pid"; done
  QS_PIDS=()
  [[ -z "$QS_GATEHOUSE_PID" ]] || qs_gatehouse_stop
  printf '%s: %s passed, 0 failed\n' "$QS_NAME" "$QS_PASSED"
}
