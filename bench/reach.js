#!/usr/bin/env node
// Reach (issue #11): how many of 20 registered B tasks one A actually spreads its calls over, on DNS
// discovery and on the Cloud Map API source, and how many Cloud Map API calls the API source costs in
// steady state. Part of `npm run bench` (measureReach); `node bench/reach.js` runs it alone and prints JSON.
//
// Why it is measured this way:
// - Route 53 answers a MULTIVALUE name with at most 8 random records, and A caches an answer for its TTL
//   (refreshing ahead at 72-80 % of it while in use): through DNS, A can only reach the tasks of the answers
//   it held during the load. The API source lists every instance. The dev server plays both from one set
//   of registrations, so the two A's see the same 20 tasks.
// - "Reached" is counted at B, from each task's own Prometheus counter of GET /v1/whoami, read before and
//   after the load: A's own pick counters would count what A meant to do, not what the tasks served.
// - API calls are counted at the dev server (its per-operation stats), over a 60 s window after the load,
//   with light traffic keeping the name in use: the poll runs every 5 s ± 20 %, so shorter windows would
//   make a per-10 s figure jump by whole calls, and the source also lists in full (one DiscoverInstances)
//   every 60 s as a safety net (fullRefreshMs), which the window then includes: that listing takes the
//   place of a revision poll, so ~2 calls per 10 s in all, ≈ 0.17 of them full listings.
// Everything runs on 127.0.0.1; every wait, loop and request is bounded in count and time.
'use strict';

const { DevDnsServer } = require('../shared/dev-server/dist');
const lib = require('./lib');

const { CPU_A, launch, load, round2, sleep, stop } = lib;

const SRV = 'service_b.ecs.internal';
const TASKS = 20;
const LOAD_SECONDS = 10;
const CONNECTIONS = 32;
/**
 * Steady-state window for API calls, and the light traffic's pace in it (one request per 100 ms): 60 s,
 * so that it holds the source's once-a-minute full listing (safety net) as well as the revision polls.
 */
const STEADY_SECONDS = 60;
const STEADY_INTERVAL_MS = 100;
/** Longest wait for an A to hold its set (the API source lists on first use; DNS answers at once). */
const SET_TIMEOUT_MS = 20_000;
/** Time limit of each request this module sends itself (/metrics, /discovery, light traffic). */
const REQUEST_TIMEOUT_MS = 3000;
/** Let requests the load generator abandoned at its end reach B before the counters are read. */
const SETTLE_MS = 300;

/** The operations an A calls (the dev server also answers Register/Deregister/UpdateInstance…, A never does). */
const DISCOVER_OPERATIONS = ['DiscoverInstancesRevision', 'DiscoverInstances'];

/** GET `url` with a time limit; resolves with the response, throws on timeout or refusal. */
function get(url) {
  return fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

/**
 * GET /v1/whoami requests a B task has served (every status), from its own `http_requests_total`
 * (shared/kit/src/metrics.ts: labels method, route pattern, status, plus the default label service).
 * Throws when B does not answer: a missing count would make "reached" wrong, not smaller.
 */
async function whoamiServed(b) {
  const res = await get(`http://127.0.0.1:${b.port}/metrics`);
  if (!res.ok) throw new Error(`B task ${b.id}: /metrics answered ${res.status}`);
  const text = await res.text();
  let served = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('http_requests_total{')) continue;
    if (!line.includes('route="/v1/whoami"') || !line.includes('method="GET"')) continue;
    served += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return served;
}

/** Every B task's served count, read in parallel (20 small GETs, each bounded). */
function servedCounts(bs) {
  return Promise.all(bs.map(whoamiServed));
}

/** A's view of the SRV name (GET /discovery): state and endpoints, or undefined before its first use. */
async function discoveryView(a) {
  const body = await (await get(`http://127.0.0.1:${a.port}/discovery`)).json();
  return body.names?.find((n) => n.name === SRV) ?? body.names?.[0];
}

/**
 * Waits (bounded) until A holds a fresh set of at least `count` endpoints. Both sources start on first
 * use, so each round sends one request through A first (its counts at B are taken later, before the load).
 * Resolves with the number of endpoints A holds.
 */
async function waitSet(a, count, name) {
  const deadline = Date.now() + SET_TIMEOUT_MS;
  let seen = 0;
  while (Date.now() < deadline) {
    await get(`http://127.0.0.1:${a.port}/api/whoami`).catch(() => undefined);
    const view = await discoveryView(a).catch(() => undefined);
    seen = view?.endpoints?.length ?? 0;
    if (view?.state === 'fresh' && seen >= count) return seen;
    await sleep(200);
  }
  throw new Error(`${name}: A held ${seen} endpoints, not ${count}, after ${SET_TIMEOUT_MS} ms`);
}

