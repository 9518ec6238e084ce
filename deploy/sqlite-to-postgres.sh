#!/usr/bin/env bash
# Copies every gatehouse table from a SQLite file into a PostgreSQL database whose schema
# `gatehouse migrate` has already created. One transaction: all rows or none.
#
#   deploy/sqlite-to-postgres.sh gatehouse.db postgres://user:pass@host/gatehouse
#
# Needs the sqlite3 and psql command-line tools. Stop gatehouse first.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 SQLITE_FILE POSTGRES_URL" >&2
  exit 2
fi
sqlite_file=$1
postgres_url=$2
[ -r "$sqlite_file" ] || { echo "cannot read $sqlite_file" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# table | columns as PostgreSQL names them | the same columns as SQLite must select them
# (BLOBs become \x-prefixed hex, which PostgreSQL reads as bytea).
tables=(
  "accounts|id,email,email_normalized,username,username_normalized,name,data,password_hash,role,status,email_verified,created_at,updated_at|id,email,email_normalized,username,username_normalized,name,data,password_hash,role,status,email_verified,created_at,updated_at"
  "sessions|id,account_id,created_at,last_used_at,expires_at,user_agent,ip|id,account_id,created_at,last_used_at,expires_at,user_agent,ip"
  "refresh_tokens|hash,session_id,created_at,used_at|'\\x' || lower(hex(hash)),session_id,created_at,used_at"
  "one_time_tokens|hash,account_id,purpose,created_at,expires_at,used_at|'\\x' || lower(hex(hash)),account_id,purpose,created_at,expires_at,used_at"
  "signing_keys|kid,generation,algorithm,private_key,public_key,created_at|kid,generation,algorithm,'\\x' || lower(hex(private_key)),'\\x' || lower(hex(public_key)),created_at"
  "outbox|id,kind,recipient,subject,body_text,body_html,message_id,status,attempts,next_attempt_at,claimed_until,last_error,created_at,sent_at|id,kind,recipient,subject,body_text,body_html,message_id,status,attempts,next_attempt_at,claimed_until,last_error,created_at,sent_at"
)

script="$work/copy.sql"
: > "$script"
for entry in "${tables[@]}"; do
  IFS='|' read -r table pg_columns sqlite_columns <<< "$entry"
  # NULLs become the marker \N, which COPY reads as NULL; empty strings stay empty strings.
  sqlite3 -bail -csv -nullvalue '\N' "$sqlite_file" "SELECT $sqlite_columns FROM $table" > "$work/$table.csv"
  echo "\\copy $table ($pg_columns) FROM '$work/$table.csv' WITH (FORMAT csv, NULL '\\N')" >> "$script"
  echo "$table: $(wc -l < "$work/$table.csv") rows"
done

psql "$postgres_url" --quiet -v ON_ERROR_STOP=1 --single-transaction -f "$script"
echo "copied into $postgres_url"
