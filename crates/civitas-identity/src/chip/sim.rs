//! The card simulator (`civitas card-sim`): a test CSCA and Document Signer, synthetic chips for
//! people of the register (DG1, DG2 with a drawn portrait, DG13, DG14, DG15 with an AA key, the
//! SOD), their answers to AA
//! challenges, and the broken variants an attacker would bring (a tampered group, a foreign
//! CSCA, an expired DS, a clone without its AA key). Everything is ECDSA P-256 with SHA-256, built
//! with this crate's DER writers — not with the code that verifies it, which reads the bytes
//! back like any other card (and OpenSSL verifies them in the tests).

use std::collections::BTreeMap;

use civitas_core::chip::{Dg13, dg1_der, tlv_bytes};
use civitas_core::mrz::Td1;
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::Signer;
use sha2::Digest;
use time::OffsetDateTime;

/// An OID's DER.
pub fn oid(dotted: &str) -> Vec<u8> {
    civitas_core::chip::oid_der(dotted)
}

pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv_bytes(0x30, &parts.concat())
}

fn set(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv_bytes(0x31, &parts.concat())
}

/// A non-negative INTEGER.
pub fn int(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude.iter().position(|b| *b != 0).unwrap_or(magnitude.len().saturating_sub(1));
    let mut v = magnitude[start..].to_vec();
    if v.is_empty() {
        v.push(0);
    }
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    tlv_bytes(0x02, &v)
}

fn time_der(t: OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let rest = format!("{:02}{:02}{:02}{:02}{:02}Z", t.month() as u8, t.day(), t.hour(), t.minute(), t.second());
    if (1950..2050).contains(&t.year()) {
        tlv_bytes(0x17, format!("{:02}{rest}", t.year() % 100).as_bytes())
    } else {
        tlv_bytes(0x18, format!("{:04}{rest}", t.year()).as_bytes())
    }
}

/// A Name `C=<country>, O=<org>, CN=<cn>`.
pub fn name(country: &str, org: &str, cn: &str) -> Vec<u8> {
    let rdn = |o: &str, tag: u8, v: &str| set(&[seq(&[oid(o), tlv_bytes(tag, v.as_bytes())])]);
    seq(&[rdn("2.5.4.6", 0x13, country), rdn("2.5.4.10", 0x0c, org), rdn("2.5.4.3", 0x0c, cn)])
}

const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

