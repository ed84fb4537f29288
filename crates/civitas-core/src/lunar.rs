//! The Vietnamese lunisolar calendar, computed astronomically for UTC+7.
//!
//! Rules: a month begins on the local day of a new moon; the 11th month is the one that contains
//! the winter solstice; a year with 13 new moons between two 11th months has a leap month, the
//! first month after the 11th that contains no principal solar term (the sun's longitude crossing a
//! multiple of 30°). New moons use the low-precision series of Meeus (Astronomical Algorithms,
//! ch. 49) and the sun's longitude his ch. 25; both are good to minutes for 1900–2100, which only
//! matters when a new moon falls within minutes of local midnight.

use std::f64::consts::PI;

/// Hours east of UTC of Vietnam's civil time.
pub const TIME_ZONE: f64 = 7.0;

/// A lunar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LunarDate {
    pub day: u8,
    pub month: u8,
    pub year: i32,
    /// The month is the leap (intercalary) repetition of `month`.
    pub leap: bool,
}

/// Julian day of the mean-corrected `k`-th new moon after 1900-01-01 (Meeus ch. 49, abridged).
fn new_moon_julian(k: f64) -> f64 {
    let t = k / 1236.85;
    let (t2, t3) = (t * t, t * t * t);
    let dr = PI / 180.0;
    let mut jd = 2_415_020.759_33 + 29.530_588_68 * k + 0.000_117_8 * t2 - 0.000_000_155 * t3;
    jd += 0.000_33 * ((166.56 + 132.87 * t - 0.009_173 * t2) * dr).sin();
    let m = 359.2242 + 29.105_356_08 * k - 0.000_033_3 * t2 - 0.000_003_47 * t3;
    let mpr = 306.0253 + 385.816_918_06 * k + 0.010_730_6 * t2 + 0.000_012_36 * t3;
    let f = 21.2964 + 390.670_506_46 * k - 0.001_652_8 * t2 - 0.000_002_39 * t3;
    let c1 = (0.1734 - 0.000_393 * t) * (m * dr).sin() + 0.0021 * (2.0 * dr * m).sin() - 0.4068 * (mpr * dr).sin()
        + 0.0161 * (dr * 2.0 * mpr).sin()
        - 0.0004 * (dr * 3.0 * mpr).sin()
        + 0.0104 * (dr * 2.0 * f).sin()
        - 0.0051 * (dr * (m + mpr)).sin()
        - 0.0074 * (dr * (m - mpr)).sin()
        + 0.0004 * (dr * (2.0 * f + m)).sin()
        - 0.0004 * (dr * (2.0 * f - m)).sin()
        - 0.0006 * (dr * (2.0 * f + mpr)).sin()
        + 0.0010 * (dr * (2.0 * f - mpr)).sin()
        + 0.0005 * (dr * (2.0 * mpr + m)).sin();
    // ΔT (dynamical minus universal time), in days.
    let delta_t = if t < -11.0 {
        0.001 + 0.000_839 * t + 0.000_226_1 * t2 - 0.000_008_45 * t3 - 0.000_000_081 * t * t3
    } else {
        -0.000_278 + 0.000_265 * t + 0.000_262 * t2
    };
    jd + c1 - delta_t
}

/// The Julian day number of the local (UTC+7) day of the `k`-th new moon.
fn new_moon_day(k: i64) -> i64 {
    (new_moon_julian(k as f64) + 0.5 + TIME_ZONE / 24.0).floor() as i64
}

/// The sun's apparent longitude at Julian day `jd` (UT), radians in [0, 2π).
fn sun_longitude(jd: f64) -> f64 {
    let t = (jd - 2_451_545.0) / 36_525.0;
    let t2 = t * t;
    let dr = PI / 180.0;
    let m = 357.529_10 + 35_999.050_30 * t - 0.000_155_9 * t2 - 0.000_000_48 * t * t2;
    let l0 = 280.466_45 + 36_000.769_83 * t + 0.000_303_2 * t2;
    let dl = (1.914_600 - 0.004_817 * t - 0.000_014 * t2) * (dr * m).sin()
        + (0.019_993 - 0.000_101 * t) * (dr * 2.0 * m).sin()
        + 0.000_290 * (dr * 3.0 * m).sin();
    let l = (l0 + dl) * dr;
    l.rem_euclid(2.0 * PI)
}

/// Which 30° sector (0–11) the sun is in at the start of local day `day` (Julian day number).
fn sun_sector(day: i64) -> i64 {
    (sun_longitude(day as f64 - 0.5 - TIME_ZONE / 24.0) / PI * 6.0).floor() as i64
}

const EPOCH: f64 = 2_415_021.076_998_695;
const SYNODIC: f64 = 29.530_588_853;

/// The Julian day number of the first day of the 11th lunar month of the lunar year that ends
/// in Gregorian year `year` (the month containing the December solstice).
fn month11(year: i32) -> i64 {
    let off = julian_day(year, 12, 31) - 2_415_021;
    let k = (off as f64 / SYNODIC).floor() as i64;
    let nm = new_moon_day(k);
    if sun_sector(nm) >= 9 { new_moon_day(k - 1) } else { nm }
}

/// How many months after the 11th month starting on `a11` the leap month comes.
fn leap_month_offset(a11: i64) -> i64 {
    let k = ((a11 as f64 - EPOCH) / SYNODIC + 0.5).floor() as i64;
    let mut i = 1;
    let mut arc = sun_sector(new_moon_day(k + i));
    loop {
        let last = arc;
        i += 1;
        arc = sun_sector(new_moon_day(k + i));
        if arc == last || i >= 14 {
            break;
        }
    }
    i - 1
}

