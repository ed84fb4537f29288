use super::*;

/// The child as the form declares them.
struct Child {
    name: String,
    born: time::Date,
    sex: Sex,
    /// The medical birth certificate's number (giấy chứng sinh).
    certificate: String,
}

fn child_of(d: &Dossier, today: time::Date) -> Result<Child, DossierError> {
    let name = civitas_core::nfc(field(d, "child_name").ok_or_else(|| refuse("the child's name is missing"))?);
    let born = date_field(d, "child_birth_date")?;
    if born > today {
        return Err(refuse("the birth date is in the future"));
    }
    let sex = match field(d, "child_sex") {
        Some("male") => Sex::Male,
        Some("female") => Sex::Female,
        _ => return Err(refuse("the child's sex is missing")),
    };
    let certificate = field(d, "birth_cert_no").unwrap_or_default().to_owned();
    Ok(Child { name, born, sex, certificate })
}

/// The other parent as given; otherwise, for a married mother, her husband as the register's
/// marriage records him (presumption of paternity).
async fn other_parent(register: &Register, d: &Dossier, applicant: &Person) -> Result<Option<Person>, DossierError> {
    let other = match field(d, "other_parent_pid") {
        Some(pid) => Some(person(register, pid, "other parent").await?),
        None => match (applicant.sex, applicant.spouse_pid) {
            (Sex::Female, Some(husband)) if applicant.marital_status == MaritalStatus::Married => {
                register.get(&husband).await.ok().flatten()
            }
            _ => None,
        },
    };
    if let Some(o) = &other
        && o.sex == applicant.sex
    {
        return Err(refuse("the other parent has the same sex as the applicant; give the child's mother and father"));
    }
    Ok(other)
}

/// A new ID number: the province, century and sex, year, and a random serial not yet used
/// (the insert is also guarded).
async fn new_pid(
    register: &Register,
    province: &ProvinceCode,
    sex: Sex,
    born: time::Date,
) -> Result<Pid, DossierError> {
    let year = u16::try_from(born.year()).map_err(|_| refuse("the birth year is out of range"))?;
    for _ in 0..20 {
        let serial = rand::random_range(0..1_000_000u32);
        let pid = Pid::compose(province, sex, year, serial).map_err(|e| refuse(e.to_string()))?;
        if register.get(&pid).await.map_err(register_failed)?.is_none() {
            return Ok(pid);
        }
    }
    Err(refuse("no free ID number was found; try again"))
}

/// The child's register record: a new ID number, the residence and household of the parent
/// the child lives with, the place of registration.
async fn child_record(
    a: &Approval<'_>,
    child: &Child,
    mother: Option<&Person>,
    father: Option<&Person>,
    lives_with: &Person,
) -> Result<Person, DossierError> {
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
    let commune = units.commune(&a.d.unit_code).ok_or_else(|| refuse("the registering commune is not in force"))?;
    let province = ProvinceCode::parse(&commune.province_code).map_err(|e| refuse(e.to_string()))?;
    let place = format!(
        "{}, {}",
        commune.name,
        units.province(&commune.province_code).map(|p| p.name.as_str()).unwrap_or_default()
    );
    let pid = new_pid(a.register, &province, child.sex, child.born).await?;
    let draft = serde_json::json!({
        "pid": pid.as_str(), "full_name": child.name, "birth_date": child.born.to_string(), "sex": child.sex.as_str(),
        "birth_registration_place": place, "father_pid": father.map(|f| f.pid.as_str()),
        "mother_pid": mother.map(|m| m.pid.as_str()),
        "permanent_residence": { "commune": residence.commune.as_str(), "address": residence.address },
        "current_residence": { "commune": residence.commune.as_str(), "address": residence.address },
        "household_id": lives_with.household_id.as_ref().map(|h| h.as_str()),
        "relation_to_head": lives_with.household_id.as_ref().map(|_| relation.as_str()),
    });
    let record: Person = serde_json::from_value(draft).map_err(|e| refuse(format!("the child's record: {e}")))?;
    record.normalize_and_validate(a.today).map_err(|e| refuse(e.to_string()))
}

