//! The register's storage port, one implementation for both databases (SQL in the portable
//! subset, run through [`civitas_store::dispatch!`]).
//!
//! The `people` row is the current version of a person, with the metadata of the change that
//! produced it; `person_revisions` keeps every earlier version. A bulk import therefore writes
//! one row per person, and a change copies the old row into the history first.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::QueryBuilder;

use civitas_core::{CommuneCode, Ethnicity, LifeStatus, MaritalStatus, PartialDate, Pid, Relation, Sex, fold, tokens};
use civitas_store::unit::{Value, Write};
use civitas_store::{Db, NewEvent, StoreError, dispatch, insert_events};

use crate::model::*;
use crate::search::{self, SearchQuery, Vocab};

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("no person has ID number {0}")]
    PersonNotFound(String),
    #[error("no household has id {0}")]
    HouseholdNotFound(String),
    #[error("a person with ID number {0} is already registered")]
    AlreadyRegistered(String),
    #[error("the record changed meanwhile (version {actual}, you sent {expected}); reload and retry")]
    VersionConflict { expected: i64, actual: i64 },
    #[error("{0}")]
    Invalid(#[from] PersonError),
    #[error("nothing to change")]
    NothingToChange,
    #[error("the legal basis of a change must be given")]
    MissingLegalBasis,
    #[error("{0} heads household {1} with other members: name the new head first")]
    HeadLeaving(String, String),
    #[error("{0} is not living: residence is not registered for the deceased or missing")]
    NotLiving(String),
    #[error("a temporary stay must end on a full date after today ({0}), at most two years ahead")]
    StayEnd(String),
    #[error("writing the output failed: {0}")]
    Output(std::io::Error),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RegisterError {
    fn from(e: sqlx::Error) -> Self {
        RegisterError::Store(StoreError::Database(e))
    }
}

const PERSON_COLUMNS: &str = "pid, full_name, name_folded, family_folded, given_folded, other_names, birth_date, \
    birth_year, sex, birth_registration_place, hometown, ethnicity, religion, nationality, marital_status, status, \
    father_pid, mother_pid, spouse_pid, permanent_commune, permanent_address, temporary_commune, temporary_address, \
    temporary_until, current_commune, current_address, household_id, relation_to_head, change_kind, changed_by, \
    legal_basis, document_ref, version, updated_at";

/// The columns of [`PersonRow`], in its field order (the direct read maps them by position).
const PERSON_ROW_COLUMNS: &str = "pid, full_name, other_names, birth_date, sex, birth_registration_place, hometown, \
    ethnicity, religion, nationality, marital_status, status, father_pid, mother_pid, spouse_pid, permanent_commune, \
    permanent_address, temporary_commune, temporary_address, temporary_until, current_commune, current_address, \
    household_id, relation_to_head, change_kind, changed_by, legal_basis, document_ref, version, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct PersonRow {
    pid: String,
    full_name: String,
    other_names: String,
    birth_date: String,
    sex: String,
    birth_registration_place: Option<String>,
    hometown: Option<String>,
    ethnicity: String,
    religion: String,
    nationality: String,
    marital_status: String,
    status: String,
    father_pid: Option<String>,
    mother_pid: Option<String>,
    spouse_pid: Option<String>,
    permanent_commune: Option<String>,
    permanent_address: Option<String>,
    temporary_commune: Option<String>,
    temporary_address: Option<String>,
    temporary_until: Option<String>,
    current_commune: Option<String>,
    current_address: Option<String>,
    household_id: Option<String>,
    relation_to_head: Option<String>,
    change_kind: String,
    changed_by: String,
    legal_basis: String,
    document_ref: Option<String>,
    version: i64,
    updated_at: String,
}

fn corrupt(pid: &str, what: &str) -> StoreError {
    StoreError::Corrupt(format!("person {pid}: {what}"))
}

