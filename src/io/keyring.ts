/**
 * The encryption keyring (docs/protocol.md#encryption-and-the-keyring): AES-GCM with a 12-byte
 * random nonce and a 16-byte tag. We send with the primary key (format version 1:
 * [1][nonce][ciphertext][tag]) and accept any key in the ring, and versions 0 (PKCS#7-padded) and
 * 1, on receive. Keys are 16, 24 or 32 bytes (AES-128/192/256); `serf keygen` makes 32-byte keys,
 * base64-encoded.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { invalidOption } from '../errors.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes encryption adds to a datagram (version 1): version + nonce + tag. */
export const ENCRYPTION_OVERHEAD_BYTES = 1 + NONCE_BYTES + TAG_BYTES;

export class Keyring {
  #keys: Buffer[];

  /** `keys[0]` is the primary. */
  constructor(keys: readonly (string | Uint8Array)[]) {
    if (keys.length === 0) throw invalidOption('encrypt', 'at least one key', keys);
    this.#keys = [];
    for (const k of keys) this.add(k);
  }

  static parseKey(key: string | Uint8Array): Buffer {
    const bytes = typeof key === 'string' ? Buffer.from(key, 'base64') : Buffer.from(key);
    if (typeof key === 'string' && bytes.toString('base64') !== key.trim()) throw invalidOption('encrypt', 'a base64 key', key);
    if (![16, 24, 32].includes(bytes.length)) throw invalidOption('encrypt', 'a key of 16, 24 or 32 bytes', `${bytes.length} bytes`);
    return bytes;
  }

  /** Keys as base64, primary first. */
  get keys(): string[] {
    return this.#keys.map((k) => k.toString('base64'));
  }

  get primary(): string {
    return this.#keys[0]!.toString('base64');
  }

  add(key: string | Uint8Array): void {
    const bytes = Keyring.parseKey(key);
    if (!this.#keys.some((k) => k.equals(bytes))) this.#keys.push(bytes);
  }

  use(key: string | Uint8Array): void {
    const bytes = Keyring.parseKey(key);
    const i = this.#keys.findIndex((k) => k.equals(bytes));
    if (i < 0) throw invalidOption('key', 'a key already in the keyring', key);
    this.#keys.unshift(...this.#keys.splice(i, 1));
  }

  remove(key: string | Uint8Array): void {
    const bytes = Keyring.parseKey(key);
    const i = this.#keys.findIndex((k) => k.equals(bytes));
    if (i === 0) throw invalidOption('key', 'not the primary key', key);
    if (i > 0) this.#keys.splice(i, 1);
  }

  /** [1][nonce][ciphertext][tag] with the primary key; `aad` is authenticated, not encrypted. */
  encrypt(plain: Uint8Array, aad?: Uint8Array): Uint8Array {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(cipherName(this.#keys[0]!), this.#keys[0]!, nonce);
    if (aad) cipher.setAAD(aad);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.from([1]), nonce, body, cipher.getAuthTag()]);
  }

  /** The plaintext, or null if no key opens it (or it is malformed). */
  decrypt(blob: Uint8Array, aad?: Uint8Array): Uint8Array | null {
    if (blob.length < ENCRYPTION_OVERHEAD_BYTES) return null;
    const version = blob[0];
    if (version !== 0 && version !== 1) return null;
    const nonce = blob.subarray(1, 1 + NONCE_BYTES);
    const body = blob.subarray(1 + NONCE_BYTES, blob.length - TAG_BYTES);
    const tag = blob.subarray(blob.length - TAG_BYTES);
    for (const key of this.#keys) {
      try {
        const decipher = createDecipheriv(cipherName(key), key, nonce);
        if (aad) decipher.setAAD(aad);
        decipher.setAuthTag(tag);
        const plain = Buffer.concat([decipher.update(body), decipher.final()]);
        if (version === 1) return plain;
        // Version 0: PKCS#7 padding to 16 bytes.
        const pad = plain[plain.length - 1] ?? 0;
        if (pad < 1 || pad > 16 || pad > plain.length) return null;
        return plain.subarray(0, plain.length - pad);
      } catch {
        // Wrong key (authentication failed): try the next one.
      }
    }
    return null;
  }
}

function cipherName(key: Buffer): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  return key.length === 16 ? 'aes-128-gcm' : key.length === 24 ? 'aes-192-gcm' : 'aes-256-gcm';
}
