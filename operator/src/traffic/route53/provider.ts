import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  Route53Client,
  type Route53ClientConfig,
  type RRType,
} from '@aws-sdk/client-route-53';
import { type AwsHttpTimeouts, awsHttpHandler } from '@reservations/service-kit/aws-http';
import {
  type ChangeStatus,
  type DnsChange,
  DnsChangeRejectedError,
  DnsNotConfiguredError,
  type DnsProvider,
  type DnsRecord,
} from '../dns-provider.ts';
import { normalizeName } from '../ownership.ts';
import { type CallGate, createCallGate, errorName, type GateOptions } from './throttle.ts';

export interface Route53ProviderOptions {
  /** A client of its own (tests point one at a proxy); default: configured from the environment. */
  client?: Route53Client;
  gate?: GateOptions;
  /** The default client's connection and request timeouts (ROUTE53_CONNECTION_TIMEOUT_MS, ROUTE53_REQUEST_TIMEOUT_MS). */
  timeouts?: AwsHttpTimeouts;
}

/** Route53 answers in well under a second: a call past these has failed, and its reconcile is retried with backoff. */
export const DEFAULT_ROUTE53_TIMEOUTS: AwsHttpTimeouts = { connectionTimeoutMs: 3000, requestTimeoutMs: 10_000 };

/**
 * The operator's Route53 client: both timeouts on every request; maxAttempts 1, as the gate owns
 * retries (see throttle.ts). `config` is for tests (an endpoint of their own).
 */
export function createRoute53Client(
  timeouts: AwsHttpTimeouts = DEFAULT_ROUTE53_TIMEOUTS,
  config: Omit<Route53ClientConfig, 'requestHandler' | 'maxAttempts'> = {},
): Route53Client {
  return new Route53Client({
    maxAttempts: 1,
    requestHandler: awsHttpHandler(timeouts),
    ...(process.env.AWS_REGION ? {} : { region: 'us-east-1' }),
    ...config,
  });
}

/**
 * Route53 behind the DnsProvider interface. The client is configured the SDK's way, from the
 * environment: AWS_REGION (default us-east-1: Route53 is global, the region only signs),
 * AWS_ENDPOINT_URL_ROUTE_53, and credentials from the default chain (IRSA's web identity token,
 * env keys, profile, instance role). Nothing is read until the first Reservation with
 * spec.traffic, so the operator starts without any AWS configuration.
 */
export function createRoute53Provider(options: Route53ProviderOptions = {}): DnsProvider {
  let client = options.client;
  const route53 = () => {
    client ??= createRoute53Client(options.timeouts);
    return client;
  };
  const gate: CallGate = createCallGate(options.gate);
  const send = async <T>(operation: string, signal: AbortSignal | undefined, call: () => Promise<T>) => {
    try {
      return await gate(operation, () => {
        signal?.throwIfAborted(); // not again after a backoff once the caller has given up
        return call();
      });
    } catch (err) {
      // The SDK's own AbortError says less than why the caller gave up.
      if (signal?.aborted) throw signal.reason;
      throw translate(err);
    }
  };

  return {
    async records(zoneId, names, { signal } = {}) {
      const wanted = new Set(names.map(normalizeName));
      const found: DnsRecord[] = [];
      for (const name of wanted) {
        let start: { name?: string; type?: RRType; id?: string } = { name };
        for (;;) {
          const page = await send('ListResourceRecordSets', signal, () =>
            route53().send(
              new ListResourceRecordSetsCommand({
                HostedZoneId: zoneId,
                StartRecordName: start.name,
                StartRecordType: start.type,
                StartRecordIdentifier: start.id,
              }),
              { abortSignal: signal },
            ),
          );
          const sets = page.ResourceRecordSets ?? [];
          found.push(...sets.filter((s) => normalizeName(s.Name ?? '') === name).map(fromRoute53));
          // Route53 lists in DNS order from the start name: a page that ends on another name is past it.
          const last = sets.at(-1);
          if (!page.IsTruncated || !last || normalizeName(last.Name ?? '') !== name) break;
          start = { name: page.NextRecordName, type: page.NextRecordType, id: page.NextRecordIdentifier };
        }
      }
      return found;
    },

    async change(zoneId, changes, comment, { signal } = {}) {
      const result = await send('ChangeResourceRecordSets', signal, () =>
        route53().send(
          new ChangeResourceRecordSetsCommand({
            HostedZoneId: zoneId,
            ChangeBatch: { Comment: comment, Changes: changes.map(toRoute53) },
          }),
          { abortSignal: signal },
        ),
      );
      return { id: result.ChangeInfo?.Id ?? '', status: changeStatus(result.ChangeInfo?.Status) };
    },

    async changeStatus(id, { signal } = {}) {
      const result = await send('GetChange', signal, () => route53().send(new GetChangeCommand({ Id: id }), { abortSignal: signal }));
      return changeStatus(result.ChangeInfo?.Status);
    },
  };
}

const changeStatus = (status: string | undefined): ChangeStatus => (status === 'INSYNC' ? 'INSYNC' : 'PENDING');

function fromRoute53(set: ResourceRecordSet): DnsRecord {
  return {
    name: normalizeName(set.Name ?? ''),
    type: set.Type ?? '',
    ...(set.SetIdentifier !== undefined ? { setIdentifier: set.SetIdentifier } : {}),
    ...(set.Weight !== undefined ? { weight: set.Weight } : {}),
    ...(set.TTL !== undefined ? { ttl: set.TTL } : {}),
    values: (set.ResourceRecords ?? []).map((r) => r.Value ?? ''),
  };
}

function toRoute53(change: DnsChange) {
  const r = change.record;
  return {
    Action: change.action,
    ResourceRecordSet: {
      Name: `${r.name}.`,
      Type: r.type as RRType,
      ...(r.setIdentifier !== undefined ? { SetIdentifier: r.setIdentifier, Weight: r.weight ?? 0 } : {}),
      TTL: r.ttl,
      ResourceRecords: r.values.map((Value) => ({ Value })),
    },
  };
}

/** The SDK's errors, as the traffic controller reasons about them. */
function translate(err: unknown): unknown {
  const name = errorName(err);
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'CredentialsProviderError' || name === 'InvalidClientTokenId' || name === 'SignatureDoesNotMatch') {
    return new DnsNotConfiguredError(
      `Route53 is not configured: ${message} (give the operator AWS credentials: IRSA, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`,
    );
  }
  if (name === 'InvalidChangeBatch') return new DnsChangeRejectedError(`Route53 refused the change batch: ${message}`);
  if (name === 'NoSuchHostedZone') return new DnsNotConfiguredError(`Route53: ${message} (check spec.traffic.dns.hostedZoneId)`);
  return err;
}
