import type { Endpoint } from './records';

/** Random source in [0, 1). */
export type Random = () => number;

/** Endpoints of one priority, prepared for weighted picks (RFC 2782 "Usage rules"). */
export interface PriorityGroup {
  readonly priority: number;
  /** Weight-0 endpoints first (`zeroCount` of them), then the weighted ones. */
  readonly endpoints: readonly Endpoint[];
  readonly zeroCount: number;
  /** Running sum of the weighted endpoints' weights (parallel to `endpoints` after the zeros). */
  readonly runningSum: readonly number[];
  readonly totalWeight: number;
}

/** Groups endpoints by priority, lowest first, each ready for `pickInGroup`. */
export function groupByPriority(endpoints: readonly Endpoint[]): PriorityGroup[] {
  const byPriority = new Map<number, Endpoint[]>();
  for (const e of endpoints) {
    const list = byPriority.get(e.priority);
    if (list) list.push(e);
    else byPriority.set(e.priority, [e]);
  }
  return [...byPriority.keys()].sort((a, b) => a - b).map((p) => prepareGroup(p, byPriority.get(p)!));
}

function prepareGroup(priority: number, members: readonly Endpoint[]): PriorityGroup {
  const zeros = members.filter((e) => e.weight === 0);
  const weighted = members.filter((e) => e.weight !== 0);
  const runningSum: number[] = [];
  let sum = 0;
  for (const e of weighted) {
    sum += e.weight;
    runningSum.push(sum);
  }
  return {
    priority,
    endpoints: [...zeros, ...weighted],
    zeroCount: zeros.length,
    runningSum,
    totalWeight: sum,
  };
}

/**
 * Weighted pick within one priority, as RFC 2782 intends: weighted endpoints in exact proportion to
 * their weights (1:3 gives 25%/75%), and weight-0 endpoints together chosen with probability 1/(sum+1)
 * ("a very small chance"), uniformly among them; an all-zero group is uniform.
 *
 * The RFC's literal recipe (r in [0, sum] inclusive, weight-0 records first) gives exactly this when a
 * weight-0 record exists, but hands the first record an extra 1/(sum+1) when none does: the
 * off-by-one that skews 1:1 into 2:1 in some clients. Here r is drawn over [0, sum) in that case.
 */
export function pickInGroup(group: PriorityGroup, random: Random): Endpoint {
  const { zeroCount, runningSum, endpoints } = group;
  let r = random() * (group.totalWeight + (zeroCount > 0 ? 1 : 0));
  if (zeroCount > 0) {
    if (r < 1) return endpoints[Math.floor(r * zeroCount)]!;
    r -= 1;
  }
  for (let i = 0; i < runningSum.length; i++) {
    if (runningSum[i]! > r) return endpoints[zeroCount + i]!;
  }
  return endpoints[endpoints.length - 1]!;
}

/**
 * Picks one endpoint: the lowest priority that has an available endpoint, weighted within it. When no
 * endpoint is available at all, picks as if all were (an ejected endpoint beats no endpoint).
 * @returns undefined only for an empty set.
 */
export function pickEndpoint(
  groups: readonly PriorityGroup[],
  random: Random,
  isAvailable?: (e: Endpoint) => boolean,
): Endpoint | undefined {
  if (groups.length === 0) return undefined;
  if (!isAvailable) return pickInGroup(groups[0]!, random);
  for (const group of groups) {
    const available = group.endpoints.filter(isAvailable);
    if (available.length === group.endpoints.length) return pickInGroup(group, random);
    if (available.length > 0) return pickInGroup(prepareGroup(group.priority, available), random);
  }
  return pickInGroup(groups[0]!, random);
}

/**
 * The full RFC 2782 order in which a client should try endpoints: by priority, and within a priority
 * repeated weighted picks without replacement.
 */
export function rfc2782Order(endpoints: readonly Endpoint[], random: Random): Endpoint[] {
  const order: Endpoint[] = [];
  for (const group of groupByPriority(endpoints)) {
    let remaining = [...group.endpoints];
    while (remaining.length > 0) {
      const chosen = pickInGroup(prepareGroup(group.priority, remaining), random);
      order.push(chosen);
      remaining = remaining.filter((e) => e !== chosen);
    }
  }
  return order;
}