/// A birth: the child gets an ID number and joins the household of the parent they live with;
/// the child health card follows (DVC-15).
pub(super) async fn plan_birth(a: &Approval<'_>, not_duplicate: bool) -> Result<Planned, DossierError> {
    let Approval { db, register, procedure, d, applicant, today, .. } = *a;
    let child = child_of(d, today)?;
    let other = other_parent(register, d, applicant).await?;
    // The applicant is a parent; which one by sex.
    let (mother, father) = match applicant.sex {
        Sex::Female => (Some(applicant), other.as_ref()),
        Sex::Male => (other.as_ref(), Some(applicant)),
    };
    let mut flags: Vec<String> = Vec::new();
    let mut note = String::new();
    let duplicates =
        birth_duplicates(db, register, mother.map(|m| &m.pid), child.born, &child.name, &child.certificate).await?;
    if !duplicates.is_empty() && !not_duplicate {
        return Err(DossierError::PossibleDuplicate(format!(
            "possible duplicate of {}: review it and confirm \"not a duplicate\" (with the reason in the note), or refuse",
            duplicates.join("; ")
        )));
    }
    if !duplicates.is_empty() {
        flags.push(format!("confirmed not a duplicate of {}", duplicates.join("; ")));
        note = format!(" — xác nhận không trùng / not a duplicate of {}", duplicates.join("; "));
    }
    if (today - child.born).whole_days() > 60 {
        flags.push("late registration (after 60 days)".into());
    }
    let lives_with = if field(d, "live_with") == Some("other_parent") { other.as_ref() } else { Some(applicant) };
    let lives_with = lives_with.ok_or_else(|| refuse("the parent the child lives with is not named"))?;
    let record = child_record(a, &child, mother, father, lives_with).await?;
    let pid = record.pid;
    let mut writes = register.plan_register(&record, a.attribution).map_err(|e| refuse(e.to_string()))?;
    let (sequence, number) = registration_number(Kind::Birth, &d.unit_code, today.year());
    writes.insert(0, sequence);
    writes.push(record_write(
        Kind::Birth,
        d,
        &number,
        pid.as_str(),
        mother.or(father).map(|p| p.pid.as_str()),
        child.born,
        today,
        Some(&child.certificate),
        &flags,
        serde_json::json!({ "child_name": child.name, "father": father.map(|f| f.pid.as_str()), "mother": mother.map(|m| m.pid.as_str()), "household": record.household_id.as_ref().map(|h| h.as_str()) }),
        a.at,
    ));
    writes.push(civitas_store::unit::event(&NewEvent {
        kind: "civil.birth_registered",
        subject: pid.as_str().to_owned(),
        payload: serde_json::json!({ "dossier": d.code, "registration_number": number, "procedure": procedure.code, "late": flags.iter().any(|f| f.starts_with("late")) }),
        actor: a.actor_id.to_owned(),
        occurred_at: a.at.to_owned(),
    }));
    note = format!("{note} — số định danh của trẻ / child's ID number {pid}");
    if procedure.code == "DVC-15" {
        writes.extend(health_card(a, &record, child.born, (mother, father), &number));
    }
    Ok(Planned { writes, note })
}

/// The follow-up to the health insurance agency: the child's health card.
fn health_card(
    a: &Approval<'_>,
    child: &Person,
    born: time::Date,
    (mother, father): (Option<&Person>, Option<&Person>),
    number: &str,
) -> Vec<Write> {
    let f = &crate::followups::CHILD_HEALTH_CARD;
    let data = serde_json::json!({
        "pid": child.pid.as_str(), "full_name": child.full_name, "birth_date": born.to_string(),
        "sex": child.sex.as_str(), "mother_pid": mother.map(|m| m.pid.as_str()), "father_pid": father.map(|f| f.pid.as_str()),
        "household_id": child.household_id.as_ref().map(|h| h.as_str()), "commune": a.d.unit_code,
        "registration_number": number,
    });
    let due = a.calendar.add_working_days(a.today, f.days);
    crate::followups::plan(f, a.d, child.pid.as_str(), data, due, a.at, a.now.unix_timestamp())
}
