//! Passive authentication of a chip's data in CHIP.md's check order, each failure its own code:
//! the SOD read (`malformed`, `not_an_sod`), its Document Signer certificate found (`ds_missing`),
//! the DS issued by a CSCA of the operator's trust store (`ds_untrusted`), in time and not
//! revoked (`ds_expired`, `ds_revoked`), the signed attributes (`sod_digest_mismatch`), the
//! signature over their raw bytes (`sod_signature_invalid`), the data-group hashes
//! (`dg_hash_mismatch`, `dg_missing`, `dg_not_in_sod`), and the cross-checks between DG1, DG13
//! and the calendar (`inconsistent`, `document_expired`). Algorithms outside the configured
//! allow-list are `algorithm_not_allowed`; unknown ones `algorithm_not_supported`.
//!
//! Passive authentication proves the data was issued; it does not prove the chip was there —
//! that is [`aa`] (Active Authentication on a fresh challenge).

use std::collections::BTreeMap;

use civitas_core::chip::{
    Certificate, Dg13, SignerId, Sod, SodError, parse_certificate, parse_dg1, parse_dg13, parse_sod,
};
use civitas_core::mrz::Td1;
use serde::Serialize;
use time::OffsetDateTime;

pub mod aa;
pub mod sig;
pub mod sim;
pub mod trust;
pub mod verdict;

pub use sig::{Allow, Hash, SigError};
pub use trust::{Anchor, TrustStore};

const LDS_OID: &str = "2.23.136.1.1.1";

/// Why a chip's data is refused, each failure its own code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaFailure {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("not an SOD: {0}")]
    NotAnSod(String),
    #[error("the Document Signer certificate is missing")]
    DsMissing,
    #[error("the Document Signer is not trusted: {0}")]
    DsUntrusted(String),
    #[error("the Document Signer was not valid when the card was signed: {0}")]
    DsExpired(String),
    #[error("the Document Signer certificate is revoked by its CSCA's CRL")]
    DsRevoked,
    #[error("the signed attributes do not match the signed content")]
    SodDigestMismatch,
    #[error("the SOD's signature does not verify")]
    SodSignatureInvalid,
    #[error("the algorithm {0} is not supported")]
    AlgorithmNotSupported(String),
    #[error("the algorithm {0} is not allowed by this installation's policy")]
    AlgorithmNotAllowed(String),
    #[error("data group {0} does not match its hash in the SOD")]
    DgHashMismatch(u8),
    #[error("data group {0} is required")]
    DgMissing(u8),
    #[error("data group {0} is not listed in the SOD")]
    DgNotInSod(u8),
    #[error("the card's data disagree: {0}")]
    Inconsistent(String),
    #[error("the card expired on {0}")]
    DocumentExpired(String),
}

impl PaFailure {
    /// The failure's code (as the API and the CLI name it).
    pub fn code(&self) -> &'static str {
        match self {
            PaFailure::Malformed(_) => "malformed",
            PaFailure::NotAnSod(_) => "not_an_sod",
            PaFailure::DsMissing => "ds_missing",
            PaFailure::DsUntrusted(_) => "ds_untrusted",
            PaFailure::DsExpired(_) => "ds_expired",
            PaFailure::DsRevoked => "ds_revoked",
            PaFailure::SodDigestMismatch => "sod_digest_mismatch",
            PaFailure::SodSignatureInvalid => "sod_signature_invalid",
            PaFailure::AlgorithmNotSupported(_) => "algorithm_not_supported",
            PaFailure::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            PaFailure::DgHashMismatch(_) => "dg_hash_mismatch",
            PaFailure::DgMissing(_) => "dg_missing",
            PaFailure::DgNotInSod(_) => "dg_not_in_sod",
            PaFailure::Inconsistent(_) => "inconsistent",
            PaFailure::DocumentExpired(_) => "document_expired",
        }
    }
}

