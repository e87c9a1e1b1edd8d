// Structured hostile input, table-driven: for every memberlist message and every Serf message
// carried in user messages, every field at the edges of its Go type (0, 1, max, max+1, 2^32,
// 2^53, 2^63, 2^64−1, negative, float, NaN, wrong type, nil, absent), raw fields empty / 1 byte /
// maximal / invalid UTF-8, addresses of every length, Vsn of length 0..7, lying container
// lengths, nesting 1000 deep, compress envelopes nested, 255-part compounds. Each variant goes
// into one victim of a live 4-node Serf cluster (simulator), and the decoders' verdict is checked
// per input against Go's rules through the victim's drop counters. After each batch the cluster
// must be whole: everyone alive everywhere, a user event delivered exactly once, a query acked
// by all, and no exception escaped.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lzwCompress } from '../../src/gossip/codec/lzw.js';
import { MessageType, encodeCompress, encodePing } from '../../src/gossip/codec/messages.js';
import { encodeCompound } from '../../src/gossip/codec/packet.js';
import { DecodeError, Writer } from '../../src/gossip/codec/msgpack.js';
import { decodeConflictResponse, decodeKeyRequest, decodeKeyResponse, decodeRelay } from '../../src/serf/internal-messages.js';
import { SerfType } from '../../src/serf/messages.js';
import { decodeSerfState } from '../../src/serf/push-pull.js';
import { seeds, withSeed } from '../helpers/sim.js';
import {
  type Cluster,
  type Edge,
  type Expect,
  type Kind,
  type Raw,
  V,
  assertDeliveredOnce,
  assertHealthy,
  cat,
  edgesOf,
  injectPacket,
  injectStream,
  message,
  serfCluster,
  text,
} from './hostile.js';

const VICTIM = 'n0';
/** A maximal raw field: as much as a datagram carries with its other fields. */
const MAX_PACKET_RAW = 60_000;
const ADDR = Uint8Array.from([10, 200, 0, 1]);
const VSN = Uint8Array.from([1, 5, 2, 2, 5, 5]);
const META = Uint8Array.from([0xff, 0x80]);

type FieldKind = Kind | 'addr' | 'vsn' | 'filters';

interface Field {
  key: string;
  kind: FieldKind;
  /** The valid value, given the variant's index (for unique names and ids). */
  base: (i: number) => Raw;
  /** Refusals beyond the type rules (semantic checks: a name must not be empty, ...). */
  semantic?: (e: Edge) => Expect | undefined;
}

interface Variant {
  label: string;
  bytes: Uint8Array;
  expect: Expect;
}

function addrEdges(): Edge[] {
  const lengths = [0, 3, 4, 5, 16, 17];
  return [
    ...lengths.map((n): Edge => ({
      label: `addr of ${n} bytes`,
      raw: V.bin(Uint8Array.from({ length: n }, (_, i) => (n === 16 ? [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9][i]! : 10 + i))),
      n: BigInt(n),
      rawKind: 'raw',
    })),
    { label: 'addr nil', raw: V.nil(), n: 0n, rawKind: 'nil' },
    { label: 'addr integer', raw: V.int(0x0a000001), n: null, rawKind: 'other' },
    { label: 'addr array', raw: V.arr(V.int(10), V.int(0), V.int(0), V.int(1)), n: null, rawKind: 'other' },
    { label: `addr of ${MAX_PACKET_RAW} bytes`, raw: V.bin(new Uint8Array(MAX_PACKET_RAW)), n: BigInt(MAX_PACKET_RAW), rawKind: 'raw' },
  ];
}

/** An address that must be an IP: 4 or 16 bytes. */
const mustBeIp = (e: Edge): Expect => (e.rawKind !== 'other' && (e.n === 4n || e.n === 16n) ? 'accept' : 'refuse');
/** An address that may be anything raw (a reply address falls back to the packet's source). */
const anyRaw = (e: Edge): Expect => (e.rawKind === 'other' ? 'refuse' : 'accept');

function vsnEdges(): Edge[] {
  const full = [1, 5, 2, 2, 5, 5, 0];
  return [
    ...Array.from({ length: 8 }, (_, n): Edge => ({
      label: `Vsn of length ${n}`,
      raw: V.bin(Uint8Array.from(full.slice(0, n))),
      n: BigInt(n),
      rawKind: 'raw',
    })),
    { label: 'Vsn nonsense [0,0,0,0,0,0]', raw: V.bin(new Uint8Array(6)), n: 6n, rawKind: 'raw' },
    { label: 'Vsn [255 x 6]', raw: V.bin(new Uint8Array(6).fill(255)), n: 6n, rawKind: 'raw' },
    { label: 'Vsn nil', raw: V.nil(), n: 0n, rawKind: 'nil' },
    { label: 'Vsn integer', raw: V.int(5), n: null, rawKind: 'other' },
  ];
}

/** Vsn: absent or at least 6 bytes; 1..5 bytes cannot be checked, so they are refused. */
const vsnRule = (e: Edge): Expect => (e.rawKind === 'other' ? 'refuse' : e.n !== null && e.n > 0n && e.n < 6n ? 'refuse' : 'accept');

