//! The machine-readable zone of Vietnamese chip ID cards: ICAO 9303 TD1, three lines of 30
//! characters, in Vietnam's layout (DOMAIN.md): line 1 `IDVNM`, the document number (the last 9
//! digits of the personal ID number) and its check digit, the full 12-digit ID, `<<` and the
//! ID's check digit; line 2 birth date, sex, expiry, nationality, the composite check digit;
//! line 3 the name without diacritics. Every check digit is verified; every malformed input is
//! a specific [`MrzError`], never a panic. [`Td1::to_lines`] writes one (the card simulator).

use crate::{Pid, Sex};

/// A TD1 MRZ as read (or to be written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Td1 {
    /// `ID` (or `I<`) and the issuing state, e.g. `VNM`.
    pub document_code: String,
    pub issuer: String,
    /// The 12-digit personal ID number (the 9-digit document number is its last nine digits).
    pub pid: Pid,
    /// `YYMMDD` as printed (the century is not in the MRZ: see [`Td1::birth_date`]).
    pub birth: String,
    /// None: `<` (unspecified).
    pub sex: Option<Sex>,
    /// `YYMMDD`, or None for a card without expiry (`<<<<<<`).
    pub expiry: Option<String>,
    pub nationality: String,
    /// Surname and given names, upper case A–Z and spaces (no diacritics).
    pub surname: String,
    pub given_names: String,
}

/// Why a text is not a Vietnamese TD1 MRZ.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MrzError {
    #[error("an MRZ has 3 lines of 30 characters; this text has {0} lines")]
    Lines(usize),
    #[error("line {line} has {len} characters; a TD1 line has 30")]
    Length { line: usize, len: usize },
    #[error("line {line}, position {position}: {found:?} is not an MRZ character (A-Z, 0-9, <)")]
    Character { line: usize, position: usize, found: char },
    #[error("the document code {0:?} is not an identity card's (ID or I<)")]
    DocumentCode(String),
    #[error("the {what} {value:?} is not a state code of three letters")]
    State { what: &'static str, value: String },
    #[error("the check digit of the {field} is {found:?}; the data gives {expected}")]
    CheckDigit { field: &'static str, expected: char, found: char },
    #[error("the {field} {value:?} is not a date YYMMDD")]
    Date { field: &'static str, value: String },
    #[error("the sex {0:?} is not M, F or <")]
    Sex(char),
    #[error("the ID number {0:?} is not valid")]
    Pid(String),
    #[error("the document number {document:?} is not the last 9 digits of the ID number {pid}")]
    DocumentNumber { document: String, pid: String },
    #[error("line {0} must end its data with the filler <")]
    Filler(usize),
    #[error("the name line has no surname")]
    Name,
}

/// The value of an MRZ character in a check digit (`<` = 0, digits, A = 10 … Z = 35).
fn value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        b'<' => Some(0),
        _ => None,
    }
}

/// The ICAO 9303 check digit of `data` (weights 7, 3, 1; modulo 10); None when `data` holds a
/// character outside the MRZ set.
pub fn check_digit(data: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, c) in data.bytes().enumerate() {
        sum += value(c)? * [7, 3, 1][i % 3];
    }
    char::from_digit(sum % 10, 10)
}

fn verify(field: &'static str, data: &str, found: char) -> Result<(), MrzError> {
    let expected = check_digit(data).unwrap_or('?');
    if expected == found { Ok(()) } else { Err(MrzError::CheckDigit { field, expected, found }) }
}

/// A date `YYMMDD`; with `partial`, an unknown day (`YYMM<<`) or month and day (`YY<<<<`) are
/// filler, as ICAO 9303 writes a birth date the register knows only in part.
fn yymmdd(field: &'static str, v: &str, partial: bool) -> Result<(), MrzError> {
    let bad = || MrzError::Date { field, value: v.to_owned() };
    let digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if v.len() != 6 || !digits(&v[0..2]) {
        return Err(bad());
    }
    let (mm, dd) = (&v[2..4], &v[4..6]);
    match (partial, mm, dd) {
        (true, "<<", "<<") => return Ok(()),
        (true, mm, "<<") if digits(mm) => {
            let month: u8 = mm.parse().map_err(|_| bad())?;
            return if (1..=12).contains(&month) { Ok(()) } else { Err(bad()) };
        }
        _ => {}
    }
    if !digits(mm) || !digits(dd) {
        return Err(bad());
    }
    let month: u8 = mm.parse().map_err(|_| bad())?;
    let day: u8 = dd.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    Ok(())
}

