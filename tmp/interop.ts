import { GossipNode } from '../src/io/gossip-node.js';
const node = await GossipNode.create({ name: 'ts1', bind: '127.0.0.1:7950' });
node.on('member-join', (m) => console.log('join', m.name, m.host, m.port));
console.log('joined', await node.join(['127.0.0.1:7946']));
await new Promise((r) => setTimeout(r, 4000));
console.log(node.members().map((m) => `${m.name}:${m.status}:${m.incarnation}`).join(' '));
console.log(JSON.stringify(node.counters));
await new Promise((r) => setTimeout(r, 60000));
