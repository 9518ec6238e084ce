#!/usr/bin/env bash
# Runs the Postman collection with newman (installed once from the npm registry into
# ~/.cache/gatehouse-newman) against a running gatehouse whose emails MailDev catches.
#
#   postman/newman.sh --base http://127.0.0.1:8080 --maildev http://127.0.0.1:1080
#
# e2e/run.sh starts such a stack (release binary, fresh SQLite, MailDev) and calls this after
# its own story. Exit status: newman's (0 when every assertion held), 2 on a usage error.
set -euo pipefail
cd "$(dirname "$0")/.."

base="" maildev=""
while [ $# -gt 0 ]; do
  case $1 in
    --base) base=$2; shift 2 ;;
    --maildev) maildev=$2; shift 2 ;;
    *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[ -n "$base" ] && [ -n "$maildev" ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

version=6.2.2
dir="${GATEHOUSE_NEWMAN_DIR:-$HOME/.cache/gatehouse-newman}"
newman="$dir/node_modules/.bin/newman"
mkdir -p "$(dirname "$dir")"
if command -v flock >/dev/null; then
  exec 9>"$dir.lock"
  flock -w 600 9
fi
if [ "$("$newman" --version 2>/dev/null)" != "$version" ]; then
  echo "installing newman $version from npm into $dir (once)"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "newman@$version"
fi
exec 9>&-

exec "$newman" run postman/gatehouse.postman_collection.json \
  --environment postman/gatehouse.postman_environment.json \
  --env-var "baseUrl=$base" --env-var "mailUrl=$maildev" \
  --reporters cli --color off --timeout-request 15000
