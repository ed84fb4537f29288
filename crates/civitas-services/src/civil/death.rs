use super::*;

/// A death: the deceased is marked dead and deregistered, their household succeeded or
/// dissolved, their open dossiers closed; the funeral allowance follows (DVC-16).
pub(super) async fn plan_death(a: &Approval<'_>) -> Result<Planned, DossierError> {
    let kind = Kind::Death;
    let Approval { db, register, calendar, procedure, d, applicant, today, now, .. } = *a;
    let mut flags: Vec<String> = Vec::new();
    let mut writes: Vec<Write> = Vec::new();
    let deceased_pid = field(d, "deceased_pid").ok_or_else(|| refuse("the deceased's ID number is missing"))?;
    let deceased = person(register, deceased_pid, "deceased").await?;
    if deceased.status == LifeStatus::Deceased {
        return Err(refuse(format!("{} ({}) is already registered as deceased", deceased.full_name, deceased.pid)));
    }
    let died = date_field(d, "death_date")?;
    if died > today {
        return Err(refuse("the date of death is in the future"));
    }
    if PartialDate::full(died) < deceased.birth_date {
        return Err(refuse("the date of death is before the date of birth"));
    }
    if (today - died).whole_days() > 15 {
        flags.push("late registration (after 15 days)".into());
    }
    writes.extend(deregistered(a, &deceased, died)?);
    writes.extend(household_after(register, &deceased, today, a.at, &mut flags).await);
    let (codes, closing) = close_open_dossiers(db, &deceased, d, today, a).await?;
    writes.extend(closing);
    // The deceased's card (and any on its way) is revoked with the registration.
    writes.extend(crate::cards::revoke_all(
        deceased.pid.as_str(),
        &format!("death registered ({})", d.code),
        a.actor_id,
        a.at,
    ));
    let (sequence, number) = registration_number(kind, &d.unit_code, today.year());
    writes.insert(0, sequence);
    if procedure.code == "DVC-16" && field(d, "funeral_allowance") == Some("yes") {
        let f = &crate::followups::FUNERAL_ALLOWANCE;
        let data = serde_json::json!({
            "deceased_pid": deceased.pid.as_str(), "full_name": deceased.full_name, "death_date": died.to_string(),
            "beneficiary_pid": applicant.pid.as_str(), "beneficiary_name": applicant.full_name,
            "bank_account": field(d, "bank_account"), "registration_number": number,
        });
        let due = calendar.add_working_days(today, f.days);
        writes.extend(crate::followups::plan(f, d, deceased.pid.as_str(), data, due, a.at, now.unix_timestamp()));
    }
    writes.push(record_write(
            kind,
            d,
            &number,
            deceased.pid.as_str(),
            Some(applicant.pid.as_str()),
            died,
            today,
            None,
            &flags,
            serde_json::json!({ "closed_dossiers": codes.iter().map(|(c,)| c.as_str()).collect::<Vec<_>>(), "funeral_allowance": procedure.code == "DVC-16", "bank_account": field(d, "bank_account") }),
            a.at,
        ));
    writes.push(civitas_store::unit::event(&NewEvent {
            kind: "civil.death_registered",
            subject: deceased.pid.as_str().to_owned(),
            payload: serde_json::json!({ "dossier": d.code, "registration_number": number, "funeral_allowance": procedure.code == "DVC-16", "late": flags.iter().any(|f| f.starts_with("late")) }),
            actor: a.actor_id.to_owned(),
            occurred_at: a.at.to_owned(),
        }));
    Ok(Planned { writes, note: String::new() })
}

/// The household after a death: a deceased head is replaced by the eldest living adult member,
/// for the household to confirm (noted in `flags`); a household left empty is dissolved.
async fn household_after(
    register: &Register,
    deceased: &Person,
    today: time::Date,
    at: &str,
    flags: &mut Vec<String>,
) -> Vec<Write> {
    let mut writes = Vec::new();
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
                    vec![successor.pid.as_str().into(), at.to_owned().into(), h.as_str().into()],
                ));
                flags.push(format!(
                    "household {h}: {} ({}) named head until the household confirms",
                    successor.full_name, successor.pid
                ));
            }
        }
    }
    writes
}

/// Dossiers still open for the deceased are closed (withdrawn, with a step saying why).
async fn close_open_dossiers(
    db: &Db,
    deceased: &Person,
    d: &Dossier,
    today: time::Date,
    a: &Approval<'_>,
) -> Result<(Vec<(String,)>, Vec<Write>), DossierError> {
    let mut writes = Vec::new();
    let open = "SELECT code FROM dossiers WHERE applicant_pid = $1 AND code <> $2 AND state IN ('received', 'in_processing', 'supplement_requested', 'approved')";
    let codes: Vec<(String,)> =
        dispatch!(db, pool => sqlx::query_as(open).bind(deceased.pid.as_str()).bind(&d.code).fetch_all(pool).await)
            .map_err(civitas_store::StoreError::from)?;
    for (c,) in &codes {
        let note = format!("Người nộp đã chết / the applicant died ({})", d.code);
        writes.push(Write::new(
            "UPDATE dossiers SET state = 'withdrawn', finished_on = $1, version = version + 1 WHERE code = $2",
            vec![today.to_string().into(), c.clone().into()],
        ));
        writes.push(Write::new(
            "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state, note) VALUES ($1, $2, $3, 'withdraw', NULL, 'withdrawn', $4)",
            vec![c.clone().into(), a.at.to_owned().into(), a.actor_id.to_owned().into(), note.clone().into()],
        ));
        writes.push(crate::archive::enqueue(c, a.at));
        // The national portal learns that the dossier ended.
        if let Some(open) = crate::dossiers::get(db, c).await? {
            let mut steps = crate::portal::steps_of(db, c).await?;
            steps.push(crate::portal::StepFact {
                at: a.at.to_owned(),
                actor: a.actor_id.to_owned(),
                action: "withdraw".into(),
                from: Some(crate::dossiers::name_of(open.state)),
                to: "withdrawn".into(),
                note: Some(note),
                appointment: None,
            });
            let closed = Dossier {
                state: crate::workflow::State::Withdrawn,
                finished_on: Some(today.to_string()),
                version: open.version + 1,
                ..open
            };
            writes.extend(crate::portal::writes(&closed, &steps, false, a.at));
        }
    }
    Ok((codes, writes))
}

/// The deceased's new register version: dead, residence deregistered (the interconnected
/// step), out of their household; with the events other contexts follow.
fn deregistered(a: &Approval<'_>, deceased: &Person, died: time::Date) -> Result<Vec<Write>, DossierError> {
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
            actor: a.actor_id.to_owned(),
            occurred_at: a.at.to_owned(),
        },
        NewEvent {
            kind: "person.deceased",
            subject: deceased.pid.as_str().to_owned(),
            payload: serde_json::json!({ "version": version + 1, "date": died.to_string(), "dossier": a.d.code }),
            actor: a.actor_id.to_owned(),
            occurred_at: a.at.to_owned(),
        },
        NewEvent {
            kind: "person.residence_changed",
            subject: deceased.pid.as_str().to_owned(),
            payload: serde_json::json!({ "kind": "deregistered", "household_id": deceased.household_id.as_ref().map(|h| h.as_str()) }),
            actor: a.actor_id.to_owned(),
            occurred_at: a.at.to_owned(),
        },
    ];
    a.register
        .plan_version(&new, deceased, version, "deceased", a.attribution, &events)
        .map_err(|e| refuse(e.to_string()))
}
