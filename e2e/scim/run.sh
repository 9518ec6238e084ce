#!/usr/bin/env bash
# gatehouse's SCIM 2.0 server (/scim/v2) checked by scim2-tester, the conformance checker of the
# python-scim project (RFC 7643 and RFC 7644), which sends its requests with scim2-client over
# HTTP: the discovery endpoints (ServiceProviderConfig, ResourceTypes, Schemas), an unknown URL,
# then for each resource type (User, Group) creation, reading, listing, attribute selection,
# replacement, deletion and PATCH add, remove and replace of each attribute. Every check must
# pass; only those scim2-tester skips by itself (a feature the ServiceProviderConfig says is not
# supported) may be skipped. e2e/scim/check.py does the work; see it for the details.
#
#   e2e/scim/run.sh
#       makes (or reuses) the virtualenv ~/.cache/gatehouse-scim-venv with the exact pins of
#       e2e/scim/requirements.txt (installed with pip; made anew only when that file differs
#       from the copy kept in the venv), starts `gatehouse serve` on a free port with a fresh
#       SQLite database in a temporary directory, and runs check.py, which logs the bootstrap
#       admin in, creates an organization, verifies a domain for it (gatehouse provisions SCIM
#       users only at its organization's verified domains) through a DNS server of its own,
#       creates a SCIM token and runs scim2-tester with it, one line per check. Then stops
#       gatehouse with SIGTERM, which must exit 0. Takes a few seconds.
#
# gatehouse runs with its defaults (rate limits on, emails to the log) but for:
#   GATEHOUSE_DNS_RESOLVER=127.0.0.1:<port>  the DNS server check.py runs on that port, which
#                                            answers the domain's TXT challenge: the domain is
#                                            verified as an organization verifies its own, with
#                                            no DNS of the outside world
#   GATEHOUSE_LOG_FORMAT=json                one JSON line per event (the emails among them),
#                                            for the log a failure shows
#   GATEHOUSE_ADMIN_EMAIL/PASSWORD           a bootstrap admin, who creates the organization
# and the address and database of the run (GATEHOUSE_BIND, GATEHOUSE_PUBLIC_URL,
# GATEHOUSE_DATABASE_URL=sqlite://<tmp>/gatehouse.db); no other GATEHOUSE_ variable of the
# environment reaches it, and it runs in the temporary directory (no .env or gatehouse.toml).
#
# Exit status: 0 when every check passed; 1 when one failed, the set-up failed (the virtualenv,
# the binary, gatehouse's start, the organization, its domain or its token) or gatehouse did not
# stop cleanly (the last lines of its log are printed); 2 on a usage error.
#
# Environment: GATEHOUSE_E2E_BIN, a gatehouse binary to use; otherwise
# $CARGO_TARGET_DIR/release/gatehouse (CARGO_TARGET_DIR defaults to ~/.cache/gatehouse-target),
# which this script does not build: run `cargo build --release --locked` first.
# GATEHOUSE_E2E_KEEP=1 keeps the temporary directory (gatehouse.db, gatehouse.log and
# scim-http.log, every SCIM request and answer under the name of the check that sent it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

# A relative GATEHOUSE_E2E_BIN is taken from where the script was started.
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")"   # e2e/scim

say_as scim

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
venv="$HOME/.cache/gatehouse-scim-venv"

# The temporary directory and what stops on the way out, in this order.
gatehouse_pid="" check_pid=""
cleanup_pids=(check_pid gatehouse_pid)
make_work_dir gatehouse-scim GATEHOUSE_E2E_KEEP "gatehouse.db, gatehouse.log, scim-http.log"
log="$work/gatehouse.log"

need_tools python3 flock cmp

# ------------------------------------------------------------------------------------------
# The virtualenv: made anew when requirements.txt is not the copy it was made from (so that no
# package of older pins stays behind), under a lock for runs at the same time.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock -w 600 9 || die "could not lock $venv.lock"
if ! cmp -s requirements.txt "$venv/requirements.txt" || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  say "making the virtualenv $venv (pip install -r e2e/scim/requirements.txt)"
  rm -rf "$venv"
  if ! { python3 -m venv "$venv" \
    && "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r requirements.txt; } \
    >"$work/pip.log" 2>&1; then
    show_log "$work/pip.log"
    rm -rf "$venv"
    die "could not install e2e/scim/requirements.txt into $venv"
  fi
  # The copy last: an install cut short is made again next time.
  cp requirements.txt "$venv/requirements.txt"
fi
exec 9>&-
say "$("$venv/bin/python" --version), scim2-tester $("$venv/bin/python" -c 'from importlib.metadata import version; print(version("scim2-tester"))')"

# ------------------------------------------------------------------------------------------
# gatehouse: used as it is, never built here.
gatehouse_binary --no-build

read -r port dns_port < <(free_ports 2)
base="http://127.0.0.1:$port"
admin_email=admin@example.com
admin_password="correct horse battery staple scim $RANDOM$RANDOM$RANDOM"

# From the temporary directory (so no .env or gatehouse.toml of the clone is read) and with
# nothing of ours from the environment but the settings below.
say "gatehouse serve on $base, SQLite in $work, DNS for domain verification at 127.0.0.1:$dns_port"
(
  clean_gatehouse_env
  export GATEHOUSE_BIND="127.0.0.1:$port"
  export GATEHOUSE_PUBLIC_URL="$base"
  export GATEHOUSE_DATABASE_URL="sqlite://$work/gatehouse.db"
  export GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password"
  export GATEHOUSE_LOG_FORMAT=json
  export GATEHOUSE_DNS_RESOLVER="127.0.0.1:$dns_port"
  exec "$bin" serve
) >"$log" 2>&1 &
gatehouse_pid=$!
wait_http "$base/readyz" 60 "$gatehouse_pid" gatehouse || { show_log "$log"; die "gatehouse did not become ready"; }
say "ready; running e2e/scim/check.py"

# In the background and waited for, so that a signal to this script stops it at once.
status=0
GATEHOUSE_E2E_ADMIN_PASSWORD="$admin_password" "$venv/bin/python" check.py --base "$base" \
  --admin-email "$admin_email" --dns-port "$dns_port" --transcript "$work/scim-http.log" &
check_pid=$!
wait "$check_pid" || status=1
check_pid=""

stop_gatehouse "the checks" || status=1
if [ "$status" -ne 0 ]; then
  show_log "$log"
  [ "${GATEHOUSE_E2E_KEEP:-}" = 1 ] || say "GATEHOUSE_E2E_KEEP=1 keeps scim-http.log, each SCIM request and answer"
fi
say "scim: $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
exit "$status"