fn hash_of(oid: &str) -> Result<Hash, PaFailure> {
    Hash::from_oid(oid).ok_or_else(|| PaFailure::AlgorithmNotSupported(oid.to_owned()))
}

fn allowed_hash(hash: Hash, allow: &Allow) -> Result<Hash, PaFailure> {
    if allow.hashes.iter().any(|h| h == hash.name()) {
        Ok(hash)
    } else {
        Err(PaFailure::AlgorithmNotAllowed(hash.name().to_owned()))
    }
}

/// The state of the DS's CSCA's revocation list when the card was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrlStatus {
    /// The CSCA's newest CRL is current and does not list the DS.
    Current,
    /// The newest CRL is past its next update (the DS is not on it).
    Stale,
    /// No CRL of this CSCA was imported.
    None,
}

/// What passed, in order (for the answer's `checks`), and what was read.
#[derive(Debug, Clone)]
pub struct Passed {
    pub sod: Sod,
    pub checks: Vec<&'static str>,
    /// The CSCA that issued the DS (its id and subject).
    pub csca: (String, String),
    pub ds_subject: String,
    /// Which signature algorithms were verified (the DS's, the SOD's).
    pub algorithms: Vec<String>,
    pub crl: CrlStatus,
    pub td1: Td1,
    pub dg13: Dg13,
}

/// What passive authentication is given: the SOD and the data groups read
/// (`number → the whole file as read`).
pub struct Chip<'a> {
    pub sod: &'a [u8],
    pub dgs: &'a BTreeMap<u8, Vec<u8>>,
}

fn sig_failure(e: SigError, invalid: PaFailure) -> PaFailure {
    match e {
        SigError::Unsupported(a) => PaFailure::AlgorithmNotSupported(a),
        SigError::NotAllowed(a) => PaFailure::AlgorithmNotAllowed(a),
        SigError::BadKey(m) => PaFailure::Malformed(format!("a key: {m}")),
        SigError::Invalid => invalid,
    }
}

/// The Document Signer: the SOD's certificate its SignerInfo names — by issuer and serial
/// exactly; by subject key identifier, or the first certificate when none carries one (older
/// documents). A SignerInfo naming a certificate that is not there is `ds_missing`.
fn document_signer(sod: &Sod) -> Result<Certificate, PaFailure> {
    let certs: Vec<Certificate> = sod.signed.certificates.iter().filter_map(|c| parse_certificate(c).ok()).collect();
    let named = certs.iter().find(|c| match &sod.signed.signer {
        SignerId::IssuerSerial(issuer, serial) => &c.issuer == issuer && &c.serial == serial,
        SignerId::SubjectKeyId(id) => c.subject_key_id.as_ref() == Some(id),
    });
    let fallback = match &sod.signed.signer {
        SignerId::SubjectKeyId(_) if certs.iter().all(|c| c.subject_key_id.is_none()) => certs.first(),
        _ => None,
    };
    named.or(fallback).cloned().ok_or(PaFailure::DsMissing)
}

