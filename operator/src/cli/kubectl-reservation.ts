import { pino } from 'pino';
import { CUTOVER_REQUEST_ANNOTATION, type Reservation, TAKE_BACK_ANNOTATION } from '../api/v1alpha1/reservation.ts';
import { createInformer } from '../controller/informer.ts';
import { KubeApiError } from '../kube/client.ts';
import { RESOURCE_TYPES } from '../kube/resources.ts';
import { iso } from '../kube/time.ts';
import { type Invocation, type OutputFormat, parseCommandLine } from './args.ts';
import { cutoverView } from './cutover-view.ts';
import { discoverPeer, runDashboard } from './dashboard/command.ts';
import { ConnectError, connect, type Target } from './kubeconfig.ts';
import { PlanFileError, planFromText, previewReservation, readPlanText } from './plan.ts';
import { renderPlanPreview } from './plan-render.ts';
import { renderStatus, verbEffect } from './render.ts';
import { type ReservationRef, readReservation, requestTakeBack, requestVerb, SteerError } from './steer.ts';

/**
 * `kubectl reservation`: kubectl runs any `kubectl-reservation` on PATH as this plugin, with the
 * arguments after `reservation`. Reads and writes go through the operator's own client; the
 * verbs only set the cutover-request annotation, and the operator does the rest.
 */

/** Exit codes, as kubectl's: 0 done, 1 failed or refused, 2 the command line is wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const invocation = parseCommandLine(argv);
  if (invocation.kind === 'help') {
    io.stdout.write(invocation.text);
    return EXIT.ok;
  }
  if (invocation.kind === 'usage') {
    io.stderr.write(`error: ${invocation.error}\n\n${invocation.text}`);
    return EXIT.usage;
  }
  try {
    if (invocation.kind === 'dashboard') {
      await runDashboard(invocation, io);
      return EXIT.ok;
    }
    const target = connect(invocation.connection);
    if (invocation.kind === 'status') return await status(target, invocation, io);
    if (invocation.kind === 'plan') return await plan(target, invocation, io);
    if (invocation.kind === 'take-back') return await takeBack(target, invocation, io);
    return await askVerb(target, invocation, io);
  } catch (err) {
    io.stderr.write(`error: ${describeError(err)}\n`);
    return EXIT.failed;
  }
}

const refOf = (target: Target, name: string): ReservationRef => ({ client: target.client, namespace: target.namespace, name });

function renderOptions(io: Io) {
  const tty = io.stdout.isTTY === true;
  return {
    now: new Date(),
    width: (tty && io.stdout.columns) || 100,
    // https://no-color.org: any non-empty NO_COLOR turns colour off.
    color: tty && !io.env.NO_COLOR,
  };
}

async function status(target: Target, invocation: Extract<Invocation, { kind: 'status' }>, io: Io): Promise<number> {
  const cr = await readReservation(refOf(target, invocation.name));
  if (!invocation.watch) {
    io.stdout.write(
      invocation.output === 'json'
        ? `${JSON.stringify(cutoverView(cr, undefined, new Date()), null, 2)}\n`
        : renderStatus(cr, renderOptions(io)),
    );
    return EXIT.ok;
  }
  return watchStatus(target, invocation.name, invocation.output, cr, io);
}

/**
 * `plan`: the preview of the live Reservation's plan, or of a plan file's (on the live
 * Reservation's status when it exists); the peer's replicas from --peer-context or the context
 * that has the peer's Reservation.
 */
async function plan(target: Target, invocation: Extract<Invocation, { kind: 'plan' }>, io: Io): Promise<number> {
  const file = invocation.file && { name: invocation.file, text: readPlanText(invocation.file) };
  const name = invocation.name ?? (file ? fileReservationName(file.text, file.name) : undefined);
  let live: Reservation | undefined;
  if (name) {
    try {
      live = await readReservation(refOf(target, name));
    } catch (err) {
      // A plan file may be for a Reservation not created yet; without a file the Reservation must exist.
      if (!(file && err instanceof SteerError && err.kind === 'not-found')) throw err;
    }
  }
  const cr = file ? planFromText(file.text, file.name, live) : (live as Reservation);
  if (!cr.spec.traffic?.cutover) {
    io.stderr.write(`error: ${target.namespace}/${cr.metadata.name} has no spec.traffic.cutover: no plan to preview (-f gives one)\n`);
    return EXIT.failed;
  }
  let peer: Reservation | undefined;
  let peerContext = invocation.peerContext;
  if (peerContext) {
    const other = connect({ ...invocation.connection, context: peerContext });
    peer = await readReservation(refOf(other, cr.metadata.name));
  } else if (live) {
    const found = await discoverPeer(target, cr.metadata.name, invocation.connection);
    if (found) {
      peer = await readReservation(refOf(found, cr.metadata.name)).catch(() => undefined);
      peerContext = found.context;
    }
  }
  if (!peer)
    io.stderr.write(`warning: the peer's Reservation was not read (--peer-context names its context): its take-back capacity is unknown\n`);
  const preview = await previewReservation(cr, peer, {
    route53SyncSeconds: invocation.route53SyncSeconds,
    podStartSeconds: invocation.podStartSeconds,
    ...(invocation.prometheus ? { prometheusUrl: invocation.prometheus } : {}),
    selfNames: [target.context],
    peerNames: peerContext ? [peerContext] : [],
  });
  io.stdout.write(
    invocation.output === 'json'
      ? `${JSON.stringify(preview, null, 2)}\n`
      : renderPlanPreview(preview, `${target.namespace}/${cr.metadata.name}`, renderOptions(io).width),
  );
  return preview.errors.length > 0 ? EXIT.failed : EXIT.ok;
}

