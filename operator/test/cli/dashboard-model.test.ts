import { describe, expect, it } from '@jest/globals';
import { cutoverView } from '../../src/cli/cutover-view.ts';
import {
  appendPoint,
  type ClusterState,
  chartSeries,
  clusterFigures,
  clusterShares,
  type DashboardState,
  marksFrom,
  mergeHistory,
  type PromAnswers,
  timelinePoint,
} from '../../src/cli/dashboard/model.ts';
import { NOW, states } from './states.ts';

/** The dashboard's pure parts, from the recorded statuses of states.ts and recorded Prometheus answers. */

const green = (state: keyof typeof states, reachable = true): ClusterState => ({
  context: 'green',
  reachable,
  view: cutoverView(states[state](), undefined, NOW),
});
const blue = (reachable = true): ClusterState => ({ context: 'blue', reachable, view: cutoverView(states.peerHandover(), undefined, NOW) });

// As Prometheus answers `sum by (cluster) (...)`: one series per cluster label, the value a string.
const at = NOW.getTime() / 1000;
const answers = (rates: Record<string, string>, errors: Record<string, string> = {}, p99: Record<string, string> = {}): PromAnswers => {
  const vector = (values: Record<string, string>) =>
    Object.entries(values).map(([cluster, v]) => ({ metric: { cluster }, value: [at, v] as [number, string] }));
  return { rate: vector(rates), errors: vector(errors), p99: vector(p99) };
};

const state = (clusters: ClusterState[], prometheus: DashboardState['prometheus']): DashboardState => ({
  namespace: 'reservations',
  name: 'booking',
  generatedAt: NOW.toISOString(),
  clusters,
  prometheus,
});

describe('clusterShares', () => {
  it("takes both clusters' shares from the one running the cutover: asked for and INSYNC", () => {
    // progressing: share 40 asked, 10 verified.
    expect(clusterShares([blue(), green('progressing')])).toEqual({
      blue: { desired: 60, verified: 90 },
      green: { desired: 40, verified: 10 },
    });
  });

  it('leaves a cluster that does not answer out: no share is claimed for it, and none derived from it', () => {
    expect(clusterShares([blue(), green('progressing', false)])).toEqual({
      blue: { desired: null, verified: null },
      green: { desired: null, verified: null },
    });
    expect(clusterShares([blue(false), green('progressing')])).toEqual({
      blue: { desired: null, verified: null },
      green: { desired: 40, verified: 10 },
    });
  });

  it("without a cutover, each record's weight against the other's; two weights of 0 answer half each", () => {
    // noCutover: green asks 10 (verified 10); peerHandover: blue asks 100 (verified 60).
    expect(clusterShares([blue(), green('noCutover')])).toEqual({
      blue: { desired: 90.9, verified: 85.7 },
      green: { desired: 9.1, verified: 14.3 },
    });
    const zero = green('noCutover');
    const zeroBlue = blue();
    if (!zero.view?.record || !zeroBlue.view?.record) throw new Error('records expected');
    zero.view.record.desiredWeight = 0;
    zeroBlue.view.record.desiredWeight = 0;
    expect(clusterShares([zeroBlue, zero])).toMatchObject({ blue: { desired: 50 }, green: { desired: 50 } });
  });
});

describe('clusterFigures', () => {
  it('matches series to clusters by context name or set identifier; observed share is each rate over the total', () => {
    const figures = clusterFigures(answers({ blue: '30', 'eks-green': '10' }, { blue: '0.3' }, { blue: '0.0123', 'eks-green': '0.2' }), [
      blue(),
      green('progressing'),
    ]);
    expect(figures).toEqual({
      blue: { requestRate: 30, errorRate: 0.01, p99Ms: 12.3, observedPercent: 75 },
      green: { requestRate: 10, errorRate: 0, p99Ms: 200, observedPercent: 25 },
    });
  });

  it('says nothing it does not know: no traffic, no series, NaN from an empty histogram', () => {
    expect(clusterFigures(answers({ blue: '0' }, {}, { blue: 'NaN' }), [blue(), green('progressing')])).toEqual({
      blue: { requestRate: 0, errorRate: undefined, p99Ms: undefined, observedPercent: undefined },
      green: { requestRate: undefined, errorRate: undefined, p99Ms: undefined, observedPercent: undefined },
    });
  });
});

