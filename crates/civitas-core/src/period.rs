//! Reporting periods with DHIS2-style identifiers (REPORTING.md): day `yyyyMMdd`, ISO week
//! `yyyyWn`, month `yyyyMM`, quarter `yyyyQn`, six months `yyyySn`, year `yyyy`, and Vietnam's
//! "9 tháng" (January–September) as `yyyyN9`. A period is a half-open range of days
//! [`Period::start`, `Period::end`); indicators sum numerators and denominators over the days
//! (or months) a period covers, then divide.

use std::fmt;

use time::{Date, Duration, Month, Weekday};

/// A reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Day(Date),
    /// ISO 8601 week (Monday first; week 1 holds the year's first Thursday).
    Week {
        year: i32,
        week: u8,
    },
    Month {
        year: i32,
        month: u8,
    },
    Quarter {
        year: i32,
        quarter: u8,
    },
    /// 1: January–June, 2: July–December.
    SixMonths {
        year: i32,
        half: u8,
    },
    /// January–September ("9 tháng").
    NineMonths {
        year: i32,
    },
    Year(i32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error(
        "{0:?} is not a period: write yyyy, yyyyQn, yyyySn, yyyyN9 (January–September), yyyyMM, yyyyWn or yyyyMMdd"
    )]
    Form(String),
    #[error("{0:?} is not a date, month, quarter, half or week that exists")]
    Range(String),
}