function filterEdges(): Edge[] {
  const nodeFilter = cat([0], V.arr(V.str('n0'), V.str('n1'), V.str('n2'), V.str('n3')));
  return [
    { label: 'filters []', raw: V.arr(), n: null, rawKind: 'raw' },
    { label: 'filters nil', raw: V.nil(), n: null, rawKind: 'nil' },
    { label: 'filters [node filter]', raw: V.arr(V.bin(nodeFilter)), n: null, rawKind: 'raw' },
    { label: 'filters [unknown type 9]', raw: V.arr(V.bin(Uint8Array.from([9, 0xc0]))), n: null, rawKind: 'raw' },
    { label: 'filters [empty]', raw: V.arr(V.str('')), n: null, rawKind: 'other' },
    { label: 'filters [integer]', raw: V.arr(V.int(1)), n: null, rawKind: 'other' },
    { label: 'filters string', raw: V.str('x'), n: null, rawKind: 'other' },
    { label: 'filters array32 of 2^32−1', raw: V.hugeArray(), n: null, rawKind: 'other' },
    { label: 'filters [node filter of garbage]', raw: V.arr(V.bin(Uint8Array.from([0, 0xc1]))), n: null, rawKind: 'other' },
    { label: 'filters 1000 deep', raw: V.deepArray(1000), n: null, rawKind: 'other' },
  ];
}

function edgesFor(kind: FieldKind, maxBytes: number): { edge: Edge; expect: Expect }[] {
  switch (kind) {
    case 'addr':
      return addrEdges().map((edge) => ({ edge, expect: anyRaw(edge) }));
    case 'vsn':
      return vsnEdges().map((edge) => ({ edge, expect: vsnRule(edge) }));
    case 'filters':
      return filterEdges().map((edge) => ({ edge, expect: edge.rawKind === 'other' ? 'refuse' : 'accept' }));
    default:
      return edgesOf(kind, maxBytes);
  }
}

/** Every field of `fields` at each of its edges (and absent), the others at their valid values. */
function variants(what: string, fields: Field[], build: (entries: [string, Raw][]) => Uint8Array, maxBytes: number, start = 0): Variant[] {
  const out: Variant[] = [];
  let i = start;
  for (const target of fields) {
    const cases = [
      ...edgesFor(target.kind, maxBytes),
      { edge: { label: 'absent', raw: new Uint8Array(0), n: 0n, rawKind: 'nil' } as Edge, expect: 'accept' as Expect },
    ];
    for (const { edge, expect } of cases) {
      i++;
      const entries: [string, Raw][] = [];
      for (const f of fields) {
        if (f !== target) entries.push([f.key, f.base(i)]);
        else if (edge.label !== 'absent') entries.push([f.key, edge.raw]);
      }
      const semantic = target.semantic?.(edge);
      const verdict: Expect = expect === 'refuse' ? 'refuse' : (semantic ?? expect);
      out.push({ label: `${what}.${target.key} = ${edge.label}`, bytes: build(entries), expect: verdict });
    }
  }
  return out;
}

/** Whole-message structure: lying lengths and deep nesting, in the body and inside each field. */
function structural(
  what: string,
  fields: Field[],
  build: (entries: [string, Raw][]) => Uint8Array,
  wrap: (body: Uint8Array) => Uint8Array,
): Variant[] {
  const out: Variant[] = [
    { label: `${what} body = map32 of 2^32−1 entries, nothing behind`, bytes: wrap(V.hugeMap()), expect: 'refuse' },
    { label: `${what} body = array32 of 2^32−1, nothing behind`, bytes: wrap(V.hugeArray()), expect: 'refuse' },
    { label: `${what} body = 1000 nested arrays`, bytes: wrap(V.deepArray(1000)), expect: 'refuse' },
    { label: `${what} body = 1000 nested maps`, bytes: wrap(V.deepMap(1000)), expect: 'refuse' },
    { label: `${what} body = nil`, bytes: wrap(V.nil()), expect: 'refuse' },
    { label: `${what} body = empty`, bytes: wrap(new Uint8Array(0)), expect: 'refuse' },
    { label: `${what} body = map with an integer key`, bytes: wrap(cat([0x81], V.int(1), V.int(1))), expect: 'refuse' },
  ];
  for (const f of fields) {
    for (const [label, raw] of [
      ['array32 of 2^32−1', V.hugeArray()],
      ['map32 of 2^32−1', V.hugeMap()],
      ['str32 of 2^32−1', V.hugeStr()],
      ['1000 nested arrays', V.deepArray(1000)],
      ['1000 nested maps', V.deepMap(1000)],
    ] as const) {
      out.push({
        label: `${what}.${f.key} = ${label}`,
        bytes: build(fields.map((g) => [g.key, g === f ? raw : g.base(0)])),
        expect: 'refuse',
      });
    }
  }
  return out;
}

// ---- the schemas (memberlist 0.2.2 and Serf 0.9.4 field names and Go types) -------------------

const str = (s: string) => () => V.str(s);
const bin = (b: Uint8Array) => () => V.bin(b);
const int = (n: number) => () => V.int(n);
const nonEmptyName = (e: Edge): Expect | undefined => (e.rawKind === 'nil' || e.label === 'empty' ? 'refuse' : undefined);

