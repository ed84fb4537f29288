//! X.509 certificates and CRLs (RFC 5280) read down to what a chip's trust chain needs: the raw
//! bytes that were signed, names as their DER (compared byte for byte), validity and the
//! private-key usage period, key usages, the public key (named or **explicit** curve
//! parameters, RSA), the signature and its algorithm with parameters (RSASSA-PSS). Lenient where
//! the field is (certificates that are not strict RFC 5280 are read), strict where it matters
//! (lengths, tags, times). No signature is checked here.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::sod::{SodError, algorithm_id, malformed, oid_of};
use super::{Tlv, children, expect, whole_within};

/// The largest certificate or CRL read (a CSCA's CRL listing many DS certificates stays far
/// below).
pub const MAX_CERT_BYTES: usize = 1024 * 1024;

/// An AlgorithmIdentifier: the OID and the parameters' whole DER (empty when absent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlgorithmId {
    pub oid: String,
    pub params: Vec<u8>,
}

/// Explicit curve parameters (big-endian, leading zeros removed), to be matched to a known curve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplicitCurve {
    pub p: Vec<u8>,
    pub a: Vec<u8>,
    pub b: Vec<u8>,
    pub n: Vec<u8>,
}

/// A subject public key: the algorithm, its named curve (EC keys), explicit curve parameters
/// (EC keys that spell the curve out), and the key bits (a SEC1 point, or an RSAPublicKey DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectPublicKey {
    pub algorithm: String,
    pub named_curve: Option<String>,
    pub explicit: Option<ExplicitCurve>,
    pub key: Vec<u8>,
}

/// A certificate as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The whole certificate.
    pub der: Vec<u8>,
    /// The tbsCertificate exactly as signed.
    pub tbs: Vec<u8>,
    /// The serial number's magnitude, big-endian, without leading zeros.
    pub serial: Vec<u8>,
    /// The issuer and subject Names' whole DER.
    pub issuer: Vec<u8>,
    pub subject: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub key: SubjectPublicKey,
    /// The outer signatureAlgorithm (the one that counts).
    pub signature_algorithm: AlgorithmId,
    pub signature: Vec<u8>,
    /// basicConstraints' cA (None: no such extension).
    pub ca: Option<bool>,
    /// keyUsage bits (bit 0 digitalSignature ... bit 5 keyCertSign, bit 6 cRLSign), None when
    /// the extension is absent.
    pub key_usage: Option<u16>,
    pub ext_key_usage: Vec<String>,
    /// privateKeyUsagePeriod (2.5.29.16): when the key may sign.
    pub private_key_usage: Option<(Option<OffsetDateTime>, Option<OffsetDateTime>)>,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<Vec<u8>>,
    /// Critical extensions this reader does not know (a chain check refuses them).
    pub unknown_critical: Vec<String>,
}

pub const KEY_USAGE_DIGITAL_SIGNATURE: u16 = 1;
pub const KEY_USAGE_KEY_CERT_SIGN: u16 = 1 << 5;
pub const KEY_USAGE_CRL_SIGN: u16 = 1 << 6;

/// A certificate revocation list as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    pub der: Vec<u8>,
    pub tbs: Vec<u8>,
    pub issuer: Vec<u8>,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    /// Revoked serial numbers (magnitudes, as in [`Certificate::serial`]).
    pub revoked: Vec<Vec<u8>>,
    pub signature_algorithm: AlgorithmId,
    pub signature: Vec<u8>,
}

const KNOWN_EXTENSIONS: [&str; 11] = [
    "2.5.29.14",        // subjectKeyIdentifier
    "2.5.29.15",        // keyUsage
    "2.5.29.16",        // privateKeyUsagePeriod
    "2.5.29.17",        // subjectAltName
    "2.5.29.18",        // issuerAltName
    "2.5.29.19",        // basicConstraints
    "2.5.29.31",        // cRLDistributionPoints
    "2.5.29.32",        // certificatePolicies
    "2.5.29.35",        // authorityKeyIdentifier
    "2.5.29.37",        // extKeyUsage
    "2.23.136.1.1.6.2", // ICAO documentTypeList
];

/// An INTEGER's magnitude without leading zero bytes.
pub(super) fn magnitude(t: &Tlv<'_>) -> Result<Vec<u8>, SodError> {
    expect(t, 0x02)?;
    let start = t.value.iter().position(|b| *b != 0).unwrap_or(t.value.len());
    Ok(t.value[start..].to_vec())
}

