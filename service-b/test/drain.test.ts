import { startServer, type RunningServer } from '@ecs-srv/service-kit';
import { createApp } from '../src/app';

describe('service-b drain', () => {
  let running: RunningServer | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it('when stop() begins, then /readyz is 503 while /v1/whoami still answers until the drain ends', async () => {
    const state = { draining: false };
    const app = createApp({ instanceId: 'drainer', state, logger: { error: jest.fn() } });
    running = await startServer(app, { port: 0, host: '127.0.0.1', state, drainDelayMs: 3000 });
    const base = `http://127.0.0.1:${running.port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    const stopped = running.stop();
    let done = false;
    void stopped.then(() => (done = true));
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    const whoami = await fetch(`${base}/v1/whoami`);
    expect(whoami.status).toBe(200);
    expect(((await whoami.json()) as { instance: string }).instance).toBe('drainer');
    expect(done).toBe(false);

    await stopped;
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
