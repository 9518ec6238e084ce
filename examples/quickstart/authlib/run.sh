#!/usr/bin/env bash
# The Authlib quickstart (app.py) end to end: a virtualenv with requirements.txt (Authlib and
# requests from PyPI, pinned), gatehouse on a free port with a fresh SQLite database and a
# bootstrap admin, a person and the app registered through the admin API, app.py on another
# free port, then a browser without JavaScript (../relying_party_check.py) logs in through
# gatehouse's login page: the authorization code flow with PKCE, the ID token with its
# signature checked, userinfo, refresh, logout. One line per check; gatehouse must exit 0 on
# SIGTERM.
#
#   examples/quickstart/authlib/run.sh
#
# The virtualenv is ~/.cache/gatehouse-quickstart-authlib (GATEHOUSE_QUICKSTART_VENV), made
# anew when requirements.txt changes.
#
# Exit status: 0 when every check passed; 1 otherwise (the last lines of the logs are printed);
# 2 on a usage error. Environment: as ../lib.sh says (GATEHOUSE_E2E_BIN, GATEHOUSE_E2E_KEEP).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
qs_begin authlib "$@"
cd "$QS_HERE"

venv="${GATEHOUSE_QUICKSTART_VENV:-$HOME/.cache/gatehouse-quickstart-authlib}"
if ! cmp -s requirements.txt "$venv/requirements.txt" || [[ ! -x "$venv/bin/python" ]]; then
  say "installing requirements.txt into $venv"
  rm -rf "$venv"
  { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt; } \
    >"$QS_WORK/pip.log" 2>&1 || die "could not install requirements.txt into $venv"
  cp requirements.txt "$venv/requirements.txt"
fi
say "Authlib $("$venv/bin/python" -c 'import authlib; print(authlib.__version__)'), requests $("$venv/bin/python" -c 'import requests; print(requests.__version__)'), $("$venv/bin/python" --version)"

qs_gatehouse
qs_admin_token

# A person to log in as, and the app, registered as docs/INTEGRATING.md shows with curl.
email=bob@example.com
password="quickstart bob $(python3 -c 'import secrets; print(secrets.token_hex(12))')"
qs_api POST /admin/users "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Bob Example\"}"
[[ "$QS_STATUS" == 201 ]] || fail "POST /admin/users: bob is created" "answered $QS_STATUS: $(head -c 300 "$QS_BODY")"
account=$(qs_field id)
ok "POST /admin/users: bob is created, active"

app_url="http://127.0.0.1:$(qs_free_port)"
qs_api POST /admin/clients "{\"name\":\"Quickstart (Authlib)\",\"redirect_uris\":[\"$app_url/callback\"],
  \"post_logout_redirect_uris\":[\"$app_url/\"],\"scopes\":[\"openid\",\"profile\",\"email\",\"offline_access\"],\"first_party\":true}"
[[ "$QS_STATUS" == 201 ]] || fail "POST /admin/clients: the app is registered" "answered $QS_STATUS: $(head -c 300 "$QS_BODY")"
client_id=$(qs_field client_id)
client_secret=$(qs_field client_secret)
[[ -n "$client_id" && -n "$client_secret" ]] || fail "POST /admin/clients: a client id and a secret"
ok "POST /admin/clients: the app is registered (a client id, and its secret shown once)"

qs_start app env APP_URL="$app_url" GATEHOUSE_ISSUER="$ISSUER" CLIENT_ID="$client_id" CLIENT_SECRET="$client_secret" \
  "$venv/bin/python" app.py
qs_wait_http "$app_url/" "$QS_STARTED_PID" || fail "python app.py answers on $app_url" "it did not start"
ok "python app.py answers on $app_url (discovery done)"

QUICKSTART_PASSWORD="$password" qs_checks python3 ../relying_party_check.py \
  --app "$app_url" --gatehouse "$ISSUER" --email "$email" --account "$account"
qs_end
