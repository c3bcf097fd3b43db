//! One signed POST of a callback, and how its failure is told.
//!
//! The request is signed like an integrator's request to the Open API (`src/signature.rs`):
//! `X-LG-Signature = hex(HMAC-SHA256(secret, "POST\n" + path + "\n" + canonical query + "\n" +
//! timestamp + "\n" + nonce + "\n" + hex(SHA-256(body))))`, with the path and query of the
//! callback url as sent.

use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use reqwest::header::CONTENT_TYPE;
use reqwest::Url;

use super::secrets::CallbackSecret;
use crate::signature::{
    canonical_request, sign, HEADER_APP_ID, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use crate::store::Callback;

/// Length of the random nonce of a callback request.
pub const NONCE_LEN: usize = 32;

/// Why a try did not deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    /// The integrator answered, but not with a 2xx.
    #[error("http status {0}")]
    Status(u16),
    /// No answer within the timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The connection could not be made (refused, DNS, TLS).
    #[error("connection failed: {0}")]
    Connect(String),
    /// Anything else on the way (the connection broke mid-request).
    #[error("request failed: {0}")]
    Request(String),
    /// The url cannot be sent to: retrying will not help.
    #[error("invalid callback url: {0}")]
    BadUrl(String),
}

impl SendFailure {
    /// The HTTP status, when the integrator answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            SendFailure::Status(status) => Some(*status),
            _ => None,
        }
    }

    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            SendFailure::Status(_) => "http_status",
            SendFailure::Timeout(_) => "timeout",
            SendFailure::Connect(_) => "connection",
            SendFailure::Request(_) => "request",
            SendFailure::BadUrl(_) => "bad_url",
        }
    }
}

/// The HTTP client the worker sends with: no redirects (a redirect's target would need its own
/// signature, so a 3xx is a failed try), the node's user agent.
pub fn http_client(connect_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .user_agent(concat!("livegate/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A new random nonce: 32 characters of `[A-Za-z0-9]`.
pub fn new_nonce() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), NONCE_LEN)
}

/// The four `X-LG-*` headers of a callback to `url`: app id, timestamp, nonce, signature.
pub fn signed_headers(
    url: &Url,
    app_id: &str,
    body: &str,
    secret: &CallbackSecret,
    timestamp: i64,
    nonce: &str,
) -> [(&'static str, String); 4] {
    let timestamp = timestamp.to_string();
    let canonical = canonical_request(
        "POST",
        url.path(),
        url.query().unwrap_or(""),
        &timestamp,
        nonce,
        body.as_bytes(),
    );
    [
        (HEADER_APP_ID, app_id.to_owned()),
        (HEADER_TIMESTAMP, timestamp),
        (HEADER_NONCE, nonce.to_owned()),
        (HEADER_SIGNATURE, sign(secret.expose(), &canonical)),
    ]
}

/// The callback's url, if it can be sent to (http or https with a host).
pub fn parse_url(raw: &str) -> Result<Url, SendFailure> {
    let url = Url::parse(raw).map_err(|err| SendFailure::BadUrl(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SendFailure::BadUrl(format!(
            "must be an http or https url with a host (scheme {:?})",
            url.scheme()
        )));
    }
    Ok(url)
}

/// POSTs the callback, signed with `secret`; `Ok(status)` on a 2xx answer.
pub async fn send(
    client: &reqwest::Client,
    callback: &Callback,
    secret: &CallbackSecret,
    timeout: Duration,
) -> Result<u16, SendFailure> {
    let url = parse_url(&callback.url)?;
    let headers = signed_headers(
        &url,
        callback.app_id.as_deref().unwrap_or(""),
        &callback.body,
        secret,
        chrono::Utc::now().timestamp(),
        &new_nonce(),
    );
    let mut request = client
        .post(url)
        .timeout(timeout)
        .header(CONTENT_TYPE, "application/json")
        .body(callback.body.clone());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|err| failure(err, timeout))?;
    let status = response.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(SendFailure::Status(status.as_u16()))
    }
}

/// Tells a reqwest error without its url (it may carry the integrator's tokens) but with its
/// causes, which reqwest's own `Display` leaves out.
fn failure(err: reqwest::Error, timeout: Duration) -> SendFailure {
    if err.is_timeout() {
        return SendFailure::Timeout(timeout);
    }
    let connect = err.is_connect();
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if connect {
        SendFailure::Connect(text)
    } else {
        SendFailure::Request(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::verify;

    #[test]
    fn headers_sign_the_path_the_sorted_query_and_the_body() {
        let url = parse_url("https://biz.example/hooks/lg?b=2&a=1").expect("url");
        let secret = CallbackSecret::new("k");
        let headers = signed_headers(&url, "app-1", "{\"x\":1}", &secret, 1_700_000_000, "n");
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .expect("header")
        };
        assert_eq!(get(HEADER_APP_ID), "app-1");
        assert_eq!(get(HEADER_TIMESTAMP), "1700000000");
        let canonical = canonical_request(
            "POST",
            "/hooks/lg",
            "a=1&b=2",
            "1700000000",
            "n",
            b"{\"x\":1}",
        );
        assert!(verify(b"k", &canonical, &get(HEADER_SIGNATURE)));
    }

    #[test]
    fn nonces_are_32_random_characters() {
        let (a, b) = (new_nonce(), new_nonce());
        assert_eq!(a.len(), NONCE_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn only_http_urls_with_a_host_are_sent_to() {
        assert!(parse_url("http://127.0.0.1:9/cb").is_ok());
        assert!(matches!(
            parse_url("ftp://x/cb"),
            Err(SendFailure::BadUrl(_))
        ));
        assert!(matches!(
            parse_url("not a url"),
            Err(SendFailure::BadUrl(_))
        ));
    }
}
