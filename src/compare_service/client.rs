//! The call to a compare service: the body from the scene's template, the auth, the attempts
//! with their timeout, retries and breaker, and the verdict read from the answer.
//!
//! Retried only when another attempt may fare better: a timeout, a 5xx or an unreachable
//! service. A 4xx, a refusal code or an answer that cannot be read is final at once. Bodies are
//! never logged: they hold faces, and answers may hold ID numbers.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::breaker::{BreakerState, Breakers};
use super::reference_source::ReferenceSourceRules;
use super::rules::{AnswerRules, BodyFormat, CompareAuth, CompareServiceRules, Placeholder};
use super::{COMPARE_SERVICE_CALLS_TOTAL, REFERENCE_FETCHES_TOTAL};
use crate::callbacks::send::{new_nonce, signed_headers};
use crate::callbacks::{http_client, CallbackSecret};

/// Longest wait to connect (each attempt's `timeout_ms` bounds the whole attempt anyway).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before a retry, so a struggling service is not hit again at once.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Largest answer read, in bytes; a verdict is a few hundred.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Longest refusal message kept, in characters.
const MAX_MESSAGE_CHARS: usize = 256;

/// What the person's face is compared with.
#[derive(Clone, Copy)]
pub enum Reference<'a> {
    /// A reference image (JPEG or PNG bytes), sent as `${reference_image}`.
    Image(&'a [u8]),
    /// The person's id in the service (a customer or ID number), sent as `${reference_id}`.
    Id(&'a str),
}

impl Reference<'_> {
    /// Which kind it is.
    pub fn kind(&self) -> ReferenceKind {
        match self {
            Reference::Image(_) => ReferenceKind::Image,
            Reference::Id(_) => ReferenceKind::Id,
        }
    }
}

impl fmt::Debug for Reference<'_> {
    // A face or an ID number: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reference::Image(_) => "Reference::Image(..)",
            Reference::Id(_) => "Reference::Id(..)",
        })
    }
}

/// The kind of reference a scene's service takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceKind {
    /// A reference image.
    Image,
    /// A reference id.
    Id,
}

/// One comparison to ask for.
#[derive(Debug)]
pub struct RemoteCompareRequest<'a> {
    /// The session's best frame, a JPEG.
    pub live_jpeg: &'a [u8],
    /// What it is compared with.
    pub reference: Reference<'a>,
    /// The session, sent as `${session_id}`.
    pub session_id: Uuid,
    /// The integrator's business id, sent as `${biz_id}`.
    pub biz_id: &'a str,
}

/// The service's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteComparison {
    /// The score as the service gave it, on its own scale, when the rules point at one.
    pub score: Option<f64>,
    /// Same person: the service's pass flag, else `score >= min_score`.
    pub same_person: bool,
    /// Attempts made, retries included (at least 1).
    pub attempts: u32,
    /// Milliseconds from the first attempt to the answer, retries and pauses included.
    pub elapsed_ms: u64,
}

/// Why there is no verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteCompareError {
    /// No answer within `timeout_ms`, on the last attempt.
    #[error("the compare service did not answer in time")]
    Timeout,
    /// The service answered with a status that is not 2xx (3xx: redirects are not followed).
    #[error("the compare service answered http status {0}")]
    Status(u16),
    /// A 2xx answer that cannot be read: not JSON, a pointer that finds nothing, a wrong type.
    #[error("the compare service's answer cannot be read: {0}")]
    Malformed(String),
    /// The service refused to compare: its code is not a success code.
    #[error("the compare service refused to compare (code {code})")]
    Refused {
        /// The service's code, as text.
        code: String,
        /// The service's message, if the rules point at one.
        message: Option<String>,
    },
    /// The service failed too often lately; not called (the circuit breaker is open).
    #[error("the compare service is failing: calls are paused (circuit open)")]
    CircuitOpen,
    /// The service cannot be reached (connection refused, DNS, TLS, a broken connection).
    #[error("the compare service cannot be reached: {0}")]
    Transport(String),
    /// The session's reference is not the kind the scene's service takes.
    #[error("the compare service takes the other kind of reference (image or id)")]
    ReferenceKind,
}

