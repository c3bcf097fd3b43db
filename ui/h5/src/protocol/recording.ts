// The recorded-video chunks (docs/h5-protocol.md §7): key, nonce, aad, sealing. Pure.
//
// The key agreement is the frames' one (seal.ts) with its own label, so a chunk can never be
// taken for a frame or the other way round; a fresh client key per upload gives a fresh key.

import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { concat, utf8, uuidBytes } from './bytes';
import { SUITE, agreeAndExpand, frameNonce, type KeyPair } from './seal';

/** The chunk size the page uses when the challenge does not say (the server's default). */
export const DEFAULT_CHUNK_BYTES = 262_144;
const KDF_LABEL = utf8(`livegate-h5-v1 recording ${SUITE}`);
const AAD_LABEL = utf8('livegate-h5-v1 recording');

/** The chunk key: HKDF-SHA256 over X25519(own, peer), salt = session id, info = label || client || server, 32 bytes. */
export function recordingKey(
  sessionId: string,
  ownPrivate: Uint8Array,
  peerPublic: Uint8Array,
  clientPublic: Uint8Array,
  serverPublic: Uint8Array,
): Uint8Array {
  return agreeAndExpand(KDF_LABEL, 32, sessionId, ownPrivate, peerPublic, clientPublic, serverPublic);
}

/** The page's chunk key for an upload: client side of recordingKey. */
export function clientRecordingKey(sessionId: string, client: KeyPair, serverPublic: Uint8Array): Uint8Array {
  return recordingKey(sessionId, client.privateKey, serverPublic, client.publicKey, serverPublic);
}

/** ceil(size / chunkBytes): how many chunks a clip of `size` bytes makes. */
export function chunkCount(size: number, chunkBytes: number): number {
  if (!Number.isSafeInteger(size) || size <= 0 || !Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) {
    throw new RangeError('size and chunk_bytes are positive integers');
  }
  return Math.ceil(size / chunkBytes);
}

/** The clip's bytes [start, end) that chunk `index` carries: chunk_bytes each, the last one shorter. */
export function chunkRange(index: number, size: number, chunkBytes: number): { start: number; end: number } {
  const start = index * chunkBytes;
  if (!Number.isInteger(index) || index < 0 || start >= size) throw new RangeError('no such chunk');
  return { start, end: Math.min(size, start + chunkBytes) };
}

/** 4 zero bytes || index (u64 big-endian): the frames' nonce layout with the chunk's index. */
export function chunkNonce(index: number): Uint8Array {
  return frameNonce(index);
}

/** "livegate-h5-v1 recording" || session id (16 bytes) || index (u32 BE) || chunks (u32 BE). */
export function chunkAad(sessionId: string, index: number, chunks: number): Uint8Array {
  const tail = new Uint8Array(8);
  const view = new DataView(tail.buffer);
  view.setUint32(0, index);
  view.setUint32(4, chunks);
  return concat(AAD_LABEL, uuidBytes(sessionId), tail);
}

/** ChaCha20-Poly1305(key, nonce(index), plaintext, aad) = ciphertext || tag: the body of `PUT …/recording/{index}`. */
export function sealChunk(key: Uint8Array, sessionId: string, index: number, chunks: number, plaintext: Uint8Array): Uint8Array {
  if (index >= chunks) throw new RangeError('index past the last chunk');
  return chacha20poly1305(key, chunkNonce(index), chunkAad(sessionId, index, chunks)).encrypt(plaintext);
}

/** The server's half, for tests and the mock server: opens a chunk or throws. */
export function openChunk(key: Uint8Array, sessionId: string, index: number, chunks: number, sealed: Uint8Array): Uint8Array {
  return chacha20poly1305(key, chunkNonce(index), chunkAad(sessionId, index, chunks)).decrypt(sealed);
}
