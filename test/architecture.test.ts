// The protocol and partition cores are pure (docs/architecture.md#purity-rules). No OS access, no
// clock, no randomness, no timers: everything they need comes in as arguments.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src/', import.meta.url));
const PURE_DIRS = ['partition', 'gossip', 'serf'];
/** The ring's pure core (ring.ts is its I/O adapter). */
const PURE_RING_FILES = ['ring-core.ts', 'ring-view.ts', 'readiness.ts', 'event-queue.ts', 'tag-filter.ts'];
const FORBIDDEN: [RegExp, string][] = [
  [/from\s+['"](node:|fs|net|dgram|os|child_process|crypto|timers)/, 'a Node.js built-in import'],
  [/\bimport\(\s*['"]node:/, 'a dynamic Node.js import'],
  [/\bDate\b/, 'Date'],
  [/\bperformance\s*\./, 'performance (a clock)'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, 'a timer'],
  [/\bprocess\./, 'process'],
  [/\bBuffer\b/, 'Buffer (Node-only)'],
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('architecture', () => {
  for (const dir of PURE_DIRS) {
    it(`src/${dir} is pure`, () => {
      const root = join(src, dir);
      const files = sources(root);
      assert.ok(files.length > 0);
      for (const file of files) {
        const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
        for (const [pattern, what] of FORBIDDEN) assert.doesNotMatch(code, pattern, `${file} uses ${what}`);
      }
    });
  }

  it('the ring core is pure (only ring.ts touches the node and timers)', () => {
    for (const name of PURE_RING_FILES) {
      const file = join(src, 'ring', name);
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      for (const [pattern, what] of FORBIDDEN) assert.doesNotMatch(code, pattern, `${file} uses ${what}`);
      assert.doesNotMatch(code, /from\s+['"]\.\.\/io\//, `${file} imports the I/O layer`);
    }
  });

  // docs/architecture.md: data flows bytes → io → gossip → serf → ring → events; a layer imports
  // only the layers below it (partition is a library any layer above gossip may use).
  const BELOW: Record<string, readonly string[]> = {
    partition: [],
    gossip: [],
    serf: ['gossip'],
    ring: ['gossip', 'serf', 'partition', 'io'],
    io: ['gossip', 'serf'],
  };
  for (const [layer, allowed] of Object.entries(BELOW)) {
    it(`src/${layer} imports only ${allowed.length === 0 ? 'itself' : allowed.join(', ')}`, () => {
      for (const file of sources(join(src, layer))) {
        const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
        for (const [, target] of code.matchAll(/from\s+['"]\.\.\/(?:\.\.\/)*([a-z-]+)\//g)) {
          assert.ok(allowed.includes(target!), `${file} imports src/${target}`);
        }
      }
    });
  }

  it("the Serf layer and the node read members through the gossip layer's API, not its slot table", () => {
    for (const file of [...sources(join(src, 'serf')), ...sources(join(src, 'io'))]) {
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      assert.doesNotMatch(code, /\bgossip\.members\b/, `${file} reaches into the gossip member table`);
    }
  });
});
