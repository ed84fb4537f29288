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

fn tr(lang: Lang, vi: &'static str, en: &'static str) -> &'static str {
    if lang == Lang::En { en } else { vi }
}

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
    crate::oidc::browser_session(state, headers)
        .await
        .map(|(_, s)| s.pid)
        .ok_or_else(|| Redirect::to("/signin").into_response())
}

pub(crate) fn citizen_nav(lang: Lang) -> Markup {
    html! {
        nav class="sub" aria-label=(tr(lang, "Dịch vụ", "Services")) {
            a href="/services" { (tr(lang, "Dịch vụ công", "Public services")) } " · "
            a href="/my/dossiers" { (tr(lang, "Hồ sơ của tôi", "My dossiers")) } " · "
            a href="/my/documents" { (tr(lang, "Kho dữ liệu của tôi", "My documents")) } " · "
            a href="/account" { (tr(lang, "Tài khoản", "Account")) }
        }
    }
}

// ----- catalogue -----

async fn catalogue_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQ>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let query = q.q.unwrap_or_default();
    let found = state.catalogue.search(&query);
    let title = tr(lang, "Dịch vụ công thiết yếu", "Essential public services");
    let body = html! {
        (citizen_nav(lang))
        h1 { (title) }
        form method="get" action="/services" role="search" {
            div class="field" {
                label for="q" { (tr(lang, "Tìm thủ tục", "Find a procedure")) }
                p class="hint" id="q-hint" { (tr(lang, "Có thể gõ không dấu, ví dụ: thuong tru", "Diacritics optional, e.g. residence")) }
                input type="search" id="q" name="q" value=(query) aria-describedby="q-hint";
            }
            button type="submit" { (tr(lang, "Tìm", "Search")) }
        }
        @if found.is_empty() { p { (tr(lang, "Không có thủ tục phù hợp.", "No matching procedure.")) } }
        ul class="procedures" {
            @for p in &found {
                li { a href=(format!("/services/{}", p.code)) { (name(lang, p)) } " (" (p.code) ", " (p.days) " " (tr(lang, "ngày làm việc", "working days")) ")" }
            }
        }
    };
    html_page(&state, &headers, lang, StatusCode::OK, title, "/services", None, body)
}

async fn procedure_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<LangQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let Some(p) = state.catalogue.get(&code) else {
        return not_found(&state, &headers, lang, "Không có thủ tục này.", "No such procedure.");
    };
    let body = html! {
        (citizen_nav(lang))
        h1 { (name(lang, p)) }
        dl class="facts" {
            dt { (tr(lang, "Mã thủ tục", "Code")) } dd { (p.code) }
            dt { (tr(lang, "Thời hạn giải quyết", "Time limit")) } dd { (p.days) " " (tr(lang, "ngày làm việc", "working days")) }
            dt { (tr(lang, "Lệ phí", "Fee")) } dd { (p.fee) " đồng" }
            dt { (tr(lang, "Cấp giải quyết", "Decided by")) } dd { (if p.level == civitas_services::catalogue::Level::Commune { tr(lang, "Cấp xã", "Commune") } else { tr(lang, "Cấp tỉnh", "Province") }) }
        }
        h2 { (tr(lang, "Thành phần hồ sơ", "What the dossier contains")) }
        ul {
            @for c in &p.components {
                li {
                    (if lang == Lang::En { &c.name_en } else { &c.name_vi }) " — "
                    (match c.replaced_by.as_deref() {
                        Some("register") => tr(lang, "không cần nộp: lấy từ Cơ sở dữ liệu quốc gia về dân cư", "not needed: taken from the population register"),
                        Some("form") => tr(lang, "tờ khai điện tử", "the online form"),
                        Some(_) => tr(lang, "dùng lại kết quả trong kho dữ liệu của bạn", "reused from your document store"),
                        None => tr(lang, "tải lên bản điện tử", "upload a file"),
                    })
                }
            }
        }
        p { a class="button" href=(format!("/services/{}/apply", p.code)) { (tr(lang, "Nộp hồ sơ trực tuyến", "Apply online")) } }
    };
    html_page(&state, &headers, lang, StatusCode::OK, name(lang, p), &format!("/services/{code}"), None, body)
}

// ----- apply -----

struct ApplyForm {
    fields: BTreeMap<String, String>,
    components: BTreeMap<String, String>,
}

fn field_input(lang: Lang, f: &civitas_services::catalogue::Field, value: &str, error: Option<&str>) -> Markup {
    let id = format!("f-{}", f.name);
    let label = if lang == Lang::En { &f.label_en } else { &f.label_vi };
    html! {
        div class=(if error.is_some() { "field error" } else { "field" }) {
            label for=(id) { (label) @if !f.required { " " (tr(lang, "(không bắt buộc)", "(optional)")) } }
            @if let Some(e) = error { p class="error-message" id=(format!("{id}-error")) { (e) } }
            @match f.kind {
                FieldKind::Select => {
                    select id=(id) name=(format!("field.{}", f.name)) {
                        option value="" { "—" }
                        @for o in &f.options { option value=(o) selected[o == value] { (option_text(lang, o)) } }
                    }
                }
                FieldKind::Date => { input type="date" id=(id) name=(format!("field.{}", f.name)) value=(value); }
                _ => { input type="text" id=(id) name=(format!("field.{}", f.name)) value=(value); }
            }
        }
    }
}

fn option_text(lang: Lang, o: &str) -> String {
    let t = match o {
        "own_home" => tr(lang, "Chỗ ở hợp pháp thuộc sở hữu của mình", "My own home"),
        "with_relative" => tr(lang, "Về ở với người thân", "Living with a relative"),
        "rented" => tr(lang, "Thuê, mượn, ở nhờ", "Rented or lent"),
        "male" => tr(lang, "Nam", "Male"),
        "female" => tr(lang, "Nữ", "Female"),
        "expired" => tr(lang, "Hết hạn", "Expired"),
        "lost" => tr(lang, "Bị mất", "Lost"),
        "damaged" => tr(lang, "Bị hỏng", "Damaged"),
        "details_changed" => tr(lang, "Thay đổi thông tin", "Details changed"),
        "counter" => tr(lang, "Tại cơ quan", "At the office"),
        "post" => tr(lang, "Qua bưu chính", "By post"),
        other => return other.to_owned(),
    };
    t.to_owned()
}

fn form_problem_text(lang: Lang, problem: civitas_services::catalogue::FieldProblem) -> &'static str {
    use civitas_services::catalogue::FieldProblem as F;
    match problem {
        F::Missing => tr(lang, "Thông tin này là bắt buộc.", "This is required."),
        F::TooLong => tr(lang, "Tối đa 500 ký tự.", "At most 500 characters."),
        F::NotADate => tr(lang, "Nhập ngày theo dạng năm-tháng-ngày.", "Enter a date as year-month-day."),
        F::UnknownCommune => tr(lang, "Mã xã/phường không tồn tại.", "No commune has this code."),
        F::NotAPid => tr(lang, "Số định danh gồm 12 chữ số hợp lệ.", "An ID number has 12 valid digits."),
        F::NotANumber => tr(lang, "Nhập một số.", "Enter a number."),
        F::NotAnOption => tr(lang, "Chọn một trong các lựa chọn.", "Choose one of the options."),
        F::Unknown => tr(lang, "Trường không thuộc tờ khai.", "Not a field of this form."),
    }
}

