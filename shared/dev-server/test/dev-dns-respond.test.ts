import * as fc from 'fast-check';
import * as packet from 'dns-packet';
import type { Packet, RecordType } from 'dns-packet';
import { Registry } from '../src/registry';
import { respond } from '../src/respond';

function registry(overrides: Partial<ConstructorParameters<typeof Registry>[0]> = {}): Registry {
  const zone = new Registry({
    zone: 'ecs.internal',
    ttlSeconds: 10,
    maxAnswers: 8,
    random: Math.random,
    ...overrides,
  });
  zone.register('task-a', '10.0.0.1', 49153);
  zone.register('task-b', '10.0.0.2', 49154);
  return zone;
}

describe('respond (pure)', () => {
  it('when given any bytes, then it never throws and answers only with a decodable reply of the same ID', () => {
    const zone = registry();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.constantFrom('udp' as const, 'tcp' as const),
        (bytes, transport) => {
          const query = Buffer.from(bytes);
          const response = respond(query, transport, zone);
          if (response === undefined) return;
          const reply = packet.decode(response.reply);
          expect(reply.flag_qr).toBe(true);
          expect(reply.id).toBe(query.readUInt16BE(0));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('when a well-formed query has random bytes overwritten, then it never throws and any reply decodes', () => {
    const zone = registry();
    const base = packet.encode({
      type: 'query',
      id: 0x1234,
      questions: [{ name: 'service_b.ecs.internal', type: 'SRV' }],
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: 1232,
          extendedRcode: 0,
          ednsVersion: 0,
          flags: 0,
          flag_do: false,
          options: [],
        },
      ],
    });
    const edit = fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 }));
    let answered = 0;
    fc.assert(
      fc.property(
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        fc.nat({ max: base.length }),
        (edits, cut) => {
          const query = Buffer.from(base.subarray(0, Math.max(cut, 12)));
          for (const [at, byte] of edits) if (at < query.length) query[at] = byte;
          const response = respond(query, 'udp', zone);
          if (response === undefined) return;
          answered++;
          expect(packet.decode(response.reply).id).toBe(query.readUInt16BE(0));
        },
      ),
      { numRuns: 3000 },
    );
    expect(answered).toBeGreaterThan(0);
  });

  it('when given any well-formed query, then the reply echoes its question section byte for byte', () => {
    const zone = registry();
    const label = fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/);
    const name = fc.oneof(
      fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.')),
      fc.array(label, { maxLength: 2 }).map((labels) => [...labels, 'ECS', 'internal'].join('.')),
    );
    const type = fc.constantFrom<RecordType>('A', 'AAAA', 'SRV', 'TXT', 'SOA', 'NS', 'ANY' as RecordType);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), name, type, (id, qname, qtype) => {
        const query = packet.encode({
          type: 'query',
          id,
          questions: [{ name: qname, type: qtype, class: 'IN' }],
        });
        const response = respond(query, 'udp', zone);
        const questionBytes = query.subarray(12);
        expect(response?.reply.subarray(12, 12 + questionBytes.length)).toEqual(questionBytes);
        expect(response?.reply.length).toBeLessThanOrEqual(512);
      }),
    );
  });

  it('when a label holds non-UTF-8 bytes, then the question still comes back byte for byte', () => {
    const zone = registry();
    const query = packet.encode({ type: 'query', id: 9, questions: [{ name: 'x.ecs.internal', type: 'A' }] });
    query[13] = 0xff; // the 'x' label becomes one raw 0xff octet (RFC 2181 §11 allows any octet)

    const response = respond(query, 'udp', zone);

    expect(response?.rcode).toBe('NXDOMAIN');
    expect(response?.reply.subarray(12, query.length)).toEqual(query.subarray(12));
  });

  it('when the question name is a compression pointer into the header, then the message is dropped', () => {
    const header = Buffer.from([0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
    // Offset 2 decodes as the one-label name "\0"; echoed into our header it would become a bad label.
    const query = Buffer.concat([header, Buffer.from([0xc0, 0x02, 0x00, 0x01, 0x00, 0x01])]);

    expect(packet.decode(query).questions).toHaveLength(1);
    expect(respond(query, 'udp', registry())).toBeUndefined();
  });

  it('when a name uses a non-ASCII look-alike of a letter, then it does not match (RFC 4343 ASCII-only case folding)', () => {
    const zone = new Registry({ zone: 'ecs.internal', ttlSeconds: 10, maxAnswers: 8, random: Math.random });
    zone.register('k', '10.0.0.1', 49153);
    const query: Packet = {
      type: 'query',
      id: 1,
      questions: [{ name: '\u212a.service_b.ecs.internal', type: 'A' }],
    };

    expect(respond(packet.encode(query), 'udp', zone)?.rcode).toBe('NXDOMAIN');
  });

  it('when an EDNS buffer above 4096 is offered, then UDP replies stay within 4096 bytes', () => {
    const zone = registry({ maxAnswers: 60 });
    for (let i = 0; i < 60; i++) zone.register(i.toString(16).padStart(32, 'f'), '10.0.0.1', 50000 + i);
    const query = packet.encode({
      type: 'query',
      id: 1,
      questions: [{ name: 'service_b.ecs.internal', type: 'SRV' }],
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: 65000,
          extendedRcode: 0,
          ednsVersion: 0,
          flags: 0,
          flag_do: false,
          options: [],
        },
      ],
    });

    const udp = respond(query, 'udp', zone);
    const tcp = respond(query, 'tcp', zone);

    expect(udp?.reply.length).toBeLessThanOrEqual(4096);
    expect(packet.decode(tcp!.reply).answers).toHaveLength(60);
  });
});

describe('Registry', () => {
  it('when the random source misbehaves (1, NaN, negative), then answers still hold distinct registered targets', () => {
    for (const bad of [1, Number.NaN, -0.5]) {
      const zone = registry({ random: () => bad, maxAnswers: 2 });
      zone.register('task-c', '10.0.0.3', 49155);

      const { answers } = zone.answer({ name: 'service_b.ecs.internal', type: 'SRV', class: 'IN' });

      const targets = answers.map((a) => (a.type === 'SRV' ? a.data.target : ''));
      expect(new Set(targets).size).toBe(2);
      expect(targets.every((t) => t.endsWith('.service_b.ecs.internal'))).toBe(true);
    }
  });

  it('when a class other than IN is asked, then REFUSED', () => {
    expect(registry().answer({ name: 'service_b.ecs.internal', type: 'SRV', class: 'CH' }).rcode).toBe(
      'REFUSED',
    );
  });

  it('when ANY is asked at the service, then the SRV set is returned', () => {
    const { rcode, answers } = registry().answer({
      name: 'service_b.ecs.internal',
      type: 'ANY' as RecordType,
    });

    expect(rcode).toBe('NOERROR');
    expect(answers.map((a) => a.type)).toEqual(['SRV', 'SRV']);
  });

  it('when NS is asked at the apex, then an NS record answers', () => {
    const { answers } = registry().answer({ name: 'ECS.internal', type: 'NS' });

    expect(answers).toMatchObject([{ type: 'NS', name: 'ECS.internal', ttl: 10 }]);
  });
});
