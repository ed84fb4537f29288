//! Acting on a dossier: who may do what at which step, planning the writes of an action and
//! committing them, apologies and ratings.

use super::*;

/// `dd/mm/yyyy`, as dates are written in Vietnamese documents.
pub fn vn_day(d: Date) -> String {
    format!("{:02}/{:02}/{}", d.day(), d.month() as u8, d.year())
}

/// Who acts on a dossier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The one-stop officer (receipt, supplements at the counter, return).
    Onestop(String),
    /// An officer acting at a processing step.
    Officer(String, StepRole),
    Applicant(String),
    /// The server's own sweeps (lapsed supplements, apologies).
    System,
}

impl Actor {
    pub fn id(&self) -> String {
        match self {
            Actor::Onestop(id) | Actor::Officer(id, _) | Actor::Applicant(id) => id.clone(),
            Actor::System => "system".into(),
        }
    }
}

/// Whether `actor` may take `action` on `dossier` of `procedure` (the unit is the caller's to
/// check). The processing steps of the procedure say which role acts at each.
pub fn permitted(procedure: &Procedure, dossier: &Dossier, action: Action, actor: &Actor) -> Result<(), DossierError> {
    let step_role = usize::try_from(dossier.step_index).ok().and_then(|i| procedure.step(i)).map(|s| s.role);
    let last_step = dossier.step_index + 1 >= procedure.steps.len() as i64;
    let no = |why: &str| Err(DossierError::Forbidden(why.to_owned()));
    match (action, actor) {
        (Action::Withdraw, Actor::Applicant(pid)) if *pid == dossier.applicant_pid => Ok(()),
        (Action::Supplement, Actor::Applicant(pid)) if *pid == dossier.applicant_pid => Ok(()),
        (Action::Supplement, Actor::Onestop(_)) => Ok(()),
        (Action::StartProcessing | Action::RejectAtReceipt | Action::Return, Actor::Onestop(_)) => Ok(()),
        (Action::RequestSupplement, Actor::Onestop(_)) if dossier.state == State::Received => Ok(()),
        (Action::RequestSupplement | Action::Forward, Actor::Officer(_, role)) if Some(*role) == step_role => {
            if action == Action::Forward && last_step {
                return no("this is the last processing step: approve or refuse instead");
            }
            Ok(())
        }
        (Action::Approve | Action::Refuse, Actor::Officer(_, role)) if Some(*role) == step_role => {
            if !last_step {
                return no("the dossier must first pass the earlier processing steps (forward it)");
            }
            Ok(())
        }
        (Action::IssueResult, Actor::Officer(_, StepRole::Specialist) | Actor::Onestop(_)) => Ok(()),
        (Action::LapseSupplement, Actor::System) => Ok(()),
        _ => no(&format!(
            "{} may not {} this dossier at its current step",
            match actor {
                Actor::Onestop(_) => "a one-stop officer",
                Actor::Officer(_, StepRole::Specialist) => "a specialist",
                Actor::Officer(_, StepRole::Leader) => "a leader",
                Actor::Applicant(_) => "the applicant",
                Actor::System => "the system",
            },
            name_of(action).replace('_', " ")
        )),
    }
}

/// A result document placed in the applicant's store when the result is issued.
#[derive(Debug, Clone)]
pub struct ResultFile {
    pub name: String,
    pub bytes: Vec<u8>,
    /// Its code, signed by the agency (`codes::signed_result`); stored with the document.
    pub code: Option<crate::codes::Coded>,
}

/// The details of one action.
#[derive(Debug, Clone, Default)]
pub struct ActInput {
    /// What must be supplied, the reasons of a refusal, or a remark.
    pub note: Option<String>,
    /// The applicant's deadline to supply documents, in working days (request supplement).
    pub supplement_days: Option<u32>,
    /// Documents handed in with a supplement: component code → document id.
    pub components: Vec<(String, String)>,
    pub result: Option<ResultFile>,
    /// Refuse the action if the dossier is no longer at this version.
    pub expected_version: Option<i64>,
}

