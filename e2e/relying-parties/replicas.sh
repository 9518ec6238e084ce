#!/usr/bin/env bash
# Back-channel logout across two replicas on a database server: node/backchannel.test.mjs (its
# receiver verifies each logout token with jose) against two `gatehouse serve` processes sharing
# one fresh database (and Redis, when given), each session made on the first replica and ended on
# the second, whose end the first must see at once. run.sh runs the same test on SQLite.
#
#   e2e/relying-parties/replicas.sh DATABASE_URL [REDIS_URL]
#       DATABASE_URL is a PostgreSQL (postgres://…) or MariaDB/MySQL (mysql://…) server whose
#       user may create databases: a database gatehouse_e2e_<time>_<random> is made on it for the
#       run and dropped afterwards. With REDIS_URL the replicas keep sessions and rate limits in Redis;
#       without it, in the database. Runs `npm ci` in e2e/relying-parties/node when needed, uses
#       the release binary as it is (never built here), starts the replicas (a bootstrap admin,
#       every other setting at its default), runs the test, and stops both with SIGTERM (each
#       must exit 0).
#
# Exit status: 0 when every check passed; 1 when a check failed, the replicas could not be
# brought up or one did not stop cleanly (the last lines of its log are printed); 2 on a usage
# error.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/gatehouse-target); GATEHOUSE_E2E_BIN, a
# gatehouse binary to use instead; GATEHOUSE_E2E_KEEP=1 keeps the temporary directory (the logs)
# and the database.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

case ${1:-} in
  -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  postgres://* | postgresql://* | mysql://* | mariadb://*) ;;
  *) echo "usage: $0 DATABASE_URL [REDIS_URL] (see --help)" >&2; exit 2 ;;
esac
server_url=$1 redis_url=${2:-}
[[ -z "$redis_url" || "$redis_url" == redis://* || "$redis_url" == rediss://* ]] \
  || { echo "not a Redis URL: $redis_url" >&2; exit 2; }

if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")"
say_as rp-replicas
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
show_log_full_paths=1

# On the way out: the replicas still running fail the run, a failure shows their logs, and the
# database goes unless kept.
primary_pid="" secondary_pid="" test_pid=""
finish() {
  local pid
  for pid in "$primary_pid" "$secondary_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      stop "$pid"
      [ "$cleanup_status" -ne 0 ] || cleanup_status=1
      say "error: a replica was still running at the end" >&2
    fi
  done
  if [ "$cleanup_status" -ne 0 ]; then show_log "$work/primary.log"; show_log "$work/secondary.log"; fi
  drop_fresh_database
}
cleanup_pids=(test_pid)
cleanup_hooks=(finish)
make_work_dir gatehouse-rp-replicas GATEHOUSE_E2E_KEEP "the replicas' logs"

need_tools node npm python3
npm_ci_when_stale e2e/relying-parties/node
gatehouse_binary --no-build

fresh_database "$server_url"
say "database $fresh_database_name on $fresh_database_scheme://$fresh_database_host${redis_url:+, sessions in Redis ($redis_url)}"

read -r primary_port secondary_port < <(free_ports 2)
base="http://127.0.0.1:$primary_port" other="http://127.0.0.1:$secondary_port"
admin_email=admin@example.com
admin_password="replicas admin $RANDOM$RANDOM$RANDOM"

# start_replica PORT LOG: one replica; both name the first's address as the public URL (the
# issuer), as replicas behind one load balancer would.
start_replica() {
  (
    clean_gatehouse_env
    export GATEHOUSE_BIND="127.0.0.1:$1" GATEHOUSE_PUBLIC_URL="$base" GATEHOUSE_DATABASE_URL="$database_url"
    [ -z "$redis_url" ] || export GATEHOUSE_REDIS_URL="$redis_url"
    export GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password"
    exec "$bin" serve
  ) >"$2" 2>&1 &
}
# The first migrates the database; the second starts once it answers.
start_replica "$primary_port" "$work/primary.log"
primary_pid=$!
wait_http "$base/healthz" 60 "$primary_pid" "the first replica" || die "the first replica did not answer /healthz"
start_replica "$secondary_port" "$work/secondary.log"
secondary_pid=$!
wait_http "$other/healthz" 60 "$secondary_pid" "the second replica" || die "the second replica did not answer /healthz"
say "replicas up on $base and $other"

export GATEHOUSE_RP_BASE="$base" GATEHOUSE_RP_OTHER_BASE="$other"
export GATEHOUSE_RP_ADMIN_EMAIL="$admin_email" GATEHOUSE_RP_ADMIN_PASSWORD="$admin_password"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
say "back-channel logout verified with jose (node/backchannel.test.mjs), sessions ended on the second replica"
node node/backchannel.test.mjs &
test_pid=$!
failed=0
wait "$test_pid" || failed=1
test_pid=""

stopped=0
for name in primary secondary; do
  pid_var="${name}_pid"
  gatehouse_pid=${!pid_var}
  stop_gatehouse "the test ($name replica)" || stopped=1
  printf -v "$pid_var" '%s' "$gatehouse_pid"
done
[ "$failed" -eq 0 ] || die "back-channel logout across replicas failed"
[ "$stopped" -eq 0 ] || die "a replica did not stop cleanly"
say "back-channel logout across two replicas: passed"
