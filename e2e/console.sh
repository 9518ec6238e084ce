#!/usr/bin/env bash
# The admin console at /admin, the account page at /account with passkeys and social login,
# single sign-on through an organization's SAML identity provider, an organization's settings
# page at /orgs/{slug}/settings and the device grant's page at /device, driven in a real headless
# Chromium (e2e/console/console.test.mjs, e2e/console/account.test.mjs with DevTools' virtual
# authenticators, then e2e/console/sso.test.mjs, e2e/console/org.test.mjs and
# e2e/console/device.test.mjs; playwright-core and Debian's chromium, no browser is downloaded).
#
#   e2e/console.sh
#       installs chromium with apt-get when /usr/bin/chromium is missing (as root; without root
#       or network it prints "skipped: …" and exits 0), runs `npm ci` in e2e/console (and in
#       e2e/oidc when its packages are missing or older than its lock), makes the SAML identity
#       provider's virtualenv and xmlsec1 with e2e/saml/setup.sh (idempotent), builds the release
#       binary, starts the OpenID Connect provider e2e/oidc/provider.mjs on a free port, then
#       `gatehouse serve` on another with a fresh SQLite database in a temporary directory (a
#       bootstrap admin, rate limits off, emails to the log, the provider as the trusted social
#       login "idp"), creates a few accounts with `gatehouse user create`, starts a second
#       `gatehouse serve` on a third port, alike but with a database of its own and
#       GATEHOUSE_REAUTH_WINDOW=2s (for the console's step-up test, which must outwait the
#       window), runs the console and account tests and stops both servers and the provider.
#       The public URL is http://localhost:PORT, so that passkeys work (their relying party
#       cannot be an IP address); the tests' own API calls go to 127.0.0.1.
#       The single sign-on test then brings up what it needs itself, with the same binary: a
#       gatehouse of its own (its settings differ: a DNS server of the test's for the domain's
#       TXT record, the app the login goes on to in GATEHOUSE_REDIRECT_ALLOW, and
#       GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true to fetch the identity provider's metadata from
#       loopback), the identity provider e2e/saml/idp_server.py and a DNS server, and stops them.
#       The organization settings test does the same with a stack of its own, alike. The device
#       grant's test then brings up a gatehouse of its own alone (a bootstrap admin, rate limits
#       off): a TV's request, approved on /device after a login with an authenticator app's code,
#       and a second one denied, the TV's side through the API.
#       Screenshots of each step land in target/console-screenshots/.
#
# Exit status: the tests' (0 all passed, 1 a step failed), 1 when the stack cannot be brought
# up, 0 with "skipped: …" when Chromium is missing and cannot be installed.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/gatehouse-target); GATEHOUSE_E2E_BIN, a
# gatehouse binary to use instead of building one; GATEHOUSE_E2E_CHROMIUM (default
# /usr/bin/chromium); GATEHOUSE_SAML_VENV (default ~/.cache/gatehouse-saml-venv, see
# e2e/saml/setup.sh); GATEHOUSE_E2E_KEEP=1 keeps the temporary directory (databases and logs).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."

say_as console

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
chromium="${GATEHOUSE_E2E_CHROMIUM:-/usr/bin/chromium}"
screenshots="$PWD/target/console-screenshots"

# The temporary directory and what stops on the way out, in this order.
gatehouse_pid="" reauth_pid="" provider_pid="" test_pid=""
cleanup_pids=(test_pid gatehouse_pid reauth_pid provider_pid)
make_work_dir gatehouse-console GATEHOUSE_E2E_KEEP \
  "gh.db, gatehouse.log, reauth.db, gatehouse-reauth.log, provider.log; sso/ and org/: gh.db, gatehouse.log, idp.log; device/: gh.db, gatehouse.log"

# ------------------------------------------------------------------------------------------
# The browser.
if [ ! -x "$chromium" ]; then
  [ "$chromium" = /usr/bin/chromium ] || die "GATEHOUSE_E2E_CHROMIUM=$chromium is not an executable"
  [ "$(id -u)" -eq 0 ] || skip "$chromium is missing and installing it needs root (apt-get install chromium chromium-driver)"
  command -v apt-get >/dev/null || skip "$chromium is missing and there is no apt-get to install it"
  say "installing chromium and chromium-driver with apt-get"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
    >"$work/apt.log" 2>&1; then
    skip "$chromium is missing and apt-get could not install it (no network?): $(tail -n 1 "$work/apt.log")"
  fi
  [ -x "$chromium" ] || skip "apt-get installed chromium but $chromium is still missing"