/// A P-256 key's SubjectPublicKeyInfo.
pub fn spki(key: &SigningKey) -> Vec<u8> {
    let point = key.verifying_key().to_sec1_point(false);
    let mut bits = vec![0u8];
    bits.extend_from_slice(point.as_bytes());
    seq(&[seq(&[oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7")]), tlv_bytes(0x03, &bits)])
}

fn sign(key: &SigningKey, data: &[u8]) -> Vec<u8> {
    let sig: p256::ecdsa::Signature = key.sign(data);
    sig.to_der().as_bytes().to_vec()
}

/// A key from a seed (the simulator is deterministic: same seed, same key).
pub fn key(seed: &str) -> SigningKey {
    let mut counter = 0u32;
    loop {
        let d = sha2::Sha256::digest(format!("civitas card-sim {seed} {counter}").as_bytes());
        if let Ok(k) = SigningKey::from_slice(&d) {
            return k;
        }
        counter += 1;
    }
}

/// How a certificate is made.
pub struct CertSpec<'a> {
    pub serial: u64,
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub ca: bool,
    /// Extended key usages (e.g. the master-list signer's 2.23.136.1.1.3).
    pub eku: &'a [&'a str],
}

/// An X.509 v3 certificate for `subject_key`, signed by `issuer_key`.
pub fn certificate(spec: &CertSpec<'_>, subject_key: &SigningKey, issuer_key: &SigningKey) -> Vec<u8> {
    let bool_true = tlv_bytes(0x01, &[0xff]);
    let basic = if spec.ca { seq(std::slice::from_ref(&bool_true)) } else { seq(&[]) };
    // keyUsage: keyCertSign + cRLSign for a CA (bits 5, 6), digitalSignature for a signer (bit 0).
    let usage = if spec.ca { tlv_bytes(0x03, &[0x01, 0x06]) } else { tlv_bytes(0x03, &[0x07, 0x80]) };
    let mut exts = vec![
        seq(&[oid("2.5.29.19"), bool_true.clone(), tlv_bytes(0x04, &basic)]),
        seq(&[oid("2.5.29.15"), bool_true, tlv_bytes(0x04, &usage)]),
    ];
    if !spec.eku.is_empty() {
        let list: Vec<Vec<u8>> = spec.eku.iter().map(|o| oid(o)).collect();
        exts.push(seq(&[oid("2.5.29.37"), tlv_bytes(0x04, &seq(&list))]));
    }
    let tbs = seq(&[
        tlv_bytes(0xa0, &int(&[2])),
        int(&spec.serial.to_be_bytes()),
        seq(&[oid(ECDSA_SHA256)]),
        spec.issuer.to_vec(),
        seq(&[time_der(spec.not_before), time_der(spec.not_after)]),
        spec.subject.to_vec(),
        spki(subject_key),
        tlv_bytes(0xa3, &seq(&exts)),
    ]);
    let mut sig = vec![0u8];
    sig.extend(sign(issuer_key, &tbs));
    seq(&[tbs, seq(&[oid(ECDSA_SHA256)]), tlv_bytes(0x03, &sig)])
}

/// A CA (or signer) and its certificate.
pub struct Authority {
    pub key: SigningKey,
    pub name: Vec<u8>,
    pub cert: Vec<u8>,
    pub serial: u64,
}

/// A self-signed test CSCA `C=<country>`, valid 15 years from `from`.
pub fn csca(country: &str, seed: &str, from: OffsetDateTime) -> Authority {
    let key = key(&format!("csca {seed}"));
    let name = name(country, "civitas card-sim", &format!("Test CSCA {seed}"));
    let spec = CertSpec {
        serial: 1,
        issuer: &name,
        subject: &name,
        not_before: from,
        not_after: from + time::Duration::days(15 * 365),
        ca: true,
        eku: &[],
    };
    let cert = certificate(&spec, &key, &key);
    Authority { key, name, cert, serial: 1 }
}

/// A Document Signer (or, with `eku`, a master-list signer) issued by `csca`, valid between the
/// given times.
pub fn signer(
    csca: &Authority,
    seed: &str,
    serial: u64,
    valid: (OffsetDateTime, OffsetDateTime),
    eku: &[&str],
) -> Authority {
    let key = key(&format!("signer {seed}"));
    let country = civitas_core::chip::name_country(&csca.name).unwrap_or_else(|| "VN".into());
    let name = name(&country, "civitas card-sim", &format!("Test Document Signer {seed}"));
    let spec = CertSpec {
        serial,
        issuer: &csca.name,
        subject: &name,
        not_before: valid.0,
        not_after: valid.1,
        ca: false,
        eku,
    };
    let cert = certificate(&spec, &key, &csca.key);
    Authority { key, name, cert, serial }
}

/// A CRL of `csca` listing `revoked` serials, next update 90 days on.
pub fn crl(csca: &Authority, revoked: &[u64], now: OffsetDateTime) -> Vec<u8> {
    let entries: Vec<Vec<u8>> = revoked.iter().map(|s| seq(&[int(&s.to_be_bytes()), time_der(now)])).collect();
    let mut fields = vec![int(&[1]), seq(&[oid(ECDSA_SHA256)]), csca.name.clone(), time_der(now)];
    fields.push(time_der(now + time::Duration::days(90)));
    if !entries.is_empty() {
        fields.push(seq(&entries));
    }
    let tbs = seq(&fields);
    let mut sig = vec![0u8];
    sig.extend(sign(&csca.key, &tbs));
    seq(&[tbs, seq(&[oid(ECDSA_SHA256)]), tlv_bytes(0x03, &sig)])
}

/// CMS SignedData (a ContentInfo) over `content` of type `content_type`, signed by `signer`.
pub fn signed_data(
    content_type: &str,
    content: &[u8],
    signer: &Authority,
    signing_time: Option<OffsetDateTime>,
) -> Vec<u8> {
    let sha256 = seq(&[oid("2.16.840.1.101.3.4.2.1")]);
    let mut attrs = vec![seq(&[oid("1.2.840.113549.1.9.3"), set(&[oid(content_type)])])];
    if let Some(t) = signing_time {
        attrs.push(seq(&[oid("1.2.840.113549.1.9.5"), set(&[time_der(t)])]));
    }
    attrs.push(seq(&[oid("1.2.840.113549.1.9.4"), set(&[tlv_bytes(0x04, &sha2::Sha256::digest(content))])]));
    let signature = sign(&signer.key, &set(&attrs));
    let signer_info = seq(&[
        int(&[1]),
        seq(&[signer_issuer(&signer.cert), int(&signer.serial.to_be_bytes())]),
        sha256.clone(),
        tlv_bytes(0xa0, &attrs.concat()),
        seq(&[oid(ECDSA_SHA256)]),
        tlv_bytes(0x04, &signature),
    ]);
    let sd = seq(&[
        int(&[3]),
        set(std::slice::from_ref(&sha256)),
        seq(&[oid(content_type), tlv_bytes(0xa0, &tlv_bytes(0x04, content))]),
        tlv_bytes(0xa0, &signer.cert),
        set(&[signer_info]),
    ]);
    seq(&[oid("1.2.840.113549.1.7.2"), tlv_bytes(0xa0, &sd)])
}

/// The issuer Name's DER of a certificate this module made.
fn signer_issuer(cert: &[u8]) -> Vec<u8> {
    civitas_core::chip::parse_certificate(cert).map(|c| c.issuer).unwrap_or_default()
}

/// An ICAO master list carrying `cscas`, signed by `signer` (whose certificate has the
/// master-list signer usage 2.23.136.1.1.3).
pub fn master_list(cscas: &[&[u8]], signer: &Authority) -> Vec<u8> {
    let list = seq(&[int(&[0]), set(&cscas.iter().map(|c| c.to_vec()).collect::<Vec<_>>())]);
    signed_data("2.23.136.1.1.2", &list, signer, None)
}

/// The portrait every simulated card carries in DG2 (a drawn face, 240 × 320 JPEG).
pub const PORTRAIT: &[u8] = include_bytes!("../../data/sim-portrait.jpg");

/// A simulated chip: its files as a reader would return them, and its AA key.
pub struct Card {
    pub dgs: BTreeMap<u8, Vec<u8>>,
    pub sod: Vec<u8>,
    pub aa_key: SigningKey,
}

/// DG14 naming ECDSA with SHA-256 for Active Authentication.
pub fn dg14() -> Vec<u8> {
    let aa_info = seq(&[oid("2.23.136.1.1.5"), int(&[1]), oid(ECDSA_SHA256)]);
    tlv_bytes(0x6e, &set(&[aa_info]))
}

/// Makes a card for the person of `td1` / `dg13`, signed by `ds` at `signed_at`.
pub fn card(td1: &Td1, dg13: &Dg13, ds: &Authority, signed_at: OffsetDateTime, seed: &str) -> Card {
    let aa_key = key(&format!("aa {seed}"));
    let mut dgs = BTreeMap::new();
    dgs.insert(1u8, dg1_der(td1));
    dgs.insert(2, civitas_core::chip::dg2_der(PORTRAIT, 240, 320));
    dgs.insert(13, dg13.to_der());
    dgs.insert(14, dg14());
    dgs.insert(15, tlv_bytes(0x6f, &spki(&aa_key)));
    let sod = sod_for(&dgs, ds, signed_at);
    Card { dgs, sod, aa_key }
}

/// The EF.SOD over `dgs` (SHA-256), signed by `ds`.
pub fn sod_for(dgs: &BTreeMap<u8, Vec<u8>>, ds: &Authority, signed_at: OffsetDateTime) -> Vec<u8> {
    let hashes: Vec<Vec<u8>> =
        dgs.iter().map(|(n, d)| seq(&[int(&[*n]), tlv_bytes(0x04, &sha2::Sha256::digest(d))])).collect();
    let lds = seq(&[int(&[0]), seq(&[oid("2.16.840.1.101.3.4.2.1")]), seq(&hashes)]);
    tlv_bytes(0x77, &signed_data("2.23.136.1.1.1", &lds, ds, Some(signed_at)))
}

/// The chip's answer to an AA challenge: ECDSA P-256 over SHA-256(challenge), plain `r‖s`.
pub fn answer(aa_key: &SigningKey, challenge: &[u8]) -> Vec<u8> {
    let sig: p256::ecdsa::Signature = aa_key.sign(challenge);
    sig.to_bytes().to_vec()
}

/// DG1 and DG13 of a person of the register, for a card issued on `issued` (expiring on
/// `expiry`; None: no expiry).
pub fn files_for(
    person: &civitas_registry::model::Person,
    issued: time::Date,
    expiry: Option<time::Date>,
) -> (Td1, Dg13) {
    use civitas_core::chip::Value13;
    let yymmdd = |d: time::Date| format!("{:02}{:02}{:02}", d.year() % 100, d.month() as u8, d.day());
    let dmy = |d: time::Date| format!("{:02}/{:02}/{}", d.day(), d.month() as u8, d.year());
    let birth = &person.birth_date;
    let mrz_birth = format!(
        "{:02}{}{}",
        birth.year() % 100,
        birth.month().map_or("<<".to_owned(), |m| format!("{m:02}")),
        birth.day().map_or("<<".to_owned(), |d| format!("{d:02}"))
    );
    let folded = civitas_core::fold(&person.full_name).to_uppercase();
    let (surname, given) = folded.split_once(' ').unwrap_or((folded.as_str(), ""));
    let td1 = Td1 {
        document_code: "ID".into(),
        issuer: "VNM".into(),
        pid: person.pid,
        birth: mrz_birth,
        sex: Some(person.sex),
        expiry: expiry.map(yymmdd),
        nationality: "VNM".into(),
        surname: surname.to_owned(),
        given_names: given.to_owned(),
    };
    let birth_text = match (birth.day(), birth.month()) {
        (Some(d), Some(m)) => format!("{d:02}/{m:02}/{}", birth.year()),
        (None, Some(m)) => format!("{m:02}/{}", birth.year()),
        _ => birth.year().to_string(),
    };
    let mut items = BTreeMap::new();
    let mut put = |id: u32, v: String| {
        items.insert(id, Value13::Text(v));
    };
    put(1, person.pid.as_str().to_owned());
    put(2, person.full_name.clone());
    put(3, birth_text);
    put(4, person.sex.label("vi").to_owned());
    put(5, "Việt Nam".into());
    put(6, person.ethnicity.name().to_owned());
    put(7, person.religion.clone());
    let place8 = if issued >= time::macros::date!(2024 - 07 - 01) {
        person.birth_registration_place.clone()
    } else {
        person.hometown.clone()
    };
    put(8, place8.unwrap_or_default());
    put(11, dmy(issued));
    put(12, expiry.map(dmy).unwrap_or_else(|| "Không thời hạn".into()));
    (td1, Dg13 { version: 1, items })
}
