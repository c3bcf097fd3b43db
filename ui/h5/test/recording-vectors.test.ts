// The shared recorded-video vector (docs/h5-protocol.md §7): produced by src/protocol/recording.ts,
// checked here against Node's own crypto (OpenSSL); the Rust server opens the same file.
// `npm run vectors` rewrites it (only when the construction deliberately changes).
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, hkdfSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toBase64Url, toHex, utf8, uuidBytes } from '../src/protocol/bytes';
import { chunkAad, chunkCount, chunkNonce, chunkRange, clientRecordingKey, openChunk, recordingKey, sealChunk } from '../src/protocol/recording';
import { SUITE, keyPair } from '../src/protocol/seal';

const FILE = fileURLToPath(new URL('./recording-vectors.json', import.meta.url));

interface ChunkVector {
  index: number;
  plaintext_len: number;
  /** the whole plaintext, for short chunks */
  plaintext_hex?: string;
  nonce_hex: string;
  aad_hex: string;
  /** ciphertext || tag, for short chunks */
  sealed_hex?: string;
  sealed_len: number;
  sealed_sha256_hex: string;
}
interface RecordingVectors {
  description: string;
  suite: string;
  session_id: string;
  session_id_hex: string;
  client_private_key_hex: string;
  client_public_key_hex: string;
  client_public_key_b64url: string;
  server_private_key_hex: string;
  server_public_key_hex: string;
  server_public_key_b64url: string;
  shared_secret_hex: string;
  hkdf_info_hex: string;
  key_hex: string;
  size: number;
  chunk_bytes: number;
  chunks: number;
  clip: string;
  clip_sha256_hex: string;
  chunk_vectors: ChunkVector[];
}

const INPUT = {
  session_id: '0193b2c4-5d6e-7f80-9a1b-2c3d4e5f6071',
  // Another client key than the frames' vector (a fresh key per upload); the server's is the same.
  client_private_key_hex: '58b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b272',
  server_private_key_hex: 'c8cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd4d',
  size: 262_189,
  chunk_bytes: 262_144,
};

/** The vector's clip: byte i is i mod 251 (so every chunk differs). */
function clip(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = i % 251;
  return out;
}

const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function produce(): RecordingVectors {
  const client = keyPair(fromHex(INPUT.client_private_key_hex));
  const server = keyPair(fromHex(INPUT.server_private_key_hex));
  const key = clientRecordingKey(INPUT.session_id, client, server.publicKey);
  const chunks = chunkCount(INPUT.size, INPUT.chunk_bytes);
  const bytes = clip(INPUT.size);
  return {
    description:
      'H5 recorded-video chunk test vector (docs/h5-protocol.md §7). Byte strings are lowercase hex unless named b64url. ' +
      'key = HKDF-SHA256(ikm = X25519(client_private, server_public), salt = session id (16 raw bytes), info = hkdf_info, 32); ' +
      'nonce = 4 zero bytes || index (u64 BE); aad = "livegate-h5-v1 recording" || session id (16) || index (u32 BE) || chunks (u32 BE); ' +
      'sealed = ChaCha20-Poly1305(key, nonce, clip[index*chunk_bytes .. min(size, (index+1)*chunk_bytes)], aad) = ciphertext || tag. ' +
      'Long chunks carry only their length and SHA-256; the clip is given by its rule.',
    suite: SUITE,
    session_id: INPUT.session_id,
    session_id_hex: toHex(uuidBytes(INPUT.session_id)),
    client_private_key_hex: toHex(client.privateKey),
    client_public_key_hex: toHex(client.publicKey),
    client_public_key_b64url: toBase64Url(client.publicKey),
    server_private_key_hex: toHex(server.privateKey),
    server_public_key_hex: toHex(server.publicKey),
    server_public_key_b64url: toBase64Url(server.publicKey),
    shared_secret_hex: toHex(nodeX25519(client.privateKey, server.publicKey)),
    hkdf_info_hex: toHex(concat(utf8(`livegate-h5-v1 recording ${SUITE}`), client.publicKey, server.publicKey)),
    key_hex: toHex(key),
    size: INPUT.size,
    chunk_bytes: INPUT.chunk_bytes,
    chunks,
    clip: 'byte i = i mod 251, for i in 0..size',
    clip_sha256_hex: sha256Hex(bytes),
    chunk_vectors: Array.from({ length: chunks }, (_, index) => {
      const { start, end } = chunkRange(index, INPUT.size, INPUT.chunk_bytes);
      const plain = bytes.subarray(start, end);
      const sealed = sealChunk(key, INPUT.session_id, index, chunks, plain);
      const short = plain.length <= 64;
      return {
        index,
        plaintext_len: plain.length,
        ...(short ? { plaintext_hex: toHex(plain) } : {}),
        nonce_hex: toHex(chunkNonce(index)),
        aad_hex: toHex(chunkAad(INPUT.session_id, index, chunks)),
        ...(short ? { sealed_hex: toHex(sealed) } : {}),
        sealed_len: sealed.length,
        sealed_sha256_hex: sha256Hex(sealed),
      };
    }),
  };
}

