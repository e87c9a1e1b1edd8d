// examples/http-router.ts (libring's README example) really works: three processes, and every
// node answers a path with the same owner.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { createPartitionTable } from '../src/partition/table.js';
import { Processes, freePort, waitFor } from './helpers/processes.js';

const root = fileURLToPath(new URL('../', import.meta.url));

describe('examples/http-router.ts', () => {
  const procs = new Processes();
  after(() => procs.stopAll());

  it('three routers agree on the owner of every path and forward to it', async () => {
    const nodes: { gossip: number; http: number }[] = [];
    for (const name of ['a', 'b', 'c']) {
      const gossip = await freePort();
      const http = await freePort();
      const join = nodes[0] ? ['--join', `127.0.0.1:${nodes[0].gossip}`] : [];
      const child = procs.track(
        spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            'examples/http-router.ts',
            '--name',
            name,
            '--bind',
            `127.0.0.1:${gossip}`,
            '--http',
            `127.0.0.1:${http}`,
            ...join,
          ],
          { cwd: root, stdio: 'ignore' },
        ),
      );
      nodes.push({ gossip, http });
      void child;
    }
    const ask = async (node: { http: number }, path: string) => {
      try {
        return await (await fetch(`http://127.0.0.1:${node.http}/${path}`)).text();
      } catch {
        return '';
      }
    };
    const paths = ['users/42', 'carts/7', 'x', 'orders/2026/11'];
    await waitFor(
      'every node answers every path with the same owner',
      async () => {
        for (const p of paths) {
          const answers = await Promise.all(nodes.map((n) => ask(n, p)));
          if (!answers[0]!.startsWith(`${p} served by `) || new Set(answers).size !== 1) return false;
        }
        return true;
      },
      30_000,
    );
    // The owner is the primary of the path's partition in the ring of the three.
    const table = createPartitionTable({ members: ['a', 'b', 'c'], partitions: 256, replicas: 2 });
    for (const p of paths) assert.equal(await ask(nodes[1]!, p), `${p} served by ${table.membersForKey(p)[0]}\n`);
  });
});
