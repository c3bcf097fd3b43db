// The shared test vector (docs/h5-protocol.md §6): produced by this code, checked here, and
// against Node's own crypto (OpenSSL) as an independent implementation; the Rust server opens
// the same file. `npm run vectors` rewrites it (only when the construction deliberately changes).
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, hkdfSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fromHex, toBase64Url, toHex, utf8, uuidBytes, concat } from '../src/protocol/bytes';
import { clientKeys, deriveKeys, encodeHeader, frameAad, frameNonce, keyPair, openFrame, sealFrame, SUITE } from '../src/protocol/seal';

const FILE = fileURLToPath(new URL('./vectors.json', import.meta.url));

interface FrameVector {
  seq: number;
  capture_ms: number;
  flash: number;
  plaintext_hex: string;
  header_hex: string;
  nonce_hex: string;
  aad_hex: string;
  sealed_frame_hex: string;
}
interface Vectors {
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
  c2s_key_hex: string;
  s2c_key_hex: string;
  frames: FrameVector[];
}

const INPUT = {
  session_id: '0193b2c4-5d6e-7f80-9a1b-2c3d4e5f6071',
  client_private_key_hex: 'a8abababababababababababababababababababababababababababababab6b',
  server_private_key_hex: 'c8cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd4d',
  frames: [
    { seq: 1, capture_ms: 1764028800000, flash: 0, plaintext_hex: 'ffd8ffe000104a46494600010100' },
    { seq: 2, capture_ms: 1764028800066, flash: 3, plaintext_hex: 'ffd8ffdb00430008060607060508ffd9' },
  ],
};

function produce(): Vectors {
  const client = keyPair(fromHex(INPUT.client_private_key_hex));
  const server = keyPair(fromHex(INPUT.server_private_key_hex));
  const keys = clientKeys(INPUT.session_id, client, server.publicKey);
  const info = concat(utf8(`livegate-h5-v1 ${SUITE}`), client.publicKey, server.publicKey);
  // The shared secret, from Node's X25519, so the file carries it for debugging the other side.
  const shared = nodeX25519(client.privateKey, server.publicKey);
  return {
    description:
      'H5 protocol v1 test vector (docs/h5-protocol.md §3.3-3.4). All byte strings are lowercase hex unless named b64url. ' +
      'okm = HKDF-SHA256(ikm = X25519(client_private, server_public), salt = session id (16 raw bytes), info = hkdf_info, 64); ' +
      'c2s = okm[0..32], s2c = okm[32..64]; sealed_frame = header || ChaCha20-Poly1305(c2s, nonce, plaintext, aad).',
    suite: SUITE,
    session_id: INPUT.session_id,
    session_id_hex: toHex(uuidBytes(INPUT.session_id)),
    client_private_key_hex: toHex(client.privateKey),
    client_public_key_hex: toHex(client.publicKey),
    client_public_key_b64url: toBase64Url(client.publicKey),
    server_private_key_hex: toHex(server.privateKey),
    server_public_key_hex: toHex(server.publicKey),
    server_public_key_b64url: toBase64Url(server.publicKey),
    shared_secret_hex: toHex(shared),
    hkdf_info_hex: toHex(info),
    c2s_key_hex: toHex(keys.c2s),
    s2c_key_hex: toHex(keys.s2c),
    frames: INPUT.frames.map((f) => {
      const h = { seq: f.seq, captureMs: f.capture_ms, flash: f.flash };
      const header = encodeHeader(h);
      return {
        ...f,
        header_hex: toHex(header),
        nonce_hex: toHex(frameNonce(f.seq)),
        aad_hex: toHex(frameAad(INPUT.session_id, header)),
        sealed_frame_hex: toHex(sealFrame(keys.c2s, INPUT.session_id, h, fromHex(f.plaintext_hex))),
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
const vectors = JSON.parse(readFileSync(FILE, 'utf8')) as Vectors;

describe('test/vectors.json', () => {
  it('is what this code produces', () => {
    expect(produce()).toEqual(vectors);
    expect(vectors.frames.map((f) => f.seq)).toEqual([1, 2]);
  });

  it('agrees with an independent implementation (Node crypto / OpenSSL)', () => {
    const cpriv = fromHex(vectors.client_private_key_hex);
    const spriv = fromHex(vectors.server_private_key_hex);
    const cpub = fromHex(vectors.client_public_key_hex);
    const spub = fromHex(vectors.server_public_key_hex);
    // Public keys: Node derives them from the private JWK.
    const nodePub = (d: Uint8Array) =>
      createPublicKey(createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: toBase64Url(d), x: toBase64Url(keyPair(d).publicKey) }, format: 'jwk' }))
        .export({ format: 'jwk' }).x;
    expect(nodePub(cpriv)).toBe(vectors.client_public_key_b64url);
    expect(nodePub(spriv)).toBe(vectors.server_public_key_b64url);
    // Both sides reach the same secret.
    const shared = nodeX25519(cpriv, spub);
    expect(toHex(shared)).toBe(vectors.shared_secret_hex);
    expect(toHex(nodeX25519(spriv, cpub))).toBe(vectors.shared_secret_hex);
    const okm = new Uint8Array(hkdfSync('sha256', shared, fromHex(vectors.session_id_hex), fromHex(vectors.hkdf_info_hex), 64));
    expect(toHex(okm.slice(0, 32))).toBe(vectors.c2s_key_hex);
    expect(toHex(okm.slice(32))).toBe(vectors.s2c_key_hex);
    expect(new TextDecoder().decode(fromHex(vectors.hkdf_info_hex).slice(0, 45))).toBe('livegate-h5-v1 X25519-CHACHA20POLY1305-SHA256');
    for (const f of vectors.frames) {
      const sealed = fromHex(f.sealed_frame_hex);
      expect(toHex(sealed.slice(0, 19))).toBe(f.header_hex);
      const d = createDecipheriv('chacha20-poly1305', fromHex(vectors.c2s_key_hex), fromHex(f.nonce_hex), { authTagLength: 16 });
      d.setAAD(fromHex(f.aad_hex), { plaintextLength: sealed.length - 35 });
      d.setAuthTag(sealed.slice(sealed.length - 16));
      const plain = Buffer.concat([d.update(sealed.slice(19, sealed.length - 16)), d.final()]);
      expect(plain.toString('hex')).toBe(f.plaintext_hex);
      // And Node seals to the same bytes.
      const c = createCipheriv('chacha20-poly1305', fromHex(vectors.c2s_key_hex), fromHex(f.nonce_hex), { authTagLength: 16 });
      c.setAAD(fromHex(f.aad_hex), { plaintextLength: plain.length });
      const ct = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
      expect(f.header_hex + ct.toString('hex')).toBe(f.sealed_frame_hex);
    }
  });

  it('opens on the server side with keys derived from the server private key', () => {
    const spriv = fromHex(vectors.server_private_key_hex);
    const cpub = fromHex(vectors.client_public_key_hex);
    const spub = fromHex(vectors.server_public_key_hex);
    const keys = deriveKeys(vectors.session_id, spriv, cpub, cpub, spub);
    expect(toHex(keys.c2s)).toBe(vectors.c2s_key_hex);
    for (const f of vectors.frames) {
      const opened = openFrame(keys.c2s, vectors.session_id, fromHex(f.sealed_frame_hex));
      expect(opened.seq).toBe(BigInt(f.seq));
      expect(opened.captureMs).toBe(BigInt(f.capture_ms));
      expect(opened.flash).toBe(f.flash);
      expect(toHex(opened.plaintext)).toBe(f.plaintext_hex);
    }
  });
});
