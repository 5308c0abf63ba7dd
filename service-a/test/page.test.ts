import { DevDnsServer } from '@ecs-srv/dev-server';
import { startServer, type RunningServer } from '@ecs-srv/service-kit';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { createApp as createB } from '../../service-b/src/app';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createBRoute } from '../src/discovery';

// The discovery page in a real headless Chromium (Debian's package), against A with real discovery, the
// dev DNS server and two real B servers, all on 127.0.0.1.
/** The bit of the DOM the page-side predicates use. */
type Doc = { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> };

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = path.resolve(__dirname, '../../test-output/discovery-page.png');

describe('discovery page in headless Chromium', () => {
  let dns: DevDnsServer;
  const servers: RunningServer[] = [];
  let route: ReturnType<typeof createBRoute>;
  let browser: Browser | undefined;
  let base: string;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (or set CHROMIUM_PATH)`,
      );
    }
    dns = new DevDnsServer({ host: '127.0.0.1', port: 0 });
    await dns.start();
    for (const id of ['0f3c9a5be1d24c1e9a4b7d3f2a1c00e1', '7a1b2c3d4e5f60718293a4b5c6d7e8f9']) {
      const state = { draining: false };
      const b = await startServer(createB({ instanceId: id, state, logger: { error: jest.fn() } }), {
        port: 0,
        host: '127.0.0.1',
        state,
      });
      servers.push(b);
      dns.register(id, '127.0.0.1', b.port);
    }
    route = createBRoute(loadConfig({ DNS_SERVERS: `127.0.0.1:${dns.address.port}` }), {});
    const state = { draining: false };
    const app = createApp({
      state,
      logger: { error: jest.fn() },
      serviceB: route.serviceB,
      discovery: route.snapshot,
    });
    const a = await startServer(app, { port: 0, host: '127.0.0.1', state });
    servers.push(a);
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
  });

  afterAll(async () => {
    await browser?.close();
    route?.close();
    await Promise.all(servers.map((s) => s.stop()));
    await dns?.close();
  });

  it('when the page loads and a burst is sent, then it lists both endpoints and counts requests per instance', async () => {
    const page = await browser!.newPage();
    await page.goto(base);
    await page.waitForSelector('#srv-name:has-text("service_b.ecs.internal")');

    // Nothing resolved yet: the first burst resolves B, then the table fills from /discovery.
    await page.click('#burst');
    await page.waitForSelector('#burst-status:has-text("50 ok, 0 failed")');
    // Page-side predicates are functions (the page's CSP forbids evaluating strings); this file compiles
    // without the DOM lib, hence the cast to a minimal Doc.
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { document: Doc }).document.querySelectorAll('#endpoints tbody tr')
          .length === 2,
    );
    const rows = await page.$$eval('#endpoints tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
    );
    expect(rows.map((r) => r[0]).sort()).toEqual([
      '0f3c9a5be1d24c1e9a4b7d3f2a1c00e1.service_b.ecs.internal',
      '7a1b2c3d4e5f60718293a4b5c6d7e8f9.service_b.ecs.internal',
    ]);
    expect(rows.every((r) => r[2] === '1 / 1' && r[4] === 'healthy' && r[5] === 'ADDITIONAL section')).toBe(
      true,
    );

    const firstCounts = await page.$$eval('#chart .count', (els) => els.map((e) => Number(e.textContent)));
    expect(firstCounts.reduce((a, b) => a + b, 0)).toBe(50);
    expect(firstCounts).toHaveLength(2); // both instances served part of the burst

    await page.click('#burst');
    await page.waitForFunction(
      () =>
        Array.from(
          (globalThis as unknown as { document: Doc }).document.querySelectorAll('#chart .count'),
        ).reduce((n, e) => n + Number(e.textContent), 0) === 100,
    );
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(1000);
  });
});
