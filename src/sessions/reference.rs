//! 1:1 compare inside a session: the reference face an integrator sends with the session, and
//! the comparison of the session's best frame with it once the person has proved liveness.
//!
//! The integrator's flow does not change: one request creates the session with its reference,
//! one result carries liveness and compare (`docs/compare.md`). The reference is checked when
//! the session is created, so a photo without a usable face is refused at once (422) rather
//! than after the person did every step.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use livegate_actors::actor::{PoolHandle, PortraitError, SessionOutcome};
use livegate_models::compare::{Comparison, ImageRole};
use livegate_models::media::{decode_image, MediaLimits};
use livegate_models::Embedding;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::compare_service::reference_source::is_url_safe_id;
use crate::compare_service::{
    CompareServiceClient, Reference, RemoteCompareError, RemoteCompareRequest,
};
use crate::error::{ApiError, ErrorCode};
use crate::scenes::CompareRules;

/// Largest reference image accepted, in bytes (an ID or account photo is far smaller).
pub const MAX_REFERENCE_BYTES: usize = 1024 * 1024;
/// Longest reference id, in characters.
pub const MAX_REFERENCE_ID: usize = 128;

/// The `reference` of a create-session request: exactly one of an image or an id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceInput {
    /// A JPEG or PNG of the person's face, base64 (standard or URL-safe alphabet).
    #[serde(default)]
    pub image: Option<String>,
    /// The person's reference in the compare service (its customer or certificate number).
    #[serde(default)]
    pub id: Option<String>,
}

/// A session's reference face, as kept until the session ends.
#[derive(Clone)]
pub enum SessionReference {
    /// The built-in comparator's embedding of the reference image's face, and the image.
    Embedding(Embedding, Arc<Vec<u8>>),
    /// The reference image, sent to the compare service at the end.
    Image(Arc<Vec<u8>>),
    /// The reference id, sent to the compare service at the end.
    Id(String),
}

impl std::fmt::Debug for SessionReference {
    // A face embedding or image is biometric data: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SessionReference::Embedding(..) => "SessionReference::Embedding(..)",
            SessionReference::Image(_) => "SessionReference::Image(..)",
            SessionReference::Id(_) => "SessionReference::Id(..)",
        })
    }
}

fn refused(reason: impl Into<String>) -> ApiError {
    super::invalid("reference", &reason.into())
}

