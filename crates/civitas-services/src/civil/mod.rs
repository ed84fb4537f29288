//! Interconnected civil registration (Decree 63/2024): approving a birth, marriage or death
//! dossier updates the population register in the same transaction as the approval itself —
//! the child gets a new ID number and joins a parent's household, the spouses are linked, the
//! deceased is marked dead and their residence deregistered — with a civil-status record, the
//! register's events (other contexts follow them: a death locks the e-ID account) and the
//! applicant's notification.

use civitas_core::{LifeStatus, MaritalStatus, PartialDate, Pid, ProvinceCode, Relation, Sex};
use civitas_registry::store::Attribution;
use civitas_registry::{LegalBasis, Person, Register};
use civitas_store::unit::{Value, Write};
use civitas_store::{Db, NewEvent, dispatch};
use serde::Serialize;

use crate::catalogue::Procedure;
use crate::dossiers::{self, ActInput, Actor, Dossier, DossierError};
use crate::workflow::{Action, State};

/// The civil-status procedures whose approval changes the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Birth,
    Marriage,
    Death,
}

/// Which kind of civil registration a procedure is (births: DVC-09 and the interconnected
/// DVC-15; deaths: DVC-10 and DVC-16; marriage: DVC-11).
pub fn kind_of(procedure: &str) -> Option<Kind> {
    match procedure {
        "DVC-09" | "DVC-15" => Some(Kind::Birth),
        "DVC-11" => Some(Kind::Marriage),
        "DVC-10" | "DVC-16" => Some(Kind::Death),
        _ => None,
    }
}

/// A failure to read the register is the server's, not the dossier's (answered 500).
fn register_failed(e: civitas_registry::RegisterError) -> DossierError {
    DossierError::Store(civitas_store::StoreError::Corrupt(format!("reading the register failed: {e}")))
}

fn refuse(why: impl Into<String>) -> DossierError {
    DossierError::Invalid(why.into())
}

fn field<'a>(d: &'a Dossier, name: &str) -> Option<&'a str> {
    d.data["fields"].get(name).and_then(|v| v.as_str()).filter(|v| !v.is_empty())
}

fn date_field(d: &Dossier, name: &str) -> Result<time::Date, DossierError> {
    let raw = field(d, name).ok_or_else(|| refuse(format!("the dossier has no {name}")))?;
    time::Date::parse(raw, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| refuse(format!("{name} {raw:?} is not a date")))
}

async fn person(register: &Register, pid: &str, role: &str) -> Result<Person, DossierError> {
    let parsed: Pid = pid.parse().map_err(|_| refuse(format!("the {role}'s ID number {pid} is not valid")))?;
    register
        .get(&parsed)
        .await
        .map_err(register_failed)?
        .ok_or_else(|| refuse(format!("the {role} ({pid}) is not in the population register")))
}

/// The ancestors of `p` up to `generations` back (parents = 1), with their distance.
async fn ancestors(register: &Register, p: &Person, generations: u32) -> Vec<(Pid, u32)> {
    let mut out = Vec::new();
    let mut frontier = vec![(p.father_pid, p.mother_pid)];
    for depth in 1..=generations {
        let mut next = Vec::new();
        for (f, m) in frontier {
            for parent in [f, m].into_iter().flatten() {
                out.push((parent, depth));
                if let Ok(Some(pp)) = register.get(&parent).await {
                    next.push((pp.father_pid, pp.mother_pid));
                }
            }
        }
        frontier = next;
    }
    out
}

/// Why two people may not marry (Marriage and Family Law 2014): each rule with its own reason.
pub async fn marriage_obstacles(register: &Register, a: &Person, b: &Person, on: time::Date) -> Vec<String> {
    let mut why = Vec::new();
    if a.pid == b.pid {
        why.push("a person cannot marry themselves".to_owned());
        return why;
    }
    for p in [a, b] {
        if p.status != LifeStatus::Living {
            why.push(format!("{} ({}) is not living", p.full_name, p.pid));
        }
        let min = if p.sex == Sex::Male { 20 } else { 18 };
        let age = p.birth_date.age_on(on);
        if age < min {
            why.push(format!("{} ({}) is {age}; the minimum age is {min}", p.full_name, p.pid));
        }
        if p.marital_status == MaritalStatus::Married || p.spouse_pid.is_some() {
            why.push(format!("{} ({}) is married", p.full_name, p.pid));
        }
    }
    // Direct line (any depth we know, checked to great-grandparents) or a common ancestor within
    // three generations (siblings share parents, first cousins grandparents, second cousins
    // great-grandparents: within three generations means sharing parents or grandparents).
    let up_a = ancestors(register, a, 3).await;
    let up_b = ancestors(register, b, 3).await;
    if up_a.iter().any(|(x, _)| *x == b.pid) || up_b.iter().any(|(x, _)| *x == a.pid) {
        why.push("they are in direct line of descent".to_owned());
    } else if up_a.iter().any(|(x, da)| *da <= 2 && up_b.iter().any(|(y, db)| y == x && *db <= 2)) {
        why.push("they are related within three generations".to_owned());
    }
    why
}

