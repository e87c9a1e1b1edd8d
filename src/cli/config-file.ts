/**
 * `swimring agent --config-file F` and `--config-dir D`: serf agent's JSON configuration files,
 * read as Serf's ReadConfigPaths, DecodeConfig and MergeConfig do, and turned into the agent's
 * own flags. Those flags go before the command line's, so the command line wins (Serf merges it
 * last): a later single-valued flag replaces an earlier one, repeatable ones append, and tags
 * merge key by key (the agent applies --tag in order).
 */
import { closeSync, fstatSync, openSync, opendirSync, readSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SwimringError, describeValue } from '../errors.js';
import { parseHostPort } from '../io/gossip-node.js';
import { KEY_HASHES, PLACEMENTS } from '../partition/options.js';
import { parseDuration } from './duration.js';
import { parseEventHandler } from './event-handlers.js';
import { parseHttpAddress } from './http-flags.js';

/** A configuration is a few KiB; a wrong path (a log, a disk image) must not be read whole. */
export const MAX_CONFIG_FILE_BYTES = 1 << 20;
/** Files read in all, over every --config-file and --config-dir. */
export const MAX_CONFIG_FILES = 256;
/** Entries looked at in one directory, .json or not. */
export const MAX_CONFIG_DIR_ENTRIES = 4096;

/** A configuration file that cannot be read or is not a valid configuration: one line, exit code 1 (as serf agent). */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
  readonly code = 'ERR_CONFIG_FILE';
  constructor(
    readonly file: string,
    readonly key: string | undefined,
    detail: string,
  ) {
    super(`config file ${file}: ${key === undefined ? '' : `${JSON.stringify(key)} `}${detail}`);
  }
}

function unreadable(path: string, err: unknown): ConfigFileError {
  return new ConfigFileError(path, undefined, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
}

type Check = (value: string) => string | void;

/** How one key becomes flags. Serf's keys treat "" (and 0 where `zeroUnset`) as not set, as MergeConfig does. */
type KeySpec =
  | { kind: 'string'; flag: string; check?: Check }
  | { kind: 'duration'; flag: string; zeroUnset?: boolean }
  | { kind: 'integer'; flag: string; zeroUnset?: boolean }
  | { kind: 'boolean'; flag: string }
  | { kind: 'list'; flag: string; check?: Check }
  | { kind: 'map'; flag: string; check?: (key: string, value: string) => void }
  /** A serf option swimring has no setting for: accepted only when it asks for what swimring does. */
  | { kind: 'fixed'; value: boolean; why: string }
  | { kind: 'unsupported' };

/** Serf's AddrParts: an address without a port gets 7946. */
function withDefaultPort(value: string): string {
  return /^\[[^\]]+\]$/.test(value) || /^[^:]+$/.test(value) ? `${value}:7946` : value;
}

