//! JSON API handlers under `/api/v1`. Each handler: authorize (extractor + unit scope) → one
//! register operation → typed DTO. Every read of personal data is written to the access log.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civitas_core::{AdminUnits, CommuneCode, PartialDate, Pid, Relation, UnitCode};
use civitas_registry::search::SearchQuery;
use civitas_registry::store::{Attribution, HouseholdChoice, ResidenceChange, ResidenceKind};
use civitas_registry::{Change, Household, HouseholdId, LegalBasis, Person, Residence, Revision, TemporaryResidence};
use civitas_store::access_log::AccessRecord;

use crate::AppState;
use crate::auth::{Caller, RegistryOfficer};
use crate::problem::{Problem, json_rejection};

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/people", get(search_people).post(register_person))
        .route("/api/v1/people/{pid}", get(get_person).patch(correct_person))
        .route("/api/v1/people/{pid}/history", get(person_history))
        .route("/api/v1/people/{pid}/residence", post(change_residence))
        .route("/api/v1/people/{pid}/residence-confirmation", get(residence_confirmation))
        .route("/api/v1/households/{id}", get(get_household))
        .route("/api/v1/units/communes", get(find_communes))
        .route("/api/v1/units/communes/suggest", get(suggest_communes))
        .route("/api/v1/units/old-communes/{code}", get(convert_old_commune))
        .into_router()
}

pub fn parse_pid(raw: &str) -> Result<Pid, Problem> {
    Pid::parse(raw)
        .map_err(|e| Problem::bad_request("invalid-pid", format!("{raw:?} is not a personal ID number: {e}")))
}

/// Whether `caller` may see `person`: one of the person's communes is within the caller's
/// units (a person with no recorded residence: the province where the birth was registered).
pub fn may_read(caller: &Caller, person: &Person) -> bool {
    let communes = person.communes();
    if communes.is_empty() {
        return caller
            .units
            .iter()
            .any(|u| matches!(u, UnitCode::Province(p) if p.as_str() == person.pid.registration_province()));
    }
    caller.covers_any(communes)
}

fn forbidden_person(caller: &Caller) -> Problem {
    Problem::forbidden(format!("this person is outside your administrative units ({})", caller.unit_label()))
}

/// Appends one access record per person read. An agency system's read must lie within its
/// grant's fields (403 `field-not-granted` otherwise, recorded as a refusal).
pub async fn log_reads(state: &AppState, caller: &Caller, pids: &[&str], fields: &[&str]) -> Result<(), Problem> {
    crate::exchange::check_fields(caller, fields)?;
    let now = crate::now();
    let at = civitas_store::timestamp(now);
    // A read the law lets this agency keep from the person for a time: logged now, shown later.
    let disclose_after = caller
        .purpose
        .as_deref()
        .and_then(|purpose| state.disclosure_delay_days(&caller.claims.sub, purpose))
        .map(|days| civitas_store::timestamp(now + time::Duration::days(days)));
    let unit = caller.unit_label();
    let fields = fields.join(",");
    let records = pids
        .iter()
        .map(|pid| AccessRecord {
            actor: caller.claims.sub.clone(),
            role: caller.role().as_str().to_owned(),
            unit: unit.clone(),
            purpose: caller.purpose.clone(),
            subject_pid: (*pid).to_owned(),
            fields: fields.clone(),
            request_id: caller.request_id.clone(),
            at: at.clone(),
            disclose_after: disclose_after.clone(),
            how: Some(caller.how.to_owned()),
            official: caller.exchange.as_ref().map(|x| x.official.clone()),
            legal_basis: caller.exchange.as_ref().map(|x| x.grant.legal_basis.clone()),
            case_id: caller.exchange.as_ref().map(|x| x.case_id.clone()),
            outcome: None,
        })
        .collect();
    state.access_log.append(records).await?;
    Ok(())
}

pub(crate) async fn load_readable(state: &AppState, caller: &Caller, raw_pid: &str) -> Result<Person, Problem> {
    let pid = parse_pid(raw_pid)?;
    let person =
        state.register.get(&pid).await?.ok_or_else(|| Problem::not_found(format!("no person has ID number {pid}")))?;
    if !may_read(caller, &person) {
        return Err(forbidden_person(caller));
    }
    Ok(person)
}

