//! Server-generated secrets (codes, tokens, session ids): random, stored only as SHA-256, and
//! compared in constant time. Argon2 is for human passwords only (DESIGN.md).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A random decimal code of `digits` digits (one-time codes sent by SMS).
pub fn random_digits(digits: u32) -> String {
    let n: u64 = rand::random::<u64>() % 10u64.pow(digits);
    format!("{n:0width$}", width = digits as usize)
}

pub fn digest(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// Constant-time equality of two byte strings (the length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// base64url(SHA-256(value)), e.g. a PKCE S256 challenge of a verifier.
pub fn s256(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}