/// Checks `action` on the dossier `code` as `actor` and plans its writes (the dossier row,
/// the control-sheet step, the result document, the notification, the event), for [`act`] or
/// for a context that commits them with its own (civil registration updates the register in
/// the same transaction). Returns the dossier as it was.
#[allow(clippy::too_many_arguments)]
pub async fn plan_act(
    db: &Db,
    calendar: &WorkCalendar,
    procedure: &Procedure,
    code: &str,
    action: Action,
    actor: &Actor,
    input: ActInput,
    now: time::OffsetDateTime,
) -> Result<(Dossier, Vec<Write>), DossierError> {
    let current = get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))?;
    if let Some(v) = input.expected_version
        && v != current.version
    {
        return Err(DossierError::VersionConflict { expected: v, actual: current.version });
    }
    let to = workflow::next(current.state, action)?;
    permitted(procedure, &current, action, actor)?;
    let note = checked_note(db, procedure, &current, action, &input).await?;
    let today = local_today(now);
    let (pauses, supplement_due) = clock_after(calendar, &current, action, input.supplement_days, today)?;
    let received_on = parse_day(&current.received_on)?;
    let appointment =
        workflow::appointment(calendar, received_on, u32::try_from(current.statutory_days).unwrap_or(0), &pauses);
    let finished = matches!(to, State::ResultIssued | State::Refused | State::RejectedAtReceipt).then_some(today);
    let timeliness = finished.filter(|_| to != State::RejectedAtReceipt).map(|f| workflow::timeliness(appointment, f));
    let step_index = match action {
        Action::Forward => current.step_index + 1,
        _ => current.step_index,
    };
    let mut data = with_components(&current.data, &input.components);
    if let Some(coded) = input.result.as_ref().and_then(|r| r.code.as_ref())
        && let Some(obj) = data.as_object_mut()
    {
        obj.insert("result_code".into(), coded.code.clone().into());
    }
    let at = civitas_store::timestamp(now);
    let (supplied, code_writes) = crate::codes::code_supplied(
        db,
        &current,
        &crate::codes::procedure_code(procedure),
        &input.components,
        &actor.id(),
        &at,
    )
    .await?;
    if !supplied.is_empty()
        && let Some(obj) = data.as_object_mut()
        && let Some(codes) = obj.entry("codes").or_insert_with(|| serde_json::json!({})).as_object_mut()
    {
        codes.extend(supplied);
    }
    let action_text = name_of(action);
    let step_key = usize::try_from(current.step_index).ok().and_then(|i| procedure.step(i)).map(|s| s.key.clone());
    let event = NewEvent {
        kind: "dossier.step",
        subject: code.to_owned(),
        payload: serde_json::json!({
            "action": action_text, "from": name_of(current.state), "to": name_of(to), "step": step_key,
            "appointment": day(appointment), "note": note, "timeliness": timeliness.map(name_of),
            "result": input.result.is_some(),
        }),
        actor: actor.id(),
        occurred_at: at.clone(),
    };
    let notice = notice_of(action, code, note.as_deref(), supplement_due.as_deref());
    // A returned dossier keeps the day it was finished and its timeliness.
    let update = "UPDATE dossiers SET state = $1, pauses = $2, appointment_on = $3, finished_on = COALESCE($4, finished_on), \
                  timeliness = COALESCE($5, timeliness), \
                  step_index = $6, supplement_due_on = $7, data = $8, result_document = COALESCE($9, result_document), version = version + 1 \
                  WHERE code = $10 AND version = $11";
    let pauses_json = serde_json::to_string(&pauses).unwrap_or_else(|_| "[]".into());
    let timeliness_text = timeliness.map(name_of);
    let (result_id, result_write) = result_document(input.result.as_ref(), &current, &at)?;
    let mut writes = vec![
        Write::new(
            update,
            vec![
                name_of(to).into(),
                pauses_json.into(),
                day(appointment).into(),
                Value::Text(finished.map(day)),
                Value::Text(timeliness_text),
                step_index.into(),
                Value::Text(supplement_due.clone()),
                data.to_string().into(),
                Value::Text(result_id.clone()),
                code.into(),
                current.version.into(),
            ],
        )
        .expecting(1, "the dossier changed meanwhile"),
        step_write(
            code,
            &at,
            &actor.id(),
            &action_text,
            (&name_of(current.state), &name_of(to)),
            note.clone(),
            &day(appointment),
        ),
    ];
    writes.extend(result_write);
    writes.extend(code_writes);
    if let Some((subject, body)) = notice {
        writes.push(notify_write(subject, &body, &at, &current.applicant_pid));
    }
    writes.push(civitas_store::unit::event(&event));
    if to.is_final() {
        // Closed: its archive packages are prepared (job archive.prepare).
        writes.push(crate::archive::enqueue(code, &at));
    }
    // What the national portal must learn: the dossier as it will be, and this step.
    let after = Dossier {
        state: to,
        pauses,
        appointment_on: day(appointment),
        finished_on: finished.map(day).or_else(|| current.finished_on.clone()),
        timeliness: timeliness.or(current.timeliness),
        step_index,
        supplement_due_on: supplement_due,
        data,
        result_document: result_id.or_else(|| current.result_document.clone()),
        version: current.version + 1,
        ..current.clone()
    };
    let mut steps = crate::portal::steps_of(db, code).await?;
    steps.push(crate::portal::StepFact {
        at: at.clone(),
        actor: actor.id(),
        action: action_text.clone(),
        from: Some(name_of(current.state)),
        to: name_of(to),
        note,
        appointment: Some(day(appointment)),
    });
    writes.extend(crate::portal::writes(&after, &steps, false, &at));
    Ok((current, writes))
}

