#!/usr/bin/env node
// `npm run bench`: measures the discovery path against the alternatives and against the peer a user would
// deploy instead (HAProxy as a sidecar resolving the same SRV records), side by side in one run, on
// loopback only. Prints Markdown tables and writes bench/results/latest.json.
//
// How it keeps ratios honest on a small, shared VM, whose speed drifts by ±25 % from one half second to
// the next (steal, neighbours): the two variants of a ratio run *at the same time*.
// - Both share CPU 0, each under its own load generator; the scheduler shares the core fairly, and
//   whatever slows the VM slows both, so a ratio taken over the same seconds cancels the drift (a control
//   pair of two identical A's measures how well, every run: its rounds stay within a few %; one A measured
//   round after round swung by ±25 %). One pair at a time, its rounds back to back: both sides share
//   the same history of load.
// - Every variant of a phase is warmed (JIT, heap) under load first, all together; then every pair, each
//   side alone then both together, right before its rounds.
// - Every ratio is taken per round and reported as the median with its min–max over rounds.
// - A's CPU time per request (utime + stime from /proc/<pid>/stat) is the primary cost figure; req/s is
//   what each variant served while sharing the core, so absolute req/s are about half of one core's.
// - The load generators (wrk, else autocannon) run in their own processes; with ≥ 2 cores the A variants
//   are pinned to CPU 0, and B, HAProxy, the load generators and this script to CPU 1 (BENCH_PIN=0: off).
// Then reach (bench/reach.js): 20 B tasks through DNS's 8-record answers and through the Cloud Map API,
// and the API source's calls per 10 s in steady state.
// Every load is bounded in time (BENCH_SECONDS per round, BENCH_ROUNDS rounds); about 10 minutes in all.
'use strict';

const { promises: dns } = require('node:dns');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { SrvResolver } = require('../shared/dist');
const { DevDnsServer } = require('../shared/dev-server/dist');
const lib = require('./lib');
const { measureReach } = require('./reach');
const { table } = require('./report');

const { CPU_A, cpuMicros, launch, load, median, percentile, round2, sleep } = lib;

const SRV = 'service_b.ecs.internal';
/** The RFC 2782 name HAProxy needs (`_service._proto.name`); the dev server answers it like SRV. */
const SRV_ALIAS = '_service_b._tcp.ecs.internal';
/** Stops the bench, before it starts anything, with `message` (exit code 2). */
function badSetting(message) {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}
/** The whole number (digits only, 1–10000) in the environment variable `name`, or `fallback`. */
function envInt(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (n >= 1 && n <= 10_000) return n;
  return badSetting(`${name} must be a whole number from 1 to 10000, got ${JSON.stringify(text)}`);
}
const ROUND_SECONDS = envInt('BENCH_SECONDS', 3);
/** Even, so that each side's load generator starts first in half of the rounds. */
const ROUNDS = envInt('BENCH_ROUNDS', 12);
if (ROUNDS % 2 !== 0) {
  badSetting(
    `BENCH_ROUNDS must be even (each side's load generator starts first in half of the rounds), got ${ROUNDS}`,
  );
}
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 32);
// `node bench/run.js --check-settings`: prints the settings the bench would use, and runs nothing.
if (process.argv.includes('--check-settings')) {
  process.stdout.write(
    `${JSON.stringify({ roundSeconds: ROUND_SECONDS, rounds: ROUNDS, connections: CONNECTIONS })}\n`,
  );
  process.exit(0);
}
/**
 * Warm-up, right before a pair's rounds: each side alone (an A that sat idle a while is slower for a
 * while), then both together.
 */
const WARM_ALONE_SECONDS = 8;
const WARM_SLICE_SECONDS = 2;
/** After a load ends, the time its A's get to finish what the load generator abandoned. */
const SETTLE_MS = 300;
/** Before any pair: every variant of a phase under load together, about this much of a core each. */
const WARM_PHASE_SECONDS = 15;
const WARM_PAIR_SECONDS = 16;
const COLD_LOOKUPS = 2000;
/** Untimed lookups of each kind before the timed ones (JIT). */
const COLD_WARMUP = 2000;
const COLD_BATCHES = 5;

const log = (line) => process.stderr.write(`${line}\n`);

