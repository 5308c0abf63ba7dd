import { ConfigError } from '@ecs-srv/service-kit';
import { loadConfig } from '../src/config';

describe('service-b loadConfig', () => {
  it('when nothing is set, then the contract defaults apply', () => {
    expect(loadConfig({})).toEqual(
      expect.objectContaining({ PORT: 80, HOST: '0.0.0.0', LOG_LEVEL: 'info', DRAIN_DELAY_MS: 15000 }),
    );
  });

  it('when values are given (and empty ones are blank), then they are parsed', () => {
    const cfg = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'debug',
      INSTANCE_ID: 'b-1',
      DRAIN_DELAY_MS: '',
    });
    expect(cfg).toEqual(
      expect.objectContaining({ PORT: 0, HOST: '127.0.0.1', INSTANCE_ID: 'b-1', DRAIN_DELAY_MS: 15000 }),
    );
  });

  it('when several values are bad, then one ConfigError lists each of them', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: '70000', LOG_LEVEL: 'loud', DRAIN_DELAY_MS: '-1' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/PORT/);
    expect(message).toMatch(/LOG_LEVEL/);
    expect(message).toMatch(/DRAIN_DELAY_MS/);
  });
});
