//! The chip's files (CHIP.md): DG1 (the MRZ, `61 5D 5F1F 5A` and 90 characters), EF.SOD read
//! down to what passive authentication checks ([`parse_sod`]), and Vietnam's DG13 (`6D { 30 { version, OID, 31 { items } } }`, each item
//! `30 { 02 01 <id>, <value> }`, read by id, never by position, unknown ids kept). A strict
//! definite-length TLV reader with size and depth limits: every malformed input is a specific
//! [`ChipError`], never a panic. [`Dg13::to_der`] and [`dg1_der`] write them (the card
//! simulator, tests).

use std::collections::BTreeMap;

use crate::mrz::{MrzError, Td1};

mod cert;
mod sod;
pub use cert::{
    AlgorithmId, Certificate, Crl, ExplicitCurve, KEY_USAGE_CRL_SIGN, KEY_USAGE_DIGITAL_SIGNATURE,
    KEY_USAGE_KEY_CERT_SIGN, SubjectPublicKey, name_country, name_text, parse_certificate, parse_crl, parse_dg15,
    subject_public_key,
};
pub use sod::{
    LdsSecurityObject, SignedData, SignerId, Sod, SodError, oid_text, parse_lds, parse_master_list, parse_sod,
};

/// The largest data group accepted (a DG13 is a few hundred bytes; DG2's image is not read here).
pub const MAX_DG_BYTES: usize = 64 * 1024;
/// How deep TLVs may nest.
pub const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChipError {
    #[error("the input is larger than this reader accepts")]
    TooLarge,
    #[error("at byte {0}: the data ends inside a tag or length")]
    Truncated(usize),
    #[error("at byte {at}: a length of {len} runs past the end ({available} bytes left)")]
    Overrun { at: usize, len: usize, available: usize },
    #[error("at byte {0}: an indefinite or over-long length (only definite DER lengths are read)")]
    Length(usize),
    #[error("nested deeper than {MAX_DEPTH}")]
    Depth,
    #[error("expected tag {expected:#04x} at byte {at}, found {found:#04x}")]
    Tag { at: usize, expected: u32, found: u32 },
    #[error("{0} bytes follow the data group")]
    Trailing(usize),
    #[error("DG13 item {0}: {1}")]
    Item(u32, String),
    #[error("DG13 item {0} appears twice")]
    Duplicate(u32),
    #[error("DG1: {0}")]
    Mrz(#[from] MrzError),
}

/// One TLV: its tag (up to three bytes), where it starts and where its value starts (offsets in
/// the whole input), the value.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u32,
    at: usize,
    vstart: usize,
    value: &'a [u8],
}

/// Reads the TLV at `pos` of `data` (whose first byte is at offset `base` of the whole input);
/// returns it and the position after it.
fn read_tlv(data: &[u8], pos: usize, base: usize) -> Result<(Tlv<'_>, usize), ChipError> {
    let at = base + pos;
    let byte = |i: usize| data.get(i).copied().ok_or(ChipError::Truncated(base + i));
    let mut i = pos;
    let first = byte(i)?;
    let mut tag = u32::from(first);
    i += 1;
    if first & 0x1f == 0x1f {
        // Multi-byte tag: at most two more bytes.
        for n in 0..2 {
            let b = byte(i)?;
            tag = (tag << 8) | u32::from(b);
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            if n == 1 {
                return Err(ChipError::Length(at));
            }
        }
    }
    let l = byte(i)?;
    i += 1;
    let len = match l {
        0..=0x7f => usize::from(l),
        0x81 => {
            let v = usize::from(byte(i)?);
            i += 1;
            v
        }
        0x82 => {
            let v = (usize::from(byte(i)?) << 8) | usize::from(byte(i + 1)?);
            i += 2;
            v
        }
        0x83 => {
            let v = (usize::from(byte(i)?) << 16) | (usize::from(byte(i + 1)?) << 8) | usize::from(byte(i + 2)?);
            i += 3;
            v
        }
        _ => return Err(ChipError::Length(base + i - 1)),
    };
    let available = data.len() - i;
    if len > available {
        return Err(ChipError::Overrun { at: base + i, len, available });
    }
    Ok((Tlv { tag, at, vstart: base + i, value: &data[i..i + len] }, i + len))
}

