#!/usr/bin/env bash
# Everything CI checks of gatehouse-middleware (clients/node-middleware), from a clean clone,
# with nothing but node and npm (and a gatehouse binary):
#
#   1. npm ci (its prepare script builds dist/ with tsc)
#   2. test/run.sh: the tests against the real gatehouse, and the types a TypeScript app sees
#   3. npm pack into a temporary directory; the tarball holds dist/ (JavaScript and .d.ts),
#      package.json and README.md, nothing else; installed into a scratch project, every entry
#      point imports and a TypeScript file using the package type-checks
#   4. examples/quickstart/express/run.sh: the quickstart, end to end
#
# Usage: clients/node-middleware/ci.sh
#
# Environment: GATEHOUSE_E2E_BIN, a gatehouse binary to use (passed on to both scripts);
# otherwise each uses $CARGO_TARGET_DIR/release/gatehouse (CARGO_TARGET_DIR defaults to
# ~/.cache/gatehouse-target) and builds it with `cargo build --release --locked` only when it is
# missing. Exit status 0 when everything passed, 1 otherwise.
set -euo pipefail

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

if [[ -n "${GATEHOUSE_E2E_BIN:-}" && "$GATEHOUSE_E2E_BIN" != /* ]]; then
  export GATEHOUSE_E2E_BIN="$PWD/$GATEHOUSE_E2E_BIN"
fi
cd "$(dirname "$0")"   # clients/node-middleware
here=$PWD

# clients/node-middleware, and the Express quickstart that builds it in place, are one workshop:
# suites running side by side (CI's two lanes) take turns in it, the first holding it for all
# it runs.
if [[ -z ${GATEHOUSE_NODE_MIDDLEWARE_HELD:-} ]]; then
  exec 7>"${TMPDIR:-/tmp}/gatehouse-node-middleware.lock"
  flock 7
  export GATEHOUSE_NODE_MIDDLEWARE_HELD=1
fi

started=$(date +%s)
say() { printf '[node-middleware ci %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
die() { say "error: $*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-mw-ci.XXXXXX")
trap 'rm -rf "$work"' EXIT

for tool in node npm; do
  command -v "$tool" >/dev/null || die "$tool is needed and not on PATH"
done
say "Node.js $(node --version), npm $(npm --version 2>/dev/null)"

# ------------------------------------------------------------------------------------------
say "1. npm ci (and the build, by the prepare script)"
npm ci --no-audit --no-fund --loglevel=error >"$work/npm-ci.log" 2>&1 || { tail -n 40 "$work/npm-ci.log" >&2; die "npm ci failed"; }
touch node_modules
[[ -f dist/index.js && -f dist/index.d.ts ]] || die "npm ci did not build dist/"

# ------------------------------------------------------------------------------------------
say "2. the tests against gatehouse (test/run.sh)"
test/run.sh || die "the tests failed"

# ------------------------------------------------------------------------------------------
say "3. npm pack, then the tarball installed into a scratch project"
npm pack --pack-destination "$work" --loglevel=error >"$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; die "npm pack failed"; }
tarball=$(ls "$work"/gatehouse-middleware-*.tgz)
tar -tzf "$tarball" | sort >"$work/contents"
sed 's/^/  /' "$work/contents"
for required in dist/index.js dist/index.d.ts dist/express.js dist/express.d.ts dist/fastify.js dist/fastify.d.ts \
  dist/http.js dist/http.d.ts dist/verifier.js dist/errors.js dist/resource.js dist/caller.js package.json README.md; do
  grep -qx "package/$required" "$work/contents" || die "the tarball lacks $required"
done
if grep -Ev '^package/(dist/[a-z]+\.(js|d\.ts)|package\.json|README\.md|LICENSE[^/]*)$' "$work/contents"; then
  die "the tarball holds files it should not (above)"
fi

scratch="$work/scratch"
mkdir -p "$scratch"
cat >"$scratch/package.json" <<'EOF'
{ "name": "scratch", "version": "0.0.0", "private": true, "type": "module" }
EOF
(cd "$scratch" && npm install --no-audit --no-fund --loglevel=error "$tarball") >"$work/install.log" 2>&1 \
  || { tail -n 40 "$work/install.log" >&2; die "the tarball does not install"; }
# Every entry point imports without Express or Fastify installed: they are optional peers.
(cd "$scratch" && node --input-type=module -e '
  const root = await import("gatehouse-middleware");
  const express = await import("gatehouse-middleware/express");
  const fastify = await import("gatehouse-middleware/fastify");
  const http = await import("gatehouse-middleware/http");
  const checks = {
    "createVerifier": typeof root.createVerifier === "function",
    "GatehouseError": typeof root.GatehouseError === "function" && express.GatehouseError === root.GatehouseError,
    "express gatehouse": typeof express.gatehouse === "function" && express.default === express.gatehouse,
    "fastify gatehouse": typeof fastify.gatehouse === "function" && typeof fastify.gatehouseHook === "function",
    "http gatehouse": typeof http.gatehouse === "function" && typeof http.sendError === "function",
    "a middleware": typeof express.gatehouse({ issuer: "http://127.0.0.1:9", log: () => {} }) === "function",
    "resourceMetadata": [express, fastify, http].every((entry) => typeof entry.resourceMetadata === "function"),
    "canonicalResource": root.canonicalResource("HTTPS://MCP.example.com:443") === "https://mcp.example.com/",
  };
  const failed = Object.entries(checks).filter(([, ok]) => !ok).map(([name]) => name);
  if (failed.length) { console.error("failed: " + failed.join(", ")); process.exit(1); }
  console.log("  imported: gatehouse-middleware, /express, /fastify, /http");
') || die "the installed package does not import"
cat >"$scratch/check.ts" <<'EOF'
import { createServer } from "node:http";
import { createVerifier, GatehouseError, type GatehouseAuth } from "gatehouse-middleware";
import { gatehouse } from "gatehouse-middleware/http";

const auth = gatehouse({ issuer: "https://auth.example.com", requireAal: 2 });
createServer(auth.protect((req, res) => res.end(req.auth.email)));
const verify: (token: string) => Promise<GatehouseAuth> = (token) => createVerifier({ issuer: "https://auth.example.com" }).verify(token);
const status = (error: GatehouseError): number => error.status;
void verify;
void status;
EOF
cat >"$scratch/tsconfig.json" <<EOF
{
  "compilerOptions": {
    "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true,
    "noEmit": true, "lib": ["ES2022", "DOM"], "typeRoots": ["$here/node_modules/@types"], "types": ["node"]
  },
  "files": ["check.ts"]
}
EOF
(cd "$scratch" && "$here/node_modules/.bin/tsc" -p tsconfig.json) || die "a TypeScript app does not type-check against the installed package"
say "  a TypeScript file using the installed package type-checks"

# ------------------------------------------------------------------------------------------
say "4. the Express quickstart (examples/quickstart/express/run.sh)"
../../examples/quickstart/express/run.sh || die "the quickstart failed"

say "gatehouse-middleware: passed"
