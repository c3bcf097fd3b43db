//! The frame-sealing suite of the H5 protocol (`docs/h5-protocol.md` §3.3–3.4):
//! X25519 key agreement, HKDF-SHA256, ChaCha20-Poly1305 per frame with the session id, the
//! sequence number and the capture time authenticated.
//!
//! [`SuiteOpener`] is the server's half (the session actor opens frames with it); [`FrameSealer`]
//! is the page's half, here for the tests and the load-test tool.
//!
//! A recorded clip's chunks (§7) use the same key pair and agreement with their own HKDF label:
//! [`RecordingKey`] opens them, [`RecordingSealer`] seals them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use livegate_actors::actor::{FrameOpener, OpenError, OpenedFrame};
use sha2::Sha256;
use uuid::Uuid;
use x25519_dalek::{PublicKey, StaticSecret};

/// The one suite of protocol version 1.
pub const SUITE_X25519_CHACHA: &str = "X25519-CHACHA20POLY1305-SHA256";
/// The suites the server offers, in its order of preference.
pub const SUITES: [&str; 1] = [SUITE_X25519_CHACHA];

const VERSION: u8 = 1;
const KIND_FRAME: u8 = 1;
/// Bytes before the ciphertext.
pub const HEADER_LEN: usize = 19;
const TAG_LEN: usize = 16;
const AAD_LABEL: &[u8] = b"livegate-h5-v1";
const KDF_LABEL: &[u8] = b"livegate-h5-v1 X25519-CHACHA20POLY1305-SHA256";
const RECORDING_KDF_LABEL: &[u8] = b"livegate-h5-v1 recording X25519-CHACHA20POLY1305-SHA256";
const RECORDING_AAD_LABEL: &[u8] = b"livegate-h5-v1 recording";
/// Bytes the tag adds to every sealed chunk.
pub const CHUNK_TAG_LEN: usize = TAG_LEN;

/// The server's key pair for one session.
pub struct ServerKey {
    secret: StaticSecret,
}

impl ServerKey {
    /// A fresh random key pair.
    pub fn generate() -> Self {
        Self {
            secret: StaticSecret::from(rand::random::<[u8; 32]>()),
        }
    }

    /// The key pair from its 32 secret bytes (as kept for a hand-over).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            secret: StaticSecret::from(bytes),
        }
    }

    /// The secret bytes (to be sealed before they are stored).
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    /// The public key, base64url without padding, as the challenge sends it.
    pub fn public_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(PublicKey::from(&self.secret).as_bytes())
    }

    /// A second handle on the same key pair (the recording keeps one when the session actor
    /// takes the first).
    pub fn duplicate(&self) -> Self {
        Self::from_bytes(self.secret_bytes())
    }
}

/// The two directions' keys of a session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// Seals frames from the page.
    pub c2s: [u8; 32],
    /// Reserved for sealed server messages.
    pub s2c: [u8; 32],
}

/// Agrees the session's keys from one side's secret and the other side's public key;
/// `BadKey` for an all-zero (low-order) shared secret.
pub fn derive_keys(
    session_id: Uuid,
    own_secret: &StaticSecret,
    peer_public: &PublicKey,
    client_public: &PublicKey,
    server_public: &PublicKey,
) -> Result<SessionKeys, OpenError> {
    let mut okm = [0u8; 64];
    agree(
        session_id,
        own_secret,
        peer_public,
        KDF_LABEL,
        client_public,
        server_public,
        &mut okm,
    )?;
    let mut keys = SessionKeys {
        c2s: [0; 32],
        s2c: [0; 32],
    };
    keys.c2s.copy_from_slice(&okm[..32]);
    keys.s2c.copy_from_slice(&okm[32..]);
    Ok(keys)
}

