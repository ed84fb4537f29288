//! Signature checks for chip documents: ECDSA on P-256/384/521 and brainpoolP256r1/384r1 (named
//! or spelt out as explicit parameters), RSA PKCS#1 v1.5 and RSASSA-PSS (parameters read from
//! the algorithm identifier), each hash SHA-1/224/256/384/512, all pure Rust. What may be used
//! is an [`Allow`] list from configuration: SHA-1 and RSA under 2048 bits only when the operator
//! allows them (old documents).

use civitas_core::chip::{AlgorithmId, ExplicitCurve, SubjectPublicKey};
use serde::Deserialize;
use sha2::Digest;

const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const RSA_PSS: &str = "1.2.840.113549.1.1.10";

/// Which algorithms are accepted (configuration `[cards]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Allow {
    /// Hash names: sha1, sha224, sha256, sha384, sha512.
    pub hashes: Vec<String>,
    /// Curve names: p256, p384, p521, brainpoolP256r1, brainpoolP384r1.
    pub curves: Vec<String>,
    pub min_rsa_bits: usize,
}

impl Default for Allow {
    fn default() -> Self {
        Allow {
            hashes: ["sha256", "sha384", "sha512"].map(str::to_owned).to_vec(),
            curves: ["p256", "p384", "p521", "brainpoolP256r1", "brainpoolP384r1"].map(str::to_owned).to_vec(),
            min_rsa_bits: 2048,
        }
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("the algorithm {0} is not supported")]
    Unsupported(String),
    #[error("the algorithm {0} is not allowed by this installation's policy")]
    NotAllowed(String),
    #[error("the key is malformed: {0}")]
    BadKey(String),
    #[error("the signature does not verify")]
    Invalid,
}

/// A hash by OID or name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub fn from_oid(oid: &str) -> Option<Hash> {
        Some(match oid {
            "1.3.14.3.2.26" => Hash::Sha1,
            "2.16.840.1.101.3.4.2.4" => Hash::Sha224,
            "2.16.840.1.101.3.4.2.1" => Hash::Sha256,
            "2.16.840.1.101.3.4.2.2" => Hash::Sha384,
            "2.16.840.1.101.3.4.2.3" => Hash::Sha512,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Hash::Sha1 => "sha1",
            Hash::Sha224 => "sha224",
            Hash::Sha256 => "sha256",
            Hash::Sha384 => "sha384",
            Hash::Sha512 => "sha512",
        }
    }
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Hash::Sha224 => sha2::Sha224::digest(data).to_vec(),
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Hash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha224 => 28,
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }
}

