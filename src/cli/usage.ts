import { SwimringError } from '../errors.js';

/** A bad command line: printed as one line on stderr, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const EXIT_USAGE = 2;

/** Strict decimal integer flag; the range check is the library's, so messages stay uniform. */
export function integerFlag(flag: string, value: string | undefined, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`--${flag} is required`);
    return fallback;
  }
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`--${flag} must be an integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Library options whose command-line flag has another name. */
const FLAG_OF_OPTION: Record<string, string> = { tags: 'tag', zoneTag: 'zone-tag', weightTag: 'weight-tag', dnsServers: 'dns-server' };
const OPTION_NAMES = new RegExp(`\\b(${Object.keys(FLAG_OF_OPTION).join('|')})\\b`, 'g');

/** Library option errors name the option; on the command line they name its flag. */
export function asUsageError(err: unknown): UsageError | undefined {
  if (err instanceof UsageError) return err;
  if (err instanceof SwimringError && err.code === 'ERR_INVALID_OPTION') {
    if (err.subject === undefined) return new UsageError(err.message);
    const flag = FLAG_OF_OPTION[err.subject.split(/[.[]/)[0]!] ?? err.subject;
    return new UsageError(`--${flag}${err.detail.replace(OPTION_NAMES, (option) => `--${FLAG_OF_OPTION[option]}`)}`);
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return new UsageError((err as Error).message);
  return undefined;
}