/// X25519 then HKDF-SHA256 (salt: the session id's 16 bytes; info: `label` ‖ client public ‖
/// server public) into `okm`; `BadKey` for an all-zero (low-order) shared secret.
fn agree(
    session_id: Uuid,
    own_secret: &StaticSecret,
    peer_public: &PublicKey,
    label: &[u8],
    client_public: &PublicKey,
    server_public: &PublicKey,
    okm: &mut [u8],
) -> Result<(), OpenError> {
    let shared = own_secret.diffie_hellman(peer_public);
    if !shared.was_contributory() {
        return Err(OpenError::BadKey);
    }
    let mut info = Vec::with_capacity(label.len() + 64);
    info.extend_from_slice(label);
    info.extend_from_slice(client_public.as_bytes());
    info.extend_from_slice(server_public.as_bytes());
    let hk = Hkdf::<Sha256>::new(Some(session_id.as_bytes()), shared.as_bytes());
    hk.expand(&info, okm).map_err(|_| OpenError::BadKey)
}

/// Decodes a base64url public key share of 32 bytes.
pub fn parse_public(b64: &str) -> Result<PublicKey, OpenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|_| OpenError::BadKey)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| OpenError::BadKey)?;
    Ok(PublicKey::from(bytes))
}

/// A frame's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Sequence number, from 1.
    pub seq: u64,
    /// Capture time, Unix milliseconds.
    pub capture_ms: u64,
    /// Colour index shown at capture (0 = none).
    pub flash: u8,
}

impl FrameHeader {
    /// The 19 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = VERSION;
        h[1] = KIND_FRAME;
        h[2..10].copy_from_slice(&self.seq.to_be_bytes());
        h[10..18].copy_from_slice(&self.capture_ms.to_be_bytes());
        h[18] = self.flash;
        h
    }

    /// Reads the header of a sealed frame.
    pub fn decode(frame: &[u8]) -> Result<Self, OpenError> {
        if frame.len() < HEADER_LEN + TAG_LEN || frame[0] != VERSION || frame[1] != KIND_FRAME {
            return Err(OpenError::Malformed);
        }
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&frame[2..10]);
        let mut at = [0u8; 8];
        at.copy_from_slice(&frame[10..18]);
        Ok(Self {
            seq: u64::from_be_bytes(seq),
            capture_ms: u64::from_be_bytes(at),
            flash: frame[18],
        })
    }
}

fn nonce(seq: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&seq.to_be_bytes());
    n
}

fn aad(session_id: Uuid, header: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 16 + HEADER_LEN);
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(session_id.as_bytes());
    aad.extend_from_slice(header);
    aad
}

/// The server's opener for one session: bound to the page's key share at the first hello.
pub struct SuiteOpener {
    session_id: Uuid,
    server: ServerKey,
    bound: Option<(PublicKey, ChaCha20Poly1305)>,
    last_seq: u64,
    last_capture_ms: u64,
}

impl SuiteOpener {
    /// An opener for the session with the server's key pair (whose public half the challenge
    /// sent).
    pub fn new(session_id: Uuid, server: ServerKey) -> Self {
        Self {
            session_id,
            server,
            bound: None,
            last_seq: 0,
            last_capture_ms: 0,
        }
    }
}

impl FrameOpener for SuiteOpener {
    fn bind(&mut self, client_key: &[u8]) -> Result<(), OpenError> {
        let bytes: [u8; 32] = client_key.try_into().map_err(|_| OpenError::BadKey)?;
        let client = PublicKey::from(bytes);
        if let Some((bound, _)) = &self.bound {
            return if bound.as_bytes() == client.as_bytes() {
                Ok(())
            } else {
                Err(OpenError::KeyMismatch)
            };
        }
        let server_public = PublicKey::from(&self.server.secret);
        let keys = derive_keys(
            self.session_id,
            &self.server.secret,
            &client,
            &client,
            &server_public,
        )?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&keys.c2s));
        self.bound = Some((client, cipher));
        Ok(())
    }

    fn open(&mut self, sealed: &[u8]) -> Result<OpenedFrame, OpenError> {
        let Some((_, cipher)) = &self.bound else {
            return Err(OpenError::NotBound);
        };
        let header = FrameHeader::decode(sealed)?;
        let jpeg = cipher
            .decrypt(
                Nonce::from_slice(&nonce(header.seq)),
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: &aad(self.session_id, &sealed[..HEADER_LEN]),
                },
            )
            .map_err(|_| OpenError::Failed)?;
        // Order is checked on authenticated values only, so a forged header cannot move it.
        if header.seq <= self.last_seq || header.capture_ms < self.last_capture_ms {
            return Err(OpenError::Replay);
        }
        self.last_seq = header.seq;
        self.last_capture_ms = header.capture_ms;
        Ok(OpenedFrame {
            seq: header.seq,
            capture_ms: header.capture_ms,
            flash: header.flash,
            jpeg,
        })
    }

    fn last_seq(&self) -> u64 {
        self.last_seq
    }
}

