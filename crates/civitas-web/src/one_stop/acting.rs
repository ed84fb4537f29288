//! Acting on dossiers: officers' actions, the applicant's supplements, withdrawal and rating,
//! apologies, and the slips (receipt, apology) as PDFs.

use super::*;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// start_processing, forward, request_supplement, approve, refuse, issue_result, return,
    /// reject_at_receipt.
    action: String,
    /// Required for request_supplement, refuse and reject_at_receipt: what is missing, or why.
    note: Option<String>,
    /// Working days the applicant has to supply documents (request_supplement; default 15).
    supplement_days: Option<u32>,
    /// The dossier version the officer saw; the action is refused if it changed meanwhile.
    version: Option<i64>,
    /// Approving a birth flagged as a possible duplicate: the officer confirms it is not one
    /// (say why in the note; recorded on the control sheet and the civil-status record).
    #[serde(default)]
    not_duplicate: bool,
}

pub(crate) fn parse_action(s: &str) -> Result<Action, Problem> {
    serde_json::from_value::<Action>(serde_json::Value::String(s.to_owned()))
        .map_err(|_| Problem::bad_request("invalid-action", format!("{s:?} is not an action")))
}

impl From<ProcessingError> for Problem {
    fn from(e: ProcessingError) -> Self {
        match e {
            ProcessingError::Dossier(d) => d.into(),
            ProcessingError::Certificate(c) => c.into(),
            ProcessingError::Render(_) => crate::problem::internal(&e),
        }
    }
}

/// An officer's action on a dossier of their units (`civitas_services::processing::perform`).
pub async fn perform(
    state: &AppState,
    caller: &Caller,
    code: &str,
    action: Action,
    input: ActInput,
    not_duplicate: bool,
) -> Result<Dossier, Problem> {
    let actor = officer_actor(caller)?;
    let d = dossiers::get(&state.db, code)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no dossier {code} that you may see")))?;
    if !caller.covers_unit(&d.unit_code) {
        return Err(Problem::not_found(format!("no dossier {code} that you may see")));
    }
    let procedure = state.catalogue.get(&d.procedure_code).ok_or_else(Problem::internal)?;
    let office = state.office();
    let signer = state.certificate_signer();
    let processing = state.processing(&office, &signer);
    Ok(processing::perform(&processing, procedure, &d, action, &actor, input, not_duplicate, crate::now()).await?)
}

