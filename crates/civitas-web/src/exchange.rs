//! The governed exchange over HTTP: the admission of agency systems' calls under their grants
//! (for every route open to them, by the policy table's `service`), the exchange API (verify,
//! attributes, life-event subscriptions), the operators' grant API and the auditors' search of
//! the log's private index. The rules are `civitas_exchange::grants`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use civitas_core::UnitCode;
use civitas_exchange::grants::{self, GrantError, NewGrant};
use civitas_store::access_log::{AccessEntry, AccessRecord, AuditFilter};

use crate::AppState;
use crate::auth::{Caller, Exchange};
use crate::policy::Rule;
use crate::problem::{FieldProblem, Problem, json_rejection};

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/exchange/verify", post(verify))
        .route("/api/v1/exchange/attributes", post(attributes))
        .route("/api/v1/exchange/subscriptions", get(list_subscriptions).post(subscribe))
        .route("/api/v1/exchange/grants", get(list_grants).post(create_grant))
        .route("/api/v1/exchange/grants/{id}/revoke", post(revoke_grant))
        .route("/api/v1/audit/access", get(audit_access))
        .into_router()
}

/// The person a refused call was about, for its record in the log (set on the refusal's
/// response by handlers that read the PID from the body).
#[derive(Debug, Clone)]
pub(crate) struct Subject(pub String);

/// A refusal about `pid`: the guard records it with the person.
fn refused(problem: Problem, pid: &str) -> Response {
    let mut response = problem.into_response();
    response.extensions_mut().insert(Subject(pid.to_owned()));
    response
}

/// Vietnam's calendar day of `now` (grants run to the end of their last day there).
fn today(now: time::OffsetDateTime) -> String {
    (now + time::Duration::hours(7)).date().to_string()
}

/// The `{pid}` of the request's path, when its route has one.
fn path_pid(rule: &Rule, path: &str) -> Option<String> {
    let pattern: Vec<&str> = rule.path.split('/').collect();
    let actual: Vec<&str> = path.split('/').collect();
    let at = pattern.iter().position(|s| *s == "{pid}")?;
    (pattern.len() == actual.len()).then(|| actual[at].to_owned())
}

/// Admits an agency system's call under a grant of the rule's service for the purpose it
/// states, for the official and case it names; its units become the grant's (within the
/// token's). Refused calls are recorded in the log and answered with a specific problem.
pub(crate) async fn admit(state: &AppState, rule: &Rule, caller: &mut Caller, parts: &Parts) -> Result<(), Response> {
    let subject = path_pid(rule, parts.uri.path());
    let official = crate::auth::header_text(parts, "x-acting-official");
    let case_id = crate::auth::header_text(parts, "x-case-id");
    let refuse = |problem: Problem, code: &'static str| {
        let (caller, official, case_id, subject) = (caller.clone(), official.clone(), case_id.clone(), subject.clone());
        async move {
            if let Err(p) = log_refusal(state, &caller, official, case_id, subject, code).await {
                return p.into_response();
            }
            problem.into_response()
        }
    };
    let Some(service) = rule.service else {
        return Err(refuse(Problem::forbidden("agency systems may not use this operation"), "no-service").await);
    };
    let Some(official_name) = official.clone() else {
        return Err(refuse(
            Problem::bad_request(
                "missing-official",
                "agency systems must name the official they act for in the X-Acting-Official header",
            ),
            "missing-official",
        )
        .await);
    };
    let Some(case) = case_id.clone() else {
        return Err(refuse(
            Problem::bad_request(
                "missing-case",
                "agency systems must name the case the call serves in the X-Case-Id header",
            ),
            "missing-case",
        )
        .await);
    };
    let purpose = caller.purpose.clone().unwrap_or_default();
    let day = today(crate::now());
    let grant = grants::in_force(&state.db, &caller.claims.sub, service, &purpose, &day).await.map_err(internal)?;
    let Some(grant) = grant else {
        let held = grants::purposes_in_force(&state.db, &caller.claims.sub, service, &day).await.map_err(internal)?;
        let detail = if held.is_empty() {
            format!("system {} holds no grant of the {service} service in force", caller.claims.sub)
        } else {
            format!(
                "system {} holds no grant of the {service} service for the purpose {purpose:?}; its purposes: {}",
                caller.claims.sub,
                held.join("; ")
            )
        };
        return Err(refuse(Problem::new(StatusCode::FORBIDDEN, "no-grant", "No grant", detail), "no-grant").await);
    };
    // The grant's units, within the token's (a province of the grant stays when the token
    // covers it; a commune when one of the token's units covers it).
    let granted: Vec<UnitCode> = grant
        .unit_codes()
        .into_iter()
        .filter(|g| {
            caller.units.iter().any(|t| match (t, g) {
                (UnitCode::Province(a), UnitCode::Province(b)) => a.as_str() == b.as_str(),
                (t, UnitCode::Commune(c)) => t.covers(c.as_str()),
                _ => false,
            })
        })
        .collect();
    if granted.is_empty() {
        return Err(refuse(
            Problem::new(
                StatusCode::FORBIDDEN,
                "outside-grant-units",
                "Outside the grant",
                format!("grant {} covers {}, none of which this system's token covers", grant.id, grant.units),
            ),
            "outside-grant-units",
        )
        .await);
    }
    caller.claims.units = granted.iter().map(|u| u.as_str().to_owned()).collect();
    caller.units = granted;
    caller.how = match service {
        "verify" => "exchange:verify",
        "attributes" => "exchange:attributes",
        "events" => "exchange:events",
        _ => "api",
    };
    caller.exchange = Some(Box::new(Exchange { grant, official: official_name, case_id: case }));
    Ok(())
}

