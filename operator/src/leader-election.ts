import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClient } from './kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from './kube/resources.ts';

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: only one operator
 * reconciles at a time; a standby takes over once the leader has not renewed for a lease
 * duration. Expiry is judged by when *this* process last saw the lease change, never by
 * comparing another machine's clock with ours.
 */

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  now?: () => number;
  wait?: (ms: number) => Promise<unknown>;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** The Lease the operator's instances compete for (RBAC names it: operator/src/rbac.ts). */
export const LEASE_NAME = 'reservation-operator';

/** controller-runtime's defaults: 15 s lease, 10 s renew deadline, 2 s between tries. */
export const LEASE_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export function createLeaderElector(options: LeaderElectionOptions) {
  const { client, namespace, name, identity, logger } = options;
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = { ...LEASE_DEFAULTS, ...options };
  const now = options.now ?? Date.now;
  const wait = options.wait ?? ((ms: number) => sleep(ms));
  const path = resourcePath(RESOURCE_TYPES.Lease, namespace, name);
  let observed: { record: string; at: number } | undefined;
  let leading = false;
  let stopped = false;

  /** One attempt to take or keep the lease; true if we hold it afterwards. */
  async function tryAcquireOrRenew(): Promise<boolean> {
    const t = now();
    const mine: LeaseSpec = { holderIdentity: identity, leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000), renewTime: microTime(t) };
    let lease: Lease;
    try {
      lease = await client.request<Lease>('GET', path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const created: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: { ...mine, acquireTime: microTime(t), leaseTransitions: 0 },
      };
      await client.request('POST', resourcePath(RESOURCE_TYPES.Lease, namespace), { body: created });
      observed = { record: JSON.stringify(created.spec), at: t };
      return true;
    }
    const record = JSON.stringify(lease.spec);
    if (observed?.record !== record) observed = { record, at: t };
    const holder = lease.spec.holderIdentity ?? '';
    const heldByOther = holder !== '' && holder !== identity;
    if (heldByOther && (observed?.at ?? t) + leaseDurationMs > t) return false;

    const spec: LeaseSpec = {
      ...mine,
      acquireTime: holder === identity ? lease.spec.acquireTime : microTime(t),
      leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
    };
    const updated = await client.request<Lease>('PUT', path, { body: { ...lease, spec } });
    observed = { record: JSON.stringify(updated.spec), at: t };
    return true;
  }

  async function attempt(): Promise<boolean> {
    try {
      return await tryAcquireOrRenew();
    } catch (err) {
      if (!isConflict(err)) logger.warn({ err: err instanceof Error ? err.message : err }, 'leader election: lease request failed');
      return false;
    }
  }

  return {
    get isLeader() {
      return leading;
    },

    /**
     * Waits until this instance leads, calls `onStartedLeading`, then renews until stopped or
     * until a renewal has failed for longer than the renew deadline: then `onStoppedLeading`
     * (which should end the process, as controller-runtime does).
     */
    async run(onStartedLeading: () => Promise<void>, onStoppedLeading: () => void): Promise<void> {
      while (!stopped && !(await attempt())) await wait(retryPeriodMs);
      if (stopped) return;
      leading = true;
      logger.info({ lease: `${namespace}/${name}`, identity }, 'became leader');
      // Renewing must not wait for the work to start up (caches can take a while to sync).
      onStartedLeading().catch((err: unknown) => {
        logger.fatal({ err }, 'could not start leading');
        onStoppedLeading();
      });
      let lastRenew = now();
      while (!stopped) {
        await wait(retryPeriodMs);
        if (stopped) break;
        if (await attempt()) {
          lastRenew = now();
        } else if (now() - lastRenew > renewDeadlineMs) {
          leading = false;
          logger.error({ lease: `${namespace}/${name}` }, 'lost the lease');
          onStoppedLeading();
          return;
        }
      }
    },

    /** Stops renewing and hands the lease back at once, so a standby needn't wait for expiry. */
    async release(): Promise<void> {
      stopped = true;
      if (!leading) return;
      leading = false;
      try {
        const lease = await client.request<Lease>('GET', path);
        if (lease.spec.holderIdentity !== identity) return;
        await client.request('PUT', path, {
          body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now()) } },
        });
      } catch (err) {
        logger.warn({ err: err instanceof Error ? err.message : err }, 'could not release the lease');
      }
    },
  };
}