fn image_bytes(text: &str) -> Result<Vec<u8>, ApiError> {
    // 4 characters of base64 carry 3 bytes: refuse before decoding an oversized text.
    if text.len() > MAX_REFERENCE_BYTES / 3 * 4 + 4 {
        return Err(refused(format!(
            "reference.image: at most {MAX_REFERENCE_BYTES} bytes"
        )));
    }
    let bytes = STANDARD
        .decode(text.trim())
        .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim()))
        .map_err(|_| refused("reference.image: not base64"))?;
    if bytes.is_empty() {
        return Err(refused("reference.image: empty"));
    }
    if bytes.len() > MAX_REFERENCE_BYTES {
        return Err(refused(format!(
            "reference.image: at most {MAX_REFERENCE_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

/// Checks a create-session request's reference against the scene's compare rules and
/// prepares it: the built-in comparator embeds the image's one face now (fetching the image
/// from the scene's reference source when given an id).
pub async fn prepare(
    rules: Option<&CompareRules>,
    input: Option<&ReferenceInput>,
    pool: &PoolHandle,
    service: &CompareServiceClient,
) -> Result<Option<SessionReference>, ApiError> {
    let (rules, input) = match (rules, input) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(refused(
                "the scene does not compare faces: send no reference",
            ))
        }
        (Some(_), None) => {
            return Err(refused(
                "the scene compares faces: send a reference image or id",
            ))
        }
        (Some(rules), Some(input)) => (rules, input),
    };
    match (&input.image, &input.id) {
        (Some(image), None) => image_reference(rules, image_bytes(image)?, pool).await,
        (None, Some(id)) => {
            let chars = id.chars().count();
            if chars == 0 || chars > MAX_REFERENCE_ID || id.chars().any(char::is_control) {
                return Err(refused(format!(
                    "reference.id: 1 to {MAX_REFERENCE_ID} characters, no control characters"
                )));
            }
            match rules {
                CompareRules::Builtin(None) => Err(refused(
                    "the built-in comparator needs a reference image, not an id \
                     (the scene has no reference_source)",
                )),
                CompareRules::Builtin(Some(source)) => {
                    if !is_url_safe_id(id) {
                        return Err(refused(
                            "reference.id: letters, digits, '.', '_', '-' and '~' only \
                             (it goes into the reference source's URL)",
                        ));
                    }
                    let bytes = match service.fetch_reference(source, id).await {
                        Ok(bytes) => bytes,
                        Err(RemoteCompareError::Status(404)) => {
                            return Err(refused("reference.id: not found at the reference source"))
                        }
                        Err(err) => {
                            return Err(ApiError::new(ErrorCode::Unavailable).with_detail(json!({
                                "field": "reference",
                                "reason": format!(
                                    "the reference source gave no image ({})",
                                    err.as_str()
                                ),
                            })))
                        }
                    };
                    image_reference(rules, bytes, pool).await
                }
                CompareRules::Http(service) => {
                    if !service.accepts(&Reference::Id(id)) {
                        return Err(refused(
                            "the scene's compare service takes a reference image, not an id",
                        ));
                    }
                    Ok(Some(SessionReference::Id(id.clone())))
                }
            }
        }
        _ => Err(refused(
            "send exactly one of reference.image and reference.id",
        )),
    }
}

/// A reference image made ready for the scene's comparator: decoded, and for the built-in one
/// embedded now.
async fn image_reference(
    rules: &CompareRules,
    bytes: Vec<u8>,
    pool: &PoolHandle,
) -> Result<Option<SessionReference>, ApiError> {
    let decoded = {
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || decode_image(&bytes, &MediaLimits::default()))
            .await
            .map_err(|err| ApiError::internal(format!("reference decode: {err}")))?
            .map_err(|err| refused(format!("reference.image: {err}")))?
    };
    match rules {
        CompareRules::Builtin(_) => {
            let embedding = pool
                .embed_portrait(Arc::new(decoded), ImageRole::Reference)
                .await
                .map_err(|err| match err {
                    PortraitError::Face(face) => refused(face.to_string()),
                    PortraitError::Job(job) => ApiError::new(ErrorCode::Unavailable)
                        .with_detail(json!({ "reason": job.to_string() })),
                })?;
            Ok(Some(SessionReference::Embedding(
                embedding,
                Arc::new(bytes),
            )))
        }
        CompareRules::Http(service) => {
            if !service.accepts(&Reference::Image(&bytes)) {
                return Err(refused(
                    "the scene's compare service takes a reference id, not an image",
                ));
            }
            Ok(Some(SessionReference::Image(Arc::new(bytes))))
        }
    }
}

/// How the compare of a finished session went.
#[derive(Debug, Clone, PartialEq)]
pub enum CompareOutcome {
    /// Liveness failed: nothing was compared.
    Skipped,
    /// Compared.
    Done {
        /// Same person.
        same_person: bool,
        /// The engine's score (built-in: 0..1; the service's: on its own scale).
        score: Option<f64>,
        /// The built-in comparator's embedding distance.
        distance: Option<f64>,
    },
    /// No answer: a word saying why (`compare_timeout`, `compare_no_face`, ...).
    Error(&'static str),
}

impl CompareOutcome {
    /// Whether the compare lets the session pass.
    pub fn passes(&self) -> bool {
        matches!(
            self,
            CompareOutcome::Done {
                same_person: true,
                ..
            }
        )
    }

    /// The reason added to a failed session's reasons, if the compare failed it.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            CompareOutcome::Skipped => None,
            CompareOutcome::Done {
                same_person: true, ..
            } => None,
            CompareOutcome::Done { .. } => Some("face_mismatch"),
            CompareOutcome::Error(_) => Some("compare_unavailable"),
        }
    }

    /// The result's `compare` object.
    pub fn to_json(&self, engine: &str) -> Value {
        match self {
            CompareOutcome::Skipped => json!({ "engine": engine, "status": "skipped" }),
            CompareOutcome::Done {
                same_person,
                score,
                distance,
            } => {
                let mut body = json!({
                    "engine": engine,
                    "status": "done",
                    "same_person": same_person,
                    "score": score,
                });
                if let Some(distance) = distance {
                    body["distance"] = json!(distance);
                }
                body
            }
            CompareOutcome::Error(word) => {
                json!({ "engine": engine, "status": "error", "error": word })
            }
        }
    }
}

fn round4(v: f32) -> f64 {
    (f64::from(v) * 10_000.0).round() / 10_000.0
}

impl SessionReference {
    /// The reference image and its evidence name (`reference.jpg` or `.png`), if one was sent.
    pub fn image(&self) -> Option<(&'static str, &Arc<Vec<u8>>)> {
        let bytes = match self {
            SessionReference::Embedding(_, bytes) | SessionReference::Image(bytes) => bytes,
            SessionReference::Id(_) => return None,
        };
        let name = if bytes.starts_with(b"\x89PNG") {
            "reference.png"
        } else {
            "reference.jpg"
        };
        Some((name, bytes))
    }
}

