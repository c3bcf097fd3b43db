//! A scene's `compare.http` rules: where the union's compare service is, how it is signed, what
//! the request looks like and where the answer is.
//!
//! Checked like the rest of a scene (`crate::scenes`): unknown fields are refused and every error
//! names its JSON path below `compare.http` (`compare.http.timeout_ms: must be between 100 and
//! 30000 (got 5)`). The request body is a template: a string value that is exactly a placeholder
//! (`${live_image}`, ...) is replaced at call time, every other value is sent as written.
//!
//! ```json
//! { "url": "https://compare.union.example/api/face/compare",
//!   "auth": {"kind": "hmac", "app_id": "lg-01", "secret": "at least 16 chars"},
//!   "format": "json",
//!   "body": {"img1": "${live_image}", "img2": "${reference_image}", "reqId": "${session_id}"},
//!   "response": {"code": "/code", "success_codes": ["0"], "message": "/msg",
//!                "score": "/data/score", "min_score": 0.8},
//!   "timeout_ms": 3000, "retries": 1, "breaker": {"failures": 5, "open_s": 30} }
//! ```

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use url::Url;

use super::client::{Reference, ReferenceKind};
use crate::scenes::{at_path, http_url, invalid, within, SceneRulesError};

/// Where these rules sit in a scene's config, the start of every error path.
const PREFIX: &str = "compare.http";
/// Shortest HMAC secret, in characters (as a scene's `callback.secret`).
const MIN_SECRET_CHARS: usize = 16;
/// Longest HMAC secret, in characters.
const MAX_SECRET_CHARS: usize = 256;
/// Longest token or app id, in characters.
const MAX_CREDENTIAL_CHARS: usize = 4096;
/// Most success codes a scene may list.
const MAX_SUCCESS_CODES: usize = 32;
/// Headers the adapter sets itself; a token must not replace them.
const RESERVED_HEADERS: [&str; 4] = [
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
];

/// A value the adapter puts into the request body at call time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `${live_image}`: the session's best frame, a JPEG as standard base64.
    LiveImage,
    /// `${reference_image}`: the reference image sent at session creation, standard base64.
    ReferenceImage,
    /// `${reference_id}`: the reference id sent at session creation (a customer or ID number).
    ReferenceId,
    /// `${session_id}`: the session id, a hyphenated UUID.
    SessionId,
    /// `${biz_id}`: the integrator's business id.
    BizId,
}

impl Placeholder {
    /// Every placeholder, in documentation order.
    pub const ALL: [Placeholder; 5] = [
        Placeholder::LiveImage,
        Placeholder::ReferenceImage,
        Placeholder::ReferenceId,
        Placeholder::SessionId,
        Placeholder::BizId,
    ];

    /// The placeholder as written in a template: `${live_image}`.
    pub fn token(self) -> &'static str {
        match self {
            Placeholder::LiveImage => "${live_image}",
            Placeholder::ReferenceImage => "${reference_image}",
            Placeholder::ReferenceId => "${reference_id}",
            Placeholder::SessionId => "${session_id}",
            Placeholder::BizId => "${biz_id}",
        }
    }

    /// The placeholder a whole string value is, if it is one.
    pub fn from_token(text: &str) -> Option<Placeholder> {
        Self::ALL.into_iter().find(|p| p.token() == text)
    }
}

/// A secret of the service's auth. Its `Debug` and `Serialize` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceSecret(String);

impl ServiceSecret {
    /// The secret, for signing only; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ServiceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How a request proves it comes from Livegate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareAuth {
    /// Nothing (a service reachable only from inside the union's network).
    None,
    /// A fixed header, such as `Authorization: Bearer ...`; the value is marked sensitive.
    Token {
        /// The header's name.
        header: HeaderName,
        /// Its value, marked sensitive (its `Debug` shows `Sensitive`).
        value: HeaderValue,
    },
    /// The `X-LG-*` HMAC-SHA256 headers, exactly as our own callbacks are signed
    /// (`docs/open-api.md` section 2).
    Hmac {
        /// Sent as `X-LG-AppId`.
        app_id: String,
        /// The HMAC key (its text as bytes).
        secret: ServiceSecret,
    },
}

