// The README is part of the product: its commands work (its TypeScript examples are run by
// test/readme-examples.test.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('README', () => {
  it('has the quick start commands and the test command', () => {
    assert.match(readme, /npm ci && npm start/);
    assert.match(readme, /^npm test\b/m);
  });

  it('the route command line it shows works on the built CLI', () => {
    const out = execFileSync(
      process.execPath,
      ['dist/cli/main.js', 'route', '--members', 'a,b,c', '--partitions', '2056', '--replicas', '3', 'user:1', 'user:2'],
      { cwd: root, encoding: 'utf8' },
    );
    const lines = out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; members: string[] });
    assert.deepEqual(
      lines.map((l) => l.key),
      ['user:1', 'user:2'],
    );
    assert.ok(lines.every((l) => l.members.length === 3));
  });

  it('npm run demo:partition runs and shows routing, movement and the no-op diff', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/partition-demo.ts'], { cwd: root, encoding: 'utf8' });
    assert.match(out, /user:1001 +→ partition +\d+ → cache-/);
    assert.match(out, /rendezvous copies [\d.]+% of slots/);
    assert.match(out, /emits 0 events/);
  });
});
