#!/usr/bin/env node
// `npm run bench`: measures the discovery path against the alternatives, side by side in one run, on
// loopback only. Prints a Markdown table and writes bench/results/latest.json. Every load is bounded in
// time (BENCH_SECONDS per round, BENCH_ROUNDS rounds); the whole run takes about 3 minutes.
'use strict';

const autocannon = require('autocannon');
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { promises: dns } = require('node:dns');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { SrvResolver } = require('../shared/dist');
const { DevDnsServer } = require('../shared/dist/dev-dns');

const ROOT = path.resolve(__dirname, '..');
const SRV = 'service_b.ecs.internal';
const ROUND_SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const COLD_LOOKUPS = 2000;

const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** A port the OS just handed out (closed again at once: a tiny race, fine on loopback). */
function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `node <file>` on a free port (logs at warn, so no per-request logging) and waits for /healthz. */
async function launch(file, env) {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, file)], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env, PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${file} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${file} did not answer /healthz`);
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { child, port };
    await new Promise((r) => setTimeout(r, 50));
  }
}

function load(url, seconds, requests) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration: seconds, requests, timeout: 10 }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** CPU time (user + system) a process has used so far, µs (from /proc: clock ticks of 1/100 s). */
function cpuMicros(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function peakRssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

/** Alternating rounds of load against each variant; per variant: median req/s, p50, p99, failures. */
async function compare(variants, dnsServer) {
  const runs = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      // Let the previous variant finish requests the load generator abandoned (they may still query DNS).
      await new Promise((r) => setTimeout(r, 1000));
      const before = dnsServer?.stats().queries ?? 0;
      const cpuBefore = cpuMicros(v.pid);
      const r = await load(`http://127.0.0.1:${v.port}/api/whoami`, ROUND_SECONDS);
      const cpu = cpuMicros(v.pid) - cpuBefore;
      const queries = (dnsServer?.stats().queries ?? 0) - before;
      runs[v.name].push({
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        failed: r.errors + r.timeouts + r.non2xx,
        sent: r.requests.total,
        queries,
        seconds: r.duration,
        cpuUsPerRequest: cpu / Math.max(1, r.requests.total),
      });
      process.stderr.write(`  ${v.name} round ${round + 1}: ${Math.round(r.requests.average)} req/s\n`);
    }
  }
  return Object.fromEntries(
    Object.entries(runs).map(([name, rs]) => [
      name,
      {
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        cpuUsPerRequest: Math.round(median(rs.map((r) => r.cpuUsPerRequest))),
        failed: rs.reduce((n, r) => n + r.failed, 0),
        sent: rs.reduce((n, r) => n + r.sent, 0),
        // Over all rounds together: a refresh every ~7.6 s makes per-round counts of 8 s windows jumpy.
        queriesPer10s: (rs.reduce((n, r) => n + r.queries, 0) / rs.reduce((n, r) => n + r.seconds, 0)) * 10,
      },
    ]),
  );
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