impl Serialize for CompareAuth {
    /// Shown with the token and the secret masked as `"***"`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        enum Shown<'a> {
            None,
            Token {
                header: &'a str,
                value: &'static str,
            },
            Hmac {
                app_id: &'a str,
                secret: &'static str,
            },
        }
        let shown = match self {
            CompareAuth::None => Shown::None,
            CompareAuth::Token { header, .. } => Shown::Token {
                header: header.as_str(),
                value: "***",
            },
            CompareAuth::Hmac { app_id, .. } => Shown::Hmac {
                app_id,
                secret: "***",
            },
        };
        shown.serialize(serializer)
    }
}

/// How the request body is encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// `application/json`: the template is any JSON object.
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`: the template is a flat object of strings.
    Form,
}

/// Where the verdict is in the service's JSON answer (JSON pointers, RFC 6901).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerRules {
    /// The score, a number or a numeric string, on the service's own scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<String>,
    /// The service's own same/different flag (`true`/`false`, `"true"`/`"1"`, `1`/`0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// The service's result code; one not in `success_codes` is a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The codes that mean the comparison was made (numbers in the answer match as text).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub success_codes: Vec<String>,
    /// The service's message, kept with a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Without `pass`: same person when the score is at least this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
}

/// When calls to a failing service stop for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BreakerRules {
    /// Consecutive failed attempts (timeout, 5xx, unreachable) that open the circuit
    /// (`1..=100`).
    pub failures: u32,
    /// Seconds the circuit stays open before one trial call (`1..=3600`).
    pub open_s: u32,
}

impl BreakerRules {
    /// `open_s` as a duration.
    pub fn open_for(&self) -> Duration {
        Duration::from_secs(self.open_s.into())
    }
}

/// A scene's compare service, complete and checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareServiceRules {
    /// The endpoint, http or https; POSTed to.
    #[serde(serialize_with = "url_text")]
    pub url: Url,
    /// How requests are authenticated (shown masked).
    pub auth: CompareAuth,
    /// How the body is encoded.
    pub format: BodyFormat,
    /// The body template, as written.
    pub body: Map<String, Value>,
    /// Where the verdict is in the answer.
    pub response: AnswerRules,
    /// Longest wait for one attempt, in milliseconds (`100..=30000`).
    pub timeout_ms: u32,
    /// Extra attempts after a timeout, a 5xx or an unreachable service (`0..=3`).
    pub retries: u8,
    /// The circuit breaker.
    pub breaker: BreakerRules,
}

fn url_text<S: Serializer>(url: &Url, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(url.as_str())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    url: String,
    auth: RawAuth,
    #[serde(default)]
    format: BodyFormat,
    body: Map<String, Value>,
    response: RawAnswer,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_retries")]
    retries: u64,
    #[serde(default)]
    breaker: RawBreaker,
}

fn default_timeout_ms() -> u64 {
    3000
}

fn default_retries() -> u64 {
    1
}

