/**
 * Seeds to addresses. A seed is `host[:port]` (port 7946 when left out, as Serf); a name joins
 * every address it resolves to, A and AAAA (a Kubernetes headless Service names one address per
 * ready pod), up to MAX_ADDRESSES_PER_SEED. Names go to the system's resolver (getaddrinfo: the
 * hosts file, then DNS) unless DNS servers are given, as for Consul's DNS interface
 * (`127.0.0.1:8600`).
 */
import { Resolver, lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Addresses joined per seed name at most: one answering is enough, and a name may list hundreds. */
export const MAX_ADDRESSES_PER_SEED = 64;
/** Per DNS query when servers are given; c-ares' own default would wait about 20 s in all. */
const DNS_TIMEOUT_MS = 2_000;
const DNS_TRIES = 2;

export interface ResolvedSeed {
  /** The seed as given. */
  seed: string;
  /** Its addresses (empty when it could not be resolved, with `error` saying why). */
  addresses: { host: string; port: number }[];
  error?: string;
}

export class SeedResolver {
  readonly #resolver: Resolver | null;

  /** `dnsServers`: `host[:port]` DNS servers to ask instead of the system's resolver. */
  constructor(dnsServers: readonly string[] = []) {
    if (dnsServers.length === 0) {
      this.#resolver = null;
      return;
    }
    this.#resolver = new Resolver({ timeout: DNS_TIMEOUT_MS, tries: DNS_TRIES });
    this.#resolver.setServers([...dnsServers]);
  }

  async resolve(seed: string, host: string, port: number): Promise<ResolvedSeed> {
    if (isIP(host) !== 0) return { seed, addresses: [{ host, port }] };
    let hosts: string[];
    try {
      hosts = this.#resolver === null ? await systemLookup(host) : await dnsLookup(this.#resolver, host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOTFOUND' || code === 'ENODATA' ? 'no such host' : (code ?? (err as Error).message);
      return { seed, addresses: [], error: `cannot resolve ${JSON.stringify(host)}: ${why}` };
    }
    const unique = [...new Set(hosts)].slice(0, MAX_ADDRESSES_PER_SEED);
    if (unique.length === 0) return { seed, addresses: [], error: `cannot resolve ${JSON.stringify(host)}: no addresses` };
    return { seed, addresses: unique.map((h) => ({ host: h, port })) };
  }
}

async function systemLookup(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, order: 'verbatim' })).map((a) => a.address);
}

/** A and AAAA together; the name resolves if either has records. */
async function dnsLookup(resolver: Resolver, host: string): Promise<string[]> {
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  if (v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason;
  return [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
}
