// The live discovery page: every second it reads GET /discovery (the endpoint set, its source and health)
// and GET /discovery/activity (requests A sent each B endpoint over the last minutes, from A's own
// counters, and the timeline of discovery events), and redraws. Plain DOM and inline SVG, no build step,
// nothing to press: it only reads.
'use strict';

const POLL_MS = 1000;
const RECENT_SAMPLES = 5; // the req/s column: mean of the last 5 samples
const MAX_TIMELINE = 120; // entries drawn (the server keeps 200)
const LISTED_KEYS = 4; // endpoints named in a set change's line (all of them in its tooltip)
const SVG = 'http://www.w3.org/2000/svg';
const SPARK_W = 300;
const SPARK_H = 20;

const $ = (id) => document.getElementById(id);

function cell(text, className, title) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  if (title) td.title = title;
  return td;
}

const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : 'never');
const formatRate = (r) => (r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2));
/** The task id of a Cloud Map target (`<task id>.service_b.ecs.internal`), else the target. */
const taskOf = (target) => (target ?? '').split('.')[0] || '?';

function describeSource(d, entry) {
  if (d.mode === 'fixed-url') return `discovery off: B at ${d.url}`;
  const parts = [];
  if (d.source === 'cloudmap') {
    parts.push(`source: Cloud Map API ${d.api ?? ''}`.trim(), `${d.namespace}/${d.service}`);
    if (entry) parts.push(`revision ${entry.revision ?? '?'}`, `last poll ${clock(entry.lastPoll)}`);
    parts.push(`polled every ${(d.pollIntervalMs ?? 0) / 1000} s`);
  } else {
    parts.push(`source: DNS SRV via ${(d.dnsServers ?? []).join(', ') || 'the system resolvers'}`);
    if (entry?.server)
      parts.push(`answered by ${entry.server} over ${(entry.transport ?? '?').toUpperCase()}`);
  }
  if (entry) parts.push(`last refresh ${clock(entry.lastRefresh)}`);
  return parts.join(' · ');
}

/** Mean rate of the last `n` samples. */
function recentRate(series, n) {
  if (!series || series.rates.length === 0) return 0;
  const last = series.rates.slice(-n);
  return last.reduce((a, b) => a + b, 0) / last.length;
}

/** A sparkline of `rates` (oldest first, right-aligned to now) against a shared `max`. */
function sparkline(rates, slots, max) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${SPARK_W} ${SPARK_H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  const step = SPARK_W / Math.max(slots - 1, 1);
  const x0 = SPARK_W - (rates.length - 1) * step;
  const y = (r) => (SPARK_H - 1 - (r / max) * (SPARK_H - 2)).toFixed(1);
  const points = rates.map((r, i) => `${(x0 + i * step).toFixed(1)},${y(r)}`);
  if (points.length === 1) points.unshift(`${(x0 - step).toFixed(1)},${y(rates[0])}`);
  const base = document.createElementNS(SVG, 'line'); // the whole axis, so a short history reads as short
  base.setAttribute('x1', '0');
  base.setAttribute('x2', String(SPARK_W));
  base.setAttribute('y1', String(SPARK_H - 0.5));
  base.setAttribute('y2', String(SPARK_H - 0.5));
  base.setAttribute('class', 'spark-base');
  base.setAttribute('vector-effect', 'non-scaling-stroke');
  svg.append(base);
  if (points.length > 0) {
    const area = document.createElementNS(SVG, 'polygon');
    const first = points[0].split(',')[0];
    area.setAttribute('points', `${first},${SPARK_H} ${points.join(' ')} ${SPARK_W},${SPARK_H}`);
    area.setAttribute('class', 'spark-area');
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', points.join(' '));
    line.setAttribute('class', 'spark-line');
    line.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.append(area, line);
  }
  const title = document.createElementNS(SVG, 'title');
  title.textContent = `peak ${formatRate(Math.max(0, ...rates))} req/s`;
  svg.append(title);
  return svg;
}

