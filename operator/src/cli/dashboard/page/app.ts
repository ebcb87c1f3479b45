import uPlot from 'uplot';
import type { PlanPreview } from '../../../traffic/plan-preview.ts';
import type { CutoverView } from '../../cutover-view.ts';
import {
  type ChartMark,
  type ClusterFigures,
  type ClusterState,
  chartSeries,
  type DashboardState,
  type HistoryEntry,
  type TimelinePoint,
} from '../model.ts';

/**
 * The dashboard page: plain DOM, one section per cluster, a uPlot chart each. The server pushes
 * the whole state on every change (server-sent events); the page keeps the chart's points.
 */

const token = document.querySelector<HTMLMetaElement>('meta[name="dashboard-token"]')?.content ?? '';
const VERBS = ['pause', 'resume', 'promote', 'promote-full', 'abort', 'retry'] as const;
const LABELS: Record<(typeof VERBS)[number], string> = {
  pause: 'Pause',
  resume: 'Resume',
  promote: 'Promote',
  'promote-full': 'Promote fully',
  abort: 'Abort',
  retry: 'Retry',
};
/** These move traffic at once or undo the cutover: asked twice. */
const DESTRUCTIVE = new Set(['promote', 'promote-full', 'abort']);

let points: TimelinePoint[] = [];
let history: Record<string, HistoryEntry[]> = {};
let latest: DashboardState | undefined;
const panels = new Map<string, Panel>();

