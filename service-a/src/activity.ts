import type { EndpointHealthEvents, NameSnapshot, SourceEvents } from '@ecs-srv/shared';

/**
 * What the live page watches during a deploy, kept in A's memory and bounded: requests per second per B
 * endpoint over the last few minutes (sampled from the discovery client's own pick counters, so it is
 * A's real traffic) and a timeline of what discovery went through (set changes, ejections and returns,
 * stale periods, failed lookups).
 */

/** The parts of the event emitters the recorder listens to. */
interface Emitter<E extends Record<keyof E, unknown[]>> {
  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): unknown;
  off<K extends keyof E>(event: K, listener: (...args: E[K]) => void): unknown;
}

/** Timers the recorder uses; injectable for tests. */
export interface ActivityTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface ActivityRecorderOptions {
  /** Where endpoints come from: its `change`, `stale` and `lookup` events feed the timeline. */
  source?: Emitter<SourceEvents> & { snapshot(): NameSnapshot[] };
  /** Passive health: its `eject` and `return` events feed the timeline. */
  health?: Emitter<EndpointHealthEvents>;
  /** Cumulative calls per endpoint key (`route.http.stats().picks`), read once per sample. */
  picks?: () => Record<string, number>;
  /** Time between samples. @default 1000 */
  sampleIntervalMs?: number;
  /** Samples kept (the chart's window). @default 300 (5 minutes at 1 s) */
  maxSamples?: number;
  /** Timeline entries kept. @default 200 */
  maxEvents?: number;
  /** Endpoints reported with a rate series (the busiest in the window). @default 64 */
  maxSeries?: number;
  /** Clock in ms. @default Date.now */
  now?: () => number;
  /** @default the global setInterval/clearInterval, the interval unref'd */
  timers?: ActivityTimers;
}

/** One timeline entry, as `GET /discovery/activity` reports it. */
export type ActivityEvent = {
  /** Increases by one per recorded event (so a reader can tell which it has seen). */
  seq: number;
  /** When it happened (ISO). */
  at: string;
} & (
  | {
      type: 'change';
      name: string;
      added: string[];
      removed: string[];
      /** Keys beyond those listed in `added`/`removed`. */
      omitted: number;
      endpoints: number;
    }
  | { type: 'eject'; key: string; ejectionMs: number; consecutiveFailures: number; reason?: string }
  | { type: 'return'; key: string }
  | { type: 'stale'; name: string; code: string; message: string }
  | { type: 'stale-end'; name: string; staleSeconds: number }
  | {
      type: 'error';
      name: string;
      code: string;
      message?: string;
      /** Failures in a row with this code folded into this entry; `lastAt` is the latest. */
      count: number;
      lastAt: string;
    }
  | { type: 'recovered'; name: string; failedSeconds: number }
);

/** What `GET /discovery/activity` answers. */
export interface ActivitySnapshot {
  now: string;
  sampleIntervalMs: number;
  /** Samples the window holds when full (`maxSamples`). */
  maxSamples: number;
  /** When each sample was taken (clock ms), oldest first; at most `maxSamples`. */
  sampleTimes: number[];
  /**
   * Per endpoint with calls in the window, busiest first: calls per second over each sample's span
   * (aligned with `sampleTimes`) and the calls in the whole window.
   */
  endpoints: Array<{ key: string; rates: number[]; total: number }>;
  /** Endpoints with traffic in the window left out of `endpoints` (over `maxSeries`). */
  endpointsOmitted: number;
  /** Oldest first; at most `maxEvents`. */
  events: ActivityEvent[];
  /** Events pushed out of the timeline since start. */
  eventsDropped: number;
}

type EventBody = ActivityEvent extends infer E ? (E extends unknown ? Omit<E, 'seq' | 'at'> : never) : never;

const MAX_LISTED_KEYS = 25;
const MAX_MESSAGE = 300;

