// Markdown of a soak result (bench/results/soak*.json), for `npm run soak` and README.
'use strict';

function soakTable(r) {
  const ok = (pass) => (pass ? '✓' : '✗');
  const b = r.before;
  const e = r.after;
  return [
    `Soak: ${r.settings.minutes} min on ${r.machine.cpu} (${r.machine.cores} cores), ${r.date}; ${r.settings.loadGenerator}, ${r.settings.connections} connections, GET /api/whoami, plus POST /api/echo every ${r.settings.postEveryMs} ms; B tasks churn every ${r.settings.churnEveryMs} ms (${r.events.registered} registered, ${r.events.deregistered} deregistered, ${r.events.replaced} replaced by deregister + SIGTERM); DNS flaps ${r.settings.dnsFlap} (${r.events.silentFlaps} silent, ${r.events.dnsQueriesDropped} queries dropped; ${r.events.goneFlaps} records gone).`,
    '',
    '| A, at rest | after warm-up | at the end | target | met |',
    '|---|---|---|---|---|',
    `| RSS MiB | ${b.rssMiB} | ${e.rssMiB} (${r.rssGrowthPercent >= 0 ? '+' : ''}${r.rssGrowthPercent} %) | growth ≤ 10 % | ${ok(r.targets.rssGrowthAtMost10Percent)} |`,
    `| heap used MiB | ${b.heapUsedMiB} | ${e.heapUsedMiB} | | |`,
    `| active handles | ${b.activeHandles} | ${e.activeHandles} | back to baseline | ${ok(r.targets.handlesBackToBaseline)} |`,
    `| open fds | ${b.openFds} | ${e.openFds} | | |`,
    `| sockets | ${b.sockets} | ${e.sockets} | back to baseline | ${ok(r.targets.socketsBackToBaseline)} |`,
    '',
    '| requests | result | target | met |',
    '|---|---|---|---|',
    `| GET /api/whoami (idempotent) failed | ${r.failedIdempotent} of ${r.requests} (${r.rps} req/s, p99 ${r.p99Ms} ms) | 0 | ${ok(r.targets.zeroFailedIdempotent)} |`,
    `| POST /api/echo failed | ${r.posts.failed} of ${r.posts.sent} ${JSON.stringify(r.posts.statuses)} | (reference) | |`,
    `| A's peak RSS under load | ${r.peakRssMiB} MiB | | |`,
    '',
  ].join('\n');
}

module.exports = { soakTable };
