#!/usr/bin/env bash
# Stock MCP clients get a token from gatehouse with no set-up and call an MCP server behind nginx
# forward-auth: the MCP Python SDK (mcp on PyPI, its OAuthClientProvider) and the TypeScript SDK
# (@modelcontextprotocol/sdk on npm, StreamableHTTPClientTransport with an authProvider), each
# driving the whole flow against examples/mcp/server.py (the Python SDK's MCPServer, two
# endpoints: /mcp needs mcp:tools, /mcp/admin mcp:admin) behind deploy/forward-auth/nginx.conf
# (Debian's nginx), with gatehouse set by examples/mcp/gatehouse.env; the person logs in and
# consents in a headless Chromium (Debian's, driven by playwright-core from npm). The files are
# those docs/INTEGRATING.md ("Put an MCP server behind gatehouse") shows, with only their
# addresses changed to local ports (e2e/mcp/render.py).
#
#   e2e/mcp/run.sh
#       installs nginx and chromium with apt-get when either is missing (as root; without root or
#       network it prints "skipped: …" and exits 0); makes (or reuses) the virtualenv
#       ~/.cache/gatehouse-mcp-venv with the exact pins of e2e/mcp/requirements.txt (made anew
#       only when that file differs from the copy kept in the venv); runs `npm ci` in e2e/mcp
#       when its node_modules is missing or older than its lock; picks free ports; renders the
#       configurations; starts `gatehouse serve` in a temporary directory (its .env the rendered
#       gatehouse.env, a fresh SQLite database, GATEHOUSE_RESOURCES with one more resource,
#       /reports, whose tokens /mcp must refuse), creates the account the browser logs in as
#       (`gatehouse user create`), starts the MCP server on 127.0.0.1, nginx as the current user
#       with everything under the temporary directory, and the browser (e2e/mcp/browser.mjs);
#       runs e2e/mcp/python_client.py, then e2e/mcp/node_client.mjs (one line per check), stops
#       everything (gatehouse must exit 0 on SIGTERM) and removes what it made.
#
# What the clients check, in short: the first call is refused with gatehouse's RFC 9728
# challenge; the SDK reads the protected resource metadata through nginx, discovers gatehouse
# (RFC 8414), registers itself (RFC 7591) and sends the person to the browser (login, consent);
# the code's token has the MCP server as aud and mcp:tools; `whoami` answers with Remote-User,
# Remote-Client and Remote-Scopes; at /mcp/admin the token is refused with 403 insufficient_scope
# and the SDK asks again for mcp:admin (step-up), after which `reindex` answers; a revocation
# (RFC 7009; Python) and a logout at gatehouse (TypeScript) refuse the token at the next request;
# another app's live token for /reports is refused at /mcp. The SDKs register with the first
# challenge's scope alone; gatehouse registers them for the whole resource's, so the step-up is a
# question to the person, not invalid_scope.
#
# Needs python3, node and npm. Exit status: 0 all passed, 1 a check failed or the stack could not
# be brought up, 0 with "skipped: …" when nginx or chromium is missing and cannot be installed.
#
# Environment: GATEHOUSE_E2E_BIN, a gatehouse binary to use; otherwise
# $CARGO_TARGET_DIR/release/gatehouse (CARGO_TARGET_DIR defaults to ~/.cache/gatehouse-target),
# which this script does not build: run `cargo build --release --locked` first.
# GATEHOUSE_E2E_CHROMIUM (default /usr/bin/chromium); GATEHOUSE_E2E_KEEP=1 keeps the temporary
# directory (.env, g.db, the logs, nginx/, and a screenshot of any page where the browser stopped).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,/^set -euo pipefail$/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

# A relative GATEHOUSE_E2E_BIN is taken from where the script was started.
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")/../.."

say_as mcp

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
chromium="${GATEHOUSE_E2E_CHROMIUM:-/usr/bin/chromium}"
venv="$HOME/.cache/gatehouse-mcp-venv"

# The temporary directory and what stops on the way out, in this order.
gatehouse_pid="" server_pid="" nginx_pid="" browser_pid="" check_pid=""
cleanup_pids=(check_pid browser_pid nginx_pid server_pid gatehouse_pid)
make_work_dir gatehouse-mcp GATEHOUSE_E2E_KEEP \
  ".env, g.db, gatehouse.log, server.log, browser.log, nginx/, browser-failure-*.png"

