import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  /** null when it had to be killed: it hung. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the swimring CLI from source (through tsx) as a separate process, with `input` on stdin.
 * One still running after `hungAfterMs` (default 60 s) is killed by its PID: code null.
 */
export function runCli(
  args: string[],
  input?: string | Buffer,
  options: { env?: NodeJS.ProcessEnv; hungAfterMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: root,
      env: { ...process.env, ...options.env },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const hung = setTimeout(() => child.kill('SIGKILL'), options.hungAfterMs ?? 60_000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(hung);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(input ?? '');
  });
}
