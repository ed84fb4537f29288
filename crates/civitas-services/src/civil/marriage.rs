use super::*;

/// A marriage: both spouses' records name each other, once no legal obstacle stands.
pub(super) async fn plan_marriage(a: &Approval<'_>) -> Result<Planned, DossierError> {
    let kind = Kind::Marriage;
    let Approval { register, d, applicant, today, .. } = *a;
    let flags: Vec<String> = Vec::new();
    let mut writes: Vec<Write> = Vec::new();
    let partner_pid = field(d, "partner_pid").ok_or_else(|| refuse("the partner's ID number is missing"))?;
    let partner = person(register, partner_pid, "partner").await?;
    let obstacles = marriage_obstacles(register, applicant, &partner, today).await;
    if !obstacles.is_empty() {
        return Err(refuse(format!("the marriage cannot be registered: {}", obstacles.join("; "))));
    }
    for (me, spouse) in [(applicant, &partner), (&partner, applicant)] {
        let mut new = me.clone();
        new.marital_status = MaritalStatus::Married;
        new.spouse_pid = Some(spouse.pid);
        let new = new.normalize_and_validate(today).map_err(|e| refuse(e.to_string()))?;
        let version = me.version.unwrap_or(1);
        let event = NewEvent {
            kind: "person.corrected",
            subject: me.pid.as_str().to_owned(),
            payload: serde_json::json!({ "fields": ["marital_status", "spouse_pid"], "version": version + 1 }),
            actor: a.actor_id.to_owned(),
            occurred_at: a.at.to_owned(),
        };
        writes.extend(
            register
                .plan_version(&new, me, version, "corrected", a.attribution, &[event])
                .map_err(|e| refuse(e.to_string()))?,
        );
    }
    let (sequence, number) = registration_number(kind, &d.unit_code, today.year());
    writes.insert(0, sequence);
    writes.push(record_write(
        kind,
        d,
        &number,
        applicant.pid.as_str(),
        Some(partner.pid.as_str()),
        today,
        today,
        None,
        &flags,
        serde_json::json!({}),
        a.at,
    ));
    writes.push(civitas_store::unit::event(&NewEvent {
            kind: "civil.marriage_registered",
            subject: applicant.pid.as_str().to_owned(),
            payload: serde_json::json!({ "dossier": d.code, "registration_number": number, "spouse": partner.pid.as_str() }),
            actor: a.actor_id.to_owned(),
            occurred_at: a.at.to_owned(),
        }));
    Ok(Planned { writes, note: String::new() })
}
