// Shared pieces of the adversarial suite: a msgpack builder that can write anything (values
// at and past every type edge, lying lengths), a live Serf cluster in the simulator with
// injection at one victim, and the health checks every batch ends with.
import assert from 'node:assert/strict';
import { DecodeError, Writer } from '../../src/gossip/codec/msgpack.js';
import { parseStream } from '../../src/gossip/codec/stream.js';
import { resolveGossipConfig, type GossipConfig } from '../../src/gossip/config.js';
import type { SerfEffect } from '../../src/serf/serf-machine.js';
import { SimWorld } from '../../src/sim/world.js';

// ---- raw msgpack values ----------------------------------------------------------------------

/** One encoded msgpack value (any bytes at all: it may lie about its length). */
export type Raw = Uint8Array;

const te = new TextEncoder();
const cat = (...parts: (Uint8Array | number[])[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
export { cat };

export const V = {
  int: (v: number | bigint): Raw => new Writer(16).int(v).finish(),
  f64: (v: number): Raw => new Writer(16).float64(v).finish(),
  /** float64 NaN exactly as Go writes it: 0xcb 7ff8 0000 0000 0001. */
  nan: (): Raw => Uint8Array.from([0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0x01]),
  f32nan: (): Raw => Uint8Array.from([0xca, 0x7f, 0xc0, 0, 0]),
  inf: (): Raw => new Writer(16).float64(Infinity).finish(),
  str: (s: string): Raw => new Writer(16).str(s).finish(),
  bin: (b: Uint8Array): Raw => new Writer(b.length + 8).raw(b).finish(),
  /** bin8 (0xc4): never written by Go, but a valid msgpack raw. */
  bin8: (b: Uint8Array): Raw => cat([0xc4, b.length], b),
  nil: (): Raw => Uint8Array.from([0xc0]),
  bool: (b: boolean): Raw => Uint8Array.from([b ? 0xc3 : 0xc2]),
  arr: (...items: Raw[]): Raw => cat(new Writer(8).arrayHeader(items.length).finish(), ...items),
  map: (entries: [string, Raw][]): Raw =>
    cat(new Writer(8).mapHeader(entries.length).finish(), ...entries.flatMap(([k, v]) => [V.str(k), v])),
  /** An array32 / map32 / str32 declaring 2^32−1 with nothing behind it. */
  hugeArray: (): Raw => Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff]),
  hugeMap: (): Raw => Uint8Array.from([0xdf, 0xff, 0xff, 0xff, 0xff]),
  hugeStr: (): Raw => Uint8Array.from([0xdb, 0xff, 0xff, 0xff, 0xff]),
  /** `depth` nested one-element arrays around a 0. */
  deepArray: (depth: number): Raw => cat(new Array(depth).fill(0x91), [0]),
  deepMap: (depth: number): Raw => {
    const open = V.str('k');
    return cat(...Array.from({ length: depth }, () => cat([0x81], open)), [0]);
  },
};

/** [type byte][map of the given fields, in the given order]. */
export function message(type: number, fields: [string, Raw][]): Uint8Array {
  return cat([type], V.map(fields));
}

// ---- the edges of each field kind ------------------------------------------------------------

export type Kind = 'u8' | 'u16' | 'u32' | 'u64' | 'int64' | 'int' | 'bool' | 'str' | 'bytes';
/** accept: decoders must take it; refuse: they must drop it; either: Go and we may differ harmlessly. */
export type Expect = 'accept' | 'refuse' | 'either';
export interface Edge {
  label: string;
  raw: Raw;
  /** For integer kinds: the numeric value, to judge the range (null: not an integer). */
  n: bigint | null;
  /** For raw kinds: whether it is a raw at all (nil counts as the zero value). */
  rawKind: 'raw' | 'nil' | 'other';
}

const MAXES: Record<string, bigint> = {
  u8: 0xffn,
  u16: 0xffffn,
  u32: 0xffff_ffffn,
  u64: 2n ** 64n - 1n,
  int64: 2n ** 63n - 1n,
  int: 2n ** 63n - 1n,
};

export function integerEdges(kind: 'u8' | 'u16' | 'u32' | 'u64' | 'int64' | 'int'): Edge[] {
  const max = MAXES[kind]!;
  const ns = [0n, 1n, max, max + 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, -1n, -(2n ** 63n)];
  const seen = new Set<bigint>();
  const edges: Edge[] = [];
  for (const n of ns) {
    if (seen.has(n) || n > 2n ** 64n - 1n) continue;
    seen.add(n);
    edges.push({ label: `${n}`, raw: V.int(n), n, rawKind: 'other' });
  }
  edges.push(
    { label: '1.5 (float64)', raw: V.f64(1.5), n: null, rawKind: 'other' },
    { label: 'NaN (float64)', raw: V.nan(), n: null, rawKind: 'other' },
    { label: 'NaN (float32)', raw: V.f32nan(), n: null, rawKind: 'other' },
    { label: '+Inf', raw: V.inf(), n: null, rawKind: 'other' },
    { label: 'string', raw: V.str('7'), n: null, rawKind: 'raw' },
    { label: 'array', raw: V.arr(V.int(1)), n: null, rawKind: 'other' },
    { label: 'map', raw: V.map([['a', V.int(1)]]), n: null, rawKind: 'other' },
    { label: 'nil', raw: V.nil(), n: 0n, rawKind: 'nil' },
    { label: 'true', raw: V.bool(true), n: null, rawKind: 'other' },
  );
  return edges;
}

