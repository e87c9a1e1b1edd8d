/**
 * libring's README example, working: every node serves HTTP, and a request for /some/path is
 * answered by the primary owner of that path's partition; other nodes forward it there (and to
 * the next owner if the primary cannot be reached). Run three:
 *
 *   npx tsx examples/http-router.ts --name a --bind 127.0.0.1:7001 --http 127.0.0.1:8001
 *   npx tsx examples/http-router.ts --name b --bind 127.0.0.1:7002 --http 127.0.0.1:8002 --join 127.0.0.1:7001
 *   npx tsx examples/http-router.ts --name c --bind 127.0.0.1:7003 --http 127.0.0.1:8003 --join 127.0.0.1:7001
 *   curl 127.0.0.1:8002/users/42      # "users/42 served by <owner>" from whichever node you ask
 */
import { createServer, request } from 'node:http';
import { parseArgs } from 'node:util';
import { createRing } from '../src/index.js';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    bind: { type: 'string' },
    http: { type: 'string' },
    join: { type: 'string', multiple: true, default: [] },
  },
});
if (!values.name || !values.bind || !values.http) {
  console.error('usage: http-router.ts --name NAME --bind HOST:PORT --http HOST:PORT [--join HOST:PORT ...]');
  process.exit(2);
}
const [httpHost, httpPort] = values.http.split(':') as [string, string];

const ring = await createRing({
  name: values.name,
  bind: values.bind,
  profile: 'local',
  tags: { http: `http://${values.http}` },
  partitions: 256,
  replicas: 2,
  join: values.join,
  // The routers may start in any order: keep trying the seeds until one answers.
  joinRetry: { intervalMs: 500 },
});

const server = createServer((req, res) => {
  const path = (req.url ?? '/').slice(1);
  const owners = ring.membersForKey(path);
  if (owners[0]?.name === ring.name || req.headers['x-forwarded-by'] !== undefined) {
    res.end(`${path} served by ${ring.name}\n`);
    return;
  }
  // Forward to the owners, primary first; fail over when one is unreachable.
  const tryOwner = (i: number): void => {
    const owner = owners[i];
    if (!owner) {
      res.writeHead(502).end('no owner reachable\n');
      return;
    }
    const out = request(`${owner.tags['http']}${req.url}`, { method: req.method, headers: { 'x-forwarded-by': ring.name } }, (upstream) => {
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
    });
    out.on('error', () => tryOwner(i + 1));
    out.end();
  };
  tryOwner(0);
});
server.listen(Number(httpPort), httpHost, () =>
  console.log(`${values.name}: HTTP on ${values.http}, gossip on ${ring.node.address.host}:${ring.node.address.port}`),
);

const stop = () => {
  server.close();
  void ring.leave().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
