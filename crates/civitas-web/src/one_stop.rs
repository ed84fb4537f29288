//! The one-stop system over HTTP: the procedure catalogue, citizens' documents and online
//! submissions (e-ID access token), counter intake from the card QR (one-stop officers), the
//! officers' work queue and actions per processing step, apologies, ratings, and the printable
//! slips (receipt, form 01; apology, form 04) as PDFs with the QR of Circular 01/2023.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civitas_core::Pid;
use civitas_core::card::CardQr;
use civitas_identity::Role;
use civitas_services::catalogue::{Procedure, StepRole};
use civitas_services::documents::{self, DocumentError};
use civitas_services::dossiers::{self, ActInput, Actor, Dossier, DossierError, NewDossier, QueueFilter, Rating};
use civitas_services::processing::{self, Processing, ProcessingError};
use civitas_services::submission::{self, SubmissionError};
use civitas_services::workflow::{Action, State};

use crate::AppState;
use crate::auth::{Bearer, Caller, Citizen};
use crate::problem::{FieldProblem, Problem};

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/procedures", get(list_procedures))
        .route("/api/v1/procedures/{code}", get(get_procedure))
        .route(
            "/api/v1/me/documents",
            get(my_documents)
                .post(upload_document)
                .layer(axum::extract::DefaultBodyLimit::max(documents::MAX_BYTES + 64 * 1024)),
        )
        .route("/api/v1/me/documents/{id}", get(my_document))
        .route("/api/v1/dossiers", post(submit_online))
        .route("/api/v1/counter/card-check", post(card_check))
        .route("/api/v1/counter/dossiers", post(submit_counter))
        .route("/api/v1/work-queue", get(work_queue))
        .route("/api/v1/ratings/officials", get(official_ratings))
        .route("/api/v1/dossiers/{code}", get(get_dossier))
        .route("/api/v1/dossiers/{code}/actions", post(officer_action))
        .route("/api/v1/dossiers/{code}/supplement", post(supplement))
        .route("/api/v1/dossiers/{code}/withdraw", post(withdraw))
        .route("/api/v1/dossiers/{code}/apology", post(apology))
        .route("/api/v1/dossiers/{code}/rating", post(rate))
        .route("/api/v1/dossiers/{code}/receipt.pdf", get(receipt_pdf))
        .route("/api/v1/dossiers/{code}/apology.pdf", get(apology_pdf))
        .route("/api/v1/dossiers/{code}/documents/{id}", get(dossier_document))
        .into_router()
}

impl From<DossierError> for Problem {
    fn from(e: DossierError) -> Self {
        match e {
            DossierError::Invalid(d) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-dossier", "Invalid dossier", d)
            }
            DossierError::NotFound(c) => Problem::not_found(format!("no dossier {c} that you may see")),
            // The workflow's refusal (another role acts at this step), not the access policy's.
            DossierError::Forbidden(d) => Problem::new(StatusCode::FORBIDDEN, "not-your-step", "Not your step", d),
            e @ DossierError::Transition(_) => {
                Problem::new(StatusCode::CONFLICT, "wrong-state", "Not possible in this state", e.to_string())
            }
            e @ DossierError::VersionConflict { .. } => {
                Problem::new(StatusCode::CONFLICT, "version-conflict", "Changed meanwhile", e.to_string())
            }
            DossierError::PossibleDuplicate(d) => {
                Problem::new(StatusCode::CONFLICT, "possible-duplicate", "Possible duplicate", d)
            }
            DossierError::Busy => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Busy",
                "too many submissions at once; retry shortly",
            ),
            DossierError::Store(e) => crate::problem::internal(&e),
        }
    }
}

impl From<DocumentError> for Problem {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::Store(e) => crate::problem::internal(&e),
            e @ DocumentError::TooLarge { .. } => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Document too large", e.to_string())
            }
            e @ DocumentError::UnsupportedType { .. } => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-type",
                "Unsupported document type",
                e.to_string(),
            ),
            e => Problem::bad_request("invalid-document", e.to_string()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Catalogue

#[derive(Debug, Deserialize, IntoParams)]
pub struct ProcedureQuery {
    /// Words of the name (either language, diacritics optional) or the code.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureList {
    /// Version of the catalogue.
    version: String,
    #[schema(value_type = Vec<Object>)]
    items: Vec<Procedure>,
}

#[utoipa::path(get, path = "/api/v1/procedures", tag = "procedures", params(ProcedureQuery),
    responses((status = 200, body = ProcedureList)))]
