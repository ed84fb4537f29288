//! The QR code printed on chip identity cards (2021 CCCD layout): seven fields separated by `|`,
//! dates as `ddmmyyyy`: ID number, old 9-digit ID (may be empty), full name, date of birth,
//! sex (`Nam` / `Nữ`), permanent address, issue date. Read leniently: some cards omit the last
//! field, and scanners add spaces or line breaks at the ends.

use time::Date;

use crate::{Pid, Sex, nfc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardQr {
    pub pid: Pid,
    pub old_id: Option<String>,
    pub full_name: String,
    pub birth_date: Date,
    pub sex: Sex,
    pub address: String,
    pub issued_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardQrError {
    #[error("the text has {0} fields separated by '|'; a card QR has 6 or 7")]
    Fields(usize),
    #[error("the ID number {0:?} is not valid")]
    Pid(String),
    #[error("the {what} {value:?} is not a date ddmmyyyy")]
    Date { what: &'static str, value: String },
    #[error("the sex {0:?} is neither Nam nor Nữ")]
    Sex(String),
    #[error("the name is empty")]
    Name,
}

fn ddmmyyyy(value: &str, what: &'static str) -> Result<Date, CardQrError> {
    let bad = || CardQrError::Date { what, value: value.to_owned() };
    if value.len() != 8 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let day: u8 = value[0..2].parse().map_err(|_| bad())?;
    let month: u8 = value[2..4].parse().map_err(|_| bad())?;
    let year: i32 = value[4..8].parse().map_err(|_| bad())?;
    let month = time::Month::try_from(month).map_err(|_| bad())?;
    Date::from_calendar_date(year, month, day).map_err(|_| bad())
}

impl std::str::FromStr for CardQr {
    type Err = CardQrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = nfc(text.trim());
        let parts: Vec<&str> = text.split('|').map(str::trim).collect();
        if !(6..=7).contains(&parts.len()) {
            return Err(CardQrError::Fields(parts.len()));
        }
        let pid = parts[0].parse::<Pid>().map_err(|_| CardQrError::Pid(parts[0].to_owned()))?;
        let full_name = parts[2].split_whitespace().collect::<Vec<_>>().join(" ");
        if full_name.is_empty() {
            return Err(CardQrError::Name);
        }
        let sex = match parts[4].to_lowercase().as_str() {
            "nam" => Sex::Male,
            "nữ" | "nu" => Sex::Female,
            _ => return Err(CardQrError::Sex(parts[4].to_owned())),
        };
        let issued_on = match parts.get(6) {
            Some(v) if !v.is_empty() => Some(ddmmyyyy(v, "issue date")?),
            _ => None,
        };
        Ok(CardQr {
            pid,
            old_id: Some(parts[1]).filter(|s| !s.is_empty()).map(str::to_owned),
            full_name,
            birth_date: ddmmyyyy(parts[3], "date of birth")?,
            sex,
            address: parts[5].to_owned(),
            issued_on,
        })
    }
}

/// The ages at which a card must be renewed (Law 26/2023 on Identification, art. 21).
pub const RENEWAL_AGES: [i32; 4] = [14, 25, 40, 60];

/// The day a person born on `birth` reaches `age` (a 29 February birthday falls on 28 February
/// in a common year).
pub fn birthday_at(birth: Date, age: i32) -> Option<Date> {
    let year = birth.year() + age;
    birth.replace_year(year).ok().or_else(|| Date::from_calendar_date(year, time::Month::February, 28).ok())
}

/// Until when a card issued on `issued` to a person born on `birth` is valid: to the next
/// renewal age (14, 25, 40, 60); a card issued within the two years before a renewal age lasts
/// to the following one; a card issued from 58 (within two years of 60) on never expires (None).
pub fn card_expiry(birth: Date, issued: Date) -> Option<Date> {
    for (i, age) in RENEWAL_AGES.iter().enumerate() {
        let milestone = birthday_at(birth, *age)?;
        if milestone <= issued {
            continue;
        }
        let two_years_before = birthday_at(birth, *age - 2)?;
        if issued >= two_years_before {
            // Within two years of this milestone: valid to the next, or for life after 60.
            return RENEWAL_AGES.get(i + 1).and_then(|next| birthday_at(birth, *next));
        }
        return Some(milestone);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_card_lasts_to_the_next_renewal_age_unless_issued_within_two_years_of_it() {
        let birth = date!(1990 - 03 - 15);
        // Issued at 31: valid to 40.
        assert_eq!(card_expiry(birth, date!(2021 - 04 - 15)), Some(date!(2030 - 03 - 15)));
        // Issued at 23 years and a half (within two years of 25): valid to 40.
        assert_eq!(card_expiry(birth, date!(2013 - 09 - 01)), Some(date!(2030 - 03 - 15)));
        // Issued the day before the two years start: valid to 25.
        assert_eq!(card_expiry(birth, date!(2013 - 03 - 14)), Some(date!(2015 - 03 - 15)));
        // A child's card (at 6) to 14; issued at 12.5 to 25.
        assert_eq!(card_expiry(date!(2018 - 06 - 01), date!(2024 - 07 - 01)), Some(date!(2032 - 06 - 01)));
        assert_eq!(card_expiry(date!(2012 - 01 - 01), date!(2024 - 07 - 01)), Some(date!(2037 - 01 - 01)));
        // Issued at 58 or later: no expiry; at 57: to 60.
        assert_eq!(card_expiry(date!(1966 - 05 - 05), date!(2024 - 05 - 05)), None);
        assert_eq!(card_expiry(date!(1960 - 05 - 05), date!(2024 - 05 - 05)), None);
        assert_eq!(card_expiry(date!(1967 - 05 - 05), date!(2024 - 05 - 05)), Some(date!(2027 - 05 - 05)));
        // Born on 29 February: the milestone of a common year is 28 February.
        assert_eq!(card_expiry(date!(2004 - 02 - 29), date!(2021 - 01 - 10)), Some(date!(2029 - 02 - 28)));
    }

    #[test]
    fn reads_the_seven_field_layout_and_the_short_one() {
        let qr: CardQr = "001090123456|012345678|Nguyễn Văn A|01011990|Nam|Số 1 Hàng Bạc, Hoàn Kiếm, Hà Nội|15042021\n"
            .parse()
            .unwrap();
        assert_eq!(qr.pid.as_str(), "001090123456");
        assert_eq!(qr.old_id.as_deref(), Some("012345678"));
        assert_eq!(qr.birth_date, date!(1990 - 01 - 01));
        assert_eq!(qr.sex, Sex::Male);
        assert_eq!(qr.issued_on, Some(date!(2021 - 04 - 15)));
        let short: CardQr = "001190123456||Trần Thị B|29022000|Nữ|Huế".parse().unwrap();
        assert_eq!(short.old_id, None);
        assert_eq!(short.issued_on, None);
        assert_eq!(short.sex, Sex::Female);
    }

    #[test]
    fn says_what_is_wrong() {
        assert_eq!("a|b".parse::<CardQr>(), Err(CardQrError::Fields(2)));
        assert!(matches!("001090123456||A|31021990|Nam|x|".parse::<CardQr>(), Err(CardQrError::Date { .. })));
        assert!(matches!("001090123456||A|01011990|X|x|".parse::<CardQr>(), Err(CardQrError::Sex(_))));
        assert!(matches!("12||A|01011990|Nam|x|".parse::<CardQr>(), Err(CardQrError::Pid(_))));
    }
}
