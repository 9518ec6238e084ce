#!/usr/bin/env bash
# Self-test of the social login test servers in e2e/oidc/ (provider.mjs, github.mjs).
#
#   e2e/oidc/run.sh
#       installs the locked npm packages into e2e/oidc/node_modules when they are missing or
#       older than package-lock.json, then runs e2e/oidc/selftest.mjs. Exit status is its.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ ! -d e2e/oidc/node_modules || e2e/oidc/package-lock.json -nt e2e/oidc/node_modules ]]; then
  (cd e2e/oidc && npm ci --no-audit --no-fund)
fi

node e2e/oidc/selftest.mjs