export function judgeInteger(kind: 'u8' | 'u16' | 'u32' | 'u64' | 'int64' | 'int', e: Edge): Expect {
  if (e.n === null) return e.label === 'true' ? 'either' : 'refuse';
  const min = kind === 'int64' || kind === 'int' ? -(2n ** 63n) : 0n;
  return e.n >= min && e.n <= MAXES[kind]! ? 'accept' : 'refuse';
}

export function rawEdges(maxBytes: number): Edge[] {
  return [
    { label: 'empty', raw: V.str(''), n: null, rawKind: 'raw' },
    { label: '1 byte', raw: V.str('z'), n: null, rawKind: 'raw' },
    { label: `${maxBytes} bytes`, raw: V.bin(new Uint8Array(maxBytes).fill(0x61)), n: null, rawKind: 'raw' },
    { label: 'invalid UTF-8', raw: V.bin(Uint8Array.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80])), n: null, rawKind: 'raw' },
    { label: 'bin8', raw: V.bin8(Uint8Array.from([0x6d])), n: null, rawKind: 'raw' },
    { label: 'nil', raw: V.nil(), n: null, rawKind: 'nil' },
    { label: 'integer', raw: V.int(5), n: null, rawKind: 'other' },
    { label: 'NaN', raw: V.nan(), n: null, rawKind: 'other' },
    { label: 'array', raw: V.arr(V.str('a')), n: null, rawKind: 'other' },
    { label: 'map', raw: V.map([['a', V.str('b')]]), n: null, rawKind: 'other' },
    { label: 'bool', raw: V.bool(true), n: null, rawKind: 'other' },
  ];
}

export function boolEdges(): Edge[] {
  return [
    { label: 'true', raw: V.bool(true), n: null, rawKind: 'other' },
    { label: 'false', raw: V.bool(false), n: null, rawKind: 'other' },
    { label: '0', raw: V.int(0), n: 0n, rawKind: 'other' },
    { label: '1', raw: V.int(1), n: 1n, rawKind: 'other' },
    { label: '2', raw: V.int(2), n: 2n, rawKind: 'other' },
    { label: 'nil', raw: V.nil(), n: null, rawKind: 'nil' },
    { label: 'string', raw: V.str('true'), n: null, rawKind: 'raw' },
    { label: 'NaN', raw: V.nan(), n: null, rawKind: 'other' },
  ];
}

export function judgeBool(e: Edge): Expect {
  if (e.label === 'true' || e.label === 'false' || e.label === 'nil') return 'accept';
  if (e.label === '0' || e.label === '1') return 'either'; // go-msgpack reads ints into bools; so do we
  return 'refuse';
}

export function judgeRaw(e: Edge): Expect {
  return e.rawKind === 'other' ? 'refuse' : 'accept';
}

export function edgesOf(kind: Kind, maxBytes: number): { edge: Edge; expect: Expect }[] {
  switch (kind) {
    case 'bool':
      return boolEdges().map((edge) => ({ edge, expect: judgeBool(edge) }));
    case 'str':
    case 'bytes':
      return rawEdges(maxBytes).map((edge) => ({ edge, expect: judgeRaw(edge) }));
    default:
      return integerEdges(kind).map((edge) => ({ edge, expect: judgeInteger(kind, edge) }));
  }
}

// ---- a live Serf cluster in the simulator ------------------------------------------------------

export const ATTACKER = { host: '10.9.9.9', port: 7946 };
export const text = (s: string) => te.encode(s);

export interface Cluster {
  w: SimWorld;
  names: string[];
  /** Acks each query got, by `${asker}@${ltime}`. */
  acks: Map<string, Set<string>>;
  /** Exceptions that escaped an injection: each one is a hole. */
  escaped: string[];
}

export function serfCluster(seed: number, n = 4, overrides: Partial<GossipConfig> = {}): Cluster {
  const w = new SimWorld(
    seed,
    resolveGossipConfig('lan', { reconnectWindowMs: 120_000, tombstoneTimeoutMs: 120_000, reapIntervalMs: 5_000, ...overrides }),
    { serf: true },
  );
  const names = Array.from({ length: n }, (_, i) => `n${i}`);
  w.addNode(names[0]!);
  for (let i = 1; i < n; i++) w.addNode(names[i]!, names[Math.floor(w.random() * i)]!);
  assert.ok(w.runUntilTrue(() => allAlive(w, names), 30_000) !== null, 'the cluster forms');
  const c: Cluster = { w, names, acks: new Map(), escaped: [] };
  for (const name of names) trackAcks(c, name);
  return c;
}

