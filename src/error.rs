//! The one error shape every HTTP answer uses.
//!
//! `ErrorCode` is the small, stable vocabulary clients program against; each code has its HTTP
//! status and a zh-CN and an English message. `ApiError` carries a code, an optional detail for
//! the client, and an optional internal cause that is logged and never sent: no database text
//! reaches a client. Domain errors map to it once (`From<StoreError>` here).

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value;

use crate::store::StoreError;

/// What went wrong, as a client sees it. Serialised as `NOT_FOUND`, `RATE_LIMITED`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// 400: the request cannot be read (bad JSON, bad path or query).
    BadRequest,
    /// 422: the request reads but breaks a rule.
    ValidationFailed,
    /// 401: no or bad credentials.
    Unauthorized,
    /// 401: the request's signature does not match (wrong secret, or the request was changed).
    SignatureInvalid,
    /// 401: the request's timestamp is more than 5 minutes off the server's clock.
    TimestampExpired,
    /// 401: the request's nonce was used before.
    NonceReused,
    /// 401: no such app, or it is disabled.
    AppUnknown,
    /// 403: credentials fine, access not allowed.
    Forbidden,
    /// 404: no such thing (or not in the caller's tenant).
    NotFound,
    /// 410: it existed but is over: a session whose link expired or whose node went away.
    Gone,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 409: clashes with what exists (a duplicate code, a stale version).
    Conflict,
    /// 413: the body is larger than `server.max_body_bytes`.
    PayloadTooLarge,
    /// 415: the body is not in a content type the endpoint takes.
    UnsupportedMediaType,
    /// 429: too many requests.
    RateLimited,
    /// 503: a dependency (the store, the models) cannot serve now; retry later.
    Unavailable,
    /// 504: a dependency did not answer in time.
    Timeout,
    /// 500: a bug or an unexpected failure; details are in the server log.
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::BadRequest,
        ErrorCode::ValidationFailed,
        ErrorCode::Unauthorized,
        ErrorCode::SignatureInvalid,
        ErrorCode::TimestampExpired,
        ErrorCode::NonceReused,
        ErrorCode::AppUnknown,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Gone,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::Timeout,
        ErrorCode::Internal,
    ];

    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Unauthorized
            | ErrorCode::SignatureInvalid
            | ErrorCode::TimestampExpired
            | ErrorCode::NonceReused
            | ErrorCode::AppUnknown => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Gone => StatusCode::GONE,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code as it appears in the body: `NOT_FOUND`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::ValidationFailed => "VALIDATION_FAILED",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::SignatureInvalid => "SIGNATURE_INVALID",
            ErrorCode::TimestampExpired => "TIMESTAMP_EXPIRED",
            ErrorCode::NonceReused => "NONCE_REUSED",
            ErrorCode::AppUnknown => "APP_UNKNOWN",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Gone => "GONE",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// The message shown to users, in Simplified Chinese (the default language).
    pub fn message_zh(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "请求格式错误",
            ErrorCode::ValidationFailed => "请求参数校验失败",
            ErrorCode::Unauthorized => "未认证或认证已失效",
            ErrorCode::SignatureInvalid => "请求签名无效",
            ErrorCode::TimestampExpired => "请求时间戳超出允许范围（±5 分钟）",
            ErrorCode::NonceReused => "请求随机串（nonce）已被使用",
            ErrorCode::AppUnknown => "应用不存在或已停用",
            ErrorCode::Forbidden => "无权访问",
            ErrorCode::NotFound => "资源不存在",
            ErrorCode::Gone => "已结束或已过期",
            ErrorCode::MethodNotAllowed => "不支持该请求方法",
            ErrorCode::Conflict => "与现有数据冲突",
            ErrorCode::PayloadTooLarge => "请求内容过大",
            ErrorCode::UnsupportedMediaType => "不支持的内容类型",
            ErrorCode::RateLimited => "请求过于频繁，请稍后再试",
            ErrorCode::Unavailable => "服务暂不可用，请稍后再试",
            ErrorCode::Timeout => "服务响应超时，请稍后再试",
            ErrorCode::Internal => "服务内部错误",
        }
    }

    /// The message in English.
    pub fn message_en(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "the request is malformed",
            ErrorCode::ValidationFailed => "the request failed validation",
            ErrorCode::Unauthorized => "not authenticated or the credentials have expired",
            ErrorCode::SignatureInvalid => "the request signature is invalid",
            ErrorCode::TimestampExpired => "the request timestamp is more than 5 minutes off",
            ErrorCode::NonceReused => "the request nonce was used before",
            ErrorCode::AppUnknown => "unknown or disabled app",
            ErrorCode::Forbidden => "access is not allowed",
            ErrorCode::NotFound => "not found",
            ErrorCode::Gone => "it has ended or expired",
            ErrorCode::MethodNotAllowed => "the method is not allowed here",
            ErrorCode::Conflict => "conflicts with existing data",
            ErrorCode::PayloadTooLarge => "the request body is too large",
            ErrorCode::UnsupportedMediaType => "the content type is not supported",
            ErrorCode::RateLimited => "too many requests, retry later",
            ErrorCode::Unavailable => "the service is unavailable, retry later",
            ErrorCode::Timeout => "the service timed out, retry later",
            ErrorCode::Internal => "internal error",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered to a client: a code, an optional client-facing detail, and an optional
/// internal cause that is logged, never sent.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    detail: Option<Value>,
    cause: Option<String>,
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The code, e.g. `NOT_FOUND`.
    pub code: ErrorCode,
    /// The zh-CN message.
    pub message: &'static str,
    /// The English message.
    pub message_en: &'static str,
    /// Client-facing detail (which field, which constraint), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

impl ApiError {
    /// An error with just a code.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            detail: None,
            cause: None,
        }
    }

    /// An `INTERNAL` error whose cause is logged.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Self::new(ErrorCode::Internal).with_cause(cause)
    }

    /// Adds a detail the client may see (a field name, a constraint, a limit).
    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Adds an internal cause: logged with the answer, never sent.
    pub fn with_cause(mut self, cause: impl fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The detail sent to the client, if any.
    pub fn detail(&self) -> Option<&Value> {
        self.detail.as_ref()
    }

    /// The body this error is answered with.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: self.code.message_zh(),
            message_en: self.code.message_en(),
            detail: self.detail.clone(),
        }
    }

    /// Maps actix's JSON extractor errors (bad JSON, too large, wrong content type).
    pub fn from_json(err: actix_web::error::JsonPayloadError) -> Self {
        use actix_web::error::JsonPayloadError as E;
        match err {
            E::OverflowKnownLength { length, limit } => Self::new(ErrorCode::PayloadTooLarge)
                .with_detail(serde_json::json!({ "length": length, "limit": limit })),
            E::Overflow { limit } => Self::new(ErrorCode::PayloadTooLarge)
                .with_detail(serde_json::json!({ "limit": limit })),
            E::ContentType => Self::new(ErrorCode::UnsupportedMediaType)
                .with_detail(serde_json::json!({ "expected": "application/json" })),
            // serde's message is about the client's own input (field, line, column): safe to send.
            E::Deserialize(err) => Self::new(ErrorCode::BadRequest)
                .with_detail(serde_json::json!({ "reason": err.to_string() })),
            E::Payload(err) => Self::new(ErrorCode::BadRequest).with_cause(err),
            other => Self::new(ErrorCode::BadRequest).with_cause(other),
        }
    }

    /// Maps actix's path and query extractor errors.
    pub fn from_extractor(what: &'static str, reason: impl fmt::Display) -> Self {
        Self::new(ErrorCode::BadRequest)
            .with_detail(serde_json::json!({ "in": what, "reason": reason.to_string() }))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.code.message_en())
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.http_status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match &self.cause {
            Some(cause) if status.is_server_error() => {
                tracing::error!(code = %self.code, cause = %cause, "request failed")
            }
            Some(cause) => tracing::debug!(code = %self.code, cause = %cause, "request rejected"),
            None => {}
        }
        HttpResponse::build(status).json(self.body())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { entity } => {
                Self::new(ErrorCode::NotFound).with_detail(serde_json::json!({ "entity": entity }))
            }
            // Constraint names are ours (docs/storage.md), not database text.
            StoreError::Conflict { constraint } => Self::new(ErrorCode::Conflict)
                .with_detail(serde_json::json!({ "constraint": constraint })),
            StoreError::Invalid(reason) => Self::new(ErrorCode::ValidationFailed)
                .with_detail(serde_json::json!({ "reason": reason })),
            err @ (StoreError::Unavailable(_) | StoreError::SchemaTooNew { .. }) => {
                Self::new(ErrorCode::Unavailable).with_cause(err)
            }
            err @ StoreError::Backend(_) => Self::internal(err),
        }
    }
}

