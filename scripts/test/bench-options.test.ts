import { spawnSync } from 'node:child_process';
import path from 'node:path';

// `npm run bench`'s settings from the environment: a bad value stops it with a message naming the
// variable, before anything starts (the valid path is the bench itself, ~10 minutes, not run here).
const RUN = path.resolve(__dirname, '../../bench/run.js');

function runBench(env: Record<string, string>): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [RUN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 15_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('bench settings', () => {
  it.each([
    ['BENCH_ROUNDS', 'abc'],
    ['BENCH_ROUNDS', '0'],
    ['BENCH_SECONDS', '1.5'],
    ['BENCH_SECONDS', '-3'],
    ['BENCH_CONNECTIONS', '20000'],
  ])('%s=%s stops the bench with a message, starting nothing', (name, value) => {
    const r = runBench({ [name]: value });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`${name} must be a whole number from 1 to 10000, got ${JSON.stringify(value)}\n`);
    expect(r.stdout).toBe('');
  });
});
