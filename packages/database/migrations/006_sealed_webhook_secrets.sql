-- Webhook signing secrets sealed at rest, and a rotation's overlap (docs/events.md).
-- `secret_sealed` is an envelope: a data key of its own wrapped (AES-256-GCM) by the
-- key-encryption key `secret_key_id` names (one of the notifier's WEBHOOK_SECRET_KEYS), then the
-- secret encrypted with that data key. During a rotation's overlap the previous secret, sealed the
-- same way, still signs until `previous_secret_until`.
-- The plaintext `secret` becomes nullable: SQL has no KEK to seal it with, so the notifier seals
-- what it finds there when it starts (and in its periodic sweep) and empties the column.
--
-- Every statement is safe to repeat (IF NOT EXISTS; MODIFY to the same definition).
ALTER TABLE webhook_endpoints
  MODIFY secret VARCHAR(128) NULL,
  ADD COLUMN IF NOT EXISTS secret_key_id VARCHAR(64) NULL,
  ADD COLUMN IF NOT EXISTS secret_sealed VARBINARY(255) NULL,
  ADD COLUMN IF NOT EXISTS previous_secret_key_id VARCHAR(64) NULL,
  ADD COLUMN IF NOT EXISTS previous_secret_sealed VARBINARY(255) NULL,
  ADD COLUMN IF NOT EXISTS previous_secret_until DATETIME(3) NULL;
