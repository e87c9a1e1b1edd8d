// Tests that drive an outside program (a real serf agent, a headless browser) run only where it is
// installed. Elsewhere they must show up as skipped in the runner's summary, not pass silently;
// under CI=true a missing program fails the test, since CI installs it (.ci/run).
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

const BINARIES = {
  serf: { commands: ['serf'], versionArgs: ['version'], install: 'apt-get update && apt-get install -y serf' },
  chromium: {
    commands: ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'],
    versionArgs: ['--version'],
    install: 'apt-get update && apt-get install -y chromium',
  },
} as const;

export type Binary = keyof typeof BINARIES;

const found = new Map<Binary, string | null>();

function onPath(command: string): string[] {
  return (process.env['PATH'] ?? '').split(delimiter).flatMap((dir) => {
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return [file];
    } catch {
      return [];
    }
  });
}

/** The absolute path of a working `name` on PATH (it answers its version flag), or null; looked up once. */
export function findBinary(name: Binary): string | null {
  if (!found.has(name)) {
    const { commands, versionArgs } = BINARIES[name];
    const works = (file: string) => spawnSync(file, versionArgs, { stdio: 'ignore', timeout: 30_000 }).status === 0;
    found.set(name, commands.flatMap(onPath).find(works) ?? null);
  }
  return found.get(name)!;
}

/**
 * Why a test that needs `name` cannot run, for node:test's `{ skip }` option; false when it can.
 * Throws under CI=true when `name` is missing.
 */
export function missingBinary(name: Binary): string | false {
  if (findBinary(name) !== null) return false;
  const reason = `${name} not installed: ${BINARIES[name].install}`;
  if (process.env['CI'] === 'true') throw new Error(`${reason} (CI must install it)`);
  return reason;
}

/**
 * For the first line of a test body: the path to run `name` with, or null after marking the
 * test skipped (`if (!requireBinary(t, 'serf')) return;`). Throws under CI=true when missing.
 */
export function requireBinary(t: TestContext, name: Binary): string | null {
  const reason = missingBinary(name);
  if (reason) t.skip(reason);
  return findBinary(name);
}
