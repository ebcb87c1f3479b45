import { createSqsClient, type ReadinessCheck, sqsCheck } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import type { NotifierConfig } from '../config.ts';
import { createEventProcessor } from './event-processor.ts';
import { createSqsIntake } from './sqs-intake.ts';
import { createWebhookDeliverer, type WebhookDeliverer } from './webhook-deliverer.ts';

export type PipelineConfig = Pick<
  NotifierConfig,
  | 'SQS_QUEUE_URL'
  | 'SQS_DLQ_URL'
  | 'SQS_CONSUMERS'
  | 'SQS_BATCH_SIZE'
  | 'SQS_WAIT_TIME_SECONDS'
  | 'SQS_RECEIVE_GAP_MS'
  | 'SQS_CONNECTION_TIMEOUT_MS'
  | 'SQS_REQUEST_TIMEOUT_MS'
  | 'SQS_VISIBILITY_TIMEOUT_SECONDS'
  | 'SQS_RETRY_BASE_SECONDS'
  | 'WEBHOOK_TIMEOUT_MS'
  | 'WEBHOOK_ALLOW_PRIVATE_ADDRESSES'
  | 'WEBHOOK_RETRY_BASE_MS'
  | 'WEBHOOK_RETRY_MAX_MS'
  | 'WEBHOOK_MAX_ATTEMPTS'
  | 'WEBHOOK_CONCURRENCY'
  | 'WEBHOOK_CONCURRENCY_PER_PROVIDER'
  | 'WEBHOOK_BREAKER_FAILURES'
  | 'WEBHOOK_BREAKER_COOLDOWN_MS'
  | 'WEBHOOK_POLL_INTERVAL_MS'
  | 'WEBHOOK_MARK_DELAY_MS'
  | 'SHUTDOWN_TIMEOUT_MS'
>;

declare module 'fastify' {
  interface FastifyInstance {
    deliverer: WebhookDeliverer;
    /** Readiness: the queue answers. */
    queueCheck: ReadinessCheck;
  }
}

/**
 * SQS → effect → provider: the intake consumes, the processor takes each received batch's effect
 * in one transaction, then the SSE doorbell rings and the webhook deliverer POSTs the delivery it
 * claimed in that transaction. Starts when the app is ready; on close the intake finishes its
 * batches first, then the deliverer its POSTs.
 */
export const pipeline = fp<{ config: PipelineConfig; registry: Registry }>(
  async (app: FastifyInstance, { config, registry }) => {
    const timeouts = { connectionTimeoutMs: config.SQS_CONNECTION_TIMEOUT_MS, requestTimeoutMs: config.SQS_REQUEST_TIMEOUT_MS };
    const sqs = createSqsClient(timeouts);
    // A claim outlives a POST that times out, so two deliverers never hold one delivery.
    const leaseMs = 2 * config.WEBHOOK_TIMEOUT_MS + 1000;
    const deliverer = createWebhookDeliverer({
      pool: app.db,
      registry,
      log: app.log.child({ component: 'webhook-deliverer' }),
      secretKeys: app.secretKeys,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      allowPrivateAddresses: config.WEBHOOK_ALLOW_PRIVATE_ADDRESSES,
      retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: config.WEBHOOK_RETRY_MAX_MS,
      maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
      concurrency: config.WEBHOOK_CONCURRENCY,
      concurrencyPerProvider: config.WEBHOOK_CONCURRENCY_PER_PROVIDER,
      breakerFailures: config.WEBHOOK_BREAKER_FAILURES,
      breakerCoolDownMs: config.WEBHOOK_BREAKER_COOLDOWN_MS,
      pollIntervalMs: config.WEBHOOK_POLL_INTERVAL_MS,
      markDelayMs: config.WEBHOOK_MARK_DELAY_MS,
      leaseMs,
    });
    const intake = createSqsIntake({
      sqs,
      // A long poll is silent for up to its wait time: that is not a stuck request.
      pollingSqs: createSqsClient({ ...timeouts, requestTimeoutMs: timeouts.requestTimeoutMs + config.SQS_WAIT_TIME_SECONDS * 1000 }),
      queueUrl: config.SQS_QUEUE_URL,
      dlqUrl: config.SQS_DLQ_URL,
      processor: createEventProcessor({ pool: app.db, replica: app.replica, history: app.history, leaseMs }),
      registry,
      log: app.log.child({ component: 'sqs-intake' }),
      consumers: config.SQS_CONSUMERS,
      batchSize: config.SQS_BATCH_SIZE,
      waitTimeSeconds: config.SQS_WAIT_TIME_SECONDS,
      receiveGapMs: config.SQS_RECEIVE_GAP_MS,
      visibilityTimeoutSeconds: config.SQS_VISIBILITY_TIMEOUT_SECONDS,
      retryBaseSeconds: config.SQS_RETRY_BASE_SECONDS,
      onProcessed: (outcomes) => {
        const providers = new Set<string>();
        for (const outcome of outcomes) {
          if (outcome.kind !== 'processed') continue;
          providers.add(outcome.providerId);
          if (outcome.claimed) deliverer.deliverClaimed(outcome.claimed);
        }
        // One ring per provider and transaction: a stream reads everything new at once.
        for (const providerId of providers) app.bus.ring(providerId);
      },
    });
    app.decorate('deliverer', deliverer);
    app.decorate('queueCheck', sqsCheck(sqs, config.SQS_QUEUE_URL));
    app.addHook('onReady', async () => {
      deliverer.start();
      await intake.start();
    });
    app.addHook('onClose', async () => {
      const grace = Math.max(1000, config.SHUTDOWN_TIMEOUT_MS - 2000);
      await intake.stop(grace / 2);
      await deliverer.stop(grace / 2);
      sqs.destroy();
    });
  },
  { name: 'pipeline', dependencies: ['db', 'notification-bus', 'secret-store'] },
);