/** Every variant of `variants` under the same load at the same time for `seconds` (a load generator each). */
function loadTogether(variants, seconds) {
  return Promise.all(
    variants.map((v) => load(`http://127.0.0.1:${v.port}/api/whoami`, { seconds, connections: CONNECTIONS })),
  );
}

const pairName = (pair) => pair.map((v) => v.name).join('/');

/**
 * Measured rounds of `pairs` ([numerator, denominator] of a ratio), pair by pair: warmed (each side
 * alone, then together), then ROUNDS rounds of ROUND_SECONDS with both variants under the same load at
 * the same time, sharing CPU 0, so that whatever slows the VM in those seconds slows both.
 * Per variant and round: req/s, p50/p99, failures, CPU µs per request (summed over `pids`: A, plus
 * HAProxy for the sidecar), the share of a core it used (≈ 0.5 while the pair keeps CPU 0 busy), and what
 * `counter()` counted meanwhile.
 * @returns {{ pairs: Record<string, Record<string, object[]>>, variants: Record<string, object[]>,
 *   stealSeconds: number }} rounds by pair (`a/b`) and side, every round of each variant, steal in all
 */
async function pairRounds(pairs, counter = () => 0) {
  // Every variant of the phase together first, each about WARM_PHASE_SECONDS of a core: a fresh A's CPU
  // per request keeps falling for its first ~25 s of a core (JIT, then the heap settling).
  const variants = [...new Set(pairs.flat())];
  await loadTogether(variants, WARM_PHASE_SECONDS * variants.length);
  const byPair = {};
  const byVariant = {};
  const firstPair = {};
  const everyRound = {};
  let stealSeconds = 0;
  // One pair at a time, its rounds back to back: both sides of a ratio then have the same history of
  // load and idleness (an A idle for a few seconds gives memory back and is slower for a while after).
  for (const pair of pairs) {
    const name = pairName(pair);
    byPair[name] = Object.fromEntries(pair.map((v) => [v.name, []]));
    // Each side alone in turns of WARM_SLICE_SECONDS (neither sits idle long before the pair's
    // warm-up), then both together.
    for (let t = 0; t < WARM_ALONE_SECONDS; t += WARM_SLICE_SECONDS) {
      for (const v of pair) await loadTogether([v], WARM_SLICE_SECONDS);
    }
    await loadTogether(pair, WARM_PAIR_SECONDS);
    const ratios = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Let the warm-up finish requests its load generators abandoned.
      if (round === 0) await sleep(SETTLE_MS);
      const stealBefore = lib.stealSeconds();
      const cpuBefore = pair.map((v) => v.pids.map(cpuMicros));
      const countBefore = counter();
      // The side whose load generator starts first alternates round by round: no side always has it.
      const order = round % 2 === 0 ? pair : [...pair].reverse();
      const started = await loadTogether(order, ROUND_SECONDS);
      const results = round % 2 === 0 ? started : [...started].reverse();
      const counted = counter() - countBefore;
      // The CPU each A spends on what its load generator abandoned at the end (up to CONNECTIONS requests
      // and their sockets) counts in this round for both sides alike: read once both have finished it.
      // Read at once, it counted for the side whose load generator stopped first only.
      await sleep(SETTLE_MS);
      const cpuAfter = pair.map((v) => v.pids.map(cpuMicros));
      stealSeconds += lib.stealSeconds() - stealBefore;
      pair.forEach((v, i) => {
        const r = results[i];
        const cpu = v.pids.map((_, j) => cpuAfter[i][j] - cpuBefore[i][j]);
        const run = {
          rps: r.rps,
          p50: r.p50,
          p99: r.p99,
          failed: r.failed,
          sent: r.requests,
          seconds: r.seconds,
          cpuUsPerRequest: cpu.reduce((a, b) => a + b, 0) / Math.max(1, r.requests),
          cpuUsPerRequestEach: cpu.map((c) => c / Math.max(1, r.requests)),
          aCpuShare: cpu[0] / 1e6 / r.seconds,
          // The side's share of a core (A, plus HAProxy for the sidecar): ≈ 0.5 while the pair keeps
          // CPU 0 busy; well below, something else (B, CPU 1) limited it and req/s says less.
          cpuShare: cpu.reduce((a, b) => a + b, 0) / 1e6 / r.seconds,
          // What `counter` counted during the round (both sides together).
          counted,
        };
        byPair[name][v.name].push(run);
        // A variant's own figures come from the first pair it was measured in (its partner there is
        // `besides`); figures from different seconds are not compared. Failures count from every round.
        if ((firstPair[v.name] ??= name) === name) (byVariant[v.name] ??= []).push(run);
        (everyRound[v.name] ??= []).push(run);
      });
      const [a, b] = pair.map((v) => byPair[name][v.name][round]);
      if (b) ratios.push(round2(a.cpuUsPerRequest / b.cpuUsPerRequest));
    }
    if (pair.length === 2) log(`  ${name}, CPU/request ratio per round: ${ratios.join(' ')}`);
  }
  return { pairs: byPair, variants: byVariant, firstPair, everyRound, stealSeconds };
}

