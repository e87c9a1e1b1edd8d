/**
 * A deterministic world of gossip nodes: the real machine and the real codec on a virtual clock
 * and a simulated network. One seed reproduces one run.
 */
import { type Address, addressKey } from '../gossip/address.js';
import { DecodeError, TruncatedError } from '../gossip/codec/decode-error.js';
import { parseStream } from '../gossip/codec/stream.js';
import { type GossipConfig } from '../gossip/config.js';
import { type Effect, GossipMachine } from '../gossip/machine.js';
import { StreamFailure, type StreamFailureReason } from '../gossip/stream-outcome.js';
import type { MemberView } from '../gossip/members.js';
import { type SerfEffect, SerfMachine, type UserEvent } from '../serf/serf-machine.js';
import type { SerfChange, SerfMember } from '../serf/serf-members.js';
import { VirtualClock } from './clock.js';
import { SimNetwork } from './network.js';
import { seededRandom } from './prng.js';

/** What the world drives: the gossip machine alone, or the Serf layer over it. */
type Driver = GossipMachine | SerfMachine;

export interface SimNode {
  readonly name: string;
  readonly address: Address;
  /** The gossip layer (inside `serf` when the world runs the Serf layer). */
  machine: GossipMachine;
  serf: SerfMachine | undefined;
  /** Bumped on crash and restart: events of an older life are ignored. */
  life: number;
  up: boolean;
  left: boolean;
  /** The pending join stream, retried with backoff until one works (as `swimring agent --join` does). */
  join: { stream: number; seed: string; backoffMs: number } | undefined;
}

export interface MemberEvent {
  atMs: number;
  observer: string;
  change: 'join' | 'update' | 'leave';
  member: MemberView;
}

export interface SerfEvent {
  atMs: number;
  observer: string;
  /** The observer's life (bumped by crash and restart). */
  life: number;
  change: SerfChange;
  member: SerfMember;
}

export interface DeliveredEvent {
  atMs: number;
  observer: string;
  event: UserEvent;
}

export class SimWorld {
  readonly seed: number;
  readonly clock = new VirtualClock();
  readonly network: SimNetwork;
  readonly random: () => number;
  readonly config: GossipConfig;
  readonly nodes = new Map<string, SimNode>();
  readonly #byAddress = new Map<string, SimNode>();
  /** Every membership notification, for assertions; bounded by `maxEvents`. */
  readonly events: MemberEvent[] = [];
  maxEvents = 100_000;
  onEvent: ((e: MemberEvent) => void) | undefined;
  /** With the Serf layer: its member notifications and the user events delivered. */
  readonly serfEvents: SerfEvent[] = [];
  readonly userEvents: DeliveredEvent[] = [];
  /** Called with each Serf member notification as it happens (whatever maxEvents says). */
  onSerfEvent: ((e: SerfEvent) => void) | undefined;
  /** Called when a node's join succeeded, after the member notifications of its state exchange. */
  onJoined: ((name: string, life: number) => void) | undefined;
  readonly #serf: boolean;

  constructor(seed: number, config: GossipConfig, options: { serf?: boolean } = {}) {
    this.seed = seed;
    this.#serf = options.serf ?? false;
    this.random = seededRandom(seed);
    this.network = new SimNetwork(seededRandom(seed ^ 0x9e3779b9));
    this.config = config;
  }

  get nowMs(): number {
    return this.clock.nowMs;
  }

  /** Adds and starts a node at 10.x.y.z:7946; joins `seed` if given. */
  addNode(name: string, seed?: string): SimNode {
    const index = this.nodes.size + 1;
    const address = { host: `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`, port: 7946 };
    const node: SimNode = { name, address, machine: undefined as never, serf: undefined, life: 0, up: true, left: false, join: undefined };
    this.#install(node);
    this.nodes.set(name, node);
    this.#byAddress.set(addressKey(address), node);
    this.#boot(node, seed);
    return node;
  }

  /**
   * Starts `n` nodes that already know each other (as after convergence), without the join
   * storm: each is given the others' alive state with GossipMachine.restore. Returns the names.
   */
  addConvergedCluster(n: number, prefix = 'n'): string[] {
    const names = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const nodes = names.map((name) => this.addNode(name));
    const vsn = Uint8Array.from([1, 5, 2, 2, 5, 5]);
    const meta = Uint8Array.from([0xff, 0x80]);
    const states = nodes.map((node) => ({
      name: node.name,
      addr: Uint8Array.from(node.address.host.split('.').map(Number)),
      port: node.address.port,
      meta,
      incarnation: 1,
      state: 0 as const,
      vsn,
    }));
    for (const node of nodes) {
      this.#driver(node).restore(states, this.nowMs);
      this.#flush(node);
    }
    return names;
  }

