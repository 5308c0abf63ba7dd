import { nonNegative, positive, positiveInt, ratio } from './options';
import type { Random } from './select';
import type { AttemptObserver } from './wire/exchange';
import { normalizeName } from './wire/message';
import { canonicalServer, parseServer, systemServers, type DnsServer } from './wire/servers';

/** Optional logger: shared never imports a logging library. */
export interface DiscoveryLogger {
  debug?(obj: object, msg?: string): void;
  warn?(obj: object, msg?: string): void;
}

/** Options of `SrvResolver`. Every duration carries its unit in its name. */
export interface SrvResolverOptions {
  /** DNS servers: `ip`, `ip:port`, `[v6]:port` or parsed. @default the system's (/etc/resolv.conf) */
  servers?: readonly (string | DnsServer)[];
  /** Time one attempt (one server, one transport) may take. @default 1000 */
  attemptTimeoutMs?: number;
  /** Attempts per query, rotating over the servers. @default 3 */
  attempts?: number;
  /** Overall deadline of one lookup (SRV and A queries together). @default 4000 */
  lookupTimeoutMs?: number;
  /** Lower bound of the effective TTL (protects DNS from TTL 0). @default 1 */
  minTtlSeconds?: number;
  /** Upper bound of the effective TTL. @default 300 */
  maxTtlSeconds?: number;
  /** Fraction of the TTL after which a use of the name refreshes it in the background. @default 0.8 */
  refreshAheadRatio?: number;
  /** How long past expiry the last good set is served while DNS fails (RFC 8767). @default 900 */
  maxStaleSeconds?: number;
  /**
   * RFC 8767's client response timer: with an expired set at hand, how long a caller waits for the
   * refresh before it is served the stale set (the refresh goes on in the background). @default 1800
   */
  staleAnswerClientTimeoutMs?: number;
  /** Most names cached; past it the least recently used name is forgotten. @default 1000 */
  maxNames?: number;
  /** Most addresses used per SRV target (a target with hundreds of A records is not a task). @default 8 */
  maxAddressesPerTarget?: number;
  /** While DNS fails, how often a refresh is retried. @default 5 */
  failureRetrySeconds?: number;
  /**
   * An empty/NXDOMAIN answer right after a good set is confirmed (and the set dropped) only once the
   * emptiness has lasted this long; meanwhile the set is kept and the name re-checked every second.
   * @default the TTL of the last good set (a flap shorter than one TTL costs nothing)
   */
  emptyGraceSeconds?: number;
  /** Upper bound for caching negative answers (RFC 2308). @default 2 */
  maxNegativeTtlSeconds?: number;
  /** Suffixes SRV targets must lie under. @default the parent zone of the queried name */
  allowedSuffixes?: readonly string[];
  /** Accept link-local, unspecified and multicast endpoint addresses. @default false */
  allowUnsafeAddresses?: boolean;
  /** Most SRV records used from one answer. @default 64 */
  maxRecords?: number;
  /** Random source in [0,1) for selection and jitter. @default Math.random */
  random?: Random;
  /** Clock in ms. @default Date.now */
  now?: () => number;
  /** Receives debug/warn lines. */
  logger?: DiscoveryLogger;
  /** Observes every DNS attempt (for metrics). */
  onAttempt?: AttemptObserver;
}

/** Every option of `SrvResolver` checked, with its default applied. */
export interface ResolverSettings extends Required<
  Omit<SrvResolverOptions, 'servers' | 'allowedSuffixes' | 'logger' | 'onAttempt' | 'emptyGraceSeconds'>
> {
  servers: readonly DnsServer[];
  /** Fixed grace, or undefined for "the TTL of the last good set". */
  emptyGraceSeconds?: number;
  /** Normalized suffixes, or undefined for "the parent zone of the queried name". */
  allowedSuffixes?: readonly string[];
  logger: DiscoveryLogger;
  onAttempt?: AttemptObserver;
}

/**
 * Checks `options` and applies the defaults.
 * @throws {TypeError} naming the first invalid option.
 */
export function resolverSettings(options: SrvResolverOptions): ResolverSettings {
  const settings: ResolverSettings = {
    attemptTimeoutMs: positive('attemptTimeoutMs', options.attemptTimeoutMs, 1000),
    attempts: positiveInt('attempts', options.attempts, 3),
    lookupTimeoutMs: positive('lookupTimeoutMs', options.lookupTimeoutMs, 4000),
    minTtlSeconds: nonNegative('minTtlSeconds', options.minTtlSeconds, 1),
    maxTtlSeconds: positive('maxTtlSeconds', options.maxTtlSeconds, 300),
    refreshAheadRatio: ratio('refreshAheadRatio', options.refreshAheadRatio, 0.8),
    maxStaleSeconds: nonNegative('maxStaleSeconds', options.maxStaleSeconds, 900),
    staleAnswerClientTimeoutMs: nonNegative(
      'staleAnswerClientTimeoutMs',
      options.staleAnswerClientTimeoutMs,
      1800,
    ),
    maxNames: positiveInt('maxNames', options.maxNames, 1000),
    maxAddressesPerTarget: positiveInt('maxAddressesPerTarget', options.maxAddressesPerTarget, 8),
    failureRetrySeconds: positive('failureRetrySeconds', options.failureRetrySeconds, 5),
    maxNegativeTtlSeconds: nonNegative('maxNegativeTtlSeconds', options.maxNegativeTtlSeconds, 2),
    allowUnsafeAddresses: options.allowUnsafeAddresses ?? false,
    maxRecords: positiveInt('maxRecords', options.maxRecords, 64),
    random: options.random ?? Math.random,
    now: options.now ?? Date.now,
    servers: [],
    logger: options.logger ?? {},
    onAttempt: options.onAttempt,
  };
  if (options.emptyGraceSeconds !== undefined) {
    settings.emptyGraceSeconds = nonNegative('emptyGraceSeconds', options.emptyGraceSeconds, 0);
  }
  if (settings.minTtlSeconds > settings.maxTtlSeconds) {
    throw new TypeError('minTtlSeconds must not exceed maxTtlSeconds');
  }
  if (options.allowedSuffixes !== undefined) {
    if (!Array.isArray(options.allowedSuffixes) || options.allowedSuffixes.length === 0) {
      throw new TypeError('allowedSuffixes must be a non-empty array of domain names');
    }
    settings.allowedSuffixes = options.allowedSuffixes.map(normalizeName);
  }
  try {
    settings.servers = (options.servers ?? systemServers()).map((s) =>
      typeof s === 'string' ? parseServer(s) : canonicalServer(s),
    );
  } catch (err) {
    throw new TypeError(`servers: ${(err as Error).message}`);
  }
  if (settings.servers.length === 0) {
    throw new TypeError('servers: no DNS server configured or found in /etc/resolv.conf');
  }
  return settings;
}
