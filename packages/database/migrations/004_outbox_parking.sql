-- The outbox relay keeps going past a row SQS refuses. Each row counts its failed sends
-- (`attempts`, `last_error`); a row that fails permanently (SQS refuses its contents) or
-- OUTBOX_MAX_ATTEMPTS times is parked (`parked_at`): kept unsent, never picked again until an SRE
-- clears `parked_at`, and the later rows of its aggregate wait behind it (docs/events.md).
-- `outbox_parked` finds the parked rows (few, and an alert fires while there are any) without a scan.
--
-- Every statement is safe to repeat (IF NOT EXISTS).
ALTER TABLE outbox
  ADD COLUMN IF NOT EXISTS attempts INT UNSIGNED NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS last_error VARCHAR(500) NULL,
  ADD COLUMN IF NOT EXISTS parked_at DATETIME(6) NULL,
  ADD KEY IF NOT EXISTS outbox_parked (parked_at);
