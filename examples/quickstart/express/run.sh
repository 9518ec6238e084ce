#!/usr/bin/env bash
# The Express quickstart (server.mjs), end to end: builds gatehouse-middleware
# (clients/node-middleware) and installs the quickstart's dependencies, starts `gatehouse serve`
# on a free port with a fresh SQLite database in a temporary directory, makes a user with
# `gatehouse user create`, starts server.mjs on another free port, then checks its answers:
#
#   GET  /            without a token        200
#   GET  /api/me      without a token        401, gatehouse's problem document, WWW-Authenticate
#   GET  /api/me      with the user's token  200 and the account's id, email and role
#   GET  /api/orders  with the token         200 (gatehouse confirms the session)
#   POST /api/payouts with the token         403 insufficient_aal (one factor; the route needs two)
#   then the user logs out (DELETE /auth at gatehouse), and
#   GET  /api/orders  with the token         401: the live check sees the logout at once
#   GET  /api/me      with the token         200: offline, the token holds until it expires
#
# and stops both with SIGTERM (gatehouse must exit 0).
#
# Exit status: 0 when every answer was the one expected; 1 otherwise (the last lines of the
# logs are printed); 2 on a usage error.
#
# Environment: as ../lib.sh says (GATEHOUSE_E2E_BIN, GATEHOUSE_E2E_KEEP).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
qs_begin express "$@"
cd "$QS_HERE"
package="$QS_ROOT/clients/node-middleware"
for tool in node npm; do
  command -v "$tool" >/dev/null || die "$tool is needed and not on PATH"
done

# clients/node-middleware, and the Express quickstart that builds it in place, are one workshop:
# suites running side by side (CI's two lanes) take turns in it, the first holding it for all
# it runs.
if [[ -z ${GATEHOUSE_NODE_MIDDLEWARE_HELD:-} ]]; then
  exec 7>"${TMPDIR:-/tmp}/gatehouse-node-middleware.lock"
  flock 7
  export GATEHOUSE_NODE_MIDDLEWARE_HELD=1
fi

# The package (linked by path from package.json, so built in place) and the quickstart's own
# dependencies.
if [[ ! -d $package/node_modules || $package/package-lock.json -nt $package/node_modules ]]; then
  say "npm ci in clients/node-middleware"
  (cd "$package" && npm ci --no-audit --no-fund --loglevel=error) >"$QS_WORK/npm.log" 2>&1 \
    || die "npm ci failed in clients/node-middleware"
  touch "$package/node_modules"
fi
(cd "$package" && npm run --silent build) >"$QS_WORK/npm.log" 2>&1 || die "gatehouse-middleware does not build"
ok "gatehouse-middleware builds (npm run build)"
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  say "npm ci in examples/quickstart/express"
  npm ci --no-audit --no-fund --loglevel=error >"$QS_WORK/npm.log" 2>&1 || die "npm ci failed in examples/quickstart/express"
  touch node_modules
fi

# gatehouse, with a user.
qs_gatehouse
email=ann@example.com
password="quickstart $RANDOM$RANDOM$RANDOM lantern"
printf '%s\n' "$password" | (cd "$QS_WORK" && GATEHOUSE_DATABASE_URL="sqlite://$QS_WORK/gatehouse.db" \
  "$QS_BIN" user create --email "$email" --password-stdin) >"$QS_WORK/user-create.log" 2>&1 \
  || fail "gatehouse user create --email $email" "$(tail -n 3 "$QS_WORK/user-create.log")"
ok "gatehouse user create --email $email"

# The API.
api_port=$(qs_free_port)
api="http://127.0.0.1:$api_port"
qs_start api env PORT="$api_port" GATEHOUSE_ISSUER="$ISSUER" node server.mjs
qs_wait_http "$api/" "$QS_STARTED_PID" || die "server.mjs did not come up on $api"
say "node server.mjs on $api"

qs_checks node --input-type=module - "$ISSUER" "$api" "$email" "$password" <<'EOF'
const [gatehouse, api, email, password] = process.argv.slice(2);
const fail = (message) => {
  console.log(`FAIL ${message}`);
  process.exit(1);
};
// A request to the API, whose answer must have the status `want`; `check` tests its JSON body.
const expect = async (want, method, url, token, check = () => true) => {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const response = await fetch(url, { method, headers });
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    fail(`${method} ${url} answered ${response.status} with something other than JSON: ${text.slice(0, 200)}`);
  }
  const what = `${method} ${new URL(url).pathname} ${token ? "with the token" : "without a token"}`;
  if (response.status !== want || !check(body, response.headers)) {
    fail(`${what} answered ${response.status} ${text.slice(0, 300)}, not ${want} as expected`);
  }
  console.log(`ok   ${what}: ${response.status} ${body?.code ?? JSON.stringify(body)}`);
  return body;
};
const problem = (code) => (body, headers) =>
  body?.code === code &&
  body.type === `urn:gatehouse:problem:${code}` &&
  /^application\/problem\+json/.test(headers.get("content-type") ?? "");

await expect(200, "GET", `${api}/`);
await expect(401, "GET", `${api}/api/me`, undefined, (body, headers) =>
  problem("unauthorized")(body, headers) && /^Bearer/.test(headers.get("www-authenticate") ?? ""));

const login = await fetch(`${gatehouse}/auth`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email, password }),
});
if (login.status !== 200) fail(`POST /auth at gatehouse answered ${login.status}`);
const token = (await login.json()).access_token;
console.log(`ok   POST /auth at gatehouse as ${email}: 200, an access token`);

const me = await expect(200, "GET", `${api}/api/me`, token, (body) => body.email === email && body.role === "user");
await expect(200, "GET", `${api}/api/orders`, token, (body) => body.account === me.id);
await expect(403, "POST", `${api}/api/payouts`, token, problem("insufficient_aal"));

const logout = await fetch(`${gatehouse}/auth`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
if (logout.status !== 204) fail(`DELETE /auth at gatehouse answered ${logout.status}`);
console.log("ok   DELETE /auth at gatehouse (logout): 204");

await expect(401, "GET", `${api}/api/orders`, token, problem("unauthorized"));
await expect(200, "GET", `${api}/api/me`, token, (body) => body.id === me.id);
EOF

qs_end
