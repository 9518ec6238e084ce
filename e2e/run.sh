#!/usr/bin/env bash
# End-to-end run of the whole user story against a real gatehouse process and a real mail
# catcher, over HTTP: e2e/e2e.py walks it, then the Postman collection (postman/) does, run by
# newman.
#
#   e2e/run.sh
#       builds the release binary, starts MailDev (installed once from npm into
#       ~/.cache/gatehouse-maildev) and `gatehouse serve` on free ports with a fresh SQLite
#       database in a temporary directory, runs e2e/e2e.py and then the Postman collection
#       (postman/newman.sh), stops both (gatehouse must exit 0 on SIGTERM) and removes
#       everything it made.
#
#   e2e/run.sh --against http://localhost:8080 --mailpit http://localhost:8025
#   e2e/run.sh --against http://localhost:8080 --maildev http://localhost:1080
#       runs e2e/e2e.py against a stack that is already running (the docker compose stack, a
#       staging deployment…). Add --public-url URL when GATEHOUSE_PUBLIC_URL differs from the
#       --against URL.
#
# Exit status: e2e.py's (0 all passed, 1 a deviation), 1 when the stack cannot be brought up
# or gatehouse does not stop cleanly, 2 on a usage error.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/gatehouse-target), GATEHOUSE_E2E_MAILDEV_DIR
# (default ~/.cache/gatehouse-maildev), GATEHOUSE_E2E_KEEP=1 keeps the temporary directory
# (database and logs) for a look afterwards.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."

usage() {
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

against="" mail_flag="" mail_url="" public_url=""
while [ $# -gt 0 ]; do
  case $1 in
    --against) [ $# -ge 2 ] || usage; against=$2; shift 2 ;;
    --mailpit | --maildev) [ $# -ge 2 ] && [ -z "$mail_flag" ] || usage; mail_flag=$1; mail_url=$2; shift 2 ;;
    --public-url) [ $# -ge 2 ] || usage; public_url=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done

# ------------------------------------------------------------------------------------------
# Against a running stack: only the test.
if [ -n "$against" ]; then
  [ -n "$mail_flag" ] || { echo "--against needs --mailpit URL or --maildev URL" >&2; usage; }
  exec python3 e2e/e2e.py --base "$against" "$mail_flag" "$mail_url" ${public_url:+--public-url "$public_url"}
fi
[ -z "$mail_flag$public_url" ] || { echo "--mailpit, --maildev and --public-url go with --against" >&2; usage; }

# ------------------------------------------------------------------------------------------
# Our own stack.
say_as e2e
need_tools cargo python3 npm node

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"

# The temporary directory and what stops on the way out, in this order.
gatehouse_pid="" maildev_pid="" e2e_pid=""
cleanup_pids=(e2e_pid gatehouse_pid maildev_pid)
make_work_dir gatehouse-e2e GATEHOUSE_E2E_KEEP "database, gatehouse.log, maildev.log"

read -r http_port smtp_port web_port < <(free_ports 3)

gatehouse_binary --build

start_maildev "$smtp_port" "$web_port"

# gatehouse, from the temporary directory (so no .env or gatehouse.toml of the clone is read)
# and with nothing of ours from the environment but the settings below.
say "gatehouse serve on http://127.0.0.1:$http_port, SQLite in $work"
(
  clean_gatehouse_env
  export GATEHOUSE_BIND="127.0.0.1:$http_port"
  export GATEHOUSE_PUBLIC_URL="http://127.0.0.1:$http_port"
  export GATEHOUSE_DATABASE_URL="sqlite://$work/gatehouse.db"
  export GATEHOUSE_SMTP_URL="smtp://127.0.0.1:$smtp_port"
  export GATEHOUSE_MAIL_FROM="gatehouse e2e <no-reply@example.com>"
  export GATEHOUSE_LOG="info"
  exec "$bin" serve
) >"$work/gatehouse.log" 2>&1 &
gatehouse_pid=$!
wait_http "http://127.0.0.1:$http_port/readyz" 60 "$gatehouse_pid" \
  || { show_log "$work/gatehouse.log"; die "gatehouse did not become ready"; }
say "ready; running e2e/e2e.py"

# In the background and waited for, so that a signal to this script stops it at once.
status=0
python3 e2e/e2e.py --base "http://127.0.0.1:$http_port" --maildev "http://127.0.0.1:$web_port" &
e2e_pid=$!
wait "$e2e_pid" || status=$?
e2e_pid=""

# The same story once more, as the Postman collection walks it, run by newman.
say "running the Postman collection with newman (postman/newman.sh)"
postman/newman.sh --base "http://127.0.0.1:$http_port" --maildev "http://127.0.0.1:$web_port" &
e2e_pid=$!
wait "$e2e_pid" || status=$?
e2e_pid=""

stop_gatehouse "the story" || status=1
[ "$status" -eq 0 ] || show_log "$work/gatehouse.log"
say "e2e: $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
exit "$status"
