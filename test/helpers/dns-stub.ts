// A DNS server on 127.0.0.1 for tests: answers A and AAAA queries from a fixed table (RFC 1035
// wire format, one question per query), NXDOMAIN for other names. What a Kubernetes headless
// Service's DNS does for its pods, without a cluster.
import { type Socket, createSocket } from 'node:dgram';

export interface DnsStub {
  address: string;
  queries: { name: string; type: 'A' | 'AAAA' | number }[];
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

export async function startDnsStub(records: Record<string, { a?: string[]; aaaa?: string[] }>): Promise<DnsStub> {
  const socket: Socket = createSocket('udp4');
  const queries: DnsStub['queries'] = [];
  socket.on('message', (msg, rinfo) => {
    const { name, type, questionEnd } = readQuestion(msg);
    queries.push({ name, type: type === TYPE_A ? 'A' : type === TYPE_AAAA ? 'AAAA' : type });
    const entry = records[name.toLowerCase()];
    const answers = entry === undefined ? [] : type === TYPE_A ? (entry.a ?? []) : type === TYPE_AAAA ? (entry.aaaa ?? []) : [];
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // the query's ID
    header.writeUInt16BE(0x8180 | (entry === undefined ? 3 : 0), 2); // response, recursion available; NXDOMAIN if unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const rrs = answers.map((ip) => {
      const data = type === TYPE_A ? Buffer.from(ip.split('.').map(Number)) : ipv6Bytes(ip);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4); // class IN
      rr.writeUInt32BE(5, 6); // TTL
      rr.writeUInt16BE(data.length, 10);
      return Buffer.concat([rr, data]);
    });
    socket.send(Buffer.concat([header, msg.subarray(12, questionEnd), ...rrs]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    queries,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function readQuestion(msg: Buffer): { name: string; type: number; questionEnd: number } {
  const labels: string[] = [];
  let i = 12;
  while (msg[i]! !== 0) {
    const len = msg[i]!;
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return { name: labels.join('.'), type: msg.readUInt16BE(i + 1), questionEnd: i + 5 };
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, k) => out.writeUInt16BE(parseInt(g, 16), k * 2));
  return out;
}
