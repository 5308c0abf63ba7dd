import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { request } from './http';

/** What one load request is. */
export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}

/** `GET /api/whoami`, the idempotent call. */
export const whoami = (): LoadRequest => ({ method: 'GET', path: '/api/whoami' });

/** Three GETs for one POST /api/echo: exercises the non-idempotent path too. */
export const mixed = (i: number): LoadRequest =>
  i % 4 === 3 ? { method: 'POST', path: '/api/echo', body: { message: `load ${i}` } } : whoami();

/** One request's outcome. */
export interface Sample {
  /** Wall clock (ms since epoch) when the response (or error) came. */
  at: number;
  /** Latency, ms. */
  ms: number;
  method: string;
  /** HTTP status; 0 for a network error or client timeout. */
  status: number;
  /** B's instance id for a 200. */
  instance?: string;
  /** Problem `code` for an error response, or the network error. */
  code?: string;
  /** The `x-request-id` sent (A forwards it to B, whose log then names it). */
  id: string;
}

/** Bounds and shape of a load run. Every run is bounded by both a count and a time. */
export interface LoadOptions {
  /** Base URL of service A. */
  baseUrl: string;
  /** Requests in flight at once (one keep-alive connection each). */
  concurrency: number;
  /** Stop after this many requests. */
  maxRequests: number;
  /** Stop after this long, ms. */
  maxDurationMs: number;
  /** What request number i is. @default whoami */
  request?: (i: number) => LoadRequest;
  /** Pause between a worker's requests, ms (a paced, not a flat-out, load). @default 0 */
  pauseMs?: number;
  /** Checked after each response: true stops the run early. */
  stopWhen?: (sample: Sample, run: LoadRun) => boolean;
}

/** Counts and latency figures of a finished (or running) load run. */
export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  byStatus: Record<string, number>;
  byInstance: Record<string, number>;
  durationMs: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Every response in order. */
  samples: Sample[];
}

/** A load run in progress. */
export interface LoadRun {
  readonly samples: readonly Sample[];
  /** Stops issuing requests; resolves when those in flight are done. */
  stop(): Promise<LoadResult>;
  /** Resolves when a bound (count, time, stopWhen or stop()) ends the run. */
  readonly done: Promise<LoadResult>;
}

let runs = 0;

/** Starts a bounded load loop against A: `concurrency` workers, each sending one request at a time. */
export function startLoad(options: LoadOptions): LoadRun {
  const runId = `load${++runs}-${process.pid}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const samples: Sample[] = [];
  const makeRequest = options.request ?? whoami;
  const started = Date.now();
  const deadline = started + options.maxDurationMs;
  let issued = 0;
  let stopped = false;

  const run: LoadRun = {
    samples,
    stop: async () => {
      stopped = true;
      return done;
    },
    done: undefined as unknown as Promise<LoadResult>,
  };

  const worker = async (): Promise<void> => {
    while (!stopped && issued < options.maxRequests && Date.now() < deadline) {
      const n = issued++;
      const spec = makeRequest(n);
      const id = `${runId}-${n}`;
      const t0 = performance.now();
      let sample: Sample;
      try {
        const res = await request(`${options.baseUrl}${spec.path}`, {
          method: spec.method,
          body: spec.body,
          headers: { 'x-request-id': id },
          agent,
          timeoutMs: 15_000,
        });
        const json = res.json as
          { servedBy?: { instance?: string }; code?: string; message?: string } | undefined;
        sample = {
          at: Date.now(),
          ms: performance.now() - t0,
          method: spec.method,
          status: res.status,
          id,
          instance: res.status === 200 ? json?.servedBy?.instance : undefined,
          code: res.status === 200 ? undefined : (json?.code ?? res.text.slice(0, 200)),
        };
      } catch (err) {
        sample = {
          at: Date.now(),
          ms: performance.now() - t0,
          method: spec.method,
          status: 0,
          id,
          code: (err as NodeJS.ErrnoException).code ?? (err as Error).message,
        };
      }
      samples.push(sample);
      if (options.stopWhen?.(sample, run)) stopped = true;
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  };

  const done = Promise.all(Array.from({ length: options.concurrency }, worker)).then(() => {
    agent.destroy();
    return summarize(samples, Date.now() - started);
  });
  (run as { done: Promise<LoadResult> }).done = done;
  return run;
}

/** Runs a bounded load to the end. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return startLoad(options).done;
}

/** Counts, spread and latency percentiles of `samples`. */
export function summarize(samples: readonly Sample[], durationMs: number): LoadResult {
  const byStatus: Record<string, number> = {};
  const byInstance: Record<string, number> = {};
  let ok = 0;
  for (const s of samples) {
    byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
    if (s.status >= 200 && s.status < 300) {
      ok++;
      if (s.instance !== undefined) byInstance[s.instance] = (byInstance[s.instance] ?? 0) + 1;
    }
  }
  const latencies = samples.map((s) => s.ms).sort((a, b) => a - b);
  const pct = (p: number): number =>
    latencies.length === 0
      ? 0
      : latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]!;
  return {
    sent: samples.length,
    ok,
    failed: samples.length - ok,
    byStatus,
    byInstance,
    durationMs,
    reqPerSec: durationMs > 0 ? (samples.length * 1000) / durationMs : 0,
    p50Ms: round(pct(0.5)),
    p99Ms: round(pct(0.99)),
    maxMs: round(latencies[latencies.length - 1] ?? 0),
    samples: [...samples],
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** The failures of a run, at most `n`, for assertion messages. */
export function failuresOf(result: LoadResult, n = 10): Sample[] {
  return result.samples.filter((s) => s.status < 200 || s.status >= 300).slice(0, n);
}

/**
 * POSTs of `result` that B executed more than once: B logs every request it ran with its request id
 * (which A forwards), so an id in two log lines, of one task or two, is a request run twice.
 */
export function executedTwice(
  result: LoadResult,
  bLogs: ReadonlyArray<Array<Record<string, unknown>>>,
): string[] {
  const posts = new Set(result.samples.filter((s) => s.method === 'POST').map((s) => s.id));
  const seen = new Map<string, number>();
  for (const lines of bLogs) {
    for (const line of lines) {
      const req = line.req as { id?: unknown; method?: unknown } | undefined;
      // pino-http logs each request once it ends: completed, errored, or aborted (the caller had gone).
      if (!/^request (completed|errored|aborted)$/.test(String(line.msg))) continue;
      if (req?.method !== 'POST' || typeof req.id !== 'string') continue;
      if (posts.has(req.id)) seen.set(req.id, (seen.get(req.id) ?? 0) + 1);
    }
  }
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
}
