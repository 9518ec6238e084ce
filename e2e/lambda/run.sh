#!/usr/bin/env bash
# gatehouse as AWS Lambda functions, under cargo-lambda's emulation of the Lambda runtime and
# invoke APIs: the release binary, copied as `bootstrap` and started as the Lambda runtime starts
# a custom runtime's function (no arguments, AWS_LAMBDA_RUNTIME_API and `_HANDLER` set), twice:
# the `http` function (the API, reached through function-URL events) and the `work` function
# (the background work, invoked with EventBridge's scheduled event). e2e/lambda/stories.py then
# proves that the API function sends no email, that one scheduled invocation delivers the
# queued one, and that the user story (sign-up → the emailed link → activation → login → a
# protected resource → logout, and seed 002's routes) works through function-URL events;
# e2e/e2e.py walks the whole story the same way, with a scheduled invocation every second.
#
#   e2e/lambda/run.sh DATABASE_URL
#       DATABASE_URL is a PostgreSQL (postgres://…) or MariaDB/MySQL (mysql://…) server whose
#       user may create databases (a Lambda function needs a database its instances share): a
#       database gatehouse_e2e_<time>_<random> is made on it and dropped afterwards. Installs
#       cargo-lambda (e2e/aws/tools.sh) and MailDev when missing, uses the release binary as it
#       is (never built here), and stops everything it started.
#
# Exit status: 0 when every check passed; 1 when one failed or the functions could not be
# started (the ends of their logs are printed); 2 on a usage error.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/gatehouse-target); GATEHOUSE_E2E_BIN, a
# gatehouse binary to use instead; GATEHOUSE_E2E_KEEP=1 keeps the temporary directory (the logs)
# and the database.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

case ${1:-} in
  -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  postgres://* | postgresql://* | mysql://* | mariadb://*) ;;
  *) echo "usage: $0 DATABASE_URL (see --help)" >&2; exit 2 ;;
esac
server_url=$1
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")/../.."
say_as lambda
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
need_tools python3 npm node curl

emulator_pid="" http_pid="" work_pid="" maildev_pid="" test_pid=""
cleanup_pids=(test_pid http_pid work_pid emulator_pid maildev_pid)
on_failure() {
  [ "$cleanup_status" -eq 0 ] || for log in emulator http work; do show_log "$work/$log.log"; done
  drop_fresh_database
}
cleanup_hooks=(on_failure)
make_work_dir gatehouse-lambda GATEHOUSE_E2E_KEEP "the functions' and the emulator's logs, the emails"

eval "$(e2e/aws/tools.sh --print-env)"
say "$("$GATEHOUSE_CARGO_LAMBDA" lambda --version)"
gatehouse_binary --no-build
cp "$bin" "$work/bootstrap"

read -r port smtp_port web_port < <(free_ports 3)
start_maildev "$smtp_port" "$web_port"
fresh_database "$server_url"
say "database $fresh_database_name on $fresh_database_scheme://$fresh_database_host"

# The emulator serves the function `_` (every path that is not one of its own) and the
# functions its manifest names as binaries: `work` here. It reads the manifest with `cargo
# metadata --no-deps`, which builds nothing.
mkdir -p "$work/emulator"
cat >"$work/emulator/Cargo.toml" <<'EOF'
[package]
name = "gatehouse-functions"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[[bin]]
name = "work"
path = "work.rs"
EOF
: >"$work/emulator/work.rs"
"$GATEHOUSE_CARGO_LAMBDA" lambda watch --only-lambda-apis --disable-cors --manifest-path "$work/emulator/Cargo.toml" \
  --invoke-address 127.0.0.1 --invoke-port "$port" >"$work/emulator.log" 2>&1 &
emulator_pid=$!
# Its invoke route answers GET with 405; any other GET would be queued as an invocation.
for _ in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "http://127.0.0.1:$port/2015-03-31/functions/_/invocations" || true)
  [ "$code" = 405 ] && break
  kill -0 "$emulator_pid" 2>/dev/null || die "the emulator exited"
  sleep 0.1
done
[ "$code" = 405 ] || die "the emulator did not answer on port $port"
base="http://127.0.0.1:$port"
say "emulator on $base"

admin_email=admin@example.com
admin_password="lambda admin $RANDOM$RANDOM$RANDOM"
# start_function HANDLER RUNTIME_PATH: the bootstrap as the Lambda runtime starts it.
start_function() {
  (
    clean_gatehouse_env
    export GATEHOUSE_PUBLIC_URL="$base" GATEHOUSE_DATABASE_URL="$database_url"
    export GATEHOUSE_SMTP_URL="smtp://127.0.0.1:$smtp_port" GATEHOUSE_MAIL_FROM="gatehouse <no-reply@example.com>"
    export GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password"
    export AWS_LAMBDA_RUNTIME_API="$base/.rt$2" AWS_LAMBDA_FUNCTION_NAME="gatehouse-$1"
    export AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024 AWS_LAMBDA_FUNCTION_VERSION=1 _HANDLER="$1"
    exec "$work/bootstrap"
  ) >"$work/$1.log" 2>&1 &
}
# The cold start: from the process's start to its first answer, a request that the emulator
# holds until the function asks for its first invocation.
started=$(date +%s%N)
start_function http ""
http_pid=$!
code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 60 "$base/healthz" || true)
cold_ms=$(( ($(date +%s%N) - started) / 1000000 ))
[ "$code" = 200 ] || die "the http function did not answer /healthz (status $code)"
say "the http function's cold start (start to first answer, the database migrated): $cold_ms ms"
start_function work /work
work_pid=$!
for _ in $(seq 1 100); do grep -q "serving as an AWS Lambda function" "$work/work.log" && break; sleep 0.1; done
kill -0 "$work_pid" 2>/dev/null || die "the work function exited"
say "functions up: http (every path) and work ($base/2015-03-31/functions/work/invocations)"

export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
status=0
python3 e2e/lambda/stories.py --base "$base" --maildev "http://127.0.0.1:$web_port" &
test_pid=$!
wait "$test_pid" || status=1
test_pid=""

# The whole story, with the schedule's invocation every second (EventBridge's is every minute).
if [ "$status" -eq 0 ]; then
  say "e2e/e2e.py through the functions, the work function invoked every second"
  python3 e2e/lambda/stories.py --base "$base" --schedule-every 1 >"$work/schedule.log" 2>&1 &
  schedule_pid=$!
  python3 e2e/e2e.py --base "$base" --maildev "http://127.0.0.1:$web_port" &
  test_pid=$!
  wait "$test_pid" || status=1
  test_pid=""
  kill "$schedule_pid" 2>/dev/null || true
  wait "$schedule_pid" 2>/dev/null || true
fi

for pid in "$http_pid" "$work_pid"; do kill -0 "$pid" 2>/dev/null || { say "error: a function exited"; status=1; }; done
[ "$status" -eq 0 ] || die "the Lambda functions failed"
say "Lambda: passed"