fn state(what: &'static str, v: &str) -> Result<String, MrzError> {
    let trimmed = v.trim_end_matches('<');
    if trimmed.len() != 3 || !trimmed.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(MrzError::State { what, value: v.to_owned() });
    }
    Ok(trimmed.to_owned())
}

/// The lines of `text`: three lines (any line breaks, surrounding spaces ignored), or the 90
/// characters of DG1 in one piece.
fn lines(text: &str) -> Result<[String; 3], MrzError> {
    // DG1's case: 90 characters in one piece, nothing to clean.
    let lines: Vec<String> = if text.len() == 90 && text.bytes().all(|b| b.is_ascii_graphic()) {
        vec![text[0..30].to_owned(), text[30..60].to_owned(), text[60..90].to_owned()]
    } else {
        let cleaned: Vec<String> = text.lines().map(|l| l.trim().replace(' ', "")).filter(|l| !l.is_empty()).collect();
        match cleaned.as_slice() {
            [one] if one.chars().count() == 90 => {
                let chars: Vec<char> = one.chars().collect();
                chars.chunks(30).map(|c| c.iter().collect()).collect()
            }
            _ => cleaned,
        }
    };
    let count = lines.len();
    let [a, b, c]: [String; 3] = lines.try_into().map_err(|_| MrzError::Lines(count))?;
    for (i, line) in [&a, &b, &c].into_iter().enumerate() {
        let len = line.chars().count();
        if len != 30 {
            return Err(MrzError::Length { line: i + 1, len });
        }
        if let Some((position, found)) =
            line.chars().enumerate().find(|(_, ch)| !(ch.is_ascii_uppercase() || ch.is_ascii_digit() || *ch == '<'))
        {
            return Err(MrzError::Character { line: i + 1, position: position + 1, found });
        }
    }
    Ok([a, b, c])
}

impl std::str::FromStr for Td1 {
    type Err = MrzError;

    /// Reads a TD1 MRZ in Vietnam's layout, verifying every check digit and that the document
    /// number is the ID's last nine digits.
    fn from_str(text: &str) -> Result<Td1, MrzError> {
        let [l1, l2, l3] = lines(text)?;
        // After `lines`, every character is ASCII: byte slicing is safe.
        let document_code = l1[0..2].to_owned();
        if document_code != "ID" && document_code != "I<" {
            return Err(MrzError::DocumentCode(document_code));
        }
        let issuer = state("issuing state", &l1[2..5])?;
        let document = &l1[5..14];
        verify("document number", document, l1.as_bytes()[14] as char)?;
        let id = &l1[15..27];
        if &l1[27..29] != "<<" {
            return Err(MrzError::Filler(1));
        }
        verify("ID number", id, l1.as_bytes()[29] as char)?;
        let pid: Pid = id.parse().map_err(|_| MrzError::Pid(id.to_owned()))?;
        if document != &id[3..] {
            return Err(MrzError::DocumentNumber { document: document.to_owned(), pid: id.to_owned() });
        }
        let birth = &l2[0..6];
        yymmdd("birth date", birth, true)?;
        verify("birth date", birth, l2.as_bytes()[6] as char)?;
        let sex = match l2.as_bytes()[7] {
            b'M' => Some(Sex::Male),
            b'F' => Some(Sex::Female),
            b'<' => None,
            other => return Err(MrzError::Sex(other as char)),
        };
        let expiry_raw = &l2[8..14];
        let expiry = if expiry_raw == "<<<<<<" {
            let found = l2.as_bytes()[14] as char;
            if found != '<' && found != '0' {
                return Err(MrzError::CheckDigit { field: "expiry date", expected: '<', found });
            }
            None
        } else {
            yymmdd("expiry date", expiry_raw, false)?;
            verify("expiry date", expiry_raw, l2.as_bytes()[14] as char)?;
            Some(expiry_raw.to_owned())
        };
        let nationality = state("nationality", &l2[15..18])?;
        let composite = format!("{}{}{}{}", &l1[5..30], &l2[0..7], &l2[8..15], &l2[18..29]);
        verify("composite", &composite, l2.as_bytes()[29] as char)?;
        let name = l3.trim_end_matches('<');
        let (surname, given) = name.split_once("<<").unwrap_or((name, ""));
        let surname = surname.replace('<', " ").trim().to_owned();
        if surname.is_empty() {
            return Err(MrzError::Name);
        }
        let given_names = given.replace('<', " ").split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Td1 { document_code, issuer, pid, birth: birth.to_owned(), sex, expiry, nationality, surname, given_names })
    }
}

