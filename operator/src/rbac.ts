import { type KindName, RESOURCE_TYPES } from './kube/resources.ts';
import { LEASE_NAME } from './leader-election.ts';
import { OWNED_KINDS } from './manager.ts';
import { CLUSTER_IDENTITY_NAMESPACE } from './traffic/ownership.ts';

/**
 * The RBAC the operator needs, read off what its code does. The chart's ClusterRole (or Role)
 * and the leader-election Role must equal these rules (a test renders the chart and compares),
 * and an impersonation test checks them against a real API server.
 *
 * `USES` is keyed by every kind in RESOURCE_TYPES, so a kind added there without saying how the
 * operator uses it does not typecheck.
 */

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

type Use =
  /** The Reservation itself: its informer, the finalizer (apply), the status (apply to /status). */
  | 'primary'
  /** A kind a Reservation owns: informer, server-side apply (which creates when absent), prune. */
  | 'owned'
  /** Read only, through an informer (Gateways: their address is the edge's hostname). */
  | 'watched'
  /** Listed now and then, never watched (a cutover analysis scrapes the Reservation's pods: traffic/analysis/pods.ts). */
  | 'listed'
  /** Events written by the recorder (reconcile/events.ts): POST only. */
  | 'recorded'
  /** The leader-election Lease (leader-election.ts): GET, POST when absent, PUT to renew. */
  | 'leaderElection'
  /** kube-system, read once at start: its UID makes the default owner id this cluster's own (manager.ts). */
  | 'clusterIdentity'
  /** Not used by the running operator (only by tests and installers), so not granted. */
  | 'notAtRuntime';

const USES: Record<KindName, Use> = {
  Reservation: 'primary',
  ConfigMap: 'owned',
  ServiceAccount: 'owned',
  Service: 'owned',
  Deployment: 'owned',
  HorizontalPodAutoscaler: 'owned',
  PodDisruptionBudget: 'owned',
  Ingress: 'owned',
  HTTPRoute: 'owned',
  Event: 'recorded',
  Pod: 'listed',
  Gateway: 'watched',
  Lease: 'leaderElection',
  Namespace: 'clusterIdentity',
  // The CRD is installed by the chart (helm's crds/) or by `kubectl apply`, never by the operator.
  CustomResourceDefinition: 'notAtRuntime',
};

const INFORMER = ['list', 'watch'];
// A server-side apply is a PATCH; when the object does not exist yet, the API server also
// checks `create` (the apply creates it). Pruning deletes. An object missing from the cache is
// read once before its creation, so that one made by someone else is not adopted (get).
const OWNED_VERBS = [...INFORMER, 'get', 'create', 'patch', 'delete'];

const groupOf = (kind: KindName) => {
  const { apiVersion } = RESOURCE_TYPES[kind];
  return apiVersion.includes('/') ? (apiVersion.split('/')[0] as string) : '';
};

function rule(kind: KindName, verbs: string[], subresource?: string): PolicyRule {
  const { plural } = RESOURCE_TYPES[kind];
  return { apiGroups: [groupOf(kind)], resources: [subresource ? `${plural}/${subresource}` : plural], verbs };
}

/** The kinds with a use, in RESOURCE_TYPES order. */
const kindsUsedAs = (use: Use) => (Object.keys(USES) as KindName[]).filter((k) => USES[k] === use);

export interface OperatorRbac {
  /**
   * Where Reservations live: a ClusterRole when the operator watches every namespace, a Role in
   * the watched namespace when it watches one (WATCH_NAMESPACE).
   */
  reconcile: PolicyRule[];
  /** A Role in the leader-election namespace (LEADER_ELECTION_NAMESPACE). */
  leaderElection: PolicyRule[];
  /**
   * A ClusterRole (namespaces are cluster-scoped) whatever the watch scope, needed only when no
   * TXT_OWNER_ID is set: reading the one namespace whose UID tells this cluster from another.
   */
  clusterIdentity: PolicyRule[];
}

export function operatorRbac(): OperatorRbac {
  const owned = kindsUsedAs('owned');
  // Keep the table and the manager's list of owned informers from drifting apart.
  const missing = OWNED_KINDS.filter((k) => !owned.includes(k));
  const extra = owned.filter((k) => !OWNED_KINDS.includes(k));
  if (missing.length || extra.length) {
    throw new Error(`rbac.ts and OWNED_KINDS disagree: missing ${missing.join(', ') || 'none'}, extra ${extra.join(', ') || 'none'}`);
  }
  const reconcile: PolicyRule[] = [];
  for (const kind of kindsUsedAs('primary')) {
    reconcile.push(
      rule(kind, [...INFORMER, 'patch']),
      rule(kind, ['patch'], 'status'),
      // The owner references the operator writes set blockOwnerDeletion; where the
      // OwnerReferencesPermissionEnforcement admission plugin is on (OpenShift, some managed
      // clusters) that needs `update` on the owner's finalizers subresource.
      rule(kind, ['update'], 'finalizers'),
    );
  }
  reconcile.push(...owned.map((k) => rule(k, OWNED_VERBS)));
  reconcile.push(...kindsUsedAs('watched').map((k) => rule(k, INFORMER)));
  reconcile.push(...kindsUsedAs('listed').map((k) => rule(k, ['list'])));
  reconcile.push(...kindsUsedAs('recorded').map((k) => rule(k, ['create'])));
  return {
    reconcile,
    // Creating cannot be limited to a name (the name is in the body, not the URL); reading and
    // renewing can: only the operator's own Lease.
    leaderElection: kindsUsedAs('leaderElection').flatMap((k) => [
      rule(k, ['create']),
      { ...rule(k, ['get', 'update']), resourceNames: [LEASE_NAME] },
    ]),
    clusterIdentity: kindsUsedAs('clusterIdentity').map((k) => ({ ...rule(k, ['get']), resourceNames: [CLUSTER_IDENTITY_NAMESPACE] })),
  };
}
