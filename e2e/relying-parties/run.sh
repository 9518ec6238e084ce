#!/usr/bin/env bash
# gatehouse's OpenID Connect provider against three real relying-party libraries, headless, over
# HTTP: openid-client (node/openid-client.test.mjs), then openid-client again for the device
# authorization grant (node/device.test.mjs), oauth4webapi for token exchange
# (node/exchange.test.mjs), openid-client for client registration and resource indicators
# (node/registration.test.mjs), openid-client for pushed authorization requests
# (node/par.test.mjs), openid-client for DPoP with server nonces (node/dpop.test.mjs),
# openid-client and oauth4webapi for client assertions (node/private-key-jwt.test.mjs),
# openid-client with jose for back-channel logout
# (node/backchannel.test.mjs), and then Authlib with requests (python/authlib_rp.py). Each
# registers its own clients through the admin API (those of the registration test, and one of
# the client-assertion test, register themselves) and proves discovery, the authorization-code
# flow with PKCE and a nonce (the login and consent forms posted as a browser would), the ID
# token's claims, userinfo, refresh rotation,
# introspection, revocation, RP-initiated logout, client credentials and a first-party public
# client, and that gatehouse refuses what it must: unregistered or look-alike redirect URIs, plain
# or missing PKCE, a reused code or refresh token (and the tokens they gave die), another client's
# code or ID token, a wrong secret or code_verifier. The device grant (RFC 8628): the library's own
# polling, for a public and a confidential client, while the /device page is approved or denied in
# a browser; single-use codes, slow_down, and clients or scopes not registered for it. Token
# exchange (RFC 8693): a service trades a person's access token, with its own as the actor, for one
# meant for another client's API (act, the same session, introspected there and ended with the
# session); a wider scope, another client's tokens, an exchanged token again, an unknown audience,
# a missing actor or a wrong token type, and a client not registered for it are refused. Client
# registration (RFC 7591, 7592) and resource indicators (RFC 8707): clients the library registers
# are always asked consent for, get access tokens whose aud is the listed API they name (never one
# unlisted or not granted: invalid_target), cannot register a plain-http redirect URI or token
# exchange, and read, replace and remove their registration with its access token alone.
# Client assertions (private_key_jwt, RFC 7523): discovery lists the method and its algorithms;
# a client registered with an ES256 public key (by an admin) gets no secret and proves itself
# with assertions openid-client signs, for client credentials, a pushed request, the code it
# gives, a refresh, introspection and revocation; a client that registers itself with an Ed25519
# key proves itself through oauth4webapi, and an admin's client with an RSA key through Authlib
# (client credentials); the same assertion twice, one signed by another key, naming another
# server as aud, expired or unsigned (alg none), and a secret from a client with keys are
# refused (401 invalid_client).
# Back-channel logout: a client with a logout URI (the test's own receiver) hears of every way its
# session ends (RP-initiated logout, a revocation, a password change) with a logout token jose
# verifies against the JWKS (its sid the ID token's); a failed notice comes again with the same
# jti, and a client without the URI hears nothing.
#
#   e2e/relying-parties/run.sh
#       runs `npm ci` in e2e/relying-parties/node when its node_modules is missing or older than
#       its lock, installs e2e/relying-parties/python/requirements.txt into a virtualenv at
#       ~/.cache/gatehouse-authlib (again when the requirements change), builds the release
#       binary, starts `gatehouse serve` on a free port with a fresh SQLite database in a
#       temporary directory (a bootstrap admin, client registration open to anyone
#       (GATEHOUSE_CLIENT_REGISTRATION=open), two APIs a client may name as a resource
#       (GATEHOUSE_OAUTH_RESOURCES=https://api.example.com/,https://mcp.example.com/mcp), every
#       other setting at its default: rate limits on, emails to the log), runs the nine tests,
#       stops gatehouse with SIGTERM (it must exit 0) and removes everything it made.
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
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,62p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

# A relative GATEHOUSE_E2E_BIN is taken from where the script was started.
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")"

say_as relying-parties

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
venv="${GATEHOUSE_RP_VENV:-$HOME/.cache/gatehouse-authlib}"

