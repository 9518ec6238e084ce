#!/usr/bin/env bash
# The second outside review's seven request sequences (docs/SECURITY.md, "The second review")
# replayed against the release binary: forward-auth and a port in the host, an organization
# admin's swapped SAML IdP, a personal API key minting organization credentials, the policy at
# every door, an OpenID Connect ID token without email_verified, a connection named "Google",
# and a connection sending browsers to evil.example. Each must meet its secure outcome, with a
# positive control beside it; e2e/review/check.py does the work, one line per finding.
#
#   e2e/review/run.sh
#       makes sure of the SAML IdP's virtualenv (e2e/saml/setup.sh) and of e2e/oidc's node
#       modules (npm ci when missing or older than the lock, as e2e/oidc/run.sh does), builds the
#       release binary, picks free ports, starts e2e/review/servers.py twice (a DNS server whose
#       TXT records check.py publishes, and an SMTP sink whose messages it reads), then
#       `gatehouse serve` with a fresh SQLite database in a temporary directory:
#         GATEHOUSE_ADMIN_EMAIL/PASSWORD       a bootstrap admin, who makes the other accounts
#         GATEHOUSE_TRUSTED_PROXIES=127.0.0.1  check.py asks GET /auth/forward as the proxy
#         GATEHOUSE_FORWARD_RULES=app.example.com=group:admin,grafana.example.com=org:acme
#         GATEHOUSE_DNS_RESOLVER               the DNS server above (domain verification)
#         GATEHOUSE_SMTP_URL                   the SMTP sink above
#         GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true the OpenID Connect provider is on loopback
#         GATEHOUSE_REDIRECT_ALLOW=http://app.test/  where the SSO logins land (never fetched)
#       and nothing else of the environment; runs check.py (which starts e2e/oidc/provider.mjs
#       once it knows the connection's redirect URI, and drives e2e/saml/idp.py), stops
#       everything (gatehouse must exit 0 on SIGTERM) and removes what it made. Takes about
#       ten seconds once the binary exists.
#
# Needs python3 (3.9+), node and npm. Exit status: 0 when every finding holds; 1 when one does
# not, the stack could not be brought up or gatehouse did not stop cleanly (the last lines of
# the logs are printed); 2 on a usage error.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/gatehouse-target); GATEHOUSE_E2E_BIN, a
# gatehouse binary to use instead of building one; GATEHOUSE_SAML_VENV (see e2e/saml/setup.sh);
# GATEHOUSE_E2E_KEEP=1 keeps the temporary directory (database, logs, zone and mailbox).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$(dirname "$0")/../.."

say_as review

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"

# The temporary directory and what stops on the way out, in this order; the provider that
# check.py starts is stopped by its pid file, should check.py not have stopped it.
gatehouse_pid="" dns_pid="" smtp_pid="" check_pid=""
cleanup_pids=(check_pid gatehouse_pid dns_pid smtp_pid)
stop_provider() { [ ! -s "$work/provider.pid" ] || stop "$(cat "$work/provider.pid")"; }
cleanup_hooks=(stop_provider)
make_work_dir gatehouse-review GATEHOUSE_E2E_KEEP "g.db, gatehouse.log, dns.log, smtp.log, zone.json, mailbox.jsonl"

show_logs() {
  show_log "$work/gatehouse.log"
  show_log "$work/dns.log"
  show_log "$work/smtp.log"
}

need_tools python3 node npm

# ------------------------------------------------------------------------------------------
# The identity providers' harnesses: installed as their own suites install them.
say "the SAML IdP's virtualenv (e2e/saml/setup.sh)"
saml_python=$(e2e/saml/setup.sh 2>"$work/saml-setup.log" | tail -n 1) \
  || { show_log "$work/saml-setup.log"; die "e2e/saml/setup.sh failed"; }
[ -x "$saml_python" ] || { show_log "$work/saml-setup.log"; die "e2e/saml/setup.sh printed no python"; }
npm_ci_when_stale e2e/oidc

# ------------------------------------------------------------------------------------------
gatehouse_binary

read -r port smtp_port dns_port < <(free_ports 3)
base="http://127.0.0.1:$port"

# start_server KIND PORT FILE: e2e/review/servers.py KIND, once it says it listens; sets its pid.
start_server() {
  local log="$work/$1.log"
  python3 e2e/review/servers.py "$1" "$2" "$3" >"$log" 2>&1 &
  printf -v "${1}_pid" '%s' $!
  for _ in $(seq 1 100); do
    grep -q '^ready$' "$log" 2>/dev/null && return 0
    kill -0 "$!" 2>/dev/null || break
    sleep 0.1
  done
  show_log "$log"
  die "the $1 server did not come up on 127.0.0.1:$2"
}
say "DNS server on 127.0.0.1:$dns_port (UDP), SMTP sink on 127.0.0.1:$smtp_port"
echo '{}' >"$work/zone.json"
start_server dns "$dns_port" "$work/zone.json"
start_server smtp "$smtp_port" "$work/mailbox.jsonl"

rules="app.example.com=group:admin,grafana.example.com=org:acme"
admin_email=admin@example.com
admin_password="correct horse battery staple review $RANDOM$RANDOM"

say "gatehouse serve on $base, SQLite in $work"
say "  GATEHOUSE_FORWARD_RULES=$rules"
(
  clean_gatehouse_env
  export GATEHOUSE_BIND="127.0.0.1:$port"
  export GATEHOUSE_PUBLIC_URL="$base"
  export GATEHOUSE_DATABASE_URL="sqlite://$work/g.db"
  export GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password"
  export GATEHOUSE_TRUSTED_PROXIES=127.0.0.1
  export GATEHOUSE_FORWARD_RULES="$rules"
  export GATEHOUSE_DNS_RESOLVER="127.0.0.1:$dns_port"
  export GATEHOUSE_SMTP_URL="smtp://127.0.0.1:$smtp_port"
  export GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true
  export GATEHOUSE_REDIRECT_ALLOW=http://app.test/
  exec "$bin" serve
) >"$work/gatehouse.log" 2>&1 &
gatehouse_pid=$!
wait_http "$base/readyz" 60 "$gatehouse_pid" || { show_logs; die "gatehouse did not become ready"; }
say "ready; running e2e/review/check.py"

# In the background and waited for, so that a signal to this script stops it at once.
status=0
GATEHOUSE_E2E_ADMIN_PASSWORD="$admin_password" python3 e2e/review/check.py --base "$base" \
  --admin-email "$admin_email" --zone "$work/zone.json" --mailbox "$work/mailbox.jsonl" \
  --saml-python "$saml_python" --work "$work" &
check_pid=$!
wait "$check_pid" || status=$?
check_pid=""

for name in dns smtp; do
  pid_var="${name}_pid"
  kill -0 "${!pid_var}" 2>/dev/null || { say "error: the $name server was no longer running at the end" >&2; status=1; }
done

stop_gatehouse "the checks" || status=1
[ "$status" -eq 0 ] || show_logs
say "review: $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
exit "$status"