/**
 * Per variant: medians over the rounds of the first pair it was measured in (`besides`: which pair),
 * failures over every round it ran, and the lowest share of a core it got in a round.
 */
function summarize(measured) {
  return Object.fromEntries(
    Object.entries(measured.variants).map(([name, rs]) => {
      const every = measured.everyRound[name];
      return [
        name,
        {
          besides: measured.firstPair[name],
          rps: Math.round(median(rs.map((r) => r.rps))),
          p50: round2(median(rs.map((r) => r.p50))),
          p99: round2(median(rs.map((r) => r.p99))),
          cpuUsPerRequest: Math.round(median(rs.map((r) => r.cpuUsPerRequest))),
          failed: every.reduce((n, r) => n + r.failed, 0),
          sent: every.reduce((n, r) => n + r.sent, 0),
          // ≈ 0.5 when its pair kept CPU 0 busy; well below, req/s was limited elsewhere.
          lowestCpuShare: round2(Math.min(...every.map((r) => r.cpuShare))),
        },
      ];
    }),
  );
}

/** A ratio's values (per round or batch) as reported: median, min, max, and each. */
function spreadOf(values) {
  return {
    median: round2(median(values)),
    min: round2(Math.min(...values)),
    max: round2(Math.max(...values)),
    rounds: values.map(round2),
  };
}

/** A ratio of a pair taken round by round (both sides from the same seconds): median, min, max. */
function ratio(measured, num, den, field) {
  const runs = measured.pairs[`${num}/${den}`];
  return spreadOf(runs[num].map((r, i) => r[field] / runs[den][i][field]));
}

/** Picks/s from a warm cache on one core, beside a bare Map.get, in alternating 1 s rounds. */
async function measurePicks(dnsAddress) {
  const resolver = new SrvResolver({ servers: [dnsAddress] });
  await resolver.resolve(SRV);
  const map = new Map([[SRV, { key: 'x' }]]);
  const rate = (fn) => {
    let n = 0;
    let sink = 0;
    const end = process.hrtime.bigint() + 1_000_000_000n;
    while (process.hrtime.bigint() < end) {
      for (let i = 0; i < 1000; i++) sink += fn() === undefined ? 0 : 1;
      n += 1000;
    }
    if (sink !== n) throw new Error('a pick returned nothing');
    return n;
  };
  const picks = [];
  const gets = [];
  for (let round = 0; round < 5; round++) {
    picks.push(rate(() => resolver.pickCached(SRV)));
    gets.push(rate(() => map.get(SRV)));
  }
  resolver.close();
  return { picksPerSecond: median(picks), mapGetPerSecond: median(gets) };
}

/**
 * Uncached lookups, ours (one SRV query, addresses from ADDITIONAL) and resolveSrv + resolve4 taking turns,
 * after COLD_WARMUP of each as a warm-up (its first batch reported apart);
 * the ratio of p50s per batch of COLD_LOOKUPS / COLD_BATCHES pairs gives its spread.
 */
