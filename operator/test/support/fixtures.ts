import { Value } from 'typebox/value';
import { API_VERSION, KIND, type Reservation, ReservationSpec } from '../../src/api/v1alpha1/reservation.ts';

/** The least a user writes: what the CRD requires, nothing it defaults. */
export function minimalSpec(): Record<string, unknown> {
  return {
    version: '1.4.2',
    image: { repository: 'registry.example.com/reservations' },
    backends: {
      mysql: { primarySecretRef: { name: 'mysql-primary' }, replicaSecretRef: { name: 'mysql-replica' } },
      redis: { secretRef: { name: 'redis' } },
      sqs: {
        queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/reservation-events.fifo',
        deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/reservation-events-dlq.fifo',
      },
      jwt: { issuer: 'https://idp.example.com/', audience: 'reservations', secretRef: { name: 'jwt' } },
      signing: { secretRef: { name: 'booking-signing' } },
      webhookSecrets: { secretRef: { name: 'booking-webhook-secrets' } },
    },
  };
}

/** A spec as the API server returns it: the minimal one plus `extra`, with the CRD's defaults filled in. */
export function sampleSpec(extra: Record<string, unknown> = {}): ReservationSpec {
  return Value.Default(ReservationSpec, { ...minimalSpec(), ...extra }) as ReservationSpec;
}

export function sampleReservation(extra: Record<string, unknown> = {}, name = 'booking'): Reservation {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace: 'reservations', uid: '7f0c1a52-0000-4000-8000-000000000001', generation: 1 },
    spec: sampleSpec(extra),
  };
}
