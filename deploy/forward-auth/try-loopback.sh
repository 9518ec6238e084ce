#!/usr/bin/env bash
# Forward-auth on one machine, with nginx-loopback.conf as it is: gatehouse on 127.0.0.1:8080,
# a tiny app on 127.0.0.1:3000 that shows the Remote-* headers it gets, and nginx on
# 127.0.0.1:8000 in front of the app. Then, one line per check: a browser without a login is
# sent to gatehouse's login page and an API client gets 401; the browser logs in with the
# login form (as a script drives it: docs/INTEGRATING.md) and comes back; its requests reach the
# app with Remote-User, the account's id, whatever Remote-User it sends itself; a script's
# bearer token passes too; after a logout the same cookie is sent to the login again. At the
# end everything is stopped (gatehouse must exit 0 on SIGTERM) and removed.
#
#   deploy/forward-auth/try-loopback.sh
#
# Needs nginx (installed with `apt-get install nginx` when missing and run as root), python3 and
# curl. Where one of the three ports is taken, free ports are used instead, in a copy of the file.
# Exit status: 0 when every check passed, 1 otherwise (the last lines of the logs are printed).
#
# Environment: GATEHOUSE_E2E_BIN, a gatehouse binary to use; otherwise
# $CARGO_TARGET_DIR/release/gatehouse (CARGO_TARGET_DIR defaults to ~/.cache/gatehouse-target),
# built with `cargo build --release --locked` when missing. GATEHOUSE_E2E_KEEP=1 keeps the
# temporary directory (configuration, database and logs).
set -euo pipefail
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")"
case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