/// A line of the dossier's control sheet (the processing steps): `(from, to)` states, and the
/// appointment day after it.
fn step_write(
    code: &str,
    at: &str,
    actor: &str,
    action: &str,
    (from, to): (&str, &str),
    note: Option<String>,
    appointment: &str,
) -> Write {
    Write::new(
        "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state, note, appointment_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        vec![
            code.into(),
            at.to_owned().into(),
            actor.to_owned().into(),
            action.into(),
            from.into(),
            to.into(),
            Value::Text(note),
            appointment.into(),
        ],
    )
}

/// The dossier's data with the components a supplement handed in (component → document id).
fn with_components(data: &serde_json::Value, components: &[(String, String)]) -> serde_json::Value {
    let mut data = data.clone();
    if !components.is_empty()
        && let Some(obj) = data.as_object_mut()
    {
        let comps = obj.entry("components").or_insert_with(|| serde_json::json!({}));
        if let Some(c) = comps.as_object_mut() {
            for (component, document) in components {
                c.insert(component.clone(), serde_json::Value::String(document.clone()));
            }
        }
    }
    data
}

/// The result document an action issues, stored in the applicant's documents: its new id and
/// its write.
fn result_document(
    result: Option<&ResultFile>,
    current: &Dossier,
    at: &str,
) -> Result<(Option<String>, Vec<Write>), DossierError> {
    let Some(file) = result else { return Ok((None, Vec::new())) };
    let (media, sha) = crate::documents::prepare(&file.bytes).map_err(|e| DossierError::Invalid(e.to_string()))?;
    let id = file.code.as_ref().map_or_else(crate::documents::new_id, |c| c.document_id.clone());
    let write = Write::new(
        crate::documents::INSERT_RESULT,
        vec![
            id.clone().into(),
            current.applicant_pid.clone().into(),
            file.name.clone().into(),
            media.as_str().into(),
            (file.bytes.len() as i64).into(),
            sha.into(),
            Value::Bytes(Some(file.bytes.clone())),
            at.to_owned().into(),
            current.code.clone().into(),
            current.procedure_code.clone().into(),
        ],
    );
    let mut writes = vec![write];
    writes.extend(file.code.as_ref().map(crate::codes::Coded::write));
    Ok((Some(id), writes))
}

/// The checks of an action's input: the note where one is required, its length, the documents
/// of a supplement (components of the procedure, in the applicant's store). Returns the note.
async fn checked_note(
    db: &Db,
    procedure: &Procedure,
    current: &Dossier,
    action: Action,
    input: &ActInput,
) -> Result<Option<String>, DossierError> {
    let note = input.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(civitas_core::text::nfc);
    if matches!(action, Action::RequestSupplement | Action::Refuse | Action::RejectAtReceipt) && note.is_none() {
        return Err(DossierError::Invalid("say what is missing, or why, in the note".into()));
    }
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(DossierError::Invalid("the note may have at most 2,000 characters".into()));
    }
    if action == Action::Supplement && input.components.is_empty() && note.is_none() {
        return Err(DossierError::Invalid(
            "hand in the documents asked for (or say what was supplied in the note)".into(),
        ));
    }
    for (component, document) in &input.components {
        if !procedure.components.iter().any(|c| &c.code == component) {
            return Err(DossierError::Invalid(format!(
                "{component} is not a component of procedure {}",
                procedure.code
            )));
        }
        if !crate::documents::owned_by(db, document, &current.applicant_pid).await? {
            return Err(DossierError::Invalid(format!("document {document} is not in the applicant's store")));
        }
    }
    Ok(note)
}

