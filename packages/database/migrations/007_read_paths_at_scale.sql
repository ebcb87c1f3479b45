-- The booking paths at a million reservations: every list and availability query served by an
-- index, in its order, without a filesort or a scan of the table (docs/booking.md names each).
--
-- `reservations.provider_id`: a provider's list filtered on the joined resources row, so MariaDB
-- gathered every reservation of every resource of the provider and sorted them for each page. The
-- reservation now carries its resource's provider (a resource never changes provider), written by
-- reservation-api with the row; `reservations_provider_time` serves the list in its order.
-- A row written by a build older than this schema (during a rollout) has it NULL: the backfill
-- below, run again, fills it (docs/booking.md).
--
-- `reservations_time`: the admin's list (no filter) in `starts_at, id` order;
-- `reservations_status_time`: the admin's list by status (a rare status would otherwise be
-- looked for along the whole time index).
--
-- `reservations_resource_start` (resource_id, starts_at) replaces `reservations_resource_time`
-- (resource_id, starts_at, ends_at): InnoDB appends the primary key to every index, so the new one
-- is in `starts_at, id` order within a resource, which a resource's list pages in (the old one,
-- ordered by `ends_at` before `id`, made MariaDB read the whole time index instead). The overlap
-- checks read a short range of it and test `ends_at` on the rows.
--
-- `resources.longest_reservation_ms`: the longest window any reservation of the resource has had.
-- A reservation covering an instant t started after t minus it, so the overlap checks (the
-- conditional INSERT and UPDATE, the 409's conflict, availability) read the index range
-- `[start - longest, end)` of the resource instead of every reservation it ever had before `end`.
-- reservation-api raises it, in the transaction that holds the resource's lock, when it writes a
-- longer window; it never lowers it.
--
-- Every statement is safe to repeat (IF NOT EXISTS; the backfills only fill what is missing or raise).
ALTER TABLE reservations
  ADD COLUMN IF NOT EXISTS provider_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL AFTER customer_id;

UPDATE reservations r JOIN resources s ON s.id = r.resource_id SET r.provider_id = s.provider_id WHERE r.provider_id IS NULL;

ALTER TABLE reservations
  ADD KEY IF NOT EXISTS reservations_provider_time (provider_id, starts_at),
  ADD KEY IF NOT EXISTS reservations_time (starts_at),
  ADD KEY IF NOT EXISTS reservations_status_time (status, starts_at),
  ADD KEY IF NOT EXISTS reservations_resource_start (resource_id, starts_at);

-- After the key above exists, so the foreign key on resource_id always has an index.
ALTER TABLE reservations DROP KEY IF EXISTS reservations_resource_time;

ALTER TABLE resources
  ADD COLUMN IF NOT EXISTS longest_reservation_ms BIGINT UNSIGNED NOT NULL DEFAULT 0;

UPDATE resources s
  JOIN (SELECT resource_id, MAX(CEIL(TIMESTAMPDIFF(MICROSECOND, starts_at, ends_at) / 1000)) AS longest
        FROM reservations GROUP BY resource_id) l ON l.resource_id = s.id
  SET s.longest_reservation_ms = l.longest
  WHERE s.longest_reservation_ms < l.longest;
