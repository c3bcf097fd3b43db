//! Sealed frames: the page seals every frame, and the session actor opens it itself, so a frame
//! is checked by the one place that knows the session's keys and order.
//!
//! The cipher suite is the server's business (`src/h5/seal.rs`); the actor only needs these two
//! calls, so a second suite (SM2 + SM4-GCM) plugs in without touching the session.

/// Opens a session's sealed frames with the keys agreed at the page's hello.
pub trait FrameOpener: Send + 'static {
    /// Binds the session to the page's key share on the first hello, or checks that a resuming
    /// page sends the same one.
    fn bind(&mut self, client_key: &[u8]) -> Result<(), OpenError>;

    /// Opens one sealed frame; refuses one that is not newer than the last accepted.
    fn open(&mut self, sealed: &[u8]) -> Result<OpenedFrame, OpenError>;

    /// The sequence number of the last accepted frame (0 before any).
    fn last_seq(&self) -> u64;
}

/// A frame as the page captured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedFrame {
    /// Its sequence number (from 1, increasing).
    pub seq: u64,
    /// Capture time, Unix milliseconds on the page's clock.
    pub capture_ms: u64,
    /// The colour the screen showed at capture (0 = none).
    pub flash: u8,
    /// The JPEG.
    pub jpeg: Vec<u8>,
}

/// Why a hello or a frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The frame's header is not one this suite reads.
    #[error("malformed frame")]
    Malformed,
    /// The key share is not a valid public key of the suite.
    #[error("bad key share")]
    BadKey,
    /// A resuming page sent another key share than the session is bound to.
    #[error("key share does not match the session's")]
    KeyMismatch,
    /// A frame arrived before any hello.
    #[error("no key agreed yet")]
    NotBound,
    /// Authentication failed: tampered, wrong key, or another session's frame.
    #[error("frame does not open")]
    Failed,
    /// Not newer than the last accepted frame (sequence or capture time).
    #[error("frame replayed or out of order")]
    Replay,
}
