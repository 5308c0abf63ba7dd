import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

// `npm start` as a user runs it (minus the build, which `npm test` already did): the dev DNS server,
// three B processes and A, here on an OS-assigned port instead of 8080 so tests never collide.
const START = path.resolve(__dirname, '../start.js');

describe('npm start (scripts/start.js)', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('when started, then A serves several B instances, lists them in /discovery, and Ctrl-C exits 0', async () => {
    child = spawn(process.execPath, [START], {
      env: { PATH: process.env.PATH ?? '', PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const deadline = Date.now() + 15_000;
    while (!/Ctrl-C stops everything/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`npm start did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const base = /service-a\s+(http:\/\/localhost:\d+)/.exec(out)![1]!;
    expect(out).toMatch(/curl -s localhost:\d+\/api\/whoami/);

    const instances = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${base}/api/whoami`);
      expect(res.status).toBe(200);
      instances.add(((await res.json()) as { servedBy: { instance: string } }).servedBy.instance);
    }
    expect(instances.size).toBeGreaterThanOrEqual(2);

    const discovery = (await (await fetch(`${base}/discovery`)).json()) as {
      names: Array<{ endpoints: unknown[] }>;
    };
    expect(discovery.names[0]!.endpoints).toHaveLength(3);

    const echo = await fetch(`${base}/api/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"message":""}',
    });
    expect(echo.status).toBe(400);
    expect(echo.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const exited = once(child, 'exit');
    child.kill('SIGINT');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(out).toMatch(/stopped/);
  });
});
