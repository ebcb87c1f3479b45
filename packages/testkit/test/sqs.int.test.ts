import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from '@jest/globals';
import { testSqs } from '../src/aws.ts';
import { harnessEnv } from '../src/env.ts';
import { createQueueWithDlq } from '../src/harness/elasticmq.ts';
import { waitUntil } from '../src/poll.ts';

// What the pipeline relies on from SQS, checked on the harness's server (ElasticMQ), so a
// test of the relay or the notifier that passes here means the same on SQS.

const sqs = testSqs();
afterAll(() => sqs.destroy());

async function receive(
  queueUrl: string,
  { max = 10, visibilityTimeout, wait = 1 }: { max?: number; visibilityTimeout?: number; wait?: number } = {},
) {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: max,
      WaitTimeSeconds: wait,
      VisibilityTimeout: visibilityTimeout,
      // sqs-consumer asks for these (the notifier reads both).
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
    }),
  );
  return Messages;
}
const bodies = (messages: Message[]) => messages.map((m) => m.Body);
const fifoQueue = (prefix: string, options?: { maxReceiveCount?: number }) =>
  createQueueWithDlq(sqs, `${prefix}-${randomUUID().slice(0, 8)}.fifo`, options);
const send = (queueUrl: string, body: string, group: string, dedupe = randomUUID()) =>
  sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: dedupe }));

describe('SQS on ElasticMQ', () => {
  it('sends, receives and deletes on the harness FIFO event queue', async () => {
    const queueUrl = harnessEnv('SQS_QUEUE_URL');
    const body = JSON.stringify({ eventId: randomUUID(), type: 'ReservationCreated' });
    await send(queueUrl, body, 'r-1');
    const [message] = await receive(queueUrl, { max: 1 });
    expect(message?.Body).toBe(body);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message?.ReceiptHandle }));
    expect(await receive(queueUrl, { max: 1 })).toEqual([]);
  });

  it('keeps a FIFO group in order: no later message of a group is received while an earlier one is in flight', async () => {
    const { queueUrl } = await fifoQueue('groups');
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: ['a1', 'b1', 'a2', 'a3'].map((body) => ({
          Id: body,
          MessageBody: body,
          MessageGroupId: body.slice(0, 1),
          MessageDeduplicationId: randomUUID(),
        })),
      }),
    );
    const first = await receive(queueUrl);
    const group = (messages: Message[], name: string) => bodies(messages.filter((m) => m.Attributes?.MessageGroupId === name));
    expect(group(first, 'a')).toEqual(['a1', 'a2', 'a3']);
    expect(group(first, 'b')).toEqual(['b1']);
    expect(first.every((m) => m.Attributes?.ApproximateReceiveCount === '1')).toBe(true);

    // What the notifier does when a1 fails: a1 hidden for a backoff, a2 and a3 handed back at once.
    const visibility = (body: string, seconds: number) => {
      const m = first.find((r) => r.Body === body) as Message;
      return sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: seconds }),
      );
    };
    // A backoff well past the 1 s receive below (and the calls before it, on a slow machine),
    // which must end while a1 is still in flight.
    await visibility('a1', 10);
    await visibility('a2', 0);
    await visibility('a3', 0);
    const b1 = first.find((r) => r.Body === 'b1') as Message;
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: b1.ReceiptHandle }));
    // a2 must not overtake a1, which is still in flight.
    expect(await receive(queueUrl, { wait: 1 })).toEqual([]);
    // Then a1's backoff ends and the group comes back, a1 first.
    let again: Message[] = [];
    await waitUntil('a1 visible again', async () => {
      again = await receive(queueUrl);
      return again.length > 0;
    });
    expect(bodies(again)).toEqual(['a1', 'a2', 'a3']);
    expect(again.map((m) => m.Attributes?.ApproximateReceiveCount)).toEqual(['2', '2', '2']);
  });

  it('hides a received message for its visibility timeout, and ChangeMessageVisibilityBatch hands it back', async () => {
    const { queueUrl } = await fifoQueue('visibility');
    await send(queueUrl, 'm', 'g');
    const [message] = await receive(queueUrl, { visibilityTimeout: 30 });
    expect(message?.Body).toBe('m');
    expect(await receive(queueUrl, { wait: 1 })).toEqual([]);
    const result = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: [{ Id: '0', ReceiptHandle: message?.ReceiptHandle, VisibilityTimeout: 0 }],
      }),
    );
    expect(result.Failed ?? []).toEqual([]);
    expect(bodies(await receive(queueUrl))).toEqual(['m']);
  });

  it('drops a FIFO message sent again with the same deduplication id', async () => {
    const { queueUrl } = await fifoQueue('dedupe');
    const dedupe = randomUUID();
    await send(queueUrl, 'once', 'g', dedupe);
    await send(queueUrl, 'once', 'g', dedupe);
    expect(bodies(await receive(queueUrl))).toEqual(['once']);
  });

  it('moves a message that failed maxReceiveCount times to the dead-letter queue', async () => {
    const { queueUrl, dlqUrl } = await createQueueWithDlq(sqs, `poison-${randomUUID()}`, { maxReceiveCount: 2 });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'poison' }));
    // Received and never deleted: each time it comes back at once (visibility timeout 0).
    expect(bodies(await receive(queueUrl, { max: 1, visibilityTimeout: 0 }))).toEqual(['poison']);
    expect(bodies(await receive(queueUrl, { max: 1, visibilityTimeout: 0 }))).toEqual(['poison']);
    expect(await receive(queueUrl, { max: 1, visibilityTimeout: 0 })).toEqual([]);
    expect(bodies(await receive(dlqUrl))).toEqual(['poison']);
  });

  it('redrives a FIFO message to its FIFO DLQ and lets the rest of its group through', async () => {
    const { queueUrl, dlqUrl } = await fifoQueue('fifo-poison', { maxReceiveCount: 2 });
    await send(queueUrl, 'poison', 'g');
    await send(queueUrl, 'next', 'g');
    for (let receives = 0; receives < 2; receives++) {
      expect(bodies(await receive(queueUrl, { max: 1, visibilityTimeout: 0 }))).toEqual(['poison']);
    }
    expect(bodies(await receive(queueUrl, { max: 1 }))).toEqual(['next']);
    expect(bodies(await receive(dlqUrl))).toEqual(['poison']);
  });
});
