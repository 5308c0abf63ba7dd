#!/usr/bin/env node
// Markdown from bench results (bench/results/*.json): the tables `npm run bench` prints and README's
// Performance section. `node bench/report.js --compare a.json b.json …` prints how far runs agree on
// every ratio.
'use strict';

const fs = require('node:fs');

/** The ratios the bench reports, with their targets (undefined: reference only). */
const RATIOS = [
  ['throughputRatio', 'A req/s: discovery ÷ fixed URL', (x) => x >= 0.95, '≥ 0.95'],
  ['cpuPerRequestRatio', 'A CPU/request: discovery ÷ fixed URL', (x) => x <= 1.05, '≤ 1.05'],
  ['naiveThroughputRatio', 'A req/s: naive ÷ fixed URL', undefined, '(reference)'],
  ['axiosRatio', 'A req/s: axios ÷ bare node:http (fixed URL)', (x) => x >= 0.85, '≥ 0.85'],
  ['axiosCpuRatio', 'A CPU/request: axios ÷ bare node:http', undefined, '(reference)'],
  [
    'controlRatio',
    'A CPU/request: fixed URL ÷ an identical second one (the method itself)',
    (x) => Math.abs(x - 1) <= 0.03,
    '1 ± 0.03',
  ],
  ['peerThroughputRatio', 'req/s: ours ÷ HAProxy sidecar (3 B tasks)', (x) => x >= 1, '≥ 1 (ours ahead)'],
  ['peerCpuRatio', 'CPU/request: A (ours) ÷ A + HAProxy (sidecar)', (x) => x <= 1, '≤ 1 (ours ahead)'],
  [
    'coldLookupRatio',
    'cold lookup p50: ours ÷ resolveSrv + resolve4, 3-task answer',
    (x) => x <= 0.6,
    '≤ 0.6',
  ],
  ['coldLookup1TaskRatio', 'same, 1-task answer', undefined, '(reference)'],
];

const ok = (pass) => (pass ? '✓' : '✗');

function fmtRatio(r, name) {
  const s = r.spread?.[name];
  if (s === undefined) return 'n/a';
  return `**${s.median.toFixed(2)}** (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
}

/** Seconds of steal during the measured rounds, or 'not recorded' (older results). */
function stolen(r) {
  if (typeof r.stealSeconds === 'number') return `${r.stealSeconds.toFixed(2)} s`;
  // Results from before variants ran together: each variant's rounds were its own.
  const xs = Object.values(r.variants ?? {}).map((v) => v.stealSeconds);
  if (xs.some((x) => x === undefined)) return 'not recorded';
  return `${xs.reduce((a, b) => a + b, 0).toFixed(2)} s`;
}

/** The lowest `lowestCpuShare` over the variants, or 'not recorded' (older results). */
function lowestShare(r) {
  const xs = Object.values(r.variants ?? {}).map((v) => v.lowestCpuShare);
  return xs.some((x) => x === undefined) ? 'not recorded' : Math.min(...xs).toFixed(2);
}

/** How the rounds were run, in words. */
function schedule(s) {
  if (s.pairs === undefined) {
    return `every variant warmed ${s.warmSeconds} s, then ${s.rounds} interleaved rounds × ${s.roundSeconds} s (order rotating)`;
  }
  return (
    `each ratio's two variants run at the same time, sharing CPU 0, each under its own load generator ` +
    `(pairs: ${s.pairs.join(', ')}), so that the VM's drift slows both alike; a variant's req/s is what ` +
    `it served while sharing the core (the scheduler's split is close to, not exactly, half), so a req/s ` +
    `ratio is nearly the inverse of the CPU/request ratio, not an independent figure. A variant's CPU ` +
    `µs/request also depends a little on its partner (shared caches), so compare figures within a pair: ` +
    `a variant's row comes from the first pair it ran in (named), its failed/sent from every round it ran. Every ` +
    `${s.warmPhaseSeconds ? `variant of a phase first warmed with all the others, ~${s.warmPhaseSeconds} s of a core each; every ` : ''}pair warmed right before its rounds (${s.warmAloneSeconds ? `each side alone ${s.warmAloneSeconds} s${s.warmSliceSeconds ? ` in turns of ${s.warmSliceSeconds} s` : ''}, then ` : ''}together ${s.warmPairSeconds} s), then its ${s.rounds} rounds × ${s.roundSeconds} s (one pair at a time${s.alternateStart ? `; which side's load generator starts first alternates by round` : ''})${s.freshPeerA ? `. The sidecar phase has its own fresh discovery A ("ours"), started just before HAProxy and the sidecar's A` : ''}`
  );
}

