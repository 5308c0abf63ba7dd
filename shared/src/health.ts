import { EventEmitter } from 'node:events';
import { positiveInt } from './options';
import type { Endpoint } from './records';

/** Options of passive health tracking. */
export interface EndpointHealthOptions {
  /** Consecutive connection failures that eject an endpoint. @default 2 */
  ejectAfterFailures?: number;
  /** First ejection's length; each further ejection in a row doubles it. @default 1000 */
  baseEjectionMs?: number;
  /** Longest ejection. @default 30000 */
  maxEjectionMs?: number;
  /**
   * How long the health of an endpoint that left the set is kept, so one that comes back (Cloud Map
   * answers 8 random records of a larger set) is not treated as new. @default 300000
   */
  removedRetentionMs?: number;
  /** Clock in ms. @default Date.now */
  now?: () => number;
}

/** Health of one endpoint, as /discovery shows it. */
export interface EndpointHealthState {
  consecutiveFailures: number;
  /** Ejections in a row (reset by a success); sets the back-off. */
  ejections: number;
  /** Clock ms until which the endpoint is not picked (when others are available). */
  ejectedUntil?: number;
}

/** Events: `eject` when an endpoint is taken out, `return` when one that was ejected succeeds again. */
export interface EndpointHealthEvents {
  eject: [{ key: string; ejectionMs: number; consecutiveFailures: number; reason?: string }];
  return: [{ key: string }];
}

/**
 * Passive health (outlier detection): consecutive failures (refused or timed-out connections, resets,
 * responses that never came or were too large) eject an endpoint for a back-off that doubles with each
 * ejection in a row; it comes back on its own when the back-off ends (the next request tries it; one
 * success clears its record). Picking never excludes every endpoint: the selection falls back to all when
 * none is available.
 *
 * Endpoints that leave the set are remembered for `removedRetentionMs` (an endpoint absent from one DNS
 * answer often returns in the next), then forgotten; a failure reported for one after it left is kept
 * only as long, so nothing a churning set does grows the table or switches the fast path off for good.
 */
export class EndpointHealth extends EventEmitter<EndpointHealthEvents> {
  private readonly states = new Map<string, EndpointHealthState>();
  /** Keys that left the set, with the clock ms they left. */
  private readonly removed = new Map<string, number>();
  private readonly threshold: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly retentionMs: number;
  private readonly now: () => number;
  /**
   * Endpoints of the current set in an ejection (possibly expired): 0 lets callers skip the health check.
   * An endpoint that left the set no longer counts, so a replaced task cannot keep the fast path off.
   */
  private ejectedCount = 0;

  /** @throws {TypeError} naming an invalid option. */
  constructor(options: EndpointHealthOptions = {}) {
    super();
    this.threshold = positiveInt('ejectAfterFailures', options.ejectAfterFailures, 2);
    this.baseMs = positiveInt('baseEjectionMs', options.baseEjectionMs, 1000);
    this.maxMs = positiveInt('maxEjectionMs', options.maxEjectionMs, 30_000);
    this.retentionMs = positiveInt('removedRetentionMs', options.removedRetentionMs, 300_000);
    this.now = options.now ?? Date.now;
  }

  /** True when no endpoint is ejected: picking may skip `isAvailable` altogether (the fast path). */
  get allHealthy(): boolean {
    return this.ejectedCount === 0;
  }

  /** False while `endpoint` is ejected. */
  readonly isAvailable = (endpoint: Endpoint): boolean => {
    const until = this.states.get(endpoint.key)?.ejectedUntil;
    return until === undefined || this.now() >= until;
  };

  /** A response came back from `endpoint`: its failure record is cleared. */
  reportSuccess(endpoint: Endpoint): void {
    const state = this.states.get(endpoint.key);
    if (!state) return;
    this.states.delete(endpoint.key);
    if (state.ejectedUntil !== undefined) {
      if (!this.removed.has(endpoint.key)) this.ejectedCount--;
      this.emit('return', { key: endpoint.key });
    }
  }

  /**
   * A call to `endpoint` failed in a way that says the endpoint is unwell: refused, connect timeout,
   * reset before a response, no response in time, a response too large. `reason` goes to the event.
   */
  reportFailure(endpoint: Endpoint, reason?: string): void {
    let state = this.states.get(endpoint.key);
    if (!state) {
      this.prune(); // a new record is the moment to drop the expired ones (failures are rare)
      state = { consecutiveFailures: 0, ejections: 0 };
      this.states.set(endpoint.key, state);
    }
    state.consecutiveFailures++;
    const now = this.now();
    const ejected = state.ejectedUntil !== undefined && now < state.ejectedUntil;
    if (ejected || state.consecutiveFailures < this.threshold) return;
    const ejectionMs = Math.min(this.baseMs * 2 ** state.ejections, this.maxMs);
    if (state.ejectedUntil === undefined && !this.removed.has(endpoint.key)) this.ejectedCount++;
    state.ejectedUntil = now + ejectionMs;
    state.ejections++;
    this.emit('eject', {
      key: endpoint.key,
      ejectionMs,
      consecutiveFailures: state.consecutiveFailures,
      reason,
    });
  }

  /** Health of `key` (undefined: no failures on record). */
  stateOf(key: string): Readonly<EndpointHealthState> | undefined {
    return this.states.get(key);
  }

  /** Endpoints tracked (with a failure on record), for metrics and tests. */
  get size(): number {
    return this.states.size;
  }

  /**
   * The set changed: `removed` left it (their health is kept for `removedRetentionMs`), `added` joined
   * (or came back, keeping what was known). Forgets what has been gone for longer than the retention.
   * @returns the keys forgotten now, for the caller to drop what it keeps per endpoint.
   */
  update(added: Iterable<string>, removed: Iterable<string>): string[] {
    const now = this.now();
    for (const key of added) {
      if (!this.removed.delete(key)) continue;
      if (this.states.get(key)?.ejectedUntil !== undefined) this.ejectedCount++; // back, still ejected
    }
    for (const key of removed) {
      if (this.removed.has(key)) continue;
      if (this.states.get(key)?.ejectedUntil !== undefined) this.ejectedCount--;
      this.removed.set(key, now);
    }
    return this.prune(now);
  }

  /**
   * Forgets endpoints' health at once (their keys may be reused by a new task); a failure reported for
   * one afterwards is kept only for the retention.
   */
  forget(keys: Iterable<string>): void {
    const now = this.now();
    for (const key of keys) {
      this.drop(key);
      // A call still in flight may report a failure later: that record goes with the retention.
      this.removed.set(key, now);
    }
  }

  /** Forgets every endpoint that left the set more than `removedRetentionMs` ago; returns their keys. */
  prune(now = this.now()): string[] {
    const forgotten: string[] = [];
    for (const [key, since] of this.removed) {
      if (now - since < this.retentionMs) continue;
      this.drop(key);
      this.removed.delete(key);
      forgotten.push(key);
    }
    return forgotten;
  }

  private drop(key: string): void {
    const state = this.states.get(key);
    if (state?.ejectedUntil !== undefined && !this.removed.has(key)) this.ejectedCount--;
    this.states.delete(key);
  }
}
