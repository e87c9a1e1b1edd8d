import {
  encodeAck,
  encodeAlive,
  encodeDead,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodePushPull,
  encodeSuspect,
  encodeUser,
} from '../../src/gossip/codec/messages.js';
import { encodeCompound, packPacket } from '../../src/gossip/codec/packet.js';

const LOCAL = Uint8Array.from([127, 0, 0, 1]);
const VSN = Uint8Array.from([1, 5, 2, 2, 5, 5]);

/** Valid memberlist packets about `names` (and about strangers), to be mutated by fuzzers. */
export function validPackets(names: readonly string[], host: Uint8Array = LOCAL): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const [i, node] of [...names, 'stranger'].entries()) {
    const alive = encodeAlive({ node, incarnation: i + 1, addr: host, port: 7946 + i, meta: Uint8Array.from([0xff, 0x80]), vsn: VSN });
    const msgs = [
      encodePing({ node, seqNo: i, sourceAddr: host, sourcePort: 7000, sourceNode: 'x' }),
      encodeIndirectPing({ node, seqNo: i, target: host, port: 7946, nack: true, sourceAddr: host, sourcePort: 7000, sourceNode: 'x' }),
      encodeAck({ seqNo: i, payload: Uint8Array.from([1, 2, 3]) }),
      encodeNack({ seqNo: i }),
      encodeSuspect({ node, incarnation: i + 1, from: 'x' }),
      encodeDead({ node, incarnation: i + 1, from: 'x' }),
      alive,
      encodeUser(Uint8Array.from([1, 0x82, 0xa5, 0x4c, 0x54, 0x69, 0x6d, 0x65, 1])),
    ];
    out.push(
      ...msgs,
      encodeCompound(msgs.slice(0, 5)),
      packPacket(msgs, { compress: true, crc: true }),
      packPacket([alive], { compress: false, crc: true }),
    );
  }
  return out;
}

export function validStreams(names: readonly string[]): Uint8Array[] {
  const states = names.map((name, i) => ({
    name,
    addr: LOCAL,
    port: 7946 + i,
    meta: Uint8Array.from([0xff, 0x80]),
    incarnation: 1,
    state: 0 as const,
    vsn: VSN,
  }));
  const pp = encodePushPull({ join: false, nodes: states.length, userStateLen: 2 }, states, Uint8Array.from([2, 0xc0]));
  return [
    pp,
    packPacket([pp], { compress: true, crc: false }),
    encodePing({ node: names[0] ?? '', seqNo: 1, sourceAddr: null, sourcePort: 0, sourceNode: '' }),
  ];
}

/** Byte-level mutations: flips, truncation, insertion, deletion, splicing, garbage. */
export function mutate(input: Uint8Array, random: () => number): Uint8Array {
  const bytes = Array.from(input);
  const rounds = 1 + Math.floor(random() * 4);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(random() * (bytes.length + 1));
    switch (Math.floor(random() * 7)) {
      case 0:
        if (bytes.length) bytes[at % bytes.length]! ^= 1 << Math.floor(random() * 8);
        break;
      case 1:
        bytes.length = at;
        break;
      case 2:
        bytes.splice(at, 0, Math.floor(random() * 256));
        break;
      case 3:
        bytes.splice(at, 1 + Math.floor(random() * 8));
        break;
      case 4:
        if (bytes.length)
          bytes[at % bytes.length] = [0x00, 0x7f, 0x80, 0xc0, 0xc1, 0xcf, 0xdb, 0xdd, 0xdf, 0xff][Math.floor(random() * 10)]!;
        break;
      case 5:
        bytes.splice(at, 0, ...bytes.slice(0, Math.floor(random() * 32)));
        break;
      default:
        for (let i = 0; i < 1 + random() * 8; i++) bytes.splice(Math.floor(random() * (bytes.length + 1)), 0, Math.floor(random() * 256));
    }
  }
  return Uint8Array.from(bytes);
}

export function garbage(random: () => number, maxBytes: number): Uint8Array {
  const out = new Uint8Array(Math.floor(random() * maxBytes));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(random() * 256);
  return out;
}
