#!/usr/bin/env bash
# gatehouse's forward auth (GET /auth/forward) behind real reverse proxies: nginx (auth_request)
# and Caddy (forward_auth) from Debian's packages, configured by the very files of
# deploy/forward-auth/, in front of an app that echoes the headers it gets
# (e2e/proxy/upstream.py); Traefik's ForwardAuth requests, as deploy/forward-auth/traefik.yml
# shapes them, are sent to gatehouse directly (Traefik is not packaged). gatehouse's own site
# is served by the same nginx with deploy/nginx.conf (HTTPS, a throwaway certificate) and by
# the Caddyfile's auth.example.com: through both, a client outside GATEHOUSE_TRUSTED_PROXIES
# forging its address in Forwarded, X-Real-IP and X-Forwarded-For must still be held to its
# per-IP budget and be recorded under its own address (check.py's check 9). Each guarded host
# of e2e/proxy/differential.py gets the shipped nginx server and Caddy site once more, on ports
# of their own, in front of the app on a port of its own: every spelling of the host (ports,
# a trailing dot, case, IDNA, IPv6 forms, and malformed ones) must get the host's own verdict
# from gatehouse alone, through nginx and through Caddy (check 10).
#
#   e2e/proxy/run.sh
#       installs nginx and caddy with apt-get when either is missing (as root; without root or
#       network it prints "skipped: …" and exits 0), builds the release binary, picks free
#       ports, renders deploy/forward-auth/nginx.conf, the Caddyfile and deploy/nginx.conf for
#       them (e2e/proxy/render.py), starts the echoing app, `gatehouse serve` with a fresh SQLite
#       database in a temporary directory (a bootstrap admin, GATEHOUSE_TRUSTED_PROXIES=127.0.0.1,
#       GATEHOUSE_FORWARD_RULES with /admin=group:admin, /staff=group:staff and /public=public
#       for each proxy and for app.example.com, then check 10's guarded hosts:
#       grafana.example.com=org:acme, and group:admin for *.example.org, bücher.example and
#       [2001:db8::1]; GATEHOUSE_REDIRECT_ALLOW listing the proxies' /app/ and
#       https://app.example.com/), then nginx and Caddy as the current user with everything
#       under the temporary directory; runs e2e/proxy/check.py (one line per check), stops
#       everything (gatehouse must exit 0 on SIGTERM) and removes what it made.
#
# Needs python3 and openssl. Exit status: 0 all passed, 1 a check failed or the stack could not
# be brought up, 0 with "skipped: …" when nginx or caddy is missing and cannot be installed.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/gatehouse-target); GATEHOUSE_E2E_BIN, a
# gatehouse binary to use instead of building one; GATEHOUSE_E2E_KEEP=1 keeps the temporary
# directory (database, configurations and logs).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$(dirname "$0")/../.."

say_as proxy

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"

# The temporary directory and what stops on the way out, in this order.
gatehouse_pid="" upstream_pid="" nginx_pid="" caddy_pid="" check_pid=""
cleanup_pids=(check_pid nginx_pid caddy_pid gatehouse_pid upstream_pid)
make_work_dir gatehouse-proxy GATEHOUSE_E2E_KEEP "g.db, gatehouse.log, upstream.log, nginx/, caddy/"

show_logs() {
  show_log "$work/gatehouse.log"
  show_log "$work/upstream.log"
  show_log "$work/nginx/error.log"
  show_log "$work/nginx/access.log"
  show_log "$work/nginx/gatehouse.access.log"
  show_log "$work/caddy/caddy.log"
}

# ------------------------------------------------------------------------------------------
# The proxies, from Debian's packages.
if ! command -v nginx >/dev/null || ! command -v caddy >/dev/null; then
  [ "$(id -u)" -eq 0 ] || skip "nginx or caddy is missing and installing them needs root (apt-get install nginx caddy)"
  command -v apt-get >/dev/null || skip "nginx or caddy is missing and there is no apt-get to install them"
  say "installing nginx and caddy with apt-get"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx caddy; } \
    >"$work/apt.log" 2>&1; then
    skip "nginx or caddy is missing and apt-get could not install them (no network?): $(tail -n 1 "$work/apt.log")"
  fi
  command -v nginx >/dev/null && command -v caddy >/dev/null || skip "apt-get ran but nginx or caddy is still missing"
fi
say "$(nginx -v 2>&1), caddy $(caddy version 2>/dev/null | head -n 1)"
need_tools python3
command -v openssl >/dev/null || die "openssl is needed (a throwaway certificate for deploy/nginx.conf) and not on PATH"

# ------------------------------------------------------------------------------------------
# gatehouse.
gatehouse_binary

# The last five: the app behind each guarded host of e2e/proxy/differential.py (SITES, in order).
read -r port upstream_port nginx_port caddy_port api_port api_http_port hosts_nginx_port hosts_caddy_port \
  site_ports < <(free_ports 13)
