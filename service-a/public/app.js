// The discovery page: polls GET /discovery every second, and sends bursts of GET /api/whoami to count
// which B instance served each request. Plain DOM, no build step.
'use strict';

const counts = new Map(); // B instance → requests it served during this page's bursts
const $ = (id) => document.getElementById(id);

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function render(discovery) {
  $('srv-name').textContent = discovery.srvName ?? discovery.url ?? '?';
  const entry = (discovery.names ?? [])[0];
  const tbody = $('endpoints').querySelector('tbody');
  tbody.replaceChildren();
  if (!entry) {
    $('summary').textContent =
      discovery.mode === 'fixed-url'
        ? `discovery off: B at ${discovery.url}`
        : 'not resolved yet: send a request';
    $('state').textContent = '';
    return;
  }
  $('summary').textContent =
    `DNS ${discovery.dnsServers.join(', ')} · last refresh ${entry.lastRefresh ?? 'never'} · answered by ${entry.server ?? '?'} over ${(entry.transport ?? '?').toUpperCase()}`;
  $('state').textContent = entry.stale ? 'stale' : entry.state;
  $('state').className = entry.stale ? 'badge stale' : 'badge';
  for (const e of entry.endpoints) {
    const tr = document.createElement('tr');
    tr.dataset.key = e.key;
    tr.append(
      cell(e.target),
      cell(e.key),
      cell(`${e.priority} / ${e.weight}`),
      cell(`${entry.ttlLeftSeconds ?? 0} s`),
      cell(e.health?.status ?? 'healthy', `health-${e.health?.status ?? 'healthy'}`),
      cell(e.addressSource === 'additional' ? 'ADDITIONAL section' : 'A query'),
    );
    tbody.append(tr);
  }
  const error = $('error');
  error.hidden = !entry.lastError;
  error.textContent = entry.lastError
    ? `last DNS error: ${entry.lastError.code} ${entry.lastError.message} (${entry.lastError.at})`
    : '';
}

function renderChart() {
  const chart = $('chart');
  chart.replaceChildren();
  const max = Math.max(1, ...counts.values());
  for (const [instance, n] of [...counts.entries()].sort()) {
    const row = document.createElement('div');
    row.className = 'bar';
    row.setAttribute('role', 'listitem');
    row.dataset.instance = instance;
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = instance;
    const fill = document.createElement('span');
    fill.className = 'fill';
    fill.style.width = `${(n / max) * 100}%`;
    const value = document.createElement('span');
    value.className = 'count';
    value.textContent = String(n);
    row.append(label, fill, value);
    chart.append(row);
  }
}

async function poll() {
  try {
    const res = await fetch('/discovery', { cache: 'no-store' });
    if (res.ok) render(await res.json());
  } catch {
    $('summary').textContent = 'service-a is not answering';
  }
}

async function burst() {
  const button = $('burst');
  button.disabled = true;
  let ok = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      try {
        const res = await fetch('/api/whoami', { cache: 'no-store' });
        const body = await res.json();
        if (!res.ok) throw new Error(body.code ?? res.status);
        counts.set(body.servedBy.instance, (counts.get(body.servedBy.instance) ?? 0) + 1);
        ok++;
      } catch {
        failed++;
      }
    }),
  );
  $('burst-status').textContent = `${ok} ok, ${failed} failed`;
  button.disabled = false;
  renderChart();
  void poll();
}

$('burst').addEventListener('click', () => void burst());
void poll();
setInterval(() => void poll(), 1000);
