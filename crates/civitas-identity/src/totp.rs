//! Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! clock skew either way), the second factor of level-2 sign-ins.

use totp_rs::{Builder, Secret, Totp};

fn totp(secret: &[u8]) -> Totp {
    Builder::new().with_secret(secret.to_vec()).build_noncompliant()
}

/// A new 160-bit secret, base32 (what authenticator apps take).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::fill(&mut bytes);
    Secret::from(bytes.to_vec()).to_base32()
}

pub fn encode_secret(bytes: &[u8]) -> String {
    Secret::from(bytes.to_vec()).to_base32()
}

pub fn decode_secret(base32: &str) -> Option<Vec<u8>> {
    Secret::try_from_base32(base32).ok().map(|s| AsRef::<[u8]>::as_ref(&s).to_vec())
}

/// The code for `secret` at unix time `now` (for tests and the demo).
pub fn code(secret: &[u8], now: i64) -> String {
    totp(secret).generate(now.max(0) as u64).to_string()
}

/// The time step `code` is valid for at `now`, if any.
pub fn check(secret: &[u8], code: &str, now: i64) -> Option<u64> {
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    totp(secret).check(code, now.max(0) as u64)
}

pub fn otpauth_uri(base32: &str, pid: &str) -> String {
    format!("otpauth://totp/civitas:{pid}?secret={base32}&issuer=civitas&algorithm=SHA1&digits=6&period=30")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", last 6 digits.
        let secret = b"12345678901234567890";
        assert_eq!(code(secret, 59), "287082");
        assert_eq!(code(secret, 1_111_111_109), "081804");
        assert_eq!(code(secret, 1_234_567_890), "005924");
        assert!(check(secret, "287082", 59).is_some());
        assert!(check(secret, "287082", 59 + 90).is_none());
        assert!(check(secret, "28708", 59).is_none());
    }

    #[test]
    fn secrets_round_trip() {
        let s = new_secret();
        let bytes = decode_secret(&s).unwrap();
        assert_eq!(bytes.len(), 20);
        assert!(check(&bytes, &code(&bytes, 1_000_000), 1_000_010).is_some());
    }
}