#[utoipa::path(post, path = "/api/v1/dossiers/{code}/actions", tag = "dossiers", params(("code" = String, Path)),
    request_body = ActionRequest,
    responses((status = 200, body = DossierView), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn officer_action(
    AxumState(state): AxumState<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Result<Json<ActionRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<DossierView>, Problem> {
    let Json(body) = body.map_err(|e| Problem::bad_request("invalid-json", e.body_text()))?;
    let action = parse_action(&body.action)?;
    if matches!(action, Action::Supplement | Action::Withdraw | Action::LapseSupplement) {
        return Err(Problem::bad_request(
            "invalid-action",
            "supplements and withdrawals are the applicant's; lapses are the system's",
        ));
    }
    let input = ActInput {
        note: body.note,
        supplement_days: body.supplement_days,
        expected_version: body.version,
        ..Default::default()
    };
    let d = perform(&state, &caller, &code, action, input, body.not_duplicate).await?;
    Ok(Json(view(&state, d).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplementRequest {
    /// Component code → id of a document in the applicant's store.
    #[serde(default)]
    components: BTreeMap<String, String>,
    note: Option<String>,
}

pub(super) async fn citizen_act(
    state: &AppState,
    citizen: &Citizen,
    code: &str,
    action: Action,
    input: ActInput,
) -> Result<Dossier, Problem> {
    let d = dossiers::get(&state.db, code).await?.filter(|d| d.applicant_pid == citizen.pid);
    let d = d.ok_or_else(|| Problem::not_found(format!("no dossier {code} that you may see")))?;
    let procedure = state.catalogue.get(&d.procedure_code).ok_or_else(Problem::internal)?;
    let actor = Actor::Applicant(citizen.pid.clone());
    Ok(dossiers::act(&state.db, &state.calendar, procedure, code, action, &actor, input, crate::now()).await?)
}

#[utoipa::path(post, path = "/api/v1/dossiers/{code}/supplement", tag = "dossiers", params(("code" = String, Path)),
    request_body = SupplementRequest,
    responses((status = 200, body = DossierView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn supplement(
    AxumState(state): AxumState<AppState>,
    citizen: Citizen,
    Path(code): Path<String>,
    Json(body): Json<SupplementRequest>,
) -> Result<Json<DossierView>, Problem> {
    let input = ActInput { note: body.note, components: body.components.into_iter().collect(), ..Default::default() };
    let d = citizen_act(&state, &citizen, &code, Action::Supplement, input).await?;
    Ok(Json(citizen_view(view(&state, d).await?, &citizen)))
}

#[utoipa::path(post, path = "/api/v1/dossiers/{code}/withdraw", tag = "dossiers", params(("code" = String, Path)),
    responses((status = 200, body = DossierView), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn withdraw(
    AxumState(state): AxumState<AppState>,
    citizen: Citizen,
    Path(code): Path<String>,
) -> Result<Json<DossierView>, Problem> {
    let d = citizen_act(&state, &citizen, &code, Action::Withdraw, ActInput::default()).await?;
    Ok(Json(citizen_view(view(&state, d).await?, &citizen)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApologyRequest {
    /// The new date promised (YYYY-MM-DD).
    new_date: String,
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/dossiers/{code}/apology", tag = "dossiers", params(("code" = String, Path)),
    request_body = ApologyRequest,
    responses((status = 200, body = DossierView), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn apology(
    AxumState(state): AxumState<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(body): Json<ApologyRequest>,
) -> Result<Json<DossierView>, Problem> {
    let actor = officer_actor(&caller)?;
    let d = dossiers::get(&state.db, &code).await?.filter(|d| caller.covers_unit(&d.unit_code));
    d.ok_or_else(|| Problem::not_found(format!("no dossier {code} that you may see")))?;
    let date = time::Date::parse(&body.new_date, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| Problem::bad_request("invalid-date", "new_date must be YYYY-MM-DD"))?;
    let d = dossiers::apologize(&state.db, &code, date, &body.reason, &actor, crate::now()).await?;
    Ok(Json(view(&state, d).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// very_satisfied, satisfied or not_satisfied.
    rating: String,
}

#[utoipa::path(post, path = "/api/v1/dossiers/{code}/rating", tag = "dossiers", params(("code" = String, Path)),
    request_body = RatingRequest,
    responses((status = 200, body = DossierView), (status = 400, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn rate(
    AxumState(state): AxumState<AppState>,
    citizen: Citizen,
    Path(code): Path<String>,
    Json(body): Json<RatingRequest>,
) -> Result<Json<DossierView>, Problem> {
    let rating = serde_json::from_value::<Rating>(serde_json::Value::String(body.rating.clone()))
        .map_err(|_| Problem::bad_request("invalid-rating", "rating is very_satisfied, satisfied or not_satisfied"))?;
    let d = dossiers::rate(&state.db, &code, &citizen.pid, rating, crate::now()).await?;
    Ok(Json(citizen_view(view(&state, d).await?, &citizen)))
}

#[utoipa::path(get, path = "/api/v1/dossiers/{code}/receipt.pdf", tag = "dossiers", params(("code" = String, Path)),
    responses((status = 200, description = "Receipt and appointment slip (form 01), PDF", content_type = "application/pdf"),
        (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn receipt_pdf(
    AxumState(state): AxumState<AppState>,
    bearer: Bearer,
    Path(code): Path<String>,
) -> Result<Response, Problem> {
    let d = visible(&state, &bearer, &code).await?;
    let bytes = papers::receipt(&state.office(), &d).map_err(|e| crate::problem::internal(&e))?;
    Ok(file_response("application/pdf", &format!("tiep-nhan-{code}.pdf"), bytes))
}

#[utoipa::path(get, path = "/api/v1/dossiers/{code}/apology.pdf", tag = "dossiers", params(("code" = String, Path)),
    responses((status = 200, description = "Apology slip with the new date (form 04), PDF", content_type = "application/pdf"),
        (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn apology_pdf(
    AxumState(state): AxumState<AppState>,
    bearer: Bearer,
    Path(code): Path<String>,
) -> Result<Response, Problem> {
    let d = visible(&state, &bearer, &code).await?;
    if d.apology_on.is_none() {
        return Err(Problem::not_found("this dossier has no apology slip: it is not late"));
    }
    let bytes = papers::apology(&state.office(), &d).map_err(|e| crate::problem::internal(&e))?;
    Ok(file_response("application/pdf", &format!("xin-loi-{code}.pdf"), bytes))
}