async fn applicant_box(
    state: &AppState,
    lang: Lang,
    pid: &str,
) -> Result<(civitas_registry::Person, Markup), Response> {
    let person = match pid.parse::<civitas_core::Pid>() {
        Ok(p) => state.register.get(&p).await.ok().flatten(),
        Err(_) => None,
    };
    let Some(person) = person else { return Err(Redirect::to("/account").into_response()) };
    let m = html! {
        section aria-labelledby="applicant" {
            h2 id="applicant" { (tr(lang, "Người nộp (từ Cơ sở dữ liệu quốc gia về dân cư, không cần nhập)", "Applicant (from the population register, nothing to type)")) }
            dl class="facts" {
                dt { (tr(lang, "Họ và tên", "Full name")) } dd { (person.full_name) }
                dt { (tr(lang, "Số định danh", "ID number")) } dd { (person.pid.as_str()) }
                dt { (tr(lang, "Ngày sinh", "Date of birth")) } dd { (crate::pages::date_text(&person.birth_date)) }
                dt { (tr(lang, "Nơi thường trú", "Permanent residence")) } dd { (person.permanent_residence.as_ref().map(crate::pages::residence_text).unwrap_or_default()) }
            }
        }
    };
    Ok((person, m))
}

#[allow(clippy::too_many_arguments)]
fn render_apply(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    p: &Procedure,
    applicant: Markup,
    form: &ApplyForm,
    errors: &[(String, String)],
    stored: &[documents::Document],
) -> Response {
    let (csrf, _) = csrf_of(state, headers);
    let summary: Vec<(&str, &str)> = errors.iter().map(|(f, m)| (f.as_str(), m.as_str())).collect();
    let body = html! {
        (citizen_nav(lang))
        h1 { (name(lang, p)) }
        (error_summary(lang, &summary))
        (applicant)
        form method="post" action=(format!("/services/{}/apply", p.code)) enctype="multipart/form-data" novalidate {
            input type="hidden" name="csrf" value=(csrf);
            h2 { (tr(lang, "Tờ khai", "The form")) }
            @for f in &p.fields {
                @let error = errors.iter().find(|(n, _)| *n == format!("f-{}", f.name)).map(|(_, m)| m.as_str());
                (field_input(lang, f, form.fields.get(&f.name).map(String::as_str).unwrap_or_default(), error))
            }
            @let files: Vec<_> = p.components.iter().filter(|c| c.needs_file()).collect();
            @if !files.is_empty() { h2 { (tr(lang, "Giấy tờ", "Documents")) } }
            @for c in files {
                @let id = format!("c-{}", c.code);
                @let error = errors.iter().find(|(n, _)| *n == id).map(|(_, m)| m.as_str());
                @let chosen = form.components.get(&c.code).cloned().unwrap_or_default();
                div class=(if error.is_some() { "field error" } else { "field" }) {
                    label for=(id) { (if lang == Lang::En { &c.name_en } else { &c.name_vi }) @if !c.required { " " (tr(lang, "(không bắt buộc)", "(optional)")) } }
                    p class="hint" id=(format!("{id}-hint")) { (tr(lang, "PDF, JPEG hoặc PNG, tối đa 10 MB; hoặc chọn giấy tờ trong kho dữ liệu bên dưới.", "PDF, JPEG or PNG, at most 10 MB; or pick one from your store below.")) }
                    @if let Some(e) = error { p class="error-message" id=(format!("{id}-error")) { (e) } }
                    input type="file" id=(id) name=(format!("file.{}", c.code)) accept=".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png" aria-describedby=(format!("{id}-hint"));
                    @if !stored.is_empty() {
                        label for=(format!("{id}-store")) { (tr(lang, "Hoặc dùng giấy tờ đã có", "Or use a document you have")) }
                        select id=(format!("{id}-store")) name=(format!("doc.{}", c.code)) {
                            option value="" { "—" }
                            @for d in stored { option value=(d.id) selected[d.id == chosen] { (d.name) } }
                        }
                    }
                }
            }
            button type="submit" { (tr(lang, "Tiếp tục", "Continue")) }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_page(state, headers, lang, status, name(lang, p), &format!("/services/{}/apply", p.code), None, body)
}

async fn apply_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<LangQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let pid = page_try!(citizen(&state, &headers).await);
    let Some(p) = state.catalogue.get(&code) else {
        return not_found(&state, &headers, lang, "Không có thủ tục này.", "No such procedure.");
    };
    let (_, applicant) = page_try!(applicant_box(&state, lang, &pid).await);
    let stored = documents::list(&state.db, &pid).await.unwrap_or_default();
    render_apply(
        &state,
        &headers,
        lang,
        p,
        applicant,
        &ApplyForm { fields: BTreeMap::new(), components: BTreeMap::new() },
        &[],
        &stored,
    )
}

/// Why a multipart form was not read.
enum MultipartRefusal {
    /// The body broke off.
    Interrupted,
    /// The CSRF token (which every form sends as its first field) is missing or wrong.
    Csrf,
}

/// Reads a multipart form: text parts, and files (stored in the citizen's document store at
/// once, so a re-shown form does not ask for them again). The form's CSRF token must come
/// first: nothing is stored before it is checked.
async fn read_multipart(
    state: &AppState,
    headers: &HeaderMap,
    pid: &str,
    mut mp: Multipart,
) -> Result<(BTreeMap<String, String>, Vec<(String, String)>), MultipartRefusal> {
    let mut text = BTreeMap::new();
    let mut file_errors = Vec::new();
    let mut csrf_checked = false;
    while let Ok(Some(field)) = mp.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        if !csrf_checked {
            if name != "csrf" {
                return Err(MultipartRefusal::Csrf);
            }
            let Ok(token) = field.text().await else { return Err(MultipartRefusal::Interrupted) };
            if !csrf_ok(state, headers, &token) {
                return Err(MultipartRefusal::Csrf);
            }
            csrf_checked = true;
            continue;
        }
        let file_name = field.file_name().map(str::to_owned);
        let Ok(bytes) = field.bytes().await else { return Err(MultipartRefusal::Interrupted) };
        match (name.strip_prefix("file."), file_name) {
            (Some(component), Some(file_name)) if !bytes.is_empty() => {
                match documents::store(&state.db, pid, &file_name, &bytes, crate::now()).await {
                    Ok(doc) => {
                        text.insert(format!("doc.{component}"), doc.id);
                    }
                    Err(e) => file_errors.push((format!("c-{component}"), e.to_string())),
                }
            }
            (Some(_), _) => {}
            (None, _) => {
                text.insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    if !csrf_checked {
        return Err(MultipartRefusal::Csrf);
    }
    Ok((text, file_errors))
}

fn split_form(p: &Procedure, text: &BTreeMap<String, String>) -> ApplyForm {
    let mut fields = BTreeMap::new();
    let mut components = BTreeMap::new();
    for (k, v) in text {
        if let Some(f) = k.strip_prefix("field.") {
            fields.insert(f.to_owned(), v.clone());
        } else if let Some(c) = k.strip_prefix("doc.")
            && !v.is_empty()
            && p.components.iter().any(|x| x.code == c)
        {
            components.insert(c.to_owned(), v.clone());
        }
    }
    ApplyForm { fields, components }
}

async fn apply(State(state): State<AppState>, headers: HeaderMap, Path(code): Path<String>, mp: Multipart) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let pid = page_try!(citizen(&state, &headers).await);
    let Some(p) = state.catalogue.get(&code) else {
        return not_found(&state, &headers, lang, "Không có thủ tục này.", "No such procedure.");
    };
    let (text, mut errors) = match read_multipart(&state, &headers, &pid, mp).await {
        Ok(x) => x,
        Err(MultipartRefusal::Csrf) => return csrf_expired(&state, &headers, lang),
        Err(MultipartRefusal::Interrupted) => {
            let text = tr(lang, "Tệp tải lên bị gián đoạn: hãy gửi lại.", "The upload was interrupted: send it again.");
            return message(&state, &headers, lang, StatusCode::BAD_REQUEST, text);
        }
    };
    let form = split_form(p, &text);
    let (person, applicant) = page_try!(applicant_box(&state, lang, &pid).await);
    if let Err(es) = p.check_fields(&form.fields) {
        for e in es {
            errors.push((format!("f-{}", e.field), form_problem_text(lang, e.problem).to_owned()));
        }
    }
    // The same checks as the API (documents owned, required ones present, the unit); the form's
    // own field errors were given above in the page's words.
    if let Err(problem) =
        crate::one_stop::prepare(&state, p, &person, &form.fields, &form.components, "online", serde_json::json!({}))
            .await
    {
        let before = errors.len();
        for e in problem.errors.clone() {
            let id = e.field.replacen("fields.", "f-", 1).replacen("components.", "c-", 1);
            if errors.iter().any(|(f, _)| *f == id) || (id.starts_with("f-") && e.field != "fields.commune") {
                continue;
            }
            let text = if id.starts_with("c-") {
                tr(lang, "Tải lên giấy tờ này.", "Upload this document.").to_owned()
            } else {
                e.detail
            };
            errors.push((id, text));
        }
        if errors.len() == before && errors.is_empty() {
            return problem_page(&state, &headers, lang, problem);
        }
    }
    let stored = documents::list(&state.db, &pid).await.unwrap_or_default();
    if !errors.is_empty() {
        return render_apply(&state, &headers, lang, p, applicant, &form, &errors, &stored);
    }
    // Check your answers.
    let (csrf, _) = csrf_of(&state, &headers);
    let key = documents::new_id();
    let doc_name = |id: &str| stored.iter().find(|d| d.id == id).map(|d| d.name.clone()).unwrap_or_default();
    let body = html! {
        (citizen_nav(lang))
        h1 { (tr(lang, "Kiểm tra thông tin trước khi nộp", "Check your answers before submitting")) }
        (applicant)
        h2 { (name(lang, p)) }
        dl class="facts" id="answers" {
            @for f in &p.fields {
                @if let Some(v) = form.fields.get(&f.name).filter(|v| !v.trim().is_empty()) {
                    dt { (if lang == Lang::En { &f.label_en } else { &f.label_vi }) } dd { (option_text(lang, v.trim())) }
                }
            }
            @for (c, id) in &form.components {
                @if let Some(comp) = p.components.iter().find(|x| &x.code == c) {
                    dt { (if lang == Lang::En { &comp.name_en } else { &comp.name_vi }) } dd { (doc_name(id)) }
                }
            }
        }
        p { a href=(format!("/services/{}/apply", p.code)) { (tr(lang, "Sửa thông tin", "Change your answers")) } }
        form method="post" action=(format!("/services/{}/submit", p.code)) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="idempotency_key" value=(key);
            @for (k, v) in &form.fields { input type="hidden" name=(format!("field.{k}")) value=(v); }
            @for (k, v) in &form.components { input type="hidden" name=(format!("doc.{k}")) value=(v); }
            button type="submit" { (tr(lang, "Nộp hồ sơ", "Submit the dossier")) }
        }
    };
    html_page(
        &state,
        &headers,
        lang,
        StatusCode::OK,
        tr(lang, "Kiểm tra thông tin", "Check your answers"),
        &format!("/services/{}/apply", p.code),
        None,
        body,
    )
}

async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(text): Form<BTreeMap<String, String>>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let pid = page_try!(citizen(&state, &headers).await);
    if !csrf_ok(&state, &headers, text.get("csrf").map(String::as_str).unwrap_or_default()) {
        return csrf_expired(&state, &headers, lang);
    }
    let Some(p) = state.catalogue.get(&code) else {
        return not_found(&state, &headers, lang, "Không có thủ tục này.", "No such procedure.");
    };
    let form = split_form(p, &text);
    let person = match applicant_box(&state, lang, &pid).await {
        Ok((p, _)) => p,
        Err(r) => return r,
    };
    let prepared = match crate::one_stop::prepare(
        &state,
        p,
        &person,
        &form.fields,
        &form.components,
        "online",
        serde_json::json!({}),
    )
    .await
    {
        Ok(x) => x,
        Err(problem) => return problem_page(&state, &headers, lang, problem),
    };
    match state.intake.submit(prepared.new, text.get("idempotency_key").map(String::as_str), &pid, crate::now()).await {
        Ok(d) => Redirect::to(&format!("/my/dossiers/{}?submitted=1", d.code)).into_response(),
        Err(e) => problem_page(&state, &headers, lang, e.into()),
    }
}