function renderEndpoints(d, entry, activity) {
  const series = new Map((activity?.endpoints ?? []).map((s) => [s.key, s]));
  // The time axis: the first minute at least, growing with the history up to the recorder's window.
  const samples = activity?.sampleTimes.length ?? 0;
  const intervalS = (activity?.sampleIntervalMs ?? 1000) / 1000;
  const slots = Math.min(Math.max(samples, Math.round(60 / intervalS)), activity?.maxSamples ?? 300);
  const max = Math.max(1, ...[...series.values()].flatMap((s) => s.rates));
  const span = slots * intervalS;
  $('chart-head').textContent =
    `req/s, last ${span >= 120 ? `${Math.round(span / 60)} min` : `${Math.round(span)} s`}`;
  $('chart-head').title =
    `one point per ${intervalS} s; every line on the same scale, 0 to ${formatRate(max)} req/s`;
  $('scale').textContent = `(0–${formatRate(max)})`;
  $('window-note').textContent = activity
    ? `· requests A sent each one (its own counters), last ${Math.round(samples * intervalS)} s`
    : '';

  const rows = [];
  const inSet = new Set();
  for (const e of entry?.endpoints ?? []) {
    inSet.add(e.key);
    const health = e.health?.status ?? 'healthy';
    const until = e.health?.ejectedUntil ? ` until ${clock(e.health.ejectedUntil)}` : '';
    rows.push({
      key: e.key,
      cells: [
        cell(taskOf(e.target), 'task', e.target),
        cell(e.key, 'mono'),
        cell(`${e.priority}/${e.weight}`, 'num'),
        cell(entry.ttlLeftSeconds === undefined ? '–' : `${entry.ttlLeftSeconds} s`, 'num'),
        cell(health, `health health-${health}`, health === 'ejected' ? `ejected${until}` : undefined),
      ],
      className: health === 'ejected' ? 'ejected' : '',
    });
  }
  // Endpoints that served in the window but left the set: still charted, marked as gone.
  for (const s of series.values()) {
    if (inSet.has(s.key)) continue;
    rows.push({
      key: s.key,
      cells: [
        cell('–', 'task'),
        cell(s.key, 'mono'),
        cell(''),
        cell(''),
        cell('left the set', 'health health-gone'),
      ],
      className: 'gone',
    });
  }
  const tbody = $('endpoints').querySelector('tbody');
  tbody.replaceChildren(
    ...rows.map((row) => {
      const s = series.get(row.key);
      const tr = document.createElement('tr');
      tr.dataset.key = row.key;
      tr.dataset.total = String(s?.total ?? 0);
      if (row.className) tr.className = row.className;
      const spark = document.createElement('td');
      spark.className = 'spark-cell';
      spark.append(sparkline(s?.rates ?? [], slots, max));
      tr.append(
        ...row.cells,
        cell(formatRate(recentRate(s, RECENT_SAMPLES)), 'num rate'),
        cell(String(s?.total ?? 0), 'num total'),
        spark,
      );
      return tr;
    }),
  );

  const ejected = (entry?.endpoints ?? []).filter((e) => e.health?.status === 'ejected').length;
  const total = [...series.values()].reduce((a, s) => a + recentRate(s, RECENT_SAMPLES), 0);
  const n = entry?.endpoints.length ?? 0;
  $('totals').textContent = entry
    ? `${n} endpoint${n === 1 ? '' : 's'} · ${n - ejected} healthy · ${ejected} ejected · ${formatRate(total)} req/s to B`
    : '';
}

