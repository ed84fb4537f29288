//! The pages of steering committees and work groups (Ban Chỉ đạo 06, Tổ công tác 06): the list
//! of a unit's committees with their counts per level, a committee (members, tasks, overdue
//! ones flagged), a task (its indicator against its target, its progress reports and their
//! attachments). Leaders of a unit set committees up; a committee's secretary (or a leader of
//! its unit) records members and assigns tasks; a task's owner (or the secretary) reports
//! progress. The rules are `civitas_reports::committees`.

use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use civitas_identity::Role;
use civitas_reports::committees::{self, Committee, CommitteeError, Member, NewCommittee, NewTask, Report};

use crate::AppState;
use crate::auth::Caller;
use crate::i18n::{Lang, tr};
use crate::pages::{PageContext, csrf_of, csrf_ok, layout, page};
use crate::ui::{ButtonKind, TextInput, Tone, banner, button, error_summary, select, summary_list, tag};

pub fn routes() -> axum::Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/officer/committees", get(list_page).post(create))
        .route("/officer/committees/{id}", get(committee_page))
        .route("/officer/committees/{id}/members", post(add_member))
        .route("/officer/committees/{id}/tasks", post(assign))
        .route("/officer/tasks/{id}", get(task_page).post(report))
        .route("/officer/tasks/{id}/reports/{report}", get(attachment))
        .into_router()
}

fn internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a committee page failed");
    crate::problem::Problem::internal().into_response()
}

fn refused(state: &AppState, headers: &HeaderMap, lang: Lang, e: CommitteeError) -> Response {
    let (status, key) = match &e {
        CommitteeError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        CommitteeError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        CommitteeError::Store(e) => return internal(e),
        _ => (StatusCode::UNPROCESSABLE_ENTITY, "error.page"),
    };
    crate::pages::message_page(state, headers, lang, status, key, &e.to_string())
}

/// A committee the caller's units cover, or 404 (its existence is not revealed).
async fn committee_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(Committee, Vec<Member>, Vec<committees::Task>), CommitteeError> {
    let found = committees::get(&state.db, id).await?;
    let c = &found.0;
    let covered = if c.level == "province" { caller.covers_unit(&c.unit) } else { caller.covers(&c.unit) };
    if !covered {
        return Err(CommitteeError::NotFound(id.to_owned()));
    }
    Ok(found)
}

/// Whether the caller keeps the committee: its secretary, or a leader of its unit.
fn keeps(caller: &Caller, c: &Committee) -> bool {
    caller.claims.sub == c.secretary || caller.role() == Role::Leader
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    unit: Option<String>,
    lang: Option<String>,
}

async fn list_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let unit = match crate::reports_api::requested_unit(&caller, q.unit.as_deref()) {
        Ok(u) => u,
        Err(p) => return crate::reports_pages::problem_page(&state, &headers, lang, &p),
    };
    render_list(&state, &headers, lang, &caller, &unit, &[], None).await
}

