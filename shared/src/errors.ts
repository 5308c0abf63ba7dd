/**
 * The codes a DiscoveryError carries. They reuse Node's `dns` error codes so callers that already match
 * on `err.code` from `dns.promises` keep working.
 */
export type DiscoveryErrorCode =
  /** NXDOMAIN: the name does not exist (RFC 1035 §4.1.1 rcode 3). */
  | 'ENOTFOUND'
  /** The name exists but has no usable SRV endpoint (NODATA, a sole "." target, or every record refused). */
  | 'ENODATA'
  /** The server failed (rcode 2). */
  | 'ESERVFAIL'
  /** The server refused the query (rcode 5). */
  | 'EREFUSED'
  /** The server did not understand the query (rcode 1). */
  | 'EFORMERR'
  /** The server does not implement the query (rcode 4). */
  | 'ENOTIMP'
  /** No answer within the time allowed. */
  | 'ETIMEOUT'
  /** A reply that could not be used (undecodable or an unknown rcode). */
  | 'EBADRESP'
  /** The network refused the exchange (e.g. ICMP port unreachable, TCP reset). */
  | 'ECONNREFUSED'
  /** A socket error the network reported for the server, with its own errno (see NETWORK_CODES). */
  | NetworkErrorCode
  /** The server closed the TCP connection before answering. */
  | 'EOF'
  /** The lookup was aborted or the client closed. */
  | 'ECANCELLED'
  /** The name is not a valid DNS name (label over 63 octets, name over 253 characters, bad characters). */
  | 'EBADNAME'
  /** The Cloud Map API refused the call for its rate limit (`RequestLimitExceeded`). */
  | 'ETHROTTLED'
  /** The Cloud Map API call failed otherwise (credentials, network, a server error…): see the message. */
  | 'EAPI';

/**
 * Socket errors reported with their own errno rather than folded into one code: no route to the server
 * (an IPv6 resolver on an IPv4-only host), a firewall, an address the host cannot use. `ENETWORK` stands
 * for any other socket error (its errno is in the message and `cause`).
 */
export type NetworkErrorCode =
  | 'ENETUNREACH'
  | 'EHOSTUNREACH'
  | 'EACCES'
  | 'EPERM'
  | 'EADDRNOTAVAIL'
  | 'EAFNOSUPPORT'
  | 'EINVAL'
  | 'ECONNRESET'
  | 'ENETWORK';

const NETWORK_CODES: ReadonlySet<NetworkErrorCode> = new Set<NetworkErrorCode>([
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EACCES',
  'EPERM',
  'EADDRNOTAVAIL',
  'EAFNOSUPPORT',
  'EINVAL',
  'ECONNRESET',
]);

/** The DiscoveryError code for a socket's errno: itself when listed, else `ENETWORK`. */
export function networkCode(errno: string | undefined): NetworkErrorCode {
  const code = errno as NetworkErrorCode | undefined;
  return code !== undefined && NETWORK_CODES.has(code) ? code : 'ENETWORK';
}

/**
 * RFC 1035 §4.1.1 / RFC 6895 rcodes (as dns-packet names them) → error code. NOERROR is absent: it is
 * not an error by itself (an empty NOERROR answer becomes ENODATA where records are interpreted).
 */
export const RCODE_TO_CODE: Readonly<Record<string, DiscoveryErrorCode>> = {
  FORMERR: 'EFORMERR',
  SERVFAIL: 'ESERVFAIL',
  NXDOMAIN: 'ENOTFOUND',
  NOTIMP: 'ENOTIMP',
  REFUSED: 'EREFUSED',
};

/** Codes after which another server may answer better, so the exchange moves on (RFC 1035 §7.2). */
export const NEXT_SERVER_CODES: ReadonlySet<DiscoveryErrorCode> = new Set([
  'ESERVFAIL',
  'EREFUSED',
  'EFORMERR',
  'ENOTIMP',
  'ETIMEOUT',
  'EBADRESP',
  'ECONNREFUSED',
  'EOF',
  ...NETWORK_CODES,
  'ENETWORK',
]);

/** Codes that say "the service has no endpoints" authoritatively (cached as negative answers, RFC 2308). */
export const NEGATIVE_CODES: ReadonlySet<DiscoveryErrorCode> = new Set(['ENOTFOUND', 'ENODATA']);

/** One failed attempt of an exchange, kept so the final error tells every server's story. */
export interface AttemptRecord {
  /** `host:port` of the server asked. */
  server: string;
  transport: 'udp' | 'tcp';
  /** The code this attempt ended with. */
  code: DiscoveryErrorCode;
}

/** The one error of the discovery client: match on `code`. */
export class DiscoveryError extends Error {
  /** What went wrong, as a Node dns-style code. */
  readonly code: DiscoveryErrorCode;
  /** The name being resolved. */
  readonly hostname: string;
  /** Every failed attempt of the exchange, in order (empty when the error did not come from the wire). */
  readonly attempts: readonly AttemptRecord[];

  constructor(
    code: DiscoveryErrorCode,
    hostname: string,
    message: string,
    options?: { cause?: unknown; attempts?: readonly AttemptRecord[] },
  ) {
    super(`${message} (${code} ${hostname})`, options);
    this.name = 'DiscoveryError';
    this.code = code;
    this.hostname = hostname;
    this.attempts = options?.attempts ?? [];
  }
}

/** True when `err` is a DiscoveryError (optionally with one of `codes`). */
export function isDiscoveryError(err: unknown, ...codes: DiscoveryErrorCode[]): err is DiscoveryError {
  return err instanceof DiscoveryError && (codes.length === 0 || codes.includes(err.code));
}