const PING: Field[] = [
  { key: 'Node', kind: 'str', base: str(VICTIM) },
  { key: 'SeqNo', kind: 'u32', base: int(77) },
  { key: 'SourceAddr', kind: 'addr', base: bin(Uint8Array.from([10, 9, 9, 9])) },
  { key: 'SourceNode', kind: 'str', base: str('mallory') },
  { key: 'SourcePort', kind: 'u16', base: int(7946) },
];
const INDIRECT_PING: Field[] = [
  { key: 'Nack', kind: 'bool', base: () => V.bool(true) },
  { key: 'Node', kind: 'str', base: str('nobody') },
  { key: 'Port', kind: 'u16', base: int(7946) },
  { key: 'SeqNo', kind: 'u32', base: int(78) },
  { key: 'SourceAddr', kind: 'addr', base: bin(Uint8Array.from([10, 9, 9, 9])) },
  { key: 'SourceNode', kind: 'str', base: str('mallory') },
  { key: 'SourcePort', kind: 'u16', base: int(7946) },
  { key: 'Target', kind: 'addr', base: bin(ADDR), semantic: mustBeIp },
];
const ACK: Field[] = [
  { key: 'Payload', kind: 'bytes', base: bin(Uint8Array.from([1, 2, 3])) },
  { key: 'SeqNo', kind: 'u32', base: int(79) },
];
const NACK: Field[] = [{ key: 'SeqNo', kind: 'u32', base: int(80) }];
/** Accusations of a name nobody holds: forged accusations of live members are in lamport-and-intents. */
const ACCUSATION: Field[] = [
  { key: 'From', kind: 'str', base: str('mallory') },
  { key: 'Incarnation', kind: 'u32', base: int(1) },
  { key: 'Node', kind: 'str', base: str('nobody') },
];
/** A stranger that joins (then fails: its address leads nowhere). */
const ALIVE: Field[] = [
  { key: 'Addr', kind: 'addr', base: bin(ADDR), semantic: mustBeIp },
  { key: 'Incarnation', kind: 'u32', base: int(1) },
  { key: 'Meta', kind: 'bytes', base: bin(META) },
  { key: 'Node', kind: 'str', base: str('ghost'), semantic: nonEmptyName },
  { key: 'Port', kind: 'u16', base: int(7946) },
  { key: 'Vsn', kind: 'vsn', base: bin(VSN), semantic: vsnRule },
];

const LEAVE: Field[] = [
  { key: 'LTime', kind: 'u64', base: (i) => V.int(100 + i) },
  { key: 'Node', kind: 'str', base: (i) => V.str(`nobody-${i}`) },
  { key: 'Prune', kind: 'bool', base: () => V.bool(false) },
];
const JOIN: Field[] = [
  { key: 'LTime', kind: 'u64', base: (i) => V.int(100 + i) },
  { key: 'Node', kind: 'str', base: (i) => V.str(`stranger-${i}`) },
];
const USER_EVENT: Field[] = [
  { key: 'CC', kind: 'bool', base: () => V.bool(false) },
  { key: 'LTime', kind: 'u64', base: int(5) },
  { key: 'Name', kind: 'str', base: (i) => V.str(`forged-${i}`) },
  { key: 'Payload', kind: 'bytes', base: bin(text('payload')) },
];
const QUERY: Field[] = [
  { key: 'Addr', kind: 'addr', base: bin(Uint8Array.from([10, 9, 9, 9])) },
  { key: 'Filters', kind: 'filters', base: () => V.arr() },
  { key: 'Flags', kind: 'u32', base: int(1) },
  { key: 'ID', kind: 'u32', base: (i) => V.int(10_000 + i) },
  { key: 'LTime', kind: 'u64', base: int(3) },
  { key: 'Name', kind: 'str', base: str('forged-query') },
  { key: 'Payload', kind: 'bytes', base: bin(text('?')) },
  { key: 'Port', kind: 'u16', base: int(7946) },
  { key: 'RelayFactor', kind: 'u8', base: int(0) },
  { key: 'SourceNode', kind: 'str', base: str('mallory') },
  { key: 'Timeout', kind: 'int64', base: int(1_000_000_000) },
];
const QUERY_RESPONSE: Field[] = [
  { key: 'Flags', kind: 'u32', base: int(1) },
  { key: 'From', kind: 'str', base: str('mallory') },
  { key: 'ID', kind: 'u32', base: int(99) },
  { key: 'LTime', kind: 'u64', base: int(2) },
  { key: 'Payload', kind: 'bytes', base: bin(text('!')) },
];

/** [8][serf type][map]: a Serf message in a memberlist user datagram. */
const serfPacket = (type: number) => (entries: [string, Raw][]) => cat([MessageType.user, type], V.map(entries));
const packet = (type: number) => (entries: [string, Raw][]) => message(type, entries);

interface Batch {
  name: string;
  layer: 'gossip' | 'serf';
  variants: () => Variant[];
}

function gossipBatch(name: string, type: number, fields: Field[]): Batch {
  return {
    name,
    layer: 'gossip',
    variants: () => [
      ...variants(name, fields, packet(type), MAX_PACKET_RAW),
      ...structural(name, fields, packet(type), (body) => cat([type], body)),
    ],
  };
}

function serfBatch(name: string, type: number, fields: Field[]): Batch {
  return {
    name,
    layer: 'serf',
    variants: () => [
      ...variants(name, fields, serfPacket(type), MAX_PACKET_RAW),
      ...structural(name, fields, serfPacket(type), (body) => cat([MessageType.user, type], body)),
    ],
  };
}

