#!/usr/bin/env node
// `npm run soak`: A under steady load (wrk, GET /api/whoami, plus a trickle of POST /api/echo) while B tasks
// churn (registered and deregistered every few seconds; every fifth step one is replaced the ECS way:
// deregistered and sent SIGTERM at once, draining, and a new task registered) and DNS flaps (the server
// goes silent for 8 s, or every record is gone for 6 s, in turns every 30 s). Reports A's RSS, heap, active handles, open fds and
// sockets after warm-up and at the end, each taken at rest (no load, idle keep-alive sockets expired),
// and the failed requests. Loopback only; bounded: 10 minutes by default, `--minutes N` or SOAK_MINUTES.
// Writes bench/results/soak.json.
'use strict';

const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { DevDnsServer } = require('../shared/dev-server/dist');
const lib = require('./lib');
const { soakTable } = require('./soak-report');

const { CPU_A, launch, load, median, round1, sleep, stop } = lib;

function minutesArg() {
  const i = process.argv.indexOf('--minutes');
  const text = i === -1 ? process.env.SOAK_MINUTES : process.argv[i + 1];
  if (text === undefined || text === '') return 10;
  const n = Number(text);
  if (!(n >= 0.5 && n <= 120)) {
    console.error(
      `--minutes / SOAK_MINUTES must be a number of minutes in 0.5..120, got ${JSON.stringify(text)}`,
    );
    process.exit(2);
  }
  return n;
}

const MINUTES = minutesArg();
const TOTAL_SECONDS = Math.round(MINUTES * 60);
/** Warm-up under the same load (JIT, pools, caches) before the baseline: 10 % of the run, 15..60 s. */
const WARM_SECONDS = Math.min(60, Math.max(15, Math.round(TOTAL_SECONDS / 10)));
const LOAD_SECONDS = Math.max(10, TOTAL_SECONDS - WARM_SECONDS);
const CHURN_MS = 3000;
/** DNS flaps every 30 s, alternately: silent for 8 s (≥ one refresh interval), or every record gone 6 s. */
const FLAP_EVERY_MS = 30_000;
const FLAP_SILENT_MS = 8000;
const FLAP_GONE_MS = 6000;
const POST_EVERY_MS = 50;
const B_DRAIN_MS = 12_000; // ≥ the 10 s TTL, as README asks of B's DRAIN_DELAY_MS
/** Rest before a snapshot: A closes idle sockets to B after 4 s, B's keep-alive timeout is 5 s. */
const SETTLE_MS = 8000;

const log = (line) => process.stderr.write(`${line}\n`);

/**
 * A UDP relay in front of the dev DNS server that can go silent (drops every query), as a DNS server that
 * stops answering does. One upstream socket per query, closed on the reply or after 2 s.
 */
async function startRelay(upstream) {
  const socket = dgram.createSocket('udp4');
  const relay = { silent: false, dropped: 0, relayed: 0, close: () => new Promise((r) => socket.close(r)) };
  socket.on('message', (message, client) => {
    if (relay.silent) {
      relay.dropped++;
      return;
    }
    const up = dgram.createSocket('udp4');
    const timer = setTimeout(() => up.close(), 2000);
    up.on('error', () => undefined);
    up.on('message', (reply) => {
      clearTimeout(timer);
      relay.relayed++;
      socket.send(reply, client.port, client.address, () => up.close());
    });
    up.send(message, upstream.port, upstream.host);
  });
  socket.on('error', () => undefined);
  await new Promise((r) => socket.bind(0, '127.0.0.1', r));
  relay.address = `127.0.0.1:${socket.address().port}`;
  return relay;
}

/** A's state at one moment: /proc (RSS, fds, sockets) and its /metrics (heap, active handles). */
async function snapshot(a) {
  const proc = { ...lib.rss(a.pid), ...lib.fds(a.pid) }; // before /metrics opens a connection to A
  const m = await lib.metrics(a.port);
  return { ...proc, heapUsedMiB: m.heapUsedMiB, activeHandles: m.activeHandles };
}

