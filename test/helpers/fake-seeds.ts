// TCP "seeds" that answer a join the way a broken or foreign peer would, for tests of join
// failures (test/io/join-failures.test.ts, test/cli/agent-join.test.ts).
import { type Server, type Socket, createServer } from 'node:net';
import { NodeState, encodePushPull } from '../../src/gossip/codec/messages.js';

export class FakeSeeds {
  readonly #servers: Server[] = [];

  /** A seed on 127.0.0.1 that does `onConnection` with every connection; its `host:port`. */
  async start(onConnection: (socket: Socket) => void): Promise<string> {
    const server = createServer((socket) => {
      socket.on('error', () => {});
      onConnection(socket);
    });
    this.#servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  /** A seed that answers the first bytes it reads with `reply`. */
  replying(reply: Uint8Array): Promise<string> {
    return this.start((socket) => socket.once('data', () => socket.write(reply)));
  }

  closeAll(): void {
    for (const s of this.#servers) s.close();
  }
}

/** A push/pull whose one member speaks protocol 6 only: outside every version we support. */
export const FUTURE_PUSH_PULL = encodePushPull(
  { join: false, nodes: 1, userStateLen: 0 },
  [
    {
      name: 'future',
      addr: Uint8Array.from([127, 0, 0, 1]),
      port: 1,
      meta: new Uint8Array(0),
      incarnation: 1,
      state: NodeState.alive,
      vsn: Uint8Array.from([6, 6, 6, 2, 5, 5]),
    },
  ],
  new Uint8Array(0),
);
