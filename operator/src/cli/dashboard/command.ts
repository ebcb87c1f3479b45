import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Reservation } from '../../api/v1alpha1/reservation.ts';
import { createKubeClient } from '../../kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../kube/resources.ts';
import type { Connection, Invocation } from '../args.ts';
import { ConnectError, connect, type Target } from '../kubeconfig.ts';
import { readReservation } from '../steer.ts';
import { startDashboard } from './server.ts';

/** Where operator/build-dashboard.ts puts the page (npm install runs it; so does the browser test, into its own directory). */
export const DASHBOARD_DIR = join(import.meta.dirname, '..', '..', '..', 'dist', 'dashboard');

const DISCOVERY_TIMEOUT_MS = 3000;

/** `kubectl reservation dashboard`: serves until SIGINT/SIGTERM; says where on stdout. */
export async function runDashboard(
  invocation: Extract<Invocation, { kind: 'dashboard' }>,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
  staticDir = process.env.RESERVATION_DASHBOARD_DIR || DASHBOARD_DIR,
): Promise<void> {
  if (!existsSync(join(staticDir, 'index.html'))) {
    throw new ConnectError(`the dashboard's page is not built in ${staticDir}: run \`npm run build:dashboard\` in the repository`);
  }
  const first = connect({ ...invocation.connection, context: invocation.contexts[0] });
  const name = invocation.name ?? (await onlyTrafficReservation(first));
  const targets = [first];
  if (invocation.contexts[1]) targets.push(connect({ ...invocation.connection, context: invocation.contexts[1] }));
  else {
    const peer = await discoverPeer(first, name, invocation.connection);
    if (peer) targets.push(peer);
    else
      io.stderr.write(`warning: no other context has the peer of ${first.context}'s ${name}; showing one cluster (give --context twice)\n`);
  }
  const dashboard = await startDashboard({
    name,
    clusters: targets,
    prometheusUrl: invocation.prometheus,
    route53SyncSeconds: invocation.route53SyncSeconds,
    podStartSeconds: invocation.podStartSeconds,
    host: invocation.address,
    port: invocation.port,
    staticDir,
  });
  io.stdout.write(
    `dashboard of ${targets[0]?.namespace}/${name} on ${targets.map((t) => t.context).join(' and ')}: ${dashboard.url}\n` +
      `${invocation.prometheus ? `Prometheus: ${invocation.prometheus}` : 'no --prometheus: no request rates or observed shares'}; Ctrl-C stops it\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await dashboard.stop();
}

/** Without NAME: the namespace's one Reservation with spec.traffic. */
async function onlyTrafficReservation(target: Target): Promise<string> {
  const list = await target.client.request<{ items: Reservation[] }>('GET', resourcePath(RESOURCE_TYPES.Reservation, target.namespace));
  const names = list.items.filter((r) => r.spec.traffic).map((r) => r.metadata.name);
  if (names.length === 1 && names[0]) return names[0];
  throw new ConnectError(
    names.length === 0
      ? `no Reservation with spec.traffic in namespace "${target.namespace}" on ${target.context}`
      : `several Reservations with spec.traffic in namespace "${target.namespace}" (${names.join(', ')}); name one`,
  );
}

/**
 * The context whose Reservation NAME is the other side of this one's cutover: its set identifier
 * is this one's spec.traffic.cutover.from, or its cutover comes from this one. Each context is
 * asked once, with a short timeout; contexts that do not answer are skipped.
 */
export async function discoverPeer(self: Target, name: string, connection: Connection) {
  const own = await readReservation({ client: self.client, namespace: self.namespace, name });
  const ownId = own.spec.traffic?.cluster;
  const wanted = own.spec.traffic?.cutover?.from;
  if (!ownId) return undefined;
  for (const context of self.kc.getContexts().map((c) => c.name)) {
    if (context === self.context) continue;
    const target = connect({ ...connection, context });
    const client = createKubeClient(target.kc, () => {}, DISCOVERY_TIMEOUT_MS);
    try {
      const other = await readReservation({ client, namespace: target.namespace, name });
      const traffic = other.spec.traffic;
      if (traffic && (traffic.cluster === wanted || traffic.cutover?.from === ownId)) return target;
    } catch {
      // not this one
    }
  }
  return undefined;
}
