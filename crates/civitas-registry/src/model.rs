//! Register records and their validation.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use civitas_core::{CommuneCode, Ethnicity, LifeStatus, MaritalStatus, PartialDate, Pid, PidError, Relation, Sex, nfc};

/// Identifier of a household (hộ gia đình): 1 to 20 ASCII letters, digits or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HouseholdId(String);

impl HouseholdId {
    pub fn parse(s: &str) -> Result<Self, PersonError> {
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(PersonError::HouseholdId(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }
    /// The id the generator gives its `n`-th household of `province`: `HK` + code + 9 digits.
    pub fn generated(province: &str, n: u64) -> Self {
        Self(format!("HK{province}{n:09}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HouseholdId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl Serialize for HouseholdId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for HouseholdId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        HouseholdId::parse(&s).map_err(serde::de::Error::custom)
    }
}
impl utoipa::PartialSchema for HouseholdId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Za-z0-9-]{1,20}$"))
            .into()
    }
}
impl ToSchema for HouseholdId {}

/// A registered address: a 2025 commune and the street address within it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Residence {
    pub commune: CommuneCode,
    pub address: String,
}

impl Residence {
    /// The address as one line, as confirmations print it: street, commune, province.
    pub fn full_text(&self) -> String {
        let units = civitas_core::AdminUnits::get();
        let commune = units.commune(self.commune.as_str());
        let province =
            commune.and_then(|c| units.province(&c.province_code)).map(|p| p.name.as_str()).unwrap_or_default();
        let commune = commune.map(|c| c.name.as_str()).unwrap_or_default();
        [self.address.as_str(), commune, province]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemporaryResidence {
    pub commune: CommuneCode,
    pub address: String,
    /// Last day of the registered stay (at most two years, renewable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<PartialDate>,
}

/// A person in the population register. The same shape is used by the API, by NDJSON import and
/// by export, so an export imports back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub pid: Pid,
    pub full_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_names: Vec<String>,
    pub birth_date: PartialDate,
    pub sex: Sex,
    /// Where the birth was registered (free text, e.g. the commune and province).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_registration_place: Option<String>,
    /// Quê quán.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hometown: Option<String>,
    #[serde(default = "default_ethnicity")]
    pub ethnicity: Ethnicity,
    #[serde(default = "default_religion")]
    pub religion: String,
    /// ISO 3166-1 alpha-2.
    #[serde(default = "default_nationality")]
    pub nationality: String,
    #[serde(default = "default_marital")]
    pub marital_status: MaritalStatus,
    #[serde(default = "default_status")]
    pub status: LifeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub father_pid: Option<Pid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mother_pid: Option<Pid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spouse_pid: Option<Pid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permanent_residence: Option<Residence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_residence: Option<TemporaryResidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_residence: Option<Residence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household_id: Option<HouseholdId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation_to_head: Option<Relation>,
    /// Revision number, set by the register (ignored on import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Time of the last change, set by the register (ignored on import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

fn default_ethnicity() -> Ethnicity {
    Ethnicity::KINH
}
fn default_religion() -> String {
    "Không".into()
}
fn default_nationality() -> String {
    "VN".into()
}
fn default_marital() -> MaritalStatus {
    MaritalStatus::Single
}
fn default_status() -> LifeStatus {
    LifeStatus::Living
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    #[error("full_name is empty")]
    EmptyName,
    #[error("full_name {0:?} must have a family name and a given name, in letters of the Vietnamese (Latin) alphabet")]
    BadName(String),
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("pid: {0}")]
    Pid(#[from] PidError),
    #[error("birth_date {birth} is after today ({today})")]
    BornInFuture { birth: String, today: String },
    #[error("{0} must not be the person's own ID number")]
    SelfReference(&'static str),
    #[error("household_id and relation_to_head must be given together")]
    HouseholdWithoutRelation,
    #[error("household id {0:?} must be 1-20 letters, digits or '-'")]
    HouseholdId(String),
    #[error("nationality must be a 2-letter ISO code, got {0:?}")]
    Nationality(String),
    #[error("a married person needs spouse_pid, or marital_status other than married")]
    SpouseWithoutMarriage,
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), PersonError> {
    if value.chars().count() > max { Err(PersonError::TooLong { field, max }) } else { Ok(()) }
}

impl Person {
    /// NFC-normalizes every text field and checks the record's internal consistency.
    /// `today` is the date against which the birth date is checked.
    pub fn normalize_and_validate(mut self, today: time::Date) -> Result<Person, PersonError> {
        self.full_name = nfc(&self.full_name);
        if self.full_name.is_empty() {
            return Err(PersonError::EmptyName);
        }
        check_len("full_name", &self.full_name, 100)?;
        let words = self.full_name.split(' ').count();
        if words < 2
            || !self.full_name.chars().all(|c| c.is_alphabetic() || c == ' ' || c == '-' || c == '\'')
            || !civitas_core::text::is_latin_text(&self.full_name)
        {
            return Err(PersonError::BadName(self.full_name));
        }
        self.other_names = self.other_names.iter().map(|n| nfc(n)).filter(|n| !n.is_empty()).collect();
        for n in &self.other_names {
            check_len("other_names", n, 100)?;
        }
        for (field, value) in
            [("birth_registration_place", &mut self.birth_registration_place), ("hometown", &mut self.hometown)]
        {
            if let Some(v) = value {
                *v = nfc(v);
                check_len(field, v, 200)?;
            }
            if value.as_deref() == Some("") {
                *value = None;
            }
        }
        self.religion = nfc(&self.religion);
        check_len("religion", &self.religion, 60)?;
        if self.nationality.len() != 2 || !self.nationality.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(PersonError::Nationality(self.nationality));
        }
        self.pid.check_consistent(self.sex, self.birth_date.year())?;
        let birth_end = PartialDate::full(today);
        if self.birth_date > birth_end
            && !(self.birth_date.month().is_none() && self.birth_date.year() == birth_end.year())
        {
            return Err(PersonError::BornInFuture { birth: self.birth_date.to_string(), today: birth_end.to_string() });
        }
        for (field, other) in
            [("father_pid", self.father_pid), ("mother_pid", self.mother_pid), ("spouse_pid", self.spouse_pid)]
        {
            if other == Some(self.pid) {
                return Err(PersonError::SelfReference(field));
            }
        }
        if self.household_id.is_some() != self.relation_to_head.is_some() {
            return Err(PersonError::HouseholdWithoutRelation);
        }
        if self.marital_status == MaritalStatus::Married && self.spouse_pid.is_none() {
            return Err(PersonError::SpouseWithoutMarriage);
        }
        if let Some(r) = &mut self.permanent_residence {
            r.address = nfc(&r.address);
            check_len("permanent_residence.address", &r.address, 200)?;
        }
        if let Some(r) = &mut self.current_residence {
            r.address = nfc(&r.address);
            check_len("current_residence.address", &r.address, 200)?;
        }
        if let Some(r) = &mut self.temporary_residence {
            r.address = nfc(&r.address);
            check_len("temporary_residence.address", &r.address, 200)?;
        }
        self.version = None;
        self.updated_at = None;
        Ok(self)
    }

    /// The commune whose officers are responsible for this person: permanent residence, else
    /// temporary, else current.
    pub fn home_commune(&self) -> Option<&str> {
        self.permanent_residence
            .as_ref()
            .map(|r| r.commune.as_str())
            .or(self.temporary_residence.as_ref().map(|r| r.commune.as_str()))
            .or(self.current_residence.as_ref().map(|r| r.commune.as_str()))
    }

    /// Every commune the person is registered or living in.
    pub fn communes(&self) -> Vec<&str> {
        [
            self.permanent_residence.as_ref().map(|r| r.commune.as_str()),
            self.temporary_residence.as_ref().map(|r| r.commune.as_str()),
            self.current_residence.as_ref().map(|r| r.commune.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// The legal ground of a change to the register: free text and, when there is one, the
/// reference of the document (decision, dossier code ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    pub basis: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_ref: Option<String>,
}

/// One version of a person's record, with who changed it, why and when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Revision {
    pub version: i64,
    pub at: String,
    pub actor: String,
    /// `imported`, `registered`, `corrected`, `residence_changed` ...
    pub change: String,
    pub legal_basis: LegalBasis,
    pub record: Person,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HouseholdMember {
    pub pid: Pid,
    pub full_name: String,
    pub birth_date: PartialDate,
    pub sex: Sex,
    pub relation_to_head: Relation,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Household {
    pub id: HouseholdId,
    pub head_pid: Pid,
    pub address: Residence,
    pub members: Vec<HouseholdMember>,
    pub version: i64,
    pub updated_at: String,
}

/// A change an officer records on a person (a correction of civil data).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub full_name: Option<String>,
    pub other_names: Option<Vec<String>>,
    pub birth_date: Option<PartialDate>,
    pub birth_registration_place: Option<String>,
    pub hometown: Option<String>,
    pub ethnicity: Option<Ethnicity>,
    pub religion: Option<String>,
    pub nationality: Option<String>,
    pub marital_status: Option<MaritalStatus>,
    pub status: Option<LifeStatus>,
    pub father_pid: Option<Pid>,
    pub mother_pid: Option<Pid>,
    pub spouse_pid: Option<Pid>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.full_name.is_none()
            && self.other_names.is_none()
            && self.birth_date.is_none()
            && self.birth_registration_place.is_none()
            && self.hometown.is_none()
            && self.ethnicity.is_none()
            && self.religion.is_none()
            && self.nationality.is_none()
            && self.marital_status.is_none()
            && self.status.is_none()
            && self.father_pid.is_none()
            && self.mother_pid.is_none()
            && self.spouse_pid.is_none()
    }

    pub fn apply(self, mut p: Person) -> Person {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { p.$f = v; } )* };
        }
        set!(full_name, other_names, birth_date, ethnicity, religion, nationality, marital_status, status);
        macro_rules! set_opt {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { p.$f = Some(v); } )* };
        }
        set_opt!(birth_registration_place, hometown, father_pid, mother_pid, spouse_pid);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Person {
        serde_json::from_str(
            r#"{"pid":"001090123456","full_name":"Nguyễn  Văn An","birth_date":"1990-01-01","sex":"male"}"#,
        )
        .unwrap()
    }
    const TODAY: time::Date = time::macros::date!(2026 - 11 - 27);

