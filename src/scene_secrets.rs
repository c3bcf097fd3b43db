//! A scene's secrets sealed at rest: the callback secret and the compare service's and
//! reference source's credentials are stored sealed under the master key (`src/secrets.rs`),
//! opened only where they are used, and masked wherever a scene is shown.
//!
//! A sealed field is the string `sealed:v1:<base64url>`, bound to its JSON pointer, so a sealed
//! value moved to another field does not open. A plain string (a scene written before sealing)
//! is read as it is and sealed the next time the scene is set.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use crate::secrets::{MasterKey, SecretsError};

/// Where a scene's config holds secrets (JSON pointers).
pub const SECRET_FIELDS: [&str; 5] = [
    "/callback/secret",
    "/compare/http/auth/value",
    "/compare/http/auth/secret",
    "/compare/reference_source/auth/value",
    "/compare/reference_source/auth/secret",
];

const SEALED_PREFIX: &str = "sealed:v1:";

fn aad(pointer: &str) -> String {
    format!("livegate scene secret {pointer}")
}

/// The config with every secret field sealed (fields already sealed are kept).
pub fn seal(config: &Value, key: &MasterKey) -> Result<Value, SecretsError> {
    let mut sealed = config.clone();
    for pointer in SECRET_FIELDS {
        if let Some(Value::String(text)) = sealed.pointer_mut(pointer) {
            if !text.starts_with(SEALED_PREFIX) {
                let bytes = key.seal(text.as_bytes(), &aad(pointer))?;
                *text = format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
            }
        }
    }
    Ok(sealed)
}

/// The config with every sealed secret field opened, as the rules need it.
pub fn open(config: &Value, key: &MasterKey) -> Result<Value, SecretsError> {
    let mut opened = config.clone();
    for pointer in SECRET_FIELDS {
        if let Some(Value::String(text)) = opened.pointer_mut(pointer) {
            if let Some(encoded) = text.strip_prefix(SEALED_PREFIX) {
                let bytes = URL_SAFE_NO_PAD
                    .decode(encoded)
                    .map_err(|_| SecretsError::Open)?;
                let plain = key.open(&bytes, &aad(pointer))?;
                *text = String::from_utf8(plain).map_err(|_| SecretsError::Open)?;
            }
        }
    }
    Ok(opened)
}

/// The config with every secret field replaced by `"***"`: what lists and pages show.
pub fn mask(config: &Value) -> Value {
    let mut masked = config.clone();
    for pointer in SECRET_FIELDS {
        if let Some(secret) = masked.pointer_mut(pointer) {
            *secret = Value::String("***".to_owned());
        }
    }
    masked
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_sealed_at_rest_and_open_only_in_their_own_field() {
        let key = MasterKey::from_bytes(&[7; 32]);
        let config = json!({
            "retries": 1,
            "callback": {"url": "https://b.example/", "secret": "0123456789abcdef"},
            "compare": {"engine": "http", "http": {"auth": {"kind": "token", "header": "A", "value": "Bearer t"}}}
        });
        let sealed = seal(&config, &key).expect("seal");
        let text = sealed.to_string();
        assert!(
            !text.contains("0123456789abcdef") && !text.contains("Bearer t"),
            "{text}"
        );
        assert_eq!(sealed["callback"]["url"], "https://b.example/");
        assert_eq!(sealed["retries"], 1);
        assert_eq!(open(&sealed, &key).expect("open"), config);
        // Sealing twice keeps what is sealed; a plain (older) config opens as it is.
        assert_eq!(seal(&sealed, &key).expect("reseal"), sealed);
        assert_eq!(open(&config, &key).expect("plain"), config);
        // Another key, or a sealed value moved to another field, does not open.
        assert!(open(&sealed, &MasterKey::from_bytes(&[8; 32])).is_err());
        let mut moved = sealed.clone();
        moved["compare"]["http"]["auth"]["value"] = sealed["callback"]["secret"].clone();
        assert!(open(&moved, &key).is_err());
        assert_eq!(mask(&sealed)["callback"]["secret"], "***");
        assert_eq!(mask(&json!({})), json!({}));
    }
}
