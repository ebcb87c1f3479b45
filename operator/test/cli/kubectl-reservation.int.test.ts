import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { harnessEnv, kubeBinary, type Server, startServer, waitUntil } from '@reservations/testkit';
import {
  API_VERSION,
  CUTOVER_REQUEST_ANNOTATION,
  type CutoverStatus,
  KIND,
  type Reservation,
  type ReservationStatus,
  TAKE_BACK_ANNOTATION,
} from '../../src/api/v1alpha1/reservation.ts';
import type { CutoverView } from '../../src/cli/cutover-view.ts';
import { requestVerb, startCutover } from '../../src/cli/steer.ts';
import { createKubeClient, type KubeClient, PATCH } from '../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import { createTestNamespace, installCrds, testKubeConfig } from '../support/kube.ts';
import { kubectl, pluginEnv } from './plugin.ts';
import { states } from './states.ts';

/**
 * The plugin as an SRE runs it: `kubectl reservation ...` through the real kubectl the harness
 * builds, which finds operator/bin/kubectl-reservation on PATH, against the harness's API server.
 * The test plays the operator: it writes status.traffic.cutover through the status subresource.
 */

const kc = testKubeConfig();
const kube = createKubeClient(kc);
let namespace: string;
const live: Server[] = [];

const path = (name?: string) => resourcePath(RESOURCE_TYPES.Reservation, namespace, name);
const read = (name: string) => kube.request<Reservation>('GET', path(name));
const annotation = async (name: string) => (await read(name)).metadata.annotations?.[CUTOVER_REQUEST_ANNOTATION];

async function create(name: string, state: Reservation): Promise<void> {
  await kube.request('POST', path(), { body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: state.spec } });
  if (state.status) await writeStatus(name, state.status);
}

/** As the operator writes its status: server-side apply on the status subresource. */
async function writeStatus(name: string, status: ReservationStatus): Promise<void> {
  await kube.apply({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, status }, 'reservation-operator', {
    subresource: 'status',
  });
}

async function writeCutover(name: string, changes: Partial<CutoverStatus>, phase = changes.phase): Promise<void> {
  const { status } = await read(name);
  const cutover = status?.traffic?.cutover;
  if (!status?.traffic || !cutover) throw new Error(`${name} has no cutover status`);
  await writeStatus(name, { ...status, phase: phase ?? status.phase, traffic: { ...status.traffic, cutover: { ...cutover, ...changes } } });
}

beforeAll(async () => {
  await installCrds(kc);
  namespace = await createTestNamespace(kc, 'plugin');
  await create('booking', states.progressing());
  await create('done', states.succeeded());
  await create('plain', states.noCutover());
});
afterAll(async () => {
  for (const server of live) await server.stop();
});