/** Records the query acks `name` collects (call again for a node added later). */
export function trackAcks(c: Cluster, name: string): void {
  const serf = c.w.nodes.get(name)!.serf!;
  const drain = serf.drain.bind(serf);
  serf.drain = (): SerfEffect[] => {
    const out = drain();
    for (const e of out)
      if (e.type === 'queryAck') c.acks.set(`${name}@${e.ltime}`, (c.acks.get(`${name}@${e.ltime}`) ?? new Set()).add(e.from));
    return out;
  };
}

/** Every real member lists every real member alive (Serf's view) and the gossip layer agrees. */
export function allAlive(w: SimWorld, names: readonly string[]): boolean {
  return names.every((o) => names.every((s) => w.serfStatusOf(o, s) === 'alive' && w.statusOf(o, s) === 'alive'));
}

export function statuses(w: SimWorld, names: readonly string[]): string {
  return names.map((o) => `${o}:[${names.map((s) => `${s}=${w.serfStatusOf(o, s)}/${w.statusOf(o, s)}`).join(' ')}]`).join(' ');
}

export type InjectResult = 'ok' | 'streamRefused' | 'threw';

/** One datagram from outside into `victim`; an exception that escapes is recorded. */
export function injectPacket(c: Cluster, victim: string, bytes: Uint8Array, label: string): InjectResult {
  try {
    c.w.nodes.get(victim)!.serf!.handlePacket(ATTACKER, bytes, c.w.nowMs);
    return 'ok';
  } catch (err) {
    c.escaped.push(`${label}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    return 'threw';
  }
}

/** One inbound stream message, as the I/O layer hands it over: undecodable ones never reach the machine. */
export function injectStream(c: Cluster, victim: string, bytes: Uint8Array, label: string): InjectResult {
  let parsed;
  try {
    parsed = parseStream(bytes, c.w.config.maxStreamBytes);
    if (parsed.status !== 'complete') return 'streamRefused';
  } catch (err) {
    if (err instanceof DecodeError) return 'streamRefused';
    c.escaped.push(`${label} (stream decode): ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    return 'threw';
  }
  try {
    c.w.nodes.get(victim)!.serf!.handleStreamRequest(ATTACKER, parsed.message, c.w.nowMs);
    return 'ok';
  } catch (err) {
    c.escaped.push(`${label}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    return 'threw';
  }
}

export const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

let healthRound = 0;

/**
 * The checks after each batch: everyone alive everywhere (within `settleMs`), the gossip layer
 * converged, a user event from a random member reaches every member exactly once, and a query
 * gets an ack from every member. Returns the event's name (check it again later for duplicates).
 */
export function assertHealthy(c: Cluster, what: string, settleMs = 60_000): string {
  const { w, names } = c;
  assert.deepEqual(c.escaped, [], `${what}: no exception escapes the machine`);
  assert.ok(w.runUntilTrue(() => allAlive(w, names), settleMs) !== null, `${what}: every member alive everywhere: ${statuses(w, names)}`);
  const event = `health${++healthRound}`;
  const from = names[Math.floor(w.random() * names.length)]!;
  w.userEvent(from, event, text(what.slice(0, 100)));
  const got = (o: string) => w.userEvents.filter((e) => e.observer === o && e.event.name === event).length;
  assert.ok(
    w.runUntilTrue(() => names.every((o) => got(o) >= 1), 30_000) !== null,
    `${what}: the event ${event} from ${from} reaches everyone: ${names.map((o) => `${o}=${got(o)}`)}`,
  );
  const asker = names[Math.floor(w.random() * names.length)]!;
  const serf = w.nodes.get(asker)!.serf!;
  const q = serf.query(`q-${event}`, text('?'), { requestAck: true, timeoutMs: 5000 }, w.nowMs);
  const acked = () => [...(c.acks.get(`${asker}@${q}`) ?? [])].sort();
  w.runUntilTrue(() => acked().length === names.length, 6000);
  assert.deepEqual(acked(), [...names].sort(), `${what}: query ${q} from ${asker} acked by every member`);
  w.runFor(2000);
  for (const o of names) assert.equal(got(o), 1, `${what}: ${o} got ${event} exactly once`);
  assert.deepEqual(c.escaped, [], `${what}: no exception escapes while the cluster runs`);
  return event;
}

/** Each named event was delivered exactly once at every member (run after a push/pull round or two). */
export function assertDeliveredOnce(c: Cluster, events: readonly string[], what: string): void {
  for (const o of c.names) {
    for (const e of events) {
      const n = c.w.userEvents.filter((d) => d.observer === o && d.event.name === e).length;
      assert.equal(n, 1, `${what}: ${o} got ${e} ${n} times`);
    }
  }
}
