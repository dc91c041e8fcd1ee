-- Postier embedded store, schema version 2 (store.py ``_migrate`` upgrades older stores).
-- Small bodies live inline in ``blobs.data``; larger ones in files (store/blobs_fs.py).

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS domains (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    catch_all TEXT
);

CREATE TABLE IF NOT EXISTS accounts (
    id                 INTEGER PRIMARY KEY,
    address            TEXT NOT NULL UNIQUE,
    domain_id          INTEGER NOT NULL REFERENCES domains(id),
    password_hash      TEXT NOT NULL,
    scram_sha256       TEXT,
    quota_bytes        INTEGER,
    used_bytes         INTEGER NOT NULL DEFAULT 0,
    message_count      INTEGER NOT NULL DEFAULT 0,
    pop3_delete_policy TEXT NOT NULL DEFAULT 'trash',
    disabled           INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS aliases (
    address TEXT PRIMARY KEY,
    targets TEXT NOT NULL          -- JSON list of addresses
);

CREATE TABLE IF NOT EXISTS mailboxes (
    id               INTEGER PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    special_use      TEXT,
    uidvalidity      INTEGER NOT NULL,
    uidnext          INTEGER NOT NULL DEFAULT 1,
    highest_modseq   INTEGER NOT NULL DEFAULT 1,
    first_recent_uid INTEGER NOT NULL DEFAULT 1,
    -- The highest modseq pruned from the expunge history: QRESYNC clients older than it resync
    -- fully, those at or above it exactly.
    vanished_floor   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account_id, name)
);

CREATE TABLE IF NOT EXISTS subscriptions (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE IF NOT EXISTS blobs (
    id       INTEGER PRIMARY KEY,
    sha256   TEXT NOT NULL UNIQUE,
    size     INTEGER NOT NULL,
    refcount INTEGER NOT NULL,
    data     BLOB               -- the body itself when small; NULL when it is a file
);

-- Full-text index per distinct body, shared by every copy of it.
CREATE VIRTUAL TABLE IF NOT EXISTS blob_text USING fts5 (
    subject, addresses, body, tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY,
    mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    modseq        INTEGER NOT NULL,
    system_flags  INTEGER NOT NULL DEFAULT 0,   -- bit per system flag, see sqlite/flags.py
    keywords      TEXT NOT NULL DEFAULT '',     -- space-separated, sorted
    internal_date TEXT NOT NULL,
    size          INTEGER NOT NULL,
    blob_rowid    INTEGER NOT NULL REFERENCES blobs(id),
    header_prefix BLOB NOT NULL DEFAULT x'',
    structure     TEXT NOT NULL,                -- mime.parse tree, JSON
    summary       TEXT NOT NULL,                -- mime.summary, JSON
    UNIQUE (mailbox_id, uid)
);
CREATE INDEX IF NOT EXISTS messages_modseq ON messages (mailbox_id, modseq);

-- The expunge history for QRESYNC's VANISHED, pruned after [store] expunge_history.
CREATE TABLE IF NOT EXISTS expunged (
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid         INTEGER NOT NULL,
    modseq      INTEGER NOT NULL,
    expunged_at TEXT NOT NULL,                  -- UTC, ISO 8601 with microseconds: sorts as text
    PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged (mailbox_id, modseq);
CREATE INDEX IF NOT EXISTS expunged_time ON expunged (expunged_at);

-- Outbound queue: one row per message, one per recipient with its own delivery state.
CREATE TABLE IF NOT EXISTS queue_messages (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    sender      TEXT NOT NULL,                 -- '' for the null sender (bounces)
    blob_rowid  INTEGER NOT NULL REFERENCES blobs(id),
    size        INTEGER NOT NULL,
    envid       TEXT,
    ret         TEXT,
    body_type   TEXT,
    smtputf8    INTEGER NOT NULL DEFAULT 0,
    message_id  TEXT,                          -- the Message-ID field, for delivery status
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_by_account ON queue_messages (account_id, id);

CREATE TABLE IF NOT EXISTS queue_recipients (
    id             INTEGER PRIMARY KEY,
    message_id     INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
    address        TEXT NOT NULL,
    notify         TEXT NOT NULL DEFAULT '',   -- DSN NOTIFY values, comma-separated
    orcpt          TEXT,
    state          TEXT NOT NULL DEFAULT 'pending',
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_attempt   TEXT NOT NULL,
    last_error     TEXT,
    remote_reply   TEXT,
    status         TEXT,                       -- RFC 3463 code of the last outcome
    remote_mta     TEXT,                       -- the server that gave it
    last_attempt   TEXT,
    lease_until    TEXT,                       -- a runner is delivering it until then
    notice         TEXT,                       -- DSN still to send: failed/delayed/delivered/relayed
    delay_notified INTEGER NOT NULL DEFAULT 0,
    updated_at     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_due ON queue_recipients (state, next_attempt);
CREATE INDEX IF NOT EXISTS queue_notices ON queue_recipients (notice) WHERE notice IS NOT NULL;
CREATE INDEX IF NOT EXISTS queue_recipients_message ON queue_recipients (message_id);
