//! Active Authentication (ICAO 9303-11 §6.1): the chip signs a fresh 8-byte challenge of the
//! server with the private key whose public half is DG15 (itself authenticated by the SOD). A
//! copy of the files cannot answer. ECDSA answers are plain `r‖s` over the challenge's hash
//! (the hash DG14's ActiveAuthenticationInfo names, else the one that fits the curve); RSA
//! answers use ISO/IEC 9796-2 scheme 1 with partial message recovery, which a PKCS#1 verify
//! does not read: `s^e mod n` = `6A ‖ M1 ‖ H(M1 ‖ challenge) ‖ BC` (SHA-1) or `‖ xx CC`.

use civitas_core::chip::{SubjectPublicKey, oid_text, parse_dg15};

use super::sig::{self, Allow, Hash, SigError};

/// Why an AA response is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AaFailure {
    #[error("the SOD lists DG15: Active Authentication is required and no response was given")]
    Missing,
    #[error("DG15 is malformed: {0}")]
    BadKey(String),
    #[error("the AA algorithm {0} is not supported")]
    Unsupported(String),
    #[error("the AA algorithm {0} is not allowed by this installation's policy")]
    NotAllowed(String),
    #[error("the chip's answer to the challenge does not verify")]
    Invalid,
}

impl AaFailure {
    pub fn code(&self) -> &'static str {
        match self {
            AaFailure::Missing => "aa_missing",
            AaFailure::BadKey(_) => "malformed",
            AaFailure::Unsupported(_) => "algorithm_not_supported",
            AaFailure::NotAllowed(_) => "algorithm_not_allowed",
            AaFailure::Invalid => "aa_invalid",
        }
    }
}

impl From<SigError> for AaFailure {
    fn from(e: SigError) -> Self {
        match e {
            SigError::Unsupported(a) => AaFailure::Unsupported(a),
            SigError::NotAllowed(a) => AaFailure::NotAllowed(a),
            SigError::BadKey(m) => AaFailure::BadKey(m),
            SigError::Invalid => AaFailure::Invalid,
        }
    }
}

const AA_PROTOCOL: [u8; 6] = [0x67, 0x81, 0x08, 0x01, 0x01, 0x05];

/// The hash DG14's ActiveAuthenticationInfo names (its signature algorithm, e.g.
/// ecdsa-with-SHA256), if DG14 has one.
pub fn dg14_aa_hash(dg14: &[u8]) -> Option<Hash> {
    // ActiveAuthenticationInfo ::= SEQUENCE { protocol 2.23.136.1.1.5, version 1, signatureAlgorithm OID }
    let at = dg14.windows(AA_PROTOCOL.len() + 2).position(|w| w[0] == 0x06 && w[1] == 6 && w[2..] == AA_PROTOCOL)?;
    let mut pos = at + 2 + AA_PROTOCOL.len();
    // version INTEGER
    if dg14.get(pos) == Some(&0x02) {
        pos += 2 + usize::from(*dg14.get(pos + 1)?);
    }
    if dg14.get(pos) != Some(&0x06) {
        return None;
    }
    let len = usize::from(*dg14.get(pos + 1)?);
    let oid = oid_text(dg14.get(pos + 2..pos + 2 + len)?)?;
    match oid.as_str() {
        "1.2.840.10045.4.1" => Some(Hash::Sha1),
        "1.2.840.10045.4.3.1" => Some(Hash::Sha224),
        "1.2.840.10045.4.3.2" => Some(Hash::Sha256),
        "1.2.840.10045.4.3.3" => Some(Hash::Sha384),
        "1.2.840.10045.4.3.4" => Some(Hash::Sha512),
        _ => None,
    }
}

/// Checks the chip's `response` to `challenge` with the DG15 key; answers the algorithm used.
pub fn active_check(
    dg15: &[u8],
    dg14: Option<&[u8]>,
    challenge: &[u8],
    response: &[u8],
    allow: &Allow,
) -> Result<String, AaFailure> {
    let key = parse_dg15(dg15).map_err(|e| AaFailure::BadKey(e.to_string()))?;
    check_with_key(&key, dg14.and_then(dg14_aa_hash), challenge, response, allow)
}

