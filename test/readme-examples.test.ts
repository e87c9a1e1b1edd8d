// Every library example in the README prints what its comments say. The rule, for ```ts and ```js
// blocks that import from 'swimring': each `// → TEXT` comment is one line the example prints
// (`…` stands for any text, such as a port; what follows ` — ` is a remark, not output), and the
// example prints nothing else. Lines may come in any order (events and query replies race). Each
// example runs against src/ in its own process and must end by itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const TIMEOUT_MS = 60_000;

interface Example {
  /** The headings above the block, e.g. "Ring guide › Handoff". */
  where: string;
  code: string;
  expected: string[];
}

function examples(markdown: string): Example[] {
  const found: Example[] = [];
  const headings: string[] = [];
  let block: { lang: string; lines: string[] } | null = null;
  for (const line of markdown.split('\n')) {
    if (block) {
      if (line.startsWith('```')) {
        const code = block.lines.join('\n') + '\n';
        if (/^(ts|js)$/.test(block.lang) && /from 'swimring'/.test(code))
          found.push({ where: headings.filter(Boolean).join(' › '), code, expected: expectedLines(code) });
        block = null;
      } else block.lines.push(line);
    } else if (line.startsWith('```')) block = { lang: line.slice(3).trim(), lines: [] };
    else {
      const h = /^(#{2,3}) (.+)$/.exec(line);
      if (h) headings.splice(h[1]!.length - 2, Infinity, h[2]!);
    }
  }
  return found;
}

function expectedLines(code: string): string[] {
  return code.split('\n').flatMap((line) => {
    const m = /\/\/ → (.*)$/.exec(line);
    return m ? [m[1]!.split(' — ')[0]!.trim()] : [];
  });
}

function pattern(expected: string): RegExp {
  return new RegExp(
    `^${expected
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/** Pairs each expected line with a printed one; returns what is left unpaired on each side. */
function unpaired(expected: string[], printed: string[]): { missing: string[]; extra: string[] } {
  const left = [...printed];
  const missing: string[] = [];
  for (const e of expected) {
    const i = left.findIndex((line) => pattern(e).test(line));
    if (i === -1) missing.push(e);
    else left.splice(i, 1);
  }
  return { missing, extra: left };
}

const dir = mkdtempSync(join(tmpdir(), 'swimring-readme-examples-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(code: string, index: number): Promise<{ stdout: string; stderr: string; timedOut: boolean; code: number | null }> {
  const file = join(dir, `example-${index}.mts`);
  writeFileSync(file, code.replaceAll("from 'swimring'", `from '${pathToFileURL(join(root, 'src/index.ts')).href}'`));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', file],
      { cwd: root, encoding: 'utf8', timeout: TIMEOUT_MS, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const timedOut = err !== null && (err as { killed?: boolean }).killed === true;
        resolve({ stdout, stderr, timedOut, code: err ? ((err as { code?: number }).code ?? null) : 0 });
      },
    );
  });
}

describe('README examples', () => {
  const all = examples(readme);

  it('the README has its library examples, and each states what it prints', () => {
    assert.ok(all.length >= 9, `found ${all.length} examples`);
    for (const e of all) assert.ok(e.expected.length > 0, `the example under "${e.where}" has no // → comment`);
  });

  it('the rule reads expected lines, wildcards and remarks as documented', () => {
    const [e] = examples("## A\n### B\n```ts\nimport { x } from 'swimring';\nconsole.log(1); // → at 127.0.0.1:… — a remark\n```\n");
    assert.deepEqual(e, {
      where: 'A › B',
      code: "import { x } from 'swimring';\nconsole.log(1); // → at 127.0.0.1:… — a remark\n",
      expected: ['at 127.0.0.1:…'],
    });
    assert.deepEqual(unpaired(['at 127.0.0.1:…', 'b'], ['b', 'at 127.0.0.1:7946']), { missing: [], extra: [] });
    assert.deepEqual(unpaired(['a', 'a'], ['a', 'c']), { missing: ['a'], extra: ['c'] });
    assert.equal(pattern('[ 1 ] (x)').test('[ 1 ] (x)'), true);
    assert.equal(pattern('0').test('01'), false);
  });

  it('networked examples bind 127.0.0.1 on a port the OS picks', () => {
    for (const e of all)
      for (const [, address] of e.code.matchAll(/\b(?:bind|advertise): '([^']*)'/g))
        assert.equal(address, '127.0.0.1:0', `the example under "${e.where}"`);
  });

  all.forEach((example, i) => {
    it(`${example.where}: prints what its comments say and ends by itself`, async () => {
      const result = await run(example.code, i);
      assert.equal(result.timedOut, false, `still running after ${TIMEOUT_MS / 1000} s; printed:\n${result.stdout}`);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      const printed = result.stdout
        .split('\n')
        .map((l) => l.trimEnd())
        .filter((l) => l !== '');
      assert.deepEqual(unpaired(example.expected, printed), { missing: [], extra: [] }, `printed:\n${result.stdout}`);
    });
  });
});
