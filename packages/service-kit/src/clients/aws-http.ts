import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface AwsHttpTimeouts {
  /** Longest wait for a TCP (and TLS) connection to the endpoint. */
  connectionTimeoutMs: number;
  /** Longest a request may take, from sending it to the end of the answer. */
  requestTimeoutMs: number;
}

/**
 * The AWS SDK's HTTP handler with both timeouts set: without them a request to an endpoint
 * that accepts the connection and never answers waits for the kernel's TCP timeouts (minutes).
 * `throwOnRequestTimeout`: without it, this SDK version only logs a warning when a request
 * passes `requestTimeout` and goes on waiting. A timed-out request fails with `TimeoutError`.
 */
export function awsHttpHandler({ connectionTimeoutMs, requestTimeoutMs }: AwsHttpTimeouts): NodeHttpHandler {
  return new NodeHttpHandler({ connectionTimeout: connectionTimeoutMs, requestTimeout: requestTimeoutMs, throwOnRequestTimeout: true });
}
