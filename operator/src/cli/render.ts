import { styleText } from 'node:util';
import type { CutoverVerb, Reservation } from '../api/v1alpha1/reservation.ts';
import { CONDITION } from '../reconcile/conditions.ts';
import { formatCount } from '../traffic/analysis/judge.ts';
import { buildPlan, describeStep, formatDuration } from '../traffic/plan.ts';
import {
  type AnalysisRunView,
  type ConditionView,
  type CutoverRunView,
  type CutoverView,
  cutoverView,
  type ObservedShareView,
  type PacingView,
  type PlanStepView,
  type RecordView,
} from './cutover-view.ts';

/**
 * What `kubectl reservation status` prints (pure): everything an SRE needs about a cutover without
 * reading the operator's logs, from the Reservation alone. The facts come from `cutoverView`
 * (what `status -o json` prints); this only lays them out. Colour is a choice of the caller
 * (a TTY without NO_COLOR); the text is the same either way.
 */

export interface RenderOptions {
  now: Date;
  /** Terminal columns: long messages wrap to it, the share bar fits in it. */
  width: number;
  color: boolean;
}

type Style = Parameters<typeof styleText>[0];

/** History entries shown; the status keeps up to 20. */
export const HISTORY_SHOWN = 5;
const LABEL = 14;

export function renderStatus(cr: Reservation, options: RenderOptions): string {
  return formatStatus(cutoverView(cr, undefined, options.now), options);
}

function formatStatus(view: CutoverView, options: RenderOptions): string {
  const out = new Output(options);
  const { now } = options;
  const { record } = view;
  out.line(`${out.style('bold', `${view.namespace}/${view.name}`)}  ${out.style(phaseStyle(view.phase), view.phase)}`);

  if (!record) {
    out.line('no spec.traffic: this Reservation has no weighted record, so no cutover');
    return out.text();
  }
  out.field('record', `${record.name}, set identifier ${record.setIdentifier}`);

  if (view.cutover) renderCutover(out, view, view.cutover, options);
  else renderIdle(out, view, record, now);

  if (view.handover) {
    const { by, since, ageSeconds, weight } = view.handover;
    out.field(
      'handover',
      `weights written by ${by}'s cutover since ${clock(since, now)} (${ago(ageSeconds)}); it last set this cluster's weight to ${weight}, ` +
        'and this operator leaves the weight alone while it runs',
    );
    const r = view.handover.rebalance;
    if (r)
      out.field(
        'rebalance',
        `${r.fromPercent}% → ${r.toPercent}% at ${clock(r.since, now)}: the services close ${percent(r.fraction * 100)} of their older keep-alive connections over one TTL, so those clients resolve again`,
      );
  }
  if (view.weightOverride) {
    const { weight, specWeight, by } = view.weightOverride;
    out.field(
      'override',
      `weight ${weight} left by ${by}'s finished cutover, instead of spec.traffic.weight ${specWeight}; changing spec.traffic.weight ends it`,
    );
  }

  if (view.trafficReady) out.field(CONDITION.TrafficReady, conditionText(out, view.trafficReady));
  return out.text();
}

function renderIdle(out: Output, view: CutoverView, record: RecordView, now: Date): void {
  const verified = record.verifiedWeight;
  out.field(
    'weight',
    `desired ${record.desiredWeight}, verified ${verified ?? 'none yet'}` +
      (record.verifiedAt && verified !== undefined ? ` (INSYNC since ${clock(record.verifiedAt, now)})` : ''),
  );
  if (record.lastChange?.status === 'PENDING') {
    out.field(
      'change',
      `${record.lastChange.id} to weight ${record.lastChange.weight} is PENDING since ${clock(record.lastChange.submittedAt, now)}`,
    );
  }
  if (view.plan) {
    out.field('cutover', `planned from ${view.plan.from}; the operator has not started it yet`);
    renderPlan(out, view);
  } else {
    out.field(
      'cutover',
      view.handover ? 'none of its own (spec.traffic.cutover is not set)' : 'no cutover (spec.traffic.cutover is not set)',
    );
  }
}

