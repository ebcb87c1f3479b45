-- The event pipeline (issue 4): the notifier's durable state. The outbox (001) is the relay's;
-- everything here is written by the notifier, in the same transaction as the effect it records.

-- Deduplication: an event id is here once its effect (history row, delivery record) committed.
-- A redelivered message finds its id and is acknowledged without a second effect.
CREATE TABLE IF NOT EXISTS processed_events (
  event_id CHAR(36) NOT NULL PRIMARY KEY,
  type VARCHAR(64) NOT NULL,
  processed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY processed_events_time (processed_at)
) ENGINE=InnoDB;

-- Each provider's notification stream is numbered 1, 2, 3… with no gaps: the row is locked while
-- a number is taken, so number n+1 cannot commit before n and a reader resuming after n misses
-- nothing (an auto-increment could commit out of order).
CREATE TABLE IF NOT EXISTS provider_streams (
  provider_id VARCHAR(128) NOT NULL PRIMARY KEY,
  last_seq BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB;

-- The event history of every reservation (query-api serves it; the SSE stream replays it).
CREATE TABLE IF NOT EXISTS event_history (
  event_id CHAR(36) NOT NULL PRIMARY KEY,
  reservation_id CHAR(36) NOT NULL,
  provider_id VARCHAR(128) NOT NULL,
  provider_seq BIGINT UNSIGNED NOT NULL,
  type VARCHAR(64) NOT NULL,
  version INT UNSIGNED NOT NULL,
  occurred_at DATETIME(6) NOT NULL,
  recorded_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  payload JSON NOT NULL,
  UNIQUE KEY event_history_stream (provider_id, provider_seq),
  KEY event_history_reservation (reservation_id, version)
) ENGINE=InnoDB;

-- Where a provider wants its webhooks, and the secret that signs them (Standard Webhooks `whsec_`).
CREATE TABLE IF NOT EXISTS webhook_endpoints (
  provider_id VARCHAR(128) NOT NULL PRIMARY KEY,
  url VARCHAR(2048) NOT NULL,
  secret VARCHAR(128) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB;

-- One webhook delivery per event for a provider with an endpoint. A deliverer claims a due row
-- by pushing `next_attempt_at` past its lease, so a crashed deliverer's claims come due again.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  event_id CHAR(36) NOT NULL PRIMARY KEY,
  provider_id VARCHAR(128) NOT NULL,
  reservation_id CHAR(36) NOT NULL,
  version INT UNSIGNED NOT NULL,
  state ENUM('pending', 'delivered', 'failed') NOT NULL DEFAULT 'pending',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(6) NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  delivered_at DATETIME(6) NULL,
  last_status SMALLINT NULL,
  last_error VARCHAR(500) NULL,
  KEY webhook_deliveries_due (state, next_attempt_at),
  KEY webhook_deliveries_reservation (reservation_id, state, version)
) ENGINE=InnoDB;
