#!/usr/bin/env bash
# The TypeScript client quickstart (quickstart.mjs) end to end: the client is packed as a user
# of it would get it (`npm ci` and `npm pack` in clients/typescript: the package's `prepare`
# builds dist/) and installed here from that tarball, not from its sources; then quickstart.mjs
# runs twice against a fresh gatehouse each time (free port, fresh SQLite database, emails in
# its JSON log): with the defaults, where signUp returns the pending account, and with
# GATEHOUSE_SIGNUP_CONCEAL_EXISTING=true, where it returns null. Each line quickstart.mjs
# prints is checked; gatehouse must exit 0 on SIGTERM.
#
#   examples/quickstart/typescript-client/run.sh
#
# No lockfile here: the only dependency is the tarball, whose own dependency (jose) the client
# pins exactly, and a lockfile would hold the checksum of one build of it.
#
# Exit status: 0 when every check passed; 1 otherwise (the last lines of the logs are printed);
# 2 on a usage error. Environment: as ../lib.sh says (GATEHOUSE_E2E_BIN, GATEHOUSE_E2E_KEEP).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
qs_begin typescript-client "$@"
cd "$QS_HERE"

command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed and not on PATH"
client="$QS_ROOT/clients/typescript"
if [[ ! -d "$client/node_modules" || "$client/package-lock.json" -nt "$client/node_modules" ]]; then
  say "npm ci in clients/typescript"
  (cd "$client" && npm ci --no-audit --no-fund --loglevel=error) >"$QS_WORK/npm.log" 2>&1 || die "npm ci failed in clients/typescript"
  touch "$client/node_modules"
fi
(cd "$client" && npm pack --pack-destination "$QS_WORK" --loglevel=error) >"$QS_WORK/npm.log" 2>&1 || die "npm pack failed in clients/typescript"
tarball=$(ls "$QS_WORK"/gatehouse-client-*.tgz)
ok "npm pack in clients/typescript: $(basename "$tarball") ($(tar tzf "$tarball" | grep -c '^package/dist/') files in dist/)"
rm -rf node_modules
npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$tarball" >"$QS_WORK/npm.log" 2>&1 \
  || die "npm install of the tarball failed"
ok "npm install $(basename "$tarball"): gatehouse-client $(node -p 'require("./node_modules/gatehouse-client/package.json").version'), jose $(node -p 'require("./node_modules/jose/package.json").version')"

# run_quickstart FIRST_LINE: runs quickstart.mjs against the gatehouse that runs, and checks its
# lines: FIRST_LINE (a pattern) for the sign-up, then the same five for everyone.
email='ann-[0-9a-f]{8}@example\.com'
run_quickstart() {
  local line=0 pattern out="$QS_WORK/quickstart.out"
  GATEHOUSE_ISSUER="$ISSUER" LOG_FILE="$QS_GATEHOUSE_LOG" node quickstart.mjs >"$out" 2>"$QS_WORK/quickstart.log" \
    || fail "node quickstart.mjs exits 0" "$(tail -n 3 "$QS_WORK/quickstart.log")"
  for pattern in "$1" "^activated: $email\$" '^logged in: an access token for 900 s, and a refresh token$' \
    "^GET /user: $email, active\$" '^refreshed: a new access token$' '^logged out: the last access token now gets 401$'; do
    line=$((line + 1))
    sed -n "${line}p" "$out" | grep -Eq -- "$pattern" \
      || fail "quickstart.mjs, line $line matches $pattern" "it printed: $(sed -n "${line}p" "$out")"
    ok "quickstart.mjs: $(sed -n "${line}p" "$out")"
  done
}

qs_gatehouse
run_quickstart "^signed up: $email, pending\$"
qs_gatehouse_stop

qs_gatehouse GATEHOUSE_SIGNUP_CONCEAL_EXISTING=true
run_quickstart '^signed up: 202, no account in the answer$'
qs_end
