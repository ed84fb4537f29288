//! Pages of the governed exchange and of audit: the agency registry and its grants (operators
//! manage them, auditors read them), the auditor's search of the log's private index, and the
//! alert view of unusual reading.

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use civitas_exchange::grants::{self, GrantError, NewGrant};
use civitas_identity::Role;

use crate::AppState;
use crate::auth::Caller;
use crate::i18n::{Lang, tr};
use crate::pages::{PageContext, csrf_of, csrf_ok, layout, page};
use crate::ui::{ButtonKind, TextInput, Tone, banner, button, error_summary, summary_list, tag};

pub fn routes() -> axum::Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/officer/exchange", get(exchange_page))
        .route("/officer/exchange/grants", post(create_grant))
        .route("/officer/exchange/grants/{id}/revoke", post(revoke_grant))
        .route("/officer/audit", get(audit_page))
        .route("/officer/audit/alerts", get(alerts_page))
        .into_router()
}

fn internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "an exchange page failed");
    crate::problem::Problem::internal().into_response()
}

fn service_name(lang: Lang, service: &str) -> &'static str {
    match service {
        "register" => tr(lang, "Tra cứu Cơ sở dữ liệu quốc gia về dân cư", "Register reads"),
        "verify" => tr(lang, "Xác thực thông tin (khớp / không khớp)", "Verify attributes (match / no match)"),
        "attributes" => tr(lang, "Cung cấp thông tin được phép", "Granted attributes"),
        "events" => tr(lang, "Thông báo sự kiện hộ tịch, cư trú", "Life-event notifications"),
        _ => "",
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ExchangeQuery {
    lang: Option<String>,
    created: Option<String>,
    revoked: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GrantForm {
    csrf: Option<String>,
    agency_id: Option<String>,
    system_id: Option<String>,
    service: Option<String>,
    purpose: Option<String>,
    legal_basis: Option<String>,
    fields: Option<String>,
    events: Option<String>,
    units: Option<String>,
    valid_until: Option<String>,
}

fn split(v: &Option<String>) -> Vec<String> {
    v.as_deref().unwrap_or_default().split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

async fn exchange_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<ExchangeQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let notice = match (&q.created, &q.revoked) {
        (Some(id), _) => Some(format!("{} {id}", tr(lang, "Đã cấp quyền", "Grant made:"))),
        (_, Some(id)) => Some(format!("{} {id}", tr(lang, "Đã thu hồi quyền", "Grant revoked:"))),
        _ => None,
    };
    render_exchange(&state, &headers, lang, &caller, &GrantForm::default(), notice, &[]).await
}

async fn render_exchange(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    form: &GrantForm,
    notice: Option<String>,
    errors: &[(String, String)],
) -> Response {
    let (csrf, fresh) = csrf_of(state, headers);
    let (agencies, systems, all) = match (
        civitas_services::followups::agencies(&state.db).await,
        grants::systems(&state.db).await,
        grants::all(&state.db, None).await,
    ) {
        (Ok(a), Ok(s), Ok(g)) => (a, s, g),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return internal(&e),
    };
    let operator = caller.role() == Role::Operator;
    let today = (crate::now() + time::Duration::hours(7)).date().to_string();
    let error_of = |f: &str| errors.iter().find(|(k, _)| *k == f).map(|(_, m)| m.as_str());
    let title = tr(lang, "Chia sẻ dữ liệu giữa các cơ quan", "Data exchange between agencies");
    let fields_hint = format!(
        "{}; {}",
        grants::ATTRIBUTES.join(", "),
        tr(
            lang,
            "tra cứu: record, history, household, residence-confirmation, search-result hoặc *",
            "register reads: record, history, household, residence-confirmation, search-result or *"
        )
    );
    let body = html! {
        h1 { (title) }
        (error_summary(lang, errors))
        @if let Some(n) = &notice { (banner(Tone::Success, Some("notice"), None, html! { p { (n) } })) }
        p { (tr(lang, "Mỗi cơ quan chỉ được dùng dữ liệu dân cư theo quyền được cấp: dịch vụ, mục đích, căn cứ pháp lý, trường thông tin, địa bàn và thời hạn. Mỗi lần cấp, thu hồi quyền và mỗi lượt truy cập đều được ghi vào sổ nhật ký minh bạch.",
                "Each agency uses population data only under a grant: service, purpose, legal basis, fields, units and term. Every grant, revocation and access is an entry of the transparency log.")) }
        h2 { (tr(lang, "Cơ quan và hệ thống", "Agencies and systems")) }
        (crate::ui::Table::simple(
            "agencies",
            &[tr(lang, "Mã", "Id"), tr(lang, "Tên cơ quan", "Agency"), tr(lang, "Địa chỉ nhận thông báo", "Webhook endpoint"), tr(lang, "Hệ thống", "Systems")],
            agencies.iter().map(|a| {
                let own: Vec<&str> = systems.iter().filter(|(_, ag)| *ag == a.id).map(|(c, _)| c.as_str()).collect();
                vec![html! { code { (a.id) } }, html! { (a.name) }, html! { (a.url) }, html! { (own.join(", ")) }]
            }).collect(),
        ))
        h2 { (tr(lang, "Quyền đã cấp", "Grants")) }
        @if all.is_empty() {
            p { (tr(lang, "Chưa có quyền nào được cấp.", "No grant has been made yet.")) }
        } @else {
            (crate::ui::Table::simple(
                "grants",
                &[tr(lang, "Quyền", "Grant"), tr(lang, "Cơ quan / hệ thống", "Agency / system"), tr(lang, "Dịch vụ", "Service"),
                  tr(lang, "Mục đích và căn cứ", "Purpose and legal basis"), tr(lang, "Trường / địa bàn", "Fields / units"),
                  tr(lang, "Hiệu lực", "In force"), tr(lang, "Thao tác", "Action")],
                all.iter().map(|g| {
                    let state_tag = if g.revoked_at.is_some() {
                        tag(Tone::Neutral, tr(lang, "Đã thu hồi", "Revoked"))
                    } else if g.in_force(&today) {
                        tag(Tone::Success, tr(lang, "Còn hiệu lực", "In force"))
                    } else {
                        tag(Tone::Warning, tr(lang, "Hết hạn", "Expired"))
                    };
                    let revoke_id = format!("reason-{}", g.id);
                    vec![
                        html! { code { (g.id) } },
                        html! { (g.agency_id) br; code { (g.system_id) } },
                        html! { (service_name(lang, &g.service)) @if !g.events.is_empty() { br; (g.events) } },
                        html! { (g.purpose) br; small { (g.legal_basis) } },
                        html! { (g.fields) br; (g.units) },
                        html! { (state_tag) br; (lang.day(&g.valid_until)) },
                        html! {
                            @if operator && g.revoked_at.is_none() {
                                form method="post" action={ "/officer/exchange/grants/" (g.id) "/revoke" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    (TextInput::new(&revoke_id, tr(lang, "Lý do thu hồi", "Reason for revoking"), "").name("reason").error(error_of(&revoke_id)).render())
                                    (button(ButtonKind::Warning, tr(lang, "Thu hồi", "Revoke"), None))
                                }
                            }
                        },
                    ]
                }).collect(),
            ))
        }
        @if operator {
            h2 id="new-grant" { (tr(lang, "Cấp quyền mới", "New grant")) }
            form method="post" action="/officer/exchange/grants" {
                input type="hidden" name="csrf" value=(csrf);
                (crate::ui::select("agency_id", tr(lang, "Cơ quan", "Agency"),
                    &agencies.iter().map(|a| (a.id.clone(), format!("{} ({})", a.name, a.id))).collect::<Vec<_>>(),
                    form.agency_id.as_deref()))
                (TextInput::new("system_id", tr(lang, "Hệ thống (mã client OpenID, vai trò agency-system)", "System (OpenID client id, role agency-system)"), form.system_id.as_deref().unwrap_or_default()).error(error_of("system_id")).render())
                (crate::ui::select("service", tr(lang, "Dịch vụ", "Service"),
                    &grants::SERVICES.iter().map(|s| ((*s).to_owned(), service_name(lang, s).to_owned())).collect::<Vec<_>>(),
                    form.service.as_deref()))
                (TextInput::new("purpose", tr(lang, "Mục đích (đúng như hệ thống ghi ở X-Purpose)", "Purpose (exactly as the system states it in X-Purpose)"), form.purpose.as_deref().unwrap_or_default()).error(error_of("purpose")).render())
                (TextInput::new("legal_basis", tr(lang, "Căn cứ pháp lý", "Legal basis"), form.legal_basis.as_deref().unwrap_or_default()).error(error_of("legal_basis")).render())
                (TextInput::new("fields", tr(lang, "Trường thông tin (cách nhau bởi dấu phẩy)", "Fields (comma-separated)"), form.fields.as_deref().unwrap_or_default())
                    .hint(Some(&fields_hint)).error(error_of("fields")).render())
                (TextInput::new("events", tr(lang, "Sự kiện (chỉ với dịch vụ thông báo): birth, death, marriage, residence", "Life events (events service only): birth, death, marriage, residence"), form.events.as_deref().unwrap_or_default()).error(error_of("events")).render())
                (TextInput::new("units", tr(lang, "Địa bàn (mã tỉnh hoặc xã, cách nhau bởi dấu phẩy)", "Units (province or commune codes, comma-separated)"), form.units.as_deref().unwrap_or_default()).error(error_of("units")).width("w10").render())
                (TextInput::new("valid_until", tr(lang, "Hiệu lực đến ngày", "In force until"), form.valid_until.as_deref().unwrap_or_default()).kind("date").error(error_of("valid_until")).width("w10").render())
                (button(ButtonKind::Primary, tr(lang, "Cấp quyền", "Make the grant"), None))
            }
        }
    };
    let ctx = PageContext { lang, title, caller: Some(caller), csrf: Some(&csrf), path: "/officer/exchange" };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

fn form_error(lang: Lang, e: &GrantError) -> (&'static str, String) {
    match e {
        GrantError::Invalid(field, detail) => {
            (field, format!("{}: {detail}", tr(lang, "Không hợp lệ", "Not acceptable")))
        }
        GrantError::UnknownAgency(_) => ("agency_id", e.to_string()),
        GrantError::UnknownSystem(_) | GrantError::OtherAgency { .. } => ("system_id", e.to_string()),
        other => ("system_id", other.to_string()),
    }
}

async fn create_grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Form(form): Form<GrantForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return (StatusCode::FORBIDDEN, lang.t("csrf")).into_response();
    }
    let new = NewGrant {
        agency_id: form.agency_id.clone().unwrap_or_default(),
        system_id: form.system_id.clone().unwrap_or_default(),
        service: form.service.clone().unwrap_or_default(),
        purpose: form.purpose.clone().unwrap_or_default(),
        legal_basis: form.legal_basis.clone().unwrap_or_default(),
        fields: split(&form.fields),
        events: split(&form.events),
        units: split(&form.units),
        valid_until: form.valid_until.clone().unwrap_or_default(),
    };
    match grants::create(&state.db, &new, &format!("operator:{}", caller.claims.sub), crate::now()).await {
        Ok(g) => Redirect::to(&format!("/officer/exchange?created={}", g.id)).into_response(),
        Err(GrantError::Store(e)) => internal(&e),
        Err(e) => {
            let (field, message) = form_error(lang, &e);
            render_exchange(&state, &headers, lang, &caller, &form, None, &[(field.to_owned(), message)]).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    csrf: Option<String>,
    reason: Option<String>,
}

async fn revoke_grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return (StatusCode::FORBIDDEN, lang.t("csrf")).into_response();
    }
    let by = format!("operator:{}", caller.claims.sub);
    match grants::revoke(&state.db, &id, &by, form.reason.as_deref().unwrap_or_default(), crate::now()).await {
        Ok(g) => Redirect::to(&format!("/officer/exchange?revoked={}", g.id)).into_response(),
        Err(GrantError::Store(e)) => internal(&e),
        Err(e) => {
            let field = format!("reason-{id}");
            let message = match &e {
                GrantError::Invalid(_, _) => {
                    tr(lang, "Nhập lý do thu hồi.", "Give the reason for revoking.").to_owned()
                }
                other => other.to_string(),
            };
            render_exchange(&state, &headers, lang, &caller, &GrantForm::default(), None, &[(field, message)]).await
        }
    }
}

// ----- audit -----

async fn audit_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(raw): Query<HashMap<String, String>>,
) -> Response {
    let lang = crate::pages::lang(&headers, raw.get("lang").map(String::as_str));
    let get = |k: &str| raw.get(k).cloned();
    let q = crate::exchange::AuditQuery {
        actor: get("actor"),
        official: get("official"),
        purpose: get("purpose"),
        from: get("from"),
        to: get("to"),
        refused: get("refused"),
        before: raw.get("before").and_then(|b| b.parse().ok()),
        limit: Some(50),
    };
    let title = tr(lang, "Kiểm tra nhật ký truy cập", "Access log audit");
    let (filter, errors) = match q.filter() {
        Ok(f) => (Some(f), Vec::new()),
        Err((name, detail)) => {
            (None, vec![(name, format!("{}: {detail}", tr(lang, "Ngày không hợp lệ", "Not a date")))])
        }
    };
    let searched = ["actor", "official", "purpose", "from", "to", "refused"]
        .iter()
        .any(|k| raw.get(*k).is_some_and(|v| !v.is_empty()));
    let rows = match &filter {
        Some(f) if searched => match civitas_store::access_log::search(&state.db, f, q.before, 50).await {
            Ok(r) => r,
            Err(e) => return internal(&e),
        },
        _ => Vec::new(),
    };
    let val = |k: &str| raw.get(k).map(String::as_str).unwrap_or_default();
    let error_of = |f: &str| errors.iter().find(|(k, _)| *k == f).map(|(_, m)| m.as_str());
    let next = (rows.len() == 50).then(|| rows.last().map(|r| r.id)).flatten();
    let mut next_query: Vec<(String, String)> =
        raw.iter().filter(|(k, _)| k.as_str() != "before").map(|(k, v)| (k.clone(), v.clone())).collect();
    next_query.sort();
    let body = html! {
        h1 { (title) }
        (audit_nav(lang))
        (error_summary(lang, &errors))
        form method="get" action="/officer/audit" role="search" {
            (TextInput::new("actor", tr(lang, "Người hoặc hệ thống truy cập", "Reader (officer or agency system)"), val("actor")).render())
            (TextInput::new("official", tr(lang, "Cán bộ của cơ quan (X-Acting-Official)", "Agency official (X-Acting-Official)"), val("official")).render())
            (TextInput::new("purpose", tr(lang, "Mục đích", "Purpose"), val("purpose")).render())
            (TextInput::new("from", tr(lang, "Từ ngày", "From"), val("from")).kind("date").width("w10").error(error_of("from")).render())
            (TextInput::new("to", tr(lang, "Đến ngày", "To"), val("to")).kind("date").width("w10").error(error_of("to")).render())
            div class="field" {
                label for="refused" {
                    input type="checkbox" id="refused" name="refused" value="1" checked[val("refused") == "1"];
                    " " (tr(lang, "Chỉ các lượt bị từ chối", "Refused calls only"))
                }
            }
            (button(ButtonKind::Primary, tr(lang, "Tìm", "Search"), None))
        }
        @if searched && errors.is_empty() {
            @if rows.is_empty() {
                p { (tr(lang, "Không có lượt truy cập nào khớp.", "No access matches.")) }
            } @else {
                (crate::ui::Table::simple(
                    "access",
                    &[tr(lang, "Thời gian", "Time"), tr(lang, "Người truy cập", "Reader"), tr(lang, "Mục đích và căn cứ", "Purpose and legal basis"),
                      tr(lang, "Công dân", "Person"), tr(lang, "Thông tin", "Fields"), tr(lang, "Cách thức / hồ sơ", "How / case"), tr(lang, "Kết quả", "Outcome")],
                    rows.iter().map(|r| vec![
                        html! { (lang.time(&r.at)) br; small { "#" (r.log_index.map(|i| i.to_string()).unwrap_or_else(|| "…".into())) } },
                        html! { code { (r.actor) } " (" (r.role) ")" @if let Some(o) = &r.official { br; (o) } },
                        html! { (r.purpose.clone().unwrap_or_default()) @if let Some(l) = &r.legal_basis { br; small { (l) } } },
                        html! { (r.subject_pid) },
                        html! { (r.fields) },
                        html! { (r.how.clone().unwrap_or_default()) @if let Some(c) = &r.case_id { br; (c) } },
                        html! { @match &r.outcome {
                            None => (tag(Tone::Success, tr(lang, "Đã đọc", "Read"))),
                            Some(code) => (tag(Tone::Danger, &format!("{} ({code})", tr(lang, "Từ chối", "Refused")))),
                        } },
                    ]).collect(),
                ))
                @if let Some(n) = next {
                    p { a href={ "/officer/audit?" (next_query.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&")) "&before=" (n) } {
                        (tr(lang, "Các lượt cũ hơn", "Older records"))
                    } }
                }
            }
        }
    };
    let (csrf, fresh) = csrf_of(&state, &headers);
    let ctx = PageContext { lang, title, caller: Some(&caller), csrf: Some(&csrf), path: "/officer/audit" };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), &state)))
}

