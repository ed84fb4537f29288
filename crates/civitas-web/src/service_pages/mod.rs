//! Pages of the one-stop system. Citizens (signed in with their e-ID): the catalogue with
//! search, applying (one question page with an error summary, check your answers, confirmation
//! with the dossier code), their dossiers with status and timeline, supplying documents, rating,
//! withdrawing, and their document store. Anyone: the status of a dossier by code and the last
//! four digits of the applicant's ID number. Officers: the work queue of their unit, a dossier
//! with the actions of its current step, counter intake from the card QR, printable slips.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use civitas_services::catalogue::{FieldKind, Procedure};
use civitas_services::documents;
use civitas_services::dossiers::{self, ActInput, Actor, Dossier, Rating};
use civitas_services::workflow::{Action, State as DState};

use crate::AppState;
use crate::auth::Caller;
use crate::i18n::Lang;
use crate::pages::{PageContext, csrf_of, csrf_ok, error_summary, layout, page, page_caller};
use crate::problem::Problem;

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/services", get(catalogue_page))
        .route("/services/{code}", get(procedure_page))
        .route("/services/{code}/apply", get(apply_page).post(apply))
        .route("/services/{code}/submit", post(submit))
        .route("/my/dossiers", get(my_dossiers))
        .route("/my/dossiers/{code}", get(my_dossier))
        .route("/my/dossiers/{code}/supplement", post(my_supplement))
        .route("/my/dossiers/{code}/rate", post(my_rating))
        .route("/my/dossiers/{code}/withdraw", post(my_withdraw))
        .route("/my/dossiers/{code}/receipt.pdf", get(my_receipt))
        .route("/my/documents", get(my_documents).post(my_upload))
        .route("/my/documents/{id}", get(my_document))
        .route("/status", get(status_page))
        .route("/officer/queue", get(queue_page))
        .route("/officer/dossiers/{code}", get(officer_dossier).post(officer_act))
        .route("/officer/dossiers/{code}/{slip}", get(officer_slip))
        .route("/officer/documents/{code}/{id}", get(officer_document))
        .route("/officer/counter", get(counter_page).post(counter))
        .into_router()
        .layer(axum::extract::DefaultBodyLimit::max(3 * documents::MAX_BYTES))
}

/// The value of a `Result<T, Response>`, or the response returned from the handler.
macro_rules! page_try {
    ($e:expr) => {
        match $e {
            Ok(x) => x,
            Err(response) => return response,
        }
    };
}

/// A "not found" page with the text in both languages.
fn not_found(state: &AppState, headers: &HeaderMap, lang: Lang, vi: &'static str, en: &'static str) -> Response {
    message(state, headers, lang, StatusCode::NOT_FOUND, tr(lang, vi, en))
}

/// The page for a form whose CSRF token no longer matches.
fn csrf_expired(state: &AppState, headers: &HeaderMap, lang: Lang) -> Response {
    message(
        state,
        headers,
        lang,
        StatusCode::FORBIDDEN,
        tr(lang, "Phiên biểu mẫu đã hết hạn; vui lòng thử lại.", "The form expired; please try again."),
    )
}

use crate::i18n::tr;

fn state_text(lang: Lang, s: DState) -> &'static str {
    match s {
        DState::Received => tr(lang, "Đã tiếp nhận", "Received"),
        DState::InProcessing => tr(lang, "Đang xử lý", "In processing"),
        DState::SupplementRequested => tr(lang, "Yêu cầu bổ sung", "Supplement requested"),
        DState::Approved => tr(lang, "Đã phê duyệt", "Approved"),
        DState::Refused => tr(lang, "Từ chối giải quyết", "Refused"),
        DState::ResultIssued => tr(lang, "Đã có kết quả", "Result issued"),
        DState::Returned => tr(lang, "Đã trả kết quả", "Returned"),
        DState::RejectedAtReceipt => tr(lang, "Không tiếp nhận", "Rejected at receipt"),
        DState::Withdrawn => tr(lang, "Đã rút hồ sơ", "Withdrawn"),
        DState::Lapsed => tr(lang, "Đóng do quá hạn bổ sung", "Closed: supplement not given"),
    }
}

