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
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civitas_identity::Role;
use civitas_services::certificates::{self, Certificate};

use crate::AppState;
use crate::auth::{Bearer, Caller};
use crate::problem::Problem;

pub use civitas_services::certificate_issue::CertClaims;
use civitas_services::certificate_issue::IssueError;
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
        .route(
            "/verify",
            get(crate::verify_page::show)
                .post(crate::verify_page::upload)
                .layer(axum::extract::DefaultBodyLimit::max(crate::verify_page::MAX_PDF_BYTES + 64 * 1024)),
        )
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
    Officer(Box<Caller>),
    Person(String),
}

fn reader(bearer: Bearer) -> Reader {
    match bearer {
        Bearer::Officer(caller) => Reader::Officer(Box::new(caller)),
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
