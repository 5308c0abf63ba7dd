import fc from 'fast-check';
import { groupByPriority, pickEndpoint, pickInGroup, rfc2782Order } from '../src/select';
import { type Endpoint } from '../src';

function ep(key: string, priority: number, weight: number): Endpoint {
  return {
    key,
    target: `${key}.service_b.ecs.internal`,
    address: '10.0.0.1',
    port: 1000,
    priority,
    weight,
    ttlSeconds: 10,
    addressSource: 'additional',
  };
}

/** Deterministic uniform sequence in [0,1) so share assertions do not depend on luck. */
function sequence(): () => number {
  let i = 0;
  return () => (i++ * 0.6180339887498949) % 1;
}

function shares(endpoints: Endpoint[], picks: number, random = sequence()): Map<string, number> {
  const groups = groupByPriority(endpoints);
  const counts = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const key = pickEndpoint(groups, random)!.key;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe('RFC 2782 selection', () => {
  it('when priorities differ, then only the lowest priority is picked', () => {
    const counts = shares([ep('low', 10, 5), ep('best', 1, 1), ep('mid', 5, 100)], 1000);
    expect([...counts.keys()]).toEqual(['best']);
  });

  it('when weights are 1:3, then picks split 25%/75%', () => {
    const counts = shares([ep('one', 1, 1), ep('three', 1, 3)], 40_000);
    expect(counts.get('one')! / 40_000).toBeCloseTo(0.25, 1);
    expect(counts.get('three')! / 40_000).toBeCloseTo(0.75, 1);
  });

  it('when weights are equal (Cloud Map: 1 1), then every record is used, not only the last (dns-srv bug)', () => {
    const counts = shares([ep('a', 1, 1), ep('b', 1, 1), ep('c', 1, 1)], 30_000);
    for (const key of ['a', 'b', 'c']) expect(counts.get(key)! / 30_000).toBeCloseTo(1 / 3, 1);
  });

  it('when one weight is 1 and the other 2, then shares are 1/3 and 2/3, not off by one (service-agent bug)', () => {
    const counts = shares([ep('w1', 1, 1), ep('w2', 1, 2)], 30_000);
    expect(counts.get('w1')! / 30_000).toBeCloseTo(1 / 3, 1);
  });

  it('when a record has weight 0 beside weighted ones, then it is chosen rarely but possibly (1/(sum+1))', () => {
    const counts = shares([ep('zero', 1, 0), ep('w9', 1, 9)], 10_000);
    expect(counts.get('zero')).toBeGreaterThan(0);
    expect(counts.get('zero')! / 10_000).toBeCloseTo(0.1, 1);
  });

  it('when every weight is 0, then picks are spread over all of them', () => {
    const counts = shares([ep('a', 1, 0), ep('b', 1, 0)], 10_000);
    expect(counts.get('a')! / 10_000).toBeCloseTo(0.5, 1);
  });

  it('when the lowest priority is unavailable, then the next priority serves; when none is, then all are used', () => {
    const groups = groupByPriority([ep('p1', 1, 1), ep('p2', 2, 1)]);
    expect(pickEndpoint(groups, Math.random, (e) => e.key !== 'p1')!.key).toBe('p2');
    expect(['p1', 'p2']).toContain(pickEndpoint(groups, Math.random, () => false)!.key);
    expect(pickEndpoint([], Math.random)).toBeUndefined();
  });

  it('when random values are arbitrary, then a pick is always a member of the lowest available priority', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ priority: fc.integer({ min: 0, max: 3 }), weight: fc.integer({ min: 0, max: 65535 }) }),
          {
            minLength: 1,
            maxLength: 20,
          },
        ),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (specs, r) => {
          const endpoints = specs.map((s, i) => ep(`e${i}`, s.priority, s.weight));
          const minPriority = Math.min(...specs.map((s) => s.priority));
          const picked = pickEndpoint(groupByPriority(endpoints), () => r)!;
          expect(picked.priority).toBe(minPriority);
        },
      ),
    );
  });

  it('when weights are arbitrary, then each endpoint’s share of picks matches weight/sum', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 6 }), (weights) => {
        const endpoints = weights.map((w, i) => ep(`e${i}`, 1, w));
        const total = weights.reduce((x, y) => x + y, 0);
        const counts = shares(endpoints, 20_000);
        weights.forEach((w, i) =>
          expect(Math.abs((counts.get(`e${i}`) ?? 0) / 20_000 - w / total)).toBeLessThan(0.02),
        );
      }),
      { numRuns: 50 },
    );
  });

  it('when ordering a set, then rfc2782Order lists each endpoint once, by priority', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ priority: fc.integer({ min: 0, max: 5 }), weight: fc.integer({ min: 0, max: 10 }) }),
          {
            maxLength: 15,
          },
        ),
        (specs) => {
          const endpoints = specs.map((s, i) => ep(`e${i}`, s.priority, s.weight));
          const order = rfc2782Order(endpoints, Math.random);
          expect(new Set(order.map((e) => e.key))).toEqual(new Set(endpoints.map((e) => e.key)));
          for (let i = 1; i < order.length; i++)
            expect(order[i]!.priority).toBeGreaterThanOrEqual(order[i - 1]!.priority);
        },
      ),
    );
  });

  it('when random() returns its extremes, then pickInGroup stays in range', () => {
    const [group] = groupByPriority([ep('a', 1, 1), ep('b', 1, 3)]);
    expect(pickInGroup(group!, () => 0).key).toBe('a');
    expect(pickInGroup(group!, () => 0.999999).key).toBe('b');
  });
});