/// A dossier's state as a coloured tag: closed well (green), waiting for the citizen (amber),
/// refused or closed without a result (red), in progress (blue).
fn state_tag(lang: Lang, s: DState) -> Markup {
    use crate::ui::Tone;
    let tone = match s {
        DState::Received | DState::InProcessing => Tone::Info,
        DState::SupplementRequested => Tone::Warning,
        DState::Approved | DState::ResultIssued | DState::Returned => Tone::Success,
        DState::Refused | DState::RejectedAtReceipt | DState::Lapsed => Tone::Danger,
        DState::Withdrawn => Tone::Neutral,
    };
    crate::ui::tag(tone, state_text(lang, s))
}

fn action_text(lang: Lang, a: &str) -> String {
    let t = match a {
        "receive" => tr(lang, "Tiếp nhận", "Received"),
        "start_processing" => tr(lang, "Chuyển xử lý", "Sent for processing"),
        "forward" => tr(lang, "Chuyển bước tiếp theo", "Handed to the next step"),
        "request_supplement" => tr(lang, "Yêu cầu bổ sung", "Supplement requested"),
        "supplement" => tr(lang, "Đã bổ sung", "Supplemented"),
        "lapse_supplement" => tr(lang, "Quá hạn bổ sung", "Supplement lapsed"),
        "approve" => tr(lang, "Phê duyệt", "Approved"),
        "refuse" => tr(lang, "Từ chối", "Refused"),
        "issue_result" => tr(lang, "Trả kết quả điện tử", "Result issued"),
        "return" => tr(lang, "Trả kết quả", "Returned"),
        "reject_at_receipt" => tr(lang, "Không tiếp nhận", "Rejected at receipt"),
        "withdraw" => tr(lang, "Rút hồ sơ", "Withdrawn"),
        "apologize" => tr(lang, "Xin lỗi, hẹn lại", "Apology, new date"),
        "rate" => tr(lang, "Đánh giá", "Rated"),
        other => return other.to_owned(),
    };
    t.to_owned()
}

fn name(lang: Lang, p: &Procedure) -> &str {
    if lang == Lang::En { &p.name_en } else { &p.name_vi }
}

#[allow(clippy::too_many_arguments)]
fn html_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    status: StatusCode,
    title: &str,
    path: &str,
    caller: Option<&Caller>,
    body: Markup,
) -> Response {
    let (csrf, fresh) = csrf_of(state, headers);
    let ctx = PageContext { lang, title, caller, csrf: caller.map(|_| csrf.as_str()), path };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

fn message(state: &AppState, headers: &HeaderMap, lang: Lang, status: StatusCode, text: &str) -> Response {
    let title = if status.is_success() {
        tr(lang, "Thông báo", "Notice")
    } else {
        tr(lang, "Không thực hiện được", "That did not work")
    };
    html_page(
        state,
        headers,
        lang,
        status,
        title,
        "/services",
        None,
        html! { h1 { (title) } p { (text) } p { a href="/services" { (tr(lang, "Dịch vụ công", "Public services")) } } },
    )
}

fn problem_page(state: &AppState, headers: &HeaderMap, lang: Lang, p: Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
    let text = if status.is_server_error() {
        tr(lang, "Hệ thống gặp lỗi; vui lòng thử lại sau.", "The server failed; please try again later.").to_owned()
    } else {
        p.detail
    };
    message(state, headers, lang, status, &text)
}

#[derive(Debug, Deserialize, Default)]
pub struct LangQ {
    lang: Option<String>,
    q: Option<String>,
}

async fn citizen(state: &AppState, headers: &HeaderMap) -> Result<String, Response> {
    crate::cookies::browser_session(state, headers)
        .await
        .map(|(_, s)| s.pid)
        .ok_or_else(|| Redirect::to("/signin").into_response())
}

pub(crate) use crate::pages::citizen_nav;

mod apply;
mod mine;
mod officer;

use apply::*;
use mine::*;
use officer::*;
