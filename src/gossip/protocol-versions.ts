/**
 * Protocol versions. Every node advertises six bytes, [pmin, pmax, pcur, dmin, dmax, dcur]: the
 * range of memberlist protocol versions it understands and the one it speaks, then the same for
 * the delegate protocol (Serf's).
 */
import type { PushNodeState } from './codec/messages.js';
import { ALIVE, type MemberTable } from './members.js';

/**
 * The versions a Serf 0.9.4 agent advertises: memberlist 1..5 speaking 2, Serf 2..5 speaking 5
 * (docs/protocol.md#protocol-versions).
 */
export const DEFAULT_VSN = Uint8Array.from([1, 5, 2, 2, 5, 5]);

/** Non-zero ranges, each current version inside its range. */
export function sensibleVersions(v: Uint8Array): boolean {
  const [pmin, pmax, pcur, dmin, dmax, dcur] = v as unknown as number[];
  return pmin! > 0 && pmin! <= pmax! && pcur! >= pmin! && pcur! <= pmax! && dmin! > 0 && dmin! <= dmax! && dcur! >= dmin! && dcur! <= dmax!;
}

/**
 * memberlist's verifyProtocol: every node, ours and theirs, must speak a protocol (and a
 * delegate protocol) inside the range all alive nodes understand.
 */
export function versionsCompatible(remote: readonly PushNodeState[], members: MemberTable): boolean {
  // Two passes over the members, ours and theirs, with nothing allocated per member: a
  // push/pull may carry tens of thousands of states (docs/budgets.md).
  const range = { maxPMin: 0, minPMax: 255, maxDMin: 0, minDMax: 255 };
  const widen = (vsn: Uint8Array) => {
    range.maxPMin = Math.max(range.maxPMin, vsn[0]!);
    range.minPMax = Math.min(range.minPMax, vsn[1]!);
    range.maxDMin = Math.max(range.maxDMin, vsn[3]!);
    range.minDMax = Math.min(range.minDMax, vsn[4]!);
  };
  const fits = (vsn: Uint8Array) =>
    vsn[2]! >= range.maxPMin && vsn[2]! <= range.minPMax && vsn[5]! >= range.maxDMin && vsn[5]! <= range.minDMax;
  const t = members;
  // memberlist skips members without a version; a short one cannot be checked, so it fails.
  const usable = (vsn: Uint8Array) => vsn.length >= 6 || vsn.length === 0;
  for (const s of remote) if (s.state === ALIVE && !usable(s.vsn)) return false;
  for (const s of remote) if (s.state === ALIVE && s.vsn.length > 0) widen(s.vsn);
  for (const slot of t.slots()) if (t.status(slot) === ALIVE && t.endpoint(slot).vsn.length > 0) widen(t.endpoint(slot).vsn);
  // memberlist checks dead members here too, so one odd record of a long-gone member blocks
  // anti-entropy until it is reaped; only the members that take part count for us.
  for (const s of remote) if (s.state === ALIVE && s.vsn.length > 0 && !fits(s.vsn)) return false;
  for (const slot of t.slots())
    if (t.status(slot) === ALIVE && t.endpoint(slot).vsn.length > 0 && !fits(t.endpoint(slot).vsn)) return false;
  return true;
}
