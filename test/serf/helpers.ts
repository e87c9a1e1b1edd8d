// Fixtures shared by the Serf layer's tests: bytes from text, member views, memberlist packets
// carrying an alive or a Serf message, and SerfMachines started at time 0.
import { encodeAlive, encodeUser } from '../../src/gossip/codec/messages.js';
import { packPacket } from '../../src/gossip/codec/packet.js';
import { resolveGossipConfig } from '../../src/gossip/config.js';
import type { MemberView } from '../../src/gossip/members.js';
import { type KeyringControl, type SerfEffect, SerfMachine } from '../../src/serf/serf-machine.js';
import { encodeTags } from '../../src/serf/tags.js';

/** 2^64 − 1, the largest Go uint64 (a Lamport time), written out rather than taken from src. */
export const MAX = 2n ** 64n - 1n;

export const text = (s: string) => new TextEncoder().encode(s);

/** A member as the gossip layer shows it: at 10.0.0.2:7946, no tags, incarnation 1. */
export const view = (name: string, status: MemberView['status'] = 'alive'): MemberView => ({
  name,
  host: '10.0.0.2',
  port: 7946,
  meta: encodeTags({}),
  vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
  incarnation: 1,
  status,
});

/** A memberlist packet with alive{incarnation 1} about `name` at 10.0.0.`ip`:7946, no tags. */
export const alivePacket = (name: string, ip: number) =>
  packPacket(
    [
      encodeAlive({
        incarnation: 1,
        node: name,
        addr: Uint8Array.from([10, 0, 0, ip]),
        port: 7946,
        meta: encodeTags({}),
        vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
      }),
    ],
    { compress: false, crc: false },
  );

/** A memberlist packet with one user message: the Serf message given. */
export const serfPacket = (serfMessage: Uint8Array) => packPacket([encodeUser(serfMessage)], { compress: false, crc: false });

/** The effects of one type. */
export const of = <T extends SerfEffect['type']>(effects: SerfEffect[], type: T) =>
  effects.filter((e): e is Extract<SerfEffect, { type: T }> => e.type === type);

/** The user events delivered, out of the effects. */
export const events = (effects: SerfEffect[]) => effects.flatMap((e) => (e.type === 'event' ? [e.event] : []));

/**
 * `me` at 10.0.0.1:7946 with tags { role: 'web' } and user-event coalescing on (1 s period,
 * 200 ms quiet), alone, started at 0 and drained.
 */
export const machine = (keyring?: KeyringControl) => {
  const m = new SerfMachine({
    config: resolveGossipConfig('lan', { userCoalescePeriodMs: 1000, userQuiescentPeriodMs: 200 }),
    local: { name: 'me', host: '10.0.0.1', port: 7946 },
    tags: { role: 'web' },
    random: () => 0.5,
    ...(keyring ? { keyring } : {}),
  });
  m.start(0);
  m.drain();
  return m;
};

/** `me` at 10.0.0.1:7946 with the lan profile and no tags, started at 0, knowing `b` (alive), drained. */
export const machineKnowingB = () => {
  const m = new SerfMachine({ config: resolveGossipConfig('lan'), local: { name: 'me', host: '10.0.0.1', port: 7946 }, random: () => 0.5 });
  m.start(0);
  m.handlePacket({ host: '10.0.0.2', port: 7946 }, alivePacket('b', 2), 0);
  m.drain();
  return m;
};
