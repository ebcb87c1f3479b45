import type { Logger } from 'pino';
import type { KubeClient } from '../kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../kube/resources.ts';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string };
}

/**
 * Kubernetes Events on an object, for `kubectl describe` and `kubectl get events`. Recording
 * does not wait for the API server: an event is a courtesy and must not slow a reconcile.
 */
export interface EventRecorder {
  normal(target: EventTarget, reason: string, message: string): void;
  warning(target: EventTarget, reason: string, message: string): void;
}

export function createEventRecorder(
  client: KubeClient,
  { instance, logger, now = () => new Date() }: { instance: string; logger: Logger; now?: () => Date },
): EventRecorder {
  async function record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string) {
    const time = now().toISOString();
    const namespace = target.metadata.namespace ?? 'default';
    try {
      await client.request('POST', resourcePath(RESOURCE_TYPES.Event, namespace), {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${target.metadata.name}.`, namespace },
          involvedObject: {
            apiVersion: target.apiVersion,
            kind: target.kind,
            name: target.metadata.name,
            namespace,
            uid: target.metadata.uid,
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: 'reservation-operator' },
          reportingComponent: 'reservation-operator',
          reportingInstance: instance,
          firstTimestamp: time,
          lastTimestamp: time,
          count: 1,
        },
      });
    } catch (err) {
      // An event is a courtesy: failing to write one must not fail the reconcile.
      logger.warn({ err: err instanceof Error ? err.message : err, reason }, 'could not record an event');
    }
  }
  return {
    normal: (target, reason, message) => void record(target, 'Normal', reason, message),
    warning: (target, reason, message) => void record(target, 'Warning', reason, message),
  };
}
