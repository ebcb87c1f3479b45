import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../poll.ts';
import { ensureDebianTools } from './debian.ts';
import { step } from './log.ts';
import { freePort } from './ports.ts';
import { startServer } from './proc.ts';

const COMPONENT = 'prometheus';

export async function installPrometheus(): Promise<void> {
  // Debian 12 ships 2.42; its systemd unit is not used: the harness runs the binary itself.
  await ensureDebianTools(COMPONENT, [{ binary: 'prometheus', pkg: 'prometheus' }]);
}

export interface PrometheusEnv {
  /** Base URL of the HTTP API (`/api/v1/query`, ...). */
  PROMETHEUS_URL: string;
  /** Where `writePrometheusTargets` puts target files; Prometheus picks them up within a second. */
  PROMETHEUS_TARGETS_DIR: string;
}

/** Something for Prometheus to scrape: a `/metrics` URL and the labels its series get (`namespace`, `pod`, ...). */
export interface PrometheusTarget {
  url: string;
  labels?: Record<string, string>;
}

/**
 * One Prometheus on loopback that scrapes every second whatever target files are in its
 * targets directory (file-based service discovery), so each test file registers its own servers
 * without restarting it. Storage is a throwaway TSDB in `dir`.
 */
export async function startPrometheus(dir: string, { scrapeInterval = '1s' }: { scrapeInterval?: string } = {}) {
  mkdirSync(dir, { recursive: true });
  const targetsDir = join(dir, 'targets');
  mkdirSync(targetsDir, { recursive: true });
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${scrapeInterval}`,
      `  scrape_timeout: ${scrapeInterval}`,
      `  evaluation_interval: ${scrapeInterval}`,
      'scrape_configs:',
      '  - job_name: harness',
      '    file_sd_configs:',
      `      - files: ['${join(targetsDir, '*.json')}']`,
      '        refresh_interval: 1s',
      '',
    ].join('\n'),
  );
  const server = startServer(
    COMPONENT,
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
    ],
    { logFile: join(dir, 'prometheus.log') },
  );
  const env: PrometheusEnv = { PROMETHEUS_URL: `http://127.0.0.1:${port}`, PROMETHEUS_TARGETS_DIR: targetsDir };
  await waitUntil(COMPONENT, async () => (await fetch(`${env.PROMETHEUS_URL}/-/ready`)).ok, { server, timeoutMs: 60_000 });
  step(COMPONENT, `on 127.0.0.1:${port}, scraping every ${scrapeInterval}`);
  return { env, servers: [server] };
}

/**
 * Registers `targets` with the harness's Prometheus under `name` (one file per name, replaced
 * whole each time); returns a function that removes them again.
 */
export function writePrometheusTargets(targetsDir: string, name: string, targets: readonly PrometheusTarget[]): () => void {
  const groups = targets.map(({ url, labels = {} }) => {
    const u = new URL(url);
    return { targets: [u.host], labels: { ...labels, __scheme__: u.protocol.replace(':', ''), __metrics_path__: u.pathname } };
  });
  const file = join(targetsDir, `${name}.json`);
  // Written beside and renamed, so Prometheus never reads half a file.
  const temporary = join(targetsDir, `.${name}.tmp`);
  writeFileSync(temporary, JSON.stringify(groups));
  renameSync(temporary, file);
  return () => rmSync(file, { force: true });
}
