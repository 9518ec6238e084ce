#!/usr/bin/env bash
# Copies every gatehouse table from a SQLite file into a PostgreSQL database whose schema
# `gatehouse migrate` has already created (and nothing else has written to). One transaction:
# all rows or none.
#
#   deploy/sqlite-to-postgres.sh gatehouse.db postgres://user:pass@host/gatehouse
#
# Needs the sqlite3 and psql command-line tools. Stop gatehouse first.
#
# Before copying anything it checks that both databases are at the same migration, and that
# the tables and columns of each are exactly those listed below: a table or column this script
# does not know stops it, so a later migration cannot be skipped silently. When that happens,
# add what the migration made to the list (deploy/test-sqlite-to-postgres.sh proves the copy).
#
# Every value travels as the hex of its bytes (NULL as an empty field) and is decoded by
# PostgreSQL into the column's own type, so no text is reinterpreted on the way: BLOBs become
# bytea, 0/1 booleans, RFC 3339 text timestamptz (to the microsecond, PostgreSQL's precision),
# UUID and JSON text uuid and jsonb.
set -euo pipefail
export LC_ALL=C   # one collation for sort and comm

if [ $# -ne 2 ]; then
  echo "usage: $0 SQLITE_FILE POSTGRES_URL" >&2
  exit 2
fi
sqlite_file=$1
postgres_url=$2
[ -r "$sqlite_file" ] || { echo "cannot read $sqlite_file" >&2; exit 2; }
for tool in sqlite3 psql; do
  command -v "$tool" >/dev/null || { echo "$tool is needed and not on PATH" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every table and every column, as of migration 0026 (the migrations' own records are not
# copied: `gatehouse migrate` wrote PostgreSQL's). Parents come before the tables whose
# foreign keys name them. Short-lived rows (rate limits, login challenges, logins waiting at a
# provider, authorization codes) are copied too: harmless, and in-flight logins keep working.
tables=(
  "accounts id email email_normalized username username_normalized name data password_hash role status email_verified created_at updated_at app_data locale"
  "username_claims username_normalized account_id claimed_at"
  "sessions id account_id created_at last_used_at expires_at user_agent ip auth"
  "refresh_tokens hash session_id created_at used_at"
  "one_time_tokens hash account_id purpose created_at expires_at used_at through_provider"
  "signing_keys kid generation algorithm private_key public_key created_at"
  "sealing_keys id secret created_at"
  "jobs id kind lane topic target account_id ref_id payload body status attempts next_attempt_at claimed_until claimed_by last_status last_error created_at finished_at"
  "rate_limits key until_ms count expires_ms"
  "audit_events id at kind account_id actor_id ip user_agent request_id detail"
  "email_changes hash account_id kind email created_at expires_at used_at"
  "mfa_totp account_id secret created_at confirmed_at last_step"
  "recovery_codes account_id hash created_at used_at"
  "mfa_challenges hash account_id first_factor created_at expires_at attempts used_at"
  "passkeys id account_id credential_id passkey name backup_eligible backup_state created_at last_used_at"
  "webauthn_challenges hash account_id purpose state expires_at used_at"
  "email_logins id email email_normalized account_id link_hash code_hash attempts created_at expires_at used_at handoff_browser handoff_challenge"
  "login_handoffs hash account_id method created_at expires_at used_at handoff_browser handoff_challenge"
  "identities id account_id provider issuer subject email created_at last_login_at"
  "oidc_logins id provider state_hash binding_hash start_hash nonce pkce_verifier redirect_to link_account_id created_at expires_at used_at handoff_browser handoff_challenge"
  "oauth_clients id name confidential secret_hash redirect_uris post_logout_redirect_uris grant_types scopes first_party created_at updated_at introspect registration_hash backchannel_logout_uri backchannel_logout_session_required policy"
  "oauth_codes hash client_id account_id browser_session_id redirect_uri scopes nonce code_challenge auth created_at expires_at used_at session_id reused_at resources dpop_jkt"
  "oauth_consents account_id client_id scopes granted_at"
  "oauth_device_codes device_hash user_hash client_id scopes state account_id auth views polls interval_secs polled_at created_at expires_at"
  "oauth_initial_tokens id hash name created_by uses_left created_at expires_at"
  "webhook_endpoints id url events description enabled secret_sealed created_at updated_at"
  "organizations id name slug data created_at updated_at policy"
  "memberships org_id account_id role joined_at suspended_at group_names"
  "org_roles org_id name permissions created_at updated_at"
  "org_invitations id org_id email role hash invited_by created_at expires_at"
  "org_domains org_id domain challenge verified_domain verified_at auto_join_role auto_join_by created_at"
  "org_auto_joins org_id account_id joined_at"
  "sso_connections id org_id kind name default_role settings created_at updated_at"
  "saml_requests hash connection_id binding_hash redirect_to handoff_browser handoff_challenge created_at expires_at used_at"
  "saml_assertions hash expires_at"
  "scim_tokens id org_id name hash created_at last_used_at"
  "scim_users org_id account_id user_name user_name_key external_id created_account disabled_account attributes created_at updated_at"
  "scim_groups id org_id display_name display_key external_id created_at updated_at"
  "scim_group_members group_id org_id account_id"
  "api_keys id account_id org_id created_by name prefix hash scopes created_at expires_at last_used_at"
)

sq() { sqlite3 -batch -bail -noheader -list -init /dev/null "$sqlite_file" "$@"; }
pg() { psql -X -q -v ON_ERROR_STOP=1 -At -F '|' "$postgres_url" "$@"; }

problems="$work/problems"
: > "$problems"
problem() { echo "  - $*" >> "$problems"; }
refuse_if_problems() {
  [ -s "$problems" ] || return 0
  echo "refusing to copy (nothing was written):" >&2
  cat "$problems" >&2
  exit 1
}

# Lines only in the first (sorted) file, joined by spaces.
only_in() { comm -23 "$1" "$2" | paste -sd' ' -; }

# ---- the migrations
[ "$(sq "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")" = 1 ] \
  || { echo "$sqlite_file has no _sqlx_migrations table: not a gatehouse database" >&2; exit 1; }
IFS='|' read -r sqlite_version sqlite_failed <<< "$(sq "SELECT coalesce(max(version), 0), coalesce(sum(NOT success), 0) FROM _sqlx_migrations")"
[ "$(pg -c "SELECT to_regclass('_sqlx_migrations') IS NOT NULL")" = t ] \
  || { echo "the PostgreSQL database has no schema yet: run \`gatehouse migrate\` against it first" >&2; exit 1; }
IFS='|' read -r pg_version pg_failed <<< "$(pg -c "SELECT coalesce(max(version), 0), count(*) FILTER (WHERE NOT success) FROM _sqlx_migrations")"
[ "$sqlite_failed" = 0 ] || problem "SQLite has a failed migration: start gatehouse on it once, or repair it"
[ "$pg_failed" = 0 ] || problem "PostgreSQL has a failed migration"
[ "$sqlite_version" = "$pg_version" ] \
  || problem "SQLite is at migration $sqlite_version, PostgreSQL at $pg_version: run the same gatehouse version's \`gatehouse migrate\` against both"
# The migrations after 0.1.0 (only adding) are recorded in gatehouse_migrations: the same
# versions on both sides (none where a 0.1.0 binary made the database).
sqlite_additive=
if [ "$(sq "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'gatehouse_migrations'")" = 1 ]; then
  sqlite_additive=$(sq "SELECT coalesce(group_concat(version, ' '), '') FROM (SELECT version FROM gatehouse_migrations ORDER BY version)")
fi
pg_additive=
if [ "$(pg -c "SELECT to_regclass('gatehouse_migrations') IS NOT NULL")" = t ]; then
  pg_additive=$(pg -c "SELECT coalesce(string_agg(version::text, ' ' ORDER BY version), '') FROM gatehouse_migrations")
fi
[ "$sqlite_additive" = "$pg_additive" ] \
  || problem "SQLite has the additive migrations [${sqlite_additive}], PostgreSQL [${pg_additive}]: run the same gatehouse version's \`gatehouse migrate\` against both"

# ---- the tables and columns: the list above, SQLite's and PostgreSQL's must be the same
for entry in "${tables[@]}"; do echo "${entry%% *}"; done | sort > "$work/known"
# SQLite's search index (0013: account_search, its own tables, account_search_docs) is derived
# from accounts by triggers; PostgreSQL's search has its own index, built by its migrations.
sq "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\\'
      AND name NOT IN ('_sqlx_migrations', 'gatehouse_migrations')
      AND name NOT LIKE 'account\_search%' ESCAPE '\\'" \
  | sort > "$work/sqlite-tables"
pg -c "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
          AND c.relname NOT IN ('_sqlx_migrations', 'gatehouse_migrations')" > "$work/pg-columns"
cut -d'|' -f1 "$work/pg-columns" | sort -u > "$work/pg-tables"
unknown=$(only_in "$work/sqlite-tables" "$work/known")
[ -z "$unknown" ] || problem "SQLite has tables this script does not know: $unknown"
unknown=$(only_in "$work/pg-tables" "$work/known")
[ -z "$unknown" ] || problem "PostgreSQL has tables this script does not know: $unknown"
for entry in "${tables[@]}"; do
  read -r table columns <<< "$entry"
  tr ' ' '\n' <<< "$columns" | sort > "$work/known-columns"
  if grep -qx "$table" "$work/sqlite-tables"; then
    sq "SELECT name FROM pragma_table_info('$table')" | sort > "$work/sqlite-columns"
    unknown=$(only_in "$work/sqlite-columns" "$work/known-columns")
    missing=$(only_in "$work/known-columns" "$work/sqlite-columns")
    [ -z "$unknown" ] || problem "SQLite's $table has columns this script does not know: $unknown"
    [ -z "$missing" ] || problem "SQLite's $table lacks the columns: $missing"
  else
    problem "SQLite has no table $table"
  fi
  if grep -qx "$table" "$work/pg-tables"; then
    awk -F'|' -v t="$table" '$1 == t { print $2 }' "$work/pg-columns" | sort > "$work/pg-table-columns"
    unknown=$(only_in "$work/pg-table-columns" "$work/known-columns")
    missing=$(only_in "$work/known-columns" "$work/pg-table-columns")
    [ -z "$unknown" ] || problem "PostgreSQL's $table has columns this script does not know: $unknown"
    [ -z "$missing" ] || problem "PostgreSQL's $table lacks the columns: $missing"
  else
    problem "PostgreSQL has no table $table"
  fi
done
refuse_if_problems

# ---- the target must be as `gatehouse migrate` left it
nonempty=$(for entry in "${tables[@]}"; do
  table=${entry%% *}
  echo "SELECT '$table' WHERE EXISTS (SELECT 1 FROM \"$table\") UNION ALL"
done; echo "SELECT NULL WHERE false")
nonempty=$(pg -c "$nonempty" | paste -sd' ' -)
[ -z "$nonempty" ] || problem "PostgreSQL already has rows in: $nonempty (copy into a freshly migrated database)"
refuse_if_problems

# ---- read SQLite, every table in one read transaction (one consistent state)
export_sql="$work/export.sql"
{
  echo ".bail on"
  echo ".mode csv"
  echo ".headers off"
  echo "BEGIN;"
  for entry in "${tables[@]}"; do
    read -r table columns <<< "$entry"
    select=""
    for column in $columns; do
      # 'x' and the hex of the value's bytes; '' for NULL. No quotes, no escapes, whatever
      # the value holds (hex(NULL) alone would be '' too, and an empty value would be lost).
      select+="${select:+, }CASE WHEN \"$column\" IS NULL THEN '' ELSE 'x' || hex(\"$column\") END"
    done
    echo ".output '$work/$table.csv'"
    echo "SELECT $select FROM \"$table\";"
  done
  echo ".output stdout"
  echo "COMMIT;"
} > "$export_sql"
sqlite3 -batch -init /dev/null "$sqlite_file" < "$export_sql"

# ---- write PostgreSQL: each table through a text staging table, decoded into its own types
copy_sql="$work/copy.sql"
: > "$copy_sql"
for entry in "${tables[@]}"; do
  read -r table columns <<< "$entry"
  staging="staging_$table" defs="" names="" values=""
  for column in $columns; do
    type=$(awk -F'|' -v t="$table" -v c="$column" '$1 == t && $2 == c { print $3 }' "$work/pg-columns")
    bytes="decode(substr(nullif(\"$column\", ''), 2), 'hex')"
    if [ "$type" = bytea ]; then
      value=$bytes
    else
      value="convert_from($bytes, 'UTF8')::$type"
    fi
    defs+="${defs:+, }\"$column\" text"
    names+="${names:+, }\"$column\""
    values+="${values:+, }$value"
  done
  {
    echo "CREATE TEMP TABLE \"$staging\" ($defs) ON COMMIT DROP;"
    echo "\\copy \"$staging\" FROM '$work/$table.csv' WITH (FORMAT csv)"
    echo "INSERT INTO \"$table\" ($names) SELECT $values FROM \"$staging\";"
  } >> "$copy_sql"
done

psql -X -q -v ON_ERROR_STOP=1 --single-transaction "$postgres_url" -f "$copy_sql"

total=0
for entry in "${tables[@]}"; do
  table=${entry%% *}
  rows=$(wc -l < "$work/$table.csv" | tr -d ' ')
  total=$((total + rows))
  echo "$table: $rows rows"
done
echo "copied $total rows of ${#tables[@]} tables (SQLite migration $sqlite_version) into PostgreSQL"
