import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { harnessEnv } from './env.ts';
import {
  accountRateLimit,
  batchLimitError,
  changeBatchErrors,
  changeBatchMessage,
  getChangeXml,
  motoChangeBody,
  motoChanges,
  newChangeId,
  oneAtATime,
  parseChangeBatch,
  pendingChanges,
  type RecordSetValues,
  recordKeyId,
  recordSetXml,
} from './route53-aws-behaviour.ts';

export { type BatchChange, parseChangeBatch } from './route53-aws-behaviour.ts';

/**
 * A hosted zone of its own for a test (or `zoneName`, for a moto of its own). moto makes up ids
 * from any letters and digits, real Route53's start with Z (and spec.traffic.dns.hostedZoneId
 * says so): create until one does (the others stay behind, unused).
 */
export async function createZone(route53: Route53Client, zoneName?: string): Promise<{ id: string; name: string }> {
  for (;;) {
    const name = zoneName ?? `t${randomUUID().slice(0, 8)}.example.com`;
    const zone = await route53.send(new CreateHostedZoneCommand({ Name: name, CallerReference: randomUUID() }));
    const id = (zone.HostedZone?.Id ?? '').replace('/hostedzone/', '');
    if (/^Z[A-Z0-9]{1,32}$/.test(id)) return { id, name };
  }
}

/** A record set as Route53 lists it (the operator's DnsProvider reads the same shape). */
export type SeenRecordSet = RecordSetValues;

/** Every record set of the zone, of every type, as the SDK reads them. */
async function zoneRecordSets(route53: Route53Client, zoneId: string): Promise<ResourceRecordSet[]> {
  // One page: moto pages without StartRecordIdentifier (a weighted name could be cut in two) and takes any MaxItems.
  const page = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, MaxItems: 10_000 }));
  if (page.IsTruncated) throw new Error(`hosted zone ${zoneId} holds more than 10,000 record sets: more than the stand-in reads`);
  return page.ResourceRecordSets ?? [];
}

const seen = (r: ResourceRecordSet): SeenRecordSet => ({
  name: (r.Name ?? '').toLowerCase().replace(/\.$/, ''),
  type: r.Type ?? '',
  ...(r.SetIdentifier !== undefined ? { setIdentifier: r.SetIdentifier } : {}),
  ...(r.Weight !== undefined ? { weight: r.Weight } : {}),
  ...(r.TTL !== undefined ? { ttl: r.TTL } : {}),
  values: (r.ResourceRecords ?? []).map((v) => v.Value ?? ''),
});
const cnameOrTxt = (r: { type: string }) => r.type === 'CNAME' || r.type === 'TXT';

export async function listRecords(route53: Route53Client, zoneId: string): Promise<SeenRecordSet[]> {
  return (await zoneRecordSets(route53, zoneId)).map(seen).filter(cnameOrTxt);
}

/** Changes a record by hand (UPSERT), as someone outside the operators would. */
export async function upsertRecord(route53: Route53Client, zoneId: string, r: SeenRecordSet) {
  await route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: `${r.name}.`,
              Type: r.type as 'CNAME' | 'TXT',
              SetIdentifier: r.setIdentifier,
              Weight: r.weight,
              TTL: r.ttl,
              ResourceRecords: r.values.map((Value) => ({ Value })),
            },
          },
        ],
      },
    }),
  );
}

/** Writes a weighted record and, when `owner` is given, its ownership TXT as ExternalDNS would. */
export async function putWeighted(
  route53: Route53Client,
  zoneId: string,
  r: { name: string; setIdentifier: string; weight: number; target: string; owner?: string; ttl?: number },
) {
  const common = { SetIdentifier: r.setIdentifier, Weight: r.weight, TTL: r.ttl ?? 60 };
  const [first, ...rest] = r.name.split('.');
  await route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Changes: [
          { Action: 'CREATE', ResourceRecordSet: { Name: `${r.name}.`, Type: 'CNAME', ...common, ResourceRecords: [{ Value: r.target }] } },
          ...(r.owner
            ? [
                {
                  Action: 'CREATE' as const,
                  ResourceRecordSet: {
                    Name: `${[`cname-${first}`, ...rest].join('.')}.`,
                    Type: 'TXT' as const,
                    ...common,
                    ResourceRecords: [
                      { Value: `"heritage=external-dns,external-dns/owner=${r.owner},external-dns/resource=ingress/default/api"` },
                    ],
                  },
                },
              ]
            : []),
        ],
      },
    }),
  );
}