pub async fn list_procedures(
    AxumState(state): AxumState<AppState>,
    Query(q): Query<ProcedureQuery>,
) -> Json<ProcedureList> {
    let items = state.catalogue.search(q.q.as_deref().unwrap_or_default()).into_iter().cloned().collect();
    Json(ProcedureList { version: state.catalogue.version.clone(), items })
}

#[utoipa::path(get, path = "/api/v1/procedures/{code}", tag = "procedures",
    params(("code" = String, Path, description = "Procedure code, e.g. DVC-03")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get_procedure(
    AxumState(state): AxumState<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Procedure>, Problem> {
    state.catalogue.get(&code).cloned().map(Json).ok_or_else(|| Problem::not_found(format!("no procedure {code}")))
}

fn procedure_of<'a>(state: &'a AppState, code: &str) -> Result<&'a Procedure, Problem> {
    state.catalogue.get(code).ok_or_else(|| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-procedure",
            "Unknown procedure",
            format!("no procedure {code:?} in the catalogue"),
        )
        .with_errors(vec![FieldProblem { field: "procedure".into(), detail: "unknown procedure".into() }])
    })
}

// ---------------------------------------------------------------------------------------------
// Documents

#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadQuery {
    /// The document's name as the citizen knows it.
    name: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/me/documents", tag = "documents", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "PDF, JPEG or PNG, at most 10 MiB"),
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem)),
    security(("bearer" = [])))]
pub async fn upload_document(
    AxumState(state): AxumState<AppState>,
    citizen: Citizen,
    Query(q): Query<UploadQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<documents::Document>), Problem> {
    let body = body.map_err(|e| {
        Problem::new(
            e.status(),
            "too-large",
            "Document too large",
            format!(
                "the file could not be read ({}); at most {} bytes are accepted",
                e.body_text(),
                documents::MAX_BYTES
            ),
        )
    })?;
    let name = q.name.unwrap_or_else(|| "tài liệu".into());
    let doc = documents::store(&state.db, &citizen.pid, &name, &body, crate::now()).await?;
    Ok((StatusCode::CREATED, Json(document_for(doc, &citizen))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<documents::Document>,
}

#[utoipa::path(get, path = "/api/v1/me/documents", tag = "documents",
    responses((status = 200, body = DocumentList), (status = 401, body = Problem)), security(("bearer" = [])))]
pub async fn my_documents(
    AxumState(state): AxumState<AppState>,
    citizen: Citizen,
) -> Result<Json<DocumentList>, Problem> {
    let items =
        documents::list(&state.db, &citizen.pid).await?.into_iter().map(|d| document_for(d, &citizen)).collect();
    Ok(Json(DocumentList { items }))
}

