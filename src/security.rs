//! Passwords and bearer tokens. Pure computation: no HTTP, no SQL.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

/// Prefix of every bearer token, so a leaked token is recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "wg_";

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes) into a PHC string.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Verifies a password against a PHC string. A malformed stored hash verifies as false.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash computed once to verify unknown usernames against, so that a login for a missing user
/// costs as much time as one for an existing user (no user enumeration by timing).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("wangge-dummy-password").unwrap_or_default())
}

/// A new random bearer token: prefix + 32 random bytes in hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// Prefix of a citizen's follow token.
pub const FOLLOW_TOKEN_PREFIX: &str = "wgf_";

/// A citizen's follow token for the report stored under `scoped_key`: HMAC-SHA-256 under the
/// installation's secret, so a retry of the same report is given the same token again (only its
/// hash is stored) and nobody without the secret can compute one.
pub fn follow_token(secret: &str, scoped_key: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"follow-token\0");
    mac.update(scoped_key.as_bytes());
    format!(
        "{FOLLOW_TOKEN_PREFIX}{}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The hash under which a token is stored: tokens are never stored in clear.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not-a-phc-string"));
    }

    #[test]
    fn two_tokens_differ_and_their_hashes_are_stable() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == 3 + 64);
        assert_eq!(token_hash(&a), token_hash(&a));
    }
}