/**
 * LOAD_SECONDS of load through A; the B tasks whose served count grew are the ones A reached.
 * Resolves with { reached, sent, failed, rps, servedPerTask } (servedPerTask: requests each task served).
 */
async function reach(a, bs) {
  const before = await servedCounts(bs);
  const r = await load(`http://127.0.0.1:${a.port}/api/whoami`, {
    seconds: LOAD_SECONDS,
    connections: CONNECTIONS,
  });
  await sleep(SETTLE_MS);
  const after = await servedCounts(bs);
  const servedPerTask = after.map((n, i) => n - before[i]);
  return {
    reached: servedPerTask.filter((n) => n > 0).length,
    sent: r.requests,
    failed: r.failed,
    rps: Math.round(r.rps),
    servedPerTask,
  };
}

/**
 * One GET /api/whoami through A every STEADY_INTERVAL_MS for STEADY_SECONDS (at most
 * STEADY_SECONDS × 1000 / STEADY_INTERVAL_MS requests, each bounded): keeps the name in use, as a live A
 * would, without load. Resolves with { sent, failed }.
 */
async function lightTraffic(a) {
  const start = Date.now();
  const maxRequests = (STEADY_SECONDS * 1000) / STEADY_INTERVAL_MS;
  let sent = 0;
  let failed = 0;
  for (let i = 0; i < maxRequests && Date.now() - start < STEADY_SECONDS * 1000; i++) {
    const ok = await get(`http://127.0.0.1:${a.port}/api/whoami`).then(
      async (res) => {
        await res.arrayBuffer();
        return res.ok;
      },
      () => false,
    );
    sent++;
    if (!ok) failed++;
    // Keep the pace from the start, not from each answer: a slow answer must not thin the traffic out.
    const next = start + (i + 1) * STEADY_INTERVAL_MS;
    await sleep(Math.max(0, next - Date.now()));
  }
  return { sent, failed };
}

/** Cloud Map API calls per operation between two dev server `api.stats()` snapshots. */
function callsBetween(before, after) {
  return Object.fromEntries(
    Object.keys(after.byOperation).map((op) => [op, after.byOperation[op] - before.byOperation[op]]),
  );
}

/**
 * Starts the dev server (DNS and Cloud Map API), 20 B tasks and two A's (DNS, API), measures reach
 * through each and the API source's calls in steady state, stops everything. See the header for the why.
 * @param {{ log?: (line: string) => void }} [options]
 */