function renderCutover(out: Output, view: CutoverView, cutover: CutoverRunView, options: RenderOptions): void {
  const { now } = options;
  const { currentStep, stepCount } = cutover;
  const position = currentStep
    ? `step ${currentStep.number}/${stepCount} for ${elapsed(currentStep.elapsedSeconds)}`
    : `all ${stepCount} steps done`;
  const finished =
    cutover.finishedAt && cutover.finishedAgoSeconds !== undefined
      ? `, finished ${clock(cutover.finishedAt, now)} (${ago(cutover.finishedAgoSeconds)})`
      : '';
  out.field(
    'cutover',
    `from ${cutover.from}, started ${clock(cutover.startedAt, now)} (${ago(cutover.ageSeconds)})${finished}; ${position}`,
  );
  if (cutover.aborting) out.field('', out.style('red', `aborting: walking the share back to ${cutover.share.startPercent}%`));
  if (cutover.takeBack)
    out.field('', out.style(cutover.takeBack.state === 'Ready' ? 'green' : 'yellow', `take-back: ${cutover.takeBack.message}`));
  out.field('', cutover.message);
  out.blank();

  renderPlan(out, view);
  out.blank();

  out.field('share', shareBar(out, cutover.share, options.width));
  if (cutover.observed) out.field('observed', observedText(out, cutover.observed, now));
  renderWeights(out, cutover.weights);

  if (cutover.pacing) renderPacing(out, cutover.pacing, now);
  if (cutover.lastAnalysis) renderAnalysis(out, cutover.lastAnalysis);

  if (cutover.history.length > 0) {
    out.blank();
    out.line('history');
    for (const entry of cutover.history.slice(-HISTORY_SHOWN)) {
      const head = `  ${clock(entry.at, now)}  step ${String(entry.stepNumber).padEnd(2)}  ${entry.event.padEnd(16)}  `;
      out.wrapped(head, entry.message);
    }
  }
  out.blank();

  out.field(
    'verbs',
    view.allowedVerbs.length > 0
      ? `kubectl reservation ${verbChoice(view.allowedVerbs)} ${view.name} -n ${view.namespace}`
      : cutover.aborting
        ? `none while the abort walks back to ${cutover.share.startPercent}% (then retry)`
        : 'none (the cutover is over)',
  );
}

/** The plan from the spec, a marker on each step: done, current, or to come. */
function renderPlan(out: Output, view: CutoverView): void {
  const { plan, cutover } = view;
  if (!plan) {
    if (cutover) out.field('plan', `${cutover.stepCount} steps (spec.traffic.cutover has been removed)`);
    return;
  }
  if (plan.errors.length > 0) {
    out.field('plan', out.style('red', `spec.traffic.cutover cannot run: ${plan.errors.join('; ')}`));
    return;
  }
  const { steps } = plan;
  out.line('plan');
  if (cutover && cutover.stepCount !== steps.length) {
    out.wrapped(
      '  ',
      out.style(
        'yellow',
        `the spec's plan has ${steps.length} steps, the running one ${cutover.stepCount}: the plan changed and restarts from the current share`,
      ),
    );
  }
  for (const step of steps) {
    const { state } = step;
    const marker = {
      done: out.style('green', '✓'),
      current: out.style(['bold', 'yellow'], '▶'),
      failed: out.style('red', '✗'),
      pending: ' ',
    }[state];
    const label = `${String(step.number).padStart(2)}. ${step.description}`;
    const note = state === 'current' || state === 'failed' ? currentNote(step, cutover) : '';
    const text = state === 'pending' ? out.style('dim', label) : state === 'current' ? out.style('bold', label) : label;
    out.line(`  ${marker} ${text}${note ? `   ${out.style('dim', note)}` : ''}`);
  }
}

function currentNote(step: PlanStepView, cutover: CutoverRunView | undefined): string {
  if (!cutover) return '';
  if (cutover.phase === 'Aborted') return '← aborted here';
  if (cutover.phase === 'Degraded') return '← degraded here';
  if (step.kind === 'pause' && step.durationSeconds === undefined) return '← waiting for promote';
  if (cutover.phase === 'Paused') return '← paused';
  if (step.kind === 'pause' && step.durationSeconds !== undefined) {
    return `← ${elapsed(cutover.currentStep?.elapsedSeconds ?? 0)} of ${elapsed(step.durationSeconds)}`;
  }
  if (step.kind === 'setShare' && cutover.pacing?.stepNumber === step.number) {
    return `← paced: ${formatCount(cutover.pacing.requests)} of ${formatCount(cutover.pacing.requestsNeeded)} requests`;
  }
  if (step.kind === 'analysis') {
    const run = cutover.lastAnalysis?.stepNumber === step.number ? cutover.lastAnalysis : undefined;
    const count = step.measurementsPlanned;
    return run ? `← ${run.result}, ${run.measurements}${count ? `/${count}` : ''} measurements` : '← starting';
  }
  return '← now';
}

/** A paced step's requests and burn rates, and when Prometheus was asked. */
function renderPacing(out: Output, pacing: PacingView, now: Date): void {
  out.field('pacing', `${pacing.summary} (measured ${clock(pacing.measuredAt, now)}, ${ago(pacing.measuredAgoSeconds)})`);
}

