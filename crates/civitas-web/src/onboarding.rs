//! Remote onboarding over HTTP: the phone's API (a session token in `X-Onboarding-Token`, no
//! account yet) and the registry officers' review queue (API and pages). The rules are
//! `civitas_onboarding`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use civitas_onboarding::{self as onboarding, CardSubmission, Context, NoMatcher, OnboardingError};

use crate::AppState;
use crate::auth::Caller;
use crate::i18n::{Lang, tr};
use crate::pages::{PageContext, csrf_of, csrf_ok, layout, page};
use crate::problem::{Problem, json_rejection};
use crate::ui::{ButtonKind, TextInput, Tone, banner, button, error_summary, summary_list, tag};

pub fn routes() -> axum::Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/onboarding/sessions", post(start))
        .route("/api/v1/onboarding/sessions/{id}", get(status))
        .route("/api/v1/onboarding/sessions/{id}/phone", post(confirm_phone))
        .route("/api/v1/onboarding/sessions/{id}/challenge", post(challenge))
        .route("/api/v1/onboarding/sessions/{id}/card", post(submit_card))
        .route("/api/v1/onboarding/reviews", get(reviews_api))
        .route("/api/v1/onboarding/reviews/{id}", get(review_api))
        .route("/api/v1/onboarding/reviews/{id}/decision", post(decide_api))
        .route("/officer/onboarding", get(queue_page))
        .route("/officer/onboarding/{id}", get(review_page))
        .route("/officer/onboarding/{id}/decision", post(decide_page))
        .into_router()
}

/// The use cases' context of this server.
pub(crate) fn context(state: &AppState) -> Context<'_> {
    ctx(state)
}

fn ctx(state: &AppState) -> Context<'_> {
    Context {
        db: &state.db,
        identity: &state.identity,
        register: &state.register,
        allow: &state.card_policy,
        trust: &state.trust,
        matcher: &NoMatcher,
    }
}

fn problem(e: OnboardingError) -> Problem {
    let detail = e.to_string();
    match e {
        OnboardingError::Invalid(code, _) => Problem::bad_request(code, detail),
        OnboardingError::Throttled(wait) => {
            Problem::new(StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests", detail)
                .retry_after(wait)
        }
        OnboardingError::NotFound => Problem::not_found(detail),
        OnboardingError::Expired => Problem::new(StatusCode::GONE, "session-expired", "Session expired", detail),
        OnboardingError::WrongState(_) => Problem::new(StatusCode::CONFLICT, "wrong-state", "Not possible now", detail),
        OnboardingError::WrongCode(_) => Problem::bad_request("wrong-code", detail),
        OnboardingError::Challenge(code, _) => Problem::new(StatusCode::CONFLICT, code, "No valid challenge", detail),
        OnboardingError::Card { code, .. } => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, &code.replace('_', "-"), "Card refused", detail)
        }
        OnboardingError::Account(code, _) => Problem::new(StatusCode::CONFLICT, code, "Account", detail),
        OnboardingError::Store(s) => Problem::from(s),
    }
}

fn token(headers: &HeaderMap) -> String {
    headers.get("x-onboarding-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    pid: String,
    phone: String,
    /// 1 (at once) or 2 (after an officer's review); default 1.
    level: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StartAnswer {
    session: String,
    /// Sent back in `X-Onboarding-Token` with every later call of this session.
    token: String,
    expires_in: i64,
}

/// Starts remote onboarding: an SMS code goes to the phone. The same answer whether or not the
/// ID number is in the register; throttled per ID number, phone and address (429).
#[utoipa::path(post, path = "/api/v1/onboarding/sessions", tag = "onboarding", request_body = StartRequest,
    responses((status = 201, body = StartAnswer), (status = 400, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    body: Result<Json<StartRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<StartAnswer>), Problem> {
    let Json(req) = body.map_err(json_rejection)?;
    let ip = crate::auth::client_ip(&state, &headers, &ext);
    let s = onboarding::start(&ctx(&state), &req.pid, &req.phone, req.level.unwrap_or(1), &ip, crate::now())
        .await
        .map_err(problem)?;
    Ok((StatusCode::CREATED, Json(StartAnswer { session: s.session, token: s.token, expires_in: s.expires_in })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    code: String,
}

/// The SMS code (five tries; then the session fails).
#[utoipa::path(post, path = "/api/v1/onboarding/sessions/{id}/phone", tag = "onboarding", params(("id" = String, Path),
    ("X-Onboarding-Token" = String, Header)), request_body = CodeRequest,
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 410, body = Problem), (status = 422, body = Problem)))]
pub async fn confirm_phone(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<CodeRequest>, JsonRejection>,
) -> Result<StatusCode, Problem> {
    let Json(req) = body.map_err(json_rejection)?;
    onboarding::confirm_phone(&ctx(&state), &id, &token(&headers), &req.code, crate::now()).await.map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeAnswer {
    /// 8 bytes, hex: send them to the chip (INTERNAL AUTHENTICATE) and its answer back.
    challenge: String,
    expires_in: i64,
}

/// A fresh Active Authentication challenge: single use, bound to this session, two minutes.
#[utoipa::path(post, path = "/api/v1/onboarding/sessions/{id}/challenge", tag = "onboarding", params(("id" = String, Path),
    ("X-Onboarding-Token" = String, Header)),
    responses((status = 200, body = ChallengeAnswer), (status = 404, body = Problem), (status = 409, body = Problem), (status = 410, body = Problem)))]