/// The dossier's clock after `action`: a supplement request pauses it (and sets the applicant's
/// deadline), a supplement or a lapse ends the pause.
fn clock_after(
    calendar: &WorkCalendar,
    current: &Dossier,
    action: Action,
    supplement_days: Option<u32>,
    today: Date,
) -> Result<(Vec<Pause>, Option<String>), DossierError> {
    let mut pauses = current.pauses.clone();
    let mut supplement_due = current.supplement_due_on.clone();
    match action {
        Action::RequestSupplement => {
            let days = supplement_days.unwrap_or(15);
            if !(1..=60).contains(&days) {
                return Err(DossierError::Invalid("the applicant's deadline is 1–60 working days".into()));
            }
            pauses.push(Pause { from: today, until: None });
            supplement_due = Some(day(calendar.add_working_days(today, days)));
        }
        Action::Supplement | Action::LapseSupplement => {
            if let Some(open) = pauses.iter_mut().rev().find(|p| p.until.is_none()) {
                open.until = Some(today);
            }
            supplement_due = None;
        }
        _ => {}
    }
    Ok((pauses, supplement_due))
}

/// The SMS an action sends the applicant, if any: (subject, body).
fn notice_of(
    action: Action,
    code: &str,
    note: Option<&str>,
    supplement_due: Option<&str>,
) -> Option<(&'static str, String)> {
    match action {
        Action::RequestSupplement => Some((
            "Yêu cầu bổ sung hồ sơ / Supplement requested",
            format!(
                "Hồ sơ {code} cần bổ sung: {}. Hạn bổ sung: {}. / Dossier {code} needs more documents by {}.",
                note.unwrap_or_default(),
                supplement_due.and_then(|d| parse_day(d).ok()).map(vn_day).unwrap_or_default(),
                supplement_due.unwrap_or_default()
            ),
        )),
        Action::IssueResult => Some((
            "Có kết quả / Result ready",
            format!(
                "Hồ sơ {code} đã có kết quả, lưu trong kho dữ liệu của bạn. / The result of dossier {code} is in your document store."
            ),
        )),
        Action::Refuse => Some((
            "Từ chối giải quyết / Refused",
            format!("Hồ sơ {code} không được giải quyết: {}. / Dossier {code} was refused.", note.unwrap_or_default()),
        )),
        Action::LapseSupplement => Some((
            "Hồ sơ đã đóng / Dossier closed",
            format!(
                "Hồ sơ {code} đã đóng vì quá hạn bổ sung. / Dossier {code} was closed: the documents were not supplied in time."
            ),
        )),
        _ => None,
    }
}

/// The SMS to the holder of `pid`'s e-ID account, as a planned write.
pub fn notify_write(subject: &str, body: &str, at: &str, pid: &str) -> Write {
    Write::new(NOTIFY, vec![subject.into(), body.into(), at.into(), pid.into()])
}

/// Commits planned writes; a guard that did not hold is a version conflict on `code`.
pub async fn commit_planned(db: &Db, code: &str, expected: i64, writes: &[Write]) -> Result<Dossier, DossierError> {
    if civitas_store::unit::commit(db, writes).await?.is_err() {
        let actual = get(db, code).await?.map(|d| d.version).unwrap_or_default();
        return Err(DossierError::VersionConflict { expected, actual });
    }
    get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))
}

/// Like [`commit_planned`], through a group committer (one flush for concurrent units).
pub async fn commit_planned_with(
    committer: &civitas_store::unit::GroupCommitter,
    db: &Db,
    code: &str,
    expected: i64,
    writes: Vec<Write>,
) -> Result<Dossier, DossierError> {
    if committer.commit(writes).await?.is_err() {
        let actual = get(db, code).await?.map(|d| d.version).unwrap_or_default();
        return Err(DossierError::VersionConflict { expected, actual });
    }
    get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))
}

/// Applies `action` to the dossier `code` as `actor`, recording the step, the event and the
/// applicant's notification in one transaction.
#[allow(clippy::too_many_arguments)]
pub async fn act(
    db: &Db,
    calendar: &WorkCalendar,
    procedure: &Procedure,
    code: &str,
    action: Action,
    actor: &Actor,
    input: ActInput,
    now: time::OffsetDateTime,
) -> Result<Dossier, DossierError> {
    let (current, writes) = plan_act(db, calendar, procedure, code, action, actor, input, now).await?;
    commit_planned(db, code, current.version, &writes).await
}

