import { getEventListeners } from 'node:events';
import { EndpointCaller, UpstreamError, callWithDeadline, type Endpoint, type EndpointSource } from '../src';

/** `callWithDeadline`: the deadline and cancellation under every EndpointCaller attempt and fixed-URL call. */
describe('callWithDeadline', () => {
  const KEY = '10.0.0.5:32768';

  it('when the work outlasts the deadline, then its signal aborts with an ETIMEDOUT timeout and the call fails with it', async () => {
    let seen: AbortSignal | undefined;
    const started = Date.now();
    const err = await callWithDeadline(
      (signal) => {
        seen = signal;
        return new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(new Error('aborted'))),
        );
      },
      { endpoint: KEY, target: 'b.ecs.internal', timeoutMs: 100 },
    ).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ kind: 'timeout', code: 'ETIMEDOUT', endpoint: KEY });
    expect((err as Error).message).toBe(`b.ecs.internal (${KEY}) did not answer in 100 ms`);
    expect(seen?.reason).toBe(err);
  });

  it("when the caller's signal aborts, then the work's signal aborts and the call is cancelled", async () => {
    const caller = new AbortController();
    const call = callWithDeadline(
      (signal) =>
        new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { endpoint: KEY, timeoutMs: 10_000, signal: caller.signal },
    );
    setTimeout(() => caller.abort(), 20);
    await expect(call).rejects.toMatchObject({ kind: 'cancelled', code: 'ECANCELLED', endpoint: KEY });
  });

  it('when timeoutMs is not an integer a timer can hold, then the call is refused and the work not started', async () => {
    const work = jest.fn(() => Promise.resolve(1));
    // An object that cannot become a string still gives a rejection, never a synchronous throw.
    const unprintable = Object.create(null) as number;
    for (const timeoutMs of [0, -1, 1.5, Infinity, 2 ** 31, Number.NaN, unprintable]) {
      await expect(callWithDeadline(work, { endpoint: KEY, timeoutMs })).rejects.toThrow(TypeError);
    }
    expect(work).not.toHaveBeenCalled();
  });

  it("when the caller's signal has already aborted, then the work is not started", async () => {
    const work = jest.fn(() => Promise.resolve('never'));
    await expect(
      callWithDeadline(work, { endpoint: KEY, timeoutMs: 1000, signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ kind: 'cancelled', code: 'ECANCELLED' });
    expect(work).not.toHaveBeenCalled();
  });

  it('when the work fails on its own, then the failure is classified (socket errno → unreachable) or by `classify`', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    await expect(
      callWithDeadline(() => Promise.reject(refused), { endpoint: KEY, timeoutMs: 1000 }),
    ).rejects.toMatchObject({ kind: 'unreachable', code: 'ECONNREFUSED', endpoint: KEY });
    const mine = new UpstreamError('bad-response', 'EMINE', KEY, 'mine');
    const classify = jest.fn(() => mine);
    await expect(
      callWithDeadline(() => Promise.reject(new Error('odd')), { endpoint: KEY, timeoutMs: 1000, classify }),
    ).rejects.toBe(mine);
    expect(classify).toHaveBeenCalledWith(expect.objectContaining({ message: 'odd' }));
  });

  it("when the work succeeds, then its result is returned and neither a timer nor a listener on the caller's signal is left", async () => {
    const caller = new AbortController();
    const before = getEventListeners(caller.signal, 'abort').length;
    for (let i = 0; i < 100; i++) {
      await expect(
        callWithDeadline(() => Promise.resolve(i), {
          endpoint: KEY,
          timeoutMs: 60_000,
          signal: caller.signal,
        }),
      ).resolves.toBe(i);
    }
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(before);
    // A leftover 60 s timer would keep this test's process alive: jest's open-handle check, and below.
    const handles = (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo();
    expect(handles.filter((h) => h === 'Timeout').length).toBeLessThan(5);
  });

  it('when the work throws something that is not an UpstreamError inside EndpointCaller, then it is passed on and the endpoint keeps its health', async () => {
    const endpoint = { key: KEY, target: 'b.ecs.internal', address: '10.0.0.5', port: 32768 } as Endpoint;
    const source = {
      on: () => source,
      off: () => source,
      pickCached: () => endpoint,
      endGrace: () => undefined,
    } as unknown as EndpointSource;
    const caller = new EndpointCaller({ source, health: { ejectAfterFailures: 1 } });
    const bug = new RangeError('a bug in the work');
    const classify = (): UpstreamError => {
      throw bug; // what a broken classify (or any non-UpstreamError) does
    };
    for (let i = 0; i < 3; i++) {
      await expect(
        caller.withEndpoint('b.ecs.internal', () => Promise.reject(new Error('x')), { classify }),
      ).rejects.toBe(bug);
    }
    expect(caller.health.isAvailable(endpoint)).toBe(true);
    expect(caller.stats().ejections).toBe(0);
    caller.close();
  });
});