/** Serf's relay: [9][{DestAddr: {IP, Port, Zone}, DestName}][5 + query response]. */
function relayVariants(): Variant[] {
  const inner = cat(
    [SerfType.queryResponse],
    V.map([
      ['Flags', V.int(1)],
      ['From', V.str('mallory')],
      ['ID', V.int(1)],
      ['LTime', V.int(1)],
      ['Payload', V.nil()],
    ]),
  );
  const relay = (ip: Raw, port: Raw, name: Raw, body: Uint8Array = inner) =>
    cat(
      [MessageType.user, SerfType.relay],
      V.map([
        [
          'DestAddr',
          V.map([
            ['IP', ip],
            ['Port', port],
            ['Zone', V.str('')],
          ]),
        ],
        ['DestName', name],
      ]),
      body,
    );
  const ip = V.bin(Uint8Array.from([10, 9, 9, 9]));
  const out: Variant[] = [];
  for (const { edge } of edgesFor('addr', MAX_PACKET_RAW))
    out.push({ label: `relay.DestAddr.IP = ${edge.label}`, bytes: relay(edge.raw, V.int(7946), V.str('x')), expect: mustBeIp(edge) });
  for (const { edge, expect } of edgesFor('u16', 0)) {
    // Go reads Port as a uint16 and would forward to port 0; we refuse port 0 (nothing listens there).
    const verdict: Expect = expect === 'refuse' ? 'refuse' : edge.n === 0n || edge.rawKind === 'nil' ? 'either' : expect;
    out.push({ label: `relay.DestAddr.Port = ${edge.label}`, bytes: relay(ip, edge.raw, V.str('x')), expect: verdict });
  }
  for (const { edge } of edgesFor('str', MAX_PACKET_RAW))
    out.push({ label: `relay.DestName = ${edge.label}`, bytes: relay(ip, V.int(7946), edge.raw), expect: 'either' });
  out.push(
    { label: 'relay with nothing behind the header', bytes: relay(ip, V.int(7946), V.str('x'), new Uint8Array(0)), expect: 'refuse' },
    {
      label: 'relay of a user event (not a response)',
      bytes: relay(ip, V.int(7946), V.str('x'), cat([SerfType.userEvent], V.map([]))),
      expect: 'refuse',
    },
    {
      label: 'relay of a relay',
      bytes: relay(ip, V.int(7946), V.str('x'), relay(ip, V.int(7946), V.str('x')).subarray(1)),
      expect: 'refuse',
    },
    { label: 'relay header map32 of 2^32−1', bytes: cat([MessageType.user, SerfType.relay], V.hugeMap()), expect: 'refuse' },
    {
      label: 'relay DestAddr 1000 deep',
      bytes: cat([MessageType.user, SerfType.relay], V.map([['DestAddr', V.deepMap(1000)]])),
      expect: 'refuse',
    },
    {
      label: 'relay DestAddr nil',
      bytes: cat([MessageType.user, SerfType.relay], V.map([['DestAddr', V.nil()]]), inner),
      expect: 'refuse',
    },
  );
  return out;
}

/** Packet structure: compounds, compress envelopes, CRCs. */
function packetStructureVariants(): Variant[] {
  const ping = (seq: number) => encodePing({ node: VICTIM, seqNo: seq, sourceAddr: null, sourcePort: 0, sourceNode: '' });
  const compress = (inner: Uint8Array) => encodeCompress({ algo: 0, buf: lzwCompress(inner) });
  let nested4 = ping(1);
  for (let i = 0; i < 4; i++) nested4 = compress(nested4);
  const nested5 = compress(nested4);
  const bomb = compress(cat([MessageType.user], new Uint8Array(1 << 20)));
  const lying255 = cat([MessageType.compound, 255], new Array(510).fill(0xff));
  const empty255 = cat([MessageType.compound, 255], new Array(510).fill(0));
  const compoundOfCompounds = encodeCompound([encodeCompound([encodeCompound([encodeCompound([encodeCompound([ping(2)])])])])]);
  return [
    { label: 'compound of 255 pings', bytes: encodeCompound(Array.from({ length: 255 }, (_, i) => ping(1000 + i))), expect: 'accept' },
    {
      label: 'compound of 255 parts declaring 65535 bytes each, nothing behind',
      bytes: lying255,
      expect: 'accept' /* counted as truncatedCompound */,
    },
    { label: 'compound of 255 empty parts', bytes: empty255, expect: 'refuse' },
    { label: 'compound declaring 255 parts, no lengths', bytes: Uint8Array.from([MessageType.compound, 255]), expect: 'refuse' },
    { label: 'compound with no count', bytes: Uint8Array.from([MessageType.compound]), expect: 'refuse' },
    { label: 'compress nested 4 deep', bytes: nested4, expect: 'accept' },
    { label: 'compress nested 5 deep', bytes: nested5, expect: 'refuse' },
    { label: 'compound nested 5 deep', bytes: compoundOfCompounds, expect: 'refuse' },
    { label: 'compression bomb (1 MiB of zeros)', bytes: bomb, expect: 'refuse' },
    { label: 'compress with algo 1', bytes: encodeCompress({ algo: 1, buf: lzwCompress(ping(3)) }), expect: 'refuse' },
    {
      label: 'compress with algo 2^32',
      bytes: message(MessageType.compress, [
        ['Algo', V.int(2 ** 32)],
        ['Buf', V.bin(lzwCompress(ping(3)))],
      ]),
      expect: 'refuse',
    },
    {
      label: 'compress with algo NaN',
      bytes: message(MessageType.compress, [
        ['Algo', V.nan()],
        ['Buf', V.bin(lzwCompress(ping(3)))],
      ]),
      expect: 'refuse',
    },
    {
      label: 'compress with Buf nil',
      bytes: message(MessageType.compress, [
        ['Algo', V.int(0)],
        ['Buf', V.nil()],
      ]),
      expect: 'refuse',
    },
    {
      label: 'compress with Buf of garbage',
      bytes: message(MessageType.compress, [
        ['Algo', V.int(0)],
        ['Buf', V.bin(Uint8Array.from([0xff, 0xff, 0xff]))],
      ]),
      expect: 'refuse',
    },
    { label: 'CRC header below the top level', bytes: encodeCompound([cat([MessageType.hasCrc, 0, 0, 0, 0], ping(4))]), expect: 'refuse' },
    { label: 'unknown type 200', bytes: Uint8Array.from([200, 0x80]), expect: 'accept' /* counted as unknownType */ },
    {
      label: 'encrypt type on an unencrypted node',
      bytes: Uint8Array.from([MessageType.encrypt, 1, 2, 3]),
      expect: 'accept' /* counted as unknownType */,
    },
    {
      label: 'pushPull type in a datagram',
      bytes: Uint8Array.from([MessageType.pushPull, 0x80]),
      expect: 'accept' /* counted as unknownType */,
    },
  ];
}

