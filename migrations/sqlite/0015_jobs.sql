-- One queue for everything gatehouse delivers later: emails and webhook deliveries, and the
-- kinds to come. A job is written in the transaction of the change that causes it, claimed by
-- a worker for a lease it renews while it works, and settled: done, tried again later, or
-- failed. It replaces `outbox` and `webhook_deliveries`, whose rows move here.
--
-- `lane`: jobs of one lane go out one at a time, in the order written (`created_at`, then
-- `id`): one address's emails ('email ' and the address in lower case), one account's events
-- to one endpoint (the endpoint's id, a space, the account's id). `topic`: the email's kind
-- (activation, reset…) or the event's type. `target`: where it goes, as lists filter on it (the
-- address, the endpoint's id). `ref_id`: the event's id, which every attempt at every endpoint
-- carries. `payload`: what is kept (an email's subject and Message-ID; an event's data);
-- `body`: what is erased once done (an email's text and HTML, which hold one-time links).
-- `held`: waiting on something else (an endpoint switched off), neither due nor claimed.
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    lane            TEXT NOT NULL,
    topic           TEXT NOT NULL,
    target          TEXT NOT NULL,
    account_id      TEXT,
    ref_id          TEXT,
    payload         TEXT NOT NULL,
    body            TEXT,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'held', 'sending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,
    claimed_by      TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    finished_at     TEXT
) STRICT;
CREATE INDEX jobs_due ON jobs (kind, status, next_attempt_at);
-- A lane's earlier jobs, which a later one waits for.
CREATE INDEX jobs_lane ON jobs (lane, created_at, id);
-- One endpoint's deliveries, newest event first.
CREATE INDEX jobs_target ON jobs (kind, target, ref_id);

INSERT INTO jobs (id, kind, lane, topic, target, account_id, ref_id, payload, body, status, attempts,
                  next_attempt_at, claimed_until, claimed_by, last_status, last_error, created_at, finished_at)
    SELECT id, 'email', 'email ' || lower(recipient), kind, recipient, NULL, NULL,
           json_object('subject', subject, 'message_id', message_id),
           CASE WHEN body_text IS NULL THEN NULL ELSE json_object('text', body_text, 'html', coalesce(body_html, '')) END,
           CASE status WHEN 'sent' THEN 'done' ELSE status END, attempts, next_attempt_at, claimed_until,
           claimed_by, NULL, last_error, created_at, sent_at
    FROM outbox;

-- A delivery's job gets an id of its own (an event goes to several endpoints); its lane keeps
-- the event order by `created_at`, the event's time.
INSERT INTO jobs (id, kind, lane, topic, target, account_id, ref_id, payload, body, status, attempts,
                  next_attempt_at, claimed_until, claimed_by, last_status, last_error, created_at, finished_at)
    SELECT lower(substr(hex(randomblob(4)), 1, 8) || '-' || substr(hex(randomblob(2)), 1, 4) || '-4'
                 || substr(hex(randomblob(2)), 2, 3) || '-a' || substr(hex(randomblob(2)), 2, 3) || '-'
                 || substr(hex(randomblob(6)), 1, 12)),
           'webhook', endpoint_id || ' ' || account_id, event_type, endpoint_id, account_id, event_id, data, NULL,
           CASE status WHEN 'delivered' THEN 'done' ELSE status END, attempts, next_attempt_at, claimed_until,
           claimed_by, last_response_status, last_error, occurred_at, delivered_at
    FROM webhook_deliveries;

DROP TABLE outbox;
DROP TABLE webhook_deliveries;
