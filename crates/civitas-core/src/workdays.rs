//! The working-day calendar of state agencies: Monday–Friday, minus the public holidays of the
//! Labor Code 2019 (Art. 112) — 1 January; Tết, five days; Hùng Kings' day (10th of the 3rd
//! lunar month); 30 April; 1 May; 2 September and one adjacent day — with a compensatory day off
//! on the next working day when a holiday falls on a weekend (Art. 111), and the government's
//! announcements per year (the exact Tết days, the day next to 2 September, swapped days) from
//! an override file (`data/holidays.toml`, shipped; operators may pass their own).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, Weekday};

use crate::lunar::{LunarDate, to_solar};

const SHIPPED: &str = include_str!("../data/holidays.toml");

/// A day off with its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holiday {
    pub date: Date,
    pub name_vi: String,
    pub name_en: String,
    /// A compensatory day for a holiday that fell on a weekend.
    pub compensatory: bool,
}

/// What the government announced for one year.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearOverride {
    /// The Tết days off, replacing the default (the last day of the lunar year and the first
    /// four days of the new one).
    #[serde(default)]
    pub tet: Option<Vec<Date>>,
    /// The day next to 2 September (1 or 3 September).
    #[serde(default)]
    pub national_day_adjacent: Option<Date>,
    /// Weekdays given off in exchange for weekend days worked.
    #[serde(default)]
    pub swaps: Vec<Swap>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Swap {
    pub off: Date,
    pub work: Date,
}

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("holiday overrides: {0}")]
    Overrides(String),
}

/// The calendar: the statutory rules plus the per-year overrides.
#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    overrides: BTreeMap<i32, YearOverride>,
}

impl WorkCalendar {
    /// The calendar with the shipped overrides.
    pub fn shipped() -> WorkCalendar {
        WorkCalendar::from_toml(SHIPPED).unwrap_or_default()
    }

    /// Parses an override file: tables named by year, e.g.
    /// `[2026]` `tet = [2026-02-16, ...]`, `national_day_adjacent = 2026-09-01`,
    /// `swaps = [{ off = 2026-01-02, work = 2026-01-10 }]` (TOML dates).
    pub fn from_toml(text: &str) -> Result<WorkCalendar, CalendarError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawYear {
            #[serde(default)]
            tet: Option<Vec<toml::value::Datetime>>,
            #[serde(default)]
            national_day_adjacent: Option<toml::value::Datetime>,
            #[serde(default)]
            swaps: Vec<RawSwap>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawSwap {
            off: toml::value::Datetime,
            work: toml::value::Datetime,
        }
        fn date(d: &toml::value::Datetime) -> Result<Date, CalendarError> {
            let day = d.date.ok_or_else(|| CalendarError::Overrides(format!("{d} is not a date")))?;
            let month = Month::try_from(day.month).map_err(|e| CalendarError::Overrides(e.to_string()))?;
            Date::from_calendar_date(i32::from(day.year), month, day.day)
                .map_err(|e| CalendarError::Overrides(e.to_string()))
        }
        let raw: BTreeMap<String, RawYear> =
            toml::from_str(text).map_err(|e| CalendarError::Overrides(e.to_string()))?;
        let mut overrides = BTreeMap::new();
        for (year, y) in raw {
            let year: i32 = year.parse().map_err(|_| CalendarError::Overrides(format!("[{year}] is not a year")))?;
            let tet = y.tet.map(|v| v.iter().map(date).collect::<Result<Vec<_>, _>>()).transpose()?;
            let national_day_adjacent = y.national_day_adjacent.as_ref().map(date).transpose()?;
            let swaps = y
                .swaps
                .iter()
                .map(|s| Ok(Swap { off: date(&s.off)?, work: date(&s.work)? }))
                .collect::<Result<Vec<_>, CalendarError>>()?;
            for d in tet
                .iter()
                .flatten()
                .chain(national_day_adjacent.iter())
                .chain(swaps.iter().flat_map(|s| [&s.off, &s.work]))
            {
                if (d.year() - year).abs() > 1 {
                    return Err(CalendarError::Overrides(format!("{d} is listed under [{year}]")));
                }
            }
            overrides.insert(year, YearOverride { tet, national_day_adjacent, swaps });
        }
        Ok(WorkCalendar { overrides })
    }

