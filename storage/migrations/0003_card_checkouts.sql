-- Card top-ups (issue 13): checkouts, and topups.method 'card'.

-- topups: a CHECK constraint cannot be altered, so the table is rebuilt with its rows
-- (ids kept). ledger.topup_id references topups: with foreign keys ON, the DROP counts the
-- ledger rows as orphans until the same ids are back; deferred, the count is checked at
-- COMMIT, so a lost row would fail the migration instead of passing silently.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE topups_v1 AS SELECT * FROM topups;
DROP TABLE topups;

CREATE TABLE topups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    method       TEXT NOT NULL CHECK (method IN ('bank', 'stars', 'card')),
    amount       INTEGER NOT NULL CHECK (amount > 0),
    depositor    TEXT,
    status       TEXT NOT NULL CHECK (status IN
                   ('pending', 'approved', 'rejected', 'withdrawn', 'expired', 'paid')),
    external_id  TEXT UNIQUE,   -- telegram_payment_charge_id (Stars), the PG's paymentKey (card)
    stars        INTEGER,
    receipt_file_id TEXT,
    decided_by   INTEGER,
    decided_at   TEXT,
    reason       TEXT,
    created_at   TEXT NOT NULL,
    receipt_url  TEXT,          -- card: the PG's receipt page
    pay_method   TEXT           -- card: the PG's method word (카드, 간편결제…)
);
INSERT INTO topups (id, user_id, method, amount, depositor, status, external_id, stars,
                    receipt_file_id, decided_by, decided_at, reason, created_at)
    SELECT id, user_id, method, amount, depositor, status, external_id, stars,
           receipt_file_id, decided_by, decided_at, reason, created_at
    FROM topups_v1;
DROP TABLE topups_v1;
CREATE INDEX topups_status ON topups (status, created_at);
CREATE UNIQUE INDEX topups_pending_same ON topups (user_id, amount, depositor)
    WHERE status = 'pending' AND method = 'bank';

-- One card payment attempt for one amount: the pay page's token, our orderId for the PG.
-- ready → confirming (paymentKey stored before the PG is asked) → done (credited, one
-- transaction with the topups row and the ledger row); ready → expired. A definite decline
-- goes back to ready (payable again until expires_at).
CREATE TABLE checkouts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id        TEXT NOT NULL UNIQUE,
    token           TEXT NOT NULL UNIQUE,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    provider        TEXT NOT NULL,
    amount          INTEGER NOT NULL CHECK (amount > 0),
    status          TEXT NOT NULL CHECK (status IN ('ready', 'confirming', 'done', 'expired')),
    payment_key     TEXT UNIQUE,
    method          TEXT,
    receipt_url     TEXT,
    topup_id        INTEGER REFERENCES topups (id),
    failure_code    TEXT,
    failure_message TEXT,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    confirming_at   TEXT,
    settled_at      TEXT,
    CHECK (status <> 'confirming' OR payment_key IS NOT NULL),
    CHECK (status <> 'done' OR topup_id IS NOT NULL)
);
CREATE INDEX checkouts_open ON checkouts (status, expires_at)
    WHERE status IN ('ready', 'confirming');
CREATE INDEX checkouts_user ON checkouts (user_id, id DESC);
