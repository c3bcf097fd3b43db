//! The result an integrator receives (from `GET .../result` and in the callback), built once when
//! a session ends, signed, and stored as it is served.

use chrono::{DateTime, SecondsFormat, Utc};
use livegate_actors::actor::SessionOutcome;
use livegate_models::Embedding;
use serde_json::{json, Map, Value};

use crate::store::{RecordOutcome, RecordStatus, SessionRow, Verdict};

use super::live::SessionFacts;
use super::reference::CompareOutcome;

/// How a session ended, as the integrator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    /// A live person did every step.
    Passed,
    /// The challenge was failed.
    Failed,
    /// The link's deadline passed first.
    Expired,
}

impl ResultStatus {
    /// The word in the result.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Passed => "passed",
            ResultStatus::Failed => "failed",
            ResultStatus::Expired => "expired",
        }
    }
}

/// The per-signal scores of a finished session, each in 0..=1 (1 = as a live person would).
pub fn scores(outcome: &SessionOutcome, steps_total: usize) -> Value {
    let done = outcome
        .steps
        .iter()
        .filter(|s| s.passed_t.is_some())
        .count();
    let action = if steps_total == 0 {
        0.0
    } else {
        done as f64 / steps_total as f64
    };
    let continuity = (1.0
        - f64::from(outcome.max_identity_distance) / f64::from(Embedding::SAME_PERSON_DISTANCE))
    .clamp(0.0, 1.0);
    let mut scores = json!({
        "action": round3(action),
        "continuity": round3(continuity),
        "quality": round3(f64::from(outcome.clean_share)),
    });
    // The silent and injection cues are attack scores (1 = looks like the attack the cue names),
    // as in docs/attacks.md.
    if let Some(silent) = &outcome.cues.silent {
        let cues: Map<String, Value> = silent
            .scores
            .iter()
            .map(|(name, s)| (name.clone(), json!(round3(f64::from(*s)))))
            .collect();
        scores["silent"] = Value::Object(cues);
    }
    if !outcome.cues.injection.is_empty() {
        let cues: Map<String, Value> = outcome
            .cues
            .injection
            .iter()
            .map(|(name, s)| ((*name).to_owned(), json!(round3(f64::from(*s)))))
            .collect();
        scores["injection"] = Value::Object(cues);
    }
    // The colour flash: one score (1 = answered as a live face near the screen does) and the
    // measures behind it (docs/attacks.md, "Colour flash").
    if let Some(flash) = &outcome.cues.flash {
        let measures: Map<String, Value> = flash
            .measures
            .iter()
            .map(|(name, v)| (name.clone(), json!(round3(f64::from(*v)))))
            .collect();
        scores["flash"] = json!({
            "score": round3(f64::from(flash.score)),
            "live": flash.live,
            "measures": measures,
        });
    }
    scores
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The result of a session that ended with an outcome from its actor, and with its 1:1
/// compare (the engine's word and how it went) when the scene compares.
///
/// `verdict` is the whole decision: a live person who is not the reference's person fails with
/// `face_mismatch`; `liveness` says how the liveness part alone went.
pub fn finished(
    live: &SessionFacts,
    outcome: &SessionOutcome,
    compare: Option<(&str, &CompareOutcome)>,
    started_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (Value, RecordOutcome) {
    let passed = outcome.verdict.passed && compare.is_none_or(|(_, c)| c.passes());
    let status = if passed {
        ResultStatus::Passed
    } else {
        ResultStatus::Failed
    };
    let mut reasons: Vec<Value> = outcome
        .verdict
        .reasons
        .iter()
        .map(|r| json!(r.as_str()))
        .collect();
    if let Some(reason) = compare.and_then(|(_, c)| c.reason()) {
        reasons.push(json!(reason));
    }
    let mut scores = scores(outcome, outcome.challenge.len());
    if let Some((
        "builtin",
        CompareOutcome::Done {
            score: Some(score), ..
        },
    )) = compare
    {
        scores["compare"] = json!(score);
    }
    let actions: Vec<Value> = outcome
        .challenge
        .iter()
        .enumerate()
        .map(|(index, action)| {
            let step = outcome.steps.iter().find(|s| s.index == index);
            let seconds = step.and_then(|s| s.passed_t.map(|p| round3(p - s.started_t)));
            json!({
                "action": action,
                "passed": seconds.is_some(),
                "seconds": seconds,
            })
        })
        .collect();
    let mut body = base(live, status);
    let word = |pass: bool| if pass { "pass" } else { "fail" };
    body.insert("verdict".into(), json!(word(passed)));
    body.insert("liveness".into(), json!(word(outcome.verdict.passed)));
    if let Some((engine, compared)) = compare {
        body.insert("compare".into(), compared.to_json(engine));
    }
    body.insert("reasons".into(), Value::Array(reasons.clone()));
    body.insert("scores".into(), scores.clone());
    body.insert("actions".into(), Value::Array(actions));
    body.insert("attempts".into(), json!(outcome.attempts));
    body.insert(
        "timings".into(),
        json!({
            "created_at": time(live.created_at),
            "started_at": started_at.map(time),
            "finished_at": time(now),
            "duration_ms": (outcome.duration_s * 1000.0).round() as i64,
        }),
    );
    body.insert(
        "frames".into(),
        json!({
            "received": outcome.status.frames_received,
            "analysed": outcome.status.frames_analysed,
            "dropped": outcome.status.frames_dropped,
            "failed": outcome.status.frames_failed,
        }),
    );
    let record = RecordOutcome {
        status: RecordStatus::Finished,
        verdict: Some(if passed { Verdict::Pass } else { Verdict::Fail }),
        reasons: Value::Array(reasons),
        scores,
    };
    (Value::Object(body), record)
}

/// The result of a session whose link expired before it had one.
pub fn expired(row: &SessionRow, scene_code: &str, now: DateTime<Utc>) -> (Value, RecordOutcome) {
    let mut body = Map::new();
    body.insert("session_id".into(), json!(row.session_id));
    body.insert("biz_id".into(), json!(row.record.biz_id));
    body.insert("scene".into(), json!(scene_code));
    body.insert("scene_version".into(), json!(row.record.scene_version));
    body.insert("status".into(), json!(ResultStatus::Expired.as_str()));
    body.insert("verdict".into(), Value::Null);
    body.insert("reasons".into(), json!(["expired"]));
    body.insert("scores".into(), json!({}));
    body.insert("actions".into(), json!([]));
    body.insert(
        "timings".into(),
        json!({
            "created_at": time(row.record.created_at),
            "started_at": row.started_at.map(time),
            "finished_at": time(now),
            "expires_at": time(row.expires_at),
        }),
    );
    if let Some(user_ref) = &row.user_ref {
        body.insert("user_ref".into(), json!(user_ref));
    }
    let record = RecordOutcome {
        status: RecordStatus::Expired,
        verdict: None,
        reasons: json!(["expired"]),
        scores: json!({}),
    };
    (Value::Object(body), record)
}

fn base(live: &SessionFacts, status: ResultStatus) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("session_id".into(), json!(live.id));
    body.insert("biz_id".into(), json!(live.biz_id));
    body.insert("scene".into(), json!(live.scene_code));
    body.insert("scene_version".into(), json!(live.scene_version));
    body.insert("status".into(), json!(status.as_str()));
    if let Some(user_ref) = &live.user_ref {
        body.insert("user_ref".into(), json!(user_ref));
    }
    body
}

/// The answer to `GET /open/v1/sessions/{id}/result` for a session without a result yet.
pub fn pending(row: &SessionRow) -> Value {
    json!({
        "session_id": row.session_id,
        "biz_id": row.record.biz_id,
        "status": "pending",
        "expires_at": time(row.expires_at),
    })
}

/// How long a signed result is valid for a verifier checking `exp` (an auditor re-checking an
/// old result verifies the signature with `exp` not enforced).
pub const SIGNED_RESULT_VALIDITY_DAYS: i64 = 30;

/// The claims signed into the result's JWS: the result itself plus issuer, audience (the app
/// that created the session: a result cannot be passed off to another app), issue and expiry
/// times.
pub fn claims(result: &Value, app_id: Option<&str>, now: DateTime<Utc>) -> Value {
    let mut claims = result.as_object().cloned().unwrap_or_default();
    claims.insert("iss".into(), json!("livegate"));
    if let Some(app) = app_id {
        claims.insert("aud".into(), json!(app));
    }
    claims.insert("iat".into(), json!(now.timestamp()));
    claims.insert(
        "exp".into(),
        json!((now + chrono::Duration::days(SIGNED_RESULT_VALIDITY_DAYS)).timestamp()),
    );
    Value::Object(claims)
}

/// How a session's frames reached the server (the result's `capture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Streamed in real time over the WebSocket.
    Live,
    /// A recorded clip uploaded and analysed afterwards (`docs/h5-protocol.md` §7).
    Recording,
}

impl Capture {
    /// The word in the result: `live` or `recording`.
    pub fn as_str(self) -> &'static str {
        match self {
            Capture::Live => "live",
            Capture::Recording => "recording",
        }
    }
}

/// The result with how its frames came (before it is signed).
pub fn with_capture(mut result: Value, capture: Capture) -> Value {
    if let Some(body) = result.as_object_mut() {
        body.insert("capture".into(), json!(capture.as_str()));
    }
    result
}
