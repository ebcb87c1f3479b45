import { parseArgs } from 'node:util';
import type { CutoverVerb } from '../api/v1alpha1/reservation.ts';
import { parseDuration } from '../traffic/plan.ts';

/** The command line of `kubectl reservation` (pure): what to do, or the usage error / help to print. */

export const COMMANDS = ['status', 'plan', 'promote', 'pause', 'resume', 'abort', 'retry', 'take-back', 'dashboard'] as const;
export type Command = (typeof COMMANDS)[number];

export interface Connection {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
}

/** `status -o`: text for people, json for programs (the view model of cutover-view.ts). */
export const OUTPUT_FORMATS = ['text', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export type Invocation =
  | { kind: 'status'; name: string; watch: boolean; output: OutputFormat; connection: Connection }
  | { kind: 'verb'; verb: CutoverVerb; name: string; wait: boolean; timeoutMs: number; connection: Connection }
  | { kind: 'take-back'; name: string; wait: boolean; timeoutMs: number; connection: Connection }
  | {
      kind: 'plan';
      /** Without it, the Reservation named in the file's metadata. */
      name?: string;
      /** A plan not yet applied: a Reservation manifest or a spec.traffic.cutover, YAML or JSON; `-` for stdin. */
      file?: string;
      output: OutputFormat;
      connection: Connection;
      peerContext?: string;
      prometheus?: string;
      route53SyncSeconds: number;
      podStartSeconds: number;
    }
  | {
      kind: 'dashboard';
      name?: string;
      contexts: string[];
      connection: Connection;
      address: string;
      port: number;
      prometheus?: string;
      route53SyncSeconds: number;
      podStartSeconds: number;
    }
  | { kind: 'help'; text: string }
  | { kind: 'usage'; error: string; text: string };

export const DEFAULT_TIMEOUT_MS = 30_000;
/** Route53: "changes generally propagate to all Route 53 name servers within 60 seconds" (ChangeResourceRecordSets). */
export const DEFAULT_ROUTE53_SYNC_SECONDS = 60;
export const DEFAULT_POD_START_SECONDS = 30;
export const DEFAULT_DASHBOARD_PORT = 3100;

const CONNECTION_HELP = `
Connection (as kubectl):
  -n, --namespace NAME   the Reservation's namespace (default: the context's, else "default")
      --context NAME     the kubeconfig context to use (default: the current one)
      --kubeconfig FILE  the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
  -h, --help             this help`;

const VERB_OPTIONS = `
Options:
      --no-wait          set the request and return, without waiting for the operator
      --timeout DURATION how long to wait for the operator to act (default 30s; 90s, 2m, or seconds)`;

const ABOUT: Record<Command, string> = {
  status: `Usage: kubectl reservation status NAME [-w] [-o json] [-n NAMESPACE]

Shows the Reservation's traffic: the cutover's phase, its plan with the current step, the desired
and verified weights of both clusters, this cluster's share, the last analysis, the last events
and the TrafficReady condition; on the peer cluster, whose cutover writes its weight.

Options:
  -w, --watch            show it again on every change, until Ctrl-C
  -o, --output FORMAT    text (the default) or json: the same facts as data, one JSON document;
                         with -w, one document per change, each on one line (JSON Lines)`,
  plan: `Usage: kubectl reservation plan NAME [-f FILE] [-o json] [-n NAMESPACE] [--peer-context NAME] [--prometheus URL]

Previews the Reservation's cutover plan before it runs: for each step its predicted start, dwell
and end, the replicas pre-scaling will ask for, whether the peer cluster could take the traffic
back at that step, the analyses that will be inconclusive for want of traffic; the ETA to
Succeeded, the Route53 calls, and the findings a reviewer wants before approving the plan. From
live facts: Prometheus's request rates (the plan's prescale query), both clusters' replicas, the
record's TTL and the weights Route53 serves.

Options:
  -f, --filename FILE    a plan not yet applied: a Reservation manifest, or only its
                         spec.traffic.cutover (then NAME's live spec.traffic); YAML or JSON, - for stdin
  -o, --output FORMAT    text (the default) or json: the preview as data
      --peer-context NAME  the kubeconfig context of the peer cluster (default: the context whose
                         Reservation NAME has the peer's set identifier, if any)
      --prometheus URL   the Prometheus that sees both clusters (default: the plan's prescale or analysis URL)
      --route53-sync DURATION  how long Route53 takes to report a change INSYNC (default 60s)
      --pod-start DURATION     how long a pre-scaled pod takes to be available (default 30s)`,
  pause: `Usage: kubectl reservation pause NAME [-n NAMESPACE] [--no-wait] [--timeout DURATION]

Asks the operator to hold the cutover at its current step (Progressing or Analyzing) until
resume or promote.`,
  resume: `Usage: kubectl reservation resume NAME [-n NAMESPACE] [--no-wait] [--timeout DURATION]

Asks the operator to go on with a Paused cutover from its current step.`,
  promote: `Usage: kubectl reservation promote NAME [--full] [-n NAMESPACE] [--no-wait] [--timeout DURATION]

Asks the operator to end the current step now (a pause, an analysis, waiting for a share) and go
on with the next; with --full, to skip every remaining step and set the plan's last share.

      --full             skip every remaining step (promote-full)`,
  abort: `Usage: kubectl reservation abort NAME [-n NAMESPACE] [--no-wait] [--timeout DURATION]

Asks the operator to walk this cluster's share back to where the cutover started.`,
  dashboard: `Usage: kubectl reservation dashboard [NAME] [--context A [--context B]] [-n NAMESPACE] [--port P] [--prometheus URL] [--route53-sync D]

Serves a web console on http://127.0.0.1:3100/ for the Reservation NAME on two clusters side by
side: phases, plans, weights asked for and served (INSYNC), the share of requests each cluster
receives (from Prometheus, by its \`cluster\` label), and the buttons of the verbs. It acts with
your kubeconfig's credentials, as kubectl does. With one context, the peer is the other context
whose Reservation NAME has the peer's set identifier. Without NAME, the namespace's only
Reservation with spec.traffic. Ctrl-C stops it.

Options:
      --context NAME     a kubeconfig context; give it twice for both clusters (default: the current one)
      --port P           the port to listen on (default 3100; 0 picks a free one)
      --address ADDR     the address to bind (default 127.0.0.1: only this machine)
      --prometheus URL   the Prometheus HTTP API that scrapes both clusters with a \`cluster\` label
      --route53-sync DURATION, --pod-start DURATION  the plan preview's timing, as for plan`,
  retry: `Usage: kubectl reservation retry NAME [-n NAMESPACE] [--no-wait] [--timeout DURATION]

Asks the operator to start an Aborted cutover again, or to try a Degraded one's step again.`,
  'take-back': `Usage: kubectl reservation take-back NAME [-n NAMESPACE] [--no-wait] [--timeout DURATION]

On the cluster whose weight a peer's cutover writes (a handover), when that peer is gone for good
(its cluster died mid-cutover and left its weight-writer label behind): asks the operator to take
the record back from that writer. Stop the peer's operator first: a live one writes the label
again. The operator does it once the handover is 10 minutes old, and keeps the weight the record
has until spec.traffic.weight changes (platform.reservations.dev/take-back-weight).`,
};

export const OVERVIEW = `Usage: kubectl reservation COMMAND NAME [options]

Follows and steers the Route53 traffic cutover of a Reservation (platform.reservations.dev).

Commands:
  status NAME [-w]       the cutover as an SRE reads it, without logs; -w follows it,
                         -o json prints it as data
  plan NAME [-f FILE]    a plan's preview before it runs: per step times, pre-scaling,
                         take-back capacity, the ETA and the findings
  pause NAME             hold the cutover at its current step
  resume NAME            go on with a paused cutover
  promote NAME [--full]  end the current step now (--full: skip to the plan's last share)
  abort NAME             walk the share back to where the cutover started
  retry NAME             start an aborted cutover again, or retry a degraded one's step
  take-back NAME         on the peer: take the weight back from a cutover whose cluster is gone
  dashboard [NAME]       a web console of both clusters, with the verbs as buttons

The verbs set the annotation platform.reservations.dev/cutover-request and wait until the
operator has acted on it. \`kubectl reservation COMMAND --help\` for each command.
Exit codes: 0 done, 1 failed or refused, 2 usage.
${CONNECTION_HELP}`;

export function helpFor(command: Command): string {
  return `${ABOUT[command]}\n${command === 'status' || command === 'dashboard' || command === 'plan' ? '' : `${VERB_OPTIONS}\n`}${CONNECTION_HELP}\n`;
}

const isCommand = (word: string | undefined): word is Command => (COMMANDS as readonly string[]).includes(word ?? '');
const isOutputFormat = (word: string): word is OutputFormat => (OUTPUT_FORMATS as readonly string[]).includes(word);

export function parseCommandLine(argv: readonly string[]): Invocation {
  const usage = (error: string, command: Command | undefined): Invocation => ({
    kind: 'usage',
    error,
    text: command ? helpFor(command) : `${OVERVIEW}\n`,
  });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    return usage((err as Error).message, argv.find(isCommand));
  }
  const { values, positionals } = parsed;
  const [first, name, ...extra] = positionals;
  if (!isCommand(first)) {
    if (first === undefined)
      return values.help || argv.length === 0 ? { kind: 'help', text: `${OVERVIEW}\n` } : usage('no command', undefined);
    return usage(`unknown command "${first}"; the commands are ${COMMANDS.join(', ')}`, undefined);
  }
  const command = first;
  if (values.help) return { kind: 'help', text: helpFor(command) };
  if (extra.length > 0) return usage(`unexpected argument "${extra[0]}"`, command);
  for (const flag of [
    'namespace',
    'kubeconfig',
    'port',
    'address',
    'prometheus',
    'filename',
    'peer-context',
    'route53-sync',
    'pod-start',
  ] as const) {
    if (values[flag] === '') return usage(`--${flag} needs a value`, command);
  }
  const contexts = values.context ?? [];
  if (contexts.some((c) => c === '')) return usage('--context needs a value', command);
  if (command === 'dashboard') return dashboardInvocation(values, name, contexts, usage);
  if (command === 'plan') return planInvocation(values, name, contexts, usage);
  for (const flag of ['filename', 'peer-context', 'route53-sync', 'pod-start'] as const) {
    if (values[flag] !== undefined) return usage(`--${flag} is for plan`, command);
  }
  for (const flag of ['port', 'address', 'prometheus'] as const) {
    if (values[flag] !== undefined) return usage(`--${flag} is for dashboard`, command);
  }
  if (!name) return usage(`${command} needs the name of a Reservation`, command);
  if (contexts.length > 1) return usage('--context once: this command acts on one cluster', command);
  const connection: Connection = { namespace: values.namespace, context: contexts[0], kubeconfig: values.kubeconfig };

  if (command === 'status') {
    for (const flag of ['no-wait', 'timeout', 'full'] as const) {
      if (values[flag] !== undefined) return usage(`--${flag} is for the verbs, not status`, command);
    }
    const output = values.output ?? 'text';
    if (!isOutputFormat(output)) return usage(`--output must be one of ${OUTPUT_FORMATS.join(', ')}, not "${output}"`, command);
    return { kind: 'status', name, watch: values.watch ?? false, output, connection };
  }
  if (values.watch) return usage('--watch is for status; `kubectl reservation status NAME -w` follows the cutover', command);
  if (values.output !== undefined)
    return usage('--output is for status; `kubectl reservation status NAME -o json` prints it as data', command);
  if (values.full && command !== 'promote') return usage('--full goes with promote only', command);
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (values.timeout !== undefined) {
    const parsedTimeout = /^\d+$/.test(values.timeout) ? Number(values.timeout) * 1000 : parseDuration(values.timeout);
    if (!parsedTimeout)
      return usage(`--timeout must be a duration like 30s, 2m or 90 (seconds), more than 0, not "${values.timeout}"`, command);
    timeoutMs = parsedTimeout;
  }
  if (command === 'take-back') return { kind: 'take-back', name, wait: !values['no-wait'], timeoutMs, connection };
  const verb: CutoverVerb = command === 'promote' && values.full ? 'promote-full' : command;
  return { kind: 'verb', verb, name, wait: !values['no-wait'], timeoutMs, connection };
}

