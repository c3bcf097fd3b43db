//! The adapter to a compare service the union already runs: a 1:1 face compare over HTTP,
//! described per scene in its `compare.http` rules, with no code per union.
//!
//! ```text
//! scene config "compare.http" ─ CompareServiceRules::parse (rules.rs: url, auth, body template,
//!                                                           answer pointers, timeout, breaker)
//! session passed ─ CompareServiceClient::compare (client.rs)
//!   body from the template (${live_image} ... as base64) ─ per attempt, up to 1 + retries:
//!     breaker admits? (breaker.rs, one per endpoint url, shared by every clone) ─ no: CircuitOpen
//!     sign (token header, or X-LG-* HMAC as our own callbacks) ─ POST, timeout_ms
//!       timeout / 5xx / unreachable → breaker failure, retry · other answers → breaker success
//!   2xx answer ─ code in success_codes? ─ no: Refused ─ pass flag, else score >= min_score
//! ```
//!
//! Neither bodies (they hold faces and ID numbers) nor secrets are ever logged; the log has the
//! status, attempt and elapsed time. Every call is counted in
//! [`COMPARE_SERVICE_CALLS_TOTAL`] by its outcome word.

pub mod breaker;
pub mod client;
pub mod reference_source;
pub mod rules;

pub use client::{
    CompareServiceClient, Reference, ReferenceKind, RemoteCompareError, RemoteCompareRequest,
    RemoteComparison,
};
pub use reference_source::ReferenceSourceRules;
pub use rules::{
    AnswerRules, BodyFormat, BreakerRules, CompareAuth, CompareServiceRules, Placeholder,
};

/// Counter: calls to a compare service, by `outcome` (`ok`, or the error word of
/// [`RemoteCompareError::as_str`]).
pub const COMPARE_SERVICE_CALLS_TOTAL: &str = "livegate_compare_service_calls_total";

/// Counter: reference images fetched by id for the built-in comparator, by `outcome`.
pub const REFERENCE_FETCHES_TOTAL: &str = "livegate_reference_fetches_total";

/// Describes the compare service metrics (called once by `metrics::install`).
pub fn describe_metrics() {
    metrics::describe_counter!(
        REFERENCE_FETCHES_TOTAL,
        metrics::Unit::Count,
        "reference images fetched by id for the built-in comparator, by outcome"
    );
    metrics::describe_counter!(
        COMPARE_SERVICE_CALLS_TOTAL,
        metrics::Unit::Count,
        "calls to the union's compare service, by outcome (ok, compare_timeout, ...)"
    );
}
