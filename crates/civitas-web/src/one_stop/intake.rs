//! Receiving dossiers: online submission with the e-ID, and the counter (card check, intake).

use super::*;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnlineSubmission {
    /// Procedure code from the catalogue.
    procedure: String,
    /// The e-form: field name → value. Data the register holds (name, birth date, residence)
    /// is not asked: it is taken from the register.
    #[serde(default)]
    fields: BTreeMap<String, String>,
    /// Component code → id of a document in the applicant's store.
    #[serde(default)]
    components: BTreeMap<String, String>,
}

/// Everything checked before a dossier is stored: the form, the components, the competent unit.
pub struct Prepared {
    pub new: NewDossier,
}

/// Checks a submission (see `civitas_services::submission::prepare`), as problem details.
pub async fn prepare(
    state: &AppState,
    procedure: &Procedure,
    person: &civitas_registry::Person,
    fields: &BTreeMap<String, String>,
    components: &BTreeMap<String, String>,
    channel: &str,
    extra: serde_json::Value,
) -> Result<Prepared, Problem> {
    let receiving =
        submission::Receiving { body_code: &state.body_code, catalogue_version: &state.catalogue.version, channel };
    match submission::prepare(&state.db, &receiving, procedure, person, fields, components, extra).await {
        Ok(new) => Ok(Prepared { new }),
        Err(SubmissionError::Store(e)) => Err(e.into()),
        Err(SubmissionError::Invalid(errors)) => {
            let detail = errors.iter().map(|e| e.detail.clone()).collect::<Vec<_>>().join("; ");
            let errors = errors.into_iter().map(|e| FieldProblem { field: e.field, detail: e.detail }).collect();
            Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-form", "The form has problems", detail)
                .with_errors(errors))
        }
    }
}

pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| Problem::bad_request("invalid-idempotency-key", "the Idempotency-Key must be ASCII"))?;
            if v.is_empty() || v.len() > 200 {
                return Err(Problem::bad_request(
                    "invalid-idempotency-key",
                    "the Idempotency-Key must have 1–200 characters",
                ));
            }
            Ok(Some(v.to_owned()))
        }
    }
}

pub(super) async fn person_of(state: &AppState, pid: &str) -> Result<civitas_registry::Person, Problem> {
    let pid: Pid = pid.parse().map_err(|_| Problem::bad_request("invalid-pid", "not a valid ID number"))?;
    state.register.get(&pid).await?.ok_or_else(|| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-in-register",
            "Not in the register",
            "the population register has no such person",
        )
    })
}

#[utoipa::path(post, path = "/api/v1/dossiers", tag = "dossiers", request_body = OnlineSubmission,
    params(("Idempotency-Key" = Option<String>, Header, description = "Submitting again with the same key returns the same dossier")),
    responses((status = 201, body = DossierView), (status = 200, description = "The dossier of an earlier submission with this key", body = DossierView),
        (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn submit_online(
    AxumState(state): AxumState<AppState>,
    citizen: Citizen,
    headers: HeaderMap,
    body: Result<Json<OnlineSubmission>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<DossierView>), Problem> {
    let Json(body) = body.map_err(|e| Problem::bad_request("invalid-json", e.body_text()))?;
    let key = idempotency_key(&headers)?;
    let procedure = procedure_of(&state, &body.procedure)?;
    let person = person_of(&state, &citizen.pid).await?;
    let prepared =
        prepare(&state, procedure, &person, &body.fields, &body.components, "online", serde_json::json!({})).await?;
    let before = crate::now();
    let d = state.intake.submit(prepared.new, key.as_deref(), &citizen.pid, before).await?;
    let created = d.received_at >= civitas_store::timestamp(before);
    let view = citizen_view(view(&state, d).await?, &citizen);
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(view)))
}

/// A caller acting for the one-stop shop or a processing step.
pub(super) fn officer_actor(caller: &Caller) -> Result<Actor, Problem> {
    let id = caller.claims.sub.clone();
    match caller.role() {
        Role::OnestopOfficer => Ok(Actor::Onestop(id)),
        Role::Specialist => Ok(Actor::Officer(id, StepRole::Specialist)),
        Role::Leader => Ok(Actor::Officer(id, StepRole::Leader)),
        r => Err(Problem::forbidden(format!("role {} does not process dossiers", r.as_str()))),
    }
}