fi
say "$("$chromium" --version 2>/dev/null | head -n 1)"

need_tools node npm python3

say "npm ci in e2e/console"
(cd e2e/console && npm ci --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1) \
  || { show_log "$work/npm.log"; die "npm ci failed in e2e/console"; }
# The provider's packages, as e2e/oidc/run.sh installs them.
if [[ ! -d e2e/oidc/node_modules || e2e/oidc/package-lock.json -nt e2e/oidc/node_modules ]]; then
  say "npm ci in e2e/oidc"
  (cd e2e/oidc && npm ci --no-audit --no-fund --loglevel=error >"$work/npm-oidc.log" 2>&1) \
    || { show_log "$work/npm-oidc.log"; die "npm ci failed in e2e/oidc"; }
fi

# The SAML identity provider of the single sign-on test: xmlsec1 and pysaml2's virtualenv.
say "SAML identity provider's virtualenv (e2e/saml/setup.sh)"
if ! saml_python=$(e2e/saml/setup.sh 2>"$work/saml-setup.log" | tail -n 1) || [ ! -x "$saml_python" ]; then
  show_log "$work/saml-setup.log"
  die "e2e/saml/setup.sh failed"
fi

# ------------------------------------------------------------------------------------------
# gatehouse.
gatehouse_binary

# The main server's port and the step-up server's.
read -r port reauth_port < <(free_ports 2)
base="http://127.0.0.1:$port"
public="http://localhost:$port"
reauth_base="http://127.0.0.1:$reauth_port"

# ------------------------------------------------------------------------------------------
# The OpenID Connect provider of the social login, before gatehouse (which reads its discovery
# document at the first login through it). It prints {"issuer":…,"port":…} once listening.
say "OpenID Connect provider (e2e/oidc/provider.mjs) for the callback $public/auth/oidc/idp/callback"
REDIRECT_URIS="$public/auth/oidc/idp/callback" PORT=0 node e2e/oidc/provider.mjs \
  >"$work/provider.out" 2>"$work/provider.log" &
provider_pid=$!
issuer=""
for _ in $(seq 1 300); do
  issuer=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["issuer"])' \
    "$work/provider.out" 2>/dev/null) && break
  kill -0 "$provider_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$issuer" ] || { show_log "$work/provider.log"; die "the OpenID Connect provider did not start"; }
wait_http "$issuer/.well-known/openid-configuration" 10 "$provider_pid" \
  || { show_log "$work/provider.log"; die "the OpenID Connect provider at $issuer does not answer"; }
say "OpenID Connect provider at $issuer"

admin_email=admin@example.com
admin_password="correct horse battery staple console $RANDOM$RANDOM"
user_password="a long user passphrase $RANDOM$RANDOM"

# The environment gatehouse runs in, for a subshell that then execs it: the temporary
# directory as working directory (so no .env or gatehouse.toml of the clone is read) and nothing
# of ours from the environment but the settings below. Arguments: the port (default $port) and
# the database file in $work (default gh.db).
gatehouse_env() {
  local listen=${1:-$port} database=${2:-gh.db}
  clean_gatehouse_env
  export GATEHOUSE_BIND="127.0.0.1:$listen"
  export GATEHOUSE_PUBLIC_URL="http://localhost:$listen"
  export GATEHOUSE_DATABASE_URL="sqlite://$work/$database"
  export GATEHOUSE_RATE_LIMIT=off
  export GATEHOUSE_LOG=info
  export GATEHOUSE_OIDC_IDP_ISSUER="$issuer"
  export GATEHOUSE_OIDC_IDP_CLIENT_ID=gatehouse
  export GATEHOUSE_OIDC_IDP_CLIENT_SECRET=gatehouse-secret
  export GATEHOUSE_OIDC_IDP_TRUST_EMAIL=true
}

say "gatehouse serve on $base, SQLite in $work"
(
  gatehouse_env
  export GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password"
  exec "$bin" serve
) >"$work/gatehouse.log" 2>&1 &
gatehouse_pid=$!
wait_http "$base/readyz" 60 "$gatehouse_pid" || { show_log "$work/gatehouse.log"; die "gatehouse did not become ready"; }

# Active accounts, made next to the running server (SQLite in WAL mode allows it).
for who in ann bob carol; do
  printf '%s\n' "$user_password" \
    | (gatehouse_env && exec "$bin" user create --email "$who@example.com" --username "$who" --password-stdin) \
      >>"$work/users.log" 2>&1 \
    || { show_log "$work/users.log"; die "gatehouse user create --email $who@example.com failed"; }