/// The hash named by a signature algorithm (or, for a bare `rsaEncryption` / `ecPublicKey`
/// given as the signature algorithm, a field quirk, the digest algorithm `hint`).
fn signature_hash(alg: &AlgorithmId, hint: Option<&str>) -> Result<(Scheme, Hash), SigError> {
    let by_hint = || hint.and_then(Hash::from_oid).ok_or_else(|| SigError::Unsupported(alg.oid.clone()));
    Ok(match alg.oid.as_str() {
        "1.2.840.10045.4.1" => (Scheme::Ecdsa, Hash::Sha1),
        "1.2.840.10045.4.3.1" => (Scheme::Ecdsa, Hash::Sha224),
        "1.2.840.10045.4.3.2" => (Scheme::Ecdsa, Hash::Sha256),
        "1.2.840.10045.4.3.3" => (Scheme::Ecdsa, Hash::Sha384),
        "1.2.840.10045.4.3.4" => (Scheme::Ecdsa, Hash::Sha512),
        EC_PUBLIC_KEY => (Scheme::Ecdsa, by_hint()?),
        "1.2.840.113549.1.1.5" => (Scheme::Pkcs1, Hash::Sha1),
        "1.2.840.113549.1.1.14" => (Scheme::Pkcs1, Hash::Sha224),
        "1.2.840.113549.1.1.11" => (Scheme::Pkcs1, Hash::Sha256),
        "1.2.840.113549.1.1.12" => (Scheme::Pkcs1, Hash::Sha384),
        "1.2.840.113549.1.1.13" => (Scheme::Pkcs1, Hash::Sha512),
        RSA_ENCRYPTION => (Scheme::Pkcs1, by_hint()?),
        RSA_PSS => pss_params(&alg.params)?,
        other => return Err(SigError::Unsupported(other.to_owned())),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Ecdsa,
    Pkcs1,
    Pss,
}

/// RSASSA-PSS-params { [0] hashAlgorithm (SHA-1), [1] maskGenAlgorithm (MGF1 with SHA-1),
/// [2] saltLength, [3] trailerField }: the hash, the MGF1 hash must be the same (the salt
/// length is found in the signature).
fn pss_params(params: &[u8]) -> Result<(Scheme, Hash), SigError> {
    let bad = || SigError::Unsupported("RSASSA-PSS with these parameters".into());
    let mut hash = Hash::Sha1;
    let mut mgf_hash = Hash::Sha1;
    if !params.is_empty() && params != [0x05, 0x00] {
        let outer = der_children(params).ok_or_else(bad)?;
        let [(0x30, body)] = outer.as_slice() else { return Err(bad()) };
        for (tag, value) in der_children(body).ok_or_else(bad)? {
            match tag {
                0xa0 => hash = first_oid(value).and_then(|o| Hash::from_oid(&o)).ok_or_else(bad)?,
                0xa1 => {
                    // MaskGenAlgorithm { mgf1, AlgorithmIdentifier of the hash }
                    let (_, inner) = der_children(value).ok_or_else(bad)?.into_iter().next().ok_or_else(bad)?;
                    let parts = der_children(inner).ok_or_else(bad)?;
                    let (_, mgf_oid) = parts.first().ok_or_else(bad)?;
                    if civitas_core::chip::oid_text(mgf_oid).as_deref() != Some("1.2.840.113549.1.1.8") {
                        return Err(bad());
                    }
                    let (_, h) = parts.get(1).ok_or_else(bad)?;
                    let (_, h_oid) = der_children(h).ok_or_else(bad)?.into_iter().next().ok_or_else(bad)?;
                    mgf_hash = civitas_core::chip::oid_text(h_oid).and_then(|o| Hash::from_oid(&o)).ok_or_else(bad)?;
                }
                0xa2 | 0xa3 => {}
                _ => return Err(bad()),
            }
        }
    }
    if hash != mgf_hash {
        return Err(bad());
    }
    Ok((Scheme::Pss, hash))
}

/// The first OID inside `[0] { AlgorithmIdentifier }`.
fn first_oid(explicit: &[u8]) -> Option<String> {
    let (_, alg) = der_children(explicit)?.into_iter().next()?;
    let (_, oid) = der_children(alg)?.into_iter().next()?;
    civitas_core::chip::oid_text(oid)
}

/// The (tag, value) TLVs of `data` (short DER reader for small parameter blocks).
fn der_children(data: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let tag = *data.get(pos)?;
        let first = *data.get(pos + 1)?;
        let (len, head) = match first {
            0..=0x7f => (usize::from(first), 2),
            0x81 => (usize::from(*data.get(pos + 2)?), 3),
            0x82 => ((usize::from(*data.get(pos + 2)?) << 8) | usize::from(*data.get(pos + 3)?), 4),
            _ => return None,
        };
        let value = data.get(pos + head..pos + head + len)?;
        out.push((tag, value));
        pos += head + len;
    }
    Some(out)
}

const CURVES: [(&str, &str, &str, &str, &str, &str); 5] = [
    (
        "p256",
        "1.2.840.10045.3.1.7",
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
        "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc",
        "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
    ),
    (
        "p384",
        "1.3.132.0.34",
        "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
        "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc",
        "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    ),
    (
        "p521",
        "1.3.132.0.35",
        "1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffc",
        "51953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00",
        "1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
    ),
    (
        "brainpoolP256r1",
        "1.3.36.3.3.2.8.1.1.7",
        "a9fb57dba1eea9bc3e660a909d838d726e3bf623d52620282013481d1f6e5377",
        "7d5a0975fc2c3057eef67530417affe7fb8055c126dc5c6ce94a4b44f330b5d9",
        "26dc5c6ce94a4b44f330b5d9bbd77cbf958416295cf7e1ce6bccdc18ff8c07b6",
        "a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7",
    ),
    (
        "brainpoolP384r1",
        "1.3.36.3.3.2.8.1.1.11",
        "8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b412b1da197fb71123acd3a729901d1a71874700133107ec53",
        "7bc382c63d8c150c3c72080ace05afa0c2bea28e4fb22787139165efba91f90f8aa5814a503ad4eb04a8c7dd22ce2826",
        "4a8c7dd22ce28268b39b55416f0447c2fb77de107dcd2a62e880ea53eeb62d57cb4390295dbc9943ab78696fa504c11",
        "8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b31f166e6cac0425a7cf3ab6af6b7fc3103b883202e9046565",
    ),
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The name of an EC key's curve, named or explicit.
pub fn curve_of(key: &SubjectPublicKey) -> Result<&'static str, SigError> {
    if let Some(named) = &key.named_curve {
        return CURVES
            .iter()
            .find(|c| c.1 == named)
            .map(|c| c.0)
            .ok_or_else(|| SigError::Unsupported(format!("the curve {named}")));
    }
    let Some(ExplicitCurve { p, a, b, n }) = &key.explicit else {
        return Err(SigError::BadKey("an EC key without curve parameters".into()));
    };
    let strip = |s: &str| s.trim_start_matches('0').to_owned();
    let (p, a, b, n) = (strip(&hex(p)), strip(&hex(a)), strip(&hex(b)), strip(&hex(n)));
    CURVES
        .iter()
        .find(|c| strip(c.2) == p && strip(c.3) == a && strip(c.4) == b && strip(c.5) == n)
        .map(|c| c.0)
        .ok_or_else(|| SigError::Unsupported("explicit curve parameters of no known curve".into()))
}

macro_rules! ecdsa_check {
    ($curve:ty, $point:expr, $prehash:expr, $sig:expr, $plain:expr) => {{
        use ecdsa::signature::hazmat::PrehashVerifier;
        let key = ecdsa::VerifyingKey::<$curve>::from_sec1_bytes($point)
            .map_err(|_| SigError::BadKey("not a point of its curve".into()))?;
        let sig = if $plain {
            ecdsa::Signature::<$curve>::from_slice($sig)
        } else {
            ecdsa::Signature::<$curve>::from_der($sig)
        }
        .map_err(|_| SigError::Invalid)?;
        // ICAO does not require low-S signatures: either form of a valid signature is accepted.
        key.verify_prehash($prehash, &sig.normalize_s()).map_err(|_| SigError::Invalid)
    }};
}

/// Verifies an ECDSA signature (DER, or plain `r‖s` when `plain`) over a prehash.
pub fn ecdsa_prehash(curve: &str, point: &[u8], prehash: &[u8], sig: &[u8], plain: bool) -> Result<(), SigError> {
    match curve {
        "p256" => ecdsa_check!(p256::NistP256, point, prehash, sig, plain),
        "p384" => ecdsa_check!(p384::NistP384, point, prehash, sig, plain),
        "p521" => ecdsa_check!(p521::NistP521, point, prehash, sig, plain),
        "brainpoolP256r1" => ecdsa_check!(bp256::BrainpoolP256r1, point, prehash, sig, plain),
        "brainpoolP384r1" => ecdsa_check!(bp384::BrainpoolP384r1, point, prehash, sig, plain),
        other => Err(SigError::Unsupported(other.to_owned())),
    }
}

/// An RSA public key from an RSAPublicKey DER (`SEQUENCE { n, e }`), with its size in bits.
pub fn rsa_key(der: &[u8]) -> Result<(rsa::PublicKey, usize), SigError> {
    let bad = |m: &str| SigError::BadKey(m.to_owned());
    let (tag, seq) = der_children(der).and_then(|v| v.into_iter().next()).ok_or_else(|| bad("not an RSAPublicKey"))?;
    let parts = der_children(seq).filter(|_| tag == 0x30).ok_or_else(|| bad("not an RSAPublicKey"))?;
    let [(0x02, n), (0x02, e)] = parts.as_slice() else { return Err(bad("an RSAPublicKey is (n, e)")) };
    let n = &n[n.iter().position(|b| *b != 0).unwrap_or(n.len())..];
    if n.is_empty() {
        return Err(bad("the modulus is zero"));
    }
    let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
    let precision = (n.len() * 8) as u32;
    let n = rsa::BoxedUint::from_be_slice(n, precision).map_err(|_| bad("the modulus"))?;
    let e = rsa::BoxedUint::from_be_slice_vartime(e);
    let key = rsa::PublicKey::new(n, e).map_err(|e| SigError::BadKey(e.to_string()))?;
    Ok((key, bits))
}

/// Verifies `signature` over `message` made with `alg` by `key`; `hint` is the digest algorithm
/// the signer named (for bare `rsaEncryption`). Answers what was used, e.g. `ecdsa-p256-sha256`.
pub fn verify(
    key: &SubjectPublicKey,
    alg: &AlgorithmId,
    hint: Option<&str>,
    message: &[u8],
    signature: &[u8],
    allow: &Allow,
) -> Result<String, SigError> {
    let (scheme, hash) = signature_hash(alg, hint)?;
    if !allow.hashes.iter().any(|h| h == hash.name()) {
        return Err(SigError::NotAllowed(hash.name().to_owned()));
    }
    let prehash = hash.digest(message);
    match (scheme, key.algorithm.as_str()) {
        (Scheme::Ecdsa, EC_PUBLIC_KEY) => {
            let curve = curve_of(key)?;
            if !allow.curves.iter().any(|c| c == curve) {
                return Err(SigError::NotAllowed(curve.to_owned()));
            }
            ecdsa_prehash(curve, &key.key, &prehash, signature, false)?;
            Ok(format!("ecdsa-{curve}-{}", hash.name()))
        }
        (Scheme::Pkcs1 | Scheme::Pss, RSA_ENCRYPTION | RSA_PSS) => {
            let (public, bits) = rsa_key(&key.key)?;
            if bits < allow.min_rsa_bits {
                return Err(SigError::NotAllowed(format!("rsa-{bits}")));
            }
            let result = match (scheme, hash) {
                (Scheme::Pkcs1, Hash::Sha1) => {
                    public.verify(rsa::Pkcs1v15Sign::new::<sha1::Sha1>(), &prehash, signature)
                }
                (Scheme::Pkcs1, Hash::Sha224) => {
                    public.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha224>(), &prehash, signature)
                }
                (Scheme::Pkcs1, Hash::Sha256) => {
                    public.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &prehash, signature)
                }
                (Scheme::Pkcs1, Hash::Sha384) => {
                    public.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha384>(), &prehash, signature)
                }
                (Scheme::Pkcs1, Hash::Sha512) => {
                    public.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha512>(), &prehash, signature)
                }
                (_, Hash::Sha1) => public.verify(pss::<sha1::Sha1>(), &prehash, signature),
                (_, Hash::Sha224) => public.verify(pss::<sha2::Sha224>(), &prehash, signature),
                (_, Hash::Sha256) => public.verify(pss::<sha2::Sha256>(), &prehash, signature),
                (_, Hash::Sha384) => public.verify(pss::<sha2::Sha384>(), &prehash, signature),
                (_, Hash::Sha512) => public.verify(pss::<sha2::Sha512>(), &prehash, signature),
            };
            result.map_err(|_| SigError::Invalid)?;
            let name = if scheme == Scheme::Pss { "rsa-pss" } else { "rsa-pkcs1" };
            Ok(format!("{name}-{bits}-{}", hash.name()))
        }
        (_, k) => Err(SigError::Unsupported(format!("{} with a {k} key", alg.oid))),
    }
}

