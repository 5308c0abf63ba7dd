import type { DevCloudMapApiStats, DevCloudMapFault, DevCloudMapOperation } from '@ecs-srv/dev-server';
import { setTimeout as sleep } from 'node:timers/promises';
import { pollUntil, type Task } from './harness/cluster';
import { DevCluster, type DevNameView, type DevServiceA } from './harness/dev-cluster';
import {
  executedTwice,
  failuresOf,
  mixed,
  runLoad,
  startLoad,
  summarize,
  type LoadResult,
  type Sample,
} from './harness/load';
import { report } from './harness/report';

/** A's revision poll interval (±20 % jitter), so that changes and faults play out within seconds. */
const POLL_MS = 1000;
/** The shortest gap between two polls: the interval's jitter goes down to 80 %, back-offs only longer. */
const MIN_POLL_GAP_MS = 0.8 * POLL_MS;
/** B's drain after SIGTERM: A's poll interval (1.2 s at most with jitter) plus a margin for the listing. */
const DRAIN_MS = 3000;
/** The Cloud Map source's time limit for one API call (`requestTimeoutMs`, default 3000). */
const API_CALL_TIMEOUT_MS = 3000;
/** Cloud Map's DNS TTL (the dev server's default, as Cloud Map's). */
const TTL_MS = 10_000;
/** A's DNS client refreshes ahead on use at 72-80 % of the TTL: no answer changes before this. */
const EARLIEST_REFRESH_MS = 0.72 * TTL_MS;

const is2xx = (s: Sample): boolean => s.status >= 200 && s.status < 300;
const why = (load: LoadResult): string => JSON.stringify(failuresOf(load));
const slowest = (samples: readonly Sample[]): number => Math.round(Math.max(0, ...samples.map((s) => s.ms)));
const sumCalls = (byOperation: Record<string, number>): number =>
  Object.values(byOperation).reduce((a, b) => a + b, 0);

/** API calls per operation between two `api.stats()` snapshots. */
function callsBetween(
  before: DevCloudMapApiStats,
  after: DevCloudMapApiStats,
): Record<DevCloudMapOperation, number> {
  return Object.fromEntries(
    Object.entries(after.byOperation).map(([op, n]) => [
      op,
      n - before.byOperation[op as DevCloudMapOperation],
    ]),
  ) as Record<DevCloudMapOperation, number>;
}

/** Only the operations A calls (the other three stay 0: A never registers anything). */
const discoverCalls = (calls: Record<DevCloudMapOperation, number>): Record<string, number> => ({
  DiscoverInstancesRevision: calls.DiscoverInstancesRevision,
  DiscoverInstances: calls.DiscoverInstances,
});

/** One look at A's /discovery. */
interface Look {
  at: number;
  state: string;
  keys: string[];
  revision?: number;
  lastRefresh?: string;
  lastError?: DevNameView['lastError'];
}