fn year_of(s: &str) -> Option<i32> {
    (s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten().filter(|y| *y >= 1900)
}

/// The number of ISO weeks of `year` (52 or 53).
pub fn iso_weeks(year: i32) -> u8 {
    match Date::from_calendar_date(year, Month::December, 28) {
        Ok(d) => d.iso_week(),
        Err(_) => 52,
    }
}

impl Period {
    /// Reads a period identifier.
    pub fn parse(id: &str) -> Result<Period, PeriodError> {
        let id = id.trim();
        let form = || PeriodError::Form(id.to_owned());
        let range = || PeriodError::Range(id.to_owned());
        if !id.is_ascii() || id.len() < 4 {
            return Err(form());
        }
        let year = year_of(&id[..4]).ok_or_else(form)?;
        let rest = &id[4..];
        // A number of at most `digits` digits.
        let number = |s: &str, digits: usize| -> Result<u8, PeriodError> {
            if s.is_empty() || s.len() > digits || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(form());
            }
            s.parse().map_err(|_| form())
        };
        let period = match rest.as_bytes().first() {
            None => Period::Year(year),
            Some(b'Q') => Period::Quarter { year, quarter: number(&rest[1..], 1)? },
            Some(b'S') => Period::SixMonths { year, half: number(&rest[1..], 1)? },
            Some(b'W') => Period::Week { year, week: number(&rest[1..], 2)? },
            Some(b'N') if &rest[1..] == "9" => Period::NineMonths { year },
            Some(b) if b.is_ascii_digit() && rest.len() == 2 => Period::Month { year, month: number(rest, 2)? },
            Some(b) if b.is_ascii_digit() && rest.len() == 4 => {
                let month = Month::try_from(number(&rest[..2], 2)?).map_err(|_| range())?;
                let day = Date::from_calendar_date(year, month, number(&rest[2..], 2)?).map_err(|_| range())?;
                Period::Day(day)
            }
            _ => return Err(form()),
        };
        let valid = match period {
            Period::Quarter { quarter, .. } => (1..=4).contains(&quarter),
            Period::SixMonths { half, .. } => (1..=2).contains(&half),
            Period::Week { year, week } => week >= 1 && week <= iso_weeks(year),
            Period::Month { month, .. } => (1..=12).contains(&month),
            _ => true,
        };
        if valid { Ok(period) } else { Err(range()) }
    }

    /// The first day.
    pub fn start(&self) -> Date {
        let first = |year: i32, month: u8| {
            Date::from_calendar_date(year, Month::try_from(month).unwrap_or(Month::January), 1).unwrap_or(Date::MIN)
        };
        match *self {
            Period::Day(d) => d,
            Period::Week { year, week } => Date::from_iso_week_date(year, week, Weekday::Monday).unwrap_or(Date::MIN),
            Period::Month { year, month } => first(year, month),
            Period::Quarter { year, quarter } => first(year, (quarter - 1) * 3 + 1),
            Period::SixMonths { year, half } => first(year, (half - 1) * 6 + 1),
            Period::NineMonths { year } | Period::Year(year) => first(year, 1),
        }
    }

    /// The day after the last (the range is [start, end)).
    pub fn end(&self) -> Date {
        let after = |year: i32, months: u8| {
            let start = self.start();
            let total = start.month() as i32 - 1 + i32::from(months);
            let (y, m) = (year + total / 12, (total % 12 + 1) as u8);
            Date::from_calendar_date(y, Month::try_from(m).unwrap_or(Month::January), 1).unwrap_or(Date::MAX)
        };
        match *self {
            Period::Day(d) => d.next_day().unwrap_or(Date::MAX),
            Period::Week { .. } => self.start() + Duration::days(7),
            Period::Month { year, .. } => after(year, 1),
            Period::Quarter { year, .. } => after(year, 3),
            Period::SixMonths { year, .. } => after(year, 6),
            Period::NineMonths { year } => after(year, 9),
            Period::Year(year) => after(year, 12),
        }
    }

    pub fn contains(&self, day: Date) -> bool {
        self.start() <= day && day < self.end()
    }

    /// The number of days it covers.
    pub fn days(&self) -> i64 {
        (self.end() - self.start()).whole_days()
    }

    /// The period before (the previous one of the same kind; "carried over" is counted from it).
    pub fn previous(&self) -> Period {
        match *self {
            Period::Day(d) => Period::Day(d.previous_day().unwrap_or(d)),
            Period::Week { year, week } if week > 1 => Period::Week { year, week: week - 1 },
            Period::Week { year, .. } => Period::Week { year: year - 1, week: iso_weeks(year - 1) },
            Period::Month { year, month } if month > 1 => Period::Month { year, month: month - 1 },
            Period::Month { year, .. } => Period::Month { year: year - 1, month: 12 },
            Period::Quarter { year, quarter } if quarter > 1 => Period::Quarter { year, quarter: quarter - 1 },
            Period::Quarter { year, .. } => Period::Quarter { year: year - 1, quarter: 4 },
            Period::SixMonths { year, half: 2 } => Period::SixMonths { year, half: 1 },
            Period::SixMonths { year, .. } => Period::SixMonths { year: year - 1, half: 2 },
            Period::NineMonths { year } => Period::NineMonths { year: year - 1 },
            Period::Year(year) => Period::Year(year - 1),
        }
    }

    /// The period's name for people, in Vietnamese (`vi`) or English.
    pub fn label(&self, lang: &str) -> String {
        let vi = lang == "vi";
        match *self {
            Period::Day(d) => format!("{:02}/{:02}/{}", d.day(), d.month() as u8, d.year()),
            Period::Week { year, week } => {
                if vi {
                    format!("Tuần {week}/{year}")
                } else {
                    format!("Week {week} of {year}")
                }
            }
            Period::Month { year, month } => {
                if vi {
                    format!("Tháng {month}/{year}")
                } else {
                    format!("{year}-{month:02}")
                }
            }
            Period::Quarter { year, quarter } => {
                if vi {
                    format!("Quý {quarter}/{year}")
                } else {
                    format!("Q{quarter} {year}")
                }
            }
            Period::SixMonths { year, half: 1 } => {
                if vi {
                    format!("6 tháng đầu năm {year}")
                } else {
                    format!("First half of {year}")
                }
            }
            Period::SixMonths { year, .. } => {
                if vi {
                    format!("6 tháng cuối năm {year}")
                } else {
                    format!("Second half of {year}")
                }
            }
            Period::NineMonths { year } => {
                if vi {
                    format!("9 tháng năm {year}")
                } else {
                    format!("January–September {year}")
                }
            }
            Period::Year(year) => {
                if vi {
                    format!("Năm {year}")
                } else {
                    year.to_string()
                }
            }
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Day(d) => write!(f, "{}{:02}{:02}", d.year(), d.month() as u8, d.day()),
            Period::Week { year, week } => write!(f, "{year}W{week}"),
            Period::Month { year, month } => write!(f, "{year}{month:02}"),
            Period::Quarter { year, quarter } => write!(f, "{year}Q{quarter}"),
            Period::SixMonths { year, half } => write!(f, "{year}S{half}"),
            Period::NineMonths { year } => write!(f, "{year}N9"),
            Period::Year(year) => write!(f, "{year}"),
        }
    }
}