fn allowed(hash: Hash, allow: &Allow) -> Result<Hash, AaFailure> {
    if allow.hashes.iter().any(|h| h == hash.name()) {
        Ok(hash)
    } else {
        Err(AaFailure::NotAllowed(hash.name().into()))
    }
}

/// [`active_check`] with the key already read.
pub fn check_with_key(
    key: &SubjectPublicKey,
    named_hash: Option<Hash>,
    challenge: &[u8],
    response: &[u8],
    allow: &Allow,
) -> Result<String, AaFailure> {
    match key.algorithm.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = sig::curve_of(key)?;
            if !allow.curves.iter().any(|c| c == curve) {
                return Err(AaFailure::NotAllowed(curve.to_owned()));
            }
            let hash = named_hash.unwrap_or(match curve {
                "p384" | "brainpoolP384r1" => Hash::Sha384,
                "p521" => Hash::Sha512,
                _ => Hash::Sha256,
            });
            let hash = allowed(hash, allow)?;
            sig::ecdsa_prehash(curve, &key.key, &hash.digest(challenge), response, true)?;
            Ok(format!("ecdsa-{curve}-{}", hash.name()))
        }
        "1.2.840.113549.1.1.1" => {
            let (public, bits) = sig::rsa_key(&key.key)?;
            if bits < allow.min_rsa_bits {
                return Err(AaFailure::NotAllowed(format!("rsa-{bits}")));
            }
            let hash = iso9796_2(&public, challenge, response)?;
            let hash = allowed(hash, allow)?;
            Ok(format!("rsa-iso9796-2-{bits}-{}", hash.name()))
        }
        other => Err(AaFailure::Unsupported(other.to_owned())),
    }
}

/// ISO/IEC 9796-2 scheme 1 (partial recovery): recovers `s^e mod n` and checks its header,
/// trailer and digest over `M1 ‖ challenge`; answers the hash the trailer names.
fn iso9796_2(key: &rsa::PublicKey, challenge: &[u8], response: &[u8]) -> Result<Hash, AaFailure> {
    use rsa::traits::PublicKeyParts;
    let k = key.size();
    if response.len() != k {
        return Err(AaFailure::Invalid);
    }
    let s = rsa::BoxedUint::from_be_slice(response, key.n().bits_precision()).map_err(|_| AaFailure::Invalid)?;
    if s >= *key.n().as_ref() {
        return Err(AaFailure::Invalid);
    }
    let m = rsa::hazmat::rsa_encrypt(key, &s).map_err(|_| AaFailure::Invalid)?;
    let bytes = m.to_be_bytes();
    let f = &bytes[bytes.len().saturating_sub(k)..];
    // The recovered block fills the modulus' bytes (a leading zero byte when n's top byte is small).
    let f = if f.first() == Some(&0) { &f[1..] } else { f };
    if f.first() != Some(&0x6a) {
        return Err(AaFailure::Invalid);
    }
    let (hash, trailer) = match f.last() {
        Some(0xbc) => (Hash::Sha1, 1),
        Some(0xcc) => {
            let hash = match f.get(f.len().wrapping_sub(2)) {
                Some(0x33) => Hash::Sha1,
                Some(0x34) => Hash::Sha256,
                Some(0x35) => Hash::Sha512,
                Some(0x36) => Hash::Sha384,
                Some(0x38) => Hash::Sha224,
                _ => return Err(AaFailure::Unsupported("ISO/IEC 9796-2 with an unknown hash".into())),
            };
            (hash, 2)
        }
        _ => return Err(AaFailure::Invalid),
    };
    if f.len() < 1 + trailer + hash.output_len() {
        return Err(AaFailure::Invalid);
    }
    let body = &f[1..f.len() - trailer];
    let Some(m1_len) = body.len().checked_sub(hash.output_len()) else { return Err(AaFailure::Invalid) };
    let (m1, digest) = body.split_at(m1_len);
    let mut message = m1.to_vec();
    message.extend_from_slice(challenge);
    if hash.digest(&message) != digest {
        return Err(AaFailure::Invalid);
    }
    Ok(hash)
}
