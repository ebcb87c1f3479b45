import { describe, expect, it } from '@jest/globals';
import { DEFAULT_TIMEOUT_MS, parseCommandLine } from '../../src/cli/args.ts';

describe('parseCommandLine', () => {
  it('reads status with the connection flags, in any order, like kubectl', () => {
    expect(parseCommandLine(['status', 'booking', '-n', 'reservations', '--context', 'eks-green', '-w'])).toEqual({
      kind: 'status',
      name: 'booking',
      watch: true,
      output: 'text',
      connection: { namespace: 'reservations', context: 'eks-green', kubeconfig: undefined },
    });
    expect(parseCommandLine(['--namespace=reservations', 'status', 'booking', '--kubeconfig', '/tmp/kc'])).toMatchObject({
      kind: 'status',
      name: 'booking',
      watch: false,
      connection: { namespace: 'reservations', kubeconfig: '/tmp/kc' },
    });
  });

  it('reads status -o json in each of the ways kubectl takes it, with or without -w', () => {
    for (const flags of [['-o', 'json'], ['-ojson'], ['--output', 'json'], ['--output=json']]) {
      expect(parseCommandLine(['status', 'booking', ...flags])).toMatchObject({ kind: 'status', output: 'json', watch: false });
    }
    expect(parseCommandLine(['status', '-w', 'booking', '-o', 'json'])).toMatchObject({ output: 'json', watch: true });
    expect(parseCommandLine(['status', 'booking', '-o', 'text'])).toMatchObject({ output: 'text' });
  });

  it('reads plan with a file, the output, the peer context and the timing facts', () => {
    expect(parseCommandLine(['plan', 'booking', '--context', 'green', '--peer-context', 'blue', '-o', 'json'])).toEqual({
      kind: 'plan',
      name: 'booking',
      output: 'json',
      connection: { namespace: undefined, context: 'green', kubeconfig: undefined },
      peerContext: 'blue',
      route53SyncSeconds: 60,
      podStartSeconds: 30,
    });
    expect(
      parseCommandLine(['plan', '-f', 'plan.yaml', '--route53-sync', '0', '--pod-start', '2m', '--prometheus', 'http://p:9090']),
    ).toEqual({
      kind: 'plan',
      file: 'plan.yaml',
      output: 'text',
      connection: { namespace: undefined, context: undefined, kubeconfig: undefined },
      prometheus: 'http://p:9090/',
      route53SyncSeconds: 0,
      podStartSeconds: 120,
    });
    expect(parseCommandLine(['plan', 'booking', '--filename=-', '--route53-sync', '90'])).toMatchObject({
      file: '-',
      route53SyncSeconds: 90,
    });
  });

  it('reads a verb with its wait and timeout; promote --full is promote-full', () => {
    expect(parseCommandLine(['abort', 'booking'])).toMatchObject({
      kind: 'verb',
      verb: 'abort',
      wait: true,
      timeoutMs: DEFAULT_TIMEOUT_MS,
    });
    expect(parseCommandLine(['promote', 'booking', '--full', '--no-wait'])).toMatchObject({ verb: 'promote-full', wait: false });
    expect(parseCommandLine(['pause', 'booking', '--timeout', '2m'])).toMatchObject({ verb: 'pause', timeoutMs: 120_000 });
    expect(parseCommandLine(['pause', 'booking', '--timeout', '90'])).toMatchObject({ timeoutMs: 90_000 });
  });

  it("reads take-back with the verbs' wait and timeout, on one cluster, and refuses --full", () => {
    expect(parseCommandLine(['take-back', 'booking', '--context', 'blue', '--timeout', '1m'])).toEqual({
      kind: 'take-back',
      name: 'booking',
      wait: true,
      timeoutMs: 60_000,
      connection: { namespace: undefined, context: 'blue', kubeconfig: undefined },
    });
    expect(parseCommandLine(['take-back', 'booking', '--full'])).toMatchObject({ kind: 'usage', error: '--full goes with promote only' });
    expect(parseCommandLine(['take-back'])).toMatchObject({ kind: 'usage', error: 'take-back needs the name of a Reservation' });
  });

  it('reads dashboard: an optional name, up to two contexts, port, address and Prometheus', () => {
    expect(
      parseCommandLine([
        'dashboard',
        'booking',
        '--context',
        'blue',
        '--context',
        'green',
        '-n',
        'shop',
        '--prometheus',
        'http://127.0.0.1:9090',
      ]),
    ).toEqual({
      kind: 'dashboard',
      name: 'booking',
      contexts: ['blue', 'green'],
      connection: { namespace: 'shop', kubeconfig: undefined },
      address: '127.0.0.1',
      port: 3100,
      prometheus: 'http://127.0.0.1:9090/',
      route53SyncSeconds: 60,
      podStartSeconds: 30,
    });
    expect(parseCommandLine(['dashboard', '--route53-sync', '0'])).toMatchObject({ route53SyncSeconds: 0 });
    expect(parseCommandLine(['dashboard', '--port', '0'])).toMatchObject({ kind: 'dashboard', name: undefined, contexts: [], port: 0 });
    expect(parseCommandLine(['dashboard', '--help'])).toMatchObject({ kind: 'help', text: expect.stringContaining('--prometheus URL') });
  });

  it('gives help for the plugin and for each command', () => {
    expect(parseCommandLine([])).toMatchObject({ kind: 'help', text: expect.stringContaining('Usage: kubectl reservation COMMAND NAME') });
    expect(parseCommandLine(['--help'])).toMatchObject({ kind: 'help' });
    const promote = parseCommandLine(['promote', '-h']);
    expect(promote).toMatchObject({ kind: 'help', text: expect.stringContaining('--full') });
    expect(promote).toMatchObject({ text: expect.stringContaining('--timeout DURATION') });
    expect(parseCommandLine(['status', '--help'])).toMatchObject({ text: expect.not.stringContaining('--no-wait') });
    expect(parseCommandLine(['status', '--help'])).toMatchObject({ text: expect.stringContaining('-o, --output FORMAT') });
  });

  it.each([
    [
      ['frobnicate', 'booking'],
      'unknown command "frobnicate"; the commands are status, plan, promote, pause, resume, abort, retry, take-back, dashboard',
    ],
    [['status'], 'status needs the name of a Reservation'],
    [['status', 'a', 'b'], 'unexpected argument "b"'],
    [['status', 'booking', '--no-wait'], '--no-wait is for the verbs, not status'],
    [['abort', 'booking', '-w'], '--watch is for status; `kubectl reservation status NAME -w` follows the cutover'],
    [['abort', 'booking', '--full'], '--full goes with promote only'],
    [['pause', 'booking', '--timeout', 'soon'], '--timeout must be a duration like 30s, 2m or 90 (seconds), more than 0, not "soon"'],
    [['pause', 'booking', '--timeout', '0'], '--timeout must be a duration like 30s, 2m or 90 (seconds), more than 0, not "0"'],
    [['pause', 'booking', '-n', ''], '--namespace needs a value'],
    [['status', 'booking', '-o', 'yaml'], '--output must be one of text, json, not "yaml"'],
    [['status', 'booking', '--output='], '--output must be one of text, json, not ""'],
    [['abort', 'booking', '-o', 'json'], '--output is for status; `kubectl reservation status NAME -o json` prints it as data'],
    [['status', 'booking', '--context', 'a', '--context', 'b'], '--context once: this command acts on one cluster'],
    [['status', 'booking', '--port', '3100'], '--port is for dashboard'],
    [['dashboard', '--context', 'a', '--context', 'b', '--context', 'c'], '--context at most twice: the dashboard shows two clusters'],
    [['dashboard', '--context', 'blue', '--context', 'blue'], '--context: give two different contexts'],
    [['dashboard', '--port', '70000'], '--port must be a port number (0-65535), not "70000"'],
    [['dashboard', '--port', 'http'], '--port must be a port number (0-65535), not "http"'],
    [['dashboard', '--prometheus', 'localhost:9090'], '--prometheus must be an http(s) URL, not "localhost:9090"'],
    [['dashboard', '--prometheus', 'ftp://p.example/'], '--prometheus must be an http(s) URL, not "ftp://p.example/"'],
    [['dashboard', 'booking', '-w'], '--watch is not a dashboard option'],
    [['dashboard', '--context='], '--context needs a value'],
    [['plan'], 'plan needs the name of a Reservation, or -f with a plan file'],
    [['plan', 'booking', '-w'], '--watch is not a plan option'],
    [
      ['plan', 'booking', '--context', 'a', '--context', 'b'],
      '--context once: the plan runs on one cluster (--peer-context names the peer)',
    ],
    [['plan', 'booking', '-o', 'yaml'], '--output must be one of text, json, not "yaml"'],
    [['plan', 'booking', '--route53-sync', 'soon'], '--route53-sync must be a duration like 60s, 2m or 0 (seconds), not "soon"'],
    [['plan', 'booking', '--pod-start', 'later'], '--pod-start must be a duration like 30s, 2m or 0 (seconds), not "later"'],
    [['plan', 'booking', '--prometheus', 'p:9090'], '--prometheus must be an http(s) URL, not "p:9090"'],
    [['status', 'booking', '-f', 'plan.yaml'], '--filename is for plan'],
    [['dashboard', '--peer-context', 'blue'], '--peer-context is not a dashboard option'],
    [['dashboard', '--pod-start', 'soon'], '--pod-start must be a duration like 30s, 2m or 0 (seconds), not "soon"'],
  ])('refuses %j: %s', (argv, error) => {
    expect(parseCommandLine(argv)).toMatchObject({ kind: 'usage', error });
  });

  it('an unknown output format shows the usage of status, which lists the formats', () => {
    expect(parseCommandLine(['status', 'booking', '-oyaml'])).toMatchObject({
      kind: 'usage',
      text: expect.stringMatching(/^Usage: kubectl reservation status NAME[\s\S]*text \(the default\) or json/),
    });
    expect(parseCommandLine(['status', 'booking', '-o'])).toMatchObject({
      kind: 'usage',
      error: expect.stringContaining("'-o, --output <value>'"),
    });
  });

  it('names an unknown flag and shows the usage of the command it was given to', () => {
    const result = parseCommandLine(['pause', 'booking', '--force']);
    expect(result).toMatchObject({ kind: 'usage', error: expect.stringContaining("'--force'") });
    expect(result).toMatchObject({ text: expect.stringMatching(/^Usage: kubectl reservation pause NAME/) });
  });
});
