import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Repository root (e2e/harness/ → ../..). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Where every child's log goes (gitignored `test-output/`), kept after the run for post-mortems. */
export const OUTPUT_DIR = path.join(REPO_ROOT, 'test-output', 'e2e');

/** Every child still running, so a failing test or an abrupt exit never leaves orphans. */
const live = new Set<ManagedProcess>();

process.once('exit', () => {
  // Last resort (synchronous): afterAll normally stopped everything already.
  for (const child of live) child.kill('SIGKILL');
});

/** Stops every managed child that is still running (SIGKILL: this is cleanup, not a scenario). */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...live].map((child) => child.stop('SIGKILL')));
}

/** How a child ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A child process whose stdout and stderr go straight to a log file (no piping through the test process,
 * so logging costs the test nothing under load), with helpers to wait for a log line and to stop it by pid.
 */
export class ManagedProcess {
  readonly exited: Promise<Exit>;
  private exit?: Exit;

  private constructor(
    readonly name: string,
    readonly logFile: string,
    private readonly child: ChildProcess,
  ) {
    live.add(this);
    this.exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        resolve(this.exit);
      });
    });
  }

  /** Starts `command args` with `env` only (plus PATH), logging to `logFile`. */
  static spawn(
    name: string,
    command: string,
    args: readonly string[],
    options: { env?: Record<string, string>; logFile: string; cwd?: string },
  ): ManagedProcess {
    fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
    const fd = fs.openSync(options.logFile, 'w');
    try {
      const child = spawn(command, args, {
        cwd: options.cwd ?? REPO_ROOT,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...options.env },
        stdio: ['ignore', fd, fd],
      });
      if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
      return new ManagedProcess(name, options.logFile, child);
    } finally {
      fs.closeSync(fd); // the child holds its own copy
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** Sends `signal` to this pid (and only this pid). */
  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Sends `signal`, waits for the exit; SIGKILL after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5000): Promise<Exit> {
    if (!this.running) return this.exit!;
    this.kill(signal);
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The log so far. */
  log(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** The log's JSON lines (pino), parsed; other lines are skipped. */
  jsonLines(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of this.log().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* a partly written line */
      }
    }
    return out;
  }

  /** The last `n` lines of the log, for error messages. */
  tail(n = 20): string {
    return this.log().trimEnd().split('\n').slice(-n).join('\n');
  }

  /** Waits for a log line matching `test`; fails early (with the log tail) if the process exits. */
  async waitForLine(test: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.log()
        .split('\n')
        .find((line) => test(line));
      if (found !== undefined) return found;
      if (!this.running) {
        throw new Error(
          `${this.name} exited (${JSON.stringify(this.exit)}) before it was ready:\n${this.tail()}`,
        );
      }
      await sleep(50);
    }
    throw new Error(`${this.name} not ready within ${timeoutMs} ms:\n${this.tail()}`);
  }
}

/** A service started from `node <pkg>/dist/main.js` with PORT=0, ready once it logged its port. */
export interface NodeService {
  proc: ManagedProcess;
  host: string;
  port: number;
  /** `http://host:port` */
  url: string;
}

/**
 * Starts `node <service>/dist/main.js` with `env` (PORT=0) and waits for its `… listening on …` pino line,
 * which carries the OS-assigned port.
 */
export async function startNodeService(
  name: string,
  service: 'service-a' | 'service-b',
  env: Record<string, string>,
  logDir: string,
): Promise<NodeService> {
  const main = path.join(REPO_ROOT, service, 'dist', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  const proc = ManagedProcess.spawn(name, process.execPath, [main], {
    env: { NODE_ENV: 'production', PORT: '0', LOG_LEVEL: 'info', ...env },
    logFile: path.join(logDir, `${name}.log`),
  });
  try {
    const line = await proc.waitForLine((l) => l.includes(`${service} listening on`), 20_000);
    const { host, port } = JSON.parse(line) as { host: string; port: number };
    return { proc, host, port, url: `http://${host}:${port}` };
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
}
