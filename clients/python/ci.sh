#!/usr/bin/env bash
# Everything CI needs of the Python middleware (clients/python), in one step:
#   1. the virtual environment of pinned tools (scripts/venv.sh, outside the clone)
#   2. mypy --strict on the package and the tests
#   3. the sdist and the wheel, built with `python -m build` (the sdist from the source, the
#      wheel from the sdist), and what the wheel holds checked
#   4. the wheel installed into a fresh virtual environment from PyPI, alone and with its
#      extras, and imported
#   5. the tests (tests/run.sh) against the gatehouse binary, importing the built wheel
#   6. the quickstarts (examples/quickstart/python.sh), with the built wheel
#
#   clients/python/ci.sh
#
# Needs python3 (3.10 or later), curl and PyPI. The gatehouse binary is GATEHOUSE_E2E_BIN, or
# $CARGO_TARGET_DIR/release/gatehouse (CARGO_TARGET_DIR defaults to ~/.cache/gatehouse-target),
# built with `cargo build --release --locked` when missing. Exit status 0 when every step passed.
set -euo pipefail

if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  export GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")"   # clients/python
started=$(date +%s)
step() { printf '\n== python middleware: %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

work="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-python-ci.XXXXXX")"
trap 'rm -rf "$work"' EXIT

step "virtual environment (requirements-test.txt)"
venv="$(scripts/venv.sh)"
"$venv/bin/python" --version

step "mypy --strict: the package, and the tests as a user of it"
"$venv/bin/mypy" --strict --cache-dir "$work/mypy" src/gatehouse_middleware
MYPYPATH=src:tests "$venv/bin/mypy" --strict --cache-dir "$work/mypy" --explicit-package-bases tests/*.py

step "python -m build: sdist and wheel"
"$venv/bin/python" -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; exit 1; }
sdist="$(ls "$work"/dist/gatehouse_middleware-*.tar.gz)"
wheel="$(ls "$work"/dist/gatehouse_middleware-*-py3-none-any.whl)"
ls -l "$work/dist"
"$venv/bin/python" - "$wheel" "$sdist" <<'EOF'
import sys, tarfile, zipfile

wheel, sdist = sys.argv[1:]
names = set(zipfile.ZipFile(wheel).namelist())
modules = {f"gatehouse_middleware/{m}" for m in ("__init__.py", "auth.py", "errors.py", "resource.py", "verifier.py", "starlette.py", "fastapi.py", "flask.py", "py.typed")}
missing = modules - names
assert not missing, f"the wheel lacks {sorted(missing)}"
info = next(n for n in names if n.endswith(".dist-info/METADATA"))
metadata = zipfile.ZipFile(wheel).read(info).decode()
for line in ("Name: gatehouse-middleware", "License-Expression: MIT OR Apache-2.0", "Requires-Python: >=3.10",
             "Provides-Extra: fastapi", "Provides-Extra: flask"):
    assert line in metadata.splitlines(), f"METADATA lacks {line!r}"
assert any(l.lower().startswith("requires-dist: pyjwt[crypto]") for l in metadata.splitlines()), "METADATA lacks PyJWT[crypto]"
for license in ("LICENSE-MIT", "LICENSE-APACHE"):
    assert any(n.endswith(f".dist-info/licenses/{license}") for n in names), f"the wheel lacks {license}"
assert not any("tests/" in n or n.endswith(".pyc") for n in names), "the wheel holds tests or bytecode"
members = tarfile.open(sdist).getnames()
for path in ("src/gatehouse_middleware/py.typed", "pyproject.toml", "README.md", "LICENSE-MIT", "LICENSE-APACHE", "tests/conftest.py"):
    assert any(m.endswith("/" + path) for m in members), f"the sdist lacks {path}"
print(f"the wheel holds {len(names)} files and the sdist {len(members)}: as expected")
EOF

step "the wheel in a fresh virtual environment, from PyPI"
python3 -m venv "$work/fresh"
"$work/fresh/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"
"$work/fresh/bin/python" - <<'EOF'
import importlib.util
import gatehouse_middleware
from gatehouse_middleware import Auth, Verifier  # noqa: F401
for extra in ("fastapi", "flask", "starlette"):
    assert importlib.util.find_spec(extra) is None, f"{extra} came without its extra"
print("gatehouse_middleware", gatehouse_middleware.__version__, "imports alone")
EOF
"$work/fresh/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel[fastapi,flask]"
"$work/fresh/bin/python" -c '
import gatehouse_middleware.fastapi, gatehouse_middleware.flask, gatehouse_middleware.starlette
print("gatehouse_middleware.fastapi, .starlette and .flask import with the extras")'

step "tests against gatehouse (tests/run.sh, the built wheel)"
GATEHOUSE_PY_WHEEL="$wheel" tests/run.sh

step "quickstarts (examples/quickstart/python.sh, the built wheel)"
GATEHOUSE_PY_WHEEL="$wheel" ../../examples/quickstart/python.sh

step "passed"
