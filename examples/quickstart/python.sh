#!/usr/bin/env bash
# The Python quickstarts, end to end: examples/quickstart/fastapi/app.py under uvicorn and
# examples/quickstart/flask/app.py under Flask's development server, each on a free port,
# against a real gatehouse. For each it checks:
#
#   GET  /            without a token        200
#   GET  /api/me      without a token        401, a problem document, WWW-Authenticate: Bearer
#   GET  /api/me      with a garbage token   401
#   GET  /api/me      with the user's token  200 and the account's email and role
#   GET  /api/orders  with the token         200 (gatehouse confirms the session)
#   POST /api/payouts with the token         403 insufficient_aal (one factor; the route needs two)
#   then the user logs out (DELETE /auth at gatehouse), and
#   GET  /api/orders  with the token         401: the live check sees the logout at once
#   GET  /api/me      with the token         200: offline, the token holds until it expires
#
#   examples/quickstart/python.sh [fastapi|flask]...   (default: both; also fastapi/run.sh, flask/run.sh)
#
# gatehouse runs on a free port of 127.0.0.1 with a fresh SQLite database in a temporary
# directory; the user is made with `gatehouse user create` and logs in with POST /auth. At the
# end gatehouse is stopped with SIGTERM and must exit 0.
#
# Exit status: 0 when every answer was the one expected; 1 otherwise (the last lines of the
# logs are printed); 2 on a usage error.
#
# Environment: GATEHOUSE_E2E_BIN, a gatehouse binary to use; otherwise
# $CARGO_TARGET_DIR/release/gatehouse (CARGO_TARGET_DIR defaults to ~/.cache/gatehouse-target),
# built with `cargo build --release --locked` only when it is missing. GATEHOUSE_PY_WHEEL, a
# built wheel of gatehouse-middleware to install; otherwise clients/python/src is used. The
# Python packages come from clients/python/scripts/venv.sh. GATEHOUSE_E2E_KEEP=1 keeps the
# temporary directory (database and logs).
set -euo pipefail

