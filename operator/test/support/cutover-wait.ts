import { waitUntil } from '@reservations/testkit';
import type { CutoverStatus } from '../../src/api/v1alpha1/reservation.ts';

/**
 * Waits until a cutover's status satisfies `holds`; a timeout says where the cutover stood (phase,
 * step, share, message) and its last three history entries.
 */
export function untilCutoverStatus(
  what: string,
  read: () => Promise<CutoverStatus | undefined>,
  holds: (cutover: CutoverStatus) => boolean,
  options: { timeoutMs?: number; intervalMs?: number } = {},
) {
  return waitUntil(
    what,
    async () => {
      const c = await read();
      if (c && holds(c)) return true;
      const recent = (c?.history ?? []).slice(-3).map((h) => `${h.event}: ${h.message}`);
      throw new Error(
        c ? `${c.phase} at step ${c.step}, share ${c.share}: ${c.message}; last events: ${recent.join(' | ')}` : 'no cutover status',
      );
    },
    options,
  );
}
