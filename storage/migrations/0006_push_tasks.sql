-- KakaoTalk's Event API accepts a push with a task id; whether each customer got it is
-- asked later. The task a pending row rides on is kept with the row, so a restart goes on
-- checking that task instead of pushing (and paying for) the same news again.
ALTER TABLE outbox ADD COLUMN push_task TEXT;
CREATE INDEX outbox_push_task ON outbox (push_task) WHERE push_task IS NOT NULL;
