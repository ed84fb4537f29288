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

/// Approves a civil-status dossier: checks the register's rules, then commits the approval,
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
    let today = dossiers::local_today(now);
    let at = civitas_store::timestamp(now);
    let basis = LegalBasis { basis: format!("{} {}", procedure.name_vi, d.code), document_ref: Some(d.code.clone()) };
    let actor_id = actor.id();
    let attribution = Attribution { actor: &actor_id, legal_basis: &basis, at: &at };
    let applicant = person(register, &d.applicant_pid, "applicant").await?;
    let mut flags: Vec<String> = Vec::new();
    let mut writes: Vec<Write> = Vec::new();
    let mut note_extra = String::new();
    match kind {
        Kind::Birth => {
            let name = civitas_core::nfc(field(&d, "child_name").ok_or_else(|| refuse("the child's name is missing"))?);
            let born = date_field(&d, "child_birth_date")?;
            if born > today {
                return Err(refuse("the birth date is in the future"));
            }
            let sex = match field(&d, "child_sex") {
                Some("male") => Sex::Male,
                Some("female") => Sex::Female,
                _ => return Err(refuse("the child's sex is missing")),
            };
            // The other parent as given; otherwise, for a married mother, her husband as the
            // register's marriage records him (presumption of paternity).
            let other = match field(&d, "other_parent_pid") {
                Some(pid) => Some(person(register, pid, "other parent").await?),
                None => match (applicant.sex, applicant.spouse_pid) {
                    (Sex::Female, Some(husband)) if applicant.marital_status == MaritalStatus::Married => {
                        register.get(&husband).await.ok().flatten()
                    }
                    _ => None,
                },
            };
            // The applicant is a parent; which one by sex.
            let (mother, father) = match applicant.sex {
                Sex::Female => (Some(&applicant), other.as_ref()),
                Sex::Male => (other.as_ref(), Some(&applicant)),
            };
            if let Some(o) = &other
                && o.sex == applicant.sex
            {
                return Err(refuse(
                    "the other parent has the same sex as the applicant; give the child's mother and father",
                ));
            }
            let certificate = field(&d, "birth_cert_no").unwrap_or_default().to_owned();
            let duplicates = birth_duplicates(db, register, mother.map(|m| &m.pid), born, &name, &certificate).await?;
            if !duplicates.is_empty() && !not_duplicate {
                return Err(DossierError::PossibleDuplicate(format!(
                    "possible duplicate of {}: review it and confirm \"not a duplicate\" (with the reason in the note), or refuse",
                    duplicates.join("; ")
                )));
            }
            if !duplicates.is_empty() {
                flags.push(format!("confirmed not a duplicate of {}", duplicates.join("; ")));
                note_extra = format!(" — xác nhận không trùng / not a duplicate of {}", duplicates.join("; "));
            }
            if (today - born).whole_days() > 60 {
                flags.push("late registration (after 60 days)".into());
            }
            let lives_with =
                if field(&d, "live_with") == Some("other_parent") { other.as_ref() } else { Some(&applicant) };
            let lives_with = lives_with.ok_or_else(|| refuse("the parent the child lives with is not named"))?;
            let residence = lives_with
                .permanent_residence
                .clone()
                .ok_or_else(|| refuse("the parent the child lives with has no permanent residence"))?;
            let relation = match lives_with.relation_to_head {
                Some(Relation::Head | Relation::Spouse) => Relation::Child,
                Some(Relation::Child | Relation::ChildInLaw) => Relation::Grandchild,
                _ => Relation::Other,
            };
            let units = civitas_core::AdminUnits::get();
            let commune =
                units.commune(&d.unit_code).ok_or_else(|| refuse("the registering commune is not in force"))?;
            let province = ProvinceCode::parse(&commune.province_code).map_err(|e| refuse(e.to_string()))?;
            let place = format!(
                "{}, {}",
                commune.name,
                units.province(&commune.province_code).map(|p| p.name.as_str()).unwrap_or_default()
            );
            let year = u16::try_from(born.year()).map_err(|_| refuse("the birth year is out of range"))?;
            // A new ID number: the province, century and sex, year, and a random serial not
            // yet used (the insert is also guarded).
            let mut child = None;
            for _ in 0..20 {
                let serial = rand::random_range(0..1_000_000u32);
                let pid = Pid::compose(&province, sex, year, serial).map_err(|e| refuse(e.to_string()))?;
                if register.get(&pid).await.map_err(register_failed)?.is_none() {
                    child = Some(pid);
                    break;
                }
            }
            let pid = child.ok_or_else(|| refuse("no free ID number was found; try again"))?;
            let draft = serde_json::json!({
                "pid": pid.as_str(), "full_name": name, "birth_date": born.to_string(), "sex": sex.as_str(),
                "birth_registration_place": place, "father_pid": father.map(|f| f.pid.as_str()),
                "mother_pid": mother.map(|m| m.pid.as_str()),
                "permanent_residence": { "commune": residence.commune.as_str(), "address": residence.address },
                "current_residence": { "commune": residence.commune.as_str(), "address": residence.address },
                "household_id": lives_with.household_id.as_ref().map(|h| h.as_str()),
                "relation_to_head": lives_with.household_id.as_ref().map(|_| relation.as_str()),
            });
            let child: Person =
                serde_json::from_value(draft).map_err(|e| refuse(format!("the child's record: {e}")))?;
            let child = child.normalize_and_validate(today).map_err(|e| refuse(e.to_string()))?;
            writes.extend(register.plan_register(&child, &attribution).map_err(|e| refuse(e.to_string()))?);
            let (sequence, number) = registration_number(kind, &d.unit_code, today.year());
            writes.insert(0, sequence);
            writes.push(record_write(
                kind,
                &d,
                &number,
                pid.as_str(),
                mother.or(father).map(|p| p.pid.as_str()),
                born,
                today,
                Some(&certificate),
                &flags,
                serde_json::json!({ "child_name": name, "father": father.map(|f| f.pid.as_str()), "mother": mother.map(|m| m.pid.as_str()), "household": child.household_id.as_ref().map(|h| h.as_str()) }),
                &at,
            ));
            writes.push(civitas_store::unit::event(&NewEvent {
                kind: "civil.birth_registered",
                subject: pid.as_str().to_owned(),
                payload: serde_json::json!({ "dossier": d.code, "registration_number": number, "procedure": procedure.code, "late": flags.iter().any(|f| f.starts_with("late")) }),
                actor: actor_id.clone(),
                occurred_at: at.clone(),
            }));
            note_extra = format!("{note_extra} — số định danh của trẻ / child's ID number {pid}");
            if procedure.code == "DVC-15" {
                let f = &crate::followups::CHILD_HEALTH_CARD;
                let data = serde_json::json!({
                    "pid": pid.as_str(), "full_name": child.full_name, "birth_date": born.to_string(), "sex": sex.as_str(),
                    "mother_pid": mother.map(|m| m.pid.as_str()), "father_pid": father.map(|f| f.pid.as_str()),
                    "household_id": child.household_id.as_ref().map(|h| h.as_str()), "commune": d.unit_code,
                    "registration_number": number,
                });
                let due = calendar.add_working_days(today, f.days);
                writes.extend(crate::followups::plan(f, &d, pid.as_str(), data, due, &at, now.unix_timestamp()));
            }
        }
        Kind::Marriage => {
            let partner_pid = field(&d, "partner_pid").ok_or_else(|| refuse("the partner's ID number is missing"))?;
            let partner = person(register, partner_pid, "partner").await?;
            let obstacles = marriage_obstacles(register, &applicant, &partner, today).await;
            if !obstacles.is_empty() {
                return Err(refuse(format!("the marriage cannot be registered: {}", obstacles.join("; "))));
            }
            for (me, spouse) in [(&applicant, &partner), (&partner, &applicant)] {
                let mut new = me.clone();
                new.marital_status = MaritalStatus::Married;
                new.spouse_pid = Some(spouse.pid);
                let new = new.normalize_and_validate(today).map_err(|e| refuse(e.to_string()))?;
                let version = me.version.unwrap_or(1);
                let event = NewEvent {
                    kind: "person.corrected",
                    subject: me.pid.as_str().to_owned(),
                    payload: serde_json::json!({ "fields": ["marital_status", "spouse_pid"], "version": version + 1 }),
                    actor: actor_id.clone(),
                    occurred_at: at.clone(),
                };
                writes.extend(
                    register
                        .plan_version(&new, me, version, "corrected", &attribution, &[event])
                        .map_err(|e| refuse(e.to_string()))?,
                );
            }
            let (sequence, number) = registration_number(kind, &d.unit_code, today.year());
            writes.insert(0, sequence);
            writes.push(record_write(
                kind,
                &d,
                &number,
                applicant.pid.as_str(),
                Some(partner.pid.as_str()),
                today,
                today,
                None,
                &flags,
                serde_json::json!({}),
                &at,
            ));
            writes.push(civitas_store::unit::event(&NewEvent {
                kind: "civil.marriage_registered",
                subject: applicant.pid.as_str().to_owned(),
                payload: serde_json::json!({ "dossier": d.code, "registration_number": number, "spouse": partner.pid.as_str() }),
                actor: actor_id.clone(),
                occurred_at: at.clone(),
            }));
        }
        Kind::Death => {
            let deceased_pid =
                field(&d, "deceased_pid").ok_or_else(|| refuse("the deceased's ID number is missing"))?;
            let deceased = person(register, deceased_pid, "deceased").await?;
            if deceased.status == LifeStatus::Deceased {
                return Err(refuse(format!(
                    "{} ({}) is already registered as deceased",
                    deceased.full_name, deceased.pid
                )));
            }
            let died = date_field(&d, "death_date")?;
            if died > today {
                return Err(refuse("the date of death is in the future"));
            }
            if PartialDate::full(died) < deceased.birth_date {
                return Err(refuse("the date of death is before the date of birth"));
            }
            if (today - died).whole_days() > 15 {
                flags.push("late registration (after 15 days)".into());
            }
            let mut new = deceased.clone();
            new.status = LifeStatus::Deceased;
            // Residence deregistration (the interconnected step).
            new.permanent_residence = None;
            new.temporary_residence = None;
            new.current_residence = None;
            new.household_id = None;
            new.relation_to_head = None;
            let version = deceased.version.unwrap_or(1);
            let events = [
                NewEvent {
                    kind: "person.corrected",
                    subject: deceased.pid.as_str().to_owned(),
                    payload: serde_json::json!({ "fields": ["status"], "version": version + 1 }),
                    actor: actor_id.clone(),
                    occurred_at: at.clone(),
                },
                NewEvent {
                    kind: "person.deceased",
                    subject: deceased.pid.as_str().to_owned(),
                    payload: serde_json::json!({ "version": version + 1, "date": died.to_string(), "dossier": d.code }),
                    actor: actor_id.clone(),
                    occurred_at: at.clone(),
                },
                NewEvent {
                    kind: "person.residence_changed",
                    subject: deceased.pid.as_str().to_owned(),
                    payload: serde_json::json!({ "kind": "deregistered", "household_id": deceased.household_id.as_ref().map(|h| h.as_str()) }),
                    actor: actor_id.clone(),
                    occurred_at: at.clone(),
                },
            ];
            writes.extend(
                register
                    .plan_version(&new, &deceased, version, "deceased", &attribution, &events)
                    .map_err(|e| refuse(e.to_string()))?,
            );
            // The household: a deceased head is replaced by the eldest living adult member, for
            // the household to confirm; a household left empty is dissolved.
            if let Some(h) = &deceased.household_id
                && let Ok(Some(household)) = register.household(h).await
            {
                let others: Vec<_> = household.members.iter().filter(|m| m.pid != deceased.pid).collect();
                if others.is_empty() {
                    writes.push(Write::new("DELETE FROM households WHERE id = $1", vec![h.as_str().into()]));
                } else if household.head_pid == deceased.pid {
                    let mut adults: Vec<_> = others.iter().filter(|m| m.birth_date.age_on(today) >= 18).collect();
                    adults.sort_by_key(|m| m.birth_date);
                    let successor = adults.first().map(|m| **m).or_else(|| others.first().copied());
                    if let Some(successor) = successor {
                        writes.push(Write::new(
                            "UPDATE households SET head_pid = $1, head_to_confirm = 1, version = version + 1, updated_at = $2 WHERE id = $3",
                            vec![successor.pid.as_str().into(), at.clone().into(), h.as_str().into()],
                        ));
                        flags.push(format!(
                            "household {h}: {} ({}) named head until the household confirms",
                            successor.full_name, successor.pid
                        ));
                    }
                }
            }
            // Dossiers still open for the deceased are closed.
            let open = "SELECT code FROM dossiers WHERE applicant_pid = $1 AND code <> $2 AND state IN ('received', 'in_processing', 'supplement_requested', 'approved')";
            let codes: Vec<(String,)> = dispatch!(db, pool => sqlx::query_as(open).bind(deceased.pid.as_str()).bind(&d.code).fetch_all(pool).await)
                .map_err(civitas_store::StoreError::from)?;
            for (c,) in &codes {
                writes.push(Write::new(
                    "UPDATE dossiers SET state = 'withdrawn', finished_on = $1, version = version + 1 WHERE code = $2",
                    vec![today.to_string().into(), c.clone().into()],
                ));
                writes.push(Write::new(
                    "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state, note) VALUES ($1, $2, $3, 'withdraw', NULL, 'withdrawn', $4)",
                    vec![c.clone().into(), at.clone().into(), actor_id.clone().into(), format!("Người nộp đã chết / the applicant died ({})", d.code).into()],
                ));
            }
            let (sequence, number) = registration_number(kind, &d.unit_code, today.year());
            writes.insert(0, sequence);
            if procedure.code == "DVC-16" && field(&d, "funeral_allowance") == Some("yes") {
                let f = &crate::followups::FUNERAL_ALLOWANCE;
                let data = serde_json::json!({
                    "deceased_pid": deceased.pid.as_str(), "full_name": deceased.full_name, "death_date": died.to_string(),
                    "beneficiary_pid": applicant.pid.as_str(), "beneficiary_name": applicant.full_name,
                    "bank_account": field(&d, "bank_account"), "registration_number": number,
                });
                let due = calendar.add_working_days(today, f.days);
                writes.extend(crate::followups::plan(
                    f,
                    &d,
                    deceased.pid.as_str(),
                    data,
                    due,
                    &at,
                    now.unix_timestamp(),
                ));
            }
            writes.push(record_write(
                kind,
                &d,
                &number,
                deceased.pid.as_str(),
                Some(applicant.pid.as_str()),
                died,
                today,
                None,
                &flags,
                serde_json::json!({ "closed_dossiers": codes.iter().map(|(c,)| c.as_str()).collect::<Vec<_>>(), "funeral_allowance": procedure.code == "DVC-16", "bank_account": field(&d, "bank_account") }),
                &at,
            ));
            writes.push(civitas_store::unit::event(&NewEvent {
                kind: "civil.death_registered",
                subject: deceased.pid.as_str().to_owned(),
                payload: serde_json::json!({ "dossier": d.code, "registration_number": number, "funeral_allowance": procedure.code == "DVC-16" }),
                actor: actor_id.clone(),
                occurred_at: at.clone(),
            }));
        }
    }
    let mut input = input;
    let note = input.note.take().unwrap_or_default();
    input.note =
        Some(format!("{note}{note_extra}").trim_start_matches(" — ").trim().to_owned()).filter(|n| !n.is_empty());
    let (current, mut planned) =
        dossiers::plan_act(db, calendar, procedure, code, Action::Approve, actor, input, now).await?;
    // The dossier's own writes first: its version guard fails fast on a concurrent change.
    planned.extend(writes.into_iter().map(Write::with_captured));
    dossiers::commit_planned_with(committer, db, code, current.version, planned).await
}

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