describe('kubectl reservation status', () => {
  it('shows the plan with the current step, both weights, the share and the history', async () => {
    const { code, stdout, stderr } = await kubectl(['reservation', 'status', 'booking', '-n', namespace]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain(`${namespace}/booking  Progressing`);
    expect(stdout).toMatch(/✓ {2}2\. pause 5m\n {2}▶ {2}3\. setShare 40% {3}← now\n {5}4\. analysis smoke/);
    expect(stdout).toMatch(/eks-green \(this cluster\)\s+40\s+10\n\s+eks-blue \(peer\)\s+60\s+90/);
    expect(stdout).toContain('] 10% → 40%');
    expect(stdout).toContain('StepStarted       setShare 40%');
    expect(stdout).toContain('TrafficReady  False ChangePending');
    expect(stdout).not.toContain('\x1b['); // not a TTY: no colour
  });

  it('with -o json, prints the view as one JSON document: the plan, both weights, the share and the verbs', async () => {
    const { code, stdout, stderr } = await kubectl(['reservation', 'status', 'booking', '-n', namespace, '-o', 'json']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const view = JSON.parse(stdout) as CutoverView;
    expect(stdout).toBe(`${JSON.stringify(view, null, 2)}\n`); // one document, 2-space indent, a newline at the end
    expect(view).toMatchObject({
      namespace,
      name: 'booking',
      phase: 'Progressing',
      record: { name: 'api.reservations.example.com', setIdentifier: 'eks-green', verifiedWeight: 10 },
      cutover: {
        phase: 'Progressing',
        stepCount: 6,
        currentStep: { number: 3 },
        share: { desiredPercent: 40, verifiedPercent: 10 },
        weights: { self: { desiredWeight: 40, verifiedWeight: 10 }, peer: { setIdentifier: 'eks-blue', desiredWeight: 60 } },
      },
      trafficReady: { status: 'False', reason: 'ChangePending' },
      allowedVerbs: ['pause', 'promote', 'promote-full', 'abort'],
    });
    expect(view.plan?.steps.map((s) => `${s.state} ${s.description}`)).toEqual([
      'done setShare 10%',
      'done pause 5m',
      'current setShare 40%',
      'pending analysis smoke',
      'pending pause until promoted',
      'pending setShare 100%',
    ]);

    const yaml = await kubectl(['reservation', 'status', 'booking', '-n', namespace, '--output=yaml']);
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toMatch(/^error: --output must be one of text, json, not "yaml"\n/);
  });

  it('says "no cutover" for a Reservation without one, and takes --kubeconfig instead of $KUBECONFIG', async () => {
    const { code, stdout } = await kubectl(
      ['reservation', 'status', 'plain', '-n', namespace, '--kubeconfig', harnessEnv('KUBECONFIG')],
      pluginEnv({ KUBECONFIG: undefined, HOME: mkdtempSync(join(tmpdir(), 'no-kube-')) }),
    );
    expect(code).toBe(0);
    expect(stdout).toContain('no cutover (spec.traffic.cutover is not set)');
    expect(stdout).toContain('desired 10, verified 10');
  });

  it('fails with exit code 1 and says so for a Reservation that does not exist', async () => {
    const { code, stdout, stderr } = await kubectl(['reservation', 'status', 'nope', '-n', namespace]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(`error: Reservation "nope" not found in namespace "${namespace}"\n`);
  });

  it('fails with exit code 1 for a context the kubeconfig does not have, and 2 for a wrong command line', async () => {
    const noContext = await kubectl(['reservation', 'status', 'booking', '-n', namespace, '--context', 'nowhere']);
    expect(noContext.code).toBe(1);
    expect(noContext.stderr).toMatch(/^error: context "nowhere" is not in the kubeconfig/);
    const usage = await kubectl(['reservation', 'status']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^error: status needs the name of a Reservation\n\nUsage: kubectl reservation status NAME/);
  });

  it('with --watch, prints a new render when the status changes, and exits 0 on Ctrl-C', async () => {
    await create('watched', states.progressing());
    const logFile = join(mkdtempSync(join(tmpdir(), 'plugin-watch-')), 'out.log');
    const watch = startServer(
      'kubectl reservation status -w',
      kubeBinary('kubectl'),
      ['reservation', 'status', 'watched', '-w', '-n', namespace],
      {
        logFile,
        env: pluginEnv(),
      },
    );
    live.push(watch);
    const output = () => readFileSync(logFile, 'utf8');
    await waitUntil('the first render', async () => output().includes('Progressing'), { server: watch, timeoutMs: 20_000 });

    await writeCutover('watched', {
      phase: 'Paused',
      message: 'paused by kubectl reservation pause',
      history: [{ at: new Date().toISOString(), step: 2, event: 'Paused', message: 'paused by request' }],
    });
    await waitUntil('a second render after the status change', async () => /\n--- \S+Z\n\S+\/watched {2}Paused\n/.test(output()), {
      server: watch,
      timeoutMs: 20_000,
    });
    expect(output()).toContain('paused by kubectl reservation pause');
    expect(output().split(`${namespace}/watched  `)).toHaveLength(3); // two renders, no more

    process.kill(watch.pid, 'SIGINT');
    expect(await watch.exited).toBe(0);
  });

  it('with --watch -o json, prints one view per change, a line each', async () => {
    await create('watched-json', states.progressing());
    const logFile = join(mkdtempSync(join(tmpdir(), 'plugin-watch-json-')), 'out.log');
    const watch = startServer(
      'kubectl reservation status -w -o json',
      kubeBinary('kubectl'),
      ['reservation', 'status', 'watched-json', '-w', '-o', 'json', '-n', namespace],
      { logFile, env: pluginEnv() },
    );
    live.push(watch);
    // The log has stderr too (the informer's warnings, if any): the views are the lines that are JSON objects.
    const lines = () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'));
    await waitUntil('the first view', async () => lines().length >= 1, { server: watch, timeoutMs: 20_000 });

    await writeCutover('watched-json', { phase: 'Paused', held: true, message: 'paused by kubectl reservation pause' });
    await waitUntil('a second view after the status change', async () => lines().length >= 2, { server: watch, timeoutMs: 20_000 });
    const views = lines().map((line) => JSON.parse(line) as CutoverView);
    expect(views.map((v) => [v.name, v.cutover?.phase, v.cutover?.held])).toEqual([
      ['watched-json', 'Progressing', false],
      ['watched-json', 'Paused', true],
    ]);
    expect(views[1]?.allowedVerbs).toEqual(['resume', 'promote', 'promote-full', 'abort']);

    process.kill(watch.pid, 'SIGINT');
    expect(await watch.exited).toBe(0);
  });
});

/** `kubectl reservation dashboard ARGS --port 0` serving a page built from this checkout, once it has said where. */
async function startPluginDashboard(args: string[], env: Record<string, string> = {}) {
  const scratch = mkdtempSync(join(tmpdir(), 'plugin-dashboard-'));
  await promisify(execFile)(process.execPath, [join(import.meta.dirname, '..', '..', 'build-dashboard.ts'), join(scratch, 'page')]);
  const logFile = join(scratch, 'out.log');
  const dashboard = startServer(
    'kubectl reservation dashboard',
    kubeBinary('kubectl'),
    ['reservation', 'dashboard', ...args, '--port', '0'],
    {
      logFile,
      env: pluginEnv({ ...env, RESERVATION_DASHBOARD_DIR: join(scratch, 'page') }),
    },
  );
  live.push(dashboard);
  const output = () => readFileSync(logFile, 'utf8');
  await waitUntil('the URL', async () => /: http:\/\/127\.0\.0\.1:\d+\/\n/.test(output()), { server: dashboard, timeoutMs: 20_000 });
  return { dashboard, output };
}

/** The URL the plugin printed, and the token its page carries. */
async function pageOf(printed: string): Promise<{ url: string; token: string }> {
  const url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(printed)?.[1] ?? '';
  const token = /name="dashboard-token" content="([^"]+)"/.exec(await (await fetch(url)).text())?.[1] ?? '';
  return { url, token };
}

describe('kubectl reservation dashboard', () => {
  it('serves the page and its state, follows a status change, steers with the token, and exits 0 on Ctrl-C', async () => {
    await create('dashed', states.progressing());
    const { dashboard, output } = await startPluginDashboard(['dashed', '-n', namespace]);
    // One context and no other in the kubeconfig: one cluster, and it says so.
    expect(output()).toContain('warning: no other context has the peer of');
    const { url, token } = await pageOf(output());
    expect(token).toMatch(/^[\w-]{32}$/);
    const phase = async () => {
      const body = (await (await fetch(`${url}api/state?token=${token}`)).json()) as {
        state: { clusters: { reachable: boolean; view?: CutoverView }[] };
      };
      return body.state.clusters.map((c) => [c.reachable, c.view?.cutover?.phase]);
    };
    await waitUntil('the state, Progressing', async () => JSON.stringify(await phase()) === JSON.stringify([[true, 'Progressing']]));
    await writeCutover('dashed', { phase: 'Paused', held: true, message: 'paused by request' });
    await waitUntil('the state, Paused', async () => JSON.stringify(await phase()) === JSON.stringify([[true, 'Paused']]));

    const context = kc.getCurrentContext();
    const resume = await fetch(`${url}api/clusters/${context}/verbs/resume`, {
      method: 'POST',
      headers: { 'x-dashboard-token': token, origin: url.slice(0, -1) },
    });
    expect(resume.status).toBe(202);
    expect(await annotation('dashed')).toMatch(/^resume\//);
    const refused = await fetch(`${url}api/clusters/${context}/verbs/retry`, { method: 'POST', headers: { 'x-dashboard-token': token } });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { detail: string }).detail).toBe(
      `cannot retry ${namespace}/dashed: the cutover is paused (step 3/6, share 40%), not failed; resume or promote to go on`,
    );
    const unknown = await fetch(`${url}api/clusters/${context}/verbs/reboot`, { method: 'POST', headers: { 'x-dashboard-token': token } });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { detail: string }).detail).toMatch(/^verb: "reboot" is not one of/);

    process.kill(dashboard.pid, 'SIGINT');
    expect(await dashboard.exited).toBe(0);
  });
});