impl RemoteCompareError {
    /// One stable word, for results and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            RemoteCompareError::Timeout => "compare_timeout",
            RemoteCompareError::Status(_) => "compare_http_status",
            RemoteCompareError::Malformed(_) => "compare_malformed",
            RemoteCompareError::Refused { .. } => "compare_refused",
            RemoteCompareError::CircuitOpen => "compare_circuit_open",
            RemoteCompareError::Transport(_) => "compare_unreachable",
            RemoteCompareError::ReferenceKind => "compare_reference_kind",
        }
    }

    /// Whether the service looks down or overloaded: retried, and counted by the breaker.
    fn is_outage(&self) -> bool {
        match self {
            RemoteCompareError::Timeout | RemoteCompareError::Transport(_) => true,
            RemoteCompareError::Status(status) => *status >= 500,
            _ => false,
        }
    }
}

/// Calls compare services. Cheap to clone; clones share the connection pool and the circuit
/// breakers (one per endpoint URL), so one failing service is seen by every session.
#[derive(Clone)]
pub struct CompareServiceClient {
    http: reqwest::Client,
    breakers: Arc<Breakers>,
}

impl fmt::Debug for CompareServiceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompareServiceClient")
            .finish_non_exhaustive()
    }
}

impl CompareServiceClient {
    /// A client built as the callbacks' one: rustls with the system's roots, no redirects.
    pub fn new() -> Result<Self, reqwest::Error> {
        Ok(Self::with_http(http_client(CONNECT_TIMEOUT)?))
    }

    /// A client over an HTTP client of the caller's.
    pub fn with_http(http: reqwest::Client) -> Self {
        Self {
            http,
            breakers: Arc::new(Breakers::default()),
        }
    }

    /// The circuit breaker of the service at `endpoint` (its URL) as this node sees it now.
    pub fn breaker_state(&self, endpoint: &str) -> BreakerState {
        self.breakers.peek(endpoint)
    }

