/**
 * Addresses: memberlist carries a node's IP as the raw bytes of Go's net.IP (4 bytes, or 16 for
 * IPv6 and IPv4-mapped IPv6) and compares them byte-wise (docs/protocol.md#addresses).
 */
export interface Address {
  /** Dotted IPv4 or textual IPv6. */
  host: string;
  port: number;
}

export function addressKey(a: Address): string {
  return `${a.host}:${a.port}`;
}

/**
 * IPv4 texts by address, so the many member records that name one host share one string.
 * Bounded: cleared when it reaches 65 536 entries.
 */
const ipv4Texts = new Map<number, string>();

/** The IP as text; IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes plain IPv4. Empty for bad lengths. */
export function ipToString(ip: Uint8Array): string {
  if (ip.length === 4) {
    const key = ((ip[0]! << 24) | (ip[1]! << 16) | (ip[2]! << 8) | ip[3]!) >>> 0;
    let text = ipv4Texts.get(key);
    if (text === undefined) {
      if (ipv4Texts.size >= 65_536) ipv4Texts.clear();
      text = `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
      ipv4Texts.set(key, text);
    }
    return text;
  }
  if (ip.length !== 16) return '';
  const mapped = ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;
  if (mapped) return `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i]! << 8) | ip[i + 1]!).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** IPv4 as 4 bytes (the form Go agents bound to an IPv4 address advertise); IPv6 as 16. */
export function ipToBytes(host: string): Uint8Array | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    return parts.every((p) => p <= 255) ? Uint8Array.from(parts) : null;
  }
  if (!host.includes(':')) return null;
  const [head = '', tail = ''] = host.split('::');
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const a = parse(head);
  const b = host.includes('::') ? parse(tail) : [];
  const groups = host.includes('::') ? [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b] : a;
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
