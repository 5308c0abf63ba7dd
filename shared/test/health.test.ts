import { EndpointHealth, type Endpoint } from '../src';
import { groupByPriority, pickEndpoint } from '../src/select';

function ep(key: string): Endpoint {
  return {
    key,
    target: `${key}.svc.zone`,
    address: '10.0.0.1',
    port: 1,
    priority: 1,
    weight: 1,
    ttlSeconds: 10,
    addressSource: 'additional',
  };
}

describe('EndpointHealth (passive ejection)', () => {
  let clock = 0;
  const make = () =>
    new EndpointHealth({
      ejectAfterFailures: 2,
      baseEjectionMs: 1000,
      maxEjectionMs: 4000,
      now: () => clock,
    });
  beforeEach(() => (clock = 0));

  it('when an endpoint fails twice in a row, then it is ejected, and it comes back when the back-off ends', () => {
    const health = make();
    const a = ep('a');
    const ejections: number[] = [];
    health.on('eject', (e) => ejections.push(e.ejectionMs));
    health.reportFailure(a);
    expect(health.isAvailable(a)).toBe(true);
    health.reportFailure(a);
    expect(health.isAvailable(a)).toBe(false);
    expect(health.allHealthy).toBe(false);
    clock += 999;
    expect(health.isAvailable(a)).toBe(false);
    clock += 1;
    expect(health.isAvailable(a)).toBe(true);
    expect(ejections).toEqual([1000]);
  });

  it('when a returned endpoint fails again, then the back-off doubles up to the cap; a success resets it', () => {
    const health = make();
    const a = ep('a');
    const ejections: number[] = [];
    health.on('eject', (e) => ejections.push(e.ejectionMs));
    for (let round = 0; round < 4; round++) {
      health.reportFailure(a);
      health.reportFailure(a);
      clock += 10_000;
    }
    expect(ejections).toEqual([1000, 2000, 4000, 4000]);
    const returned: string[] = [];
    health.on('return', (e) => returned.push(e.key));
    health.reportSuccess(a);
    expect(returned).toEqual(['a']);
    expect(health.allHealthy).toBe(true);
    health.reportFailure(a);
    health.reportFailure(a);
    expect(ejections.at(-1)).toBe(1000);
  });

  it('when a failure is interrupted by a success, then it does not count toward ejection', () => {
    const health = make();
    const a = ep('a');
    health.reportFailure(a);
    health.reportSuccess(a);
    health.reportFailure(a);
    expect(health.isAvailable(a)).toBe(true);
  });

  it('when every endpoint is ejected, then picking still returns one of them', () => {
    const health = make();
    const all = [ep('a'), ep('b')];
    for (const e of all) {
      health.reportFailure(e);
      health.reportFailure(e);
    }
    expect(all.every((e) => !health.isAvailable(e))).toBe(true);
    expect(pickEndpoint(groupByPriority(all), Math.random, health.isAvailable)).toBeDefined();
  });

  it('when some endpoints are ejected, then picks avoid them', () => {
    const health = make();
    const all = [ep('a'), ep('b'), ep('c')];
    health.reportFailure(all[0]!);
    health.reportFailure(all[0]!);
    const groups = groupByPriority(all);
    for (let i = 0; i < 1000; i++)
      expect(pickEndpoint(groups, Math.random, health.isAvailable)!.key).not.toBe('a');
  });

  it('when an ejected endpoint leaves DNS, then forget() clears it', () => {
    const health = make();
    const a = ep('a');
    health.reportFailure(a);
    health.reportFailure(a);
    health.forget(['a']);
    expect(health.allHealthy).toBe(true);
    expect(health.stateOf('a')).toBeUndefined();
  });

  it('when an ejected endpoint leaves the set and comes back within the retention, then it is still ejected', () => {
    const health = new EndpointHealth({
      removedRetentionMs: 60_000,
      baseEjectionMs: 30_000,
      now: () => clock,
    });
    const a = ep('a');
    health.reportFailure(a);
    health.reportFailure(a);
    expect(health.update([], ['a'])).toEqual([]);
    clock += 10_000; // absent from one DNS answer (Cloud Map's 8 of many), back in the next
    expect(health.update(['a'], [])).toEqual([]);
    expect(health.isAvailable(a)).toBe(false);
    expect(health.stateOf('a')?.consecutiveFailures).toBe(2);
  });

  it('when an endpoint stays gone past the retention, then it is forgotten and the fast path comes back', () => {
    const health = new EndpointHealth({ removedRetentionMs: 60_000, now: () => clock });
    const a = ep('a');
    health.reportFailure(a);
    health.reportFailure(a);
    health.update([], ['a']);
    clock += 59_999;
    expect(health.update([], [])).toEqual([]);
    clock += 1;
    expect(health.update([], [])).toEqual(['a']);
    expect(health.allHealthy).toBe(true);
    expect(health.size).toBe(0);
  });

  it('when an ejected endpoint leaves the set, then the fast path is back at once; if it returns still ejected, it is off again', () => {
    const health = new EndpointHealth({ baseEjectionMs: 60_000, now: () => clock });
    const a = ep('a');
    health.reportFailure(a);
    health.reportFailure(a);
    expect(health.allHealthy).toBe(false);
    health.update(['b'], ['a']); // ECS replaced the task
    expect(health.allHealthy).toBe(true);
    health.update(['a'], []);
    expect(health.allHealthy).toBe(false);
    health.reportSuccess(a);
    expect(health.allHealthy).toBe(true);
  });

  it('when 1,000 churned endpoints fail after being forgotten, then the table empties and allHealthy returns', () => {
    const health = new EndpointHealth({ removedRetentionMs: 1000, now: () => clock });
    for (let i = 0; i < 1000; i++) {
      const e = ep(`e${i}`);
      health.update([e.key], []);
      health.forget([e.key]); // it left DNS…
      health.reportFailure(e); // …and a request still in flight to it failed afterwards
      health.reportFailure(e);
    }
    expect(health.allHealthy).toBe(true); // gone endpoints never hold the fast path off…
    expect(health.size).toBe(1000); // …and their late records go with the retention
    clock += 1000;
    health.prune();
    expect(health.size).toBe(0);
    expect(health.allHealthy).toBe(true);
  });

  it('when options are invalid, then a TypeError names the option', () => {
    expect(() => new EndpointHealth({ ejectAfterFailures: 0 })).toThrow(/ejectAfterFailures/);
    expect(() => new EndpointHealth({ maxEjectionMs: 1.5 })).toThrow(/maxEjectionMs/);
    expect(() => new EndpointHealth({ removedRetentionMs: -1 })).toThrow(/removedRetentionMs/);
  });
});
