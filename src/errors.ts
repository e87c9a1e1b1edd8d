/**
 * Stable error codes. Callers branch on `code`, never on the message text.
 * - ERR_INVALID_OPTION: an option given to a constructor or command is out of its range.
 * - ERR_INVALID_ARGUMENT: an argument of a method call is out of its range.
 */
export type SwimringErrorCode = 'ERR_INVALID_OPTION' | 'ERR_INVALID_ARGUMENT';

export class SwimringError extends Error {
  readonly code: SwimringErrorCode;

  constructor(code: SwimringErrorCode, message: string) {
    super(message);
    this.name = 'SwimringError';
    this.code = code;
  }
}

/** Short, unambiguous rendering of a rejected value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

export function invalidOption(option: string, expected: string, value: unknown): SwimringError {
  return new SwimringError('ERR_INVALID_OPTION', `${option} must be ${expected}, got ${describeValue(value)}`);
}

export function invalidArgument(argument: string, expected: string, value: unknown): SwimringError {
  return new SwimringError('ERR_INVALID_ARGUMENT', `${argument} must be ${expected}, got ${describeValue(value)}`);
}
