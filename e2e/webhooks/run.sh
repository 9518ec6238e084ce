#!/usr/bin/env bash
# gatehouse's webhooks against real receivers (e2e/webhooks/webhooks.test.mjs), with the release
# binary: every request verified by the Standard Webhooks reference library (npm
# standardwebhooks) and refused once altered or under another endpoint's secret; exactly the
# committed changes of three accounts changing at once, each account's in order, refused changes
# never; a receiver that answers 503 or is not listening gets the same event on the retry; kill -9
# of gatehouse while a delivery is in flight loses nothing (sent again once its 30 s claim runs
# out, with the same webhook-id); a replay repeats the webhook-id.
#
#   e2e/webhooks/run.sh
#       runs `npm ci` when node_modules is missing or older than package-lock.json, checks the
#       binary, makes a temporary directory and runs the tests with `node --test`. The tests
#       start `gatehouse serve` themselves on a free port with a fresh SQLite database in that
#       directory (one of them kills it with SIGKILL and starts it again on the same database
#       and port), and stop it with SIGTERM at the end (it must exit 0). Takes about 80 s: the
#       kill waits out a 30 s claim, and one account's deliveries go about one a second.
#
# gatehouse runs with its defaults (rate limits on, emails to the log, the delivery worker's
# lease, retries and timeouts as built) but for:
#   GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true  only because the receivers listen on loopback, which
#                                         the guard against private networks (SSRF) refuses by
#                                         default
#   GATEHOUSE_LOG_FORMAT=json             the tests read the activation links from the log, one
#                                         JSON line per email
#   GATEHOUSE_ADMIN_EMAIL/PASSWORD        a bootstrap admin, to register the endpoints and read
#                                         their delivery logs
# and the address and database of the test (GATEHOUSE_BIND, GATEHOUSE_PUBLIC_URL,
# GATEHOUSE_DATABASE_URL=sqlite://<tmp>/gatehouse.db); no other GATEHOUSE_ variable of the
# environment reaches it, and it runs in the temporary directory (no .env or gatehouse.toml).
#
# Exit status: 0 when every test passed; 1 when one failed, the binary is missing or gatehouse did
# not stop cleanly (the last lines of its log are printed); 2 on a usage error.
#
# Environment: GATEHOUSE_E2E_BIN, a gatehouse binary to use; otherwise
# $CARGO_TARGET_DIR/release/gatehouse (CARGO_TARGET_DIR defaults to ~/.cache/gatehouse-target),
# which this script does not build: run `cargo build --release --locked` first.
# GATEHOUSE_E2E_KEEP=1 keeps the temporary directory (database and log).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

# A relative GATEHOUSE_E2E_BIN is taken from where the script was started.
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")"   # e2e/webhooks

say_as webhooks

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"

# A failure names each log it shows by its whole path.
show_log_full_paths=1

# On the way out, after the tests have been stopped: a gatehouse still running fails the run,
# and a failure shows the end of gatehouse's log.
check_gatehouse_stopped() {
  # The tests remove gatehouse.pid once gatehouse has stopped; a pid left means it still runs.
  local gatehouse_pid
  gatehouse_pid=$(cat "$work/gatehouse.pid" 2>/dev/null || true)
  if [ -n "$gatehouse_pid" ] && kill -0 "$gatehouse_pid" 2>/dev/null; then
    stop "$gatehouse_pid"
    [ "$cleanup_status" -ne 0 ] || cleanup_status=1
    say "error: gatehouse was still running at the end" >&2
  fi
  [ "$cleanup_status" -eq 0 ] || show_log "$log"
}

# The temporary directory and the cleanup on the way out.
test_pid=""
cleanup_pids=(test_pid)
cleanup_hooks=(check_gatehouse_stopped)
make_work_dir gatehouse-webhooks GATEHOUSE_E2E_KEEP "gatehouse.db, gatehouse.log"
log="$work/gatehouse.log"

need_tools node npm

# ------------------------------------------------------------------------------------------
# The reference library.
npm_ci_when_stale e2e/webhooks
say "node $(node --version), standardwebhooks $(node -p 'require("./node_modules/standardwebhooks/package.json").version')"

# ------------------------------------------------------------------------------------------
# gatehouse: used as it is, never built here.
gatehouse_binary --no-build

# ------------------------------------------------------------------------------------------
# The tests, in the background and waited for, so that a signal stops them at once.
export GATEHOUSE_WEBHOOKS_BIN="$bin" GATEHOUSE_WEBHOOKS_WORK="$work"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

say "node --test webhooks.test.mjs (gatehouse's log: $log)"
failed=""
node --test webhooks.test.mjs &
test_pid=$!
wait "$test_pid" || failed=1
test_pid=""

[ -z "$failed" ] || die "some tests failed"
say "webhooks: passed"