impl PersonRow {
    /// From a row of `SELECT {PERSON_ROW_COLUMNS}` on a direct SQLite connection.
    fn from_direct(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(PersonRow {
            pid: r.get(0)?,
            full_name: r.get(1)?,
            other_names: r.get(2)?,
            birth_date: r.get(3)?,
            sex: r.get(4)?,
            birth_registration_place: r.get(5)?,
            hometown: r.get(6)?,
            ethnicity: r.get(7)?,
            religion: r.get(8)?,
            nationality: r.get(9)?,
            marital_status: r.get(10)?,
            status: r.get(11)?,
            father_pid: r.get(12)?,
            mother_pid: r.get(13)?,
            spouse_pid: r.get(14)?,
            permanent_commune: r.get(15)?,
            permanent_address: r.get(16)?,
            temporary_commune: r.get(17)?,
            temporary_address: r.get(18)?,
            temporary_until: r.get(19)?,
            current_commune: r.get(20)?,
            current_address: r.get(21)?,
            household_id: r.get(22)?,
            relation_to_head: r.get(23)?,
            change_kind: r.get(24)?,
            changed_by: r.get(25)?,
            legal_basis: r.get(26)?,
            document_ref: r.get(27)?,
            version: r.get(28)?,
            updated_at: r.get(29)?,
        })
    }

    fn into_person(self) -> Result<(Person, ChangeMeta), StoreError> {
        let pid_text = self.pid.clone();
        let c = |what: &str| corrupt(&pid_text, what);
        let opt_pid = |v: Option<String>| -> Result<Option<Pid>, StoreError> {
            v.map(|s| Pid::parse(&s).map_err(|_| c("linked pid"))).transpose()
        };
        let residence = |commune: Option<String>, address: Option<String>| -> Result<Option<Residence>, StoreError> {
            match commune {
                None => Ok(None),
                Some(code) => Ok(Some(Residence {
                    commune: CommuneCode::parse(&code).map_err(|_| c("commune"))?,
                    address: address.unwrap_or_default(),
                })),
            }
        };
        let temporary = match self.temporary_commune {
            None => None,
            Some(code) => Some(TemporaryResidence {
                commune: CommuneCode::parse(&code).map_err(|_| c("commune"))?,
                address: self.temporary_address.unwrap_or_default(),
                until: self.temporary_until.map(|u| u.parse::<PartialDate>().map_err(|_| c("until"))).transpose()?,
            }),
        };
        let person = Person {
            pid: Pid::parse(&self.pid).map_err(|_| c("pid"))?,
            full_name: self.full_name,
            other_names: serde_json::from_str(&self.other_names).map_err(|_| c("other_names"))?,
            birth_date: self.birth_date.parse().map_err(|_| c("birth_date"))?,
            sex: Sex::parse(&self.sex).ok_or_else(|| c("sex"))?,
            birth_registration_place: self.birth_registration_place,
            hometown: self.hometown,
            ethnicity: Ethnicity::parse(&self.ethnicity).ok_or_else(|| c("ethnicity"))?,
            religion: self.religion,
            nationality: self.nationality,
            marital_status: MaritalStatus::parse(&self.marital_status).ok_or_else(|| c("marital_status"))?,
            status: LifeStatus::parse(&self.status).ok_or_else(|| c("status"))?,
            father_pid: opt_pid(self.father_pid)?,
            mother_pid: opt_pid(self.mother_pid)?,
            spouse_pid: opt_pid(self.spouse_pid)?,
            permanent_residence: residence(self.permanent_commune, self.permanent_address)?,
            temporary_residence: temporary,
            current_residence: residence(self.current_commune, self.current_address)?,
            household_id: self
                .household_id
                .map(|h| HouseholdId::parse(&h).map_err(|_| c("household_id")))
                .transpose()?,
            relation_to_head: self
                .relation_to_head
                .map(|r| Relation::parse(&r).ok_or_else(|| c("relation_to_head")))
                .transpose()?,
            version: Some(self.version),
            updated_at: Some(self.updated_at.clone()),
        };
        let meta = ChangeMeta {
            change: self.change_kind,
            actor: self.changed_by,
            legal_basis: LegalBasis { basis: self.legal_basis, document_ref: self.document_ref },
            at: self.updated_at,
        };
        Ok((person, meta))
    }
}