/// The `auth` object as written.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawAuth {
    // A struct variant, not a unit one: serde lets a unit variant of a tagged enum ignore
    // every other field, and a typo must not pass silently.
    None {},
    Token { header: String, value: String },
    Hmac { app_id: String, secret: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnswer {
    score: Option<String>,
    pass: Option<String>,
    code: Option<String>,
    #[serde(default)]
    success_codes: Vec<String>,
    message: Option<String>,
    min_score: Option<f64>,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawBreaker {
    failures: u64,
    open_s: u64,
}

impl Default for RawBreaker {
    fn default() -> Self {
        Self {
            failures: 5,
            open_s: 30,
        }
    }
}

fn path(field: &str) -> String {
    format!("{PREFIX}.{field}")
}

fn path_under(prefix: &str, field: &str) -> String {
    format!("{prefix}.{field}")
}

fn small(v: u64) -> u32 {
    // Only called on values already checked against a range far below u32::MAX.
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Checks the `auth` object under `prefix` (`compare.http`, `compare.reference_source`).
pub(crate) fn auth(raw: &RawAuth, prefix: &str) -> Result<CompareAuth, SceneRulesError> {
    let path = |field: &str| path_under(prefix, field);
    match raw {
        RawAuth::None {} => Ok(CompareAuth::None),
        RawAuth::Token { header, value } => {
            let header_path = path("auth.header");
            let name = HeaderName::from_bytes(header.as_bytes())
                .map_err(|_| invalid(&header_path, "not an HTTP header name"))?;
            if RESERVED_HEADERS.contains(&name.as_str()) {
                return Err(invalid(
                    header_path,
                    format!("{name} is set by the adapter itself"),
                ));
            }
            let chars = value.chars().count();
            if !(1..=MAX_CREDENTIAL_CHARS).contains(&chars) {
                return Err(invalid(
                    path("auth.value"),
                    format!("must be 1 to {MAX_CREDENTIAL_CHARS} characters (got {chars})"),
                ));
            }
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                invalid(
                    path("auth.value"),
                    "must be visible ASCII (an HTTP header value)",
                )
            })?;
            value.set_sensitive(true);
            Ok(CompareAuth::Token {
                header: name,
                value,
            })
        }
        RawAuth::Hmac { app_id, secret } => {
            let chars = app_id.chars().count();
            if !(1..=128).contains(&chars) || !app_id.chars().all(|c| c.is_ascii_graphic()) {
                return Err(invalid(
                    path("auth.app_id"),
                    "must be 1 to 128 visible ASCII characters",
                ));
            }
            let chars = secret.chars().count();
            if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&chars) {
                return Err(invalid(
                    path("auth.secret"),
                    format!(
                        "must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters (got {chars})"
                    ),
                ));
            }
            Ok(CompareAuth::Hmac {
                app_id: app_id.clone(),
                secret: ServiceSecret(secret.clone()),
            })
        }
    }
}

/// The placeholder a template string is, if any; a string that looks like one but is not
/// is refused, so a typo (`${live_img}`) cannot be sent as written.
fn template_string(at: &str, text: &str) -> Result<Option<Placeholder>, SceneRulesError> {
    if let Some(placeholder) = Placeholder::from_token(text) {
        return Ok(Some(placeholder));
    }
    if !text.contains("${") {
        return Ok(None);
    }
    let known: Vec<&str> = Placeholder::ALL.iter().map(|p| p.token()).collect();
    let reason = if text.starts_with("${") && text.ends_with('}') && text.matches("${").count() == 1
    {
        format!("unknown placeholder {text} (one of {})", known.join(", "))
    } else {
        "a placeholder must be the whole value".to_owned()
    };
    Err(invalid(at, reason))
}

/// Collects the placeholders of a JSON template, checking every string in it.
fn json_template(
    at: &str,
    value: &Value,
    found: &mut Vec<Placeholder>,
) -> Result<(), SceneRulesError> {
    match value {
        Value::String(text) => found.extend(template_string(at, text)?),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                json_template(&format!("{at}[{i}]"), item, found)?;
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                json_template(&format!("{at}.{key}"), item, found)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

fn body(format: BodyFormat, template: &Map<String, Value>) -> Result<(), SceneRulesError> {
    let at = path("body");
    let mut found = Vec::new();
    match format {
        BodyFormat::Json => json_template(&at, &Value::Object(template.clone()), &mut found)?,
        BodyFormat::Form => {
            for (key, value) in template {
                let field = format!("{at}.{key}");
                let Value::String(text) = value else {
                    return Err(invalid(field, "a form value must be a string"));
                };
                found.extend(template_string(&field, text)?);
            }
        }
    }
    if !found.contains(&Placeholder::LiveImage) {
        return Err(invalid(at, "must send ${live_image}"));
    }
    match (
        found.contains(&Placeholder::ReferenceImage),
        found.contains(&Placeholder::ReferenceId),
    ) {
        (true, true) => Err(invalid(
            at,
            "sends both ${reference_image} and ${reference_id}; a session has one reference",
        )),
        (false, false) => Err(invalid(
            at,
            "must send ${reference_image} or ${reference_id}",
        )),
        _ => Ok(()),
    }
}

/// Checks an RFC 6901 JSON pointer into the answer: `/`-separated, `~` only as `~0` or `~1`.
fn pointer(field: &str, text: &str) -> Result<String, SceneRulesError> {
    if !text.starts_with('/') {
        return Err(invalid(
            path(field),
            format!("{text:?} is not a JSON pointer (it starts with '/', as /data/score)"),
        ));
    }
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(invalid(
                path(field),
                format!("{text:?} is not a JSON pointer ('~' is written ~0, '/' in a name ~1)"),
            ));
        }
    }
    Ok(text.to_owned())
}

