//! The register's chip cards over HTTP: a person's cards, an officer's transition of a card
//! (produced, at the commune, returned, revoked, expired), a reported loss, and the Project 06
//! counters of the caller's communes. The rules are `civitas_services::cards`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civitas_services::cards::{self, CardError, CardState, Counters};

use crate::AppState;
use crate::auth::{Caller, RegistryOfficer};
use crate::problem::{Problem, json_rejection};

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/people/{pid}/cards", get(person_cards))
        .route("/api/v1/people/{pid}/cards/lost", post(report_lost))
        .route("/api/v1/people/{pid}/cards/{id}/state", post(change_state))
        .route("/api/v1/cards/counters", get(card_counters))
        .route("/api/v1/cards/verify", post(verify_card))
        .into_router()
}

fn card_problem(e: CardError) -> Problem {
    match e {
        CardError::NotFound(id) => Problem::not_found(format!("no card {id} of this person")),
        e @ CardError::Transition { .. } => {
            Problem::new(StatusCode::CONFLICT, "card-transition", "Not possible in the card's state", e.to_string())
        }
        e @ CardError::NoValidCard(_) => {
            Problem::new(StatusCode::CONFLICT, "no-valid-card", "No valid card", e.to_string())
        }
        CardError::Conflict => Problem::new(
            StatusCode::CONFLICT,
            "conflict",
            "Changed meanwhile",
            "the card changed meanwhile; read it again",
        ),
        CardError::Store(e) => Problem::from(e),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<cards::Card>,
}

/// Every card of a person, newest first (state, issue and expiry dates, generation).
#[utoipa::path(get, path = "/api/v1/people/{pid}/cards", tag = "cards", params(("pid" = String, Path)),
    responses((status = 200, body = CardList), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn person_cards(
    State(state): State<AppState>,
    caller: Caller,
    Path(pid): Path<String>,
) -> Result<Json<CardList>, Problem> {
    let person = crate::api::load_readable(&state, &caller, &pid).await?;
    crate::api::log_reads(&state, &caller, &[person.pid.as_str()], &["cards"]).await?;
    Ok(Json(CardList { items: cards::of_person(&state.db, person.pid.as_str()).await? }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StateChange {
    /// produced, at-commune, returned, revoked, expired (lost: see `cards/lost`).
    state: String,
    reason: Option<String>,
}

/// Moves a card of the person on in its lifecycle (registry officers of the person's units).
#[utoipa::path(post, path = "/api/v1/people/{pid}/cards/{id}/state", tag = "cards",
    params(("pid" = String, Path), ("id" = String, Path)), request_body = StateChange,
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn change_state(
    State(state): State<AppState>,
    RegistryOfficer(caller): RegistryOfficer,
    Path((pid, id)): Path<(String, String)>,
    body: Result<Json<StateChange>, JsonRejection>,
) -> Result<Json<cards::Card>, Problem> {
    let Json(change) = body.map_err(json_rejection)?;
    let person = crate::api::load_readable(&state, &caller, &pid).await?;
    let to = CardState::parse(change.state.trim()).ok_or_else(|| {
        let all: Vec<&str> = CardState::ALL.iter().map(|s| s.as_str()).collect();
        Problem::bad_request(
            "invalid-state",
            format!("{:?} is not a card state; states: {}", change.state, all.join(", ")),
        )
    })?;
    let card = cards::get(&state.db, &id).await?.filter(|c| c.pid == person.pid.as_str());
    let Some(card) = card else { return Err(Problem::not_found(format!("no card {id} of this person"))) };
    let birth = person.birth_date.to_date();
    let actor = format!("officer:{}", caller.claims.sub);
    let reason = change.reason.as_deref().and_then(civitas_core::text::clean_free_text);
    let changed = cards::advance(&state.db, &card.id, to, birth, &actor, reason.as_deref(), crate::now())
        .await
        .map_err(card_problem)?;
    Ok(Json(changed))
}

/// A lost card reported: the person's valid card is revoked at once.
#[utoipa::path(post, path = "/api/v1/people/{pid}/cards/lost", tag = "cards", params(("pid" = String, Path)),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn report_lost(
    State(state): State<AppState>,
    RegistryOfficer(caller): RegistryOfficer,
    Path(pid): Path<String>,
) -> Result<Json<cards::Card>, Problem> {
    let person = crate::api::load_readable(&state, &caller, &pid).await?;
    let actor = format!("officer:{}", caller.claims.sub);
    let card = cards::report_lost(&state.db, person.pid.as_str(), &actor, crate::now()).await.map_err(card_problem)?;
    Ok(Json(card))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CounterQuery {
    /// A province or commune code within the caller's units (default: all of them).
    unit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CounterAnswer {
    unit: String,
    #[schema(value_type = Object)]
    counters: Counters,
}

/// Project 06's card counters of a unit: card data collected, cards produced, cards returned.
#[utoipa::path(get, path = "/api/v1/cards/counters", tag = "cards", params(CounterQuery),
    responses((status = 200, body = CounterAnswer), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn card_counters(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CounterQuery>,
) -> Result<Json<CounterAnswer>, Problem> {
    let (label, communes) = match q.unit.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => (caller.unit_label(), caller.communes()),
        Some(raw) => {
            let unit = civitas_core::UnitCode::parse(raw)
                .map_err(|e| Problem::bad_request("invalid-unit", format!("{raw:?}: {e}")))?;
            let communes: Vec<String> = match &unit {
                civitas_core::UnitCode::Commune(c) => vec![c.as_str().to_owned()],
                civitas_core::UnitCode::Province(p) => {
                    civitas_core::AdminUnits::get().communes_of(p.as_str()).map(|c| c.code.clone()).collect()
                }
            };
            if !communes.iter().all(|c| caller.covers(c)) {
                return Err(Problem::forbidden(format!("{raw} is outside your administrative units")));
            }
            (unit.as_str().to_owned(), communes)
        }
    };
    Ok(Json(CounterAnswer { unit: label, counters: cards::counters(&state.db, &communes).await? }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardVerdict {
    #[serde(flatten)]
    verdict: civitas_identity::chip::verdict::Verdict,
    /// How the card agrees with the register (booleans only, never the register's values);
    /// null when the card did not verify or its holder is outside the caller's units.
    #[schema(value_type = Option<Object>)]
    register_match: Option<cards::RegisterMatch>,
    /// Why there is no register match although the card verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    register_match_withheld: Option<&'static str>,
}

/// Checks a chip card's files — passive authentication against the operator's CSCA trust
/// store, in CHIP.md's order, each failure its code — and matches the card with the register.
/// A card that fails is answered 200 with `valid: false` and the failure's code; files that
/// cannot be read are a 400.
#[utoipa::path(post, path = "/api/v1/cards/verify", tag = "cards",
    request_body = civitas_identity::chip::verdict::CardFiles,
    params(("X-Purpose" = Option<String>, Header, description = "Why (required of agency systems)")),
    responses((status = 200, body = CardVerdict), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn verify_card(
    State(state): State<AppState>,
    mut caller: Caller,
    body: Result<Json<civitas_identity::chip::verdict::CardFiles>, JsonRejection>,
) -> Result<Json<CardVerdict>, Problem> {
    use civitas_identity::chip::verdict;
    let Json(files) = body.map_err(json_rejection)?;
    let (sod, dgs) = files.decode().map_err(|e| Problem::bad_request("invalid-card-files", e.to_string()))?;
    let store = state.trust.get(&state.db).await?;
    let (verdict, passed) = verdict::verdict(&sod, &dgs, &store, &state.card_policy, crate::now());
    let mut answer = CardVerdict { verdict, register_match: None, register_match_withheld: None };
    let Some(passed) = passed else { return Ok(Json(answer)) };
    let Some(pid) = passed.dg13.pid() else {
        answer.register_match_withheld = Some("no-id-number");
        return Ok(Json(answer));
    };
    let person = state.register.get(&pid).await?;
    if let Some(p) = &person
        && !crate::api::may_read(&caller, p)
    {
        answer.register_match_withheld = Some("outside-your-units");
        return Ok(Json(answer));
    }
    caller.how = "card-chip";
    let agency = caller.role() == civitas_identity::Role::AgencySystem;
    let cards_read = if agency { None } else { Some(cards::of_person(&state.db, pid.as_str()).await?) };
    if person.is_some() {
        let mut fields = vec!["full_name", "birth_date", "sex", "status"];
        if !agency {
            fields.push("cards");
        }
        crate::api::log_reads(&state, &caller, &[pid.as_str()], &fields).await?;
    }
    answer.register_match = Some(cards::register_match(person.as_ref(), cards_read.as_deref(), &passed.dg13));
    Ok(Json(answer))
}
