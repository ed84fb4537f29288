//! EF.SOD (ICAO 9303-10 §4.6.2; RFC 5652) and CSCA master lists read down to what passive
//! authentication and the trust store check.

use super::cert::AlgorithmId;
use super::{ChipError, Tlv, children, expect, read_tlv, small_int, whole, whole_within};

/// A CMS SignedData (RFC 5652) as read (no signature is checked here): the signed content and
/// its type, the signer's algorithms, the **raw bytes** of the signed attributes (re-tagged `31`
/// for the signature check, never re-encoded), the signature, the certificates shipped in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedData {
    /// OIDs in dotted form.
    pub digest_algorithms: Vec<String>,
    pub econtent_type: String,
    /// The signed content's octets (their hash is the `messageDigest` signed attribute).
    pub econtent: Vec<u8>,
    /// Each certificate's DER (the Document Signer, or a master list's signer, is usually here).
    pub certificates: Vec<Vec<u8>>,
    pub signer: SignerId,
    pub signer_digest_algorithm: String,
    pub signature_algorithm: AlgorithmId,
    /// The signed attributes exactly as they were signed: the `[0]` element with its first byte
    /// changed to `31` (a SET OF).
    pub signed_attributes: Vec<u8>,
    /// The values of the `contentType`, `messageDigest` and `signingTime` signed attributes.
    pub content_type: Option<String>,
    pub message_digest: Option<Vec<u8>>,
    pub signing_time: Option<time::OffsetDateTime>,
    pub signature: Vec<u8>,
}

/// How a SignerInfo names its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerId {
    /// The issuer Name's DER and the serial's magnitude.
    IssuerSerial(Vec<u8>, Vec<u8>),
    SubjectKeyId(Vec<u8>),
}

/// An EF.SOD: its SignedData and the LDSSecurityObject it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sod {
    pub signed: SignedData,
    pub lds: LdsSecurityObject,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdsSecurityObject {
    pub version: u32,
    pub hash_algorithm: String,
    /// (data group number, hash), in the order listed.
    pub hashes: Vec<(u8, Vec<u8>)>,
}

/// Why an EF.SOD is refused (the first two failures of passive authentication's check order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SodError {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("not an SOD: the signed content is {0}, not an LDSSecurityObject (2.23.136.1.1.1)")]
    NotAnSod(String),
    #[error("the signed content is {0}, not a CSCA master list (2.23.136.1.1.2)")]
    NotAMasterList(String),
}

impl From<ChipError> for SodError {
    fn from(e: ChipError) -> Self {
        SodError::Malformed(e.to_string())
    }
}

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_LDS_SECURITY_OBJECT: &str = "2.23.136.1.1.1";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
const OID_MASTER_LIST: &str = "2.23.136.1.1.2";

