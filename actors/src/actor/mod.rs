//! The thin actors around the session logic: concurrency, supervision, back-pressure, timeouts.

pub mod decoder;
pub mod opener;
pub mod pool;
pub mod quality_check;
pub mod session_actor;

pub use opener::{FrameOpener, OpenError, OpenedFrame};
pub use pool::{
    EngineFactory, Job, JobError, PoolConfig, PoolError, PoolHandle, PoolStats, PortraitError,
};
pub use session_actor::{
    FrameRefused, SendError, SessionCues, SessionError, SessionHandle, SessionOptions,
    SessionOutcome, SessionPosition, SessionStatus, StepTiming,
};
