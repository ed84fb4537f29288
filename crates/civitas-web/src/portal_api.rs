//! The operators' view of the synchronisation with the National Public Service Portal: the
//! backlog, the dead letters and their replay, as API and as a page. Sending is
//! `civitas_exchange::portal`, a job of the runtime; each dossier's own sync state is part of
//! the officer's dossier view.

use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use civitas_identity::Role;
use civitas_services::portal::{self, Message};

use crate::AppState;
use crate::auth::Caller;
use crate::i18n::tr;
use crate::pages::{PageContext, csrf_of, csrf_ok, layout, page};
use crate::problem::Problem;
use crate::ui::{ButtonKind, Tone, banner, button, tag};

pub fn routes() -> axum::Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/portal/status", get(status))
        .route("/api/v1/portal/dead", get(dead))
        .route("/api/v1/portal/dead/{id}/replay", post(replay))
        .route("/officer/portal", get(portal_page))
        .route("/officer/portal/dead/{id}/replay", post(replay_page))
        .into_router()
}

fn operator(caller: &Caller) -> Result<(), Problem> {
    if caller.role() == Role::Operator {
        Ok(())
    } else {
        Err(Problem::forbidden("only operators see and replay the portal's messages"))
    }
}

/// A message without its facts (they hold the applicant's data; the dossier's page shows them).
fn lean(mut m: Message) -> Message {
    m.facts = String::new();
    m
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PortalStatus {
    /// Whether a portal is configured (`portal_url`); without one the messages wait.
    configured: bool,
    /// The portal's base URL.
    url: Option<String>,
    /// Messages not yet accepted (waiting or being retried).
    pending: i64,
    /// Dead letters (refused, or out of attempts): an operator must look.
    dead: i64,
}

#[utoipa::path(get, path = "/api/v1/portal/status", tag = "interconnection",
    responses((status = 200, body = PortalStatus), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn status(State(state): State<AppState>, caller: Caller) -> Result<Json<PortalStatus>, Problem> {
    operator(&caller)?;
    let (pending, dead) = portal::backlog(&state.db).await?;
    let link = state.portal();
    Ok(Json(PortalStatus { configured: link.is_some(), url: link.map(|l| l.url.to_string()), pending, dead }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PortalDeadLetters {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Message>,
}

#[utoipa::path(get, path = "/api/v1/portal/dead", tag = "interconnection",
    responses((status = 200, body = PortalDeadLetters), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn dead(State(state): State<AppState>, caller: Caller) -> Result<Json<PortalDeadLetters>, Problem> {
    operator(&caller)?;
    let items = portal::dead_letters(&state.db, 500).await?.into_iter().map(lean).collect();
    Ok(Json(PortalDeadLetters { items }))
}

fn message_id(id: &str) -> Result<i64, Problem> {
    id.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| Problem::bad_request("invalid-id", format!("{id:?} is not a message id (a positive number)")))
}

#[utoipa::path(post, path = "/api/v1/portal/dead/{id}/replay", tag = "interconnection", params(("id" = String, Path)),
    responses((status = 204), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    operator(&caller)?;
    let id = message_id(&id)?;
    if portal::replay(&state.db, id, crate::now().unix_timestamp()).await? {
        tracing::info!(message = id, operator = %caller.claims.sub, "portal dead letter replayed");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found(format!("no dead letter {id}")))
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PortalQuery {
    lang: Option<String>,
    replayed: Option<String>,
}

async fn portal_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<PortalQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let (csrf, fresh) = csrf_of(&state, &headers);
    let (backlog, dead) = match (portal::backlog(&state.db).await, portal::dead_letters(&state.db, 200).await) {
        (Ok(b), Ok(d)) => (b, d),
        (Err(e), _) | (_, Err(e)) => return crate::problem::internal(&e).into_response(),
    };
    let link = state.portal();
    let title =
        tr(lang, "Đồng bộ với Cổng Dịch vụ công quốc gia", "Synchronisation with the National Public Service Portal");
    let body = html! {
        h1 { (title) }
        @if let Some(id) = &q.replayed {
            (banner(Tone::Success, Some("notice"), None, html! { p { (tr(lang, "Đã gửi lại thông điệp", "Message queued again:")) " " (id) } }))
        }
        p { (tr(lang, "Mỗi thay đổi của hồ sơ được ghi cùng giao dịch vào hàng đợi và gửi lên Cổng theo đúng thứ tự của từng hồ sơ; lỗi tạm thời được gửi lại, thông điệp bị Cổng từ chối cần cán bộ vận hành xem xét.",
                "Every change of a dossier is queued in its own transaction and sent to the portal in each dossier's order; passing failures are retried, messages the portal refuses need an operator.")) }
        dl id="portal-status" {
            dt { (tr(lang, "Địa chỉ Cổng", "Portal")) }
            dd { @match &link { Some(l) => code { (l.url.as_str()) }, None => (tag(Tone::Warning, tr(lang, "Chưa cấu hình (portal_url): thông điệp đang chờ", "Not configured (portal_url): messages wait"))) } }
            dt { (tr(lang, "Đang chờ gửi", "Waiting")) }
            dd id="portal-pending" { (backlog.0) }
            dt { (tr(lang, "Bị từ chối / hết lượt thử", "Dead letters")) }
            dd id="portal-dead" { (backlog.1) }
        }
        h2 { (tr(lang, "Thông điệp lỗi", "Dead letters")) }
        @if dead.is_empty() {
            p { (tr(lang, "Không có thông điệp lỗi.", "No dead letters.")) }
        } @else {
            (crate::ui::Table::simple(
                "portal-dead-letters",
                &[tr(lang, "Số", "No."), tr(lang, "Hồ sơ", "Dossier"), tr(lang, "Dịch vụ", "Service"), tr(lang, "Lượt thử", "Attempts"),
                  tr(lang, "Lỗi", "Error"), tr(lang, "Thao tác", "Action")],
                dead.iter().map(|m| vec![
                    html! { (m.id) },
                    html! { a href={ "/officer/dossiers/" (m.dossier_code) } { (m.dossier_code) } },
                    html! { code { (m.service) } },
                    html! { (m.attempts) },
                    html! { (m.last_error.as_deref().unwrap_or_default()) },
                    html! {
                        form method="post" action={ "/officer/portal/dead/" (m.id) "/replay" } {
                            input type="hidden" name="csrf" value=(csrf);
                            (button(ButtonKind::Secondary, tr(lang, "Gửi lại", "Replay"), None))
                        }
                    },
                ]).collect(),
            ))
        }
    };
    let ctx = PageContext { lang, title, caller: Some(&caller), csrf: Some(&csrf), path: "/officer/portal" };
    page(StatusCode::OK, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), &state)))
}

#[derive(Debug, Default, Deserialize)]
pub struct ReplayForm {
    csrf: Option<String>,
}

async fn replay_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Form(form): Form<ReplayForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return (StatusCode::FORBIDDEN, lang.t("csrf")).into_response();
    }
    let Ok(id) = message_id(&id) else {
        return (StatusCode::NOT_FOUND, tr(lang, "Không có thông điệp này.", "No such message.")).into_response();
    };
    match portal::replay(&state.db, id, crate::now().unix_timestamp()).await {
        Ok(true) => {
            tracing::info!(message = id, operator = %caller.claims.sub, "portal dead letter replayed");
            Redirect::to(&format!("/officer/portal?replayed={id}")).into_response()
        }
        Ok(false) => {
            (StatusCode::NOT_FOUND, tr(lang, "Không có thông điệp lỗi này.", "No such dead letter.")).into_response()
        }
        Err(e) => crate::problem::internal(&e).into_response(),
    }
}