/** `pause|promote [--full]|abort`, or the one verb as is. */
function verbChoice(verbs: readonly CutoverVerb[]): string {
  const words = verbs.flatMap((verb) => {
    if (verb === 'promote-full') return verbs.includes('promote') ? [] : ['promote --full'];
    return verb === 'promote' && verbs.includes('promote-full') ? ['promote [--full]'] : [verb];
  });
  return words.length === 1 ? (words[0] as string) : `{${words.join('|')}}`;
}

/** `[██████▒▒▒░░░░░░░░░░░] 30% → 45%`: what Route53 serves (full), what the plan asks for now (shaded). */
function shareBar(out: Output, share: CutoverRunView['share'], width: number): string {
  const verified = share.verifiedPercent;
  const target = share.desiredPercent;
  const cells = Math.max(10, Math.min(40, width - LABEL - 20));
  const at = (percentage: number) => Math.round((percentage / 100) * cells);
  const from = verified ?? target;
  const low = at(Math.min(from, target));
  const high = at(Math.max(from, target));
  const bar =
    out.style('green', '█'.repeat(low)) +
    out.style(from > target ? 'red' : 'yellow', '▒'.repeat(high - low)) +
    out.style('dim', '░'.repeat(cells - high));
  const numbers =
    verified === undefined
      ? `${percent(target)} (not verified yet)`
      : Math.abs(verified - target) < 0.05
        ? percent(target)
        : `${percent(verified)} → ${percent(target)}`;
  return `[${bar}] ${numbers}`;
}

/** `47.2% of requests for 50% configured, settled (470 here, 530 at the peer over 30s, 4s ago)`, or why there is no figure. */
function observedText(out: Output, o: ObservedShareView, now: Date): string {
  if (o.observedPercent === undefined) return o.message;
  const settled =
    o.settled === 'Bound'
      ? out.style('red', ', went on without it (settle.maxWait)')
      : o.settled === 'Observed'
        ? out.style('green', ', settled')
        : '';
  const counted = o.requests
    ? `${Math.round(o.requests.self)} here, ${Math.round(o.requests.peer)} at the peer over ${o.windowSeconds}s`
    : '';
  const when = o.measuredAt ? `${counted ? ', ' : ''}${clock(o.measuredAt, now)}` : '';
  return `${percent(o.observedPercent)} of requests for ${percent(o.configuredPercent, 0)} configured${settled} (${counted}${when})`;
}

function renderWeights(out: Output, weights: CutoverRunView['weights']): void {
  const rows: [string, number, number | undefined][] = [
    [`${weights.self.setIdentifier} (this cluster)`, weights.self.desiredWeight, weights.self.verifiedWeight],
    [`${weights.peer.setIdentifier} (peer)`, weights.peer.desiredWeight, weights.peer.verifiedWeight],
  ];
  const nameWidth = Math.max('set identifier'.length, ...rows.map(([n]) => n.length));
  out.line(`${'weights'.padEnd(LABEL)}${'set identifier'.padEnd(nameWidth)}  desired  verified`);
  for (const [name, want, have] of rows) {
    const line = `${' '.repeat(LABEL)}${name.padEnd(nameWidth)}  ${String(want).padStart(7)}  ${(have === undefined ? '-' : String(have)).padStart(8)}`;
    out.line(have !== undefined && want !== have ? out.style('yellow', line) : line);
  }
}

function renderAnalysis(out: Output, run: AnalysisRunView): void {
  out.blank();
  const result = out.style(
    ({ Successful: 'green', Failed: 'red', Inconclusive: 'yellow', Running: 'cyan' } as const)[run.result],
    run.result,
  );
  const of = run.measurementsPlanned !== undefined ? `/${run.measurementsPlanned}` : '';
  out.field(
    'analysis',
    `${run.template} (step ${run.stepNumber}): ${result}, ${run.measurements}${of} measurements, ${run.failures} failed, ${run.inconclusive} inconclusive`,
  );
  const figures: string[] = [];
  if (run.successRate !== undefined) {
    const min = run.successRateMin !== undefined ? ` (min ${percent(run.successRateMin * 100, 2)})` : '';
    figures.push(`success rate ${percent(run.successRate * 100, 2)}${min}`);
  }
  if (run.latencyP99Ms !== undefined)
    figures.push(`p99 ${Math.round(run.latencyP99Ms)} ms${run.latencyP99MaxMs !== undefined ? ` (max ${run.latencyP99MaxMs} ms)` : ''}`);
  if (run.requests !== undefined) figures.push(`${Math.round(run.requests)} requests`);
  if (run.measuredAt && run.measuredAgoSeconds !== undefined) figures.push(`measured ${ago(run.measuredAgoSeconds)}`);
  if (figures.length > 0) out.field('', figures.join(', '));
  if (run.message) out.field('', run.message);
}

function conditionText(out: Output, c: ConditionView): string {
  const status = out.style(c.status === 'True' ? 'green' : c.status === 'False' ? 'red' : 'yellow', c.status);
  return `${status} ${c.reason}: ${c.message}`;
}