/** Serf's AddrParts (a missing port is 7946); an IP address, as the agent wants for --bind and --advertise. */
function ipAddress(value: string): string {
  const full = withDefaultPort(value);
  if (isIP(parseHostPort('address', full).host) === 0) throw new Error(`must be an IP address and port, got ${describeValue(value)}`);
  return full;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const CONFIG_KEYS: ReadonlyMap<string, KeySpec> = new Map<string, KeySpec>([
  // serf agent's keys (Serf's Config struct, by their mapstructure names).
  ['node_name', { kind: 'string', flag: 'name' }],
  ['bind', { kind: 'string', flag: 'bind', check: ipAddress }],
  ['advertise', { kind: 'string', flag: 'advertise', check: ipAddress }],
  ['tags', { kind: 'map', flag: 'tag', check: tagKey }],
  // Serf's predecessor of tags: the `role` tag.
  ['role', { kind: 'string', flag: 'tag', check: (value) => `role=${value}` }],
  ['encrypt_key', { kind: 'string', flag: 'encrypt' }],
  ['start_join', { kind: 'list', flag: 'join', check: (value) => void parseHostPort('join', value, 7946) }],
  ['retry_join', { kind: 'list', flag: 'retry-join', check: (value) => void parseHostPort('retry-join', value, 7946) }],
  ['retry_interval', { kind: 'duration', flag: 'retry-interval', zeroUnset: true }],
  ['retry_max_attempts', { kind: 'integer', flag: 'retry-max', zeroUnset: true }],
  ['event_handlers', { kind: 'list', flag: 'event-handler', check: (value) => void parseEventHandler(value) }],
  [
    'rpc_addr',
    {
      kind: 'string',
      flag: 'rpc-addr',
      check: (value) => {
        if (value.trim().toLowerCase() !== 'off') parseHostPort('rpc-addr', value);
      },
    },
  ],
  ['rpc_auth', { kind: 'string', flag: 'rpc-auth' }],
  ['profile', { kind: 'string', flag: 'profile', check: oneOf(['lan', 'wan', 'local']) }],
  [
    'log_level',
    {
      kind: 'string',
      flag: 'log-level',
      // Serf's levels are TRACE, DEBUG, INFO, WARN and ERR, in any case.
      check: (value) => {
        const level = value.toLowerCase() === 'err' ? 'error' : value.toLowerCase();
        oneOf(LOG_LEVELS)(level);
        return level;
      },
    },
  ],
  ['reconnect_timeout', { kind: 'duration', flag: 'reconnect-timeout', zeroUnset: true }],
  ['tombstone_timeout', { kind: 'duration', flag: 'tombstone-timeout', zeroUnset: true }],
  ['replay_on_join', { kind: 'boolean', flag: 'replay' }],
  ['leave_on_terminate', { kind: 'fixed', value: true, why: 'swimring agent always leaves on SIGTERM' }],
  ['skip_leave_on_interrupt', { kind: 'fixed', value: false, why: 'swimring agent always leaves on SIGINT' }],
  ['disable_coordinates', { kind: 'fixed', value: true, why: 'swimring has no network coordinates' }],
  ['disable_name_resolution', { kind: 'fixed', value: false, why: 'swimring agent always resolves name conflicts' }],
  ['enable_syslog', { kind: 'fixed', value: false, why: 'swimring agent logs to stderr only' }],
  ['rejoin_after_leave', { kind: 'fixed', value: false, why: 'swimring agent keeps no snapshot' }],
  ...[
    'tags_file',
    'keyring_file',
    'protocol',
    'query_response_size_limit',
    'query_size_limit',
    'user_event_size_limit',
    'profile_path',
    'snapshot_path',
    'discover',
    'interface',
    'mdns',
    'reconnect_interval',
    'syslog_facility',
    'statsite_addr',
    'statsd_addr',
    'broadcast_timeout',
    'enable_compression',
    'msgpack_use_new_time_format',
  ].map((key): [string, KeySpec] => [key, { kind: 'unsupported' }]),
  // swimring's own: named after their flags, in snake_case (a repeatable one in the plural).
  ['http', { kind: 'string', flag: 'http', check: (value) => void parseHttpAddress(value) }],
  ['dns_servers', { kind: 'list', flag: 'dns-server' }],
  ['http_token', { kind: 'string', flag: 'http-token' }],
  ['http_token_file', { kind: 'string', flag: 'http-token-file' }],
  ['dead_node_reclaim_time', { kind: 'duration', flag: 'dead-node-reclaim-time' }],
  ['event_handler_timeout', { kind: 'duration', flag: 'event-handler-timeout' }],
  ['partitions', { kind: 'integer', flag: 'partitions' }],
  ['replicas', { kind: 'integer', flag: 'replicas' }],
  ['hash', { kind: 'string', flag: 'hash', check: oneOf(KEY_HASHES) }],
  ['placement', { kind: 'string', flag: 'placement', check: oneOf(PLACEMENTS) }],
  ['zone_tag', { kind: 'string', flag: 'zone-tag' }],
  ['weight_tag', { kind: 'string', flag: 'weight-tag' }],
  [
    'watch_tags',
    {
      kind: 'map',
      flag: 'watch-tag',
      check: (key, value) => {
        tagKey(key);
        try {
          new RegExp(value);
        } catch {
          throw new Error(`has an invalid regular expression for ${JSON.stringify(key)}: ${describeValue(value)}`);
        }
      },
    },
  ],
  ['handoff', { kind: 'boolean', flag: 'handoff' }],
  ['ready_after', { kind: 'duration', flag: 'ready-after' }],
]);

function oneOf(values: readonly string[]): Check {
  return (value) => {
    if (!values.includes(value)) throw new Error(`must be one of ${values.join(', ')}, got ${describeValue(value)}`);
  };
}

/** The agent splits --tag at the first '='. */
function tagKey(key: string): void {
  if (key === '' || key.includes('=')) throw new Error(`has a key that is empty or contains '=': ${describeValue(key)}`);
}

/** A checker's complaint without the flag or option it names (the error names the key instead). */
function detailOf(err: unknown): string {
  if (err instanceof SwimringError) return err.detail.trim();
  return (err instanceof Error ? err.message : String(err)).replace(/^--[a-z-]+\s+/, '');
}

/** The flags one file's configuration stands for, in the file's key order. */
export function configToArgs(file: string, config: unknown): string[] {
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    throw new ConfigFileError(file, undefined, `not a JSON object: got ${describeValue(config)}`);
  const args: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    // Serf decodes with mapstructure: keys match case-insensitively and null is not set.
    const spec = CONFIG_KEYS.get(key) ?? CONFIG_KEYS.get(key.toLowerCase());
    if (spec === undefined) throw new ConfigFileError(file, undefined, `unknown key ${JSON.stringify(key)}`);
    if (value === null) continue;
    const fail = (detail: string) => new ConfigFileError(file, key, detail);
    const checked = (check: Check | undefined, v: string): string => {
      try {
        return check?.(v) ?? v;
      } catch (err) {
        throw fail(detailOf(err));
      }
    };
    // `--flag=value`: a value starting with '-' is not taken for a flag.
    const flag = (name: string, v?: string) => args.push(v === undefined ? `--${name}` : `--${name}=${v}`);
    switch (spec.kind) {
      case 'unsupported':
        throw fail('is a serf agent option swimring agent does not support');
      case 'fixed':
        if (value !== spec.value) throw fail(`can only be ${spec.value}: ${spec.why}`);
        break;
      case 'string':
        if (typeof value !== 'string') throw fail(`must be a string, got ${describeValue(value)}`);
        if (value !== '') flag(spec.flag, checked(spec.check, value));
        break;
      case 'duration': {
        if (typeof value !== 'string') throw fail(`must be a duration string like "30s", got ${describeValue(value)}`);
        if (value === '') break;
        // Go's time.ParseDuration wants a unit on anything but 0.
        if (/^\d+$/.test(value.trim()) && Number(value) !== 0) throw fail(`must have a unit (ms, s, m or h), got ${describeValue(value)}`);
        checked((v) => void parseDuration(spec.flag, v), value);
        if (!(spec.zeroUnset && parseDuration(spec.flag, value) === 0)) flag(spec.flag, value);
        break;
      }
      case 'integer':
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw fail(`must be an integer, got ${describeValue(value)}`);
        if (!(spec.zeroUnset && value === 0)) flag(spec.flag, String(value));
        break;
      case 'boolean':
        if (typeof value !== 'boolean') throw fail(`must be true or false, got ${describeValue(value)}`);
        // A flag can only turn it on; false is Serf's default and, as in MergeConfig, unsets nothing.
        if (value) flag(spec.flag);
        break;
      case 'list':
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
          throw fail(`must be an array of strings, got ${describeValue(value)}`);
        for (const v of value as string[]) flag(spec.flag, checked(spec.check, v));
        break;
      case 'map':
        if (typeof value !== 'object' || Array.isArray(value)) throw fail(`must be an object of strings, got ${describeValue(value)}`);
        for (const [k, v] of Object.entries(value as object)) {
          if (typeof v !== 'string') throw fail(`must be an object of strings, got ${describeValue(v)} for ${JSON.stringify(k)}`);
          try {
            spec.check?.(k, v);
          } catch (err) {
            throw fail(detailOf(err));
          }
          flag(spec.flag, `${k}=${v}`);
        }
        break;
    }
  }
  return args;
}