async fn render_list(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    unit: &str,
    errors: &[(String, String)],
    notice: Option<&str>,
) -> Response {
    let today = civitas_services::dossiers::local_today(crate::now());
    let (list, counts) = match (
        committees::list(&state.db, &[unit.to_owned()]).await,
        committees::task_counts(&state.db, unit, today).await,
    ) {
        (Ok(l), Ok(c)) => (l, c),
        (Err(e), _) => return internal(&e),
        (_, Err(e)) => return internal(&e),
    };
    let (csrf, fresh) = csrf_of(state, headers);
    let title = tr(lang, "Ban Chỉ đạo, Tổ công tác 06", "Steering committees and work groups 06");
    let error_of = |f: &str| errors.iter().find(|(k, _)| k == f).map(|(_, m)| m.as_str());
    let total: i64 = counts.iter().map(|c| c.committees).sum();
    let body = html! {
        h1 { (title) " " small { (civitas_reports::query::unit_name(unit)) } }
        (error_summary(lang, errors))
        @if let Some(n) = notice { (banner(Tone::Success, Some("notice"), None, html! { p { (n) } })) }
        p id="committee-total" { (tr(lang, "Tổng số Ban, Tổ", "Committees and work groups")) ": " strong { (total) } }
        (crate::ui::Table::simple("levels",
            &[tr(lang, "Cấp", "Level"), tr(lang, "Ban/Tổ", "Committees"), tr(lang, "Nhiệm vụ", "Tasks"), tr(lang, "Hoàn thành", "Done"),
              tr(lang, "Đang thực hiện", "In progress"), tr(lang, "Thường xuyên", "Recurring"), tr(lang, "Quá hạn", "Overdue")],
            counts.iter().map(|t| vec![
                html! { (committees::level_name(&t.level, lang.code())) }, html! { (t.committees) }, html! { (t.tasks) },
                html! { (t.done) }, html! { (t.in_progress) }, html! { (t.recurring) }, html! { (t.overdue) },
            ]).collect()))
        (crate::ui::Table::simple("committees",
            &[tr(lang, "Tên", "Name"), tr(lang, "Loại", "Kind"), tr(lang, "Cấp", "Level"), tr(lang, "Địa bàn", "Unit")],
            list.iter().map(|c| vec![
                html! { a href=(format!("/officer/committees/{}", c.id)) { (c.name) } },
                html! { (committees::kind_name(&c.kind, lang.code())) },
                html! { (committees::level_name(&c.level, lang.code())) },
                html! { (civitas_reports::query::unit_name(&c.unit)) @if let Some(v) = &c.village { " · " (v) } },
            ]).collect()))
        @if caller.role() == Role::Leader {
            h2 { (tr(lang, "Thành lập Ban, Tổ", "Set up a committee or work group")) }
            form method="post" action="/officer/committees" {
                input type="hidden" name="csrf" value=(csrf);
                (select("kind", tr(lang, "Loại", "Kind"), &committees::KINDS.iter().map(|k| ((*k).to_owned(), committees::kind_name(k, lang.code()).to_owned())).collect::<Vec<_>>(), None))
                (select("level", tr(lang, "Cấp", "Level"), &committees::LEVELS.iter().map(|k| ((*k).to_owned(), committees::level_name(k, lang.code()).to_owned())).collect::<Vec<_>>(), None))
                (TextInput::new("unit", tr(lang, "Mã đơn vị (tỉnh 2 số, xã 5 số)", "Unit code (province 2 digits, commune 5)"), unit).error(error_of("unit")).width("w10").render())
                (TextInput::new("village", tr(lang, "Thôn, tổ dân phố (cấp thôn)", "Village or residential group (village level)"), "").error(error_of("village")).render())
                (TextInput::new("name", tr(lang, "Tên", "Name"), "").error(error_of("name")).render())
                (TextInput::new("secretary", tr(lang, "Thư ký (mã cán bộ)", "Secretary (officer identifier)"), &caller.claims.sub).error(error_of("secretary")).render())
                (button(ButtonKind::Primary, tr(lang, "Thành lập", "Set up"), None))
            }
        }
    };
    let path = format!("/officer/committees?unit={unit}");
    let ctx = PageContext { lang, title, caller: Some(caller), csrf: Some(&csrf), path: &path };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    csrf: Option<String>,
    kind: String,
    level: String,
    unit: String,
    village: Option<String>,
    name: String,
    secretary: String,
}