const defaultTimers: ActivityTimers = {
  setInterval(fn, ms) {
    const handle = setInterval(fn, ms);
    handle.unref();
    return handle;
  },
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/** A's discovery activity: a ring of per-second request samples per endpoint and a bounded timeline. */
export class ActivityRecorder {
  private readonly opts: Required<
    Pick<ActivityRecorderOptions, 'sampleIntervalMs' | 'maxSamples' | 'maxEvents' | 'maxSeries' | 'now'>
  >;
  private readonly timers: ActivityTimers;
  private timer: unknown;
  /** Per sample: its time (clock ms), the ms it spans, and the calls of each endpoint that had any. */
  private readonly times: number[] = [];
  private readonly spans: number[] = [];
  private readonly counts: Array<Map<string, number>> = [];
  private lastPicks = new Map<string, number>();
  private lastSampleAt: number;
  private readonly startedAt: number;
  private readonly events: ActivityEvent[] = [];
  private seq = 0;
  private dropped = 0;
  /** Per name: when it started failing (lookups) and when it went stale; the last error time seen. */
  private readonly failingSince = new Map<string, number>();
  private readonly staleSince = new Map<string, number>();
  private readonly lastErrorSeen = new Map<string, number>();
  private readonly unsubscribe: Array<() => void> = [];
  private closed = false;

  constructor(private readonly options: ActivityRecorderOptions = {}) {
    this.opts = {
      sampleIntervalMs: options.sampleIntervalMs ?? 1000,
      maxSamples: options.maxSamples ?? 300,
      maxEvents: options.maxEvents ?? 200,
      maxSeries: options.maxSeries ?? 64,
      now: options.now ?? Date.now,
    };
    for (const [key, value] of Object.entries(this.opts)) {
      if (key !== 'now' && !(Number.isInteger(value) && (value as number) > 0)) {
        throw new TypeError(`${key} must be a positive integer`);
      }
    }
    this.timers = options.timers ?? defaultTimers;
    this.lastSampleAt = this.startedAt = this.opts.now();
    this.lastPicks = new Map(Object.entries(options.picks?.() ?? {}));
    this.listen();
  }

  /** Starts sampling every `sampleIntervalMs` (no-op when running or closed). */
  start(): this {
    if (this.closed || this.timer !== undefined) return this;
    this.timer = this.timers.setInterval(() => this.sample(), this.opts.sampleIntervalMs);
    return this;
  }

  /** True while the sampling timer runs. */
  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Stops the timer and every listener. Idempotent. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.timers.clearInterval(this.timer);
    this.timer = undefined;
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /** Takes one sample now: each endpoint's calls since the last sample, per second. */
  sample(): void {
    const now = this.opts.now();
    const spanMs = Math.max(now - this.lastSampleAt, 1);
    this.lastSampleAt = now;
    const current = this.options.picks?.() ?? {};
    const counts = new Map<string, number>();
    const next = new Map<string, number>();
    for (const [key, count] of Object.entries(current)) {
      next.set(key, count);
      const before = this.lastPicks.get(key) ?? 0;
      // A counter below its last value was forgotten and started again: it all counts as new.
      const delta = count >= before ? count - before : count;
      if (delta > 0) counts.set(key, delta);
    }
    this.lastPicks = next;
    this.times.push(now);
    this.spans.push(spanMs);
    this.counts.push(counts);
    if (this.times.length > this.opts.maxSamples) {
      this.times.shift();
      this.spans.shift();
      this.counts.shift();
    }
    if (this.options.source) this.watchSnapshot(this.options.source.snapshot(), now);
  }

  /** The chart and the timeline, bounded (see the options). */
  snapshot(): ActivitySnapshot {
    const totals = new Map<string, number>();
    for (const counts of this.counts) {
      for (const [key, n] of counts) totals.set(key, (totals.get(key) ?? 0) + n);
    }
    const keys = [...totals.keys()].sort((a, b) => totals.get(b)! - totals.get(a)! || a.localeCompare(b));
    const kept = keys.slice(0, this.opts.maxSeries);
    return {
      now: new Date(this.opts.now()).toISOString(),
      sampleIntervalMs: this.opts.sampleIntervalMs,
      maxSamples: this.opts.maxSamples,
      sampleTimes: [...this.times],
      endpoints: kept.map((key) => ({
        key,
        rates: this.counts.map((c, i) => Math.round(((c.get(key) ?? 0) * 100_000) / this.spans[i]!) / 100),
        total: totals.get(key)!,
      })),
      endpointsOmitted: keys.length - kept.length,
      events: this.events.map((e) => ({ ...e })),
      eventsDropped: this.dropped,
    };
  }

  /** Adds a timeline entry (also used for what the listeners hear). */
  record(body: EventBody): void {
    const now = this.opts.now();
    const last = this.events[this.events.length - 1];
    // Failures in a row with the same code are one entry: a long outage does not flush the timeline.
    if (
      body.type === 'error' &&
      last?.type === 'error' &&
      last.name === body.name &&
      last.code === body.code
    ) {
      last.count += body.count;
      last.lastAt = new Date(now).toISOString();
      if (body.message) last.message = body.message;
      return;
    }
    this.events.push({ ...body, seq: ++this.seq, at: new Date(now).toISOString() } as ActivityEvent);
    if (this.events.length > this.opts.maxEvents) {
      this.events.shift();
      this.dropped++;
    }
  }

  private listen(): void {
    const { source, health } = this.options;
    if (source) {
      const onChange = (e: {
        name: string;
        added: { key: string }[];
        removed: { key: string }[];
        endpoints: readonly unknown[];
      }) => {
        const added = e.added.map((x) => x.key);
        const removed = e.removed.map((x) => x.key);
        const listed = Math.min(added.length, MAX_LISTED_KEYS);
        const listedRemoved = Math.min(removed.length, MAX_LISTED_KEYS - listed);
        this.record({
          type: 'change',
          name: e.name,
          added: added.slice(0, listed),
          removed: removed.slice(0, listedRemoved),
          omitted: added.length - listed + removed.length - listedRemoved,
          endpoints: e.endpoints.length,
        });
      };
      const onStale = (e: { name: string; error: { code: string; message: string } }) => {
        if (!this.staleSince.has(e.name)) this.staleSince.set(e.name, this.opts.now());
        this.record({ type: 'stale', name: e.name, code: e.error.code, message: clip(e.error.message) });
      };
      const onLookup = (e: { name: string; outcome: string }) => {
        const now = this.opts.now();
        if (e.outcome === 'ok') {
          const since = this.failingSince.get(e.name);
          if (since !== undefined) {
            this.failingSince.delete(e.name);
            this.record({ type: 'recovered', name: e.name, failedSeconds: seconds(now - since) });
          }
          return;
        }
        if (!this.failingSince.has(e.name)) this.failingSince.set(e.name, now);
        this.lastErrorSeen.set(e.name, now);
        const lastError = this.options.source?.snapshot().find((s) => s.name === e.name)?.lastError;
        this.record({
          type: 'error',
          name: e.name,
          code: e.outcome,
          message: lastError?.code === e.outcome ? clip(lastError.message) : undefined,
          count: 1,
          lastAt: new Date(now).toISOString(),
        });
      };
      source.on('change', onChange);
      source.on('stale', onStale);
      source.on('lookup', onLookup);
      this.unsubscribe.push(() => {
        source.off('change', onChange);
        source.off('stale', onStale);
        source.off('lookup', onLookup);
      });
    }
    if (health) {
      const onEject = (e: EndpointHealthEvents['eject'][0]) =>
        this.record({
          type: 'eject',
          key: e.key,
          ejectionMs: e.ejectionMs,
          consecutiveFailures: e.consecutiveFailures,
          reason: e.reason,
        });
      const onReturn = (e: EndpointHealthEvents['return'][0]) => this.record({ type: 'return', key: e.key });
      health.on('eject', onEject);
      health.on('return', onReturn);
      this.unsubscribe.push(() => {
        health.off('eject', onEject);
        health.off('return', onReturn);
      });
    }
  }

  /**
   * What events do not say, read from the source's view at each sample: the end of a stale period, and
   * errors that came without a lookup event (a failed Cloud Map revision poll).
   */
  private watchSnapshot(names: NameSnapshot[], now: number): void {
    for (const name of names) {
      const since = this.staleSince.get(name.name);
      if (since !== undefined && !name.stale) {
        this.staleSince.delete(name.name);
        this.record({ type: 'stale-end', name: name.name, staleSeconds: seconds(now - since) });
      }
      const errorAt = name.lastError ? Date.parse(name.lastError.at) : NaN;
      if (errorAt > (this.lastErrorSeen.get(name.name) ?? this.startedAt)) {
        this.lastErrorSeen.set(name.name, errorAt);
        this.record({
          type: 'error',
          name: name.name,
          code: name.lastError!.code,
          message: clip(name.lastError!.message),
          count: 1,
          lastAt: name.lastError!.at,
        });
      }
    }
  }
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
