//! The request signature of the Open API, used both ways: integrators sign their requests to us,
//! and we sign our callbacks to them.
//!
//! ```text
//! METHOD \n PATH \n CANONICAL_QUERY \n TIMESTAMP \n NONCE \n hex(SHA-256(body))
//! ```
//! signed with HMAC-SHA256 under the app's (or the scene's callback) secret, sent as lowercase
//! hex in `X-LG-Signature`. The canonical query is every `key=value` pair percent-decoded, then
//! re-encoded (RFC 3986 unreserved characters kept, every other byte `%XX` upper-case), sorted by
//! key then value and joined with `&`; empty when there is no query. Pure functions, no I/O.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Header naming the app (or, on callbacks, the app that created the session).
pub const HEADER_APP_ID: &str = "X-LG-AppId";
/// Header with the Unix time of signing, in seconds.
pub const HEADER_TIMESTAMP: &str = "X-LG-Timestamp";
/// Header with a one-time random string (16–64 characters of `[A-Za-z0-9_-]`).
pub const HEADER_NONCE: &str = "X-LG-Nonce";
/// Header with the signature, lowercase hex.
pub const HEADER_SIGNATURE: &str = "X-LG-Signature";

/// The string that is signed for a request.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path,
        canonical_query(query),
        timestamp,
        nonce,
        hex::encode(Sha256::digest(body))
    )
}

/// The canonical form of a raw query string (without the leading `?`).
pub fn canonical_query(raw: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (encode(&decode(key)), encode(&decode(value)))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The signature of a canonical request: lowercase hex HMAC-SHA256.
pub fn sign(secret: &[u8], canonical: &str) -> String {
    hex::encode(mac(secret, canonical).finalize().into_bytes())
}

/// Whether `signature` (hex, any case) is the signature of `canonical`; compares in constant
/// time.
pub fn verify(secret: &[u8], canonical: &str, signature: &str) -> bool {
    let Ok(given) = hex::decode(signature) else {
        return false;
    };
    mac(secret, canonical).verify_slice(&given).is_ok()
}

fn mac(secret: &[u8], canonical: &str) -> HmacSha256 {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("hmac accepts keys of every length"),
    };
    mac.update(canonical.as_bytes());
    mac
}

/// Percent-decodes `text` (`+` is a space, as forms send it); a broken escape stays as written.
fn decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes every byte but RFC 3986's unreserved characters.
fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_sorted_decoded_and_reencoded() {
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("b=2&a=1"), "a=1&b=2");
        assert_eq!(canonical_query("a=2&a=1"), "a=1&a=2");
        assert_eq!(canonical_query("q=%e4%b8%ad+x&k"), "k=&q=%E4%B8%AD%20x");
        assert_eq!(canonical_query("name=a%2Fb~c"), "name=a%2Fb~c");
        assert_eq!(canonical_query("x=100%"), "x=100%25");
        assert_eq!(canonical_query("&&a=1&"), "a=1");
    }

    #[test]
    fn canonical_request_has_six_lines_and_the_body_hash() {
        let c = canonical_request("post", "/open/v1/sessions", "", "1700000000", "n1", b"{}");
        let lines: Vec<&str> = c.split('\n').collect();
        assert_eq!(
            lines,
            [
                "POST",
                "/open/v1/sessions",
                "",
                "1700000000",
                "n1",
                // sha256("{}")
                "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            ]
        );
    }

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let c = canonical_request("GET", "/open/v1/ping", "a=1", "1700000000", "nonce", b"");
        let s = sign(b"secret", &c);
        assert_eq!(s.len(), 64);
        assert!(s
            .chars()
            .all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase()));
        assert!(verify(b"secret", &c, &s));
        assert!(verify(b"secret", &c, &s.to_ascii_uppercase()));
        assert!(!verify(b"secret2", &c, &s));
        let other = canonical_request("GET", "/open/v1/ping", "a=2", "1700000000", "nonce", b"");
        assert!(!verify(b"secret", &other, &s));
        assert!(!verify(b"secret", &c, "zz"));
        assert!(!verify(b"secret", &c, ""));
    }

    #[test]
    fn known_vector() {
        // Computed independently: printf '%s' "$canonical" | openssl dgst -sha256 -hmac key
        let c = canonical_request("GET", "/p", "", "1", "nonce-nonce-nonce", b"");
        assert_eq!(
            sign(b"key", &c),
            "b921a988f0b531457ba2a5e0dbdb5657664c1140a9d17ee4b3bc6dd0b54dcc06"
        );
    }
}
