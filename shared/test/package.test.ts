import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/** The names a module exports, as Node sees them: `require` of the CommonJS build, `import` of the ESM entry. */
function exportsOf(kind: 'require' | 'import', file: string): string[] {
  const script =
    kind === 'require'
      ? `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(file)})).filter((k) => k !== '__esModule').sort()))`
      : `import(${JSON.stringify(file)}).then((m) => console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort())))`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as string[];
}

describe('the package entry points (built dist/ and esm/)', () => {
  it.each([
    ['.', 'dist/index.js', 'esm/index.mjs'],
    ['./axios', 'dist/axios.js', 'esm/axios.mjs'],
    ['./undici', 'dist/undici.js', 'esm/undici.mjs'],
  ])(
    'when %s is imported as ESM, then it exports exactly what the CommonJS build does',
    (_entry, cjs, esm) => {
      const viaRequire = exportsOf('require', path.join(ROOT, cjs));
      expect(viaRequire.length).toBeGreaterThan(0);
      expect(exportsOf('import', path.join(ROOT, esm))).toEqual(viaRequire);
    },
  );

  it('when the root entry is loaded, then neither axios nor undici nor the AWS SDK is', () => {
    const loaded = execFileSync(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(path.join(ROOT, 'dist/index.js'))});` +
          `console.log(JSON.stringify(Object.keys(require.cache).filter((f) => /node_modules\\/(axios|undici|@aws-sdk)\\//.test(f))))`,
      ],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(loaded)).toEqual([]);
  });
});