impl From<crate::scenes::SceneRulesError> for ApiError {
    fn from(err: crate::scenes::SceneRulesError) -> Self {
        // The reason quotes only what the client sent (never a callback secret).
        Self::new(ErrorCode::ValidationFailed)
            .with_detail(serde_json::json!({ "path": err.path, "reason": err.reason }))
    }
}

impl From<livegate_actors::tenant::TenantError> for ApiError {
    fn from(err: livegate_actors::tenant::TenantError) -> Self {
        use livegate_actors::tenant::TenantError;
        match err {
            TenantError::TooManyLiveSessions { limit } => Self::new(ErrorCode::RateLimited)
                .with_detail(serde_json::json!({ "limit": "live_sessions", "max": limit })),
            TenantError::TooManyNewSessions { per_minute } => Self::new(ErrorCode::RateLimited)
                .with_detail(
                    serde_json::json!({ "limit": "new_sessions_per_minute", "max": per_minute }),
                ),
            TenantError::InvalidLimits(e) => Self::new(ErrorCode::ValidationFailed)
                .with_detail(serde_json::json!({ "field": e.field, "reason": e.to_string() })),
            err @ TenantError::Timeout(_) => Self::new(ErrorCode::Timeout).with_cause(err),
            err @ (TenantError::Spawn(_) | TenantError::Unavailable) => {
                Self::new(ErrorCode::Unavailable).with_cause(err)
            }
        }
    }
}