// ---- memberlist push/pull and Serf push/pull state, on a stream -----------------------------

const STATE: Field[] = [
  { key: 'Addr', kind: 'addr', base: bin(ADDR), semantic: mustBeIp },
  { key: 'Incarnation', kind: 'u32', base: int(1) },
  { key: 'Meta', kind: 'bytes', base: bin(META) },
  { key: 'Name', kind: 'str', base: str('pp-ghost'), semantic: nonEmptyName },
  { key: 'Port', kind: 'u16', base: int(7946) },
  {
    key: 'State',
    kind: 'int',
    base: int(0),
    semantic: (e) => (e.rawKind === 'nil' || (e.n !== null && e.n >= 0n && e.n <= 3n) ? 'accept' : 'refuse'),
  },
  // In a push/pull, versions no member can speak fail memberlist's verifyProtocol: all refused.
  {
    key: 'Vsn',
    kind: 'vsn',
    base: bin(VSN),
    semantic: (e) => (e.label.startsWith('Vsn nonsense') || e.label.startsWith('Vsn [255') ? 'refuse' : vsnRule(e)),
  },
];
const MAX_STREAM_RAW = 200_000;

function pushPull(header: [string, Raw][], states: Uint8Array[], userState: Uint8Array): Uint8Array {
  return cat([MessageType.pushPull], V.map(header), ...states, userState);
}
const header = (nodes: number, userStateLen: number): [string, Raw][] => [
  ['Join', V.bool(false)],
  ['Nodes', V.int(nodes)],
  ['UserStateLen', V.int(userStateLen)],
];

function pushPullVariants(): Variant[] {
  const state = (entries: [string, Raw][]) => V.map(entries);
  const out = variants('pushPull state', STATE, (entries) => pushPull(header(1, 0), [state(entries)], new Uint8Array(0)), MAX_STREAM_RAW);
  const one = state(STATE.map((f) => [f.key, f.base(0)]));
  const us = cat([SerfType.pushPull], V.map([]));
  for (const { edge, expect } of edgesFor('int', 0)) {
    // Nodes: 1 state follows; more cannot be read.
    const n = edge.n;
    // Nodes 0 turns the state's bytes into the user state, which is then not Serf's: refused.
    const verdict: Expect = expect !== 'accept' ? expect : n === 1n ? 'accept' : 'refuse';
    out.push({
      label: `pushPull.Nodes = ${edge.label}`,
      bytes: pushPull(
        [
          ['Join', V.bool(false)],
          ['Nodes', edge.raw],
          ['UserStateLen', V.int(us.length)],
        ],
        [one],
        us,
      ),
      expect: verdict,
    });
  }
  for (const { edge, expect } of edgesFor('int', 0)) {
    const n = edge.n;
    // A shorter user state than sent cuts Serf's state (refused there); 0 carries none.
    const verdict: Expect = expect !== 'accept' ? expect : n === null || n === 0n || n === BigInt(us.length) ? 'accept' : 'refuse';
    out.push({
      label: `pushPull.UserStateLen = ${edge.label}`,
      bytes: pushPull(
        [
          ['Join', V.bool(false)],
          ['Nodes', V.int(1)],
          ['UserStateLen', edge.raw],
        ],
        [one],
        us,
      ),
      expect: verdict,
    });
  }
  for (const { edge, expect } of edgesFor('bool', 0)) {
    out.push({
      label: `pushPull.Join = ${edge.label}`,
      bytes: pushPull(
        [
          ['Join', edge.raw],
          ['Nodes', V.int(1)],
          ['UserStateLen', V.int(0)],
        ],
        [one],
        new Uint8Array(0),
      ),
      expect,
    });
  }
  out.push(
    {
      label: 'pushPull declaring 65 536 states, one behind',
      bytes: pushPull(header(65_536, 0), [one], new Uint8Array(0)),
      expect: 'refuse',
    },
    { label: 'pushPull declaring 2^31 states', bytes: pushPull(header(2 ** 31, 0), [one], new Uint8Array(0)), expect: 'refuse' },
    {
      label: 'pushPull declaring a user state of 2^32−1 bytes',
      bytes: pushPull(header(1, 2 ** 32 - 1), [one], new Uint8Array(0)),
      expect: 'refuse',
    },
    { label: 'pushPull header map32 of 2^32−1', bytes: cat([MessageType.pushPull], V.hugeMap()), expect: 'refuse' },
    { label: 'pushPull state map32 of 2^32−1', bytes: pushPull(header(1, 0), [V.hugeMap()], new Uint8Array(0)), expect: 'refuse' },
    { label: 'pushPull state 1000 deep', bytes: pushPull(header(1, 0), [V.deepMap(1000)], new Uint8Array(0)), expect: 'refuse' },
    { label: 'pushPull state is an array', bytes: pushPull(header(1, 0), [V.arr(V.int(1))], new Uint8Array(0)), expect: 'refuse' },
    {
      label: 'pushPull of 1000 states of one name',
      bytes: pushPull(header(1000, 0), new Array(1000).fill(one), new Uint8Array(0)),
      expect: 'accept',
    },
  );
  return out;
}