async function measureColdLookups(dnsAddress) {
  const node = new dns.Resolver({ timeout: 2000, tries: 1 });
  node.setServers([dnsAddress]);
  const resolver = new SrvResolver({ servers: [dnsAddress] });
  /** `count` lookups of each kind, taking turns: their times, µs. */
  const timeLookups = async (count) => {
    const ours = [];
    const theirs = [];
    for (let i = 0; i < count; i++) {
      let t = process.hrtime.bigint();
      const set = await resolver.lookup(SRV); // uncached: the whole wire path every time
      ours.push(Number(process.hrtime.bigint() - t) / 1000);
      if (set.endpoints.length === 0) throw new Error('no endpoints');

      t = process.hrtime.bigint();
      const records = await node.resolveSrv(SRV);
      await Promise.all(records.map((r) => node.resolve4(r.name)));
      theirs.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    return { ours, theirs };
  };
  const size = COLD_LOOKUPS / COLD_BATCHES;
  const p50OfBatch = (xs, b) => percentile(xs.slice(b * size, (b + 1) * size), 50);
  // Both warmed first, the same way, before the measured lookups: unwarmed, the batches followed the JIT,
  // not the lookups (ours ÷ Node fell from 0.8 in the first batch of 400 to 0.45 by the fifth, ours from
  // 184 to 61 µs). The warm-up's first batch is reported too: what a process that has made no lookups
  // yet gets (the first call of this function in the run only; later ones find the code warm).
  const warmUp = await timeLookups(COLD_WARMUP);
  const first = { ours: p50OfBatch(warmUp.ours, 0), theirs: p50OfBatch(warmUp.theirs, 0) };
  const { ours, theirs } = await timeLookups(COLD_LOOKUPS);
  resolver.close();
  const batches = Array.from({ length: COLD_BATCHES }, (_, b) => p50OfBatch(ours, b) / p50OfBatch(theirs, b));
  return {
    coldLookupP50Us: Math.round(percentile(ours, 50)),
    coldLookupP99Us: Math.round(percentile(ours, 99)),
    nodeResolveSrvP50Us: Math.round(percentile(theirs, 50)),
    nodeResolveSrvP99Us: Math.round(percentile(theirs, 99)),
    firstBatch: {
      lookups: size,
      coldLookupP50Us: Math.round(first.ours),
      nodeResolveSrvP50Us: Math.round(first.theirs),
      ratio: round2(first.ours / first.theirs),
    },
    ratio: spreadOf(batches),
  };
}

/** Waits (bounded) until A's /discovery lists `count` endpoints. */
async function waitEndpoints(aPort, count, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // A request through A makes it look the name up when its cached set has expired.
    await fetch(`http://127.0.0.1:${aPort}/api/whoami`).catch(() => undefined);
    const body = await (await fetch(`http://127.0.0.1:${aPort}/discovery`)).json();
    if ((body.names?.[0]?.endpoints.length ?? 0) === count) return;
    await sleep(250);
  }
  throw new Error(`A did not see ${count} endpoints within ${timeoutMs} ms`);
}

/** SIGKILL one of the B tasks under load (still registered, as after a crash): failures and time to eject. */
async function measureFailover(aPort, victim) {
  const started = Date.now();
  const run = load(`http://127.0.0.1:${aPort}/api/whoami`, { seconds: 6, connections: CONNECTIONS });
  await sleep(2000);
  victim.child.kill('SIGKILL');
  const killedAt = Date.now();
  let ejectedAfterMs;
  while (ejectedAfterMs === undefined && Date.now() - started < 6000) {
    const body = await (await fetch(`http://127.0.0.1:${aPort}/discovery`)).json();
    const ep = body.names[0]?.endpoints.find((e) => e.port === victim.port);
    if (ep?.health.status === 'ejected') ejectedAfterMs = Date.now() - killedAt;
    else await sleep(10);
  }
  const r = await run;
  return { failoverFailedRequests: r.failed, failoverSent: r.requests, ejectedAfterMs };
}