/// The TLVs that make up `value` (whose first byte is at offset `base`).
fn children(value: &[u8], base: usize) -> Result<Vec<Tlv<'_>>, ChipError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < value.len() {
        let (tlv, next) = read_tlv(value, pos, base)?;
        out.push(tlv);
        pos = next;
    }
    Ok(out)
}

fn expect(tlv: &Tlv<'_>, tag: u32) -> Result<(), ChipError> {
    if tlv.tag == tag { Ok(()) } else { Err(ChipError::Tag { at: tlv.at, expected: tag, found: tlv.tag }) }
}

/// The one TLV of a whole data group, tag `tag`, nothing after it.
fn whole(data: &[u8], tag: u32) -> Result<Tlv<'_>, ChipError> {
    whole_within(data, tag, MAX_DG_BYTES)
}

/// The one TLV of `data`, tag `tag`, at most `max` bytes, nothing after it.
fn whole_within(data: &[u8], tag: u32, max: usize) -> Result<Tlv<'_>, ChipError> {
    if data.len() > max {
        return Err(ChipError::TooLarge);
    }
    let (tlv, end) = read_tlv(data, 0, 0)?;
    expect(&tlv, tag)?;
    if end != data.len() {
        return Err(ChipError::Trailing(data.len() - end));
    }
    Ok(tlv)
}

/// DG1: the MRZ (`61 { 5F1F <90 characters> }`).
pub fn parse_dg1(data: &[u8]) -> Result<Td1, ChipError> {
    let outer = whole(data, 0x61)?;
    let inner = children(outer.value, outer.vstart)?;
    let mrz =
        inner.iter().find(|t| t.tag == 0x5f1f).ok_or(ChipError::Tag { at: outer.at, expected: 0x5f1f, found: 0 })?;
    let text = std::str::from_utf8(mrz.value).map_err(|_| MrzError::Lines(0))?;
    Ok(text.parse::<Td1>()?)
}

/// DG1 of `td1`, as a chip holds it.
pub fn dg1_der(td1: &Td1) -> Vec<u8> {
    let text = td1.to_lines().concat();
    let mut inner = vec![0x5f, 0x1f];
    push_len(&mut inner, text.len());
    inner.extend_from_slice(text.as_bytes());
    let mut out = vec![0x61];
    push_len(&mut out, inner.len());
    out.extend(inner);
    out
}

/// The face image of DG2 (ISO/IEC 19794-5 inside the biometric template:
/// `75 { 7F61 { 02 count, 7F60 { A1 header, 5F2E <FAC record> } } }`; the FAC record's general
/// header (14 bytes), facial record header (20) and image information (12) precede the image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceImage {
    /// `image/jpeg` or `image/jp2`.
    pub mime: &'static str,
    pub width: u16,
    pub height: u16,
    pub data: Vec<u8>,
}

const FAC_HEADER: usize = 14 + 20 + 12;

