-- Schema v2: a customer belongs to one front (Telegram or KakaoTalk) and is keyed there by
-- that front's id; news for a customer is delivered by the customer's front.

ALTER TABLE users ADD COLUMN front TEXT NOT NULL DEFAULT 'telegram'
    CHECK (front IN ('telegram', 'kakao'));
-- The front's own id for the customer: the Telegram user id as text, or Kakao's botUserKey.
ALTER TABLE users ADD COLUMN external_id TEXT;
UPDATE users SET external_id = CAST(telegram_id AS TEXT) WHERE telegram_id IS NOT NULL;
CREATE UNIQUE INDEX users_front_external ON users (front, external_id)
    WHERE external_id IS NOT NULL;

-- outbox.chat_id was NOT NULL (a Telegram chat); a Kakao customer has no chat id, so the
-- table is rebuilt with chat_id nullable and the front that delivers each row.
CREATE TABLE outbox_v2 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key      TEXT NOT NULL UNIQUE,
    front           TEXT NOT NULL DEFAULT 'telegram' CHECK (front IN ('telegram', 'kakao')),
    chat_id         INTEGER,            -- Telegram chat (customers on Telegram, admins)
    user_id         INTEGER REFERENCES users (id),
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'sent', 'skipped', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    CHECK (front <> 'telegram' OR chat_id IS NOT NULL),
    CHECK (front <> 'kakao' OR user_id IS NOT NULL)
);
INSERT INTO outbox_v2 (id, dedupe_key, front, chat_id, user_id, event, payload, status,
                       attempts, next_attempt_at, last_error, created_at, sent_at)
    SELECT id, dedupe_key, 'telegram', chat_id, user_id, event, payload, status, attempts,
           next_attempt_at, last_error, created_at, sent_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (front, status, next_attempt_at);
CREATE INDEX outbox_user ON outbox (user_id, status);