type Child = Node | string | number | null | undefined | false;
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const clock = (at: string | number) => new Date(at).toLocaleTimeString([], { hour12: false });
const pct = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${v}%`);

interface Panel {
  section: HTMLElement;
  heading: HTMLElement;
  banner: HTMLElement;
  figures: HTMLElement;
  chartBox: HTMLElement;
  chart?: uPlot;
  details: HTMLElement;
  actions: HTMLElement;
  notice: HTMLElement;
  plan: HTMLTextAreaElement;
  start: HTMLElement;
  preview: HTMLElement;
  marks: ChartMark[];
}

function panelFor(context: string): Panel {
  const existing = panels.get(context);
  if (existing) return existing;
  const plan = h('textarea', { 'data-testid': 'plan', spellcheck: 'false' });
  const startButton = h('button', { 'data-testid': 'start' }, 'Start cutover');
  const previewButton = h('button', { 'data-testid': 'preview-plan', type: 'button' }, 'Preview');
  const preview = h('div', { class: 'preview', 'data-testid': 'preview' });
  const start = h(
    'details',
    { class: 'start' },
    h('summary', {}, 'Start a cutover (spec.traffic.cutover)'),
    plan,
    previewButton,
    startButton,
    preview,
  );
  const panel: Panel = {
    section: h('section', { class: 'cluster', 'data-context': context }),
    heading: h('h2'),
    banner: h('div', { class: 'banner', 'data-testid': 'cluster-banner', hidden: '' }),
    figures: h('div', { class: 'figures', 'data-testid': 'figures' }),
    chartBox: h('div', { class: 'chart', 'data-testid': 'chart' }),
    details: h('div', { class: 'details' }),
    actions: h('div', { class: 'actions' }),
    notice: h('div', { class: 'notice', 'data-testid': 'notice', role: 'status' }),
    plan,
    start,
    preview,
    marks: [],
  };
  for (const verb of VERBS) {
    const button = h('button', { 'data-verb': verb }, LABELS[verb]);
    button.addEventListener('click', () => void steer(panel, context, verb));
    panel.actions.append(button);
  }
  startButton.addEventListener('click', () => void startCutover(panel, context));
  previewButton.addEventListener('click', () => void previewPlan(panel, context));
  panel.section.append(
    panel.heading,
    panel.banner,
    panel.figures,
    panel.chartBox,
    h(
      'div',
      { class: 'legend-note' },
      'share of the traffic, %: asked for (plan), served by Route53 (INSYNC), observed (Prometheus); dashed lines: steps, dotted: analyses',
    ),
    panel.actions,
    panel.notice,
    panel.details,
    start,
  );
  document.getElementById('clusters')?.append(panel.section);
  panels.set(context, panel);
  return panel;
}

function render(state: DashboardState): void {
  latest = state;
  document.title = `${state.name}: cutover`;
  const title = document.getElementById('title');
  if (title) title.textContent = `${state.namespace}/${state.name}`;
  const prom = document.getElementById('prometheus');
  if (prom) {
    const p = state.prometheus;
    prom.hidden = p.reachable;
    prom.dataset.testid = 'prometheus-banner';
    prom.textContent = p.reachable
      ? ''
      : p.url
        ? `${p.error ?? 'cannot reach Prometheus'}: no request rates or observed shares (none shown rather than old ones)`
        : (p.error ?? '');
  }
  // Every column first, so each chart is sized to its column as laid out beside the others.
  const columns = state.clusters.map((cluster) => [panelFor(cluster.context), cluster] as const);
  for (const [panel, cluster] of columns) renderCluster(panel, cluster, state);
}

function renderCluster(panel: Panel, cluster: ClusterState, state: DashboardState): void {
  const view = cluster.view;
  const phase = view?.cutover?.phase ?? view?.phase ?? 'unknown';
  const phaseEl = h('span', { class: `phase ${phase}`, 'data-testid': 'phase' }, phase);
  if (panel.heading.querySelector('[data-testid=phase]')?.textContent !== phase) phaseEl.dataset.shownAt = String(Date.now());
  else phaseEl.dataset.shownAt = (panel.heading.querySelector('[data-testid=phase]') as HTMLElement).dataset.shownAt ?? '';
  panel.heading.replaceChildren(
    h('span', {}, cluster.context),
    h('small', {}, view?.record ? `set identifier ${view.record.setIdentifier}` : ''),
    phaseEl,
  );
  panel.section.classList.toggle('stale', !cluster.reachable);
  panel.banner.hidden = cluster.reachable && !cluster.error;
  panel.banner.textContent = !cluster.reachable
    ? `${cluster.error ?? `cannot reach ${cluster.context}`}. ${cluster.lastAnsweredAt ? `Shown below: as it was at ${clock(cluster.lastAnsweredAt)}, not now.` : 'Nothing read yet.'}`
    : (cluster.error ?? '');

  const figures: ClusterFigures | undefined = state.prometheus.reachable ? state.prometheus.clusters[cluster.context] : undefined;
  const figure = (label: string, value: string, id: string) =>
    h('div', { class: 'figure', 'data-testid': id }, h('b', {}, value), h('span', {}, label));
  const none = state.prometheus.reachable ? '—' : 'cannot reach';
  panel.figures.replaceChildren(
    figure('requests/s', figures?.requestRate === undefined ? none : String(figures.requestRate), 'rate'),
    figure('errors (5xx)', figures?.errorRate === undefined ? none : `${(figures.errorRate * 100).toFixed(2)}%`, 'errors'),
    figure('p99', figures?.p99Ms === undefined ? none : `${figures.p99Ms} ms`, 'p99'),
    figure('observed share', figures?.observedPercent === undefined ? none : `${figures.observedPercent}%`, 'observed'),
  );

  const allowed = new Set(view?.allowedVerbs ?? []);
  for (const button of panel.actions.querySelectorAll<HTMLButtonElement>('button')) {
    const verb = button.dataset.verb ?? '';
    button.classList.toggle('allowed', allowed.has(verb as never));
    button.title = allowed.has(verb as never) ? '' : 'not allowed now: the operator would refuse it (click to see why)';
    button.disabled = !cluster.reachable;
  }
  panel.start.hidden = !view?.record;
  if (view?.record && !panel.plan.value) panel.plan.value = JSON.stringify(samplePlan(view, state), null, 2);
  panel.details.replaceChildren(...(view ? details(view) : [h('p', {}, 'no Reservation read yet')]));
  drawChart(panel, cluster.context);
}

function samplePlan(view: CutoverView, state: DashboardState) {
  const peer = state.clusters.find((c) => c.view?.record && c.view.record.setIdentifier !== view.record?.setIdentifier)?.view?.record;
  return {
    from: peer?.setIdentifier ?? 'PEER-SET-IDENTIFIER',
    steps: [{ setShare: 10 }, { pause: { duration: '30s' } }, { setShare: 50 }, { setShare: 100 }],
  };
}

function details(view: CutoverView): Node[] {
  const rows: [string, Child][] = [];
  const record = view.record;
  if (record) {
    rows.push(['record', `${record.name} (TTL ${record.ttlSeconds}s)`]);
    rows.push([
      'weight',
      `asked ${record.desiredWeight}, served ${record.verifiedWeight ?? 'not yet INSYNC'}${record.lastChange ? ` (last change ${record.lastChange.status})` : ''}`,
    ]);
  }
  const c = view.cutover;
  if (c) {
    rows.push(['cutover', `from ${c.from}: ${c.message}`]);
    rows.push(['share', `asked ${c.share.desiredPercent}%, served ${pct(c.share.verifiedPercent)} (started at ${c.share.startPercent}%)`]);
    if (c.observed) {
      const o = c.observed;
      const how = o.settled === 'Bound' ? ' — went on without it (settle.maxWait)' : o.settled === 'Observed' ? ' — settled' : '';
      rows.push([
        'observed (operator)',
        h(
          'span',
          { 'data-testid': 'operator-observed' },
          o.observedPercent === undefined ? o.message : `${o.observedPercent}% for ${o.configuredPercent}% configured${how}`,
        ),
      ]);
    }
    rows.push([
      'weights',
      `${c.weights.self.setIdentifier} ${c.weights.self.desiredWeight} (INSYNC ${c.weights.self.verifiedWeight ?? '—'}), ` +
        `${c.weights.peer.setIdentifier} ${c.weights.peer.desiredWeight} (INSYNC ${c.weights.peer.verifiedWeight ?? '—'})`,
    ]);
    rows.push([
      'step',
      c.currentStep
        ? `${c.currentStep.number}/${c.stepCount}, for ${Math.round(c.currentStep.elapsedSeconds)}s`
        : `all ${c.stepCount} done`,
    ]);
    if (c.pacing) rows.push(['pacing', c.pacing.summary]);
    if (c.pauseReason) rows.push(['paused', c.pauseReason]);
    if (c.abortReason) rows.push(['aborted', c.abortReason]);
    if (c.takeBack) rows.push(['take-back', c.takeBack.message]);
    if (c.lastAnalysis) {
      const a = c.lastAnalysis;
      rows.push([
        'analysis',
        `${a.template} (step ${a.stepNumber}): ${a.result}, ${a.measurements}/${a.measurementsPlanned ?? '?'} measured, ${a.failures} failed; ${a.message}`,
      ]);
    }
  }
  if (view.plan) {
    const steps = view.plan.steps.map((s) => h('li', { class: s.state, 'data-state': s.state }, s.description));
    rows.push([
      'plan',
      view.plan.errors.length ? view.plan.errors.join('; ') : h('ol', { class: 'plan', 'data-testid': 'plan-steps' }, ...steps),
    ]);
  }
  if (view.capacity.length) {
    const body = view.capacity.map((x) =>
      h('tr', {}, h('td', {}, x.service), h('td', {}, x.floor ?? '—'), h('td', {}, `${x.ready ?? '—'}/${x.desired ?? '—'}`)),
    );
    rows.push([
      'capacity',
      h('table', { class: 'capacity' }, h('tr', {}, h('th', {}, 'service'), h('th', {}, 'floor'), h('th', {}, 'ready/desired')), ...body),
    ]);
  }
  const drain = view.drain.drainingPeer
    ? `draining the peer: ${view.drain.message ?? ''}`
    : view.drain.connectionClose
      ? "drained by the peer's cutover: services answer Connection: close"
      : view.handover?.rebalance
        ? `rebalancing: ${view.handover.rebalance.fromPercent}% → ${view.handover.rebalance.toPercent}%, services close ${Math.round(view.handover.rebalance.fraction * 1000) / 10}% of their older keep-alive connections`
        : 'not draining';
  rows.push(['drain', drain]);
  if (view.handover)
    rows.push([
      'ownership',
      `weights written by ${view.handover.by}'s cutover since ${clock(view.handover.since)} (weight ${view.handover.weight})`,
    ]);
  else if (view.weightOverride)
    rows.push(['ownership', `weight ${view.weightOverride.weight} left by ${view.weightOverride.by}'s cutover`]);
  else rows.push(['ownership', 'this operator writes this weight']);
  if (view.trafficReady)
    rows.push(['TrafficReady', `${view.trafficReady.status} ${view.trafficReady.reason}: ${view.trafficReady.message}`]);
  const dl = h('dl', {}, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  const events = (c?.history ?? [])
    .slice()
    .reverse()
    .map((e) => h('li', {}, `${clock(e.at)} step ${e.stepNumber} ${e.event}: ${e.message}`));
  return [dl, h('h3', {}, 'events'), events.length ? h('ul', { class: 'events', 'data-testid': 'events' }, ...events) : h('p', {}, 'none')];
}

