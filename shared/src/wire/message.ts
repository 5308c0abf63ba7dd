import * as packet from 'dns-packet';
import { randomInt } from 'node:crypto';

/** Record types the client asks for. */
export type QueryType = 'SRV' | 'A' | 'AAAA';

/** One question, as sent and as the reply must echo it. */
export interface Question {
  name: string;
  type: QueryType;
}

/** A decoded reply. dns-packet adds `rcode` (as a name, e.g. "NXDOMAIN") to what @types/dns-packet declares. */
export interface Reply extends packet.Packet {
  id: number;
  flags: number;
  rcode: string;
  questions: packet.Question[];
  answers: packet.Answer[];
  authorities: packet.Answer[];
  additionals: packet.Answer[];
}

/** A query ready to send: its random ID, question and bytes. */
export interface Query {
  id: number;
  question: Question;
  bytes: Buffer;
}

/** Advertised EDNS0 UDP payload size: the DNS Flag Day 2020 value, safe from IP fragmentation. */
export const EDNS_UDP_PAYLOAD_BYTES = 1232;

/** Builds a query with a random 16-bit ID from `crypto` (RFC 5452 §9.2) and an EDNS0 OPT (RFC 6891). */
export function buildQuery(question: Question, options: { edns?: boolean } = {}): Query {
  const id = randomInt(0, 0x10000);
  const bytes = packet.encode({
    type: 'query',
    id,
    // RD: the VPC resolver (and any resolv.conf server) is a recursive resolver.
    flags: packet.RECURSION_DESIRED,
    questions: [{ name: question.name, type: question.type, class: 'IN' }],
    additionals:
      options.edns === false
        ? []
        : [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: EDNS_UDP_PAYLOAD_BYTES,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: 0,
              flag_do: false,
              options: [],
            },
          ],
  });
  return { id, question, bytes };
}

/** Decodes bytes as a DNS message; undefined (never a throw) when they are not one. */
export function decodeReply(bytes: Buffer): Reply | undefined {
  try {
    const decoded = packet.decode(bytes) as Partial<Reply>;
    if (decoded.type !== 'response' || typeof decoded.id !== 'number') return undefined;
    return {
      ...decoded,
      id: decoded.id,
      flags: decoded.flags ?? 0,
      rcode: decoded.rcode ?? 'NOERROR',
      questions: decoded.questions ?? [],
      answers: decoded.answers ?? [],
      authorities: decoded.authorities ?? [],
      additionals: decoded.additionals ?? [],
    };
  } catch {
    return undefined;
  }
}

/**
 * Why `name` cannot be a DNS name to query or dial, or undefined when it can: at most 253 characters
 * (255 octets on the wire, RFC 1035 §2.3.4), labels of 1–63 octets of letters, digits, `-` and `_` (Cloud
 * Map's names carry `_`), no label starting or ending with `-`. A trailing root dot is allowed.
 */
export function invalidNameReason(name: string): string | undefined {
  if (typeof name !== 'string') return 'not a string';
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0) return 'empty';
  if (n.length > 253) return `${n.length} characters (at most 253)`;
  for (const label of n.split('.')) {
    if (label.length === 0) return 'an empty label';
    if (label.length > 63) return `a label of ${label.length} characters (at most 63)`;
    if (!LABEL.test(label)) return `the label "${printable(label)}" has characters other than a-z 0-9 - _`;
  }
  return undefined;
}

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/;

/** Text from DNS made safe and short for messages and logs: control characters escaped, at most 80 chars. */
export function printable(text: string, max = 80): string {
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

/** Names compare case-insensitively (RFC 4343) and without a trailing dot. */
export function sameName(a: string, b: string): boolean {
  return normalizeName(a) === normalizeName(b);
}

/** Lower-cased name without the trailing root dot. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * A reply answers `query` only if it has the same ID and echoes the same single question
 * (RFC 5452 §3: ID, question name, type and class must all match).
 */
export function answersQuery(reply: Reply, query: Query): boolean {
  if (reply.id !== query.id || reply.questions.length !== 1) return false;
  const q = reply.questions[0]!;
  return (
    q.type === query.question.type && (q.class ?? 'IN') === 'IN' && sameName(q.name, query.question.name)
  );
}

/** True when the TC bit is set: the answer did not fit and must be asked again over TCP (RFC 7766 §5). */
export function isTruncated(reply: Reply): boolean {
  return (reply.flags & packet.TRUNCATED_RESPONSE) !== 0;
}