show_logs() {
  show_log "$work/gatehouse.log"
  show_log "$work/server.log"
  show_log "$work/browser.log"
  show_log "$work/nginx/error.log"
  show_log "$work/nginx/access.log"
}

# ------------------------------------------------------------------------------------------
# nginx and Chromium, from Debian's packages.
missing=()
command -v nginx >/dev/null || missing+=(nginx)
[ -x "$chromium" ] || missing+=(chromium)
if ((${#missing[@]})); then
  [ "$chromium" = /usr/bin/chromium ] || [ -x "$chromium" ] || die "GATEHOUSE_E2E_CHROMIUM=$chromium is not an executable"
  [ "$(id -u)" -eq 0 ] || skip "${missing[*]} missing and installing needs root (apt-get install ${missing[*]})"
  command -v apt-get >/dev/null || skip "${missing[*]} missing and there is no apt-get to install it"
  say "installing ${missing[*]} with apt-get"
  # Another suite may be installing at the same time (CI runs two lanes): wait for dpkg's lock.
  if ! { apt-get -o DPkg::Lock::Timeout=300 update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}"; } \
    >"$work/apt.log" 2>&1; then
    skip "${missing[*]} missing and apt-get could not install it (no network?): $(tail -n 1 "$work/apt.log")"
  fi
  command -v nginx >/dev/null && [ -x "$chromium" ] || skip "apt-get ran but ${missing[*]} is still missing"
fi
say "$(nginx -v 2>&1), $("$chromium" --version 2>/dev/null | head -n 1)"
need_tools python3 node npm flock cmp

# ------------------------------------------------------------------------------------------
# The MCP Python SDK's virtualenv: made anew when requirements.txt is not the copy it was made
# from (so that no package of older pins stays behind), under a lock for runs at the same time.
grep -qxF "$(grep -m1 '^mcp==' examples/mcp/requirements.txt)" e2e/mcp/requirements.txt \
  || die "examples/mcp/requirements.txt pins another mcp than e2e/mcp/requirements.txt: pin the same in both"
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock -w 600 9 || die "could not lock $venv.lock"
if ! cmp -s e2e/mcp/requirements.txt "$venv/requirements.txt" || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  say "making the virtualenv $venv (pip install -r e2e/mcp/requirements.txt)"
  rm -rf "$venv"
  if ! { python3 -m venv "$venv" \
    && "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r e2e/mcp/requirements.txt; } \
    >"$work/pip.log" 2>&1; then
    show_log "$work/pip.log"
    rm -rf "$venv"
    die "could not install e2e/mcp/requirements.txt into $venv"
  fi
  # The copy last: an install cut short is made again next time.
  cp e2e/mcp/requirements.txt "$venv/requirements.txt"
fi
exec 9>&-
npm_ci_when_stale e2e/mcp
versions=$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("mcp"))')
versions="mcp $versions (PyPI), @modelcontextprotocol/sdk $(node -p 'require("./e2e/mcp/node_modules/@modelcontextprotocol/sdk/package.json").version') (npm)"
say "$versions, playwright-core $(node -p 'require("./e2e/mcp/node_modules/playwright-core/package.json").version')"

# ------------------------------------------------------------------------------------------
# gatehouse: used as it is, never built here.
gatehouse_binary --no-build

read -r port nginx_port server_port < <(free_ports 3)
base="http://127.0.0.1:$port"
mcp_url="http://127.0.0.1:$nginx_port/mcp"
reports="http://127.0.0.1:$nginx_port/reports"
say "rendering examples/mcp/gatehouse.env and deploy/forward-auth/nginx.conf: gatehouse $base, nginx on $nginx_port, the MCP server on $server_port"
python3 e2e/mcp/render.py --out "$work" --gatehouse-port "$port" --nginx-port "$nginx_port" \
  --mcp-port "$server_port" --reports "$reports reports:read" || die "e2e/mcp/render.py failed"

# From the temporary directory, whose .env is the rendered gatehouse.env, and with nothing of
# ours from the environment but where it listens and its database.
gatehouse_env() {
  clean_gatehouse_env
  export GATEHOUSE_BIND="127.0.0.1:$port"
  export GATEHOUSE_DATABASE_URL="sqlite://$work/g.db"
}
say "gatehouse serve on $base, SQLite in $work, settings in $work/.env"
(gatehouse_env && exec "$bin" serve) >"$work/gatehouse.log" 2>&1 &
gatehouse_pid=$!
wait_http "$base/readyz" 60 "$gatehouse_pid" gatehouse || { show_logs; die "gatehouse did not become ready"; }

# The person: an active account, made next to the running server (SQLite in WAL mode allows it).
email=ann@example.com
password="a long passphrase for the mcp suite $RANDOM$RANDOM"
created=$(printf '%s\n' "$password" | (gatehouse_env && exec "$bin" user create --email "$email" --username ann --password-stdin) 2>&1) \
  || { say "$created"; die "gatehouse user create --email $email failed"; }
account_id=$(sed -n 's/^created .* (\([^)]*\)) in .*/\1/p' <<<"$created")
[ -n "$account_id" ] || die "no account id in the answer of gatehouse user create: $created"
say "the account $email ($account_id)"

say "the MCP server (examples/mcp/server.py) on 127.0.0.1:$server_port"
MCP_HOST=127.0.0.1 "$venv/bin/python" examples/mcp/server.py "$server_port" >"$work/server.log" 2>&1 &
server_pid=$!

say "nginx -p $work/nginx -c nginx.conf"
nginx -t -q -p "$work/nginx/" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" \
  || { show_logs; die "nginx -t refuses the rendered deploy/forward-auth/nginx.conf"; }
nginx -p "$work/nginx/" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" -g 'daemon off;' \
  >"$work/nginx/stdout.log" 2>&1 &
nginx_pid=$!

say "the browser (e2e/mcp/browser.mjs)"
MCP_E2E_CHROMIUM="$chromium" MCP_E2E_GATEHOUSE="$base" MCP_E2E_LOGIN="$email" MCP_E2E_PASSWORD="$password" \
  MCP_E2E_SHOTS="$work" node e2e/mcp/browser.mjs >"$work/browser.out" 2>"$work/browser.log" &
browser_pid=$!

# Ready when nginx passes the resource's metadata on from gatehouse, the MCP server listens (its
# endpoint answers something other than a refused connection) and the browser printed its port.
wait_http "http://127.0.0.1:$nginx_port/.well-known/oauth-protected-resource/mcp" 20 "$nginx_pid" nginx \
  || { show_logs; die "nginx did not pass the protected resource metadata on"; }
"$venv/bin/python" - "$server_port" "$server_pid" <<'EOF' || { show_logs; die "the MCP server did not come up"; }
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    os.kill(pid, 0)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("no answer within 20 s")
EOF
browser_port=""
for _ in $(seq 1 200); do
  browser_port=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["port"])' \
    "$work/browser.out" 2>/dev/null) && break
  kill -0 "$browser_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$browser_port" ] || { show_logs; die "the browser did not start"; }
browser="http://127.0.0.1:$browser_port"
say "ready; running e2e/mcp/python_client.py, then e2e/mcp/node_client.mjs"

# Each in the background and waited for, so that a signal to this script stops it at once; its
# lines are shown when it ends.
status=0
"$venv/bin/python" e2e/mcp/python_client.py --gatehouse "$base" --mcp "$mcp_url" --browser "$browser" \
  --account-id "$account_id" --reports "$reports" >"$work/python.out" 2>&1 &
check_pid=$!
wait "$check_pid" || status=1
cat "$work/python.out"
node e2e/mcp/node_client.mjs --gatehouse "$base" --mcp "$mcp_url" --browser "$browser" --account-id "$account_id" \
  >"$work/node.out" 2>&1 &
check_pid=$!
wait "$check_pid" || status=1
check_pid=""
cat "$work/node.out"

for name in server nginx browser; do
  pid_var="${name}_pid"
  kill -0 "${!pid_var}" 2>/dev/null || { say "error: the $name was no longer running at the end" >&2; status=1; }
done
stop_gatehouse "the checks" || status=1
passed=$(cat "$work/python.out" "$work/node.out" | grep -c '^  ok: ' || true)
failed=$(cat "$work/python.out" "$work/node.out" | grep -c '^  FAILED: ' || true)
# A client that stopped without a failed check (a crash) still fails the run.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
[ "$status" -eq 0 ] || show_logs
say "$versions"
echo "mcp: $passed passed, $failed failed"
exit "$status"