/** The name in a plan file's metadata (a Reservation manifest); a bare cutover names none. */
function fileReservationName(text: string, file: string): string | undefined {
  try {
    return planFromText(text, file, undefined).metadata.name;
  } catch (err) {
    if (err instanceof PlanFileError && /bare spec.traffic.cutover/.test(err.message)) {
      throw new PlanFileError(`${file} holds only a spec.traffic.cutover: give the Reservation's NAME too`);
    }
    throw err;
  }
}

/**
 * `status -w`: a watch on this one object (the operator's informer: list + watch, relisting on
 * 410 Gone). On a TTY the screen is redrawn in place; otherwise each change appends a block.
 * With `-o json`, each change is one JSON document on one line (JSON Lines), so a program can
 * read the stream line by line; a deletion is said on stderr, keeping stdout all views.
 */
async function watchStatus(target: Target, name: string, output: OutputFormat, first: Reservation, io: Io): Promise<number> {
  const redraw = io.stdout.isTTY === true && output === 'text';
  let shown: Reservation | undefined;
  let blocks = 0;
  let lastVersion: string | undefined;
  const deleted = `${target.namespace}/${name} was deleted; waiting for it to come back (Ctrl-C to stop)\n`;
  const show = (cr: Reservation | undefined) => {
    if (output === 'json') {
      if (cr) io.stdout.write(`${JSON.stringify(cutoverView(cr, undefined, new Date()))}\n`);
      else io.stderr.write(deleted);
      return;
    }
    const options = renderOptions(io);
    const text = cr ? renderStatus(cr, options) : deleted;
    if (redraw) {
      // Home, each line cleared to its end, then everything below: no flicker.
      io.stdout.write(`\x1b[H${text.replaceAll('\n', '\x1b[K\n')}\x1b[J`);
    } else {
      if (blocks > 0) io.stdout.write(`\n--- ${iso(options.now)}\n`);
      io.stdout.write(text);
    }
    blocks += 1;
    shown = cr;
  };
  if (redraw) io.stdout.write('\x1b[H\x1b[2J');
  show(first);
  lastVersion = first.metadata.resourceVersion;

  const informer = createInformer(target.kc, target.client, RESOURCE_TYPES.Reservation, {
    namespace: target.namespace,
    fieldSelector: `metadata.name=${name}`,
    logger: stderrLogger(io),
  });
  informer.onChange(() => {
    const cr = informer.get(target.namespace, name) as Reservation | undefined;
    const version = cr?.metadata.resourceVersion ?? 'deleted';
    if (version === lastVersion) return;
    lastVersion = version;
    show(cr);
  });
  // On a TTY, the "2m ago"s and pause countdowns move on between changes too.
  const ticker = redraw ? setInterval(() => shown && show(shown), 5000) : undefined;
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await Promise.race([informer.start(), stopped]);
  await stopped;
  clearInterval(ticker);
  await informer.stop();
  if (redraw) io.stdout.write('\n');
  return EXIT.ok;
}

/** The informer's warnings (a watch that failed and is retried), as plain lines on stderr. */
function stderrLogger(io: Io) {
  return pino(
    { level: 'warn' },
    {
      write(line: string) {
        const entry = JSON.parse(line) as { msg?: string; err?: unknown };
        io.stderr.write(`warning: ${entry.msg}${entry.err ? `: ${String(entry.err)}` : ''}\n`);
      },
    },
  );
}

