//! The 12-digit personal identification number (số định danh cá nhân): `PPP G YY NNNNNN`.
//!
//! `PPP` is "0" + the 2-digit code of the province where the birth was registered (pre-2025
//! codes stay valid for ever), `G` encodes century and sex, `YY` the last two digits of the birth
//! year, `NNNNNN` a serial number unique within the prefix.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::person::Sex;
use crate::units::{self, ProvinceCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid([u8; 12]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PidError {
    #[error("a personal ID number has 12 digits, this one has {0} characters")]
    Length(usize),
    #[error("a personal ID number has only digits")]
    NotDigits,
    #[error("prefix {0} is not the code of a Vietnamese province")]
    UnknownProvince(String),
    #[error("the ID number says sex {pid:?}, the record says {record:?}")]
    SexMismatch { pid: Sex, record: Sex },
    #[error("the ID number says birth year {pid}, the record says {record}")]
    BirthYearMismatch { pid: u16, record: u16 },
    #[error("birth year {0} cannot be encoded in an ID number (1900..=2399)")]
    YearOutOfRange(u16),
    #[error("serial number {0} has more than 6 digits")]
    Serial(u32),
}

impl Pid {
    pub fn parse(s: &str) -> Result<Self, PidError> {
        let bytes = s.as_bytes();
        if bytes.len() != 12 {
            return Err(PidError::Length(s.chars().count()));
        }
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(PidError::NotDigits);
        }
        let mut digits = [0u8; 12];
        digits.copy_from_slice(bytes);
        let pid = Pid(digits);
        let prefix = &s[0..3];
        if bytes[0] != b'0' || !units::is_birth_registration_province(&s[1..3]) {
            return Err(PidError::UnknownProvince(prefix.to_owned()));
        }
        Ok(pid)
    }

    /// Composes a new number for a birth registered in `province` (a code in force).
    pub fn compose(province: &ProvinceCode, sex: Sex, birth_year: u16, serial: u32) -> Result<Self, PidError> {
        if !(1900..=2399).contains(&birth_year) {
            return Err(PidError::YearOutOfRange(birth_year));
        }
        if serial > 999_999 {
            return Err(PidError::Serial(serial));
        }
        let century = birth_year / 100 - 19;
        let g = 2 * century + u16::from(sex == Sex::Female);
        Self::parse(&format!("0{}{}{:02}{:06}", province.as_str(), g, birth_year % 100, serial))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The 2-digit code of the province where the birth was registered (possibly pre-2025).
    pub fn registration_province(&self) -> &str {
        &self.as_str()[1..3]
    }

    fn g(&self) -> u16 {
        u16::from(self.0[3] - b'0')
    }

    pub fn sex(&self) -> Sex {
        if self.g() % 2 == 1 { Sex::Female } else { Sex::Male }
    }

    pub fn birth_year(&self) -> u16 {
        let yy = u16::from(self.0[4] - b'0') * 10 + u16::from(self.0[5] - b'0');
        (self.g() / 2 + 19) * 100 + yy
    }

    /// Checks that a record's sex and birth year agree with this number.
    pub fn check_consistent(&self, sex: Sex, birth_year: u16) -> Result<(), PidError> {
        if self.sex() != sex {
            return Err(PidError::SexMismatch { pid: self.sex(), record: sex });
        }
        if self.birth_year() != birth_year {
            return Err(PidError::BirthYearMismatch { pid: self.birth_year(), record: birth_year });
        }
        Ok(())
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Pid {
    type Err = PidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Pid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Pid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Pid::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Pid {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^0\d{11}$"))
            .description(Some(
                "Personal identification number: 0 + province code, century/sex digit, birth year, serial",
            ))
            .examples([serde_json::json!("001090123456")])
            .into()
    }
}
impl utoipa::ToSchema for Pid {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_the_domain_example() {
        let pid = Pid::parse("001090123456").unwrap();
        assert_eq!(pid.registration_province(), "01");
        assert_eq!(pid.sex(), Sex::Male);
        assert_eq!(pid.birth_year(), 1990);
        let pid = Pid::parse("079305000001").unwrap();
        assert_eq!((pid.sex(), pid.birth_year()), (Sex::Female, 2005));
    }

    #[test]
    fn pre_2025_prefixes_stay_valid() {
        // Hà Giang (02) merged into Tuyên Quang in 2025; its numbers stay valid.
        assert!(Pid::parse("002190000001").is_ok());
    }

    #[test]
    fn specific_errors() {
        assert_eq!(Pid::parse("00109012345"), Err(PidError::Length(11)));
        assert_eq!(Pid::parse("00109012345x"), Err(PidError::NotDigits));
        assert_eq!(Pid::parse("003090123456"), Err(PidError::UnknownProvince("003".into())));
        assert_eq!(Pid::parse("101090123456"), Err(PidError::UnknownProvince("101".into())));
        let pid = Pid::parse("001090123456").unwrap();
        assert!(matches!(pid.check_consistent(Sex::Female, 1990), Err(PidError::SexMismatch { .. })));
        assert!(matches!(pid.check_consistent(Sex::Male, 1991), Err(PidError::BirthYearMismatch { .. })));
    }

    proptest! {
        #[test]
        fn compose_decodes_back(year in 1900u16..=2399, female: bool, serial in 0u32..=999_999) {
            let sex = if female { Sex::Female } else { Sex::Male };
            let province = ProvinceCode::parse("79").unwrap();
            let pid = Pid::compose(&province, sex, year, serial).unwrap();
            prop_assert_eq!(pid.sex(), sex);
            prop_assert_eq!(pid.birth_year(), year);
            prop_assert_eq!(pid.registration_province(), "79");
            prop_assert_eq!(Pid::parse(pid.as_str()), Ok(pid));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,14}") {
            let _ = Pid::parse(&s);
        }
    }
}