const COLORS = { desired: '#1565c0', verified: '#2e7d32', observed: '#ef6c00' };

function drawChart(panel: Panel, context: string): void {
  const series = chartSeries(points, context, history[context] ?? []);
  panel.marks = series.marks;
  panel.chartBox.dataset.marks = String(series.marks.length);
  panel.chartBox.dataset.points = String(series.x.length);
  const data: uPlot.AlignedData = [series.x, series.desired, series.verified, series.observed];
  const width = Math.max(320, panel.chartBox.clientWidth || 540);
  if (panel.chart) {
    if (Math.abs(panel.chart.width - width) > 4) panel.chart.setSize({ width, height: 220 });
    panel.chart.setData(data);
    return;
  }
  panel.chart = new uPlot(
    {
      width,
      height: 220,
      scales: { y: { range: [0, 100] } },
      series: [
        {},
        { label: 'asked for', stroke: COLORS.desired, width: 2, spanGaps: false },
        { label: 'Route53 INSYNC', stroke: COLORS.verified, width: 2, dash: [6, 3] },
        { label: 'observed', stroke: COLORS.observed, width: 1.5 },
      ],
      axes: [{}, { label: 'share %' }],
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            for (const m of panel.marks) {
              const x = u.valToPos(m.at / 1000, 'x', true);
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.save();
              ctx.strokeStyle =
                m.kind === 'step' ? '#90a4ae' : m.outcome === 'success' ? '#2e7d32' : m.outcome === 'failure' ? '#c62828' : '#f9a825';
              ctx.setLineDash(m.kind === 'step' ? [4, 4] : [1, 3]);
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.restore();
            }
          },
        ],
      },
    },
    data,
    panel.chartBox,
  );
}