async function main() {
  lib.pinSelf();
  if (lib.LOAD_GENERATOR !== 'wrk') {
    log(
      'wrk not found: using autocannon in a child process (install wrk for steadier figures: apt-get install -y wrk)',
    );
  }
  if (!lib.HAPROXY) log('haproxy not found: the peer comparison is skipped (apt-get install -y haproxy)');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-srv-bench-'));
  const devDns = new DevDnsServer({
    host: '127.0.0.1',
    port: 0,
    aliases: { '_service_b._tcp': 'service_b' },
  });
  const { host, port } = await devDns.start();
  const dnsAddress = `${host}:${port}`;
  const bs = [];
  for (let i = 0; i < 3; i++) {
    const id = `task${i}-${process.pid.toString(16)}`;
    bs.push({ id, ...(await launch('service-b/dist/main.js', { INSTANCE_ID: id, DRAIN_DELAY_MS: '0' })) });
  }

  // Quiet-machine measurements first, nothing else runs yet: picks and cold lookups over the 3-task
  // answer (SRV + 3 A records in ADDITIONAL), and cold lookups of a 1-task answer for reference.
  for (const b of bs) devDns.register(b.id, '127.0.0.1', b.port);
  log('picks from a warm cache…');
  const picks = await measurePicks(dnsAddress);
  log(`${COLD_LOOKUPS} cold lookups each, 3 tasks then 1 task…`);
  const cold = await measureColdLookups(dnsAddress);
  for (const b of bs.slice(1)) devDns.deregister(b.id);
  const cold1 = await measureColdLookups(dnsAddress);

  // Phase 1: the A variants against the same single B task (the one the fixed URL points at). Spread over
  // 3 B processes on a 2-core machine the B side itself gets slower, which is not discovery's cost.
  const bUrl = `http://127.0.0.1:${bs[0].port}`;
  const discovery = await launch('service-a/dist/main.js', { DNS_SERVERS: dnsAddress }, CPU_A);
  const fixed = await launch('service-a/dist/main.js', { SERVICE_B_URL: bUrl }, CPU_A);
  const naive = await launch('bench/variants/naive-a.js', { DNS_SERVERS: dnsAddress }, CPU_A);
  const bare = await launch('bench/variants/http-a.js', { SERVICE_B_URL: bUrl }, CPU_A);
  // The control: a second, identical fixed-URL A. Its ratio to the first says how far the method itself
  // can be trusted in this run (1 ± what it reports).
  const twin = await launch('service-a/dist/main.js', { SERVICE_B_URL: bUrl }, CPU_A);
  const v = (name, started) => ({ name, ...started, pids: [started.pid] });
  const [vDiscovery, vFixed, vNaive, vBare, vTwin] = [
    v('discovery', discovery),
    v('fixed', fixed),
    v('naive', naive),
    v('node:http', bare),
    v('fixed-twin', twin),
  ];
  // Each ratio's two sides, measured together.
  const phase1 = [
    [vFixed, vTwin],
    [vDiscovery, vFixed],
    [vNaive, vFixed],
    [vFixed, vBare],
  ];
  log(
    `A variants, 1 B task, in pairs sharing CPU 0 (${phase1.map(pairName).join(', ')}): ` +
      `warm-up, then ${ROUNDS} rounds × ${ROUND_SECONDS} s per pair…`,
  );
  // The naive A asks one SRV and one A query per request; discovery asks SRV only (its answer carries the
  // addresses), so A queries count the naive A's requests: counted per round, over the naive pair's rounds.
  let aQueries = 0;
  const countA = (q) => {
    if (q.type === 'A') aQueries++;
  };
  devDns.on('query', countA);
  const runs1 = await pairRounds(phase1, () => aQueries);
  devDns.off('query', countA);
  const naiveRounds = runs1.pairs['naive/fixed'].naive;
  const naiveDnsQueriesPer10s =
    ((2 * naiveRounds.reduce((n, r) => n + r.counted, 0)) / naiveRounds.reduce((n, r) => n + r.seconds, 0)) *
    10;
  const rssMiB = lib.rss(discovery.pid).peakRssMiB;

  // DNS packets under continuous load (between rounds A may idle past the TTL, and then a round begins
  // with a lookup): one 20 s run, queries counted at the server.
  log('DNS queries during 20 s of continuous load through discovery…');
  await sleep(1000);
  const queriesBefore = devDns.stats().queries;
  const steady = await load(`http://127.0.0.1:${discovery.port}/api/whoami`, { seconds: 20 });
  const dnsQueriesPer10s = ((devDns.stats().queries - queriesBefore) / steady.seconds) * 10;
  for (const v of [fixed, naive, bare, twin]) await lib.stop(v.child);

  // Phase 2: the peer. The same 3 B tasks behind A through our client, and behind HAProxy (a sidecar
  // next to A, resolving the same records under their RFC 2782 alias) with A sending to it at a fixed URL.
  // Ours is a fresh A, started just before HAProxy and the sidecar's A: both sides then have about the
  // same history (phase 1's discovery A has run for minutes and idled between pairs).
  await lib.stop(discovery.child);
  for (const b of bs.slice(1)) devDns.register(b.id, '127.0.0.1', b.port);
  const oursA = await launch('service-a/dist/main.js', { DNS_SERVERS: dnsAddress }, CPU_A);
  await waitEndpoints(oursA.port, 3);
  const ours = { name: 'ours', ...oursA, pids: [oursA.pid] };
  let haproxy;
  let sidecarA;
  let aliasQueries = 0;
  const countAlias = (q) => {
    if (q.name.toLowerCase() === SRV_ALIAS) aliasQueries++;
  };
  devDns.on('query', countAlias);
  const peerStarted = Date.now();
  // A sidecar shares its task's CPU with A, as in ECS: with CPU groups of equal weight, ours (A) and the
  // sidecar's task (A + HAProxy) each get half of CPU 0. Without them HAProxy runs on CPU 1, where its
  // CPU costs the sidecar's throughput nothing (only peerCpuRatio then counts it).
  const groups = lib.HAPROXY && lib.PINNING ? lib.cpuGroups(['ours', 'sidecar']) : undefined;
  if (lib.HAPROXY) {
    haproxy = await lib.startHaproxy({
      srvName: SRV_ALIAS,
      dnsAddress,
      dir: tmp,
      cpu: groups ? CPU_A : lib.CPU_REST,
    });
    sidecarA = await launch(
      'service-a/dist/main.js',
      { SERVICE_B_URL: `http://127.0.0.1:${haproxy.port}` },
      CPU_A,
    );
  }
  if (groups) {
    groups.add('ours', oursA.pid);
    groups.add('sidecar', sidecarA.pid);
    groups.add('sidecar', haproxy.pid);
  }
  const sidecarPlacement = groups
    ? "HAProxy on CPU 0 with its A, the two in one CPU group of the same weight as ours' A (a task's share)"
    : 'HAProxy on CPU 1 (no CPU groups here: its CPU is not taken from the sidecar A)';
  const sidecar = haproxy && { name: 'sidecar', ...sidecarA, pids: [sidecarA.pid, haproxy.pid] };
  log(
    `ours vs HAProxy sidecar, 3 B tasks, together on CPU 0: warm-up, then ${ROUNDS} rounds × ${ROUND_SECONDS} s…`,
  );
  // Without HAProxy, ours alone (its figures still reported).
  const runs2 = await pairRounds(sidecar ? [[ours, sidecar]] : [[ours]]);
  const peerSeconds = (Date.now() - peerStarted) / 1000;
  devDns.off('query', countAlias);
  groups?.remove();
  if (sidecarA) await lib.stop(sidecarA.child);
  if (haproxy) await lib.stop(haproxy.child);

  log('failover (SIGKILL one of 3 B tasks under load)…');
  await sleep(500);
  const failover = await measureFailover(oursA.port, bs[2]);

  // Reach (issue #11): its own dev server, 20 B tasks and two A's (DNS, Cloud Map API); ~100 s.
  await lib.stop(oursA.child);
  for (const b of bs) await lib.stop(b.child);
  log('reach: 20 B tasks through DNS (8-record answers) and through the Cloud Map API…');
  // Reach comes last and is optional: its failure is reported, it does not throw the run away.
  const reach = await measureReach({ log }).catch((err) => {
    log(`reach failed: ${err.stack ?? err}`);
    return { error: String(err.message ?? err) };
  });

  const v1 = summarize(runs1);
  const v2 = summarize(runs2);
  const spread = {
    throughputRatio: ratio(runs1, 'discovery', 'fixed', 'rps'),
    cpuPerRequestRatio: ratio(runs1, 'discovery', 'fixed', 'cpuUsPerRequest'),
    naiveThroughputRatio: ratio(runs1, 'naive', 'fixed', 'rps'),
    axiosRatio: ratio(runs1, 'fixed', 'node:http', 'rps'),
    axiosCpuRatio: ratio(runs1, 'fixed', 'node:http', 'cpuUsPerRequest'),
    controlRatio: ratio(runs1, 'fixed', 'fixed-twin', 'cpuUsPerRequest'),
    coldLookupRatio: cold.ratio,
    coldLookup1TaskRatio: cold1.ratio,
    ...(haproxy && {
      peerThroughputRatio: ratio(runs2, 'ours', 'sidecar', 'rps'),
      peerCpuRatio: ratio(runs2, 'ours', 'sidecar', 'cpuUsPerRequest'),
    }),
  };
  const sidecarRuns = runs2.variants.sidecar ?? [];
  const results = {
    date: new Date().toISOString(),
    machine: lib.machine(),
    settings: {
      loadGenerator: lib.LOAD_GENERATOR,
      pinning: lib.PINNING
        ? `the A variants on CPU 0; B, ${haproxy && !groups ? 'HAProxy, ' : ''}the load generators and the bench on CPU 1`
        : 'none',
      roundSeconds: ROUND_SECONDS,
      rounds: ROUNDS,
      warmPhaseSeconds: WARM_PHASE_SECONDS,
      warmAloneSeconds: WARM_ALONE_SECONDS,
      warmSliceSeconds: WARM_SLICE_SECONDS,
      alternateStart: true,
      freshPeerA: Boolean(haproxy),
      warmPairSeconds: WARM_PAIR_SECONDS,
      schedule: 'each ratio from its two variants measured at the same time, sharing CPU 0',
      pairs: [...phase1, ...(sidecar ? [[ours, sidecar]] : [])].map(pairName),
      connections: CONNECTIONS,
      coldLookups: COLD_LOOKUPS,
      coldLookupWarmup: COLD_WARMUP,
      bTasksCompared: 1,
      bTasksPeerAndFailover: 3,
      sidecarPlacement: haproxy ? sidecarPlacement : null,
    },
    stealSeconds: round2(runs1.stealSeconds + runs2.stealSeconds),
    throughputRatio: spread.throughputRatio.median,
    cpuPerRequestRatio: spread.cpuPerRequestRatio.median,
    naiveThroughputRatio: spread.naiveThroughputRatio.median,
    dnsQueriesPer10s: round2(dnsQueriesPer10s),
    naiveDnsQueriesPer10s: Math.round(naiveDnsQueriesPer10s),
    picksPerSecond: Math.round(picks.picksPerSecond),
    mapGetPerSecond: Math.round(picks.mapGetPerSecond),
    coldLookupP50Us: cold.coldLookupP50Us,
    coldLookupP99Us: cold.coldLookupP99Us,
    nodeResolveSrvP50Us: cold.nodeResolveSrvP50Us,
    nodeResolveSrvP99Us: cold.nodeResolveSrvP99Us,
    coldLookupRatio: cold.ratio.median,
    // The first 400 lookups of each kind in this process, before any warm-up (reference).
    coldLookupFirstBatch: cold.firstBatch,
    coldLookup1Task: {
      coldLookupP50Us: cold1.coldLookupP50Us,
      coldLookupP99Us: cold1.coldLookupP99Us,
      nodeResolveSrvP50Us: cold1.nodeResolveSrvP50Us,
      nodeResolveSrvP99Us: cold1.nodeResolveSrvP99Us,
      ratio: cold1.ratio.median,
    },
    ...failover,
    rssMiB,
    tasksReachedDns: reach.tasksReachedDns ?? null,
    tasksReachedApi: reach.tasksReachedApi ?? null,
    apiCallsPer10s: reach.apiCallsPer10s ?? null,
    reach,
    axiosRatio: spread.axiosRatio.median,
    axiosCpuRatio: spread.axiosCpuRatio.median,
    peerThroughputRatio: spread.peerThroughputRatio?.median ?? null,
    peerCpuRatio: spread.peerCpuRatio?.median ?? null,
    peerP99Ms: v2.sidecar?.p99 ?? null,
    oursP99Ms: v2.ours.p99,
    peer: haproxy
      ? {
          haproxy: 'HAProxy (Debian package), 1 thread, server-template over the SRV alias, roundrobin',
          srvName: SRV_ALIAS,
          sidecarACpuUsPerRequest: Math.round(median(sidecarRuns.map((r) => r.cpuUsPerRequestEach[0]))),
          haproxyCpuUsPerRequest: Math.round(median(sidecarRuns.map((r) => r.cpuUsPerRequestEach[1]))),
          haproxyDnsQueriesPer10s: round2((aliasQueries / peerSeconds) * 10),
        }
      : null,
    spreadOver3Tasks: { rps: v2.ours.rps, p50: v2.ours.p50, p99: v2.ours.p99 },
    spread,
    variants: { ...v1, ...v2 },
  };
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(table(results));
  await devDns.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