// ----- my dossiers -----

async fn my_dossiers(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQ>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let pid = page_try!(citizen(&state, &headers).await);
    let list = match dossiers::of_applicant(&state.db, &pid, 200).await {
        Ok(l) => l,
        Err(e) => return problem_page(&state, &headers, lang, crate::problem::internal(&e)),
    };
    let title = tr(lang, "Hồ sơ của tôi", "My dossiers");
    let body = html! {
        (citizen_nav(lang))
        h1 { (title) }
        @if list.is_empty() { p { (tr(lang, "Bạn chưa nộp hồ sơ nào.", "You have not submitted any dossier.")) } }
        @else {
            table {
                tr { th scope="col" { (tr(lang, "Mã hồ sơ", "Code")) } th scope="col" { (tr(lang, "Thủ tục", "Procedure")) } th scope="col" { (tr(lang, "Trạng thái", "Status")) } th scope="col" { (tr(lang, "Ngày hẹn", "Due")) } }
                @for d in &list {
                    tr {
                        td { a href=(format!("/my/dossiers/{}", d.code)) { (d.code) } }
                        td { (state.catalogue.get(&d.procedure_code).map(|p| name(lang, p).to_owned()).unwrap_or(d.procedure_code.clone())) }
                        td { (state_text(lang, d.state)) }
                        td { (d.appointment_on) }
                    }
                }
            }
        }
    };
    html_page(&state, &headers, lang, StatusCode::OK, title, "/my/dossiers", None, body)
}

