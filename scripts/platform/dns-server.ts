/**
 * The weighted name over the real DNS protocol. moto stores Route53's records but serves no DNS:
 * this server is the stand-in for Route53's name servers. It answers the weighted name from the
 * records moto holds, choosing one by Route53's weighted rule (`route53WeightedAnswerStandIn`),
 * with the record's TTL, so `dig @127.0.0.1 -p PORT api.…` and the load's clients see what
 * resolvers would see. The wire format is dns-packet's.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import { route53WeightedAnswerStandIn, type WeightedRecord } from '../cutover-sim/dns.ts';

/** RFC 1035 §4.1.1 RCODEs, in the low four bits of the flags. */
export const RCODE = { noError: 0, formErr: 1, servFail: 2, nxDomain: 3, notImp: 4 } as const;
const QUERY_TYPES = new Set(['A', 'AAAA', 'CNAME', 'ANY']);
const normal = (name: string) => name.toLowerCase().replace(/\.$/, '');

/**
 * The answer to one decoded query (pure): the weighted name's CNAME, chosen by the weighted rule
 * among `records`, with that record's TTL, for A/AAAA/CNAME/ANY questions; NOERROR with no
 * answer for other types of that name; NXDOMAIN for any other name. Authoritative, as Route53's
 * servers are, and recursion is not offered.
 */
export function answerQuery(query: Packet, name: string, records: readonly WeightedRecord[], random: () => number): Packet {
  const question = query.questions?.[0];
  const reply = (rcode: number, answers: Answer[] = []): Packet => ({
    type: 'response',
    id: query.id ?? 0,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | rcode,
    questions: query.questions ?? [],
    answers,
  });
  if (!question || query.questions?.length !== 1) return reply(RCODE.formErr);
  if (normal(question.name) !== normal(name)) return reply(RCODE.nxDomain);
  if (!QUERY_TYPES.has(question.type)) return reply(RCODE.noError);
  if (records.length === 0) return reply(RCODE.nxDomain);
  const record = route53WeightedAnswerStandIn(records, random);
  return reply(RCODE.noError, [{ type: 'CNAME', class: 'IN', name: question.name, ttl: record.ttlSeconds, data: record.value }]);
}

export interface DnsServer {
  port: number;
  /** Queries answered so far (for a progress line). */
  answered(): number;
  stop(): Promise<void>;
}

/**
 * `route53DnsStandIn`: a UDP DNS server on 127.0.0.1 (`port`, or a free one) answering `name`
 * from `records()` (the records as moto holds them, read through the Route53 API). A query that
 * cannot be decoded is dropped, as name servers do; a failure to read the records is SERVFAIL.
 */
export async function startRoute53DnsStandIn(options: {
  name: string;
  records: () => Promise<WeightedRecord[]>;
  port?: number;
  random?: () => number;
  onError?: (err: Error) => void;
}): Promise<DnsServer> {
  const socket = createSocket('udp4');
  let answered = 0;
  const send = (packet: Packet, to: RemoteInfo) => {
    socket.send(dnsPacket.encode(packet), to.port, to.address);
    answered += 1;
  };
  socket.on('message', (message, from) => {
    let query: Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return;
    }
    options.records().then(
      (records) => send(answerQuery(query, options.name, records, options.random ?? Math.random), from),
      (err: Error) => {
        options.onError?.(err);
        send({ type: 'response', id: query.id ?? 0, flags: RCODE.servFail, questions: query.questions ?? [] }, from);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port ?? 0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', (err) => options.onError?.(err));
  return {
    port: socket.address().port,
    answered: () => answered,
    stop: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** One resolution's result: the CNAME's target and its TTL. */
export interface Resolution {
  value: string;
  ttlSeconds: number;
}

/**
 * Asks the DNS server on 127.0.0.1:`port` for `name`'s CNAME, as a stub resolver does: a query
 * over UDP, again after `timeoutMs` without an answer, at most `attempts` times (UDP may lose a
 * datagram). Rejects with the RCODE when the answer is an error, or when no answer came.
 */
export async function resolveCname(port: number, name: string, { timeoutMs = 1000, attempts = 3 } = {}): Promise<Resolution> {
  const socket = createSocket('udp4');
  const id = Math.floor(Math.random() * 65536);
  try {
    const answer = await new Promise<Packet>((resolve, reject) => {
      let tries = 0;
      let timer: NodeJS.Timeout | undefined;
      const ask = () => {
        if (tries++ >= attempts) {
          reject(new Error(`no answer from 127.0.0.1:${port} for ${name} after ${attempts} tries`));
          return;
        }
        socket.send(
          dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'CNAME', name }] }),
          port,
          '127.0.0.1',
        );
        timer = setTimeout(ask, timeoutMs);
      };
      socket.on('message', (message) => {
        const packet = dnsPacket.decode(message);
        if (packet.id !== id) return;
        clearTimeout(timer);
        resolve(packet);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ask();
    });
    const rcode = (answer.flags ?? 0) & 0xf;
    if (rcode !== RCODE.noError) throw new Error(`${name}: ${Object.entries(RCODE).find(([, v]) => v === rcode)?.[0] ?? `rcode ${rcode}`}`);
    const cname = answer.answers?.find((a) => a.type === 'CNAME');
    if (cname?.type !== 'CNAME') throw new Error(`${name}: no CNAME in the answer`);
    return { value: cname.data, ttlSeconds: cname.ttl ?? 0 };
  } finally {
    socket.close();
  }
}