pub(super) fn onestop(caller: &Caller) -> Result<(), Problem> {
    if caller.role() == Role::OnestopOfficer {
        Ok(())
    } else {
        Err(Problem::forbidden("only one-stop officers receive dossiers at the counter"))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CardCheck {
    /// The text of the card's QR code as a scanner reads it.
    card_qr: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Mismatch {
    pub field: String,
    pub card: String,
    pub register: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardCheckResult {
    pid: String,
    full_name: String,
    birth_date: String,
    sex: String,
    permanent_residence: Option<String>,
    /// Where the card and the register differ (the register is used; the differences are
    /// kept with the dossier for the officer to settle).
    mismatches: Vec<Mismatch>,
}

/// The counter read the applicant's register data: logged with its purpose.
pub(super) async fn log_card_read(
    state: &AppState,
    caller: &Caller,
    person: &civitas_registry::Person,
) -> Result<(), Problem> {
    let mut caller = caller.clone();
    caller.purpose = Some("counter-intake".into());
    crate::api::log_reads(
        state,
        &caller,
        &[person.pid.as_str()],
        &["full_name", "birth_date", "sex", "permanent_residence"],
    )
    .await
}

/// Reads a card QR at the counter and matches it to the register, for `caller` (a one-stop
/// officer), logging the read with its purpose. Intake is allowed anywhere (Decree 118), but
/// the register is not a nationwide lookup: for a person outside the caller's units the card
/// must agree with the register on name, birth date and sex (the holder is at the counter with
/// the card), and a material disagreement is refused naming the fields, never showing the
/// register's values (spelling without diacritics, or a date the register holds only in part,
/// are not material: the differences are listed as within the units).
pub(crate) async fn check_card(
    state: &AppState,
    caller: &Caller,
    text: &str,
) -> Result<(civitas_registry::Person, Vec<Mismatch>), Problem> {
    let (person, mismatches, material) = match_card(state, text).await?;
    if !crate::api::may_read(caller, &person) && material {
        let fields: Vec<FieldProblem> = mismatches
            .iter()
            .map(|m| FieldProblem {
                field: format!("card_qr.{}", m.field),
                detail: "the card and the register differ".into(),
            })
            .collect();
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "card-mismatch",
            "Card does not match the register",
            "this person is registered outside your units and the card differs from the register: \
             the counter of the person's residence can settle the difference",
        )
        .with_errors(fields));
    }
    log_card_read(state, caller, &person).await?;
    Ok((person, mismatches))
}

/// The card matched to the register: the person, the differences to show, and whether any of
/// them is material (a different name even without diacritics, a birth date the register's
/// (possibly partial) date does not allow, a different sex) rather than a matter of spelling.
pub(super) async fn match_card(
    state: &AppState,
    text: &str,
) -> Result<(civitas_registry::Person, Vec<Mismatch>, bool), Problem> {
    let card: CardQr = text.parse().map_err(|e: civitas_core::card::CardQrError| {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-card-qr", "Unreadable card QR", e.to_string())
            .with_errors(vec![FieldProblem { field: "card_qr".into(), detail: e.to_string() }])
    })?;
    let person = person_of(state, card.pid.as_str()).await?;
    let mut mismatches = Vec::new();
    let fold = civitas_core::text::fold;
    let register_date = &person.birth_date;
    let material = fold(&card.full_name) != fold(&person.full_name)
        || card.sex != person.sex
        || register_date.year() != card.birth_date.year() as u16
        || register_date.month().is_some_and(|m| m != card.birth_date.month() as u8)
        || register_date.day().is_some_and(|d| d != card.birth_date.day());
    if fold(&card.full_name) != fold(&person.full_name) || civitas_core::nfc(&card.full_name) != person.full_name {
        mismatches.push(Mismatch {
            field: "full_name".into(),
            card: card.full_name.clone(),
            register: person.full_name.clone(),
        });
    }
    let card_birth =
        format!("{:02}/{:02}/{}", card.birth_date.day(), card.birth_date.month() as u8, card.birth_date.year());
    let register_birth = crate::pages::date_text(&person.birth_date);
    if card_birth != register_birth {
        mismatches.push(Mismatch { field: "birth_date".into(), card: card_birth, register: register_birth });
    }
    if card.sex != person.sex {
        mismatches.push(Mismatch {
            field: "sex".into(),
            card: card.sex.label("vi").into(),
            register: person.sex.label("vi").into(),
        });
    }
    Ok((person, mismatches, material))
}

#[utoipa::path(post, path = "/api/v1/counter/card-check", tag = "dossiers", request_body = CardCheck,
    responses((status = 200, body = CardCheckResult), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn card_check(
    AxumState(state): AxumState<AppState>,
    caller: Caller,
    Json(body): Json<CardCheck>,
) -> Result<Json<CardCheckResult>, Problem> {
    onestop(&caller)?;
    let (person, mismatches) = check_card(&state, &caller, &body.card_qr).await?;
    let within_units = crate::api::may_read(&caller, &person);
    Ok(Json(CardCheckResult {
        pid: person.pid.as_str().to_owned(),
        birth_date: crate::pages::date_text(&person.birth_date),
        sex: person.sex.label("vi").to_owned(),
        // Outside the caller's units only what the card itself shows is answered.
        permanent_residence: person
            .permanent_residence
            .as_ref()
            .filter(|_| within_units)
            .map(crate::pages::residence_text),
        full_name: person.full_name,
        mismatches,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterSubmission {
    procedure: String,
    /// The text of the applicant's card QR.
    card_qr: String,
    /// counter (default) or postal.
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    /// Component code → id of a document in the applicant's store (scanned at the counter).
    #[serde(default)]
    components: BTreeMap<String, String>,
}

#[utoipa::path(post, path = "/api/v1/counter/dossiers", tag = "dossiers", request_body = CounterSubmission,
    responses((status = 201, body = DossierView), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn submit_counter(
    AxumState(state): AxumState<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<CounterSubmission>,
) -> Result<(StatusCode, Json<DossierView>), Problem> {
    onestop(&caller)?;
    let key = idempotency_key(&headers)?;
    let channel = body.channel.as_deref().unwrap_or("counter");
    if !["counter", "postal"].contains(&channel) {
        return Err(Problem::bad_request("invalid-channel", "the channel at the counter is counter or postal"));
    }
    let procedure = procedure_of(&state, &body.procedure)?;
    let (person, mismatches) = check_card(&state, &caller, &body.card_qr).await?;
    let extra = serde_json::json!({ "card_mismatches": mismatches, "received_by": caller.claims.sub });
    let prepared = prepare(&state, procedure, &person, &body.fields, &body.components, channel, extra).await?;
    let d = state.intake.submit(prepared.new, key.as_deref(), &caller.claims.sub, crate::now()).await?;
    Ok((StatusCode::CREATED, Json(view(&state, d).await?)))
}
