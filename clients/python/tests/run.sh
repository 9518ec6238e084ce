#!/usr/bin/env bash
# The Python middleware's tests (clients/python), against the real gatehouse: real tokens and
# their claims; missing, garbage, another key's, wrong-audience, expired, client-app and
# algorithm-confusion tokens refused; key rotation and algorithm switches (one fetch of the key
# set for a new key, at most one per interval for a burst of made-up key ids); aal and role
# requirements; the live check after a logout; an issuer spelled otherwise failing at start; a
# protected resource (resource=): client apps' tokens for it, RFC 9728's challenges and metadata,
# DPoP-bound tokens refused, against a gatehouse of its own with GATEHOUSE_RESOURCES.
# FastAPI and Starlette apps are served by uvicorn, Flask apps by werkzeug's development
# server, each on a free port, and called over HTTP.
#
#   clients/python/tests/run.sh [PYTEST ARGUMENTS...]
#       makes the virtual environment (scripts/venv.sh: requirements-test.txt, outside the
#       clone), then runs pytest. The tests start every gatehouse they need themselves
#       (tests/conftest.py): `gatehouse serve` on a free port of 127.0.0.1 with a fresh SQLite
#       database in a temporary directory, emails written to its log as JSON lines
#       (GATEHOUSE_LOG_FORMAT=json), a bootstrap admin (GATEHOUSE_ADMIN_EMAIL/PASSWORD), access
#       tokens living 3 s (GATEHOUSE_ACCESS_TOKEN_TTL=3s) so that they expire during the tests;
#       each is stopped with SIGTERM and must exit 0.
#
# Exit status: pytest's (0 when every test passed); 1 when the environment cannot be made.
#
# Environment:
#   GATEHOUSE_E2E_BIN    a gatehouse binary to use; otherwise $CARGO_TARGET_DIR/release/gatehouse
#                        (CARGO_TARGET_DIR defaults to ~/.cache/gatehouse-target), built with
#                        `cargo build --release --locked` only when it is missing
#   GATEHOUSE_PY_WHEEL   a built wheel of the package to test (installed into the environment);
#                        otherwise the source in src/ is tested
set -euo pipefail

case ${1:-} in
  -h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

# A relative path is taken from where the script was started.
for name in GATEHOUSE_E2E_BIN GATEHOUSE_PY_WHEEL; do
  if [[ -n "${!name:-}" && "${!name}" != /* ]]; then
    export "$name=$PWD/${!name}"
  fi
done
cd "$(dirname "$0")/.."   # clients/python

say() { printf '[python-middleware] %s\n' "$*"; }

venv="$(scripts/venv.sh)"

if [[ -n "${GATEHOUSE_PY_WHEEL:-}" ]]; then
  say "testing the wheel $(basename "$GATEHOUSE_PY_WHEEL")"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$GATEHOUSE_PY_WHEEL"
  unset PYTHONPATH
else
  say "testing the source in src/"
  export PYTHONPATH="$PWD/src"
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
if [[ -z "${GATEHOUSE_E2E_BIN:-}" ]]; then
  GATEHOUSE_E2E_BIN="$CARGO_TARGET_DIR/release/gatehouse"
  if [[ ! -x "$GATEHOUSE_E2E_BIN" ]]; then
    say "cargo build --release --locked (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd ../.. && cargo build --release --locked)
  fi
fi
[[ -x "$GATEHOUSE_E2E_BIN" ]] || { say "error: no gatehouse binary at $GATEHOUSE_E2E_BIN" >&2; exit 1; }
export GATEHOUSE_E2E_BIN
say "using $GATEHOUSE_E2E_BIN"

# The servers are all on 127.0.0.1: no proxy of the environment in between.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

"$venv/bin/python" -c 'import gatehouse_middleware as m; print("[python-middleware] gatehouse_middleware", m.__version__, "from", m.__file__)'
exec "$venv/bin/python" -m pytest "$@"
