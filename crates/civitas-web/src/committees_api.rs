//! Steering committees and work groups as a JSON API (the pages are `committees_pages`; the
//! rules are `civitas_reports::committees`): the committees of a unit with their counts per
//! level, one committee with its members and tasks (overdue ones flagged), a task with its
//! progress reports; leaders set committees up, a committee's secretary (or a leader of its
//! unit) records members and assigns tasks, a task's owner (or the secretary) reports progress.
//! Attachments to progress reports are taken by the pages (multipart), not here.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civitas_identity::Role;
use civitas_reports::committees::{self, Committee, CommitteeError, LevelCount, Member, Task, TaskReport};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::{FieldProblem, Problem};

pub fn routes() -> axum::Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/committees", get(list).post(create))
        .route("/api/v1/committees/{id}", get(one))
        .route("/api/v1/committees/{id}/members", post(add_member))
        .route("/api/v1/committees/{id}/tasks", post(assign))
        .route("/api/v1/tasks/{id}", get(task))
        .route("/api/v1/tasks/{id}/reports", post(report))
        .into_router()
}

fn problem(e: CommitteeError) -> Problem {
    match e {
        CommitteeError::Invalid { field, problem } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-committee",
            "Invalid input",
            format!("{field}: {problem}"),
        )
        .with_errors(vec![FieldProblem { field: field.to_owned(), detail: problem }]),
        CommitteeError::NotFound(id) => Problem::not_found(format!("no committee or task {id} that you may see")),
        CommitteeError::Forbidden(why) => Problem::new(StatusCode::FORBIDDEN, "not-permitted", "Not permitted", why),
        CommitteeError::Conflict => Problem::new(StatusCode::CONFLICT, "version-conflict", "Conflict", e.to_string()),
        CommitteeError::Store(e) => e.into(),
    }
}

/// A body as `T`, read after the access checks (a malformed body is a 400 naming the error).
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, Problem> {
    serde_json::from_slice(bytes).map_err(|e| Problem::bad_request("invalid-body", format!("the JSON body: {e}")))
}

/// The committee, if the caller's units cover it; 404 otherwise (its existence is not revealed).
async fn covered(state: &AppState, caller: &Caller, id: &str) -> Result<(Committee, Vec<Member>, Vec<Task>), Problem> {
    let found = committees::get(&state.db, id).await.map_err(problem)?;
    let c = &found.0;
    let covers = if c.level == "province" { caller.covers_unit(&c.unit) } else { caller.covers(&c.unit) };
    if covers { Ok(found) } else { Err(problem(CommitteeError::NotFound(id.to_owned()))) }
}

