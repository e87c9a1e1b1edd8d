// A TypeScript project that installs the packed tarball compiles against its declarations under
// `strict` with `skipLibCheck: false`, and runs. The declarations need @types/node (they name
// AbortSignal and Buffer, and pino's types import node modules), so without it they do not
// compile: the README says so, and this test holds both outcomes.
//
// The consumer's node_modules is the extracted tarball plus symlinks to the dependencies the repo
// installed (no network). `preserveSymlinks` keeps the compiler inside that tree: following a link
// to its real path would find the repo's own @types/node beside it.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

/** Uses the main public API the way the README does, with the types spelled out. */
const CONSUMER = `import {
  GossipNode,
  SwimringError,
  createPartitionTable,
  createRing,
  diffOwnership,
  ownershipOf,
  type GossipNodeOptions,
  type Member,
  type OwnershipChange,
  type Ring,
  type RingOptions,
} from 'swimring';

const base: GossipNodeOptions = { name: 'consumer', bind: '127.0.0.1:0', profile: 'local', tags: { role: 'cache' } };
const before = createPartitionTable({ members: ['a', 'b'], partitions: 64, replicas: 2 });
const after = createPartitionTable({ members: ['a', 'b', 'c'], partitions: 64, replicas: 2, placement: 'rendezvous' });
const changes: OwnershipChange[] = diffOwnership(before, after, 'a');
const held: Map<number, number> = ownershipOf(after, 'a');
const owners: readonly string[] = after.membersForKey('user:1');
let code = '';
try {
  createPartitionTable({ members: ['a'], partitions: 0 });
} catch (err) {
  if (err instanceof SwimringError) code = err.code;
}

const options: RingOptions = { ...base, partitions: 16, replicas: 1, watchTags: { role: /^cache$/ } };
const ring: Ring = await createRing(options);
const members: readonly Member[] = ring.membersForKey('user:1');
let first = '';
for await (const e of ring.events()) {
  first = e.type;
  break;
}
await ring.close();

{
  await using node: GossipNode = await GossipNode.create({ ...base, name: 'other' });
  node.on('member-join', (m: Member) => console.log(m.name, m.tags['role']));
  console.log('node', node.name, node.members().length);
}
console.log(code, changes.length > 0, held.size, owners.length, members[0]?.name, first);
`;

function linkDependencies(consumer: string, names: string[], seen = new Set<string>()): void {
  for (const name of names) {
    const source = join(root, 'node_modules', name);
    // A dependency missing at the top level sits under its parent's node_modules, reached through the parent's link.
    if (seen.has(name) || !existsSync(source)) continue;
    seen.add(name);
    const target = join(consumer, 'node_modules', name);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(source, target);
    const pkg = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    linkDependencies(consumer, Object.keys(pkg.dependencies ?? {}), seen);
  }
}

describe('a strict TypeScript consumer of the packed package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swimring-consumer-'));
  let tarball: string;
  after(() => rmSync(dir, { recursive: true, force: true }));

  before(() => {
    assert.ok(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: run npm run build first (npm test does)');
    const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: root, encoding: 'utf8' });
    tarball = join(dir, (JSON.parse(out) as { filename: string }[])[0]!.filename);
  });

  /** A consumer project with the tarball installed; with or without @types/node. */
  function consumer(name: string, withNodeTypes: boolean): string {
    const project = join(dir, name);
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    execFileSync('tar', ['xzf', tarball, '-C', join(project, 'node_modules')]);
    renameSync(join(project, 'node_modules/package'), join(project, 'node_modules/swimring'));
    const pkg = JSON.parse(readFileSync(join(project, 'node_modules/swimring/package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    linkDependencies(project, [...Object.keys(pkg.dependencies), ...(withNodeTypes ? ['@types/node'] : [])]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
    writeFileSync(join(project, 'index.ts'), CONSUMER);
    const compilerOptions = {
      target: 'ES2022',
      lib: ['ES2022'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      skipLibCheck: false,
      preserveSymlinks: true,
      outDir: 'out',
    };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['index.ts'] }));
    return project;
  }

  const compile = (project: string) => spawnSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });

  it('with @types/node: compiles, runs, and its bin answers', () => {
    const project = consumer('with-node-types', true);
    const result = compile(project);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const out = execFileSync(process.execPath, ['out/index.js'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    assert.equal(out, 'node other 1\nERR_INVALID_OPTION true 48 2 consumer acquire\n');
    const bin = join(project, 'node_modules/swimring/dist/cli/main.js');
    assert.equal(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }), `${version}\n`);
    const route = execFileSync(process.execPath, [bin, 'route', '--members', 'a,b', '--partitions', '8', 'k'], { encoding: 'utf8' });
    assert.match(route, /^\{"key":"k","partition":\d,"members":\["[ab]"\]\}\n$/);
  });

  it('without @types/node: the declarations do not compile (the README tells TypeScript users to install it)', () => {
    const project = consumer('without-node-types', false);
    assert.ok(!existsSync(join(project, 'node_modules/@types')));
    const result = compile(project);
    assert.notEqual(result.status, 0);
    const errors = result.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    assert.ok(
      errors.some((l) => l.startsWith('node_modules/swimring/dist/') && /Cannot find name '(AbortSignal|Buffer)'/.test(l)),
      errors.join('\n'),
    );
    assert.match(readFileSync(join(root, 'README.md'), 'utf8'), /TypeScript users need `@types\/node`/);
  });
});