fn field_error(e: &CommitteeError) -> Option<(String, String)> {
    match e {
        CommitteeError::Invalid { field, problem } => Some(((*field).to_owned(), problem.clone())),
        CommitteeError::Conflict => Some(("version".to_owned(), e.to_string())),
        _ => None,
    }
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Form(f): Form<CreateForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, f.csrf.as_deref().unwrap_or_default()) {
        return (StatusCode::FORBIDDEN, lang.t("csrf")).into_response();
    }
    if caller.role() != Role::Leader {
        return crate::pages::message_page(
            &state,
            &headers,
            lang,
            StatusCode::FORBIDDEN,
            "forbidden",
            tr(lang, "Chỉ lãnh đạo thành lập Ban, Tổ.", "Only leaders set up committees."),
        );
    }
    let unit = f.unit.trim().to_owned();
    let covered = if unit.len() == 2 { caller.covers_unit(&unit) } else { caller.covers(&unit) };
    let back = crate::reports_api::requested_unit(&caller, None).unwrap_or_default();
    if !covered {
        let errors =
            vec![("unit".to_owned(), tr(lang, "Đơn vị ngoài địa bàn của bạn", "A unit outside yours").to_owned())];
        return render_list(&state, &headers, lang, &caller, &back, &errors, None).await;
    }
    let new = NewCommittee {
        kind: f.kind,
        level: f.level,
        unit: unit.clone(),
        village: f.village,
        name: f.name,
        secretary: f.secretary,
    };
    match committees::create(&state.db, new, &caller.claims.sub, crate::now()).await {
        Ok(c) => Redirect::to(&format!("/officer/committees/{}", c.id)).into_response(),
        Err(e) => match field_error(&e) {
            Some(err) => render_list(&state, &headers, lang, &caller, &back, &[err], None).await,
            None => refused(&state, &headers, lang, e),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

async fn committee_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    render_committee(&state, &headers, lang, &caller, &id, &[]).await
}

async fn render_committee(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    id: &str,
    errors: &[(String, String)],
) -> Response {
    let (c, members, tasks) = match committee_of(state, caller, id).await {
        Ok(x) => x,
        Err(e) => return refused(state, headers, lang, e),
    };
    let today = civitas_services::dossiers::local_today(crate::now());
    let (csrf, fresh) = csrf_of(state, headers);
    let error_of = |f: &str| errors.iter().find(|(k, _)| k == f).map(|(_, m)| m.as_str());
    let measured: Vec<(String, String)> =
        std::iter::once((String::new(), tr(lang, "(không gắn chỉ tiêu)", "(no indicator)").to_owned()))
            .chain(
                state
                    .indicators
                    .indicators
                    .iter()
                    .filter(|i| i.numerator.is_some())
                    .map(|i| (i.code.clone(), i.name(lang.code()).to_owned())),
            )
            .collect();
    let body = html! {
        h1 { (c.name) }
        (error_summary(lang, errors))
        (summary_list(Some("committee"), &[
            (tr(lang, "Loại", "Kind"), html! { (committees::kind_name(&c.kind, lang.code())) }),
            (tr(lang, "Cấp", "Level"), html! { (committees::level_name(&c.level, lang.code())) }),
            (tr(lang, "Địa bàn", "Unit"), html! { (civitas_reports::query::unit_name(&c.unit)) @if let Some(v) = &c.village { " · " (v) } }),
            (tr(lang, "Thư ký", "Secretary"), html! { (c.secretary) }),
        ]))
        h2 { (tr(lang, "Thành viên", "Members")) }
        (crate::ui::Table::simple("members", &[tr(lang, "Họ và tên", "Name"), tr(lang, "Vai trò", "Role"), tr(lang, "Chức vụ", "Position"), tr(lang, "Mã cán bộ", "Officer")],
            members.iter().map(|m| vec![html! { (m.name) }, html! { (m.role) }, html! { (m.position) }, html! { code { (m.member) } }]).collect()))
        h2 { (tr(lang, "Nhiệm vụ", "Tasks")) }
        (crate::ui::Table::simple("tasks", &[tr(lang, "Nhiệm vụ", "Task"), tr(lang, "Người thực hiện", "Owner"), tr(lang, "Hạn", "Due"), tr(lang, "Tiến độ", "Progress"), tr(lang, "Trạng thái", "Status")],
            tasks.iter().map(|t| vec![
                html! { a href=(format!("/officer/tasks/{}", t.id)) { (t.title) } @if let Some(r) = &t.recurring { " " (tag(Tone::Info, r)) } },
                html! { (t.owner) },
                html! { (t.due().map(|d| d.to_string()).unwrap_or_default()) },
                html! { (t.progress) " %" },
                html! { (t.status) @if t.overdue(today) { " " (tag(Tone::Warning, tr(lang, "quá hạn", "overdue"))) } },
            ]).collect()))
        @if keeps(caller, &c) {
            h2 { (tr(lang, "Thêm thành viên", "Add a member")) }
            form method="post" action=(format!("/officer/committees/{}/members", c.id)) {
                input type="hidden" name="csrf" value=(csrf);
                (TextInput::new("member", tr(lang, "Mã cán bộ", "Officer identifier"), "").error(error_of("member")).render())
                (TextInput::new("name", tr(lang, "Họ và tên", "Full name"), "").error(error_of("name")).render())
                (select("role", tr(lang, "Vai trò", "Role"), &committees::ROLES.iter().map(|r| ((*r).to_owned(), (*r).to_owned())).collect::<Vec<_>>(), Some("member")))
                (TextInput::new("position", tr(lang, "Chức vụ", "Position"), "").render())
                (button(ButtonKind::Secondary, tr(lang, "Thêm", "Add"), None))
            }
            h2 { (tr(lang, "Giao nhiệm vụ", "Assign a task")) }
            form method="post" action=(format!("/officer/committees/{}/tasks", c.id)) {
                input type="hidden" name="csrf" value=(csrf);
                (TextInput::new("title", tr(lang, "Nhiệm vụ", "Task"), "").error(error_of("title")).render())
                (select("owner", tr(lang, "Người thực hiện", "Owner"), &members.iter().map(|m| (m.member.clone(), m.name.clone())).collect::<Vec<_>>(), None))
                (TextInput::new("deadline", tr(lang, "Hạn (YYYY-MM-DD)", "Deadline (YYYY-MM-DD)"), "").error(error_of("deadline")).width("w10").render())
                (select("recurring", tr(lang, "Lặp lại", "Recurring"), &[("".into(), tr(lang, "Một lần", "Once").into()), ("weekly".into(), tr(lang, "Hằng tuần", "Weekly").into()),
                    ("monthly".into(), tr(lang, "Hằng tháng", "Monthly").into()), ("quarterly".into(), tr(lang, "Hằng quý", "Quarterly").into())], None))
                (select("indicator", tr(lang, "Chỉ tiêu", "Indicator"), &measured, None))
                (TextInput::new("target", tr(lang, "Mục tiêu", "Target"), "").error(error_of("target").or(error_of("indicator"))).width("w10").render())
                (button(ButtonKind::Primary, tr(lang, "Giao", "Assign"), None))
            }
        }
    };
    let path = format!("/officer/committees/{}", c.id);
    let ctx = PageContext { lang, title: &c.name, caller: Some(caller), csrf: Some(&csrf), path: &path };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

#[derive(Debug, Deserialize)]
pub struct MemberForm {
    csrf: Option<String>,
    member: String,
    name: String,
    role: String,
    #[serde(default)]
    position: String,
}

/// The CSRF token checked, the committee found in the caller's units and kept by the caller.
async fn kept(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    id: &str,
    csrf: Option<&str>,
) -> Result<(Committee, Vec<Member>), Response> {
    if !csrf_ok(state, headers, csrf.unwrap_or_default()) {
        return Err((StatusCode::FORBIDDEN, lang.t("csrf")).into_response());
    }
    let (c, members, _) = committee_of(state, caller, id).await.map_err(|e| refused(state, headers, lang, e))?;
    if !keeps(caller, &c) {
        let e = CommitteeError::Forbidden(
            tr(lang, "Chỉ thư ký hoặc lãnh đạo giao việc.", "Only the secretary or a leader keeps the committee.")
                .into(),
        );
        return Err(refused(state, headers, lang, e));
    }
    Ok((c, members))
}

async fn add_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Form(f): Form<MemberForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (c, _) = match kept(&state, &headers, lang, &caller, &id, f.csrf.as_deref()).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let m = Member { member: f.member, name: f.name, role: f.role, position: f.position };
    match committees::add_member(&state.db, &c, m, &caller.claims.sub, crate::now()).await {
        Ok(()) => Redirect::to(&format!("/officer/committees/{id}")).into_response(),
        Err(e) => match field_error(&e) {
            Some(err) => render_committee(&state, &headers, lang, &caller, &id, &[err]).await,
            None => refused(&state, &headers, lang, e),
        },
    }
}

#[derive(Debug, Deserialize)]
pub struct TaskForm {
    csrf: Option<String>,
    title: String,
    #[serde(default)]
    owner: String,
    deadline: String,
    recurring: Option<String>,
    indicator: Option<String>,
    target: Option<String>,
}

async fn assign(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Form(f): Form<TaskForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (c, members) = match kept(&state, &headers, lang, &caller, &id, f.csrf.as_deref()).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let t = NewTask {
        title: f.title,
        owner: f.owner,
        deadline: f.deadline,
        recurring: f.recurring,
        indicator: f.indicator,
        target: f.target,
    };
    match committees::assign(&state.db, &state.indicators, &c, &members, t, &caller.claims.sub, crate::now()).await {
        Ok(t) => Redirect::to(&format!("/officer/tasks/{}", t.id)).into_response(),
        Err(e) => match field_error(&e) {
            Some(err) => render_committee(&state, &headers, lang, &caller, &id, &[err]).await,
            None => refused(&state, &headers, lang, e),
        },
    }
}

async fn task_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    render_task(&state, &headers, lang, &caller, &id, &[]).await
}