fn internal(e: civitas_store::StoreError) -> Response {
    Problem::from(e).into_response()
}

/// Records an agency system's refused call (no data was read) in the log.
pub(crate) async fn log_refusal(
    state: &AppState,
    caller: &Caller,
    official: Option<String>,
    case_id: Option<String>,
    subject: Option<String>,
    code: &str,
) -> Result<(), Problem> {
    let record = AccessRecord {
        actor: caller.claims.sub.clone(),
        role: caller.role().as_str().to_owned(),
        unit: caller.unit_label(),
        purpose: caller.purpose.clone(),
        // Only a well-formed PID is recorded as the subject.
        subject_pid: subject.filter(|s| civitas_core::Pid::parse(s).is_ok()).unwrap_or_default(),
        fields: String::new(),
        request_id: caller.request_id.clone(),
        at: civitas_store::timestamp(crate::now()),
        disclose_after: None,
        how: Some(caller.how.to_owned()),
        official,
        legal_basis: caller.exchange.as_ref().map(|x| x.grant.legal_basis.clone()),
        case_id,
        outcome: Some(code.to_owned()),
    };
    state.access_log.append(vec![record]).await?;
    Ok(())
}

/// After the handler: a refused or failed call of an admitted agency system is recorded too
/// (its reads were recorded by [`crate::api::log_reads`]).
pub(crate) async fn after_call(
    state: &AppState,
    caller: &Caller,
    rule: &Rule,
    path: &str,
    response: Response,
) -> Response {
    let status = response.status();
    if status.is_success() || status.is_redirection() || status.is_server_error() {
        return response;
    }
    let code = response
        .extensions()
        .get::<crate::problem::ProblemType>()
        .map(|t| t.0.trim_start_matches("urn:civitas:problem:").to_owned())
        .unwrap_or_else(|| status.as_u16().to_string());
    let subject = response.extensions().get::<Subject>().map(|s| s.0.clone()).or_else(|| path_pid(rule, path));
    let (official, case) = caller.exchange.as_ref().map(|x| (x.official.clone(), x.case_id.clone())).unzip();
    match log_refusal(state, caller, official, case, subject, &code).await {
        Ok(()) => response,
        Err(p) => p.into_response(),
    }
}

fn exchange_of(caller: &Caller) -> Result<&Exchange, Problem> {
    caller.exchange.as_deref().ok_or_else(|| {
        tracing::error!("an exchange route was reached without an admitted grant");
        Problem::internal()
    })
}

fn not_granted(x: &Exchange, field: &str) -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "field-not-granted",
        "Outside the grant",
        format!("grant {} does not allow {field:?}; it allows: {}", x.grant.id, x.grant.fields),
    )
}

