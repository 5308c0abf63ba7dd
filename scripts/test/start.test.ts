import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

// `npm start` as a user runs it (minus the build, which `npm test` already did): the dev DNS server,
// three B processes and A, here on an OS-assigned port instead of 8080 so tests never collide.
const START = path.resolve(__dirname, '../start.js');
const NEVER_LISTENS = path.resolve(__dirname, 'fixtures/service-b-never-listens.js');

/** Starts `npm start`'s script with `env` (plus PATH), collecting stdout and stderr together. */
function startScript(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [START], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return { child, output: () => out };
}

/**
 * Cleanup after a failed test: SIGINT lets the script stop its children (they live in their own process
 * groups, so a SIGKILL of the script alone would orphan them); SIGKILL only if it does not exit in time.
 */
async function stopScript(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Waits (bounded) until the script printed its "what to try" block; returns A's base URL. */
async function waitUp(child: ChildProcess, output: () => string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!/Ctrl-C stops everything/.test(output())) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`npm start did not come up within ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return /service-a\s+(http:\/\/localhost:\d+)/.exec(output())![1]!;
}

describe('npm start (scripts/start.js)', () => {
  let child: ChildProcess | undefined;
  afterEach(() => stopScript(child));

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
    // DISCOVERY_SOURCE unset: DNS as before, no Cloud Map API side
    expect(out).toMatch(/service-a\s+http:\/\/localhost:\d+\s+DNS_SERVERS=127\.0\.0\.1:\d+/);
    expect(out).not.toMatch(/Cloud Map API/);

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

describe('npm start readiness', () => {
  let child: ChildProcess | undefined;
  afterEach(() => stopScript(child));

  it('when LOG_LEVEL=warn (no info "listening" line), then it still comes up, A serves, and Ctrl-C exits 0', async () => {
    const run = startScript({ PORT: '0', LOG_LEVEL: 'warn' });
    child = run.child;
    const base = await waitUp(child, run.output);
    const res = await fetch(`${base}/api/whoami`);
    expect(res.status).toBe(200);
    expect(run.output()).not.toMatch(/listening on/); // the services really logged at warn
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    expect((await exited)[0]).toBe(0);
  });

  it('when a process never gets ready, then it gives up after START_TIMEOUT_MS naming it, stops the rest and exits 1', async () => {
    const run = startScript({
      PORT: '0',
      START_TIMEOUT_MS: '1500',
      NODE_OPTIONS: `--require ${NEVER_LISTENS}`,
    });
    child = run.child;
    const exited = once(child, 'exit');
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`npm start did not give up:\n${run.output()}`)), 15_000).unref(),
    );
    const [code] = await Promise.race([exited, timeout]);
    expect(code).toBe(1);
    expect(run.output()).toMatch(/npm start failed: service-b [0-9a-f]{32} was not ready within 1500 ms/);
    expect(run.output()).toMatch(/stopped/);
  });

  it('when START_TIMEOUT_MS is not a positive number, then it exits 1 naming the variable', async () => {
    const run = startScript({ START_TIMEOUT_MS: 'soon' });
    child = run.child;
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(run.output()).toMatch(/START_TIMEOUT_MS must be a positive number of milliseconds, got "soon"/);
  });
});

describe('npm start with DISCOVERY_SOURCE=cloudmap', () => {
  let child: ChildProcess | undefined;
  afterEach(() => stopScript(child));

  it("when started, then A discovers B through the dev server's Cloud Map API (no DNS query), answers 200s from several tasks, and Ctrl-C exits 0", async () => {
    // No AWS credentials or Region in the environment: npm start supplies dummies.
    const run = startScript({ PORT: '0', DISCOVERY_SOURCE: 'cloudmap' });
    child = run.child;
    const base = await waitUp(child, run.output, 20_000);
    const endpoint = /dev Cloud Map API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(run.output())?.[1];
    expect(endpoint).toBeDefined();
    expect(run.output()).toContain(
      `DISCOVERY_SOURCE=cloudmap AWS_ENDPOINT_URL_SERVICEDISCOVERY=${endpoint!} AWS_REGION=us-east-1`,
    );

    const instances = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${base}/api/whoami`);
      expect(res.status).toBe(200);
      instances.add(((await res.json()) as { servedBy: { instance: string } }).servedBy.instance);
    }
    expect(instances.size).toBeGreaterThanOrEqual(2);

    // The API it printed answers with the three tasks, as the SDK would ask it.
    const listed = await fetch(endpoint!, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Route53AutoNaming_v20170314.DiscoverInstances',
      },
      body: JSON.stringify({ NamespaceName: 'ecs.internal', ServiceName: 'service_b' }),
    });
    const body = (await listed.json()) as { Instances: Array<{ InstanceId: string }> };
    expect(body.Instances.map((i) => i.InstanceId).sort()).toEqual(
      expect.arrayContaining([...instances].sort()),
    );
    expect(body.Instances).toHaveLength(3);

    const exited = once(child, 'exit');
    child.kill('SIGINT');
    expect((await exited)[0]).toBe(0);
    // A used the API, not DNS.
    expect(run.output()).toMatch(/dev DNS answered 0 queries/);
    expect(run.output()).toMatch(/dev Cloud Map API calls: DiscoverInstances [1-9]/);
  });

  it('when DISCOVERY_SOURCE is neither dns nor cloudmap, then it exits 1 naming the variable', async () => {
    const run = startScript({ DISCOVERY_SOURCE: 'consul' });
    child = run.child;
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(run.output()).toMatch(/DISCOVERY_SOURCE must be dns or cloudmap, got "consul"/);
  });
});