/// Who made the current version of a record, why and when.
#[derive(Debug, Clone)]
pub struct ChangeMeta {
    pub change: String,
    pub actor: String,
    pub legal_basis: LegalBasis,
    pub at: String,
}

/// How a write is attributed.
#[derive(Debug, Clone)]
pub struct Attribution<'a> {
    pub actor: &'a str,
    pub legal_basis: &'a LegalBasis,
    pub at: &'a str,
}

/// Result of writing a batch of imported people.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportOutcome {
    pub inserted: u64,
    pub unchanged: u64,
}

/// Values of one `people` row, in [`PERSON_COLUMNS`] order, ready to bind.
struct RowValues<'a> {
    p: &'a Person,
    name_folded: String,
    family: String,
    given: String,
    other_names: String,
    change: &'a str,
    attribution: &'a Attribution<'a>,
    version: i64,
}

impl<'a> RowValues<'a> {
    fn new(p: &'a Person, change: &'a str, attribution: &'a Attribution<'a>, version: i64) -> Self {
        let folded = fold(&p.full_name);
        let family = folded.split(' ').next().unwrap_or_default().to_owned();
        let given = folded.rsplit(' ').next().unwrap_or_default().to_owned();
        RowValues {
            p,
            name_folded: folded,
            family,
            given,
            other_names: serde_json::to_string(&p.other_names).unwrap_or_else(|_| "[]".into()),
            change,
            attribution,
            version,
        }
    }
}

macro_rules! bind_person {
    ($b:expr, $v:expr) => {{
        let v = $v;
        let p = v.p;
        $b.push_bind(p.pid.as_str().to_owned())
            .push_bind(p.full_name.as_str())
            .push_bind(v.name_folded.as_str())
            .push_bind(v.family.as_str())
            .push_bind(v.given.as_str())
            .push_bind(v.other_names.as_str())
            .push_bind(p.birth_date.to_string())
            .push_bind(i64::from(p.birth_date.year()))
            .push_bind(p.sex.as_str())
            .push_bind(p.birth_registration_place.as_deref())
            .push_bind(p.hometown.as_deref())
            .push_bind(p.ethnicity.code())
            .push_bind(p.religion.as_str())
            .push_bind(p.nationality.as_str())
            .push_bind(p.marital_status.as_str())
            .push_bind(p.status.as_str())
            .push_bind(p.father_pid.map(|x| x.as_str().to_owned()))
            .push_bind(p.mother_pid.map(|x| x.as_str().to_owned()))
            .push_bind(p.spouse_pid.map(|x| x.as_str().to_owned()))
            .push_bind(p.permanent_residence.as_ref().map(|r| r.commune.as_str().to_owned()))
            .push_bind(p.permanent_residence.as_ref().map(|r| r.address.as_str()))
            .push_bind(p.temporary_residence.as_ref().map(|r| r.commune.as_str().to_owned()))
            .push_bind(p.temporary_residence.as_ref().map(|r| r.address.as_str()))
            .push_bind(p.temporary_residence.as_ref().and_then(|r| r.until.map(|u| u.to_string())))
            .push_bind(p.current_residence.as_ref().map(|r| r.commune.as_str().to_owned()))
            .push_bind(p.current_residence.as_ref().map(|r| r.address.as_str()))
            .push_bind(p.household_id.as_ref().map(|h| h.as_str()))
            .push_bind(p.relation_to_head.map(|r| r.as_str()))
            .push_bind(v.change)
            .push_bind(v.attribution.actor)
            .push_bind(v.attribution.legal_basis.basis.as_str())
            .push_bind(v.attribution.legal_basis.document_ref.as_deref())
            .push_bind(v.version)
            .push_bind(v.attribution.at);
    }};
}