/// The page's half: seals frames for a session (tests, the load-test tool).
pub struct FrameSealer {
    session_id: Uuid,
    public: PublicKey,
    cipher: ChaCha20Poly1305,
}

impl FrameSealer {
    /// Agrees keys with the server's public key from the challenge using the client's secret.
    pub fn new(
        session_id: Uuid,
        client_secret: [u8; 32],
        server_public_b64: &str,
    ) -> Result<Self, OpenError> {
        let secret = StaticSecret::from(client_secret);
        let public = PublicKey::from(&secret);
        let server = parse_public(server_public_b64)?;
        let keys = derive_keys(session_id, &secret, &server, &public, &server)?;
        Ok(Self {
            session_id,
            public,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&keys.c2s)),
        })
    }

    /// The client's public key, base64url, for the hello.
    pub fn public_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public.as_bytes())
    }

    /// One sealed frame.
    pub fn seal(&self, header: FrameHeader, jpeg: &[u8]) -> Vec<u8> {
        let head = header.encode();
        let sealed = self.cipher.encrypt(
            Nonce::from_slice(&nonce(header.seq)),
            Payload {
                msg: jpeg,
                aad: &aad(self.session_id, &head),
            },
        );
        // Encryption fails only for messages beyond ChaCha20's 256 GiB: not a frame.
        let sealed = sealed.unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.extend_from_slice(&head);
        out.extend_from_slice(&sealed);
        out
    }
}

/// The key of one recording upload (§7): opens its chunks, each bound to the session, its index
/// and the upload's chunk count.
pub struct RecordingKey {
    session_id: Uuid,
    chunks: u32,
    cipher: ChaCha20Poly1305,
}

impl RecordingKey {
    /// The server's side: the session's key pair and the upload's client key share.
    pub fn for_server(
        session_id: Uuid,
        server: &ServerKey,
        client_public: &PublicKey,
        chunks: u32,
    ) -> Result<Self, OpenError> {
        let server_public = PublicKey::from(&server.secret);
        Self::agreed(
            session_id,
            &server.secret,
            client_public,
            client_public,
            &server_public,
            chunks,
        )
    }

