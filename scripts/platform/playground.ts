/**
 * `npm start`: the cutover playground. The two-cluster platform (two-clusters.ts) with the event
 * pipeline and Prometheus, steady traffic through the DNS stand-in that can be steered while it
 * runs (load-control.ts), and green's Reservation ready for a cutover whose command is printed.
 * Runs until Ctrl-C, then stops everything it started.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Component,
  envFile,
  freePort,
  kubeBinDir,
  type Route53AwsBehaviour,
  repoRoot,
  selectedComponents,
  startServer,
  stopServers,
  waitUntil,
  writePrometheusTargets,
} from '@reservations/testkit';
import { describeExternalDns, describeRoute53, externalDnsKnobs, numberKnob, route53Knobs } from '../cutover-sim/settings.ts';
import { loadCounters, MAX_RATE, startLoadControl } from './load-control.ts';
import { NAMESPACE, RECORD_NAME, RESERVATION, STACKS, startTwoClusterPlatform, type TwoClusterPlatform } from './two-clusters.ts';
import { stopOnCtrlC } from './until-ctrl-c.ts';

export interface PlaygroundSettings {
  /** The weighted records' TTL, seconds (PLAYGROUND_TTL). */
  ttlSeconds: number;
  /** The load's total rate, requests per second, changeable while it runs (PLAYGROUND_RATE). */
  rate: number;
  /** Virtual clients, each with its own caching resolver (PLAYGROUND_CLIENTS). */
  clients: number;
  /** The load control's port, 0 for a free one (PLAYGROUND_LOAD_PORT). */
  loadPort: number;
  /** The console's port, 0 for a free one (PLAYGROUND_CONSOLE_PORT; default the dashboard's own, 3100). */
  consolePort: number;
  /** How Route53 behaves (PLAYGROUND_ROUTE53_INSYNC, PLAYGROUND_ROUTE53_RATE, PLAYGROUND_EXTERNAL_DNS): see route53Knobs. */
  route53: Partial<Route53AwsBehaviour>;
  /** A busy ExternalDNS per cluster on the zone (PLAYGROUND_EXTERNAL_DNS=1, _INTERVAL, _CHURN): see externalDnsKnobs. */
  externalDns?: { intervalMs: number; churnMs: number };
}

export const PLAYGROUND_DEFAULTS: PlaygroundSettings = {
  ttlSeconds: 5,
  rate: 50,
  clients: 200,
  loadPort: 0,
  consolePort: 3100,
  route53: {},
};

/** The playground's knobs, from the environment (pure): a bad value is refused naming its variable. */
export function playgroundSettings(env: Readonly<Record<string, string | undefined>>): PlaygroundSettings {
  const errors: string[] = [];
  const number = numberKnob(env, errors);
  const int = Number.isInteger;
  const d = PLAYGROUND_DEFAULTS;
  const settings: PlaygroundSettings = {
    ttlSeconds: number('PLAYGROUND_TTL', d.ttlSeconds, (n) => int(n) && n >= 1 && n <= 3600, 'a whole number of seconds from 1 to 3600'),
    rate: number('PLAYGROUND_RATE', d.rate, (n) => n > 0 && n <= MAX_RATE, `requests per second, more than 0 and at most ${MAX_RATE}`),
    clients: number('PLAYGROUND_CLIENTS', d.clients, (n) => int(n) && n >= 1 && n <= 10_000, 'a whole number from 1 to 10000'),
    loadPort: number('PLAYGROUND_LOAD_PORT', d.loadPort, (n) => int(n) && n >= 0 && n <= 65_535, 'a port number (0 for a free one)'),
    consolePort: number(
      'PLAYGROUND_CONSOLE_PORT',
      d.consolePort,
      (n) => int(n) && n >= 0 && n <= 65_535,
      'a port number (0 for a free one)',
    ),
    route53: route53Knobs(env, 'PLAYGROUND', errors),
  };
  const externalDns = externalDnsKnobs(env, 'PLAYGROUND', errors);
  if (externalDns) settings.externalDns = externalDns;
  if (errors.length > 0) throw new Error(errors.join('; '));
  return settings;
}

/** The sample plan the summary prints the command for (relative to the repository). */
export const SAMPLE_CUTOVER = 'operator/samples/playground-cutover.yaml';

/**
 * Where the web console comes in: the command that opens it on both clusters. The playground
 * prints it with the commands to try.
 */