/** Reads A's /discovery every `intervalMs` in the background until stopped: what A saw, and when. */
function watch(a: DevServiceA, intervalMs = 100): { looks: Look[]; stop: () => Promise<void> } {
  const looks: Look[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const view = await a.discovery().catch(() => undefined);
      if (view) {
        looks.push({
          at: Date.now(),
          state: view.state,
          keys: view.endpoints.map((e) => e.key).sort(),
          revision: view.revision,
          lastRefresh: view.lastRefresh,
          lastError: view.lastError,
        });
      }
      await sleep(intervalMs);
    }
  })();
  return {
    looks,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/*
 * Service A on the Cloud Map API against the project's dev server (its DNS side and its API, fed by one set
 * of registrations), 20 B tasks as real processes, A as a real process through the real AWS SDK (no mock):
 * the API's reach beyond DNS's 8-record answers, a rolling replacement, and API faults. The scenarios share
 * the dev server, the tasks and A, and run in order.
 */
describe('service A on the Cloud Map API (dev server, 20 B tasks)', () => {
  let cluster: DevCluster;
  let a: DevServiceA;

  beforeAll(async () => {
    cluster = await DevCluster.start('cloudmap');
    await cluster.launchTasks(20, { drainDelayMs: DRAIN_MS });
    a = await cluster.startServiceA('service-a-cloudmap', 'cloudmap', {
      CLOUDMAP_POLL_INTERVAL_MS: String(POLL_MS),
    });
    await cluster.converge(a);
  }, 90_000);

  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  it('a. reach: when 20 tasks are registered, then A on the API source serves from all 20 with 0 failures, polling about once per interval', async () => {
    const tasks = cluster.live;
    expect(tasks).toHaveLength(20);
    const view = (await a.discovery())!;
    const before = cluster.dev.api.stats();
    const started = Date.now();
    const load = await runLoad({
      baseUrl: a.url,
      concurrency: 4,
      pauseMs: 5,
      maxRequests: 2000,
      maxDurationMs: 10_000,
    });
    const windowMs = Date.now() - started;
    const calls = callsBetween(before, cluster.dev.api.stats());
    report('cloudmap a: 20 tasks through the API', load, {
      source: view.source,
      endpoints: view.endpoints.length,
      instancesServed: Object.keys(load.byInstance).length,
      fewestPerInstance: Math.min(...Object.values(load.byInstance)),
      apiWindowMs: windowMs,
      apiCalls: discoverCalls(calls),
      apiCallsPer10s: Math.round((sumCalls(calls) * 10_000 * 10) / windowMs) / 10,
      slowestMs: slowest(load.samples),
    });

    expect(view).toMatchObject({ source: 'cloudmap', state: 'fresh', transport: 'api' });
    expect(view.endpoints.map((e) => e.key).sort()).toEqual(tasks.map((t) => t.key).sort());
    expect({ failed: load.failed, failures: why(load) }).toEqual({ failed: 0, failures: '[]' });
    expect(Object.keys(load.byInstance).sort()).toEqual(tasks.map((t) => t.id).sort());
    // Steady state: nothing changed, so only revision polls (one per 0.8-1.2 s), no listing, and no call
    // made on behalf of a request.
    expect(calls.DiscoverInstances).toBe(0);
    expect(calls.DiscoverInstancesRevision).toBeGreaterThanOrEqual(1);
    expect(calls.DiscoverInstancesRevision).toBeLessThanOrEqual(Math.floor(windowMs / MIN_POLL_GAP_MS) + 1);
    expect(calls.RegisterInstance + calls.DeregisterInstance + calls.UpdateInstanceCustomHealthStatus).toBe(
      0,
    );
  }, 60_000);

  it('b. contrast: when the same 20 are discovered through the dev DNS (8-record answers), then one answer reaches at most 8, and a TTL of load few more', async () => {
    const dnsA = await cluster.startServiceA('service-a-dns', 'dns');
    try {
      const first = await pollUntil(async () => {
        const v = await dnsA.discovery();
        return v?.state === 'fresh' && v.lastRefresh ? v : undefined;
      }, 10_000);
      expect(first).toBeDefined();
      expect(first!.ttlSeconds).toBe(TTL_MS / 1000);
      const answerAt = Date.parse(first!.lastRefresh!);
      const watcher = watch(dnsA, 200);
      const load = await runLoad({
        baseUrl: dnsA.url,
        concurrency: 4,
        pauseMs: 5,
        maxRequests: 5000,
        maxDurationMs: TTL_MS,
      });
      await watcher.stop();
      // Responses that came before A could have refreshed at all were all picked from the first answer.
      const firstAnswer = load.samples.filter((s) => s.at < answerAt + EARLIEST_REFRESH_MS);
      const servedFirst = new Set(firstAnswer.filter(is2xx).map((s) => s.instance));
      const byId = new Map(cluster.live.map((t) => [t.id, t.key]));
      const servedFirstKeys = [...servedFirst].map((id) => byId.get(id!)).sort();
      const firstKeys = first!.endpoints.map((e) => e.key).sort();
      // Each distinct answer A held during the run (by the time it was fetched), with its endpoints.
      const answers = new Map([[first!.lastRefresh!, firstKeys]]);
      for (const l of watcher.looks)
        if (l.lastRefresh && !answers.has(l.lastRefresh)) answers.set(l.lastRefresh, l.keys);
      const servedAll = Object.keys(load.byInstance).length;
      report('cloudmap b: the same 20 through DNS (8-record answers)', load, {
        answerSizes: [...answers.values()].map((k) => k.length),
        instancesServedFirstAnswer: servedFirst.size,
        requestsFirstAnswer: firstAnswer.length,
        instancesServedInOneTtl: servedAll,
        answersInOneTtl: answers.size,
        dnsQueries: cluster.dev.stats().queries,
      });

      expect({ failed: load.failed, failures: why(load) }).toEqual({ failed: 0, failures: '[]' });
      for (const keys of answers.values()) expect(keys.length).toBeLessThanOrEqual(8);
      expect(firstKeys).toHaveLength(8);
      expect(firstAnswer.length).toBeGreaterThan(100);
      expect(servedFirst.size).toBeLessThanOrEqual(8);
      expect(servedFirstKeys.every((k) => k !== undefined && firstKeys.includes(k))).toBe(true);
      // Over a whole TTL, A refreshes ahead once (at 72-80 %), so at most two answers' worth.
      expect(answers.size).toBeLessThanOrEqual(2);
      expect(servedAll).toBeLessThanOrEqual(8 * answers.size);
      expect(servedAll).toBeLessThan(20);
    } finally {
      await dnsA.proc.stop('SIGTERM');
    }
  }, 60_000);

  it('c. rolling replacement: when 10 of the 20 are replaced one by one (deregister, SIGTERM and drain, new task registered) under GET/POST load, then no request fails and no POST runs twice', async () => {
    await cluster.converge(a);
    const old = cluster.live.slice(0, 10);
    const watcher = watch(a);
    const load = startLoad({
      baseUrl: a.url,
      concurrency: 6,
      pauseMs: 5,
      request: mixed,
      maxRequests: 100_000,
      maxDurationMs: 100_000,
    });
    const steps: Array<{ old: Task; fresh: Task; deregisteredAt: number; seenAfterMs?: number }> = [];
    try {
      await sleep(1000);
      for (const task of old) {
        cluster.deregister([task]);
        const deregisteredAt = Date.now();
        task.proc.kill('SIGTERM');
        const [fresh] = await cluster.launchTasks(1, { drainDelayMs: DRAIN_MS, register: false });
        cluster.register([fresh!]);
        const registeredAt = Date.now();
        // As ECS waits for the new task to be healthy before it goes on: here, until A lists it.
        const seen = await pollUntil(
          async () =>
            (await a.discovery())?.endpoints.some((e) => e.key === fresh!.key) ? Date.now() : undefined,
          10_000,
          100,
        );
        steps.push({ old: task, fresh: fresh!, deregisteredAt, seenAfterMs: seen && seen - registeredAt });
        if (seen === undefined) break;
      }
      await Promise.race([Promise.all(old.map((t) => t.proc.exited)), sleep(DRAIN_MS + 15_000)]);
      await sleep(1000); // and a little after the last old task is gone
    } finally {
      await watcher.stop();
    }
    const result = await load.stop();
    const exits = await Promise.all(
      old.map((t) => Promise.race([t.proc.exited, sleep(0).then(() => 'running' as const)])),
    );
    const droppedAfterMs = steps.map((s) => {
      const gone = watcher.looks.find((l) => l.at > s.deregisteredAt && !l.keys.includes(s.old.key));
      return gone ? gone.at - s.deregisteredAt : Infinity;
    });
    const deregisteredAt = new Map(steps.map((x) => [x.old.id, x.deregisteredAt]));
    const servedWhileDraining = result.samples.filter(
      (s) => s.instance !== undefined && s.at > (deregisteredAt.get(s.instance) ?? Infinity),
    ).length;
    const twice = executedTwice(
      result,
      cluster.tasks.map((t) => t.proc.jsonLines()),
    );
    const failedGets = result.samples.filter((s) => s.method === 'GET' && !is2xx(s));
    const failedPosts = result.samples.filter((s) => s.method === 'POST' && !is2xx(s));
    const final = (await a.discovery())!;
    report('cloudmap c: rolling replacement of 10 of 20', result, {
      replaced: steps.length,
      posts: result.samples.filter((s) => s.method === 'POST').length,
      failedGets: failedGets.length,
      failedPosts: failedPosts.length,
      executedTwice: twice.length,
      slowestMs: slowest(result.samples),
      droppedByAAfterMsMax: Math.max(...droppedAfterMs),
      newSeenByAAfterMsMax: Math.max(...steps.map((s) => s.seenAfterMs ?? Infinity)),
      servedByOldWhileDraining: servedWhileDraining,
      oldExits: [...new Set(exits.map((e) => JSON.stringify(e)))],
    });

    expect(steps.map((s) => s.seenAfterMs !== undefined)).toEqual(old.map(() => true));
    expect(failedGets).toEqual([]);
    expect(failedPosts).toEqual([]);
    expect(twice).toEqual([]);
    // The premise of a clean replacement: A let go of each old task before its drain ended.
    for (const ms of droppedAfterMs) expect(ms).toBeLessThan(DRAIN_MS);
    for (const e of exits) expect(e).toEqual({ code: 0, signal: null });
    expect(final.state).toBe('fresh');
    expect(final.endpoints.map((e) => e.key).sort()).toEqual(cluster.live.map((t) => t.key).sort());
    expect(cluster.live).toHaveLength(20);
  }, 150_000);

  /** One API fault window: faults injected, the revision moved where the fault needs a listing. */
  interface FaultWindow {
    name: string;
    /** Injects the faults (and moves the revision where needed); gets the revision A holds. */
    start: (revision: number) => void;
    /** Calls the faults answer in all before they are spent. */
    faulted: number;
    /** Codes /discovery's lastError may carry for it. */
    codes: string[];
    /** Whether /discovery must show the set as `stale` meanwhile (a failed call while A holds a set). */
    stale: boolean;
  }

  const fault = (f: DevCloudMapFault, count: number, operations?: DevCloudMapOperation[]): void =>
    cluster.dev.api.inject(f, { count, operations });

  /**
   * Runs `windows` one after the other under a steady GET load on A. For each: waits for A to be fresh,
   * starts the window, then polls /discovery until A has met the fault (a lastError from this window),
   * every fault is spent, and A is fresh again on exactly the live registered tasks (bounded). Reports the
   * window's requests, A's view, and the API calls per operation; asserts 0 failed requests, the error
   * shown, the recovery, and that A never called the API more than twice per poll interval.
   */
  async function runFaultWindows(label: string, windows: readonly FaultWindow[]): Promise<void> {
    const load = startLoad({
      baseUrl: a.url,
      concurrency: 4,
      pauseMs: 10,
      maxRequests: 100_000,
      maxDurationMs: 120_000,
    });
    const outcomes: string[] = [];
    try {
      await sleep(1000);
      for (const w of windows) {
        const ready = await pollUntil(async () => {
          const v = await a.discovery();
          return v?.state === 'fresh' ? v : undefined;
        }, 15_000);
        expect(ready).toBeDefined();
        const before = cluster.dev.api.stats();
        const t0 = Date.now();
        w.start(ready!.revision!);
        const want = (): string => JSON.stringify(cluster.live.map((t) => t.key).sort());
        let staleSeen = false;
        const statesSeen = new Set<string>();
        let errorSeen: DevNameView['lastError'];
        const recovered = await pollUntil(
          async () => {
            const v = await a.discovery();
            if (v === undefined) return undefined;
            statesSeen.add(v.state);
            if (v.state === 'stale' && v.stale) staleSeen = true;
            if (v.lastError && Date.parse(v.lastError.at) >= t0) errorSeen = v.lastError;
            const spent = cluster.dev.api.stats().faulted - before.faulted >= w.faulted;
            const keys = JSON.stringify(v.endpoints.map((e) => e.key).sort());
            return errorSeen && spent && v.state === 'fresh' && keys === want() ? Date.now() : undefined;
          },
          25_000,
          100,
        );
        const windowMs = (recovered ?? Date.now()) - t0;
        const after = cluster.dev.api.stats();
        const calls = callsBetween(before, after);
        const inWindow = load.samples.filter((s) => s.at >= t0 && s.at <= t0 + windowMs);
        const figures = summarize(inWindow, windowMs);
        // At most one poll per 0.8 s (back-offs only stretch the gap) and two calls per poll.
        const maxCalls = 2 * (Math.floor(windowMs / MIN_POLL_GAP_MS) + 1);
        report(`${label}: ${w.name}`, figures, {
          lastError: errorSeen
            ? `${errorSeen.code}: ${errorSeen.message.replace(/\s+/g, ' ').slice(0, 160)}`
            : 'none',
          statesSeen: [...statesSeen],
          recoveredAfterMs: recovered ? windowMs : 'never',
          faulted: after.faulted - before.faulted,
          apiCalls: discoverCalls(calls),
          apiCallsPerPollInterval: Math.round((sumCalls(calls) * POLL_MS * 100) / windowMs) / 100,
          maxCallsAllowed: maxCalls,
          slowestMs: slowest(inWindow),
        });
        outcomes.push(`${w.name}: ${recovered ? 'recovered' : 'NOT recovered'}, ${figures.failed} failed`);

        expect({ fault: w.name, failures: failuresOf(figures) }).toEqual({ fault: w.name, failures: [] });
        const code = errorSeen?.code ?? 'none';
        expect({ fault: w.name, code, expected: w.codes.includes(code) }).toEqual({
          fault: w.name,
          code,
          expected: true,
        });
        if (w.stale) expect({ fault: w.name, staleSeen }).toEqual({ fault: w.name, staleSeen: true });
        expect({ fault: w.name, recovered: recovered !== undefined }).toEqual({
          fault: w.name,
          recovered: true,
        });
        expect(after.faulted - before.faulted).toBe(w.faulted);
        expect(sumCalls(calls)).toBeLessThanOrEqual(maxCalls);
        expect(figures.sent).toBeGreaterThan(0);
      }
    } finally {
      cluster.dev.api.clearFaults();
      const result = await load.stop();
      report(`${label}, whole run`, result, { windows: outcomes, slowestMs: slowest(result.samples) });
    }
  }

  it('d. API faults: when the API throttles, fails with 5xx, answers too slowly or answers garbage JSON, then A serves from its last good set with 0 failures, shows it stale with the error, backs off, and recovers', async () => {
    await cluster.converge(a);
    // A 21st task, started but not registered: registering it moves the revision, so that A lists
    // (DiscoverInstances) into the fault that only a listing meets.
    const [extra] = await cluster.launchTasks(1, { drainDelayMs: DRAIN_MS, register: false });
    try {
      await runFaultWindows('cloudmap d: API fault', [
        {
          name: 'throttling (RequestLimitExceeded)',
          start: () => fault({ kind: 'throttle' }, 2),
          faulted: 2,
          codes: ['ETHROTTLED'],
          stale: true,
        },
        {
          name: '5xx (500 InternalFailure)',
          start: () => fault({ kind: 'server-error', status: 500 }, 2),
          faulted: 2,
          codes: ['EAPI'],
          stale: true,
        },
        {
          name: `slow answer (${API_CALL_TIMEOUT_MS + 1500} ms, over the ${API_CALL_TIMEOUT_MS} ms call limit)`,
          start: () => fault({ kind: 'delay', ms: API_CALL_TIMEOUT_MS + 1500 }, 1),
          faulted: 1,
          codes: ['ETIMEOUT'],
          stale: true,
        },
        {
          name: 'garbage JSON (revision poll, then the listing)',
          start: () => {
            fault({ kind: 'respond', body: '{"InstancesRevision": 7, "Instan' }, 1, [
              'DiscoverInstancesRevision',
            ]);
            fault({ kind: 'respond', body: '<html>502 Bad Gateway</html>' }, 1, ['DiscoverInstances']);
            cluster.register([extra!]); // the revision moves: A lists once its revision poll works again
          },
          faulted: 2,
          codes: ['EAPI'],
          stale: true,
        },
      ]);
    } finally {
      if (extra!.registered) cluster.deregister([extra!]);
      await extra!.proc.stop('SIGKILL');
    }
  }, 120_000);

  it('e. API fault: when a listing answers instances without AWS_INSTANCE_IPV4, then A keeps serving from its last good set with 0 failures, shows the error, and recovers', async () => {
    await cluster.converge(a);
    const [extra] = await cluster.launchTasks(1, { drainDelayMs: DRAIN_MS });
    try {
      await cluster.converge(a); // A lists the 21st: its revision is the current one
      await runFaultWindows('cloudmap e: API fault', [
        {
          name: 'instances without AWS_INSTANCE_IPV4 (listing)',
          start: (revision) => {
            // The answer to the listing the deregistration below causes: the service's tasks with
            // their ports and ids but no address, at the revision the deregistration makes.
            const body = JSON.stringify({
              Instances: cluster.live.map((t) => ({
                InstanceId: t.id,
                NamespaceName: 'ecs.internal',
                ServiceName: 'service_b',
                HealthStatus: 'HEALTHY',
                Attributes: { AWS_INSTANCE_PORT: String(t.port) },
              })),
              InstancesRevision: revision + 1,
            });
            fault({ kind: 'respond', body }, 1, ['DiscoverInstances']);
            cluster.deregister([extra!]);
          },
          faulted: 1,
          codes: ['ENODATA', 'EAPI'],
          stale: false,
        },
      ]);
    } finally {
      if (extra!.registered) cluster.deregister([extra!]);
      await extra!.proc.stop('SIGKILL');
    }
  }, 90_000);
});