    fn agreed(
        session_id: Uuid,
        own_secret: &StaticSecret,
        peer_public: &PublicKey,
        client_public: &PublicKey,
        server_public: &PublicKey,
        chunks: u32,
    ) -> Result<Self, OpenError> {
        let mut key = [0u8; 32];
        agree(
            session_id,
            own_secret,
            peer_public,
            RECORDING_KDF_LABEL,
            client_public,
            server_public,
            &mut key,
        )?;
        Ok(Self {
            session_id,
            chunks,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    fn aad(&self, index: u32) -> Vec<u8> {
        let mut aad = Vec::with_capacity(RECORDING_AAD_LABEL.len() + 16 + 8);
        aad.extend_from_slice(RECORDING_AAD_LABEL);
        aad.extend_from_slice(self.session_id.as_bytes());
        aad.extend_from_slice(&index.to_be_bytes());
        aad.extend_from_slice(&self.chunks.to_be_bytes());
        aad
    }

    /// The plaintext of chunk `index` (ciphertext ‖ tag); `Failed` when it does not open.
    pub fn open(&self, index: u32, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        self.cipher
            .decrypt(
                Nonce::from_slice(&nonce(u64::from(index))),
                Payload {
                    msg: sealed,
                    aad: &self.aad(index),
                },
            )
            .map_err(|_| OpenError::Failed)
    }
}

/// The page's half of a recording upload (tests, the load-test tool).
pub struct RecordingSealer {
    public: PublicKey,
    key: RecordingKey,
}

impl RecordingSealer {
    /// Agrees the upload's key with the server's public key from the challenge.
    pub fn new(
        session_id: Uuid,
        client_secret: [u8; 32],
        server_public_b64: &str,
        chunks: u32,
    ) -> Result<Self, OpenError> {
        let secret = StaticSecret::from(client_secret);
        let public = PublicKey::from(&secret);
        let server = parse_public(server_public_b64)?;
        let key = RecordingKey::agreed(session_id, &secret, &server, &public, &server, chunks)?;
        Ok(Self { public, key })
    }

    /// The client's public key, base64url, for the upload's start.
    pub fn public_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public.as_bytes())
    }

    /// Chunk `index` sealed: ciphertext ‖ tag.
    pub fn seal(&self, index: u32, plain: &[u8]) -> Vec<u8> {
        // Encryption fails only beyond ChaCha20's 256 GiB: not a chunk.
        self.key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce(u64::from(index))),
                Payload {
                    msg: plain,
                    aad: &self.key.aad(index),
                },
            )
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Uuid, SuiteOpener, FrameSealer) {
        let id = Uuid::now_v7();
        let server = ServerKey::generate();
        let sealer = FrameSealer::new(id, rand::random(), &server.public_b64()).unwrap();
        let mut opener = SuiteOpener::new(id, server);
        let client = parse_public(&sealer.public_b64()).unwrap();
        opener.bind(client.as_bytes()).unwrap();
        (id, opener, sealer)
    }

    fn header(seq: u64, capture_ms: u64) -> FrameHeader {
        FrameHeader {
            seq,
            capture_ms,
            flash: 0,
        }
    }

    #[test]
    fn a_sealed_frame_opens_with_its_fields() {
        let (_, mut opener, sealer) = pair();
        let sealed = sealer.seal(header(1, 1_700_000_000_000), b"jpeg bytes");
        let frame = opener.open(&sealed).unwrap();
        assert_eq!(frame.jpeg, b"jpeg bytes");
        assert_eq!(frame.seq, 1);
        assert_eq!(frame.capture_ms, 1_700_000_000_000);
        assert_eq!(opener.last_seq(), 1);
    }

    #[test]
    fn tampering_replay_reordering_and_other_sessions_are_refused() {
        let (_, mut opener, sealer) = pair();
        let first = sealer.seal(header(1, 1000), b"one");
        let second = sealer.seal(header(2, 1100), b"two");
        let mut tampered = second.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(opener.open(&tampered), Err(OpenError::Failed));
        // A header changed in flight breaks the tag too.
        let mut retimed = second.clone();
        retimed[17] ^= 1;
        assert_eq!(opener.open(&retimed), Err(OpenError::Failed));
        opener.open(&second).unwrap();
        assert_eq!(opener.open(&second), Err(OpenError::Replay));
        assert_eq!(opener.open(&first), Err(OpenError::Replay));
        let (_, _, other) = pair();
        let foreign = other.seal(header(3, 1200), b"three");
        assert_eq!(opener.open(&foreign), Err(OpenError::Failed));
        assert_eq!(opener.open(&[1, 1, 0]), Err(OpenError::Malformed));
        let back_in_time = sealer.seal(header(9, 1050), b"late");
        assert_eq!(opener.open(&back_in_time), Err(OpenError::Replay));
    }

    #[test]
    fn resume_needs_the_same_key_and_frames_need_a_hello() {
        let id = Uuid::now_v7();
        let server = ServerKey::generate();
        let sealer = FrameSealer::new(id, rand::random(), &server.public_b64()).unwrap();
        let mut opener = SuiteOpener::new(id, server);
        assert_eq!(
            opener.open(&sealer.seal(header(1, 1), b"x")),
            Err(OpenError::NotBound)
        );
        let key = parse_public(&sealer.public_b64()).unwrap();
        opener.bind(key.as_bytes()).unwrap();
        opener.bind(key.as_bytes()).unwrap();
        assert_eq!(opener.bind(&[7u8; 32]), Err(OpenError::KeyMismatch));
        assert_eq!(opener.bind(&[7u8; 5]), Err(OpenError::BadKey));
    }

    /// A 32-byte key of one of the page's vector files, written as hex under `key`.
    fn vector_key(vector: &serde_json::Value, key: &str) -> [u8; 32] {
        hex::decode(vector[key].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    }

    /// The page's test vector (ui/h5/test/vectors.json, made by the page's own code and checked
    /// there against Node's OpenSSL) opens here to the same bytes.
    #[test]
    fn the_pages_test_vector_opens_and_seals_to_the_same_bytes() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../ui/h5/test/vectors.json")).unwrap();
        let hex32 = |key: &str| vector_key(&v, key);
        let id: Uuid = v["session_id"].as_str().unwrap().parse().unwrap();
        let server = ServerKey::from_bytes(hex32("server_private_key_hex"));
        assert_eq!(server.public_b64(), v["server_public_key_b64url"]);
        let sealer =
            FrameSealer::new(id, hex32("client_private_key_hex"), &server.public_b64()).unwrap();
        assert_eq!(sealer.public_b64(), v["client_public_key_b64url"]);
        let mut opener = SuiteOpener::new(id, server);
        opener.bind(&hex32("client_public_key_hex")).unwrap();
        let frames = v["frames"].as_array().unwrap();
        assert!(frames.len() >= 2);
        for f in frames {
            let sealed = hex::decode(f["sealed_frame_hex"].as_str().unwrap()).unwrap();
            let plain = hex::decode(f["plaintext_hex"].as_str().unwrap()).unwrap();
            let header = FrameHeader {
                seq: f["seq"].as_u64().unwrap(),
                capture_ms: f["capture_ms"].as_u64().unwrap(),
                flash: f["flash"].as_u64().unwrap() as u8,
            };
            assert_eq!(
                sealer.seal(header, &plain),
                sealed,
                "same bytes as the page"
            );
            let opened = opener.open(&sealed).unwrap();
            assert_eq!(opened.jpeg, plain);
            assert_eq!(opened.seq, header.seq);
        }
    }

    #[test]
    fn a_low_order_key_share_is_refused() {
        let mut opener = SuiteOpener::new(Uuid::now_v7(), ServerKey::generate());
        assert_eq!(opener.bind(&[0u8; 32]), Err(OpenError::BadKey));
    }

    /// Chunk 1 of 3 of "second chunk" for the vector's session and keys, computed apart from
    /// this crate (Python `cryptography`: X25519, HKDF, ChaCha20Poly1305).
    const RECORDING_VECTOR_HEX: &str = "05cb296b8ccec19ed01c8ab1b974202c25c4544724e3265c68341d23";

    /// A fixed vector, worked out from the spec's bytes with the crates' primitives step by
    /// step (not through `agree`): a change to the label, salt, nonce or AAD layout breaks it.
    #[test]
    fn a_recording_chunk_seals_to_the_fixed_vector_and_opens() {
        let id: Uuid = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".parse().unwrap();
        let server = ServerKey::from_bytes([7u8; 32]);
        let client_secret = [9u8; 32];
        let sealer = RecordingSealer::new(id, client_secret, &server.public_b64(), 3).unwrap();
        let sealed = sealer.seal(1, b"second chunk");
        // The same bytes by hand.
        let client_public = PublicKey::from(&StaticSecret::from(client_secret));
        let server_public = PublicKey::from(&StaticSecret::from([7u8; 32]));
        let shared = StaticSecret::from(client_secret).diffie_hellman(&server_public);
        let mut info = b"livegate-h5-v1 recording X25519-CHACHA20POLY1305-SHA256".to_vec();
        info.extend_from_slice(client_public.as_bytes());
        info.extend_from_slice(server_public.as_bytes());
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(id.as_bytes()), shared.as_bytes())
            .expand(&info, &mut key)
            .unwrap();
        let mut aad = b"livegate-h5-v1 recording".to_vec();
        aad.extend_from_slice(id.as_bytes());
        aad.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 3]);
        let by_hand = ChaCha20Poly1305::new(Key::from_slice(&key))
            .encrypt(
                Nonce::from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
                Payload {
                    msg: b"second chunk",
                    aad: &aad,
                },
            )
            .unwrap();
        assert_eq!(sealed, by_hand);
        assert_eq!(sealed.len(), b"second chunk".len() + CHUNK_TAG_LEN);
        assert_eq!(
            hex::encode(&sealed),
            RECORDING_VECTOR_HEX,
            "the published vector (docs/h5-protocol.md §7)"
        );
        let opener = RecordingKey::for_server(id, &server, &client_public, 3).unwrap();
        assert_eq!(opener.open(1, &sealed).unwrap(), b"second chunk");
        // Another index, another chunk count, a flipped bit, another session: refused.
        assert_eq!(opener.open(2, &sealed), Err(OpenError::Failed));
        let other_count = RecordingKey::for_server(id, &server, &client_public, 4).unwrap();
        assert_eq!(other_count.open(1, &sealed), Err(OpenError::Failed));
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert_eq!(opener.open(1, &flipped), Err(OpenError::Failed));
        let elsewhere =
            RecordingKey::for_server(Uuid::now_v7(), &server, &client_public, 3).unwrap();
        assert_eq!(elsewhere.open(1, &sealed), Err(OpenError::Failed));
        // The frame key of the same pair does not open a chunk.
        let frame = FrameSealer::new(id, client_secret, &server.public_b64()).unwrap();
        assert_eq!(frame.public_b64(), sealer.public_b64());
    }

    /// The page's recording vector (ui/h5/test/recording-vectors.json, made by the page's own
    /// code) seals and opens to the same bytes here.
    #[test]
    fn the_pages_recording_vector_opens_and_seals_to_the_same_bytes() {
        use sha2::Digest as _;
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../ui/h5/test/recording-vectors.json")).unwrap();
        let hex32 = |key: &str| vector_key(&v, key);
        let id: Uuid = v["session_id"].as_str().unwrap().parse().unwrap();
        let server = ServerKey::from_bytes(hex32("server_private_key_hex"));
        assert_eq!(server.public_b64(), v["server_public_key_b64url"]);
        let size = v["size"].as_u64().unwrap() as usize;
        let chunk_bytes = v["chunk_bytes"].as_u64().unwrap() as usize;
        let chunks = v["chunks"].as_u64().unwrap() as u32;
        assert_eq!(chunk_bytes, 262_144, "the protocol's chunk size");
        let clip: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let sealer = RecordingSealer::new(
            id,
            hex32("client_private_key_hex"),
            &server.public_b64(),
            chunks,
        )
        .unwrap();
        assert_eq!(sealer.public_b64(), v["client_public_key_b64url"]);
        let client = PublicKey::from(hex32("client_public_key_hex"));
        let opener = RecordingKey::for_server(id, &server, &client, chunks).unwrap();
        let vectors = v["chunk_vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), chunks as usize);
        for c in vectors {
            let index = c["index"].as_u64().unwrap() as u32;
            let start = index as usize * chunk_bytes;
            let plain = &clip[start..size.min(start + chunk_bytes)];
            assert_eq!(plain.len() as u64, c["plaintext_len"].as_u64().unwrap());
            let sealed = sealer.seal(index, plain);
            assert_eq!(sealed.len() as u64, c["sealed_len"].as_u64().unwrap());
            assert_eq!(
                hex::encode(Sha256::digest(&sealed)),
                c["sealed_sha256_hex"].as_str().unwrap(),
                "chunk {index}: same bytes as the page"
            );
            if let Some(hex_sealed) = c["sealed_hex"].as_str() {
                assert_eq!(hex::encode(&sealed), hex_sealed);
            }
            assert_eq!(opener.open(index, &sealed).unwrap(), plain);
        }
    }

    #[test]
    fn a_low_order_recording_key_share_is_refused() {
        let server = ServerKey::generate();
        let zero = PublicKey::from([0u8; 32]);
        assert!(RecordingKey::for_server(Uuid::now_v7(), &server, &zero, 1).is_err());
    }
}