/** Serf's push/pull state ([2] + messagePushPull) as a push/pull's user state. */
const SERF_STATE: Field[] = [
  { key: 'EventLTime', kind: 'u64', base: int(1) },
  { key: 'LTime', kind: 'u64', base: int(1) },
  { key: 'QueryLTime', kind: 'u64', base: int(1) },
];

function manyStatusTimes(n: number): Raw {
  const w = new Writer(n * 10).mapHeader(n);
  for (let i = 0; i < n; i++) w.str(`u${i}`).int(1);
  return w.finish();
}

function serfStateVariants(): Variant[] {
  const wrap = (entries: [string, Raw][]) => {
    const us = cat([SerfType.pushPull], V.map(entries));
    return pushPull(header(0, us.length), [], us);
  };
  const base: [string, Raw][] = SERF_STATE.map((f) => [f.key, f.base(0)]);
  const out = variants('serfState', SERF_STATE, wrap, MAX_STREAM_RAW);
  const field = (key: string, raw: Raw, label: string, expect: Expect) =>
    out.push({ label: `serfState.${key} = ${label}`, bytes: wrap([...base, [key, raw]]), expect });
  const slot = (ltime: Raw, events: Raw) =>
    V.map([
      ['Events', events],
      ['LTime', ltime],
    ]);
  const ev = (name: Raw, payload: Raw) =>
    V.map([
      ['Name', name],
      ['Payload', payload],
    ]);
  for (const { edge, expect } of edgesFor('u64', 0))
    field('Events', V.arr(slot(edge.raw, V.arr(ev(V.str(`pp-ev-${edge.label}`), V.str('p'))))), `[{LTime: ${edge.label}}]`, expect);
  for (const { edge, expect } of edgesFor('str', MAX_STREAM_RAW))
    field('Events', V.arr(slot(V.int(1), V.arr(ev(edge.raw, V.str('p'))))), `[{Events: [{Name: ${edge.label}}]}]`, expect);
  for (const { edge, expect } of edgesFor('bytes', MAX_STREAM_RAW))
    field(
      'Events',
      V.arr(slot(V.int(1), V.arr(ev(V.str(`pp-pl-${edge.label}`), edge.raw)))),
      `[{Events: [{Payload: ${edge.label}}]}]`,
      expect,
    );
  // A nil inside a map or slice: go-msgpack reads the zero value, we refuse it; either is harmless.
  const nilEither = (edge: Edge, expect: Expect): Expect => (edge.rawKind === 'nil' ? 'either' : expect);
  for (const { edge, expect } of edgesFor('u64', 0))
    field('StatusLTimes', V.map([[`unknown-${edge.label}`, edge.raw]]), `{unknown: ${edge.label}}`, nilEither(edge, expect));
  for (const { edge, expect } of edgesFor('str', MAX_STREAM_RAW))
    field('LeftMembers', V.arr(edge.raw), `[${edge.label}]`, nilEither(edge, expect));
  field('Events', V.arr(...new Array(512).fill(V.nil())), '512 nil slots (as Go sends)', 'accept');
  field('Events', V.str('x'), 'a string', 'refuse');
  field('Events', V.arr(V.int(1)), '[1]', 'refuse');
  field('Events', V.hugeArray(), 'array32 of 2^32−1', 'refuse');
  field('Events', V.deepArray(1000), '1000 deep', 'refuse');
  field('StatusLTimes', V.hugeMap(), 'map32 of 2^32−1', 'refuse');
  field('StatusLTimes', V.arr(), 'an array', 'refuse');
  field('LeftMembers', V.hugeArray(), 'array32 of 2^32−1', 'refuse');
  field('LeftMembers', V.map([]), 'a map', 'refuse');
  out.push(
    { label: 'serfState of another type byte', bytes: pushPull(header(0, 2), [], Uint8Array.from([7, 0x80])), expect: 'refuse' },
    { label: 'serfState body map32 of 2^32−1', bytes: pushPull(header(0, 6), [], cat([SerfType.pushPull], V.hugeMap())), expect: 'refuse' },
    { label: 'serfState of 300 000 status times', bytes: wrap([...base, ['StatusLTimes', manyStatusTimes(300_000)]]), expect: 'refuse' },
  );
  return out;
}

// ---- running a batch ---------------------------------------------------------------------------

const healthEvents: string[] = [];

