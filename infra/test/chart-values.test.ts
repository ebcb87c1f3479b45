import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { helmBinary } from '@reservations/testkit';
import { parseAllDocuments } from 'yaml';
import { CHARTS_DIR } from '../src/cluster-stack.ts';
import { loadConfig } from '../src/config.ts';
import { platformValues } from '../src/values.ts';
import { EXAMPLE_CONFIG } from './support/platform.ts';

const dir = mkdtempSync(join(tmpdir(), 'infra-chart-values-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The platform chart, rendered by the real helm with the values the cluster stack hands it. */
function renderPlatform(): { kind: string; metadata: { name: string }; spec?: Record<string, unknown> }[] {
  const config = loadConfig(EXAMPLE_CONFIG);
  const values = platformValues(config, config.green, {
    queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/reservation-events.fifo',
    deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/reservation-events-dlq.fifo',
    hostedZoneId: 'Z0123456789ABCDEFGHIJ',
    certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000',
  });
  const file = join(dir, 'values.json');
  writeFileSync(file, JSON.stringify(values));
  const out = execFileSync(
    helmBinary(),
    ['template', 'booking', join(CHARTS_DIR, 'reservation-platform'), '--namespace', 'reservations', '--values', file],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return parseAllDocuments(out)
    .map((d) => d.toJS())
    .filter((o) => o !== null);
}

describe("the platform chart with the CDK app's values", () => {
  it("gives each service its own account's Secret, made from its Secrets Manager secret, and renders no Secret", () => {
    const objects = renderPlatform();
    expect(objects.map((o) => o.kind)).toEqual(['Reservation']);
    const services = objects[0]?.spec?.services as Record<string, { mysql?: unknown }>;
    expect(services.reservationApi?.mysql).toEqual({ primarySecretRef: { name: 'booking-mysql-reservation-api', key: 'primary-url' } });
    expect(services.queryApi?.mysql).toEqual({
      primarySecretRef: { name: 'booking-mysql-query-api', key: 'primary-url' },
      replicaSecretRef: { name: 'booking-mysql-query-api', key: 'replica-url' },
    });
    expect(services.notifier?.mysql).toEqual({
      primarySecretRef: { name: 'booking-mysql-notifier', key: 'primary-url' },
      replicaSecretRef: { name: 'booking-mysql-notifier', key: 'replica-url' },
    });
    // No service is left on the shared fallback, which names the read-only account, never the owner's.
    expect(JSON.stringify(objects[0])).not.toContain('booking-mysql-migrator');
  });
});
