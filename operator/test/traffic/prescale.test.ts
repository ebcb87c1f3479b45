import { describe, expect, it } from '@jest/globals';
import {
  capacityShortfall,
  decodeFloors,
  describeFloors,
  encodeFloors,
  maxFloors,
  peerReadyQuery,
  prescaleFloors,
  takeBackShortfall,
  warmFloors,
} from '../../src/traffic/prescale.ts';
import { sampleSpec } from '../support/fixtures.ts';

const services = sampleSpec().services;
const settings = { requestsPerPod: { reservationApi: 50, queryApi: 200 }, headroomPercent: 25 };

describe('pre-scaling before a share rises', () => {
  it('asks each HTTP service for the pods that carry its share of the total load, with headroom', () => {
    // query-api: 1,600 req/s × 50 % × 1.25 = 1,000 req/s at 200 per pod → 5; reservation-api: 400 × 0.5 × 1.25 = 250 at 50 → 5.
    expect(prescaleFloors(services, settings, { reservationApi: 400, queryApi: 1600 }, 50)).toEqual({ reservationApi: 5, queryApi: 5 });
    // A hair over a whole number of pods needs one more; an exact fit does not.
    expect(prescaleFloors(services, { ...settings, headroomPercent: 0 }, { reservationApi: 101, queryApi: 800 }, 100)).toEqual({
      reservationApi: 3,
      queryApi: 4,
    });
  });

  it('stays within the spec’s replica bounds', () => {
    const { reservationApi, queryApi } = services;
    expect(prescaleFloors(services, settings, { reservationApi: 0, queryApi: 0 }, 100)).toEqual({
      reservationApi: reservationApi.replicas.min,
      queryApi: queryApi.replicas.min,
    });
    expect(prescaleFloors(services, settings, { reservationApi: 1e6, queryApi: 1e6 }, 100)).toEqual({
      reservationApi: reservationApi.replicas.max,
      queryApi: queryApi.replicas.max,
    });
  });

  it('never lowers a floor it already set, and names the services still short of pods', () => {
    expect(maxFloors({ queryApi: 6, reservationApi: 2 }, { queryApi: 4, reservationApi: 3 })).toEqual({ queryApi: 6, reservationApi: 3 });
    const status = {
      reservationApi: { desired: 3, ready: 3, available: 3, updated: 3 },
      queryApi: { desired: 6, ready: 2, available: 2, updated: 6 },
    };
    expect(capacityShortfall({ reservationApi: 3, queryApi: 6 }, status)).toEqual(['query-api 2/6 available']);
    expect(capacityShortfall({ reservationApi: 3 }, status)).toEqual([]);
    expect(capacityShortfall({ notifier: 1 }, undefined)).toEqual(['notifier 0/1 available']);
  });

  it('keeps a peer warm at the replicas its autoscalers ask for now', () => {
    expect(warmFloors({ queryApi: { desired: 7, ready: 7, available: 6, updated: 7 } })).toEqual({ queryApi: 7 });
    expect(warmFloors(undefined)).toEqual({});
  });
});

describe('the peer taking the traffic back', () => {
  it('names the services whose ready pods are below what the traffic needs', () => {
    expect(takeBackShortfall({ reservationApi: 4, queryApi: 12 }, { reservationApi: 4, queryApi: 5 })).toEqual(['query-api 5 ready of 12']);
    expect(takeBackShortfall({ reservationApi: 4, queryApi: 12 }, {})).toEqual(['reservation-api 0 ready of 4', 'query-api 0 ready of 12']);
    expect(takeBackShortfall({ reservationApi: 4, queryApi: 12 }, { reservationApi: 9, queryApi: 12 })).toEqual([]);
  });

  it('asks through a TXT label ExternalDNS can carry (no comma, no equals sign), read back exactly', () => {
    const floors = { reservationApi: 4, queryApi: 12 };
    expect(encodeFloors(floors)).toBe('reservation-api:4;query-api:12');
    expect(decodeFloors(encodeFloors(floors))).toEqual(floors);
    expect(describeFloors(floors)).toBe('reservation-api 4, query-api 12');
  });

  it('ignores whatever else a label holds: unknown services, non-numbers, zero, and caps what is asked', () => {
    expect(decodeFloors(undefined)).toEqual({});
    expect(decodeFloors('query-api:-3;reservation-api:1e9;notifier:0;admin:5;query-api:x')).toEqual({});
    expect(decodeFloors('query-api:99999;reservation-api:2.5')).toEqual({});
    expect(decodeFloors('query-api:9999;reservation-api:7;;junk')).toEqual({ queryApi: 1000, reservationApi: 7 });
  });

  it("fills in the peer's ready-pods query for each service", () => {
    const query =
      'sum(kube_deployment_status_replicas_available{cluster="{{peer}}",namespace="{{namespace}}",deployment="{{deployment}}"})';
    expect(peerReadyQuery(query, { peer: 'eks-blue', namespace: 'reservations', name: 'booking', service: 'queryApi' })).toBe(
      'sum(kube_deployment_status_replicas_available{cluster="eks-blue",namespace="reservations",deployment="booking-query-api"})',
    );
    expect(peerReadyQuery('up{service="{{service}}"}', { peer: 'b', namespace: 'n', name: 'x', service: 'reservationApi' })).toBe(
      'up{service="reservation-api"}',
    );
  });
});
