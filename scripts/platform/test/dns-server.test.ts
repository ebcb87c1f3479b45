import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from '@jest/globals';
import dnsPacket, { type Packet } from 'dns-packet';
import type { WeightedRecord } from '../../cutover-sim/dns.ts';
import { answerQuery, type DnsServer, RCODE, resolveCname, startRoute53DnsStandIn } from '../dns-server.ts';

const NAME = 'api.reservations.example.com';
const record = (setIdentifier: string, weight: number, ttlSeconds = 5): WeightedRecord => ({
  setIdentifier,
  weight,
  value: `${setIdentifier}.elb.reservations.local`,
  ttlSeconds,
});
const query = (name: string, type: 'A' | 'CNAME' | 'TXT' | 'MX' = 'A'): Packet => ({
  type: 'query',
  id: 4242,
  flags: dnsPacket.RECURSION_DESIRED,
  questions: [{ type, name }],
});
const rcodeOf = (p: Packet) => (p.flags ?? 0) & 0xf;

describe('answerQuery', () => {
  const records = [record('blue', 75, 30), record('green', 25, 5)];

  it("answers the weighted name with the chosen record's CNAME and that record's TTL", () => {
    const blue = answerQuery(query(NAME), NAME, records, () => 0.5);
    expect(blue.id).toBe(4242);
    expect(rcodeOf(blue)).toBe(RCODE.noError);
    expect((blue.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER).toBeTruthy();
    expect(blue.answers).toEqual([{ type: 'CNAME', class: 'IN', name: NAME, ttl: 30, data: 'blue.elb.reservations.local' }]);
    const green = answerQuery(query(`${NAME.toUpperCase()}.`, 'CNAME'), NAME, records, () => 0.8);
    expect(green.answers).toEqual([
      { type: 'CNAME', class: 'IN', name: `${NAME.toUpperCase()}.`, ttl: 5, data: 'green.elb.reservations.local' },
    ]);
  });

  it('says NXDOMAIN for another name, and for the name while no record exists', () => {
    expect(rcodeOf(answerQuery(query('www.reservations.example.com'), NAME, records, Math.random))).toBe(RCODE.nxDomain);
    expect(rcodeOf(answerQuery(query(NAME), NAME, [], Math.random))).toBe(RCODE.nxDomain);
  });

  it('says NOERROR with no answer for a type the name does not have', () => {
    const answer = answerQuery(query(NAME, 'MX'), NAME, records, Math.random);
    expect(rcodeOf(answer)).toBe(RCODE.noError);
    expect(answer.answers).toEqual([]);
  });

  it('says FORMERR for a query without exactly one question', () => {
    expect(rcodeOf(answerQuery({ type: 'query', id: 1, questions: [] }, NAME, records, Math.random))).toBe(RCODE.formErr);
  });
});

describe('startRoute53DnsStandIn, over UDP', () => {
  let server: DnsServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('answers a real DNS query by the weighted rule, with the TTL, as a stub resolver reads it', async () => {
    let i = 0;
    server = await startRoute53DnsStandIn({
      name: NAME,
      records: async () => [record('blue', 90, 60), record('green', 10, 60)],
      random: () => (i++ % 100) / 100,
    });
    const counts: Record<string, number> = {};
    for (let n = 0; n < 100; n++) {
      const answer = await resolveCname(server.port, NAME);
      expect(answer.ttlSeconds).toBe(60);
      counts[answer.value] = (counts[answer.value] ?? 0) + 1;
    }
    expect(counts).toEqual({ 'blue.elb.reservations.local': 90, 'green.elb.reservations.local': 10 });
    expect(server.answered()).toBe(100);
  });

  it('answers an A query from a plain dgram client with the CNAME (what dig shows)', async () => {
    server = await startRoute53DnsStandIn({ name: NAME, records: async () => [record('green', 100, 5)] });
    const socket = createSocket('udp4');
    try {
      const reply = await new Promise<Packet>((resolve, reject) => {
        socket.once('message', (m) => resolve(dnsPacket.decode(m)));
        socket.once('error', reject);
        socket.send(dnsPacket.encode(query(NAME, 'A')), server?.port, '127.0.0.1');
      });
      expect(reply.id).toBe(4242);
      expect(reply.answers).toEqual([expect.objectContaining({ type: 'CNAME', name: NAME, ttl: 5, data: 'green.elb.reservations.local' })]);
    } finally {
      socket.close();
    }
  });

  it('says SERVFAIL when the records cannot be read, and the resolver rejects naming the RCODE', async () => {
    const errors: string[] = [];
    server = await startRoute53DnsStandIn({
      name: NAME,
      records: async () => {
        throw new Error('moto is down');
      },
      onError: (err) => errors.push(err.message),
    });
    await expect(resolveCname(server.port, NAME)).rejects.toThrow(`${NAME}: servFail`);
    await expect(resolveCname(server.port, 'other.example.com')).rejects.toThrow('other.example.com: servFail');
    expect(errors).toEqual(['moto is down', 'moto is down']);
  });

  it('rejects, naming the server, when nothing answers', async () => {
    server = await startRoute53DnsStandIn({ name: NAME, records: async () => [] });
    const port = server.port;
    await server.stop();
    server = undefined;
    await expect(resolveCname(port, NAME, { timeoutMs: 50, attempts: 2 })).rejects.toThrow(
      `no answer from 127.0.0.1:${port} for ${NAME} after 2 tries`,
    );
  });

  it('says NXDOMAIN through the resolver when the name has no record', async () => {
    server = await startRoute53DnsStandIn({ name: NAME, records: async () => [] });
    await expect(resolveCname(server.port, NAME)).rejects.toThrow(`${NAME}: nxDomain`);
  });
});
