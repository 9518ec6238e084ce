#!/usr/bin/env bash
# gatehouse as AWS Lambda functions, under cargo-lambda's emulation of the Lambda runtime and
# invoke APIs: the release binary, copied as `bootstrap` and started as the Lambda runtime starts
# a custom runtime's function (no arguments, AWS_LAMBDA_RUNTIME_API and `_HANDLER` set), twice:
# the `http` function (the API, reached through function-URL events) and the `work` function
# (the background work, invoked with EventBridge's scheduled event, and on DynamoDB with the job
# table's stream records too). e2e/lambda/stories.py then proves that the API function sends no
# email, that one invocation of the work function delivers the queued one (a scheduled one on
# PostgreSQL or MySQL; on DynamoDB one with the stream's records of the queued job, as Lambda's
# event source mapping delivers them, and then a scheduled one sweeps), and that the user story
# (sign-up → the emailed link → activation → login → a protected resource → logout, and seed
# 002's routes) works through function-URL events; e2e/e2e.py walks the whole story the same
# way, with a scheduled invocation every second.
#
#   e2e/lambda/run.sh DATABASE_URL
#       DATABASE_URL is a PostgreSQL (postgres://…) or MariaDB/MySQL (mysql://…) server whose
#       user may create databases (a Lambda function needs a database its instances share): a
#       database gatehouse_e2e_<time>_<random> is made on it and dropped afterwards.
#
#   e2e/lambda/run.sh dynamodb
#       The DynamoDB store, on a local DynamoDB-compatible engine (moto's server answering one
#       request at a time, e2e/aws/dynamodb_engine.py) started on a free port: `gatehouse
#       migrate` creates the tables, with the job table's stream, under a fresh prefix, and both
#       functions get dynamodb://<prefix>?endpoint=… with the credentials and region the Lambda
#       runtime gives a function (any credentials will do for the engine).
#
# Either way it installs cargo-lambda and moto (e2e/aws/tools.sh) and MailDev when missing, uses
# the release binary as it is (never built here), and stops everything it started.
#
# Exit status: 0 when every check passed; 1 when one failed or the functions could not be
# started (the ends of their logs are printed); 2 on a usage error.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/gatehouse-target); GATEHOUSE_E2E_BIN, a
# gatehouse binary to use instead; GATEHOUSE_E2E_KEEP=1 keeps the temporary directory (the logs)
# and the PostgreSQL or MySQL database (the DynamoDB engine keeps its tables in memory: they end
# with it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

case ${1:-} in
  -h | --help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  postgres://* | postgresql://* | mysql://* | mariadb://* | dynamodb) ;;
  *) echo "usage: $0 DATABASE_URL | dynamodb (see --help)" >&2; exit 2 ;;
esac
server_url=$1
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")/../.."
say_as lambda
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
need_tools python3 npm node curl

emulator_pid="" http_pid="" work_pid="" maildev_pid="" engine_pid="" test_pid=""
cleanup_pids=(test_pid http_pid work_pid emulator_pid maildev_pid engine_pid)
on_failure() {
  [ "$cleanup_status" -eq 0 ] || for log in emulator http work dynamodb; do show_log "$work/$log.log"; done
  drop_fresh_database
}
cleanup_hooks=(on_failure)
make_work_dir gatehouse-lambda GATEHOUSE_E2E_KEEP "the functions', the emulator's and the engine's logs, the emails"

eval "$(e2e/aws/tools.sh --print-env)"
say "$("$GATEHOUSE_CARGO_LAMBDA" lambda --version)"
gatehouse_binary --no-build
cp "$bin" "$work/bootstrap"

admin_email=admin@example.com
admin_password="lambda admin $RANDOM$RANDOM$RANDOM"
# gatehouse_env: in a subshell that then starts the binary, the settings both functions (and,
# on DynamoDB, the migration) get.
gatehouse_env() {
  clean_gatehouse_env
  export GATEHOUSE_PUBLIC_URL="$base" GATEHOUSE_DATABASE_URL="$database_url"
  export GATEHOUSE_SMTP_URL="smtp://127.0.0.1:$smtp_port" GATEHOUSE_MAIL_FROM="gatehouse <no-reply@example.com>"
  export GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password"
}

read -r port smtp_port web_port engine_port < <(free_ports 4)
base="http://127.0.0.1:$port"
start_maildev "$smtp_port" "$web_port"
stories_python=python3 stories_args=()
if [ "$server_url" = dynamodb ]; then
  engine="http://127.0.0.1:$engine_port"
  "$GATEHOUSE_MOTO_PYTHON" e2e/aws/dynamodb_engine.py -H 127.0.0.1 -p "$engine_port" >"$work/dynamodb.log" 2>&1 &
  engine_pid=$!
  wait_http "$engine/moto-api/data.json" 60 "$engine_pid" "the DynamoDB engine" || die "the DynamoDB engine did not come up"
  # What the Lambda runtime gives every function (its role's credentials and its region); the
  # engine takes any credentials, and the stories' reading of the stream uses the same.
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  tables_prefix="gatehouse-e2e-$(date +%s)-$RANDOM-"
  database_url="dynamodb://$tables_prefix?endpoint=$engine"
  ( gatehouse_env; exec "$bin" migrate ) >"$work/migrate.log" 2>&1 \
    || { show_log "$work/migrate.log"; die "gatehouse migrate could not create the DynamoDB tables"; }
  say "DynamoDB tables ${tables_prefix}{main,jobs,audit} on the engine at $engine"
  # The stories read the job table's stream with boto3, which moto's virtualenv has.
  stories_python=$GATEHOUSE_MOTO_PYTHON
  stories_args=(--dynamodb "$engine" --jobs-table "${tables_prefix}jobs")
else
  fresh_database "$server_url"
  say "database $fresh_database_name on $fresh_database_scheme://$fresh_database_host"
fi

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
say "emulator on $base"

# start_function HANDLER RUNTIME_PATH: the bootstrap as the Lambda runtime starts it.
start_function() {
  (
    gatehouse_env
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
if [ "$server_url" = dynamodb ]; then
  say "the http function's cold start (start to first answer, the tables checked): $cold_ms ms"
else
  say "the http function's cold start (start to first answer, the database migrated): $cold_ms ms"
fi
start_function work /work
work_pid=$!
for _ in $(seq 1 100); do grep -qs "serving as an AWS Lambda function" "$work/work.log" && break; sleep 0.1; done
kill -0 "$work_pid" 2>/dev/null || die "the work function exited"
say "functions up: http (every path) and work ($base/2015-03-31/functions/work/invocations)"

export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
status=0
"$stories_python" e2e/lambda/stories.py --base "$base" --maildev "http://127.0.0.1:$web_port" ${stories_args[@]+"${stories_args[@]}"} &
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
