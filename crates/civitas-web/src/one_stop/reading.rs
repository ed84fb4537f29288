//! Reading dossiers: the applicant's or an officer's view, documents, the work queue, ratings.

use super::*;

#[derive(Debug, Serialize, ToSchema)]
pub struct DossierView {
    #[schema(value_type = Object)]
    #[serde(flatten)]
    dossier: Dossier,
    /// The procedure's name in Vietnamese.
    procedure_name: String,
    /// The processing step the dossier is at, and the role acting there.
    current_step: Option<String>,
    current_role: Option<String>,
    /// The processing control sheet (form 05).
    #[schema(value_type = Vec<Object>)]
    steps: Vec<dossiers::StepRecord>,
    /// Follow-up procedures at other agencies (interconnected procedures), each with its own
    /// deadline and state.
    #[schema(value_type = Vec<Object>)]
    sub_dossiers: Vec<civitas_services::followups::SubDossier>,
    /// The civil-status record the approval registered (births, marriages, deaths).
    #[schema(value_type = Option<Object>)]
    civil_record: Option<civitas_services::civil::Record>,
    /// Where the dossier stands with the National Public Service Portal (officers only).
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    portal_sync: Option<civitas_services::portal::SyncState>,
}

pub(crate) async fn view(state: &AppState, d: Dossier) -> Result<DossierView, Problem> {
    let steps = dossiers::steps(&state.db, &d.code).await?;
    let sub_dossiers = civitas_services::followups::sub_dossiers_of(&state.db, &d.code).await?;
    let civil_record = civitas_services::civil::record_of(&state.db, &d.code).await?;
    let mut portal_sync = civitas_services::portal::sync_state(&state.db, &d.code).await?;
    for m in &mut portal_sync.messages {
        m.facts = String::new();
    }
    let procedure = state.catalogue.get(&d.procedure_code);
    let step = procedure.and_then(|p| usize::try_from(d.step_index).ok().and_then(|i| p.step(i)));
    let processing = matches!(d.state, State::InProcessing);
    Ok(DossierView {
        procedure_name: procedure.map(|p| p.name_vi.clone()).unwrap_or_default(),
        current_step: step.filter(|_| processing).map(|s| s.key.clone()),
        current_role: step.filter(|_| processing).map(|s| dossiers::name_of(s.role)),
        steps,
        sub_dossiers,
        civil_record,
        portal_sync: Some(portal_sync),
        dossier: d,
    })
}

/// A dossier as its applicant sees it through a relying party: the officers who acted are named
/// by their function, never by their personal ID numbers; without the `pid` scope the
/// applicant's own ID number is left out too.
pub(crate) fn citizen_view(mut view: DossierView, citizen: &Citizen) -> DossierView {
    view.portal_sync = None;
    let applicant = view.dossier.applicant_pid.clone();
    for step in &mut view.steps {
        step.actor = public_actor(&step.actor, &applicant);
    }
    if !citizen.has_scope("pid") {
        view.dossier.applicant_pid = String::new();
        if let Some(a) = view.dossier.data.get_mut("applicant").and_then(|a| a.as_object_mut()) {
            a.remove("pid");
        }
    }
    view
}

/// How an applicant sees who made a step: themselves, the system, or an officer by function.
pub(crate) fn public_actor(actor: &str, applicant_pid: &str) -> String {
    if actor == applicant_pid {
        "applicant".into()
    } else if actor == "system" || actor.starts_with("system") {
        "system".into()
    } else {
        "officer".into()
    }
}

/// A document as a relying party sees it: the owner's ID number only with the `pid` scope.
pub(super) fn document_for(mut doc: documents::Document, citizen: &Citizen) -> documents::Document {
    if !citizen.has_scope("pid") {
        doc.owner_pid = String::new();
    }
    doc
}

/// The dossier, if the bearer (its applicant, or an officer of its unit) may see it; 404
/// otherwise, so a dossier's existence is not revealed.
pub(super) async fn visible(state: &AppState, bearer: &Bearer, code: &str) -> Result<Dossier, Problem> {
    let not_found = || Problem::not_found(format!("no dossier {code} that you may see"));
    let d = dossiers::get(&state.db, code).await?.ok_or_else(not_found)?;
    let allowed = match bearer {
        Bearer::Officer(caller) => caller.covers_unit(&d.unit_code),
        Bearer::Citizen(citizen) => citizen.pid == d.applicant_pid,
    };
    if allowed { Ok(d) } else { Err(not_found()) }
}