/// The audit pages' own navigation.
fn audit_nav(lang: Lang) -> maud::Markup {
    crate::ui::sub_nav(
        tr(lang, "Kiểm tra", "Audit"),
        &[
            ("/officer/audit", tr(lang, "Tìm kiếm", "Search")),
            ("/officer/audit/alerts", tr(lang, "Truy cập bất thường", "Unusual reading")),
        ],
    )
}

/// `v` percent-encoded for a URL's query or path.
pub(crate) fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct AlertQuery {
    lang: Option<String>,
    days: Option<String>,
}

async fn alerts_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<AlertQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let title = tr(lang, "Truy cập bất thường", "Unusual reading");
    let days = q.days.as_deref().and_then(|d| d.parse::<i64>().ok()).filter(|d| (1..=366).contains(d)).unwrap_or(30);
    let from = civitas_store::timestamp(crate::now() - time::Duration::days(days));
    let volumes = match civitas_store::access_log::volumes(&state.db, &from, 500).await {
        Ok(v) => v,
        Err(e) => return internal(&e),
    };
    let flags = civitas_store::access_log::unusual(&volumes);
    let flagged = flags.iter().filter(|f| f.is_some()).count();
    let body = html! {
        h1 { (title) }
        (audit_nav(lang))
        p { (tr(lang, "Trong", "In the last")) " " (days) " " (tr(lang, "ngày qua, người đọc dữ liệu của ít nhất", "days, a reader who read the data of at least"))
            " " (civitas_store::access_log::UNUSUAL_MIN_PEOPLE) " " (tr(lang, "người và hơn", "people and more than"))
            " " (civitas_store::access_log::UNUSUAL_FACTOR) " " (tr(lang, "lần mức trung vị của những người cùng vai trò được đánh dấu.", "times the median of the readers of the same role is flagged.")) }
        @if flagged > 0 {
            (banner(Tone::Warning, Some("alerts"), None, html! { p { (flagged) " " (tr(lang, "người đọc cần được xem xét.", "readers to look into.")) } }))
        }
        (summary_list(None, &[(tr(lang, "Số người đọc", "Readers"), html! { (volumes.len()) })]))
        (crate::ui::Table::simple(
            "volumes",
            &[tr(lang, "Người đọc", "Reader"), tr(lang, "Vai trò", "Role"), tr(lang, "Số công dân", "People"),
              tr(lang, "Lượt đọc", "Reads"), tr(lang, "Bị từ chối", "Refused"), tr(lang, "Đánh giá", "Assessment")],
            volumes.iter().zip(&flags).map(|(v, f)| vec![
                html! { code { (v.actor) } @if !v.official.is_empty() { br; (v.official) } },
                html! { (v.role) },
                html! { (v.people) },
                html! { (v.reads) },
                html! { (v.refused) },
                html! { @match f {
                    Some(median) => (tag(Tone::Danger, &format!("{} ({} {median})", tr(lang, "Bất thường", "Unusual"), tr(lang, "trung vị", "median")))),
                    None => (tag(Tone::Neutral, tr(lang, "Bình thường", "Usual"))),
                } },
            ]).collect(),
        ))
    };
    let (csrf, fresh) = csrf_of(&state, &headers);
    let ctx = PageContext { lang, title, caller: Some(&caller), csrf: Some(&csrf), path: "/officer/audit/alerts" };
    page(StatusCode::OK, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), &state)))
}