    /// The days off of Gregorian `year`, in date order (statutory holidays, then the
    /// compensatory days for those that fell on a weekend, and the swapped days).
    pub fn holidays(&self, year: i32) -> Vec<Holiday> {
        let o = self.overrides.get(&year).cloned().unwrap_or_default();
        let mut days: Vec<Holiday> = Vec::new();
        let mut add = |date: Option<Date>, vi: &str, en: &str| {
            if let Some(date) = date.filter(|d| d.year() == year) {
                days.push(Holiday { date, name_vi: vi.into(), name_en: en.into(), compensatory: false });
            }
        };
        let ymd = |m: Month, d: u8| Date::from_calendar_date(year, m, d).ok();
        add(ymd(Month::January, 1), "Tết Dương lịch", "New Year's Day");
        // Tết days of both lunar new years that touch this Gregorian year (Tết is in Jan/Feb).
        let tet_days = |lunar_year: i32| -> Vec<Date> {
            if let Some(list) = self.overrides.get(&lunar_year).and_then(|o| o.tet.clone()) {
                return list;
            }
            match to_solar(LunarDate { day: 1, month: 1, year: lunar_year, leap: false }) {
                Some(first) => (-1..4).map(|i| first + Duration::days(i)).collect(),
                None => vec![],
            }
        };
        for d in tet_days(year) {
            add(Some(d), "Tết Nguyên đán", "Lunar New Year (Tết)");
        }
        add(
            to_solar(LunarDate { day: 10, month: 3, year, leap: false }),
            "Giỗ Tổ Hùng Vương",
            "Hùng Kings' Commemoration",
        );
        add(ymd(Month::April, 30), "Ngày Chiến thắng", "Reunification Day");
        add(ymd(Month::May, 1), "Ngày Quốc tế Lao động", "International Workers' Day");
        let national = ymd(Month::September, 2);
        add(national, "Quốc khánh", "National Day");
        let adjacent = o.national_day_adjacent.or_else(|| {
            // Without an announcement: the adjacent day that joins a weekend (1 September when
            // the 2nd is a Tuesday, else 3 September).
            national
                .map(|n| if n.weekday() == Weekday::Tuesday { n - Duration::days(1) } else { n + Duration::days(1) })
        });
        add(adjacent, "Quốc khánh (ngày liền kề)", "National Day (adjacent day)");
        days.sort_by_key(|h| h.date);
        days.dedup_by_key(|h| h.date);
        // A holiday on a weekend gives the next working day off (not for Tết: its announced days
        // already are working days).
        let taken: BTreeSet<Date> = days.iter().map(|h| h.date).collect();
        let mut extra = Vec::new();
        for h in &days {
            if is_weekend(h.date) && !h.name_en.starts_with("Lunar") {
                let mut d = h.date + Duration::days(1);
                while is_weekend(d) || taken.contains(&d) || extra.iter().any(|e: &Holiday| e.date == d) {
                    d += Duration::days(1);
                }
                extra.push(Holiday {
                    date: d,
                    name_vi: format!("Nghỉ bù {}", h.name_vi),
                    name_en: format!("In lieu of {}", h.name_en),
                    compensatory: true,
                });
            }
        }
        for s in &o.swaps {
            extra.push(Holiday {
                date: s.off,
                name_vi: format!("Nghỉ hoán đổi (làm bù ngày {})", s.work),
                name_en: format!("Swapped day off (worked on {})", s.work),
                compensatory: false,
            });
        }
        days.extend(extra.into_iter().filter(|e| e.date.year() == year));
        days.sort_by_key(|h| h.date);
        days.dedup_by_key(|h| h.date);
        days
    }

    /// Weekend days that are working days this year (the other side of the swaps).
    fn working_weekends(&self, year: i32) -> BTreeSet<Date> {
        [year - 1, year, year + 1]
            .iter()
            .filter_map(|y| self.overrides.get(y))
            .flat_map(|o| o.swaps.iter().map(|s| s.work))
            .collect()
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        if self.working_weekends(date.year()).contains(&date) {
            return true;
        }
        !is_weekend(date) && !self.holidays(date.year()).iter().any(|h| h.date == date)
    }

    /// The date `days` working days after `from` (counting starts the day after `from`).
    pub fn add_working_days(&self, from: Date, days: u32) -> Date {
        let mut d = from;
        let mut counted = 0;
        let mut cache = YearCache::new(self);
        while counted < days {
            d += Duration::days(1);
            if cache.is_working_day(d) {
                counted += 1;
            }
        }
        d
    }

    /// Working days in (`from`, `to`]; negative when `to` is before `from`.
    pub fn working_days_between(&self, from: Date, to: Date) -> i64 {
        let (a, b, sign) = if from <= to { (from, to, 1) } else { (to, from, -1) };
        let mut cache = YearCache::new(self);
        let mut n = 0;
        let mut d = a;
        while d < b {
            d += Duration::days(1);
            if cache.is_working_day(d) {
                n += 1;
            }
        }
        n * sign
    }

    /// The day a dossier received at `at` counts from: its own day when received on a working
    /// day before the end of office hours (17:00, UTC+7), else the next working day.
    pub fn receipt_day(&self, at: time::OffsetDateTime) -> Date {
        let local = at.to_offset(time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC));
        let day = local.date();
        if self.is_working_day(day) && local.hour() < 17 {
            return day;
        }
        self.add_working_days(day, 1)
    }
}

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// Holidays computed once per year while counting.
struct YearCache<'a> {
    calendar: &'a WorkCalendar,
    year: i32,
    off: BTreeSet<Date>,
    work: BTreeSet<Date>,
}

