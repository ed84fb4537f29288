//! Partial dates: old civil records often know only the year, or the year and month, of a birth.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date of which the month and day may be unknown.
///
/// Written `YYYY`, `YYYY-MM` or `YYYY-MM-DD`; ordered by year, then month, then day, an unknown
/// part sorting first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartialDate {
    year: u16,
    month: Option<u8>,
    day: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartialDateError {
    #[error("date must be written YYYY, YYYY-MM or YYYY-MM-DD, got {0:?}")]
    Format(String),
    #[error("year {0} is outside 1800..=2300")]
    Year(u32),
    #[error("month {0} is not 1..=12")]
    Month(u32),
    #[error("day {day} does not exist in {year:04}-{month:02}")]
    Day { year: u16, month: u8, day: u32 },
}

impl PartialDate {
    /// The date as Vietnamese forms write it: `dd/mm/yyyy`, `mm/yyyy` or the year alone.
    pub fn vn_text(&self) -> String {
        match (self.day(), self.month()) {
            (Some(day), Some(month)) => format!("{day:02}/{month:02}/{}", self.year()),
            (None, Some(month)) => format!("{month:02}/{}", self.year()),
            _ => self.year().to_string(),
        }
    }

    /// Parses a date the way Vietnamese forms write it: `dd/mm/yyyy`, `mm/yyyy` or `yyyy`
    /// (one- or two-digit day and month; `/`, `-` or `.` between the parts). `YYYY-MM-DD`
    /// (ISO, what machines send) is accepted too.
    pub fn parse_vn(text: &str) -> Result<Self, PartialDateError> {
        let text = text.trim();
        if text.len() >= 4 && text.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
            return text.parse();
        }
        let bad = || PartialDateError::Format(text.to_owned());
        let parts: Vec<&str> = text.split(['/', '-', '.']).map(str::trim).collect();
        let number = |p: &str, max_len: usize| -> Result<u32, PartialDateError> {
            if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let (day, month, year) = match parts.as_slice() {
            [d, m, y] if y.len() == 4 => (Some(number(d, 2)?), Some(number(m, 2)?), number(y, 4)?),
            [m, y] if y.len() == 4 => (None, Some(number(m, 2)?), number(y, 4)?),
            _ => return Err(bad()),
        };
        let year = u16::try_from(year).map_err(|_| PartialDateError::Year(year))?;
        let narrow = |v: Option<u32>| v.map(|v| u8::try_from(v).unwrap_or(u8::MAX));
        Self::new(year, narrow(month), narrow(day))
    }

    pub fn year_only(year: u16) -> Result<Self, PartialDateError> {
        Self::new(year, None, None)
    }

    pub fn new(year: u16, month: Option<u8>, day: Option<u8>) -> Result<Self, PartialDateError> {
        if !(1800..=2300).contains(&year) {
            return Err(PartialDateError::Year(year.into()));
        }
        if let Some(m) = month
            && !(1..=12).contains(&m)
        {
            return Err(PartialDateError::Month(m.into()));
        }
        match (month, day) {
            (None, Some(_)) => return Err(PartialDateError::Format(format!("{year}--?"))),
            (Some(m), Some(d)) if d == 0 || d > days_in_month(year, m) => {
                return Err(PartialDateError::Day { year, month: m, day: d.into() });
            }
            _ => {}
        }
        Ok(Self { year, month, day })
    }

    pub fn full(date: time::Date) -> Self {
        Self { year: date.year().clamp(1800, 2300) as u16, month: Some(date.month() as u8), day: Some(date.day()) }
    }

    pub fn year(&self) -> u16 {
        self.year
    }
    pub fn month(&self) -> Option<u8> {
        self.month
    }
    pub fn day(&self) -> Option<u8> {
        self.day
    }
    pub fn is_complete(&self) -> bool {
        self.day.is_some()
    }

    /// The full date, when month and day are known.
    pub fn to_date(&self) -> Option<time::Date> {
        let month = time::Month::try_from(self.month?).ok()?;
        time::Date::from_calendar_date(self.year.into(), month, self.day?).ok()
    }

    /// Completed years of age on `on`; for a partial date, the youngest age consistent with it
    /// (unknown month/day are taken as the end of the period).
    pub fn age_on(&self, on: time::Date) -> i32 {
        let month = self.month.unwrap_or(12);
        let day = self.day.unwrap_or_else(|| days_in_month(self.year, month));
        let mut age = on.year() - i32::from(self.year);
        if (on.month() as u8, on.day()) < (month, day) {
            age -= 1;
        }
        age
    }
}

pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

impl FromStr for PartialDate {
    type Err = PartialDateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PartialDateError::Format(s.to_owned());
        let mut parts = s.split('-');
        let mut number = |len: usize| -> Result<Option<u32>, PartialDateError> {
            match parts.next() {
                None => Ok(None),
                Some(p) if p.len() == len && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().map(Some).map_err(|_| bad())
                }
                Some(_) => Err(bad()),
            }
        };
        let year = number(4)?.ok_or_else(bad)?;
        let month = number(2)?;
        let day = number(2)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        if !(1800..=2300).contains(&year) {
            return Err(PartialDateError::Year(year));
        }
        if let Some(m) = month
            && !(1..=12).contains(&m)
        {
            return Err(PartialDateError::Month(m));
        }
        if let (Some(m), Some(d)) = (month, day)
            && (d == 0 || d > days_in_month(year as u16, m as u8).into())
        {
            return Err(PartialDateError::Day { year: year as u16, month: m as u8, day: d });
        }
        Self::new(year as u16, month.map(|m| m as u8), day.map(|d| d as u8))
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for PartialDate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^\d{4}(-\d{2}(-\d{2})?)?$"))
            .description(Some("A date of which month and day may be unknown: YYYY, YYYY-MM or YYYY-MM-DD"))
            .examples([serde_json::json!("1990-04-15")])
            .into()
    }
}
impl utoipa::ToSchema for PartialDate {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_three_precisions() {
        assert_eq!("1950".parse::<PartialDate>().map(|d| d.to_string()), Ok("1950".into()));
        assert_eq!("1950-03".parse::<PartialDate>().map(|d| d.to_string()), Ok("1950-03".into()));
        assert_eq!("2024-02-29".parse::<PartialDate>().map(|d| d.to_string()), Ok("2024-02-29".into()));
    }

    #[test]
    fn parses_vietnamese_forms() {
        let vn = |s: &str| PartialDate::parse_vn(s).map(|d| d.to_string());
        assert_eq!(vn("15/03/1990"), Ok("1990-03-15".into()));
        assert_eq!(vn(" 5/3/1990 "), Ok("1990-03-05".into()));
        assert_eq!(vn("15.03.1990"), Ok("1990-03-15".into()));
        assert_eq!(vn("03/1990"), Ok("1990-03".into()));
        assert_eq!(vn("1990"), Ok("1990".into()));
        assert_eq!(vn("1990-03-15"), Ok("1990-03-15".into()), "ISO still accepted");
        assert!(matches!(PartialDate::parse_vn("29/02/2023"), Err(PartialDateError::Day { .. })));
        assert!(matches!(PartialDate::parse_vn("15/13/1990"), Err(PartialDateError::Month(13))));
        for bad in ["", "15/03/90", "15/03", "a/b/cdef", "15//1990", "1/2/3/1990", "150/03/1990"] {
            assert!(PartialDate::parse_vn(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(matches!("2023-02-29".parse::<PartialDate>(), Err(PartialDateError::Day { .. })));
        assert!(matches!("2023-13".parse::<PartialDate>(), Err(PartialDateError::Month(13))));
        assert!(matches!("23-01-01".parse::<PartialDate>(), Err(PartialDateError::Format(_))));
        assert!(matches!("1700".parse::<PartialDate>(), Err(PartialDateError::Year(1700))));
        assert!("2020-1-1".parse::<PartialDate>().is_err());
        assert!("2020-01-01-01".parse::<PartialDate>().is_err());
    }

    #[test]
    fn age_uses_youngest_consistent_reading() {
        let on = time::macros::date!(2026 - 06 - 15);
        assert_eq!("2000-06-15".parse::<PartialDate>().map(|d| d.age_on(on)), Ok(26));
        assert_eq!("2000-06-16".parse::<PartialDate>().map(|d| d.age_on(on)), Ok(25));
        assert_eq!("2000".parse::<PartialDate>().map(|d| d.age_on(on)), Ok(25));
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(y in 1800u16..=2300, m in proptest::option::of(1u8..=12), d in 1u8..=31) {
            let day = m.and_then(|m| (d <= days_in_month(y, m)).then_some(d));
            let date = PartialDate::new(y, m, day).unwrap();
            prop_assert_eq!(date.to_string().parse::<PartialDate>(), Ok(date));
        }

        #[test]
        fn never_panics_on_garbage(s in "\\PC{0,12}") {
            let _ = s.parse::<PartialDate>();
        }
    }
}
