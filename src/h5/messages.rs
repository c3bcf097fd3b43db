//! The JSON messages of the H5 WebSocket and its closing codes (`docs/h5-protocol.md` §3).
//! Pure: no I/O.

use livegate_actors::actions::ActionKind;
use livegate_actors::actor::{FrameRefused, OpenError};
use livegate_actors::budget::BudgetBreach;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the page sends first.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Key share and client facts.
    Hello {
        /// The suite chosen from the challenge's.
        suite: String,
        /// The page's X25519 public key, base64url.
        client_key: String,
        /// Whether this is a reconnect.
        #[serde(default)]
        resume: bool,
        /// What the page can see of itself (stored with the record).
        #[serde(default)]
        client: Value,
    },
}

/// One step as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    /// Its position.
    pub index: usize,
    /// The action.
    pub action: ActionKind,
    /// The instruction, in the link's language.
    pub text: String,
}

/// What the server tells the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The hello was accepted.
    Ready {
        /// The sequence number expected next.
        next_seq: u64,
        /// Steps done.
        done: usize,
        /// Steps in all.
        total: usize,
        /// The step asked for now.
        #[serde(skip_serializing_if = "Option::is_none")]
        step: Option<StepView>,
    },
    /// A frame was accepted.
    Ack {
        /// Its sequence number.
        seq: u64,
    },
    /// The most important thing to fix (`code: null` clears it).
    Prompt {
        /// The prompt's code (`TOO_FAR`), or none.
        code: Option<String>,
        /// Its text, empty when cleared.
        text: String,
    },
    /// A new step.
    Step {
        /// Its position.
        index: usize,
        /// The action.
        action: ActionKind,
        /// The instruction.
        text: String,
        /// Steps done.
        done: usize,
        /// Steps in all.
        total: usize,
    },
    /// A step was done.
    StepPassed {
        /// Its position.
        index: usize,
        /// The action.
        action: ActionKind,
        /// Steps done.
        done: usize,
        /// Steps in all.
        total: usize,
    },
    /// An attempt ran out of time; another begins (its steps follow as `step` messages).
    Retry {
        /// The attempt that begins (from 2).
        attempt: usize,
        /// Attempts in all.
        of: usize,
        /// Why the last one failed.
        reasons: Vec<String>,
        /// What to tell the person.
        text: String,
    },
    /// The face has settled: flash the challenge's colour sequence now (`flash.steps`).
    Flash {
        /// What to tell the person meanwhile (hold still, close to the screen).
        text: String,
    },
    /// The session is over.
    Result {
        /// Whether the person passed.
        passed: bool,
        /// Why not.
        reasons: Vec<String>,
        /// A sentence for the end screen.
        text: String,
        /// Where to go back to.
        #[serde(skip_serializing_if = "Option::is_none")]
        return_url: Option<String>,
    },
    /// Sent right before a closing code of 4000–4999.
    Error {
        /// The close code.
        code: u16,
        /// Its reason word.
        reason: &'static str,
    },
}

/// Why the server closes a page's socket; each has a documented code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// 1000: the result was sent.
    Done,
    /// 1001: the server is stopping.
    GoingAway,
    /// 1011: a bug.
    InternalError,
    /// 4000: not a message of the protocol, or out of turn.
    BadMessage,
    /// 4001: a suite the server does not offer.
    UnsupportedSuite,
    /// 4002: a key share that is not one.
    BadKey,
    /// 4003: a resume with another key.
    KeyMismatch,
    /// 4004: a frame that does not open.
    OpenFailed,
    /// 4005: a frame not newer than the last.
    Replay,
    /// 4006: a frame over the size limit.
    FrameTooLarge,
    /// 4007: too many frames per second.
    RateExceeded,
    /// 4008: too many frames in the session.
    TooManyFrames,
    /// 4009: too many bytes in the session.
    BytesExceeded,
    /// 4010: frames after the time limit.
    DurationExceeded,
    /// 4011: the session already has its result.
    SessionEnded,
    /// 4012: the session's link expired.
    SessionExpired,
    /// 4013: a newer connection took the session.
    Superseded,
    /// 4014: no hello in time.
    HandshakeTimeout,
}