fn stripped(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

fn digits(s: &[u8], what: &str) -> Result<u32, SodError> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(malformed(format!("{what}: not a time")));
    }
    Ok(s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// UTCTime (`YYMMDDHHMMSSZ`, 1950-2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
pub fn read_time(t: &Tlv<'_>) -> Result<OffsetDateTime, SodError> {
    let v = t.value;
    let (year, rest) = match (t.tag, v.len()) {
        (0x17, 13) => {
            let yy = digits(&v[..2], "UTCTime")?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &v[2..])
        }
        (0x18 | 0x80 | 0x81, 15) => (digits(&v[..4], "GeneralizedTime")?, &v[4..]),
        _ => return Err(malformed(format!("a time at byte {} is neither UTCTime nor GeneralizedTime in Z", t.at))),
    };
    if rest[10] != b'Z' {
        return Err(malformed(format!("a time at byte {} is not in UTC (Z)", t.at)));
    }
    let two = |i: usize| digits(&rest[i..i + 2], "time");
    let bad = || malformed(format!("an impossible time at byte {}", t.at));
    let month = Month::try_from(two(0)? as u8).map_err(|_| bad())?;
    let date = Date::from_calendar_date(year as i32, month, two(2)? as u8).map_err(|_| bad())?;
    let time = Time::from_hms(two(4)? as u8, two(6)? as u8, two(8)? as u8).map_err(|_| bad())?;
    Ok(PrimitiveDateTime::new(date, time).assume_utc())
}

/// A SubjectPublicKeyInfo (also DG15's content).
pub fn read_spki(spki: &Tlv<'_>) -> Result<SubjectPublicKey, SodError> {
    expect(spki, 0x30)?;
    let spki_parts = children(spki.value, spki.vstart)?;
    let [alg, bits] = spki_parts.as_slice() else {
        return Err(malformed("subjectPublicKeyInfo is not (algorithm, key)"));
    };
    expect(alg, 0x30)?;
    let alg_parts = children(alg.value, alg.vstart)?;
    let algorithm = oid_of(alg_parts.first().ok_or_else(|| malformed("an empty key algorithm"))?)?;
    let named_curve = alg_parts.get(1).filter(|p| p.tag == 0x06).map(oid_of).transpose()?;
    let explicit = match alg_parts.get(1) {
        Some(p) if p.tag == 0x30 => Some(explicit_curve(p)?),
        _ => None,
    };
    expect(bits, 0x03)?;
    let (unused, key) = bits.value.split_first().ok_or_else(|| malformed("an empty key"))?;
    if *unused != 0 {
        return Err(malformed("a key whose bit string does not end on a byte"));
    }
    Ok(SubjectPublicKey { algorithm, named_curve, explicit, key: key.to_vec() })
}

/// ECParameters { version, fieldID { prime-field, p }, curve { a, b, seed? }, base, order, cofactor? }.
fn explicit_curve(t: &Tlv<'_>) -> Result<ExplicitCurve, SodError> {
    let parts = children(t.value, t.vstart)?;
    let (Some(field), Some(curve), Some(order)) = (parts.get(1), parts.get(2), parts.get(4)) else {
        return Err(malformed("explicit curve parameters lack field, curve or order"));
    };
    expect(field, 0x30)?;
    let f = children(field.value, field.vstart)?;
    let [kind, p] = f.as_slice() else { return Err(malformed("a curve's field is not (type, prime)")) };
    if oid_of(kind)? != "1.2.840.10045.1.1" {
        return Err(malformed("only prime-field curves are read"));
    }
    expect(curve, 0x30)?;
    let c = children(curve.value, curve.vstart)?;
    let (Some(a), Some(b)) = (c.first(), c.get(1)) else { return Err(malformed("a curve without a and b")) };
    expect(a, 0x04)?;
    expect(b, 0x04)?;
    Ok(ExplicitCurve { p: magnitude(p)?, a: stripped(a.value), b: stripped(b.value), n: magnitude(order)? })
}

/// DG15: the Active Authentication public key (`6F { SubjectPublicKeyInfo }`).
pub fn parse_dg15(data: &[u8]) -> Result<SubjectPublicKey, SodError> {
    let outer = super::whole(data, 0x6f)?;
    let inner = children(outer.value, outer.vstart)?;
    let [spki] = inner.as_slice() else { return Err(malformed("DG15 holds more than a SubjectPublicKeyInfo")) };
    read_spki(spki)
}

/// The subject public key of an X.509 certificate (DER).
pub fn subject_public_key(cert: &[u8]) -> Result<SubjectPublicKey, SodError> {
    Ok(parse_certificate(cert)?.key)
}