fn answer(raw: &RawAnswer) -> Result<AnswerRules, SceneRulesError> {
    let optional = |field: &str, text: &Option<String>| {
        text.as_deref()
            .map(|t| pointer(&format!("response.{field}"), t))
            .transpose()
    };
    let rules = AnswerRules {
        score: optional("score", &raw.score)?,
        pass: optional("pass", &raw.pass)?,
        code: optional("code", &raw.code)?,
        success_codes: raw.success_codes.clone(),
        message: optional("message", &raw.message)?,
        min_score: raw.min_score,
    };
    if rules.pass.is_none() && rules.score.is_none() {
        return Err(invalid(path("response"), "needs a pass or a score pointer"));
    }
    match (rules.min_score, &rules.score) {
        (Some(min), _) if !min.is_finite() => {
            return Err(invalid(path("response.min_score"), "must be a number"))
        }
        (Some(_), None) => {
            return Err(invalid(path("response.min_score"), "needs a score pointer"))
        }
        (None, _) if rules.pass.is_none() => {
            return Err(invalid(
                path("response.min_score"),
                "required without a pass pointer (it says which scores are the same person)",
            ))
        }
        _ => {}
    }
    match &rules.code {
        Some(_) => {
            let count = rules.success_codes.len();
            if !(1..=MAX_SUCCESS_CODES).contains(&count) {
                return Err(invalid(
                    path("response.success_codes"),
                    format!("must list 1 to {MAX_SUCCESS_CODES} codes (got {count})"),
                ));
            }
            if let Some(i) = rules.success_codes.iter().position(String::is_empty) {
                return Err(invalid(
                    path(&format!("response.success_codes[{i}]")),
                    "must not be empty",
                ));
            }
        }
        None if !rules.success_codes.is_empty() => {
            return Err(invalid(
                path("response.success_codes"),
                "needs a code pointer",
            ))
        }
        None if rules.message.is_some() => {
            return Err(invalid(
                path("response.message"),
                "needs a code pointer (a message is kept with a refusal)",
            ))
        }
        None => {}
    }
    Ok(rules)
}

impl CompareServiceRules {
    /// Reads and checks a scene's `compare.http` object.
    pub fn parse(value: &Value) -> Result<CompareServiceRules, SceneRulesError> {
        if !value.is_object() {
            return Err(invalid(PREFIX, "must be a JSON object"));
        }
        let raw: RawService =
            serde_path_to_error::deserialize(value).map_err(|e| at_path(PREFIX, e))?;
        let url = http_url(&path("url"), &raw.url)?;
        if url.fragment().is_some() {
            return Err(invalid(path("url"), "must not have a fragment"));
        }
        let auth = auth(&raw.auth, PREFIX)?;
        body(raw.format, &raw.body)?;
        let response = answer(&raw.response)?;
        let timeout_ms = within(&path("timeout_ms"), raw.timeout_ms, 100, 30_000)?;
        let retries = within(&path("retries"), raw.retries, 0, 3)?;
        let failures = within(&path("breaker.failures"), raw.breaker.failures, 1, 100)?;
        let open_s = within(&path("breaker.open_s"), raw.breaker.open_s, 1, 3600)?;
        Ok(CompareServiceRules {
            url,
            auth,
            format: raw.format,
            body: raw.body,
            response,
            timeout_ms: small(timeout_ms),
            retries: retries as u8,
            breaker: BreakerRules {
                failures: small(failures),
                open_s: small(open_s),
            },
        })
    }

