import { SERVICES } from '../desired/metadata.ts';
import { formatPreviewEta, type PlanPreview, type StepPreview } from '../traffic/plan-preview.ts';
import { formatElapsed, wrap } from './render.ts';

/**
 * What `kubectl reservation plan` prints (pure): the preview (`plan -o json` prints it as is) as
 * an SRE reads it before approving a plan: a table of the steps with their predicted times, the
 * pre-scaling and the peer's capacity to take the traffic back at each, the ETA, the Route53
 * calls, then the findings with their reasons.
 */

const clock = (seconds: number) => `+${formatElapsed(seconds * 1000)}`;

export function renderPlanPreview(preview: PlanPreview, name: string, width = 100): string {
  const lines: string[] = [];
  const wrapped = (head: string, text: string) => {
    const [first = '', ...rest] = wrap(text, Math.max(20, width - head.length));
    lines.push(head + first);
    for (const line of rest) lines.push(' '.repeat(head.length) + line);
  };
  lines.push(`${name}: plan from ${preview.from} to ${preview.self}, starting at ${preview.startShare}% here`);
  if (preview.errors.length > 0) {
    for (const error of preview.errors) wrapped('  ✗ ', error);
    return `${lines.join('\n')}\n`;
  }
  wrapped(
    '',
    `TTL ${preview.ttlSeconds}s, Route53 INSYNC in ${preview.route53SyncSeconds}s` +
      (preview.rates
        ? `, load now ${Object.entries(preview.rates)
            .map(([s, r]) => `${SERVICES[s as keyof typeof SERVICES].component} ${round(r)} req/s`)
            .join(', ')} (both clusters)`
        : ', no request rates'),
  );
  lines.push('');
  const rows = preview.steps.map((s) => row(s));
  const header = ['#', 'step', 'share', 'start', 'dwell', 'end', 'pre-scale', `take-back (${preview.from})`, 'analysis'];
  const table = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  for (const r of table)
    lines.push(
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    );
  lines.push('');
  const { drain } = preview;
  wrapped('drain         ', `${formatElapsed(drain.dwellSeconds * 1000)} more (${drain.note})`);
  wrapped(
    'ETA           ',
    `${formatPreviewEta(preview)} from start to Succeeded${preview.etaIsLowerBound ? ' (pauses until promoted count as 0)' : ''}`,
  );
  wrapped(
    'Route53       ',
    `${preview.route53.calls} calls in all (writes, INSYNC polls, reads, ${preview.from}'s read-backs), ` +
      `at most ${preview.route53.peakPerSecond} in one second; the account's limit is ${preview.route53.limitPerSecond}/s`,
  );
  lines.push('');
  if (preview.findings.length === 0) lines.push('findings      none');
  else {
    lines.push('findings');
    for (const f of preview.findings) {
      wrapped(`  ${f.severity === 'warning' ? '!' : '-'} `, `${f.step !== undefined ? `step ${f.step}: ` : ''}${f.message} [${f.code}]`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function row(s: StepPreview): string[] {
  const prescale = s.prescale
    ? Object.entries(s.prescale)
        .map(([service, p]) => `${short(service)} ${p?.ready ?? '?'}→${p?.floor}`)
        .join(' ')
    : '';
  const takeBack = s.takeBack
    ? s.takeBack
        .map(
          (t) =>
            `${short(t.service)} ${t.verdict === 'unknown' ? '?' : `${t.ready ?? '?'}/${t.needed}`}${t.verdict === 'ready' || t.verdict === 'unknown' ? '' : ` ${t.verdict}`}`,
        )
        .join(' ')
    : '';
  const analysis = s.analysis ? `${s.analysis.inconclusive ? 'Inconclusive: ' : ''}${s.analysis.reason}` : s.skipped ? 'skipped' : '';
  return [
    String(s.number),
    s.description,
    `${s.share}%`,
    s.skipped ? '-' : clock(s.startSeconds),
    s.skipped ? '-' : s.dwellKnown ? formatElapsed(s.dwellSeconds * 1000) : 'promote',
    s.skipped ? '-' : clock(s.endSeconds),
    prescale,
    takeBack,
    analysis,
  ];
}

const short = (service: string) => (service === 'reservationApi' ? 'api' : service === 'queryApi' ? 'query' : service);
const round = (n: number) => Math.round(n * 10) / 10;
