import { spawnSync } from 'node:child_process';
import path from 'node:path';

// `npm run bench`'s settings from the environment: a bad value stops it with a message naming the
// variable, before anything starts. `--check-settings` prints the settings a run would use and runs
// nothing, so even a broken check never starts the ~10-minute bench here.
const RUN = path.resolve(__dirname, '../../bench/run.js');

function checkSettings(env: Record<string, string>): {
  status: number | null;
  stderr: string;
  stdout: string;
} {
  const r = spawnSync(process.execPath, [RUN, '--check-settings'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 15_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('bench settings', () => {
  it('defaults: 3-s rounds, 12 of them, 32 connections', () => {
    const r = checkSettings({});
    expect(r).toEqual({
      status: 0,
      stderr: '',
      stdout: `${JSON.stringify({ roundSeconds: 3, rounds: 12, connections: 32 })}\n`,
    });
  });

  it('takes whole numbers from BENCH_SECONDS, BENCH_ROUNDS and BENCH_CONNECTIONS (empty: the default)', () => {
    const r = checkSettings({ BENCH_SECONDS: '5', BENCH_ROUNDS: '20', BENCH_CONNECTIONS: '' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ roundSeconds: 5, rounds: 20, connections: 32 });
  });

  it.each([
    ['BENCH_ROUNDS', 'abc'],
    ['BENCH_ROUNDS', '0'],
    ['BENCH_SECONDS', '1.5'],
    ['BENCH_SECONDS', '-3'],
    ['BENCH_SECONDS', '0x10'],
    ['BENCH_SECONDS', '1e3'],
    ['BENCH_SECONDS', ' 4 '],
    ['BENCH_CONNECTIONS', '20000'],
  ])('%s=%j stops the bench with a message naming it', (name, value) => {
    const r = checkSettings({ [name]: value });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`${name} must be a whole number from 1 to 10000, got ${JSON.stringify(value)}\n`);
    expect(r.stdout).toBe('');
  });

  it('an odd BENCH_ROUNDS is refused: each side must start first in half of the rounds', () => {
    const r = checkSettings({ BENCH_ROUNDS: '9' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^BENCH_ROUNDS must be even .*got 9\n$/);
    expect(r.stdout).toBe('');
  });
});