function runPacketBatch(c: Cluster, layer: 'gossip' | 'serf', list: Variant[]): string[] {
  const victim = c.w.nodes.get(VICTIM)!;
  const wrong: string[] = [];
  for (const v of list) {
    const gossipBefore = victim.machine.counters.drops['malformed'] ?? 0;
    const crcBefore = victim.machine.counters.drops['crc'] ?? 0;
    const serfBefore = victim.serf!.drops['malformedSerfMessage'] ?? 0;
    const result = injectPacket(c, VICTIM, v.bytes, v.label);
    if (result === 'threw') continue; // recorded in c.escaped
    const refused =
      layer === 'gossip'
        ? (victim.machine.counters.drops['malformed'] ?? 0) - gossipBefore + (victim.machine.counters.drops['crc'] ?? 0) - crcBefore
        : (victim.serf!.drops['malformedSerfMessage'] ?? 0) - serfBefore;
    if (refused > 1) wrong.push(`${v.label}: counted ${refused} refusals for one input`);
    if (v.expect === 'refuse' && refused !== 1) wrong.push(`${v.label}: should be refused (one drop), was not`);
    if (v.expect === 'accept' && refused !== 0) wrong.push(`${v.label}: should be accepted, was refused`);
    // Let the cluster run a little between inputs, as traffic would.
    c.w.runFor(5);
  }
  return wrong;
}

function runStreamBatch(c: Cluster, list: Variant[]): string[] {
  const victim = c.w.nodes.get(VICTIM)!;
  const wrong: string[] = [];
  const counted = () =>
    (victim.machine.counters.drops['malformedNodeState'] ?? 0) +
    (victim.machine.counters.drops['incompatibleVersions'] ?? 0) +
    (victim.serf!.drops['malformedRemoteState'] ?? 0) +
    (victim.serf!.drops['badRemoteState'] ?? 0);
  for (const v of list) {
    const before = counted();
    const result = injectStream(c, VICTIM, v.bytes, v.label);
    if (result === 'threw') continue;
    const refused = (result === 'streamRefused' ? 1 : 0) + counted() - before;
    if (refused > 1) wrong.push(`${v.label}: counted ${refused} refusals for one input`);
    if (v.expect === 'refuse' && refused !== 1) wrong.push(`${v.label}: should be refused (one drop), was not`);
    if (v.expect === 'accept' && refused !== 0) wrong.push(`${v.label}: should be accepted, was refused`);
    c.w.runFor(5);
  }
  return wrong;
}

const BATCHES: Batch[] = [
  gossipBatch('ping', MessageType.ping, PING),
  gossipBatch('indirectPing', MessageType.indirectPing, INDIRECT_PING),
  gossipBatch('ack', MessageType.ack, ACK),
  gossipBatch('nack', MessageType.nack, NACK),
  gossipBatch('suspect', MessageType.suspect, ACCUSATION),
  gossipBatch('dead', MessageType.dead, ACCUSATION),
  gossipBatch('alive', MessageType.alive, ALIVE),
  { name: 'packet structure', layer: 'gossip', variants: packetStructureVariants },
  serfBatch('leave intent', SerfType.leave, LEAVE),
  serfBatch('join intent', SerfType.join, JOIN),
  serfBatch('user event', SerfType.userEvent, USER_EVENT),
  serfBatch('query', SerfType.query, QUERY),
  serfBatch('query response', SerfType.queryResponse, QUERY_RESPONSE),
  { name: 'relay', layer: 'serf', variants: relayVariants },
];

const SEED = seeds(1)[0]!;

describe('adversarial: every field of every message at its edges (simulator, 4 nodes, one victim)', () => {
  for (const [index, batch] of BATCHES.entries()) {
    it(`${batch.name}: each edge value is refused or accepted as Go's types say; the cluster stays whole`, () =>
      withSeed(SEED + index, (seed) => {
        const c = serfCluster(seed);
        const list = batch.variants();
        assert.ok(list.length > 0);
        const wrong = runPacketBatch(c, batch.layer, list);
        // The cluster is checked first, so one report says all that went wrong.
        const escaped = c.escaped.splice(0);
        healthEvents.push(assertHealthy(c, batch.name));
        // A push/pull round later: the health event is still delivered once, and all still alive.
        c.w.runFor(35_000);
        assertDeliveredOnce(c, healthEvents.slice(-1), batch.name);
        assertHealthy(c, `${batch.name} (after push/pull)`);
        assert.deepEqual(escaped, [], `${batch.name}: no exception escapes (${list.length} inputs)`);
        assert.deepEqual(wrong, [], `${batch.name}: decoder verdicts`);
      }));
  }

  for (const [index, [name, make]] of (
    [
      ['memberlist push/pull (stream)', pushPullVariants],
      ['Serf push/pull state (stream)', serfStateVariants],
    ] as const
  ).entries()) {
    it(`${name}: each edge value is refused or accepted as Go's types say; the cluster stays whole`, () =>
      withSeed(SEED + 100 + index, (seed) => {
        const c = serfCluster(seed);
        const list = make();
        const wrong = runStreamBatch(c, list);
        const escaped = c.escaped.splice(0);
        assertHealthy(c, name);
        c.w.runFor(35_000);
        assertHealthy(c, `${name} (after push/pull)`);
        assert.deepEqual(escaped, [], `${name}: no exception escapes (${list.length} inputs)`);
        assert.deepEqual(wrong, [], `${name}: decoder verdicts`);
      }));
  }

  it('a user datagram with a huge or empty body, and every unknown Serf type, are dropped and counted', () =>
    withSeed(SEED + 200, (seed) => {
      const c = serfCluster(seed);
      const victim = c.w.nodes.get(VICTIM)!;
      injectPacket(c, VICTIM, Uint8Array.from([MessageType.user]), 'empty user message');
      injectPacket(
        c,
        VICTIM,
        cat([MessageType.user, SerfType.userEvent], new Uint8Array(MAX_PACKET_RAW).fill(0xff)),
        'user event of 60 000 bytes of 0xff',
      );
      for (let t = 10; t < 256; t++) injectPacket(c, VICTIM, Uint8Array.from([MessageType.user, t, 0x80]), `serf type ${t}`);
      assert.equal(victim.serf!.drops['unknownSerfType'], 246, 'each unknown Serf type counted once');
      assert.equal(victim.serf!.drops['malformedSerfMessage'], 1, 'the 0xff body is malformed');
      assertHealthy(c, 'unknown serf types');
    }));
});