impl Td1 {
    /// The birth date: the century is the latest that does not put it after `today`.
    pub fn birth_date(&self, today: time::Date) -> Option<time::Date> {
        let yy: i32 = self.birth[0..2].parse().ok()?;
        let month = time::Month::try_from(self.birth[2..4].parse::<u8>().ok()?).ok()?;
        let day: u8 = self.birth[4..6].parse().ok()?;
        let century = today.year() / 100 * 100;
        let year = if century + yy > today.year() { century - 100 + yy } else { century + yy };
        time::Date::from_calendar_date(year, month, day).ok()
    }

    /// The three lines, each 30 characters (names folded to A–Z and cut to fit).
    pub fn to_lines(&self) -> [String; 3] {
        let pid = self.pid.as_str();
        let document = &pid[3..];
        let mut l1 = format!("{:<2}{:<3}{document}", self.document_code, self.issuer);
        l1.push(check_digit(document).unwrap_or('0'));
        l1.push_str(pid);
        l1.push_str("<<");
        l1.push(check_digit(pid).unwrap_or('0'));
        let l1 = l1.replace(' ', "<");
        let sex = match self.sex {
            Some(Sex::Male) => 'M',
            Some(Sex::Female) => 'F',
            None => '<',
        };
        let (expiry, expiry_check) = match &self.expiry {
            Some(e) => (e.clone(), check_digit(e).unwrap_or('0')),
            None => ("<<<<<<".to_owned(), '<'),
        };
        let mut l2 = format!(
            "{}{}{sex}{expiry}{expiry_check}{:<<3}",
            self.birth,
            check_digit(&self.birth).unwrap_or('0'),
            self.nationality
        );
        while l2.len() < 29 {
            l2.push('<');
        }
        let composite = format!("{}{}{}{}", &l1[5..30], &l2[0..7], &l2[8..15], &l2[18..29]);
        l2.push(check_digit(&composite).unwrap_or('0'));
        let name_part =
            |s: &str| -> String { crate::fold(s).to_uppercase().split_whitespace().collect::<Vec<_>>().join("<") };
        let mut l3 = format!("{}<<{}", name_part(&self.surname), name_part(&self.given_names));
        l3.retain(|c| c.is_ascii_uppercase() || c == '<');
        l3.truncate(30);
        while l3.len() < 30 {
            l3.push('<');
        }
        [l1, l2, l3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str =
        "IDVNM0901234562001090123456<<3\n9001011M3001019VNM<<<<<<<<<<<4\nNGUYEN<<VAN<A<<<<<<<<<<<<<<<<<";

    #[test]
    fn the_documented_sample_reads_with_every_check_digit() {
        let td1: Td1 = SAMPLE.parse().unwrap();
        assert_eq!(td1.pid.as_str(), "001090123456");
        assert_eq!(td1.birth, "900101");
        assert_eq!(td1.sex, Some(Sex::Male));
        assert_eq!(td1.expiry.as_deref(), Some("300101"));
        assert_eq!(td1.nationality, "VNM");
        assert_eq!((td1.surname.as_str(), td1.given_names.as_str()), ("NGUYEN", "VAN A"));
        let today = time::macros::date!(2026 - 12 - 01);
        assert_eq!(td1.birth_date(today), Some(time::macros::date!(1990 - 01 - 01)));
        // Written again, it is the same text; the 90 characters of DG1 read too.
        assert_eq!(td1.to_lines().join("\n"), SAMPLE);
        assert_eq!(SAMPLE.replace('\n', "").parse::<Td1>().unwrap(), td1);
        // The ICAO 9303 specimen's check digits (independent of this layout).
        assert_eq!(check_digit("D23145890"), Some('7'));
        assert_eq!(check_digit("740812"), Some('2'));
        assert_eq!(check_digit("120415"), Some('9'));
    }

    #[test]
    fn each_defect_is_named() {
        let with = |line: usize, at: usize, c: char| {
            let mut lines: Vec<String> = SAMPLE.lines().map(str::to_owned).collect();
            lines[line].replace_range(at..at + 1, &c.to_string());
            lines.join("\n").parse::<Td1>()
        };
        assert!(matches!(with(0, 14, '3'), Err(MrzError::CheckDigit { field: "document number", .. })));
        assert!(matches!(with(0, 29, '4'), Err(MrzError::CheckDigit { field: "ID number", .. })));
        assert!(matches!(with(1, 6, '2'), Err(MrzError::CheckDigit { field: "birth date", .. })));
        assert!(matches!(with(1, 14, '8'), Err(MrzError::CheckDigit { field: "expiry date", .. })));
        assert!(matches!(with(1, 29, '5'), Err(MrzError::CheckDigit { field: "composite", .. })));
        assert!(matches!(with(1, 7, 'X'), Err(MrzError::Sex('X'))));
        assert!(matches!(with(0, 0, 'P'), Err(MrzError::DocumentCode(_))));
        assert!(matches!(with(2, 3, 'é'), Err(MrzError::Character { line: 3, position: 4, .. })));
        assert!(matches!(with(1, 2, '2'), Err(MrzError::Date { .. })));
        assert_eq!("IDVNM".parse::<Td1>(), Err(MrzError::Lines(1)));
        assert!(matches!(format!("{SAMPLE}<").parse::<Td1>(), Err(MrzError::Length { line: 3, len: 31 })));
        // The document number must be the ID's last nine digits (both check digits right).
        let line1 = format!("IDVNM090123457{}001090123456<<3", check_digit("090123457").unwrap());
        let composite = check_digit(&format!("{}{}", &line1[5..30], "90010113001019<<<<<<<<<<<")).unwrap();
        let other = format!("{line1}\n9001011M3001019VNM<<<<<<<<<<<");
        assert!(matches!(
            format!("{other}{composite}\nNGUYEN<<VAN<A<<<<<<<<<<<<<<<<<").parse::<Td1>(),
            Err(MrzError::DocumentNumber { .. })
        ));
    }

    #[test]
    fn a_partly_known_birth_date_is_filler_but_an_expiry_never_is() {
        let t: Td1 = SAMPLE.parse().unwrap();
        for birth in ["85<<<<", "8507<<"] {
            let written = Td1 { birth: birth.into(), ..t.clone() }.to_lines().join("\n");
            let read: Td1 = written.parse().unwrap_or_else(|e| panic!("{birth}: {e}"));
            assert_eq!(read.birth, birth);
            assert_eq!(read.birth_date(time::macros::date!(2026 - 01 - 01)), None);
        }
        for bad in ["85<<07", "8513<<", "<<0101"] {
            let written = Td1 { birth: bad.into(), ..t.clone() }.to_lines().join("\n");
            assert!(matches!(written.parse::<Td1>(), Err(MrzError::Date { .. })), "{bad}");
        }
        let written = Td1 { expiry: Some("30<<<<".into()), ..t.clone() }.to_lines().join("\n");
        assert!(written.parse::<Td1>().is_err());
    }

    proptest! {
        /// Any text: an MRZ or a specific error, never a panic.
        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,120}") {
            let _ = text.parse::<Td1>();
        }

        /// Texts made of MRZ characters in the right shape: never a panic either.
        #[test]
        fn mrz_shaped_noise_is_read_or_refused(lines in proptest::collection::vec("[A-Z0-9<]{30}", 3)) {
            let _ = lines.join("\n").parse::<Td1>();
        }

        /// What is written reads back the same, for every valid ID, date and name.
        #[test]
        fn written_cards_read_back(
            province in prop_oneof![Just("001"), Just("079"), Just("048")], sex in any::<bool>(), year in 0u32..100,
            serial in 1u32..1_000_000,
            month in 1u32..13, day in 1u32..29, surname in "[A-Z]{2,10}", given in "[A-Z]{1,8}( [A-Z]{1,8})?",
            expires in any::<bool>(),
        ) {
            let century_digit = if sex { 0 } else { 1 };
            let pid: Pid = format!("{province}{century_digit}{year:02}{serial:06}").parse().unwrap();
            let td1 = Td1 {
                document_code: "ID".into(),
                issuer: "VNM".into(),
                pid,
                birth: format!("{year:02}{month:02}{day:02}"),
                sex: Some(if sex { Sex::Male } else { Sex::Female }),
                expiry: expires.then(|| format!("{:02}{month:02}{day:02}", (year + 25) % 100)),
                nationality: "VNM".into(),
                surname,
                given_names: given,
            };
            let text = td1.to_lines().join("\n");
            prop_assert_eq!(text.parse::<Td1>().unwrap(), td1);
        }
    }
}
