#!/usr/bin/env node
// The client as a user gets it: `npm pack` of @ecs-srv/shared, installed alone into a scratch project
// with what its README says to add (axios, undici), then every example of shared/README.md (its
// ```lang file=NAME blocks) run there against a dev DNS server and two B servers on 127.0.0.1, and the
// TypeScript one compiled with `strict` and no `skipLibCheck`. Exit 0 when all hold; 1 naming what failed.
'use strict';
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..');
const README = path.join(REPO, 'shared', 'README.md');
const results = [];

function check(name, ok, detail = '') {
  results.push({ name, ok });
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}\n`);
}

function run(cmd, args, options = {}) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', timeout: 180_000, ...options });
  return { code: res.status, out: `${res.stdout ?? ''}${res.stderr ?? ''}`, error: res.error };
}

/** Like run, without blocking this process (the DNS and B servers the child calls live here). */
function runAsync(cmd, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-srv-consumer-'));
  try {
    execFileSync('npx', ['tsc', '-b'], { cwd: REPO, stdio: 'inherit' });

    // 1. The tarball: what ships, and what does not.
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--workspace', 'shared', '--pack-destination', work, '--json'], {
        cwd: REPO,
        encoding: 'utf8',
      }),
    )[0];
    const files = packed.files.map((f) => f.path);
    for (const must of [
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
      'esm/index.mjs',
      'esm/axios.mjs',
      'esm/undici.mjs',
      'bin/srv-lookup.js',
    ]) {
      check(`tarball has ${must}`, files.includes(must));
    }
    const stray = files.filter((f) =>
      /tsbuildinfo|(^|\/)test\/|service-kit|dev-dns|dev-server|(^|\/)kit\//.test(f),
    );
    check(
      'tarball has no build info, tests, service kit or dev server',
      stray.length === 0,
      stray.join(', '),
    );
    const tarball = path.join(work, packed.filename);

    // 2. A scratch project that installs the tarball and the integrations' peers, nothing from the repo.
    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true }, null, 2),
    );
    const install = run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        tarball,
        'axios@^1',
        'undici@^7',
        'typescript@~5.9.3',
        '@types/node@^20',
      ],
      { cwd: app },
    );
    check(
      'npm install of the tarball',
      install.code === 0,
      install.code === 0 ? '' : install.out.slice(-2000),
    );
    if (install.code !== 0) return;
    const installed = fs.readdirSync(path.join(app, 'node_modules'));
    const heavy = ['express', 'zod', 'prom-client', 'pino', 'pino-http'].filter((p) => installed.includes(p));
    check('installing the client pulls in no service kit dependency', heavy.length === 0, heavy.join(', '));

    // 3. README's examples, as files.
    const blocks = [...fs.readFileSync(README, 'utf8').matchAll(/```\w+ file=(\S+)\n([\s\S]*?)```/g)];
    check('README has runnable examples', blocks.length >= 4, `${blocks.length} found`);
    for (const [, name, code] of blocks) fs.writeFileSync(path.join(app, name), code);

    // 4. Strict TypeScript, no skipLibCheck: the public types resolve from what was installed.
    fs.writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          skipLibCheck: false,
          module: 'node16',
          moduleResolution: 'node16',
          target: 'ES2022',
          types: ['node'],
          outDir: 'out',
        },
        include: blocks.filter(([, n]) => n.endsWith('.ts')).map(([, n]) => n),
      }),
    );
    const tsc = run(path.join(app, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: app });
    check('strict TypeScript consumer compiles (no skipLibCheck)', tsc.code === 0, tsc.out.slice(-3000));
    // The older resolution (`module: commonjs` alone) reads `typesVersions`, not `exports`.
    const tsNode10 = run(
      path.join(app, 'node_modules', '.bin', 'tsc'),
      [
        '--noEmit',
        '--strict',
        '--module',
        'commonjs',
        '--moduleResolution',
        'node10',
        '--types',
        'node',
        '--target',
        'ES2022',
        ...blocks.filter(([, n]) => n.endsWith('.ts')).map(([, n]) => n),
      ],
      { cwd: app },
    );
    check('the same compiles with moduleResolution node10', tsNode10.code === 0, tsNode10.out.slice(-3000));

    // 5. A DNS server and two B tasks, as Cloud Map would publish them, for the examples to call.
    const { DevDnsServer } = require(path.join(REPO, 'node_modules', '@ecs-srv', 'dev-server'));
    const dns = new DevDnsServer({ host: '127.0.0.1', port: 0 });
    const { port: dnsPort } = await dns.start();
    const bs = [];
    for (const id of ['0f3c9a5be1d24c1e9a4b7d3f2a1c00e1', '7a1b2c3d4e5f60718293a4b5c6d7e8f9']) {
      const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          res.setHeader('content-type', 'application/json');
          const message = req.method === 'POST' ? JSON.parse(body || '{}').message : undefined;
          res.end(JSON.stringify({ service: 'service-b', instance: id, ...(message ? { message } : {}) }));
        });
      });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      bs.push(server);
      dns.register(id, '127.0.0.1', server.address().port);
    }
    try {
      const env = { ...process.env, DNS_SERVERS: `127.0.0.1:${dnsPort}` };
      const runnable = blocks
        .map(([, n]) => n)
        .map((n) => (n.endsWith('.ts') ? path.join('out', n.replace(/\.ts$/, '.js')) : n));
      for (const file of runnable) {
        const res = await runAsync(process.execPath, [file], { cwd: app, env, timeout: 30_000 });
        check(
          `example ${file} runs`,
          res.code === 0,
          res.code === 0 ? res.out.trim().slice(0, 120) : res.out.slice(-1500),
        );
      }
    } finally {
      for (const s of bs) s.close();
      await dns.close();
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main()
  .catch((err) => check('consumer test ran', false, err.stack))
  .finally(() => {
    const failed = results.filter((r) => !r.ok).length;
    process.stdout.write(`consumer: ${results.length - failed} passed, ${failed} failed\n`);
    process.exitCode = failed === 0 ? 0 : 1;
  });