impl<'a> YearCache<'a> {
    fn new(calendar: &'a WorkCalendar) -> Self {
        YearCache { calendar, year: i32::MIN, off: BTreeSet::new(), work: BTreeSet::new() }
    }
    fn is_working_day(&mut self, d: Date) -> bool {
        if d.year() != self.year {
            self.year = d.year();
            self.off = self.calendar.holidays(d.year()).into_iter().map(|h| h.date).collect();
            self.work = self.calendar.working_weekends(d.year());
        }
        self.work.contains(&d) || (!is_weekend(d) && !self.off.contains(&d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    fn dates(c: &WorkCalendar, year: i32) -> Vec<Date> {
        c.holidays(year).into_iter().map(|h| h.date).collect()
    }

    #[test]
    fn tet_2025_2026_2027() {
        let c = WorkCalendar::shipped();
        let h25 = dates(&c, 2025);
        // Default rule in 2025: eve (28 Jan) and the first four days (29 Jan – 1 Feb).
        for d in [date!(2025 - 01 - 28), date!(2025 - 01 - 29), date!(2025 - 02 - 01)] {
            assert!(h25.contains(&d), "{d}");
        }
        // 2026 as announced: Mon 16 – Fri 20 February (the weekends around make nine days).
        let h26 = dates(&c, 2026);
        for d in [date!(2026 - 02 - 16), date!(2026 - 02 - 20)] {
            assert!(h26.contains(&d), "{d}");
        }
        assert!(!c.is_working_day(date!(2026 - 02 - 14)) && !c.is_working_day(date!(2026 - 02 - 22)));
        assert!(c.is_working_day(date!(2026 - 02 - 23)));
        // 2027 (not announced yet): Tết is 6 February; eve 5 February.
        let h27 = dates(&c, 2027);
        assert!(h27.contains(&date!(2027 - 02 - 05)) && h27.contains(&date!(2027 - 02 - 09)));
    }

    #[test]
    fn holidays_on_weekends_are_compensated() {
        let c = WorkCalendar::default();
        // 30 April 2028 is a Sunday, 1 May a Monday: the compensatory day is Tuesday 2 May.
        let h = c.holidays(2028);
        let comp: Vec<_> = h.iter().filter(|h| h.compensatory).map(|h| h.date).collect();
        assert!(comp.contains(&date!(2028 - 05 - 02)), "{comp:?}");
        // 1 January 2028 is a Saturday: Monday 3 January is off.
        assert!(comp.contains(&date!(2028 - 01 - 03)), "{comp:?}");
        assert!(!c.is_working_day(date!(2028 - 01 - 03)));
    }

    #[test]
    fn adding_and_counting_working_days() {
        let c = WorkCalendar::shipped();
        // Received Friday 24 April 2026, 7 working days: Hùng Kings' day is Sunday 26 April, so
        // Monday 27 is off; then 28, 29, [30 Apr, 1 May off], 4, 5, 6, 7, 8 May.
        assert_eq!(c.add_working_days(date!(2026 - 04 - 24), 7), date!(2026 - 05 - 08));
        assert_eq!(c.working_days_between(date!(2026 - 04 - 24), date!(2026 - 05 - 08)), 7);
        // After 17:00 local time a dossier counts from the next working day.
        let evening = time::macros::datetime!(2026 - 11 - 27 10:30 UTC); // 17:30 in Hà Nội, Friday
        assert_eq!(c.receipt_day(evening), date!(2026 - 11 - 30));
        let morning = time::macros::datetime!(2026 - 11 - 27 02:00 UTC); // 09:00, Friday
        assert_eq!(c.receipt_day(morning), date!(2026 - 11 - 27));
    }

    #[test]
    fn overrides_are_checked() {
        assert!(WorkCalendar::from_toml("[2026]\ntet = [2026-02-16]\n").is_ok());
        assert!(WorkCalendar::from_toml("[2026]\nteet = [2026-02-16]\n").is_err());
        assert!(WorkCalendar::from_toml("[2026]\ntet = [2030-02-16]\n").is_err());
        let c = WorkCalendar::from_toml("[2026]\nswaps = [{ off = 2026-01-02, work = 2026-01-10 }]\n").unwrap();
        assert!(!c.is_working_day(date!(2026 - 01 - 02)));
        assert!(c.is_working_day(date!(2026 - 01 - 10)));
    }

    proptest! {
        #[test]
        fn adding_then_counting_agree(start in 0i64..3650, n in 0u32..200) {
            let c = WorkCalendar::shipped();
            let from = date!(2024 - 01 - 01) + Duration::days(start);
            let to = c.add_working_days(from, n);
            prop_assert_eq!(c.working_days_between(from, to), i64::from(n));
            prop_assert!(n == 0 || c.is_working_day(to));
            // Never more than n working days plus all the weekends and holidays in between.
            prop_assert!(to >= from + Duration::days(i64::from(n)));
        }
    }
}
