import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { resolveInstanceId } from '../src/identity';

describe('resolveInstanceId', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    if (server) await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  });

  async function metadataServer(handler: http.RequestListener): Promise<string> {
    server = http.createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v4/abc`;
  }

  it('when INSTANCE_ID is set, then it wins', async () => {
    const logger = { warn: jest.fn() };
    const got = await resolveInstanceId({ instanceId: 'fixed', metadataUri: 'http://127.0.0.1:1', logger });
    expect(got).toEqual({ instanceId: 'fixed', source: 'INSTANCE_ID' });
  });

  it('when the ECS metadata endpoint answers, then the id is the TaskARN last segment', async () => {
    const paths: string[] = [];
    const uri = await metadataServer((req, res) => {
      paths.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          TaskARN: 'arn:aws:ecs:eu-west-1:123456789012:task/demo/0f3c9a5be1d24c1e9a4b7d3f2a1c00e1',
        }),
      );
    });
    const got = await resolveInstanceId({ metadataUri: uri, logger: { warn: jest.fn() } });
    expect(got).toEqual({ instanceId: '0f3c9a5be1d24c1e9a4b7d3f2a1c00e1', source: 'ecs-metadata' });
    expect(paths).toEqual(['/v4/abc/task']);
  });

  it('when the metadata endpoint fails, then it warns and falls back to hostname-pid', async () => {
    const uri = await metadataServer((_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    const logger = { warn: jest.fn() };
    const got = await resolveInstanceId({ metadataUri: uri, logger });
    expect(got).toEqual({ instanceId: `${os.hostname()}-${process.pid}`, source: 'hostname' });
    expect(logger.warn).toHaveBeenCalledTimes(1);
  });

  it('when the metadata body has no TaskARN, then it warns and falls back', async () => {
    const uri = await metadataServer((_req, res) => res.end('{"Cluster":"x"}'));
    const logger = { warn: jest.fn() };
    expect((await resolveInstanceId({ metadataUri: uri, logger })).source).toBe('hostname');
    expect(logger.warn).toHaveBeenCalledTimes(1);
  });

  it('when nothing is configured, then the id is hostname-pid', async () => {
    const got = await resolveInstanceId({ logger: { warn: jest.fn() } });
    expect(got.instanceId).toBe(`${os.hostname()}-${process.pid}`);
  });
});
