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

/// Rows per multi-row INSERT: 34 columns stay under SQLite's 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 900;

/// Bulk insert of new `people` rows, skipping PIDs already registered; returns the PIDs
/// inserted. The one place where the two backends use different SQL: SQLite takes multi-row
/// `VALUES`, PostgreSQL takes one array per column through `UNNEST` (one short statement per
/// batch instead of one with tens of thousands of parameters).
trait InsertPeople {
    /// `copy`: on PostgreSQL, how `COPY` may be used (see [`CopyMode`]).
    async fn insert_people(&mut self, rows: &[RowValues<'_>], copy: CopyMode) -> Result<Vec<String>, sqlx::Error>;

    /// With `copy` on PostgreSQL, copies the households of `heads` in and returns none left to
    /// insert; otherwise (and on SQLite) returns `heads` for the portable `INSERT ... ON
    /// CONFLICT DO NOTHING`.
    async fn insert_copied_households<'p>(
        &mut self,
        heads: Vec<&'p &'p Person>,
        _at: &str,
        _copy: CopyMode,
    ) -> Result<Vec<&'p &'p Person>, sqlx::Error> {
        Ok(heads)
    }
}

/// How a batch of new people is written on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CopyMode {
    /// Portable `INSERT ... ON CONFLICT DO NOTHING` (single registrations, and the last resort).
    Insert,
    /// `COPY` of the rows whose PID is not registered yet, found by one query first.
    Checked,
    /// `COPY` of every row without looking first: a fresh import. A PID registered already
    /// fails the batch on the key, and it is written again `Checked`.
    Optimistic,
}

impl InsertPeople for sqlx::SqliteConnection {
    async fn insert_people(&mut self, rows: &[RowValues<'_>], _copy: CopyMode) -> Result<Vec<String>, sqlx::Error> {
        let mut inserted = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::new(format!("INSERT INTO people ({PERSON_COLUMNS}) "));
            qb.push_values(chunk, |mut b, v| bind_person!(b, v));
            qb.push(" ON CONFLICT (pid) DO NOTHING RETURNING pid");
            let pids: Vec<String> = qb.build_query_scalar().fetch_all(&mut *self).await?;
            inserted.extend(pids);
        }
        Ok(inserted)
    }
}

impl InsertPeople for sqlx::PgConnection {
    async fn insert_copied_households<'p>(
        &mut self,
        heads: Vec<&'p &'p Person>,
        at: &str,
        copy: CopyMode,
    ) -> Result<Vec<&'p &'p Person>, sqlx::Error> {
        if copy == CopyMode::Insert || heads.is_empty() {
            return Ok(heads);
        }
        let mut data = Vec::with_capacity(heads.len() * 120);
        for p in &heads {
            let r = p.permanent_residence.as_ref();
            let id = p.household_id.as_ref().map(|h| h.as_str());
            let commune = r.map(|r| r.commune.as_str()).unwrap_or_default();
            let address = r.map(|r| r.address.as_str()).unwrap_or_default();
            for value in [id, Some(p.pid.as_str()), Some(commune), Some(address), Some("1"), Some(at)] {
                copy_field(&mut data, value);
            }
            end_copy_row(&mut data);
        }
        let mut copy = self
            .copy_in_raw("COPY households (id, head_pid, commune, address, version, updated_at) FROM STDIN")
            .await?;
        copy.send(data).await?;
        copy.finish().await?;
        Ok(Vec::new())
    }

    async fn insert_people(&mut self, rows: &[RowValues<'_>], copy: CopyMode) -> Result<Vec<String>, sqlx::Error> {
        if copy != CopyMode::Insert {
            // `COPY` of the rows whose PID is not registered yet: the server's fastest way in.
            let mut existing = std::collections::HashSet::new();
            if copy == CopyMode::Checked {
                let pids: Vec<&str> = rows.iter().map(|r| r.p.pid.as_str()).collect();
                existing = sqlx::query_scalar::<_, String>("SELECT pid FROM people WHERE pid = ANY($1)")
                    .bind(&pids)
                    .fetch_all(&mut *self)
                    .await?
                    .into_iter()
                    .collect();
            }
            let new: Vec<&RowValues> = rows.iter().filter(|r| !existing.contains(r.p.pid.as_str())).collect();
            if !new.is_empty() {
                let mut data = Vec::with_capacity(new.len() * 400);
                for r in &new {
                    copy_row(&mut data, r);
                }
                let mut copy = self.copy_in_raw(&format!("COPY people ({PERSON_COLUMNS}) FROM STDIN")).await?;
                copy.send(data).await?;
                copy.finish().await?;
            }
            return Ok(new.iter().map(|r| r.p.pid.as_str().to_owned()).collect());
        }
        fn col<'r, T>(rows: &'r [RowValues<'r>], f: impl Fn(&'r RowValues<'r>) -> T) -> Vec<T> {
            rows.iter().map(f).collect()
        }
        let text = |f: &dyn Fn(&RowValues) -> String| -> Vec<String> { rows.iter().map(f).collect() };
        let opt = |f: &dyn Fn(&RowValues) -> Option<String>| -> Vec<Option<String>> { rows.iter().map(f).collect() };
        let types = [
            "text", "text", "text", "text", "text", "text", "text", "bigint", "text", "text", "text", "text", "text",
            "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text",
            "text", "text", "text", "text", "text", "text", "bigint", "text",
        ];
        let unnest: Vec<String> = types.iter().enumerate().map(|(i, t)| format!("${}::{t}[]", i + 1)).collect();
        let sql = format!(
            "INSERT INTO people ({PERSON_COLUMNS}) SELECT * FROM UNNEST({}) ON CONFLICT (pid) DO NOTHING RETURNING pid",
            unnest.join(", ")
        );
        let res = |r: &RowValues| {
            r.p.permanent_residence.as_ref().map(|x| (x.commune.as_str().to_owned(), x.address.clone()))
        };
        fn tmp<'a>(r: &'a RowValues<'a>) -> Option<&'a TemporaryResidence> {
            r.p.temporary_residence.as_ref()
        }
        let cur =
            |r: &RowValues| r.p.current_residence.as_ref().map(|x| (x.commune.as_str().to_owned(), x.address.clone()));
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
            .bind(text(&|r| r.p.pid.as_str().to_owned()))
            .bind(text(&|r| r.p.full_name.clone()))
            .bind(text(&|r| r.name_folded.clone()))
            .bind(text(&|r| r.family.clone()))
            .bind(text(&|r| r.given.clone()))
            .bind(text(&|r| r.other_names.clone()))
            .bind(text(&|r| r.p.birth_date.to_string()))
            .bind(col(rows, |r| i64::from(r.p.birth_date.year())))
            .bind(text(&|r| r.p.sex.as_str().to_owned()))
            .bind(opt(&|r| r.p.birth_registration_place.clone()))
            .bind(opt(&|r| r.p.hometown.clone()))
            .bind(text(&|r| r.p.ethnicity.code()))
            .bind(text(&|r| r.p.religion.clone()))
            .bind(text(&|r| r.p.nationality.clone()))
            .bind(text(&|r| r.p.marital_status.as_str().to_owned()))
            .bind(text(&|r| r.p.status.as_str().to_owned()))
            .bind(opt(&|r| r.p.father_pid.map(|x| x.as_str().to_owned())))
            .bind(opt(&|r| r.p.mother_pid.map(|x| x.as_str().to_owned())))
            .bind(opt(&|r| r.p.spouse_pid.map(|x| x.as_str().to_owned())))
            .bind(opt(&|r| res(r).map(|x| x.0)))
            .bind(opt(&|r| res(r).map(|x| x.1)))
            .bind(opt(&|r| tmp(r).map(|x| x.commune.as_str().to_owned())))
            .bind(opt(&|r| tmp(r).map(|x| x.address.clone())))
            .bind(opt(&|r| tmp(r).and_then(|x| x.until.map(|u| u.to_string()))))
            .bind(opt(&|r| cur(r).map(|x| x.0)))
            .bind(opt(&|r| cur(r).map(|x| x.1)))
            .bind(opt(&|r| r.p.household_id.as_ref().map(|h| h.as_str().to_owned())))
            .bind(opt(&|r| r.p.relation_to_head.map(|x| x.as_str().to_owned())))
            .bind(text(&|r| r.change.to_owned()))
            .bind(text(&|r| r.attribution.actor.to_owned()))
            .bind(text(&|r| r.attribution.legal_basis.basis.clone()))
            .bind(opt(&|r| r.attribution.legal_basis.document_ref.clone()))
            .bind(col(rows, |r| r.version))
            .bind(text(&|r| r.attribution.at.to_owned()))
            .fetch_all(&mut *self)
            .await
    }
}

