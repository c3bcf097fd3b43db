// The suite X25519-CHACHA20POLY1305-SHA256 (docs/h5-protocol.md §3.3, §3.4, §4). Pure.

import { x25519 } from '@noble/curves/ed25519.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, readU64BE, utf8, uuidBytes, writeU64BE } from './bytes';

export const SUITE = 'X25519-CHACHA20POLY1305-SHA256';
export const VERSION = 1;
export const KIND_FRAME = 1;
export const HEADER_LEN = 19;
export const TAG_LEN = 16;
const AAD_LABEL = utf8('livegate-h5-v1');
const KDF_LABEL = utf8('livegate-h5-v1 X25519-CHACHA20POLY1305-SHA256');

export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface SessionKeys {
  /** Seals frames from the page. */
  c2s: Uint8Array;
  /** Reserved (server messages are plain JSON in version 1). */
  s2c: Uint8Array;
}

export interface FrameHeader {
  seq: bigint | number;
  captureMs: bigint | number;
  flash: number;
}

/** A fresh key pair (random from crypto.getRandomValues), or the one of a given private key. */
export function keyPair(privateKey?: Uint8Array): KeyPair {
  const priv = privateKey ?? x25519.utils.randomSecretKey();
  return { privateKey: priv, publicKey: x25519.getPublicKey(priv) };
}

/**
 * shared = X25519(own_private, peer_public); okm = HKDF-SHA256(shared, salt = session id bytes,
 * info = label || client_key || server_key, 64). Throws on a low-order peer key (all-zero secret).
 */
export function deriveKeys(
  sessionId: string,
  ownPrivate: Uint8Array,
  peerPublic: Uint8Array,
  clientPublic: Uint8Array,
  serverPublic: Uint8Array,
): SessionKeys {
  const okm = agreeAndExpand(KDF_LABEL, 64, sessionId, ownPrivate, peerPublic, clientPublic, serverPublic);
  return { c2s: okm.slice(0, 32), s2c: okm.slice(32, 64) };
}

/**
 * HKDF-SHA256(ikm = X25519(own_private, peer_public), salt = session id bytes,
 * info = label || client_key || server_key, length): the one key agreement of the frames and of
 * the recorded-video chunks (which differ only in label and length).
 */
export function agreeAndExpand(
  label: Uint8Array,
  length: number,
  sessionId: string,
  ownPrivate: Uint8Array,
  peerPublic: Uint8Array,
  clientPublic: Uint8Array,
  serverPublic: Uint8Array,
): Uint8Array {
  if (peerPublic.length !== 32 || clientPublic.length !== 32 || serverPublic.length !== 32) {
    throw new Error('an X25519 public key is 32 bytes');
  }
  const shared = x25519.getSharedSecret(ownPrivate, peerPublic);
  if (shared.every((b) => b === 0)) throw new Error('all-zero shared secret');
  return hkdf(sha256, shared, uuidBytes(sessionId), concat(label, clientPublic, serverPublic), length);
}

/** The page's keys for a session: client side of deriveKeys. */
export function clientKeys(sessionId: string, client: KeyPair, serverPublic: Uint8Array): SessionKeys {
  return deriveKeys(sessionId, client.privateKey, serverPublic, client.publicKey, serverPublic);
}

export function encodeHeader(h: FrameHeader): Uint8Array {
  if (!Number.isInteger(h.flash) || h.flash < 0 || h.flash > 255) throw new RangeError('flash is a byte');
  const out = new Uint8Array(HEADER_LEN);
  out[0] = VERSION;
  out[1] = KIND_FRAME;
  writeU64BE(out, 2, h.seq);
  writeU64BE(out, 10, h.captureMs);
  out[18] = h.flash;
  return out;
}

export function decodeHeader(frame: Uint8Array): { seq: bigint; captureMs: bigint; flash: number } {
  if (frame.length < HEADER_LEN || frame[0] !== VERSION || frame[1] !== KIND_FRAME) {
    throw new Error('not a version-1 frame');
  }
  return { seq: readU64BE(frame, 2), captureMs: readU64BE(frame, 10), flash: frame[18]! };
}

/** 4 zero bytes || seq (u64 big-endian). */
export function frameNonce(seq: bigint | number): Uint8Array {
  const n = new Uint8Array(12);
  writeU64BE(n, 4, seq);
  return n;
}

/** "livegate-h5-v1" || session id (16 raw bytes) || the 19 header bytes. */
export function frameAad(sessionId: string, header: Uint8Array): Uint8Array {
  return concat(AAD_LABEL, uuidBytes(sessionId), header);
}

/** header || ChaCha20-Poly1305(key_c2s, nonce, jpeg, aad) (ciphertext || tag). */
export function sealFrame(key: Uint8Array, sessionId: string, h: FrameHeader, plaintext: Uint8Array): Uint8Array {
  const header = encodeHeader(h);
  const sealed = chacha20poly1305(key, frameNonce(h.seq), frameAad(sessionId, header)).encrypt(plaintext);
  return concat(header, sealed);
}

/** The server's half, for tests: opens a frame or throws. */
export function openFrame(
  key: Uint8Array,
  sessionId: string,
  frame: Uint8Array,
): { seq: bigint; captureMs: bigint; flash: number; plaintext: Uint8Array } {
  const h = decodeHeader(frame);
  if (frame.length < HEADER_LEN + TAG_LEN) throw new Error('frame too short');
  const header = frame.subarray(0, HEADER_LEN);
  const plaintext = chacha20poly1305(key, frameNonce(h.seq), frameAad(sessionId, header)).decrypt(
    frame.subarray(HEADER_LEN),
  );
  return { ...h, plaintext };
}

/** Seals a session's frames with growing seq and non-decreasing capture time. */
export class FrameSealer {
  private nextSeq: bigint;
  private lastCaptureMs = 0;

  constructor(
    private readonly key: Uint8Array,
    private readonly sessionId: string,
    nextSeq: bigint | number = 1,
  ) {
    this.nextSeq = BigInt(nextSeq);
  }

  /** After a resume: continue from the server's `next_seq` (never go back). */
  resumeAt(nextSeq: bigint | number): void {
    const n = BigInt(nextSeq);
    if (n > this.nextSeq) this.nextSeq = n;
  }

  peekSeq(): bigint {
    return this.nextSeq;
  }

  seal(plaintext: Uint8Array, captureMs: number, flash = 0): { seq: bigint; frame: Uint8Array } {
    const seq = this.nextSeq++;
    // The server refuses a capture time going back; a clock step backwards must not end the session.
    const at = Math.max(Math.floor(captureMs), this.lastCaptureMs);
    this.lastCaptureMs = at;
    return { seq, frame: sealFrame(this.key, this.sessionId, { seq, captureMs: at, flash }, plaintext) };
  }
}