describe('the chart', () => {
  const clusters = [blue(), green('progressing')];
  const reachable = (figures: Record<string, string>) => ({
    url: 'http://127.0.0.1:9090',
    reachable: true,
    clusters: clusterFigures(answers(figures), clusters),
  });

  it('one point per moment: asked for, INSYNC and observed per cluster', () => {
    expect(timelinePoint(state(clusters, reachable({ blue: '27', 'eks-green': '3' })), 1000)).toEqual({
      at: 1000,
      clusters: { blue: { desired: 60, verified: 90, observed: 90 }, green: { desired: 40, verified: 10, observed: 10 } },
    });
  });

  it('Prometheus that does not answer leaves the observed share empty rather than the last one', () => {
    const down = { url: 'http://127.0.0.1:9090', reachable: false, error: 'cannot reach Prometheus: connect ECONNREFUSED', clusters: {} };
    expect(timelinePoint(state(clusters, down), 2000).clusters.green).toEqual({ desired: 40, verified: 10, observed: null });
  });

  it("a cluster's series over the points, in seconds, with gaps where nothing was known", () => {
    let points = appendPoint([], timelinePoint(state(clusters, reachable({ blue: '27', 'eks-green': '3' })), 1000));
    points = appendPoint(
      points,
      timelinePoint(state([blue(), green('progressing', false)], reachable({ blue: '20', 'eks-green': '10' })), 2000),
    );
    expect(chartSeries(points, 'green')).toEqual({
      x: [1, 2],
      desired: [40, null],
      verified: [10, null],
      observed: [10, 33.3],
      marks: [],
    });
  });

  it('keeps the newest points, in time order', () => {
    const point = (t: number) => ({ at: t, clusters: {} });
    let points = [point(1), point(2), point(3)];
    points = appendPoint(points, point(4), 3);
    expect(points.map((p) => p.at)).toEqual([2, 3, 4]);
    expect(appendPoint(points, point(0), 3)).toBe(points);
  });

  it('marks each step start and each analysis verdict from the history', () => {
    const history = cutoverView(states.analyzing(), undefined, NOW).cutover?.history ?? [];
    const marks = marksFrom([
      ...history,
      { at: '2026-11-25T10:14:30Z', stepNumber: 4, event: 'AnalysisSuccessful', message: 'smoke: 5/5 measurements passed' },
      { at: '2026-11-25T10:14:40Z', stepNumber: 4, event: 'AnalysisFailed', message: 'smoke: error rate above 1%' },
      { at: 'not a time', stepNumber: 4, event: 'StepStarted', message: 'broken' },
    ]);
    expect(marks.filter((m) => m.kind === 'step').map((m) => m.label)).toEqual(
      history.filter((e) => e.event === 'StepStarted').map((e) => `StepStarted (step ${e.stepNumber}): ${e.message}`),
    );
    // As the executor writes them: the cutover's start and each step completed.
    expect(
      marksFrom([
        { at: '2026-11-25T10:00:00Z', stepNumber: 1, event: 'CutoverStarted', message: 'from eks-blue at 0%, 3 steps' },
        { at: '2026-11-25T10:00:01Z', stepNumber: 1, event: 'WeightsChanging', message: '0% → 50%' },
        { at: '2026-11-25T10:00:07Z', stepNumber: 1, event: 'StepCompleted', message: 'step 1 of 3: 50% verified and held for one TTL' },
      ]).map((m) => [m.at, m.kind]),
    ).toEqual([
      [Date.parse('2026-11-25T10:00:00Z'), 'step'],
      [Date.parse('2026-11-25T10:00:07Z'), 'step'],
    ]);
    expect(marks.filter((m) => m.kind === 'verdict')).toEqual([
      {
        at: Date.parse('2026-11-25T10:14:30Z'),
        kind: 'verdict',
        outcome: 'success',
        label: 'AnalysisSuccessful: smoke: 5/5 measurements passed',
      },
      { at: Date.parse('2026-11-25T10:14:40Z'), kind: 'verdict', outcome: 'failure', label: 'AnalysisFailed: smoke: error rate above 1%' },
    ]);
  });

  it('keeps every history entry seen, though the status keeps only the last 20', () => {
    const e = (s: number, event = 'StepStarted') => ({ at: `2026-11-25T10:0${s}:00Z`, stepNumber: s, event, message: `step ${s}` });
    const known = mergeHistory([], [e(1), e(2)]);
    expect(mergeHistory(known, [e(2), e(3)])).toEqual([e(1), e(2), e(3)]);
    expect(mergeHistory(known, [e(2)])).toEqual(known);
  });
});