/**
 * POST /api/echo on a connection of its own, closed after the answer: a keep-alive one (fetch keeps it as
 * long as A's `Keep-Alive: timeout=65` allows) would still be open at rest and count among A's sockets.
 * Resolves with the status, or the error's name.
 */
function post(port, body) {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/echo',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', (err) => resolve(err.name ?? 'error'));
      },
    );
    req.setTimeout(15_000, () => req.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })));
    req.on('error', (err) => resolve(err.name ?? 'error'));
    req.end(body);
  });
}

/** Three snapshots 1 s apart at rest; the median of each figure (a DNS refresh may hold a socket briefly). */
async function restingSnapshot(a) {
  const shots = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(1000);
    shots.push(await snapshot(a));
  }
  const pick = (key) => median(shots.map((s) => s[key]));
  return {
    rssMiB: pick('rssMiB'),
    heapUsedMiB: pick('heapUsedMiB'),
    activeHandles: pick('activeHandles'),
    openFds: pick('openFds'),
    sockets: pick('sockets'),
    tcp: shots[shots.length - 1].tcp,
  };
}

async function main() {
  lib.pinSelf();
  const started = Date.now();
  log(
    `soak: ${MINUTES} min (${WARM_SECONDS} s warm-up, ${LOAD_SECONDS} s under churn and DNS flaps); load: ${lib.LOAD_GENERATOR}`,
  );
  const devDns = new DevDnsServer({ host: '127.0.0.1', port: 0 });
  const upstream = await devDns.start();
  const relay = await startRelay(upstream);

  let serial = 0;
  const tasks = []; // { id, port, child, registered }
  const startTask = async () => {
    const id = `soak-${++serial}`;
    const b = await launch('service-b/dist/main.js', { INSTANCE_ID: id, DRAIN_DELAY_MS: String(B_DRAIN_MS) });
    const task = { id, ...b, registered: false };
    tasks.push(task);
    return task;
  };
  const register = (t) => {
    devDns.register(t.id, '127.0.0.1', t.port);
    t.registered = true;
  };
  const deregister = (t) => {
    devDns.deregister(t.id);
    t.registered = false;
  };
  for (let i = 0; i < 4; i++) await startTask();
  tasks.slice(0, 3).forEach(register);

  const a = await launch('service-a/dist/main.js', { DNS_SERVERS: relay.address }, CPU_A);
  const url = `http://127.0.0.1:${a.port}/api/whoami`;

  log(`warm-up: ${WARM_SECONDS} s of load…`);
  const warm = await load(url, { seconds: WARM_SECONDS });
  await sleep(SETTLE_MS);
  const before = await restingSnapshot(a);
  log(`after warm-up, at rest: ${JSON.stringify(before)}`);

  // Churn, flaps, POSTs and samples run beside one long wrk run; every loop ends with it.
  let running = true;
  const events = { registered: 0, deregistered: 0, replaced: 0, silentFlaps: 0, goneFlaps: 0 };
  const churn = (async () => {
    for (let step = 0; running; step++) {
      await sleep(CHURN_MS);
      if (!running) break;
      if (recordsGone) continue;
      const live = tasks.filter((t) => !t.stopping);
      if (step % 5 === 4) {
        // The ECS way: deregistered and SIGTERM at once; B drains B_DRAIN_MS, then exits.
        const old = live.find((t) => t.registered);
        if (old) {
          deregister(old);
          old.stopping = stop(old.child, B_DRAIN_MS + 15_000);
          events.replaced++;
        }
        register(await startTask());
        continue;
      }
      const on = live.filter((t) => t.registered);
      const off = live.filter((t) => !t.registered);
      if (on.length > 2 || (on.length > 1 && off.length === 0)) {
        deregister(on[Math.floor(Math.random() * on.length)]);
        events.deregistered++;
      } else if (off.length > 0) {
        register(off[Math.floor(Math.random() * off.length)]);
        events.registered++;
      }
    }
  })();
  let recordsGone = false;
  const flaps = (async () => {
    for (let flap = 0; running; flap++) {
      const silent = flap % 2 === 0;
      const ms = silent ? FLAP_SILENT_MS : FLAP_GONE_MS;
      await sleep(FLAP_EVERY_MS - ms);
      if (!running) break;
      if (silent) {
        relay.silent = true;
        events.silentFlaps++;
        await sleep(ms);
        relay.silent = false;
      } else {
        // Every record gone (NXDOMAIN) while the tasks still run; churn waits meanwhile.
        recordsGone = true;
        events.goneFlaps++;
        const held = tasks.filter((t) => t.registered);
        held.forEach((t) => devDns.deregister(t.id));
        await sleep(ms);
        held.filter((t) => !t.stopping).forEach((t) => devDns.register(t.id, '127.0.0.1', t.port));
        held.filter((t) => t.stopping).forEach((t) => (t.registered = false));
        recordsGone = false;
      }
    }
  })();
  const posts = { sent: 0, failed: 0, statuses: {} };
  const poster = (async () => {
    while (running) {
      await sleep(POST_EVERY_MS);
      posts.sent++;
      const status = await post(a.port, JSON.stringify({ message: `soak ${posts.sent}` }));
      if (status !== 200) {
        posts.failed++;
        posts.statuses[status] = (posts.statuses[status] ?? 0) + 1;
      }
    }
  })();
  const samples = [];
  const sampler = (async () => {
    const t0 = Date.now();
    while (running) {
      await sleep(10_000);
      if (!running) break;
      const s = await snapshot(a).catch(() => undefined);
      if (s) samples.push({ t: Math.round((Date.now() - t0) / 1000), ...s, tcp: undefined });
    }
  })();

  log(`load with churn and DNS flaps: ${LOAD_SECONDS} s…`);
  const main = await load(url, { seconds: LOAD_SECONDS, timeoutSeconds: 15 });
  running = false;
  relay.silent = false;
  await Promise.all([churn, flaps, poster, sampler]);
  await sleep(SETTLE_MS);
  const after = await restingSnapshot(a);
  log(`at the end, at rest: ${JSON.stringify(after)}`);

  const rssGrowth = after.rssMiB / before.rssMiB - 1;
  const result = {
    date: new Date().toISOString(),
    machine: lib.machine(),
    settings: {
      minutes: MINUTES,
      warmSeconds: WARM_SECONDS,
      loadSeconds: LOAD_SECONDS,
      loadGenerator: lib.LOAD_GENERATOR,
      connections: 32,
      churnEveryMs: CHURN_MS,
      dnsFlap: `every ${FLAP_EVERY_MS / 1000} s, alternately silent ${FLAP_SILENT_MS / 1000} s or every record gone ${FLAP_GONE_MS / 1000} s`,
      postEveryMs: POST_EVERY_MS,
      bDrainMs: B_DRAIN_MS,
    },
    warmUp: { requests: warm.requests, failed: warm.failed },
    requests: main.requests,
    rps: Math.round(main.rps),
    p99Ms: main.p99,
    failedIdempotent: main.failed,
    failedIdempotentBy: main.errors,
    posts,
    events: { ...events, dnsQueriesDropped: relay.dropped, dnsQueriesRelayed: relay.relayed },
    before,
    after,
    rssGrowthPercent: round1(rssGrowth * 100),
    peakRssMiB: lib.rss(a.pid).peakRssMiB,
    samples,
    targets: {
      rssGrowthAtMost10Percent: rssGrowth <= 0.1,
      handlesBackToBaseline: after.activeHandles <= before.activeHandles,
      socketsBackToBaseline: after.sockets <= before.sockets,
      zeroFailedIdempotent: main.failed === 0,
    },
  };
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(soakTable(result));

  await stop(a.child);
  await Promise.all(tasks.map((t) => t.stopping ?? stop(t.child)));
  await relay.close();
  await devDns.close();
  log(`done in ${Math.round((Date.now() - started) / 1000)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