/** One line of the timeline, in words. */
function describeEvent(e, apiOrDns) {
  switch (e.type) {
    case 'change': {
      const list = [...e.added.map((k) => `+${k}`), ...e.removed.map((k) => `−${k}`)];
      const shown = list.slice(0, LISTED_KEYS);
      const more = list.length - shown.length + e.omitted;
      const counts = `+${e.added.length} −${e.removed.length}`;
      return `set now ${e.endpoints} endpoint${e.endpoints === 1 ? '' : 's'} (${counts}): ${shown.join(' ')}${more > 0 ? ` and ${more} more` : ''}`;
    }
    case 'eject':
      return `${e.key} ejected for ${e.ejectionMs / 1000} s after ${e.consecutiveFailures} failures${e.reason ? ` (${e.reason})` : ''}`;
    case 'return':
      return `${e.key} answers again: back in rotation`;
    case 'stale':
      return `${apiOrDns} failing: serving the last good set past its TTL (${e.code}: ${e.message})`;
    case 'stale-end':
      return `set fresh again after ${e.staleSeconds} s stale`;
    case 'error':
      return `${apiOrDns} error ${e.code}${e.count > 1 ? ` ×${e.count} (last ${clock(e.lastAt)})` : ''}${e.message ? `: ${e.message}` : ''}`;
    case 'recovered':
      return `${apiOrDns} answers again after ${e.failedSeconds} s of failures`;
    default:
      return e.type;
  }
}

const EVENT_LABEL = {
  change: 'set',
  eject: 'eject',
  return: 'return',
  stale: 'stale',
  'stale-end': 'fresh',
  error: 'error',
  recovered: 'ok',
};

function renderTimeline(d, activity) {
  const apiOrDns = d.source === 'cloudmap' ? 'Cloud Map API' : 'DNS';
  const events = (activity?.events ?? []).slice(-MAX_TIMELINE).reverse();
  $('timeline').replaceChildren(
    ...events.map((e) => {
      const li = document.createElement('li');
      li.className = `event event-${e.type}`;
      li.dataset.type = e.type;
      li.dataset.seq = String(e.seq);
      const time = document.createElement('time');
      time.dateTime = e.at;
      time.textContent = clock(e.at);
      const label = document.createElement('span');
      label.className = 'kind';
      label.textContent = EVENT_LABEL[e.type] ?? e.type;
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = describeEvent(e, apiOrDns);
      if (e.type === 'change') {
        text.title = [...e.added.map((k) => `+${k}`), ...e.removed.map((k) => `−${k}`)].join('\n');
      }
      li.append(time, label, text);
      return li;
    }),
  );
  const shown = events.length;
  const dropped = activity?.eventsDropped ?? 0;
  $('timeline-note').textContent =
    shown === 0 ? '· nothing yet' : dropped > 0 ? `· newest ${shown}` : `· ${shown}`;
}

function render(d, activity) {
  $('srv-name').textContent = d.srvName ?? d.url ?? '?';
  const entry = (d.names ?? [])[0];
  $('source').textContent =
    describeSource(d, entry) + (entry ? '' : d.mode === 'fixed-url' ? '' : ' · not resolved yet');
  $('state').textContent = entry ? (entry.stale ? 'stale' : entry.state) : '';
  $('state').className = entry?.stale ? 'badge stale' : entry ? `badge state-${entry.state}` : 'badge';
  const error = $('error');
  error.hidden = !entry?.lastError;
  error.textContent = entry?.lastError
    ? `last ${d.source === 'cloudmap' ? 'API' : 'DNS'} error: ${entry.lastError.code} ${entry.lastError.message} (${clock(entry.lastError.at)})`
    : '';
  renderEndpoints(d, entry, activity);
  renderTimeline(d, activity);
}

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

async function poll() {
  try {
    const [d, activity] = await Promise.all([getJson('/discovery'), getJson('/discovery/activity')]);
    render(d, activity);
    document.body.classList.remove('offline');
  } catch {
    $('source').textContent = 'service-a is not answering';
    document.body.classList.add('offline');
  } finally {
    setTimeout(() => void poll(), POLL_MS);
  }
}

void poll();
