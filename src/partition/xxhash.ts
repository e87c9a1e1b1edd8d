/**
 * xxHash64 (xxhash-wasm). The WebAssembly module is instantiated once, at import time, with a
 * top-level await, so every caller gets synchronous hashing. It is pure computation: no I/O.
 */
import xxhash from 'xxhash-wasm';

const api = await xxhash();

/** XXH64 of the bytes with seed 0, as an unsigned 64-bit bigint. */
export function xxh64(bytes: Uint8Array): bigint {
  return api.h64Raw(bytes, 0n);
}