# A failure names each log it shows by its whole path.
show_log_full_paths=1

# On the way out, after the test has been stopped: a gatehouse still running fails the run, and
# a failure shows the end of gatehouse's log.
check_gatehouse_stopped() {
  if [ -n "$gatehouse_pid" ] && kill -0 "$gatehouse_pid" 2>/dev/null; then
    stop "$gatehouse_pid"
    [ "$cleanup_status" -ne 0 ] || cleanup_status=1
    say "error: gatehouse was still running at the end" >&2
  fi
  [ "$cleanup_status" -eq 0 ] || show_log "$log"
}

# The temporary directory and the cleanup on the way out.
gatehouse_pid="" test_pid=""
cleanup_pids=(test_pid)
cleanup_hooks=(check_gatehouse_stopped)
make_work_dir gatehouse-rp GATEHOUSE_E2E_KEEP "gatehouse.db, gatehouse.log"
log="$work/gatehouse.log"

need_tools node npm python3

# ------------------------------------------------------------------------------------------
# The libraries.
npm_ci_when_stale e2e/relying-parties/node
say "openid-client $(node -p 'require("./node/node_modules/openid-client/package.json").version'), oauth4webapi $(node -p 'require("./node/node_modules/oauth4webapi/package.json").version'), jose $(node -p 'require("./node/node_modules/jose/package.json").version')"

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
gatehouse_binary

port=$(free_ports 1)
base="http://127.0.0.1:$port"
admin_email=admin@example.com
admin_password="relying parties admin $RANDOM$RANDOM$RANDOM"

say "gatehouse serve on $base, SQLite in $work"
(
  # The temporary directory as working directory (no .env or gatehouse.toml of the clone is
  # read) and none of our environment's gatehouse settings but these.
  clean_gatehouse_env
  export GATEHOUSE_BIND="127.0.0.1:$port"
  export GATEHOUSE_PUBLIC_URL="$base"
  export GATEHOUSE_DATABASE_URL="sqlite://$work/gatehouse.db"
  export GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password"
  export GATEHOUSE_CLIENT_REGISTRATION=open GATEHOUSE_OAUTH_RESOURCES="https://api.example.com/,https://mcp.example.com/mcp"
  export GATEHOUSE_DPOP_NONCE=true
  exec "$bin" serve
) >"$log" 2>&1 &
gatehouse_pid=$!
wait_http "$base/healthz" 60 "$gatehouse_pid" gatehouse || die "gatehouse did not answer /healthz"
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

say "device grant with openid-client (node/device.test.mjs)"
node node/device.test.mjs &
test_pid=$!
wait "$test_pid" || failed="$failed device-grant"
test_pid=""

say "token exchange with oauth4webapi (node/exchange.test.mjs)"
node node/exchange.test.mjs &
test_pid=$!
wait "$test_pid" || failed="$failed token-exchange"
test_pid=""

say "client registration and resource indicators with openid-client (node/registration.test.mjs)"
node node/registration.test.mjs &
test_pid=$!
wait "$test_pid" || failed="$failed registration"
test_pid=""

say "pushed authorization requests with openid-client (node/par.test.mjs)"
node node/par.test.mjs &
test_pid=$!
wait "$test_pid" || failed="$failed pushed-requests"
test_pid=""

say "DPoP with openid-client (node/dpop.test.mjs)"
node node/dpop.test.mjs &
test_pid=$!
wait "$test_pid" || failed="$failed DPoP"
test_pid=""

say "client assertions (private_key_jwt) with openid-client and oauth4webapi (node/private-key-jwt.test.mjs)"
node node/private-key-jwt.test.mjs &
test_pid=$!
wait "$test_pid" || failed="$failed private_key_jwt"
test_pid=""

say "back-channel logout verified with jose (node/backchannel.test.mjs)"
node node/backchannel.test.mjs &
test_pid=$!
wait "$test_pid" || failed="$failed backchannel-logout"
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
say "relying parties: passed (openid-client, device grant, token exchange, client registration, pushed requests, DPoP, private_key_jwt, back-channel logout, Authlib)"
