//! Dossiers over HTTP: the status for anyone who holds the code and the last four digits of the
//! applicant's ID number (no sign-in; no personal data), and a citizen's own dossiers with an
//! access token from the e-ID provider.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State as AxumState};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::problem::Problem;

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/dossiers/{code}/status", get(status))
        .route("/api/v1/me/dossiers", get(my_dossiers))
        .into_router()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyDossier {
    code: String,
    procedure_code: String,
    state: String,
    channel: String,
    received_on: String,
    appointment_on: String,
    finished_on: Option<String>,
    timeliness: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyDossiers {
    items: Vec<MyDossier>,
}

#[utoipa::path(get, path = "/api/v1/me/dossiers", tag = "dossiers",
    responses((status = 200, body = MyDossiers), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn my_dossiers(
    AxumState(state): AxumState<AppState>,
    citizen: crate::auth::Citizen,
) -> Result<Json<MyDossiers>, Problem> {
    let text = |v: serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_default();
    let items = civitas_services::dossiers::of_applicant(&state.db, &citizen.pid, 200)
        .await?
        .into_iter()
        .map(|d| MyDossier {
            state: text(serde_json::to_value(d.state).unwrap_or_default()),
            timeliness: d.timeliness.map(|t| text(serde_json::to_value(t).unwrap_or_default())),
            code: d.code,
            procedure_code: d.procedure_code,
            channel: d.channel,
            received_on: d.received_on,
            appointment_on: d.appointment_on,
            finished_on: d.finished_on,
        })
        .collect();
    Ok(Json(MyDossiers { items }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct StatusParams {
    /// The last four digits of the applicant's personal ID number.
    pid_last4: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepDto {
    at: String,
    action: String,
    state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DossierStatus {
    code: String,
    procedure_code: String,
    state: String,
    received_on: String,
    appointment_on: String,
    finished_on: Option<String>,
    /// early, on_time or late, once finished.
    timeliness: Option<String>,
    steps: Vec<StepDto>,
}

#[utoipa::path(get, path = "/api/v1/dossiers/{code}/status", tag = "dossiers",
    params(("code" = String, Path, description = "Dossier code, e.g. H15.50.05.13-261008-0975"), StatusParams),
    responses((status = 200, body = DossierStatus), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 429, body = Problem, description = "Too many lookups from this address, or wrong guesses at this code")))]
pub async fn status(
    AxumState(state): AxumState<AppState>,
    headers: axum::http::HeaderMap,
    ext: axum::http::Extensions,
    Path(code): Path<String>,
    Query(q): Query<StatusParams>,
) -> Result<Json<DossierStatus>, Problem> {
    code.parse::<civitas_core::dossier::DossierCode>()
        .map_err(|e| Problem::bad_request("invalid-dossier-code", format!("{code:?}: {e}")))?;
    let last4 = q.pid_last4.unwrap_or_default();
    if last4.len() != 4 || !last4.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::bad_request(
            "invalid-pid-last4",
            "pid_last4 must be the last 4 digits of the applicant's ID number",
        ));
    }
    // The same answer for an unknown code and a wrong pair, so codes cannot be probed.
    let not_found = || Problem::not_found("no dossier matches this code and these digits");
    let ip = crate::auth::client_ip(&state, &headers, &ext);
    let dossier = match lookup_status(&state, &ip, &code, &last4).await? {
        Lookup::Found(d) => *d,
        Lookup::NoMatch => return Err(not_found()),
        Lookup::Blocked(wait) => return Err(too_many(wait)),
    };
    let text = |v: serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_default();
    let steps = civitas_services::dossiers::steps(&state.db, &code)
        .await?
        .into_iter()
        .map(|s| StepDto { at: s.at, action: s.action, state: s.to_state })
        .collect();
    Ok(Json(DossierStatus {
        state: text(serde_json::to_value(dossier.state).unwrap_or_default()),
        timeliness: dossier.timeliness.map(|t| text(serde_json::to_value(t).unwrap_or_default())),
        code: dossier.code,
        procedure_code: dossier.procedure_code,
        received_on: dossier.received_on,
        appointment_on: dossier.appointment_on,
        finished_on: dossier.finished_on,
        steps,
    }))
}

/// Lookups per client address (a day's window) before each further one doubles the wait.
const FREE_LOOKUPS_PER_ADDRESS: i64 = 100;
/// Wrong last-four guesses per dossier code, and per address, before the back-off.
const FREE_MISSES_PER_CODE: i64 = 5;
const FREE_MISSES_PER_ADDRESS: i64 = 10;

pub(crate) enum Lookup {
    Found(Box<civitas_services::dossiers::Dossier>),
    NoMatch,
    /// Seconds to wait.
    Blocked(i64),
}

/// The public status lookup (API and page), rate-limited per address and per dossier code:
/// every lookup counts for the address, and wrong digits count for the code and the address,
/// so neither the four digits of one dossier nor the sequential codes can be walked.
pub(crate) async fn lookup_status(state: &AppState, ip: &str, code: &str, last4: &str) -> Result<Lookup, Problem> {
    let now = crate::now().unix_timestamp();
    let code_key = format!("status-code:{code}");
    let miss_key = format!("status-miss-ip:{ip}");
    for key in [&code_key, &miss_key] {
        if let Some(wait) = state.identity.rate_wait(key, now).await? {
            return Ok(Lookup::Blocked(wait));
        }
    }
    if let Some(wait) = state.identity.rate_limit(&format!("status-ip:{ip}"), FREE_LOOKUPS_PER_ADDRESS, now).await? {
        return Ok(Lookup::Blocked(wait));
    }
    match civitas_services::dossiers::get(&state.db, code).await? {
        Some(d) if d.applicant_pid.ends_with(last4) => Ok(Lookup::Found(Box::new(d))),
        _ => {
            state.identity.count_failure(&code_key, FREE_MISSES_PER_CODE, now).await?;
            state.identity.count_failure(&miss_key, FREE_MISSES_PER_ADDRESS, now).await?;
            Ok(Lookup::NoMatch)
        }
    }
}

fn too_many(wait: i64) -> Problem {
    Problem::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "too-many-requests",
        "Too many requests",
        format!("too many lookups or wrong digits: try again in {wait} seconds"),
    )
    .retry_after(wait)
}