impl CloseReason {
    /// Every reason, for the documentation test.
    pub const ALL: [CloseReason; 18] = [
        CloseReason::Done,
        CloseReason::GoingAway,
        CloseReason::InternalError,
        CloseReason::BadMessage,
        CloseReason::UnsupportedSuite,
        CloseReason::BadKey,
        CloseReason::KeyMismatch,
        CloseReason::OpenFailed,
        CloseReason::Replay,
        CloseReason::FrameTooLarge,
        CloseReason::RateExceeded,
        CloseReason::TooManyFrames,
        CloseReason::BytesExceeded,
        CloseReason::DurationExceeded,
        CloseReason::SessionEnded,
        CloseReason::SessionExpired,
        CloseReason::Superseded,
        CloseReason::HandshakeTimeout,
    ];

    /// The WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            CloseReason::Done => 1000,
            CloseReason::GoingAway => 1001,
            CloseReason::InternalError => 1011,
            CloseReason::BadMessage => 4000,
            CloseReason::UnsupportedSuite => 4001,
            CloseReason::BadKey => 4002,
            CloseReason::KeyMismatch => 4003,
            CloseReason::OpenFailed => 4004,
            CloseReason::Replay => 4005,
            CloseReason::FrameTooLarge => 4006,
            CloseReason::RateExceeded => 4007,
            CloseReason::TooManyFrames => 4008,
            CloseReason::BytesExceeded => 4009,
            CloseReason::DurationExceeded => 4010,
            CloseReason::SessionEnded => 4011,
            CloseReason::SessionExpired => 4012,
            CloseReason::Superseded => 4013,
            CloseReason::HandshakeTimeout => 4014,
        }
    }

    /// The reason word sent in the close frame.
    pub fn word(self) -> &'static str {
        match self {
            CloseReason::Done => "done",
            CloseReason::GoingAway => "going_away",
            CloseReason::InternalError => "internal_error",
            CloseReason::BadMessage => "bad_message",
            CloseReason::UnsupportedSuite => "unsupported_suite",
            CloseReason::BadKey => "bad_key",
            CloseReason::KeyMismatch => "key_mismatch",
            CloseReason::OpenFailed => "open_failed",
            CloseReason::Replay => "replay",
            CloseReason::FrameTooLarge => "frame_too_large",
            CloseReason::RateExceeded => "rate_exceeded",
            CloseReason::TooManyFrames => "too_many_frames",
            CloseReason::BytesExceeded => "bytes_exceeded",
            CloseReason::DurationExceeded => "duration_exceeded",
            CloseReason::SessionEnded => "session_ended",
            CloseReason::SessionExpired => "session_expired",
            CloseReason::Superseded => "superseded",
            CloseReason::HandshakeTimeout => "handshake_timeout",
        }
    }
}

impl From<FrameRefused> for CloseReason {
    fn from(refused: FrameRefused) -> Self {
        match refused {
            FrameRefused::Budget(b) => match b {
                BudgetBreach::FrameTooLarge => CloseReason::FrameTooLarge,
                BudgetBreach::RateExceeded => CloseReason::RateExceeded,
                BudgetBreach::TooManyFrames => CloseReason::TooManyFrames,
                BudgetBreach::BytesExceeded => CloseReason::BytesExceeded,
                BudgetBreach::DurationExceeded => CloseReason::DurationExceeded,
            },
            FrameRefused::Open(o) => match o {
                OpenError::Malformed | OpenError::NotBound => CloseReason::BadMessage,
                OpenError::BadKey => CloseReason::BadKey,
                OpenError::KeyMismatch => CloseReason::KeyMismatch,
                OpenError::Failed => CloseReason::OpenFailed,
                OpenError::Replay => CloseReason::Replay,
            },
            FrameRefused::Ended => CloseReason::SessionEnded,
            FrameRefused::NotSealed => CloseReason::InternalError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_close_code_is_documented_with_its_word() {
        let doc = include_str!("../../docs/h5-protocol.md");
        for reason in CloseReason::ALL {
            let row = format!("| {} | `{}` |", reason.code(), reason.word());
            assert!(doc.contains(&row), "docs/h5-protocol.md lacks {row}");
        }
    }

    #[test]
    fn a_hello_reads_and_garbage_does_not() {
        let hello: ClientMessage = serde_json::from_str(
            r#"{"type":"hello","suite":"X25519-CHACHA20POLY1305-SHA256","client_key":"abc","client":{"camera_label":"Front"}}"#,
        )
        .unwrap();
        let ClientMessage::Hello { resume, client, .. } = hello;
        assert!(!resume);
        assert_eq!(client["camera_label"], "Front");
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"frame"}"#).is_err());
        assert!(serde_json::from_str::<ClientMessage>("not json").is_err());
    }
}
