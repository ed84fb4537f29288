//! Looking a digitised document or a result up by its code (`civitas_services::codes`), as
//! API and as an officer's page. An officer finds a code given in a dossier of their units;
//! any other code answers as if it did not exist.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use civitas_services::codes::{self, Found};

use crate::AppState;
use crate::auth::Caller;
use crate::i18n::{Lang, tr};
use crate::pages::{PageContext, csrf_of, layout, page};
use crate::problem::Problem;
use crate::ui::{Tone, banner};

pub fn routes() -> axum::Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/document-codes/{code}", get(by_code))
        .route("/officer/document-codes", get(lookup_page))
        .into_router()
}

async fn found(state: &AppState, caller: &Caller, code: &str) -> Result<Option<Found>, Problem> {
    let covers = |unit: &str| caller.covers_unit(unit);
    Ok(codes::lookup(&state.db, code, &covers).await?)
}

/// The document code, its parts, the document's SHA-256, who digitised it and when, and for a
/// result the agency's signature. A code with a `/` (a registration number) is sent encoded
/// (`%2F`).
#[utoipa::path(get, path = "/api/v1/document-codes/{code}", tag = "dossiers",
    params(("code" = String, Path, description = "A document code, e.g. 001095012345.1.001234.TP1.01")),
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn by_code(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Response, Problem> {
    match found(&state, &caller, &code).await? {
        Some(f) => Ok(Json(f).into_response()),
        None => Err(Problem::not_found(format!("no document code {code} that you may see"))),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LookupQuery {
    lang: Option<String>,
    code: Option<String>,
}

async fn lookup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<LookupQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let (csrf, fresh) = csrf_of(&state, &headers);
    let code = q.code.as_deref().map(str::trim).unwrap_or_default();
    let result = if code.is_empty() {
        None
    } else {
        match found(&state, &caller, code).await {
            Ok(f) => Some(f),
            Err(e) => return e.into_response(),
        }
    };
    let title = tr(lang, "Tra cứu mã giấy tờ số hóa", "Look up a document code");
    let body = html! {
        h1 { (title) }
        p { (tr(lang, "Mỗi thành phần hồ sơ được số hóa và mỗi kết quả giải quyết có một mã duy nhất. Nhập mã để xem giấy tờ, người số hóa và hồ sơ đã cấp mã.",
                "Every digitised component and every result has a unique code. Enter a code to see the document, who digitised it and the dossier that gave the code.")) }
        form method="get" action="/officer/document-codes" {
            label for="code" { (tr(lang, "Mã giấy tờ", "Document code")) }
            input id="code" name="code" type="text" value=(code) maxlength="200" required;
            button type="submit" class="button" { (tr(lang, "Tra cứu", "Look up")) }
        }
        @match &result {
            None => {}
            Some(None) => (banner(Tone::Warning, Some("not-found"), None, html! {
                p { (tr(lang, "Không có giấy tờ nào mang mã này trong các đơn vị của bạn.", "No document has this code in your units.")) }
            })),
            Some(Some(f)) => (details(lang, f)),
        }
    };
    let status = if matches!(result, Some(None)) { StatusCode::NOT_FOUND } else { StatusCode::OK };
    let ctx = PageContext { lang, title, caller: Some(&caller), csrf: Some(&csrf), path: "/officer/document-codes" };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), &state)))
}

fn details(lang: Lang, f: &Found) -> Markup {
    let c = &f.coded;
    let kind = if c.kind == "result" {
        tr(lang, "Kết quả giải quyết", "Result")
    } else {
        tr(lang, "Thành phần hồ sơ", "Component")
    };
    let source = match c.source.as_str() {
        "counter" => tr(lang, "Số hóa tại bộ phận một cửa", "Scanned at the counter"),
        "online" => tr(lang, "Người nộp tải lên", "Uploaded by the applicant"),
        _ => tr(lang, "Do cơ quan cấp", "Issued by the agency"),
    };
    html! {
        dl id="document-code" {
            dt { (tr(lang, "Mã", "Code")) } dd { code { (c.code) } }
            dt { (tr(lang, "Loại", "Kind")) } dd { (kind) }
            dt { (tr(lang, "Chủ giấy tờ (số định danh)", "Owner (ID number)")) } dd { (c.owner_pid) }
            dt { (if c.kind == "result" { tr(lang, "Mã kết quả", "Result code") } else { tr(lang, "Mã thủ tục", "Procedure code") }) }
            dd { (c.subject) }
            dt { (if c.kind == "result" { tr(lang, "Số, ký hiệu", "Number") } else { tr(lang, "Loại giấy tờ", "Document type") }) }
            dd { (if c.kind == "result" { &c.number } else { &c.doc_type }) }
            dt { (tr(lang, "Hồ sơ cấp mã", "Dossier")) }
            dd { a href={ "/officer/dossiers/" (c.dossier_code) } { (c.dossier_code) } }
            dt { (tr(lang, "Nguồn", "Source")) } dd { (source) }
            dt { (tr(lang, "Người số hóa / ký", "Digitised or signed by")) } dd { (c.digitiser) }
            dt { (tr(lang, "Thời điểm", "At")) } dd { (c.coded_at) }
            dt { "SHA-256" } dd { code { (c.sha256) } }
            @if c.signature.is_some() {
                dt { (tr(lang, "Chữ ký của cơ quan", "Agency's signature")) }
                dd { a href={ "/verify?payload=" (crate::exchange_pages::urlencode(&c.code)) } { (tr(lang, "Kiểm tra tại /verify", "Check at /verify")) } }
            }
        }
    }
}