/// PSS verification that finds the salt length in the signature.
fn pss<D: Digest + sha2::digest::FixedOutputReset>() -> rsa::Pss<D> {
    let mut p = rsa::Pss::<D>::new();
    p.salt_len = None;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_parameters_are_matched_to_their_curve() {
        let unhex = |s: &str| {
            let s = if s.len() % 2 == 1 { format!("0{s}") } else { s.to_owned() };
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
        };
        for c in CURVES {
            let key = SubjectPublicKey {
                algorithm: EC_PUBLIC_KEY.into(),
                named_curve: None,
                explicit: Some(ExplicitCurve { p: unhex(c.2), a: unhex(c.3), b: unhex(c.4), n: unhex(c.5) }),
                key: vec![],
            };
            assert_eq!(curve_of(&key).unwrap(), c.0);
            let named = SubjectPublicKey { named_curve: Some(c.1.into()), explicit: None, ..key.clone() };
            assert_eq!(curve_of(&named).unwrap(), c.0);
        }
        let odd = SubjectPublicKey {
            algorithm: EC_PUBLIC_KEY.into(),
            named_curve: None,
            explicit: Some(ExplicitCurve { p: vec![7], a: vec![1], b: vec![2], n: vec![5] }),
            key: vec![],
        };
        assert!(matches!(curve_of(&odd), Err(SigError::Unsupported(_))));
    }

    #[test]
    fn p256_signatures_verify_and_tampering_fails() {
        use p256::ecdsa::signature::Signer;
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let sig: p256::ecdsa::Signature = sk.sign(b"message");
        let key = SubjectPublicKey {
            algorithm: EC_PUBLIC_KEY.into(),
            named_curve: Some("1.2.840.10045.3.1.7".into()),
            explicit: None,
            key: sk.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
        };
        let alg = AlgorithmId { oid: "1.2.840.10045.4.3.2".into(), params: vec![] };
        let der = sig.to_der();
        assert_eq!(
            verify(&key, &alg, None, b"message", der.as_bytes(), &Allow::default()).unwrap(),
            "ecdsa-p256-sha256"
        );
        assert_eq!(verify(&key, &alg, None, b"messagf", der.as_bytes(), &Allow::default()), Err(SigError::Invalid));
        let sha1 = AlgorithmId { oid: "1.2.840.10045.4.1".into(), params: vec![] };
        assert_eq!(
            verify(&key, &sha1, None, b"message", der.as_bytes(), &Allow::default()),
            Err(SigError::NotAllowed("sha1".into()))
        );
        let none = Allow { curves: vec![], ..Allow::default() };
        assert_eq!(
            verify(&key, &alg, None, b"message", der.as_bytes(), &none),
            Err(SigError::NotAllowed("p256".into()))
        );
    }
}