  /** kill -9: the node stops answering at once. */
  crash(name: string): void {
    const node = this.#get(name);
    node.up = false;
    node.life++;
  }

  /**
   * Restarts a crashed node with the same name and address (incarnation starts over), joining
   * `seed`; with no seed it is alone until someone contacts it.
   */
  restart(name: string, seed?: string): void {
    const node = this.#get(name);
    node.life++;
    node.up = true;
    node.left = false;
    this.#install(node);
    this.#boot(node, seed);
  }

  leave(name: string): void {
    const node = this.#get(name);
    this.#driver(node).leave(this.nowMs);
    this.#flush(node);
  }

  /** Serf layer: `name` sends a user event. */
  userEvent(name: string, event: string, payload: Uint8Array): void {
    const node = this.#get(name);
    this.#serfOf(node).userEvent(event, payload, false, this.nowMs);
    this.#flush(node);
  }

  /** Serf layer: `name` replaces its tags (gossiped with a new incarnation). */
  setTags(name: string, tags: Readonly<Record<string, string>>): void {
    const node = this.#get(name);
    this.#serfOf(node).setTags(tags, this.nowMs);
    this.#flush(node);
  }

  /** Serf layer: `name` forces `subject` to leave (Serf's force-leave). */
  forceLeave(name: string, subject: string, prune = false): void {
    const node = this.#get(name);
    this.#serfOf(node).forceLeave(subject, prune, this.nowMs);
    this.#flush(node);
  }

  /** Serf layer: the status `observer` holds for `subject`. */
  serfStatusOf(observer: string, subject: string): string | undefined {
    return this.#serfOf(this.#get(observer)).members.get(subject)?.status;
  }

