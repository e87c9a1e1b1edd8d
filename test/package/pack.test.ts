// What `npm publish` would upload, read from `npm pack --dry-run`: the built dist/ (npm test builds
// it before the tests run), the README and the LICENSE, and nothing of the repository's tests,
// benchmarks or examples; every file in dist/ comes from a file in src/ (no leftovers of a
// module that moved), and no source map points at src/, which is not shipped.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface PackageJson {
  name: string;
  license: string;
  main: string;
  types: string;
  engines: { node: string };
  bin: Record<string, string>;
  exports: Record<string, string | { types: string; import: string }>;
  files: string[];
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

/** './dist/index.js' → 'dist/index.js', as npm lists paths. */
const packPath = (p: string) => p.replace(/^\.\//, '');

describe('the npm package', () => {
  let files: string[];

  before(() => {
    assert.ok(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: run npm run build first (npm test does)');
    // --ignore-scripts: no "prepare" build; this lists the dist/ that is there.
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  });

  it('holds package.json, README.md, LICENSE and dist/ only', () => {
    const outside = files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(f));
    assert.deepEqual(outside, []);
    for (const f of ['package.json', 'README.md', 'LICENSE']) assert.ok(files.includes(f), f);
    assert.ok(!files.some((f) => /^(src|test|bench|examples|scripts|docs)\//.test(f)));
  });

  it('has the JavaScript and the declarations of every export, and main and types point at them', () => {
    const entries = Object.entries(pkg.exports).filter(([subpath]) => subpath !== './package.json');
    assert.ok(entries.length > 0);
    for (const [subpath, target] of entries) {
      assert.equal(typeof target, 'object', `${subpath}: conditions, types first`);
      const { types, import: js } = target as { types: string; import: string };
      assert.deepEqual(Object.keys(target), ['types', 'import'], `${subpath}: "types" must come first to be used`);
      assert.ok(files.includes(packPath(js)), js);
      assert.ok(files.includes(packPath(types)), types);
    }
    assert.equal(pkg.exports['./package.json'], './package.json');
    const dot = pkg.exports['.'] as { types: string; import: string };
    assert.equal(pkg.main, dot.import);
    assert.equal(pkg.types, dot.types);
  });

  it('has each bin file, starting with a node shebang', () => {
    assert.ok(Object.keys(pkg.bin).length > 0);
    for (const [name, file] of Object.entries(pkg.bin)) {
      assert.ok(files.includes(packPath(file)), `${name}: ${file}`);
      assert.equal(readFileSync(join(root, file), 'utf8').split('\n')[0], '#!/usr/bin/env node', file);
    }
  });

  it('has no source maps, and no JavaScript that names one', () => {
    assert.deepEqual(
      files.filter((f) => f.endsWith('.map')),
      [],
    );
    const naming = files.filter((f) => f.endsWith('.js') && /\/\/# sourceMappingURL=/.test(readFileSync(join(root, f), 'utf8')));
    assert.deepEqual(naming, []);
  });

  it('ships exactly the compiled src/: a .js and a .d.ts for each module, nothing else', () => {
    const modules = walk(join(root, 'src'))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => relative(join(root, 'src'), f).replace(/\.ts$/, ''))
      .sort();
    const expected = modules.flatMap((m) => [`dist/${m}.d.ts`, `dist/${m}.js`]).sort();
    assert.deepEqual(files.filter((f) => f.startsWith('dist/')).sort(), expected);
  });

  it('declares the MIT license in package.json and in LICENSE', () => {
    assert.equal(pkg.license, 'MIT');
    const license = readFileSync(join(root, 'LICENSE'), 'utf8');
    assert.match(license, /^MIT License\n\nCopyright \(c\) 2026 the swimring authors\n/);
    assert.match(license, /THE SOFTWARE IS PROVIDED "AS IS"/);
  });

  it('asks for a Node.js that has the newest runtime features the shipped code uses', () => {
    // The features of Node 20 minors that dist/ may use, with the release that brought each.
    const since: Record<string, string> = {
      'Symbol.asyncDispose': '20.4.0', // `await using node`, documented in the README
      'AbortSignal.any': '20.3.0',
      isWellFormed: '20.0.0',
    };
    const min = /^>=(\d+)\.(\d+)(?:\.(\d+))?$/.exec(pkg.engines.node);
    assert.ok(min, `engines.node ${pkg.engines.node}: a plain >= range`);
    const asNumber = (major: string, minor: string, patch = '0') => Number(major) * 1e6 + Number(minor) * 1e3 + Number(patch);
    const code = files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(root, f), 'utf8'));
    let used = 0;
    for (const [feature, version] of Object.entries(since)) {
      if (!code.some((c) => c.includes(feature))) continue;
      used++;
      const [major, minor, patch] = version.split('.') as [string, string, string];
      assert.ok(asNumber(min[1]!, min[2]!, min[3]) >= asNumber(major, minor, patch), `${feature} needs Node ${version}`);
    }
    assert.ok(used > 0, 'none of the listed features is used: update the list');
  });
});
