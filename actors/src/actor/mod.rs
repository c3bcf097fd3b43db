//! The thin actors around the session logic: concurrency, supervision, back-pressure, timeouts.

pub mod decoder;
pub mod pool;
pub mod quality_check;
pub mod session_actor;

pub use pool::{EngineFactory, Job, JobError, PoolConfig, PoolError, PoolHandle, PoolStats};
pub use session_actor::{SessionError, SessionHandle, SessionOptions, SessionStatus};
