/**
 * Stable error codes. Callers branch on `code`, never on the message text.
 * - ERR_INVALID_OPTION: an option given to a constructor or command is out of its range.
 * - ERR_INVALID_ARGUMENT: an argument of a method call is out of its range.
 * - ERR_JOIN_FAILED: no seed of a join could be joined (a JoinError, with each seed's reason).
 */
export type SwimringErrorCode = 'ERR_INVALID_OPTION' | 'ERR_INVALID_ARGUMENT' | 'ERR_JOIN_FAILED';

export class SwimringError extends Error {
  readonly code: SwimringErrorCode;
  /** The option or argument at fault (a dotted path for nested ones: `tags.role`), when there is one. */
  readonly subject: string | undefined;

  /** With a subject, the message is the subject followed by `detail`. */
  constructor(code: SwimringErrorCode, detail: string, subject?: string) {
    super(subject === undefined ? detail : `${subject}${detail}`);
    this.name = 'SwimringError';
    this.code = code;
    this.subject = subject;
  }

  /** The message without its subject. */
  get detail(): string {
    return this.subject === undefined ? this.message : this.message.slice(this.subject.length);
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
  return new SwimringError('ERR_INVALID_OPTION', ` must be ${expected}, got ${describeValue(value)}`, option);
}

export function invalidArgument(argument: string, expected: string, value: unknown): SwimringError {
  return new SwimringError('ERR_INVALID_ARGUMENT', ` must be ${expected}, got ${describeValue(value)}`, argument);
}
