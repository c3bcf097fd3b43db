//! Administrators' passwords and usernames: the policy, and argon2id hashing off the async
//! runtime.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`, the crate's default
//! parameters: OWASP's minimum for argon2id), so stronger parameters later still verify old
//! hashes. Hashing takes tens of milliseconds of one core: it runs in `spawn_blocking`.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted, in characters (bounds the hashing work a request can ask).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// The longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// Why a username or password was refused: the field and a short English reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct CredentialError {
    /// `username`, `password` or `new_password`.
    pub field: &'static str,
    /// What is wrong (never the value itself).
    pub reason: String,
}

impl From<CredentialError> for crate::error::ApiError {
    fn from(err: CredentialError) -> Self {
        super::invalid(err.field, &err.reason)
    }
}

/// Hashing or verifying failed inside the library or its task (not a wrong password).
#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct HashError(String);

impl From<HashError> for crate::error::ApiError {
    fn from(err: HashError) -> Self {
        crate::error::ApiError::internal(err)
    }
}

/// The username as stored: trimmed and lower-cased, 1 to 64 of `a-z 0-9 . _ @ -`.
pub fn normalise_username(username: &str) -> Result<String, CredentialError> {
    let name = username.trim().to_lowercase();
    let refuse = |reason: String| CredentialError {
        field: "username",
        reason,
    };
    if name.is_empty() {
        return Err(refuse("must not be empty".into()));
    }
    if name.chars().count() > MAX_USERNAME_CHARS {
        return Err(refuse(format!(
            "must be at most {MAX_USERNAME_CHARS} characters"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '@' | '-'))
    {
        return Err(refuse(
            "may hold only a-z, 0-9, '.', '_', '@' and '-'".into(),
        ));
    }
    Ok(name)
}

/// The password policy: 10 to 128 characters, not the username, not one character repeated.
/// `field` names the request's field (`password`, `new_password`).
pub fn check_password(
    field: &'static str,
    username: &str,
    password: &str,
) -> Result<(), CredentialError> {
    let refuse = |reason: String| CredentialError { field, reason };
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(refuse(format!(
            "must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(refuse(format!(
            "must be at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    if password.trim().to_lowercase() == username.trim().to_lowercase() {
        return Err(refuse("must not be the username".into()));
    }
    let mut distinct = password.chars().collect::<Vec<_>>();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 3 {
        return Err(refuse("must use at least 3 different characters".into()));
    }
    Ok(())
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub async fn hash_password(password: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|err| HashError(format!("task: {err}")))?
}

fn hash_now(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| HashError(err.to_string()))
}

/// Whether `password` matches the stored PHC string. A malformed stored hash is an error, not a
/// mismatch: it needs an operator.
pub async fn verify_password(hash: String, password: String) -> Result<bool, HashError> {
    tokio::task::spawn_blocking(move || verify_now(&hash, &password))
        .await
        .map_err(|err| HashError(format!("task: {err}")))?
}

fn verify_now(hash: &str, password: &str) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(hash).map_err(|err| HashError(err.to_string()))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(err) => Err(HashError(err.to_string())),
    }
}

/// Verifies `password` against a hash no account has, taking as long as a real check: a login
/// for an unknown username costs the same time as a wrong password, so timing tells no one
/// which usernames exist.
pub async fn verify_against_dummy(password: String) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let _ = tokio::task::spawn_blocking(move || {
        let dummy = DUMMY.get_or_init(|| hash_now("livegate-no-such-user").ok());
        if let Some(hash) = dummy {
            let _ = verify_now(hash, &password);
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_cased_and_bounded() {
        assert_eq!(
            normalise_username("  Ops.Admin@01 "),
            Ok("ops.admin@01".into())
        );
        assert_eq!(normalise_username("").map_err(|e| e.field), Err("username"));
        assert!(normalise_username(&"a".repeat(65)).is_err());
        assert!(normalise_username(&"a".repeat(64)).is_ok());
        assert!(normalise_username("名字").is_err());
        assert!(normalise_username("a b").is_err());
    }

    #[test]
    fn the_password_policy_names_its_field() {
        assert!(check_password("password", "ops", "correct horse").is_ok());
        let short = check_password("new_password", "ops", "short").expect_err("short");
        assert_eq!(short.field, "new_password");
        assert!(check_password("password", "operator01", "Operator01").is_err());
        assert!(check_password("password", "ops", "aaaaaaaaaaaa").is_err());
        assert!(check_password("password", "ops", &"ab1".repeat(43)).is_err());
        // Ten characters, counted as characters, not bytes.
        assert!(check_password("password", "ops", "口令口令口令口令口9").is_ok());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse".into()).await.expect("hash");
        let b = hash_password("correct horse".into()).await.expect("hash");
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "a fresh salt every time");
        assert!(verify_password(a.clone(), "correct horse".into())
            .await
            .expect("verify"));
        assert!(!verify_password(a, "correct horsf".into())
            .await
            .expect("verify"));
        assert!(verify_password("not a hash".into(), "x".into())
            .await
            .is_err());
    }
}
