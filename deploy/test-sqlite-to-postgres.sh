#!/usr/bin/env bash
# Proves deploy/sqlite-to-postgres.sh: fills a SQLite database through a live gatehouse (every
# table gets rows; the few a test cannot reach over HTTP get them from sqlite3), copies it into
# a fresh PostgreSQL database, then checks
#   - that every SQLite table has as many rows in PostgreSQL,
#   - that every row and column is the same (values compared in PostgreSQL's types: bytes as
#     bytes, JSON as JSON, timestamps as instants),
#   - a few values by name (the accounts' emails, app_data and password hashes, TOTP and passkey
#     bytes, a NULL BLOB, an empty text, a text with control characters, a user agent "\N"),
#   - and that gatehouse serves from the copy: the admin and a user log in, the account with an
#     authenticator app is asked for it and its code is accepted (the sealed secret and its key
#     came along), old access and refresh tokens still work, the signing keys are the same.
#
#   deploy/test-sqlite-to-postgres.sh
#
# Environment: GATEHOUSE_BIN (default ~/.cache/gatehouse-target/release/gatehouse, built with
# `cargo build --release`), COPY_SCRIPT (default deploy/sqlite-to-postgres.sh: point it at
# another version to see what that one loses), POSTGRES_ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres: a server where this user may create databases),
# KEEP=1 keeps the temporary directory and the PostgreSQL database for a look afterwards.
# Needs sqlite3, psql, curl and python3 (standard library only).
#
# Prints PASS or FAIL for each check and a summary; exits 0 when every check passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${GATEHOUSE_BIN:-$HOME/.cache/gatehouse-target/release/gatehouse}
copy_script=${COPY_SCRIPT:-deploy/sqlite-to-postgres.sh}
admin_url=${POSTGRES_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}

