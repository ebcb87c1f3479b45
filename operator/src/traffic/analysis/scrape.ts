import { timeoutSignal } from '@reservations/service-kit/timeout-signal';
import { parseExposition } from './exposition.ts';
import { type HttpTotals, httpTotals, isHttpHistogramOrStart, processStartSeconds } from './histogram.ts';
import type { ScrapeTarget } from './pods.ts';

export const SCRAPE_TIMEOUT_MS = 5_000;

/** One pod's request histogram at one moment. */
export interface PodScrape {
  key: string;
  pod: string;
  totals: HttpTotals;
  /** The process's start (process_start_time_seconds), to tell a restart from a quiet pod. */
  startSeconds?: number;
}

/** GETs one `/metrics` and reads the request histogram from it; throws naming the pod when it cannot. */
export async function scrape(target: ScrapeTarget, timeoutMs = SCRAPE_TIMEOUT_MS, signal?: AbortSignal): Promise<PodScrape> {
  let text: string;
  const call = timeoutSignal(timeoutMs, signal);
  try {
    const response = await fetch(target.url, { headers: { accept: 'text/plain' }, signal: call.signal });
    text = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (err) {
    const reason = call.timedOut
      ? `no answer in ${timeoutMs / 1000} s`
      : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
    throw new Error(`${target.pod} (${target.url}): ${reason}`, { cause: err });
  } finally {
    call.clear();
  }
  let samples: ReturnType<typeof parseExposition>;
  try {
    samples = parseExposition(text, isHttpHistogramOrStart);
  } catch (err) {
    throw new Error(`${target.pod} (${target.url}): ${(err as Error).message}`, { cause: err });
  }
  const startSeconds = processStartSeconds(samples);
  return { key: target.key, pod: target.pod, totals: httpTotals(samples), ...(startSeconds === undefined ? {} : { startSeconds }) };
}
