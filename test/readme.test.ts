// The README is part of the product: its TypeScript examples run (against the source), its
// commands work, and the outputs it quotes are what the code prints.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dir = mkdtempSync(join(tmpdir(), 'swimring-readme-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function runBlock(code: string, index: number): string {
  const file = join(dir, `block-${index}.mts`);
  const entry = pathToFileURL(join(root, 'src/index.ts')).href;
  writeFileSync(file, code.replaceAll("from 'swimring'", `from '${entry}'`));
  return execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8' });
}

describe('README', () => {
  it('has the quick start commands and the test command', () => {
    assert.match(readme, /npm ci && npm start/);
    assert.match(readme, /^npm test\b/m);
  });

  it('has TypeScript examples', () => assert.ok(blocks.length >= 8));

  // Substrings each example's output must contain, in order of the blocks.
  const expected: RegExp[] = [
    /^\[ 'cache-a', 'cache-b' \] true 64\n$/,
    /^\[ 'b' \] \[ 'a' \]\n\[ 'b' \] false\n$/,
    /^b sees a join at 127\.0\.0\.1:\d+\n\[ 'a:alive', 'b:alive' \]\n$/,
    /^(?=[\s\S]*^b got deploy: v1\.2\.3$)(?=[\s\S]*^ack b $)(?=[\s\S]*^response b pong to a$)(?![\s\S]*^(ack|response) a)/m,
    /^\d+ \[ 'cache-[a-d]', 'cache-[a-d]', 'cache-[a-d]' \] [0-9a-f]{16}$/m,
    /type: '(release|demote|promote|acquire)'[\s\S]*\n0\n$/,
    /^1544 \[ 'node-0\d', 'node-0\d' \]$/m,
    /^ERR_INVALID_OPTION partitions must be an integer in \[1, 2147483647\], got 0$/m,
    /^rendezvous true 0\.3$/m,
  ];
  blocks.forEach((code, i) => {
    it(`example ${i + 1} runs and prints what the README says`, () => {
      const output = runBlock(code, i);
      const pattern = expected[i];
      assert.ok(pattern, `add the expected output of example ${i + 1} to this test`);
      assert.match(output, pattern);
    });
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

  it('npm start (the cluster demo) runs 5 agents, shows failover and rejoin, stops them and exits', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/cluster-demo.ts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 90_000,
    });
    assert.match(out, /demo-5 +127\.0\.0\.1:\d+ +alive/);
    assert.match(out, /user:1001 → partition \d+ → demo-\d, demo-\d/);
    // The survivors' acquire lines may print before or after the "failed everywhere" line.
    assert.match(out, /kill -9 demo-3[\s\S]*demo-3 is failed everywhere/);
    assert.match(out, /kill -9 demo-3[\s\S]*acquire \(from demo-[1245]\)[\s\S]*restart demo-3/);
    // The restarted member prints only its share, each from a member that took over (no storm).
    assert.match(
      out,
      /restart demo-3[^\n]*\n(?:(?![^\n]* demo-3:)[^\n]*\n)*[^\n]* demo-3: \d+ × acquire \(from demo-[1245]\)(?:, \d+ × acquire \(from demo-[1245]\))*\n/,
    );
    // Every member that joined started with its share, never the whole keyspace (an acquire
    // with no source), until the members leave at the end.
    const running = out.slice(0, out.indexOf('stopping:'));
    for (const name of ['demo-2', 'demo-3', 'demo-4', 'demo-5'])
      assert.doesNotMatch(running, new RegExp(` ${name}: (?:[^\n]*, )?\\d+ × acquire(?:,|\n)`));
    // Handoff: first the previous holders serve the returning member's partition, then it does.
    assert.match(
      out,
      /partition \d+: owners demo-3, demo-\d; serving now (?:demo-[1245](?:, )?)+\n[\s\S]*partition \d+: owners demo-3, demo-\d; serving now demo-3, demo-\d/,
    );
    assert.match(out, /all five agree on the ring again/);
    assert.match(out, /done\n$/);
  });

  it('npm run demo:partition runs and shows routing, movement and the no-op diff', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/partition-demo.ts'], { cwd: root, encoding: 'utf8' });
    assert.match(out, /user:1001 +→ partition +\d+ → cache-/);
    assert.match(out, /rendezvous copies [\d.]+% of slots/);
    assert.match(out, /emits 0 events/);
  });
});
