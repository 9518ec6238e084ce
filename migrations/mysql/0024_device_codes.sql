-- The device authorization grant (RFC 8628): a device's request for tokens, kept by the
-- SHA-256 of its device code (`device_hash`) and the keyed hash of the code a person types
-- (`user_hash`). `state` is `pending` until the person approves or denies it on `/device`
-- (`approved` names the account and how it had logged in, `auth`), and `spent` once the
-- device has its tokens. `views` counts the times the approval page was shown for it (past a
-- few the code is void), `polls` the device's polls (each one moves it on by one, so two at
-- once cannot both pass the interval) and `interval_secs` the interval it must keep.
CREATE TABLE oauth_device_codes (
    device_hash   BINARY(32)   NOT NULL,
    user_hash     BINARY(32)   NOT NULL,
    client_id     VARCHAR(64)  NOT NULL,
    scopes        VARCHAR(255) NOT NULL,
    state         VARCHAR(16)  NOT NULL,
    account_id    CHAR(36),
    auth          VARCHAR(255),
    views         INT          NOT NULL,
    polls         INT          NOT NULL,
    interval_secs INT          NOT NULL,
    polled_at     DATETIME(6),
    created_at    DATETIME(6)  NOT NULL,
    expires_at    DATETIME(6)  NOT NULL,
    PRIMARY KEY (device_hash),
    KEY oauth_device_codes_by_user_code (user_hash),
    KEY oauth_device_codes_by_expiry (expires_at),
    CONSTRAINT oauth_device_codes_client_fk FOREIGN KEY (client_id) REFERENCES oauth_clients (id) ON DELETE CASCADE,
    CONSTRAINT oauth_device_codes_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Device authorization grant requests (RFC 8628)';
