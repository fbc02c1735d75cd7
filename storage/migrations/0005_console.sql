-- The owner's web console: login links and sessions, where admin actions came from, the
-- order timeline, the exchange rate an order was priced at, customers the owner blocked,
-- and the indexes its pages need (dashboard by day, search, timelines).

-- One-time login links and console sessions. Only SHA-256 hashes of the secrets are kept,
-- so a copy of the database (a backup) opens no console.
CREATE TABLE admin_login_tokens (
    token_hash TEXT PRIMARY KEY,
    admin_id   INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);

CREATE TABLE admin_sessions (
    id_hash      TEXT PRIMARY KEY,
    admin_id     INTEGER NOT NULL,
    language     TEXT NOT NULL DEFAULT 'ko' CHECK (language IN ('ko', 'en')),
    user_agent   TEXT,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    ended_at     TEXT
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- Where an admin action came from: the Telegram chat, the web console, or the CLI.
-- Every action before this migration came from the chat.
ALTER TABLE audit ADD COLUMN source TEXT NOT NULL DEFAULT 'chat'
    CHECK (source IN ('chat', 'web', 'cli'));
CREATE INDEX audit_target ON audit (target, id);

-- Profit in 원 is what the customer paid minus the panel's charge at the exchange rate the
-- order was priced at (config can change later). NULL for orders placed before this.
ALTER TABLE orders ADD COLUMN exchange_rate TEXT;

-- The owner blocked this customer from ordering and topping up (blocked_at is the other
-- direction: the customer blocked the bot).
ALTER TABLE users ADD COLUMN banned_at TEXT;

-- The order timeline: every status change and every new panel word, written by triggers
-- in the very statement (so the very transaction) that changes the order — no code path
-- can change a status without its event. Refunds (ledger), messages (outbox) and admin
-- actions (audit) already carry the order id and are merged in when the timeline is read.
CREATE TABLE order_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id       INTEGER NOT NULL REFERENCES orders (id),
    kind           TEXT NOT NULL CHECK (kind IN ('status', 'panel')),
    old_status     TEXT,
    status         TEXT NOT NULL,
    panel_status   TEXT,
    panel_order_id TEXT,
    remains        INTEGER,
    error          TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, id);

CREATE TRIGGER order_events_insert AFTER INSERT ON orders
BEGIN
    INSERT INTO order_events (order_id, kind, status, created_at)
    VALUES (NEW.id, 'status', NEW.status, NEW.created_at);
END;

CREATE TRIGGER order_events_status AFTER UPDATE OF status ON orders
WHEN NEW.status IS NOT OLD.status
BEGIN
    INSERT INTO order_events (order_id, kind, old_status, status, panel_status,
                              panel_order_id, remains, error, created_at)
    VALUES (NEW.id, 'status', OLD.status, NEW.status, NEW.panel_status, NEW.panel_order_id,
            NEW.remains, NEW.error, NEW.updated_at);
END;

CREATE TRIGGER order_events_panel AFTER UPDATE OF panel_status ON orders
WHEN NEW.status IS OLD.status AND NEW.panel_status IS NOT OLD.panel_status
BEGIN
    INSERT INTO order_events (order_id, kind, old_status, status, panel_status,
                              panel_order_id, remains, error, created_at)
    VALUES (NEW.id, 'panel', OLD.status, NEW.status, NEW.panel_status, NEW.panel_order_id,
            NEW.remains, NEW.error, NEW.updated_at);
END;

-- Orders placed before the timeline existed: their creation and where they are now.
INSERT INTO order_events (order_id, kind, status, created_at)
    SELECT id, 'status', 'created', created_at FROM orders;
INSERT INTO order_events (order_id, kind, old_status, status, panel_status, panel_order_id,
                          remains, error, created_at)
    SELECT id, 'status', NULL, status, panel_status, panel_order_id, remains, error, updated_at
    FROM orders WHERE status <> 'created';

-- Order search: a link or a subscription's username by any fragment of it (trigram full-text
-- index over the orders table's own columns; neither changes after the order is placed, so
-- an insert trigger keeps it complete).
CREATE VIRTUAL TABLE orders_search USING fts5(
    link, username, content = 'orders', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO orders_search (orders_search) VALUES ('rebuild');
CREATE TRIGGER orders_search_insert AFTER INSERT ON orders
BEGIN
    INSERT INTO orders_search (rowid, link, username) VALUES (NEW.id, NEW.link, NEW.username);
END;

-- Dashboard figures by time, what needs a human (queued since when), lists by action.
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX orders_queued_since ON orders (status, submitted_at)
    WHERE status IN ('pending', 'processing');
CREATE INDEX ledger_kind_time ON ledger (kind, created_at, amount, topup_id);
CREATE INDEX users_created ON users (created_at);
CREATE INDEX audit_action ON audit (action, id);