for name in GATEHOUSE_E2E_BIN GATEHOUSE_PY_WHEEL; do
  if [[ -n "${!name:-}" && "${!name}" != /* ]]; then
    export "$name=$PWD/${!name}"
  fi
done
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
case ${1:-} in
  -h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
frameworks=("$@")
[[ ${#frameworks[@]} -gt 0 ]] || frameworks=(fastapi flask)
for framework in "${frameworks[@]}"; do
  [[ "$framework" == fastapi || "$framework" == flask ]] || { echo "unknown quickstart: $framework (fastapi or flask)" >&2; exit 2; }
done

say() { printf '[quickstart] %s\n' "$*"; }
die() { say "error: $*" >&2; exit 1; }

venv="$("$root/clients/python/scripts/venv.sh")"
python="$venv/bin/python"
if [[ -n "${GATEHOUSE_PY_WHEEL:-}" ]]; then
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$GATEHOUSE_PY_WHEEL"
  unset PYTHONPATH
else
  export PYTHONPATH="$root/clients/python/src"
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
bin="${GATEHOUSE_E2E_BIN:-$CARGO_TARGET_DIR/release/gatehouse}"
if [[ -z "${GATEHOUSE_E2E_BIN:-}" && ! -x "$bin" ]]; then
  (cd "$root" && cargo build --release --locked)
fi
[[ -x "$bin" ]] || die "no gatehouse binary at $bin"

work="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-quickstart.XXXXXX")"
gatehouse_pid="" app_pid=""

stop() { # pid: SIGTERM, then SIGKILL after 10 s
  local pid=$1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  stop "$app_pid"
  stop "$gatehouse_pid"
  if [[ $status -ne 0 ]]; then
    for log in "$work"/*.log; do
      [[ -s "$log" ]] && { echo "---- last lines of $(basename "$log") ----" >&2; tail -n 30 "$log" >&2; }
    done
  fi
  if [[ "${GATEHOUSE_E2E_KEEP:-}" == 1 ]]; then
    say "kept $work (gatehouse.db and the logs)"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # url pid: until the URL answers 200, for 30 s
  for _ in $(seq 1 300); do
    kill -0 "$2" 2>/dev/null || return 1
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" == 200 ]] && return 0
    sleep 0.1
  done
  return 1
}
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

# ------------------------------------------------------------------------------------------
# gatehouse, and a user.
port="$(free_port)"
issuer="http://127.0.0.1:$port"
gatehouse_env=(
  "GATEHOUSE_BIND=127.0.0.1:$port" "GATEHOUSE_PUBLIC_URL=$issuer"
  "GATEHOUSE_DATABASE_URL=sqlite://$work/gatehouse.db" "GATEHOUSE_LOG_FORMAT=json"
)
# The temporary directory as working directory (no .env or gatehouse.toml of the clone is read),
# and none of the caller's gatehouse settings.
# (Used in a subshell: it execs, so that the subshell's pid is gatehouse's.)
clean_env() {
  local unset=()
  while read -r name; do unset+=(-u "$name"); done < <(compgen -e | grep -E '^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$)' || true)
  exec env "${unset[@]}" "${gatehouse_env[@]}" "$@"
}
(cd "$work" && clean_env "$bin" serve) >"$work/gatehouse.log" 2>&1 &
gatehouse_pid=$!
wait_for "$issuer/healthz" "$gatehouse_pid" || die "gatehouse did not answer /healthz"
say "gatehouse on $issuer"

email="ann@example.com"
password="quickstart $("$python" -c 'import secrets; print(secrets.token_hex(8))') orchard"
printf '%s\n' "$password" | (cd "$work" && clean_env "$bin" user create --email "$email" --password-stdin) >"$work/user-create.log" 2>&1 \
  || die "gatehouse user create failed"

log_in() { # prints a fresh access token
  EMAIL="$email" PASSWORD="$password" "$python" -c 'import json, os; print(json.dumps({"email": os.environ["EMAIL"], "password": os.environ["PASSWORD"]}))' \
    | curl -sf "$issuer/auth" -H 'content-type: application/json' --data-binary @- \
    | "$python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# check NAME METHOD URL TOKEN STATUS [PYTHON EXPRESSION over `body` and `headers`]
check() {
  local name=$1 method=$2 url=$3 token=$4 want=$5 expression=${6:-True} got
  local auth=()
  [[ -n "$token" ]] && auth=(-H "authorization: Bearer $token")
  got="$(curl -s -X "$method" -D "$work/headers" -o "$work/body" -w '%{http_code}' "${auth[@]}" "$url")"
  [[ "$got" == "$want" ]] || die "$name: $method $url answered $got, expected $want: $(head -c 300 "$work/body")"
  "$python" - "$work/headers" "$work/body" "$expression" <<'EOF' || die "$name: $method $url: the answer is not as expected: $(head -c 300 "$work/body")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()[1:]
headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if ":" in line)}
raw = open(sys.argv[2]).read()
body = json.loads(raw) if raw else None
sys.exit(0 if eval(sys.argv[3]) else 1)
EOF
  say "  $name: $method ${url#"$app_url"} $got"
}

# ------------------------------------------------------------------------------------------
for framework in "${frameworks[@]}"; do
  app_port="$(free_port)"
  app_url="http://127.0.0.1:$app_port"
  case $framework in
    fastapi) command=("$venv/bin/uvicorn" app:app --host 127.0.0.1 --port "$app_port") ;;
    flask) command=("$venv/bin/flask" --app app run --host 127.0.0.1 --port "$app_port") ;;
  esac
  (cd "$here/$framework" && GATEHOUSE_ISSUER="$issuer" exec "${command[@]}") >"$work/$framework.log" 2>&1 &
  app_pid=$!
  wait_for "$app_url/" "$app_pid" || die "the $framework quickstart did not start"
  say "$framework quickstart on $app_url"

  token="$(log_in)" || die "the user could not log in"
  check "anyone" GET "$app_url/" "" 200 'body == {"message": "Hello, anyone"}'
  check "no token" GET "$app_url/api/me" "" 401 \
    'headers["content-type"] == "application/problem+json" and headers["www-authenticate"] == "Bearer" and body["code"] == "unauthorized" and body["status"] == 401'
  check "a garbage token" GET "$app_url/api/me" "not-a-token" 401 'body["code"] == "unauthorized"'
  check "the user" GET "$app_url/api/me" "$token" 200 "body['email'] == '$email' and body['role'] == 'user'"
  check "live session" GET "$app_url/api/orders" "$token" 200 'body["orders"] == []'
  check "no second factor" POST "$app_url/api/payouts" "$token" 403 'body["code"] == "insufficient_aal"'
  curl -sf -X DELETE "$issuer/auth" -H "authorization: Bearer $token" || die "logout failed"
  say "  logged out"
  check "ended session, live check" GET "$app_url/api/orders" "$token" 401 'body["code"] == "unauthorized"'
  check "ended session, offline" GET "$app_url/api/me" "$token" 200 "body['email'] == '$email'"

  stop "$app_pid"
  app_pid=""
done

# ------------------------------------------------------------------------------------------
kill -TERM "$gatehouse_pid"
for _ in $(seq 1 150); do kill -0 "$gatehouse_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$gatehouse_pid" 2>/dev/null && die "gatehouse did not stop within 15 s of SIGTERM"
status=0
wait "$gatehouse_pid" || status=$?
gatehouse_pid=""
[[ $status -eq 0 ]] || die "gatehouse exited with status $status on SIGTERM (expected 0)"
say "gatehouse stopped cleanly on SIGTERM"
say "quickstart (${frameworks[*]}): passed"