/// Checks a chip's data in CHIP.md's order against `trust` and `allow`, at `now`.
pub fn passive_check(
    chip: &Chip<'_>,
    trust: &TrustStore,
    allow: &Allow,
    now: OffsetDateTime,
) -> Result<Passed, PaFailure> {
    let sod = parse_sod(chip.sod).map_err(|e| match e {
        SodError::NotAnSod(t) => PaFailure::NotAnSod(t),
        SodError::Malformed(m) => PaFailure::Malformed(m),
        other => PaFailure::Malformed(other.to_string()),
    })?;
    let mut checks = vec!["sod_structure"];
    let ds = document_signer(&sod)?;
    checks.push("ds_found");
    // 5. issued by a trusted CSCA, a signer's certificate.
    let (anchor, ds_alg) = trust.issuer_of_ds(&ds, allow).map_err(PaFailure::DsUntrusted)?;
    if ds.ca == Some(true) {
        return Err(PaFailure::DsUntrusted("a CA certificate does not sign documents".into()));
    }
    if ds.key_usage.is_some_and(|u| u & civitas_core::chip::KEY_USAGE_DIGITAL_SIGNATURE == 0) {
        return Err(PaFailure::DsUntrusted("its key usage lacks digitalSignature".into()));
    }
    if let Some(ext) = ds.unknown_critical.first() {
        return Err(PaFailure::DsUntrusted(format!("an unknown critical extension {ext}")));
    }
    checks.push("ds_trusted");
    // 6. in time when the card was signed (signingTime, else the card's issue date, else now),
    // and not revoked.
    let dg13 = chip.dgs.get(&13).and_then(|d| parse_dg13(d).ok());
    let issued = dg13.as_ref().and_then(|d| d.text(11)).and_then(|t| civitas_core::PartialDate::parse_vn(t).ok());
    let signed_at = sod
        .signed
        .signing_time
        .or_else(|| issued.and_then(|d| d.to_date()).map(|d| d.midnight().assume_utc()))
        .unwrap_or(now);
    let day = |t: OffsetDateTime| t.date().to_string();
    if signed_at < ds.not_before || signed_at > ds.not_after {
        return Err(PaFailure::DsExpired(format!(
            "signed on {}, the DS is valid {} to {}",
            day(signed_at),
            day(ds.not_before),
            day(ds.not_after)
        )));
    }
    if let Some((from, to)) = ds.private_key_usage
        && (from.is_some_and(|f| signed_at < f) || to.is_some_and(|t| signed_at > t))
    {
        return Err(PaFailure::DsExpired(format!("signed on {}, outside the DS key's usage period", day(signed_at))));
    }
    if signed_at < anchor.cert.not_before || signed_at > anchor.cert.not_after {
        return Err(PaFailure::DsExpired(format!("signed on {}, outside its CSCA's validity", day(signed_at))));
    }
    let crl = match trust.crl_of(&anchor.id) {
        Some(list) if list.revoked.contains(&ds.serial) => return Err(PaFailure::DsRevoked),
        Some(list) if list.next_update.is_some_and(|n| n < now) => CrlStatus::Stale,
        Some(_) => CrlStatus::Current,
        None => CrlStatus::None,
    };
    checks.push("ds_time_and_revocation");
    // 7. the signed attributes: the content type and the digest of the signed content.
    let digest = allowed_hash(hash_of(&sod.signed.signer_digest_algorithm)?, allow)?;
    if sod.signed.content_type.as_deref() != Some(LDS_OID)
        || sod.signed.message_digest.as_deref() != Some(digest.digest(&sod.signed.econtent).as_slice())
    {
        return Err(PaFailure::SodDigestMismatch);
    }
    checks.push("signed_attributes");
    // 8. the signature over the signed attributes' raw bytes.
    let sod_alg = sig::verify(
        &ds.key,
        &sod.signed.signature_algorithm,
        Some(&sod.signed.signer_digest_algorithm),
        &sod.signed.signed_attributes,
        &sod.signed.signature,
        allow,
    )
    .map_err(|e| sig_failure(e, PaFailure::SodSignatureInvalid))?;
    checks.push("sod_signature");
    // 9-10. every data group received hashes to its listed value; the required ones are there.
    let dg_hash = allowed_hash(hash_of(&sod.lds.hash_algorithm)?, allow)?;
    for (n, bytes) in chip.dgs {
        let listed = sod.lds.hashes.iter().find(|(m, _)| m == n).ok_or(PaFailure::DgNotInSod(*n))?;
        if dg_hash.digest(bytes) != listed.1 {
            return Err(PaFailure::DgHashMismatch(*n));
        }
    }
    let lists_dg15 = sod.lds.hashes.iter().any(|(m, _)| *m == 15);
    for required in [1u8, 13].into_iter().chain(lists_dg15.then_some(15)) {
        if !chip.dgs.contains_key(&required) {
            return Err(PaFailure::DgMissing(required));
        }
    }
    checks.push("data_groups");
    // 11. DG1 and DG13 agree with each other and the card is in date.
    let (td1, dg13) = cross_check(chip.dgs, now)?;
    checks.push("consistent");
    Ok(Passed {
        csca: (anchor.id.clone(), civitas_core::chip::name_text(&anchor.cert.subject)),
        ds_subject: civitas_core::chip::name_text(&ds.subject),
        algorithms: vec![ds_alg, sod_alg],
        crl,
        sod,
        checks,
        td1,
        dg13,
    })
}

