#!/usr/bin/env bash
# Makes the virtual environment the Python middleware's tests, build and quickstarts run in, or
# brings it up to date, and prints its path. It lives outside the clone,
# $GATEHOUSE_PYTHON_VENV or ~/.cache/gatehouse-python-middleware, and holds exactly
# requirements-test.txt; it is made anew when that file or the Python changes, by one caller at a
# time.
#
#   venv=$(clients/python/scripts/venv.sh)
#
# Environment: PYTHON, the interpreter to make it with (default python3, at least 3.10).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${GATEHOUSE_PYTHON_VENV:-$HOME/.cache/gatehouse-python-middleware}"
python="${PYTHON:-python3}"

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || { echo "venv.sh: $python is $("$python" --version 2>&1); 3.10 or later is needed" >&2; exit 1; }

want="$( { cat "$here/requirements-test.txt"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
# Suites running side by side share it: one makes it while the others wait, then find it made.
mkdir -p "$(dirname "$venv")"
exec 8>"$venv.lock"
flock 8
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.requirements" 2>/dev/null)" != "$want" ]]; then
  echo "venv.sh: making $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements-test.txt" >&2
  echo "$want" >"$venv/.requirements"
fi
echo "$venv"
