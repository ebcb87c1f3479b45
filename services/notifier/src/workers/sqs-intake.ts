import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type QueueAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { EventEnvelope } from '@reservations/contracts';
import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { Consumer } from 'sqs-consumer';
import { MalformedEventError, parseEnvelope } from '../domain/envelope.ts';
import { retryVisibility } from '../domain/retries.ts';
import type { EventProcessor, Outcome } from './event-processor.ts';

export interface IntakeOptions {
  sqs: SQSClient;
  /**
   * The consumers' own client (receives, deletes, heartbeats). `stop` destroys it once no batch
   * is in flight, which ends the idle long polls without cutting a delete.
   */
  pollingSqs: SQSClient;
  queueUrl: string;
  dlqUrl?: string | undefined;
  processor: EventProcessor;
  registry: Registry;
  log: FastifyBaseLogger;
  consumers: number;
  batchSize: number;
  waitTimeSeconds: number;
  /** Pause of a consumer between its receives: the next batch gathers what arrived meanwhile. */
  receiveGapMs: number;
  visibilityTimeoutSeconds: number;
  retryBaseSeconds: number;
  /** Called with the outcomes of a transaction that committed (SSE doorbell, webhook fast path). */
  onProcessed: (outcomes: Outcome[]) => void;
}

/**
 * Reads the queue with `SQS_CONSUMERS` sqs-consumer loops. A received batch takes effect in one
 * transaction (the processor's multi-row statements), and its messages are deleted once it
 * committed. If that transaction fails (a message that is not an event, a payload that cannot
 * be processed, a failing statement), nothing of it committed and the batch goes again the
 * careful way: split by message group (one group per aggregate), groups side by side, a group's
 * messages one transaction each in order, and a group stops at its first failure, so nothing
 * after a failed event takes effect before it. A failed message is hidden for a backoff that
 * doubles per receive, and after the queue's `maxReceiveCount` receives SQS moves it to the DLQ;
 * its batch-mates of other groups never wait for it.
 */
