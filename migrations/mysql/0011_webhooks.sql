-- Webhooks: the endpoints admins register, and the deliveries owed to them, which join the
-- outbox's emails as the second thing a change writes in its own transaction.

-- An endpoint. `events` lists the event types it receives, space-separated with a space at
-- each end (so one `LIKE '% user.created %'` finds the subscribers); `secret_sealed` is its
-- signing secret, sealed with the sealing key (it must be read back to sign).
CREATE TABLE webhook_endpoints (
    id            CHAR(36)      NOT NULL,
    url           VARCHAR(2048) NOT NULL,
    events        VARCHAR(512)  NOT NULL,
    description   VARCHAR(200)  NOT NULL,
    enabled       BOOLEAN       NOT NULL,
    secret_sealed VARBINARY(128) NOT NULL,
    created_at    DATETIME(6)   NOT NULL,
    updated_at    DATETIME(6)   NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Webhook endpoints';

-- One event owed to one endpoint: written in the transaction of the change it tells of, so it
-- exists if and only if the change committed. `event_id` (UUIDv7) is the `webhook-id` every
-- attempt and replay carries and orders an account's events; `data` is the account as it was
-- then, with the event's details. Claimed and settled like the emails in `outbox`.
CREATE TABLE webhook_deliveries (
    endpoint_id          CHAR(36)    NOT NULL,
    event_id             CHAR(36)    NOT NULL,
    event_type           VARCHAR(64) NOT NULL,
    account_id           CHAR(36)    NOT NULL,
    data                 MEDIUMTEXT  NOT NULL,
    occurred_at          DATETIME(6) NOT NULL,
    status               VARCHAR(16) NOT NULL,
    attempts             INT         NOT NULL DEFAULT 0,
    next_attempt_at      DATETIME(6) NOT NULL,
    claimed_until        DATETIME(6),
    claimed_by           VARCHAR(64),
    last_response_status INT,
    last_error           TEXT,
    delivered_at         DATETIME(6),
    PRIMARY KEY (endpoint_id, event_id),
    KEY webhook_deliveries_due (status, next_attempt_at),
    -- An account's earlier deliveries to the same endpoint, which a later one waits for.
    KEY webhook_deliveries_order (endpoint_id, account_id, event_id),
    CONSTRAINT webhook_deliveries_endpoint FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Webhook deliveries owed, made and given up';