function planInvocation(
  values: ReturnType<typeof parse>['values'],
  name: string | undefined,
  contexts: string[],
  usage: (error: string, command: Command) => Invocation,
): Invocation {
  for (const flag of ['no-wait', 'timeout', 'full', 'watch', 'port', 'address'] as const) {
    if (values[flag] !== undefined) return usage(`--${flag} is not a plan option`, 'plan');
  }
  if (!name && !values.filename) return usage('plan needs the name of a Reservation, or -f with a plan file', 'plan');
  if (contexts.length > 1) return usage('--context once: the plan runs on one cluster (--peer-context names the peer)', 'plan');
  const output = values.output ?? 'text';
  if (!isOutputFormat(output)) return usage(`--output must be one of ${OUTPUT_FORMATS.join(', ')}, not "${output}"`, 'plan');
  const prometheus = values.prometheus === undefined ? undefined : httpUrl(values.prometheus);
  if (prometheus === null) return usage(`--prometheus must be an http(s) URL, not "${values.prometheus}"`, 'plan');
  const timing = timingFlags(values);
  if (typeof timing === 'string') return usage(timing, 'plan');
  return {
    kind: 'plan',
    ...(name ? { name } : {}),
    ...(values.filename ? { file: values.filename } : {}),
    output,
    connection: { namespace: values.namespace, context: contexts[0], kubeconfig: values.kubeconfig },
    ...(values['peer-context'] ? { peerContext: values['peer-context'] } : {}),
    ...(prometheus ? { prometheus } : {}),
    ...timing,
  };
}

