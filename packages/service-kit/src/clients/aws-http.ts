import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface AwsHttpTimeouts {
  /** Longest wait for a TCP (and TLS) connection to the endpoint. */
  connectionTimeoutMs: number;
  /** Longest a request may go without a byte from the endpoint (the socket's idle timeout). */
  requestTimeoutMs: number;
}

/**
 * The AWS SDK's HTTP handler with both timeouts set: without them a request to an endpoint
 * that accepts the connection and never answers waits for the kernel's TCP timeouts (minutes).
 * A timed-out request fails like any network error, so the SDK's own retries still apply.
 */
export function awsHttpHandler({ connectionTimeoutMs, requestTimeoutMs }: AwsHttpTimeouts): NodeHttpHandler {
  return new NodeHttpHandler({ connectionTimeout: connectionTimeoutMs, requestTimeout: requestTimeoutMs });
}
