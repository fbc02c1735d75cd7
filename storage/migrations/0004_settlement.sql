-- Settlement facts (issue 11): what the shop needs to refund exactly what the panel returned,
-- and to notice orders the panel cannot finish. Existing rows are filled in where possible.

-- The service's type when the order was placed (the refund rule depends on it).
ALTER TABLE orders ADD COLUMN service_type TEXT;
-- Units a Package order delivers (the price is per package); NULL: not known.
ALTER TABLE orders ADD COLUMN package_qty INTEGER CHECK (package_qty IS NULL OR package_qty > 0);
-- Highest `charge` the panel reported while the order was unfinished: what it cost there.
ALTER TABLE orders ADD COLUMN charge_seen TEXT;
-- Last time the panel's answer for the order moved (status, remains, start count, runs).
ALTER TABLE orders ADD COLUMN progress_at TEXT;
-- Start of an unbroken run of answers the shop could not use (per-id errors, an id missing
-- from the answer, runs/posts without a final answer); NULL once a usable answer comes.
ALTER TABLE orders ADD COLUMN blocked_since TEXT;

UPDATE orders SET service_type = (SELECT s.type FROM services s WHERE s.id = orders.service_id);
UPDATE orders SET progress_at = COALESCE(started_at, submitted_at, created_at);
UPDATE orders SET charge_seen = charge
    WHERE charge IS NOT NULL AND status IN ('pending', 'processing', 'in_progress');