/// The statement allocating the next registration number of a commune, kind and year inside
/// the approving transaction (captured: the number is `⟦seq⟧/<year>` in the other writes).
fn registration_number(kind: Kind, unit: &str, year: i32) -> (Write, String) {
    let scope = format!("civil:{}:{unit}", dossiers::name_of(kind));
    let write = Write::new(
        "INSERT INTO daily_sequences (scope, day, last) VALUES ($1, $2, 1) \
         ON CONFLICT (scope, day) DO UPDATE SET last = daily_sequences.last + 1 RETURNING last",
        vec![scope.into(), year.to_string().into()],
    )
    .capturing();
    (write, format!("{}/{year}", civitas_store::unit::SEQ))
}

const INSERT_RECORD: &str = "INSERT INTO civil_records (id, kind, dossier_code, registration_number, unit_code, subject_pid, \
     other_pid, event_date, registered_on, certificate_ref, flags, data, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

#[allow(clippy::too_many_arguments)]
fn record_write(
    kind: Kind,
    d: &Dossier,
    number: &str,
    subject: &str,
    other: Option<&str>,
    event_date: time::Date,
    today: time::Date,
    certificate_ref: Option<&str>,
    flags: &[String],
    data: serde_json::Value,
    at: &str,
) -> Write {
    Write::new(
        INSERT_RECORD,
        vec![
            crate::documents::new_id().into(),
            dossiers::name_of(kind).into(),
            d.code.clone().into(),
            number.into(),
            d.unit_code.clone().into(),
            subject.into(),
            Value::Text(other.map(str::to_owned)),
            event_date.to_string().into(),
            today.to_string().into(),
            Value::Text(certificate_ref.map(str::to_owned)),
            serde_json::to_string(flags).unwrap_or_default().into(),
            data.to_string().into(),
            at.into(),
        ],
    )
    .expecting(1, "the dossier was already registered")
}

/// Possible duplicates of a birth: the same mother and birth date with a similar name, or the
/// same medical birth certificate number.
pub async fn birth_duplicates(
    db: &Db,
    register: &Register,
    mother: Option<&Pid>,
    birth: time::Date,
    name: &str,
    certificate: &str,
) -> Result<Vec<String>, DossierError> {
    let mut found = Vec::new();
    let sql = "SELECT subject_pid FROM civil_records WHERE kind = 'birth' AND certificate_ref = $1";
    let same_cert: Vec<(String,)> = dispatch!(db, pool => sqlx::query_as(sql).bind(certificate).fetch_all(pool).await)
        .map_err(civitas_store::StoreError::from)?;
    found.extend(same_cert.into_iter().map(|(p,)| format!("{p} (same birth certificate number)")));
    if let Some(mother) = mother {
        let sql = "SELECT pid FROM people WHERE mother_pid = $1 AND birth_date = $2";
        let siblings: Vec<(String,)> = dispatch!(db, pool => sqlx::query_as(sql).bind(mother.as_str()).bind(birth.to_string()).fetch_all(pool).await)
            .map_err(civitas_store::StoreError::from)?;
        let folded = civitas_core::fold(name);
        for (pid,) in siblings {
            if let Ok(p) = pid.parse::<Pid>()
                && let Ok(Some(sib)) = register.get(&p).await
            {
                let other = civitas_core::fold(&sib.full_name);
                let given = |s: &str| s.rsplit(' ').next().unwrap_or_default().to_owned();
                // Similar: the same name, the same given name, or one extends the other.
                if other == folded
                    || given(&other) == given(&folded)
                    || other.starts_with(&folded)
                    || folded.starts_with(&other)
                {
                    found.push(format!("{pid} {} (same mother, same birth date)", sib.full_name));
                }
            }
        }
    }
    Ok(found)
}

