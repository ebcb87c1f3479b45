import { randomUUID } from 'node:crypto';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createQueueWithDlq } from '../moto.ts';
import { testSqs } from './aws.ts';
import { harnessEnv } from './env.ts';

const sqs = testSqs();
afterAll(() => sqs.destroy());

async function receiveOne(queueUrl: string, visibilityTimeout?: number) {
  const { Messages } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, VisibilityTimeout: visibilityTimeout }),
  );
  return Messages?.[0];
}

describe('SQS on moto', () => {
  it('sends, receives and deletes on the harness FIFO event queue', async () => {
    const queueUrl = harnessEnv('SQS_QUEUE_URL');
    const body = JSON.stringify({ eventId: randomUUID(), type: 'ReservationCreated' });
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageGroupId: 'r-1', MessageDeduplicationId: randomUUID() }),
    );
    const message = await receiveOne(queueUrl);
    expect(message?.Body).toBe(body);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message?.ReceiptHandle }));
    expect(await receiveOne(queueUrl)).toBeUndefined();
  });

  it('moves a message that failed maxReceiveCount times to the dead-letter queue', async () => {
    const { queueUrl, dlqUrl } = await createQueueWithDlq(sqs, `poison-${randomUUID()}`, { maxReceiveCount: 2 });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'poison' }));
    // Received and never deleted: each time it comes back at once (visibility timeout 0).
    expect((await receiveOne(queueUrl, 0))?.Body).toBe('poison');
    expect((await receiveOne(queueUrl, 0))?.Body).toBe('poison');
    expect(await receiveOne(queueUrl, 0)).toBeUndefined();
    expect((await receiveOne(dlqUrl))?.Body).toBe('poison');
  });
});
