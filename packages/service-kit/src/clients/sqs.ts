import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { ReadinessCheck } from '../admin-server.ts';

/**
 * An SQS client; region, credentials and endpoint come from the standard AWS variables
 * (`AWS_ENDPOINT_URL_SQS` points it at a local server), IRSA in the cluster.
 */
export function createSqsClient(): SQSClient {
  return new SQSClient({});
}

export function sqsCheck(sqs: SQSClient, queueUrl: string): ReadinessCheck {
  return {
    name: 'sqs',
    check: async () => {
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    },
  };
}