/// The word for a portrait problem of the session's best frame.
fn portrait_word(err: &PortraitError) -> &'static str {
    use livegate_models::compare::CompareError;
    match err {
        PortraitError::Face(CompareError::NoFace { .. }) => "compare_no_face",
        PortraitError::Face(CompareError::SeveralFaces { .. }) => "compare_several_faces",
        PortraitError::Face(_) => "compare_face_unusable",
        PortraitError::Job(_) => "compare_engine_failed",
    }
}

/// What the end of a session compares, and with what.
pub struct CompareJob<'a> {
    /// The scene's compare rules.
    pub rules: &'a CompareRules,
    /// The reference kept since creation.
    pub reference: &'a SessionReference,
    /// The session.
    pub session_id: Uuid,
    /// The integrator's business id (some compare services want it).
    pub biz_id: &'a str,
}

/// Compares the best frame of a passed session with its reference.
pub async fn compare_session(
    job: CompareJob<'_>,
    outcome: &SessionOutcome,
    pool: &PoolHandle,
    service: &CompareServiceClient,
) -> CompareOutcome {
    if !outcome.verdict.passed {
        return CompareOutcome::Skipped;
    }
    let Some(best) = outcome.evidence.iter().find(|f| f.name == "best") else {
        return CompareOutcome::Error("compare_no_frame");
    };
    match (job.rules, job.reference) {
        (CompareRules::Builtin(_), SessionReference::Embedding(reference, _)) => {
            let jpeg = Arc::clone(&best.jpeg);
            let decoded =
                tokio::task::spawn_blocking(move || decode_image(&jpeg, &MediaLimits::default()))
                    .await;
            let Ok(Ok(frame)) = decoded else {
                return CompareOutcome::Error("compare_no_frame");
            };
            match pool.embed_portrait(Arc::new(frame), ImageRole::A).await {
                Ok(live) => {
                    let c = Comparison::of(&live, reference);
                    CompareOutcome::Done {
                        same_person: c.same_person,
                        score: Some(round4(c.score)),
                        distance: Some(round4(c.distance)),
                    }
                }
                Err(err) => CompareOutcome::Error(portrait_word(&err)),
            }
        }
        (CompareRules::Http(rules), reference) => {
            let reference = match reference {
                SessionReference::Image(bytes) => Reference::Image(bytes),
                SessionReference::Id(id) => Reference::Id(id),
                SessionReference::Embedding(..) => {
                    return CompareOutcome::Error("compare_reference_kind")
                }
            };
            let request = RemoteCompareRequest {
                live_jpeg: &best.jpeg,
                reference,
                session_id: job.session_id,
                biz_id: job.biz_id,
            };
            match service.compare(rules, &request).await {
                Ok(answer) => CompareOutcome::Done {
                    same_person: answer.same_person,
                    score: answer.score,
                    distance: None,
                },
                Err(err) => CompareOutcome::Error(err.as_str()),
            }
        }
        // The reference was prepared for these rules at creation; the rules are the
        // session's own copy, so a mismatch means a bug, answered as unavailable.
        (CompareRules::Builtin(_), _) => CompareOutcome::Error("compare_reference_kind"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mismatch_fails_with_its_reason_and_an_error_says_unavailable() {
        let same = CompareOutcome::Done {
            same_person: true,
            score: Some(0.97),
            distance: Some(0.21),
        };
        let other = CompareOutcome::Done {
            same_person: false,
            score: Some(0.02),
            distance: Some(0.7),
        };
        assert!(same.passes());
        assert_eq!(same.reason(), None);
        assert!(!other.passes());
        assert_eq!(other.reason(), Some("face_mismatch"));
        let timeout = CompareOutcome::Error("compare_timeout");
        assert!(!timeout.passes());
        assert_eq!(timeout.reason(), Some("compare_unavailable"));
        assert_eq!(
            timeout.to_json("http"),
            json!({"engine": "http", "status": "error", "error": "compare_timeout"})
        );
        assert!(!CompareOutcome::Skipped.passes());
        assert_eq!(CompareOutcome::Skipped.reason(), None);
        assert_eq!(same.to_json("builtin")["distance"], json!(0.21));
    }

    #[test]
    fn reference_images_are_checked_before_decoding() {
        assert!(image_bytes("not base64 at all!").is_err());
        assert!(image_bytes("").is_err());
        let huge = "A".repeat(MAX_REFERENCE_BYTES / 3 * 4 + 8);
        assert!(image_bytes(&huge).is_err());
        assert_eq!(image_bytes("AQID").ok(), Some(vec![1, 2, 3]));
        assert_eq!(image_bytes("-_8").ok(), Some(vec![0xfb, 0xff]));
    }
}
