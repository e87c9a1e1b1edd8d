// Run as a process by test/ring/ring-scale.test.ts: a ring alone with P partitions (argv[2])
// drains its initial events, recording how many had come out at each turn of the event loop.
// Its own process, because the test runner's async context tracking makes each promise (one per
// event) an order of magnitude slower.
import { createRing } from '../../src/ring/ring.js';

const partitions = Number(process.argv[2]);
const ring = await createRing({ bind: '127.0.0.1:0', profile: 'local', name: 'solo', partitions });
let count = 0;
let ascending = true;
let widest = 0;
let turns = 0;
let atTurn = 0;
let done = false;
const tick = () => {
  widest = Math.max(widest, count - atTurn);
  atTurn = count;
  turns++;
  if (!done) setImmediate(tick);
};
setImmediate(tick);
for await (const e of ring.events()) {
  ascending &&= e.type === 'acquire' && e.replica === 0 && e.partition === count;
  if (++count === partitions) break;
}
done = true;
widest = Math.max(widest, count - atTurn);
await ring.close();
process.stdout.write(`${JSON.stringify({ count, ascending, widest, turns })}\n`);
