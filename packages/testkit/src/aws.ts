import { Route53Client } from '@aws-sdk/client-route-53';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { harnessEnv } from './env.ts';
import { sqsClient } from './harness/elasticmq.ts';

const awsEnv = () => ({
  AWS_REGION: harnessEnv('AWS_REGION'),
  AWS_ACCESS_KEY_ID: harnessEnv('AWS_ACCESS_KEY_ID'),
  AWS_SECRET_ACCESS_KEY: harnessEnv('AWS_SECRET_ACCESS_KEY'),
  AWS_ENDPOINT_URL_SQS: harnessEnv('AWS_ENDPOINT_URL_SQS'),
});

export const testSqs = (): SQSClient => sqsClient(awsEnv());

/** The SDK finds moto through AWS_ENDPOINT_URL_ROUTE_53, as a service will. */
export const testRoute53 = (): Route53Client => {
  harnessEnv('AWS_ENDPOINT_URL_ROUTE_53');
  return new Route53Client({});
};