/** Reads one file, refusing anything but a regular file of at most MAX_CONFIG_FILE_BYTES. */
function readConfigFile(path: string): string {
  let fd: number;
  try {
    // Opening a FIFO would block until a writer comes; a device may never end.
    if (!statSync(path).isFile()) throw new ConfigFileError(path, undefined, 'not a regular file');
    fd = openSync(path, 'r');
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    throw unreadable(path, err);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new ConfigFileError(path, undefined, 'not a regular file');
    const buf = Buffer.alloc(MAX_CONFIG_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const read = readSync(fd, buf, n, buf.length - n, null);
      if (read === 0) break;
      n += read;
      if (n > MAX_CONFIG_FILE_BYTES) throw new ConfigFileError(path, undefined, `larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    }
    return buf.subarray(0, n).toString('utf8');
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    throw unreadable(path, err);
  } finally {
    closeSync(fd);
  }
}

/** A directory's `*.json` files in lexical order, one level deep (Serf's ReadConfigPaths). */
function jsonFilesIn(dir: string): string[] {
  const names: string[] = [];
  let entries = 0;
  const handle = opendirSync(dir);
  try {
    for (let entry = handle.readSync(); entry !== null; entry = handle.readSync()) {
      if (++entries > MAX_CONFIG_DIR_ENTRIES) throw new ConfigFileError(dir, undefined, `more than ${MAX_CONFIG_DIR_ENTRIES} entries`);
      if (!entry.name.endsWith('.json')) continue;
      // Subdirectories (and links to them) are skipped, as Serf does not recurse.
      const stat = statSync(join(dir, entry.name), { throwIfNoEntry: false });
      if (stat?.isDirectory()) continue;
      names.push(entry.name);
      if (names.length > MAX_CONFIG_FILES) throw new ConfigFileError(dir, undefined, `more than ${MAX_CONFIG_FILES} .json files`);
    }
  } finally {
    handle.closeSync();
  }
  // Go compares names bytewise; so does this for the names people use (no surrogate pairs).
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((name) => join(dir, name));
}

/** Files and directories, in order (a path may be either, whichever flag named it, as in Serf), as flags. */
export function readConfigPaths(paths: readonly string[]): string[] {
  const args: string[] = [];
  let files = 0;
  for (const path of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (err) {
      throw unreadable(path, err);
    }
    let list: string[];
    try {
      list = isDir ? jsonFilesIn(path) : [path];
    } catch (err) {
      if (err instanceof ConfigFileError) throw err;
      throw unreadable(path, err);
    }
    for (const file of list) {
      if (++files > MAX_CONFIG_FILES)
        throw new ConfigFileError(file, undefined, `one more than the ${MAX_CONFIG_FILES} files allowed in all`);
      const text = readConfigFile(file);
      let config: unknown;
      try {
        config = JSON.parse(text);
      } catch (err) {
        // V8's message quotes the text around the error; a file given by mistake (a secret, say)
        // must not end up in logs, so only the position is kept.
        const at = /position (\d+)/.exec((err as Error).message)?.[1];
        throw new ConfigFileError(file, undefined, `not valid JSON${at === undefined ? '' : ` (at character ${at})`}`);
      }
      args.push(...configToArgs(file, config));
    }
  }
  return args;
}

/**
 * The flags the agent command line's --config-file and --config-dir paths stand for, to go
 * before the command line. Found with a lenient parse, so other flags are the agent's to judge.
 */
export function configFileArgs(argv: readonly string[]): string[] {
  const { tokens } = parseArgs({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: { 'config-file': { type: 'string', multiple: true }, 'config-dir': { type: 'string', multiple: true } },
  });
  const paths = tokens.flatMap((t) =>
    t.kind === 'option' && (t.name === 'config-file' || t.name === 'config-dir') && t.value !== undefined ? [t.value] : [],
  );
  return paths.length === 0 ? [] : readConfigPaths(paths);
}