/** --route53-sync and --pod-start in seconds (the plan preview's timing), or the usage error. */
function timingFlags(values: ReturnType<typeof parse>['values']): { route53SyncSeconds: number; podStartSeconds: number } | string {
  const seconds = (flag: 'route53-sync' | 'pod-start', fallback: number) => {
    const text = values[flag];
    if (text === undefined) return fallback;
    const ms = /^\d+$/.test(text) ? Number(text) * 1000 : text === '0s' ? 0 : parseDuration(text);
    return ms === undefined ? undefined : ms / 1000;
  };
  const route53SyncSeconds = seconds('route53-sync', DEFAULT_ROUTE53_SYNC_SECONDS);
  if (route53SyncSeconds === undefined)
    return `--route53-sync must be a duration like 60s, 2m or 0 (seconds), not "${values['route53-sync']}"`;
  const podStartSeconds = seconds('pod-start', DEFAULT_POD_START_SECONDS);
  if (podStartSeconds === undefined) return `--pod-start must be a duration like 30s, 2m or 0 (seconds), not "${values['pod-start']}"`;
  return { route53SyncSeconds, podStartSeconds };
}

/** An http(s) URL as given, or null. */
function httpUrl(text: string): string | null {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  return url && (url.protocol === 'http:' || url.protocol === 'https:') ? url.toString() : null;
}