impl std::str::FromStr for Period {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Period::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn identifiers_read_and_write_with_their_ranges() {
        for (id, start, end) in [
            ("2026", date!(2026 - 01 - 01), date!(2027 - 01 - 01)),
            ("2026Q3", date!(2026 - 07 - 01), date!(2026 - 10 - 01)),
            ("2026Q4", date!(2026 - 10 - 01), date!(2027 - 01 - 01)),
            ("2026S1", date!(2026 - 01 - 01), date!(2026 - 07 - 01)),
            ("2026S2", date!(2026 - 07 - 01), date!(2027 - 01 - 01)),
            ("2026N9", date!(2026 - 01 - 01), date!(2026 - 10 - 01)),
            ("202611", date!(2026 - 11 - 01), date!(2026 - 12 - 01)),
            ("202612", date!(2026 - 12 - 01), date!(2027 - 01 - 01)),
            ("20261130", date!(2026 - 11 - 30), date!(2026 - 12 - 01)),
            ("2026W1", date!(2025 - 12 - 29), date!(2026 - 01 - 05)),
            ("2026W53", date!(2026 - 12 - 28), date!(2027 - 01 - 04)),
        ] {
            let p = Period::parse(id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!((p.start(), p.end()), (start, end), "{id}");
            assert_eq!(p.to_string(), id);
            assert!(p.contains(start) && !p.contains(end));
        }
        assert_eq!(Period::parse("2024").unwrap().days(), 366);
        assert_eq!(Period::parse("2026N9").unwrap().label("vi"), "9 tháng năm 2026");
        assert_eq!(Period::parse("2026S1").unwrap().label("vi"), "6 tháng đầu năm 2026");
        assert_eq!(Period::parse("2026Q1").unwrap().previous().to_string(), "2025Q4");
        assert_eq!(Period::parse("2026W1").unwrap().previous().to_string(), "2025W52");
    }

    #[test]
    fn impossible_periods_are_refused_with_a_reason() {
        for id in ["2026Q5", "2026Q0", "2026S3", "202613", "202600", "20260230", "2025W53", "2026W0"] {
            assert!(matches!(Period::parse(id), Err(PeriodError::Range(_))), "{id}");
        }
        for id in ["", "26", "2026-11", "2026q3", "2026N8", "1800", "2026Q", "2026Q10", "２０２６"] {
            assert!(matches!(Period::parse(id), Err(PeriodError::Form(_))), "{id}");
        }
    }

    proptest! {
        /// Any text: a period or a specific error, never a panic; a period's identifier reads back.
        #[test]
        fn any_text_is_read_or_refused(s in "\\PC{0,12}", y in 1990i32..2100, n in 0u32..400) {
            if let Ok(p) = Period::parse(&s) {
                prop_assert_eq!(Period::parse(&p.to_string()), Ok(p));
                prop_assert!(p.start() < p.end());
            }
            let day = Date::from_calendar_date(y, Month::January, 1).unwrap() + Duration::days(i64::from(n));
            for p in [Period::Day(day), Period::Month { year: day.year(), month: day.month() as u8 },
                      Period::Quarter { year: day.year(), quarter: (day.month() as u8 - 1) / 3 + 1 },
                      Period::Year(day.year())] {
                prop_assert!(p.contains(day));
                prop_assert_eq!(Period::parse(&p.to_string()), Ok(p));
            }
        }
    }
}
