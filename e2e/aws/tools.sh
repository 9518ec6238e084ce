#!/usr/bin/env bash
# The offline AWS tools that the DynamoDB store and the Lambda build are tested with, from PyPI at
# pinned versions, each in its own virtualenv under ~/.cache: moto's server (moto[server]), a
# stand-in for DynamoDB and DynamoDB Streams on a loopback port; cargo-lambda (its prebuilt
# wheel), which builds the Lambda binary and emulates the Lambda runtime and invoke APIs; and
# cfn-lint with aws-sam-translator beside it, which check CloudFormation and SAM templates and
# turn a SAM template into plain CloudFormation without the network (deploy/aws/check.sh). A
# virtualenv is made anew only when one of its packages is missing or not at its pinned version
# (so changing either pin of the cfn-lint virtualenv remakes it), so a second run does nothing
# and takes well under a second. pip's output goes to a temporary file, shown only when an install
# fails.
#
#   e2e/aws/tools.sh
#       installs what is missing or out of date, into ~/.cache/gatehouse-moto,
#       ~/.cache/gatehouse-cargo-lambda and ~/.cache/gatehouse-cfn-lint; says on stderr what it
#       installs and prints nothing when everything is already there.
#
#   eval "$(e2e/aws/tools.sh --print-env)"
#       the same, then prints on stdout one export line for each tool's path, to be evaluated
#       by the caller: GATEHOUSE_MOTO_PYTHON (the python of moto's virtualenv, which runs
#       e2e/aws/dynamodb_engine.py: moto's server answering one request at a time), GATEHOUSE_CARGO_LAMBDA
#       (cargo-lambda), GATEHOUSE_CFN_LINT (cfn-lint) and GATEHOUSE_CFN_LINT_PYTHON (the python of
#       cfn-lint's virtualenv, which can import samtranslator). cargo-lambda is a cargo
#       subcommand run directly, so its first argument is `lambda`: "$GATEHOUSE_CARGO_LAMBDA"
#       lambda watch ….
#
# Exit status: 0 when the tools are installed at their pinned versions; 1 when python3 (with its
# venv module) is missing or an install failed (the last lines of pip's output are printed on
# stderr); 2 on a usage error.
#
# Installs of the same virtualenv by runs at the same time wait for each other (a lock file
# beside it, ~/.cache/gatehouse-*.lock) when flock is on PATH.
set -euo pipefail

MOTO_VERSION=5.2.5
CARGO_LAMBDA_VERSION=1.9.2
CFN_LINT_VERSION=1.58.0
# Beside cfn-lint in its virtualenv: a release known to translate a SAM template offline.
SAM_TRANSLATOR_VERSION=1.115.0

print_env=0
case ${1:-} in
  "") ;;
  --print-env) print_env=1 ;;
  -h | --help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "one argument at most (see --help)" >&2; exit 2; }

# Progress and errors on stderr, so that stdout holds nothing but the export lines.
say() { printf '[aws-tools] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v python3 >/dev/null || die "python3 is needed and not on PATH"
cache="$HOME/.cache"
pip_log=""
trap '[ -z "$pip_log" ] || rm -f "$pip_log"' EXIT

# pinned_versions VENV REQUIREMENT...: for each REQUIREMENT (name[extras]==version), the line
# name==version as VENV has it (name==, when it is missing); one python start for them all.
pinned_versions() {
  local venv=$1
  shift
  "$venv/bin/python" - "$@" 2>/dev/null <<'PY' || true
import re, sys
from importlib.metadata import PackageNotFoundError, version
for requirement in sys.argv[1:]:
    name = re.split(r"[\[=]", requirement, maxsplit=1)[0]
    try:
        found = version(name)
    except PackageNotFoundError:
        found = ""
    print(f"{name}=={found}")
PY
}

# wanted_versions REQUIREMENT...: the lines pinned_versions prints when all are in place.
wanted_versions() {
  local requirement
  for requirement in "$@"; do
    printf '%s==%s\n' "${requirement%%[[=]*}" "${requirement##*==}"
  done
}

# install_pinned VENV EXECUTABLE REQUIREMENT...: makes VENV anew with every REQUIREMENT
# (name[extras]==version) in it unless each is there at its version and VENV/bin/EXECUTABLE
# exists.
install_pinned() {
  local venv=$1 executable=$2
  shift 2
  local wanted
  wanted=$(wanted_versions "$@")
  mkdir -p "$(dirname "$venv")"
  if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock -w 600 9 || die "could not lock $venv.lock"
  fi
  if [ "$(pinned_versions "$venv" "$@")" != "$wanted" ] || [ ! -x "$venv/bin/$executable" ]; then
    say "installing $* from PyPI into $venv"
    pip_log=$(mktemp "${TMPDIR:-/tmp}/gatehouse-aws-tools-pip.XXXXXX")
    rm -rf "$venv"
    if ! { python3 -m venv "$venv" \
      && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@"; } \
      >"$pip_log" 2>&1; then
      echo "---- last lines of pip's output ----" >&2
      tail -n 40 "$pip_log" >&2
      echo "----" >&2
      rm -rf "$venv"
      die "could not install $* into $venv"
    fi
    rm -f "$pip_log"
    pip_log=""
    if [ "$(pinned_versions "$venv" "$@")" != "$wanted" ] || [ ! -x "$venv/bin/$executable" ]; then
      die "$* installed into $venv, but not at those versions, or bin/$executable is not there"
    fi
  fi
  exec 9>&-
}

install_pinned "$cache/gatehouse-moto" moto_server "moto[server]==$MOTO_VERSION"
install_pinned "$cache/gatehouse-cargo-lambda" cargo-lambda "cargo-lambda==$CARGO_LAMBDA_VERSION"
install_pinned "$cache/gatehouse-cfn-lint" cfn-lint "cfn-lint==$CFN_LINT_VERSION" \
  "aws-sam-translator==$SAM_TRANSLATOR_VERSION"

if [ "$print_env" = 1 ]; then
  printf 'export GATEHOUSE_MOTO_PYTHON=%q\n' "$cache/gatehouse-moto/bin/python"
  printf 'export GATEHOUSE_CARGO_LAMBDA=%q\n' "$cache/gatehouse-cargo-lambda/bin/cargo-lambda"
  printf 'export GATEHOUSE_CFN_LINT=%q\n' "$cache/gatehouse-cfn-lint/bin/cfn-lint"
  printf 'export GATEHOUSE_CFN_LINT_PYTHON=%q\n' "$cache/gatehouse-cfn-lint/bin/python"
fi