async fn render_task(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    id: &str,
    errors: &[(String, String)],
) -> Response {
    let (t, reports) = match committees::task(&state.db, id).await {
        Ok(x) => x,
        Err(e) => return refused(state, headers, lang, e),
    };
    let c = match committee_of(state, caller, &t.committee_id).await {
        Ok((c, _, _)) => c,
        Err(_) => return refused(state, headers, lang, CommitteeError::NotFound(id.to_owned())),
    };
    // The indicator it moves, over the year of its deadline so far (this year's while that one
    // has not begun), for the committee's unit.
    let today = civitas_services::dossiers::local_today(crate::now());
    let current = match (&t.indicator, t.due()) {
        (Some(code), Some(due)) => {
            let year = |y| civitas_reports::Window::new(civitas_core::period::Period::Year(y), today);
            match year(due.year()).or_else(|_| year(today.year())) {
                Ok(window) => civitas_reports::query::value(
                    &state.db,
                    &state.indicators,
                    code,
                    &civitas_reports::Scope::unit(&c.unit),
                    &window,
                )
                .await
                .ok(),
                Err(_) => None,
            }
        }
        _ => None,
    };
    let may_report = caller.claims.sub == t.owner || caller.claims.sub == c.secretary;
    let (csrf, fresh) = csrf_of(state, headers);
    let error_of = |f: &str| errors.iter().find(|(k, _)| k == f).map(|(_, m)| m.as_str());
    let body = html! {
        h1 { (t.title) }
        (error_summary(lang, errors))
        (summary_list(Some("task"), &[
            (tr(lang, "Ban/Tổ", "Committee"), html! { a href=(format!("/officer/committees/{}", c.id)) { (c.name) } }),
            (tr(lang, "Người thực hiện", "Owner"), html! { (t.owner) }),
            (tr(lang, "Hạn", "Due"), html! { (t.due().map(|d| d.to_string()).unwrap_or_default()) @if t.overdue(today) { " " (tag(Tone::Warning, tr(lang, "quá hạn", "overdue"))) } }),
            (tr(lang, "Lặp lại", "Recurring"), html! { (t.recurring.as_deref().unwrap_or("–")) }),
            (tr(lang, "Tiến độ", "Progress"), html! { span id="task-progress" { (t.progress) " %" } " · " (t.status) }),
            (tr(lang, "Chỉ tiêu", "Indicator"), html! {
                @if let (Some(code), Some(v)) = (&t.indicator, &current) {
                    (state.indicators.get(code).map(|i| i.name(lang.code())).unwrap_or(code)) ": "
                    span id="indicator-value" { (v.value.map(|x| format!("{x:.2}")).unwrap_or_else(|| "–".into())) }
                    " / " (t.target.map(|x| format!("{x}")).unwrap_or_default())
                    " " small id="indicator-period" { "(" (v.period) ", " (tr(lang, "đến ngày", "as of")) " " (v.as_of) ")" }
                    @if let (Some(x), Some(target)) = (v.value, t.target) {
                        " " (if x >= target { tag(Tone::Success, tr(lang, "đạt", "met")) } else { tag(Tone::Warning, tr(lang, "chưa đạt", "not met")) })
                    }
                } @else { "–" }
            }),
        ]))
        h2 { (tr(lang, "Báo cáo tiến độ", "Progress reports")) }
        (crate::ui::Table::simple("reports", &[tr(lang, "Thời gian", "Time"), tr(lang, "Người báo cáo", "By"), tr(lang, "Tiến độ", "Progress"), tr(lang, "Nội dung", "Note"), tr(lang, "Tệp", "File")],
            reports.iter().map(|r| vec![
                html! { (lang.time(&r.at)) }, html! { (r.author) }, html! { (r.progress) " % · " (r.status) }, html! { (r.note) },
                html! { @if let Some(n) = &r.attachment_name { a href=(format!("/officer/tasks/{}/reports/{}", t.id, r.id)) { (n) } } },
            ]).collect()))
        @if may_report {
            h2 { (tr(lang, "Báo cáo", "Report progress")) }
            form method="post" action=(format!("/officer/tasks/{}", t.id)) enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="version" value=(t.version);
                (TextInput::new("progress", tr(lang, "Tiến độ (%)", "Progress (%)"), &t.progress.to_string()).numeric().width("w4").error(error_of("progress")).render())
                (select("status", tr(lang, "Trạng thái", "Status"), &[("assigned".into(), tr(lang, "Đã giao", "Assigned").into()),
                    ("in_progress".into(), tr(lang, "Đang thực hiện", "In progress").into()), ("done".into(), tr(lang, "Hoàn thành", "Done").into())], Some(&t.status)))
                (TextInput::new("note", tr(lang, "Kết quả thực hiện", "What was done"), "").error(error_of("note")).render())
                (TextInput::new("attachment", tr(lang, "Tệp đính kèm (tối đa 5 MB)", "Attachment (at most 5 MB)"), "").kind("file").error(error_of("attachment")).render())
                (button(ButtonKind::Primary, tr(lang, "Gửi báo cáo", "Send the report"), None))
            }
        }
    };
    let path = format!("/officer/tasks/{}", t.id);
    let ctx = PageContext { lang, title: &t.title, caller: Some(caller), csrf: Some(&csrf), path: &path };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    mut mp: Multipart,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let mut fields = std::collections::HashMap::new();
    let mut file: Option<(String, String, Vec<u8>)> = None;
    let mut checked = false;
    while let Ok(Some(field)) = mp.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        if !checked {
            let token = if name == "csrf" { field.text().await.unwrap_or_default() } else { String::new() };
            if !csrf_ok(&state, &headers, &token) {
                return (StatusCode::FORBIDDEN, lang.t("csrf")).into_response();
            }
            checked = true;
            continue;
        }
        let file_name = field.file_name().map(str::to_owned);
        let kind = field.content_type().unwrap_or("application/octet-stream").to_owned();
        let Ok(bytes) = field.bytes().await else {
            return crate::pages::message_page(
                &state,
                &headers,
                lang,
                StatusCode::BAD_REQUEST,
                "error.page",
                tr(lang, "Tệp gửi lên bị gián đoạn hoặc quá lớn.", "The upload broke off or is too large."),
            );
        };
        match (name.as_str(), file_name) {
            ("attachment", Some(n)) if !bytes.is_empty() => file = Some((n, kind, bytes.to_vec())),
            ("attachment", _) => {}
            _ => {
                fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    if !checked {
        return (StatusCode::FORBIDDEN, lang.t("csrf")).into_response();
    }
    let (t, _) = match committees::task(&state.db, &id).await {
        Ok(x) => x,
        Err(e) => return refused(&state, &headers, lang, e),
    };
    let c = match committee_of(&state, &caller, &t.committee_id).await {
        Ok((c, _, _)) => c,
        Err(_) => return refused(&state, &headers, lang, CommitteeError::NotFound(id.clone())),
    };
    let get = |k: &str| fields.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let Ok(progress) = get("progress").parse::<i64>() else {
        let errors = vec![(
            "progress".to_owned(),
            tr(lang, "Tiến độ là số phần trăm từ 0 đến 100", "Progress is a percentage from 0 to 100").to_owned(),
        )];
        return render_task(&state, &headers, lang, &caller, &id, &errors).await;
    };
    let r = Report {
        progress,
        status: get("status"),
        note: get("note"),
        attachment: file,
        expected_version: get("version").parse().unwrap_or(t.version),
    };
    match committees::report(&state.db, &c, &t, r, &caller.claims.sub, crate::now()).await {
        Ok(()) => Redirect::to(&format!("/officer/tasks/{id}")).into_response(),
        Err(e) => match field_error(&e) {
            Some(err) => render_task(&state, &headers, lang, &caller, &id, &[err]).await,
            None => refused(&state, &headers, lang, e),
        },
    }
}

async fn attachment(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path((id, report)): Path<(String, i64)>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let found = async {
        let (t, _) = committees::task(&state.db, &id).await?;
        committee_of(&state, &caller, &t.committee_id).await?;
        committees::attachment(&state.db, &id, report).await
    };
    match found.await {
        Ok((name, _kind, bytes)) => {
            // Served as an opaque download: the stored content type and name are the
            // uploader's, so neither reaches a header as given.
            let safe: String =
                name.chars().filter(|c| c.is_ascii_alphanumeric() || ".-_".contains(*c)).take(80).collect();
            let disposition = HeaderValue::from_str(&format!(
                "attachment; filename=\"{}\"",
                if safe.is_empty() { "attachment" } else { &safe }
            ))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => refused(&state, &headers, lang, e),
    }
}