/// Reads DG2's first face image.
pub fn parse_dg2(data: &[u8]) -> Result<FaceImage, ChipError> {
    let outer = whole(data, 0x75)?;
    let bad = |m: &str| ChipError::Item(2, m.to_owned());
    let group = children(outer.value, outer.vstart)?;
    let group = group.iter().find(|t| t.tag == 0x7f61).ok_or_else(|| bad("no biometric information group"))?;
    let templates = children(group.value, group.vstart)?;
    let template = templates.iter().find(|t| t.tag == 0x7f60).ok_or_else(|| bad("no biometric template"))?;
    let parts = children(template.value, template.vstart)?;
    let record = parts.iter().find(|t| t.tag == 0x5f2e || t.tag == 0x7f2e).ok_or_else(|| bad("no biometric data"))?;
    let r = record.value;
    if r.len() < FAC_HEADER || &r[..4] != b"FAC\0" {
        return Err(bad("the biometric data is not an ISO/IEC 19794-5 facial record"));
    }
    let info = &r[34..FAC_HEADER];
    let mime = match info[1] {
        0 => "image/jpeg",
        1 => "image/jp2",
        other => return Err(ChipError::Item(2, format!("image data type {other}"))),
    };
    Ok(FaceImage {
        mime,
        width: u16::from_be_bytes([info[2], info[3]]),
        height: u16::from_be_bytes([info[4], info[5]]),
        data: r[FAC_HEADER..].to_vec(),
    })
}

/// DG2 holding one JPEG face image of `width` × `height` (the card simulator).
pub fn dg2_der(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let image_info = [[1u8, 0].as_slice(), &width.to_be_bytes(), &height.to_be_bytes(), &[1, 0, 0, 0, 0, 0]].concat();
    let facial =
        [((20 + image_info.len() + jpeg.len()) as u32).to_be_bytes().as_slice(), &[0u8; 16], &image_info, jpeg]
            .concat();
    let total = (14 + facial.len()) as u32;
    let record = [b"FAC\0".as_slice(), b"010\0", &total.to_be_bytes(), &1u16.to_be_bytes(), &facial].concat();
    let header =
        tlv_bytes(0xa1, &[tlv_bytes(0x80, &[1, 1]), tlv_bytes(0x87, &[1, 1]), tlv_bytes(0x88, &[0, 8])].concat());
    let mut data = vec![0x5f, 0x2e];
    push_len(&mut data, record.len());
    data.extend(record);
    let mut template = vec![0x7f, 0x60];
    push_len(&mut template, header.len() + data.len());
    template.extend(header);
    template.extend(data);
    let count = tlv_bytes(0x02, &[1]);
    let mut group = vec![0x7f, 0x61];
    push_len(&mut group, count.len() + template.len());
    group.extend(count);
    group.extend(template);
    let mut out = vec![0x75];
    push_len(&mut out, group.len());
    out.extend(group);
    out
}

/// A DG13 value: text, or (parents, spouse) a list of texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value13 {
    Text(String),
    List(Vec<String>),
}

/// Vietnam's DG13, by item id (1 ID, 2 name, 3 birth date, 4 sex, 5 nationality, 6 ethnicity,
/// 7 religion, 8 place of origin (2021) or of birth registration (2024), 9 residence, 10 marks,
/// 11 issue date, 12 expiry, 13 parents, 14 spouse, 15 previous document, 16 unknown; others
/// kept as read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dg13 {
    pub version: u32,
    pub items: BTreeMap<u32, Value13>,
}

fn text_of(id: u32, tlv: &Tlv<'_>) -> Result<String, ChipError> {
    match tlv.tag {
        // UTF8String, PrintableString, IA5String (tolerated).
        0x0c | 0x13 | 0x16 => std::str::from_utf8(tlv.value)
            .map(|s| crate::nfc(s.trim()))
            .map_err(|_| ChipError::Item(id, "the text is not UTF-8".into())),
        other => Err(ChipError::Item(id, format!("a value of tag {other:#04x} is not text"))),
    }
}

