import { randomUUID } from 'node:crypto';
import { DiscoveryError, SrvResolver, UpstreamError } from '../src';
import { SrvHttpClient, type SrvHttpClientOptions } from '../src/axios';
import {
  blackholePort,
  drippingTask,
  executeThenDestroyTask,
  healthyTask,
  httpServer,
  hugeBodyTask,
  refusedPort,
  wedgedTask,
  type FaultyServer,
} from './helpers/faulty-servers';
import { ScriptedDns, cloudMapRecords, reply } from './helpers/scripted-dns';

const NAME = 'service_b.ecs.internal';

/** Polls `cond` (bounded), for effects that happen on real sockets. */
async function until(cond: () => Promise<boolean> | boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SrvHttpClient under the faults of a real VPC (real sockets on 127.0.0.1)', () => {
  const closers: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function task<T extends FaultyServer>(made: Promise<T>): Promise<T> {
    const server = await made;
    closers.push(() => server.close());
    return server;
  }

  async function setup(ports: number[], options: Partial<SrvHttpClientOptions> = {}) {
    const { srv, a } = cloudMapRecords(ports.map((port, i) => [`task${i}`, '127.0.0.1', port]));
    const dns = await new ScriptedDns((q) => reply(q, { answers: srv, additionals: a })).start();
    closers.push(() => dns.close());
    const resolver = new SrvResolver({ servers: [dns.address], attemptTimeoutMs: 500 });
    const client = new SrvHttpClient({ resolver, name: NAME, ...options });
    closers.push(() => {
      client.close();
      resolver.close();
    });
    await resolver.resolve(NAME);
    return { client, resolver };
  }

  const key = (port: number): string => `127.0.0.1:${port}`;

  it('when a task executes a POST and then drops the connection, then the POST is never sent again', async () => {
    const dropper = await task(executeThenDestroyTask());
    const good = await task(healthyTask('good'));
    const { client } = await setup([dropper.port, good.port], {
      health: { ejectAfterFailures: 1000 }, // keep the dropper in play for every request
    });
    const failed: UpstreamError[] = [];
    for (let i = 0; i < 40; i++) {
      const id = randomUUID();
      await client
        .request({ url: '/v1/echo', method: 'POST', data: { message: 'x' }, headers: { 'x-request-id': id } })
        .catch((err: UpstreamError) => failed.push(err));
    }
    const executions = [...dropper.ids, ...good.ids];
    expect(new Set(executions).size).toBe(executions.length); // no request id executed twice
    expect(executions).toHaveLength(40);
    expect(dropper.destroyed).toBeGreaterThan(0); // the fault was met on reused sockets…
    expect(failed).toHaveLength(dropper.destroyed); // …and each POST that met it failed, not repeated
    for (const err of failed) expect(err).toMatchObject({ kind: 'unreachable', code: 'ECONNRESET' });
    expect(client.stats().retries).toBe(0);
  });

  it('when the caller marks a POST idempotent, then it is retried elsewhere after a reset', async () => {
    const dropper = await task(executeThenDestroyTask());
    const good = await task(healthyTask('good'));
    const { client } = await setup([dropper.port, good.port], { health: { ejectAfterFailures: 1000 } });
    for (let i = 0; i < 20; i++) {
      await client.request({ url: '/v1/echo', method: 'POST', data: {}, idempotent: true });
    }
    expect(dropper.destroyed).toBeGreaterThan(0);
    expect(good.hits + dropper.hits - dropper.destroyed).toBe(20);
    expect(client.stats().retries).toBe(dropper.destroyed);
  });

  it('when a GET meets the reset, then it is retried elsewhere and succeeds', async () => {
    const dropper = await task(executeThenDestroyTask());
    const good = await task(healthyTask('good'));
    const { client } = await setup([dropper.port, good.port], { health: { ejectAfterFailures: 1000 } });
    for (let i = 0; i < 30; i++) await client.request({ url: '/v1/whoami' });
    expect(dropper.destroyed).toBeGreaterThan(0);
    expect(good.hits + dropper.hits - dropper.destroyed).toBe(30);
  });

  it('when a task accepts and never answers, then GETs time out there, are retried elsewhere, and the task is ejected', async () => {
    const wedged = await task(wedgedTask());
    const g1 = await task(healthyTask('g1'));
    const g2 = await task(healthyTask('g2'));
    const { client } = await setup([wedged.port, g1.port, g2.port], {
      timeoutMs: 1000, // ample for the healthy tasks on a slow machine
      health: { baseEjectionMs: 60_000 }, // out for the rest of the test, however slow the machine
    });
    const ejected: Array<{ key: string; reason?: string }> = [];
    client.health.on('eject', (e) => ejected.push(e));
    for (let i = 0; i < 40; i++) await client.request({ url: '/v1/whoami' }); // none may fail
    expect(ejected[0]).toMatchObject({ key: key(wedged.port), reason: 'ETIMEDOUT' });
    expect(client.health.isAvailable({ key: key(wedged.port) } as never)).toBe(false);
    // Two timeouts eject it (the default threshold); the back-off keeps it out for the rest.
    expect(wedged.hits).toBe(2);
    expect(g1.hits + g2.hits).toBe(40);
  });

  it('when a POST lands on a wedged task, then it fails as a timeout and is not sent again', async () => {
    const wedged = await task(wedgedTask());
    const good = await task(healthyTask('good'));
    const { client } = await setup([wedged.port, good.port], { timeoutMs: 1000 });
    let timeouts = 0;
    for (let i = 0; i < 10 && timeouts === 0; i++) {
      await client.request({ url: '/v1/echo', method: 'POST', data: {} }).catch((err: UpstreamError) => {
        expect(err).toMatchObject({ kind: 'timeout', code: 'ETIMEDOUT' });
        timeouts++;
      });
    }
    expect(timeouts).toBe(1);
    expect(wedged.hits).toBe(1);
    expect(client.stats().retries).toBe(0);
  });

  it('when every task is wedged, then the request gives up within its budget after trying each', async () => {
    const w1 = await task(wedgedTask());
    const w2 = await task(wedgedTask());
    const { client } = await setup([w1.port, w2.port], { timeoutMs: 100, budgetMs: 250, maxAttempts: 5 });
    const err = await client.request({ url: '/v1/whoami' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'timeout', code: 'ETIMEDOUT' });
    // 100 + 100 + the 50 ms left: three attempts fit the budget, not the five allowed (two if a timer
    // fires late on a loaded machine).
    expect(w1.hits + w2.hits).toBeGreaterThanOrEqual(2);
    expect(w1.hits + w2.hits).toBeLessThanOrEqual(3);
  });

  it('when an instance vanished (SYNs dropped), then the connect times out and even a POST moves on', async () => {
    const hole = await blackholePort();
    closers.push(() => hole.close());
    const good = await task(healthyTask('good'));
    const { client } = await setup([hole.port, good.port], {
      connectTimeoutMs: 150,
      health: { baseEjectionMs: 60_000 },
    });
    const ejected: string[] = [];
    client.health.on('eject', (e) => ejected.push(e.key));
    for (let i = 0; i < 10; i++) {
      const { endpoint } = await client.request({ url: '/v1/echo', method: 'POST', data: {} });
      expect(endpoint.port).toBe(good.port);
    }
    expect(good.hits).toBe(10);
    expect(client.stats().retries).toBeGreaterThan(0);
    expect(ejected).toEqual([key(hole.port)]);
  });

  it('when a task drips its body forever, then the whole exchange times out and its socket is closed', async () => {
    const drip = await task(drippingTask(20));
    const { client } = await setup([drip.port], { timeoutMs: 200, maxAttempts: 1 });
    await expect(client.request({ url: '/v1/whoami' })).rejects.toMatchObject({ kind: 'timeout' });
    await until(async () => (await drip.open()) === 0, 'the dripping connection to close');
    expect(client.health.stateOf(key(drip.port))?.consecutiveFailures).toBe(1);
  });

  it('when a task answers a body over maxResponseBytes, then bad-response ERESPONSETOOLARGE counts against it', async () => {
    const huge = await task(hugeBodyTask(5_000_000));
    const { client } = await setup([huge.port], { maxResponseBytes: 64 * 1024, maxAttempts: 1 });
    await expect(client.request({ url: '/v1/whoami' })).rejects.toMatchObject({
      kind: 'bad-response',
      code: 'ERESPONSETOOLARGE',
    });
    expect(client.health.stateOf(key(huge.port))?.consecutiveFailures).toBe(1);
  });

  it('when the caller aborts, then the call to the task is cancelled, its socket closed, and health is untouched', async () => {
    const wedged = await task(wedgedTask());
    const { client } = await setup([wedged.port], { timeoutMs: 60_000 });
    for (let i = 0; i < 20; i++) {
      const controller = new AbortController();
      const call = client.request({ url: '/v1/whoami', signal: controller.signal });
      await until(() => wedged.hits === i + 1, 'the request to reach the task');
      controller.abort();
      await expect(call).rejects.toMatchObject({ kind: 'cancelled', code: 'ECANCELLED' });
    }
    await until(async () => (await wedged.open()) === 0, 'every abandoned connection to close');
    expect(client.health.stateOf(key(wedged.port))).toBeUndefined();
    expect(client.stats().failures).toMatchObject({ cancelled: 20, timeout: 0, unreachable: 0 });
  });

  it('when a url is absolute or protocol-relative, then it is refused before anything is sent', async () => {
    const good = await task(healthyTask('good'));
    const other = await task(healthyTask('other'));
    const { client } = await setup([good.port]);
    for (const url of [
      `http://127.0.0.1:${other.port}/x`,
      `//127.0.0.1:${other.port}/x`,
      'HTTP://169.254.169.254/latest',
    ]) {
      await expect(client.request({ url })).rejects.toThrow(TypeError);
    }
    expect(other.hits + good.hits).toBe(0);
  });

  it('when DNS answers a different sample of the tasks each time (Cloud Map: 8 of many), then an ejected task stays ejected across its absence', async () => {
    const dead = await refusedPort();
    const good = await task(healthyTask('good'));
    const other = await task(healthyTask('other'));
    const withDead = cloudMapRecords([
      ['dead', '127.0.0.1', dead],
      ['good', '127.0.0.1', good.port],
    ]);
    const withoutDead = cloudMapRecords([
      ['good', '127.0.0.1', good.port],
      ['other', '127.0.0.1', other.port],
    ]);
    let sample = withDead;
    const dns = await new ScriptedDns((q) =>
      reply(q, { answers: sample.srv, additionals: sample.a }),
    ).start();
    closers.push(() => dns.close());
    let clock = 1_000_000;
    const resolver = new SrvResolver({ servers: [dns.address], now: () => clock });
    const client = new SrvHttpClient({
      resolver,
      name: NAME,
      health: { baseEjectionMs: 60_000, now: () => clock },
    });
    closers.push(() => {
      client.close();
      resolver.close();
    });
    const ejected: string[] = [];
    client.health.on('eject', (e) => ejected.push(e.key));
    for (let i = 0; i < 20; i++) await client.request({ url: '/x', method: 'POST', data: {} });
    expect(ejected).toEqual([key(dead)]);
    // The next answer leaves the dead task out; the one after brings it back.
    for (const next of [withoutDead, withDead]) {
      sample = next;
      clock += 11_000;
      await resolver.resolve(NAME);
    }
    expect(resolver.snapshot()[0]!.endpoints.map((e) => e.port)).toContain(dead);
    const before = client.stats().picks[key(dead)];
    for (let i = 0; i < 20; i++) await client.request({ url: '/x', method: 'POST', data: {} });
    expect(client.stats().picks[key(dead)]).toBe(before); // still ejected: not tried again
    expect(client.health.isAvailable({ key: key(dead) } as never)).toBe(false);
  });

  it('when DNS says "none" and every task still held for the grace refuses, then the grace ends and DNS\'s ENOTFOUND is answered', async () => {
    const ports = [await refusedPort(), await refusedPort()];
    const { srv, a } = cloudMapRecords(ports.map((port, i) => [`gone${i}`, '127.0.0.1', port]));
    let empty = false;
    const dns = await new ScriptedDns((q) =>
      empty ? reply(q, { rcode: 'NXDOMAIN' }) : reply(q, { answers: srv, additionals: a }),
    ).start();
    closers.push(() => dns.close());
    let clock = 1_000_000;
    const resolver = new SrvResolver({ servers: [dns.address], now: () => clock });
    const client = new SrvHttpClient({ resolver, name: NAME, health: { now: () => clock } });
    closers.push(() => {
      client.close();
      resolver.close();
    });
    await resolver.resolve(NAME);
    empty = true;
    clock += 11_000;
    await resolver.resolve(NAME); // the empty answer: the set is kept for the grace
    expect(resolver.snapshot()[0]!.state).toBe('grace');
    // Two requests: each refused everywhere (502) until both tasks are ejected; then DNS is believed.
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++) errors.push(await client.request({ url: '/x' }).catch((e: unknown) => e));
    expect(errors[0]).toMatchObject({ kind: 'unreachable', code: 'ECONNREFUSED' });
    expect(errors.at(-1)).toBeInstanceOf(DiscoveryError);
    expect(errors.at(-1)).toMatchObject({ code: 'ENOTFOUND' });
    expect(resolver.snapshot()[0]!.state).toBe('negative');
  });

  it('when DNS says "none" and one task held for the grace fails but another still answers, then the grace holds (a flap costs nothing)', async () => {
    const good = await task(healthyTask('good'));
    const dead = await refusedPort();
    const { srv, a } = cloudMapRecords([
      ['good', '127.0.0.1', good.port],
      ['dead', '127.0.0.1', dead],
    ]);
    let empty = false;
    const dns = await new ScriptedDns((q) =>
      empty ? reply(q, { rcode: 'NXDOMAIN' }) : reply(q, { answers: srv, additionals: a }),
    ).start();
    closers.push(() => dns.close());
    let clock = 1_000_000;
    const resolver = new SrvResolver({ servers: [dns.address], now: () => clock });
    const client = new SrvHttpClient({ resolver, name: NAME, health: { ejectAfterFailures: 1 } });
    closers.push(() => {
      client.close();
      resolver.close();
    });
    await resolver.resolve(NAME);
    empty = true;
    clock += 11_000;
    await resolver.resolve(NAME);
    for (let i = 0; i < 10; i++) await client.request({ url: '/x' });
    expect(client.stats().picks[key(dead)]).toBeGreaterThan(0); // the dead task was tried and ejected…
    expect(client.health.isAvailable({ key: key(dead) } as never)).toBe(false);
    expect(resolver.snapshot()[0]!.state).toBe('grace'); // …but a live one remains: the grace holds
    expect(good.hits).toBe(10);
  });

  it('when a retry is cut short by the request budget and times out, then that endpoint is not blamed', async () => {
    const wedged = await task(wedgedTask());
    const slowish = await task(
      httpServer((req, res) => {
        req.resume();
        setTimeout(() => res.end('{}'), 300);
      }),
    );
    const { srv, a } = cloudMapRecords([
      ['wedged', '127.0.0.1', wedged.port],
      ['slowish', '127.0.0.1', slowish.port],
    ]);
    const dns = await new ScriptedDns((q) => reply(q, { answers: srv, additionals: a })).start();
    closers.push(() => dns.close());
    // random 0 picks the first record (the wedged task) whenever it is a candidate.
    const resolver = new SrvResolver({ servers: [dns.address], random: () => 0 });
    const client = new SrvHttpClient({
      resolver,
      name: NAME,
      timeoutMs: 500,
      budgetMs: 700,
      health: { baseEjectionMs: 1 },
    });
    closers.push(() => {
      client.close();
      resolver.close();
    });
    for (let i = 0; i < 3; i++) {
      await expect(client.request({ url: '/x' })).rejects.toMatchObject({ kind: 'timeout' });
    }
    expect(slowish.hits).toBeGreaterThan(0); // the retries reached it, with only 200 ms left each time
    expect(client.health.stateOf(key(slowish.port))).toBeUndefined();
    expect(client.health.stateOf(key(wedged.port))?.consecutiveFailures).toBeGreaterThan(0);
  });

  it('when the caller leaves while the endpoint is still being discovered, then a cancellation, not a discovery failure', async () => {
    const dns = await new ScriptedDns(() => undefined).start(); // silent
    closers.push(() => dns.close());
    const resolver = new SrvResolver({ servers: [dns.address], attemptTimeoutMs: 5000 });
    const client = new SrvHttpClient({ resolver, name: NAME });
    closers.push(() => {
      client.close();
      resolver.close();
    });
    const controller = new AbortController();
    const call = client.request({ url: '/x', signal: controller.signal });
    await until(() => dns.queries.length > 0, 'the SRV query');
    controller.abort();
    await expect(call).rejects.toMatchObject({ kind: 'cancelled', code: 'ECANCELLED' });
    expect(client.stats().failures.cancelled).toBe(1);
  });

  it('when every endpoint of the set refuses, then unreachable ECONNREFUSED after trying each once', async () => {
    const ports = [await refusedPort(), await refusedPort()];
    const { client } = await setup(ports, { maxAttempts: 3 });
    const err = await client.request({ url: '/x', method: 'POST', data: {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'unreachable', code: 'ECONNREFUSED' });
    const picks = client.stats().picks;
    expect(Object.keys(picks).sort()).toEqual(ports.map(key).sort()); // each was tried
    expect(picks[key(ports[0]!)]! + picks[key(ports[1]!)]!).toBe(3);
  });
});