/// Approves civil-status dossier `code` as `actor`: one transaction holds the approval,
/// the register's changes and the civil-status record together. `not_duplicate` is the
/// officer's confirmation after reviewing possible duplicates of a birth.
#[allow(clippy::too_many_arguments)]
pub async fn approve(
    db: &Db,
    register: &Register,
    calendar: &civitas_core::workdays::WorkCalendar,
    procedure: &Procedure,
    code: &str,
    actor: &Actor,
    input: ActInput,
    not_duplicate: bool,
    committer: &civitas_store::unit::GroupCommitter,
    now: time::OffsetDateTime,
) -> Result<Dossier, DossierError> {
    let kind = kind_of(&procedure.code).ok_or_else(|| refuse("not a civil-status procedure"))?;
    let d = dossiers::get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))?;
    if d.state != State::InProcessing {
        return Err(crate::workflow::TransitionError { state: d.state, action: Action::Approve }.into());
    }
    dossiers::permitted(procedure, &d, Action::Approve, actor)?;
    let at = civitas_store::timestamp(now);
    let basis = LegalBasis { basis: format!("{} {}", procedure.name_vi, d.code), document_ref: Some(d.code.clone()) };
    let actor_id = actor.id();
    let attribution = Attribution { actor: &actor_id, legal_basis: &basis, at: &at };
    let applicant = person(register, &d.applicant_pid, "applicant").await?;
    let approval = Approval {
        db,
        register,
        calendar,
        procedure,
        d: &d,
        applicant: &applicant,
        attribution: &attribution,
        actor_id: &actor_id,
        at: &at,
        today: dossiers::local_today(now),
        now,
    };
    let planned = match kind {
        Kind::Birth => birth::plan_birth(&approval, not_duplicate).await?,
        Kind::Marriage => marriage::plan_marriage(&approval).await?,
        Kind::Death => death::plan_death(&approval).await?,
    };
    let mut input = input;
    let note = input.note.take().unwrap_or_default();
    input.note =
        Some(format!("{note}{}", planned.note).trim_start_matches(" — ").trim().to_owned()).filter(|n| !n.is_empty());
    let (current, mut writes) =
        dossiers::plan_act(db, calendar, procedure, code, Action::Approve, actor, input, now).await?;
    // The dossier's own writes first: its version guard fails fast on a concurrent change.
    writes.extend(planned.writes.into_iter().map(Write::with_captured));
    dossiers::commit_planned_with(committer, db, code, current.version, writes).await
}

/// What approving a dossier of one kind reads and knows.
#[derive(Clone, Copy)]
struct Approval<'a> {
    db: &'a Db,
    register: &'a Register,
    calendar: &'a civitas_core::workdays::WorkCalendar,
    procedure: &'a Procedure,
    d: &'a Dossier,
    applicant: &'a Person,
    attribution: &'a Attribution<'a>,
    actor_id: &'a str,
    at: &'a str,
    today: time::Date,
    now: time::OffsetDateTime,
}

/// The register's side of an approval: the writes, and what the step's note adds.
struct Planned {
    writes: Vec<Write>,
    note: String,
}

mod birth;
mod death;
mod marriage;

/// The civil-status record of a dossier, if its approval registered one.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Record {
    pub id: String,
    pub kind: String,
    pub dossier_code: String,
    pub registration_number: String,
    pub unit_code: String,
    pub subject_pid: String,
    pub other_pid: Option<String>,
    pub event_date: String,
    pub registered_on: String,
    pub flags: String,
    pub data: String,
}

pub async fn record_of(db: &Db, dossier: &str) -> Result<Option<Record>, civitas_store::StoreError> {
    let sql = "SELECT id, kind, dossier_code, registration_number, unit_code, subject_pid, other_pid, event_date, registered_on, flags, data \
               FROM civil_records WHERE dossier_code = $1";
    Ok(dispatch!(db, pool => sqlx::query_as::<_, Record>(sql).bind(dossier).fetch_optional(pool).await)?)
}

/// How many civil-status records exist.
pub async fn count(db: &Db) -> Result<i64, civitas_store::StoreError> {
    let sql = "SELECT COUNT(*) FROM civil_records";
    Ok(dispatch!(db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await)?)
}
