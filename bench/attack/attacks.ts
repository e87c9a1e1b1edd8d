/** The attacks of bench/attack/attacker.ts, in the order bench/attack.ts runs them. */
export const ATTACKS = [
  'tcp-lzw-bomb',
  'tcp-slow-pushpull',
  'tcp-enc-frames',
  'tcp-stalled',
  'udp-flood',
  'http-query-hangup',
  'http-proxy-slow',
  'http-slowloris',
] as const;
export type AttackName = (typeof ATTACKS)[number];

/** One line per attack, for the results file. */
export const ATTACK_DESCRIPTIONS: Record<AttackName, string> = {
  'tcp-lzw-bomb':
    'TCP, 16 connections at a time from 8 addresses, each a fresh connection carrying an LZW compress envelope whose plaintext is a push/pull header declaring 16 M node states then 0x80 bytes to 16 MiB',
  'tcp-slow-pushpull':
    'TCP, 4 connections (4 addresses) each streaming an uncompressed ~16 MiB push/pull (65 536 dead node states) in 64 KiB chunks every 40 ms, reopened when closed',
  'tcp-enc-frames':
    'TCP, 160 connections (8 addresses) each announcing a 16 MiB encrypted frame ([10][0x01000000]) then trickling 64 bytes every 200 ms, reopened when closed',
  'tcp-stalled': 'TCP, 200 connections (8 addresses) that send nothing, each reopened as soon as it is closed',
  'udp-flood':
    'UDP, forged datagrams from 4 addresses at --udp-rate per second, cycling: compound of ~100 compress bombs (64 KiB each), compress nested 8 deep, map32/array32/str32/bin32 declaring 4 G, a 30 000-entry nil map, 60 000-deep nesting (plain and compressed), alive/suspect/dead for every real member at incarnation 2^32-1, Serf leave/join intents, user events and a query at Lamport time 2^64-1, and a compound of all the forgeries',
  'http-query-hangup': 'HTTP, 300 connections looping POST /query?name=x&timeout=24h (half with 5m), hanging up after 300 ms',
  'http-proxy-slow': 'HTTP, 800 connections each POSTing /proxy/KEY/upload with Content-Length 1 000 000, 16 KiB per second',
  'http-slowloris': 'HTTP, 3000 connections (8 addresses) sending a partial request and one header line every 2 s, reopened when closed',
};