describe('kubectl reservation dashboard with one context', () => {
  it("finds the peer in the kubeconfig's other contexts by its set identifier", async () => {
    // Two contexts on the harness's cluster, each with its own namespace: green's and blue's sides.
    const sides = { green: await createTestNamespace(kc, 'plugin-green'), blue: await createTestNamespace(kc, 'plugin-blue') };
    const unrelated = await createTestNamespace(kc, 'plugin-other');
    const post = (ns: string, state: Reservation) =>
      kube.request('POST', resourcePath(RESOURCE_TYPES.Reservation, ns), {
        body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: 'paired' }, spec: state.spec },
      });
    await post(sides.green, states.progressing()); // eks-green, cutover from eks-blue
    await post(sides.blue, states.peerHandover()); // eks-blue
    await post(unrelated, states.noCutover()); // eks-green again: not the peer
    const base = kc.getContextObject(kc.getCurrentContext());
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'plugin-contexts-')), 'config');
    const merged = new KubeConfig();
    merged.loadFromOptions({
      clusters: kc.clusters,
      users: kc.users,
      contexts: [
        { name: 'green-side', cluster: base?.cluster ?? '', user: base?.user ?? '', namespace: sides.green },
        { name: 'other', cluster: base?.cluster ?? '', user: base?.user ?? '', namespace: unrelated },
        { name: 'blue-side', cluster: base?.cluster ?? '', user: base?.user ?? '', namespace: sides.blue },
      ],
      currentContext: 'green-side',
    });
    writeFileSync(kubeconfig, merged.exportConfig());
    const { dashboard, output } = await startPluginDashboard(['paired'], { KUBECONFIG: kubeconfig });
    expect(output()).toContain(`dashboard of ${sides.green}/paired on green-side and blue-side: http://127.0.0.1:`);
    const { url, token } = await pageOf(output());
    await waitUntil('both sides read', async () => {
      const body = (await (await fetch(`${url}api/state?token=${token}`)).json()) as {
        state: { clusters: { context: string; view?: CutoverView }[] };
      };
      const seen = body.state.clusters.map((c) => [c.context, c.view?.record?.setIdentifier]);
      if (
        JSON.stringify(seen) ===
        JSON.stringify([
          ['green-side', 'eks-green'],
          ['blue-side', 'eks-blue'],
        ])
      )
        return true;
      throw new Error(`it shows ${JSON.stringify(seen)}`);
    });
    process.kill(dashboard.pid, 'SIGINT');
    expect(await dashboard.exited).toBe(0);
  });
});

