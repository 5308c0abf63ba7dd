import { DevDnsServer } from '@ecs-srv/dev-server';
import { startServer, type RunningServer } from '@ecs-srv/service-kit';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp as createB } from '../../service-b/src/app';
import { ActivityRecorder } from '../src/activity';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createBRoute } from '../src/discovery';

// The live discovery page in a real headless Chromium (Debian's package), against A with real discovery
// (the dev DNS server, 20 real B servers, all on 127.0.0.1) and the activity recorder as main.ts wires it.
// The test drives traffic to A's API itself: the page sends none.

/**
 * The bit of the DOM the page-side predicates use (this file compiles without the DOM lib). Predicates run
 * in the page, serialized: they may use nothing from this file.
 */
type El = { textContent: string | null; dataset: Record<string, string | undefined> };
type Doc = { querySelectorAll(selector: string): ArrayLike<El> };

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = path.resolve(__dirname, '../../test-output/discovery-page.png');
const B_TASKS = 20;
const WAIT = { timeout: 20_000, polling: 250 };

/** A task id as ECS makes them (32 hex digits). */
const taskId = (i: number): string => `${i.toString(16).padStart(4, '0')}c9a5be1d24c1e9a4b7d3f2a1c00e1`;

describe('live discovery page in headless Chromium', () => {
  let dns: DevDnsServer;
  const bs = new Map<string, RunningServer>(); // endpoint key → B server
  let a: RunningServer | undefined;
  let route: ReturnType<typeof createBRoute>;
  let activity: ActivityRecorder;
  let browser: Browser | undefined;
  let base: string;

  async function startB(i: number): Promise<string> {
    const id = taskId(i);
    const state = { draining: false };
    const b = await startServer(createB({ instanceId: id, state, logger: { error: jest.fn() } }), {
      port: 0,
      host: '127.0.0.1',
      state,
    });
    const key = `127.0.0.1:${b.port}`;
    bs.set(key, b);
    dns.register(id, '127.0.0.1', b.port);
    return key;
  }

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (or set CHROMIUM_PATH)`,
      );
    }
    // Every task in each answer (no MULTIVALUE cap here), and a short TTL so a registration shows soon.
    // The Cloud Map API too, fed by the same registrations, for the second test.
    dns = new DevDnsServer({ host: '127.0.0.1', port: 0, maxAnswers: 64, ttlSeconds: 1, api: true });
    await dns.start();
    for (let i = 0; i < B_TASKS; i++) await startB(i);
    route = createBRoute(loadConfig({ DNS_SERVERS: `127.0.0.1:${dns.address.port}` }), {});
    const http = route.http!;
    activity = new ActivityRecorder({
      source: route.source,
      health: http.health,
      picks: () => http.stats().picks,
    }).start();
    const state = { draining: false };
    const app = createApp({
      state,
      logger: { error: jest.fn() },
      serviceB: route.serviceB,
      discovery: route.snapshot,
      activity: () => activity.snapshot(),
    });
    a = await startServer(app, { port: 0, host: '127.0.0.1', state });
    base = `http://127.0.0.1:${a.port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    activity?.close();
    route?.close();
    await a?.stop();
    await Promise.all([...bs.values()].map((s) => s.stop()));
    await dns?.close();
  }, 30_000);

  /** Calls A's API from 4 loops until stopped, as A's callers would. */
  function driveTraffic() {
    let running = true;
    const counts = { ok: 0, failed: 0 };
    const loops = Array.from({ length: 4 }, async () => {
      while (running) {
        try {
          const res = await fetch(`${base}/api/whoami`);
          await res.arrayBuffer();
          if (res.ok) counts.ok++;
          else counts.failed++;
        } catch {
          counts.failed++;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    return {
      counts,
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  const rowKeys = (page: Page) =>
    page.$$eval('#endpoints tbody tr', (trs) => trs.map((tr) => (tr as unknown as El).dataset.key ?? ''));

  it('while A serves traffic, then it shows the source, 20 endpoints with their request rates, and a timeline of set changes and ejections', async () => {
    const page = await browser!.newPage({ viewport: { width: 1500, height: 900 } });
    await page.goto(base);
    await page.waitForSelector('#srv-name:has-text("service_b.ecs.internal")');
    expect(await page.$$('button')).toHaveLength(0); // nothing to press: the page sends no traffic

    const traffic = driveTraffic();
    try {
      // 20 rows, each with a non-zero rate, once A's counters show traffic to all 20.
      await page.waitForFunction(
        (n) => {
          const rows = Array.from(
            (globalThis as unknown as { document: Doc }).document.querySelectorAll('#endpoints tbody tr'),
          );
          const rates = Array.from(
            (globalThis as unknown as { document: Doc }).document.querySelectorAll(
              '#endpoints tbody td.rate',
            ),
          );
          return (
            rows.length === n &&
            rows.every((r) => Number(r.dataset.total) > 0) &&
            rates.every((r) => Number(r.textContent) > 0)
          );
        },
        B_TASKS,
        WAIT,
      );
      const keys = await rowKeys(page);
      expect(new Set(keys)).toEqual(new Set(bs.keys()));
      // The figures are A's own counters: never more than the calls A made to each endpoint.
      const totals = await page.$$eval('#endpoints tbody tr', (trs) =>
        trs.map(
          (tr) =>
            [(tr as unknown as El).dataset.key ?? '', Number((tr as unknown as El).dataset.total)] as const,
        ),
      );
      const picks = route.http!.stats().picks;
      for (const [key, total] of totals) {
        expect(total).toBeGreaterThan(0);
        expect(total).toBeLessThanOrEqual(picks[key] ?? 0);
      }
      expect(await page.$$('#endpoints tbody tr svg.spark polyline')).toHaveLength(B_TASKS);
      await expect(page.textContent('#source')).resolves.toMatch(/source: DNS SRV via 127\.0\.0\.1:\d+/);
      await expect(page.textContent('#totals')).resolves.toMatch(
        /^20 endpoints · 20 healthy · 0 ejected · [\d.]+ req\/s to B$/,
      );

      // The initial set shows as a change of 20 added endpoints.
      await page.waitForSelector('#timeline li[data-type="change"]:has-text("set now 20 endpoints")', WAIT);

      // ECS starts one more task: a set change once A's next refresh sees it.
      const added = await startB(B_TASKS);
      await page.waitForSelector(`#timeline li[data-type="change"]:has-text("+${added}")`, WAIT);
      await page.waitForFunction(
        (n) =>
          (globalThis as unknown as { document: Doc }).document.querySelectorAll('#endpoints tbody tr')
            .length === n,
        B_TASKS + 1,
        WAIT,
      );

      // One task dies without leaving DNS: A's calls to it are refused, passive health ejects it.
      const [dead, server] = [...bs.entries()][3]!;
      bs.delete(dead);
      await server.stop();
      await page.waitForSelector(`#timeline li[data-type="eject"]:has-text("${dead} ejected")`, WAIT);
      await expect(page.textContent(`#timeline li[data-type="eject"]:has-text("${dead}")`)).resolves.toMatch(
        /ejected for [\d.]+ s after \d+ failures \(ECONNREFUSED\)/,
      );
      // The newest entry comes first.
      const seqs = await page.$$eval('#timeline li', (lis) =>
        lis.map((li) => Number((li as unknown as El).dataset.seq)),
      );
      expect(seqs).toEqual([...seqs].sort((x, y) => y - x));
    } finally {
      await traffic.stop();
    }
    expect(traffic.counts.ok).toBeGreaterThan(0);

    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(1000);
  }, 90_000);

  it('with DISCOVERY_SOURCE=cloudmap, then it shows the API, its revision and last poll, and throttling as errors and a stale period', async () => {
    const savedEnv = { ...process.env };
    // The SDK's default credential chain reads these first (it must never reach for instance metadata).
    process.env.AWS_ACCESS_KEY_ID = 'dev';
    process.env.AWS_SECRET_ACCESS_KEY = 'dev';
    const cmRoute = createBRoute(
      loadConfig({
        DISCOVERY_SOURCE: 'cloudmap',
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_SERVICEDISCOVERY: dns.api.endpoint,
        CLOUDMAP_POLL_INTERVAL_MS: '500',
      }),
      {},
    );
    const http = cmRoute.http!;
    const cmActivity = new ActivityRecorder({
      source: cmRoute.source,
      health: http.health,
      picks: () => http.stats().picks,
    }).start();
    const state = { draining: false };
    const cmA = await startServer(
      createApp({
        state,
        logger: { error: jest.fn() },
        serviceB: cmRoute.serviceB,
        discovery: cmRoute.snapshot,
        activity: () => cmActivity.snapshot(),
      }),
      { port: 0, host: '127.0.0.1', state },
    );
    try {
      const page = await browser!.newPage({ viewport: { width: 1500, height: 900 } });
      await page.goto(`http://127.0.0.1:${cmA.port}`);
      expect((await fetch(`http://127.0.0.1:${cmA.port}/api/whoami`)).status).toBe(200);
      await page.waitForSelector(`#source:has-text("source: Cloud Map API ${dns.api.endpoint}")`, WAIT);
      await page.waitForFunction(
        (pattern) =>
          new RegExp(pattern).test(
            (globalThis as unknown as { document: Doc }).document.querySelectorAll('#source')[0]
              ?.textContent ?? '',
          ),
        'ecs\\.internal/service_b · revision \\d+ · last poll \\d\\d:\\d\\d:\\d\\d · polled every 0\\.5 s · last refresh',
        WAIT,
      );
      // The first listing: every registered task (those of the first test, the dead one too) in one change.
      await page.waitForSelector('#timeline li[data-type="change"]:has-text("set now")', WAIT);

      // The API throttles every call: A keeps its set, the page shows the errors and the stale period.
      dns.api.inject({ kind: 'throttle' });
      await page.waitForSelector('#timeline li[data-type="stale"]:has-text("Cloud Map API failing")', WAIT);
      await page.waitForSelector(
        '#timeline li[data-type="error"]:has-text("Cloud Map API error ETHROTTLED")',
        WAIT,
      );
      await page.waitForSelector('#state:has-text("stale")', WAIT);
      dns.api.clearFaults();
      await page.waitForSelector(
        '#timeline li[data-type="stale-end"]:has-text("set fresh again after")',
        WAIT,
      );
      await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-cloudmap.png'), fullPage: true });
    } finally {
      dns.api.clearFaults();
      cmActivity.close();
      cmRoute.close();
      await cmA.stop();
      process.env = savedEnv;
    }
  }, 60_000);
});
