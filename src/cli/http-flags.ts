/** Flags shared by the agent and the client commands: the --http address and the HTTP token. */
import { closeSync, openSync, readSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseHostPort } from '../io/gossip-node.js';
import { UsageError } from './usage.js';

/** A token file is a secret of a few dozen bytes; refusing big ones keeps a wrong path (a log, /dev/zero) from being read whole. */
export const MAX_TOKEN_FILE_BYTES = 4096;
/** Where `--http PORT` and `--http :PORT` listen: loopback unless a host is given. */
export const DEFAULT_HTTP_HOST = '127.0.0.1';

/** `PORT`, `:PORT` (both on 127.0.0.1) or `HOST:PORT`. */
export function parseHttpAddress(value: string): { host: string; port: number } {
  const m = /^:?(\d+)$/.exec(value);
  return parseHostPort('http', m ? `${DEFAULT_HTTP_HOST}:${m[1]}` : value);
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  // An IPv4 loopback address as a dual-stack socket reports it.
  if (host.toLowerCase().startsWith('::ffff:')) return isLoopback(host.slice('::ffff:'.length));
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

/**
 * The token from `--http-token`, `--http-token-file` or (clients only) the environment; at most
 * one of the flags. Surrounding whitespace (a file's newline) is not part of it.
 */
export function httpToken(flag: string | undefined, file: string | undefined, env?: string): string | undefined {
  if (flag !== undefined && file !== undefined) throw new UsageError('--http-token and --http-token-file are exclusive');
  if (flag !== undefined) return checkToken('--http-token', flag.trim());
  if (file !== undefined) {
    const text = readSmallFile(file).trim();
    if (text === '') throw new UsageError(`--http-token-file ${file} is empty`);
    return checkToken(`--http-token-file ${file}`, text);
  }
  const fromEnv = env?.trim();
  return fromEnv ? checkToken('SWIMRING_HTTP_TOKEN', fromEnv) : undefined;
}

function checkToken(source: string, token: string): string {
  if (token === '') throw new UsageError(`${source} must not be empty`);
  // It travels in a header: visible ASCII only.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError(`${source} must be printable ASCII without spaces`);
  return token;
}

function readSmallFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new UsageError(`--http-token-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const buf = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const read = readSync(fd, buf, n, buf.length - n, null);
      if (read === 0) break;
      n += read;
      if (n > MAX_TOKEN_FILE_BYTES) throw new UsageError(`--http-token-file ${path} must be at most ${MAX_TOKEN_FILE_BYTES} bytes`);
    }
    return buf.subarray(0, n).toString('utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--http-token-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  } finally {
    closeSync(fd);
  }
}
