import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { elapsed, step } from './log.ts';
import { cachePath } from './paths.ts';
import { run, which } from './proc.ts';

/**
 * The Kubernetes control plane, kwok and helm, built from source with Go through the module
 * proxy (nothing else can be downloaded here), cached per version outside the repo.
 */

const kubeModuleDir = join(import.meta.dirname, '..', '..', 'kube-binaries');
const goMod = readFileSync(join(kubeModuleDir, 'go.mod'), 'utf8');

function requiredVersion(module: string): string {
  const match = goMod.match(new RegExp(`^\\s*${module.replaceAll('.', '\\.')} (v\\S+)`, 'm'));
  if (!match?.[1]) throw new Error(`packages/testkit/kube-binaries/go.mod does not require ${module}`);
  return match[1];
}

export const KUBERNETES_VERSION = requiredVersion('k8s.io/kubernetes');
export const ETCD_VERSION = requiredVersion('go.etcd.io/etcd/server/v3');
export const KWOK_VERSION = 'v0.8.0';
export const HELM_VERSION = 'v3.22.0';
export const GATEWAY_API_VERSION = 'v1.6.3';

/** What `go build` makes from packages/testkit/kube-binaries; kubectl is for people using the playground. */
export const CONTROL_PLANE = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'] as const;
export type ControlPlaneBinary = (typeof CONTROL_PLANE)[number] | 'kwok';

function ensureGo(component: string): string {
  const go = which('go', ['/usr/local/go/bin']);
  if (!go) throw new Error(`${component}: needs the Go toolchain (go) to build from source; install Go >= 1.26 and put it on PATH`);
  return go;
}

/** Directory with etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok. */
export function kubeBinDir(): string {
  return process.env.HARNESS_KUBE_BIN_DIR || cachePath('kube', `${KUBERNETES_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}`);
}

export function kubeBinary(name: ControlPlaneBinary): string {
  return join(kubeBinDir(), name);
}

export function helmBinary(): string {
  return process.env.HARNESS_HELM || join(cachePath('helm', HELM_VERSION), 'helm');
}

/** kwok's own "fast" stages (what kwokctl uses): nodes turn Ready and keep a lease, pods turn Ready. */
export const KWOK_STAGES = 'kwok-stages.yaml';
const KWOK_STAGE_FILES = [
  'node/fast/node-initialize.yaml',
  'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'pod/fast/pod-ready.yaml',
  'pod/fast/pod-complete.yaml',
  'pod/fast/pod-delete.yaml',
];

export async function installKubeBinaries(): Promise<void> {
  const dir = kubeBinDir();
  const missing = [...CONTROL_PLANE, 'kwok', KWOK_STAGES].filter((b) => !existsSync(join(dir, b)));
  if (missing.length === 0) return;
  if (process.env.HARNESS_KUBE_BIN_DIR) {
    throw new Error(`kube: HARNESS_KUBE_BIN_DIR=${dir} lacks ${missing.join(', ')}`);
  }
  const go = ensureGo('kube');
  mkdirSync(dir, { recursive: true });
  if (missing.some((b) => (CONTROL_PLANE as readonly string[]).includes(b))) await buildControlPlane(go, dir);
  if (missing.includes('kwok') || missing.includes(KWOK_STAGES)) {
    await goInstall(go, 'kwok', 'sigs.k8s.io/kwok/cmd/kwok', KWOK_VERSION, dir);
    // The stages ship in kwok's module, which `go install` just put in the module cache.
    const { stdout } = await run(go, ['env', 'GOMODCACHE']);
    const stageDir = join(stdout.trim(), `sigs.k8s.io/kwok@${KWOK_VERSION}`, 'kustomize', 'stage');
    const stages = KWOK_STAGE_FILES.map((f) => readFileSync(join(stageDir, f), 'utf8').trim());
    writeFileSync(join(dir, KWOK_STAGES), `${stages.join('\n---\n')}\n`);
  }
}