pub async fn challenge(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ChallengeAnswer>, Problem> {
    let challenge = onboarding::challenge(&ctx(&state), &id, &token(&headers), crate::now()).await.map_err(problem)?;
    Ok(Json(ChallengeAnswer { challenge, expires_in: onboarding::CHALLENGE_SECS }))
}

/// The card's files, the chip's answer to the challenge, a selfie (and a password when the person
/// has no account): level 1 is active at once; level 2 waits for a registry officer. A refused
/// card is a 422 naming the failure (`ds-untrusted`, `dg-hash-mismatch`, `aa-invalid`,
/// `aa-missing`, `register-mismatch`, ...); three refusals end the session.
#[utoipa::path(post, path = "/api/v1/onboarding/sessions/{id}/card", tag = "onboarding", params(("id" = String, Path),
    ("X-Onboarding-Token" = String, Header)), request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 410, body = Problem), (status = 422, body = Problem)))]
pub async fn submit_card(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<CardSubmission>, JsonRejection>,
) -> Result<Json<onboarding::Submitted>, Problem> {
    let Json(sub) = body.map_err(json_rejection)?;
    let done =
        onboarding::submit_card(&ctx(&state), &id, &token(&headers), &sub, crate::now()).await.map_err(problem)?;
    Ok(Json(done))
}

/// The session's state; an approved level-2 request gives its second factor here, once.
#[utoipa::path(get, path = "/api/v1/onboarding/sessions/{id}", tag = "onboarding", params(("id" = String, Path),
    ("X-Onboarding-Token" = String, Header)),
    responses((status = 200, body = Object), (status = 404, body = Problem), (status = 410, body = Problem)))]
pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<onboarding::Status>, Problem> {
    Ok(Json(onboarding::status(&ctx(&state), &id, &token(&headers), crate::now()).await.map_err(problem)?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<onboarding::Review>,
}

/// The level-2 requests waiting in the caller's communes (registry officers).
#[utoipa::path(get, path = "/api/v1/onboarding/reviews", tag = "onboarding",
    responses((status = 200, body = ReviewList), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn reviews_api(State(state): State<AppState>, caller: Caller) -> Result<Json<ReviewList>, Problem> {
    let items = onboarding::reviews(&ctx(&state), &caller.communes()).await.map_err(problem)?;
    Ok(Json(ReviewList { items }))
}

async fn load_review(state: &AppState, caller: &Caller, id: &str) -> Result<onboarding::Review, Problem> {
    let review = onboarding::review(&ctx(state), id, &caller.communes())
        .await
        .map_err(problem)?
        .ok_or_else(|| Problem::not_found(format!("no request {id} in your communes")))?;
    // The selfie, the chip's portrait and the register's data of a person: a logged read.
    crate::api::log_reads(state, caller, &[review.pid.as_str()], &["onboarding-photos", "record"]).await?;
    Ok(review)
}

/// One waiting request with its evidence and both images (a logged read).
#[utoipa::path(get, path = "/api/v1/onboarding/reviews/{id}", tag = "onboarding", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn review_api(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<onboarding::Review>, Problem> {
    Ok(Json(load_review(&state, &caller, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// approve or refuse.
    decision: String,
    /// Required when refusing.
    reason: Option<String>,
}

fn approve_of(decision: &str) -> Result<bool, Problem> {
    match decision.trim() {
        "approve" => Ok(true),
        "refuse" => Ok(false),
        other => Err(Problem::bad_request("invalid-decision", format!("{other:?}: the decision is approve or refuse"))),
    }
}

/// An officer's decision (registry officers of the holder's commune).
#[utoipa::path(post, path = "/api/v1/onboarding/reviews/{id}/decision", tag = "onboarding", params(("id" = String, Path)),
    request_body = Decision,
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn decide_api(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<Decision>, JsonRejection>,
) -> Result<Json<onboarding::Review>, Problem> {
    let Json(d) = body.map_err(json_rejection)?;
    let approve = approve_of(&d.decision)?;
    let officer = format!("officer:{}", caller.claims.sub);
    let done = onboarding::decide(
        &ctx(&state),
        &id,
        &officer,
        &caller.communes(),
        approve,
        d.reason.as_deref().unwrap_or_default(),
        crate::now(),
    )
    .await
    .map_err(problem)?;
    Ok(Json(done))
}

// ----- pages -----

fn internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "an onboarding page failed");
    Problem::internal().into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    lang: Option<String>,
    decided: Option<String>,
}

async fn queue_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<QueueQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let items = match onboarding::reviews(&ctx(&state), &caller.communes()).await {
        Ok(i) => i,
        Err(e) => return internal(&e),
    };
    let title = tr(lang, "Xét duyệt định danh mức 2 từ xa", "Remote level-2 reviews");
    let body = html! {
        h1 { (title) }
        @if let Some(id) = &q.decided {
            (banner(Tone::Success, Some("notice"), None, html! { p { (tr(lang, "Đã ghi quyết định cho yêu cầu", "Decision recorded for request")) " " code { (id) } } }))
        }
        p { (tr(lang, "Công dân đã đọc chip thẻ căn cước bằng điện thoại: thẻ đã được xác thực (chữ ký của cơ quan cấp, xác thực chủ động) và khớp với Cơ sở dữ liệu quốc gia về dân cư. Đối chiếu ảnh chụp khuôn mặt với ảnh trong chip rồi phê duyệt hoặc từ chối.",
                "The citizen read their chip card with a phone: the card is verified (the issuer's signature, active authentication) and agrees with the register. Compare the selfie with the chip's portrait, then approve or refuse.")) }
        @if items.is_empty() {
            p id="empty" { (tr(lang, "Không có yêu cầu nào đang chờ.", "No request is waiting.")) }
        } @else {
            (crate::ui::Table::simple(
                "reviews",
                &[tr(lang, "Yêu cầu", "Request"), tr(lang, "Số định danh", "ID number"), tr(lang, "Xã/phường", "Commune"),
                  tr(lang, "Thẻ được xác thực bởi", "Card verified by"), tr(lang, "Chờ từ", "Waiting since")],
                items.iter().map(|r| vec![
                    html! { a href={ "/officer/onboarding/" (r.id) } { code { (r.id) } } },
                    html! { (r.pid) },
                    html! { (r.commune.as_deref().unwrap_or("—")) },
                    html! { (r.csca.as_deref().unwrap_or("—")) },
                    html! { (lang.day(&r.updated_at)) },
                ]).collect(),
            ))
        }
    };
    let ctx = PageContext { lang, title, caller: Some(&caller), csrf: None, path: "/officer/onboarding" };
    page(StatusCode::OK, layout(&ctx, body), None, None)
}

#[derive(Debug, Default, Deserialize)]
pub struct ReviewQuery {
    lang: Option<String>,
}

async fn review_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ReviewQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    render_review(&state, &headers, lang, &caller, &id, &[]).await
}

async fn render_review(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    id: &str,
    errors: &[(String, String)],
) -> Response {
    let review = match load_review(state, caller, id).await {
        Ok(r) => r,
        Err(p) if p.status == 404 => {
            return crate::pages::message_page(
                state,
                headers,
                lang,
                StatusCode::NOT_FOUND,
                "not-found",
                lang.t("not_found"),
            );
        }
        Err(p) => return p.into_response(),
    };
    let person = match review.pid.parse::<civitas_core::Pid>() {
        Ok(pid) => match state.register.get(&pid).await {
            Ok(p) => p,
            Err(e) => return internal(&e),
        },
        Err(e) => return internal(&e),
    };
    let (csrf, fresh) = csrf_of(state, headers);
    let title = tr(lang, "Xét duyệt yêu cầu định danh mức 2", "Level-2 request review");
    let evidence = review.evidence.clone().unwrap_or_default();
    let m = &evidence["register_match"];
    let yes_no = |v: &serde_json::Value| match v.as_bool() {
        Some(true) => tag(Tone::Success, tr(lang, "Khớp", "Agrees")),
        Some(false) => tag(Tone::Warning, tr(lang, "Không khớp", "Differs")),
        None => tag(Tone::Neutral, "—"),
    };
    let face = match evidence["face"]["score"].as_f64() {
        Some(s) => format!("{} {:.2}", evidence["face"]["matcher"].as_str().unwrap_or_default(), s),
        None => tr(
            lang,
            "Không có so khớp tự động: cán bộ đối chiếu bằng mắt",
            "No automatic comparison: the officer compares",
        )
        .to_owned(),
    };
    let waiting = review.state == "review";
    let body = html! {
        h1 { (title) " " code { (review.id) } }
        (error_summary(lang, errors))
        div class="face-compare" {
            figure {
                @if let Some(src) = &review.selfie { img id="selfie" src=(src) alt=(tr(lang, "Ảnh chụp khuôn mặt", "Selfie")) width="240"; }
                @else { p { (tr(lang, "Ảnh đã được xoá sau khi quyết định.", "Deleted with the decision.")) } }
                figcaption { (tr(lang, "Ảnh chụp khuôn mặt (điện thoại)", "Selfie (phone)")) }
            }
            figure {
                @if let Some(src) = &review.portrait { img id="portrait" src=(src) alt=(tr(lang, "Ảnh trong chip", "Chip portrait")) width="240"; }
                @else { p { (tr(lang, "Không có ảnh chip.", "No chip portrait.")) } }
                figcaption { (tr(lang, "Ảnh trong chip thẻ căn cước (DG2)", "Portrait in the card's chip (DG2)")) }
            }
        }
        h2 { (tr(lang, "Cơ sở dữ liệu quốc gia về dân cư", "The register")) }
        @if let Some(p) = &person {
            (summary_list(Some("register"), &[
                (tr(lang, "Họ, chữ đệm và tên", "Full name"), html! { (p.full_name) " " (yes_no(&m["name"])) }),
                (tr(lang, "Số định danh", "ID number"), html! { (p.pid.as_str()) }),
                (tr(lang, "Ngày sinh", "Birth date"), html! { (p.birth_date.to_string()) " " (yes_no(&m["birth_date"])) }),
                (tr(lang, "Giới tính", "Sex"), html! { (p.sex.label(lang.code())) " " (yes_no(&m["sex"])) }),
                (tr(lang, "Thẻ trong CSDL", "Card in the register"), html! { (m["card_state"].as_str().unwrap_or("—")) " " (yes_no(&m["card_valid"])) }),
            ]))
        }
        h2 { (tr(lang, "Kết quả xác thực thẻ", "Card verification")) }
        (summary_list(Some("evidence"), &[
            (tr(lang, "CSCA", "CSCA"), html! { (review.csca.as_deref().unwrap_or("—")) }),
            (tr(lang, "Xác thực chủ động (AA)", "Active Authentication"), html! { (review.active_authentication.as_deref().unwrap_or("—")) }),
            (tr(lang, "So khớp khuôn mặt", "Face comparison"), html! { (face) }),
        ]))
        @if waiting {
            form method="post" action={ "/officer/onboarding/" (review.id) "/decision" } {
                input type="hidden" name="csrf" value=(csrf);
                (TextInput::new("reason", tr(lang, "Lý do (bắt buộc khi từ chối)", "Reason (required when refusing)"), "")
                    .error(errors.iter().find(|(k, _)| k == "reason").map(|(_, m)| m.as_str())).render())
                (button(ButtonKind::Primary, tr(lang, "Phê duyệt mức 2", "Approve level 2"), Some(("decision", "approve"))))
                " "
                (button(ButtonKind::Warning, tr(lang, "Từ chối", "Refuse"), Some(("decision", "refuse"))))
            }
        } @else {
            p id="decided" { (tr(lang, "Đã quyết định:", "Decided:")) " " (review.state) }
        }
    };
    let ctx = PageContext { lang, title, caller: Some(caller), csrf: Some(&csrf), path: "/officer/onboarding" };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    csrf: Option<String>,
    decision: Option<String>,
    reason: Option<String>,
}

async fn decide_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return (StatusCode::FORBIDDEN, lang.t("csrf")).into_response();
    }
    let approve = form.decision.as_deref() == Some("approve");
    let officer = format!("officer:{}", caller.claims.sub);
    let reason = form.reason.as_deref().unwrap_or_default();
    match onboarding::decide(&ctx(&state), &id, &officer, &caller.communes(), approve, reason, crate::now()).await {
        Ok(_) => Redirect::to(&format!("/officer/onboarding?decided={id}")).into_response(),
        Err(OnboardingError::Store(e)) => internal(&e),
        Err(OnboardingError::Invalid(_, _)) => {
            let message = tr(
                lang,
                "Nhập lý do từ chối (tối đa 500 ký tự).",
                "Give the reason for refusing (at most 500 characters).",
            );
            render_review(&state, &headers, lang, &caller, &id, &[("reason".to_owned(), message.to_owned())]).await
        }
        Err(OnboardingError::NotFound) => {
            crate::pages::message_page(&state, &headers, lang, StatusCode::NOT_FOUND, "not-found", lang.t("not_found"))
        }
        Err(e) => render_review(&state, &headers, lang, &caller, &id, &[("reason".to_owned(), e.to_string())]).await,
    }
}