done
say "ready, with accounts ann, bob and carol"

# The step-up server: the same settings and admin, a database of its own, and a re-authentication
# window short enough for a test to outwait. Only the console's step-up steps use it.
say "gatehouse serve on $reauth_base with GATEHOUSE_REAUTH_WINDOW=2s, SQLite in $work/reauth.db"
(
  gatehouse_env "$reauth_port" reauth.db
  export GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password"
  export GATEHOUSE_REAUTH_WINDOW=2s
  exec "$bin" serve
) >"$work/gatehouse-reauth.log" 2>&1 &
reauth_pid=$!
wait_http "$reauth_base/readyz" 60 "$reauth_pid" \
  || { show_log "$work/gatehouse-reauth.log"; die "the step-up gatehouse did not become ready"; }

# Each in the background and waited for, so that a signal to this script stops it at once.
status=0
for test in console account; do
  say "running e2e/console/$test.test.mjs"
  GATEHOUSE_E2E_BASE="$base" GATEHOUSE_E2E_PAGE_BASE="$public" GATEHOUSE_E2E_REAUTH_BASE="$reauth_base" \
    GATEHOUSE_E2E_ADMIN_EMAIL="$admin_email" GATEHOUSE_E2E_ADMIN_PASSWORD="$admin_password" \
    GATEHOUSE_E2E_USER_PASSWORD="$user_password" GATEHOUSE_E2E_LOG="$work/gatehouse.log" \
    GATEHOUSE_E2E_OIDC_ISSUER="$issuer" \
    GATEHOUSE_E2E_CHROMIUM="$chromium" GATEHOUSE_E2E_SCREENSHOTS="$screenshots" \
    node "e2e/console/$test.test.mjs" &
  test_pid=$!
  wait "$test_pid" || status=$?
  test_pid=""
done

# Single sign-on: the test starts its own gatehouse, identity provider and DNS server (see above),
# and shows their logs when a step fails.
say "running e2e/console/sso.test.mjs (a gatehouse, an identity provider and a DNS server of its own)"
GATEHOUSE_E2E_BIN="$bin" GATEHOUSE_E2E_SAML_PYTHON="$saml_python" GATEHOUSE_E2E_WORK="$work/sso" \
  GATEHOUSE_E2E_CHROMIUM="$chromium" GATEHOUSE_E2E_SCREENSHOTS="$screenshots" \
  node e2e/console/sso.test.mjs &
test_pid=$!
wait "$test_pid" || status=$?
test_pid=""

# The organization's settings page: likewise a gatehouse, an identity provider and a DNS server of
# its own, with the same settings as the single sign-on test's.
say "running e2e/console/org.test.mjs (a gatehouse, an identity provider and a DNS server of its own)"
GATEHOUSE_E2E_BIN="$bin" GATEHOUSE_E2E_SAML_PYTHON="$saml_python" GATEHOUSE_E2E_WORK="$work/org" \
  GATEHOUSE_E2E_CHROMIUM="$chromium" GATEHOUSE_E2E_SCREENSHOTS="$screenshots" \
  node e2e/console/org.test.mjs &
test_pid=$!
wait "$test_pid" || status=$?
test_pid=""

# The device grant's page: a gatehouse of its own, alone (no identity provider, no DNS server).
say "running e2e/console/device.test.mjs (a gatehouse of its own)"
GATEHOUSE_E2E_BIN="$bin" GATEHOUSE_E2E_WORK="$work/device" \
  GATEHOUSE_E2E_CHROMIUM="$chromium" GATEHOUSE_E2E_SCREENSHOTS="$screenshots" \
  node e2e/console/device.test.mjs &
test_pid=$!
wait "$test_pid" || status=$?
test_pid=""

kill -0 "$gatehouse_pid" 2>/dev/null || { say "error: gatehouse was no longer running at the end" >&2; status=1; }
kill -0 "$reauth_pid" 2>/dev/null || { say "error: the step-up gatehouse was no longer running at the end" >&2; status=1; }
kill -0 "$provider_pid" 2>/dev/null || { say "error: the OpenID Connect provider was no longer running at the end" >&2; status=1; }
[ "$status" -eq 0 ] || { show_log "$work/gatehouse.log"; show_log "$work/gatehouse-reauth.log"; show_log "$work/provider.log"; }
say "screenshots in $screenshots"
say "console: $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
exit "$status"
