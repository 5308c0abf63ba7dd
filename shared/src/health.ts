import { EventEmitter } from 'node:events';
import type { Endpoint } from './records';

/** Options of passive health tracking. */
export interface EndpointHealthOptions {
  /** Consecutive connection failures that eject an endpoint. @default 2 */
  ejectAfterFailures?: number;
  /** First ejection's length; each further ejection in a row doubles it. @default 1000 */
  baseEjectionMs?: number;
  /** Longest ejection. @default 30000 */
  maxEjectionMs?: number;
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
  eject: [{ key: string; ejectionMs: number; consecutiveFailures: number }];
  return: [{ key: string }];
}

/**
 * Passive health (outlier detection): consecutive connection failures eject an endpoint for a back-off
 * that doubles with each ejection in a row; it comes back on its own when the back-off ends (the next
 * request tries it; one success clears its record). Picking never excludes every endpoint: the selection
 * falls back to all when none is available.
 */
export class EndpointHealth extends EventEmitter<EndpointHealthEvents> {
  private readonly states = new Map<string, EndpointHealthState>();
  private readonly threshold: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly now: () => number;
  /** Endpoints currently in an ejection (possibly expired): 0 lets callers skip the health check. */
  private ejectedCount = 0;

  /** @throws {TypeError} naming an invalid option. */
  constructor(options: EndpointHealthOptions = {}) {
    super();
    this.threshold = positiveInt('ejectAfterFailures', options.ejectAfterFailures, 2);
    this.baseMs = positiveInt('baseEjectionMs', options.baseEjectionMs, 1000);
    this.maxMs = positiveInt('maxEjectionMs', options.maxEjectionMs, 30_000);
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
      this.ejectedCount--;
      this.emit('return', { key: endpoint.key });
    }
  }

  /** A connection to `endpoint` failed (refused, reset before a response, connect timeout). */
  reportFailure(endpoint: Endpoint): void {
    let state = this.states.get(endpoint.key);
    if (!state) {
      state = { consecutiveFailures: 0, ejections: 0 };
      this.states.set(endpoint.key, state);
    }
    state.consecutiveFailures++;
    const now = this.now();
    const ejected = state.ejectedUntil !== undefined && now < state.ejectedUntil;
    if (ejected || state.consecutiveFailures < this.threshold) return;
    const ejectionMs = Math.min(this.baseMs * 2 ** state.ejections, this.maxMs);
    if (state.ejectedUntil === undefined) this.ejectedCount++;
    state.ejectedUntil = now + ejectionMs;
    state.ejections++;
    this.emit('eject', { key: endpoint.key, ejectionMs, consecutiveFailures: state.consecutiveFailures });
  }

  /** Health of `key` (undefined: no failures on record). */
  stateOf(key: string): Readonly<EndpointHealthState> | undefined {
    return this.states.get(key);
  }

  /** Forgets endpoints that left DNS (their keys may be reused by a new task later). */
  forget(keys: Iterable<string>): void {
    for (const key of keys) {
      const state = this.states.get(key);
      if (state?.ejectedUntil !== undefined) this.ejectedCount--;
      this.states.delete(key);
    }
  }
}

function positiveInt(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0)
    throw new TypeError(`${option} must be a positive integer, got ${String(value)}`);
  return value;
}