function phaseStyle(phase: string): Style {
  switch (phase) {
    case 'Succeeded':
      return ['bold', 'green'];
    case 'Aborted':
    case 'Degraded':
      return ['bold', 'red'];
    case 'Paused':
    case 'Analyzing':
      return ['bold', 'yellow'];
    case 'Progressing':
      return ['bold', 'cyan'];
    default:
      return 'bold';
  }
}

/** 30 → "30%", 33.33 → "33.3%". */
function percent(value: number, digits = 1): string {
  const factor = 10 ** digits;
  return `${Math.round(value * factor) / factor}%`;
}

/** Whole seconds and up, for elapsed times: 40_400 → "40s", 132_000 → "2m12s". */
export function formatElapsed(ms: number): string {
  return formatDuration(Math.max(0, Math.round(ms / 1000)) * 1000) ?? '0s';
}

const elapsed = (seconds: number) => formatElapsed(seconds * 1000);
const ago = (seconds: number) => (seconds < 1 ? 'just now' : `${elapsed(seconds)} ago`);

/** "2026-11-25T10:15:03Z" → "10:15:03Z" on the day of `now`, "2026-11-24 10:15:03Z" on another. */
function clock(iso: string, now: Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const [day, time] = d
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .split('T');
  return day === now.toISOString().slice(0, 10) ? `${time}` : `${day} ${time}`;
}

/** Lines being built, with the label column and wrapping. */
class Output {
  readonly #lines: string[] = [];
  readonly #options: RenderOptions;
  constructor(options: RenderOptions) {
    this.#options = options;
  }
  style(format: Style, text: string): string {
    return this.#options.color && text ? styleText(format, text, { validateStream: false }) : text;
  }
  line(text: string): void {
    this.#lines.push(text);
  }
  blank(): void {
    if (this.#lines.at(-1) !== '') this.#lines.push('');
  }
  /** `label      value`, the value wrapped under itself. */
  field(label: string, value: string): void {
    this.wrapped(label.padEnd(LABEL), value);
  }
  /** `head` then `text` wrapped to the width, continuation lines indented under the text. */
  wrapped(head: string, text: string): void {
    const indent = visibleLength(head);
    const room = Math.max(20, this.#options.width - indent);
    const lines = wrap(text, room);
    this.#lines.push(head + (lines[0] ?? ''));
    for (const rest of lines.slice(1)) this.#lines.push(' '.repeat(indent) + rest);
  }
  text(): string {
    while (this.#lines.at(-1) === '') this.#lines.pop();
    return `${this.#lines.join('\n')}\n`;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are control characters
const ANSI = /\x1b\[[0-9;]*m/g;
const visibleLength = (text: string) => text.replace(ANSI, '').length;

/** Words into lines of at most `width` visible characters (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (current && visibleLength(current) + 1 + visibleLength(word) > width) {
      lines.push(current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  if (current || lines.length === 0) lines.push(current);
  return lines;
}

/**
 * What the operator will do when it acts on `verb` (pure), for the line `kubectl reservation <verb>`
 * prints before it waits. `verbError(verb, cutover)` has already said yes.
 */
export function verbEffect(verb: CutoverVerb, cr: Reservation): string {
  const cutover = cr.status?.traffic?.cutover;
  if (!cutover) return `${verb} the cutover`;
  const traffic = cr.spec.traffic;
  const built = traffic?.cutover ? buildPlan(traffic.cutover, traffic.cluster) : undefined;
  const steps = built?.ok ? built.plan.steps : [];
  const stepName = (i: number) => `step ${i + 1}/${cutover.steps}${steps[i] ? ` (${describeStep(steps[i])})` : ''}`;
  switch (verb) {
    case 'pause':
      return `hold the cutover at ${stepName(cutover.step)}, share ${cutover.share}%, until resume or promote`;
    case 'resume':
      return `go on with ${stepName(cutover.step)}`;
    case 'promote':
      return cutover.step + 1 >= cutover.steps
        ? `end ${stepName(cutover.step)}, the last one, now and finish the cutover`
        : `end ${stepName(cutover.step)} now and go on with ${stepName(cutover.step + 1)}`;
    case 'promote-full': {
      const last = steps.findLast((s) => s.kind === 'setShare');
      const share = last?.kind === 'setShare' ? `${last.share}%` : "the plan's last share";
      return `skip the remaining steps (analyses and pauses included) and set the share to ${share}`;
    }
    case 'abort':
      return `walk the share back from ${cutover.share}% to ${cutover.startShare}%, where the cutover started`;
    case 'retry':
      return cutover.phase === 'Degraded'
        ? `try ${stepName(cutover.step)} again`
        : `start the plan again from the current share (${cutover.share}%)`;
  }
}