    /// Asks the scene's service whether the live face is the reference's person.
    pub async fn compare(
        &self,
        rules: &CompareServiceRules,
        request: &RemoteCompareRequest<'_>,
    ) -> Result<RemoteComparison, RemoteCompareError> {
        let result = self.call(rules, request).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(err) => err.as_str(),
        };
        metrics::counter!(COMPARE_SERVICE_CALLS_TOTAL, "outcome" => outcome).increment(1);
        result
    }

    async fn call(
        &self,
        rules: &CompareServiceRules,
        request: &RemoteCompareRequest<'_>,
    ) -> Result<RemoteComparison, RemoteCompareError> {
        if !rules.accepts(&request.reference) {
            return Err(RemoteCompareError::ReferenceKind);
        }
        let body = render(rules, request)?;
        let endpoint = rules.url.as_str();
        let host = rules.url.host_str().unwrap_or("");
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut last_error = None;
        loop {
            attempt += 1;
            let Some(permit) = self.breakers.admit(endpoint) else {
                tracing::warn!(host, attempt, "compare service circuit open: not called");
                // A retry refused by a circuit that opened meanwhile keeps the real reason.
                return Err(last_error.unwrap_or(RemoteCompareError::CircuitOpen));
            };
            let sent = Instant::now();
            let result = self.attempt(rules, &body).await;
            let elapsed_ms = millis(sent.elapsed());
            let error = match result {
                Ok(answer) => {
                    permit.succeeded();
                    let verdict = read_answer(&rules.response, &answer);
                    tracing::debug!(
                        host,
                        attempt,
                        elapsed_ms,
                        ok = verdict.is_ok(),
                        "compare service answered"
                    );
                    return verdict.map(|(score, same_person)| RemoteComparison {
                        score,
                        same_person,
                        attempts: attempt,
                        elapsed_ms: millis(started.elapsed()),
                    });
                }
                Err(error) => error,
            };
            let outage = error.is_outage();
            let opened = if outage {
                permit.failed(&rules.breaker)
            } else {
                permit.succeeded();
                false
            };
            let status = match &error {
                RemoteCompareError::Status(status) => Some(*status),
                _ => None,
            };
            tracing::warn!(
                host,
                attempt,
                elapsed_ms,
                status,
                outcome = error.as_str(),
                circuit_opened = opened,
                "compare service attempt failed"
            );
            if !outage || attempt > u32::from(rules.retries) || opened {
                return Err(error);
            }
            last_error = Some(error);
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// One POST; the answer's bytes when it is a 2xx.
    async fn attempt(
        &self,
        rules: &CompareServiceRules,
        body: &Rendered,
    ) -> Result<Vec<u8>, RemoteCompareError> {
        let request = self
            .http
            .post(rules.url.clone())
            .timeout(rules.timeout())
            .header(CONTENT_TYPE, body.content_type)
            .body(body.text.clone());
        let request = authorised(request, &rules.auth, &rules.url, &body.text);
        read_body(request, MAX_ANSWER_BYTES).await
    }

    /// Fetches a reference image by id from the scene's reference source: one GET, no retry
    /// (the session's creator is waiting and may simply try again).
    pub async fn fetch_reference(
        &self,
        source: &ReferenceSourceRules,
        id: &str,
    ) -> Result<Vec<u8>, RemoteCompareError> {
        let url = source.url_for(id)?;
        let request = self.http.get(url.clone()).timeout(source.timeout());
        let request = authorised(request, &source.auth, &url, "");
        let result = read_body(request, MAX_REFERENCE_IMAGE_BYTES).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(err) => err.as_str(),
        };
        metrics::counter!(REFERENCE_FETCHES_TOTAL, "outcome" => outcome).increment(1);
        result
    }
}

/// Largest reference image fetched, in bytes (the same limit as one sent with the session).
const MAX_REFERENCE_IMAGE_BYTES: usize = crate::sessions::reference::MAX_REFERENCE_BYTES;

/// The request with the scene's credentials: a token header, or the `X-LG-*` HMAC headers.
fn authorised(
    mut request: reqwest::RequestBuilder,
    auth: &CompareAuth,
    url: &url::Url,
    body: &str,
) -> reqwest::RequestBuilder {
    match auth {
        CompareAuth::None => {}
        CompareAuth::Token { header, value } => {
            request = request.header(header.clone(), value.clone());
        }
        CompareAuth::Hmac { app_id, secret } => {
            // A new timestamp and nonce every attempt: a retry is a new request.
            let headers = signed_headers(
                url,
                app_id,
                body,
                &CallbackSecret::new(secret.expose()),
                chrono::Utc::now().timestamp(),
                &new_nonce(),
            );
            for (name, value) in headers {
                request = request.header(name, value);
            }
        }
    }
    request
}

/// Sends the request; the answer's bytes (at most `limit`) when it is a 2xx.
async fn read_body(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<Vec<u8>, RemoteCompareError> {
    let mut response = request.send().await.map_err(transport)?;
    let status = response.status();
    if !status.is_success() {
        return Err(RemoteCompareError::Status(status.as_u16()));
    }
    let mut answer = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if answer.len() + chunk.len() > limit {
            return Err(RemoteCompareError::Malformed(format!(
                "the answer is larger than {limit} bytes"
            )));
        }
        answer.extend_from_slice(&chunk);
    }
    Ok(answer)
}

fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

/// Tells a reqwest error without its url (it may carry the service's keys) but with its causes,
/// which reqwest's own `Display` leaves out.
fn transport(err: reqwest::Error) -> RemoteCompareError {
    if err.is_timeout() {
        return RemoteCompareError::Timeout;
    }
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    RemoteCompareError::Transport(text)
}

