import {
  DiscoveryError,
  EndpointHealth,
  type Endpoint,
  type NameSnapshot,
  type SourceEvents,
} from '@ecs-srv/shared';
import { EventEmitter } from 'node:events';
import request from 'supertest';
import { ActivityRecorder, type ActivityTimers } from '../src/activity';
import { createApp } from '../src/app';

const NAME = 'service_b.ecs.internal';

function endpoint(key: string): Endpoint {
  const [address, port] = key.split(':');
  return {
    key,
    target: `${address}.${NAME}`,
    address: address!,
    port: Number(port),
    priority: 1,
    weight: 1,
    ttlSeconds: 10,
    addressSource: 'additional',
  };
}

/** A source double: an emitter plus the snapshot the recorder reads at each sample. */
function fakeSource() {
  const emitter = new EventEmitter<SourceEvents>();
  let names: NameSnapshot[] = [];
  return {
    on: emitter.on.bind(emitter),
    off: emitter.off.bind(emitter),
    emit: emitter.emit.bind(emitter),
    listenerCount: emitter.listenerCount.bind(emitter),
    snapshot: () => names,
    setSnapshot(next: Partial<NameSnapshot>) {
      names = [
        {
          name: NAME,
          source: 'dns',
          state: 'fresh',
          stale: false,
          endpoints: [],
          rejected: [],
          rejectedOmitted: 0,
          ...next,
        },
      ];
    },
  };
}

/** A clock the test moves, and timers that run only when told. */
function manualTime(start = 1_700_000_000_000) {
  let now = start;
  const intervals = new Map<number, () => void>();
  let next = 1;
  const timers: ActivityTimers = {
    setInterval: (fn) => {
      intervals.set(next, fn);
      return next++;
    },
    clearInterval: (handle) => intervals.delete(handle as number),
  };
  return {
    now: () => now,
    timers,
    intervals,
    /** Moves the clock by `ms` and fires every interval once. */
    tick(ms: number) {
      now += ms;
      for (const fn of [...intervals.values()]) fn();
    },
  };
}

