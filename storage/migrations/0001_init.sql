-- Schema v1. Money is integer KRW; panel amounts are decimal TEXT; times are UTC ISO-8601.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    telegram_id   INTEGER UNIQUE,
    username      TEXT,
    first_name    TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT 'ko',
    -- Cached sum of the user's ledger rows, maintained only by the ledger trigger below.
    balance       INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
    terms_accepted_at TEXT,
    blocked_at    TEXT,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT
);
CREATE INDEX users_username ON users (username COLLATE NOCASE);

CREATE TABLE services (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    panel_id       TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    category       TEXT NOT NULL,
    type           TEXT NOT NULL,
    raw_type       TEXT NOT NULL,
    rate           TEXT NOT NULL,
    min_qty        INTEGER NOT NULL,
    max_qty        INTEGER NOT NULL,
    refill         INTEGER NOT NULL DEFAULT 0,
    cancel         INTEGER NOT NULL DEFAULT 0,
    dripfeed       INTEGER NOT NULL DEFAULT 0,
    description    TEXT,
    visible        INTEGER NOT NULL DEFAULT 1,
    price_override INTEGER CHECK (price_override IS NULL OR price_override > 0),
    removed_at     TEXT,
    synced_at      TEXT NOT NULL
);
CREATE INDEX services_category ON services (category);

-- A confirmation card: the price the customer saw is the price charged.
CREATE TABLE quotes (
    token          TEXT PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    service_id     INTEGER NOT NULL REFERENCES services (id),
    params         TEXT NOT NULL,
    price          INTEGER NOT NULL CHECK (price > 0),
    price_per_1000 INTEGER NOT NULL,
    rate           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);

CREATE TABLE orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    service_id      INTEGER NOT NULL REFERENCES services (id),
    confirm_token   TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('order', 'subscription')),
    link            TEXT,
    job_key         TEXT NOT NULL,       -- normalized link/username for the duplicate-job guard
    quantity        INTEGER NOT NULL CHECK (quantity > 0),
    runs            INTEGER,
    interval        INTEGER,
    comments        TEXT,
    username        TEXT,
    sub_min         INTEGER,
    sub_max         INTEGER,
    sub_posts       INTEGER,
    sub_delay       INTEGER,
    sub_expiry      TEXT,
    price           INTEGER NOT NULL CHECK (price > 0),
    price_per_1000  INTEGER NOT NULL,
    rate            TEXT NOT NULL,
    status          TEXT NOT NULL,
    panel_order_id  TEXT,
    panel_status    TEXT,
    charge          TEXT,
    remains         INTEGER,
    start_count     INTEGER,
    delivered       INTEGER,
    refunded        INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= price),
    error           TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    submitted_at    TEXT,
    started_at      TEXT,
    finished_at     TEXT,
    next_poll_at    TEXT,
    poll_failures   INTEGER NOT NULL DEFAULT 0,
    late_alerted_at TEXT,
    cancel_requested_at TEXT,
    refill_id       TEXT,
    refill_status   TEXT,
    refill_requested_at TEXT
);
CREATE INDEX orders_user ON orders (user_id, id DESC);
CREATE INDEX orders_status ON orders (status);
CREATE UNIQUE INDEX orders_panel_id ON orders (panel_order_id) WHERE panel_order_id IS NOT NULL;
-- FAQ rule 6: one unfinished order per job (service + link), enforced by the database.
CREATE UNIQUE INDEX orders_active_job ON orders (service_id, job_key)
    WHERE status IN ('created', 'submitting', 'pending', 'processing', 'in_progress',
                     'needs_review');

CREATE TABLE topups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    method       TEXT NOT NULL CHECK (method IN ('bank', 'stars')),
    amount       INTEGER NOT NULL CHECK (amount > 0),
    depositor    TEXT,
    status       TEXT NOT NULL CHECK (status IN
                   ('pending', 'approved', 'rejected', 'withdrawn', 'expired', 'paid')),
    external_id  TEXT UNIQUE,   -- telegram_payment_charge_id for Stars
    stars        INTEGER,
    receipt_file_id TEXT,
    decided_by   INTEGER,
    decided_at   TEXT,
    reason       TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX topups_status ON topups (status, created_at);
CREATE UNIQUE INDEX topups_pending_same ON topups (user_id, amount, depositor)
    WHERE status = 'pending' AND method = 'bank';

-- Append-only money journal. Every balance change is exactly one row here.
CREATE TABLE ledger (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    amount        INTEGER NOT NULL CHECK (amount <> 0),
    kind          TEXT NOT NULL CHECK (kind IN
                    ('topup', 'order', 'refund', 'adjustment', 'reserve_release')),
    idem_key      TEXT NOT NULL UNIQUE,  -- makes every credit/refund happen at most once
    order_id      INTEGER REFERENCES orders (id),
    topup_id      INTEGER REFERENCES topups (id),
    balance_after INTEGER NOT NULL,
    note          TEXT,
    actor         INTEGER,
    created_at    TEXT NOT NULL
);
CREATE INDEX ledger_user ON ledger (user_id, id DESC);
CREATE INDEX ledger_order ON ledger (order_id);

-- The cached balance moves only with a ledger row; CHECK (balance >= 0) aborts the insert
-- (and so the whole statement) when a debit would overdraw.
CREATE TRIGGER ledger_apply AFTER INSERT ON ledger
BEGIN
    UPDATE users SET balance = balance + NEW.amount WHERE id = NEW.user_id;
END;
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;

-- Notifications, written in the same transaction as the change that causes them.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key      TEXT NOT NULL UNIQUE,
    chat_id         INTEGER NOT NULL,
    user_id         INTEGER REFERENCES users (id),
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'sent', 'skipped', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id   INTEGER NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    before     TEXT,
    after      TEXT,
    created_at TEXT NOT NULL
);

-- Small shop-wide state (alert flags, last sync) and conversation persistence.
CREATE TABLE kv (
    namespace TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
);