fn julian_day(year: i32, month: u8, day: u8) -> i64 {
    time::Date::from_calendar_date(year, time::Month::try_from(month).unwrap_or(time::Month::January), day)
        .map(|d| i64::from(d.to_julian_day()))
        .unwrap_or_default()
}

/// The lunar date of a Gregorian date.
pub fn to_lunar(date: time::Date) -> LunarDate {
    let day_number = i64::from(date.to_julian_day());
    let k = ((day_number as f64 - EPOCH) / SYNODIC).floor() as i64;
    let mut month_start = new_moon_day(k + 1);
    if month_start > day_number {
        month_start = new_moon_day(k);
    }
    let year = date.year();
    let mut a11 = month11(year);
    let mut b11 = a11;
    let mut lunar_year;
    if a11 >= month_start {
        lunar_year = year;
        a11 = month11(year - 1);
    } else {
        lunar_year = year + 1;
        b11 = month11(year + 1);
    }
    let lunar_day = day_number - month_start + 1;
    let diff = ((month_start - a11) as f64 / 29.0).floor() as i64;
    let mut leap = false;
    let mut month = diff + 11;
    if b11 - a11 > 365 {
        let leap_diff = leap_month_offset(a11);
        if diff >= leap_diff {
            month = diff + 10;
            leap = diff == leap_diff;
        }
    }
    if month > 12 {
        month -= 12;
    }
    if month >= 11 && diff < 4 {
        lunar_year -= 1;
    }
    LunarDate { day: lunar_day as u8, month: month as u8, year: lunar_year, leap }
}

/// The Gregorian date of a lunar date, or `None` when it does not exist (a leap month that the
/// year does not have, or day 30 of a 29-day month).
pub fn to_solar(lunar: LunarDate) -> Option<time::Date> {
    if !(1..=30).contains(&lunar.day) || !(1..=12).contains(&lunar.month) {
        return None;
    }
    let (a11, b11) = if lunar.month < 11 {
        (month11(lunar.year - 1), month11(lunar.year))
    } else {
        (month11(lunar.year), month11(lunar.year + 1))
    };
    let k = (0.5 + (a11 as f64 - EPOCH) / SYNODIC).floor() as i64;
    let mut off = i64::from(lunar.month) - 11;
    if off < 0 {
        off += 12;
    }
    if b11 - a11 > 365 {
        let leap_off = leap_month_offset(a11);
        let mut leap_month = leap_off - 2;
        if leap_month < 0 {
            leap_month += 12;
        }
        if lunar.leap && i64::from(lunar.month) != leap_month {
            return None;
        }
        if lunar.leap || off >= leap_off {
            off += 1;
        }
    } else if lunar.leap {
        return None;
    }
    let start = new_moon_day(k + off);
    let next = new_moon_day(k + off + 1);
    if i64::from(lunar.day) > next - start {
        return None;
    }
    time::Date::from_julian_day((start + i64::from(lunar.day) - 1) as i32).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn lunar_new_years() {
        // DOMAIN.md: Tết 2024-02-10, 2025-01-29, 2026-02-17, 2027-02-06.
        for (year, tet) in [
            (2024, date!(2024 - 02 - 10)),
            (2025, date!(2025 - 01 - 29)),
            (2026, date!(2026 - 02 - 17)),
            (2027, date!(2027 - 02 - 06)),
        ] {
            assert_eq!(to_solar(LunarDate { day: 1, month: 1, year, leap: false }), Some(tet), "Tết {year}");
            assert_eq!(to_lunar(tet), LunarDate { day: 1, month: 1, year, leap: false });
        }
    }

    #[test]
    fn hung_kings_day_and_a_leap_month() {
        // Hùng Kings' day (10/3 lunar): 2025-04-07, 2026-04-26.
        assert_eq!(to_solar(LunarDate { day: 10, month: 3, year: 2025, leap: false }), Some(date!(2025 - 04 - 07)));
        assert_eq!(to_solar(LunarDate { day: 10, month: 3, year: 2026, leap: false }), Some(date!(2026 - 04 - 26)));
        // 2025 has a leap 6th month (starting 2025-07-25); 2026 has none.
        assert_eq!(to_lunar(date!(2025 - 07 - 25)), LunarDate { day: 1, month: 6, year: 2025, leap: true });
        assert_eq!(to_solar(LunarDate { day: 1, month: 6, year: 2026, leap: true }), None);
        // Mid-autumn 2024 (15/8): 2024-09-17.
        assert_eq!(to_lunar(date!(2024 - 09 - 17)), LunarDate { day: 15, month: 8, year: 2024, leap: false });
    }

    proptest! {
        #[test]
        fn solar_to_lunar_and_back(days in 0i32..73_000) {
            let d = date!(1925 - 01 - 01) + time::Duration::days(days as i64);
            let l = to_lunar(d);
            prop_assert!((1..=30).contains(&l.day) && (1..=12).contains(&l.month));
            prop_assert_eq!(to_solar(l), Some(d));
        }

        #[test]
        fn months_have_29_or_30_days(days in 0i32..73_000) {
            let d = date!(1925 - 01 - 01) + time::Duration::days(days as i64);
            let l = to_lunar(d);
            let first = to_solar(LunarDate { day: 1, ..l }).unwrap();
            let next = to_lunar(first + time::Duration::days(29));
            let length = if next.day == 1 { 29 } else { 30 };
            let last = LunarDate { day: length as u8, ..l };
            let beyond = LunarDate { day: 31, ..l };
            prop_assert!(to_solar(last).is_some(), "{:?}", last);
            prop_assert!(to_solar(beyond).is_none(), "{:?}", beyond);
        }
    }
}
