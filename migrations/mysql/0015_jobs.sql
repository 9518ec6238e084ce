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
    id              CHAR(36)     NOT NULL,
    kind            VARCHAR(16)  NOT NULL,
    lane            VARCHAR(300) NOT NULL,
    topic           VARCHAR(64)  NOT NULL,
    target          VARCHAR(254) NOT NULL,
    account_id      CHAR(36),
    ref_id          CHAR(36),
    payload         MEDIUMTEXT   NOT NULL,
    body            MEDIUMTEXT,
    status          VARCHAR(16)  NOT NULL,
    attempts        INT          NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6)  NOT NULL,
    claimed_until   DATETIME(6),
    claimed_by      CHAR(36),
    last_status     INT,
    last_error      TEXT,
    created_at      DATETIME(6)  NOT NULL,
    finished_at     DATETIME(6),
    PRIMARY KEY (id),
    KEY jobs_due (kind, status, next_attempt_at),
    -- A lane's earlier jobs, which a later one waits for.
    KEY jobs_lane (lane, created_at, id),
    -- One endpoint's deliveries, newest event first.
    KEY jobs_target (kind, target, ref_id),
    CONSTRAINT jobs_status_known CHECK (status IN ('queued', 'held', 'sending', 'done', 'failed'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Emails and webhook deliveries, written with the change that causes them, then claimed and settled';

INSERT INTO jobs (id, kind, lane, topic, target, account_id, ref_id, payload, body, status, attempts,
                  next_attempt_at, claimed_until, claimed_by, last_status, last_error, created_at, finished_at)
    SELECT id, 'email', CONCAT('email ', LOWER(recipient)), kind, recipient, NULL, NULL,
           JSON_OBJECT('subject', subject, 'message_id', message_id),
           CASE WHEN body_text IS NULL THEN NULL
                ELSE JSON_OBJECT('text', body_text, 'html', COALESCE(body_html, '')) END,
           CASE status WHEN 'sent' THEN 'done' ELSE status END, attempts, next_attempt_at, claimed_until,
           claimed_by, NULL, last_error, created_at, sent_at
    FROM outbox;

-- A delivery's job gets an id of its own (an event goes to several endpoints); its lane keeps
-- the event order by `created_at`, the event's time.
INSERT INTO jobs (id, kind, lane, topic, target, account_id, ref_id, payload, body, status, attempts,
                  next_attempt_at, claimed_until, claimed_by, last_status, last_error, created_at, finished_at)
    SELECT UUID(), 'webhook', CONCAT(endpoint_id, ' ', account_id), event_type, endpoint_id, account_id, event_id,
           data, NULL, CASE status WHEN 'delivered' THEN 'done' ELSE status END, attempts, next_attempt_at,
           claimed_until, claimed_by, last_response_status, last_error, occurred_at, delivered_at
    FROM webhook_deliveries;

DROP TABLE outbox;
DROP TABLE webhook_deliveries;
