//! Project 06 steering (issue #17): what leaders steer by, kept from the event log.
//!
//! - [`fold`]: how each event changes the facts — counts per (measure, unit, dimension, day) —
//!   and the little the consumer remembers of each dossier, from the events alone.
//! - [`consumer`]: the durable-cursor consumer (exactly once across servers: the cursor moves by
//!   compare-and-swap in the transaction that adds the facts) and `rebuild`.
//! - [`catalogue`]: the indicators as data (counts and ratios of measures, the Decision 766
//!   sub-indicators with their thresholds and points), operator-replaceable.
//! - [`query`]: sums over periods and units, stocks at a period's end, form 06a, indicator
//!   values and the Decision 766 index.
//! - [`export`]: tables as CSV and XLSX.
//! - [`population`]: the register's population counted per unit once a day, and the estimated
//!   births and deaths the completeness indicators divide by.

pub mod catalogue;
pub mod committees;
pub mod consumer;
pub mod export;
pub mod facts;
pub mod fold;
pub mod population;
pub mod query;
mod scan;

pub use catalogue::{Catalogue, CatalogueError, Indicator};
pub use query::{Form06a, IndicatorValue, Scope, Window};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] civitas_store::StoreError),
    #[error("unknown indicator {0:?}")]
    UnknownIndicator(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<sqlx::Error> for ReportError {
    fn from(e: sqlx::Error) -> Self {
        ReportError::Store(e.into())
    }
}

/// The nation's unit code in the facts.
pub const NATION: &str = "VN";

/// The units a fact of `unit` is counted in: the commune, its province and the nation (a
/// province's own dossiers: the province and the nation).
pub fn levels(unit: &str) -> Vec<String> {
    let units = civitas_core::units::AdminUnits::get();
    let mut out = Vec::with_capacity(3);
    if let Some(c) = units.commune(unit) {
        out.push(c.code.clone());
        out.push(c.province_code.clone());
    } else if units.province(unit).is_some() {
        out.push(unit.to_owned());
    }
    out.push(NATION.to_owned());
    out
}

/// The Vietnamese calendar day (UTC+7) of a stored RFC 3339 timestamp.
pub fn local_day(at: &str) -> Option<time::Date> {
    // What `civitas_store::timestamp` writes (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), read without the
    // general parser: the fold reads one per event.
    if let Some(day) = utc_day(at.as_bytes()) {
        return Some(day);
    }
    let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.to_offset(time::UtcOffset::from_hms(7, 0, 0).ok()?).date())
}

/// [`local_day`] of a UTC timestamp in the stored form; `None` for anything else (the general
/// parser then decides).
fn utc_day(b: &[u8]) -> Option<time::Date> {
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let (&last, len) = (b.last()?, b.len());
    let fraction = b.get(19..len - 1)?;
    let fraction_ok = fraction.is_empty()
        || (fraction.len() > 1 && fraction[0] == b'.' && fraction[1..].iter().all(u8::is_ascii_digit));
    if last != b'Z' || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || !fraction_ok {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    // UTC+7: from 17:00 UTC on it is the next day in Vietnam.
    if hour >= 17 { date.next_day() } else { Some(date) }
}

/// `$from, $from+1, ...` (n placeholders).
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn parse_day(s: &str) -> Option<time::Date> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

#[cfg(test)]
mod tests {
    use super::local_day;

    fn general(at: &str) -> Option<time::Date> {
        let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
        Some(t.to_offset(time::UtcOffset::from_hms(7, 0, 0).ok()?).date())
    }

    #[test]
    fn the_quick_day_agrees_with_the_general_parser() {
        for at in [
            "2026-11-30T16:59:59.999999Z",
            "2026-11-30T17:00:00.000000Z",
            "2026-12-31T23:59:59Z",
            "2024-02-29T20:00:00.5Z",
            "2025-02-29T01:00:00.000000Z",
            "2026-11-30T24:00:00.000000Z",
            "2026-11-30T10:61:00.000000Z",
            "2026-11-30T10:00:00.Z",
            "2026-11-30T10:00:00+07:00",
            "2026-11-30 10:00:00Z",
            "2026-1-30T10:00:00.000000Z",
            "",
            "Z",
        ] {
            assert_eq!(local_day(at), general(at), "{at}");
        }
        assert_eq!(local_day("2026-11-30T17:00:00.000000Z"), Some(time::macros::date!(2026 - 12 - 01)));
    }
}
