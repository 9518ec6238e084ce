#!/usr/bin/env bash
# The "testing without a browser" quickstart (app.test.mjs) end to end: gatehouse runs with
# GATEHOUSE_DEV=true on a free loopback port and a fresh SQLite database, and `node --test`
# runs the test file, whose `gatehouse dev token` calls share the server's settings (the same
# environment). Then the refusals: `gatehouse dev token` without GATEHOUSE_DEV exits 1 and says
# why, and a server with GATEHOUSE_DEV=true on a public URL that is not loopback does not start
# (exit 2).
#
#   examples/quickstart/dev-token/run.sh
#
# Exit status: 0 when every check passed; 1 otherwise (the last lines of the logs are printed);
# 2 on a usage error. Environment: as ../lib.sh says (GATEHOUSE_E2E_BIN, GATEHOUSE_E2E_KEEP).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
qs_begin dev-token "$@"
cd "$QS_HERE"
command -v node >/dev/null || die "node is needed and not on PATH"

qs_gatehouse GATEHOUSE_DEV=true
database="sqlite://$QS_WORK/gatehouse.db"
# What the test file's `gatehouse dev token` reads: the server's own settings.
dev_env=(env -i "PATH=$PATH" "HOME=$HOME" "GATEHOUSE=$QS_BIN" "GATEHOUSE_ISSUER=$ISSUER"
  "GATEHOUSE_DATABASE_URL=$database" "GATEHOUSE_PUBLIC_URL=$ISSUER")

"${dev_env[@]}" GATEHOUSE_DEV=true node --test app.test.mjs >"$QS_WORK/test.out" 2>&1 \
  || fail "node --test app.test.mjs passes" "$(grep -E 'not ok|Error|error' "$QS_WORK/test.out" | head -n 5)"
grep -q '^# pass 2$' "$QS_WORK/test.out" || fail "node --test app.test.mjs: 2 tests passed" "$(tail -n 8 "$QS_WORK/test.out")"
ok "node --test app.test.mjs: 2 passed (a test user's token accepted by GET /user; aal 2 with --second-factor)"

status=0
"${dev_env[@]}" "$QS_BIN" dev token --email tess@example.com >"$QS_WORK/off.out" 2>"$QS_WORK/off.err" || status=$?
[[ $status -eq 1 ]] && grep -q 'GATEHOUSE_DEV=true' "$QS_WORK/off.err" \
  || fail "without GATEHOUSE_DEV, gatehouse dev token is refused (exit 1) and says why" "exit $status: $(cat "$QS_WORK/off.err")"
[[ ! -s "$QS_WORK/off.out" ]] || fail "the refusal prints no token"
ok "without GATEHOUSE_DEV: exit 1, $(grep -o 'gatehouse dev token logs people in without a password' "$QS_WORK/off.err")"

status=0
env -i "PATH=$PATH" GATEHOUSE_DEV=true GATEHOUSE_PUBLIC_URL=https://auth.example.com \
  "GATEHOUSE_DATABASE_URL=$database" "$QS_BIN" serve >"$QS_WORK/public.log" 2>&1 || status=$?
[[ $status -eq 2 ]] || fail "a server with GATEHOUSE_DEV=true on https://auth.example.com does not start (exit 2)" "exit $status"
ok "GATEHOUSE_DEV=true with a public URL that is not loopback: the start is refused (exit 2)"

qs_end
