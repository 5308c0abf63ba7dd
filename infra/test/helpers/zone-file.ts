// A parser for the master-file (RFC 1035 §5.1) features infra/local/*.zone
// uses: comments, $ORIGIN, $TTL, parentheses spanning lines, relative and
// absolute names, `@`, and records of type SOA, NS, A and SRV in class IN.
// Owner names must be written on every record (no blank-owner continuation).

export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export type ZoneRecord =
  | { name: string; ttl: number; type: 'SOA'; data: SoaData }
  | { name: string; ttl: number; type: 'NS'; data: string }
  | { name: string; ttl: number; type: 'A'; data: string }
  | { name: string; ttl: number; type: 'SRV'; data: SrvData };

export interface Zone {
  origin: string;
  records: ZoneRecord[];
}

interface LogicalLine {
  line: number;
  text: string;
  /** The entry starts with blank space: in RFC 1035 that means "same owner as before". */
  indented: boolean;
}

/** Joins parenthesised continuation lines and drops comments. */
function logicalLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  let pending = '';
  let start = 0;
  let indented = false;
  let depth = 0;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/;.*$/, '');
    if (depth === 0) {
      start = index + 1;
      indented = /^\s/.test(line);
    }
    for (const ch of line) {
      if (ch === '(') depth += 1;
      if (ch === ')') depth -= 1;
      if (depth < 0) throw new Error(`line ${index + 1}: unbalanced ")"`);
    }
    pending += ` ${line.replace(/[()]/g, ' ')}`;
    if (depth === 0) {
      if (pending.trim()) out.push({ line: start, text: pending.trim(), indented });
      pending = '';
    }
  });
  if (depth !== 0) throw new Error(`line ${start}: unclosed "("`);
  return out;
}

function absolute(name: string, origin: string): string {
  const lower = name.toLowerCase();
  if (lower === '@') return origin;
  return lower.endsWith('.') ? lower : `${lower}.${origin}`;
}

function uint(token: string | undefined, max: number, what: string): number {
  if (token === undefined || !/^\d+$/.test(token) || Number(token) > max) {
    throw new Error(`${what} must be an integer 0..${max}, got ${token}`);
  }
  return Number(token);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function parseZone(text: string): Zone {
  let origin = '';
  let defaultTtl: number | undefined;
  const records: ZoneRecord[] = [];
  for (const { line, text: content, indented } of logicalLines(text)) {
    try {
      const tokens = content.split(/\s+/);
      const [first = '', second] = tokens;
      if (first === '$ORIGIN') {
        if (!second?.endsWith('.')) throw new Error('$ORIGIN must be an absolute name');
        origin = second.toLowerCase();
        continue;
      }
      if (first === '$TTL') {
        defaultTtl = uint(second, 2 ** 31 - 1, '$TTL');
        continue;
      }
      if (first.startsWith('$')) throw new Error(`unsupported directive ${first}`);
      if (indented) throw new Error('every record must name its owner');
      if (!origin && !first.endsWith('.')) throw new Error('relative name before $ORIGIN');
      const name = absolute(first, origin);
      let i = 1;
      let ttl = defaultTtl;
      if (/^\d+$/.test(tokens[i] ?? '')) ttl = uint(tokens[i++], 2 ** 31 - 1, 'TTL');
      if (tokens[i] === 'IN') i += 1;
      if (ttl === undefined) throw new Error('no TTL and no $TTL');
      const type = tokens[i++];
      const rdata = tokens.slice(i);
      const arity = (n: number) => {
        if (rdata.length !== n)
          throw new Error(`${type} takes ${n} fields, got ${rdata.length}: ${rdata.join(' ')}`);
      };
      switch (type) {
        case 'SOA': {
          arity(7);
          const [mname, rname, ...numbers] = rdata as [string, string, ...string[]];
          const [serial, refresh, retry, expire, minimum] = numbers.map((n) =>
            uint(n, 2 ** 32 - 1, 'SOA field'),
          );
          records.push({
            name,
            ttl,
            type,
            data: {
              mname: absolute(mname, origin),
              rname: absolute(rname, origin),
              serial: serial as number,
              refresh: refresh as number,
              retry: retry as number,
              expire: expire as number,
              minimum: minimum as number,
            },
          });
          break;
        }
        case 'NS':
          arity(1);
          records.push({ name, ttl, type, data: absolute(rdata[0] as string, origin) });
          break;
        case 'A':
          arity(1);
          if (!IPV4.test(rdata[0] as string)) throw new Error(`not an IPv4 address: ${rdata[0]}`);
          records.push({ name, ttl, type, data: rdata[0] as string });
          break;
        case 'SRV':
          arity(4);
          records.push({
            name,
            ttl,
            type,
            data: {
              priority: uint(rdata[0], 65535, 'SRV priority'),
              weight: uint(rdata[1], 65535, 'SRV weight'),
              port: uint(rdata[2], 65535, 'SRV port'),
              target: absolute(rdata[3] as string, origin),
            },
          });
          break;
        default:
          throw new Error(`unsupported record type ${type}`);
      }
    } catch (error) {
      throw new Error(`line ${line}: ${(error as Error).message}`);
    }
  }
  return { origin, records };
}
