-- The booking core (issue 3). Times are UTC instants; the API speaks ISO 8601 with an offset.

CREATE TABLE IF NOT EXISTS resources (
  id CHAR(36) NOT NULL PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  provider_id VARCHAR(128) NOT NULL,
  time_zone VARCHAR(64) NOT NULL,
  capacity INT UNSIGNED NOT NULL DEFAULT 1,
  version INT UNSIGNED NOT NULL DEFAULT 1,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY resources_provider (provider_id),
  CONSTRAINT resources_capacity CHECK (capacity >= 1)
) ENGINE=InnoDB;

-- `held` rows count as taken only until `expires_at`; nothing has to sweep them for the time to free.
CREATE TABLE IF NOT EXISTS reservations (
  id CHAR(36) NOT NULL PRIMARY KEY,
  resource_id CHAR(36) NOT NULL,
  customer_id VARCHAR(128) NOT NULL,
  starts_at DATETIME(3) NOT NULL,
  ends_at DATETIME(3) NOT NULL,
  status ENUM('held', 'confirmed', 'cancelled') NOT NULL,
  expires_at DATETIME(3) NULL,
  version INT UNSIGNED NOT NULL DEFAULT 1,
  notes VARCHAR(1000) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY reservations_resource_time (resource_id, starts_at, ends_at),
  KEY reservations_customer_time (customer_id, starts_at),
  CONSTRAINT reservations_resource FOREIGN KEY (resource_id) REFERENCES resources (id),
  CONSTRAINT reservations_interval CHECK (ends_at > starts_at)
) ENGINE=InnoDB;

-- One row per (caller, route, Idempotency-Key); the response is stored in the same transaction
-- as the change it describes, so a replay never reports something that did not commit.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  caller VARCHAR(128) NOT NULL,
  route VARCHAR(128) NOT NULL,
  idempotency_key VARCHAR(255) NOT NULL,
  request_hash CHAR(64) NOT NULL,
  response_status SMALLINT UNSIGNED NULL,
  response_headers JSON NULL,
  response_body MEDIUMTEXT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  expires_at DATETIME(3) NOT NULL,
  PRIMARY KEY (caller, route, idempotency_key),
  KEY idempotency_keys_expiry (expires_at)
) ENGINE=InnoDB;

-- Transactional outbox: one row per state change, written with it; the relay (issue 4) sends
-- rows in `id` order where `sent_at IS NULL` and stamps `sent_at`. `event_id` is what consumers
-- deduplicate on; `version` is the aggregate's version after the change.
CREATE TABLE IF NOT EXISTS outbox (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id CHAR(36) NOT NULL,
  aggregate_type VARCHAR(32) NOT NULL,
  aggregate_id CHAR(36) NOT NULL,
  type VARCHAR(64) NOT NULL,
  version INT UNSIGNED NOT NULL,
  payload JSON NOT NULL,
  occurred_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  sent_at DATETIME(6) NULL,
  UNIQUE KEY outbox_event_id (event_id),
  KEY outbox_unsent (sent_at, id),
  KEY outbox_aggregate (aggregate_type, aggregate_id, id)
) ENGINE=InnoDB;
