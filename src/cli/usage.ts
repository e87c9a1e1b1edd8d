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
const FLAG_OF_OPTION: Record<string, string> = { tags: 'tag', zoneTag: 'zone-tag', weightTag: 'weight-tag' };

/** Library option errors name the option; on the command line they name its flag. */
export function asUsageError(err: unknown): UsageError | undefined {
  if (err instanceof UsageError) return err;
  if (err instanceof SwimringError && err.code === 'ERR_INVALID_OPTION') {
    const option = /^[\w.]+/.exec(err.message)?.[0] ?? '';
    const flag = FLAG_OF_OPTION[option.split('.')[0]!] ?? option;
    return new UsageError(`--${flag}${err.message.slice(option.length)}`);
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return new UsageError((err as Error).message);
  return undefined;
}
