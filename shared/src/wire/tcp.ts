import net from 'node:net';
import { answersQuery, decodeReply } from './message';
import { AttemptError, runAttempt, socketFailure, type Transport, type WireStats } from './transport';

/**
 * One query over TCP (RFC 7766): a 2-byte length before each message, replies reassembled from partial
 * reads. Replies that do not answer the query are dropped and reading goes on; an undecodable frame ends
 * the attempt (the stream can no longer be trusted).
 */
export function tcpTransport(stats: WireStats): Transport {
  return (server, query, options) =>
    runAttempt(options, ({ resolve, fail }) => {
      const socket = net.connect({ host: server.host, port: server.port, family: server.family });
      let buffered: Buffer = Buffer.alloc(0);
      socket.setNoDelay(true);
      socket.on('connect', () => {
        const frame = Buffer.allocUnsafe(2 + query.bytes.length);
        frame.writeUInt16BE(query.bytes.length, 0);
        query.bytes.copy(frame, 2);
        socket.write(frame);
      });
      socket.on('data', (chunk: Buffer) => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2) {
          const size = buffered.readUInt16BE(0);
          if (buffered.length < 2 + size) return;
          const message = buffered.subarray(2, 2 + size);
          buffered = buffered.subarray(2 + size);
          const reply = decodeReply(message);
          if (!reply) {
            stats.dropped++;
            fail(new AttemptError('bad-response', 'undecodable message over TCP'));
            return;
          }
          if (answersQuery(reply, query)) {
            resolve(reply);
            return;
          }
          stats.dropped++;
        }
      });
      socket.on('error', (err) => fail(socketFailure(err)));
      socket.on('end', () =>
        fail(new AttemptError('closed', 'server closed the TCP connection before answering')),
      );
      return () => {
        socket.removeAllListeners('data');
        socket.destroy();
      };
    });
}