for tool in sqlite3 psql curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is needed and not on PATH" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "no gatehouse binary at $bin (set GATEHOUSE_BIN, or cargo build --release)" >&2; exit 1; }
[ -r "$copy_script" ] || { echo "no copy script at $copy_script" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-copy-test.XXXXXX")
sqlite_db="$work/gatehouse.db"
pg_name="gatehouse_copy_test_$$_$(date +%s)"
pg_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$admin_url" "$pg_name")
server_pid="" pg_created="" summarised=""
passed=0 failed=0

stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() {
  local status=$?
  stop_server
  [ -n "$summarised" ] || [ "$status" = 0 ] || echo "FAIL  the test stopped early (exit $status)"
  if [ "${KEEP:-}" = 1 ]; then
    echo "kept $work and the database $pg_url"
  else
    [ -z "$pg_created" ] || psql -X -q "$admin_url" -c "DROP DATABASE IF EXISTS \"$pg_name\" WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() { passed=$((passed + 1)); echo "PASS  $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
check() { # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
summary() {
  summarised=1
  echo
  echo "== summary: $passed passed, $failed failed ($copy_script)"
  if [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then echo "PASS"; else echo "FAIL"; fi
}
abort() { # a setup step failed: nothing after it would mean anything
  fail "$*"
  [ ! -s "$work/body" ] || { echo "---- answer:"; head -c 2000 "$work/body"; echo; }
  [ ! -s "$work/server.log" ] || { echo "---- last lines of the server's log:"; tail -n 15 "$work/server.log"; }
  summary
  exit 1
}

# ------------------------------------------------------------------------------------------
# Helpers in Python (standard library only).
cat > "$work/helpers.py" <<'PYTHON'
import base64, csv, hashlib, hmac, html.parser, json, os, re, sqlite3, struct, sys, time

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def jget(path, file):
    """A value of a JSON document by a dotted path (list items by number); strings bare."""
    value = json.load(open(file))
    for part in filter(None, path.split(".")):
        value = value[int(part)] if isinstance(value, list) else value[part]
    print(value if isinstance(value, str) else json.dumps(value, sort_keys=True))

def totp(secret, min_step="0"):
    """A code of the authenticator app (RFC 6238: SHA-1, 6 digits, 30 s) of a step no earlier
    than min_step; the server accepts one step either side of its own."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    while int(time.time()) // 30 + 1 < int(min_step):
        time.sleep(1)
    step = max(int(time.time()) // 30, int(min_step))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 15
    print("%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000))

def mail_link(log, address, path, wait="15"):
    """The last link to `path` in an email to `address` that the server wrote to its log."""
    deadline = time.time() + float(wait)
    pattern = re.compile(r"https?://\S+?" + re.escape(path) + r"\?token=[A-Za-z0-9_\-]+")
    while True:
        found = None
        for line in open(log, errors="replace"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if str(entry.get("to", "")).lower() == address.lower():
                found = pattern.search(entry.get("message", "")) or found
        if found:
            print(found.group(0)); return
        if time.time() > deadline:
            sys.exit(f"no email to {address} with a link to {path} in {log}")
        time.sleep(0.2)

class Inputs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.values = {}
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and "name" in attrs:
            self.values.setdefault(attrs["name"], attrs.get("value") or "")

def form_value(file, name):
    parser = Inputs(); parser.feed(open(file).read())
    print(parser.values[name])

def query_param(url, name):
    from urllib.parse import parse_qs, urlsplit
    print(parse_qs(urlsplit(url).query)[name][0])

def pkce():
    verifier = b64url(os.urandom(32))
    print(verifier, b64url(hashlib.sha256(verifier.encode()).digest()))

def cbor(value):
    def head(major, n):
        if n < 24: return bytes([major << 5 | n])
        if n < 256: return bytes([major << 5 | 24, n])
        if n < 65536: return bytes([major << 5 | 25]) + struct.pack(">H", n)
        return bytes([major << 5 | 26]) + struct.pack(">I", n)
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        return head(3, len(value.encode())) + value.encode()
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(value)

def passkey(options_file, origin, rp_id):
    """What a browser's authenticator would answer to creation options, attestation "none"
    (unsigned). The public key is P-256's generator, a valid point; nobody logs in with it."""
    challenge = json.load(open(options_file))["publicKey"]["challenge"]
    credential_id = os.urandom(16)
    x = bytes.fromhex("6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296")
    y = bytes.fromhex("4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5")
    key = cbor({1: 2, 3: -7, -1: 1, -2: x, -3: y})
    flags = 0x01 | 0x04 | 0x40  # user present, user verified, attested credential data
    auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", 0)
                 + bytes(16) + struct.pack(">H", len(credential_id)) + credential_id + key)
    attestation = cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
    client_data = json.dumps({"type": "webauthn.create", "challenge": challenge, "origin": origin,
                              "crossOrigin": False}).encode()
    print(json.dumps({"credential": {
        "id": b64url(credential_id), "rawId": b64url(credential_id), "type": "public-key",
        "response": {"attestationObject": b64url(attestation), "clientDataJSON": b64url(client_data),
                     "transports": ["internal"]},
        "clientExtensionResults": {}}, "name": "Laptop \"work\", 2nd"}))

def tables(db):
    con = sqlite3.connect(db)
    return [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "AND name NOT IN ('_sqlx_migrations', 'gatehouse_migrations') "
        "AND name NOT LIKE 'account\\_search%' ESCAPE '\\' ORDER BY name")]

def canon():
    """JSON from stdin, with its keys sorted; "(none)" for nothing."""
    text = sys.stdin.read().strip()
    print(json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")) if text else "(none)")

def list_tables(db):
    print("\n".join(tables(db)))

def comparison(db, pg_columns, out_dir):
    """Loads every SQLite table, read here independently of the copy script, into text columns
    of a schema `sqlite_side` (load.sql), and writes compare.sql: per table, the rows of each
    side missing from the other, compared in PostgreSQL's types, and the columns that differ.
    Tables or columns PostgreSQL lacks are listed in problems.txt."""
    con = sqlite3.connect(db)
    pg = {}
    for line in open(pg_columns):
        table, column, kind = line.rstrip("\n").split("|")
        pg.setdefault(table, {})[column] = kind
    load = ["DROP SCHEMA IF EXISTS sqlite_side CASCADE;", "CREATE SCHEMA sqlite_side;"]
    compare, problems = [], []
    for table in tables(db):
        columns = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
        path = os.path.join(out_dir, f"side_{table}.csv")
        with open(path, "w", newline="") as f:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                fields = []
                for v in row:
                    if v is None: fields.append("")
                    elif isinstance(v, bytes): fields.append(v.hex())
                    elif isinstance(v, int): fields.append(str(v))
                    else: fields.append('"' + str(v).replace('"', '""') + '"')
                f.write(",".join(fields) + "\n")
        load.append(f'CREATE TABLE sqlite_side."{table}" ({", ".join(f"{chr(34)}{c}{chr(34)} text" for c in columns)});')
        load.append(f"\\copy sqlite_side.\"{table}\" FROM '{path}' WITH (FORMAT csv)")
        if table not in pg:
            problems.append(f"{table}: no such table in PostgreSQL")
            continue
        missing = [c for c in columns if c not in pg[table]]
        extra = [c for c in pg[table] if c not in columns]
        if missing: problems.append(f"{table}: PostgreSQL has no column {' '.join(missing)}")
        if extra: problems.append(f"{table}: PostgreSQL has columns SQLite lacks: {' '.join(extra)}")
        pairs = []
        for c in columns:
            if c not in pg[table]: continue
            kind, q = pg[table][c], f'"{c}"'
            if kind == "bytea": pairs.append((f"encode(t.{q}, 'hex')", f"s.{q}"))
            elif kind == "boolean": pairs.append((f"t.{q}::int::text", f"s.{q}"))
            else: pairs.append((f"t.{q}", f"s.{q}::{kind}"))
        def diff(t_exprs, s_exprs):
            a = f'SELECT {", ".join(t_exprs)} FROM public."{table}" t'
            b = f'SELECT {", ".join(s_exprs)} FROM sqlite_side."{table}" s'
            return f"(SELECT count(*) FROM ({a} EXCEPT ALL {b}) d)", f"(SELECT count(*) FROM ({b} EXCEPT ALL {a}) d)"
        pg_only, sqlite_only = diff([p[0] for p in pairs], [p[1] for p in pairs])
        differing = []
        for (t_expr, s_expr), c in zip(pairs, [c for c in columns if c in pg[table]]):
            x, y = diff([t_expr], [s_expr])
            differing.append(f"CASE WHEN {x} + {y} > 0 THEN '{c}' END")
        compare.append(f"SELECT '{table}', (SELECT count(*) FROM public.\"{table}\"), {pg_only}, {sqlite_only}, "
                       f"concat_ws(' ', {', '.join(differing)});")
    open(os.path.join(out_dir, "load.sql"), "w").write("\n".join(load) + "\n")
    open(os.path.join(out_dir, "compare.sql"), "w").write("\n".join(compare) + "\n")
    open(os.path.join(out_dir, "problems.txt"), "w").write("".join(p + "\n" for p in problems))

globals()[sys.argv[1].replace("-", "_")](*sys.argv[2:])
PYTHON
py() { python3 "$work/helpers.py" "$@"; }
jget() { py jget "$1" "${2:-$work/body}"; }

# ------------------------------------------------------------------------------------------
# HTTP. call METHOD PATH [curl arguments]: prints the status; the body goes to $work/body, the
# headers to $work/headers.
call() {
  local method=$1 path=$2
  shift 2
  curl -sS --noproxy '*' -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method" "$base$path" "$@"
}
json() { # METHOD PATH JSON [curl arguments]
  local method=$1 path=$2 body=$3
  shift 3
  call "$method" "$path" -H 'content-type: application/json' --data-binary "$body" "$@"
}
need() { # STEP EXPECTED-STATUS ACTUAL-STATUS
  [ "$2" = "$3" ] || abort "setup: $1: expected HTTP $2, got $3"
}
header() { # NAME: its value in the last answer
  tr -d '\r' < "$work/headers" | awk -v name="$1" \
    'BEGIN { FS = ": " } tolower($1) == tolower(name) { sub(/^[^:]*: /, ""); print; exit }'
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

admin_email=root@example.com admin_password='violet tangerine skyline 42'
ann_email=Ann.Tester@Example.com ann_password='correct horse battery staple'
bob_email=bob@example.com bob_password='purple elephant marmalade 7'
carol_email=carol@example.com carol_password='quiet river granite lantern'

# One address for both servers: the public URL is the tokens' issuer, as in a real move.
port=$(free_port)
base="http://127.0.0.1:$port"
public="http://localhost:$port"
start_server() { # DATABASE_URL: gatehouse serve, from $work (no .env of the clone)
  local database_url=$1
  (
    cd "$work"
    while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$|ADMIN_EMAIL$|ADMIN_PASSWORD$)' || true)
    export GATEHOUSE_DATABASE_URL="$database_url"
    export GATEHOUSE_BIND="127.0.0.1:$port"
    export GATEHOUSE_PUBLIC_URL="$public"   # a domain name, so that passkeys are on
    export GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password"
    export GATEHOUSE_LOG_FORMAT=json GATEHOUSE_LOG=info
    export GATEHOUSE_OIDC_GITHUB_CLIENT_ID=Ov23test GATEHOUSE_OIDC_GITHUB_CLIENT_SECRET=not-a-real-secret
    exec "$bin" serve
  ) >> "$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 120); do
    kill -0 "$server_pid" 2>/dev/null || abort "setup: gatehouse serve on $database_url exited"
    [ "$(call GET /readyz 2>/dev/null || true)" = 200 ] && return 0
    sleep 0.25
  done
  abort "setup: gatehouse serve on $database_url did not become ready"
}

# ==========================================================================================
echo "== fill a SQLite database through gatehouse ($bin)"
GATEHOUSE_DATABASE_URL="sqlite://$sqlite_db" "$bin" migrate >/dev/null || abort "setup: gatehouse migrate (SQLite)"
start_server "sqlite://$sqlite_db"

# The admin; a webhook first, so that what follows owes it deliveries.
need "admin login" 200 "$(json POST /auth "{\"email\":\"$admin_email\",\"password\":\"$admin_password\"}")"
admin_token=$(jget access_token)
need "webhook" 201 "$(json POST /admin/webhooks '{"url":"https://93.184.216.34/in","events":["user.created","user.activated","user.updated","user.login","user.mfa_changed"],"description":"CRM, \"main\""}' -H "authorization: Bearer $admin_token")"
need "webhook without description" 201 "$(json POST /admin/webhooks '{"url":"https://93.184.216.34/other","events":["user.deleted"],"enabled":false}' -H "authorization: Bearer $admin_token")"

# Ann: sign-up with data, activation, app_data from the admin, a session whose user agent is
# "\N" (the NULL marker of PostgreSQL's COPY), an authenticator app, a passkey.
need "sign up ann" 201 "$(json POST /user '{"email":"'"$ann_email"'","password":"'"$ann_password"'","username":"ann","name":"Ann \"Annie\" Müller, Jr. \\ Zoë","data":{"prefs":{"lang":"de"}},"phone":"+49 30 1234"}' -H "accept-language: de-DE,de;q=0.9")"
ann_id=$(jget id)
link=$(py mail_link "$work/server.log" "$ann_email" /activate) || abort "setup: ann's activation email"
need "activate ann" 200 "$(call GET "/activate?token=${link##*token=}")"
need "app_data for ann" 200 "$(json PATCH "/user/$ann_id" '{"app_data":{"plan":"pro","roles":["staff"],"quota":1.5}}' -H "authorization: Bearer $admin_token")"
need "ann login" 200 "$(json POST /auth '{"email":"'"$ann_email"'","password":"'"$ann_password"'"}' -A '\N')"
ann_token=$(jget access_token)
need "ann enrols TOTP" 200 "$(json POST /mfa/totp '{"password":"'"$ann_password"'"}' -H "authorization: Bearer $ann_token")"
totp_secret=$(jget secret)
need "ann confirms TOTP" 200 "$(json POST /mfa/totp/confirm '{"code":"'"$(py totp "$totp_secret")"'"}' -H "authorization: Bearer $ann_token")"
recovery_code=$(jget recovery_codes.0)
need "ann login, second factor asked" 403 "$(json POST /auth '{"email":"'"$ann_email"'","password":"'"$ann_password"'"}')"
mfa_token=$(jget mfa_token)
need "ann's recovery code" 200 "$(json POST /auth/mfa '{"mfa_token":"'"$mfa_token"'","recovery_code":"'"$recovery_code"'"}')"
ann_token=$(jget access_token)
need "ann login left waiting for its second factor" 403 "$(json POST /auth '{"email":"'"$ann_email"'","password":"'"$ann_password"'"}')"
need "passkey options" 200 "$(json POST /webauthn/register/options '{}' -H "authorization: Bearer $ann_token")"
cp "$work/body" "$work/passkey-options.json"
need "passkey options, once more (left waiting)" 200 "$(json POST /webauthn/register/options '{}' -H "authorization: Bearer $ann_token")"
need "register a passkey" 201 "$(json POST /webauthn/register "$(py passkey "$work/passkey-options.json" "$public" localhost)" -H "authorization: Bearer $ann_token")"

# Bob: signed up, never activated.
need "sign up bob" 201 "$(json POST /user '{"email":"'"$bob_email"'","password":"'"$bob_password"'"}')"

# Carol: active, a refreshed session, an email change and a password reset under way, a login
# by email finished in a browser, a hosted login, consent to an app and its codes.
need "sign up carol" 201 "$(json POST /user '{"email":"'"$carol_email"'","password":"'"$carol_password"'","username":"carol"}')"
link=$(py mail_link "$work/server.log" "$carol_email" /activate) || abort "setup: carol's activation email"
need "activate carol" 200 "$(json POST /activate '{"token":"'"${link##*token=}"'"}')"
need "carol login" 200 "$(json POST /auth '{"email":"'"$carol_email"'","password":"'"$carol_password"'"}')"
carol_token=$(jget access_token)
need "carol refreshes" 200 "$(json POST /auth/refresh '{"refresh_token":"'"$(jget refresh_token)"'"}')"
carol_token=$(jget access_token) carol_refresh=$(jget refresh_token)
need "carol changes her email" 202 "$(json POST /email/change '{"new_email":"carol.new@example.com","current_password":"'"$carol_password"'"}' -H "authorization: Bearer $carol_token")"
need "carol forgot her password" 202 "$(json POST /password/forgot '{"email":"'"$carol_email"'"}')"
need "carol asks for a login link" 202 "$(json POST /auth/email '{"email":"'"$carol_email"'"}')"
link=$(py mail_link "$work/server.log" "$carol_email" /auth/email/verify) || abort "setup: carol's login link"
need "carol's link in a browser" 303 "$(call POST /auth/email/verify -H "origin: $public" --data-urlencode "token=${link##*token=}")"
need "a login link for a new address" 202 "$(json POST /auth/email '{"email":"dave@example.com"}')"

need "confidential client" 201 "$(json POST /admin/clients '{"name":"Grafana","redirect_uris":["https://grafana.example.com/cb"],"post_logout_redirect_uris":["https://grafana.example.com/"],"scopes":["openid","profile","email","app_data"]}' -H "authorization: Bearer $admin_token")"
client_id=$(jget client_id) client_secret=$(jget client_secret)
need "public client" 201 "$(json POST /admin/clients '{"name":"SPA","confidential":false,"redirect_uris":["http://127.0.0.1/cb"],"first_party":true}' -H "authorization: Bearer $admin_token")"
need "an organization, with data" 201 "$(json POST /orgs '{"name":"Acme, Inc.","data":{"plan":"team","seats":5,"note":"ünïcode"}}' -H "authorization: Bearer $carol_token")"
need "a custom role" 201 "$(json POST /orgs/acme-inc/roles '{"name":"billing","permissions":["invoices:read","members:invite"]}' -H "authorization: Bearer $carol_token")"
need "an invitation, pending" 201 "$(json POST /orgs/acme-inc/invitations '{"email":"erin@example.com","role":"billing"}' -H "authorization: Bearer $carol_token")"
need "a claimed domain" 201 "$(json POST /orgs/acme-inc/domains '{"domain":"acme.example","auto_join_role":"billing"}' -H "authorization: Bearer $carol_token")"
sso_body=$(python3 -c 'import json, sys; print(json.dumps({"metadata_xml": open(sys.argv[1]).read(), "name": "Acme IdP"}))' e2e/saml/fixtures/idp-metadata.xml)
need "a SAML connection" 201 "$(json POST /orgs/acme-inc/sso/saml "$sso_body" -H "authorization: Bearer $carol_token")"
sso_id=$(jget id)
need "a SCIM token" 201 "$(json POST /orgs/acme-inc/scim/tokens '{"name":"Okta"}' -H "authorization: Bearer $carol_token")"
# The policy last: from then on it holds at the organization's own routes too, and carol has no
# second factor.
need "an organization's policy" 200 "$(json PATCH /orgs/acme-inc '{"policy":{"mfa_required":true}}' -H "authorization: Bearer $carol_token")"

jar="$work/cookies"
need "login page" 200 "$(call GET /login -c "$jar" -b "$jar")"
need "carol's hosted login" 303 "$(call POST /login -c "$jar" -b "$jar" -H "origin: $public" --data-urlencode "form=$(py form_value "$work/body" form)" --data-urlencode "login=$carol_email" --data-urlencode "password=$carol_password")"
read -r verifier challenge < <(py pkce)
authorize="/oauth2/authorize?client_id=$client_id&redirect_uri=https%3A%2F%2Fgrafana.example.com%2Fcb&response_type=code&scope=openid%20profile%20email&code_challenge=$challenge&code_challenge_method=S256&state=s1&nonce=n1"
need "authorization request (consent page)" 200 "$(call GET "$authorize" -c "$jar" -b "$jar")"
need "carol consents" 303 "$(call POST /oauth2/consent -c "$jar" -b "$jar" -H "origin: $public" --data-urlencode "form=$(py form_value "$work/body" form)" --data-urlencode "request=$(py form_value "$work/body" request)" --data-urlencode decision=allow)"
code=$(py query_param "$(header location)" code)
need "code for tokens" 200 "$(call POST /oauth2/token -u "$client_id:$client_secret" --data-urlencode grant_type=authorization_code --data-urlencode "code=$code" --data-urlencode redirect_uri=https://grafana.example.com/cb --data-urlencode "code_verifier=$verifier")"
need "authorization request again (a code, left unspent)" 303 "$(call GET "$authorize" -c "$jar" -b "$jar")"

# Logins waiting at a provider: one started by a browser, one a link started by the admin.
need "login through GitHub started" 302 "$(call GET /auth/oidc/github)"
# A connection takes logins once its organization holds a verified domain: acme.example's TXT
# record is nowhere to ask, so it is marked verified in the file (as the rows below are).
sqlite3 -bail -cmd ".timeout 5000" "$sqlite_db" \
  "UPDATE org_domains SET verified_domain = domain, verified_at = '2026-01-02T03:04:06.5+00:00' WHERE domain = 'acme.example';"
need "login through the SAML connection started" 302 "$(call GET "/sso/saml/$sso_id/login")"
need "link to GitHub started" 200 "$(json POST /user/identities/github '{}' -H "authorization: Bearer $admin_token")"

need "ann's access token, before the copy" 200 "$(call GET /user -H "authorization: Bearer $ann_token")"
need "JWKS" 200 "$(call GET /.well-known/jwks.json)"
kids_before=$(jget keys "$work/body" | python3 -c 'import json, sys; print(" ".join(sorted(k["kid"] for k in json.load(sys.stdin))))')
sleep 1   # the outbox and webhook workers' last writes
stop_server

# What HTTP could not reach here: an identity at a provider (it needs the provider), a used
# SAML assertion (it needs an identity provider's signed answer), a verified
# domain and the account it joined (they need a DNS server answering for the domain), a SCIM
# user and group (they need that verified domain). And a
# value that a careless copy mangles: text with control characters (recent sqlite3 shells
# print some of them escaped, as ^M or ^[, in their display modes).
sqlite3 -bail "$sqlite_db" "
  INSERT INTO identities (id, account_id, provider, issuer, subject, email, created_at, last_login_at)
  SELECT '01a20a70-0000-7000-8000-000000000001', id, 'github', 'https://github.com', '583231', 'carol@users.noreply.github.com',
         '2026-01-02T03:04:05.123456789+00:00', NULL FROM accounts WHERE email = '$carol_email';
  INSERT INTO saml_assertions (hash, expires_at) VALUES (randomblob(32), '2099-01-02T03:04:05.5+00:00');
  UPDATE org_domains SET verified_domain = domain, verified_at = '2026-01-02T03:04:06.5+00:00' WHERE domain = 'acme.example';
  INSERT INTO org_auto_joins (org_id, account_id, joined_at)
  SELECT org_id, (SELECT id FROM accounts WHERE email = '$carol_email'), '2026-01-02T03:04:07.25+00:00'
    FROM org_domains WHERE domain = 'acme.example';
  INSERT INTO scim_users (org_id, account_id, user_name, user_name_key, external_id, created_account, disabled_account,
                          attributes, created_at, updated_at)
  SELECT org_id, account_id, 'Carol@Acme.example', 'carol@acme.example', '00uCarol', 0, 0, '{\"name\":{\"givenName\":\"Carol\"}}',
         '2026-01-02T03:04:08.5+00:00', '2026-01-02T03:04:08.5+00:00'
    FROM memberships WHERE account_id = (SELECT id FROM accounts WHERE email = '$carol_email')
                       AND org_id = (SELECT id FROM organizations WHERE slug = 'acme-inc');
  INSERT INTO scim_groups (id, org_id, display_name, display_key, external_id, created_at, updated_at)
  SELECT '01a20a70-0000-7000-8000-000000000002', id, 'Site Reliability', 'site reliability', NULL,
         '2026-01-02T03:04:09.5+00:00', '2026-01-02T03:04:09.5+00:00' FROM organizations WHERE slug = 'acme-inc';
  INSERT INTO scim_group_members (group_id, org_id, account_id)
  SELECT '01a20a70-0000-7000-8000-000000000002', org_id, account_id FROM scim_users;
  UPDATE memberships SET group_names = '[\"Site Reliability\"]' WHERE account_id IN (SELECT account_id FROM scim_users);
  INSERT INTO api_keys (id, account_id, org_id, created_by, name, prefix, hash, scopes, created_at, expires_at, last_used_at)
  SELECT '01a20a70-0000-7000-8000-000000000003', id, NULL, id, 'deploy script', 'gh_Ab3dEf9h', randomblob(32), 'read:reports',
         '2026-01-02T03:04:10.5+00:00', '2027-01-02T03:04:10.5+00:00', NULL FROM accounts WHERE email = '$carol_email';
  INSERT INTO oauth_device_codes (device_hash, user_hash, client_id, scopes, state, account_id, auth, views, polls, interval_secs, polled_at, created_at, expires_at)
  SELECT randomblob(32), randomblob(32), c.id, 'openid email', 'approved', a.id, '{\"amr\":[\"pwd\"]}', 1, 2, 10,
         '2026-01-02T03:04:12.5+00:00', '2026-01-02T03:04:10.5+00:00', '2099-01-02T03:14:10.5+00:00'
    FROM oauth_clients c, accounts a WHERE a.email = '$carol_email' AND c.confidential = 0;
  INSERT INTO oauth_initial_tokens (id, hash, name, created_by, uses_left, created_at, expires_at)
  SELECT '01a20a70-0000-7000-8000-000000000004', randomblob(32), 'MCP clients', id, 3,
         '2026-01-02T03:04:10.5+00:00', '2099-01-02T03:04:10.5+00:00' FROM accounts WHERE email = '$carol_email';
  UPDATE jobs SET last_error = 'line one' || char(13) || char(10) || 'line two' || char(13) || 'esc ' || char(27) || '[0m tab' || char(9) || 'end'
   WHERE id = (SELECT min(id) FROM jobs WHERE kind = 'email');" || abort "setup: direct inserts"
for table in $(py list_tables "$sqlite_db"); do
  n=$(sqlite3 "$sqlite_db" "SELECT count(*) FROM \"$table\"")
  if [ "$n" -gt 0 ]; then pass "setup: SQLite's $table has rows ($n)"; else fail "setup: SQLite's $table has no rows: the test does not cover it"; fi
done

# ==========================================================================================
echo
echo "== copy into a fresh PostgreSQL database with $copy_script"
psql -X -q -v ON_ERROR_STOP=1 "$admin_url" -c "CREATE DATABASE \"$pg_name\"" || abort "setup: create database $pg_name"
pg_created=1
GATEHOUSE_DATABASE_URL="$pg_url" "$bin" migrate >/dev/null || abort "setup: gatehouse migrate (PostgreSQL)"
pg() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -At -F '|' "$pg_url" "$@"; }
copy_status=0
bash "$copy_script" "$sqlite_db" "$pg_url" > "$work/copy.out" 2>&1 || copy_status=$?
sed 's/^/    /' "$work/copy.out"
check "the copy script exits 0" 0 "$copy_status"

echo
echo "== compare"
# Row counts, for every table SQLite has (whatever list the copy script keeps).
for table in $(py list_tables "$sqlite_db"); do
  n=$(sqlite3 "$sqlite_db" "SELECT count(*) FROM \"$table\"")
  m=$(pg -c "SELECT count(*) FROM \"$table\"" 2>&1) || m="error: $m"
  check "rows: $table" "$n" "$m"
done

# The migrations' own records are not copied: each side's are its own start's, with the same
# versions and texts.
additive_sqlite=$(sqlite3 "$sqlite_db" "SELECT group_concat(version || ':' || checksum, ' ') FROM (SELECT * FROM gatehouse_migrations ORDER BY version)")
additive_pg=$(pg -c "SELECT string_agg(version || ':' || checksum, ' ' ORDER BY version) FROM gatehouse_migrations")
check "the additive migrations: the same versions and texts on both sides" "$additive_sqlite" "$additive_pg"

# Every row and column.
pg -c "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped" > "$work/pg-columns"
py comparison "$sqlite_db" "$work/pg-columns" "$work"
while read -r line; do fail "columns: $line"; done < "$work/problems.txt"
pg -f "$work/load.sql" > /dev/null || abort "loading SQLite's rows for the comparison"
pg -f "$work/compare.sql" > "$work/compare.out" || abort "comparing"
while IFS='|' read -r table rows pg_only sqlite_only columns; do
  if [ "$pg_only" = 0 ] && [ "$sqlite_only" = 0 ]; then
    pass "content: $table ($rows rows identical)"
  else
    fail "content: $table: $sqlite_only rows of SQLite not in PostgreSQL, $pg_only the other way; columns that differ: ${columns:-none}"
  fi
done < "$work/compare.out"
pg -c "DROP SCHEMA sqlite_side CASCADE" > /dev/null


# Named values, column by column.
s() { sqlite3 -bail "$sqlite_db" "$1"; }
canon() { py canon; }
for email in "$admin_email" "$ann_email" "$bob_email" "$carol_email"; do
  e=$(echo "$email" | tr '[:upper:]' '[:lower:]')
  where="FROM accounts WHERE email_normalized = '$e'"
  check "accounts $e: email, status, role, verified" \
    "$(s "SELECT email || '|' || status || '|' || role || '|' || CASE email_verified WHEN 1 THEN 't' ELSE 'f' END $where")" \
    "$(pg -c "SELECT email || '|' || status || '|' || role || '|' || CASE WHEN email_verified THEN 't' ELSE 'f' END $where")"
  check "accounts $e: password hash" "$(s "SELECT password_hash $where")" "$(pg -c "SELECT password_hash $where")"
  check "accounts $e: app_data" "$(s "SELECT app_data $where" | canon)" "$(pg -c "SELECT app_data $where" | canon)"
  check "accounts $e: data" "$(s "SELECT data $where" | canon)" "$(pg -c "SELECT data $where" | canon)"
  check "accounts $e: created_at, the same instant" \
    "$(pg -c "SELECT '$(s "SELECT created_at $where")'::timestamptz")" "$(pg -c "SELECT created_at $where")"
done
check "accounts: ann's app_data is the admin's" '{"plan":"pro","quota":1.5,"roles":["staff"]}' \
  "$(pg -c "SELECT app_data FROM accounts WHERE username = 'ann'" | canon)"
check "accounts: ann's name, quotes, backslash and accents" 'Ann "Annie" Müller, Jr. \ Zoë' \
  "$(pg -c "SELECT name FROM accounts WHERE username = 'ann'")"
check "mfa_totp: the sealed secret's bytes" "$(s "SELECT lower(hex(secret)) || ' ' || last_step FROM mfa_totp")" \
  "$(pg -c "SELECT encode(secret, 'hex') || ' ' || last_step FROM mfa_totp")"
check "sealing_keys: the key's bytes" "$(s "SELECT id || ' ' || lower(hex(secret)) FROM sealing_keys")" \
  "$(pg -c "SELECT id || ' ' || encode(secret, 'hex') FROM sealing_keys")"
check "signing_keys: every key's bytes" \
  "$(s "SELECT group_concat(k, ',') FROM (SELECT kid || ':' || algorithm || ':' || lower(hex(private_key)) AS k FROM signing_keys ORDER BY kid)")" \
  "$(pg -c "SELECT string_agg(kid || ':' || algorithm || ':' || encode(private_key, 'hex'), ',' ORDER BY kid) FROM signing_keys")"
check "passkeys: credential id, flags and the credential JSON" \
  "$(s "SELECT lower(hex(credential_id)) || ' ' || backup_eligible || backup_state || ' ' || passkey FROM passkeys")" \
  "$(pg -c "SELECT encode(credential_id, 'hex') || ' ' || backup_eligible::int || backup_state::int || ' ' || passkey FROM passkeys")"
check "recovery_codes: the hashes, one spent" \
  "$(s "SELECT count(*) || ' ' || count(used_at) || ' ' || (SELECT group_concat(h, '') FROM (SELECT lower(hex(hash)) AS h FROM recovery_codes ORDER BY 1)) FROM recovery_codes")" \
  "$(pg -c "SELECT count(*) || ' ' || count(used_at) || ' ' || string_agg(encode(hash, 'hex'), '' ORDER BY encode(hash, 'hex')) FROM recovery_codes")"
check "oauth_clients: the public client's secret hash is NULL (SQLite: $(s "SELECT count(*) FROM oauth_clients WHERE secret_hash IS NULL"))" \
  1 "$(pg -c "SELECT count(*) FROM oauth_clients WHERE secret_hash IS NULL AND NOT confidential")"
check "oauth_clients: the confidential client's secret hash" \
  "$(s "SELECT lower(hex(secret_hash)) FROM oauth_clients WHERE confidential = 1")" \
  "$(pg -c "SELECT encode(secret_hash, 'hex') FROM oauth_clients WHERE confidential")"
check "oidc_logins: NULL hashes stay NULL (SQLite: $(s "SELECT count(*) FROM oidc_logins WHERE state_hash IS NULL") without state, $(s "SELECT count(*) FROM oidc_logins WHERE start_hash IS NULL") without start)" \
  "1 1" "$(pg -c "SELECT count(*) FILTER (WHERE state_hash IS NULL) || ' ' || count(*) FILTER (WHERE start_hash IS NULL) FROM oidc_logins")"
check "sessions: the user agent \\N stays text (SQLite: $(s "SELECT count(*) FROM sessions WHERE user_agent = '\\N'"))" \
  1 "$(pg -c "SELECT count(*) FROM sessions WHERE user_agent = '\\N'")"
check "webhook_endpoints: an empty description stays empty, not NULL (SQLite: $(s "SELECT count(*) FROM webhook_endpoints WHERE description = ''"))" \
  1 "$(pg -c "SELECT count(*) FROM webhook_endpoints WHERE description = ''")"
check "jobs: a last_error with CR, LF, ESC and tab, byte for byte" \
  "$(s "SELECT lower(hex(last_error)) FROM jobs WHERE last_error LIKE 'line one%'")" \
  "$(pg -c "SELECT encode(convert_to(last_error, 'UTF8'), 'hex') FROM jobs WHERE last_error LIKE 'line one%'")"

# ==========================================================================================
echo
echo "== gatehouse serve on the copy"
start_server "$pg_url"
status=$(call GET /.well-known/jwks.json)
kids_after=$(jget keys 2>/dev/null | python3 -c 'import json, sys; print(" ".join(sorted(k["kid"] for k in json.load(sys.stdin))))' 2>/dev/null || true)
check "signing keys: the JWKS lists the same keys as before" "$kids_before" "$kids_after"
check "the admin logs in" 200 "$(json POST /auth "{\"email\":\"$admin_email\",\"password\":\"$admin_password\"}")"
check "carol logs in" 200 "$(json POST /auth '{"email":"'"$carol_email"'","password":"'"$carol_password"'"}')"
status=$(json POST /auth '{"email":"'"$bob_email"'","password":"'"$bob_password"'"}')
check "bob is still waiting for activation" "403 account_not_activated" "$status $(jget code 2>/dev/null || true)"
status=$(json POST /auth '{"email":"'"$ann_email"'","password":"'"$ann_password"'"}')
check "ann logs in and is asked for her second factor" "403 mfa_required" "$status $(jget code 2>/dev/null || true)"
check "ann's second factors: the app, recovery codes and the passkey" '["recovery_code","totp","webauthn"]' \
  "$(jget methods 2>/dev/null | python3 -c 'import json, sys; print(json.dumps(sorted(json.load(sys.stdin)), separators=(",", ":")))' 2>/dev/null || true)"
mfa_token=$(jget mfa_token 2>/dev/null || true)
last_step=$(pg -c "SELECT last_step FROM mfa_totp" 2>/dev/null || true)
code=$(py totp "$totp_secret" "$(( ${last_step:-0} + 1 ))")
check "ann's authenticator code is accepted (the sealed secret and its key came along)" 200 \
  "$(json POST /auth/mfa '{"mfa_token":"'"$mfa_token"'","code":"'"$code"'"}')"
token=$(jget access_token 2>/dev/null || true)
check "ann's account: her app_data" '{"plan":"pro","quota":1.5,"roles":["staff"]}' \
  "$(call GET /user -H "authorization: Bearer $token" > /dev/null; jget app_data 2>/dev/null | canon)"
check "ann's account: her language" de \
  "$(call GET /user -H "authorization: Bearer $token" > /dev/null; jget locale 2>/dev/null || true)"
check "ann's passkey is listed" 'Laptop "work", 2nd' \
  "$(call GET /webauthn/credentials -H "authorization: Bearer $token" > /dev/null; jget credentials.0.name 2>/dev/null || true)"
check "ann's access token from before the copy still works (its session came along)" 200 \
  "$(call GET /user -H "authorization: Bearer $ann_token")"
check "carol's refresh token from before the copy still works" 200 \
  "$(json POST /auth/refresh '{"refresh_token":"'"$carol_refresh"'"}')"
json POST /auth "{\"email\":\"$admin_email\",\"password\":\"$admin_password\"}" > /dev/null
admin_token=$(jget access_token 2>/dev/null || true)
check "the client apps" "Grafana SPA" \
  "$(call GET /admin/clients -H "authorization: Bearer $admin_token" > /dev/null; jget clients 2>/dev/null | python3 -c 'import json, sys; print(" ".join(sorted(c["name"] for c in json.load(sys.stdin))))' 2>/dev/null || true)"
check "the webhooks" 2 \
  "$(call GET /admin/webhooks -H "authorization: Bearer $admin_token" > /dev/null; jget webhooks 2>/dev/null | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null || true)"
stop_server

summary
[ "$failed" -eq 0 ]
