import * as packet from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer } from 'dns-packet';
import type { Registry } from './registry';

/** How a message reached the server. */
export type Transport = 'udp' | 'tcp';

/** An answered query: the wire reply and what to report about it. */
export interface Response {
  reply: Buffer;
  /** First question's name as asked ('' when there is none). */
  name: string;
  /** First question's type ('' when there is none). */
  type: string;
  rcode: string;
}

// RFC 1035 §4.1.1 header bits, as dns-packet keeps them in `flags` (everything but QR).
const OPCODE_MASK = 0x7800;
const RD = 0x0100;
const CD = 0x0010; // RFC 4035 §3.1.6: the server copies CD from query to response.
const RCODES = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** RFC 6891 §6.1.3: BADVERS is extended rcode 16, i.e. 1 in the OPT's upper 8 bits and 0 in the header. */
const BADVERS_UPPER = 1;
/** RFC 1035 §4.2.1: without EDNS, UDP replies are at most 512 bytes. */
const CLASSIC_UDP_BYTES = 512;
/** We never trust a client's EDNS buffer beyond this (BIND's max-udp-size default). */
const MAX_UDP_BYTES = 4096;
/** What we advertise in our OPT: the DNS Flag Day 2020 size, safe from IP fragmentation. */
const ADVERTISED_UDP_BYTES = 1232;
/** RFC 7766 §8: the TCP length prefix is 16 bits. */
const MAX_TCP_BYTES = 65535;

interface Reply {
  rcode: keyof typeof RCODES | 'BADVERS';
  flags: number;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

/**
 * Turns one DNS message into the wire reply, or undefined for garbage that must be dropped
 * (undecodable bytes, a response, no question, a question name pointing into the header).
 */
export function respond(query: Buffer, transport: Transport, registry: Registry): Response | undefined {
  let decoded: DecodedPacket;
  try {
    decoded = packet.decode(query);
  } catch {
    return undefined;
  }
  const questions = decoded.questions ?? [];
  // A response sent to us (QR set) is never answered: answering one could make two servers ping-pong.
  if (decoded.flag_qr) return undefined;
  const opcode = (decoded.flags ?? 0) & OPCODE_MASK;
  if (opcode === 0 && questions.length === 0) return undefined;
  const questionEnd = questionSectionEnd(query, questions.length);
  if (questionEnd === undefined) return undefined;

  const opts = (decoded.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
  const edns = opts.length === 1 ? opts[0] : undefined;
  const flags = opcode | ((decoded.flags ?? 0) & (RD | CD));
  const question = questions[0];
  const reply = ((): Reply => {
    const empty = { flags, answers: [], authorities: [], additionals: [] };
    if (opcode !== 0) return { ...empty, rcode: 'NOTIMP' };
    // RFC 9619: a query has exactly one question; RFC 6891 §6.1.1: more than one OPT is FORMERR.
    if (question === undefined || questions.length > 1 || opts.length > 1)
      return { ...empty, rcode: 'FORMERR' };
    if (edns !== undefined && edns.ednsVersion !== 0) return { ...empty, rcode: 'BADVERS' };
    const { rcode, authoritative, ...sections } = registry.answer(question);
    return { rcode, flags: authoritative ? flags | packet.AUTHORITATIVE_ANSWER : flags, ...sections };
  })();

  // RFC 6891 §6.2.5: a payload size below 512 is treated as 512.
  const limit =
    transport === 'tcp'
      ? MAX_TCP_BYTES
      : edns === undefined
        ? CLASSIC_UDP_BYTES
        : Math.min(Math.max(edns.udpPayloadSize, CLASSIC_UDP_BYTES), MAX_UDP_BYTES);
  const echo: Echo = {
    id: decoded.id ?? 0,
    qdcount: questions.length,
    questionBytes: query.subarray(12, questionEnd),
    withOpt: edns !== undefined,
  };
  let bytes = encodeReply(reply, echo);
  if (bytes.length > limit) {
    // RFC 2181 §9: additional data is optional, so drop it without setting TC (BIND does the same).
    bytes = encodeReply({ ...reply, additionals: [] }, echo);
  }
  if (bytes.length > limit) {
    // RFC 2181 §9 / RFC 7766 §5: the answer itself does not fit; TC with no records sends the client to TCP.
    const flags = reply.flags | packet.TRUNCATED_RESPONSE;
    bytes = encodeReply({ ...reply, flags, answers: [], authorities: [], additionals: [] }, echo);
  }
  return { reply: bytes, name: question?.name ?? '', type: question?.type ?? '', rcode: reply.rcode };
}

/** What every reply to one query copies from it. */
interface Echo {
  id: number;
  qdcount: number;
  /** The query's question section, byte for byte. */
  questionBytes: Buffer;
  /** RFC 6891 §7: a reply to an EDNS query carries an OPT, truncated or not. */
  withOpt: boolean;
}

function encodeReply(reply: Reply, echo: Echo): Buffer {
  const badvers = reply.rcode === 'BADVERS';
  const opt: OptAnswer = {
    type: 'OPT',
    name: '.',
    udpPayloadSize: ADVERTISED_UDP_BYTES,
    extendedRcode: badvers ? BADVERS_UPPER : 0,
    ednsVersion: 0,
    flags: 0, // DO clear: this zone holds no DNSSEC data
    flag_do: false,
    options: [],
  };
  const body = packet.encode({
    type: 'response',
    id: echo.id,
    flags: reply.flags | (reply.rcode === 'BADVERS' ? 0 : RCODES[reply.rcode]),
    questions: [],
    answers: reply.answers,
    authorities: reply.authorities,
    additionals: echo.withOpt ? [...reply.additionals, opt] : reply.additionals,
  });
  // The question goes back exactly as asked (RFC 1035 §7.3 matching; case kept, RFC 4343 §4.1), so splice
  // the query's own bytes in rather than re-encoding a decoded, possibly lossy, name.
  const bytes = Buffer.concat([body.subarray(0, 12), echo.questionBytes, body.subarray(12)]);
  bytes.writeUInt16BE(echo.qdcount, 4);
  return bytes;
}

/**
 * Offset just past `count` questions starting at byte 12 (the message has already decoded cleanly), or
 * undefined when a name points into the header: such a pointer would read our reply's header instead.
 */
function questionSectionEnd(message: Buffer, count: number): number | undefined {
  let offset = 12;
  for (let i = 0; i < count; i++) {
    for (let len = message[offset] ?? 0; ; len = message[offset] ?? 0) {
      // RFC 1035 §4.1.4: a pointer (top bits 11) is two bytes and ends the name.
      if (len >= 0xc0) {
        if ((message.readUInt16BE(offset) & 0x3fff) < 12) return undefined;
        offset += 2;
        break;
      }
      offset += len + 1;
      if (len === 0) break;
    }
    offset += 4; // QTYPE, QCLASS
  }
  return Math.min(offset, message.length);
}