/// A request body ready to send.
#[derive(Debug)]
struct Rendered {
    content_type: &'static str,
    text: String,
}

/// The value of a placeholder for this request.
fn fill(
    placeholder: Placeholder,
    request: &RemoteCompareRequest<'_>,
) -> Result<String, RemoteCompareError> {
    Ok(match (placeholder, request.reference) {
        (Placeholder::LiveImage, _) => STANDARD.encode(request.live_jpeg),
        (Placeholder::ReferenceImage, Reference::Image(bytes)) => STANDARD.encode(bytes),
        (Placeholder::ReferenceId, Reference::Id(id)) => id.to_owned(),
        (Placeholder::ReferenceImage, Reference::Id(_))
        | (Placeholder::ReferenceId, Reference::Image(_)) => {
            return Err(RemoteCompareError::ReferenceKind)
        }
        (Placeholder::SessionId, _) => request.session_id.hyphenated().to_string(),
        (Placeholder::BizId, _) => request.biz_id.to_owned(),
    })
}

fn fill_json(
    template: &Value,
    request: &RemoteCompareRequest<'_>,
) -> Result<Value, RemoteCompareError> {
    Ok(match template {
        Value::String(text) => match Placeholder::from_token(text) {
            Some(placeholder) => Value::String(fill(placeholder, request)?),
            None => template.clone(),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| fill_json(item, request))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, item)| Ok((key.clone(), fill_json(item, request)?)))
                .collect::<Result<Map<_, _>, RemoteCompareError>>()?,
        ),
        Value::Null | Value::Bool(_) | Value::Number(_) => template.clone(),
    })
}

/// The body of `request` under the scene's template and format.
fn render(
    rules: &CompareServiceRules,
    request: &RemoteCompareRequest<'_>,
) -> Result<Rendered, RemoteCompareError> {
    match rules.format {
        BodyFormat::Json => Ok(Rendered {
            content_type: "application/json",
            text: fill_json(&Value::Object(rules.body.clone()), request)?.to_string(),
        }),
        BodyFormat::Form => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (key, value) in &rules.body {
                // The rules hold only strings in a form template; anything else is skipped.
                let Value::String(text) = value else { continue };
                match Placeholder::from_token(text) {
                    Some(placeholder) => form.append_pair(key, &fill(placeholder, request)?),
                    None => form.append_pair(key, text),
                };
            }
            Ok(Rendered {
                content_type: "application/x-www-form-urlencoded",
                text: form.finish(),
            })
        }
    }
}

/// A JSON value's type, for errors that must not show the value itself.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn at<'v>(answer: &'v Value, pointer: &str, what: &str) -> Result<&'v Value, RemoteCompareError> {
    answer
        .pointer(pointer)
        .ok_or_else(|| RemoteCompareError::Malformed(format!("no {what} at {pointer}")))
}

fn wrong_type(what: &str, pointer: &str, value: &Value, expected: &str) -> RemoteCompareError {
    RemoteCompareError::Malformed(format!(
        "the {what} at {pointer} is {}, not {expected}",
        type_name(value)
    ))
}