#[utoipa::path(get, path = "/api/v1/dossiers/{code}", tag = "dossiers", params(("code" = String, Path)),
    responses((status = 200, body = DossierView), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_dossier(
    AxumState(state): AxumState<AppState>,
    bearer: Bearer,
    Path(code): Path<String>,
) -> Result<Json<DossierView>, Problem> {
    let d = visible(&state, &bearer, &code).await?;
    let view = view(&state, d).await?;
    Ok(Json(match &bearer {
        Bearer::Officer(_) => view,
        Bearer::Citizen(citizen) => citizen_view(view, citizen),
    }))
}

#[utoipa::path(get, path = "/api/v1/dossiers/{code}/documents/{id}", tag = "dossiers",
    params(("code" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "The file"), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn dossier_document(
    AxumState(state): AxumState<AppState>,
    bearer: Bearer,
    Path((code, id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let d = visible(&state, &bearer, &code).await?;
    dossier_file(&state, &d, &id).await?.ok_or_else(|| Problem::not_found("no such document in this dossier"))
}

/// A document of a dossier (a component handed in, or its result) as a file, if it is one.
pub(crate) async fn dossier_file(state: &AppState, d: &Dossier, id: &str) -> Result<Option<Response>, Problem> {
    let referenced = d.data.get("components").and_then(|c| c.as_object()).is_some_and(|c| c.values().any(|v| v == id))
        || d.result_document.as_deref() == Some(id);
    if !referenced {
        return Ok(None);
    }
    own_file(state, &d.applicant_pid, id).await
}

/// A document of `pid`'s store as a file, if it is theirs.
pub(crate) async fn own_file(state: &AppState, pid: &str, id: &str) -> Result<Option<Response>, Problem> {
    Ok(match documents::by_id(&state.db, id).await? {
        Some((doc, bytes)) if doc.owner_pid == pid => Some(file_response(&doc.media_type, &doc.name, bytes)),
        _ => None,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct QueueQuery {
    procedure: Option<String>,
    /// One state (received, in_processing, supplement_requested, approved, ...).
    state: Option<String>,
    /// soon (due within two working days) or overdue.
    due: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItem {
    code: String,
    procedure_code: String,
    applicant_name: String,
    state: String,
    channel: String,
    received_on: String,
    appointment_on: String,
    overdue: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePage {
    items: Vec<QueueItem>,
}

pub(crate) fn queue_filter(state: &AppState, q: &QueueQuery) -> Result<QueueFilter, Problem> {
    let st = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            serde_json::from_value::<State>(serde_json::Value::String(s.to_owned()))
                .map_err(|_| Problem::bad_request("invalid-state", format!("{s:?} is not a dossier state")))?,
        ),
    };
    let today = dossiers::local_today(crate::now());
    let due_by = match q.due.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some("soon") => Some(state.calendar.add_working_days(today, 2)),
        Some("overdue") => Some(today - time::Duration::days(1)),
        Some(other) => {
            return Err(Problem::bad_request("invalid-due", format!("due is soon or overdue, not {other:?}")));
        }
    };
    if let Some(p) = q.procedure.as_deref().filter(|p| !p.is_empty())
        && state.catalogue.get(p).is_none()
    {
        return Err(Problem::bad_request("unknown-procedure", format!("no procedure {p:?}")));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Problem::bad_request("invalid-limit", "limit must be between 1 and 200"));
    }
    let offset = q.offset.unwrap_or(0);
    if !(0..=100_000).contains(&offset) {
        return Err(Problem::bad_request("invalid-offset", "offset must be between 0 and 100,000"));
    }
    Ok(QueueFilter { procedure: q.procedure.clone().filter(|p| !p.is_empty()), state: st, due_by, limit, offset })
}

/// The filter fields of the work-queue page.
pub(crate) struct QueueQueryPage {
    pub procedure: Option<String>,
    pub state: Option<String>,
    pub due: Option<String>,
}

pub(crate) fn queue_filter_page(state: &AppState, q: &QueueQueryPage) -> Result<QueueFilter, Problem> {
    queue_filter(
        state,
        &QueueQuery {
            procedure: q.procedure.clone(),
            state: q.state.clone(),
            due: q.due.clone(),
            limit: Some(100),
            offset: None,
        },
    )
}

pub(crate) fn queue_items(items: Vec<Dossier>) -> Vec<QueueItem> {
    let today = dossiers::local_today(crate::now()).to_string();
    items
        .into_iter()
        .map(|d| QueueItem {
            overdue: d.appointment_on < today && d.state != State::SupplementRequested,
            state: dossiers::name_of(d.state),
            code: d.code,
            procedure_code: d.procedure_code,
            applicant_name: d.applicant_name,
            channel: d.channel,
            received_on: d.received_on,
            appointment_on: d.appointment_on,
        })
        .collect()
}

#[utoipa::path(get, path = "/api/v1/work-queue", tag = "dossiers", params(QueueQuery),
    responses((status = 200, body = QueuePage), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn work_queue(
    AxumState(state): AxumState<AppState>,
    caller: Caller,
    Query(q): Query<QueueQuery>,
) -> Result<Json<QueuePage>, Problem> {
    officer_actor(&caller)?;
    let filter = queue_filter(&state, &q)?;
    let items = dossiers::queue(&state.db, &caller.unit_scope(), &filter).await?;
    Ok(Json(QueuePage { items: queue_items(items) }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficialRatings {
    #[schema(value_type = Vec<Object>)]
    items: Vec<dossiers::OfficialRating>,
}

#[utoipa::path(get, path = "/api/v1/ratings/officials", tag = "dossiers",
    responses((status = 200, body = OfficialRatings), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn official_ratings(
    AxumState(state): AxumState<AppState>,
    caller: Caller,
) -> Result<Json<OfficialRatings>, Problem> {
    officer_actor(&caller)?;
    Ok(Json(OfficialRatings { items: dossiers::ratings_by_official(&state.db, &caller.unit_scope()).await? }))
}