describe('kubectl reservation VERB', () => {
  it('pause --no-wait sets the request annotation with a unique token and says what the operator will do', async () => {
    const { code, stdout } = await kubectl(['reservation', 'pause', 'booking', '-n', namespace, '--no-wait']);
    expect(code).toBe(0);
    const value = await annotation('booking');
    expect(value).toMatch(/^pause\/\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    expect(stdout).toContain(`asked to pause (${CUTOVER_REQUEST_ANNOTATION}=${value})`);
    expect(stdout).toContain('the operator will hold the cutover at step 3/6 (setShare 40%), share 40%, until resume or promote');
    expect(stdout).toContain(`kubectl reservation status booking -n ${namespace} -w`);
  });

  it('waits until the operator has handled the request, then prints the new phase and step', async () => {
    // The pause above was never handled (no operator runs here): the promote replaces it, and says so.
    const before = await annotation('booking');
    const promoting = kubectl(['reservation', 'promote', 'booking', '-n', namespace, '--timeout', '30s']);

    // The operator: sees the new request, acts on it, records it as handled.
    let request = '';
    await waitUntil('the promote request', async () => {
      request = (await annotation('booking')) ?? '';
      return request !== before && request.startsWith('promote/');
    });
    await writeCutover('booking', {
      phase: 'Analyzing',
      step: 3,
      handledRequest: request,
      message: 'analysis smoke: measurement 1 of 3',
      history: [{ at: '2026-11-25T10:15:00Z', step: 2, event: 'Promoted', message: `step 3 ended by ${request}` }],
    });

    const { code, stdout, stderr } = await promoting;
    expect({ code, stderr }).toEqual({
      code: 0,
      stderr: `warning: replacing the request ${before}, which the operator has not acted on yet\n`,
    });
    expect(stdout).toContain('the operator will end step 3/6 (setShare 40%) now and go on with step 4/6 (analysis smoke)');
    expect(stdout).toContain('done: Analyzing, step 4/6, share 40%: analysis smoke: measurement 1 of 3\n');
    expect(stdout).toContain(`last event: 2026-11-25T10:15:00Z Promoted: step 3 ended by ${request}\n`);
  });

  it('fails with exit code 1 when the operator does not act within --timeout, leaving the request set', async () => {
    const { code, stderr } = await kubectl(['reservation', 'abort', 'booking', '-n', namespace, '--timeout', '2s']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: the operator has not acted on abort\/\S+ within 2 s/);
    expect(await annotation('booking')).toMatch(/^abort\//);
  });

  it('refuses a verb the phase does not allow, exit code 1, and leaves the annotation as it was', async () => {
    const { code, stdout, stderr } = await kubectl(['reservation', 'promote', 'done', '-n', namespace]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `error: cannot promote ${namespace}/done: the cutover has succeeded (share 100%); there is nothing left to promote\n`,
    );
    expect(await annotation('done')).toBeUndefined();
  });

  it('refuses any verb on a Reservation without a cutover', async () => {
    const { code, stderr } = await kubectl(['reservation', 'abort', 'plain', '-n', namespace, '--no-wait']);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `error: cannot abort ${namespace}/plain: no cutover: spec.traffic.cutover is not set, so there is nothing to abort\n`,
    );
    expect(await annotation('plain')).toBeUndefined();
  });

  it('refuses a verb on a Reservation that does not exist', async () => {
    const { code, stderr } = await kubectl(['reservation', 'resume', 'nope', '-n', namespace]);
    expect(code).toBe(1);
    expect(stderr).toBe(`error: Reservation "nope" not found in namespace "${namespace}"\n`);
  });
});

describe('steering a Reservation the operator writes meanwhile', () => {
  /** The harness's client, except that before each PATCH of `name` the "operator" writes its status: the patch's resourceVersion is then stale. */
  function racingClient(name: string, races: number) {
    let raced = 0;
    const client: KubeClient = {
      ...kube,
      async request<T>(...args: Parameters<KubeClient['request']>): Promise<T> {
        const [method, requestPath] = args;
        if (method === 'PATCH' && requestPath === path(name) && raced < races) {
          raced++;
          const { status } = await read(name);
          if (!status) throw new Error(`${name} has no status`);
          await writeStatus(name, { ...status, conditions: status.conditions?.map((c) => ({ ...c, message: `${c.message} (${raced})` })) });
        }
        return kube.request<T>(...args);
      },
    };
    return { client, raced: () => raced };
  }

  it('starts a cutover after the API server refuses a stale patch with 409 Conflict, reading and checking again', async () => {
    await create('racing-start', states.noCutover());
    const racing = racingClient('racing-start', 2);
    const plan = states.progressing().spec.traffic?.cutover;
    await startCutover({ client: racing.client, namespace, name: 'racing-start' }, plan, 'eks-green');
    expect(racing.raced()).toBe(2);
    expect((await read('racing-start')).spec.traffic?.cutover).toEqual(plan);
  });

  it('sets a verb after a conflict, and gives up with the 409 when the operator keeps writing', async () => {
    await create('racing-verb', states.progressing());
    const once = racingClient('racing-verb', 1);
    const asked = await requestVerb({ client: once.client, namespace, name: 'racing-verb' }, 'pause');
    expect(once.raced()).toBe(1);
    expect(await annotation('racing-verb')).toBe(asked.value);

    const always = racingClient('racing-verb', Number.POSITIVE_INFINITY);
    const failed = requestVerb({ client: always.client, namespace, name: 'racing-verb' }, 'abort');
    await expect(failed).rejects.toMatchObject({ status: 409 });
    expect(always.raced()).toBeGreaterThan(1);
    expect(await annotation('racing-verb')).toBe(asked.value);
  });
});

describe('kubectl reservation take-back', () => {
  const takeBack = () => read('handed').then((cr) => cr.metadata.annotations?.[TAKE_BACK_ANNOTATION]);
  beforeAll(async () => {
    await create('handed', states.peerHandover());
  });

  it('refuses a Reservation whose weight no peer writes, and sets nothing', async () => {
    const { code, stderr } = await kubectl(['reservation', 'take-back', 'plain', '-n', namespace]);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `error: cannot take back ${namespace}/plain: no peer's cutover writes its weight (status.traffic.handover is empty)\n`,
    );
    expect((await read('plain')).metadata.annotations?.[TAKE_BACK_ANNOTATION]).toBeUndefined();
  });

  it("names the handover's writer in the request, and says why not when the operator refuses (too early)", async () => {
    const running = kubectl(['reservation', 'take-back', 'handed', '-n', namespace, '--timeout', '30s']);
    await waitUntil('the take-back request', async () => (await takeBack()) === 'reservation-operator-eks-green');
    // The operator: the handover is younger than the timeout, so it says so in TrafficReady.
    const cr = await read('handed');
    await writeStatus('handed', {
      ...(cr.status as ReservationStatus),
      conditions: [
        {
          type: 'TrafficReady',
          status: 'True',
          reason: 'WeightsHandedOver',
          message:
            "api.reservations.example.com (eks-blue) has weight 60, written by reservation-operator-eks-green's cutover; this cluster leaves it alone " +
            `until the cutover ends (not taken back: ${TAKE_BACK_ANNOTATION}: the handover is younger than 10 minutes; allowed from 2026-11-25T10:11:00Z)`,
          lastTransitionTime: '2026-11-25T10:01:00Z',
        },
      ],
    });
    const { code, stdout, stderr } = await running;
    expect(stdout).toContain(
      `${namespace}/handed: asked to take the weight back from reservation-operator-eks-green (${TAKE_BACK_ANNOTATION}=reservation-operator-eks-green)`,
    );
    expect({ code, stderr }).toEqual({
      code: 1,
      stderr:
        `error: not taken back: ${TAKE_BACK_ANNOTATION}: the handover is younger than 10 minutes; allowed from 2026-11-25T10:11:00Z; ` +
        'the request stays set and is acted on once allowed\n',
    });
  });

  it("waits until the handover is gone from status, then says the record is this cluster's again", async () => {
    // A fresh request, so the test acts only once the plugin has read the handover and asked; the
    // operator, seeing the annotation go, drops its refusal.
    await kube.request('PATCH', path('handed'), {
      body: { metadata: { annotations: { [TAKE_BACK_ANNOTATION]: null } } },
      contentType: PATCH.merge,
    });
    await writeStatus('handed', { ...((await read('handed')).status as ReservationStatus), conditions: [] });
    const running = kubectl(['reservation', 'take-back', 'handed', '-n', namespace, '--timeout', '30s']);
    await waitUntil('asked again', async () => (await takeBack()) === 'reservation-operator-eks-green');
    // The operator takes it back: no handover, the weight the peer left kept as an override.
    const traffic = (await read('handed')).status?.traffic;
    if (!traffic) throw new Error('no status.traffic');
    const { handover: _gone, ...rest } = traffic;
    await writeStatus('handed', {
      phase: 'Idle',
      traffic: { ...rest, desiredWeight: 60, weightOverride: { weight: 60, specWeight: 100, by: 'reservation-operator-eks-green' } },
      conditions: [],
    });
    const { code, stdout } = await running;
    expect(code).toBe(0);
    expect(stdout).toContain("done: api.reservations.example.com (eks-blue) is this cluster's again, at weight 60\n");
  });
});