/// A person's record.
#[utoipa::path(get, path = "/api/v1/people/{pid}", tag = "register",
    params(("pid" = String, Path, description = "12-digit personal ID number"),
           ("X-Purpose" = Option<String>, Header, description = "Why the data is read (required of agency systems)")),
    responses((status = 200, body = Person), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_person(
    State(state): State<AppState>,
    caller: Caller,
    Path(pid): Path<String>,
) -> Result<Json<Person>, Problem> {
    let person = load_readable(&state, &caller, &pid).await?;
    log_reads(&state, &caller, &[person.pid.as_str()], &["record"]).await?;
    Ok(Json(person))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// Name, with or without diacritics; one typo per name part is tolerated.
    q: Option<String>,
    birth_year: Option<String>,
    /// 5-digit commune code of permanent residence.
    commune: Option<String>,
    /// At most this many results (1-100, default 20).
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<Person>,
}

/// Ranked folded-name search within the caller's units.
#[utoipa::path(get, path = "/api/v1/people", tag = "register", params(SearchParams),
    responses((status = 200, body = SearchResults), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn search_people(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchResults>, Problem> {
    let query = search_query(
        &caller,
        params.q.as_deref(),
        params.birth_year.as_deref(),
        params.commune.as_deref(),
        params.limit,
    )?;
    let communes = caller.communes();
    let items = state.register.search(&query, Some(&communes)).await?;
    let pids: Vec<&str> = items.iter().map(|p| p.pid.as_str()).collect();
    log_reads(&state, &caller, &pids, &["search-result"]).await?;
    Ok(Json(SearchResults { items }))
}

/// Validates search parameters into a query, checking the commune against the caller's units.
pub fn search_query(
    caller: &Caller,
    q: Option<&str>,
    birth_year: Option<&str>,
    commune: Option<&str>,
    limit: Option<i64>,
) -> Result<SearchQuery, Problem> {
    let text = q.unwrap_or_default().trim().to_owned();
    if civitas_core::fold(&text).chars().filter(|c| c.is_alphanumeric()).count() < 2 {
        return Err(Problem::bad_request("query-too-short", "q must have at least 2 letters of a name"));
    }
    let birth_year = match birth_year.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(y) if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) => y.parse().ok(),
        Some(y) => {
            return Err(Problem::bad_request("invalid-birth-year", format!("birth_year must be 4 digits, got {y:?}")));
        }
    };
    let commune = match commune.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(c) => {
            let code = CommuneCode::parse(c).map_err(|e| Problem::bad_request("invalid-commune", e.to_string()))?;
            if !caller.covers(code.as_str()) {
                return Err(Problem::forbidden(format!(
                    "commune {c} is outside your administrative units ({})",
                    caller.unit_label()
                )));
            }
            Some(code.as_str().to_owned())
        }
    };
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Problem::bad_request("invalid-limit", "limit must be between 1 and 100"));
    }
    Ok(SearchQuery { text, birth_year, commune, limit })
}

/// Every version of a person's record, newest first, with actor and legal basis.
#[utoipa::path(get, path = "/api/v1/people/{pid}/history", tag = "register",
    params(("pid" = String, Path, description = "12-digit personal ID number")),
    responses((status = 200, body = Vec<Revision>), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn person_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(pid): Path<String>,
) -> Result<Json<Vec<Revision>>, Problem> {
    let person = load_readable(&state, &caller, &pid).await?;
    let history = state
        .register
        .history(&person.pid)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no person has ID number {pid}")))?;
    log_reads(&state, &caller, &[person.pid.as_str()], &["history"]).await?;
    Ok(Json(history))
}