/// Reads an X.509 certificate.
pub fn parse_certificate(der: &[u8]) -> Result<Certificate, SodError> {
    let outer = whole_within(der, 0x30, MAX_CERT_BYTES)?;
    let parts = children(outer.value, outer.vstart)?;
    let [tbs, sig_alg, sig] = parts.as_slice() else {
        return Err(malformed("a certificate is not (tbsCertificate, algorithm, signature)"));
    };
    expect(tbs, 0x30)?;
    let fields = children(tbs.value, tbs.vstart)?;
    // [0] version (optional), serial, signature, issuer, validity, subject, spki, [1] [2] [3]
    let skip = usize::from(fields.first().is_some_and(|f| f.tag == 0xa0));
    let field =
        |i: usize, what: &str| fields.get(skip + i).ok_or_else(|| malformed(format!("the certificate has no {what}")));
    let serial = magnitude(field(0, "serial number")?)?;
    let issuer = field(2, "issuer")?;
    expect(issuer, 0x30)?;
    let validity = field(3, "validity")?;
    expect(validity, 0x30)?;
    let times = children(validity.value, validity.vstart)?;
    let [nb, na] = times.as_slice() else { return Err(malformed("validity is not (notBefore, notAfter)")) };
    let subject = field(4, "subject")?;
    expect(subject, 0x30)?;
    let key = read_spki(field(5, "subjectPublicKeyInfo")?)?;
    let mut cert = Certificate {
        der: der.to_vec(),
        tbs: raw(der, tbs),
        serial,
        issuer: raw(der, issuer),
        subject: raw(der, subject),
        not_before: read_time(nb)?,
        not_after: read_time(na)?,
        key,
        signature_algorithm: algorithm_id(sig_alg)?,
        signature: bit_string(sig)?,
        ca: None,
        key_usage: None,
        ext_key_usage: Vec::new(),
        private_key_usage: None,
        subject_key_id: None,
        authority_key_id: None,
        unknown_critical: Vec::new(),
    };
    if let Some(exts) = fields[skip + 6..].iter().find(|f| f.tag == 0xa3) {
        let list = children(exts.value, exts.vstart)?;
        let [list] = list.as_slice() else { return Err(malformed("[3] holds more than the extensions")) };
        expect(list, 0x30)?;
        for ext in children(list.value, list.vstart)? {
            read_extension(&ext, &mut cert)?;
        }
    }
    Ok(cert)
}

fn raw(whole: &[u8], t: &Tlv<'_>) -> Vec<u8> {
    whole.get(t.at..t.vstart + t.value.len()).map(<[u8]>::to_vec).unwrap_or_default()
}

fn bit_string(t: &Tlv<'_>) -> Result<Vec<u8>, SodError> {
    expect(t, 0x03)?;
    match t.value.split_first() {
        Some((0, rest)) => Ok(rest.to_vec()),
        _ => Err(malformed(format!("the bit string at byte {} does not end on a byte", t.at))),
    }
}

fn read_extension(ext: &Tlv<'_>, cert: &mut Certificate) -> Result<(), SodError> {
    expect(ext, 0x30)?;
    let e = children(ext.value, ext.vstart)?;
    let id = oid_of(e.first().ok_or_else(|| malformed("an empty extension"))?)?;
    let critical = e.get(1).is_some_and(|c| c.tag == 0x01 && c.value.first().is_some_and(|b| *b != 0));
    let value = e.last().filter(|v| v.tag == 0x04).ok_or_else(|| malformed(format!("extension {id} has no value")))?;
    let inner = children(value.value, value.vstart)?;
    let first = inner.first();
    match id.as_str() {
        "2.5.29.19" => {
            let v = first.ok_or_else(|| malformed("an empty basicConstraints"))?;
            expect(v, 0x30)?;
            let bc = children(v.value, v.vstart)?;
            cert.ca = Some(bc.first().is_some_and(|b| b.tag == 0x01 && b.value.first().is_some_and(|x| *x != 0)));
        }
        "2.5.29.15" => {
            let v = first.ok_or_else(|| malformed("an empty keyUsage"))?;
            expect(v, 0x03)?;
            let bytes = v.value.get(1..).unwrap_or_default();
            let mut bits = 0u16;
            for i in 0..16usize {
                if bytes.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0) {
                    bits |= 1 << i;
                }
            }
            cert.key_usage = Some(bits);
        }
        "2.5.29.37" => {
            let v = first.ok_or_else(|| malformed("an empty extKeyUsage"))?;
            expect(v, 0x30)?;
            cert.ext_key_usage = children(v.value, v.vstart)?.iter().map(oid_of).collect::<Result<_, _>>()?;
        }
        "2.5.29.16" => {
            let v = first.ok_or_else(|| malformed("an empty privateKeyUsagePeriod"))?;
            expect(v, 0x30)?;
            let mut period = (None, None);
            for t in children(v.value, v.vstart)? {
                match t.tag {
                    0x80 => period.0 = Some(read_time(&t)?),
                    0x81 => period.1 = Some(read_time(&t)?),
                    _ => return Err(malformed("privateKeyUsagePeriod holds something else")),
                }
            }
            cert.private_key_usage = Some(period);
        }
        "2.5.29.14" => {
            let v = first.ok_or_else(|| malformed("an empty subjectKeyIdentifier"))?;
            expect(v, 0x04)?;
            cert.subject_key_id = Some(v.value.to_vec());
        }
        "2.5.29.35" => {
            let v = first.ok_or_else(|| malformed("an empty authorityKeyIdentifier"))?;
            expect(v, 0x30)?;
            cert.authority_key_id =
                children(v.value, v.vstart)?.iter().find(|t| t.tag == 0x80).map(|t| t.value.to_vec());
        }
        other if critical && !KNOWN_EXTENSIONS.contains(&other) => cert.unknown_critical.push(id.clone()),
        _ => {}
    }
    Ok(())
}

