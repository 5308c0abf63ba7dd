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
  /** The server closed the TCP connection before answering. */
  | 'EOF'
  /** The lookup was aborted or the client closed. */
  | 'ECANCELLED';

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
]);

/** Codes that say "the service has no endpoints" authoritatively (cached as negative answers, RFC 2308). */
export const NEGATIVE_CODES: ReadonlySet<DiscoveryErrorCode> = new Set(['ENOTFOUND', 'ENODATA']);

/** The one error of the discovery client: match on `code`. */
export class DiscoveryError extends Error {
  /** What went wrong, as a Node dns-style code. */
  readonly code: DiscoveryErrorCode;
  /** The name being resolved. */
  readonly hostname: string;

  constructor(code: DiscoveryErrorCode, hostname: string, message: string, options?: { cause?: unknown }) {
    super(`${message} (${code} ${hostname})`, options);
    this.name = 'DiscoveryError';
    this.code = code;
    this.hostname = hostname;
  }
}

/** True when `err` is a DiscoveryError (optionally with one of `codes`). */
export function isDiscoveryError(err: unknown, ...codes: DiscoveryErrorCode[]): err is DiscoveryError {
  return err instanceof DiscoveryError && (codes.length === 0 || codes.includes(err.code));
}