/// The dotted form of an OID's content bytes.
pub fn oid_text(bytes: &[u8]) -> Option<String> {
    let (&first, rest) = bytes.split_first()?;
    let mut parts = vec![u64::from(first / 40).min(2), u64::from(first) - 40 * u64::from(first / 40).min(2)];
    let mut v: u64 = 0;
    for (i, b) in rest.iter().enumerate() {
        if v > (u64::MAX >> 8) {
            return None;
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            parts.push(v);
            v = 0;
        } else if i == rest.len() - 1 {
            return None;
        }
    }
    Some(parts.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
}

pub(super) fn malformed(what: impl Into<String>) -> SodError {
    SodError::Malformed(what.into())
}

pub(super) fn oid_of(t: &Tlv<'_>) -> Result<String, SodError> {
    if t.tag != 0x06 {
        return Err(malformed(format!("an OID was expected at byte {}", t.at)));
    }
    oid_text(t.value).ok_or_else(|| malformed(format!("a bad OID at byte {}", t.at)))
}

/// The algorithm OID of an AlgorithmIdentifier.
fn algorithm(t: &Tlv<'_>) -> Result<String, SodError> {
    Ok(algorithm_id(t)?.oid)
}

/// An AlgorithmIdentifier with its parameters' DER.
pub(super) fn algorithm_id(t: &Tlv<'_>) -> Result<AlgorithmId, SodError> {
    expect(t, 0x30)?;
    let parts = children(t.value, t.vstart)?;
    let oid = oid_of(parts.first().ok_or_else(|| malformed("an empty AlgorithmIdentifier"))?)?;
    let params = match t.value.get(parts[0].vstart - t.vstart + parts[0].value.len()..) {
        Some(rest) => rest.to_vec(),
        None => Vec::new(),
    };
    Ok(AlgorithmId { oid, params })
}

/// Reads an EF.SOD down to what passive authentication checks.
pub fn parse_sod(data: &[u8]) -> Result<Sod, SodError> {
    let outer = whole(data, 0x77)?;
    let content_info = children(outer.value, outer.vstart)?;
    let [ci] = content_info.as_slice() else { return Err(malformed("EF.SOD holds more than one ContentInfo")) };
    let signed = signed_data(data, ci)?;
    if signed.econtent_type != OID_LDS_SECURITY_OBJECT {
        return Err(SodError::NotAnSod(signed.econtent_type));
    }
    let lds = parse_lds(&signed.econtent)?;
    Ok(Sod { signed, lds })
}

/// Reads an ICAO CSCA master list (a ContentInfo holding SignedData whose content is
/// `SEQUENCE { version 0, SET OF Certificate }`): the SignedData and each listed certificate's DER.
pub fn parse_master_list(data: &[u8]) -> Result<(SignedData, Vec<Vec<u8>>), SodError> {
    let ci = whole_within(data, 0x30, super::cert::MAX_CERT_BYTES * 16)?;
    let signed = signed_data(data, &ci)?;
    if signed.econtent_type != OID_MASTER_LIST {
        return Err(SodError::NotAMasterList(signed.econtent_type));
    }
    let list = whole_within(&signed.econtent, 0x30, signed.econtent.len())?;
    let parts = children(list.value, list.vstart)?;
    let [version, set] = parts.as_slice() else {
        return Err(malformed("a master list is not (version, certificates)"));
    };
    if small_int(version, 0)? != 0 {
        return Err(malformed("master list version is not 0"));
    }
    expect(set, 0x31)?;
    let mut certs = Vec::new();
    let mut pos = 0;
    while pos < set.value.len() {
        let (_, end) = read_tlv(set.value, pos, set.vstart)?;
        certs.push(set.value[pos..end].to_vec());
        pos = end;
    }
    Ok((signed, certs))
}

/// A ContentInfo holding SignedData (`data` is the whole input `ci` is in, for raw bytes).
fn signed_data(data: &[u8], ci: &Tlv<'_>) -> Result<SignedData, SodError> {
    expect(ci, 0x30)?;
    let ci_parts = children(ci.value, ci.vstart)?;
    let [ct, explicit] = ci_parts.as_slice() else { return Err(malformed("ContentInfo is not (type, [0] content)")) };
    if oid_of(ct)? != OID_SIGNED_DATA {
        return Err(malformed("the ContentInfo is not SignedData"));
    }
    expect(explicit, 0xa0)?;
    let sd = children(explicit.value, explicit.vstart)?;
    let [sd] = sd.as_slice() else { return Err(malformed("[0] holds more than SignedData")) };
    expect(sd, 0x30)?;
    let parts = children(sd.value, sd.vstart)?;
    let mut it = parts.iter();
    let version = small_int(it.next().ok_or_else(|| malformed("SignedData is empty"))?, 0)?;
    if version != 3 {
        return Err(malformed(format!("SignedData version {version}, not 3")));
    }
    let digests = it.next().ok_or_else(|| malformed("no digestAlgorithms"))?;
    expect(digests, 0x31)?;
    let digest_algorithms =
        children(digests.value, digests.vstart)?.iter().map(algorithm).collect::<Result<Vec<_>, _>>()?;
    let encap = it.next().ok_or_else(|| malformed("no encapContentInfo"))?;
    expect(encap, 0x30)?;
    let encap_parts = children(encap.value, encap.vstart)?;
    let econtent_type = oid_of(encap_parts.first().ok_or_else(|| malformed("an empty encapContentInfo"))?)?;
    let wrapped = encap_parts.get(1).ok_or_else(|| malformed("no eContent"))?;
    expect(wrapped, 0xa0)?;
    let octets = children(wrapped.value, wrapped.vstart)?;
    let octets = octets.first().ok_or_else(|| malformed("an empty eContent"))?;
    expect(octets, 0x04)?;
    let econtent = octets.value.to_vec();
    let mut certificates = Vec::new();
    let mut next = it.next().ok_or_else(|| malformed("no signerInfos"))?;
    if next.tag == 0xa0 {
        let mut pos = 0;
        while pos < next.value.len() {
            let (_, end) = read_tlv(next.value, pos, next.vstart)?;
            certificates.push(next.value[pos..end].to_vec());
            pos = end;
        }
        next = it.next().ok_or_else(|| malformed("no signerInfos"))?;
    }
    if next.tag == 0xa1 {
        next = it.next().ok_or_else(|| malformed("no signerInfos"))?;
    }
    expect(next, 0x31)?;
    let signers = children(next.value, next.vstart)?;
    let [signer] = signers.as_slice() else {
        return Err(malformed(format!("{} SignerInfos; exactly one is expected", signers.len())));
    };
    expect(signer, 0x30)?;
    let sp = children(signer.value, signer.vstart)?;
    // version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature
    let [_version, sid, digest, attrs, sig_alg, sig, ..] = sp.as_slice() else {
        return Err(malformed("SignerInfo lacks signed attributes, algorithms or signature"));
    };
    let signer = match sid.tag {
        0x30 => {
            let p = children(sid.value, sid.vstart)?;
            let [issuer, serial] = p.as_slice() else { return Err(malformed("sid is not (issuer, serial)")) };
            let raw = data
                .get(issuer.at..issuer.vstart + issuer.value.len())
                .ok_or_else(|| malformed("the issuer's offsets"))?;
            SignerId::IssuerSerial(raw.to_vec(), super::cert::magnitude(serial)?)
        }
        0x80 => SignerId::SubjectKeyId(sid.value.to_vec()),
        _ => return Err(malformed("an unknown SignerIdentifier")),
    };
    let signer_digest_algorithm = algorithm(digest)?;
    if !digest_algorithms.contains(&signer_digest_algorithm) {
        return Err(malformed("the signer's digest algorithm is not among SignedData's"));
    }
    expect(attrs, 0xa0)?;
    // The raw bytes of [0], re-tagged as a SET OF: exactly what was signed.
    let mut signed_attributes = data
        .get(attrs.at..attrs.vstart + attrs.value.len())
        .ok_or_else(|| malformed("the signed attributes' offsets"))?
        .to_vec();
    if let Some(tag) = signed_attributes.first_mut() {
        *tag = 0x31;
    }
    let mut content_type = None;
    let mut message_digest = None;
    let mut signing_time = None;
    for attr in children(attrs.value, attrs.vstart)? {
        expect(&attr, 0x30)?;
        let a = children(attr.value, attr.vstart)?;
        let [kind, values] = a.as_slice() else { return Err(malformed("a signed attribute is not (type, values)")) };
        expect(values, 0x31)?;
        let values = children(values.value, values.vstart)?;
        let [value] = values.as_slice() else { return Err(malformed("a signed attribute is not single-valued")) };
        match oid_of(kind)?.as_str() {
            OID_CONTENT_TYPE if content_type.is_none() => content_type = Some(oid_of(value)?),
            OID_MESSAGE_DIGEST if message_digest.is_none() => {
                expect(value, 0x04)?;
                message_digest = Some(value.value.to_vec());
            }
            OID_SIGNING_TIME if signing_time.is_none() => signing_time = Some(super::cert::read_time(value)?),
            OID_CONTENT_TYPE | OID_MESSAGE_DIGEST | OID_SIGNING_TIME => {
                return Err(malformed("a signed attribute appears twice"));
            }
            _ => {}
        }
    }
    let signature_algorithm = algorithm_id(sig_alg)?;
    expect(sig, 0x04)?;
    Ok(SignedData {
        digest_algorithms,
        econtent_type,
        econtent,
        certificates,
        signer,
        signer_digest_algorithm,
        signature_algorithm,
        signed_attributes,
        content_type,
        message_digest,
        signing_time,
        signature: sig.value.to_vec(),
    })
}

/// An LDSSecurityObject: version 0 or 1, the hash algorithm, data-group numbers 1-16 each once.
pub fn parse_lds(data: &[u8]) -> Result<LdsSecurityObject, SodError> {
    let outer = whole(data, 0x30)?;
    let parts = children(outer.value, outer.vstart)?;
    let (Some(version), Some(alg), Some(list)) = (parts.first(), parts.get(1), parts.get(2)) else {
        return Err(malformed("the LDSSecurityObject lacks version, algorithm or hashes"));
    };
    let version = small_int(version, 0)?;
    if version > 1 {
        return Err(malformed(format!("LDSSecurityObject version {version}")));
    }
    let hash_algorithm = algorithm(alg)?;
    expect(list, 0x30)?;
    let mut hashes: Vec<(u8, Vec<u8>)> = Vec::new();
    for entry in children(list.value, list.vstart)? {
        expect(&entry, 0x30)?;
        let e = children(entry.value, entry.vstart)?;
        let [n, h] = e.as_slice() else { return Err(malformed("a data-group hash is not (number, hash)")) };
        let n = small_int(n, 0)?;
        if !(1..=16).contains(&n) {
            return Err(malformed(format!("data group number {n}")));
        }
        expect(h, 0x04)?;
        if hashes.iter().any(|(m, _)| u32::from(*m) == n) {
            return Err(malformed(format!("data group {n} is listed twice")));
        }
        hashes.push((n as u8, h.value.to_vec()));
    }
    Ok(LdsSecurityObject { version, hash_algorithm, hashes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip::tlv_bytes;
    use proptest::prelude::*;

    fn oid(dotted: &str) -> Vec<u8> {
        crate::chip::oid_der(dotted)
    }
    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv_bytes(0x30, &parts.concat())
    }
    fn alg(dotted: &str) -> Vec<u8> {
        seq(&[oid(dotted)])
    }

    const SHA256: &str = "2.16.840.1.101.3.4.2.1";

    fn lds() -> Vec<u8> {
        seq(&[
            tlv_bytes(0x02, &[0]),
            alg(SHA256),
            seq(&[
                seq(&[tlv_bytes(0x02, &[1]), tlv_bytes(0x04, &[0x11; 32])]),
                seq(&[tlv_bytes(0x02, &[13]), tlv_bytes(0x04, &[0x22; 32])]),
            ]),
        ])
    }

    fn sod_with(econtent_type: &str, econtent: &[u8]) -> Vec<u8> {
        let attrs = [
            seq(&[oid(OID_CONTENT_TYPE), tlv_bytes(0x31, &oid(econtent_type))]),
            seq(&[oid(OID_MESSAGE_DIGEST), tlv_bytes(0x31, &tlv_bytes(0x04, &[0x33; 32]))]),
        ]
        .concat();
        let signer = seq(&[
            tlv_bytes(0x02, &[1]),
            seq(&[seq(&[]), tlv_bytes(0x02, &[5])]),
            alg(SHA256),
            tlv_bytes(0xa0, &attrs),
            alg("1.2.840.10045.4.3.2"),
            tlv_bytes(0x04, &[0x44; 64]),
        ]);
        let signed_data = seq(&[
            tlv_bytes(0x02, &[3]),
            tlv_bytes(0x31, &alg(SHA256)),
            seq(&[oid(econtent_type), tlv_bytes(0xa0, &tlv_bytes(0x04, econtent))]),
            tlv_bytes(0xa0, &seq(&[tlv_bytes(0x02, &[7])])),
            tlv_bytes(0x31, &signer),
        ]);
        tlv_bytes(0x77, &seq(&[oid(OID_SIGNED_DATA), tlv_bytes(0xa0, &signed_data)]))
    }

    #[test]
    fn an_sod_is_read_down_to_its_hashes_and_signed_attributes() {
        let sod = parse_sod(&sod_with(OID_LDS_SECURITY_OBJECT, &lds())).unwrap();
        assert_eq!(sod.lds.hash_algorithm, SHA256);
        assert_eq!(sod.lds.hashes, vec![(1, vec![0x11; 32]), (13, vec![0x22; 32])]);
        assert_eq!(sod.signed.econtent, lds());
        assert_eq!(sod.signed.signature_algorithm.oid, "1.2.840.10045.4.3.2");
        assert_eq!(sod.signed.content_type.as_deref(), Some(OID_LDS_SECURITY_OBJECT));
        assert_eq!(sod.signed.message_digest, Some(vec![0x33; 32]));
        assert_eq!(sod.signed.certificates.len(), 1);
        assert_eq!(sod.signed.signed_attributes[0], 0x31, "re-tagged as a SET OF, bytes otherwise as signed");
        let raw = sod_with(OID_LDS_SECURITY_OBJECT, &lds());
        let found = raw
            .windows(sod.signed.signed_attributes.len())
            .any(|w| w[0] == 0xa0 && w[1..] == sod.signed.signed_attributes[1..]);
        assert!(found, "the signed attributes are the SOD's own bytes");
        assert_eq!(sod.signed.signature, vec![0x44; 64]);
        assert_eq!(oid_text(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]).as_deref(), Some("1.2.840.113549"));
    }

    #[test]
    fn each_defect_has_its_code() {
        assert!(matches!(parse_sod(&sod_with("1.2.3", &lds())), Err(SodError::NotAnSod(t)) if t == "1.2.3"));
        let twice = seq(&[
            tlv_bytes(0x02, &[0]),
            alg(SHA256),
            seq(&[
                seq(&[tlv_bytes(0x02, &[1]), tlv_bytes(0x04, &[1])]),
                seq(&[tlv_bytes(0x02, &[1]), tlv_bytes(0x04, &[2])]),
            ]),
        ]);
        assert!(
            matches!(parse_sod(&sod_with(OID_LDS_SECURITY_OBJECT, &twice)), Err(SodError::Malformed(m)) if m.contains("twice"))
        );
        let good = sod_with(OID_LDS_SECURITY_OBJECT, &lds());
        assert!(matches!(parse_sod(&good[..good.len() - 3]), Err(SodError::Malformed(_))));
        assert!(matches!(parse_sod(&[0x77, 0x00]), Err(SodError::Malformed(_))));
    }

    proptest! {
        /// Any bytes, or a real SOD with one byte changed: read or refused, never a panic.
        #[test]
        fn any_sod_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..400), at in 0usize..1000, to in any::<u8>()) {
            let _ = parse_sod(&bytes);
            let mut sod = sod_with(OID_LDS_SECURITY_OBJECT, &lds());
            let i = at % sod.len();
            sod[i] = to;
            let _ = parse_sod(&sod);
        }
    }
}
