/**
 * The agent's logs as Serf's `monitor` streams them: a pino multistream writes stderr at the
 * agent's --log-level and every line to this hub, which renders it the way Serf's agent logs
 * (`2006/01/02 15:04:05 [INFO] swimring: message key=value`) and hands it to the monitors whose
 * level admits it. While a monitor asks for a lower level than --log-level, the logger's level is
 * lowered to it (stderr keeps its own level), as a Serf agent's monitor sees DEBUG lines its log
 * output filters out. A new monitor first gets the last lines kept (Serf keeps 512; we keep
 * RECENT_LOG_LINES, each cut at MAX_LOG_LINE_CHARS).
 */
import { type Level, type Logger, type LevelWithSilent, pino } from 'pino';

/** Lines a new monitor is sent first. */
export const RECENT_LOG_LINES = 256;
/** A rendered log line is cut to this length. */
export const MAX_LOG_LINE_CHARS = 4096;
/** pino's JSON lines are kept for replay up to this length. */
const MAX_RAW_LINE_CHARS = 8192;

/** Serf's monitor levels, lowest first, and the pino level each starts at. */
export const SERF_LOG_LEVELS = { TRACE: 10, DEBUG: 20, INFO: 30, WARN: 40, ERR: 50 } as const;
export type SerfLogLevel = keyof typeof SERF_LOG_LEVELS;

const PINO_LEVELS: Record<number, Level> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

interface Subscriber {
  readonly min: number;
  readonly deliver: (line: string) => void;
}

export class LogHub {
  readonly #subscribers = new Set<Subscriber>();
  /** [pino level, pino's JSON line], oldest first (a ring); rendered only when a monitor wants it. */
  readonly #recent: [number, string][] = [];
  #next = 0;
  #logger: Logger | undefined;
  #baseLevel: LevelWithSilent = 'info';

  /** The logger whose level follows the monitors (set once, by createAgentLogger). */
  attach(logger: Logger, baseLevel: LevelWithSilent): void {
    this.#logger = logger;
    this.#baseLevel = baseLevel;
  }

  /** pino's destination interface: one serialized JSON line per call. */
  write(raw: string): void {
    // Kept raw, so a line nobody monitors costs no parsing; cut (then shown unparsed) past 8 KiB.
    const json = raw.length > MAX_RAW_LINE_CHARS ? raw.slice(0, MAX_RAW_LINE_CHARS) : raw;
    const level = Number(/^\{"level":(\d+)/.exec(json)?.[1] ?? 30);
    if (this.#recent.length < RECENT_LOG_LINES) this.#recent.push([level, json]);
    else {
      this.#recent[this.#next] = [level, json];
      this.#next = (this.#next + 1) % RECENT_LOG_LINES;
    }
    let line: string | undefined;
    for (const s of this.#subscribers) if (level >= s.min) s.deliver((line ??= render(json, level)));
  }

  /**
   * Sends `deliver` the recent lines at `level` or above, then every new one, until the
   * returned function is called.
   */
  subscribe(level: SerfLogLevel, deliver: (line: string) => void): () => void {
    const min = SERF_LOG_LEVELS[level];
    const n = this.#recent.length;
    for (let i = 0; i < n; i++) {
      const [l, json] = this.#recent[(this.#next + i) % n]!;
      if (l >= min) deliver(render(json, l));
    }
    const subscriber: Subscriber = { min, deliver };
    this.#subscribers.add(subscriber);
    this.#retune();
    return () => {
      if (this.#subscribers.delete(subscriber)) this.#retune();
    };
  }

  get monitors(): number {
    return this.#subscribers.size;
  }

  /** The logger logs at the lowest level anyone wants: --log-level, or a monitor's. */
  #retune(): void {
    const logger = this.#logger;
    if (logger === undefined) return;
    const base = this.#baseLevel === 'silent' ? Infinity : pino.levels.values[this.#baseLevel]!;
    let min = base;
    for (const s of this.#subscribers) min = Math.min(min, s.min);
    const level: LevelWithSilent = min === Infinity ? 'silent' : (PINO_LEVELS[min] ?? 'trace');
    if (logger.level !== level) logger.level = level;
  }
}

/** The agent's logger: stderr at `level`, and every line to the returned hub. */
export function createAgentLogger(level: LevelWithSilent): { logger: Logger; logs: LogHub } {
  const logs = new LogHub();
  const logger = pino(
    { level },
    pino.multistream([
      { level, stream: pino.destination(2) },
      { level: 'trace', stream: logs },
    ]),
  );
  logs.attach(logger, level);
  return { logger, logs };
}

function serfLevel(level: number): string {
  if (level >= 50) return 'ERR';
  if (level >= 40) return 'WARN';
  if (level >= 30) return 'INFO';
  if (level >= 20) return 'DEBUG';
  return 'TRACE';
}

const pad = (n: number) => String(n).padStart(2, '0');

function render(json: string, level: number): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    record = { msg: json.trim() };
  }
  const t = new Date(typeof record['time'] === 'number' ? record['time'] : Date.now());
  const stamp = `${t.getFullYear()}/${pad(t.getMonth() + 1)}/${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  let line = `${stamp} [${serfLevel(level)}] swimring: ${typeof record['msg'] === 'string' ? record['msg'] : ''}`;
  for (const [key, value] of Object.entries(record)) {
    if (SKIP.has(key)) continue;
    line += ` ${key}=${fieldText(value)}`;
    if (line.length > MAX_LOG_LINE_CHARS) break;
  }
  if (line.length > MAX_LOG_LINE_CHARS) line = `${line.slice(0, MAX_LOG_LINE_CHARS - 1)}…`;
  return line.replace(/[\r\n]/g, ' ');
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string')
    return (value as { message: string }).message;
  return JSON.stringify(value) ?? String(value);
}