async function post(path: string, body?: unknown): Promise<{ ok: boolean; detail: string }> {
  try {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'x-dashboard-token': token, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const answer = (await response.json().catch(() => ({}))) as { detail?: string; effect?: string; request?: string };
    return response.ok
      ? { ok: true, detail: answer.effect ? `asked (${answer.request}): ${answer.effect}` : 'asked' }
      : { ok: false, detail: answer.detail ?? `${response.status} ${response.statusText}` };
  } catch (err) {
    return { ok: false, detail: `the dashboard did not answer: ${(err as Error).message}` };
  }
}

function notify(panel: Panel, ok: boolean, text: string): void {
  panel.notice.className = `notice ${ok ? 'ok' : 'error'}`;
  panel.notice.textContent = ok ? text : `refused: ${text}`;
}

async function steer(panel: Panel, context: string, verb: string): Promise<void> {
  const name = latest ? `${latest.namespace}/${latest.name}` : '';
  if (DESTRUCTIVE.has(verb) && !(await confirmed(`${LABELS[verb as keyof typeof LABELS]} the cutover of ${name} on ${context}?`))) return;
  const { ok, detail } = await post(`/api/clusters/${encodeURIComponent(context)}/verbs/${encodeURIComponent(verb)}`);
  notify(panel, ok, detail);
}

async function startCutover(panel: Panel, context: string): Promise<void> {
  let plan: unknown;
  try {
    plan = JSON.parse(panel.plan.value);
  } catch (err) {
    notify(panel, false, `plan: not JSON: ${(err as Error).message}`);
    return;
  }
  if (!(await confirmed(`Start this cutover on ${context}? Traffic moves as soon as the operator sees it.`))) return;
  const { ok, detail } = await post(`/api/clusters/${encodeURIComponent(context)}/cutover`, plan);
  notify(panel, ok, ok ? 'cutover asked for: the operator starts it' : detail);
}

/** The plan in the box, previewed by the server (kubectl reservation plan's figures): a table per step, the ETA, the findings. */
async function previewPlan(panel: Panel, context: string): Promise<void> {
  let plan: unknown;
  try {
    plan = JSON.parse(panel.plan.value);
  } catch (err) {
    panel.preview.replaceChildren(h('p', { class: 'notice error' }, `plan: not JSON: ${(err as Error).message}`));
    return;
  }
  panel.preview.replaceChildren(h('p', {}, 'previewing…'));
  try {
    const response = await fetch(`/api/clusters/${encodeURIComponent(context)}/plan-preview`, {
      method: 'POST',
      headers: { 'x-dashboard-token': token, 'content-type': 'application/json' },
      body: JSON.stringify(plan),
      signal: AbortSignal.timeout(30_000),
    });
    const answer = (await response.json()) as PlanPreview & { detail?: string };
    if (!response.ok) {
      panel.preview.replaceChildren(
        h('p', { class: 'notice error', 'data-testid': 'preview-error' }, answer.detail ?? String(response.status)),
      );
      return;
    }
    panel.preview.replaceChildren(...previewNodes(answer));
  } catch (err) {
    panel.preview.replaceChildren(h('p', { class: 'notice error' }, `the dashboard did not answer: ${(err as Error).message}`));
  }
}

