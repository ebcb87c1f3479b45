import { CUTOVER_VERBS, type CutoverStatus, type CutoverVerb, type Reservation } from '../api/v1alpha1/reservation.ts';

/**
 * The cutover verbs an SRE asks for through the `platform.reservations.dev/cutover-request`
 * annotation (pure). One set of rules for both sides: `kubectl reservation` refuses a verb before
 * writing the annotation, and the executor refuses the same verb with the same message if the
 * cutover moved on meanwhile.
 *
 * | verb           | allowed when                                   | what the operator does |
 * | -------------- | ---------------------------------------------- | ---------------------- |
 * | `pause`        | Progressing, Analyzing                         | holds the current step until resume |
 * | `resume`       | Paused                                         | goes on from the current step |
 * | `promote`      | Progressing, Paused, Analyzing                 | ends the current step now and goes to the next |
 * | `promote-full` | Progressing, Paused, Analyzing                 | skips every remaining step: the plan's last share |
 * | `abort`        | Progressing, Paused, Analyzing, Degraded       | walks the share back to where the cutover started |
 * | `retry`        | Aborted (once back at the start), Degraded     | Aborted: starts the plan again; Degraded: tries the step again |
 */

export function isCutoverVerb(verb: string): verb is CutoverVerb {
  return (CUTOVER_VERBS as readonly string[]).includes(verb);
}

type Phase = CutoverStatus['phase'];

const ALLOWED: Record<CutoverVerb, readonly Phase[]> = {
  pause: ['Progressing', 'Analyzing'],
  resume: ['Paused'],
  promote: ['Progressing', 'Paused', 'Analyzing'],
  'promote-full': ['Progressing', 'Paused', 'Analyzing'],
  abort: ['Progressing', 'Paused', 'Analyzing', 'Degraded'],
  retry: ['Aborted', 'Degraded'],
};

/**
 * Why `verb` cannot be asked of this cutover now, or undefined when it can. `cutover` is
 * status.traffic.cutover; undefined means the operator has not started a cutover.
 */
export function verbError(verb: string, cutover: CutoverStatus | undefined): string | undefined {
  if (!isCutoverVerb(verb)) return `unknown verb "${verb}"; the verbs are ${CUTOVER_VERBS.join(', ')}`;
  if (!cutover) return `no cutover is running (status.traffic.cutover is empty), so there is nothing to ${verb}`;
  const { phase } = cutover;
  const where = `step ${Math.min(cutover.step + 1, cutover.steps)}/${cutover.steps}, share ${cutover.share}%`;
  // An abort walking back is Aborted too, but it is still moving traffic: say so rather than "aborted".
  if (phase === 'Aborted' && cutover.aborting) {
    if (verb === 'abort')
      return `the cutover is already aborting: walking the share back to ${cutover.startShare}% (now ${cutover.share}%)`;
    return `the cutover is aborting (walking the share back to ${cutover.startShare}%, now ${cutover.share}%); ${verb} is possible once it is back (retry then starts it again)`;
  }
  if (ALLOWED[verb].includes(phase)) return undefined;
  switch (phase) {
    case 'Succeeded':
      return verb === 'retry' || verb === 'abort'
        ? `the cutover has succeeded (share ${cutover.share}%); to move traffic back, run a cutover from the other cluster`
        : `the cutover has succeeded (share ${cutover.share}%); there is nothing left to ${verb}`;
    case 'Aborted':
      return verb === 'abort'
        ? `the cutover is already aborted (back at ${cutover.share}%)`
        : `the cutover is aborted (back at ${cutover.share}%); retry starts it again`;
    case 'Paused':
      return verb === 'pause'
        ? `the cutover is already paused (${where}); resume or promote to go on`
        : `the cutover is paused (${where}), not failed; resume or promote to go on`;
    case 'Degraded':
      return `the cutover is Degraded (${where}): ${cutover.message}; retry once the cause is fixed, or abort`;
    default:
      return verb === 'resume'
        ? `the cutover is not paused (${phase}, ${where}); resume only continues a paused cutover`
        : `the cutover is ${phase} (${where}); retry only restarts an aborted or degraded cutover`;
  }
}

/**
 * Why `verb` cannot be asked of this Reservation, or undefined when it can: it needs a planned
 * cutover (spec.traffic.cutover) and a cutover status where the verb makes sense.
 */
export function requestError(cr: Pick<Reservation, 'spec' | 'status'>, verb: string): string | undefined {
  if (isCutoverVerb(verb) && !cr.spec.traffic?.cutover) {
    return cr.spec.traffic
      ? `no cutover: spec.traffic.cutover is not set, so there is nothing to ${verb}`
      : `no cutover: the Reservation has no spec.traffic, so there is nothing to ${verb}`;
  }
  return verbError(verb, cr.status?.traffic?.cutover);
}

/** An annotation value, `<verb>` or `<verb>/<token>`; undefined when it names no verb. */
export function parseCutoverRequest(value: string): { verb: CutoverVerb; token?: string } | undefined {
  const slash = value.indexOf('/');
  const verb = slash === -1 ? value : value.slice(0, slash);
  if (!isCutoverVerb(verb)) return undefined;
  return slash === -1 ? { verb } : { verb, token: value.slice(slash + 1) };
}

/**
 * A request value unique per ask, `abort/20261125T101500Z-ab12`, so that asking the same verb
 * twice is two requests (the operator acts on each distinct value once). `random` is 4 hex digits.
 */
export function cutoverRequestValue(verb: CutoverVerb, now: Date, random: string): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replaceAll(/[-:]/g, '');
  return `${verb}/${stamp}-${random}`;
}

/**
 * Why a cutover cannot be started on this Reservation now (by setting spec.traffic.cutover), or
 * undefined when it can: it needs spec.traffic, and no cutover of its own may be running.
 */
export function startError(cr: Pick<Reservation, 'spec' | 'status'>): string | undefined {
  if (!cr.spec.traffic) return 'the Reservation has no spec.traffic (no weighted record), so there is no traffic to move';
  const cutover = cr.status?.traffic?.cutover;
  if (!cutover) {
    return cr.spec.traffic.cutover
      ? 'spec.traffic.cutover is already set and the operator has not started it yet (is it running?)'
      : undefined;
  }
  if (cutover.phase === 'Aborted' && cutover.aborting)
    return `the cutover is aborting (share ${cutover.share}%, back to ${cutover.startShare}%)`;
  if (cutover.phase === 'Succeeded' || cutover.phase === 'Aborted') return undefined;
  return `a cutover is already ${cutover.phase} (step ${Math.min(cutover.step + 1, cutover.steps)}/${cutover.steps}, share ${cutover.share}%)`;
}