    /// `timeout_ms` as a duration: the longest wait for one attempt.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.into())
    }

    /// The placeholders the body template uses, each once, in key order.
    pub fn placeholders(&self) -> Vec<Placeholder> {
        fn walk(value: &Value, found: &mut Vec<Placeholder>) {
            match value {
                Value::String(text) => {
                    if let Some(p) = Placeholder::from_token(text) {
                        if !found.contains(&p) {
                            found.push(p);
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
                Value::Object(fields) => fields.values().for_each(|v| walk(v, found)),
                Value::Null | Value::Bool(_) | Value::Number(_) => {}
            }
        }
        let mut found = Vec::new();
        self.body.values().for_each(|v| walk(v, &mut found));
        found
    }

    /// The kind of reference the service compares with: an image or an id (checked at parse:
    /// exactly one of them is in the template).
    pub fn reference_kind(&self) -> ReferenceKind {
        if self.placeholders().contains(&Placeholder::ReferenceId) {
            ReferenceKind::Id
        } else {
            ReferenceKind::Image
        }
    }

    /// Whether a session may bring this reference: so a session is refused at creation rather
    /// than failing with `compare_reference_kind` after the person did every step.
    pub fn accepts(&self, reference: &Reference<'_>) -> bool {
        reference.kind() == self.reference_kind()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn valid() -> Value {
        json!({
            "url": "https://compare.union.example/api/face/compare",
            "auth": {"kind": "token", "header": "Authorization", "value": "Bearer abc"},
            "body": {"img1": "${live_image}", "img2": "${reference_image}", "channel": "H5"},
            "response": {"score": "/data/score", "min_score": 0.8}
        })
    }

    /// `valid()` with `pointer` set to `value` (or removed for `null`).
    fn with(pointer: &str, value: Value) -> Value {
        let mut config = valid();
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer with a parent");
        let parent = config.pointer_mut(parent).expect("parent exists");
        let fields = parent.as_object_mut().expect("an object");
        if value.is_null() {
            fields.remove(key);
        } else {
            fields.insert(key.to_owned(), value);
        }
        config
    }

    fn error(config: Value) -> String {
        CompareServiceRules::parse(&config)
            .expect_err("invalid rules")
            .to_string()
    }

    #[test]
    fn the_documented_defaults_fill_what_is_left_out() {
        let r = CompareServiceRules::parse(&valid()).expect("valid");
        assert_eq!(
            r.url.as_str(),
            "https://compare.union.example/api/face/compare"
        );
        assert_eq!(r.format, BodyFormat::Json);
        assert_eq!(r.timeout_ms, 3000);
        assert_eq!(r.timeout(), Duration::from_secs(3));
        assert_eq!(r.retries, 1);
        assert_eq!(
            r.breaker,
            BreakerRules {
                failures: 5,
                open_s: 30
            }
        );
        assert_eq!(r.breaker.open_for(), Duration::from_secs(30));
        assert_eq!(r.response.min_score, Some(0.8));
        assert_eq!(
            r.placeholders(),
            vec![Placeholder::LiveImage, Placeholder::ReferenceImage]
        );
        assert_eq!(r.reference_kind(), ReferenceKind::Image);
        assert!(r.accepts(&Reference::Image(b"jpeg")));
        assert!(!r.accepts(&Reference::Id("110101199003070000")));
    }

    #[test]
    fn a_full_config_is_read() {
        let r = CompareServiceRules::parse(&json!({
            "url": "http://10.0.0.7:8080/face/compare?v=2",
            "auth": {"kind": "hmac", "app_id": "lg-01", "secret": "0123456789abcdef"},
            "format": "form",
            "body": {"photo": "${live_image}", "certNo": "${reference_id}", "reqId": "${session_id}",
                     "bizNo": "${biz_id}", "channel": "H5"},
            "response": {"score": "/data/score", "pass": "/data/pass", "code": "/code",
                         "success_codes": ["0", "0000"], "message": "/msg", "min_score": 80},
            "timeout_ms": 100,
            "retries": 3,
            "breaker": {"failures": 1, "open_s": 3600}
        }))
        .expect("valid");
        assert_eq!(r.format, BodyFormat::Form);
        assert_eq!(r.retries, 3);
        assert_eq!(r.timeout_ms, 100);
        assert_eq!(r.response.success_codes, vec!["0", "0000"]);
        assert_eq!(r.response.pass.as_deref(), Some("/data/pass"));
        assert_eq!(r.reference_kind(), ReferenceKind::Id);
        assert!(r.accepts(&Reference::Id("C-77")));
        assert!(!r.accepts(&Reference::Image(b"jpeg")));
        let CompareAuth::Hmac { app_id, secret } = &r.auth else {
            panic!("hmac auth, got {:?}", r.auth);
        };
        assert_eq!(app_id, "lg-01");
        assert_eq!(secret.expose(), "0123456789abcdef");
    }

    #[test]
    fn secrets_are_masked_when_shown() {
        let hmac = CompareServiceRules::parse(&with(
            "/auth",
            json!({"kind": "hmac", "app_id": "lg-01", "secret": "0123456789abcdef"}),
        ))
        .expect("valid");
        let shown = serde_json::to_value(&hmac).expect("serialises");
        assert_eq!(
            shown["auth"],
            json!({"kind": "hmac", "app_id": "lg-01", "secret": "***"})
        );
        assert_eq!(
            shown["url"],
            "https://compare.union.example/api/face/compare"
        );
        assert_eq!(shown["body"]["img1"], "${live_image}");
        assert_eq!(
            shown["response"],
            json!({"score": "/data/score", "min_score": 0.8})
        );
        assert!(!format!("{hmac:?}").contains("0123456789abcdef"));

        let token = CompareServiceRules::parse(&valid()).expect("valid");
        let shown = serde_json::to_value(&token).expect("serialises");
        assert_eq!(
            shown["auth"],
            json!({"kind": "token", "header": "authorization", "value": "***"})
        );
        assert!(!shown.to_string().contains("Bearer abc"));
        assert!(!format!("{token:?}").contains("Bearer abc"));
    }

    #[test]
    fn errors_name_the_json_path() {
        assert_eq!(
            error(with("/timeout_ms", json!(5))),
            "compare.http.timeout_ms: must be between 100 and 30000 (got 5)"
        );
        assert_eq!(
            error(with("/retries", json!(4))),
            "compare.http.retries: must be between 0 and 3 (got 4)"
        );
        assert_eq!(
            error(with("/breaker", json!({"failures": 0}))),
            "compare.http.breaker.failures: must be between 1 and 100 (got 0)"
        );
        assert_eq!(
            error(with("/breaker", json!({"open_s": 0}))),
            "compare.http.breaker.open_s: must be between 1 and 3600 (got 0)"
        );
        assert_eq!(
            error(with("/timeout_ms", json!("3s"))),
            "compare.http.timeout_ms: invalid type: string \"3s\", expected u64"
        );
        assert_eq!(
            error(with("/format", json!("xml"))),
            "compare.http.format: unknown variant `xml`, expected `json` or `form`"
        );
        assert!(error(with("/url", Value::Null)).starts_with("compare.http: missing field `url`"));
        assert_eq!(error(json!([])), "compare.http: must be a JSON object");
    }

    #[test]
    fn unknown_fields_are_refused_where_they_are() {
        let top = error(with("/timeout", json!(3000)));
        assert!(
            top.starts_with("compare.http.timeout: unknown field `timeout`"),
            "{top}"
        );
        let answer = error(with("/response/scor", json!("/score")));
        assert!(
            answer.starts_with("compare.http.response.scor: unknown field `scor`"),
            "{answer}"
        );
        let breaker = error(with("/breaker", json!({"failure": 3})));
        assert!(
            breaker.starts_with("compare.http.breaker.failure: unknown field `failure`"),
            "{breaker}"
        );
        let auth = error(with(
            "/auth",
            json!({"kind": "token", "header": "X-Key", "value": "k", "secret": "x"}),
        ));
        assert!(
            auth.starts_with("compare.http.auth: unknown field `secret`"),
            "{auth}"
        );
        assert_eq!(
            error(with("/auth", json!({"kind": "basic"}))),
            "compare.http.auth.kind: unknown variant `basic`, expected one of `none`, `token`, \
             `hmac`"
        );
        let none = error(with("/auth", json!({"kind": "none", "value": "x"})));
        assert!(
            none.starts_with("compare.http.auth: unknown field `value`"),
            "{none}"
        );
    }

    #[test]
    fn the_url_is_http_or_https_with_a_host() {
        assert_eq!(
            error(with("/url", json!("ftp://compare.union.example/x"))),
            "compare.http.url: must be http or https (got ftp)"
        );
        assert!(error(with("/url", json!("compare.union.example/x")))
            .starts_with("compare.http.url: not a URL"));
        assert_eq!(
            error(with(
                "/url",
                json!("https://user:pw@compare.union.example/x")
            )),
            "compare.http.url: must not carry a user name or password"
        );
        assert_eq!(
            error(with("/url", json!("https://compare.union.example/x#top"))),
            "compare.http.url: must not have a fragment"
        );
    }

    #[test]
    fn auth_credentials_are_checked() {
        assert_eq!(
            error(with(
                "/auth",
                json!({"kind": "hmac", "app_id": "lg-01", "secret": "short"})
            )),
            "compare.http.auth.secret: must be 16 to 256 characters (got 5)"
        );
        assert_eq!(
            error(with(
                "/auth",
                json!({"kind": "hmac", "app_id": "", "secret": "0123456789abcdef"})
            )),
            "compare.http.auth.app_id: must be 1 to 128 visible ASCII characters"
        );
        assert_eq!(
            error(with(
                "/auth",
                json!({"kind": "token", "header": "Bad Header", "value": "x"})
            )),
            "compare.http.auth.header: not an HTTP header name"
        );
        assert_eq!(
            error(with(
                "/auth",
                json!({"kind": "token", "header": "Content-Type", "value": "x"})
            )),
            "compare.http.auth.header: content-type is set by the adapter itself"
        );
        assert_eq!(
            error(with(
                "/auth",
                json!({"kind": "token", "header": "X-Key", "value": "a\nb"})
            )),
            "compare.http.auth.value: must be visible ASCII (an HTTP header value)"
        );
        assert_eq!(
            error(with(
                "/auth",
                json!({"kind": "token", "header": "X-Key", "value": ""})
            )),
            "compare.http.auth.value: must be 1 to 4096 characters (got 0)"
        );
        let missing = error(with("/auth", json!({"kind": "hmac", "app_id": "lg-01"})));
        assert!(
            missing.starts_with("compare.http.auth: missing field `secret`"),
            "{missing}"
        );
        let none =
            CompareServiceRules::parse(&with("/auth", json!({"kind": "none"}))).expect("valid");
        assert_eq!(none.auth, CompareAuth::None);
    }

    #[test]
    fn body_placeholders_are_known_whole_and_complete() {
        let body = |b: Value| error(with("/body", b));
        assert_eq!(
            body(json!({"img1": "${live_img}", "img2": "${reference_image}"})),
            "compare.http.body.img1: unknown placeholder ${live_img} (one of ${live_image}, \
             ${reference_image}, ${reference_id}, ${session_id}, ${biz_id})"
        );
        assert_eq!(
            body(json!({"img1": "${live_image}", "data": {"ids": ["x", "id=${reference_id}"]}})),
            "compare.http.body.data.ids[1]: a placeholder must be the whole value"
        );
        assert_eq!(
            body(json!({"img2": "${reference_image}"})),
            "compare.http.body: must send ${live_image}"
        );
        assert_eq!(
            body(json!({"img1": "${live_image}", "channel": "H5"})),
            "compare.http.body: must send ${reference_image} or ${reference_id}"
        );
        assert_eq!(
            body(json!({"a": "${live_image}", "b": "${reference_image}", "c": "${reference_id}"})),
            "compare.http.body: sends both ${reference_image} and ${reference_id}; a session \
             has one reference"
        );
        assert!(body(json!("text")).starts_with("compare.http.body: invalid type"));

        // Nested JSON is walked; other values are kept.
        let nested = CompareServiceRules::parse(&with(
            "/body",
            json!({"data": {"pics": ["${live_image}", "${reference_image}"]}, "n": 1, "t": true}),
        ))
        .expect("valid");
        assert_eq!(
            nested.placeholders(),
            vec![Placeholder::LiveImage, Placeholder::ReferenceImage]
        );

        // A form is flat strings.
        let mut form = with("/format", json!("form"));
        form["body"] = json!({"img1": "${live_image}", "img2": "${reference_image}", "n": 1});
        assert_eq!(
            error(form.clone()),
            "compare.http.body.n: a form value must be a string"
        );
        form["body"] = json!({"img1": "${live_image}", "img2": {"x": "${reference_image}"}});
        assert_eq!(
            error(form),
            "compare.http.body.img2: a form value must be a string"
        );
    }

    #[test]
    fn answer_pointers_are_json_pointers() {
        assert_eq!(
            error(with("/response/score", json!("data.score"))),
            "compare.http.response.score: \"data.score\" is not a JSON pointer (it starts with \
             '/', as /data/score)"
        );
        assert_eq!(
            error(with("/response/score", json!("/data/a~2b"))),
            "compare.http.response.score: \"/data/a~2b\" is not a JSON pointer ('~' is written \
             ~0, '/' in a name ~1)"
        );
        assert!(
            CompareServiceRules::parse(&with("/response/score", json!("/data/a~1b~0c"))).is_ok()
        );
        let code = |response: Value| error(with("/response", response));
        assert_eq!(
            code(json!({"pass": "/ok", "code": "code"})),
            "compare.http.response.code: \"code\" is not a JSON pointer (it starts with '/', as \
             /data/score)"
        );
    }

    #[test]
    fn the_verdict_needs_a_pass_flag_or_a_score_and_its_threshold() {
        let response = |r: Value| error(with("/response", r));
        assert_eq!(
            response(json!({"score": "/score"})),
            "compare.http.response.min_score: required without a pass pointer (it says which \
             scores are the same person)"
        );
        assert_eq!(
            response(json!({"code": "/code", "success_codes": ["0"]})),
            "compare.http.response: needs a pass or a score pointer"
        );
        assert_eq!(
            response(json!({"pass": "/pass", "min_score": 0.5})),
            "compare.http.response.min_score: needs a score pointer"
        );
        assert_eq!(
            response(json!({"pass": "/pass", "code": "/code"})),
            "compare.http.response.success_codes: must list 1 to 32 codes (got 0)"
        );
        assert_eq!(
            response(json!({"pass": "/pass", "code": "/code", "success_codes": ["0", ""]})),
            "compare.http.response.success_codes[1]: must not be empty"
        );
        assert_eq!(
            response(json!({"pass": "/pass", "success_codes": ["0"]})),
            "compare.http.response.success_codes: needs a code pointer"
        );
        assert_eq!(
            response(json!({"pass": "/pass", "message": "/msg"})),
            "compare.http.response.message: needs a code pointer (a message is kept with a \
             refusal)"
        );
        let pass_only = CompareServiceRules::parse(&with("/response", json!({"pass": "/pass"})))
            .expect("a pass flag alone decides");
        assert_eq!(pass_only.response.score, None);
    }

    #[test]
    fn placeholders_round_trip_their_tokens() {
        for p in Placeholder::ALL {
            assert_eq!(Placeholder::from_token(p.token()), Some(p));
        }
        assert_eq!(Placeholder::from_token("${live_image} "), None);
    }
}
