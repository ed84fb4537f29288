//! Civil-status certificates: the birth certificate (giấy khai sinh), the marriage certificate
//! and the death extract, as PDFs whose QR holds a compact JWS (ES256, the server's key id in
//! its header) over the essential fields and the registration number, so anyone can check them
//! offline against the published keys (`civitas verify`). `/verify` (no sign-in) also says
//! whether a certificate is still valid, revoked, or superseded by a corrected re-issue.
//! Corrections of a registered record are their own audited action: the register is
//! corrected, the certificate re-issued, the old one superseded, in one transaction.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::html;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civitas_identity::Role;
use civitas_services::certificates::{self, Certificate};

use crate::AppState;
use crate::auth::{Bearer, Caller};
use crate::i18n::Lang;
use crate::problem::Problem;

pub use civitas_services::certificate_issue::CertClaims;
use civitas_services::certificate_issue::{IssueError, field_label, title};
use civitas_services::corrections::{self, ChangeError};

impl From<IssueError> for Problem {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::MissingPerson | IssueError::Render(_) => crate::problem::internal(&e),
            IssueError::Register(r) => r.into(),
        }
    }
}

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/certificates", get(list))
        .route("/api/v1/certificates/{id}/pdf", get(pdf))
        .route("/api/v1/certificates/{id}/correct", post(correct))
        .route("/api/v1/certificates/{id}/revoke", post(revoke))
        .route("/verify", get(verify_page))
        .into_router()
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Certificate>,
}

/// Who is asking: an officer of civil status (the leader or specialist of a unit) or a person
/// (their e-ID access token).
enum Reader {
    Officer(Caller),
    Person(String),
}

fn reader(bearer: Bearer) -> Reader {
    match bearer {
        Bearer::Officer(caller) => Reader::Officer(caller),
        Bearer::Citizen(citizen) => Reader::Person(citizen.pid),
    }
}

fn may_read(reader: &Reader, c: &Certificate) -> bool {
    match reader {
        Reader::Officer(caller) => caller.covers_unit(&c.unit_code),
        Reader::Person(pid) => &c.subject_pid == pid || c.other_pid.as_deref() == Some(pid.as_str()),
    }
}

