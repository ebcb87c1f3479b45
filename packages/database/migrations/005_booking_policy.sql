-- A resource's own booking policy: the longest window a booking may take and how far ahead it
-- may end. NULL takes reservation-api's defaults (BOOKING_MAX_DURATION_MINUTES,
-- BOOKING_HORIZON_DAYS), so existing resources keep the service's policy (docs/booking.md).
-- `reservations_customer_holds` lets a hold count its customer's active holds (the cap,
-- MAX_ACTIVE_HOLDS_PER_CUSTOMER) from the index alone, whatever else the customer has booked.
--
-- Every statement is safe to repeat (IF NOT EXISTS).
ALTER TABLE resources
  ADD COLUMN IF NOT EXISTS max_duration_minutes INT UNSIGNED NULL,
  ADD COLUMN IF NOT EXISTS booking_horizon_days INT UNSIGNED NULL;

ALTER TABLE reservations
  ADD KEY IF NOT EXISTS reservations_customer_holds (customer_id, status, expires_at);
