import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, type Registry } from 'prom-client';

/** How a command ended, for `reservations_total{result}`. */
export type CommandResult = 'created' | 'confirmed' | 'cancelled' | 'rescheduled' | 'unchanged' | 'conflict' | 'replayed' | 'rejected';

export function createBookingMetrics(registry: Registry) {
  const total = new Counter({
    name: 'reservations_total',
    help: 'reservation commands by outcome',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return { count: (result: CommandResult) => total.inc({ result }) };
}

declare module 'fastify' {
  interface FastifyInstance {
    bookingMetrics: ReturnType<typeof createBookingMetrics>;
  }
}

export const bookingMetrics = fp<{ registry: Registry }>(
  async (app: FastifyInstance, { registry }) => {
    app.decorate('bookingMetrics', createBookingMetrics(registry));
  },
  { name: 'booking-metrics' },
);