  #serfOf(node: SimNode): SerfMachine {
    if (!node.serf) throw new Error('this world runs without the Serf layer');
    return node.serf;
  }

  join(name: string, seed: string): void {
    const node = this.#get(name);
    this.#startJoin(node, seed, 1000);
    this.#flush(node);
  }

  runFor(ms: number, afterEachStep?: () => void): void {
    this.runUntil(this.nowMs + ms, afterEachStep);
  }

  runUntil(untilMs: number, afterEachStep?: () => void): void {
    while (this.clock.step(untilMs)) afterEachStep?.();
    this.clock.nowMs = Math.max(this.clock.nowMs, untilMs);
  }

  /** Runs until `done()` holds (checked after each step) or `limitMs` passes; returns the time it held, or null. */
  runUntilTrue(done: () => boolean, limitMs: number, afterEachStep?: () => void): number | null {
    const until = this.nowMs + limitMs;
    if (done()) return this.nowMs;
    while (this.clock.step(until)) {
      afterEachStep?.();
      if (done()) return this.nowMs;
    }
    return null;
  }

  /** The status `observer` holds for `subject`, or undefined if it does not know it. */
  statusOf(observer: string, subject: string): string | undefined {
    return this.#get(observer).machine.members.statusOf(subject);
  }

  liveNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up && !n.left);
  }

  /** A fresh machine (and Serf layer) for the node: on creation and on restart. */
  #install(node: SimNode): void {
    const options = {
      config: this.config,
      local: { name: node.name, host: node.address.host, port: node.address.port },
      random: seededRandom(Math.floor(this.random() * 2 ** 32)),
    };
    if (this.#serf) {
      node.serf = new SerfMachine(options);
      node.machine = node.serf.gossip;
    } else {
      node.serf = undefined;
      node.machine = new GossipMachine(options);
    }
  }

  #driver(node: SimNode): Driver {
    return node.serf ?? node.machine;
  }

  #boot(node: SimNode, seed: string | undefined): void {
    this.#driver(node).start(this.nowMs);
    node.join = undefined;
    if (seed !== undefined) this.#startJoin(node, seed, 1000);
    this.#flush(node);
  }

  #startJoin(node: SimNode, seed: string, backoffMs: number): void {
    node.join = { stream: this.#driver(node).join(this.#get(seed).address, this.nowMs), seed, backoffMs };
  }

  /** A failed join is retried after a doubling backoff (1 s up to 30 s). */
  #joinSettled(node: SimNode, life: number, ok: boolean): void {
    const join = node.join;
    node.join = undefined;
    if (ok || join === undefined) return;
    this.clock.at(this.nowMs + join.backoffMs, () => {
      if (node.life !== life || !node.up) return;
      this.#startJoin(node, join.seed, Math.min(join.backoffMs * 2, 30_000));
      this.#flush(node);
    });
  }

  #get(name: string): SimNode {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  /** Executes a node's effects against the world. */
  #flush(node: SimNode): void {
    const life = node.life;
    const machine = this.#driver(node);
    for (const effect of machine.drain()) this.#execute(node, life, machine, effect);
  }

  #alive(node: SimNode, life: number, machine: Driver): boolean {
    return node.up && node.life === life && this.#driver(node) === machine;
  }

  #execute(node: SimNode, life: number, machine: Driver, effect: Effect | SerfEffect): void {
    const from = addressKey(node.address);
    switch (effect.type) {
      case 'timer':
        this.clock.at(effect.atMs, () => {
          if (!this.#alive(node, life, machine)) return;
          machine.handleTimer(effect.timer as never, this.nowMs);
          this.#flush(node);
        });
        return;
      case 'send': {
        const to = addressKey(effect.to);
        for (const delay of this.network.datagramDelays(from, to)) {
          this.clock.at(this.nowMs + delay, () => {
            const target = this.#byAddress.get(to);
            if (!target || !target.up) return;
            this.#driver(target).handlePacket(node.address, effect.bytes, this.nowMs);
            this.#flush(target);
          });
        }
        return;
      }
      case 'stream': {
        const to = addressKey(effect.to);
        const settle = (reply: Parameters<GossipMachine['handleStreamReply']>[1]) => {
          const ok = machine.handleStreamReply(effect.id, reply, this.nowMs).ok;
          const joining = node.join?.stream === effect.id;
          if (joining) this.#joinSettled(node, life, ok);
          this.#flush(node);
          if (joining && ok) this.onJoined?.(node.name, life);
        };
        const fail = (atMs: number, reason: StreamFailureReason, message: string) =>
          this.clock.at(atMs, () => {
            if (this.#alive(node, life, machine)) settle(new StreamFailure(reason, message));
          });
        if (!this.network.reachable(from, to) || !this.network.reachable(to, from)) {
          fail(effect.deadlineMs, 'timeout', 'no reply in time');
          return;
        }
        const there = this.nowMs + this.network.streamDelay();
        this.clock.at(there, () => {
          const target = this.#byAddress.get(to);
          if (!target || !target.up) {
            fail(this.nowMs + this.network.streamDelay(), 'refused', 'connection refused');
            return;
          }
          let reply: Uint8Array | null;
          try {
            const parsed = parseStream(effect.bytes, this.config.maxStreamBytes);
            if (parsed.status !== 'complete') throw new TruncatedError('incomplete stream');
            reply = this.#driver(target).handleStreamRequest(node.address, parsed.message, this.nowMs);
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
            reply = null;
          }
          this.#flush(target);
          const back = this.nowMs + this.network.streamDelay();
          if (reply === null || back > effect.deadlineMs) {
            if (reply === null) fail(Math.min(back, effect.deadlineMs), 'closed', 'no reply');
            else fail(effect.deadlineMs, 'timeout', 'no reply in time');
            return;
          }
          const bytes = reply;
          this.clock.at(back, () => {
            if (!this.#alive(node, life, machine)) return;
            let message;
            try {
              const parsed = parseStream(bytes, this.config.maxStreamBytes);
              message = parsed.status === 'complete' ? parsed.message : new StreamFailure('malformed', 'incomplete reply');
            } catch (err) {
              message = new StreamFailure('malformed', err instanceof Error ? err.message : String(err));
            }
            settle(message);
          });
        });
        return;
      }
      case 'member': {
        if ('meta' in effect.member) {
          // The gossip layer's notification (a world without the Serf layer).
          if (this.events.length < this.maxEvents) {
            const e = { atMs: this.nowMs, observer: node.name, change: effect.change as MemberEvent['change'], member: effect.member };
            this.events.push(e);
            this.onEvent?.(e);
          }
        } else {
          const e = { atMs: this.nowMs, observer: node.name, life, change: effect.change, member: effect.member };
          if (this.serfEvents.length < this.maxEvents) this.serfEvents.push(e);
          this.onSerfEvent?.(e);
        }
        return;
      }
      case 'event':
        if (this.userEvents.length < this.maxEvents) this.userEvents.push({ atMs: this.nowMs, observer: node.name, event: effect.event });
        return;
      case 'left':
        // Like a Serf agent: keep answering probes briefly (LeavePropagateDelay), then exit.
        node.left = true;
        this.clock.at(this.nowMs + 1000, () => {
          if (node.life !== life) return;
          node.up = false;
          node.life++;
        });
        return;
      default:
        // streamSend (not simulated), user and remoteState (consumed by the Serf layer when it
        // runs), conflicts, queries and their answers: nothing for the world to do.
        return;
    }
  }
}
