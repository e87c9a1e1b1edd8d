import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPartitionTable } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { vectors } from '../helpers/vectors.js';

const base = ['route', '--members', 'a,b,c,d', '--partitions', '2056', '--replicas', '3'];
const table = createPartitionTable({ members: ['a', 'b', 'c', 'd'], partitions: 2056, replicas: 3 });

function parseLines(stdout: string): { key: string; partition: number; members: string[] }[] {
  assert.ok(stdout.endsWith('\n'), 'output ends with a newline');
  return stdout
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as { key: string; partition: number; members: string[] });
}

describe('swimring route', () => {
  it('prints one JSON line per key argument, in order, with exactly the fields key, partition, members', async () => {
    const keys = ['user:42', '', 'quote"and\\slash', 'naïve 日本 🎉', '--not-a-flag'];
    const r = await runCli([...base, '--', ...keys]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = parseLines(r.stdout);
    assert.equal(lines.length, keys.length);
    lines.forEach((line, i) => {
      assert.deepEqual(Object.keys(line), ['key', 'partition', 'members']);
      assert.deepEqual(line, { key: keys[i], partition: table.partitionForKey(keys[i]!), members: [...table.membersForKey(keys[i]!)] });
    });
  });

  it('reads keys one per line from stdin: CRLF endings, blank lines as empty keys, no final newline needed', async () => {
    const r = await runCli(base, 'k1\r\nk2\n\nk3');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      parseLines(r.stdout).map((l) => l.key),
      ['k1', 'k2', '', 'k3'],
    );
    const same = await runCli([...base, 'k1', 'k2', '', 'k3']);
    assert.equal(same.stdout, r.stdout);
  });

  it('streams a large stdin (200 000 keys, many chunks) with results identical to the library', async () => {
    const keys = Array.from({ length: 200_000 }, (_, i) => `key-${i.toString(36)}-ü`);
    const r = await runCli([...base, '--placement', 'rendezvous', '--hash', 'fnv1a64'], `${keys.join('\n')}\n`);
    assert.equal(r.code, 0, r.stderr);
    const lines = parseLines(r.stdout);
    assert.equal(lines.length, keys.length);
    const rdv = createPartitionTable({
      members: ['a', 'b', 'c', 'd'],
      partitions: 2056,
      replicas: 3,
      placement: 'rendezvous',
      hash: 'fnv1a64',
    });
    for (let i = 0; i < keys.length; i += 997) {
      assert.deepEqual(lines[i], { key: keys[i], partition: rdv.partitionForKey(keys[i]!), members: [...rdv.membersForKey(keys[i]!)] });
    }
  });

  it('routes like Go libring with --hash fnv1a64 (golden vectors)', async () => {
    const set = vectors.member_sets.find((s) => s.sorted_ring.length >= 3)!;
    const keys = vectors.keys.map((k) => k.key).filter((k) => !k.includes('\n') && !k.includes('\r'));
    const r = await runCli(
      ['route', '--members', set.input_order.join(','), '--partitions', '2056', '--replicas', '3', '--hash', 'fnv1a64'],
      `${keys.join('\n')}\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = parseLines(r.stdout);
    keys.forEach((key, i) => {
      const v = vectors.keys.find((k) => k.key === key)!;
      assert.equal(lines[i]!.partition, v.partition['2056'], `partition of ${JSON.stringify(key)}`);
    });
  });

  it('refuses a key line longer than 16 MiB on stdin with exit code 2, after routing the lines before it', async () => {
    const r = await runCli(base, Buffer.concat([Buffer.from('first\n'), Buffer.alloc(16 * 1024 * 1024 + 10, 0x61)]));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /a key line on stdin is longer than 16777216 bytes/);
    assert.deepEqual(
      parseLines(r.stdout).map((l) => l.key),
      ['first'],
    );
  });

  it('routes a long key that spans many stdin chunks', async () => {
    const long = 'x'.repeat(1_000_000);
    const r = await runCli(base, `a\n${long}\nb\n`);
    assert.equal(r.code, 0, r.stderr);
    const lines = parseLines(r.stdout);
    assert.deepEqual(
      lines.map((l) => l.key.length),
      [1, long.length, 1],
    );
    assert.equal(lines[1]!.partition, table.partitionForKey(long));
  });

  it('accepts the full partition range and an empty member list', async () => {
    const big = await runCli(['route', '--members', 'a,b', '--partitions', '2147483647', 'k']);
    assert.equal(big.code, 0, big.stderr);
    assert.equal(parseLines(big.stdout)[0]!.partition, createPartitionTable({ members: [], partitions: 2147483647 }).partitionForKey('k'));
    const none = await runCli(['route', '--members', '', '--partitions', '8', 'k']);
    assert.deepEqual(parseLines(none.stdout)[0]!.members, []);
  });

  const bad: [string, string[], RegExp][] = [
    ['missing --members', ['route', '--partitions', '8', 'k'], /--members is required/],
    ['missing --partitions', ['route', '--members', 'a', 'k'], /--partitions is required/],
    ['non-integer --partitions', ['route', '--members', 'a', '--partitions', '8x', 'k'], /--partitions must be an integer, got "8x"/],
    [
      '--partitions 0',
      ['route', '--members', 'a', '--partitions', '0', 'k'],
      /--partitions must be an integer in \[1, 2147483647\], got 0/,
    ],
    ['--partitions 2^31', ['route', '--members', 'a', '--partitions', '2147483648', 'k'], /--partitions must be an integer in/],
    [
      '--replicas 0',
      ['route', '--members', 'a', '--partitions', '8', '--replicas', '0', 'k'],
      /--replicas must be an integer in \[1, 65535\]/,
    ],
    ['unknown --hash', ['route', '--members', 'a', '--partitions', '8', '--hash', 'crc32', 'k'], /--hash must be one of fnv1a32, fnv1a64/],
    [
      'unknown --placement',
      ['route', '--members', 'a', '--partitions', '8', '--placement', 'ring', 'k'],
      /--placement must be one of jump, rendezvous/,
    ],
    ['duplicate member', ['route', '--members', 'a,b,a', '--partitions', '8', 'k'], /--members must be unique names/],
    ['empty member name', ['route', '--members', 'a,,b', '--partitions', '8', 'k'], /--members must be non-empty/],
    ['--zones without =', ['route', '--members', 'a,b', '--partitions', '8', '--zones', 'a', 'k'], /--zones must be NAME=VALUE pairs/],
    [
      '--zones naming a member twice',
      ['route', '--members', 'a,b', '--partitions', '8', '--zones', 'a=x,a=y', 'k'],
      /--zones lists "a" twice/,
    ],
    [
      '--weights not a number',
      ['route', '--members', 'a,b', '--partitions', '8', '--weights', 'a=heavy', 'k'],
      /--weights must be positive decimal numbers/,
    ],
    [
      '--weights 0',
      ['route', '--members', 'a,b', '--partitions', '8', '--weights', 'a=0', 'k'],
      /--weights must be finite numbers in \(0, 1000000\]/,
    ],
    [
      '--placement jump with --zones',
      ['route', '--members', 'a,b', '--partitions', '8', '--placement', 'jump', '--zones', 'a=x', 'k'],
      /--placement must be 'rendezvous'/,
    ],
    ['unknown flag', ['route', '--members', 'a', '--partitions', '8', '--bogus', 'k'], /Unknown option '--bogus'/],
    ['flag without its value', ['route', '--members', 'a', '--partitions'], /--partitions/],
    ['unknown command', ['rout'], /unknown command "rout"/],
  ];
  it('--zones and --weights route like createPartitionTable with zones and weights (rendezvous implied)', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);
    const r = await runCli(
      [
        'route',
        '--members',
        'a,b,c,d,e',
        '--partitions',
        '512',
        '--replicas',
        '2',
        '--zones',
        'a=z1,b=z1,c=z2,d=z2',
        '--weights',
        'a=3,c=0.5,e=2',
      ],
      `${keys.join('\n')}\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    const zoned = createPartitionTable({
      members: ['a', 'b', 'c', 'd', 'e'],
      partitions: 512,
      replicas: 2,
      zones: { a: 'z1', b: 'z1', c: 'z2', d: 'z2' },
      weights: { a: 3, c: 0.5, e: 2 },
    });
    assert.deepEqual(
      parseLines(r.stdout).map((l) => l.members),
      keys.map((k) => [...zoned.membersForKey(k)]),
    );
  });

  for (const [label, args, message] of bad) {
    it(`${label}: one line on stderr, nothing on stdout, exit code 2`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
    });
  }

  it('--help documents every flag and exits 0', async () => {
    const r = await runCli(['route', '--help']);
    assert.equal(r.code, 0);
    for (const flag of [
      '--members',
      '--partitions',
      '--replicas',
      '--hash',
      '--placement',
      '--zones',
      '--weights',
      '--help',
      'fnv1a32',
      'fnv1a64',
      'jump',
      'rendezvous',
    ]) {
      assert.ok(r.stdout.includes(flag), `help mentions ${flag}`);
    }
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /route/);
  });
});
