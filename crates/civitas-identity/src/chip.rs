//! Passive authentication of a chip's data (CHIP.md's check order), the steps that need no
//! trust store: the SOD read (`malformed`, `not_an_sod`), its Document Signer certificate found
//! (`ds_missing`), the signed attributes (`sod_digest_mismatch`), the signature over their raw
//! bytes (`sod_signature_invalid`; ECDSA P-256 with SHA-256 for now, any other algorithm
//! `algorithm_not_supported`), the data-group hashes (`dg_hash_mismatch`, `dg_missing`,
//! `dg_not_in_sod`). **Not yet**: the DS certificate's chain to a trusted CSCA, its time and
//! revocation (steps 4-6) — a card that passes here is consistent and signed by the key in its
//! own certificate, not yet proven issued by Vietnam's CSCA.

use std::collections::BTreeMap;

use civitas_core::chip::{Sod, SodError, parse_sod, subject_public_key};
use sha2::Digest;

const LDS_OID: &str = "2.23.136.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

/// Why a chip's data is refused, each failure its own code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaFailure {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("not an SOD: {0}")]
    NotAnSod(String),
    #[error("the Document Signer certificate is missing")]
    DsMissing,
    #[error("the signed attributes do not match the signed content")]
    SodDigestMismatch,
    #[error("the SOD's signature does not verify")]
    SodSignatureInvalid,
    #[error("the algorithm {0} is not supported")]
    AlgorithmNotSupported(String),
    #[error("data group {0} does not match its hash in the SOD")]
    DgHashMismatch(u8),
    #[error("data group {0} is required")]
    DgMissing(u8),
    #[error("data group {0} is not listed in the SOD")]
    DgNotInSod(u8),
}

impl PaFailure {
    /// The failure's code (as the API and the CLI name it).
    pub fn code(&self) -> &'static str {
        match self {
            PaFailure::Malformed(_) => "malformed",
            PaFailure::NotAnSod(_) => "not_an_sod",
            PaFailure::DsMissing => "ds_missing",
            PaFailure::SodDigestMismatch => "sod_digest_mismatch",
            PaFailure::SodSignatureInvalid => "sod_signature_invalid",
            PaFailure::AlgorithmNotSupported(_) => "algorithm_not_supported",
            PaFailure::DgHashMismatch(_) => "dg_hash_mismatch",
            PaFailure::DgMissing(_) => "dg_missing",
            PaFailure::DgNotInSod(_) => "dg_not_in_sod",
        }
    }
}

fn hash(algorithm: &str, data: &[u8]) -> Result<Vec<u8>, PaFailure> {
    Ok(match algorithm {
        "2.16.840.1.101.3.4.2.1" => sha2::Sha256::digest(data).to_vec(),
        "2.16.840.1.101.3.4.2.2" => sha2::Sha384::digest(data).to_vec(),
        "2.16.840.1.101.3.4.2.3" => sha2::Sha512::digest(data).to_vec(),
        other => return Err(PaFailure::AlgorithmNotSupported(other.to_owned())),
    })
}

/// What passed, in order (for the answer's `checks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    pub sod: Sod,
    pub checks: Vec<&'static str>,
}

/// Checks an EF.SOD and the data groups read (`number → the whole file as read`) in CHIP.md's
/// order, with the Document Signer certificate `ds` (DER; else the first certificate the SOD
/// carries). DG1 and DG13 are required, DG15 too when the SOD lists it.
pub fn passive_check(sod_bytes: &[u8], ds: Option<&[u8]>, dgs: &BTreeMap<u8, Vec<u8>>) -> Result<Passed, PaFailure> {
    let sod = parse_sod(sod_bytes).map_err(|e| match e {
        SodError::Malformed(m) => PaFailure::Malformed(m),
        SodError::NotAnSod(t) => PaFailure::NotAnSod(t),
    })?;
    let mut checks = vec!["sod_structure"];
    let cert = ds.or(sod.certificates.first().map(Vec::as_slice)).ok_or(PaFailure::DsMissing)?;
    let key = subject_public_key(cert).map_err(|e| PaFailure::Malformed(format!("the DS certificate: {e}")))?;
    checks.push("ds_found");
    // Signed attributes: the content type and the digest of the signed content.
    if sod.content_type.as_deref() != Some(LDS_OID)
        || sod.message_digest.as_deref() != Some(hash(&sod.signer_digest_algorithm, &sod.econtent)?.as_slice())
    {
        return Err(PaFailure::SodDigestMismatch);
    }
    checks.push("signed_attributes");
    // The signature over the signed attributes' raw bytes.
    let supported = sod.signature_algorithm == ECDSA_SHA256
        && key.algorithm == EC_PUBLIC_KEY
        && key.named_curve.as_deref() == Some(P256);
    if !supported {
        return Err(PaFailure::AlgorithmNotSupported(format!(
            "{} with a {} key{}",
            sod.signature_algorithm,
            key.algorithm,
            key.named_curve.as_deref().map(|c| format!(" on {c}")).unwrap_or_default()
        )));
    }
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.key)
        .map_err(|_| PaFailure::Malformed("the DS key is not a P-256 point".into()))?;
    let signature = p256::ecdsa::Signature::from_der(&sod.signature).map_err(|_| PaFailure::SodSignatureInvalid)?;
    // ICAO does not require low-S signatures: either form of a valid signature is accepted.
    let signature = signature.normalize_s();
    use p256::ecdsa::signature::Verifier;
    verifying.verify(&sod.signed_attributes, &signature).map_err(|_| PaFailure::SodSignatureInvalid)?;
    checks.push("sod_signature");
    // Every data group received hashes to its listed value; the required ones are there.
    for (n, bytes) in dgs {
        let listed = sod.lds.hashes.iter().find(|(m, _)| m == n).ok_or(PaFailure::DgNotInSod(*n))?;
        if hash(&sod.lds.hash_algorithm, bytes)? != listed.1 {
            return Err(PaFailure::DgHashMismatch(*n));
        }
    }
    let lists_dg15 = sod.lds.hashes.iter().any(|(m, _)| *m == 15);
    for required in [1u8, 13].into_iter().chain(lists_dg15.then_some(15)) {
        if !dgs.contains_key(&required) {
            return Err(PaFailure::DgMissing(required));
        }
    }
    checks.push("data_groups");
    Ok(Passed { sod, checks })
}
