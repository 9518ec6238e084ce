-- Webhooks: the endpoints admins register, and the deliveries owed to them, which join the
-- outbox's emails as the second thing a change writes in its own transaction.

-- An endpoint. `events` lists the event types it receives, space-separated with a space at
-- each end (so one `LIKE '% user.created %'` finds the subscribers); `secret_sealed` is its
-- signing secret, sealed with the sealing key (it must be read back to sign).
CREATE TABLE webhook_endpoints (
    id            TEXT PRIMARY KEY NOT NULL,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,
    description   TEXT NOT NULL,
    enabled       INTEGER NOT NULL,
    secret_sealed BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

-- One event owed to one endpoint: written in the transaction of the change it tells of, so it
-- exists if and only if the change committed. `event_id` (UUIDv7) is the `webhook-id` every
-- attempt and replay carries and orders an account's events; `data` is the account as it was
-- then, with the event's details. Claimed and settled like the emails in `outbox`.
CREATE TABLE webhook_deliveries (
    endpoint_id          TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id             TEXT NOT NULL,
    event_type           TEXT NOT NULL,
    account_id           TEXT NOT NULL,
    data                 TEXT NOT NULL,
    occurred_at          TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'delivered', 'failed')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      TEXT NOT NULL,
    claimed_until        TEXT,
    claimed_by           TEXT,
    last_response_status INTEGER,
    last_error           TEXT,
    delivered_at         TEXT,
    PRIMARY KEY (endpoint_id, event_id)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
-- An account's earlier deliveries to the same endpoint, which a later one waits for.
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, account_id, event_id);
