#!/usr/bin/env bash
# Installs what the SAML IdP harness (e2e/saml/idp.py) needs, idempotently:
#   - Debian's xmlsec1, when no xmlsec1 is on PATH (apt-get; `apt-get update` only if the
#     first install fails);
#   - a Python virtualenv at ${GATEHOUSE_SAML_VENV:-$HOME/.cache/gatehouse-saml-venv} with the
#     pinned requirements.txt, (re)installed when it is missing or requirements.txt changed
#     since the last install (a stamp file inside the venv).
#
# The last line of its stdout is the venv's python; everything else goes to stderr, so a
# caller can do:  python=$(e2e/saml/setup.sh | tail -n 1)
#
# With --selftest it then runs e2e/saml/selftest.sh (whose lines go to stdout) before printing
# the python path; a failing selftest fails setup.sh and prints no path.
#
# Safe to run from several test processes at once: the venv work happens under a lock.
set -euo pipefail

here=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
venv=${GATEHOUSE_SAML_VENV:-$HOME/.cache/gatehouse-saml-venv}
requirements=$here/requirements.txt
stamp=$venv/.gatehouse-requirements.stamp
base_python=${GATEHOUSE_SAML_BASE_PYTHON:-python3}

selftest=0
for arg in "$@"; do
  case $arg in
    --selftest) selftest=1 ;;
    -h | --help)
      sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup.sh: unknown argument: $arg (usage: setup.sh [--selftest])" >&2
      exit 2
      ;;
  esac
done

log() { echo "setup.sh: $*" >&2; }

# Runs a command as root: directly when we are root, else through sudo when there is one.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    log "need root to run: $*"
    return 1
  fi
}

# apt_install PACKAGE…: apt-get install, and only if that fails, apt-get update and again.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -q "$@" >&2; then
    log "apt-get install $* failed; running apt-get update and trying again"
    as_root apt-get update -q >&2
    as_root apt-get install -y -q "$@" >&2
  fi
}

# ---- xmlsec1 ---------------------------------------------------------------------------
if ! command -v xmlsec1 >/dev/null 2>&1; then
  log "installing Debian's xmlsec1"
  apt_install xmlsec1
fi
command -v xmlsec1 >/dev/null 2>&1 || { log "xmlsec1 is still not on PATH"; exit 1; }

# ---- the virtualenv --------------------------------------------------------------------
mkdir -p -- "$(dirname -- "$venv")"
exec 9>"$venv.lock"
flock 9

if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "the venv at $venv is broken (its python does not start); recreating it"
  rm -rf -- "$venv"
fi

if [ ! -x "$venv/bin/python" ]; then
  log "creating the venv at $venv"
  if ! "$base_python" -m venv "$venv" >&2; then
    log "$base_python -m venv failed; installing Debian's python3-venv"
    rm -rf -- "$venv"
    apt_install python3-venv
    "$base_python" -m venv "$venv" >&2
  fi
  rm -f -- "$stamp"
fi

if [ ! -f "$stamp" ] || { [ "$requirements" -nt "$stamp" ] && ! cmp -s "$requirements" "$stamp"; }; then
  log "installing $requirements into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" >&2
  cp -- "$requirements" "$stamp"
elif [ "$requirements" -nt "$stamp" ]; then
  touch -- "$stamp" # a fresh checkout, same pins: nothing to install
fi

flock -u 9
exec 9>&-

if [ "$selftest" -eq 1 ]; then
  GATEHOUSE_SAML_PYTHON=$venv/bin/python "$here/selftest.sh"
fi

echo "$venv/bin/python"