async function measureReach({ log = () => undefined } = {}) {
  const devDns = new DevDnsServer({ host: '127.0.0.1', port: 0, api: { host: '127.0.0.1', port: 0 } });
  const { port: dnsPort } = await devDns.start();
  const bs = [];
  const as = [];
  try {
    log(`reach: starting ${TASKS} B tasks…`);
    // One at a time: lib.launch picks a free port by binding and closing it before the child binds it,
    // so tasks started together could be handed the same port and counted twice.
    for (let i = 0; i < TASKS; i++) {
      const id = `reach${String(i).padStart(2, '0')}-${process.pid.toString(16)}`;
      bs.push({ id, ...(await launch('service-b/dist/main.js', { INSTANCE_ID: id, DRAIN_DELAY_MS: '0' })) });
    }
    // One registration per task feeds both sides: DNS answers 8 random ones, the API lists all 20.
    for (const b of bs) devDns.register(b.id, '127.0.0.1', b.port);

    const dnsA = await launch(
      'service-a/dist/main.js',
      { SERVICE_B_SRV: SRV, DISCOVERY_SOURCE: 'dns', DNS_SERVERS: `127.0.0.1:${dnsPort}` },
      CPU_A,
    );
    as.push(dnsA);
    const apiA = await launch(
      'service-a/dist/main.js',
      {
        SERVICE_B_SRV: SRV,
        DISCOVERY_SOURCE: 'cloudmap',
        AWS_ENDPOINT_URL_SERVICEDISCOVERY: devDns.api.endpoint,
        AWS_REGION: 'us-east-1',
        // Dummy credentials: the SDK's default chain must never reach for instance metadata.
        AWS_ACCESS_KEY_ID: 'bench-dummy',
        AWS_SECRET_ACCESS_KEY: 'bench-dummy',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      CPU_A,
    );
    as.push(apiA);
    const dnsSet = await waitSet(dnsA, 1, 'DNS A');
    const apiSet = await waitSet(apiA, TASKS, 'API A');
    log(`reach: A on DNS holds ${dnsSet} endpoints, A on the API ${apiSet}`);

    // DNS first, then stopped: the API A's load then has CPU 0 to itself. The DNS A's first answer is about
    // a second old when the load starts, and A refreshes ahead at 72-80 % of the 10 s TTL while in use, so
    // the load normally spans two answers of 8 random tasks each: 20 × (1 - (12/20)²) ≈ 12.8 tasks
    // expected, 8 to 16 possible (the log line says how many answers it was).
    log(`reach: ${LOAD_SECONDS} s of load through A on DNS…`);
    const srvBefore = devDns.stats().byType.SRV ?? 0;
    const viaDns = await reach(dnsA, bs);
    const srvQueries = (devDns.stats().byType.SRV ?? 0) - srvBefore;
    log(
      `reach: DNS: ${viaDns.reached} of ${TASKS} tasks served, ${viaDns.failed}/${viaDns.sent} failed (${viaDns.rps} req/s); ` +
        `SRV queries during the load: ${srvQueries} (each a new random answer of ≤ 8)`,
    );
    await stop(dnsA.child);

    log(`reach: ${LOAD_SECONDS} s of load through A on the Cloud Map API…`);
    const viaApi = await reach(apiA, bs);
    log(
      `reach: API: ${viaApi.reached} of ${TASKS} tasks served, ${viaApi.failed}/${viaApi.sent} failed (${viaApi.rps} req/s)`,
    );

    log(
      `reach: Cloud Map API calls over ${STEADY_SECONDS} s of light traffic (1 request / ${STEADY_INTERVAL_MS} ms)…`,
    );
    const statsBefore = devDns.api.stats();
    const windowStart = process.hrtime.bigint();
    const light = await lightTraffic(apiA);
    const windowSeconds = Number(process.hrtime.bigint() - windowStart) / 1e9;
    const statsAfter = devDns.api.stats();
    const calls = callsBetween(statsBefore, statsAfter);
    // Failed calls count among the calls (the dev server counts every call it received), but say so.
    const errors = Object.entries(statsAfter.byError)
      .map(([type, n]) => [type, n - (statsBefore.byError[type] ?? 0)])
      .filter(([, n]) => n > 0);
    if (errors.length > 0)
      log(`reach: API errors in the window: ${JSON.stringify(Object.fromEntries(errors))}`);
    const per10s = (n) => round2((n / windowSeconds) * 10);
    const apiCallsByOperationPer10s = Object.fromEntries(
      DISCOVER_OPERATIONS.map((op) => [op, per10s(calls[op])]),
    );
    const total = DISCOVER_OPERATIONS.reduce((n, op) => n + calls[op], 0);
    const others = Object.entries(calls).filter(([op, n]) => !DISCOVER_OPERATIONS.includes(op) && n > 0);
    if (others.length > 0)
      log(`reach: unexpected API calls in the window: ${JSON.stringify(Object.fromEntries(others))}`);
    log(
      `reach: ${total} calls (${JSON.stringify(Object.fromEntries(DISCOVER_OPERATIONS.map((op) => [op, calls[op]])))}) ` +
        `in ${round2(windowSeconds)} s; light traffic ${light.failed}/${light.sent} failed`,
    );

    return {
      tasksRegistered: TASKS,
      tasksReachedDns: viaDns.reached,
      tasksReachedApi: viaApi.reached,
      apiCallsPer10s: per10s(total),
      apiCallsByOperationPer10s,
      loadSeconds: LOAD_SECONDS,
      failedDns: viaDns.failed,
      failedApi: viaApi.failed,
      sentDns: viaDns.sent,
      sentApi: viaApi.sent,
      steadyWindowSeconds: round2(windowSeconds),
    };
  } finally {
    // Each stop is bounded (SIGKILL after 20 s); B tasks have no drain delay.
    await Promise.all([...as, ...bs].map((p) => stop(p.child)));
    await devDns.close();
  }
}

module.exports = { measureReach };

if (require.main === module) {
  lib.pinSelf();
  const started = Date.now();
  const elapsed = () => ((Date.now() - started) / 1000).toFixed(1).padStart(5);
  measureReach({ log: (line) => process.stderr.write(`[${elapsed()} s] ${line}\n`) }).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      process.stderr.write(`reach: done in ${round2((Date.now() - started) / 1000)} s\n`);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