function dashboardInvocation(
  values: ReturnType<typeof parse>['values'],
  name: string | undefined,
  contexts: string[],
  usage: (error: string, command: Command) => Invocation,
): Invocation {
  for (const flag of ['no-wait', 'timeout', 'full', 'watch', 'output', 'filename', 'peer-context'] as const) {
    if (values[flag] !== undefined) return usage(`--${flag} is not a dashboard option`, 'dashboard');
  }
  if (contexts.length > 2) return usage('--context at most twice: the dashboard shows two clusters', 'dashboard');
  if (contexts.length === 2 && contexts[0] === contexts[1]) return usage('--context: give two different contexts', 'dashboard');
  const port = values.port === undefined ? DEFAULT_DASHBOARD_PORT : /^\d+$/.test(values.port) ? Number(values.port) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) return usage(`--port must be a port number (0-65535), not "${values.port}"`, 'dashboard');
  let prometheus: string | undefined;
  if (values.prometheus !== undefined) {
    const url = httpUrl(values.prometheus);
    if (url === null) return usage(`--prometheus must be an http(s) URL, not "${values.prometheus}"`, 'dashboard');
    prometheus = url;
  }
  const timing = timingFlags(values);
  if (typeof timing === 'string') return usage(timing, 'dashboard');
  return {
    kind: 'dashboard',
    ...timing,
    name,
    contexts,
    connection: { namespace: values.namespace, kubeconfig: values.kubeconfig },
    address: values.address ?? '127.0.0.1',
    port,
    prometheus,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      namespace: { type: 'string', short: 'n' },
      context: { type: 'string', multiple: true },
      kubeconfig: { type: 'string' },
      watch: { type: 'boolean', short: 'w' },
      output: { type: 'string', short: 'o' },
      'no-wait': { type: 'boolean' },
      timeout: { type: 'string' },
      full: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      port: { type: 'string' },
      address: { type: 'string' },
      prometheus: { type: 'string' },
      filename: { type: 'string', short: 'f' },
      'peer-context': { type: 'string' },
      'route53-sync': { type: 'string' },
      'pod-start': { type: 'string' },
    },
  });
}