#[utoipa::path(get, path = "/api/v1/certificates", tag = "civil-status", params(ListQuery),
    responses((status = 200, body = CertificateList), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    AxumState(state): AxumState<AppState>,
    bearer: Bearer,
    Query(q): Query<ListQuery>,
) -> Result<Json<CertificateList>, Problem> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let items = match reader(bearer) {
        Reader::Officer(caller) => certificates::of_units(&state.db, &caller.unit_scope(), limit).await?,
        Reader::Person(pid) => certificates::of_person(&state.db, &pid, limit).await?,
    };
    Ok(Json(CertificateList { items }))
}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/pdf", tag = "civil-status", params(("id" = String, Path)),
    responses((status = 200, description = "The certificate, PDF", content_type = "application/pdf"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn pdf(
    AxumState(state): AxumState<AppState>,
    bearer: Bearer,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let reader = reader(bearer);
    let c = certificates::get(&state.db, &id).await?.filter(|c| may_read(&reader, c));
    let c = c.ok_or_else(|| Problem::not_found("no such certificate that you may read"))?;
    let claims: CertClaims =
        civitas_identity::tokens::verify_jws(&state.keys, &c.payload).await.map_err(|_| Problem::internal())?;
    let bytes = civitas_services::papers::certificate(&claims, &c.payload).map_err(|e| crate::problem::internal(&e))?;
    Ok(crate::files::file_response("application/pdf", &format!("{}-{}.pdf", c.kind, c.id), bytes))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// The corrected full name (the field a correction most often concerns).
    full_name: String,
    /// Why, and on what evidence: kept on the record, the register's history and the event.
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/certificates/{id}/correct", tag = "civil-status", params(("id" = String, Path)),
    request_body = Correction,
    responses((status = 201, body = Object), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn correct(
    AxumState(state): AxumState<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Correction>,
) -> Result<(StatusCode, Json<Certificate>), Problem> {
    if caller.role() != Role::Leader {
        return Err(Problem::forbidden("corrections of civil status are decided by a leader"));
    }
    let covers = |unit: &str| caller.covers_unit(unit);
    let leader = corrections::Leader { sub: &caller.claims.sub, covers: &covers };
    let office = state.office();
    let signer = state.certificate_signer();
    let correcting = corrections::Correcting {
        db: &state.db,
        register: &state.register,
        issuer: &state.identity.issuer,
        signer: &signer,
        renderer: &office,
    };
    let new = corrections::correct(&correcting, &leader, &id, &body.full_name, &body.reason, crate::now())
        .await
        .map_err(|e| change_problem(e, "invalid-correction", "Invalid correction"))?;
    Ok((StatusCode::CREATED, Json(new)))
}

/// A refused change as problem details (`invalid`: the type and title of a refused input).
fn change_problem(e: ChangeError, invalid: &'static str, title: &'static str) -> Problem {
    match e {
        ChangeError::NotFound => Problem::not_found(e.to_string()),
        ChangeError::NotValid(_) => Problem::new(StatusCode::CONFLICT, "not-valid", "Not valid", e.to_string()),
        ChangeError::Invalid(d) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, invalid, title, d),
        ChangeError::Changed => Problem::new(StatusCode::CONFLICT, "changed", "Changed meanwhile", e.to_string()),
        ChangeError::Store(e) => e.into(),
        ChangeError::Register(e) => e.into(),
        ChangeError::Issue(e) => e.into(),
        ChangeError::Inconsistent(_) => crate::problem::internal(&e),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// Why (issued in error, the registration annulled by a court decision, ...).
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/certificates/{id}/revoke", tag = "civil-status", params(("id" = String, Path)),
    request_body = Revocation,
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke(
    AxumState(state): AxumState<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Revocation>,
) -> Result<Json<Certificate>, Problem> {
    if caller.role() != Role::Leader {
        return Err(Problem::forbidden("certificates are revoked by a leader"));
    }
    let covers = |unit: &str| caller.covers_unit(unit);
    let leader = corrections::Leader { sub: &caller.claims.sub, covers: &covers };
    let c = corrections::revoke(&state.db, &leader, &id, &body.reason, crate::now())
        .await
        .map_err(|e| change_problem(e, "invalid-reason", "Invalid reason"))?;
    Ok(Json(c))
}

// ----- /verify -----

pub use civitas_services::verification::Verdict;

/// Checks a payload or certificate id against this server's keys and certificate list.
pub async fn verdict(state: &AppState, input: &str) -> Verdict {
    let keys = state.keys.clone();
    civitas_services::verification::verdict(&state.db, input, move |jws: String| {
        let keys = keys.clone();
        async move { civitas_identity::tokens::verify_jws::<CertClaims>(&keys, &jws).await.ok() }
    })
    .await
}

#[derive(Debug, Deserialize, Default)]
pub struct VerifyQuery {
    lang: Option<String>,
    payload: Option<String>,
    format: Option<String>,
}

async fn verify_page(
    AxumState(state): AxumState<AppState>,
    headers: HeaderMap,
    Query(q): Query<VerifyQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let input = q.payload.clone().unwrap_or_default();
    let v = if input.trim().is_empty() { None } else { Some(verdict(&state, &input).await) };
    if q.format.as_deref() == Some("json") {
        return match v {
            Some(v) => Json(v).into_response(),
            None => Problem::bad_request("missing-payload", "send payload=<the QR text or the certificate code>")
                .into_response(),
        };
    }
    let tr = |vi: &'static str, en: &'static str| if lang == Lang::En { en } else { vi };
    let title = tr("Kiểm tra giấy tờ hộ tịch", "Verify a civil-status certificate");
    let body = html! {
        h1 { (title) }
        form method="get" action="/verify" {
            div class="field" {
                label for="payload" { (tr("Nội dung mã QR hoặc mã chứng nhận", "The QR text or the certificate code")) }
                textarea id="payload" name="payload" rows="4" { (input) }
            }
            button type="submit" { (tr("Kiểm tra", "Verify")) }
        }
        @if let Some(v) = &v {
            div class=(if v.status == "valid" { "confirmation" } else { "error-summary" }) role="status" id="verdict" {
                h2 { (match v.status.as_str() {
                    "valid" => tr("Hợp lệ", "Valid"),
                    "superseded" => tr("Đã được thay thế bằng bản cải chính", "Superseded by a correction"),
                    "revoked" => tr("Đã bị thu hồi", "Revoked"),
                    "unknown" => tr("Chữ ký đúng nhưng không có trong danh sách", "Signature good, but not listed"),
                    _ => tr("Không hợp lệ", "Not valid"),
                }) }
                p { (v.reason) }
            }
            @if let Some(c) = &v.claims {
                dl class="facts" {
                    dt { (tr("Loại", "Kind")) } dd { (title_of(&c.typ)) }
                    dt { (tr("Số đăng ký", "Registration number")) } dd { (c.no) }
                    @for (k, val) in &c.f { dt { (field_label(k)) } dd { (lang.day(val)) } }
                }
            }
        }
    };
    let (csrf, fresh) = crate::pages::csrf_of(&state, &headers);
    let ctx = crate::pages::PageContext { lang, title, caller: None, csrf: None, path: "/verify" };
    let status = match &v {
        Some(v) if v.status == "invalid" => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    crate::pages::page(status, crate::pages::layout(&ctx, body), None, fresh.then_some((csrf.as_str(), &state)))
}

fn title_of(kind: &str) -> &'static str {
    title(kind)
}
