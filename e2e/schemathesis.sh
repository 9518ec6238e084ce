#!/usr/bin/env bash
# Property-based API testing with Schemathesis against a real gatehouse process: every
# operation of /openapi.json gets generated (valid and invalid) requests, and every answer must
# be a non-5xx, with a documented status code, the documented content type and a body that
# fits the documented schema.
#
#   e2e/schemathesis.sh
#       builds the debug binary, creates an active admin (gatehouse user create --admin, so that
#       the admin operations are exercised too) in a fresh
#       SQLite database in a temporary directory, starts `gatehouse serve` on a free port, logs
#       in for an access token and runs Schemathesis twice: every operation but the two that
#       end the token (DELETE /auth, DELETE /user/{key}) with the token, then those two last.
#       Stops gatehouse and removes everything it made.
#
# Exit status: 0 when every check passed, 1 on a failure or when the stack cannot be brought up.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/gatehouse-target), GATEHOUSE_ST_VENV (default
# ~/.cache/gatehouse-venv-st), GATEHOUSE_ST_EXAMPLES (test cases per operation and phase,
# default 50), GATEHOUSE_ST_KEEP=1 keeps the temporary directory (database, gatehouse.log and
# the Schemathesis reports) for a look afterwards.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5

say_as st
need_tools cargo python3 curl

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
venv="${GATEHOUSE_ST_VENV:-$HOME/.cache/gatehouse-venv-st}"
examples="${GATEHOUSE_ST_EXAMPLES:-50}"

# The temporary directory and what stops on the way out, in this order.
gatehouse_pid="" st_pid=""
cleanup_pids=(st_pid gatehouse_pid)
make_work_dir gatehouse-st GATEHOUSE_ST_KEEP "database, gatehouse.log, schemathesis reports"

# Schemathesis, pinned, in its own virtual environment (under a lock, for concurrent runs).
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then
  exec 8>"$venv.lock"
  flock -w 600 8 || die "could not lock $venv.lock"
fi
if [ "$("$venv/bin/st" --version 2>/dev/null | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' || true)" != "$SCHEMATHESIS_VERSION" ]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || die "could not create a virtual environment in $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    || die "could not install schemathesis $SCHEMATHESIS_VERSION"
fi
exec 8>&-

gatehouse_binary --build-debug

http_port=$(free_ports 1)
base="http://127.0.0.1:$http_port"
email=st@example.com
password="st-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

# Everything runs from the temporary directory (so no .env or gatehouse.toml of the clone is
# read) and with nothing of ours from the environment but the settings below; in a subshell:
# `( gatehouse_env; exec "$bin" … )`.
gatehouse_env() {
  clean_gatehouse_env
  export GATEHOUSE_BIND="127.0.0.1:$http_port"
  export GATEHOUSE_PUBLIC_URL="$base"
  export GATEHOUSE_DATABASE_URL="sqlite://$work/gatehouse.db"
  export GATEHOUSE_RATE_LIMIT=off
  export GATEHOUSE_LOG=info
}

say "creating the account $email in $work/gatehouse.db"
( gatehouse_env; exec "$bin" migrate ) >"$work/setup.log" 2>&1 || { show_log "$work/setup.log"; die "gatehouse migrate failed"; }
printf '%s\n' "$password" | ( gatehouse_env; exec "$bin" user create --email "$email" --admin --password-stdin ) >>"$work/setup.log" 2>&1 \
  || { show_log "$work/setup.log"; die "gatehouse user create failed"; }

say "gatehouse serve on $base"
( gatehouse_env; exec "$bin" serve ) >"$work/gatehouse.log" 2>&1 &
gatehouse_pid=$!
# Quietly: the error below says what went wrong.
wait_http "$base/readyz" 60 "$gatehouse_pid" 2>/dev/null || { show_log "$work/gatehouse.log"; die "gatehouse did not become ready"; }

# A fresh access token for each run, as some operations end the session behind it.
log_in() {
  curl -fsS --noproxy '*' --max-time 10 -H 'Content-Type: application/json' \
    --data "{\"email\":\"$email\",\"password\":\"$password\"}" "$base/auth" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# Serializers for the import's JSON Lines and CSV bodies, which schemathesis lacks.
hooks="$PWD/e2e/schemathesis_hooks.py" # the working directory is the repository's root

# The checks: no 5xx, and every answer documented (status code, content type, body schema).
st_run() { # name, then extra arguments for `st run`
  local name=$1 token; shift
  say "schemathesis: $name"
  token=$(log_in) || { show_log "$work/gatehouse.log"; say "error: could not log in as $email" >&2; return 1; }
  NO_PROXY='*' SCHEMATHESIS_HOOKS="$hooks" "$venv/bin/st" run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" --seed 1 --workers 1 --request-timeout 10 --no-color \
    --generation-database none --suppress-health-check too_slow,filter_too_much \
    --report junit --report-junit-path "$work/junit-$name.xml" \
    -H "Authorization: Bearer $token" "$@" &
  st_pid=$!
  local status=0
  wait "$st_pid" || status=$?
  st_pid=""
  return "$status"
}

# Four operations end the token's session: they run last, each with its own token (after which
# 401, which they document, is the expected answer); deleting the account goes last of all.
enders=(endSession logout deleteUser deleteCurrentUser) # DELETE /auth/sessions/{id}, DELETE /auth, DELETE /user/{key}, DELETE /user
status=0
st_run all-but-enders "${enders[@]/#/--exclude-operation-id=}" || status=1
for op in "${enders[@]}"; do
  st_run "$op" --include-operation-id "$op" || status=1
done

say "stopping gatehouse (SIGTERM)"
kill -TERM "$gatehouse_pid" 2>/dev/null || die "gatehouse was no longer running at the end"
for _ in $(seq 1 100); do kill -0 "$gatehouse_pid" 2>/dev/null || break; sleep 0.1; done
gatehouse_status=0
wait "$gatehouse_pid" || gatehouse_status=$?
gatehouse_pid=""
if [ "$gatehouse_status" -ne 0 ]; then
  show_log "$work/gatehouse.log"
  die "gatehouse exited with status $gatehouse_status"
fi
if grep -q 'request failed' "$work/gatehouse.log"; then
  grep 'request failed' "$work/gatehouse.log" | head -n 5 >&2
  say "error: gatehouse logged internal errors" >&2
  status=1
fi

if [ "$status" -ne 0 ]; then
  say "FAILED (GATEHOUSE_ST_KEEP=1 keeps $work for a look)"
  exit 1
fi
say "passed"
