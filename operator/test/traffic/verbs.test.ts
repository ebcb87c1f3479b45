import { describe, expect, it } from '@jest/globals';
import { CUTOVER_VERBS, type CutoverStatus, type CutoverVerb } from '../../src/api/v1alpha1/reservation.ts';
import { cutoverRequestValue, parseCutoverRequest, requestError, verbError } from '../../src/traffic/verbs.ts';
import { states } from '../cli/states.ts';

const cutoverOf = (state: keyof typeof states) => {
  const cutover = states[state]().status?.traffic?.cutover;
  if (!cutover) throw new Error(`${state} has no cutover`);
  return cutover;
};
const withPhase = (phase: CutoverStatus['phase'], extra: Partial<CutoverStatus> = {}): CutoverStatus => ({
  ...cutoverOf('progressing'),
  phase,
  ...extra,
});
const allowed = (cutover: CutoverStatus) => CUTOVER_VERBS.filter((verb) => verbError(verb, cutover) === undefined);

describe('verbError: which verb each phase takes', () => {
  it.each<[string, CutoverStatus, CutoverVerb[]]>([
    ['Progressing', withPhase('Progressing'), ['pause', 'promote', 'promote-full', 'abort']],
    ['Analyzing', withPhase('Analyzing'), ['pause', 'promote', 'promote-full', 'abort']],
    ['Paused', withPhase('Paused'), ['resume', 'promote', 'promote-full', 'abort']],
    ['Degraded', withPhase('Degraded'), ['abort', 'retry']],
    ['Aborted, back at the start', withPhase('Aborted', { share: 0, finishedAt: '2026-11-25T10:15:00Z' }), ['retry']],
    ['Aborted, still walking back', withPhase('Aborted', { aborting: true, share: 10 }), []],
    ['Succeeded', withPhase('Succeeded', { step: 6, share: 100 }), []],
  ])('%s', (_, cutover, verbs) => {
    expect(allowed(cutover)).toEqual(verbs);
  });

  it('says why, in terms of the phase and what to do instead', () => {
    expect(verbError('resume', withPhase('Progressing'))).toBe(
      'the cutover is not paused (Progressing, step 3/6, share 40%); resume only continues a paused cutover',
    );
    expect(verbError('pause', withPhase('Paused'))).toBe('the cutover is already paused (step 3/6, share 40%); resume or promote to go on');
    expect(verbError('retry', withPhase('Paused'))).toBe(
      'the cutover is paused (step 3/6, share 40%), not failed; resume or promote to go on',
    );
    expect(verbError('promote', withPhase('Succeeded', { step: 6, share: 100 }))).toBe(
      'the cutover has succeeded (share 100%); there is nothing left to promote',
    );
    expect(verbError('abort', withPhase('Succeeded', { step: 6, share: 100 }))).toBe(
      'the cutover has succeeded (share 100%); to move traffic back, run a cutover from the other cluster',
    );
    expect(verbError('abort', withPhase('Aborted', { aborting: true, share: 10 }))).toBe(
      'the cutover is already aborting: walking the share back to 0% (now 10%)',
    );
    expect(verbError('retry', withPhase('Aborted', { aborting: true, share: 10 }))).toBe(
      'the cutover is aborting (walking the share back to 0%, now 10%); retry is possible once it is back (retry then starts it again)',
    );
    expect(verbError('promote', withPhase('Degraded', { message: 'Route53 refused the change' }))).toBe(
      'the cutover is Degraded (step 3/6, share 40%): Route53 refused the change; retry once the cause is fixed, or abort',
    );
  });

  it('refuses an unknown verb and a cutover that has not started', () => {
    expect(verbError('skip', withPhase('Progressing'))).toBe(
      'unknown verb "skip"; the verbs are pause, resume, promote, promote-full, abort, retry',
    );
    expect(verbError('pause', undefined)).toBe('no cutover is running (status.traffic.cutover is empty), so there is nothing to pause');
  });
});

describe('requestError', () => {
  it('refuses a Reservation without spec.traffic.cutover before looking at the status', () => {
    expect(requestError(states.noCutover(), 'abort')).toBe('no cutover: spec.traffic.cutover is not set, so there is nothing to abort');
    const withoutTraffic = states.noCutover();
    delete withoutTraffic.spec.traffic;
    expect(requestError(withoutTraffic, 'pause')).toBe('no cutover: the Reservation has no spec.traffic, so there is nothing to pause');
  });

  it('uses the phase rules once a cutover is planned', () => {
    expect(requestError(states.pausedForPromote(), 'promote')).toBeUndefined();
    expect(requestError(states.pausedForPromote(), 'pause')).toMatch(/^the cutover is already paused/);
  });
});

describe('the request value', () => {
  it('is the verb and a token unique to this ask', () => {
    expect(cutoverRequestValue('abort', new Date('2026-11-25T10:15:00.123Z'), 'ab12')).toBe('abort/20261125T101500Z-ab12');
  });

  it('parses back to the verb, with or without a token', () => {
    expect(parseCutoverRequest('abort/20261125T101500Z-ab12')).toEqual({ verb: 'abort', token: '20261125T101500Z-ab12' });
    expect(parseCutoverRequest('promote-full')).toEqual({ verb: 'promote-full' });
    expect(parseCutoverRequest('skip/123')).toBeUndefined();
    expect(parseCutoverRequest('')).toBeUndefined();
  });
});
