//! One-stop dossier codes: the identity code of the receiving body (QCVN 102:2016/BTTTT, e.g.
//! `H15.50.05.13`) + the receipt date (`yymmdd`) + the sequence number within that day (four
//! digits, more when a body receives more than 9,999 dossiers a day), e.g.
//! `H15.50.05.13-261008-0975`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DossierCode {
    body: String,
    date: time::Date,
    sequence: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DossierCodeError {
    #[error("the body code must be dot-separated groups of letters and digits (e.g. H15.50.05.13)")]
    Body,
    #[error("a dossier code is <body>-<yymmdd>-<sequence>, e.g. H15.50.05.13-261008-0975")]
    Layout,
    #[error("the date part is not a valid yymmdd date")]
    Date,
    #[error("the sequence number must be 1 or more")]
    Sequence,
}

/// Whether `body` is an identity code of the QCVN 102 shape: 1–6 groups separated by dots, each
/// of 1–4 ASCII letters or digits, the first starting with a letter.
pub fn valid_body(body: &str) -> bool {
    let groups: Vec<&str> = body.split('.').collect();
    (1..=6).contains(&groups.len())
        && groups
            .iter()
            .all(|g| (1..=4).contains(&g.len()) && g.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
        && body.starts_with(|c: char| c.is_ascii_uppercase())
}

impl DossierCode {
    pub fn new(body: &str, date: time::Date, sequence: u32) -> Result<DossierCode, DossierCodeError> {
        if !valid_body(body) {
            return Err(DossierCodeError::Body);
        }
        if sequence == 0 {
            return Err(DossierCodeError::Sequence);
        }
        if !(2000..=2099).contains(&date.year()) {
            return Err(DossierCodeError::Date);
        }
        Ok(DossierCode { body: body.to_owned(), date, sequence })
    }
    pub fn body(&self) -> &str {
        &self.body
    }
    pub fn date(&self) -> time::Date {
        self.date
    }
    pub fn sequence(&self) -> u32 {
        self.sequence
    }
}

impl fmt::Display for DossierCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{:02}{:02}{:02}-{:04}",
            self.body,
            self.date.year() % 100,
            self.date.month() as u8,
            self.date.day(),
            self.sequence
        )
    }
}

impl FromStr for DossierCode {
    type Err = DossierCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.trim().rsplitn(3, '-');
        let (Some(seq), Some(ymd), Some(body), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(DossierCodeError::Layout);
        };
        if ymd.len() != 6
            || !ymd.bytes().all(|b| b.is_ascii_digit())
            || seq.len() < 4
            || !seq.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(DossierCodeError::Layout);
        }
        let n = |r: std::ops::Range<usize>| ymd[r].parse::<u8>().map_err(|_| DossierCodeError::Date);
        let month = time::Month::try_from(n(2..4)?).map_err(|_| DossierCodeError::Date)?;
        let date = time::Date::from_calendar_date(2000 + i32::from(n(0..2)?), month, n(4..6)?)
            .map_err(|_| DossierCodeError::Date)?;
        let sequence = seq.parse().map_err(|_| DossierCodeError::Sequence)?;
        DossierCode::new(body, date, sequence)
    }
}

impl Serialize for DossierCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DossierCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn the_example_of_the_rule() {
        let code: DossierCode = "H15.50.05.13-261008-0975".parse().unwrap();
        assert_eq!((code.body(), code.date(), code.sequence()), ("H15.50.05.13", date!(2026 - 10 - 08), 975));
        assert_eq!(code.to_string(), "H15.50.05.13-261008-0975");
        assert_eq!(
            DossierCode::new("H15.50", date!(2026 - 01 - 02), 12345).unwrap().to_string(),
            "H15.50-260102-12345"
        );
        assert_eq!("H15.50.05.13-261308-0975".parse::<DossierCode>(), Err(DossierCodeError::Date));
        assert_eq!("h15-261008-0975".parse::<DossierCode>(), Err(DossierCodeError::Body));
        assert_eq!("H15-261008-0000".parse::<DossierCode>(), Err(DossierCodeError::Sequence));
        assert_eq!("H15-261008".parse::<DossierCode>(), Err(DossierCodeError::Layout));
    }

    proptest! {
        #[test]
        fn format_then_parse(groups in proptest::collection::vec("[A-Z0-9]{1,4}", 1..5), first in "[A-Z]", days in 0i64..36_000, seq in 1u32..200_000) {
            let mut body = first;
            body.push_str(&groups.join("."));
            prop_assume!(valid_body(&body));
            let code = DossierCode::new(&body, date!(2000 - 01 - 01) + time::Duration::days(days), seq).unwrap();
            prop_assert_eq!(code.to_string().parse::<DossierCode>(), Ok(code));
        }
    }
}