/// Records the apology (form 04) of a dossier that is, or will be, late, with the new date
/// promised and the reason; notifies the applicant. Timeliness is still judged against the
/// statutory date: an apologised dossier finished after it is late.
pub async fn apologize(
    db: &Db,
    code: &str,
    new_date: Date,
    reason: &str,
    actor: &Actor,
    now: time::OffsetDateTime,
) -> Result<Dossier, DossierError> {
    let current = get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))?;
    if current.state.is_final() || current.state == State::ResultIssued {
        return Err(DossierError::Invalid("the dossier is finished; there is nothing to apologise for".into()));
    }
    // The system apologises once per missed date: read now, with the version guard below, so
    // that a second server sweeping at the same moment finds it done.
    let today = day(local_today(now));
    if *actor == Actor::System
        && (current.appointment_on >= today || current.apology_on.as_ref().is_some_and(|a| *a >= today))
    {
        return Err(DossierError::Invalid("already apologised, or not late".into()));
    }
    let reason = civitas_core::text::nfc(reason.trim());
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(DossierError::Invalid("give the reason of the delay (1–1,000 characters)".into()));
    }
    let appointment = parse_day(&current.appointment_on)?;
    if new_date <= appointment || new_date <= local_today(now) {
        return Err(DossierError::Invalid("the new date must be after the appointment date and after today".into()));
    }
    let at = civitas_store::timestamp(now);
    let update = "UPDATE dossiers SET apology_on = $1, apology_reason = $2, version = version + 1 WHERE code = $3 AND version = $4";
    let step = "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state, note) VALUES ($1, $2, $3, 'apologize', $4, $4, $5)";
    let body = format!(
        "Xin lỗi: hồ sơ {code} chậm so với hẹn {}. Ngày hẹn mới: {}. / Apologies: dossier {code} is late; new date {}.",
        vn_day(appointment),
        vn_day(new_date),
        new_date
    );
    let event = NewEvent {
        kind: "dossier.apology",
        subject: code.to_owned(),
        payload: serde_json::json!({ "appointment": current.appointment_on, "new_date": day(new_date), "reason": reason }),
        actor: actor.id(),
        occurred_at: at.clone(),
    };
    let actor_id = actor.id();
    let _writer = db.write_lock().await;
    let updated = dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query(update).bind(day(new_date)).bind(&reason).bind(code).bind(current.version).execute(&mut *tx).await?.rows_affected();
        if n == 1 {
            sqlx::query(step).bind(code).bind(&at).bind(&actor_id).bind(name_of(current.state)).bind(&reason).execute(&mut *tx).await?;
            sqlx::query(NOTIFY).bind("Thư xin lỗi / Apology").bind(&body).bind(&at).bind(&current.applicant_pid).execute(&mut *tx).await?;
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await?;
        }
        Ok::<_, sqlx::Error>(n == 1)
    })?;
    drop(_writer);
    if !updated {
        return Err(DossierError::VersionConflict { expected: current.version, actual: current.version + 1 });
    }
    get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))
}

/// The applicant's rating of a finished dossier (once).
pub async fn rate(
    db: &Db,
    code: &str,
    pid: &str,
    rating: Rating,
    now: time::OffsetDateTime,
) -> Result<Dossier, DossierError> {
    let current = get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))?;
    if current.applicant_pid != pid {
        return Err(DossierError::NotFound(code.to_owned()));
    }
    if !matches!(current.state, State::ResultIssued | State::Returned | State::Refused) {
        return Err(DossierError::Invalid("a dossier can be rated once its result or refusal is issued".into()));
    }
    if current.rating.is_some() {
        return Err(DossierError::Invalid("this dossier was already rated".into()));
    }
    let at = civitas_store::timestamp(now);
    let update = "UPDATE dossiers SET rating = $1, version = version + 1 WHERE code = $2 AND rating IS NULL";
    let step = "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state, note) VALUES ($1, $2, $3, 'rate', $4, $4, $5)";
    let event = NewEvent {
        kind: "dossier.rated",
        subject: code.to_owned(),
        payload: serde_json::json!({ "rating": name_of(rating) }),
        actor: pid.to_owned(),
        occurred_at: at.clone(),
    };
    let _writer = db.write_lock().await;
    let updated = dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query(update).bind(name_of(rating)).bind(code).execute(&mut *tx).await?.rows_affected();
        if n == 1 {
            sqlx::query(step).bind(code).bind(&at).bind(pid).bind(name_of(current.state)).bind(name_of(rating)).execute(&mut *tx).await?;
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await?;
        }
        Ok::<_, sqlx::Error>(n == 1)
    })?;
    drop(_writer);
    if !updated {
        return Err(DossierError::Invalid("this dossier was already rated".into()));
    }
    get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))
}