/** The Markdown tables of one run. */
function table(r) {
  const v = r.variants;
  const row = (label, key) => {
    const x = v[key];
    if (x === undefined) return `| ${label} | n/a | | | | |`;
    // Which variant it shared CPU 0 with in the rounds its figures come from.
    const partner = x.besides?.split('/').find((n) => n !== key);
    const beside = partner ? ` (beside ${partner})` : '';
    return `| ${label}${beside} | ${x.rps} | ${x.p50} | ${x.p99} | ${x.cpuUsPerRequest} | ${x.failed}/${x.sent} |`;
  };
  const s = r.settings;
  const peer = r.peer;
  const lines = [
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, load average at the end ${r.machine.loadAverage?.join(' ') ?? '?'}; ${r.date}`,
    `CPU stolen by the hypervisor during the measured rounds (/proc/stat, summed over all ${r.machine.cores} CPUs, not only A's): ${stolen(r)}.`,
    `Load: ${s.loadGenerator}, ${s.connections} connections per variant, GET /api/whoami; ${schedule(s)}. Figures are medians over rounds, ratios are taken per round and shown as **median** (min–max). CPU pinning: ${s.pinning}. CPU is utime + stime from /proc/<pid>/stat.`,
    '',
    '| A variant | req/s | p50 ms | p99 ms | CPU µs/request | failed/sent |',
    '|---|---|---|---|---|---|',
    row('through discovery (as shipped), 1 B task', 'discovery'),
    row('B URL fixed (`SERVICE_B_URL`), same B task', 'fixed'),
    row('naive: resolveSrv + resolve4 per request', 'naive'),
    row('fixed URL, bare node:http instead of axios', 'node:http'),
    row('ours: through discovery, 3 B tasks', 'ours'),
    row('sidecar: A (fixed URL) → HAProxy → the same 3 B tasks; CPU = A + HAProxy', 'sidecar'),
    '',
    '| ratio | median (min–max over rounds) | target | met |',
    '|---|---|---|---|',
    ...RATIOS.map(([name, what, pass, target]) => {
      const m = r.spread?.[name]?.median;
      return `| ${name}: ${what} | ${fmtRatio(r, name)} | ${target} | ${pass && m !== undefined ? ok(pass(m)) : ''} |`;
    }),
    '',
    '| measure | result | target | met |',
    '|---|---|---|---|',
    `| lowest share of CPU 0 a side got in a round (≈ 0.5: the pair kept the core busy, so req/s follows CPU/request) | ${lowestShare(r)} | | |`,
    `| oursP99Ms / peerP99Ms (3 B tasks, medians over rounds) | ${r.oursP99Ms} / ${r.peerP99Ms ?? 'n/a'} ms | ours lower | ${r.peerP99Ms === null ? '' : ok(r.oursP99Ms <= r.peerP99Ms)} |`,
    s.sidecarPlacement ? `| where the sidecar ran | ${s.sidecarPlacement} | | |` : '',
    peer
      ? `| sidecar CPU/request split: A / HAProxy | ${peer.sidecarACpuUsPerRequest} / ${peer.haproxyCpuUsPerRequest} µs | (reference) | |`
      : '| sidecar | haproxy not installed: skipped | | |',
    peer
      ? `| HAProxy's SRV queries per 10 s (its resolvers section, whatever the TTL) | ${peer.haproxyDnsQueriesPer10s} | (reference) | |`
      : '',
    `| dnsQueriesPer10s (discovery, 20 s continuous load) | ${r.dnsQueriesPer10s} | ≤ 2 | ${ok(r.dnsQueriesPer10s <= 2)} |`,
    `| naiveDnsQueriesPer10s | ${r.naiveDnsQueriesPer10s} | (2 per request) | |`,
    `| picksPerSecond (warm cache, one core) | ${r.picksPerSecond.toLocaleString('en')} | ≥ 2,000,000 | ${ok(r.picksPerSecond >= 2e6)} |`,
    `| mapGetPerSecond (bare Map.get, same run) | ${r.mapGetPerSecond.toLocaleString('en')} | (reference) | |`,
    `| cold lookup p50 / p99, ours (3-task answer) | ${r.coldLookupP50Us} / ${r.coldLookupP99Us} µs | | |`,
    `| cold lookup p50 / p99, resolveSrv + resolve4 | ${r.nodeResolveSrvP50Us} / ${r.nodeResolveSrvP99Us} µs | | |`,
    `| same, 1-task answer: ours / Node p50 | ${r.coldLookup1Task.coldLookupP50Us} / ${r.coldLookup1Task.nodeResolveSrvP50Us} µs | (reference) | |`,
    ...(r.coldLookupFirstBatch
      ? [
          `| cold lookups before any warm-up (the first ${r.coldLookupFirstBatch.lookups} of each in the run; the rows above come after ${r.settings.coldLookupWarmup} of each): ours / Node p50, ratio | ${r.coldLookupFirstBatch.coldLookupP50Us} / ${r.coldLookupFirstBatch.nodeResolveSrvP50Us} µs, ${r.coldLookupFirstBatch.ratio} | (reference) | |`,
        ]
      : []),
    `| failoverFailedRequests (SIGKILL 1 of 3 B tasks under load) | ${r.failoverFailedRequests} of ${r.failoverSent} | 0 | ${ok(r.failoverFailedRequests === 0)} |`,
    `| time until the killed task was ejected | ${r.ejectedAfterMs ?? 'not seen'} ms | | |`,
    `| rssMiB (A's peak RSS under load) | ${r.rssMiB} | | |`,
    ...reachRows(r),
    '',
  ];
  return lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n');
}

/** Rows of the reach measure (issue #11), when the run has it. */
function reachRows(r) {
  const x = r.reach;
  if (!x) return [];
  if (x.error)
    return [`| reach (tasksReachedDns, tasksReachedApi, apiCallsPer10s) | not measured: ${x.error} | | |`];
  const window = `${x.steadyWindowSeconds} s of light traffic after the load`;
  return [
    `| tasksReachedDns: B tasks that served during ${x.loadSeconds} s of load, A on DNS (8-record answers) | ${x.tasksReachedDns} of ${x.tasksRegistered} (${x.failedDns}/${x.sentDns} failed) | (the ceiling) | |`,
    `| tasksReachedApi: same, A on the Cloud Map API | ${x.tasksReachedApi} of ${x.tasksRegistered} (${x.failedApi}/${x.sentApi} failed) | all | ${ok(x.tasksReachedApi === x.tasksRegistered && x.failedApi === 0)} |`,
    `| apiCallsPer10s: Cloud Map API calls of one A in steady state (${window}) | ${x.apiCallsPer10s} (revision ${x.apiCallsByOperationPer10s.DiscoverInstancesRevision}, full ${x.apiCallsByOperationPer10s.DiscoverInstances}) | ≤ 3 | ${ok(x.apiCallsPer10s <= 3)} |`,
  ];
}

/** How far several runs agree: per ratio, each run's median and max − min. */
function compare(results) {
  const names = RATIOS.map(([name]) => name).filter((n) => results.some((r) => r.spread?.[n]));
  const lines = [
    `| ratio | ${results.map((_, i) => `run ${i + 1}`).join(' | ')} | max − min |`,
    `|---|${results.map(() => '---|').join('')}---|`,
  ];
  for (const n of names) {
    const meds = results.map((r) => r.spread?.[n]?.median);
    const known = meds.filter((m) => m !== undefined);
    const range = Math.max(...known) - Math.min(...known);
    lines.push(
      `| ${n} | ${results.map((r) => fmtRatio(r, n)).join(' | ')} | ${range.toFixed(2)} ${range <= 0.05 + 1e-9 ? '✓' : '✗'} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

module.exports = { RATIOS, compare, table };

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--compare') {
    process.stdout.write(compare(args.slice(1).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')))));
  } else {
    const file = args[0] ?? `${__dirname}/results/latest.json`;
    process.stdout.write(table(JSON.parse(fs.readFileSync(file, 'utf8'))));
  }
}