read -r -a site_port_list <<<"$site_ports"
site_ports=${site_ports// /,}
base="http://127.0.0.1:$port"
nginx_url="http://127.0.0.1:$nginx_port"
caddy_url="http://127.0.0.1:$caddy_port"
api_url="https://127.0.0.1:$api_port"

say "rendering deploy/forward-auth/nginx.conf and Caddyfile for nginx on $nginx_port, Caddy on $caddy_port;"
say "  deploy/nginx.conf for the same nginx on $api_port (HTTPS) and $api_http_port;"
say "  the guarded hosts of check 10 on $hosts_nginx_port (nginx) and $hosts_caddy_port (Caddy)"
python3 e2e/proxy/render.py --out "$work" --gatehouse-port "$port" --upstream-port "$upstream_port" \
  --nginx-port "$nginx_port" --caddy-port "$caddy_port" --nginx-api-port "$api_port" --nginx-api-http-port "$api_http_port" \
  --hosts-nginx-port "$hosts_nginx_port" --hosts-caddy-port "$hosts_caddy_port" --site-ports "$site_ports"

say "the echoing app (e2e/proxy/upstream.py) on 127.0.0.1:$upstream_port (and $site_ports for check 10's hosts)"
python3 e2e/proxy/upstream.py "$upstream_port" "$work/upstream.jsonl" "${site_port_list[@]}" >"$work/upstream.log" 2>&1 &
upstream_pid=$!
wait_http "http://127.0.0.1:$upstream_port/ready" 10 "$upstream_pid" \
  || { show_logs; die "the echoing app did not come up"; }

rules=""
for host in "127.0.0.1:$nginx_port" "127.0.0.1:$caddy_port" app.example.com; do
  rules+="${rules:+,}$host/admin=group:admin,$host/staff=group:staff,$host/public=public"
done
# Check 11: each proxy's /mcp is a protected resource whose tokens need mcp:tools.
resources="$nginx_url/mcp mcp:tools mcp:admin, $caddy_url/mcp mcp:tools mcp:admin"
rules+=",127.0.0.1:$nginx_port/mcp=resource:mcp:tools,127.0.0.1:$caddy_port/mcp=resource:mcp:tools"
# Check 10's guarded hosts besides app.example.com/admin (e2e/proxy/differential.py's SITES).
rules+=",grafana.example.com=org:acme,*.example.org=group:admin,bücher.example=group:admin,[2001:db8::1]=group:admin"
# The proxies' /app/ only, so that their /outside/ is a URL a login may not return to.
redirect_allow="$nginx_url/app/,$caddy_url/app/,https://app.example.com/"
admin_email=admin@example.com
admin_password="correct horse battery staple proxy $RANDOM$RANDOM"

# From the temporary directory (so no .env or gatehouse.toml of the clone is read) and with
# nothing of ours from the environment but the settings below.
say "gatehouse serve on $base, SQLite in $work"
say "  GATEHOUSE_FORWARD_RULES=$rules"
say "  GATEHOUSE_REDIRECT_ALLOW=$redirect_allow"
(
  clean_gatehouse_env
  export GATEHOUSE_BIND="127.0.0.1:$port"
  export GATEHOUSE_PUBLIC_URL="$base"
  export GATEHOUSE_DATABASE_URL="sqlite://$work/g.db"
  export GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password"
  export GATEHOUSE_TRUSTED_PROXIES=127.0.0.1
  export GATEHOUSE_REDIRECT_ALLOW="$redirect_allow"
  export GATEHOUSE_FORWARD_RULES="$rules"
  export GATEHOUSE_RESOURCES="$resources"
  exec "$bin" serve
) >"$work/gatehouse.log" 2>&1 &
gatehouse_pid=$!
wait_http "$base/readyz" 60 "$gatehouse_pid" || { show_logs; die "gatehouse did not become ready"; }

say "nginx -p $work/nginx -c nginx.conf"
nginx -t -q -p "$work/nginx/" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" \
  || { show_logs; die "nginx -t refuses the rendered deploy/forward-auth/nginx.conf or deploy/nginx.conf"; }
nginx -p "$work/nginx/" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" -g 'daemon off;' \
  >"$work/nginx/stdout.log" 2>&1 &
nginx_pid=$!

say "caddy run --config Caddyfile --adapter caddyfile (in $work/caddy)"
(
  cd "$work/caddy"
  export HOME="$work/caddy" XDG_DATA_HOME="$work/caddy/data" XDG_CONFIG_HOME="$work/caddy/config"
  exec caddy run --config Caddyfile --adapter caddyfile
) >"$work/caddy/caddy.log" 2>&1 &
caddy_pid=$!

# A public path answers without a login once the proxy, gatehouse and the app all work.
wait_http "$nginx_url/public/ready" 20 "$nginx_pid" || { show_logs; die "nginx did not come up"; }
wait_http "$caddy_url/public/ready" 20 "$caddy_pid" || { show_logs; die "Caddy did not come up"; }
say "ready; running e2e/proxy/check.py"

# In the background and waited for, so that a signal to this script stops it at once.
status=0
GATEHOUSE_E2E_ADMIN_PASSWORD="$admin_password" python3 e2e/proxy/check.py --gatehouse "$base" \
  --nginx "$nginx_url" --caddy "$caddy_url" --nginx-api "$api_url" --upstream-log "$work/upstream.jsonl" --admin-email "$admin_email" \
  --hosts-nginx "http://127.0.0.1:$hosts_nginx_port" --hosts-caddy "http://127.0.0.1:$hosts_caddy_port" --site-ports "$site_ports" &
check_pid=$!
wait "$check_pid" || status=$?
check_pid=""

for name in nginx caddy upstream; do
  pid_var="${name}_pid"
  kill -0 "${!pid_var}" 2>/dev/null || { say "error: $name was no longer running at the end" >&2; status=1; }
done

stop_gatehouse "the checks" || status=1
[ "$status" -eq 0 ] || show_logs
say "proxy: $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
exit "$status"
