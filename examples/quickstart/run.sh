#!/usr/bin/env bash
# Every quickstart, in one step for CI: first that the code docs/*.md shows for them is each
# file's own, verbatim (docs_in_step.py); then the run.sh of each directory here that has one
# (authlib, express, fastapi, flask, openid-client, typescript-client: each starts its own
# gatehouse on a free port with a fresh SQLite database, and checks its quickstart end to end),
# and deploy/forward-auth/try-loopback.sh (nginx-loopback.conf in front of an app). Each runs
# to its end whatever the others did; their output is shown as it comes, and one line for each
# closes the run.
#
#   examples/quickstart/run.sh              all of them
#   examples/quickstart/run.sh NAME...      some: a directory's name, forward-auth or docs
#
# Works from a clean clone: npm ci from the committed lockfiles, pip from PyPI with pinned
# versions (each quickstart's run.sh says where). Exit status: 0 when every one passed, 1 when
# one failed, 2 on a usage error.
#
# Environment: GATEHOUSE_E2E_BIN, the gatehouse binary every quickstart uses; otherwise
# $CARGO_TARGET_DIR/release/gatehouse (CARGO_TARGET_DIR defaults to ~/.cache/gatehouse-target),
# built with `cargo build --release --locked` when missing. GATEHOUSE_E2E_KEEP=1 keeps each
# one's temporary directory.
set -euo pipefail
if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  export GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
case ${1:-} in
  -h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

# What there is to run: NAME and its script.
declare -A scripts=([docs]="$here/docs_in_step.py")
names=(docs)
for script in "$here"/*/run.sh; do
  name=$(basename "$(dirname "$script")")
  scripts[$name]=$script
  names+=("$name")
done
scripts[forward-auth]="$root/deploy/forward-auth/try-loopback.sh"
names+=(forward-auth)

if [[ $# -gt 0 ]]; then
  for name in "$@"; do
    [[ -n "${scripts[$name]:-}" ]] || { echo "unknown quickstart: $name (one of: ${names[*]})" >&2; exit 2; }
  done
  names=("$@")
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
if [[ -z "${GATEHOUSE_E2E_BIN:-}" ]]; then
  # Built once here, so that no quickstart builds it while another waits.
  if [[ ! -x "$CARGO_TARGET_DIR/release/gatehouse" ]]; then
    (cd "$root" && cargo build --release --locked)
  fi
  export GATEHOUSE_E2E_BIN="$CARGO_TARGET_DIR/release/gatehouse"
fi

results=() failed=0
for name in "${names[@]}"; do
  script=${scripts[$name]}
  printf '\n== %s (%s)\n' "$name" "${script#"$root"/}"
  started=$(date +%s)
  status=0
  if [[ $script == *.py ]]; then python3 "$script" || status=$?; else "$script" || status=$?; fi
  took=$(( $(date +%s) - started ))
  if [[ $status -eq 0 ]]; then
    results+=("ok   $name (${took} s)")
  else
    results+=("FAIL $name (exit status $status, ${took} s)")
    failed=$((failed + 1))
  fi
done

printf '\n'
printf '%s\n' "${results[@]}"
printf 'quickstarts: %s passed, %s failed\n' "$(( ${#names[@]} - failed ))" "$failed"
[[ $failed -eq 0 ]]
