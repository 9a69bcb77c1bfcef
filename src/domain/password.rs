//! argon2id hashing. Both functions are CPU-heavy: call them on the blocking pool.

use argon2::{
    password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier},
    Argon2,
};
use rand::{distr::Alphanumeric, Rng};

pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with default parameters and a random salt cannot fail")
        .to_string()
}

/// Verifies `password` against a stored PHC string. With `None` (unknown user)
/// it still does the work against a fixed hash, so timing does not reveal
/// which usernames exist.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (
            DUMMY
                .get_or_init(|| hash_password("livedesk-dummy"))
                .as_str(),
            false,
        ),
    };
    let ok = match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    };
    ok && real
}

/// A random password for generated accounts: 20 alphanumerics, ~119 bits.
pub fn generate_password() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("s3cret-pass");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret-pass", Some(&h)));
        assert!(!verify_password("wrong", Some(&h)));
        assert!(!verify_password("s3cret-pass", Some("not a hash")));
        assert!(!verify_password("livedesk-dummy", None));
    }

    #[test]
    fn generated_passwords_differ() {
        let a = generate_password();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_password());
    }
}