fn follow_ups(lang: Lang, subs: &[civitas_services::followups::SubDossier]) -> Markup {
    html! {
        @if !subs.is_empty() {
            h2 { (tr(lang, "Thủ tục liên thông", "Interconnected procedures")) }
            table id="follow-ups" {
                tr { th scope="col" { (tr(lang, "Thủ tục", "Procedure")) } th scope="col" { (tr(lang, "Cơ quan", "Agency")) } th scope="col" { (tr(lang, "Trạng thái", "Status")) } th scope="col" { (tr(lang, "Hạn", "Due")) } }
                @for s in subs {
                    tr {
                        td { (if lang == Lang::En { &s.name_en } else { &s.name_vi }) }
                        td { (s.agency_id) }
                        td { (match s.state.as_str() { "accepted" => tr(lang, "Cơ quan đã tiếp nhận", "Accepted by the agency"), "failed" => tr(lang, "Gửi không thành công", "Not delivered"), _ => tr(lang, "Đang gửi", "Sending") }) @if let Some(r) = &s.reference { " (" (r) ")" } }
                        td { (s.due_on) }
                    }
                }
            }
        }
    }
}

fn timeline(lang: Lang, steps: &[dossiers::StepRecord], show_actor: bool) -> Markup {
    html! {
        h2 { (tr(lang, "Quá trình xử lý", "Timeline")) }
        ol class="timeline" {
            @for s in steps {
                li { (s.at.get(..16).unwrap_or(&s.at).replace('T', " ")) " — " strong { (action_text(lang, &s.action)) }
                    @if show_actor { " (" (s.actor) ")" }
                    @if let Some(n) = &s.note { ": " (n) } }
            }
        }
    }
}

fn facts(state: &AppState, lang: Lang, d: &Dossier) -> Markup {
    html! {
        dl class="facts" {
            dt { (tr(lang, "Mã hồ sơ", "Dossier code")) } dd id="dossier-code" { (d.code) }
            dt { (tr(lang, "Thủ tục", "Procedure")) } dd { (state.catalogue.get(&d.procedure_code).map(|p| name(lang, p).to_owned()).unwrap_or(d.procedure_code.clone())) }
            dt { (tr(lang, "Người nộp", "Applicant")) } dd { (d.applicant_name) }
            dt { (tr(lang, "Trạng thái", "Status")) } dd id="dossier-state" { (state_text(lang, d.state)) }
            dt { (tr(lang, "Ngày tiếp nhận", "Received")) } dd { (d.received_on) }
            dt { (tr(lang, "Ngày hẹn trả", "Due")) } dd id="dossier-due" { (d.appointment_on) }
            @if let Some(a) = &d.apology_on { dt { (tr(lang, "Ngày hẹn mới (thư xin lỗi)", "New date (apology)")) } dd { (a) } }
            @if let Some(s) = &d.supplement_due_on { dt { (tr(lang, "Hạn bổ sung", "Supplement due")) } dd { (s) } }
        }
    }
}