/// The verdict in a 2xx answer: `(score, same_person)`, or the refusal it is.
fn read_answer(
    rules: &AnswerRules,
    body: &[u8],
) -> Result<(Option<f64>, bool), RemoteCompareError> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|err| RemoteCompareError::Malformed(format!("not JSON ({err})")))?;
    if let Some(pointer) = &rules.code {
        let code = match at(&answer, pointer, "code")? {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            other => return Err(wrong_type("code", pointer, other, "a string or a number")),
        };
        if !rules.success_codes.contains(&code) {
            let message = rules
                .message
                .as_deref()
                .and_then(|pointer| answer.pointer(pointer))
                .and_then(|value| match value {
                    Value::String(text) => Some(text.chars().take(MAX_MESSAGE_CHARS).collect()),
                    Value::Number(number) => Some(number.to_string()),
                    _ => None,
                });
            return Err(RemoteCompareError::Refused { code, message });
        }
    }
    let score = match &rules.score {
        Some(pointer) => Some(
            match at(&answer, pointer, "score")? {
                Value::Number(number) => number.as_f64().filter(|s| s.is_finite()),
                Value::String(text) => text.trim().parse::<f64>().ok().filter(|s| s.is_finite()),
                other => return Err(wrong_type("score", pointer, other, "a number")),
            }
            .ok_or_else(|| {
                RemoteCompareError::Malformed(format!("the score at {pointer} is not a number"))
            })?,
        ),
        None => None,
    };
    let same_person = match (&rules.pass, score, rules.min_score) {
        (Some(pointer), _, _) => match at(&answer, pointer, "pass flag")? {
            Value::Bool(flag) => *flag,
            Value::String(text) if text == "true" || text == "1" => true,
            Value::String(text) if text == "false" || text == "0" => false,
            Value::Number(n) if n.as_f64() == Some(1.0) => true,
            Value::Number(n) if n.as_f64() == Some(0.0) => false,
            other => {
                return Err(RemoteCompareError::Malformed(format!(
                    "the pass flag at {pointer} is {}, not true/false, \"true\"/\"false\", \
                     \"1\"/\"0\" or 1/0",
                    type_name(other)
                )))
            }
        },
        (None, Some(score), Some(min_score)) => score >= min_score,
        // The rules are checked at parse: without a pass pointer, both are there.
        (None, _, _) => {
            return Err(RemoteCompareError::Malformed(
                "the rules name neither a pass flag nor a score with min_score".to_owned(),
            ))
        }
    };
    Ok((score, same_person))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer_rules(value: Value) -> AnswerRules {
        let config = json!({
            "url": "https://c.example/compare",
            "auth": {"kind": "none"},
            "body": {"a": "${live_image}", "b": "${reference_image}"},
            "response": value,
        });
        CompareServiceRules::parse(&config)
            .expect("valid rules")
            .response
    }

    fn read(rules: &AnswerRules, answer: Value) -> Result<(Option<f64>, bool), RemoteCompareError> {
        read_answer(rules, answer.to_string().as_bytes())
    }

    #[test]
    fn the_pass_flag_decides_in_its_written_forms() {
        let rules = answer_rules(json!({"pass": "/data/pass"}));
        for (flag, same) in [
            (json!(true), true),
            (json!("true"), true),
            (json!("1"), true),
            (json!(1), true),
            (json!(false), false),
            (json!("false"), false),
            (json!("0"), false),
            (json!(0), false),
        ] {
            assert_eq!(
                read(&rules, json!({"data": {"pass": flag}})),
                Ok((None, same)),
                "{flag}"
            );
        }
        assert!(matches!(
            read(&rules, json!({"data": {"pass": "yes"}})),
            Err(RemoteCompareError::Malformed(_))
        ));
    }

    #[test]
    fn the_score_decides_against_min_score_on_any_scale() {
        let rules = answer_rules(json!({"score": "/score", "min_score": 80}));
        assert_eq!(read(&rules, json!({"score": 92.5})), Ok((Some(92.5), true)));
        assert_eq!(read(&rules, json!({"score": 80})), Ok((Some(80.0), true)));
        assert_eq!(
            read(&rules, json!({"score": " 79.9 "})),
            Ok((Some(79.9), false))
        );
        let err = read(&rules, json!({"score": "high"})).expect_err("not a number");
        assert_eq!(
            err,
            RemoteCompareError::Malformed("the score at /score is not a number".into())
        );
        let err = read(&rules, json!({"score": [1]})).expect_err("wrong type");
        assert_eq!(
            err,
            RemoteCompareError::Malformed("the score at /score is an array, not a number".into())
        );
        let err = read(&rules, json!({"data": {}})).expect_err("missing");
        assert_eq!(
            err,
            RemoteCompareError::Malformed("no score at /score".into())
        );
        assert!(matches!(
            read_answer(&rules, b"<html>busy</html>"),
            Err(RemoteCompareError::Malformed(m)) if m.starts_with("not JSON")
        ));
    }

    #[test]
    fn a_code_outside_the_success_codes_is_a_refusal_with_its_message() {
        let rules = answer_rules(json!({
            "code": "/code", "success_codes": ["0", "0000"], "message": "/msg",
            "pass": "/pass", "score": "/score"
        }));
        assert_eq!(
            read(&rules, json!({"code": "1001", "msg": "no reference photo"})),
            Err(RemoteCompareError::Refused {
                code: "1001".into(),
                message: Some("no reference photo".into())
            })
        );
        assert_eq!(
            read(&rules, json!({"code": 2})),
            Err(RemoteCompareError::Refused {
                code: "2".into(),
                message: None
            })
        );
        assert_eq!(
            read(&rules, json!({"code": 0, "pass": false, "score": "0.12"})),
            Ok((Some(0.12), false)),
            "a numeric code matches its text"
        );
        assert!(matches!(
            read(&rules, json!({"code": null})),
            Err(RemoteCompareError::Malformed(_))
        ));
    }

    #[test]
    fn bodies_fill_placeholders_and_keep_everything_else() {
        let mut config = json!({
            "url": "https://c.example/compare",
            "auth": {"kind": "none"},
            "body": {"data": {"pics": ["${live_image}", "${reference_image}"]},
                     "req": "${session_id}", "biz": "${biz_id}", "n": 1, "channel": "H5"},
            "response": {"pass": "/pass"},
        });
        let rules = CompareServiceRules::parse(&config).expect("valid");
        let session_id = Uuid::nil();
        let request = RemoteCompareRequest {
            live_jpeg: b"live",
            reference: Reference::Image(b"ref"),
            session_id,
            biz_id: "order-42",
        };
        let body = render(&rules, &request).expect("renders");
        assert_eq!(body.content_type, "application/json");
        let sent: Value = serde_json::from_str(&body.text).expect("json");
        assert_eq!(
            sent,
            json!({"data": {"pics": ["bGl2ZQ==", "cmVm"]},
                   "req": "00000000-0000-0000-0000-000000000000", "biz": "order-42",
                   "n": 1, "channel": "H5"})
        );
        let id_request = RemoteCompareRequest {
            reference: Reference::Id("110101"),
            ..request
        };
        assert_eq!(
            render(&rules, &id_request).expect_err("wrong kind"),
            RemoteCompareError::ReferenceKind
        );

        config["format"] = json!("form");
        config["body"] = json!({"img": "${live_image}", "cert": "${reference_id}", "ch": "H 5"});
        let rules = CompareServiceRules::parse(&config).expect("valid");
        let body = render(&rules, &id_request).expect("renders");
        assert_eq!(body.content_type, "application/x-www-form-urlencoded");
        // serde_json keeps object keys sorted: the fields go in key order.
        assert_eq!(body.text, "cert=110101&ch=H+5&img=bGl2ZQ%3D%3D");
    }

    #[test]
    fn every_error_has_its_word() {
        let words: Vec<&str> = [
            RemoteCompareError::Timeout,
            RemoteCompareError::Status(502),
            RemoteCompareError::Malformed(String::new()),
            RemoteCompareError::Refused {
                code: "1".into(),
                message: None,
            },
            RemoteCompareError::CircuitOpen,
            RemoteCompareError::Transport(String::new()),
            RemoteCompareError::ReferenceKind,
        ]
        .iter()
        .map(RemoteCompareError::as_str)
        .collect();
        assert_eq!(
            words,
            [
                "compare_timeout",
                "compare_http_status",
                "compare_malformed",
                "compare_refused",
                "compare_circuit_open",
                "compare_unreachable",
                "compare_reference_kind"
            ]
        );
        assert!(RemoteCompareError::Status(503).is_outage());
        assert!(!RemoteCompareError::Status(401).is_outage());
    }
}
