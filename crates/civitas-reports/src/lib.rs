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
pub mod fold;
pub mod population;
pub mod query;

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
    let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.to_offset(time::UtcOffset::from_hms(7, 0, 0).ok()?).date())
}

/// `$from, $from+1, ...` (n placeholders).
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn parse_day(s: &str) -> Option<time::Date> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}