impl From<livegate_cluster::RegistryError> for ApiError {
    fn from(err: livegate_cluster::RegistryError) -> Self {
        use livegate_cluster::RegistryError;
        match err {
            // Session ids are made by the node: a duplicate is a bug, not the client's doing.
            err @ RegistryError::Duplicate(_) => Self::internal(err),
            err @ RegistryError::Unavailable(_) => {
                Self::new(ErrorCode::Unavailable).with_cause(err)
            }
        }
    }
}

/// The default service: any path no route matched answers `NOT_FOUND` in the error shape.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound).with_detail(serde_json::json!({ "path": req.path() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scene_tenant_and_registry_errors_map_to_codes() {
        let rules = ApiError::from(crate::scenes::SceneRulesError {
            path: "actions.count".into(),
            reason: "must be between 1 and 6 (got 9)".into(),
        });
        assert_eq!(rules.code(), ErrorCode::ValidationFailed);
        assert_eq!(
            rules.detail(),
            Some(&serde_json::json!({
                "path": "actions.count",
                "reason": "must be between 1 and 6 (got 9)"
            }))
        );
        use livegate_actors::tenant::TenantError;
        let busy = ApiError::from(TenantError::TooManyLiveSessions { limit: 5 });
        assert_eq!(busy.code().http_status().as_u16(), 429);
        assert_eq!(
            busy.detail(),
            Some(&serde_json::json!({ "limit": "live_sessions", "max": 5 }))
        );
        let rate = ApiError::from(TenantError::TooManyNewSessions { per_minute: 30 });
        assert_eq!(rate.code(), ErrorCode::RateLimited);
        assert_eq!(
            ApiError::from(TenantError::Unavailable).code(),
            ErrorCode::Unavailable
        );
        let dup = ApiError::from(livegate_cluster::RegistryError::Duplicate(
            livegate_cluster::SessionKey(uuid::Uuid::nil()),
        ));
        assert_eq!(dup.code(), ErrorCode::Internal);
        assert_eq!(dup.detail(), None);
    }

    #[test]
    fn every_code_has_both_messages_and_an_error_status() {
        for code in ErrorCode::ALL {
            assert!(!code.message_zh().is_empty() && !code.message_en().is_empty());
            assert!(code.http_status().as_u16() >= 400, "{code}");
            let json = serde_json::to_value(code).expect("serialise");
            assert_eq!(json, code.as_str());
        }
    }

    #[test]
    fn backend_text_never_reaches_the_body() {
        let err = ApiError::from(StoreError::Backend(
            "relation \"records\" does not exist".into(),
        ));
        let body = serde_json::to_string(&err.body()).expect("serialise");
        assert!(!body.contains("records"), "{body}");
        assert_eq!(err.code(), ErrorCode::Internal);
    }

    #[test]
    fn store_errors_map_once_to_codes_and_safe_details() {
        let conflict = ApiError::from(StoreError::Conflict {
            constraint: "tenants_code_key".into(),
        });
        assert_eq!(conflict.code().http_status().as_u16(), 409);
        assert_eq!(
            conflict.detail(),
            Some(&serde_json::json!({ "constraint": "tenants_code_key" }))
        );
        let missing = ApiError::from(StoreError::NotFound { entity: "record" });
        assert_eq!(missing.code(), ErrorCode::NotFound);
        let down = ApiError::from(StoreError::Unavailable(
            "error connecting to server: connection refused".into(),
        ));
        assert_eq!(down.code().http_status().as_u16(), 503);
        assert_eq!(down.detail(), None, "the cause is logged, not sent");
    }
}