async function buildControlPlane(go: string, dir: string): Promise<void> {
  const started = Date.now();
  const [major, minor] = KUBERNETES_VERSION.replace(/^v/, '').split('.');
  // The same version stamps Kubernetes' own build sets (hack/lib/version.sh), so /version is right.
  const stamp = (pkg: string) =>
    [
      `-X ${pkg}.gitVersion=${KUBERNETES_VERSION}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    ].join(' ');
  const ldflags = `-s -w ${stamp('k8s.io/component-base/version')} ${stamp('k8s.io/client-go/pkg/version')}`;
  const out = join(dir, '.build');
  mkdirSync(out, { recursive: true });
  step(
    'kube',
    `building ${CONTROL_PLANE.join(', ')} (Kubernetes ${KUBERNETES_VERSION}, etcd ${ETCD_VERSION}) with Go (cold: 5-8 min on 2 cores)`,
  );
  await run(
    go,
    [
      'build',
      '-trimpath',
      '-ldflags',
      ldflags,
      '-o',
      `${out}/`,
      'k8s.io/kubernetes/cmd/kube-apiserver',
      'k8s.io/kubernetes/cmd/kube-controller-manager',
      'k8s.io/kubernetes/cmd/kube-scheduler',
      'k8s.io/kubernetes/cmd/kubectl',
      'go.etcd.io/etcd/server/v3',
    ],
    { cwd: kubeModuleDir, env: { ...process.env, CGO_ENABLED: '0' }, progress: { component: 'kube', what: 'building the control plane' } },
  );
  // `go build` names a major-version module's command after its parent directory ("server").
  renameSync(join(out, 'server'), join(dir, 'etcd'));
  for (const b of CONTROL_PLANE.filter((n) => n !== 'etcd')) renameSync(join(out, b), join(dir, b));
  rmSync(out, { recursive: true, force: true });
  step('kube', `control plane built in ${elapsed(started)}`);
}

/** `go install pkg@version` into `dir`: the tool's own go.mod decides its dependencies. */
async function goInstall(go: string, name: string, pkg: string, version: string, dir: string, ldflags = ''): Promise<void> {
  const started = Date.now();
  step(name, `go install ${pkg}@${version}`);
  await run(go, ['install', '-trimpath', '-ldflags', `-s -w ${ldflags}`, `${pkg}@${version}`], {
    env: { ...process.env, GOBIN: dir, CGO_ENABLED: '0' },
    progress: { component: name, what: `building ${name}` },
  });
  step(name, `built in ${elapsed(started)}`);
}

export async function installHelm(): Promise<void> {
  if (existsSync(helmBinary())) return;
  if (process.env.HARNESS_HELM) throw new Error(`helm: HARNESS_HELM=${process.env.HARNESS_HELM} does not exist`);
  // helm reports its version from a variable its release build stamps.
  const stamp = `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`;
  await goInstall(ensureGo('helm'), 'helm', 'helm.sh/helm/v3/cmd/helm', HELM_VERSION, cachePath('helm', HELM_VERSION), stamp);
}

export const EXTERNAL_DNS_VERSION = 'v0.23.0';
/** The Go release ExternalDNS's go.mod asks for, newer than the machine's: only its build uses it. */
const EXTERNAL_DNS_TOOLCHAIN = 'go1.27.3';

/** The cache entry of the build: the version and what was trimmed (a build with more providers is another entry). */
const EXTERNAL_DNS_BUILD = `${EXTERNAL_DNS_VERSION}-aws-only`;

export function externalDnsBinary(): string {
  return process.env.HARNESS_EXTERNAL_DNS || join(cachePath('external-dns', EXTERNAL_DNS_BUILD), 'external-dns');
}

/**
 * ExternalDNS's providers other than AWS, which the tests do not use: each links its cloud's SDK
 * (Azure's, Google's, Oracle's, Alibaba's...), and the module proxy refuses the sources behind two
 * of them (github.com/civo/civogo, github.com/exoscale/egoscale/v3).
 */
const EXTERNAL_DNS_UNUSED_PROVIDERS = [
  'alibabacloud',
  'awssd',
  'azure',
  'civo',
  'cloudflare',
  'coredns',
  'dnsimple',
  'exoscale',
  'godaddy',
  'google',
  'inmemory',
  'linode',
  'ns1',
  'oci',
  'ovh',
  'pdns',
  'pihole',
  'rfc2136',
  'scaleway',
  'webhook',
];

/**
 * What the build leaves out of ExternalDNS: every provider but AWS (above), and the OpenShift
 * Route source (the proxy refuses github.com/openshift/api), none of which the tests use; fewer
 * packages to compile on a cold machine. Each edit removes text that must be there: a version bump
 * that moved it fails the build here, by name.
 */
export const EXTERNAL_DNS_TRIM: { file: string; remove: (string | RegExp)[] }[] = [
  {
    file: 'provider/factory/provider.go',
    remove: EXTERNAL_DNS_UNUSED_PROVIDERS.flatMap((p) => [
      `\t"sigs.k8s.io/external-dns/provider/${p}"\n`,
      // Every name the provider goes by (azure: three).
      new RegExp(`\\t\\texternaldns\\.Provider\\w+: +${p}\\.New\\w*,\\n`, 'g'),
    ]),
  },
  {
    file: 'source/store.go',
    remove: [
      '\topenshift "github.com/openshift/client-go/route/clientset/versioned"\n',
      '\tOpenShiftClient() (openshift.Interface, error)\n',
      /\topenshiftClient +openshift\.Interface\n/,
      /\topenshiftClientErr +error\n/,
      /\topenshiftOnce +sync\.Once\n/,
      /\/\/ OpenShiftClient generates[\s\S]*?\n}\n/,
      '\tcase types.OpenShiftRoute:\n\t\treturn buildOpenShiftRouteSource(ctx, p, cfg)\n',
      /func buildOpenShiftRouteSource\([\s\S]*?\n}\n/,
    ],
  },
];
const EXTERNAL_DNS_TRIM_FILES = ['source/openshift_route.go'];

/** `text` without each of `remove`; throws naming the first one it does not find. */
export function trimSource(file: string, text: string, remove: readonly (string | RegExp)[]): string {
  let out = text;
  for (const r of remove) {
    const found = typeof r === 'string' ? out.includes(r) : r.test(out);
    if (!found) throw new Error(`external-dns: ${file} no longer has ${JSON.stringify(String(r))}: update EXTERNAL_DNS_TRIM`);
    out = out.replace(r, '');
  }
  return out;
}

/**
 * ExternalDNS, for the tests where it writes the same hosted zone as the operator. Built in a
 * copy of its module (trimmed as EXTERNAL_DNS_TRIM says, so `go install` cannot do it). Its
 * go.mod needs Go 1.27: GOTOOLCHAIN in this one build's environment has the go command fetch
 * that toolchain from the module proxy; every other build stays on the machine's Go.
 */
export async function installExternalDns(): Promise<void> {
  const binary = externalDnsBinary();
  if (existsSync(binary)) return;
  if (process.env.HARNESS_EXTERNAL_DNS) {
    throw new Error(`external-dns: HARNESS_EXTERNAL_DNS=${process.env.HARNESS_EXTERNAL_DNS} does not exist`);
  }
  const go = ensureGo('external-dns');
  const env = { ...process.env, GOTOOLCHAIN: EXTERNAL_DNS_TOOLCHAIN, CGO_ENABLED: '0' };
  const started = Date.now();
  const module = 'sigs.k8s.io/external-dns';
  step(
    'external-dns',
    `go build ${module}@${EXTERNAL_DNS_VERSION} with ${EXTERNAL_DNS_TOOLCHAIN} (cold: about 5.5 min of CPU, 3–4 min alone on 2 cores)`,
  );
  const { stdout } = await run(go, ['mod', 'download', '-json', `${module}@${EXTERNAL_DNS_VERSION}`], { env });
  const src = join(cachePath('external-dns', EXTERNAL_DNS_BUILD), '.src');
  rmSync(src, { recursive: true, force: true });
  // The module cache is read-only: the copy is writable, so it can be trimmed (and removed).
  cpSync((JSON.parse(stdout) as { Dir: string }).Dir, src, { recursive: true });
  await run('chmod', ['-R', 'u+w', src]);
  for (const { file, remove } of EXTERNAL_DNS_TRIM) {
    writeFileSync(join(src, file), trimSource(file, readFileSync(join(src, file), 'utf8'), remove));
  }
  for (const file of EXTERNAL_DNS_TRIM_FILES) rmSync(join(src, file));
  // ExternalDNS's release build stamps its version here (its Makefile's LDFLAGS).
  const stamp = `-X ${module}/pkg/apis/externaldns.Version=${EXTERNAL_DNS_VERSION}`;
  await run(go, ['build', '-trimpath', '-ldflags', `-s -w ${stamp}`, '-o', binary, '.'], {
    cwd: src,
    env,
    progress: { component: 'external-dns', what: 'building external-dns' },
  });
  rmSync(src, { recursive: true, force: true });
  step('external-dns', `built in ${elapsed(started)}`);
}

/** Files shipped inside a Go module, copied once into the cache (`go mod download`, no build). */
async function filesFromGoModule(name: string, module: string, version: string, subdir: string, files: string[]): Promise<string[]> {
  const dir = cachePath(name, version);
  const paths = files.map((f) => join(dir, f));
  if (paths.every((f) => existsSync(f))) return paths;
  step(name, `go mod download ${module}@${version}`);
  const { stdout } = await run(ensureGo(name), ['mod', 'download', '-json', `${module}@${version}`]);
  const source = join((JSON.parse(stdout) as { Dir: string }).Dir, subdir);
  mkdirSync(dir, { recursive: true });
  for (const f of files) copyFileSync(join(source, f), join(dir, f));
  return paths;
}

/**
 * The Gateway API's standard CRDs (GatewayClass, Gateway, HTTPRoute), taken from its Go module
 * so tests can check the operator's HTTPRoutes against the real schema.
 */
export function gatewayApiCrds(): Promise<string[]> {
  const files = ['gatewayclasses', 'gateways', 'httproutes'].map((p) => `gateway.networking.k8s.io_${p}.yaml`);
  return filesFromGoModule('gateway-api', 'sigs.k8s.io/gateway-api', GATEWAY_API_VERSION, 'config/crd/standard', files);
}

export const PROMETHEUS_OPERATOR_VERSION = 'v0.85.0';

/** The Prometheus Operator's ServiceMonitor and PrometheusRule CRDs, for the operator chart's optional objects. */
export function prometheusOperatorCrds(): Promise<string[]> {
  const files = ['servicemonitors', 'prometheusrules'].map((p) => `monitoring.coreos.com_${p}.yaml`);
  return filesFromGoModule(
    'prometheus-operator',
    'github.com/prometheus-operator/prometheus-operator',
    PROMETHEUS_OPERATOR_VERSION,
    'example/prometheus-operator-crd',
    files,
  );
}

export const SKAFFOLD_VERSION = 'v2.16.1';

export function skaffoldBinary(): string {
  return process.env.HARNESS_SKAFFOLD || join(cachePath('skaffold', SKAFFOLD_VERSION), 'skaffold');
}

/**
 * skaffold, for the tests that render skaffold.yaml with skaffold's own parser. Built from its
 * module's directory rather than with `go install`: the proxy serves its versions only by exact
 * version, and `go install` first asks for the version list (to check for a deprecation) and
 * stops at the refusal. Cold: about 4 min on 2 cores.
 */
export async function installSkaffold(): Promise<void> {
  const binary = skaffoldBinary();
  if (existsSync(binary)) return;
  if (process.env.HARNESS_SKAFFOLD) throw new Error(`skaffold: HARNESS_SKAFFOLD=${process.env.HARNESS_SKAFFOLD} does not exist`);
  const go = ensureGo('skaffold');
  const started = Date.now();
  mkdirSync(cachePath('skaffold', SKAFFOLD_VERSION), { recursive: true });
  const module = 'github.com/GoogleContainerTools/skaffold/v2';
  step('skaffold', `go build ${module}/cmd/skaffold@${SKAFFOLD_VERSION} (cold: about 4 min on 2 cores)`);
  const { stdout } = await run(go, ['mod', 'download', '-json', `${module}@${SKAFFOLD_VERSION}`]);
  const stamp = `-X ${module}/pkg/skaffold/version.version=${SKAFFOLD_VERSION}`;
  await run(go, ['build', '-trimpath', '-ldflags', `-s -w ${stamp}`, '-o', binary, './cmd/skaffold'], {
    cwd: (JSON.parse(stdout) as { Dir: string }).Dir,
    env: { ...process.env, CGO_ENABLED: '0' },
    progress: { component: 'skaffold', what: 'building skaffold' },
  });
  step('skaffold', `built in ${elapsed(started)}`);
}