describe('ActivityRecorder', () => {
  it('when picks grow between samples, then each sample holds calls per second per endpoint', () => {
    const time = manualTime();
    const picks: Record<string, number> = { '10.0.0.1:1': 5 };
    const recorder = new ActivityRecorder({
      picks: () => ({ ...picks }),
      now: time.now,
      timers: time.timers,
    }).start();

    picks['10.0.0.1:1'] = 15; // 10 calls in 1 s
    picks['10.0.0.2:2'] = 3; // a new endpoint: 3 calls
    time.tick(1000);
    picks['10.0.0.1:1'] = 15; // none in the next 2 s
    picks['10.0.0.2:2'] = 9; // 6 calls in 2 s
    time.tick(2000);

    const snap = recorder.snapshot();
    expect(snap.sampleTimes).toEqual([time.now() - 2000, time.now()]);
    expect(snap.endpoints).toEqual([
      { key: '10.0.0.1:1', rates: [10, 0], total: 10 },
      { key: '10.0.0.2:2', rates: [3, 3], total: 9 },
    ]);
    recorder.close();
  });

  it('when a counter goes down (the endpoint was forgotten, then came back), then its new value counts as new calls', () => {
    const time = manualTime();
    let picks: Record<string, number> = { a: 100 };
    const recorder = new ActivityRecorder({ picks: () => picks, now: time.now, timers: time.timers });
    picks = {}; // forgotten
    recorder.sample();
    time.tick(1000);
    picks = { a: 4 }; // back, counting from zero
    time.tick(1000);
    recorder.sample();
    // 4 calls over the 2 s since the last sample.
    expect(recorder.snapshot().endpoints).toEqual([{ key: 'a', rates: [0, 2], total: 4 }]);
  });

  it('when more samples, endpoints and events come than the bounds allow, then only the newest are kept', () => {
    const time = manualTime();
    const picks: Record<string, number> = {};
    const recorder = new ActivityRecorder({
      picks: () => ({ ...picks }),
      now: time.now,
      maxSamples: 5,
      maxEvents: 3,
      maxSeries: 2,
    });
    for (let i = 1; i <= 12; i++) {
      time.tick(1000);
      picks.busy = (picks.busy ?? 0) + 10;
      picks.mid = (picks.mid ?? 0) + 5;
      picks.idle = (picks.idle ?? 0) + 1;
      recorder.sample();
      recorder.record({ type: 'return', key: `k${i}` });
    }
    const snap = recorder.snapshot();
    expect(snap.sampleTimes).toHaveLength(5);
    expect(snap.sampleTimes[4]).toBe(time.now());
    expect(snap.endpoints.map((e) => [e.key, e.total, e.rates.length])).toEqual([
      ['busy', 50, 5],
      ['mid', 25, 5],
    ]);
    expect(snap.endpointsOmitted).toBe(1);
    expect(snap.events.map((e) => (e.type === 'return' ? e.key : e.type))).toEqual(['k10', 'k11', 'k12']);
    expect(snap.events.map((e) => e.seq)).toEqual([10, 11, 12]);
    expect(snap.eventsDropped).toBe(9);
    // 20 endpoints for 5 minutes stay a page-sized answer.
    const big = new ActivityRecorder({ picks: () => ({ ...picks }), now: time.now });
    for (let i = 0; i < 400; i++) {
      for (let k = 0; k < 20; k++) picks[`10.0.0.${k}:49153`] = (picks[`10.0.0.${k}:49153`] ?? 0) + 7 * i + k;
      time.tick(1000);
      big.sample();
      big.record({ type: 'return', key: `10.0.0.${i % 20}:49153` });
    }
    const bigSnap = big.snapshot();
    expect(bigSnap.sampleTimes).toHaveLength(300);
    expect(bigSnap.events).toHaveLength(200);
    expect(JSON.stringify(bigSnap).length).toBeLessThan(150_000);
  });

  it('when the source and health emit, then the timeline records set changes, ejections, returns, stale periods and errors', () => {
    const time = manualTime();
    const source = fakeSource();
    const health = new EndpointHealth({ now: time.now });
    const recorder = new ActivityRecorder({ source, health, now: time.now, timers: time.timers }).start();
    source.setSnapshot({});

    source.emit('change', {
      name: NAME,
      added: [endpoint('10.0.0.1:1'), endpoint('10.0.0.2:2')],
      removed: [],
      endpoints: [endpoint('10.0.0.1:1'), endpoint('10.0.0.2:2')],
    });
    health.reportFailure(endpoint('10.0.0.2:2'), 'ECONNREFUSED');
    health.reportFailure(endpoint('10.0.0.2:2'), 'ECONNREFUSED'); // second in a row: ejected
    time.tick(1500);
    health.reportSuccess(endpoint('10.0.0.2:2'));

    // DNS fails three times in a row (one entry), the set goes stale, then DNS answers again.
    const error = new DiscoveryError('ETIMEOUT', NAME, 'no answer from 127.0.0.1:53');
    source.setSnapshot({
      lastError: { code: 'ETIMEOUT', message: error.message, at: new Date(time.now()).toISOString() },
    });
    for (let i = 0; i < 3; i++) source.emit('lookup', { name: NAME, durationMs: 1000, outcome: 'ETIMEOUT' });
    source.setSnapshot({
      stale: true,
      state: 'stale',
      lastError: { code: 'ETIMEOUT', message: error.message, at: new Date(time.now()).toISOString() },
    });
    source.emit('stale', { name: NAME, error, expiredAt: time.now() });
    time.tick(4000); // sample: still stale, and the error was already seen through the lookup event
    source.emit('lookup', { name: NAME, durationMs: 3, outcome: 'ok' });
    source.setSnapshot({
      stale: false,
      lastError: { code: 'ETIMEOUT', message: error.message, at: new Date(time.now() - 4000).toISOString() },
    });
    time.tick(1000);
    recorder.sample(); // no longer stale

    const events = recorder.snapshot().events;
    expect(events.map((e) => e.type)).toEqual([
      'change',
      'eject',
      'return',
      'error',
      'stale',
      'recovered',
      'stale-end',
    ]);
    expect(events[0]).toMatchObject({
      added: ['10.0.0.1:1', '10.0.0.2:2'],
      removed: [],
      endpoints: 2,
      omitted: 0,
    });
    expect(events[1]).toMatchObject({ key: '10.0.0.2:2', reason: 'ECONNREFUSED', consecutiveFailures: 2 });
    expect(events[2]).toMatchObject({ key: '10.0.0.2:2' });
    expect(events[3]).toMatchObject({ code: 'ETIMEOUT', count: 3, message: error.message });
    expect(events[4]).toMatchObject({ code: 'ETIMEOUT' });
    expect(events[5]).toMatchObject({ failedSeconds: 4 });
    expect(events[6]).toMatchObject({ staleSeconds: 5 });
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(Date.parse(events[1]!.at)).toBe(time.now() - 6500);
  });

  it('when an error shows in the source view without a lookup event (a failed revision poll), then a sample records it once', () => {
    const time = manualTime();
    const source = fakeSource();
    source.setSnapshot({
      lastError: { code: 'EOLD', message: 'before the recorder', at: new Date(time.now() - 1).toISOString() },
    });
    const recorder = new ActivityRecorder({ source, now: time.now });
    recorder.sample(); // an error from before start is not news
    time.tick(1000);
    source.setSnapshot({
      lastError: { code: 'ETHROTTLED', message: 'Rate exceeded', at: new Date(time.now()).toISOString() },
    });
    recorder.sample();
    recorder.sample();
    expect(recorder.snapshot().events).toEqual([
      expect.objectContaining({ type: 'error', code: 'ETHROTTLED', message: 'Rate exceeded', count: 1 }),
    ]);
  });

  it('when a change lists hundreds of endpoints, then the entry lists 25 keys and counts the rest', () => {
    const source = fakeSource();
    const recorder = new ActivityRecorder({ source });
    const added = Array.from({ length: 300 }, (_, i) => endpoint(`10.0.${i >> 8}.${i & 255}:1`));
    source.emit('change', { name: NAME, added, removed: [], endpoints: added });
    const [event] = recorder.snapshot().events;
    expect(event).toMatchObject({ type: 'change', endpoints: 300, omitted: 275 });
    expect(event?.type === 'change' && event.added).toHaveLength(25);
    recorder.close();
  });

  it('when closed, then the timer is cleared, listeners are gone and start() does not run again', () => {
    const time = manualTime();
    const source = fakeSource();
    const health = new EndpointHealth();
    const recorder = new ActivityRecorder({ source, health, now: time.now, timers: time.timers }).start();
    expect(time.intervals.size).toBe(1);
    expect(recorder.running).toBe(true);
    recorder.start(); // idempotent
    expect(time.intervals.size).toBe(1);

    recorder.close();
    expect(time.intervals.size).toBe(0);
    expect(recorder.running).toBe(false);
    expect(['change', 'stale', 'lookup'].map((e) => source.listenerCount(e))).toEqual([0, 0, 0]);
    expect(health.listenerCount('eject') + health.listenerCount('return')).toBe(0);
    recorder.start();
    expect(time.intervals.size).toBe(0);
    recorder.close(); // idempotent
  });

  it('with the real timers, then it samples on its own and stops on close', async () => {
    let reads = 0;
    const recorder = new ActivityRecorder({ picks: () => ({ a: ++reads }), sampleIntervalMs: 20 }).start();
    const deadline = Date.now() + 5000;
    while (recorder.snapshot().sampleTimes.length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(recorder.snapshot().sampleTimes.length).toBeGreaterThanOrEqual(2);
    recorder.close();
    const after = reads;
    await new Promise((r) => setTimeout(r, 100));
    expect(reads).toBe(after);
  });

  it('when options are not positive integers, then it refuses them', () => {
    expect(() => new ActivityRecorder({ maxSamples: 0 })).toThrow(/maxSamples/);
    expect(() => new ActivityRecorder({ sampleIntervalMs: 1.5 })).toThrow(/sampleIntervalMs/);
  });
});

describe('GET /discovery/activity', () => {
  function app(activity?: () => object) {
    return createApp({
      state: { draining: false },
      logger: { error: jest.fn() },
      serviceB: { whoami: jest.fn(), echo: jest.fn() },
      discovery: () => ({ names: [] }),
      activity,
    });
  }

  it('when asked, then the recorder’s snapshot comes back, not cached, with the security headers', async () => {
    const time = manualTime();
    const recorder = new ActivityRecorder({ picks: () => ({ '10.0.0.1:1': 2 }), now: time.now });
    recorder.record({ type: 'return', key: '10.0.0.1:1' });
    const res = await request(app(() => recorder.snapshot())).get('/discovery/activity');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).toEqual(recorder.snapshot());
    expect(res.body.events).toEqual([expect.objectContaining({ type: 'return', key: '10.0.0.1:1' })]);
  });

  it('when posted to, then 405 with Allow: GET', async () => {
    const res = await request(app(() => ({}))).post('/discovery/activity');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET');
  });
});
