/**
 * swimring route: route keys with the partitioner alone, no cluster needed. One JSON line per
 * key: {"key":"…","partition":N,"members":["…"]}. Keys come from the arguments or, without
 * any, one per line from standard input (raw bytes hashed exactly as read; "\r\n" endings and a
 * final newline are not part of a key).
 */
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createPartitionTable, type PartitionTable } from '../partition/table.js';
import type { KeyHash, Placement } from '../partition/options.js';
import { UsageError, integerFlag } from './usage.js';

export const routeHelp = `Usage: swimring route --members A,B,C --partitions P [options] [KEY ...]

Prints one JSON line per key: {"key":"…","partition":N,"members":["…"]}, owners primary first.
Without KEY arguments, reads keys from standard input, one per line.

Options:
  --members LIST       comma-separated member names (required; may be empty: no owners)
  --partitions P       number of partitions, an integer in [1, 2147483647] (required)
  --replicas R         owners per partition, an integer in [1, 65535] (default 1)
  --hash NAME          key hash: fnv1a32 (default) or fnv1a64 (routes like Go libring)
  --placement NAME     jump (default, libring's) or rendezvous (moves the least data)
  --zones LIST         member zones, NAME=ZONE,...: replicas go to distinct zones
                       (implies rendezvous; unlisted members are each a zone of their own)
  --weights LIST       member capacity weights, NAME=W,... with W in (0, 1e6]: shares
                       proportional to weight (implies rendezvous; unlisted members weigh 1)
  -h, --help           show this help

Exit codes: 0 ok, 2 bad arguments.`;

export interface RouteIo {
  stdin: Readable;
  stdout: Writable;
}

export async function routeCommand(argv: string[], io: RouteIo): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      members: { type: 'string' },
      partitions: { type: 'string' },
      replicas: { type: 'string' },
      hash: { type: 'string', default: 'fnv1a32' },
      placement: { type: 'string' },
      zones: { type: 'string' },
      weights: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout.write(`${routeHelp}\n`);
    return;
  }
  if (values.members === undefined) throw new UsageError('--members is required (an empty list is allowed)');
  const table = createPartitionTable({
    members: values.members === '' ? [] : values.members.split(','),
    partitions: integerFlag('partitions', values.partitions),
    replicas: integerFlag('replicas', values.replicas, 1),
    hash: values.hash as KeyHash,
    ...(values.placement !== undefined ? { placement: values.placement as Placement } : {}),
    ...(values.zones !== undefined ? { zones: pairs('zones', values.zones, (zone) => zone) } : {}),
    ...(values.weights !== undefined ? { weights: pairs('weights', values.weights, weightValue) } : {}),
  });
  const out = new LineWriter(io.stdout, table);
  try {
    if (positionals.length > 0) {
      for (const key of positionals) {
        const full = out.route(key, key);
        if (full) await full;
      }
    } else {
      await routeLines(io.stdin, out);
    }
  } finally {
    // Keys routed before a bad line are still printed.
    await out.flush();
  }
}

/** NAME=VALUE,... (split at the last '=', so a member name may contain one); empty: none. */
function pairs<T>(flag: string, list: string, parse: (value: string, name: string) => T): Record<string, T> {
  const out: Record<string, T> = Object.create(null);
  if (list === '') return out;
  for (const pair of list.split(',')) {
    const at = pair.lastIndexOf('=');
    if (at <= 0) throw new UsageError(`--${flag} must be NAME=VALUE pairs separated by commas, got ${JSON.stringify(pair)}`);
    const name = pair.slice(0, at);
    if (Object.hasOwn(out, name)) throw new UsageError(`--${flag} lists ${JSON.stringify(name)} twice`);
    out[name] = parse(pair.slice(at + 1), name);
  }
  return out;
}

/** A decimal weight; its range is checked by the partitioner, which names the flag. */
function weightValue(value: string, name: string): number {
  if (!/^\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value))
    throw new UsageError(`--weights must be positive decimal numbers, got ${JSON.stringify(value)} for ${JSON.stringify(name)}`);
  return Number(value);
}

/** Longest key line accepted from stdin; a longer one is refused rather than buffered without end. */
export const MAX_KEY_LINE_BYTES = 16 * 1024 * 1024;

async function routeLines(stdin: Readable, out: LineWriter): Promise<void> {
  // Pieces of a line that spans chunks, joined once its newline arrives.
  let carry: Buffer[] = [];
  let carryBytes = 0;
  for await (const chunk of stdin as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      const line = carry.length === 0 ? piece : Buffer.concat([...carry, piece]);
      carry = [];
      carryBytes = 0;
      const full = out.routeBytes(line);
      if (full) await full;
      start = nl + 1;
    }
    if (start < chunk.length) {
      carry.push(chunk.subarray(start));
      carryBytes += chunk.length - start;
      if (carryBytes > MAX_KEY_LINE_BYTES) throw new UsageError(`a key line on stdin is longer than ${MAX_KEY_LINE_BYTES} bytes`);
    }
  }
  if (carry.length > 0) await out.routeBytes(Buffer.concat(carry));
}

/** Batches output lines and honours backpressure, so a million keys stream in bounded memory. */
class LineWriter {
  static readonly FLUSH_CHARS = 1 << 16;
  readonly #stdout: Writable;
  readonly #table: PartitionTable;
  /** Owner lists are shared frozen arrays, so their JSON is rendered once per list. */
  readonly #ownersJson = new Map<readonly string[], string>();
  #pending = '';

  constructor(stdout: Writable, table: PartitionTable) {
    this.#stdout = stdout;
    this.#table = table;
  }

  routeBytes(line: Buffer): Promise<void> | undefined {
    const bytes = line.length > 0 && line[line.length - 1] === 13 ? line.subarray(0, -1) : line;
    return this.route(bytes, bytes.toString('utf8'));
  }

  route(key: string | Uint8Array, printable: string): Promise<void> | undefined {
    const partition = this.#table.partitionForKey(key);
    const owners = this.#table.membersForPartition(partition);
    let json = this.#ownersJson.get(owners);
    if (json === undefined) {
      json = JSON.stringify(owners);
      this.#ownersJson.set(owners, json);
    }
    this.#pending += `{"key":${JSON.stringify(printable)},"partition":${partition},"members":${json}}\n`;
    return this.#pending.length >= LineWriter.FLUSH_CHARS ? this.flush() : undefined;
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const ok = this.#stdout.write(this.#pending);
    this.#pending = '';
    if (!ok) await once(this.#stdout, 'drain');
  }
}