/// Checks `fields` against the caller's grant, if it has one (agency systems).
pub(crate) fn check_fields(caller: &Caller, fields: &[&str]) -> Result<(), Problem> {
    if let Some(x) = &caller.exchange
        && let Some(f) = fields.iter().find(|f| !x.grant.allows_field(f))
    {
        return Err(not_granted(x, f));
    }
    Ok(())
}

async fn person_in_grant(state: &AppState, caller: &Caller, raw: &str) -> Result<civitas_registry::Person, Response> {
    let pid = crate::api::parse_pid(raw).map_err(|p| refused(p, raw))?;
    let person = state
        .register
        .get(&pid)
        .await
        .map_err(|e| Problem::from(e).into_response())?
        .ok_or_else(|| refused(Problem::not_found(format!("no person has ID number {pid}")), raw))?;
    if !crate::api::may_read(caller, &person) {
        let units = caller.unit_label();
        return Err(refused(
            Problem::new(
                StatusCode::FORBIDDEN,
                "outside-grant-units",
                "Outside the grant",
                format!("this person is outside the grant's administrative units ({units})"),
            ),
            raw,
        ));
    }
    Ok(person)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyRequest {
    /// The 12-digit personal ID number.
    pid: String,
    /// The attributes to check, by name (full_name, birth_date, sex, residence_commune, ...).
    #[schema(value_type = Object)]
    attributes: Map<String, Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyAnswer {
    pid: String,
    /// Per attribute: `match` or `no-match` — never the register's value.
    #[schema(value_type = Object)]
    results: Map<String, Value>,
    all_match: bool,
}

/// Does the register hold these attributes for this person? Match / no match per attribute,
/// no data (minimal disclosure).
#[utoipa::path(post, path = "/api/v1/exchange/verify", tag = "exchange", request_body = VerifyRequest,
    params(("X-Purpose" = String, Header), ("X-Acting-Official" = String, Header), ("X-Case-Id" = String, Header)),
    responses((status = 200, body = VerifyAnswer), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<VerifyRequest>, JsonRejection>,
) -> Result<Json<VerifyAnswer>, Response> {
    let Json(req) = body.map_err(|r| json_rejection(r).into_response())?;
    let x = exchange_of(&caller).map_err(IntoResponse::into_response)?;
    if req.attributes.is_empty() || req.attributes.len() > grants::ATTRIBUTES.len() {
        return Err(refused(Problem::bad_request("no-attributes", "name 1 to 14 attributes to verify"), &req.pid));
    }
    if let Some(unknown) = req.attributes.keys().find(|k| !grants::ATTRIBUTES.contains(&k.as_str())) {
        return Err(refused(
            Problem::bad_request(
                "unknown-attribute",
                format!("{unknown:?} is not an attribute; attributes: {}", grants::ATTRIBUTES.join(", ")),
            ),
            &req.pid,
        ));
    }
    if let Some(f) = req.attributes.keys().find(|k| !x.grant.allows_field(k)) {
        return Err(refused(not_granted(x, f), &req.pid));
    }
    let person = person_in_grant(&state, &caller, &req.pid).await?;
    let names: Vec<&str> = req.attributes.keys().map(String::as_str).collect();
    crate::api::log_reads(&state, &caller, &[person.pid.as_str()], &names)
        .await
        .map_err(IntoResponse::into_response)?;
    let outcome = grants::verify(&person, &req.attributes);
    let all_match = outcome.iter().all(|(_, same)| *same);
    let results =
        outcome.into_iter().map(|(name, same)| (name, Value::from(if same { "match" } else { "no-match" }))).collect();
    Ok(Json(VerifyAnswer { pid: person.pid.as_str().to_owned(), results, all_match }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AttributesRequest {
    pid: String,
    /// The attributes wanted; all the grant allows when absent.
    #[serde(default)]
    fields: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttributesAnswer {
    pid: String,
    /// The grant the data was given under.
    grant: String,
    #[schema(value_type = Object)]
    attributes: Map<String, Value>,
}

/// The attributes of a person the grant allows for the stated purpose (only those).
#[utoipa::path(post, path = "/api/v1/exchange/attributes", tag = "exchange", request_body = AttributesRequest,
    params(("X-Purpose" = String, Header), ("X-Acting-Official" = String, Header), ("X-Case-Id" = String, Header)),
    responses((status = 200, body = AttributesAnswer), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn attributes(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<AttributesRequest>, JsonRejection>,
) -> Result<Json<AttributesAnswer>, Response> {
    let Json(req) = body.map_err(|r| json_rejection(r).into_response())?;
    let x = exchange_of(&caller).map_err(IntoResponse::into_response)?;
    let wanted: Vec<String> = match &req.fields {
        Some(f) if f.is_empty() => {
            return Err(refused(
                Problem::bad_request("no-fields", "name at least one field, or leave fields out"),
                &req.pid,
            ));
        }
        Some(f) => f.clone(),
        None => x.grant.field_list().into_iter().map(str::to_owned).collect(),
    };
    if let Some(unknown) = wanted.iter().find(|k| !grants::ATTRIBUTES.contains(&k.as_str())) {
        return Err(refused(
            Problem::bad_request(
                "unknown-attribute",
                format!("{unknown:?} is not an attribute; attributes: {}", grants::ATTRIBUTES.join(", ")),
            ),
            &req.pid,
        ));
    }
    if let Some(f) = wanted.iter().find(|k| !x.grant.allows_field(k)) {
        return Err(refused(not_granted(x, f), &req.pid));
    }
    let person = person_in_grant(&state, &caller, &req.pid).await?;
    let names: Vec<&str> = wanted.iter().map(String::as_str).collect();
    crate::api::log_reads(&state, &caller, &[person.pid.as_str()], &names)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Json(AttributesAnswer {
        pid: person.pid.as_str().to_owned(),
        grant: x.grant.id.clone(),
        attributes: grants::attributes(&person, &names),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<grants::Subscription>,
}

/// The calling system's life-event subscriptions.
#[utoipa::path(get, path = "/api/v1/exchange/subscriptions", tag = "exchange",
    params(("X-Purpose" = String, Header), ("X-Acting-Official" = String, Header), ("X-Case-Id" = String, Header)),
    responses((status = 200, body = SubscriptionList), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SubscriptionList>, Problem> {
    Ok(Json(SubscriptionList { items: grants::subscriptions(&state.db, &caller.claims.sub).await? }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscribeRequest {
    /// Life events: birth, death, marriage, residence (within the grant's).
    events: Vec<String>,
}

/// Subscribes the calling system to life events under its events grant for the stated
/// purpose: each is delivered as a signed webhook to the agency's endpoint, with the granted
/// fields, for people in the grant's units.
#[utoipa::path(post, path = "/api/v1/exchange/subscriptions", tag = "exchange", request_body = SubscribeRequest,
    params(("X-Purpose" = String, Header), ("X-Acting-Official" = String, Header), ("X-Case-Id" = String, Header)),
    responses((status = 201, body = Object), (status = 403, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn subscribe(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<SubscribeRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<grants::Subscription>), Problem> {
    let Json(req) = body.map_err(json_rejection)?;
    let x = exchange_of(&caller)?;
    let sub = grants::subscribe(&state.db, &x.grant, &req.events, crate::now()).await.map_err(grant_problem)?;
    Ok((StatusCode::CREATED, Json(sub)))
}

fn grant_problem(e: GrantError) -> Problem {
    match e {
        GrantError::Invalid(field, detail) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-grant",
            "The grant is not acceptable",
            format!("{field}: {detail}"),
        )
        .with_errors(vec![FieldProblem { field: field.to_owned(), detail }]),
        e @ (GrantError::UnknownAgency(_) | GrantError::UnknownSystem(_) | GrantError::OtherAgency { .. }) => {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-grant",
                "The grant is not acceptable",
                e.to_string(),
            )
        }
        GrantError::NotFound(id) => Problem::not_found(format!("no grant {id}")),
        e @ GrantError::AlreadyRevoked(_) => {
            Problem::new(StatusCode::CONFLICT, "already-revoked", "Already revoked", e.to_string())
        }
        GrantError::Store(e) => Problem::from(e),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<grants::Grant>,
    /// (client id, agency id) of every registered system.
    systems: Vec<(String, String)>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct GrantQuery {
    agency: Option<String>,
}

/// Every grant (of one agency), newest first, and the systems of the agencies.
#[utoipa::path(get, path = "/api/v1/exchange/grants", tag = "exchange", params(GrantQuery),
    responses((status = 200, body = GrantList), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn list_grants(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<GrantQuery>,
) -> Result<Json<GrantList>, Problem> {
    Ok(Json(GrantList {
        items: grants::all(&state.db, q.agency.as_deref()).await?,
        systems: grants::systems(&state.db).await?,
    }))
}

/// Makes a grant (an entry of the transparency log).
#[utoipa::path(post, path = "/api/v1/exchange/grants", tag = "exchange", request_body = Object,
    responses((status = 201, body = Object), (status = 403, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn create_grant(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewGrant>, JsonRejection>,
) -> Result<(StatusCode, Json<grants::Grant>), Problem> {
    let Json(new) = body.map_err(json_rejection)?;
    let grant = grants::create(&state.db, &new, &format!("operator:{}", caller.claims.sub), crate::now())
        .await
        .map_err(grant_problem)?;
    Ok((StatusCode::CREATED, Json(grant)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeRequest {
    reason: String,
}

/// Revokes a grant (an entry of the transparency log); its subscriptions end.
#[utoipa::path(post, path = "/api/v1/exchange/grants/{id}/revoke", tag = "exchange", params(("id" = String, Path)), request_body = RevokeRequest,
    responses((status = 200, body = Object), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke_grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<RevokeRequest>, JsonRejection>,
) -> Result<Json<grants::Grant>, Problem> {
    let Json(req) = body.map_err(json_rejection)?;
    let grant = grants::revoke(&state.db, &id, &format!("operator:{}", caller.claims.sub), &req.reason, crate::now())
        .await
        .map_err(grant_problem)?;
    Ok(Json(grant))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// The reader: an agency system's client id or an officer.
    pub actor: Option<String>,
    /// The official an agency system acted for.
    pub official: Option<String>,
    pub purpose: Option<String>,
    /// From this day (YYYY-MM-DD, Vietnam), inclusive.
    pub from: Option<String>,
    /// To this day (YYYY-MM-DD, Vietnam), inclusive.
    pub to: Option<String>,
    /// `1`: only refused calls.
    pub refused: Option<String>,
    /// Records before this id (the previous page's `next_before`).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

impl AuditQuery {
    /// The store's filter; a day that is not a date is an error naming the parameter.
    pub(crate) fn filter(&self) -> Result<AuditFilter, (&'static str, String)> {
        let nonempty =
            |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(civitas_core::nfc);
        let day =
            |name: &'static str, v: &Option<String>, next: bool| -> Result<Option<String>, (&'static str, String)> {
                let Some(text) = nonempty(v) else { return Ok(None) };
                let format = time::macros::format_description!("[year]-[month]-[day]");
                let d = time::Date::parse(&text, format)
                    .map_err(|_| (name, format!("{text:?} is not a date YYYY-MM-DD")))?;
                let d = if next { d.next_day().unwrap_or(d) } else { d };
                // Vietnam's midnight in UTC.
                let at = d.midnight().assume_offset(time::macros::offset!(+7)).to_offset(time::UtcOffset::UTC);
                Ok(Some(civitas_store::timestamp(at)))
            };
        Ok(AuditFilter {
            actor: nonempty(&self.actor),
            official: nonempty(&self.official),
            purpose: nonempty(&self.purpose),
            from: day("from", &self.from, false)?,
            to: day("to", &self.to, true)?,
            refused_only: self.refused.as_deref() == Some("1"),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<AccessEntry>,
    /// Pass as `before` for the next page (absent on the last).
    next_before: Option<i64>,
}

/// The auditor's search of the log's private index by reader, official, purpose and time.
#[utoipa::path(get, path = "/api/v1/audit/access", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn audit_access(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, Problem> {
    let filter =
        q.filter().map_err(|(name, detail)| Problem::bad_request("invalid-query", format!("{name}: {detail}")))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let items = civitas_store::access_log::search(&state.db, &filter, q.before, limit).await?;
    let next_before = (items.len() as i64 == limit).then(|| items.last().map(|e| e.id)).flatten();
    Ok(Json(AuditPage { items, next_before }))
}