const seconds = (s: number) => {
  const whole = Math.round(s);
  const m = Math.floor(whole / 60);
  return m > 0 ? `${m}m${whole % 60 ? `${whole % 60}s` : ''}` : `${whole}s`;
};

function previewNodes(p: PlanPreview): Node[] {
  if (p.errors.length > 0) return [h('p', { class: 'notice error', 'data-testid': 'preview-error' }, p.errors.join('; '))];
  const rows = p.steps.map((s) =>
    h(
      'tr',
      { 'data-testid': 'preview-step', class: s.skipped ? 'skipped' : '' },
      h('td', {}, s.number),
      h('td', {}, s.description),
      h('td', {}, `${s.share}%`),
      h('td', {}, s.skipped ? '—' : `+${seconds(s.startSeconds)}`),
      h('td', {}, s.skipped ? '—' : s.dwellKnown ? seconds(s.dwellSeconds) : 'promote'),
      h(
        'td',
        {},
        s.prescale
          ? Object.entries(s.prescale)
              .map(([k, v]) => `${k} ${v?.ready ?? '?'}→${v?.floor}`)
              .join(', ')
          : '',
      ),
      h('td', {}, s.takeBack ? s.takeBack.map((t) => `${t.service} ${t.ready ?? '?'}/${t.needed} ${t.verdict}`).join(', ') : ''),
      h('td', {}, s.analysis ? `${s.analysis.inconclusive ? 'Inconclusive: ' : ''}${s.analysis.reason}` : ''),
    ),
  );
  const head = ['#', 'step', 'share', 'start', 'dwell', 'pre-scale', `take-back (${p.from})`, 'analysis'];
  const findings = p.findings.map((f) =>
    h(
      'li',
      { 'data-testid': 'preview-finding', 'data-code': f.code, class: f.severity },
      `${f.step !== undefined ? `step ${f.step}: ` : ''}${f.message}`,
    ),
  );
  return [
    h(
      'p',
      { 'data-testid': 'preview-eta' },
      `ETA ${p.etaIsLowerBound ? 'at least ' : ''}${seconds(p.etaSeconds)} from start to Succeeded (drain ${seconds(p.drain.dwellSeconds)}); ` +
        `Route53: ${p.route53.calls} calls, at most ${p.route53.peakPerSecond}/s of the account's ${p.route53.limitPerSecond}/s`,
    ),
    h('table', { class: 'preview-steps' }, h('tr', {}, ...head.map((x) => h('th', {}, x))), ...rows),
    findings.length ? h('ul', { class: 'findings' }, ...findings) : h('p', {}, 'no findings'),
  ];
}

function confirmed(question: string): Promise<boolean> {
  const modal = document.getElementById('confirm');
  const text = document.getElementById('confirm-text');
  const yes = document.getElementById('confirm-yes');
  const no = document.getElementById('confirm-no');
  if (!modal || !text || !yes || !no) return Promise.resolve(false);
  text.textContent = question;
  modal.hidden = false;
  return new Promise((resolve) => {
    const done = (answer: boolean) => {
      modal.hidden = true;
      yes.onclick = null;
      no.onclick = null;
      resolve(answer);
    };
    yes.onclick = () => done(true);
    no.onclick = () => done(false);
  });
}

async function main(): Promise<void> {
  const live = document.getElementById('live');
  const response = await fetch(`/api/state?token=${encodeURIComponent(token)}`);
  const first = (await response.json()) as { state: DashboardState; points: TimelinePoint[]; history: Record<string, HistoryEntry[]> };
  points = first.points;
  history = first.history;
  render(first.state);
  const events = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
  events.addEventListener('open', () => {
    if (live) {
      live.textContent = 'live';
      live.className = 'badge ok';
    }
  });
  events.addEventListener('error', () => {
    if (live) {
      live.textContent = 'dashboard server not answering';
      live.className = 'badge bad';
    }
  });
  events.addEventListener('state', (e) => {
    const message = JSON.parse((e as MessageEvent<string>).data) as {
      state: DashboardState;
      point?: TimelinePoint;
      history: Record<string, HistoryEntry[]>;
    };
    if (message.point) points = [...points.slice(-3599), message.point];
    history = message.history;
    render(message.state);
  });
}

void main();