fn small_int(tlv: &Tlv<'_>, what: u32) -> Result<u32, ChipError> {
    expect(tlv, 0x02)?;
    if tlv.value.is_empty() || tlv.value.len() > 3 {
        return Err(ChipError::Item(what, "an integer of 1 to 3 bytes was expected".into()));
    }
    Ok(tlv.value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// The OID of UTF-8 text (1.0.10646.1.0.8) as DER content bytes.
const UTF8_OID: [u8; 6] = [0x28, 0xcf, 0x06, 0x01, 0x00, 0x08];

/// Reads a DG13.
pub fn parse_dg13(data: &[u8]) -> Result<Dg13, ChipError> {
    let outer = whole(data, 0x6d)?;
    let top = children(outer.value, outer.vstart)?;
    let seq = top.first().ok_or(ChipError::Truncated(outer.at))?;
    expect(seq, 0x30)?;
    let parts = children(seq.value, seq.vstart)?;
    let [version, oid, set] = parts.as_slice() else {
        return Err(ChipError::Item(
            0,
            format!("the wrapper has {} parts; version, OID and items were expected", parts.len()),
        ));
    };
    let version = small_int(version, 0)?;
    expect(oid, 0x06)?;
    expect(set, 0x31)?;
    let mut items = BTreeMap::new();
    for item in children(set.value, set.vstart)? {
        expect(&item, 0x30)?;
        let fields = children(item.value, item.vstart)?;
        let (Some(id), Some(value)) = (fields.first(), fields.get(1)) else {
            return Err(ChipError::Item(0, "an item without id and value".into()));
        };
        let id = small_int(id, 0)?;
        let value = if value.tag == 0x30 {
            let mut list = Vec::new();
            for (depth, t) in children(value.value, value.vstart)?.iter().enumerate() {
                if depth >= MAX_DEPTH * 4 {
                    return Err(ChipError::Depth);
                }
                list.push(text_of(id, t)?);
            }
            Value13::List(list)
        } else {
            Value13::Text(text_of(id, value)?)
        };
        if items.insert(id, value).is_some() {
            return Err(ChipError::Duplicate(id));
        }
    }
    Ok(Dg13 { version, items })
}

impl Dg13 {
    pub fn text(&self, id: u32) -> Option<&str> {
        match self.items.get(&id) {
            Some(Value13::Text(t)) if !t.is_empty() => Some(t.as_str()),
            _ => None,
        }
    }
    pub fn list(&self, id: u32) -> Vec<&str> {
        match self.items.get(&id) {
            Some(Value13::List(l)) => l.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
    pub fn pid(&self) -> Option<crate::Pid> {
        self.text(1)?.parse().ok()
    }
    pub fn full_name(&self) -> Option<&str> {
        self.text(2)
    }
    /// `dd/mm/yyyy` (a partial date of the register may leave day or month out).
    pub fn birth_date(&self) -> Option<crate::PartialDate> {
        crate::PartialDate::parse_vn(self.text(3)?).ok()
    }
    pub fn sex(&self) -> Option<crate::Sex> {
        match self.text(4)?.to_lowercase().as_str() {
            "nam" => Some(crate::Sex::Male),
            "nữ" | "nu" => Some(crate::Sex::Female),
            _ => None,
        }
    }
    /// Item 8: the place of origin on a 2021 card, the place of birth registration on a 2024
    /// card (told apart by the issue date, item 11: from 2024-07-01).
    pub fn place_8(&self) -> Option<(Place8, &str)> {
        let text = self.text(8)?;
        let issued = self.text(11).and_then(|d| crate::PartialDate::parse_vn(d).ok()).and_then(|d| d.to_date());
        let kind = match issued {
            Some(d) if d >= time::macros::date!(2024 - 07 - 01) => Place8::BirthRegistration,
            _ => Place8::Origin,
        };
        Some((kind, text))
    }

    /// The DER of this DG13 (items in id order, text as UTF8String).
    pub fn to_der(&self) -> Vec<u8> {
        let mut set = Vec::new();
        for (id, value) in &self.items {
            let mut item = Vec::new();
            item.extend(tlv_bytes(0x02, &int_bytes(*id)));
            match value {
                Value13::Text(t) => item.extend(tlv_bytes(0x0c, t.as_bytes())),
                Value13::List(l) => {
                    let inner: Vec<u8> = l.iter().flat_map(|t| tlv_bytes(0x0c, t.as_bytes())).collect();
                    item.extend(tlv_bytes(0x30, &inner));
                }
            }
            set.extend(tlv_bytes(0x30, &item));
        }
        let mut seq = tlv_bytes(0x02, &int_bytes(self.version));
        seq.extend(tlv_bytes(0x06, &UTF8_OID));
        seq.extend(tlv_bytes(0x31, &set));
        tlv_bytes(0x6d, &tlv_bytes(0x30, &seq))
    }
}

/// What item 8 of a DG13 means on this card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place8 {
    /// Quê quán (2021 cards).
    Origin,
    /// Nơi đăng ký khai sinh (2024 cards).
    BirthRegistration,
}

fn int_bytes(v: u32) -> Vec<u8> {
    let mut b: Vec<u8> = v.to_be_bytes().into_iter().skip_while(|x| *x == 0).collect();
    if b.is_empty() || b[0] & 0x80 != 0 {
        b.insert(0, 0);
    }
    b
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend([0x81, len as u8]),
        0x100..=0xffff => out.extend([0x82, (len >> 8) as u8, len as u8]),
        _ => out.extend([0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]),
    }
}

/// The DER of an OID in dotted form (the writers: the card simulator, tests); parts that are
/// not numbers are left out.
pub fn oid_der(dotted: &str) -> Vec<u8> {
    let n: Vec<u64> = dotted.split('.').filter_map(|p| p.parse().ok()).collect();
    let (Some(a), Some(b)) = (n.first(), n.get(1)) else { return tlv_bytes(0x06, &[]) };
    let mut out = vec![(a * 40 + b) as u8];
    for v in n.iter().skip(2) {
        let mut bytes = vec![(v & 0x7f) as u8];
        let mut v = v >> 7;
        while v > 0 {
            bytes.insert(0, (v & 0x7f) as u8 | 0x80);
            v >>= 7;
        }
        out.extend(bytes);
    }
    tlv_bytes(0x06, &out)
}

/// One DER TLV of a one-byte tag (the writers: the card simulator, tests).
pub fn tlv_bytes(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    push_len(&mut out, value.len());
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Dg13 {
        let mut items = BTreeMap::new();
        let text = |s: &str| Value13::Text(s.to_owned());
        items.insert(1, text("001090123456"));
        items.insert(2, text("Nguyễn Văn An"));
        items.insert(3, text("15/03/1990"));
        items.insert(4, text("Nam"));
        items.insert(5, text("Việt Nam"));
        items.insert(6, text("Kinh"));
        items.insert(8, text("Phường Ba Đình, Hà Nội"));
        items.insert(9, text("Số 5 phố Đội Cấn, Phường Ba Đình, Hà Nội"));
        items.insert(11, text("01/08/2024"));
        items.insert(13, Value13::List(vec!["Nguyễn Văn Bố".into(), "".into()]));
        items.insert(16, text("0123456789ABCDEF"));
        Dg13 { version: 1, items }
    }

    #[test]
    fn dg13_reads_by_id_and_round_trips() {
        let der = sample().to_der();
        assert_eq!(der[0], 0x6d);
        let read = parse_dg13(&der).unwrap();
        assert_eq!(read, sample());
        assert_eq!(read.pid().unwrap().as_str(), "001090123456");
        assert_eq!(read.sex(), Some(crate::Sex::Male));
        assert_eq!(read.birth_date().unwrap().to_date(), Some(time::macros::date!(1990 - 03 - 15)));
        assert_eq!(read.place_8().unwrap().0, Place8::BirthRegistration, "issued after 2024-07-01");
        assert_eq!(read.list(13), ["Nguyễn Văn Bố", ""]);
        assert_eq!(read.text(12), None, "absent items are absent");
    }

    #[test]
    fn malformed_dg13_is_named() {
        let der = sample().to_der();
        assert!(matches!(parse_dg13(&der[..der.len() - 1]), Err(ChipError::Overrun { .. })));
        assert!(matches!(parse_dg13(&[der.clone(), vec![0]].concat()), Err(ChipError::Trailing(1))));
        let mut wrong = der.clone();
        wrong[0] = 0x6e;
        assert!(matches!(parse_dg13(&wrong), Err(ChipError::Tag { expected: 0x6d, .. })));
        assert!(matches!(parse_dg13(&[0x6d, 0x80]), Err(ChipError::Length(1))));
        assert!(matches!(parse_dg13(&[0x6d]), Err(ChipError::Truncated(1))));
        let mut twice = sample();
        twice.items.insert(2, Value13::Text("A".into()));
        let der = twice.to_der();
        // Duplicate ids: splice item 1 in twice.
        let one = tlv_bytes(0x30, &[tlv_bytes(0x02, &[1]), tlv_bytes(0x0c, b"001090123456")].concat());
        let seq =
            [tlv_bytes(0x02, &[1]), tlv_bytes(0x06, &UTF8_OID), tlv_bytes(0x31, &[one.clone(), one].concat())].concat();
        assert_eq!(parse_dg13(&tlv_bytes(0x6d, &tlv_bytes(0x30, &seq))), Err(ChipError::Duplicate(1)));
        assert!(parse_dg13(&der).is_ok());
    }

    #[test]
    fn dg1_holds_the_mrz() {
        let td1: Td1 = "IDVNM0901234562001090123456<<3\n9001011M3001019VNM<<<<<<<<<<<4\nNGUYEN<<VAN<A<<<<<<<<<<<<<<<<<"
            .parse()
            .unwrap();
        let der = dg1_der(&td1);
        assert_eq!(&der[..5], &[0x61, 0x5d, 0x5f, 0x1f, 0x5a]);
        assert_eq!(parse_dg1(&der).unwrap(), td1);
        let mut bad = der.clone();
        bad[5 + 14] = b'3';
        assert!(matches!(parse_dg1(&bad), Err(ChipError::Mrz(MrzError::CheckDigit { .. }))));
    }

    proptest! {
        /// Any bytes: a data group or a specific error, never a panic.
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_dg13(&bytes);
            let _ = parse_dg1(&bytes);
        }

        /// A real DG13 with any single byte changed: read or refused, never a panic.
        #[test]
        fn mutated_dg13_is_read_or_refused(at in 0usize..400, to in any::<u8>()) {
            let mut der = sample().to_der();
            let i = at % der.len();
            der[i] = to;
            let _ = parse_dg13(&der);
        }

        /// Any texts round-trip.
        #[test]
        fn texts_round_trip(name in "\\PC{0,60}", place in "\\PC{0,200}") {
            let mut d = sample();
            d.items.insert(2, Value13::Text(crate::nfc(name.trim())));
            d.items.insert(9, Value13::Text(crate::nfc(place.trim())));
            prop_assert_eq!(parse_dg13(&d.to_der()).unwrap(), d);
        }
    }
}

#[cfg(test)]
mod dg2_tests {
    use super::*;

    #[test]
    fn a_face_image_round_trips_and_defects_are_refused() {
        let jpeg = [0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9];
        let dg2 = dg2_der(&jpeg, 240, 320);
        let face = parse_dg2(&dg2).unwrap();
        assert_eq!((face.mime, face.width, face.height, face.data.as_slice()), ("image/jpeg", 240, 320, &jpeg[..]));
        let mut bent = dg2.clone();
        let fac = bent.windows(4).position(|w| w == b"FAC\0").unwrap();
        bent[fac] = b'X';
        assert!(matches!(parse_dg2(&bent), Err(ChipError::Item(2, _))));
        assert!(parse_dg2(&dg2[..dg2.len() - 1]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_dg2_bytes_are_read_or_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), at in 0usize..200, to in proptest::prelude::any::<u8>()) {
            let _ = parse_dg2(&bytes);
            let mut dg2 = dg2_der(&[0xff, 0xd8, 0xff, 0xd9], 1, 1);
            let i = at % dg2.len();
            dg2[i] = to;
            let _ = parse_dg2(&dg2);
        }
    }
}
