#!/usr/bin/env bash
# Checks the AWS SAM template that deploys gatehouse as two Lambda functions
# (deploy/aws/template.yaml), offline and without AWS credentials, in three stages: cfn-lint on the
# SAM template itself, informational checks included (--include-checks I); then the template
# translated into the plain CloudFormation that AWS would deploy, by aws-sam-translator
# (deploy/aws/sam_translate.py, which refuses every network connection and stubs what would need
# AWS: the region, IAM's managed-policy list, the upload of the code); then cfn-lint, informational
# checks included, on that translation, where what the SAM stage cannot see is checked: the
# Lambda permissions, the EventBridge rule's schedule expression, the HTTP API. Any finding at
# all, of any level, fails the check. The tools come from e2e/aws/tools.sh, pinned, in virtualenvs
# under ~/.cache (installed at the first run).
#
#   deploy/aws/check.sh
#       checks deploy/aws/template.yaml; prints one line for each stage (and the translated
#       template's resource count), with the findings of a stage that failed.
#
#   deploy/aws/check.sh TEMPLATE
#       the same for another template file (a path from the current directory), e.g. a copy
#       broken on purpose to show that the check fails.
#
# Exit status: 0 when every stage passed with no finding; 1 when a stage found anything, the
# translation failed, or the tools could not be installed; 2 on a usage error (or a template
# that does not exist).
set -euo pipefail

case ${1:-} in
  -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "one template at most (see --help)" >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ $# -eq 1 ]; then
  [ -f "$1" ] || { echo "no such template: $1" >&2; exit 2; }
  template=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
else
  template=$root/deploy/aws/template.yaml
fi
cd "$root"
eval "$(e2e/aws/tools.sh --print-env)"

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-aws-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
say() { printf '[aws-check] %s\n' "$*"; }
failed=0

# lint STAGE FILE: cfn-lint with the informational checks on FILE; any output or a non-zero
# status (cfn-lint's is a bit mask of the levels it found) is a failure.
lint() {
  local stage=$1 file=$2 status=0
  "$GATEHOUSE_CFN_LINT" --include-checks I -- "$file" >"$work/lint.out" 2>&1 || status=$?
  if [ "$status" = 0 ] && [ ! -s "$work/lint.out" ]; then
    say "$stage: cfn-lint found nothing"
  else
    say "$stage: FAILED, cfn-lint exited $status:"
    sed 's/^/    /' "$work/lint.out"
    failed=1
  fi
}

say "template: ${template#"$root"/}"
lint "SAM template" "$template"

translated=$work/translated.json
if count=$("$GATEHOUSE_CFN_LINT_PYTHON" deploy/aws/sam_translate.py "$template" "$translated" 2>"$work/translate.err"); then
  say "translation to CloudFormation (offline): $count resources"
  lint "translated template" "$translated"
else
  say "translation to CloudFormation (offline): FAILED:"
  sed 's/^/    /' "$work/translate.err"
  say "translated template: not checked, there is none"
  failed=1
fi

if [ "$failed" = 0 ]; then
  say "passed"
else
  say "FAILED"
fi
exit "$failed"
