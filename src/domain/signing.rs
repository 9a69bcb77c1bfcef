//! Secrets and signatures: API tokens, webhook signatures, verified visitor
//! identity. Every comparison of a secret is in constant time.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A new random secret, URL-safe (API tokens, webhook and identity secrets).
pub fn new_secret(prefix: &str) -> String {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    format!("{prefix}{raw}")
}

/// Hex HMAC-SHA256 of `message` under `key`.
pub fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Is `hash_hex` the HMAC of `identifier` under the site's secret? (In
/// constant time; a hash that is not hex, or of the wrong length, is not.)
pub fn identity_matches(secret: &str, identifier: &str, hash_hex: &str) -> bool {
    let Ok(given) = hex::decode(hash_hex.trim()) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(identifier.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// The `X-Livedesk-Signature` header of a delivery: `sha256=<hex>` for each
/// secret that signs now (two while a rotated one is still honoured).
pub fn webhook_signature(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| {
            let mut signed = format!("{timestamp}.").into_bytes();
            signed.extend_from_slice(body);
            format!("sha256={}", hmac_hex(s.as_bytes(), &signed))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How long after its `attempts`-th failure a delivery is tried again:
/// 10 s doubling to at most an hour, with ±20 % jitter (`jitter` in 0..1) so
/// the endpoints' retries do not come back all at once.
pub fn backoff(attempts: u32, jitter: f64) -> Duration {
    let base = 10.0 * 2f64.powi(attempts.saturating_sub(1).min(20) as i32);
    let secs = base.min(3600.0) * (0.8 + 0.4 * jitter.clamp(0.0, 1.0));
    Duration::from_secs_f64(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_hash_is_checked_exactly() {
        let h = hmac_hex(b"site-secret", b"customer-42");
        assert!(identity_matches("site-secret", "customer-42", &h));
        assert!(identity_matches(
            "site-secret",
            "customer-42",
            &h.to_uppercase()
        ));
        assert!(!identity_matches("site-secret", "customer-43", &h));
        assert!(!identity_matches("other-secret", "customer-42", &h));
        assert!(!identity_matches("site-secret", "customer-42", &h[..62]));
        assert!(!identity_matches("site-secret", "customer-42", "not hex"));
        assert!(!identity_matches("site-secret", "customer-42", ""));
    }

    #[test]
    fn a_signature_covers_the_timestamp_and_the_body() {
        // Known answer: HMAC-SHA256("whsec", "1700000000.{}").
        let sig = webhook_signature(&["whsec"], 1_700_000_000, b"{}");
        assert_eq!(
            sig,
            format!("sha256={}", hmac_hex(b"whsec", b"1700000000.{}"))
        );
        assert_ne!(sig, webhook_signature(&["whsec"], 1_700_000_001, b"{}"));
        let both = webhook_signature(&["new", "old"], 1, b"x");
        assert_eq!(both.matches("sha256=").count(), 2);
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_grows_to_an_hour_with_jitter() {
        assert_eq!(backoff(1, 0.5), Duration::from_secs(10));
        assert_eq!(backoff(2, 0.5), Duration::from_secs(20));
        assert_eq!(backoff(30, 0.5), Duration::from_secs(3600));
        assert_eq!(backoff(1, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(1, 1.0), Duration::from_secs(12));
    }
}