function nodeX25519(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: toBase64Url(priv), x: toBase64Url(keyPair(priv).publicKey) },
    format: 'jwk',
  });
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: toBase64Url(pub) }, format: 'jwk' });
  return new Uint8Array(diffieHellman({ privateKey, publicKey }));
}

if (process.env.UPDATE_VECTORS === '1') {
  writeFileSync(FILE, JSON.stringify(produce(), null, 2) + '\n');
}
const v = JSON.parse(readFileSync(FILE, 'utf8')) as RecordingVectors;

describe('test/recording-vectors.json', () => {
  it('is what this code produces', () => {
    expect(produce()).toEqual(v);
    expect(v.chunks).toBe(2);
    expect(v.chunk_vectors.map((c) => c.plaintext_len)).toEqual([262_144, 45]);
  });

  it('agrees with an independent implementation (Node crypto / OpenSSL)', () => {
    const shared = nodeX25519(fromHex(v.client_private_key_hex), fromHex(v.server_public_key_hex));
    expect(toHex(shared)).toBe(v.shared_secret_hex);
    expect(toHex(nodeX25519(fromHex(v.server_private_key_hex), fromHex(v.client_public_key_hex)))).toBe(v.shared_secret_hex);
    const key = new Uint8Array(hkdfSync('sha256', shared, fromHex(v.session_id_hex), fromHex(v.hkdf_info_hex), 32));
    expect(toHex(key)).toBe(v.key_hex);
    expect(new TextDecoder().decode(fromHex(v.hkdf_info_hex).slice(0, 55))).toBe('livegate-h5-v1 recording X25519-CHACHA20POLY1305-SHA256');
    const bytes = clip(v.size);
    expect(sha256Hex(bytes)).toBe(v.clip_sha256_hex);
    for (const c of v.chunk_vectors) {
      const plain = bytes.subarray(c.index * v.chunk_bytes, Math.min(v.size, (c.index + 1) * v.chunk_bytes));
      expect(plain.length).toBe(c.plaintext_len);
      // The aad spelled out by hand: label, session id, index, chunks.
      const aad = concat(utf8('livegate-h5-v1 recording'), fromHex(v.session_id_hex), fromHex(c.index.toString(16).padStart(8, '0')), fromHex(v.chunks.toString(16).padStart(8, '0')));
      expect(toHex(aad)).toBe(c.aad_hex);
      expect(c.nonce_hex).toBe('00000000' + c.index.toString(16).padStart(16, '0'));
      const enc = createCipheriv('chacha20-poly1305', key, fromHex(c.nonce_hex), { authTagLength: 16 });
      enc.setAAD(aad, { plaintextLength: plain.length });
      const sealed = Buffer.concat([enc.update(plain), enc.final(), enc.getAuthTag()]);
      expect(sealed.length).toBe(c.sealed_len);
      expect(sha256Hex(sealed)).toBe(c.sealed_sha256_hex);
      if (c.sealed_hex) expect(sealed.toString('hex')).toBe(c.sealed_hex);
      const dec = createDecipheriv('chacha20-poly1305', key, fromHex(c.nonce_hex), { authTagLength: 16 });
      dec.setAAD(aad, { plaintextLength: plain.length });
      dec.setAuthTag(sealed.subarray(sealed.length - 16));
      expect(Buffer.concat([dec.update(sealed.subarray(0, sealed.length - 16)), dec.final()]).equals(Buffer.from(plain))).toBe(true);
    }
  });

  it('opens on the server side, and not with another index, count or session', () => {
    const cpub = fromHex(v.client_public_key_hex);
    const key = recordingKey(v.session_id, fromHex(v.server_private_key_hex), cpub, cpub, fromHex(v.server_public_key_hex));
    expect(toHex(key)).toBe(v.key_hex);
    const last = v.chunk_vectors[1]!;
    const sealed = fromHex(last.sealed_hex!);
    expect(toHex(openChunk(key, v.session_id, 1, v.chunks, sealed))).toBe(last.plaintext_hex);
    expect(() => openChunk(key, v.session_id, 0, v.chunks, sealed)).toThrow();
    expect(() => openChunk(key, v.session_id, 1, 3, sealed)).toThrow();
    expect(() => openChunk(key, '0193b2c4-5d6e-7f80-9a1b-2c3d4e5f6072', 1, v.chunks, sealed)).toThrow();
    // The frames' key (another label) does not open a chunk.
    expect(() => openChunk(fromHex('d3c101649ffa361734361986878849bcbffbeb0097a9fe2e312e9026b4bd00ec'), v.session_id, 1, v.chunks, sealed)).toThrow();
  });

  it('cuts a clip into chunk_bytes chunks, the last shorter', () => {
    expect(chunkCount(1, 262_144)).toBe(1);
    expect(chunkCount(262_144, 262_144)).toBe(1);
    expect(chunkCount(262_145, 262_144)).toBe(2);
    expect(() => chunkCount(0, 262_144)).toThrow(RangeError);
    expect(chunkRange(1, 262_189, 262_144)).toEqual({ start: 262_144, end: 262_189 });
    expect(() => chunkRange(2, 262_189, 262_144)).toThrow(RangeError);
  });
});
