import { describe, expect, it } from '@jest/globals';
import { setCondition } from '../../src/reconcile/conditions.ts';
import { computeStatus, type ObservedDeployment } from '../../src/reconcile/status.ts';
import { sampleReservation } from '../support/fixtures.ts';

const t0 = new Date('2026-11-23T10:00:00Z');
const t1 = new Date('2026-11-23T10:05:00Z');

const deployment = (
  desired: number,
  available: number,
  extra: Partial<NonNullable<ObservedDeployment['status']>> = {},
): ObservedDeployment => ({
  metadata: { generation: 2 },
  spec: { replicas: desired },
  status: {
    observedGeneration: 2,
    replicas: desired,
    readyReplicas: available,
    availableReplicas: available,
    updatedReplicas: desired,
    ...extra,
  },
});
const all = (d: ObservedDeployment) => ({ reservationApi: d, queryApi: d, notifier: d });
const condition = (status: ReturnType<typeof computeStatus>, type: string) => status.conditions?.find((c) => c.type === type);

describe('computeStatus', () => {
  const cr = sampleReservation();

  it('is Ready when every service has all its replicas available', () => {
    const status = computeStatus(cr, { deployments: all(deployment(2, 2)) }, t0);
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True', reason: 'AllServicesAvailable', observedGeneration: 1 });
    expect(condition(status, 'Progressing')).toMatchObject({ status: 'False', reason: 'RolloutComplete' });
    expect(condition(status, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
    expect(status.replicas).toBe('6/6');
    expect(status.services?.queryApi).toEqual({ desired: 2, ready: 2, available: 2, updated: 2 });
    expect(status.observedGeneration).toBe(1);
  });

  it('names the services still waiting for replicas', () => {
    const status = computeStatus(cr, { deployments: { ...all(deployment(2, 2)), notifier: deployment(2, 1, { updatedReplicas: 1 }) } }, t0);
    expect(condition(status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ServicesUnavailable',
      message: 'waiting for available replicas: notifier',
    });
    expect(condition(status, 'Progressing')).toMatchObject({ status: 'True', message: 'rolling out: notifier' });
    expect(status.replicas).toBe('5/6');
  });

  it('is not Ready while the autoscaler has yet to raise a new Deployment to the minimum', () => {
    const status = computeStatus(cr, { deployments: { ...all(deployment(2, 2)), queryApi: deployment(1, 1) } }, t0);
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', message: 'waiting for available replicas: query-api' });
    expect(status.services?.queryApi?.desired).toBe(2);
  });

  it('counts a service with no Deployment yet as unavailable', () => {
    const status = computeStatus(cr, { deployments: {} }, t0);
    expect(condition(status, 'Ready')?.message).toBe('waiting for available replicas: reservation-api, query-api, notifier');
  });

  it('is Degraded when applying failed or a rollout passed its deadline', () => {
    expect(
      condition(
        computeStatus(cr, { deployments: all(deployment(2, 2)), applyError: 'Deployment booking-notifier: forbidden' }, t0),
        'Degraded',
      ),
    ).toMatchObject({
      status: 'True',
      reason: 'ApplyFailed',
      message: 'Deployment booking-notifier: forbidden',
    });
    const stuck = deployment(2, 1, { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] });
    expect(condition(computeStatus(cr, { deployments: { ...all(deployment(2, 2)), queryApi: stuck } }, t0), 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'ProgressDeadlineExceeded',
    });
  });

  it('moves lastTransitionTime only when a condition flips', () => {
    const first = computeStatus(cr, { deployments: all(deployment(2, 1)) }, t0);
    const same = computeStatus({ ...cr, status: first }, { deployments: all(deployment(2, 1)) }, t1);
    expect(condition(same, 'Ready')?.lastTransitionTime).toBe('2026-11-23T10:00:00Z');
    const flipped = computeStatus({ ...cr, status: same }, { deployments: all(deployment(2, 2)) }, t1);
    expect(condition(flipped, 'Ready')?.lastTransitionTime).toBe('2026-11-23T10:05:00Z');
    expect(condition(flipped, 'Degraded')?.lastTransitionTime).toBe('2026-11-23T10:00:00Z');
  });

  it('reports the edge hostname when there is one', () => {
    expect(computeStatus(cr, { deployments: {}, edgeHostname: 'k8s-abc.elb.amazonaws.com' }, t0).edge).toEqual({
      hostname: 'k8s-abc.elb.amazonaws.com',
    });
  });
});

describe('setCondition', () => {
  it('adds a missing condition with the current time', () => {
    expect(setCondition([], { type: 'Ready', status: 'Unknown', reason: 'Starting', message: 'm' }, t0)).toEqual([
      { type: 'Ready', status: 'Unknown', reason: 'Starting', message: 'm', lastTransitionTime: '2026-11-23T10:00:00Z' },
    ]);
  });
});

describe('computeStatus with traffic', () => {
  const cr = sampleReservation();
  const traffic = { recordName: 'api.example.com', setIdentifier: 'eks-green', desiredWeight: 10, verifiedWeight: 10 };

  it('carries status.traffic and sets TrafficReady from the traffic step', () => {
    const status = computeStatus(
      cr,
      {
        deployments: all(deployment(2, 2)),
        traffic: { status: traffic, condition: { status: 'False', reason: 'ChangePending', message: 'waiting for Route53 change C1' } },
      },
      t0,
    );
    expect(status.traffic).toEqual(traffic);
    expect(condition(status, 'TrafficReady')).toEqual({
      type: 'TrafficReady',
      status: 'False',
      reason: 'ChangePending',
      message: 'waiting for Route53 change C1',
      observedGeneration: 1,
      lastTransitionTime: '2026-11-23T10:00:00Z',
    });
  });

  it('drops TrafficReady once the spec no longer has traffic', () => {
    const withTraffic = computeStatus(
      cr,
      {
        deployments: all(deployment(2, 2)),
        traffic: { status: traffic, condition: { status: 'True', reason: 'RecordInSync', message: 'ok' } },
      },
      t0,
    );
    const after = computeStatus({ ...cr, status: withTraffic }, { deployments: all(deployment(2, 2)) }, t1);
    expect(condition(after, 'TrafficReady')).toBeUndefined();
    expect(after.traffic).toBeUndefined();
  });
});