/// A household with its members.
#[utoipa::path(get, path = "/api/v1/households/{id}", tag = "register",
    params(("id" = String, Path, description = "Household id")),
    responses((status = 200, body = Household), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_household(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Household>, Problem> {
    let id = HouseholdId::parse(&id).map_err(|e| Problem::bad_request("invalid-household-id", e.to_string()))?;
    let household =
        state.register.household(&id).await?.ok_or_else(|| Problem::not_found(format!("no household has id {id}")))?;
    if !caller.covers(household.address.commune.as_str()) {
        return Err(Problem::forbidden(format!(
            "this household is outside your administrative units ({})",
            caller.unit_label()
        )));
    }
    let pids: Vec<&str> = household.members.iter().map(|m| m.pid.as_str()).collect();
    log_reads(&state, &caller, &pids, &["household"]).await?;
    Ok(Json(household))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceView {
    pub commune: String,
    pub commune_name: String,
    pub province: String,
    pub province_name: String,
    pub address: String,
    /// The address as one line, as printed on the confirmation.
    pub full_address: String,
}

impl PlaceView {
    fn of(commune: &CommuneCode, address: &str) -> Self {
        let units = AdminUnits::get();
        let c = units.commune(commune.as_str());
        let province = c.map(|c| c.province_code.clone()).unwrap_or_default();
        let province_name = units.province(&province).map(|p| p.name.clone()).unwrap_or_default();
        let commune_name = c.map(|c| c.name.clone()).unwrap_or_default();
        PlaceView {
            full_address: [address, &commune_name, &province_name]
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            commune: commune.as_str().to_owned(),
            commune_name,
            province,
            province_name,
            address: address.to_owned(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationMember {
    pub pid: Pid,
    pub full_name: String,
    pub birth_date: PartialDate,
    pub sex: civitas_core::Sex,
    pub relation_to_head: Relation,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationHousehold {
    pub id: HouseholdId,
    pub head_pid: Pid,
    pub head_name: String,
    pub members: Vec<ConfirmationMember>,
}

/// The content of form CT07 (confirmation of residence information), which replaces the paper
/// household book.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResidenceConfirmation {
    pub form: String,
    pub title: String,
    pub issued_at: String,
    pub issued_by: String,
    pub pid: Pid,
    pub full_name: String,
    pub other_names: Vec<String>,
    pub birth_date: PartialDate,
    pub sex: civitas_core::Sex,
    pub ethnicity: String,
    pub religion: String,
    pub nationality: String,
    pub hometown: Option<String>,
    pub permanent_residence: Option<PlaceView>,
    pub temporary_residence: Option<PlaceView>,
    pub temporary_until: Option<PartialDate>,
    pub current_residence: Option<PlaceView>,
    pub relation_to_head: Option<Relation>,
    pub household: Option<ConfirmationHousehold>,
    /// Version of the register record the confirmation was made from.
    pub record_version: i64,
}

/// Confirmation of residence information (CT07 content) for a person.
#[utoipa::path(get, path = "/api/v1/people/{pid}/residence-confirmation", tag = "register",
    params(("pid" = String, Path, description = "12-digit personal ID number")),
    responses((status = 200, body = ResidenceConfirmation), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn residence_confirmation(
    State(state): State<AppState>,
    caller: Caller,
    Path(pid): Path<String>,
) -> Result<Json<ResidenceConfirmation>, Problem> {
    let person = load_readable(&state, &caller, &pid).await?;
    let household = match &person.household_id {
        Some(id) => state.register.household(id).await?,
        None => None,
    };
    let household = household.map(|h| ConfirmationHousehold {
        head_name: h.members.iter().find(|m| m.pid == h.head_pid).map(|m| m.full_name.clone()).unwrap_or_default(),
        id: h.id,
        head_pid: h.head_pid,
        members: h
            .members
            .into_iter()
            .map(|m| ConfirmationMember {
                pid: m.pid,
                full_name: m.full_name,
                birth_date: m.birth_date,
                sex: m.sex,
                relation_to_head: m.relation_to_head,
            })
            .collect(),
    });
    let mut pids = vec![person.pid.as_str().to_owned()];
    if let Some(h) = &household {
        pids.extend(h.members.iter().map(|m| m.pid.as_str().to_owned()).filter(|p| p != person.pid.as_str()));
    }
    let pid_refs: Vec<&str> = pids.iter().map(String::as_str).collect();
    log_reads(&state, &caller, &pid_refs, &["residence-confirmation"]).await?;
    Ok(Json(ResidenceConfirmation {
        form: "CT07".into(),
        title: "Xác nhận thông tin về cư trú".into(),
        issued_at: civitas_store::timestamp(crate::now()),
        issued_by: caller.unit_label(),
        pid: person.pid,
        full_name: person.full_name.clone(),
        other_names: person.other_names.clone(),
        birth_date: person.birth_date,
        sex: person.sex,
        ethnicity: person.ethnicity.name().to_owned(),
        religion: person.religion.clone(),
        nationality: person.nationality.clone(),
        hometown: person.hometown.clone(),
        permanent_residence: person.permanent_residence.as_ref().map(|r| PlaceView::of(&r.commune, &r.address)),
        temporary_residence: person.temporary_residence.as_ref().map(|r| PlaceView::of(&r.commune, &r.address)),
        temporary_until: person.temporary_residence.as_ref().and_then(|r| r.until),
        current_residence: person.current_residence.as_ref().map(|r| PlaceView::of(&r.commune, &r.address)),
        relation_to_head: person.relation_to_head,
        household,
        record_version: person.version.unwrap_or(1),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPersonRequest {
    pub person: Person,
    pub legal_basis: LegalBasis,
}

fn attribution<'a>(caller: &'a Caller, basis: &'a LegalBasis, at: &'a str) -> Attribution<'a> {
    Attribution { actor: &caller.claims.sub, legal_basis: basis, at }
}

/// Registers a person who is not in the register yet (e.g. a record taken over from paper).
#[utoipa::path(post, path = "/api/v1/people", tag = "register", request_body = RegisterPersonRequest,
    responses((status = 201, body = Person), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn register_person(
    State(state): State<AppState>,
    RegistryOfficer(caller): RegistryOfficer,
    body: Result<Json<RegisterPersonRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Person>), Problem> {
    let Json(request) = body.map_err(json_rejection)?;
    let today = crate::now().date();
    let person = request.person.normalize_and_validate(today).map_err(civitas_registry::RegisterError::from)?;
    let Some(home) = person.permanent_residence.as_ref().map(|r| r.commune.as_str().to_owned()) else {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-record",
            "Invalid record",
            "permanent_residence is required to register a person",
        ));
    };
    if !caller.covers(&home) {
        return Err(Problem::forbidden(format!(
            "commune {home} is outside your administrative units ({})",
            caller.unit_label()
        )));
    }
    if person.household_id.is_some() && person.relation_to_head != Some(Relation::Head) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-record",
            "Invalid record",
            "register the person first, then join a household with POST /api/v1/people/{pid}/residence",
        ));
    }
    let at = civitas_store::timestamp(crate::now());
    let created = state.register.register(person, &attribution(&caller, &request.legal_basis, &at)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    pub changes: Change,
    pub legal_basis: LegalBasis,
    /// The version the officer saw; the change is refused if the record changed since.
    pub expected_version: Option<i64>,
}

/// Corrects civil data of a person; the previous version stays in the history.
#[utoipa::path(patch, path = "/api/v1/people/{pid}", tag = "register", request_body = CorrectionRequest,
    params(("pid" = String, Path, description = "12-digit personal ID number")),
    responses((status = 200, body = Person), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn correct_person(
    State(state): State<AppState>,
    RegistryOfficer(caller): RegistryOfficer,
    Path(pid): Path<String>,
    body: Result<Json<CorrectionRequest>, JsonRejection>,
) -> Result<Json<Person>, Problem> {
    let person = load_readable(&state, &caller, &pid).await?;
    let Json(request) = body.map_err(json_rejection)?;
    let at = civitas_store::timestamp(crate::now());
    let updated = state
        .register
        .correct(
            &person.pid,
            request.changes,
            request.expected_version,
            &attribution(&caller, &request.legal_basis, &at),
            crate::now().date(),
        )
        .await?;
    Ok(Json(updated))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResidenceKindDto {
    Permanent,
    Temporary,
    Current,
}

/// Which household a person registering permanent residence joins: an existing one (`join` +
/// `relation`) or a new one they head (`create`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdChoiceDto {
    pub join: Option<HouseholdId>,
    pub relation: Option<Relation>,
    pub create: Option<HouseholdId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResidenceRequest {
    pub kind: ResidenceKindDto,
    pub residence: Residence,
    /// Last day of a temporary stay.
    pub until: Option<PartialDate>,
    /// Required for permanent residence.
    pub household: Option<HouseholdChoiceDto>,
    pub legal_basis: LegalBasis,
    pub expected_version: Option<i64>,
}

/// Records a residence registration (permanent or temporary) or a change of current address.
#[utoipa::path(post, path = "/api/v1/people/{pid}/residence", tag = "register", request_body = ResidenceRequest,
    params(("pid" = String, Path, description = "12-digit personal ID number")),
    responses((status = 200, body = Person), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn change_residence(
    State(state): State<AppState>,
    RegistryOfficer(caller): RegistryOfficer,
    Path(pid): Path<String>,
    body: Result<Json<ResidenceRequest>, JsonRejection>,
) -> Result<Json<Person>, Problem> {
    let pid = parse_pid(&pid)?;
    let Json(request) = body.map_err(json_rejection)?;
    // Residence is registered where the person moves to: that commune must be the officer's.
    if !caller.covers(request.residence.commune.as_str()) {
        return Err(Problem::forbidden(format!(
            "commune {} is outside your administrative units ({})",
            request.residence.commune,
            caller.unit_label()
        )));
    }
    let mut residence = request.residence;
    residence.address = civitas_core::nfc(&residence.address);
    if residence.address.is_empty() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-record",
            "Invalid record",
            "residence.address is empty",
        ));
    }
    let kind = match request.kind {
        ResidenceKindDto::Permanent => {
            let choice = request.household.ok_or_else(|| {
                Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-record",
                    "Invalid record",
                    "permanent residence needs household: {join, relation} or {create}",
                )
            })?;
            let household = match (choice.join, choice.relation, choice.create) {
                (Some(id), Some(relation), None) if relation != Relation::Head => {
                    HouseholdChoice::Join { id, relation }
                }
                (None, None, Some(id)) => HouseholdChoice::New { id },
                _ => {
                    return Err(Problem::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid-record",
                        "Invalid record",
                        "household must be either {join, relation (not head)} or {create}",
                    ));
                }
            };
            ResidenceKind::Permanent { residence, household }
        }
        ResidenceKindDto::Temporary => ResidenceKind::Temporary(TemporaryResidence {
            commune: residence.commune,
            address: residence.address,
            until: request.until,
        }),
        ResidenceKindDto::Current => ResidenceKind::Current(residence),
    };
    let at = civitas_store::timestamp(crate::now());
    let updated = state
        .register
        .change_residence(
            &pid,
            ResidenceChange { kind, expected_version: request.expected_version, today: crate::now().date() },
            &attribution(&caller, &request.legal_basis, &at),
        )
        .await?;
    // The officer receives the whole record back: a read like any other.
    log_reads(&state, &caller, &[updated.pid.as_str()], &["record"]).await?;
    Ok(Json(updated))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CommuneParams {
    /// Commune name, with or without diacritics.
    q: String,
    /// 2-digit province code.
    province: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommuneView {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub province: String,
    pub province_name: String,
}

fn commune_view(c: &civitas_core::units::Commune) -> CommuneView {
    CommuneView {
        code: c.code.clone(),
        name: c.name.clone(),
        kind: c.kind.clone(),
        province: c.province_code.clone(),
        province_name: AdminUnits::get().province(&c.province_code).map(|p| p.name.clone()).unwrap_or_default(),
    }
}

/// Finds 2025 communes by folded name (public reference data).
#[utoipa::path(get, path = "/api/v1/units/communes", tag = "units", params(CommuneParams),
    responses((status = 200, body = Vec<CommuneView>), (status = 400, body = Problem)))]
pub async fn find_communes(Query(params): Query<CommuneParams>) -> Result<Json<Vec<CommuneView>>, Problem> {
    if let Some(p) = &params.province {
        civitas_core::ProvinceCode::parse_current(p)
            .map_err(|e| Problem::bad_request("invalid-province", e.to_string()))?;
    }
    let hits = AdminUnits::get().find_communes(&params.q, params.province.as_deref());
    Ok(Json(hits.into_iter().take(50).map(commune_view).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SuggestParams {
    /// What has been typed so far (the last word may be unfinished), diacritics optional.
    q: String,
    /// 2-digit province code, to suggest only its communes.
    province: Option<String>,
    /// Language of `detail`: `vi` (default) or `en`.
    lang: Option<String>,
}

/// One suggestion of the commune picker: a commune as named today (`code`), and, when it was
/// found by its pre-2025 name, what became of that name.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommuneSuggestion {
    pub code: String,
    pub name: String,
    pub province: String,
    pub province_name: String,
    /// For people: the province, and for an old name which old commune it was and, when it
    /// was split, into how many of today's.
    pub detail: String,
    /// The pre-2025 commune this suggestion was found by.
    pub formerly: Option<String>,
    /// How many of today's communes the old one was split into (1: moved whole).
    pub split_into: Option<usize>,
}

/// Suggestions while a commune's name is typed (the pages' type-ahead): today's communes
/// first, then pre-2025 names with the commune(s) they became, at most 10 (public reference
/// data).
#[utoipa::path(get, path = "/api/v1/units/communes/suggest", tag = "units", params(SuggestParams),
    responses((status = 200, body = Vec<CommuneSuggestion>), (status = 400, body = Problem)))]
pub async fn suggest_communes(Query(params): Query<SuggestParams>) -> Result<Json<Vec<CommuneSuggestion>>, Problem> {
    use civitas_core::Suggestion;
    let province = params.province.as_deref().map(str::trim).filter(|p| !p.is_empty());
    if let Some(p) = province {
        civitas_core::ProvinceCode::parse_current(p)
            .map_err(|e| Problem::bad_request("invalid-province", e.to_string()))?;
    }
    if params.q.chars().count() > 100 {
        return Err(Problem::bad_request("invalid-query", "q is at most 100 characters"));
    }
    let en = params.lang.as_deref() == Some("en");
    let units = AdminUnits::get();
    let province_name = |code: &str| units.province(code).map(|p| p.name.clone()).unwrap_or_default();
    let mut out = Vec::new();
    for s in units.suggest_communes(&params.q, province, 10) {
        match s {
            Suggestion::Current(c) => out.push(CommuneSuggestion {
                code: c.code.clone(),
                name: c.name.clone(),
                province: c.province_code.clone(),
                province_name: province_name(&c.province_code),
                detail: province_name(&c.province_code),
                formerly: None,
                split_into: None,
            }),
            Suggestion::Old { old, now } => {
                let n = now.len();
                for c in now {
                    let detail = match (n, en) {
                        (1, false) => format!("Trước 07/2025: {}, {} — nay là {}", old.name, old.district_name, c.name),
                        (1, true) => format!("Before 07/2025: {}, {} — now {}", old.name, old.district_name, c.name),
                        (_, false) => format!(
                            "{}, {} (trước 07/2025) đã chia vào {n} xã/phường; chọn nơi có địa chỉ của bạn",
                            old.name, old.district_name
                        ),
                        (_, true) => format!(
                            "{}, {} (before 07/2025) was split into {n} communes; choose the one your address is in",
                            old.name, old.district_name
                        ),
                    };
                    out.push(CommuneSuggestion {
                        code: c.code.clone(),
                        name: c.name.clone(),
                        province: c.province_code.clone(),
                        province_name: province_name(&c.province_code),
                        detail,
                        formerly: Some(old.name.clone()),
                        split_into: Some(n),
                    });
                }
            }
        }
    }
    out.truncate(10);
    Ok(Json(out))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OldCommuneConversion {
    pub old_code: String,
    pub old_name: String,
    pub old_district: String,
    pub old_province: String,
    /// One when the commune moved whole; several when it was split (choose by street address).
    pub candidates: Vec<CommuneView>,
}

/// Converts a pre-2025 commune code to the 2025 commune(s) it became.
#[utoipa::path(get, path = "/api/v1/units/old-communes/{code}", tag = "units",
    params(("code" = String, Path, description = "5-digit pre-2025 commune code")),
    responses((status = 200, body = OldCommuneConversion), (status = 404, body = Problem)))]
pub async fn convert_old_commune(Path(code): Path<String>) -> Result<Json<OldCommuneConversion>, Problem> {
    let units = AdminUnits::get();
    let old =
        units.old_commune(&code).ok_or_else(|| Problem::not_found(format!("no pre-2025 commune has code {code}")))?;
    let candidates = units.convert_old_commune(&code).map_err(|e| Problem::not_found(e.to_string()))?;
    Ok(Json(OldCommuneConversion {
        old_code: old.code.clone(),
        old_name: old.name.clone(),
        old_district: old.district_name.clone(),
        old_province: old.province_name.clone(),
        candidates: candidates.into_iter().map(commune_view).collect(),
    }))
}
