-- Identities are exact. The database's default collation (utf8mb4_unicode_ci) is case- and
-- accent-insensitive and ignores trailing spaces, while principals are JWT `sub` strings that the
-- code compares with ===: provider `ACME` passed the access check for its own URL, then a query
-- on `provider_id = 'ACME'` found `acme`'s rows. Every column that holds an identity or a key is
-- compared byte for byte from here on: utf8mb4_nopad_bin is binary and, unlike utf8mb4_bin, does
-- not pad, so `acme ` is not `acme` either. Human text (names, notes, time zones, URLs) keeps the
-- default; so do event `type` columns, a closed vocabulary the code writes and no caller supplies.
-- outbox.aggregate_type is a closed vocabulary too, but part of the SQS message group key beside
-- aggregate_id, so it is compared the same way as the id it qualifies.
--
-- The data is kept: the character set stays utf8mb4, only the comparison changes. Unique and
-- primary keys (rebuilt by MODIFY) cannot fail on existing rows: a binary collation is stricter
-- than the old one, so rows that were distinct stay distinct.
--
-- Every statement is safe to repeat: MODIFY to the definition a column already has changes
-- nothing, and the foreign key is dropped and added with IF [NOT] EXISTS.

-- MariaDB refuses to change a column a foreign key uses, even with foreign_key_checks off: the
-- key goes while both sides change, and comes back once they match. reservations.resource_id was
-- always written from the locked resource row, byte for byte its id, so adding it back succeeds.
ALTER TABLE reservations DROP FOREIGN KEY IF EXISTS reservations_resource;

ALTER TABLE resources
  MODIFY id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY provider_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE reservations
  MODIFY id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY resource_id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY customer_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE reservations
  ADD CONSTRAINT reservations_resource FOREIGN KEY IF NOT EXISTS (resource_id) REFERENCES resources (id);

-- The scope of a stored response: `K` and `k` from the same caller on the same route are two keys.
ALTER TABLE idempotency_keys
  MODIFY caller VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY route VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY idempotency_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY request_hash CHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE outbox
  MODIFY event_id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY aggregate_type VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY aggregate_id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE processed_events
  MODIFY event_id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE provider_streams
  MODIFY provider_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE event_history
  MODIFY event_id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY reservation_id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY provider_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE webhook_endpoints
  MODIFY provider_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE webhook_deliveries
  MODIFY event_id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY provider_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY reservation_id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;