    #[test]
    fn normalizes_and_accepts_a_minimal_record() {
        let p = sample().normalize_and_validate(TODAY).unwrap();
        assert_eq!(p.full_name, "Nguyễn Văn An");
        assert_eq!(p.ethnicity, Ethnicity::KINH);
    }

    #[test]
    fn rejects_inconsistent_records() {
        let mut p = sample();
        p.sex = Sex::Female;
        assert!(matches!(p.normalize_and_validate(TODAY), Err(PersonError::Pid(PidError::SexMismatch { .. }))));
        let mut p = sample();
        p.full_name = "An".into();
        assert!(matches!(p.normalize_and_validate(TODAY), Err(PersonError::BadName(_))));
        let mut p = sample();
        p.father_pid = Some(p.pid);
        assert!(matches!(p.normalize_and_validate(TODAY), Err(PersonError::SelfReference("father_pid"))));
        let mut p = sample();
        p.household_id = Some(HouseholdId::parse("H1").unwrap());
        assert!(matches!(p.normalize_and_validate(TODAY), Err(PersonError::HouseholdWithoutRelation)));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r: Result<Person, _> = serde_json::from_str(
            r#"{"pid":"001090123456","full_name":"Nguyễn Văn An","birth_dat":"1990","sex":"male"}"#,
        );
        assert!(r.is_err());
    }
}
