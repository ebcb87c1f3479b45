import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { waitUntil } from '../poll.ts';
import { ensureDebianTools } from './debian.ts';
import { KWOK_STAGES, kubeBinary, kubeBinDir } from './go-tools.ts';
import { elapsed, step } from './log.ts';
import { freePort } from './ports.ts';
import { run, type Server, startServer, stopServers } from './proc.ts';

/**
 * A real Kubernetes control plane on loopback, started the way controller-runtime's envtest
 * does (throwaway CA and serving certificate, admin kubeconfig, RBAC on), plus the
 * controller manager (Deployments → ReplicaSets → Pods, garbage collection), the scheduler,
 * and kwok, which plays the kubelet of one fake node so that Pods become Ready.
 */

export interface KubeEnv {
  KUBECONFIG: string;
}

export const KWOK_NODE = 'kwok-node-0';
const SERVICE_CIDR = '10.96.0.0/16';

export async function installOpenssl(): Promise<void> {
  await ensureDebianTools('kube', [{ binary: 'openssl', pkg: 'openssl' }]);
}

interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

/** ECDSA P-256 keys; certificates valid for two days, signed by a CA made for this run. */
async function makePki(dir: string): Promise<Pki> {
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-subj', '/CN=harness-ca']);
  const signed = (name: string, subject: string, extensions: string[]) =>
    run('openssl', [
      'req',
      '-x509',
      ...ec,
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.crt`),
      '-subj',
      subject,
      ...extensions.flatMap((e) => ['-addext', e]),
    ]);
  await Promise.all([
    signed('apiserver', '/CN=kube-apiserver', [
      'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes.default.svc',
      'extendedKeyUsage=serverAuth',
    ]),
    // O=system:masters: the admin identity the tests and the harness's own components use.
    signed('admin', '/O=system:masters/CN=harness-admin', ['extendedKeyUsage=clientAuth']),
    run('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', f('sa.key')]),
  ]);
  await run('openssl', ['ec', '-in', f('sa.key'), '-pubout', '-out', f('sa.pub')]);
  return {
    caCert: f('ca.crt'),
    caKey: f('ca.key'),
    serverCert: f('apiserver.crt'),
    serverKey: f('apiserver.key'),
    adminCert: f('admin.crt'),
    adminKey: f('admin.key'),
    saKey: f('sa.key'),
    saPub: f('sa.pub'),
  };
}

function writeKubeconfig(file: string, server: string, pki: Pki, name: string): void {
  const b64 = (path: string) => readFileSync(path).toString('base64');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
  - name: ${name}
    cluster:
      server: ${server}
      certificate-authority-data: ${b64(pki.caCert)}
users:
  - name: ${name}-admin
    user:
      client-certificate-data: ${b64(pki.adminCert)}
      client-key-data: ${b64(pki.adminKey)}
contexts:
  - name: ${name}
    context: { cluster: ${name}, user: ${name}-admin, namespace: default }
current-context: ${name}
`,
    { mode: 0o600 },
  );
}

/** GET `path` on the API server as admin; resolves with the status and body. */
function apiGet(server: string, pki: Pki, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}${path}`,
      { ca: readFileSync(pki.caCert), cert: readFileSync(pki.adminCert), key: readFileSync(pki.adminKey), timeout: 5000 },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok in `dir`
 * (`name` tells clusters apart when a test runs two) and waits until the fake node is Ready.
 */
export async function startKubeControlPlane(dir: string, name = 'harness') {
  const started = Date.now();
  mkdirSync(dir, { recursive: true });
  const pki = await makePki(dir);
  const [etcdPort, etcdPeerPort, apiPort, kcmPort, schedPort, kwokPort] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const servers: Server[] = [];
  const log = (component: string) => ({ logFile: join(dir, `${component}.log`) });

  const etcd = startServer(
    `${name}-etcd`,
    kubeBinary('etcd'),
    [
      `--name=${name}`,
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=${name}=http://127.0.0.1:${etcdPeerPort}`,
      // envtest does the same: a throwaway store needs no fsync, and tests get much faster.
      '--unsafe-no-fsync=true',
      '--quota-backend-bytes=4294967296',
    ],
    log('etcd'),
  );
  servers.push(etcd);
  try {
    await waitUntil('etcd', async () => (await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok, { server: etcd, timeoutMs: 60_000 });

    const apiServer = `https://127.0.0.1:${apiPort}`;
    const startApiServer = async (port = apiPort, serverName = `${name}-kube-apiserver`, logName = 'kube-apiserver') => {
      const server = startServer(
        serverName,
        kubeBinary('kube-apiserver'),
        [
          `--etcd-servers=http://127.0.0.1:${etcdPort}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--secure-port=${port}`,
          `--cert-dir=${dir}`,
          `--tls-cert-file=${pki.serverCert}`,
          `--tls-private-key-file=${pki.serverKey}`,
          `--client-ca-file=${pki.caCert}`,
          '--service-account-issuer=https://kubernetes.default.svc',
          `--service-account-key-file=${pki.saPub}`,
          `--service-account-signing-key-file=${pki.saKey}`,
          `--service-cluster-ip-range=${SERVICE_CIDR}`,
          '--authorization-mode=RBAC',
          '--allow-privileged=true',
          '--profiling=false',
        ],
        log(logName),
      );
      const url = `https://127.0.0.1:${port}`;
      await waitUntil(serverName, async () => (await apiGet(url, pki, '/readyz')).status === 200, {
        server,
        timeoutMs: 120_000,
        intervalMs: 500,
      });
      return server;
    };
    const apiserverIndex = servers.push(await startApiServer()) - 1;
    /**
     * Stops and starts kube-apiserver on the same port, the way a control-plane upgrade does;
     * `whileDown` runs in between (e.g. writes through a second API server that its clients miss).
     */
    const restartApiServer = async (whileDown: () => Promise<void> = async () => {}) => {
      await servers[apiserverIndex]?.stop();
      await whileDown();
      servers[apiserverIndex] = await startApiServer();
    };
    const kubeconfig = join(dir, 'admin.kubeconfig');
    writeKubeconfig(kubeconfig, apiServer, pki, name);
    /** A second kube-apiserver on the same etcd, as in an HA control plane; returns its admin kubeconfig. */
    const startSecondApiServer = async () => {
      const port = await freePort();
      servers.push(await startApiServer(port, `${name}-kube-apiserver-2`, 'kube-apiserver-2'));
      const file = join(dir, 'admin-2.kubeconfig');
      writeKubeconfig(file, `https://127.0.0.1:${port}`, pki, name);
      return file;
    };
    const asAdmin = [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`];

    servers.push(
      startServer(
        `${name}-kube-controller-manager`,
        kubeBinary('kube-controller-manager'),
        [
          ...asAdmin,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          `--secure-port=${kcmPort}`,
          `--service-account-private-key-file=${pki.saKey}`,
          `--root-ca-file=${pki.caCert}`,
          `--cluster-signing-cert-file=${pki.caCert}`,
          `--cluster-signing-key-file=${pki.caKey}`,
          `--service-cluster-ip-range=${SERVICE_CIDR}`,
          // Fake nodes have no cloud and no routes to allocate.
          '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
        ],
        log('kube-controller-manager'),
      ),
      startServer(
        `${name}-kube-scheduler`,
        kubeBinary('kube-scheduler'),
        [...asAdmin, '--leader-elect=false', '--bind-address=127.0.0.1', `--secure-port=${schedPort}`],
        log('kube-scheduler'),
      ),
      startServer(
        `${name}-kwok`,
        kubeBinary('kwok'),
        [
          `--kubeconfig=${kubeconfig}`,
          `--config=${join(kubeBinDir(), KWOK_STAGES)}`,
          '--node-lease-duration-seconds=40',
          '--manage-all-nodes=false',
          '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
          '--cidr=10.244.0.0/16',
          '--node-ip=10.0.0.1',
          `--server-address=127.0.0.1:${kwokPort}`,
        ],
        log('kwok'),
      ),
    );

    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNode({ body: fakeNode(KWOK_NODE) });
    const kwok = servers.at(-1);
    // Generous: on a loaded machine kwok's first status update has taken over a minute.
    await waitUntil(
      `node ${KWOK_NODE} Ready (kwok)`,
      async () => {
        const node = await core.readNode({ name: KWOK_NODE });
        if (node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return true;
        throw new Error(`its conditions: ${JSON.stringify(node.status?.conditions?.map((c) => `${c.type}=${c.status}`) ?? [])}`);
      },
      { timeoutMs: 180_000, intervalMs: 250, ...(kwok ? { server: kwok } : {}) },
    );
    // Pods need their namespace's default ServiceAccount, which the controller manager makes.
    await waitUntil(
      'default ServiceAccount',
      async () => {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
        return true;
      },
      { timeoutMs: 60_000 },
    );
    step('kube', `${name}: ${apiServer} ready in ${elapsed(started)} (KUBECONFIG=${kubeconfig})`);
    const env: KubeEnv = { KUBECONFIG: kubeconfig };
    return { env, servers, restartApiServer, startSecondApiServer };
  } catch (err) {
    await stopServers(servers);
    throw err;
  }
}

function fakeNode(name: string) {
  // Room for thousands of fake pods (the operator benchmark runs 1,000 Reservations).
  const resources = { cpu: '1000', memory: '4Ti', pods: '10000' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    status: { allocatable: resources, capacity: resources },
  };
}