/// The register, over one database.
pub struct Register {
    db: Db,
    /// Where read-only work (search) goes: a streaming replica when configured, else `db`.
    replica: Option<Db>,
    vocab: RwLock<Option<(Instant, Arc<Vocab>)>>,
    /// Whether an optimistic `COPY` of a batch met people registered already (PostgreSQL).
    copy_conflicts: std::sync::atomic::AtomicBool,
}

impl Register {
    pub fn new(db: Db) -> Self {
        Register { db, replica: None, vocab: RwLock::new(None), copy_conflicts: Default::default() }
    }

    /// Sends searches to `replica` (a PostgreSQL streaming replica of `db`); while the replica
    /// cannot be reached they fall back to the primary. Reads of one record, and everything a
    /// caller reads after its own write, stay on the primary.
    pub fn with_replica(mut self, replica: Db) -> Self {
        self.replica = Some(replica);
        self
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// The name parts of `people` for the search vocabulary: (family | middle | given, folded token).
fn name_vocab(people: &[Person]) -> BTreeSet<(&'static str, String)> {
    let mut vocab = BTreeSet::new();
    for p in people {
        let toks = tokens(&p.full_name);
        for (i, t) in toks.iter().enumerate() {
            let part = if i == 0 {
                "family"
            } else if i + 1 == toks.len() {
                "given"
            } else {
                "middle"
            };
            vocab.insert((part, t.clone()));
        }
    }
    vocab
}

/// One event per written batch (a single registration is a batch of one): a bulk import of a
/// million people appends a few dozen events, not a million.
fn batch_events(new_people: &[&Person], event_kind: &'static str, attribution: &Attribution<'_>) -> Vec<NewEvent> {
    let (subject, payload) = match new_people {
        [] => return Vec::new(),
        [one] => (one.pid.as_str().to_owned(), serde_json::Value::Null),
        many => (
            "register".to_owned(),
            serde_json::json!({ "pids": many.iter().map(|p| p.pid.as_str()).collect::<Vec<_>>() }),
        ),
    };
    vec![NewEvent {
        kind: event_kind,
        subject,
        payload,
        actor: attribution.actor.to_owned(),
        occurred_at: attribution.at.to_owned(),
    }]
}

fn const_format_people(tail: &str) -> String {
    format!("SELECT {PERSON_COLUMNS} FROM people {tail}")
}

mod changes;
pub mod households;
mod import;
mod reads;

use changes::*;
pub use changes::{HouseholdChoice, ResidenceChange, ResidenceKind};

#[cfg(test)]
mod tests {
    use super::import::copy_row;
    use super::*;

    #[test]
    fn copy_rows_escape_text_and_mark_nulls() {
        let line = r#"{"pid":"001090123456","full_name":"Nguyễn Văn An","birth_date":"1990-03","sex":"male","permanent_residence":{"commune":"00004","address":"Ngõ 5\\6\tphố Đội Cấn"}}"#;
        let today = time::macros::date!(2026 - 01 - 01);
        let person = serde_json::from_str::<Person>(line).unwrap().normalize_and_validate(today).unwrap();
        let basis = LegalBasis { basis: "tệp\nmột\tx".into(), document_ref: None };
        let attribution = Attribution { actor: "import", legal_basis: &basis, at: "2026-01-01T00:00:00.000000Z" };
        let mut out = Vec::new();
        copy_row(&mut out, &RowValues::new(&person, "imported", &attribution, 1));
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("\n") && text.matches('\n').count() == 1, "{text:?}");
        let fields: Vec<&str> = text.trim_end_matches('\n').split('\t').collect();
        assert_eq!(fields.len(), 34);
        assert_eq!(fields[0], "001090123456");
        assert_eq!(fields[2], "nguyen van an");
        assert_eq!(fields[6], "1990-03");
        assert_eq!(fields[9], "\\N", "no birth registration place");
        assert_eq!(fields[19], "00004");
        // Names and addresses arrive with whitespace normalized; the backslash stays.
        assert_eq!(fields[20], "Ngõ 5\\\\6 phố Đội Cấn");
        assert_eq!(fields[30], "tệp\\nmột\\tx");
        assert_eq!(fields[32], "1");
    }
}
