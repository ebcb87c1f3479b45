import { GetQueueAttributesCommand, SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { Type } from 'typebox';
import type { ReadinessCheck } from '../admin-server.ts';
import { type AwsHttpTimeouts, awsHttpHandler } from './aws-http.ts';

/** The SQS client's timeouts, for every service that talks to SQS. */
export const sqsClientConfigProperties = {
  SQS_CONNECTION_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 2000,
    description: 'longest wait for a connection to SQS',
  }),
  SQS_REQUEST_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 5000,
    description: 'longest an SQS request may take (a long poll gets its wait time on top)',
  }),
};

export const DEFAULT_SQS_TIMEOUTS: AwsHttpTimeouts = { connectionTimeoutMs: 2000, requestTimeoutMs: 5000 };

/**
 * An SQS client; region, credentials and endpoint come from the standard AWS variables
 * (`AWS_ENDPOINT_URL_SQS` points it at a local server), IRSA in the cluster, unless `client`
 * sets them. Every request has a connection and a request timeout.
 */
export function createSqsClient(
  timeouts: AwsHttpTimeouts = DEFAULT_SQS_TIMEOUTS,
  client: Omit<SQSClientConfig, 'requestHandler'> = {},
): SQSClient {
  return new SQSClient({ ...client, requestHandler: awsHttpHandler(timeouts) });
}

export function sqsCheck(sqs: SQSClient, queueUrl: string): ReadinessCheck {
  return {
    name: 'sqs',
    check: async () => {
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    },
  };
}
