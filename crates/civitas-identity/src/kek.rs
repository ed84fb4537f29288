//! The operator's key-encryption key: signing keys are stored sealed with it (AES-256-GCM, the
//! key id as associated data, so a sealed key cannot be moved to another row), and whoever can
//! read the database without the KEK cannot mint tokens. The KEK lives outside the database:
//! a file named by `key_encryption_key_file` (or `CIVITAS_KEY_ENCRYPTION_KEY_FILE`) holding 32
//! random bytes in base64, made by `civitas keys generate-kek`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

/// Prefix of a sealed value (a plain P-256 scalar is 32 bytes and never starts with it).
pub const SEALED_PREFIX: &[u8] = b"civitas-kek1:";

pub struct Kek(LessSafeKey);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

impl Kek {
    /// A KEK from its base64 text (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Kek, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| "the key-encryption key is not base64".to_owned())?;
        if bytes.len() != 32 {
            return Err(format!("the key-encryption key must be 32 bytes, this one has {}", bytes.len()));
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| "the key-encryption key is unusable".to_owned())?;
        Ok(Kek(LessSafeKey::new(key)))
    }

    /// Reads a KEK file.
    pub fn from_file(path: &std::path::Path) -> Result<Kek, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_base64(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A new random KEK, as base64 text.
    pub fn generate() -> String {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// Seals `plain` for the row `kid`.
    pub fn seal(&self, kid: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::fill(&mut nonce);
        let mut sealed = plain.to_vec();
        // Sealing only fails for inputs beyond GCM's size limit (gigabytes), never for a key.
        if self
            .0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(kid.as_bytes()), &mut sealed)
            .is_err()
        {
            return Vec::new();
        }
        [SEALED_PREFIX, &nonce, &sealed].concat()
    }

    /// Opens a value sealed for `kid`; `None` when it was sealed with another KEK, for another
    /// row, or altered.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let rest = sealed.strip_prefix(SEALED_PREFIX)?;
        if rest.len() < 12 + 16 {
            return None;
        }
        let (nonce, body) = rest.split_at(12);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = body.to_vec();
        let plain = self.0.open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

/// Whether a stored value is sealed.
pub fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let kek = Kek::from_base64(&Kek::generate()).unwrap();
        let sealed = kek.seal("kid-1", b"secret scalar");
        assert!(is_sealed(&sealed));
        assert_eq!(kek.open("kid-1", &sealed).as_deref(), Some(&b"secret scalar"[..]));
        assert_eq!(kek.open("kid-2", &sealed), None, "bound to its row");
        let other = Kek::from_base64(&Kek::generate()).unwrap();
        assert_eq!(other.open("kid-1", &sealed), None);
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(kek.open("kid-1", &altered), None);
        assert!(Kek::from_base64("c2hvcnQ=").is_err());
    }
}
