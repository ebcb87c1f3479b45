import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { harnessEnv } from './env.ts';

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

/** A record set as the test reads it straight from Route53: the operator's own shape. */
/** A record set as Route53 lists it (the operator's DnsProvider reads the same shape). */
export interface SeenRecordSet {
  /** Fully qualified, without the trailing dot, lower case. */
  name: string;
  type: string;
  setIdentifier?: string;
  weight?: number;
  ttl?: number;
  /** Values as Route53 stores them (a TXT string with its quotes). */
  values: string[];
}

export async function listRecords(route53: Route53Client, zoneId: string): Promise<SeenRecordSet[]> {
  const { ResourceRecordSets = [] } = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
  return ResourceRecordSets.filter((r) => r.Type === 'CNAME' || r.Type === 'TXT').map((r) => ({
    name: (r.Name ?? '').replace(/\.$/, ''),
    type: r.Type ?? '',
    ...(r.SetIdentifier !== undefined ? { setIdentifier: r.SetIdentifier } : {}),
    ...(r.Weight !== undefined ? { weight: r.Weight } : {}),
    ...(r.TTL !== undefined ? { ttl: r.TTL } : {}),
    values: (r.ResourceRecords ?? []).map((v) => v.Value ?? ''),
  }));
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

/** Route53's own answer when a caller goes over its request rate (HTTP 400, code Throttling). */
const THROTTLING_XML = (requestId: string) =>
  '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type>' +
  `<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;

/**
 * moto cannot throttle, so this proxy in front of the real moto answers the next N calls with
 * Route53's real Throttling error, and forwards everything else. It also records each call, so
 * a test can count the change batches.
 */
export async function throttlingProxyInFrontOfMoto() {
  const moto = harnessEnv('AWS_ENDPOINT_URL_ROUTE_53');
  let throttleNext = 0;
  const calls: { method: string; path: string; body: string; throttled: boolean }[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const throttled = throttleNext > 0;
    calls.push({ method: req.method ?? '', path: req.url ?? '', body, throttled });
    if (throttled) {
      throttleNext -= 1;
      res.writeHead(400, { 'content-type': 'text/xml' }).end(THROTTLING_XML(randomUUID()));
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
    const answer = await fetch(`${moto}${req.url}`, { method: req.method, headers, ...(body ? { body } : {}) });
    res
      .writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/xml' })
      .end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    throttle(n: number) {
      throttleNext = n;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
