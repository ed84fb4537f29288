//! The operators' API of the exchange: dead-lettered deliveries, their replay, the registered
//! agencies. Delivery itself is `civitas_exchange::delivery`, a job of the runtime.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State as AxumState};
use axum::routing::{get, post};
use serde::Serialize;
use utoipa::ToSchema;

use civitas_identity::Role;
use civitas_services::followups::{self, Delivery};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::Problem;

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/webhooks/dead", get(dead))
        .route("/api/v1/webhooks/{id}/replay", post(replay))
        .route("/api/v1/agencies", get(list_agencies))
        .into_router()
}

fn operator(caller: &Caller) -> Result<(), Problem> {
    if caller.role() == Role::Operator {
        Ok(())
    } else {
        Err(Problem::forbidden("only operators see and replay deliveries"))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetters {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Delivery>,
}

#[utoipa::path(get, path = "/api/v1/webhooks/dead", tag = "interconnection",
    responses((status = 200, body = DeadLetters), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn dead(AxumState(state): AxumState<AppState>, caller: Caller) -> Result<Json<DeadLetters>, Problem> {
    operator(&caller)?;
    Ok(Json(DeadLetters { items: followups::dead_letters(&state.db, 500).await? }))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/replay", tag = "interconnection", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn replay(
    AxumState(state): AxumState<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, Problem> {
    operator(&caller)?;
    let now = crate::now();
    if followups::replay(&state.db, &id, now.unix_timestamp(), &civitas_store::timestamp(now)).await? {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found(format!("no dead letter {id}")))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgencyList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<followups::Agency>,
}

#[utoipa::path(get, path = "/api/v1/agencies", tag = "interconnection",
    responses((status = 200, body = AgencyList), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn list_agencies(AxumState(state): AxumState<AppState>, caller: Caller) -> Result<Json<AgencyList>, Problem> {
    operator(&caller)?;
    Ok(Json(AgencyList { items: followups::agencies(&state.db).await? }))
}