async function askVerb(target: Target, invocation: Extract<Invocation, { kind: 'verb' }>, io: Io): Promise<number> {
  const { name, verb } = invocation;
  const { cr, value, replaced } = await requestVerb(refOf(target, name), verb);
  if (replaced) io.stderr.write(`warning: replacing the request ${replaced}, which the operator has not acted on yet\n`);
  const command = verb === 'promote-full' ? 'promote --full' : verb;
  io.stdout.write(`${target.namespace}/${name}: asked to ${command} (${CUTOVER_REQUEST_ANNOTATION}=${value})\n`);
  io.stdout.write(`the operator will ${verbEffect(verb, cr)}\n`);
  if (!invocation.wait) {
    io.stdout.write(`not waiting; follow it with: kubectl reservation status ${name} -n ${target.namespace} -w\n`);
    return EXIT.ok;
  }
  const handled = await waitFor(target, name, (cr) => cr?.status?.traffic?.cutover?.handledRequest === value, invocation.timeoutMs);
  if (!handled) {
    io.stderr.write(
      `error: the operator has not acted on ${value} within ${invocation.timeoutMs / 1000} s; the request stays set and is acted on ` +
        `when the operator gets to it (is it running? its logs say why)\n`,
    );
    return EXIT.failed;
  }
  const cutover = handled.status?.traffic?.cutover;
  if (cutover) {
    const where = cutover.step >= cutover.steps ? `all ${cutover.steps} steps done` : `step ${cutover.step + 1}/${cutover.steps}`;
    io.stdout.write(`done: ${cutover.phase}, ${where}, share ${cutover.share}%: ${cutover.message}\n`);
    // How the operator answered (acted, or refused because the cutover had moved on) is its latest event.
    const last = cutover.history.at(-1);
    if (last) io.stdout.write(`last event: ${last.at} ${last.event}: ${last.message}\n`);
  } else io.stdout.write(`done: ${handled.status?.phase ?? 'Idle'}\n`);
  return EXIT.ok;
}

async function takeBack(target: Target, invocation: Extract<Invocation, { kind: 'take-back' }>, io: Io): Promise<number> {
  const { name } = invocation;
  const { writer } = await requestTakeBack(refOf(target, name));
  io.stdout.write(`${target.namespace}/${name}: asked to take the weight back from ${writer} (${TAKE_BACK_ANNOTATION}=${writer})\n`);
  if (!invocation.wait) {
    io.stdout.write(`not waiting; follow it with: kubectl reservation status ${name} -n ${target.namespace} -w\n`);
    return EXIT.ok;
  }
  // Done when the handover is gone from status; the operator says why not in TrafficReady (a
  // refusal of an earlier request that named another writer is not about this one).
  const refusal = (cr: Reservation | undefined) => {
    const reason = cr?.status?.conditions?.find((c) => c.type === 'TrafficReady')?.message.match(/\(not taken back: (.*)\)$/)?.[1];
    const named = reason?.match(/ names "([^"]*)"/)?.[1];
    return named === undefined || named === writer ? reason : undefined;
  };
  const answered = await waitFor(target, name, (cr) => !!cr && (!cr.status?.traffic?.handover || !!refusal(cr)), invocation.timeoutMs);
  if (!answered) {
    io.stderr.write(
      `error: the operator has not answered within ${invocation.timeoutMs / 1000} s; the request stays set (is it running?)\n`,
    );
    return EXIT.failed;
  }
  const refused = refusal(answered);
  if (refused) {
    io.stderr.write(`error: not taken back: ${refused}; the request stays set and is acted on once allowed\n`);
    return EXIT.failed;
  }
  io.stdout.write(
    `done: ${answered.status?.traffic?.recordName} (${answered.status?.traffic?.setIdentifier}) is this cluster's again, at weight ${answered.status?.traffic?.desiredWeight}\n`,
  );
  return EXIT.ok;
}

/** Waits (on a watch) until `done` holds for the Reservation; undefined on timeout. */
async function waitFor(
  target: Target,
  name: string,
  done: (cr: Reservation | undefined) => boolean,
  timeoutMs: number,
): Promise<Reservation | undefined> {
  const informer = createInformer(target.kc, target.client, RESOURCE_TYPES.Reservation, {
    namespace: target.namespace,
    fieldSelector: `metadata.name=${name}`,
    logger: pino({ level: 'silent' }),
  });
  try {
    return await new Promise<Reservation | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      informer.onChange(() => {
        const cr = informer.get(target.namespace, name) as Reservation | undefined;
        if (done(cr)) {
          clearTimeout(timer);
          resolve(cr);
        }
      });
      informer.start().catch(() => {});
    });
  } finally {
    await informer.stop();
  }
}

function describeError(err: unknown): string {
  if (err instanceof ConnectError || err instanceof SteerError || err instanceof KubeApiError || err instanceof PlanFileError)
    return err.message;
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

// Run as the plugin (not when a test imports the module).
if (import.meta.main) {
  const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  // Exit now (the client's connection pool would keep the process up a while), once the output is out.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
