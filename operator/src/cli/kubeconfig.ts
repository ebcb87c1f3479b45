import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClient, type KubeClient } from '../kube/client.ts';
import type { Connection } from './args.ts';

/** A kubeconfig problem said in one sentence (exit code 1 in the plugin). */
export class ConnectError extends Error {}

export interface Target {
  kc: KubeConfig;
  client: KubeClient;
  namespace: string;
  /** The context used (the current one when none was named). */
  context: string;
}

/** The kubeconfig as kubectl reads it: --kubeconfig, else $KUBECONFIG (a list), else ~/.kube/config, else in-cluster. */
export function connect(connection: Connection): Target {
  const kc = new KubeConfig();
  try {
    if (connection.kubeconfig) kc.loadFromFile(connection.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new ConnectError(
      `cannot read the kubeconfig ${connection.kubeconfig ?? '($KUBECONFIG or ~/.kube/config)'}: ${(err as Error).message}`,
    );
  }
  if (connection.context) {
    if (!kc.getContextObject(connection.context)) {
      throw new ConnectError(
        `context "${connection.context}" is not in the kubeconfig (${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        })`,
      );
    }
    kc.setCurrentContext(connection.context);
  }
  if (!kc.getCurrentCluster()) throw new ConnectError('the kubeconfig has no current context or cluster; use --context or --kubeconfig');
  const namespace = connection.namespace || kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
  return { kc, client: createKubeClient(kc), namespace, context: kc.getCurrentContext() };
}