passed=0
say() { printf '[forward-auth] %s\n' "$*"; }
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() {
  printf 'FAIL %s\n' "$1"
  [[ -z "${2:-}" ]] || printf '     %s\n' "${2:0:600}"
  printf 'forward-auth: %s passed, 1 failed\n' "$passed"
  exit 1
}
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-forward-auth.XXXXXX")
pids=()
cleanup() {
  local status=$? pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ $status -ne 0 ]]; then
    for log in "$work"/*.log; do
      [[ -s "$log" ]] && { echo "---- last lines of $(basename "$log") ----" >&2; tail -n 20 "$log" >&2; }
    done
  fi
  if [[ "${GATEHOUSE_E2E_KEEP:-}" == 1 ]]; then say "kept $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------------------------
# What it needs.
for tool in python3 curl; do command -v "$tool" >/dev/null || { say "error: $tool is needed"; exit 1; }; done
if ! command -v nginx >/dev/null; then
  if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null; then
    say "error: nginx is needed: apt-get install nginx"
    exit 1
  fi
  say "apt-get install nginx"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; } >"$work/apt.log" 2>&1 \
    || { say "error: apt-get could not install nginx"; exit 1; }
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
bin="${GATEHOUSE_E2E_BIN:-$CARGO_TARGET_DIR/release/gatehouse}"
if [[ -z "${GATEHOUSE_E2E_BIN:-}" && ! -x "$bin" ]]; then
  say "cargo build --release --locked"
  (cd ../.. && cargo build --release --locked)
fi
[[ -x "$bin" ]] || { say "error: no gatehouse binary at $bin"; exit 1; }

# The file's ports, or free ones where they are taken.
read -r proxy_port app_port gatehouse_port < <(python3 - <<'EOF'
import socket
held, ports = [], []
for wanted in (8000, 3000, 8080):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: a closed connection is no obstacle
    try:
        s.bind(("127.0.0.1", wanted))
    except OSError:
        s.bind(("127.0.0.1", 0))
    held.append(s)
    ports.append(s.getsockname()[1])
print(*ports)
EOF
)
proxy="http://127.0.0.1:$proxy_port" gatehouse="http://127.0.0.1:$gatehouse_port"
sed -e "s|listen 127.0.0.1:8000;|listen 127.0.0.1:$proxy_port;|" \
  -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$gatehouse_port;|" \
  -e "s|proxy_pass http://127.0.0.1:3000;|proxy_pass http://127.0.0.1:$app_port;|" nginx-loopback.conf >"$work/app.conf"
[[ "$proxy_port $app_port $gatehouse_port" == "8000 3000 8080" ]] \
  || say "ports 8000, 3000 or 8080 are taken: nginx on $proxy_port, the app on $app_port, gatehouse on $gatehouse_port"

# ------------------------------------------------------------------------------------------
# gatehouse, with a person to log in as.
email=ann@example.com
password="loopback $(python3 -c 'import secrets; print(secrets.token_hex(12))') orchard"
run_gatehouse() { # the settings of nginx-loopback.conf's header; the database in $work
  cd "$work"
  while read -r variable; do unset "$variable"; done < <(compgen -e | grep -E '^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$)' || true)
  export GATEHOUSE_BIND="127.0.0.1:$gatehouse_port" GATEHOUSE_PUBLIC_URL="$gatehouse"
  export GATEHOUSE_TRUSTED_PROXIES=127.0.0.1 GATEHOUSE_REDIRECT_ALLOW="$proxy/"
  export GATEHOUSE_DATABASE_URL="sqlite://$work/gatehouse.db"
  exec "$bin" "$@"
}
(run_gatehouse serve) >"$work/gatehouse.log" 2>&1 &
gatehouse_pid=$!
pids+=("$gatehouse_pid")
for _ in $(seq 1 300); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$gatehouse/healthz")" == 200 ]] && break
  kill -0 "$gatehouse_pid" 2>/dev/null || fail "gatehouse starts on $gatehouse"
  sleep 0.1
done
account=$( (run_gatehouse user create --email "$email" --password-stdin --json) < <(printf '%s\n' "$password") 2>>"$work/gatehouse.log" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])') || fail "gatehouse user create --email $email"
ok "gatehouse user create: $email, account id $account"

# The app: it answers every request with the Remote-* headers it got, as JSON.
cat >"$work/app.py" <<'EOF'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class App(BaseHTTPRequestHandler):
    def do_GET(self):
        seen = {name: self.headers.get(name) for name in ("Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups")}
        body = json.dumps({"path": self.path, **seen}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), App).serve_forever()
EOF
python3 "$work/app.py" "$app_port" >"$work/app.log" 2>&1 &
pids+=($!)

# nginx, run by this script: nginx-loopback.conf in a main configuration of its own.
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<EOF
$([[ "$(id -u)" -eq 0 ]] && echo "user root;")
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 64; }
http {
    access_log $work/nginx-access.log;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    include $work/app.conf;
}
EOF
nginx -t -q -p "$work/nginx" -c "$work/nginx.conf" -e "$work/nginx-error.log" 2>"$work/nginx-test.log" \
  || fail "nginx -t accepts nginx-loopback.conf" "$(cat "$work/nginx-test.log")"
ok "nginx -t accepts nginx-loopback.conf ($(nginx -v 2>&1 | sed 's/^nginx version: //'))"
nginx -p "$work/nginx" -c "$work/nginx.conf" -e "$work/nginx-error.log" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$app_port/")" == 200 && \
     "$(curl -s -o /dev/null -w '%{http_code}' "$proxy/")" != 000 ]] && break
  sleep 0.1
done
say "gatehouse on $gatehouse, the app on 127.0.0.1:$app_port, nginx on $proxy"

# ------------------------------------------------------------------------------------------
# The checks. `request` sends one request and leaves the status in $status, the Location in
# $location and the body in $work/body; cookies are kept in $work/cookies, as a browser keeps
# them (by host: 127.0.0.1's cookies go to each of its ports).
browser=(-H 'accept: text/html,application/xhtml+xml')
jar="$work/cookies"
request() {
  local out
  out=$(curl -s -b "$jar" -c "$jar" -o "$work/body" -w '%{http_code} %{redirect_url}' "$@")
  status=${out%% *} location=${out#* }
}
field() { # the value of a hidden input of the page in $work/body
  sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" "$work/body" | head -n 1 \
    | sed -e 's/&quot;/"/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g'
}
: >"$jar"

request "${browser[@]}" "$proxy/reports?month=3"
[[ "$status" == 302 && "$location" == "$gatehouse/login?next="* ]] || fail "a browser without a login: 302 to gatehouse's login page" "$status $location"
ok "a browser without a login: 302 to $gatehouse/login?next=…"
login_page=$location

request "$proxy/reports"
[[ "$status" == 401 ]] || fail "an API client without a login: 401" "$status"
ok "an API client without a login: 401"

# The login form, posted as a browser posts it: the hidden `form` token and `next`, the cookie
# `gatehouse_form` the page set, `login` and `password`, and an Origin of gatehouse's own.
request "${browser[@]}" "$login_page"
form=$(field form) next=$(field next)
[[ "$status" == 200 && -n "$form" && "$next" == "$proxy/reports?month=3" ]] \
  || fail "gatehouse's login page: its form, with next = the page asked for" "$status, next $next"
ok "gatehouse's login page: the form token, and next = $next"
request -H "origin: $gatehouse" --data-urlencode "form=$form" --data-urlencode "next=$next" \
  --data-urlencode "login=$email" --data-urlencode "password@-" "$gatehouse/login" < <(printf '%s' "$password")
[[ "$status" == 303 && "$location" == "$next" ]] && grep -q gatehouse_session "$jar" \
  || fail "the login form: 303 back to the page, with the gatehouse_session cookie" "$status $location"
ok "the login form: 303 back to $location, with the gatehouse_session cookie"

app_saw() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' "$work/body" "$1"; }
request "${browser[@]}" "$location"
[[ "$status" == 200 && "$(app_saw Remote-User)" == "$account" && "$(app_saw Remote-Email)" == "$email" ]] \
  || fail "the browser, logged in: 200 from the app, with Remote-User" "$status $(head -c 300 "$work/body")"
ok "the browser, logged in: 200 from the app, which got Remote-User $account and Remote-Email $email"

request "${browser[@]}" -H 'remote-user: admin' -H 'remote-email: root@example.com' "$proxy/"
[[ "$status" == 200 && "$(app_saw Remote-User)" == "$account" && "$(app_saw Remote-Email)" == "$email" ]] \
  || fail "a Remote-User the client sends itself never reaches the app" "$status $(head -c 300 "$work/body")"
ok "a Remote-User the client sends itself never reaches the app: it still gets $account"

token=$(printf '{"email":"%s","password":"%s"}' "$email" "$password" \
  | curl -s "$gatehouse/auth" -H 'content-type: application/json' --data-binary @- \
  | python3 -c 'import json, sys; print(json.load(sys.stdin).get("access_token", ""))')
[[ -n "$token" ]] || fail "POST /auth: an access token for the script"
status=$(curl -s -o "$work/body" -w '%{http_code}' -H "authorization: Bearer $token" "$proxy/api/x")
[[ "$status" == 200 && "$(app_saw Remote-User)" == "$account" ]] || fail "a script with gatehouse's access token: 200, Remote-User" "$status"
ok "a script with an access token of POST /auth (Authorization: Bearer): 200, Remote-User $account"

# Log out: gatehouse's /login shows a logged-in browser its "Log out" form. Then the cookie the
# browser had is refused: the session behind it has ended.
cp "$jar" "$work/cookies.before-logout"
request "${browser[@]}" "$gatehouse/login"
request -H "origin: $gatehouse" --data-urlencode "form=$(field form)" "$gatehouse/logout"
[[ "$status" == 200 ]] && ! grep -q gatehouse_session "$jar" || fail "POST /logout: 200, the cookie removed" "$status"
ok "POST /logout at gatehouse: 200, the cookie removed"
jar="$work/cookies.before-logout"
request "${browser[@]}" "$proxy/"
[[ "$status" == 302 && "$location" == "$gatehouse/login?next="* ]] || fail "the cookie of before the logout: 302 to the login" "$status $location"
ok "the cookie of before the logout: 302 to the login again"

# ------------------------------------------------------------------------------------------
kill -TERM "$gatehouse_pid"
for _ in $(seq 1 150); do kill -0 "$gatehouse_pid" 2>/dev/null || break; sleep 0.1; done
gatehouse_status=0
wait "$gatehouse_pid" || gatehouse_status=$?
[[ $gatehouse_status -eq 0 ]] || fail "gatehouse exits 0 on SIGTERM" "status $gatehouse_status"
ok "gatehouse exits 0 on SIGTERM"
printf 'forward-auth: %s passed, 0 failed\n' "$passed"