/// Whether DG13's full name is the MRZ's: folded word for word, or — a long name cut to the
/// MRZ's 30 characters — written as the MRZ writes it (family name, `<<`, the other names).
fn same_name(name: &str, td1: &Td1) -> bool {
    let fold = |s: &str| civitas_core::text::fold(s).replace(|c: char| !c.is_ascii_alphanumeric(), " ");
    let words = |s: String| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>().join(" ");
    if words(fold(name)) == words(fold(&format!("{} {}", td1.surname, td1.given_names))) {
        return true;
    }
    let folded = words(fold(name));
    let (family, given) = folded.split_once(' ').unwrap_or((folded.as_str(), ""));
    let as_written = Td1 { surname: family.to_owned(), given_names: given.to_owned(), ..td1.clone() };
    as_written.to_lines()[2] == td1.to_lines()[2]
}

/// DG1's MRZ (check digits) against DG13: document number = the ID's last nine digits, name,
/// birth date and sex (compared folded: the MRZ has no diacritics); the card not expired.
pub fn cross_check(dgs: &BTreeMap<u8, Vec<u8>>, now: OffsetDateTime) -> Result<(Td1, Dg13), PaFailure> {
    let empty = Vec::new();
    let td1 = parse_dg1(dgs.get(&1).unwrap_or(&empty)).map_err(|e| match e {
        civitas_core::chip::ChipError::Mrz(m) => PaFailure::Inconsistent(format!("DG1's MRZ: {m}")),
        other => PaFailure::Malformed(format!("DG1: {other}")),
    })?;
    let dg13 = parse_dg13(dgs.get(&13).unwrap_or(&empty)).map_err(|e| PaFailure::Malformed(format!("DG13: {e}")))?;
    let bad = |m: &str| Err(PaFailure::Inconsistent(m.to_owned()));
    if dg13.pid().as_ref() != Some(&td1.pid) {
        return bad("DG1's document number is not the last nine digits of DG13's ID number");
    }
    if let Some(name) = dg13.full_name()
        && !same_name(name, &td1)
    {
        return bad("the names in DG1 and DG13 differ");
    }
    if let Some(birth) = dg13.birth_date() {
        let yy = format!("{:02}", birth.year() % 100);
        let mm = birth.month().map(|m| format!("{m:02}"));
        let dd = birth.day().map(|d| format!("{d:02}"));
        let m = &td1.birth;
        if m.get(0..2) != Some(yy.as_str())
            || mm.as_deref().is_some_and(|mm| m.get(2..4) != Some(mm))
            || dd.as_deref().is_some_and(|dd| m.get(4..6) != Some(dd))
        {
            return bad("the birth dates in DG1 and DG13 differ");
        }
    }
    if let (Some(a), Some(b)) = (dg13.sex(), td1.sex)
        && a != b
    {
        return bad("the sexes in DG1 and DG13 differ");
    }
    let today = (now + time::Duration::hours(7)).date();
    let expiry = dg13.text(12).and_then(|t| civitas_core::PartialDate::parse_vn(t).ok()).and_then(|d| d.to_date());
    if let Some(expiry) = expiry
        && expiry < today
    {
        return Err(PaFailure::DocumentExpired(expiry.to_string()));
    }
    Ok((td1, dg13))
}

#[cfg(test)]
mod tests;
