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
    Router::new().route("/api/v1/dossiers/{code}/status", get(status)).route("/api/v1/me/dossiers", get(my_dossiers))
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
    responses((status = 200, body = DossierStatus), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn status(
    AxumState(state): AxumState<AppState>,
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
    let dossier = civitas_services::dossiers::get(&state.db, &code).await?.ok_or_else(not_found)?;
    if !dossier.applicant_pid.ends_with(&last4) {
        return Err(not_found());
    }
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