/** Route53's error document (HTTP 400, as AWS answers a Sender error). */
const errorXml = (code: string, message: string) =>
  '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type>' +
  `<Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
// A message may quote the caller's record names.
const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface Route53AwsBehaviour {
  /** How long a change stays PENDING: a random time in [min, max] ms (AWS: typically under 60 s). Default 0: INSYNC at once, as moto. */
  insyncDelayMs: { min: number; max: number };
  /** The account's request rate, shared by every client of the front (AWS: 5). Default: no limit. */
  requestsPerSecond: number;
  burst?: number;
  /** PriorRequestNotComplete for a change to a record set whose previous change is still PENDING. Default true. */
  priorRequestNotComplete: boolean;
}

export interface Route53Call {
  /** When it arrived (ms since the epoch). */
  at: number;
  method: string;
  path: string;
  body: string;
  /** What the front answered instead of moto, if anything: Throttling, PriorRequestNotComplete, InvalidChangeBatch, a 5xx. */
  refused?: string;
  /** Kept for the tests that count throttled calls. */
  throttled: boolean;
  /**
   * Who called: the AWS SDK's user agent (its `user-agent` and `x-amz-user-agent` headers). Each
   * SDK adds `app/<id>` from `AWS_SDK_UA_APP_ID` (or the JS client's `userAgentAppId`), so a test
   * sharing the front between several clients tells their calls apart (`calledBy`).
   */
  userAgent: string;
}

/** Whether `call` came from the client whose SDK runs with the app id `appId` (`AWS_SDK_UA_APP_ID`). */
export const calledBy = (call: Pick<Route53Call, 'userAgent'>, appId: string): boolean =>
  call.userAgent.split(/\s+/).includes(`app/${appId}`);

const DEFAULT_BEHAVIOUR: Route53AwsBehaviour = {
  insyncDelayMs: { min: 0, max: 0 },
  requestsPerSecond: Number.POSITIVE_INFINITY,
  priorRequestNotComplete: true,
};

/**
 * A stand-in for how AWS's Route53 behaves, as an HTTP front on moto (which applies every change
 * at once and never refuses a caller): changes stay PENDING for a while and DNS (`served`) keeps
 * answering the old records until they are INSYNC; an account-wide request rate answered with
 * Route53's real Throttling error; PriorRequestNotComplete for a record set whose change is still
 * PENDING; the batch limits (InvalidChangeBatch); and, on demand, the next calls throttled, failed
 * with a 5xx or answered late. Every call is recorded (the caller's body), so a test can count them.
 *
 * It also corrects two deviations of moto 5.2.5 from Route53's record-set semantics, so that
 * several Reservations can share a hosted zone and cluster names (set identifiers): a DELETE with
 * a set identifier deletes, in moto, every record set with that set identifier whatever its name
 * and type, and a CREATE identical to an earlier one of the zone is refused "already exists" even
 * once the record set was deleted. The stand-in reads the zone, refuses with Route53's
 * InvalidChangeBatch what Route53 refuses (a CREATE of a record set that exists, a DELETE of one
 * that does not or with other values, TTL or weight), the whole batch, writing nothing; otherwise it
 * sends moto the batch rewritten so that moto ends where Route53 would (`motoChanges`: names in
 * lower case as Route53 stores them, a DELETE as the record set moto holds). Batches to
 * one zone go through it one at a time; a writer that goes straight to moto meets moto's
 * behaviour, and can still slip between the stand-in's read of the zone and its write.
 */
export async function startRoute53AwsStandIn(behaviour: Partial<Route53AwsBehaviour> = {}) {
  const moto = harnessEnv('AWS_ENDPOINT_URL_ROUTE_53');
  // Straight to moto (what DNS serves is no API call): bounded like every outbound call.
  const direct = new Route53Client({ endpoint: moto, maxAttempts: 1, requestHandler: { requestTimeout: 10_000, connectionTimeout: 5000 } });
  let settings = { ...DEFAULT_BEHAVIOUR, ...behaviour };
  let rate = accountRateLimit(settings.requestsPerSecond, settings.burst ?? Math.max(1, settings.requestsPerSecond));
  const pending = pendingChanges<SeenRecordSet>();
  /** Every change accepted PENDING, by the id given to its caller: when it turns INSYNC. */
  const changes = new Map<string, { insyncAt: number; submittedAt: string }>();
  const calls: Route53Call[] = [];
  let throttleNext = { count: 0, appId: undefined as string | undefined };
  let failNext: { count: number; status: number } = { count: 0, status: 500 };
  let slowNext: { count: number; ms: number } = { count: 0, ms: 0 };
  const perZone = oneAtATime();

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      // moto gone (the test is over) or the caller gave up: answer what AWS would, a 5xx.
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/xml' }).end(errorXml('InternalFailure', err.message));
      else res.destroy();
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '';
    const userAgent = [req.headers['user-agent'], req.headers['x-amz-user-agent']].filter(Boolean).join(' ');
    const call: Route53Call = { at: Date.now(), method: req.method ?? '', path, body, throttled: false, userAgent };
    calls.push(call);
    const refuse = (status: number, code: string, message: string) => {
      call.refused = code;
      call.throttled = code === 'Throttling';
      res.writeHead(status, { 'content-type': 'text/xml' }).end(errorXml(code, message));
    };
    if (slowNext.count > 0) {
      slowNext.count -= 1;
      await new Promise((resolve) => setTimeout(resolve, slowNext.ms));
    }
    const forced = throttleNext.count > 0 && (throttleNext.appId === undefined || calledBy(call, throttleNext.appId));
    if (forced || !rate.take()) {
      if (forced) throttleNext.count -= 1;
      return refuse(400, 'Throttling', 'Rate exceeded');
    }
    if (failNext.count > 0) {
      failNext.count -= 1;
      const code = failNext.status === 503 ? 'ServiceUnavailable' : 'InternalFailure';
      call.refused = code;
      res.writeHead(failNext.status, { 'content-type': 'text/xml' }).end(errorXml(code, 'stand-in failure on request'));
      return;
    }

    // GetChange of a change this stand-in accepted: its own answer (moto knows only its one id).
    const asked = /^\/2013-04-01\/change\/([^/?]+)/.exec(path)?.[1];
    const known = asked === undefined ? undefined : changes.get(decodeURIComponent(asked));
    if (req.method === 'GET' && asked && known) {
      const status = Date.now() >= known.insyncAt ? 'INSYNC' : 'PENDING';
      res.writeHead(200, { 'content-type': 'text/xml' }).end(getChangeXml(decodeURIComponent(asked), status, known.submittedAt));
      return;
    }
    const change = /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset\/?$/.exec(path);
    if (req.method !== 'POST' || !change) return forward(req, res, body);
    const zoneId = decodeURIComponent(change[1] ?? '');
    const batch = parseChangeBatch(body);
    const tooBig = batchLimitError(batch);
    if (tooBig) return refuse(400, 'InvalidChangeBatch', tooBig);
    const keys = batch.map((c) => recordKeyId(c.key));
    // Route53 checks and applies a batch as one step: here a read of the zone, then a write.
    await perZone(zoneId, async () => {
      if (settings.priorRequestNotComplete && pending.conflict(zoneId, keys)) {
        return refuse(400, 'PriorRequestNotComplete', 'The request was rejected because Route 53 was still processing a prior request.');
      }
      const zone = await zoneRecordSets(direct, zoneId).then(
        (sets) => sets.map((raw) => ({ ...seen(raw), raw })),
        (err: Error) => {
          // No such zone: moto answers the caller that, as Route53 would.
          if (err.name === 'NoSuchHostedZone') return undefined;
          throw err;
        },
      );
      if (!zone) return forward(req, res, body);
      const errors = changeBatchErrors(batch, zone);
      if (errors.length > 0) return refuse(400, 'InvalidChangeBatch', changeBatchMessage(errors));
      const sent = motoChangeBody(body, motoChanges(batch, zone), (r) => recordSetXml(r.raw));
      // What DNS keeps serving while the change is PENDING: only needed when changes are not INSYNC at once.
      const before = zone.filter((r) => cnameOrTxt(r) && keys.includes(recordKeyId(r))).map((r) => seen(r.raw));
      return forward(req, res, sent, settings.insyncDelayMs.max > 0 ? { zoneId, keys, before } : undefined);
    });
  }

  /** Sends the call on to moto and answers its answer, a change `accepted` PENDING for its delay. */
  async function forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: string,
    accepted?: { zoneId: string; keys: string[]; before: SeenRecordSet[] },
  ): Promise<void> {
    const path = req.url ?? '';
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
    // moto frozen or gone: the caller gets a 5xx in bounded time (handle's catch), as from AWS.
    const answer = await fetch(`${moto}${path}`, {
      method: req.method,
      headers,
      ...(body ? { body } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    let text = await answer.text();
    const { min, max } = settings.insyncDelayMs;
    if (accepted && answer.ok) {
      // moto answers every change with one and the same id: each accepted change gets its own, as
      // from Route53, so that one caller's GetChange is not answered with another's change.
      const id = newChangeId();
      const insyncAt = Date.now() + min + Math.random() * (max - min);
      pending.add({ id, ...accepted, insyncAt });
      changes.set(id, { insyncAt, submittedAt: new Date().toISOString() });
      text = text
        .replace(/<Id>\/change\/[^<]*<\/Id>/, `<Id>/change/${id}</Id>`)
        .replace(/<Status>\w+<\/Status>/, '<Status>PENDING</Status>');
    }
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/xml' }).end(text);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    /** Changes the behaviour from now on (the rate's bucket starts full again). */
    set(changes: Partial<Route53AwsBehaviour>) {
      settings = { ...settings, ...changes };
      rate = accountRateLimit(settings.requestsPerSecond, settings.burst ?? Math.max(1, settings.requestsPerSecond));
    },
    /** The next `n` calls (of the client with the SDK app id `appId`, when given) are answered Throttling, whatever the rate. */
    throttle(n: number, appId?: string) {
      throttleNext = { count: n, appId };
    },
    /** The next `n` calls are answered with a 5xx (500 InternalFailure or 503 ServiceUnavailable). */
    fail(n: number, status: 500 | 503 = 500) {
      failNext = { count: n, status };
    },
    /** The next `n` calls are answered `ms` late. */
    slow(n: number, ms: number) {
      slowNext = { count: n, ms };
    },
    /**
     * The zone's CNAME and TXT record sets between two of the stand-in's batches: moto applies a
     * batch change by change (and the stand-in's rewrite may delete and put back), so a read
     * straight from moto can see one half-applied; this one waits for the zone's batch in flight.
     */
    records(zoneId: string): Promise<SeenRecordSet[]> {
      return perZone(zoneId, () => listRecords(direct, zoneId));
    },
    /** The zone's CNAME and TXT record sets as Route53's DNS serves them: changes still PENDING not yet in. */
    async served(zoneId: string): Promise<SeenRecordSet[]> {
      return pending.served(zoneId, await listRecords(direct, zoneId));
    },
    close: async () => {
      direct.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Route53AwsStandIn = Awaited<ReturnType<typeof startRoute53AwsStandIn>>;
