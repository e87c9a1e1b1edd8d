/**
 * The agent's --rpc-addr and --rpc-auth: checked before anything binds, then the RPC server
 * started once the node exists. The default address (Serf's 127.0.0.1:7373) is best effort:
 * when it is taken (another agent on this machine) the agent warns and runs without RPC; an
 * address given explicitly must bind or the agent does not start.
 */
import type { Logger } from 'pino';
import { type GossipNode, parseHostPort } from '../../io/gossip-node.js';
import type { EventScript } from '../event-handlers.js';
import { isLoopback } from '../http-flags.js';
import { UsageError } from '../usage.js';
import type { LogHub } from './log-hub.js';
import { DEFAULT_RPC_ADDR, RpcServer } from './server.js';

export interface RpcFlags {
  host: string;
  port: number;
  explicit: boolean;
  authKey: string | undefined;
}

/** `--rpc-addr HOST:PORT` (default 127.0.0.1:7373); '' or 'off' turns RPC off. */
export function rpcFlags(addr: string | undefined, auth: string | undefined): RpcFlags | null {
  const off = addr !== undefined && (addr.trim() === '' || addr.trim().toLowerCase() === 'off');
  if (off) {
    if (auth !== undefined) throw new UsageError('--rpc-auth needs RPC (--rpc-addr is off)');
    return null;
  }
  let parsed: { host: string; port: number };
  try {
    parsed = parseHostPort('rpc-addr', addr ?? DEFAULT_RPC_ADDR);
  } catch {
    throw new UsageError(`--rpc-addr must be HOST:PORT, '' or off, got ${JSON.stringify(addr)}`);
  }
  if (auth !== undefined && auth === '') throw new UsageError('--rpc-auth must not be empty');
  return { ...parsed, explicit: addr !== undefined, authKey: auth };
}

/** Starts the RPC server, or returns null when the default address is taken (logged). */
export async function startAgentRpc(
  flags: RpcFlags,
  options: {
    node: GossipNode;
    logger: Logger;
    logs: LogHub;
    join: (seeds: string[], o: { signal: AbortSignal }) => Promise<number>;
    leave: () => Promise<void>;
    eventScripts?: readonly EventScript[];
  },
): Promise<RpcServer | null> {
  try {
    const rpc = await RpcServer.listen({
      node: options.node,
      host: flags.host,
      port: flags.port,
      ...(flags.authKey !== undefined ? { authKey: flags.authKey } : {}),
      logger: options.logger,
      logs: options.logs,
      join: options.join,
      leave: options.leave,
      ...(options.eventScripts ? { eventScripts: options.eventScripts } : {}),
    });
    if (!isLoopback(flags.host) && flags.authKey === undefined) {
      options.logger.warn(
        { rpc: rpc.address },
        '--rpc-addr listens beyond loopback with no --rpc-auth: anyone who can reach it can control this agent',
      );
    }
    return rpc;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    if (flags.explicit) throw new UsageError(`--rpc-addr ${flags.host}:${flags.port} failed: ${code}`);
    options.logger.warn(
      { rpc: `${flags.host}:${flags.port}`, code },
      'Serf RPC not started: the default --rpc-addr is not free (give --rpc-addr HOST:PORT, or off)',
    );
    return null;
  }
}