pub(crate) fn file_response(media_type: &str, name: &str, bytes: Vec<u8>) -> Response {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    (
        [
            (header::CONTENT_TYPE, media_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{ascii}\"")),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            // A stored file is shown, never run, even when opened inline from this origin.
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; sandbox".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

#[utoipa::path(get, path = "/api/v1/me/documents/{id}", tag = "documents",
    params(("id" = String, Path)), responses((status = 200, description = "The file"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn my_document(
    AxumState(state): AxumState<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    own_file(&state, &citizen.pid, &id).await?.ok_or_else(|| Problem::not_found("no such document in your store"))
}

// ---------------------------------------------------------------------------------------------
// Submission

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

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
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

async fn person_of(state: &AppState, pid: &str) -> Result<civitas_registry::Person, Problem> {
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

// ---------------------------------------------------------------------------------------------
// Counter

/// A caller acting for the one-stop shop or a processing step.
fn officer_actor(caller: &Caller) -> Result<Actor, Problem> {
    let id = caller.claims.sub.clone();
    match caller.role() {
        Role::OnestopOfficer => Ok(Actor::Onestop(id)),
        Role::Specialist => Ok(Actor::Officer(id, StepRole::Specialist)),
        Role::Leader => Ok(Actor::Officer(id, StepRole::Leader)),
        r => Err(Problem::forbidden(format!("role {} does not process dossiers", r.as_str()))),
    }
}

fn onestop(caller: &Caller) -> Result<(), Problem> {
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
async fn log_card_read(state: &AppState, caller: &Caller, person: &civitas_registry::Person) -> Result<(), Problem> {
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
async fn match_card(state: &AppState, text: &str) -> Result<(civitas_registry::Person, Vec<Mismatch>, bool), Problem> {
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

// ---------------------------------------------------------------------------------------------
// Reading dossiers

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
}

pub(crate) async fn view(state: &AppState, d: Dossier) -> Result<DossierView, Problem> {
    let steps = dossiers::steps(&state.db, &d.code).await?;
    let sub_dossiers = civitas_services::followups::sub_dossiers_of(&state.db, &d.code).await?;
    let civil_record = civitas_services::civil::record_of(&state.db, &d.code).await?;
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
        dossier: d,
    })
}

/// A dossier as its applicant sees it through a relying party: the officers who acted are named
/// by their function, never by their personal ID numbers; without the `pid` scope the
/// applicant's own ID number is left out too.
pub(crate) fn citizen_view(mut view: DossierView, citizen: &Citizen) -> DossierView {
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
fn document_for(mut doc: documents::Document, citizen: &Citizen) -> documents::Document {
    if !citizen.has_scope("pid") {
        doc.owner_pid = String::new();
    }
    doc
}

/// Whether an officer's units include the dossier's competent unit (a province covers its
/// communes).
pub(crate) fn officer_covers(caller: &Caller, unit: &str) -> bool {
    if unit.len() == 2 { caller.claims.units.iter().any(|u| u == unit) } else { caller.covers(unit) }
}

/// The dossier, if the bearer (its applicant, or an officer of its unit) may see it; 404
/// otherwise, so a dossier's existence is not revealed.
async fn visible(state: &AppState, bearer: &Bearer, code: &str) -> Result<Dossier, Problem> {
    let not_found = || Problem::not_found(format!("no dossier {code} that you may see"));
    let d = dossiers::get(&state.db, code).await?.ok_or_else(not_found)?;
    let allowed = match bearer {
        Bearer::Officer(caller) => officer_covers(caller, &d.unit_code),
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

// ---------------------------------------------------------------------------------------------
// Acting

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

/// The PDF of the result issued for `d` (a generic result document with the QR of Circular
/// 01/2023; agencies with their own result templates attach them instead).
/// The server's processing ports: certificates signed with its keys, documents rendered as PDFs.
struct ResultPdf<'a>(&'a AppState);

impl civitas_services::processing::ResultRenderer for ResultPdf<'_> {
    fn result(
        &self,
        d: &Dossier,
        procedure: &Procedure,
        officer: &str,
        now: time::OffsetDateTime,
    ) -> Result<Vec<u8>, String> {
        crate::slips::result(self.0, d, procedure, officer, now).map_err(|p| p.detail)
    }
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
    if !officer_covers(caller, &d.unit_code) {
        return Err(Problem::not_found(format!("no dossier {code} that you may see")));
    }
    let procedure = state.catalogue.get(&d.procedure_code).ok_or_else(Problem::internal)?;
    let ports = crate::certificates::Ports(state);
    let processing = Processing {
        db: &state.db,
        register: &state.register,
        calendar: &state.calendar,
        committer: &state.committer,
        issuer: &state.identity.issuer,
        signer: &ports,
        certificates: &ports,
        results: &ResultPdf(state),
    };
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

async fn citizen_act(
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
    let d = dossiers::get(&state.db, &code).await?.filter(|d| officer_covers(&caller, &d.unit_code));
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

// ---------------------------------------------------------------------------------------------
// Slips

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
    let bytes = crate::slips::receipt(&state, &d)?;
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
    let bytes = crate::slips::apology(&state, &d)?;
    Ok(file_response("application/pdf", &format!("xin-loi-{code}.pdf"), bytes))
}
