// The agent and the examples use GossipNode's public API, never its protocol machine.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('public API only', () => {
  for (const dir of ['src/cli', 'examples']) {
    it(`${dir} does not reach into node.machine`, () => {
      const files = readdirSync(join(root, dir)).filter((f) => f.endsWith('.ts'));
      assert.ok(files.length > 0);
      for (const f of files) {
        const code = readFileSync(join(root, dir, f), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
        assert.doesNotMatch(code, /\.machine\b/, `${dir}/${f} uses .machine`);
      }
    });
  }
});
