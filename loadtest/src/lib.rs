//! livegate-loadtest: the protocol-independent half of `livegate loadtest`.
//!
//! Layout:
//! - `clips.rs`: real clips decoded once, up front, into the JPEGs a page would send (its size,
//!   its frame rate, its JPEG quality), so the load itself spends nothing on decoding.
//! - `schedule.rs`: how sessions are started: a closed loop of N clients, or an open loop at a
//!   fixed rate with a bound on sessions in flight; the window, then the drain.
//! - `stats.rs`: latency samples and their percentiles; errors by kind.
//! - `process.rs`: CPU % and RSS of a process from `/proc/<pid>/stat` and `statm`, sampled once
//!   a second.
//! - `report.rs`: what one session measured, the table, and the last JSON line.
//!
//! The protocol client (signed session creation, the challenge, the WebSocket with sealed
//! frames) lives in the `livegate` crate (`src/loadtest.rs`), which depends on this one: it
//! needs the server's own sealing and signing code (decision 0005).
//!
//! ```text
//! livegate loadtest ─ clips::decode (once) ─ schedule::drive ─┬─ session 1 ─┐
//!                   └─ process::Sampler (server pid, 1 Hz)    ├─ session 2 ─┼─ report::Report
//!                                                             └─ ...        ┘
//! ```

pub mod clips;
pub mod process;
pub mod report;
pub mod schedule;
pub mod stats;