/// Reads a CRL (RFC 5280 §5).
pub fn parse_crl(der: &[u8]) -> Result<Crl, SodError> {
    let outer = whole_within(der, 0x30, MAX_CERT_BYTES)?;
    let parts = children(outer.value, outer.vstart)?;
    let [tbs, sig_alg, sig] = parts.as_slice() else {
        return Err(malformed("a CRL is not (tbsCertList, algorithm, signature)"));
    };
    expect(tbs, 0x30)?;
    let fields = children(tbs.value, tbs.vstart)?;
    // version (optional INTEGER), signature, issuer, thisUpdate, nextUpdate?, revoked?, [0] ext?
    let skip = usize::from(fields.first().is_some_and(|f| f.tag == 0x02));
    let issuer = fields.get(skip + 1).ok_or_else(|| malformed("the CRL has no issuer"))?;
    expect(issuer, 0x30)?;
    let this_update = read_time(fields.get(skip + 2).ok_or_else(|| malformed("the CRL has no thisUpdate"))?)?;
    let mut rest = fields[skip + 3..].iter().peekable();
    let next_update = match rest.peek() {
        Some(t) if t.tag == 0x17 || t.tag == 0x18 => Some(read_time(rest.next().ok_or_else(|| malformed("CRL"))?)?),
        _ => None,
    };
    let mut revoked = Vec::new();
    if let Some(list) = rest.next().filter(|t| t.tag == 0x30) {
        for entry in children(list.value, list.vstart)? {
            expect(&entry, 0x30)?;
            let e = children(entry.value, entry.vstart)?;
            revoked.push(magnitude(e.first().ok_or_else(|| malformed("an empty revoked entry"))?)?);
        }
    }
    Ok(Crl {
        der: der.to_vec(),
        tbs: raw(der, tbs),
        issuer: raw(der, issuer),
        this_update,
        next_update,
        revoked,
        signature_algorithm: algorithm_id(sig_alg)?,
        signature: bit_string(sig)?,
    })
}

/// A Name for people: `C=VN, O=..., CN=...` (attributes this reader knows, in order).
pub fn name_text(name: &[u8]) -> String {
    let Ok(outer) = whole_within(name, 0x30, MAX_CERT_BYTES) else { return String::new() };
    let mut out = Vec::new();
    for rdn in children(outer.value, outer.vstart).unwrap_or_default() {
        for atv in children(rdn.value, rdn.vstart).unwrap_or_default() {
            let parts = children(atv.value, atv.vstart).unwrap_or_default();
            let (Some(kind), Some(value)) = (parts.first(), parts.get(1)) else { continue };
            let label = match oid_of(kind).unwrap_or_default().as_str() {
                "2.5.4.6" => "C",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "2.5.4.3" => "CN",
                "2.5.4.5" => "serialNumber",
                _ => continue,
            };
            out.push(format!("{label}={}", String::from_utf8_lossy(value.value)));
        }
    }
    out.join(", ")
}

/// The ISO 3166 country (C=) of a Name, if any.
pub fn name_country(name: &[u8]) -> Option<String> {
    name_text(name).split(", ").find_map(|p| p.strip_prefix("C=").map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_both_forms_and_refused_otherwise() {
        let utc = Tlv { tag: 0x17, at: 0, vstart: 2, value: b"491231235959Z" };
        assert_eq!(read_time(&utc).unwrap().year(), 2049);
        let utc = Tlv { tag: 0x17, at: 0, vstart: 2, value: b"500101000000Z" };
        assert_eq!(read_time(&utc).unwrap().year(), 1950);
        let generalized = Tlv { tag: 0x18, at: 0, vstart: 2, value: b"20351231120000Z" };
        assert_eq!(read_time(&generalized).unwrap().unix_timestamp(), 2082715200);
        for bad in [&b"20351331120000Z"[..], b"2035123112000+Z", b"20351231120000"] {
            assert!(read_time(&Tlv { tag: 0x18, at: 0, vstart: 2, value: bad }).is_err());
        }
    }

    proptest::proptest! {
        #[test]
        fn any_certificate_bytes_are_read_or_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse_certificate(&bytes);
            let _ = parse_crl(&bytes);
            let _ = name_text(&bytes);
        }
    }
}