/** Uncached lookups: ours (one SRV query, addresses from ADDITIONAL) vs resolveSrv + resolve4. */
async function measureColdLookups(dnsAddress) {
  const node = new dns.Resolver({ timeout: 2000, tries: 1 });
  node.setServers([dnsAddress]);
  const resolver = new SrvResolver({ servers: [dnsAddress] });
  const ours = [];
  const theirs = [];
  for (let i = 0; i < COLD_LOOKUPS; i++) {
    let t = process.hrtime.bigint();
    const set = await resolver.lookup(SRV); // uncached: the whole wire path every time
    ours.push(Number(process.hrtime.bigint() - t) / 1000);
    if (set.endpoints.length === 0) throw new Error('no endpoints');

    t = process.hrtime.bigint();
    const records = await node.resolveSrv(SRV);
    await Promise.all(records.map((r) => node.resolve4(r.name)));
    theirs.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  resolver.close();
  return {
    coldLookupP50Us: Math.round(percentile(ours, 50)),
    coldLookupP99Us: Math.round(percentile(ours, 99)),
    nodeResolveSrvP50Us: Math.round(percentile(theirs, 50)),
    nodeResolveSrvP99Us: Math.round(percentile(theirs, 99)),
  };
}

/** SIGKILL one of the B tasks under load (still registered, as after a crash): failures and time to eject. */
async function measureFailover(aPort, victim) {
  const started = Date.now();
  const run = load(`http://127.0.0.1:${aPort}/api/whoami`, 6);
  await new Promise((r) => setTimeout(r, 2000));
  victim.child.kill('SIGKILL');
  const killedAt = Date.now();
  let ejectedAfterMs;
  while (ejectedAfterMs === undefined && Date.now() - started < 6000) {
    const body = await (await fetch(`http://127.0.0.1:${aPort}/discovery`)).json();
    const ep = body.names[0]?.endpoints.find((e) => e.port === victim.port);
    if (ep?.health.status === 'ejected') ejectedAfterMs = Date.now() - killedAt;
    else await new Promise((r) => setTimeout(r, 10));
  }
  const r = await run;
  return {
    failoverFailedRequests: r.errors + r.timeouts + r.non2xx,
    failoverSent: r.requests.total,
    ejectedAfterMs,
  };
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

async function main() {
  const devDns = new DevDnsServer({ host: '127.0.0.1', port: 0 });
  const { host, port } = await devDns.start();
  const dnsAddress = `${host}:${port}`;
  const bs = [];
  for (let i = 0; i < 3; i++) {
    const id = randomBytes(16).toString('hex');
    bs.push({ id, ...(await launch('service-b/dist/main.js', { INSTANCE_ID: id, DRAIN_DELAY_MS: '0' })) });
  }
  // The comparisons use the same B set for every variant: the one task the fixed URL points at. (Spread
  // over 3 B processes on a 2-core machine the B side itself gets slower, which is not discovery's cost;
  // that spread is measured separately below.)
  const bUrl = `http://127.0.0.1:${bs[0].port}`;

  // Quiet-machine measurements first, nothing else runs yet: picks and cold lookups over the 3-task
  // answer (SRV + 3 A records in ADDITIONAL), and cold lookups of a 1-task answer for reference.
  for (const b of bs) devDns.register(b.id, '127.0.0.1', b.port);
  process.stderr.write(`picks from a warm cache…\n`);
  const picks = await measurePicks(dnsAddress);
  process.stderr.write(`${COLD_LOOKUPS} cold lookups each, 3 tasks then 1 task…\n`);
  const cold = await measureColdLookups(dnsAddress);
  for (const b of bs.slice(1)) devDns.deregister(b.id);
  const cold1 = await measureColdLookups(dnsAddress);

  const discovery = await launch('service-a/dist/main.js', { DNS_SERVERS: dnsAddress });
  const [fixed, naive, bare] = await Promise.all([
    launch('service-a/dist/main.js', { SERVICE_B_URL: bUrl }),
    launch('bench/variants/naive-a.js', { DNS_SERVERS: dnsAddress }),
    launch('bench/variants/http-a.js', { SERVICE_B_URL: bUrl }),
  ]);

  process.stderr.write(`warming up…\n`);
  for (const v of [discovery, fixed, naive, bare]) await load(`http://127.0.0.1:${v.port}/api/whoami`, 2);

  process.stderr.write(`A through discovery vs fixed URL vs naive (${ROUNDS} × ${ROUND_SECONDS} s each)…\n`);
  const main = await compare(
    [
      { name: 'discovery', port: discovery.port, pid: discovery.child.pid },
      { name: 'fixed', port: fixed.port, pid: fixed.child.pid },
      { name: 'naive', port: naive.port, pid: naive.child.pid },
    ],
    devDns,
  );
  const rssMiB = peakRssMiB(discovery.child.pid);

  // DNS packets under continuous load (between rounds A idles past the TTL, and then every round would
  // begin with a lookup): one 20 s run, queries counted at the server.
  process.stderr.write(`DNS queries during 20 s of continuous load through discovery…\n`);
  await new Promise((r) => setTimeout(r, 2000)); // the previous variant's abandoned requests finish first
  const queriesBefore = devDns.stats().queries;
  const steady = await load(`http://127.0.0.1:${discovery.port}/api/whoami`, 20);
  const dnsQueriesPer10s = ((devDns.stats().queries - queriesBefore) / steady.duration) * 10;

  process.stderr.write(`axios (fixed URL) vs bare node:http…\n`);
  const clients = await compare([
    { name: 'axios', port: fixed.port, pid: fixed.child.pid },
    { name: 'node:http', port: bare.port, pid: bare.child.pid },
  ]);

  process.stderr.write(`A through discovery spread over 3 B tasks…\n`);
  await new Promise((r) => setTimeout(r, 11_000)); // let A's cached 1-task set expire
  for (const b of bs.slice(1)) devDns.register(b.id, '127.0.0.1', b.port);
  const spread = await load(`http://127.0.0.1:${discovery.port}/api/whoami`, ROUND_SECONDS);
  process.stderr.write(`failover (SIGKILL one of 3 B tasks under load)…\n`);
  const failover = await measureFailover(discovery.port, bs[2]);

  const results = {
    date: new Date().toISOString(),
    machine: machine(),
    settings: {
      roundSeconds: ROUND_SECONDS,
      rounds: ROUNDS,
      connections: CONNECTIONS,
      coldLookups: COLD_LOOKUPS,
      bTasksCompared: 1,
      bTasksSpreadAndFailover: 3,
    },
    throughputRatio: round2(main.discovery.rps / main.fixed.rps),
    naiveThroughputRatio: round2(main.naive.rps / main.fixed.rps),
    dnsQueriesPer10s: round2(dnsQueriesPer10s),
    naiveDnsQueriesPer10s: Math.round(main.naive.queriesPer10s),
    picksPerSecond: Math.round(picks.picksPerSecond),
    mapGetPerSecond: Math.round(picks.mapGetPerSecond),
    ...cold,
    coldLookupRatio: round2(cold.coldLookupP50Us / cold.nodeResolveSrvP50Us),
    coldLookup1Task: { ...cold1, ratio: round2(cold1.coldLookupP50Us / cold1.nodeResolveSrvP50Us) },
    ...failover,
    rssMiB,
    axiosRatio: round2(clients.axios.rps / clients['node:http'].rps),
    spreadOver3Tasks: { rps: spread.requests.average, p50: spread.latency.p50, p99: spread.latency.p99 },
    variants: { ...main, ...clients },
  };
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(table(results));
  for (const c of [...children].reverse()) c.kill('SIGTERM'); // the A variants first, then the B tasks
  await devDns.close();
}

function round2(x) {
  return Math.round(x * 100) / 100;
}

function table(r) {
  const v = r.variants;
  const ok = (pass) => (pass ? '✓' : '✗');
  const row = (name, x) =>
    `| ${name} | ${Math.round(x.rps)} | ${x.p50} | ${x.p99} | ${x.cpuUsPerRequest} | ${x.failed}/${x.sent} |`;
  return [
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}; ${r.date}`,
    `Load: autocannon, ${r.settings.connections} connections, ${r.settings.rounds} alternating rounds × ${r.settings.roundSeconds} s, medians; the variants call the same single B task; then A over 3 B tasks (spread, failover).`,
    '',
    '| A variant (GET /api/whoami) | req/s | p50 ms | p99 ms | A CPU µs/request | failed/sent |',
    '|---|---|---|---|---|---|',
    row('through discovery (as shipped)', v.discovery),
    row('B URL fixed (`SERVICE_B_URL`)', v.fixed),
    row('naive: resolveSrv + resolve4 per request', v.naive),
    row('fixed URL, bare node:http instead of axios', v['node:http']),
    `| through discovery, spread over 3 B tasks (one ${r.settings.roundSeconds} s run) | ${Math.round(r.spreadOver3Tasks.rps)} | ${r.spreadOver3Tasks.p50} | ${r.spreadOver3Tasks.p99} | | |`,
    '',
    '| measure | result | target | met |',
    '|---|---|---|---|',
    `| throughputRatio (discovery / fixed) | ${r.throughputRatio} | ≥ 0.95 | ${ok(r.throughputRatio >= 0.95)} |`,
    `| naiveThroughputRatio (naive / fixed) | ${r.naiveThroughputRatio} | (reference) | |`,
    `| dnsQueriesPer10s (discovery, 20 s continuous load) | ${r.dnsQueriesPer10s} | ≤ 2 | ${ok(r.dnsQueriesPer10s <= 2)} |`,
    `| A CPU per request: discovery / fixed | ${r.variants.discovery.cpuUsPerRequest} / ${r.variants.fixed.cpuUsPerRequest} µs | (reference) | |`,
    `| naiveDnsQueriesPer10s | ${r.naiveDnsQueriesPer10s} | (2 per request) | |`,
    `| picksPerSecond (warm cache, one core) | ${r.picksPerSecond.toLocaleString('en')} | ≥ 2,000,000 | ${ok(r.picksPerSecond >= 2e6)} |`,
    `| mapGetPerSecond (bare Map.get, same run) | ${r.mapGetPerSecond.toLocaleString('en')} | (reference) | |`,
    `| coldLookupP50Us / P99 (ours) | ${r.coldLookupP50Us} / ${r.coldLookupP99Us} µs | | |`,
    `| nodeResolveSrvP50Us / P99 (resolveSrv + resolve4) | ${r.nodeResolveSrvP50Us} / ${r.nodeResolveSrvP99Us} µs | | |`,
    `| coldLookupRatio (ours / Node p50), 3-task answer | ${r.coldLookupRatio} | ≤ 0.6 | ${ok(r.coldLookupRatio <= 0.6)} |`,
    `| same, 1-task answer: ours / Node p50 | ${r.coldLookup1Task.coldLookupP50Us} / ${r.coldLookup1Task.nodeResolveSrvP50Us} µs = ${r.coldLookup1Task.ratio} | (reference) | |`,
    `| failoverFailedRequests (SIGKILL 1 of 3 under load) | ${r.failoverFailedRequests} of ${r.failoverSent} | 0 | ${ok(r.failoverFailedRequests === 0)} |`,
    `| time until the killed task was ejected | ${r.ejectedAfterMs ?? 'not seen'} ms | | |`,
    `| rssMiB (A's peak RSS under load) | ${r.rssMiB} | | |`,
    `| axiosRatio (axios / node:http) | ${r.axiosRatio} | ≥ 0.7 | ${ok(r.axiosRatio >= 0.7)} |`,
    '',
  ].join('\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
