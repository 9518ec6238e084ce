#!/usr/bin/env bash
# The openid-client quickstart (app.mjs) end to end: `npm ci` (openid-client from the lockfile),
# gatehouse on a free port with a fresh SQLite database and a bootstrap admin, a person and the
# app registered through the admin API, app.mjs on another free port, then a browser without
# JavaScript (../relying_party_check.py) logs in through gatehouse's login page: the
# authorization code flow with PKCE, the ID token with its signature checked, userinfo,
# refresh, logout. One line per check; gatehouse must exit 0 on SIGTERM.
#
#   examples/quickstart/openid-client/run.sh
#
# Exit status: 0 when every check passed; 1 otherwise (the last lines of the logs are printed);
# 2 on a usage error. Environment: as ../lib.sh says (GATEHOUSE_E2E_BIN, GATEHOUSE_E2E_KEEP).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
qs_begin openid-client "$@"
cd "$QS_HERE"

command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed and not on PATH"
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  say "npm ci in examples/quickstart/openid-client"
  npm ci --no-audit --no-fund --loglevel=error >"$QS_WORK/npm.log" 2>&1 || die "npm ci failed"
  touch node_modules
fi
say "openid-client $(node -p 'require("./node_modules/openid-client/package.json").version'), Node.js $(node --version)"

qs_gatehouse
qs_admin_token

# A person to log in as, and the app, registered as docs/INTEGRATING.md shows with curl.
email=ann@example.com
password="quickstart ann $(python3 -c 'import secrets; print(secrets.token_hex(12))')"
qs_api POST /admin/users "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Ann Example\"}"
[[ "$QS_STATUS" == 201 ]] || fail "POST /admin/users: ann is created" "answered $QS_STATUS: $(head -c 300 "$QS_BODY")"
account=$(qs_field id)
ok "POST /admin/users: ann is created, active"

app_url="http://127.0.0.1:$(qs_free_port)"
qs_api POST /admin/clients "{\"name\":\"Quickstart (openid-client)\",\"redirect_uris\":[\"$app_url/callback\"],
  \"post_logout_redirect_uris\":[\"$app_url/\"],\"scopes\":[\"openid\",\"profile\",\"email\",\"offline_access\"],\"first_party\":true}"
[[ "$QS_STATUS" == 201 ]] || fail "POST /admin/clients: the app is registered" "answered $QS_STATUS: $(head -c 300 "$QS_BODY")"
client_id=$(qs_field client_id)
client_secret=$(qs_field client_secret)
[[ -n "$client_id" && -n "$client_secret" ]] || fail "POST /admin/clients: a client id and a secret"
ok "POST /admin/clients: the app is registered (a client id, and its secret shown once)"

qs_start app env APP_URL="$app_url" GATEHOUSE_ISSUER="$ISSUER" CLIENT_ID="$client_id" CLIENT_SECRET="$client_secret" node app.mjs
qs_wait_http "$app_url/" "$QS_STARTED_PID" || fail "node app.mjs answers on $app_url" "it did not start"
ok "node app.mjs answers on $app_url (discovery done)"

QUICKSTART_PASSWORD="$password" qs_checks python3 ../relying_party_check.py \
  --app "$app_url" --gatehouse "$ISSUER" --email "$email" --account "$account"
qs_end