describe('adversarial: Serf internal query payloads at their edges (decoders)', () => {
  // Conflict answers and key-management payloads travel inside queries and responses; a
  // simulated node has no keyring, so they are driven through their decoders directly.
  const total = (f: () => unknown): 'ok' | 'refused' | string => {
    try {
      f();
      return 'ok';
    } catch (err) {
      return err instanceof DecodeError ? 'refused' : `${(err as Error).name}: ${(err as Error).message}`;
    }
  };

  it('conflict response, key request, key response, relay and Serf state decoders take every edge value without throwing anything but DecodeError', () => {
    const escaped: string[] = [];
    const check = (label: string, f: () => unknown, expect?: Expect) => {
      const r = total(f);
      if (r !== 'ok' && r !== 'refused') escaped.push(`${label}: ${r}`);
      else if (expect === 'refuse' && r !== 'refused') escaped.push(`${label}: should be refused`);
      else if (expect === 'accept' && r !== 'ok') escaped.push(`${label}: should be accepted`);
    };
    const conflict: [string, FieldKind][] = [
      ['Addr', 'addr'],
      ['DelegateCur', 'u8'],
      ['DelegateMax', 'u8'],
      ['DelegateMin', 'u8'],
      ['Name', 'str'],
      ['Port', 'u16'],
      ['ProtocolCur', 'u8'],
      ['ProtocolMax', 'u8'],
      ['ProtocolMin', 'u8'],
      ['Status', 'int'],
    ];
    for (const [key, kind] of conflict) {
      for (const { edge } of edgesFor(kind, 60_000)) {
        check(`conflict.${key} = ${edge.label}`, () =>
          decodeConflictResponse(
            cat(
              [SerfType.conflictResponse],
              V.map([
                [key, edge.raw],
                ['Tags', V.map([])],
              ]),
            ),
          ),
        );
      }
    }
    for (const raw of [V.hugeMap(), V.deepMap(1000), V.nil(), V.int(1), new Uint8Array(0)])
      check('conflict body', () => decodeConflictResponse(cat([SerfType.conflictResponse], raw)));
    check('conflict Tags map32', () => decodeConflictResponse(cat([SerfType.conflictResponse], V.map([['Tags', V.hugeMap()]]))), 'refuse');
    for (const { edge, expect } of edgesFor('bytes', 60_000))
      check(`keyRequest.Key = ${edge.label}`, () => decodeKeyRequest(cat([SerfType.keyRequest], V.map([['Key', edge.raw]]))), expect);
    check('keyRequest of another type', () => decodeKeyRequest(Uint8Array.from([SerfType.keyResponse, 0x80])), 'refuse');
    check('keyRequest body map32', () => decodeKeyRequest(cat([SerfType.keyRequest], V.hugeMap())), 'refuse');
    const keyResponse: [string, FieldKind][] = [
      ['Message', 'str'],
      ['PrimaryKey', 'str'],
      ['Result', 'bool'],
    ];
    for (const [key, kind] of keyResponse) {
      for (const { edge, expect } of edgesFor(kind, 60_000))
        check(`keyResponse.${key} = ${edge.label}`, () => decodeKeyResponse(cat([SerfType.keyResponse], V.map([[key, edge.raw]]))), expect);
    }
    // A nil inside []string: go-msgpack reads it as "", we refuse it; either is harmless.
    for (const { edge, expect } of edgesFor('str', 60_000))
      check(
        `keyResponse.Keys = [${edge.label}]`,
        () => decodeKeyResponse(cat([SerfType.keyResponse], V.map([['Keys', V.arr(edge.raw)]]))),
        edge.rawKind === 'nil' ? 'either' : expect,
      );
    check('keyResponse.Keys array32', () => decodeKeyResponse(cat([SerfType.keyResponse], V.map([['Keys', V.hugeArray()]]))), 'refuse');
    check(
      'keyResponse.Keys 1000 deep',
      () => decodeKeyResponse(cat([SerfType.keyResponse], V.map([['Keys', V.deepArray(1000)]]))),
      'refuse',
    );
    for (const { edge } of edgesFor('u16', 0))
      check(`relay port ${edge.label}`, () =>
        decodeRelay(
          V.map([
            [
              'DestAddr',
              V.map([
                ['IP', V.bin(ADDR)],
                ['Port', edge.raw],
              ]),
            ],
          ]),
        ),
      );
    for (const { edge, expect } of edgesFor('u64', 0))
      check(`serfState.LTime = ${edge.label}`, () => decodeSerfState(V.map([['LTime', edge.raw]])), expect);
    assert.deepEqual(escaped, []);
  });
});
