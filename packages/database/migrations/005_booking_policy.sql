-- A resource's own booking policy: the longest window a booking may take and how far ahead it
-- may end. NULL takes reservation-api's defaults (BOOKING_MAX_DURATION_MINUTES,
-- BOOKING_HORIZON_DAYS), so existing resources keep the service's policy (docs/booking.md).
--
-- Every statement is safe to repeat (IF NOT EXISTS).
ALTER TABLE resources
  ADD COLUMN IF NOT EXISTS max_duration_minutes INT UNSIGNED NULL,
  ADD COLUMN IF NOT EXISTS booking_horizon_days INT UNSIGNED NULL;
