//! Where the built-in comparator fetches a reference image by id: the union's photo store,
//! asked with one GET per session created with `"reference": {"id": ...}`.
//!
//! ```json
//! "compare": {"engine": "builtin",
//!             "reference_source": {"url": "https://photos.union.example/faces/${reference_id}",
//!                                  "auth": {"kind": "token", "header": "Authorization",
//!                                           "value": "Bearer ..."},
//!                                  "timeout_ms": 3000}}
//! ```
//! The id goes into the URL, so it is held to letters, digits and `.`, `_`, `-`, `~`: nothing
//! in it can change the URL's path or query.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::client::RemoteCompareError;
use super::rules::{auth, CompareAuth, RawAuth};
use crate::scenes::{at_path, http_url, invalid, within, SceneRulesError};

const PREFIX: &str = "compare.reference_source";
/// The placeholder the URL carries.
pub const ID_PLACEHOLDER: &str = "${reference_id}";
/// What stands in for the id while the template is checked.
const ID_MARKER: &str = "lgreferenceid";
/// Longest id put into a URL.
const MAX_ID_CHARS: usize = 128;

/// A reference source: the URL template, its credentials and the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceSourceRules {
    /// The URL with `${reference_id}` once, in its path or query.
    url_template: String,
    /// How the request proves it comes from Livegate.
    pub auth: CompareAuth,
    /// Longest wait for the image, in milliseconds (`100..=30000`).
    pub timeout_ms: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    url: String,
    auth: RawAuth,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    3000
}

/// Whether an id can go into a URL as it is.
pub fn is_url_safe_id(id: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '~'))
        && id != "."
        && id != ".."
}

impl ReferenceSourceRules {
    /// Reads and checks a scene's `compare.reference_source` object.
    pub fn parse(value: &Value) -> Result<ReferenceSourceRules, SceneRulesError> {
        let raw: RawSource =
            serde_path_to_error::deserialize(value).map_err(|e| at_path(PREFIX, e))?;
        let url_path = format!("{PREFIX}.url");
        if raw.url.matches(ID_PLACEHOLDER).count() != 1 {
            return Err(invalid(
                url_path,
                format!("must hold {ID_PLACEHOLDER} exactly once"),
            ));
        }
        // Parsed with a marker in the id's place, which must land in the path or the query.
        let url = http_url(&url_path, &raw.url.replace(ID_PLACEHOLDER, ID_MARKER))?;
        if url.fragment().is_some() {
            return Err(invalid(url_path, "must not have a fragment"));
        }
        let in_path_or_query =
            url.path().contains(ID_MARKER) || url.query().is_some_and(|q| q.contains(ID_MARKER));
        if !in_path_or_query {
            return Err(invalid(
                url_path,
                format!("{ID_PLACEHOLDER} must be in the path or the query"),
            ));
        }
        let timeout_ms = within(&format!("{PREFIX}.timeout_ms"), raw.timeout_ms, 100, 30_000)?;
        Ok(ReferenceSourceRules {
            url_template: raw.url,
            auth: auth(&raw.auth, PREFIX)?,
            timeout_ms: u32::try_from(timeout_ms).unwrap_or(30_000),
        })
    }

    /// The URL for one id; ids that are not URL-safe are refused.
    pub fn url_for(&self, id: &str) -> Result<Url, RemoteCompareError> {
        if !is_url_safe_id(id) {
            return Err(RemoteCompareError::ReferenceKind);
        }
        Url::parse(&self.url_template.replace(ID_PLACEHOLDER, id))
            .map_err(|e| RemoteCompareError::Malformed(format!("reference url: {e}")))
    }

    /// `timeout_ms` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.into())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Result<ReferenceSourceRules, String> {
        ReferenceSourceRules::parse(&value).map_err(|e| e.to_string())
    }

    #[test]
    fn the_url_carries_the_id_once_and_only_safe_ids() {
        let rules = parse(json!({
            "url": "https://photos.example/faces/${reference_id}?size=large",
            "auth": {"kind": "none"}
        }))
        .expect("parses");
        assert_eq!(rules.timeout_ms, 3000);
        assert_eq!(
            rules.url_for("C-100.x").expect("safe").as_str(),
            "https://photos.example/faces/C-100.x?size=large"
        );
        assert!(parse(
            json!({"url": "https://${reference_id}.example/x", "auth": {"kind": "none"}})
        )
        .expect_err("host")
        .contains("in the path or the query"));
        for bad in ["", "a/b", "../admin", "a?b=1", "a b", "..", "身份"] {
            assert!(rules.url_for(bad).is_err(), "{bad:?}");
        }
        let error = |v: Value| parse(v).expect_err("refused");
        assert!(
            error(json!({"url": "https://p.example/faces", "auth": {"kind": "none"}}))
                .starts_with("compare.reference_source.url: must hold")
        );
        assert!(
            error(json!({"url": "ftp://p.example/${reference_id}", "auth": {"kind": "none"}}))
                .starts_with("compare.reference_source.url: must be http")
        );
        assert!(error(json!({"url": "https://p.example/${reference_id}",
                             "auth": {"kind": "hmac", "app_id": "a", "secret": "short"}}))
        .starts_with("compare.reference_source.auth.secret"));
        assert!(error(
            json!({"url": "https://p.example/${reference_id}", "auth": {"kind": "none"},
                             "timeout_ms": 5})
        )
        .starts_with("compare.reference_source.timeout_ms"));
        assert!(error(
            json!({"url": "https://p.example/${reference_id}", "auth": {"kind": "none"},
                             "retries": 1})
        )
        .contains("unknown field"));
    }
}
