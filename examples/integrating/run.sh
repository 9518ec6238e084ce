#!/usr/bin/env bash
# Runs every verifier of docs/INTEGRATING.md against the release binary: Node's `jose` and
# `jsonwebtoken`, Python's PyJWT and Rust's `jsonwebtoken` crate (examples/integrating/).
#
# For each algorithm (EdDSA, ES256, RS256) it starts gatehouse on a fresh SQLite database,
# logs in, and requires every verifier that supports the algorithm to accept the token and to
# refuse it for another audience and when tampered with. Then, on one database, it rotates the
# key (`gatehouse keys rotate`) and switches the algorithm twice (EdDSA → ES256 → RS256, a
# restart each), and requires every token issued on the way to verify in every verifier that
# supports its algorithm. Node's `jsonwebtoken` has no Ed25519, so EdDSA tokens skip it.
#
# Usage: examples/integrating/run.sh   (CARGO_TARGET_DIR as for the build; default
#        ~/.cache/gatehouse-target; needs node, npm, python3 and the registries once)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
gatehouse="$CARGO_TARGET_DIR/release/gatehouse"
cargo build --release --locked --quiet --bin gatehouse
cargo build --locked --quiet --example verify_token
rust_verifier="$CARGO_TARGET_DIR/debug/examples/verify_token"

# The verifiers' libraries, pinned, from npm and PyPI.
(cd "$here" && npm install --no-audit --no-fund --silent >/dev/null)
venv="$HOME/.cache/gatehouse-pyjwt"
if ! "$venv/bin/python" -c 'import jwt, cryptography' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$here/requirements.txt"
fi

work="$(mktemp -d)"
server=""
stop() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=""; }
trap 'stop; rm -rf "$work"' EXIT
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
issuer="http://127.0.0.1:$port"
password="correct horse battery staple"

# Starts gatehouse on database $1 signing with algorithm $2, and waits until it is ready.
start() {
  export GATEHOUSE_DATABASE_URL="sqlite://$work/$1.db" GATEHOUSE_TOKEN_ALGORITHM="$2"
  export GATEHOUSE_BIND="127.0.0.1:$port" GATEHOUSE_PUBLIC_URL="$issuer" GATEHOUSE_LOG=warn
  "$gatehouse" migrate >/dev/null
  "$gatehouse" serve >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    curl -fs "$issuer/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "integrating: gatehouse did not become ready" >&2; cat "$work/server.log" >&2; exit 1
}

log_in() {
  curl -fs "$issuer/auth" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$password\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# The verifiers able to check algorithm $1.
verifiers() {
  local node="node $here/verify-jose.mjs" py="$venv/bin/python $here/verify_pyjwt.py"
  echo "jose|$node"
  [ "$1" != EdDSA ] && echo "jsonwebtoken|node $here/verify-jsonwebtoken.mjs"
  echo "PyJWT|$py"
  echo "rust-jsonwebtoken|$rust_verifier"
}

# Every verifier of algorithm $1 must accept the tokens $3… for audience $2.
accept() {
  local algorithm="$1" audience="$2"; shift 2
  while IFS='|' read -r name command; do
    if ! out="$($command "$issuer" "$audience" "$@" 2>&1)"; then
      echo "integrating: $name refused a good $algorithm token: $out" >&2; exit 1
    fi
    echo "  $name accepts $# $algorithm token(s): $(echo "$out" | awk '{print $2}' | sort | uniq -c | xargs)"
  done < <(verifiers "$algorithm")
}

# Every verifier of algorithm $1 must refuse token $3 for audience $2.
refuse() {
  while IFS='|' read -r name command; do
    if out="$($command "$issuer" "$2" "$3" 2>&1)"; then
      echo "integrating: $name accepted a bad $1 token ($4): $out" >&2; exit 1
    fi
  done < <(verifiers "$1")
  echo "  every verifier refuses a $1 token $4"
}

for algorithm in EdDSA ES256 RS256; do
  echo "integrating: $algorithm"
  start "$algorithm" "$algorithm"
  printf '%s\n' "$password" | "$gatehouse" user create --email "ann@example.com" --password-stdin >/dev/null
  token="$(log_in ann@example.com)"
  accept "$algorithm" "$issuer" "$token"
  refuse "$algorithm" "https://another-api.example.com" "$token" "for another audience"
  # The payload's last character changed: the signature no longer matches.
  IFS=. read -r head body signature <<<"$token"
  last="${body: -1}"; [ "$last" = A ] && swap=B || swap=A
  refuse "$algorithm" "$issuer" "$head.${body%?}$swap.$signature" "with a changed payload"
  stop
done

echo "integrating: a key rotation and two algorithm switches on one database"
start switching EdDSA
printf '%s\n' "$password" | "$gatehouse" user create --email "ben@example.com" --password-stdin >/dev/null
ed25519="$(log_in ben@example.com)"
"$gatehouse" keys rotate >/dev/null
accept EdDSA "$issuer" "$ed25519" "$(log_in ben@example.com)"
stop
start switching ES256
es256="$(log_in ben@example.com)"
accept ES256 "$issuer" "$es256"
accept EdDSA "$issuer" "$ed25519"
stop
start switching RS256
rs256="$(log_in ben@example.com)"
accept RS256 "$issuer" "$rs256" 
accept ES256 "$issuer" "$es256"
accept EdDSA "$issuer" "$ed25519"
kids="$(curl -fs "$issuer/.well-known/jwks.json" | python3 -c 'import json, sys; print(" ".join(k["alg"] for k in json.load(sys.stdin)["keys"]))')"
echo "  the JWKS publishes: $kids"
[ "$kids" = "EdDSA EdDSA ES256 RS256" ] || { echo "integrating: unexpected JWKS: $kids" >&2; exit 1; }
stop
echo "integrating: passed"