/// The register, over one database.
pub struct Register {
    db: Db,
    vocab: RwLock<Option<(Instant, Arc<Vocab>)>>,
    /// Whether an optimistic `COPY` of a batch met people registered already (PostgreSQL).
    copy_conflicts: std::sync::atomic::AtomicBool,
}

impl Register {
    pub fn new(db: Db) -> Self {
        Register { db, vocab: RwLock::new(None), copy_conflicts: Default::default() }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn get(&self, pid: &Pid) -> Result<Option<Person>, RegisterError> {
        Ok(self.get_with_meta(pid).await?.map(|(p, _)| p))
    }

    pub async fn get_with_meta(&self, pid: &Pid) -> Result<Option<(Person, ChangeMeta)>, RegisterError> {
        if let Some(direct) = self.db.direct() {
            // The hot read of the API (agency systems look people up by PID): a primary-key
            // lookup on the calling thread, without a round trip to sqlx's worker thread.
            let row = direct.read(|c| {
                use rusqlite::OptionalExtension;
                static SQL: std::sync::LazyLock<String> =
                    std::sync::LazyLock::new(|| format!("SELECT {PERSON_ROW_COLUMNS} FROM people WHERE pid = ?1"));
                c.prepare_cached(&SQL)?.query_row([pid.as_str()], PersonRow::from_direct).optional()
            })?;
            return Ok(row.map(PersonRow::into_person).transpose()?);
        }
        let sql = const_format_people("WHERE pid = $1");
        let row = dispatch!(&self.db, pool => sqlx::query_as::<_, PersonRow>(sqlx::AssertSqlSafe(sql)).bind(pid.as_str()).fetch_optional(pool).await)?;
        Ok(row.map(PersonRow::into_person).transpose()?)
    }

    pub async fn count(&self) -> Result<i64, RegisterError> {
        let n: i64 =
            dispatch!(&self.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM people").fetch_one(pool).await)?;
        Ok(n)
    }

    /// Some person, for showing an example (the demo banner).
    pub async fn sample_pid(&self) -> Result<Option<String>, RegisterError> {
        let sql =
            "SELECT pid FROM people WHERE household_id IS NOT NULL AND relation_to_head = 'head' ORDER BY pid LIMIT 1";
        Ok(dispatch!(&self.db, pool => sqlx::query_scalar(sql).fetch_optional(pool).await)?)
    }

    /// Up to `n` living people born in or before `born_by` (demo accounts), in PID order.
    /// Which of `pids` are registered.
    pub async fn registered(&self, pids: &[Pid]) -> Result<std::collections::HashSet<Pid>, RegisterError> {
        let values: Vec<String> = pids.iter().map(|p| p.as_str().to_owned()).collect();
        let found = self.existing("SELECT pid FROM people WHERE pid IN", &values).await?;
        Ok(found.iter().filter_map(|r| r.parse::<Pid>().ok()).collect())
    }

    /// Which of `ids` are households of the register.
    pub async fn existing_households(
        &self,
        ids: &[HouseholdId],
    ) -> Result<std::collections::HashSet<HouseholdId>, RegisterError> {
        let values: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let found = self.existing("SELECT id FROM households WHERE id IN", &values).await?;
        Ok(found.iter().filter_map(|r| HouseholdId::parse(r).ok()).collect())
    }

    /// The `values` that `select` (`SELECT key FROM table WHERE key IN`, a constant) finds, 500
    /// per query.
    async fn existing(&self, select: &'static str, values: &[String]) -> Result<Vec<String>, RegisterError> {
        let mut found = Vec::new();
        for chunk in values.chunks(500) {
            let list = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
            let sql = format!("{select} ({list})");
            let rows: Vec<String> = dispatch!(&self.db, pool => {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
                for v in chunk {
                    q = q.bind(v);
                }
                q.fetch_all(pool).await
            })?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// Up to `n` living people of `sex` born in `born_from..=born_to` who belong to a household,
    /// in ID-number order (for the demo's sample registrations).
    pub async fn living_sample(
        &self,
        sex: civitas_core::Sex,
        born_from: i64,
        born_to: i64,
        n: i64,
    ) -> Result<Vec<String>, RegisterError> {
        let sql = "SELECT pid FROM people WHERE status = 'living' AND sex = $1 AND birth_year >= $2 AND birth_year <= $3 \
                   AND household_id IS NOT NULL ORDER BY pid LIMIT $4";
        let sex = if sex == civitas_core::Sex::Female { "female" } else { "male" };
        Ok(
            dispatch!(&self.db, pool => sqlx::query_scalar(sql).bind(sex).bind(born_from).bind(born_to).bind(n).fetch_all(pool).await)?,
        )
    }

    pub async fn living_adults(&self, born_by: i64, n: i64) -> Result<Vec<String>, RegisterError> {
        let sql = "SELECT pid FROM people WHERE status = 'living' AND birth_year <= $1 AND household_id IS NOT NULL ORDER BY pid LIMIT $2";
        Ok(dispatch!(&self.db, pool => sqlx::query_scalar(sql).bind(born_by).bind(n).fetch_all(pool).await)?)
    }

    /// Inserts imported people that are not registered yet; those already registered are left
    /// as they are (import is idempotent by PID). One transaction per call.
    pub async fn import_batch(
        &self,
        people: &[Person],
        attribution: &Attribution<'_>,
    ) -> Result<ImportOutcome, RegisterError> {
        if let Some(direct) = self.db.direct().filter(|_| people.len() > 1) {
            // On a SQLite file: prepared single-row inserts on a plain connection, the way the
            // `sqlite3` shell loads rows, instead of building multi-row statements through sqlx.
            let _writer = self.db.write_lock().await;
            let run =
                || direct.write(|conn| insert_new_directly(conn, people, attribution, "imported", "person.imported"));
            return Ok(civitas_store::direct::blocking(run)?);
        }
        self.insert_new(people, attribution, "imported", "person.imported").await
    }

    async fn insert_new(
        &self,
        people: &[Person],
        attribution: &Attribution<'_>,
        change_kind: &str,
        event_kind: &'static str,
    ) -> Result<ImportOutcome, RegisterError> {
        // A batch (an import) is copied in, optimistically until a batch met people registered
        // already (a re-import), then after looking which are new; if someone registered one of
        // them meanwhile, the copy fails on the key and the batch is written again row by row.
        let mut copy = if people.len() < 100 {
            CopyMode::Insert
        } else if self.copy_conflicts.load(std::sync::atomic::Ordering::Relaxed) {
            CopyMode::Checked
        } else {
            CopyMode::Optimistic
        };
        loop {
            match self.insert_new_once(people, attribution, change_kind, event_kind, copy).await {
                Err(RegisterError::Store(StoreError::Database(sqlx::Error::Database(e))))
                    if copy != CopyMode::Insert && e.is_unique_violation() =>
                {
                    self.copy_conflicts.store(true, std::sync::atomic::Ordering::Relaxed);
                    copy = if copy == CopyMode::Optimistic { CopyMode::Checked } else { CopyMode::Insert };
                }
                other => return other,
            }
        }
    }

    async fn insert_new_once(
        &self,
        people: &[Person],
        attribution: &Attribution<'_>,
        change_kind: &str,
        event_kind: &'static str,
        copy: CopyMode,
    ) -> Result<ImportOutcome, RegisterError> {
        if people.is_empty() {
            return Ok(ImportOutcome::default());
        }
        let mut rows: Vec<RowValues> = people.iter().map(|p| RowValues::new(p, change_kind, attribution, 1)).collect();
        // Key order turns random primary-key inserts into runs on neighbouring pages.
        rows.sort_unstable_by_key(|r| r.p.pid);
        let vocab = name_vocab(people);
        let outcome = dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            let inserted = InsertPeople::insert_people(&mut *tx, &rows, copy).await?;
            let inserted_set: std::collections::HashSet<&str> = inserted.iter().map(String::as_str).collect();
            let new_people: Vec<&Person> = people.iter().filter(|p| inserted_set.contains(p.pid.as_str())).collect();
            let heads: Vec<&&Person> = new_people.iter().filter(|p| p.relation_to_head == Some(Relation::Head) && p.household_id.is_some()).collect();
            let heads = InsertPeople::insert_copied_households(&mut *tx, heads, attribution.at, copy).await?;
            for chunk in heads.chunks(1000) {
                let mut qb = QueryBuilder::new("INSERT INTO households (id, head_pid, commune, address, version, updated_at) ");
                qb.push_values(chunk, |mut b, p| {
                    let r = p.permanent_residence.as_ref();
                    b.push_bind(p.household_id.as_ref().map(|h| h.as_str()))
                        .push_bind(p.pid.as_str())
                        .push_bind(r.map(|r| r.commune.as_str()).unwrap_or_default())
                        .push_bind(r.map(|r| r.address.as_str()).unwrap_or_default())
                        .push_bind(1i64)
                        .push_bind(attribution.at);
                });
                qb.push(" ON CONFLICT (id) DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }
            let vocab: Vec<_> = vocab.iter().collect();
            for chunk in vocab.chunks(1000) {
                let mut qb = QueryBuilder::new("INSERT INTO name_vocab (part, token) ");
                qb.push_values(chunk, |mut b, (part, token)| {
                    b.push_bind(*part).push_bind(token.as_str());
                });
                qb.push(" ON CONFLICT (part, token) DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }
            // One event per written batch (a single registration is a batch of one): a bulk
            // import of a million people appends a few hundred events, not a million.
            let events = batch_events(&new_people, event_kind, attribution);
            insert_events!(tx, &events)?;
            tx.commit().await?;
            ImportOutcome { inserted: inserted.len() as u64, unchanged: (people.len() - inserted.len()) as u64 }
        });
        Ok(outcome)
    }

    /// Registers one new person (an officer's act), with a revision and an event.
    pub async fn register(&self, person: Person, attribution: &Attribution<'_>) -> Result<Person, RegisterError> {
        if attribution.legal_basis.basis.trim().is_empty() {
            return Err(RegisterError::MissingLegalBasis);
        }
        let pid = person.pid;
        let outcome =
            self.insert_new(std::slice::from_ref(&person), attribution, "registered", "person.registered").await?;
        if outcome.inserted == 0 {
            return Err(RegisterError::AlreadyRegistered(pid.to_string()));
        }
        self.get(&pid).await?.ok_or_else(|| RegisterError::PersonNotFound(pid.to_string()))
    }

    /// Writes a new version of one person: copies the current row into the history, replaces it
    /// and appends `events`, in one transaction. Fails on a version conflict.
    async fn write_version(
        &self,
        new: &Person,
        expected_version: i64,
        change: &str,
        attribution: &Attribution<'_>,
        events: &[NewEvent],
        household_writes: &[HouseholdWrite],
    ) -> Result<(), RegisterError> {
        let values = RowValues::new(new, change, attribution, expected_version + 1);
        let snapshot_sql = "INSERT INTO person_revisions (pid, version, at, actor, change, legal_basis, document_ref, snapshot) \
             SELECT pid, version, updated_at, changed_by, change_kind, legal_basis, document_ref, $1 FROM people WHERE pid = $2 AND version = $3";
        let result: Result<(), RegisterError> = dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            let current = sqlx::query_as::<_, PersonRow>(sqlx::AssertSqlSafe(const_format_people("WHERE pid = $1")))
                .bind(new.pid.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| RegisterError::PersonNotFound(new.pid.to_string()))?;
            if current.version != expected_version {
                return Err(RegisterError::VersionConflict { expected: expected_version, actual: current.version });
            }
            let (old, _) = current.into_person()?;
            let snapshot = serde_json::to_string(&old).unwrap_or_default();
            sqlx::query(snapshot_sql)
                .bind(snapshot)
                .bind(new.pid.as_str())
                .bind(expected_version)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM people WHERE pid = $1").bind(new.pid.as_str()).execute(&mut *tx).await?;
            let mut qb = QueryBuilder::new(format!("INSERT INTO people ({PERSON_COLUMNS}) "));
            qb.push_values(std::iter::once(&values), |mut b, v| bind_person!(b, v));
            qb.build().execute(&mut *tx).await?;
            for w in household_writes {
                match w {
                    HouseholdWrite::Create { id, head, residence } => {
                        sqlx::query("INSERT INTO households (id, head_pid, commune, address, version, updated_at) VALUES ($1, $2, $3, $4, 1, $5)")
                            .bind(id.as_str()).bind(head.as_str()).bind(residence.commune.as_str()).bind(residence.address.as_str()).bind(attribution.at)
                            .execute(&mut *tx).await?;
                    }
                    HouseholdWrite::Dissolve { id } => {
                        sqlx::query("DELETE FROM households WHERE id = $1").bind(id.as_str()).execute(&mut *tx).await?;
                    }
                }
            }
            let tokens = tokens(&new.full_name);
            for (i, t) in tokens.iter().enumerate() {
                let part = if i == 0 { "family" } else if i + 1 == tokens.len() { "given" } else { "middle" };
                sqlx::query("INSERT INTO name_vocab (part, token) VALUES ($1, $2) ON CONFLICT (part, token) DO NOTHING")
                    .bind(part).bind(t.as_str()).execute(&mut *tx).await?;
            }
            insert_events!(tx, events)?;
            tx.commit().await?;
            Ok(())
        });
        result
    }

    /// Corrects civil data of a person (not residence), keeping the earlier version.
    pub async fn correct(
        &self,
        pid: &Pid,
        change: Change,
        expected_version: Option<i64>,
        attribution: &Attribution<'_>,
        today: time::Date,
    ) -> Result<Person, RegisterError> {
        if attribution.legal_basis.basis.trim().is_empty() {
            return Err(RegisterError::MissingLegalBasis);
        }
        if change.is_empty() {
            return Err(RegisterError::NothingToChange);
        }
        let current = self.get(pid).await?.ok_or_else(|| RegisterError::PersonNotFound(pid.to_string()))?;
        let version = current.version.unwrap_or(1);
        let expected = expected_version.unwrap_or(version);
        let changed_fields = change_fields(&change);
        let was_living = current.status != LifeStatus::Deceased;
        let updated = change.apply(current).normalize_and_validate(today)?;
        let mut events = vec![NewEvent {
            kind: "person.corrected",
            subject: pid.to_string(),
            payload: serde_json::json!({ "fields": changed_fields, "version": expected + 1 }),
            actor: attribution.actor.to_owned(),
            occurred_at: attribution.at.to_owned(),
        }];
        if was_living && updated.status == LifeStatus::Deceased {
            // Other contexts follow deaths (the e-ID account is locked, for one).
            events.push(NewEvent {
                kind: "person.deceased",
                subject: pid.to_string(),
                payload: serde_json::json!({ "version": expected + 1 }),
                actor: attribution.actor.to_owned(),
                occurred_at: attribution.at.to_owned(),
            });
        }
        self.write_version(&updated, expected, "corrected", attribution, &events, &[]).await?;
        self.get(pid).await?.ok_or_else(|| RegisterError::PersonNotFound(pid.to_string()))
    }

    /// Records a residence change (registration of permanent or temporary residence, or the
    /// current address), moving the person between households when asked.
    pub async fn change_residence(
        &self,
        pid: &Pid,
        request: ResidenceChange,
        attribution: &Attribution<'_>,
    ) -> Result<Person, RegisterError> {
        if attribution.legal_basis.basis.trim().is_empty() {
            return Err(RegisterError::MissingLegalBasis);
        }
        let mut person = self.get(pid).await?.ok_or_else(|| RegisterError::PersonNotFound(pid.to_string()))?;
        if person.status != civitas_core::LifeStatus::Living {
            return Err(RegisterError::NotLiving(pid.to_string()));
        }
        if let ResidenceKind::Temporary(t) = &request.kind {
            let today = request.today;
            let ok = t
                .until
                .as_ref()
                .and_then(PartialDate::to_date)
                .is_some_and(|d| d > today && d <= today.saturating_add(time::Duration::days(2 * 366)));
            if !ok {
                return Err(RegisterError::StayEnd(today.to_string()));
            }
        }
        let version = request.expected_version.or(person.version).unwrap_or(1);
        let mut household_writes = Vec::new();
        let kind = match &request.kind {
            ResidenceKind::Permanent { residence, household } => {
                // Leaving the old household.
                if let (Some(old), Some(Relation::Head)) = (&person.household_id, person.relation_to_head) {
                    let others = self.household_member_count(old).await?.saturating_sub(1);
                    if others > 0 {
                        return Err(RegisterError::HeadLeaving(pid.to_string(), old.to_string()));
                    }
                    household_writes.push(HouseholdWrite::Dissolve { id: old.clone() });
                }
                match household {
                    HouseholdChoice::Join { id, relation } => {
                        if self.household_row(id).await?.is_none() {
                            return Err(RegisterError::HouseholdNotFound(id.to_string()));
                        }
                        person.household_id = Some(id.clone());
                        person.relation_to_head = Some(*relation);
                    }
                    HouseholdChoice::New { id } => {
                        household_writes.push(HouseholdWrite::Create {
                            id: id.clone(),
                            head: *pid,
                            residence: residence.clone(),
                        });
                        person.household_id = Some(id.clone());
                        person.relation_to_head = Some(Relation::Head);
                    }
                }
                person.permanent_residence = Some(residence.clone());
                person.current_residence = Some(residence.clone());
                "permanent"
            }
            ResidenceKind::Temporary(t) => {
                person.temporary_residence = Some(t.clone());
                person.current_residence = Some(Residence { commune: t.commune.clone(), address: t.address.clone() });
                "temporary"
            }
            ResidenceKind::Current(r) => {
                person.current_residence = Some(r.clone());
                "current"
            }
        };
        let event = NewEvent {
            kind: "person.residence_changed",
            subject: pid.to_string(),
            payload: serde_json::json!({
                "kind": kind,
                "commune": person.current_residence.as_ref().map(|r| r.commune.as_str()),
                "household_id": person.household_id.as_ref().map(|h| h.as_str()),
            }),
            actor: attribution.actor.to_owned(),
            occurred_at: attribution.at.to_owned(),
        };
        self.write_version(&person, version, "residence_changed", attribution, &[event], &household_writes).await?;
        self.get(pid).await?.ok_or_else(|| RegisterError::PersonNotFound(pid.to_string()))
    }

    /// Every version of a person's record, newest first.
    pub async fn history(&self, pid: &Pid) -> Result<Option<Vec<Revision>>, RegisterError> {
        let Some((current, meta)) = self.get_with_meta(pid).await? else {
            return Ok(None);
        };
        #[derive(sqlx::FromRow)]
        struct RevisionRow {
            version: i64,
            at: String,
            actor: String,
            change: String,
            legal_basis: String,
            document_ref: Option<String>,
            snapshot: String,
        }
        let sql = "SELECT version, at, actor, change, legal_basis, document_ref, snapshot FROM person_revisions WHERE pid = $1 ORDER BY version DESC";
        let rows = dispatch!(&self.db, pool => sqlx::query_as::<_, RevisionRow>(sql).bind(pid.as_str()).fetch_all(pool).await)?;
        let mut out = vec![Revision {
            version: current.version.unwrap_or(1),
            at: meta.at,
            actor: meta.actor,
            change: meta.change,
            legal_basis: meta.legal_basis,
            record: current,
        }];
        for r in rows {
            let mut record: Person =
                serde_json::from_str(&r.snapshot).map_err(|_| corrupt(pid.as_str(), "revision snapshot"))?;
            record.version = Some(r.version);
            record.updated_at = Some(r.at.clone());
            out.push(Revision {
                version: r.version,
                at: r.at,
                actor: r.actor,
                change: r.change,
                legal_basis: LegalBasis { basis: r.legal_basis, document_ref: r.document_ref },
                record,
            });
        }
        Ok(Some(out))
    }

    async fn household_row(&self, id: &HouseholdId) -> Result<Option<HouseholdRow>, RegisterError> {
        let sql = "SELECT id, head_pid, commune, address, version, updated_at FROM households WHERE id = $1";
        Ok(
            dispatch!(&self.db, pool => sqlx::query_as::<_, HouseholdRow>(sql).bind(id.as_str()).fetch_optional(pool).await)?,
        )
    }

    async fn household_member_count(&self, id: &HouseholdId) -> Result<i64, RegisterError> {
        let sql = "SELECT COUNT(*) FROM people WHERE household_id = $1";
        Ok(dispatch!(&self.db, pool => sqlx::query_scalar::<_, i64>(sql).bind(id.as_str()).fetch_one(pool).await)?)
    }

    pub async fn household(&self, id: &HouseholdId) -> Result<Option<Household>, RegisterError> {
        let Some(row) = self.household_row(id).await? else {
            return Ok(None);
        };
        let sql = const_format_people("WHERE household_id = $1 ORDER BY pid");
        let rows = dispatch!(&self.db, pool => sqlx::query_as::<_, PersonRow>(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_all(pool).await)?;
        let mut members = Vec::with_capacity(rows.len());
        for r in rows {
            let (p, _) = r.into_person()?;
            members.push(HouseholdMember {
                pid: p.pid,
                full_name: p.full_name,
                birth_date: p.birth_date,
                sex: p.sex,
                relation_to_head: p.relation_to_head.unwrap_or(Relation::Other),
            });
        }
        members.sort_by_key(|m| (m.relation_to_head != Relation::Head, m.birth_date));
        let bad = |w: &str| corrupt(&row.head_pid, w);
        Ok(Some(Household {
            id: id.clone(),
            head_pid: Pid::parse(&row.head_pid).map_err(|_| bad("household head"))?,
            address: Residence {
                commune: CommuneCode::parse(&row.commune).map_err(|_| bad("household commune"))?,
                address: row.address,
            },
            members,
            version: row.version,
            updated_at: row.updated_at,
        }))
    }

    /// Streams every person in PID order, `batch` at a time, to `sink`.
    pub async fn export<F>(&self, batch: i64, mut sink: F) -> Result<u64, RegisterError>
    where
        F: FnMut(&Person) -> Result<(), std::io::Error>,
    {
        let mut after = String::new();
        let mut total = 0u64;
        loop {
            let sql = const_format_people("WHERE pid > $1 ORDER BY pid LIMIT $2");
            let rows = dispatch!(&self.db, pool => sqlx::query_as::<_, PersonRow>(sqlx::AssertSqlSafe(sql)).bind(&after).bind(batch).fetch_all(pool).await)?;
            if rows.is_empty() {
                return Ok(total);
            }
            for row in rows {
                let (mut p, _) = row.into_person()?;
                after = p.pid.to_string();
                p.version = None;
                p.updated_at = None;
                sink(&p).map_err(RegisterError::Output)?;
                total += 1;
            }
        }
    }

    async fn vocab(&self) -> Result<Arc<Vocab>, RegisterError> {
        if let Ok(guard) = self.vocab.read()
            && let Some((at, v)) = guard.as_ref()
            && at.elapsed() < Duration::from_secs(30)
        {
            return Ok(v.clone());
        }
        let rows: Vec<(String, String)> =
            dispatch!(&self.db, pool => sqlx::query_as("SELECT part, token FROM name_vocab").fetch_all(pool).await)?;
        let vocab = Arc::new(Vocab::from_rows(rows));
        if let Ok(mut guard) = self.vocab.write() {
            *guard = Some((Instant::now(), vocab.clone()));
        }
        Ok(vocab)
    }

    /// Ranks `candidates` against the query and fetches the best `limit` rows that pass the
    /// filters, in rank order.
    async fn rank_and_fetch(
        &self,
        query_tokens: &[String],
        candidates: &HashMap<String, String>,
        q: &SearchQuery,
        allowed_communes: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<Person>, RegisterError> {
        let mut ranked: Vec<(i64, &str, &str)> = candidates
            .iter()
            .filter_map(|(pid, name)| search::score(query_tokens, name).map(|s| (s, name.as_str(), pid.as_str())))
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)).then_with(|| a.2.cmp(b.2)));
        let in_scope = |p: &Person| {
            let commune = p.permanent_residence.as_ref().map(|r| r.commune.as_str());
            q.birth_year.is_none_or(|y| i64::from(p.birth_date.year()) == y)
                && q.commune.as_deref().is_none_or(|c| commune == Some(c))
                && allowed_communes.is_none_or(|allowed| commune.is_some_and(|c| allowed.iter().any(|a| a == c)))
        };
        let mut out = Vec::with_capacity(limit);
        for chunk in ranked.chunks(limit.max(25)) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = const_format_people(&format!("WHERE pid IN ({})", placeholders.join(", ")));
            let rows = dispatch!(&self.db, pool => {
                let mut query = sqlx::query_as::<_, PersonRow>(sqlx::AssertSqlSafe(sql));
                for (_, _, pid) in chunk {
                    query = query.bind(*pid);
                }
                query.fetch_all(pool).await
            })?;
            let mut by_pid: HashMap<String, Person> = HashMap::new();
            for r in rows {
                let (p, _) = r.into_person()?;
                by_pid.insert(p.pid.to_string(), p);
            }
            for (_, _, pid) in chunk {
                if let Some(p) = by_pid.remove(*pid).filter(|p| in_scope(p)) {
                    out.push(p);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Folded, typo-tolerant name search, ranked; restricted to `allowed_communes` when given.
    pub async fn search(
        &self,
        q: &SearchQuery,
        allowed_communes: Option<&[String]>,
    ) -> Result<Vec<Person>, RegisterError> {
        let query_tokens = tokens(&q.text);
        if query_tokens.is_empty() {
            return Ok(Vec::new());
        }
        let vocab = self.vocab().await?;
        let plan = search::plan(&query_tokens, &vocab);
        if plan.is_empty() {
            return Ok(Vec::new());
        }
        // Narrow filters (a commune, a birth year, a commune-level scope) go into the SQL; a wide
        // scope (a province: 100+ communes) is checked on the ranked rows instead, so that the
        // candidate lookup stays on the covering name index.
        let narrow_scope = allowed_communes.map(|c| c.len() <= 10).unwrap_or(true);
        let sql_filters = q.commune.is_some() || q.birth_year.is_some() || narrow_scope;
        // Steps run lazily: when the exact full-name lookup already fills the page, the wider
        // typo-tolerant lookup (thousands of index entries for common names) is skipped.
        let limit = q.limit.clamp(1, 100) as usize;
        let mut candidates: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        for step in &plan {
            let rows: Vec<(String, String)> = dispatch!(&self.db, pool => {
                let mut qb = QueryBuilder::new("SELECT pid, name_folded FROM people WHERE ");
                search::push_conditions(&mut qb, step, q, allowed_communes.filter(|_| sql_filters), sql_filters);
                qb.push(" LIMIT ");
                qb.push_bind(search::CANDIDATE_LIMIT);
                qb.build_query_as().fetch_all(pool).await
            })?;
            for (pid, name) in rows {
                candidates.entry(pid).or_insert(name);
            }
            out = self.rank_and_fetch(&query_tokens, &candidates, q, allowed_communes, limit).await?;
            if out.len() >= limit || candidates.len() as i64 >= search::CANDIDATE_LIMIT {
                break;
            }
        }
        Ok(out)
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

/// [`Register::import_batch`] on a direct SQLite connection: one transaction, a prepared
/// single-row insert per person (`ON CONFLICT DO NOTHING`: people already registered are left
/// as they are), then the households of new heads, the name vocabulary and the batch's event.
fn insert_new_directly(
    conn: &mut rusqlite::Connection,
    people: &[Person],
    attribution: &Attribution<'_>,
    change_kind: &str,
    event_kind: &'static str,
) -> rusqlite::Result<ImportOutcome> {
    static INSERT_PERSON: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let params: Vec<String> = (1..=34).map(|i| format!("?{i}")).collect();
        format!("INSERT INTO people ({PERSON_COLUMNS}) VALUES ({}) ON CONFLICT (pid) DO NOTHING", params.join(", "))
    });
    let mut rows: Vec<RowValues> = people.iter().map(|p| RowValues::new(p, change_kind, attribution, 1)).collect();
    // Key order turns random primary-key inserts into runs on neighbouring pages.
    rows.sort_unstable_by_key(|r| r.p.pid);
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut new_people: Vec<&Person> = Vec::with_capacity(rows.len());
    {
        let mut insert = tx.prepare_cached(&INSERT_PERSON)?;
        for v in &rows {
            let p = v.p;
            fn residence(r: &Option<Residence>) -> Option<(&str, &str)> {
                r.as_ref().map(|r| (r.commune.as_str(), r.address.as_str()))
            }
            let (permanent, current) = (residence(&p.permanent_residence), residence(&p.current_residence));
            let temporary = p.temporary_residence.as_ref();
            let inserted = insert.execute(rusqlite::params![
                p.pid.as_str(),
                p.full_name,
                v.name_folded,
                v.family,
                v.given,
                v.other_names,
                p.birth_date.to_string(),
                i64::from(p.birth_date.year()),
                p.sex.as_str(),
                p.birth_registration_place,
                p.hometown,
                p.ethnicity.code(),
                p.religion,
                p.nationality,
                p.marital_status.as_str(),
                p.status.as_str(),
                p.father_pid.as_ref().map(Pid::as_str),
                p.mother_pid.as_ref().map(Pid::as_str),
                p.spouse_pid.as_ref().map(Pid::as_str),
                permanent.map(|r| r.0),
                permanent.map(|r| r.1),
                temporary.map(|r| r.commune.as_str()),
                temporary.map(|r| r.address.as_str()),
                temporary.and_then(|r| r.until.map(|u| u.to_string())),
                current.map(|r| r.0),
                current.map(|r| r.1),
                p.household_id.as_ref().map(|h| h.as_str()),
                p.relation_to_head.map(|r| r.as_str()),
                v.change,
                v.attribution.actor,
                v.attribution.legal_basis.basis,
                v.attribution.legal_basis.document_ref,
                v.version,
                v.attribution.at,
            ])?;
            if inserted == 1 {
                new_people.push(p);
            }
        }
        let mut household = tx.prepare_cached(
            "INSERT INTO households (id, head_pid, commune, address, version, updated_at) \
             VALUES (?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT (id) DO NOTHING",
        )?;
        for p in new_people.iter().filter(|p| p.relation_to_head == Some(Relation::Head)) {
            let Some(id) = &p.household_id else { continue };
            let r = p.permanent_residence.as_ref();
            household.execute(rusqlite::params![
                id.as_str(),
                p.pid.as_str(),
                r.map(|r| r.commune.as_str()).unwrap_or_default(),
                r.map(|r| r.address.as_str()).unwrap_or_default(),
                attribution.at,
            ])?;
        }
        let mut vocab = tx.prepare_cached(
            "INSERT INTO name_vocab (part, token) VALUES (?1, ?2) ON CONFLICT (part, token) DO NOTHING",
        )?;
        for (part, token) in name_vocab(people) {
            vocab.execute(rusqlite::params![part, token])?;
        }
        let mut event = tx.prepare_cached(
            "INSERT INTO events (kind, subject, payload, actor, occurred_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for e in batch_events(&new_people, event_kind, attribution) {
            event.execute(rusqlite::params![e.kind, e.subject, e.payload.to_string(), e.actor, e.occurred_at])?;
        }
    }
    tx.commit()?;
    let inserted = new_people.len() as u64;
    Ok(ImportOutcome { inserted, unchanged: people.len() as u64 - inserted })
}

/// Appends one `people` row in `COPY ... FROM STDIN` text format (columns in [`PERSON_COLUMNS`]
/// order, tab-separated, `\N` for NULL, backslash escapes).
fn copy_row(out: &mut Vec<u8>, v: &RowValues<'_>) {
    let p = v.p;
    let residence = |r: &Option<Residence>| r.as_ref().map(|r| (r.commune.as_str().to_owned(), r.address.clone()));
    let (permanent, current) = (residence(&p.permanent_residence), residence(&p.current_residence));
    let temporary = p.temporary_residence.as_ref();
    let birth_date = p.birth_date.to_string();
    let birth_year = p.birth_date.year().to_string();
    let until = temporary.and_then(|r| r.until.map(|u| u.to_string()));
    let version = v.version.to_string();
    let ethnicity = p.ethnicity.code();
    let values: [Option<&str>; 34] = [
        Some(p.pid.as_str()),
        Some(&p.full_name),
        Some(&v.name_folded),
        Some(&v.family),
        Some(&v.given),
        Some(&v.other_names),
        Some(&birth_date),
        Some(&birth_year),
        Some(p.sex.as_str()),
        p.birth_registration_place.as_deref(),
        p.hometown.as_deref(),
        Some(&ethnicity),
        Some(&p.religion),
        Some(&p.nationality),
        Some(p.marital_status.as_str()),
        Some(p.status.as_str()),
        p.father_pid.as_ref().map(Pid::as_str),
        p.mother_pid.as_ref().map(Pid::as_str),
        p.spouse_pid.as_ref().map(Pid::as_str),
        permanent.as_ref().map(|r| r.0.as_str()),
        permanent.as_ref().map(|r| r.1.as_str()),
        temporary.map(|r| r.commune.as_str()),
        temporary.map(|r| r.address.as_str()),
        until.as_deref(),
        current.as_ref().map(|r| r.0.as_str()),
        current.as_ref().map(|r| r.1.as_str()),
        p.household_id.as_ref().map(|h| h.as_str()),
        p.relation_to_head.map(|r| r.as_str()),
        Some(v.change),
        Some(v.attribution.actor),
        Some(&v.attribution.legal_basis.basis),
        v.attribution.legal_basis.document_ref.as_deref(),
        Some(&version),
        Some(v.attribution.at),
    ];
    for value in values {
        copy_field(out, value);
    }
    end_copy_row(out);
}

/// Appends one field and its tab in `COPY` text format.
fn copy_field(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.extend_from_slice(b"\\N"),
        Some(s) => {
            for b in s.bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(b),
                }
            }
        }
    }
    out.push(b'\t');
}

/// Turns the last field's tab into the end of the row.
fn end_copy_row(out: &mut [u8]) {
    if let Some(last) = out.last_mut() {
        *last = b'\n';
    }
}

fn const_format_people(tail: &str) -> String {
    format!("SELECT {PERSON_COLUMNS} FROM people {tail}")
}

fn change_fields(c: &Change) -> Vec<&'static str> {
    let mut v = Vec::new();
    macro_rules! f { ($($name:ident),*) => { $( if c.$name.is_some() { v.push(stringify!($name)); } )* } }
    f!(
        full_name,
        other_names,
        birth_date,
        birth_registration_place,
        hometown,
        ethnicity,
        religion,
        nationality,
        marital_status,
        status,
        father_pid,
        mother_pid,
        spouse_pid
    );
    v
}

#[derive(sqlx::FromRow)]
struct HouseholdRow {
    #[allow(dead_code)]
    id: String,
    head_pid: String,
    commune: String,
    address: String,
    version: i64,
    updated_at: String,
}

enum HouseholdWrite {
    Create { id: HouseholdId, head: Pid, residence: Residence },
    Dissolve { id: HouseholdId },
}

/// What kind of residence is being recorded.
#[derive(Debug, Clone)]
pub enum ResidenceKind {
    Permanent { residence: Residence, household: HouseholdChoice },
    Temporary(TemporaryResidence),
    Current(Residence),
}

#[derive(Debug, Clone)]
pub enum HouseholdChoice {
    Join { id: HouseholdId, relation: Relation },
    New { id: HouseholdId },
}

#[derive(Debug, Clone)]
pub struct ResidenceChange {
    pub kind: ResidenceKind,
    pub expected_version: Option<i64>,
    /// The day of the registration (a temporary stay must end after it).
    pub today: time::Date,
}

/// The values of a `people` row in [`PERSON_COLUMNS`] order, for a planned write.
fn person_values(v: &RowValues<'_>) -> Vec<Value> {
    let p = v.p;
    let text = |s: Option<&str>| Value::Text(s.map(str::to_owned));
    vec![
        p.pid.as_str().into(),
        p.full_name.as_str().into(),
        v.name_folded.as_str().into(),
        v.family.as_str().into(),
        v.given.as_str().into(),
        v.other_names.as_str().into(),
        p.birth_date.to_string().into(),
        i64::from(p.birth_date.year()).into(),
        p.sex.as_str().into(),
        text(p.birth_registration_place.as_deref()),
        text(p.hometown.as_deref()),
        p.ethnicity.code().into(),
        p.religion.as_str().into(),
        p.nationality.as_str().into(),
        p.marital_status.as_str().into(),
        p.status.as_str().into(),
        text(p.father_pid.as_ref().map(|x| x.as_str())),
        text(p.mother_pid.as_ref().map(|x| x.as_str())),
        text(p.spouse_pid.as_ref().map(|x| x.as_str())),
        text(p.permanent_residence.as_ref().map(|r| r.commune.as_str())),
        text(p.permanent_residence.as_ref().map(|r| r.address.as_str())),
        text(p.temporary_residence.as_ref().map(|r| r.commune.as_str())),
        text(p.temporary_residence.as_ref().map(|r| r.address.as_str())),
        Value::Text(p.temporary_residence.as_ref().and_then(|r| r.until.map(|u| u.to_string()))),
        text(p.current_residence.as_ref().map(|r| r.commune.as_str())),
        text(p.current_residence.as_ref().map(|r| r.address.as_str())),
        text(p.household_id.as_ref().map(|h| h.as_str())),
        text(p.relation_to_head.map(|r| r.as_str())),
        v.change.into(),
        v.attribution.actor.into(),
        v.attribution.legal_basis.basis.as_str().into(),
        text(v.attribution.legal_basis.document_ref.as_deref()),
        v.version.into(),
        v.attribution.at.into(),
    ]
}

fn insert_person_write(values: &RowValues<'_>) -> Write {
    let placeholders = (1..=34).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    Write::new(format!("INSERT INTO people ({PERSON_COLUMNS}) VALUES ({placeholders})"), person_values(values))
}

fn vocab_writes(full_name: &str) -> Vec<Write> {
    let toks = tokens(full_name);
    toks.iter()
        .enumerate()
        .map(|(i, t)| {
            let part = if i == 0 {
                "family"
            } else if i + 1 == toks.len() {
                "given"
            } else {
                "middle"
            };
            Write::new(
                "INSERT INTO name_vocab (part, token) VALUES ($1, $2) ON CONFLICT (part, token) DO NOTHING",
                vec![part.into(), t.as_str().into()],
            )
        })
        .collect()
}

impl Register {
    /// The writes that register a new person (validated), with the `person.registered` event;
    /// for another context to commit together with its own writes. Fails (as a guarded write)
    /// if the PID is taken.
    pub fn plan_register(&self, person: &Person, attribution: &Attribution<'_>) -> Result<Vec<Write>, RegisterError> {
        if attribution.legal_basis.basis.trim().is_empty() {
            return Err(RegisterError::MissingLegalBasis);
        }
        let values = RowValues::new(person, "registered", attribution, 1);
        let mut insert = insert_person_write(&values);
        insert.sql = format!("{} ON CONFLICT (pid) DO NOTHING", insert.sql).into();
        let mut writes = vec![insert.expecting(1, "the ID number is already registered")];
        writes.extend(vocab_writes(&person.full_name));
        writes.push(civitas_store::unit::event(&NewEvent {
            kind: "person.registered",
            subject: person.pid.as_str().to_owned(),
            payload: serde_json::Value::Null,
            actor: attribution.actor.to_owned(),
            occurred_at: attribution.at.to_owned(),
        }));
        Ok(writes)
    }

    /// The writes of a new version of a person (the current row copied into the history,
    /// replaced, `events` appended), guarded by `expected_version`.
    pub fn plan_version(
        &self,
        new: &Person,
        old: &Person,
        expected_version: i64,
        change: &str,
        attribution: &Attribution<'_>,
        events: &[NewEvent],
    ) -> Result<Vec<Write>, RegisterError> {
        if attribution.legal_basis.basis.trim().is_empty() {
            return Err(RegisterError::MissingLegalBasis);
        }
        let values = RowValues::new(new, change, attribution, expected_version + 1);
        let snapshot = serde_json::to_string(old).unwrap_or_default();
        let pid = new.pid.as_str();
        let mut writes = vec![
            Write::new(
                "INSERT INTO person_revisions (pid, version, at, actor, change, legal_basis, document_ref, snapshot) \
                 SELECT pid, version, updated_at, changed_by, change_kind, legal_basis, document_ref, $1 FROM people WHERE pid = $2 AND version = $3",
                vec![snapshot.into(), pid.into(), expected_version.into()],
            )
            .expecting(1, "the person changed meanwhile"),
            Write::new("DELETE FROM people WHERE pid = $1", vec![pid.into()]),
            insert_person_write(&values),
        ];
        writes.extend(vocab_writes(&new.full_name));
        writes.extend(events.iter().map(civitas_store::unit::event));
        Ok(writes)
    }
}

#[cfg(test)]
mod tests {
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