/// Whether the caller keeps the committee: its secretary, or a leader of its unit.
fn keeps(caller: &Caller, c: &Committee) -> Result<(), Problem> {
    if caller.claims.sub == c.secretary || caller.role() == Role::Leader {
        Ok(())
    } else {
        Err(problem(CommitteeError::Forbidden("only the committee's secretary or a leader of its unit".into())))
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct UnitQuery {
    /// A province (2 digits) or a commune (5 digits) of the caller's; default: the caller's
    /// first unit.
    unit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Committees {
    unit: String,
    /// Committees and tasks per level (province, commune, village).
    #[schema(value_type = Vec<Object>)]
    levels: Vec<LevelCount>,
    #[schema(value_type = Vec<Object>)]
    items: Vec<Committee>,
}

#[utoipa::path(get, path = "/api/v1/committees", tag = "reports", params(UnitQuery),
    responses((status = 200, body = Committees), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<UnitQuery>,
) -> Result<Json<Committees>, Problem> {
    let unit = crate::reports_api::requested_unit(&caller, q.unit.as_deref())?;
    let today = civitas_services::dossiers::local_today(crate::now());
    let items = committees::list(&state.db, std::slice::from_ref(&unit)).await.map_err(problem)?;
    let levels = committees::task_counts(&state.db, &unit, today).await.map_err(crate::reports_api::report_problem)?;
    Ok(Json(Committees { unit, levels, items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommitteeBody {
    /// steering or work_group.
    kind: String,
    /// province, commune or village.
    level: String,
    /// village level: the village or residential group.
    village: Option<String>,
    name: String,
    /// The officer who keeps it (their identifier).
    secretary: String,
}

/// A leader sets a committee up in `?unit=` (a province, or a commune for commune and village
/// groups).
#[utoipa::path(post, path = "/api/v1/committees", tag = "reports", params(UnitQuery), request_body = NewCommitteeBody,
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<UnitQuery>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Committee>), Problem> {
    let unit = crate::reports_api::requested_unit(&caller, q.unit.as_deref())?;
    if caller.role() != Role::Leader {
        return Err(problem(CommitteeError::Forbidden("committees are set up by a leader".into())));
    }
    let b: NewCommitteeBody = body(&bytes)?;
    let new = committees::NewCommittee {
        kind: b.kind,
        level: b.level,
        unit,
        village: b.village,
        name: b.name,
        secretary: b.secretary,
    };
    let c = committees::create(&state.db, new, &caller.claims.sub, crate::now()).await.map_err(problem)?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[derive(Debug, Serialize)]
pub struct TaskView {
    #[serde(flatten)]
    task: Task,
    /// When the next report is due.
    due: Option<String>,
    overdue: bool,
}

fn view(task: Task, today: time::Date) -> TaskView {
    TaskView { due: task.due().map(|d| d.to_string()), overdue: task.overdue(today), task }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommitteeView {
    #[schema(value_type = Object)]
    committee: Committee,
    #[schema(value_type = Vec<Object>)]
    members: Vec<Member>,
    #[schema(value_type = Vec<Object>)]
    tasks: Vec<TaskView>,
}

#[utoipa::path(get, path = "/api/v1/committees/{id}", tag = "reports", params(("id" = String, Path)),
    responses((status = 200, body = CommitteeView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CommitteeView>, Problem> {
    let (committee, members, tasks) = covered(&state, &caller, &id).await?;
    let today = civitas_services::dossiers::local_today(crate::now());
    let tasks = tasks.into_iter().map(|t| view(t, today)).collect();
    Ok(Json(CommitteeView { committee, members, tasks }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    /// The member's officer identifier.
    member: String,
    name: String,
    /// head, deputy, member or secretary.
    role: String,
    #[serde(default)]
    position: String,
}

#[utoipa::path(post, path = "/api/v1/committees/{id}/members", tag = "reports", params(("id" = String, Path)),
    request_body = MemberBody,
    responses((status = 200, body = CommitteeView), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<CommitteeView>, Problem> {
    let (c, _, _) = covered(&state, &caller, &id).await?;
    keeps(&caller, &c)?;
    let b: MemberBody = body(&bytes)?;
    let m = Member { member: b.member, name: b.name, role: b.role, position: b.position };
    committees::add_member(&state.db, &c, m, &caller.claims.sub, crate::now()).await.map_err(problem)?;
    one(State(state), caller, Path(id)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    title: String,
    /// A member's identifier.
    owner: String,
    /// YYYY-MM-DD: the deadline, or a recurring task's first report.
    deadline: String,
    /// weekly, monthly or quarterly; none: one-off.
    recurring: Option<String>,
    /// An indicator code of the catalogue, with the value to reach.
    indicator: Option<String>,
    target: Option<f64>,
}

#[utoipa::path(post, path = "/api/v1/committees/{id}/tasks", tag = "reports", params(("id" = String, Path)),
    request_body = TaskBody,
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Task>), Problem> {
    let (c, members, _) = covered(&state, &caller, &id).await?;
    keeps(&caller, &c)?;
    let b: TaskBody = body(&bytes)?;
    let new = committees::NewTask {
        title: b.title,
        owner: b.owner,
        deadline: b.deadline,
        recurring: b.recurring,
        indicator: b.indicator,
        target: b.target.map(|t| t.to_string()),
    };
    let t = committees::assign(&state.db, &state.indicators, &c, &members, new, &caller.claims.sub, crate::now())
        .await
        .map_err(problem)?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskDetail {
    #[schema(value_type = Object)]
    task: TaskView,
    #[schema(value_type = Object)]
    committee: Committee,
    /// Newest first; attachments by name and SHA-256 (the file: the task's page).
    #[schema(value_type = Vec<Object>)]
    reports: Vec<TaskReport>,
}

async fn task_of(state: &AppState, caller: &Caller, id: &str) -> Result<(Task, Vec<TaskReport>, Committee), Problem> {
    let (t, reports) = committees::task(&state.db, id).await.map_err(problem)?;
    let (c, _, _) =
        covered(state, caller, &t.committee_id).await.map_err(|_| problem(CommitteeError::NotFound(id.to_owned())))?;
    Ok((t, reports, c))
}

#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "reports", params(("id" = String, Path)),
    responses((status = 200, body = TaskDetail), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn task(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TaskDetail>, Problem> {
    let (t, reports, committee) = task_of(&state, &caller, &id).await?;
    let today = civitas_services::dossiers::local_today(crate::now());
    Ok(Json(TaskDetail { task: view(t, today), committee, reports }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// 0–100.
    progress: i64,
    /// assigned, in_progress or done.
    status: String,
    note: String,
    /// The task's version read (a report on a task changed meanwhile is a 409).
    version: i64,
}

#[utoipa::path(post, path = "/api/v1/tasks/{id}/reports", tag = "reports", params(("id" = String, Path)),
    request_body = ReportBody,
    responses((status = 200, body = TaskDetail), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<TaskDetail>, Problem> {
    let (t, _, c) = task_of(&state, &caller, &id).await?;
    let b: ReportBody = body(&bytes)?;
    let r = committees::Report {
        progress: b.progress,
        status: b.status,
        note: b.note,
        attachment: None,
        expected_version: b.version,
    };
    committees::report(&state.db, &c, &t, r, &caller.claims.sub, crate::now()).await.map_err(problem)?;
    task(State(state), caller, Path(id)).await
}