async fn own_dossier(state: &AppState, headers: &HeaderMap, code: &str) -> Result<(String, Dossier), Response> {
    let pid = citizen(state, headers).await?;
    let lang = crate::pages::lang(headers, None);
    match dossiers::get(&state.db, code).await {
        Ok(Some(d)) if d.applicant_pid == pid => Ok((pid, d)),
        _ => Err(not_found(state, headers, lang, "Không tìm thấy hồ sơ.", "No such dossier.")),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct DossierQ {
    lang: Option<String>,
    submitted: Option<String>,
}

async fn my_dossier(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<DossierQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let (_, d) = page_try!(own_dossier(&state, &headers, &code).await);
    let steps = dossiers::steps(&state.db, &code).await.unwrap_or_default();
    let (csrf, _) = csrf_of(&state, &headers);
    let p = state.catalogue.get(&d.procedure_code);
    let title = tr(lang, "Hồ sơ", "Dossier");
    let body = html! {
        (citizen_nav(lang))
        @if q.submitted.is_some() {
            div class="confirmation" role="status" {
                h1 { (tr(lang, "Đã nộp hồ sơ", "Dossier submitted")) }
                p { (tr(lang, "Mã hồ sơ của bạn", "Your dossier code")) ": " strong id="new-code" { (d.code) } }
            }
        } @else { h1 { (title) " " (d.code) } }
        (facts(&state, lang, &d))
        p { a href=(format!("/my/dossiers/{}/receipt.pdf", d.code)) { (tr(lang, "Giấy tiếp nhận và hẹn trả kết quả (PDF)", "Receipt and appointment slip (PDF)")) } }
        @if let Some(id) = &d.result_document { p { a href=(format!("/my/documents/{id}")) id="result-link" { (tr(lang, "Kết quả (PDF)", "Result (PDF)")) } } }
        @if d.state == DState::SupplementRequested && let Some(p) = p {
            h2 { (tr(lang, "Bổ sung hồ sơ", "Supply documents")) }
            form method="post" action=(format!("/my/dossiers/{}/supplement", d.code)) enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(csrf);
                @for c in p.components.iter().filter(|c| c.needs_file()) {
                    div class="field" {
                        label for=(format!("s-{}", c.code)) { (if lang == Lang::En { &c.name_en } else { &c.name_vi }) }
                        input type="file" id=(format!("s-{}", c.code)) name=(format!("file.{}", c.code));
                    }
                }
                div class="field" { label for="s-note" { (tr(lang, "Ghi chú", "Note")) } input type="text" id="s-note" name="note"; }
                button type="submit" { (tr(lang, "Gửi bổ sung", "Send")) }
            }
        }
        @if matches!(d.state, DState::ResultIssued | DState::Returned | DState::Refused) && d.rating.is_none() {
            h2 { (tr(lang, "Đánh giá mức độ hài lòng", "How satisfied are you?")) }
            form method="post" action=(format!("/my/dossiers/{}/rate", d.code)) {
                input type="hidden" name="csrf" value=(csrf);
                fieldset {
                    legend { (tr(lang, "Chọn một", "Choose one")) }
                    @for (v, vi, en) in [("very_satisfied", "Rất hài lòng", "Very satisfied"), ("satisfied", "Hài lòng", "Satisfied"), ("not_satisfied", "Không hài lòng", "Not satisfied")] {
                        div { input type="radio" id=(format!("r-{v}")) name="rating" value=(v); label for=(format!("r-{v}")) { (tr(lang, vi, en)) } }
                    }
                }
                button type="submit" { (tr(lang, "Gửi đánh giá", "Send rating")) }
            }
        }
        @if let Some(r) = d.rating { p id="rated" { (tr(lang, "Bạn đã đánh giá", "You rated")) ": " (match r { Rating::VerySatisfied => tr(lang, "Rất hài lòng", "Very satisfied"), Rating::Satisfied => tr(lang, "Hài lòng", "Satisfied"), Rating::NotSatisfied => tr(lang, "Không hài lòng", "Not satisfied") }) } }
        @if matches!(d.state, DState::Received | DState::InProcessing | DState::SupplementRequested) {
            form method="post" action=(format!("/my/dossiers/{}/withdraw", d.code)) {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" class="secondary" { (tr(lang, "Rút hồ sơ", "Withdraw the dossier")) }
            }
        }
        (follow_ups(lang, &civitas_services::followups::sub_dossiers_of(&state.db, &code).await.unwrap_or_default()))
        (timeline(lang, &steps, false))
    };
    html_page(&state, &headers, lang, StatusCode::OK, title, &format!("/my/dossiers/{code}"), None, body)
}

async fn my_supplement(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    mp: Multipart,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (pid, d) = page_try!(own_dossier(&state, &headers, &code).await);
    let (text, errors) = match read_multipart(&state, &headers, &pid, mp).await {
        Ok(x) => x,
        Err(MultipartRefusal::Csrf) => return csrf_expired(&state, &headers, lang),
        Err(MultipartRefusal::Interrupted) => {
            let text = tr(lang, "Tệp tải lên bị gián đoạn: hãy gửi lại.", "The upload was interrupted: send it again.");
            return message(&state, &headers, lang, StatusCode::BAD_REQUEST, text);
        }
    };
    if let Some((_, e)) = errors.first() {
        return message(&state, &headers, lang, StatusCode::UNPROCESSABLE_ENTITY, e);
    }
    let Some(p) = state.catalogue.get(&d.procedure_code) else {
        return problem_page(&state, &headers, lang, Problem::internal());
    };
    let components: Vec<(String, String)> =
        text.iter().filter_map(|(k, v)| k.strip_prefix("doc.").map(|c| (c.to_owned(), v.clone()))).collect();
    let input = ActInput { note: text.get("note").cloned(), components, ..Default::default() };
    match dossiers::act(
        &state.db,
        &state.calendar,
        p,
        &code,
        Action::Supplement,
        &Actor::Applicant(pid),
        input,
        crate::now(),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/my/dossiers/{code}")).into_response(),
        Err(e) => problem_page(&state, &headers, lang, e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct RateForm {
    csrf: String,
    rating: Option<String>,
}

async fn my_rating(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<RateForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (pid, _) = page_try!(own_dossier(&state, &headers, &code).await);
    if !csrf_ok(&state, &headers, &form.csrf) {
        return csrf_expired(&state, &headers, lang);
    }
    let Some(rating) = form.rating.and_then(|r| serde_json::from_value::<Rating>(serde_json::Value::String(r)).ok())
    else {
        return message(
            &state,
            &headers,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            tr(lang, "Chọn một mức đánh giá.", "Choose a rating."),
        );
    };
    match dossiers::rate(&state.db, &code, &pid, rating, crate::now()).await {
        Ok(_) => Redirect::to(&format!("/my/dossiers/{code}")).into_response(),
        Err(e) => problem_page(&state, &headers, lang, e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

async fn my_withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (pid, d) = page_try!(own_dossier(&state, &headers, &code).await);
    if !csrf_ok(&state, &headers, &form.csrf) {
        return csrf_expired(&state, &headers, lang);
    }
    let Some(p) = state.catalogue.get(&d.procedure_code) else {
        return problem_page(&state, &headers, lang, Problem::internal());
    };
    match dossiers::act(
        &state.db,
        &state.calendar,
        p,
        &code,
        Action::Withdraw,
        &Actor::Applicant(pid),
        ActInput::default(),
        crate::now(),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/my/dossiers/{code}")).into_response(),
        Err(e) => problem_page(&state, &headers, lang, e.into()),
    }
}

async fn my_receipt(State(state): State<AppState>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (_, d) = page_try!(own_dossier(&state, &headers, &code).await);
    match crate::slips::receipt(&state, &d) {
        Ok(bytes) => crate::one_stop::file_response("application/pdf", &format!("tiep-nhan-{code}.pdf"), bytes),
        Err(p) => problem_page(&state, &headers, lang, p),
    }
}

// ----- my documents -----

async fn render_documents(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    pid: &str,
    error: Option<String>,
) -> Response {
    let docs = documents::list(&state.db, pid).await.unwrap_or_default();
    let (csrf, _) = csrf_of(state, headers);
    let title = tr(lang, "Kho dữ liệu của tôi", "My documents");
    let errors: Vec<(&str, &str)> = error.as_deref().map(|e| vec![("file", e)]).unwrap_or_default();
    let body = html! {
        (citizen_nav(lang))
        h1 { (title) }
        (error_summary(lang, &errors))
        @if docs.is_empty() { p { (tr(lang, "Chưa có giấy tờ nào.", "No documents yet.")) } }
        @else {
            table id="documents" {
                tr { th scope="col" { (tr(lang, "Tên", "Name")) } th scope="col" { (tr(lang, "Loại", "Kind")) } th scope="col" { (tr(lang, "Ngày", "Date")) } }
                @for d in &docs {
                    tr {
                        td { a href=(format!("/my/documents/{}", d.id)) { (d.name) } }
                        td { (if d.kind == "result" { tr(lang, "Kết quả giải quyết", "Result") } else { tr(lang, "Giấy tờ tải lên", "Upload") }) }
                        td { (d.created_at.get(..10).unwrap_or_default()) }
                    }
                }
            }
        }
        h2 { (tr(lang, "Tải lên giấy tờ", "Upload a document")) }
        form method="post" action="/my/documents" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(csrf);
            div class=(if error.is_some() { "field error" } else { "field" }) {
                label for="file" { (tr(lang, "Tệp PDF, JPEG hoặc PNG (tối đa 10 MB)", "PDF, JPEG or PNG file (at most 10 MB)")) }
                @if let Some(e) = &error { p class="error-message" { (e) } }
                input type="file" id="file" name="file.upload";
            }
            button type="submit" { (tr(lang, "Tải lên", "Upload")) }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    html_page(state, headers, lang, status, title, "/my/documents", None, body)
}

async fn my_documents(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQ>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let pid = page_try!(citizen(&state, &headers).await);
    render_documents(&state, &headers, lang, &pid, None).await
}

async fn my_upload(State(state): State<AppState>, headers: HeaderMap, mp: Multipart) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let pid = page_try!(citizen(&state, &headers).await);
    let (text, errors) = match read_multipart(&state, &headers, &pid, mp).await {
        Ok(x) => x,
        Err(MultipartRefusal::Csrf) => return csrf_expired(&state, &headers, lang),
        Err(MultipartRefusal::Interrupted) => {
            let text = tr(lang, "Tệp tải lên bị gián đoạn: hãy gửi lại.", "The upload was interrupted: send it again.");
            return message(&state, &headers, lang, StatusCode::BAD_REQUEST, text);
        }
    };
    if let Some((_, e)) = errors.into_iter().next() {
        return render_documents(&state, &headers, lang, &pid, Some(e)).await;
    }
    if !text.contains_key("doc.upload") {
        return render_documents(
            &state,
            &headers,
            lang,
            &pid,
            Some(tr(lang, "Chọn một tệp.", "Choose a file.").to_owned()),
        )
        .await;
    }
    Redirect::to("/my/documents").into_response()
}

async fn my_document(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let pid = page_try!(citizen(&state, &headers).await);
    match crate::one_stop::own_file(&state, &pid, &id).await {
        Ok(Some(file)) => file,
        _ => not_found(&state, &headers, lang, "Không tìm thấy giấy tờ.", "No such document."),
    }
}

// ----- public status -----

#[derive(Debug, Deserialize, Default)]
pub struct StatusQ {
    lang: Option<String>,
    code: Option<String>,
    last4: Option<String>,
}

async fn status_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    Query(q): Query<StatusQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let code = q.code.clone().unwrap_or_default();
    let last4 = q.last4.clone().unwrap_or_default();
    let mut error = None;
    let mut found = None;
    if q.code.is_some() {
        if code.trim().parse::<civitas_core::dossier::DossierCode>().is_err()
            || last4.len() != 4
            || !last4.bytes().all(|b| b.is_ascii_digit())
        {
            error = Some(tr(
                lang,
                "Nhập mã hồ sơ đúng dạng và 4 chữ số cuối của số định danh.",
                "Enter a dossier code and the last 4 digits of the ID number.",
            ));
        } else {
            let ip = crate::account_pages::client_ip(&state, &headers, &ext);
            match crate::dossiers::lookup_status(&state, &ip, code.trim(), &last4).await {
                Ok(crate::dossiers::Lookup::Found(d)) => found = Some(*d),
                Ok(crate::dossiers::Lookup::Blocked(wait)) => {
                    return crate::account_pages::too_many(&state, &headers, wait);
                }
                Err(p) => return problem_page(&state, &headers, lang, p),
                Ok(crate::dossiers::Lookup::NoMatch) => {
                    error = Some(tr(
                        lang,
                        "Không có hồ sơ khớp với mã và các chữ số này.",
                        "No dossier matches this code and these digits.",
                    ))
                }
            }
        }
    }
    let errors: Vec<(&str, &str)> = error.map(|e| vec![("code", e)]).unwrap_or_default();
    let title = tr(lang, "Tra cứu hồ sơ", "Dossier status");
    let body = html! {
        h1 { (title) }
        (error_summary(lang, &errors))
        form method="get" action="/status" {
            div class="field" { label for="code" { (tr(lang, "Mã hồ sơ", "Dossier code")) } input type="text" id="code" name="code" value=(code); }
            div class="field" { label for="last4" { (tr(lang, "4 chữ số cuối của số định danh", "Last 4 digits of the ID number")) } input type="text" id="last4" name="last4" value=(last4) inputmode="numeric"; }
            button type="submit" { (tr(lang, "Tra cứu", "Look up")) }
        }
        @if let Some(d) = &found {
            dl class="facts" {
                dt { (tr(lang, "Trạng thái", "Status")) } dd id="public-state" { (state_text(lang, d.state)) }
                dt { (tr(lang, "Ngày hẹn trả", "Due")) } dd { (d.apology_on.clone().unwrap_or(d.appointment_on.clone())) }
            }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::NOT_FOUND };
    html_page(&state, &headers, lang, status, title, "/status", None, body)
}

// ----- officer -----

async fn officer(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let caller = page_caller(state, headers).await?;
    if !matches!(
        caller.role(),
        civitas_identity::Role::OnestopOfficer | civitas_identity::Role::Specialist | civitas_identity::Role::Leader
    ) {
        let lang = crate::pages::lang(headers, None);
        return Err(message(
            state,
            headers,
            lang,
            StatusCode::FORBIDDEN,
            tr(lang, "Vai trò của bạn không xử lý hồ sơ.", "Your role does not process dossiers."),
        ));
    }
    Ok(caller)
}

fn officer_nav(lang: Lang, caller: &Caller) -> Markup {
    html! {
        nav class="sub" aria-label=(tr(lang, "Một cửa", "One-stop")) {
            a href="/officer/queue" { (tr(lang, "Hồ sơ cần xử lý", "Work queue")) }
            @if caller.role() == civitas_identity::Role::OnestopOfficer { " · " a href="/officer/counter" { (tr(lang, "Tiếp nhận tại quầy", "Counter intake")) } }
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct QueueQ {
    lang: Option<String>,
    procedure: Option<String>,
    state: Option<String>,
    due: Option<String>,
}

async fn queue_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<QueueQ>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let caller = page_try!(officer(&state, &headers).await);
    let query =
        crate::one_stop::QueueQueryPage { procedure: q.procedure.clone(), state: q.state.clone(), due: q.due.clone() };
    let filter = match crate::one_stop::queue_filter_page(&state, &query) {
        Ok(f) => f,
        Err(p) => return problem_page(&state, &headers, lang, p),
    };
    let items = match dossiers::queue(&state.db, &caller.unit_scope(), &filter).await {
        Ok(i) => i,
        Err(e) => return problem_page(&state, &headers, lang, crate::problem::internal(&e)),
    };
    let today = dossiers::local_today(crate::now()).to_string();
    let title = tr(lang, "Hồ sơ cần xử lý", "Work queue");
    let sel = |a: &Option<String>, v: &str| a.as_deref() == Some(v);
    let body = html! {
        (officer_nav(lang, &caller))
        h1 { (title) " · " (caller.unit_label()) }
        form method="get" action="/officer/queue" class="filters" {
            div class="field" { label for="procedure" { (tr(lang, "Thủ tục", "Procedure")) }
                select id="procedure" name="procedure" { option value="" { (tr(lang, "Tất cả", "All")) } @for p in &state.catalogue.procedures { option value=(p.code) selected[sel(&q.procedure, &p.code)] { (p.code) " " (name(lang, p)) } } } }
            div class="field" { label for="state" { (tr(lang, "Trạng thái", "Status")) }
                select id="state" name="state" { option value="" { (tr(lang, "Đang chờ xử lý", "Open")) } @for s in dossiers::OPEN { @let v = dossiers::name_of(s); option value=(v) selected[sel(&q.state, &v)] { (state_text(lang, s)) } } } }
            div class="field" { label for="due" { (tr(lang, "Hạn", "Due")) }
                select id="due" name="due" { option value="" { (tr(lang, "Tất cả", "All")) } option value="soon" selected[sel(&q.due, "soon")] { (tr(lang, "Sắp đến hạn", "Due soon")) } option value="overdue" selected[sel(&q.due, "overdue")] { (tr(lang, "Quá hạn", "Overdue")) } } }
            button type="submit" { (tr(lang, "Lọc", "Filter")) }
        }
        @if items.is_empty() { p { (tr(lang, "Không có hồ sơ.", "No dossiers.")) } }
        @else {
            table id="queue" {
                tr { th scope="col" { (tr(lang, "Mã hồ sơ", "Code")) } th scope="col" { (tr(lang, "Thủ tục", "Procedure")) } th scope="col" { (tr(lang, "Người nộp", "Applicant")) } th scope="col" { (tr(lang, "Trạng thái", "Status")) } th scope="col" { (tr(lang, "Ngày hẹn", "Due")) } }
                @for d in &items {
                    tr {
                        td { a href=(format!("/officer/dossiers/{}", d.code)) { (d.code) } }
                        td { (d.procedure_code) }
                        td { (d.applicant_name) }
                        td { (state_text(lang, d.state)) }
                        td { (d.appointment_on) @if d.appointment_on < today && d.state != DState::SupplementRequested { " " strong { (tr(lang, "quá hạn", "overdue")) } } }
                    }
                }
            }
        }
    };
    html_page(&state, &headers, lang, StatusCode::OK, title, "/officer/queue", Some(&caller), body)
}

async fn officer_load(state: &AppState, headers: &HeaderMap, code: &str) -> Result<(Caller, Dossier), Response> {
    let caller = officer(state, headers).await?;
    let lang = crate::pages::lang(headers, None);
    match dossiers::get(&state.db, code).await {
        // The officer who received it at the counter (anywhere: Decree 118) may see it and print
        // its slips; only the competent unit acts on it.
        Ok(Some(d))
            if crate::one_stop::officer_covers(&caller, &d.unit_code)
                || d.data["received_by"] == caller.claims.sub.as_str() =>
        {
            Ok((caller, d))
        }
        _ => Err(not_found(
            state,
            headers,
            lang,
            "Không tìm thấy hồ sơ trong đơn vị của bạn.",
            "No such dossier in your unit.",
        )),
    }
}

async fn officer_dossier(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<LangQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let (caller, d) = page_try!(officer_load(&state, &headers, &code).await);
    render_officer_dossier(&state, &headers, lang, &caller, &d, None).await
}

async fn render_officer_dossier(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    d: &Dossier,
    error: Option<String>,
) -> Response {
    let steps = dossiers::steps(&state.db, &d.code).await.unwrap_or_default();
    let (csrf, _) = csrf_of(state, headers);
    let p = state.catalogue.get(&d.procedure_code);
    let actor = match caller.role() {
        civitas_identity::Role::OnestopOfficer => Actor::Onestop(caller.claims.sub.clone()),
        civitas_identity::Role::Leader => {
            Actor::Officer(caller.claims.sub.clone(), civitas_services::catalogue::StepRole::Leader)
        }
        _ => Actor::Officer(caller.claims.sub.clone(), civitas_services::catalogue::StepRole::Specialist),
    };
    let possible: Vec<Action> = [
        Action::StartProcessing,
        Action::Forward,
        Action::Approve,
        Action::IssueResult,
        Action::Return,
        Action::RequestSupplement,
        Action::Refuse,
        Action::RejectAtReceipt,
    ]
    .into_iter()
    .filter(|a| civitas_services::workflow::next(d.state, *a).is_ok())
    .filter(|a| p.is_some_and(|p| dossiers::permitted(p, d, *a, &actor).is_ok()))
    .filter(|_| crate::one_stop::officer_covers(caller, &d.unit_code))
    .collect();
    let errors: Vec<(&str, &str)> = error.as_deref().map(|e| vec![("note", e)]).unwrap_or_default();
    let title = format!("{} {}", tr(lang, "Hồ sơ", "Dossier"), d.code);
    let body = html! {
        (officer_nav(lang, caller))
        h1 { (title) }
        (error_summary(lang, &errors))
        (facts(state, lang, d))
        h2 { (tr(lang, "Thông tin tờ khai", "The form")) }
        dl class="facts" {
            @if let Some(fields) = d.data["fields"].as_object() { @for (k, v) in fields { dt { (k) } dd { (v.as_str().unwrap_or_default()) } } }
        }
        @if let Some(m) = d.data["card_mismatches"].as_array().filter(|m| !m.is_empty()) {
            p class="error-message" { (tr(lang, "Thông tin trên thẻ khác Cơ sở dữ liệu:", "The card differs from the register:")) " " (m.len()) }
        }
        h2 { (tr(lang, "Giấy tờ", "Documents")) }
        ul {
            @if let Some(c) = d.data["components"].as_object() { @for (k, v) in c { li { a href=(format!("/officer/documents/{}/{}", d.code, v.as_str().unwrap_or_default())) { (k) } } } }
            @if let Some(r) = d.data["replaced"].as_object() { @for (k, v) in r { li { (k) ": " (v.as_str().unwrap_or_default()) } } }
        }
        p {
            a href=(format!("/officer/dossiers/{}/receipt.pdf", d.code)) { (tr(lang, "In giấy tiếp nhận (mẫu 01)", "Print the receipt (form 01)")) }
            @if d.apology_on.is_some() { " · " a href=(format!("/officer/dossiers/{}/apology.pdf", d.code)) { (tr(lang, "In thư xin lỗi (mẫu 04)", "Print the apology (form 04)")) } }
        }
        @if !possible.is_empty() {
            h2 { (tr(lang, "Xử lý", "Process")) }
            form method="post" action=(format!("/officer/dossiers/{}", d.code)) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="version" value=(d.version);
                div class="field" {
                    label for="note" { (tr(lang, "Nội dung (bắt buộc khi yêu cầu bổ sung, từ chối)", "Note (required to ask for documents or refuse)")) }
                    input type="text" id="note" name="note";
                }
                @if civitas_services::civil::kind_of(&d.procedure_code) == Some(civitas_services::civil::Kind::Birth) && possible.contains(&Action::Approve) {
                    div class="field" {
                        input type="checkbox" id="not_duplicate" name="not_duplicate" value="1";
                        label for="not_duplicate" { (tr(lang, "Đã kiểm tra: không trùng với khai sinh đã đăng ký", "Checked: not a duplicate of a registered birth")) }
                    }
                }
                @for a in &possible {
                    @let v = dossiers::name_of(*a);
                    button type="submit" name="action" value=(v) class=(if matches!(a, Action::Refuse | Action::RejectAtReceipt) { "danger" } else { "" }) { (action_text(lang, &v)) } " "
                }
            }
        }
        (follow_ups(lang, &civitas_services::followups::sub_dossiers_of(&state.db, &d.code).await.unwrap_or_default()))
        (timeline(lang, &steps, true))
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_page(state, headers, lang, status, &title, &format!("/officer/dossiers/{}", d.code), Some(caller), body)
}

#[derive(Debug, Deserialize)]
pub struct ActForm {
    csrf: String,
    not_duplicate: Option<String>,
    action: String,
    note: Option<String>,
    version: Option<i64>,
}

async fn officer_act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (caller, d) = page_try!(officer_load(&state, &headers, &code).await);
    if !csrf_ok(&state, &headers, &form.csrf) {
        return csrf_expired(&state, &headers, lang);
    }
    let action = match crate::one_stop::parse_action(&form.action) {
        Ok(a) => a,
        Err(p) => return problem_page(&state, &headers, lang, p),
    };
    let input = ActInput {
        note: form.note.filter(|n| !n.trim().is_empty()),
        expected_version: form.version,
        ..Default::default()
    };
    match crate::one_stop::perform(&state, &caller, &code, action, input, form.not_duplicate.as_deref() == Some("1"))
        .await
    {
        Ok(_) => Redirect::to(&format!("/officer/dossiers/{code}")).into_response(),
        Err(p) if p.status == 422 => {
            render_officer_dossier(
                &state,
                &headers,
                lang,
                &caller,
                &d,
                Some(tr(lang, "Ghi rõ nội dung cần bổ sung hoặc lý do.", "Say what is missing, or why.").to_owned()),
            )
            .await
        }
        Err(p) => problem_page(&state, &headers, lang, p),
    }
}

async fn officer_slip(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, slip)): Path<(String, String)>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (_, d) = page_try!(officer_load(&state, &headers, &code).await);
    let made = match slip.as_str() {
        "receipt.pdf" => crate::slips::receipt(&state, &d),
        "apology.pdf" if d.apology_on.is_some() => crate::slips::apology(&state, &d),
        _ => {
            return not_found(&state, &headers, lang, "Không có phiếu này.", "No such slip.");
        }
    };
    match made {
        Ok(bytes) => crate::one_stop::file_response("application/pdf", &format!("{code}-{slip}"), bytes),
        Err(p) => problem_page(&state, &headers, lang, p),
    }
}

async fn officer_document(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, id)): Path<(String, String)>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (_, d) = page_try!(officer_load(&state, &headers, &code).await);
    match crate::one_stop::dossier_file(&state, &d, &id).await {
        Ok(Some(file)) => file,
        _ => not_found(&state, &headers, lang, "Không tìm thấy giấy tờ.", "No such document."),
    }
}

// ----- counter -----

#[derive(Debug, Deserialize, Default)]
pub struct CounterForm {
    csrf: Option<String>,
    card_qr: Option<String>,
    procedure: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

async fn counter_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQ>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let caller = page_try!(officer(&state, &headers).await);
    render_counter(&state, &headers, lang, &caller, &CounterForm::default(), None, &[]).await
}

async fn render_counter(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    form: &CounterForm,
    checked: Option<(civitas_registry::Person, Vec<crate::one_stop::Mismatch>)>,
    errors: &[(String, String)],
) -> Response {
    let (csrf, _) = csrf_of(state, headers);
    let title = tr(lang, "Tiếp nhận hồ sơ tại quầy", "Counter intake");
    let summary: Vec<(&str, &str)> = errors.iter().map(|(f, m)| (f.as_str(), m.as_str())).collect();
    let procedure = form.procedure.as_deref().and_then(|c| state.catalogue.get(c));
    let body = html! {
        (officer_nav(lang, caller))
        h1 { (title) }
        (error_summary(lang, &summary))
        form method="post" action="/officer/counter" {
            input type="hidden" name="csrf" value=(csrf);
            div class="field" {
                label for="card_qr" { (tr(lang, "Nội dung mã QR trên thẻ Căn cước", "Text of the identity card QR")) }
                p class="hint" id="card_qr-hint" { (tr(lang, "Quét mã QR hoặc dán nội dung.", "Scan the QR code or paste its text.")) }
                input type="text" id="card_qr" name="card_qr" value=(form.card_qr.clone().unwrap_or_default()) aria-describedby="card_qr-hint";
            }
            div class="field" {
                label for="procedure" { (tr(lang, "Thủ tục", "Procedure")) }
                select id="procedure" name="procedure" { option value="" { "—" } @for p in &state.catalogue.procedures { option value=(p.code) selected[form.procedure.as_deref() == Some(p.code.as_str())] { (p.code) " " (name(lang, p)) } } }
            }
            @if let Some((person, mismatches)) = &checked {
                h2 { (tr(lang, "Công dân trong Cơ sở dữ liệu", "The person in the register")) }
                dl class="facts" { dt { (tr(lang, "Họ và tên", "Full name")) } dd id="person-name" { (person.full_name) } dt { (tr(lang, "Số định danh", "ID number")) } dd { (person.pid.as_str()) } }
                @if !mismatches.is_empty() {
                    table id="mismatches" {
                        tr { th scope="col" { (tr(lang, "Thông tin", "Field")) } th scope="col" { (tr(lang, "Trên thẻ", "On the card")) } th scope="col" { (tr(lang, "Trong Cơ sở dữ liệu", "In the register")) } }
                        @for m in mismatches { tr { td { (m.field) } td { (m.card) } td { (m.register) } } }
                    }
                }
                @if let Some(p) = procedure {
                    @for f in &p.fields {
                        @let error = errors.iter().find(|(n, _)| *n == format!("f-{}", f.name)).map(|(_, m)| m.as_str());
                        (field_input(lang, f, form.rest.get(&format!("field.{}", f.name)).map(String::as_str).unwrap_or_default(), error))
                    }
                    input type="hidden" name="confirm" value="1";
                }
            }
            button type="submit" { (if checked.is_some() && procedure.is_some() { tr(lang, "Tiếp nhận hồ sơ", "Receive the dossier") } else { tr(lang, "Kiểm tra", "Check") }) }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_page(state, headers, lang, status, title, "/officer/counter", Some(caller), body)
}

async fn counter(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<CounterForm>) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let caller = page_try!(officer(&state, &headers).await);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return csrf_expired(&state, &headers, lang);
    }
    if caller.role() != civitas_identity::Role::OnestopOfficer {
        return message(
            &state,
            &headers,
            lang,
            StatusCode::FORBIDDEN,
            tr(lang, "Chỉ cán bộ Một cửa tiếp nhận hồ sơ.", "Only one-stop officers receive dossiers."),
        );
    }
    let qr = form.card_qr.clone().unwrap_or_default();
    let checked = match crate::one_stop::check_card(&state, &caller, &qr).await {
        Ok(c) => c,
        Err(p) => {
            let errors = vec![("card_qr".to_owned(), p.detail)];
            return render_counter(&state, &headers, lang, &caller, &form, None, &errors).await;
        }
    };
    let procedure = form.procedure.as_deref().and_then(|c| state.catalogue.get(c));
    let Some(p) = procedure.filter(|_| form.rest.contains_key("confirm")) else {
        return render_counter(&state, &headers, lang, &caller, &form, Some(checked), &[]).await;
    };
    let fields: BTreeMap<String, String> =
        form.rest.iter().filter_map(|(k, v)| k.strip_prefix("field.").map(|f| (f.to_owned(), v.clone()))).collect();
    if let Err(es) = p.check_fields(&fields) {
        let errors: Vec<(String, String)> =
            es.into_iter().map(|e| (format!("f-{}", e.field), form_problem_text(lang, e.problem).to_owned())).collect();
        return render_counter(&state, &headers, lang, &caller, &form, Some(checked), &errors).await;
    }
    let (person, mismatches) = checked;
    let extra = serde_json::json!({ "card_mismatches": mismatches, "received_by": caller.claims.sub });
    let prepared = match crate::one_stop::prepare(&state, p, &person, &fields, &BTreeMap::new(), "counter", extra).await
    {
        Ok(x) => x,
        Err(problem) => {
            let errors: Vec<(String, String)> =
                problem.errors.into_iter().map(|e| (e.field.replacen("fields.", "f-", 1), e.detail)).collect();
            let checked = crate::one_stop::check_card(&state, &caller, &qr).await.ok();
            return render_counter(&state, &headers, lang, &caller, &form, checked, &errors).await;
        }
    };
    match state.intake.submit(prepared.new, None, &caller.claims.sub, crate::now()).await {
        Ok(d) => Redirect::to(&format!("/officer/dossiers/{}", d.code)).into_response(),
        Err(e) => problem_page(&state, &headers, lang, e.into()),
    }
}