export function createSqsIntake(options: IntakeOptions) {
  const { sqs, queueUrl, dlqUrl, processor, log, registry } = options;
  const events = new Counter({
    name: 'notifier_events_total',
    help: 'events by outcome: processed, deduplicated (a redelivery), ignored (nobody to notify), failed (to be retried)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const processing = new Histogram({
    name: 'notifier_processing_duration_seconds',
    help: 'time of one transaction taking a batch’s effect (dedupe, history, delivery records), one event’s when a batch goes again one by one',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const batchEvents = new Histogram({
    name: 'notifier_transaction_events',
    help: 'events per transaction that committed (a received batch, or one event when a batch goes again one by one)',
    buckets: [1, 2, 3, 5, 10],
    registers: [registry],
  });
  const fallbacks = new Counter({
    name: 'notifier_batch_fallbacks_total',
    help: 'received batches whose one transaction failed (nothing of it committed), then taken one event per transaction',
    registers: [registry],
  });
  const dlqSends = new Counter({
    name: 'notifier_dlq_sends_total',
    help: 'messages that failed on their last allowed receive: SQS moves them to the DLQ',
    registers: [registry],
  });
  for (const outcome of ['processed', 'deduplicated', 'ignored', 'failed']) events.inc({ outcome }, 0);

  let maxReceiveCount: number | undefined;
  let stopping = false;
  /** Aborted when the shutdown grace runs out: the batches still in flight stop where they are. */
  let cancel = new AbortController();
  /** Messages of cancelled batches, not processed: handed back once their consumers are done with them. */
  let handedBack: Message[] = [];
  /** Batches handed to handleMessageBatch, and those sqs-consumer is done with (their deletes sent). */
  let started = 0;
  let finished = 0;

  const depthAttributes: QueueAttributeName[] = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'];
  new Gauge({
    name: 'notifier_queue_messages',
    help: 'messages in the queue and its DLQ by state (visible, in_flight), as SQS approximates them',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      const queues: [string, string | undefined][] = [
        ['main', queueUrl],
        ['dlq', dlqUrl],
      ];
      await Promise.all(
        queues.map(async ([name, url]) => {
          if (!url) return;
          try {
            const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: depthAttributes }));
            this.set({ queue: name, state: 'visible' }, Number(Attributes.ApproximateNumberOfMessages ?? 0));
            this.set({ queue: name, state: 'in_flight' }, Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0));
          } catch (err) {
            log.debug({ err, queue: name }, 'reading the queue depth failed');
          }
        }),
      );
    },
  });

  async function release(messages: Message[], visibilitySeconds: (m: Message) => number): Promise<void> {
    if (messages.length === 0) return;
    await sqs
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle as string,
            VisibilityTimeout: visibilitySeconds(m),
          })),
        }),
      )
      .catch((err: unknown) => log.warn({ err }, 'changing message visibility failed; they come back after the visibility timeout'));
  }

  /** One transaction for `batch`; throws if it did not commit. */
  async function take(batch: EventEnvelope[]): Promise<void> {
    const startedAt = performance.now();
    const outcomes = await processor.processBatch(batch, cancel.signal);
    processing.observe((performance.now() - startedAt) / 1000);
    batchEvents.observe(batch.length);
    for (const outcome of outcomes) events.inc({ outcome: outcome.kind });
    options.onProcessed(outcomes);
  }

  /** The whole batch in one transaction: true if it committed, false if it must go again one by one. */
  async function takeAtOnce(messages: Message[]): Promise<boolean> {
    let batch: EventEnvelope[];
    try {
      batch = messages.map((m) => parseEnvelope(m.Body));
    } catch {
      return false; // the careful way finds which one and fails it alone
    }
    try {
      await take(batch);
      return true;
    } catch (err) {
      if (cancel.signal.aborted) throw err;
      fallbacks.inc();
      log.info({ err, messages: messages.length }, 'the batch’s transaction failed, nothing of it committed: its events go one by one');
      return false;
    }
  }

  async function handleGroup(messages: Message[]): Promise<Message[]> {
    const done: Message[] = [];
    for (const [index, message] of messages.entries()) {
      if (cancel.signal.aborted) {
        handedBack.push(...messages.slice(index));
        break;
      }
      const receives = Number(message.Attributes?.ApproximateReceiveCount ?? 1);
      try {
        await take([parseEnvelope(message.Body)]);
        done.push(message);
      } catch (err) {
        if (cancel.signal.aborted) {
          // Cut short by the shutdown: its transaction never commits; it and the rest of its group go back.
          handedBack.push(...messages.slice(index));
          break;
        }
        events.inc({ outcome: 'failed' });
        const last = maxReceiveCount !== undefined && receives >= maxReceiveCount;
        if (last) dlqSends.inc();
        log[err instanceof MalformedEventError ? 'warn' : 'error'](
          { err, messageId: message.MessageId, group: message.Attributes?.MessageGroupId, receives, toDlq: last },
          last ? 'event failed on its last receive: SQS moves it to the DLQ' : 'event failed; it will be retried',
        );
        // The failed message waits out its backoff; the rest of its group comes back right after it.
        await release([message], () => retryVisibility(receives, options.retryBaseSeconds));
        await release(messages.slice(index + 1), () => 0);
        break;
      }
    }
    return done;
  }

  async function handleMessageBatch(messages: Message[]): Promise<Message[]> {
    started++;
    if (stopping) {
      // Received while shutting down: hand them straight back.
      await release(messages, () => 0);
      return [];
    }
    try {
      if (messages.length > 1 && (await takeAtOnce(messages))) return messages;
    } catch {
      // Cut short by the shutdown: the transaction never commits; every message goes back.
      handedBack.push(...messages);
      return [];
    }
    const groups = new Map<string, Message[]>();
    for (const m of messages) {
      const group = m.Attributes?.MessageGroupId ?? m.MessageId ?? '';
      groups.set(group, [...(groups.get(group) ?? []), m]);
    }
    const done = await Promise.all([...groups.values()].map(handleGroup));
    return done.flat();
  }

  const consumers = Array.from({ length: options.consumers }, () => {
    const consumer = Consumer.create({
      queueUrl,
      sqs: options.pollingSqs,
      batchSize: options.batchSize,
      waitTimeSeconds: options.waitTimeSeconds,
      pollingWaitTimeMs: options.receiveGapMs,
      visibilityTimeout: options.visibilityTimeoutSeconds,
      // Keeps a slow batch hidden while it is worked on (each beat extends it by visibilityTimeout).
      heartbeatInterval: Math.max(1, Math.floor(options.visibilityTimeoutSeconds / 3)),
      messageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
      handleMessageBatch,
      suppressFifoWarning: true,
      strictReturn: true,
    });
    consumer.on('response_processed', () => {
      finished++;
    });
    consumer.on('error', (err) => {
      if (!stopping) log.warn({ err }, 'sqs consumer error');
    });
    consumer.on('processing_error', (err) => log.warn({ err }, 'sqs batch failed'));
    return consumer;
  });

  return {
    async start(): Promise<void> {
      const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }));
      if (Attributes.RedrivePolicy) maxReceiveCount = Number(JSON.parse(Attributes.RedrivePolicy).maxReceiveCount);
      else log.warn({ queueUrl }, 'the queue has no redrive policy: a poison message is retried forever');
      stopping = false;
      cancel = new AbortController();
      handedBack = [];
      for (const consumer of consumers) consumer.start();
    },
    /**
     * Stops polling and gives the batches in flight `graceMs` to finish: each one finishes and its
     * messages are deleted. Past `graceMs` the batches still in flight are cancelled: the
     * transaction of each event being processed is cut (its connection closed and killed: it
     * rolls back), and every message not processed is handed back (visibility 0) for another
     * notifier to take at once. Then the idle long polls are ended. Final: no start after it.
     */
    async stop(graceMs: number): Promise<void> {
      stopping = true;
      // Without abort: the abort signal sqs-consumer gives every request would also cut the
      // deletes of the batches that finish now.
      for (const consumer of consumers) consumer.stop();
      const deadline = Date.now() + graceMs;
      while (finished < started && Date.now() < deadline) await sleep(20);
      if (finished < started) {
        cancel.abort();
        // The cancelled batches return at once (their queries fail with the connection), and
        // sqs-consumer deletes what they did finish and stops their heartbeat.
        const handlersDeadline = Date.now() + 1000;
        while (finished < started && Date.now() < handlersDeadline) await sleep(20);
        log.warn(
          { messages: handedBack.length },
          'shutdown grace over: batches in flight cancelled, their unprocessed messages handed back',
        );
      }
      await release(handedBack.splice(0), () => 0);
      // No batch in flight and no poll to come: what is left is long polls waiting for messages.
      // Destroying their client ends them now rather than after SQS_WAIT_TIME_SECONDS (a batch
      // one of them brought meanwhile is handed back; one cut in transit returns after the
      // visibility timeout).
      options.pollingSqs.destroy();
    },
  };
}
