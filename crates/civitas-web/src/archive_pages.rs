//! The electronic archive over HTTP (`civitas_services::archive`): the packages prepared
//! (the hand-over list), those whose files drifted, those past retention, and the leader's
//! recorded disposal decision — as API and as an officer's page. Bags are written by
//! `civitas archive export` (a file hand-over, not an HTTP download).

use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civitas_identity::Role;
use civitas_services::archive::{self, Disposal, DisposalError, Listing, Package};

use crate::AppState;
use crate::auth::Caller;
use crate::i18n::{Lang, tr};
use crate::pages::{PageContext, csrf_of, csrf_ok, layout, page};
use crate::problem::Problem;
use crate::ui::{ButtonKind, Tone, banner, button, tag};

pub fn routes() -> axum::Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/archive/packages", get(packages))
        .route("/api/v1/archive/packages/{code}/disposal", post(disposal))
        .route("/officer/archive", get(archive_page))
        .route("/officer/archive/{code}/disposal", post(disposal_page))
        .into_router()
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct PackagesQuery {
    /// recent (default: the latest prepared), due (past retention, for a disposal decision)
    /// or drift (files that no longer match their digests).
    list: Option<String>,
}

fn listing(list: Option<&str>) -> Result<Listing, Problem> {
    match list.unwrap_or("recent") {
        "recent" => Ok(Listing::Recent),
        "due" => Ok(Listing::DueForDisposal),
        "drift" => Ok(Listing::Drift),
        other => Err(Problem::bad_request("invalid-list", format!("list {other:?} is not recent, due or drift"))),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Packages {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Package>,
}

#[utoipa::path(get, path = "/api/v1/archive/packages", tag = "archive", params(PackagesQuery),
    responses((status = 200, body = Packages), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn packages(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PackagesQuery>,
) -> Result<Json<Packages>, Problem> {
    let listing = listing(q.list.as_deref())?;
    let covers = |unit: &str| caller.covers_unit(unit);
    let today = civitas_services::dossiers::local_today(crate::now());
    let items = archive::list(&state.db, listing, today, &covers, 500).await?;
    Ok(Json(Packages { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisposalBody {
    /// keep (with `until`) or dispose.
    decision: String,
    /// keep: the day it is proposed again (YYYY-MM-DD).
    until: Option<String>,
    /// The reasons (the appraisal council's minutes).
    note: String,
}

fn decision(decision: &str, until: Option<&str>) -> Result<Disposal, String> {
    match decision {
        "dispose" => Ok(Disposal::Dispose),
        "keep" => {
            let until = until.unwrap_or_default();
            time::Date::parse(until, time::macros::format_description!("[year]-[month]-[day]"))
                .map(|until| Disposal::Keep { until })
                .map_err(|_| format!("until {until:?} is not a day (YYYY-MM-DD)"))
        }
        other => Err(format!("decision {other:?} is not keep or dispose")),
    }
}

fn leader(caller: &Caller) -> Result<(), Problem> {
    if caller.role() == Role::Leader { Ok(()) } else { Err(Problem::forbidden("disposal is decided by a leader")) }
}

fn disposal_problem(e: DisposalError) -> Problem {
    match e {
        DisposalError::NotFound(_) => Problem::not_found(e.to_string()),
        DisposalError::Invalid(d) => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-decision", "Invalid decision", d)
        }
        DisposalError::Store(e) => e.into(),
    }
}

#[utoipa::path(post, path = "/api/v1/archive/packages/{code}/disposal", tag = "archive", params(("code" = String, Path)),
    request_body = DisposalBody,
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn disposal(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(body): Json<DisposalBody>,
) -> Result<Json<Package>, Problem> {
    leader(&caller)?;
    let decided = decision(&body.decision, body.until.as_deref())
        .map_err(|d| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-decision", "Invalid decision", d))?;
    let covers = |unit: &str| caller.covers_unit(unit);
    let p = archive::decide_disposal(&state.db, &code, &decided, &body.note, &caller.claims.sub, &covers, crate::now())
        .await
        .map_err(disposal_problem)?;
    Ok(Json(p))
}

#[derive(Debug, Default, Deserialize)]
pub struct ArchiveQuery {
    lang: Option<String>,
    decided: Option<String>,
}

fn fixity_tag(lang: Lang, p: &Package) -> Markup {
    match p.fixity.as_str() {
        "ok" => tag(Tone::Success, tr(lang, "Nguyên vẹn", "Intact")),
        "drift" => tag(Tone::Danger, tr(lang, "Sai lệch", "Drift")),
        _ => tag(Tone::Neutral, tr(lang, "Chưa kiểm tra", "Not checked yet")),
    }
}

fn retention(lang: Lang, p: &Package) -> String {
    match p.retention.strip_suffix('y') {
        Some(n) => format!("{n} {}", tr(lang, "năm", "years")),
        None => tr(lang, "Vĩnh viễn", "Permanent").to_owned(),
    }
}

async fn archive_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<ArchiveQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let (csrf, fresh) = csrf_of(&state, &headers);
    let covers = |unit: &str| caller.covers_unit(unit);
    let today = civitas_services::dossiers::local_today(crate::now());
    let (recent, drift, due) = match (
        archive::list(&state.db, Listing::Recent, today, &covers, 200).await,
        archive::list(&state.db, Listing::Drift, today, &covers, 200).await,
        archive::list(&state.db, Listing::DueForDisposal, today, &covers, 200).await,
    ) {
        (Ok(r), Ok(d), Ok(u)) => (r, d, u),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return crate::problem::internal(&e).into_response(),
    };
    let is_leader = caller.role() == Role::Leader;
    let title = tr(lang, "Lưu trữ điện tử", "Electronic archive");
    let body = html! {
        h1 { (title) }
        @if let Some(code) = &q.decided {
            (banner(Tone::Success, Some("notice"), None, html! { p { (tr(lang, "Đã ghi nhận quyết định đối với hồ sơ", "Decision recorded for")) " " (code) } }))
        }
        p { (tr(lang, "Mỗi hồ sơ đã kết thúc và mỗi bản ghi hộ tịch được đóng gói (BagIt, có chữ ký số của hệ thống) để giao nộp lưu trữ. Tệp được xuất bằng lệnh civitas archive export; việc kiểm tra tính toàn vẹn chạy định kỳ.",
                "Every closed dossier and every civil-status record is packaged (BagIt, signed by the system) for hand-over to the archive. Bags are written with civitas archive export; fixity is checked on a schedule.")) }
        h2 { (tr(lang, "Sai lệch", "Drift")) }
        @if drift.is_empty() {
            p id="archive-drift-none" { (tr(lang, "Không có gói nào bị sai lệch.", "No package has drifted.")) }
        } @else {
            (crate::ui::Table::simple("archive-drift", &[tr(lang, "Gói", "Package"), tr(lang, "Tệp", "File"), tr(lang, "Kiểm tra lúc", "Checked")],
                drift.iter().map(|p| vec![
                    html! { (p.subject) },
                    html! { (p.fixity_detail.as_deref().unwrap_or_default()) },
                    html! { (p.fixity_checked_at.as_deref().unwrap_or_default()) },
                ]).collect()))
        }
        h2 { (tr(lang, "Đến hạn xem xét hủy", "Due for a disposal decision")) }
        @if due.is_empty() {
            p id="archive-due-none" { (tr(lang, "Không có hồ sơ nào hết thời hạn bảo quản.", "No package is past its retention.")) }
        } @else {
            (crate::ui::Table::simple("archive-due", &[tr(lang, "Gói", "Package"), tr(lang, "Tiêu đề", "Title"), tr(lang, "Thời hạn", "Retention"),
                  tr(lang, "Hết hạn từ", "Due since"), tr(lang, "Quyết định", "Decision")],
                due.iter().map(|p| vec![
                    html! { (p.subject) },
                    html! { (p.title) },
                    html! { (retention(lang, p)) },
                    html! { (p.dispose_after.as_deref().unwrap_or_default()) },
                    if is_leader { decision_form(lang, &csrf, p) } else { html! { (tr(lang, "Lãnh đạo quyết định", "A leader decides")) } },
                ]).collect()))
        }
        h2 { (tr(lang, "Danh sách giao nộp", "Hand-over list")) }
        @if recent.is_empty() {
            p { (tr(lang, "Chưa có gói lưu trữ nào.", "No archive package yet.")) }
        } @else {
            (crate::ui::Table::simple("archive-packages", &[tr(lang, "Gói", "Package"), tr(lang, "Loại", "Kind"), tr(lang, "Tiêu đề", "Title"),
                  tr(lang, "Kết thúc", "Closed"), tr(lang, "Thời hạn", "Retention"), tr(lang, "Toàn vẹn", "Fixity"), tr(lang, "Quyết định hủy", "Disposal")],
                recent.iter().map(|p| vec![
                    html! { (p.subject) },
                    html! { (if p.kind == "civil_record" { tr(lang, "Bản ghi hộ tịch", "Civil-status record") } else { tr(lang, "Hồ sơ", "Dossier") }) },
                    html! { (p.title) },
                    html! { (p.closed_on) },
                    html! { (retention(lang, p)) },
                    fixity_tag(lang, p),
                    html! { (p.disposal.as_deref().unwrap_or_default()) },
                ]).collect()))
        }
    };
    let ctx = PageContext { lang, title, caller: Some(&caller), csrf: Some(&csrf), path: "/officer/archive" };
    page(StatusCode::OK, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), &state)))
}

fn decision_form(lang: Lang, csrf: &str, p: &Package) -> Markup {
    html! {
        form method="post" action={ "/officer/archive/" (p.subject) "/disposal" } {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="lang" value=(lang.code());
            label { (tr(lang, "Lý do (biên bản của Hội đồng)", "Reasons (the council's minutes)"))
                input type="text" name="note" required maxlength="2000"; }
            label { (tr(lang, "Giữ lại đến", "Keep until"))
                input type="date" name="until"; }
            (button(ButtonKind::Secondary, tr(lang, "Giữ lại", "Keep"), Some(("decision", "keep"))))
            (button(ButtonKind::Primary, tr(lang, "Đồng ý hủy", "Approve disposal"), Some(("decision", "dispose"))))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DisposalForm {
    csrf: Option<String>,
    lang: Option<String>,
    decision: Option<String>,
    until: Option<String>,
    note: Option<String>,
}

async fn disposal_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(code): Path<String>,
    Form(form): Form<DisposalForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, form.lang.as_deref());
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return (StatusCode::FORBIDDEN, lang.t("csrf")).into_response();
    }
    if caller.role() != Role::Leader {
        return (StatusCode::FORBIDDEN, tr(lang, "Lãnh đạo quyết định việc hủy.", "Disposal is decided by a leader."))
            .into_response();
    }
    let until = form.until.as_deref().filter(|u| !u.is_empty());
    let decided = match decision(form.decision.as_deref().unwrap_or_default(), until) {
        Ok(d) => d,
        Err(why) => return (StatusCode::UNPROCESSABLE_ENTITY, why).into_response(),
    };
    let covers = |unit: &str| caller.covers_unit(unit);
    let note = form.note.unwrap_or_default();
    match archive::decide_disposal(&state.db, &code, &decided, &note, &caller.claims.sub, &covers, crate::now()).await {
        Ok(_) => Redirect::to(&format!(
            "/officer/archive?lang={}&decided={}",
            lang.code(),
            crate::exchange_pages::urlencode(&code)
        ))
        .into_response(),
        Err(DisposalError::NotFound(_)) => {
            (StatusCode::NOT_FOUND, tr(lang, "Không có gói lưu trữ này.", "No such package.")).into_response()
        }
        Err(DisposalError::Invalid(why)) => (StatusCode::UNPROCESSABLE_ENTITY, why).into_response(),
        Err(DisposalError::Store(e)) => crate::problem::internal(&e).into_response(),
    }
}