/** The console's command line, as the playground runs it and as an SRE would (the plugin's `dashboard`). */
export function consoleArgs(port: number, prometheusUrl: string | undefined): string[] {
  return [
    'dashboard',
    RESERVATION,
    '--context',
    'blue',
    '--context',
    'green',
    '-n',
    NAMESPACE,
    '--port',
    String(port),
    ...(prometheusUrl ? ['--prometheus', prometheusUrl] : []),
  ];
}

export interface SummaryFacts {
  readySeconds: number;
  envFile: string;
  kubeconfig: string;
  dnsPort: number;
  ttlSeconds: number;
  loadUrl: string;
  rate: number;
  clients: number;
  prometheusUrl?: string;
  /** How the Route53 stand-in behaves, in words (describeRoute53), with the ExternalDNS on the zone (describeExternalDns). */
  route53: string;
  /** The web console's URL, served by `kubectl reservation dashboard`. */
  consoleUrl: string;
  clusters: { stack: string; apiServer: string; operator: string; services: { name: string; api: string; admin: string }[] }[];
  shared: Record<string, string>;
  logs: string;
}

/** What runs where and the commands to try (pure): what `npm start` prints once everything answers. */
export function playgroundSummary(f: SummaryFacts): string {
  const pad = (s: string) => s.padEnd(20);
  const clusterLines = f.clusters.flatMap((c) => [
    `  ${pad(c.stack)}API server ${c.apiServer}, operator metrics ${c.operator}/metrics`,
    ...c.services.map((s) => `  ${pad('')}${s.name.padEnd(16)} ${s.api}  (admin ${s.admin}/metrics)`),
  ]);
  return `
The playground is up (ready in ${f.readySeconds.toFixed(1)}s). What runs where, all on 127.0.0.1:

${clusterLines.join('\n')}
  ${pad('shared')}${Object.entries(f.shared)
    .map(([k, v]) => `${k} ${v}`)
    .join(`\n  ${pad('')}`)}
  ${pad('Route53 (stand-in)')}AWS's behaviour in front of moto: ${f.route53} (PLAYGROUND_ROUTE53_INSYNC, PLAYGROUND_ROUTE53_RATE)
  ${pad('DNS (stand-in)')}udp 127.0.0.1:${f.dnsPort}: ${RECORD_NAME} by Route53's weighted rule from the records it serves, TTL ${f.ttlSeconds}s
  ${pad('load')}${f.clients} clients, ${f.rate} req/s, resolving through that DNS: ${f.loadUrl}/load${f.prometheusUrl ? `\n  ${pad('prometheus')}${f.prometheusUrl}  (both clusters' services and operators, label cluster="blue|green")` : ''}
  ${pad('logs')}${f.logs}

From another shell:

  source ${f.envFile}    # KUBECONFIG (contexts blue, green), kubectl and the plugin on PATH
  kubectl --context blue get rsv,deploy,pods -n ${NAMESPACE}
  kubectl reservation status ${RESERVATION} --context green -w
  dig @127.0.0.1 -p ${f.dnsPort} ${RECORD_NAME}
  curl ${f.loadUrl}/load                          # requests and failures per cluster
  curl -X PUT ${f.loadUrl}/load -d rate=100      # change the load's rate (req/s) while it runs

Start the cutover (blue → green: 10, 25, 50, 75, 100% with 30s pauses, a few minutes):

  kubectl --context green patch rsv ${RESERVATION} --type merge --patch-file ${SAMPLE_CUTOVER}

and steer it with kubectl reservation pause|resume|promote|abort ${RESERVATION} --context green.
The console, on both clusters (kubectl reservation ${consoleArgs(0, f.prometheusUrl)
    .join(' ')
    .replace(/ --port 0/, '')}):

  ${f.consoleUrl}

Ctrl-C stops everything.
`;
}

/** Starts the playground and keeps it up until Ctrl-C, which stops everything it started. */
export async function runPlayground(startedAt: number, progress: (message: string) => void): Promise<void> {
  const settings = playgroundSettings(process.env);
  const components: Component[] = selectedComponents();
  const platform = startTwoClusterPlatform({
    ttlSeconds: settings.ttlSeconds,
    components,
    progress,
    logLevel: 'info',
    route53: settings.route53,
    ...(settings.externalDns ? { externalDns: settings.externalDns } : {}),
  });
  const stops: (() => Promise<void> | void)[] = [() => platform.stop()];
  // From the start: Ctrl-C while it starts stops what has started.
  const ctrlC = stopOnCtrlC(async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        progress(`stopping: ${(err as Error).message}`);
      }
    }
  });
  let p: TwoClusterPlatform;
  try {
    p = await platform.ready;
  } catch (err) {
    // Ctrl-C while starting also stops what the start was waiting for (its children get the SIGINT).
    if (ctrlC.stopping()) return;
    throw err;
  }
  const counters = loadCounters();
  const load = p.startLoad({
    clients: settings.clients,
    rate: settings.rate,
    readShare: 0.7,
    cancelShare: 0.1,
    keepAliveShare: 0.2,
    keepAliveHoldMs: 3 * settings.ttlSeconds * 1000,
    onRecord: counters.onRecord,
    retainMs: 30 * 60_000,
  });
  stops.push(() => load.stop());
  load.running.catch((err: unknown) => progress(`load: ${(err as Error).message}`));
  const control = await startLoadControl(load, counters, settings.clients, settings.loadPort);
  stops.push(() => control.stop());
  progress(`load: ${settings.clients} clients at ${settings.rate} req/s; control on ${control.url}/load`);
  if (p.harness.env.PROMETHEUS_TARGETS_DIR) {
    stops.push(
      writePrometheusTargets(p.harness.env.PROMETHEUS_TARGETS_DIR, 'load', [
        { url: `${control.url}/metrics`, labels: { job: 'playground-load' } },
      ]),
    );
  }

  // The console, as an SRE runs it: the plugin's dashboard with the playground's kubeconfig.
  const consolePort = settings.consolePort || (await freePort());
  const consoleUrl = `http://127.0.0.1:${consolePort}/`;
  const consoleServer = startServer(
    'console',
    join(repoRoot, 'operator', 'bin', 'kubectl-reservation'),
    consoleArgs(consolePort, p.harness.env.PROMETHEUS_URL),
    { logFile: join(p.dir, 'console.log'), env: { ...process.env, KUBECONFIG: p.kubeconfig } },
  );
  stops.push(() => stopServers([consoleServer]));
  await waitUntil('the console', async () => (await fetch(consoleUrl)).ok, { server: consoleServer, timeoutMs: 60_000 });
  progress(`console on ${consoleUrl}`);

  const envPath = join(p.dir, 'playground.env');
  const pluginDir = join(repoRoot, 'operator', 'bin');
  writeFileSync(
    envPath,
    `${envFile({ ...p.harness.env, KUBECONFIG: p.kubeconfig })}export PLAYGROUND_DNS_PORT='${p.dns.port}'
export PLAYGROUND_LOAD_URL='${control.url}'
export PLAYGROUND_CONSOLE_URL='${consoleUrl}'
export PATH='${kubeBinDir()}:${pluginDir}':"$PATH"
`,
  );
  const env = p.harness.env;
  const shared: Record<string, string> = {};
  if (env.MYSQL_PRIMARY_URL)
    shared.MariaDB = `${new URL(env.MYSQL_PRIMARY_URL).host} (replica ${env.MYSQL_REPLICA_URL ? new URL(env.MYSQL_REPLICA_URL).host : '-'})`;
  if (env.REDIS_URL) shared.Redis = new URL(env.REDIS_URL).host;
  if (env.SQS_QUEUE_URL) shared.SQS = env.SQS_QUEUE_URL;
  if (env.AWS_ENDPOINT_URL_ROUTE_53) shared['moto (Route53)'] = `${env.AWS_ENDPOINT_URL_ROUTE_53}, zone ${p.zone.name} (${p.zone.id})`;
  console.log(
    playgroundSummary({
      readySeconds: (Date.now() - startedAt) / 1000,
      envFile: envPath,
      kubeconfig: p.kubeconfig,
      dnsPort: p.dns.port,
      ttlSeconds: settings.ttlSeconds,
      loadUrl: control.url,
      rate: settings.rate,
      clients: settings.clients,
      route53: `${describeRoute53(settings.route53)}; ${describeExternalDns(settings.externalDns)}`,
      consoleUrl,
      ...(env.PROMETHEUS_URL ? { prometheusUrl: env.PROMETHEUS_URL } : {}),
      clusters: STACKS.map((stack) => {
        const c = p.clusters[stack];
        return {
          stack,
          apiServer: c.apiServer,
          operator: c.operator.admin,
          services: c.services.map((s) => ({ name: s.server.name, api: s.api, admin: s.admin })),
        };
      }),
      shared,
      logs: p.dir,
    }),
  );
}
