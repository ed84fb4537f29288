//! The card pages: Project 06's card counters of the caller's units, and the counter's card desk
//! (registry officers): the cards on their way in their communes, moved on, and handed over
//! against the citizen's signature of receipt (the holder writes their full name; it must be
//! the register's). The rules are `civitas_services::cards`.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use civitas_identity::Role;
use civitas_services::cards::{self, CardError, CardState};

use crate::AppState;
use crate::auth::Caller;
use crate::i18n::{Lang, tr};
use crate::pages::{PageContext, csrf_of, csrf_ok, layout, page};
use crate::ui::{ButtonKind, TextInput, Tone, banner, button, error_summary, summary_list, tag};

pub fn routes() -> axum::Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/officer/cards", get(cards_page))
        .route("/officer/cards/{id}/advance", post(advance))
        .route("/officer/cards/{id}/handover", post(handover))
        .into_router()
}

/// A card state in words.
pub(crate) fn state_text(lang: Lang, state: &str) -> &'static str {
    match state {
        "collected" => tr(lang, "Đã thu nhận thông tin", "Data collected"),
        "produced" => tr(lang, "Đã sản xuất", "Produced"),
        "at-commune" => tr(lang, "Đã chuyển về xã/phường, chờ nhận", "At the commune, to be collected"),
        "returned" => tr(lang, "Đã trả cho công dân", "Handed over"),
        "lost" => tr(lang, "Đã báo mất", "Reported lost"),
        "revoked" => tr(lang, "Đã bị thu hồi", "Revoked"),
        "expired" => tr(lang, "Hết hạn", "Expired"),
        "replaced" => tr(lang, "Đã được thay bằng thẻ mới", "Replaced"),
        _ => tr(lang, "Không rõ", "Unknown"),
    }
}

/// A card state as a tag coloured by meaning.
pub(crate) fn state_tag(lang: Lang, state: &str) -> Markup {
    let tone = match state {
        "returned" => Tone::Success,
        "lost" | "revoked" | "expired" => Tone::Warning,
        "replaced" => Tone::Neutral,
        _ => Tone::Info,
    };
    tag(tone, state_text(lang, state))
}

fn internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a card page failed");
    crate::problem::Problem::internal().into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct CardsQuery {
    lang: Option<String>,
    done: Option<String>,
}

async fn cards_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<CardsQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let notice = q.done.as_deref().map(|id| format!("{} {id}", tr(lang, "Đã cập nhật thẻ", "Card updated:")));
    render(&state, &headers, lang, &caller, notice, &[]).await
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    notice: Option<String>,
    errors: &[(String, String)],
) -> Response {
    let communes = caller.communes();
    let counters = match cards::counters(&state.db, &communes).await {
        Ok(c) => c,
        Err(e) => return internal(&e),
    };
    let by_commune = match cards::counters_by_commune(&state.db, &communes).await {
        Ok(c) => c,
        Err(e) => return internal(&e),
    };
    let units = civitas_core::AdminUnits::get();
    let desk = caller.role() == Role::RegistryOfficer;
    let waiting = if desk {
        match cards::waiting(&state.db, &communes, 100).await {
            Ok(w) => w,
            Err(e) => return internal(&e),
        }
    } else {
        Vec::new()
    };
    // The desk shows who is waiting for a card: a logged read of those people's cards.
    let pids: Vec<&str> = waiting.iter().map(|c| c.pid.as_str()).collect();
    if !pids.is_empty()
        && let Err(p) = crate::api::log_reads(state, caller, &pids, &["cards"]).await
    {
        return p.into_response();
    }
    let (csrf, fresh) = csrf_of(state, headers);
    let title = tr(lang, "Thẻ căn cước", "Identity cards");
    let error_of = |f: &str| errors.iter().find(|(k, _)| k == f).map(|(_, m)| m.as_str());
    let body = html! {
        h1 { (title) }
        (error_summary(lang, errors))
        @if let Some(n) = &notice { (banner(Tone::Success, Some("notice"), None, html! { p { (n) } })) }
        h2 { (tr(lang, "Tiến độ Đề án 06 trên địa bàn", "Project 06 progress in your units")) " " small { (caller.unit_label()) } }
        (summary_list(Some("counters"), &[
            (tr(lang, "Đã thu nhận hồ sơ cấp thẻ", "Card data collected"), html! { span id="count-collected" { (counters.data_collected) } }),
            (tr(lang, "Đã sản xuất thẻ", "Cards produced"), html! { span id="count-produced" { (counters.produced) } }),
            (tr(lang, "Đã trả thẻ cho công dân", "Cards handed over"), html! { span id="count-returned" { (counters.returned) } }),
        ]))
        @if by_commune.len() > 1 {
            (crate::ui::Table::simple(
                "by-commune",
                &[tr(lang, "Xã/phường", "Commune"), tr(lang, "Đã thu nhận", "Data collected"), tr(lang, "Đã sản xuất", "Produced"), tr(lang, "Đã trả", "Handed over")],
                by_commune.iter().map(|(code, c)| vec![
                    html! { (units.commune(code).map(|u| u.name.clone()).unwrap_or_else(|| code.clone())) " " small { (code) } },
                    html! { (c.data_collected) },
                    html! { (c.produced) },
                    html! { (c.returned) },
                ]).collect(),
            ))
        }
        @if desk {
            h2 { (tr(lang, "Bàn trả thẻ", "Card desk")) }
            @if waiting.is_empty() {
                p id="no-cards" { (tr(lang, "Không có thẻ nào đang chờ.", "No card is on its way.")) }
            } @else {
                (crate::ui::Table::simple(
                    "desk",
                    &[tr(lang, "Số định danh", "ID number"), tr(lang, "Thẻ", "Card"), tr(lang, "Trạng thái", "State"),
                      tr(lang, "Xã/phường", "Commune"), tr(lang, "Thao tác", "Action")],
                    waiting.iter().map(|c| {
                        let field = format!("signature-{}", c.id);
                        vec![
                            html! { (c.pid) },
                            html! { code { (c.id) } br; small { (c.generation) } },
                            html! { (state_tag(lang, &c.state)) },
                            html! { (c.commune) },
                            html! {
                                @if c.state == "at-commune" {
                                    form method="post" action={ "/officer/cards/" (c.id) "/handover" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        (TextInput::new(&field, tr(lang, "Công dân ký nhận: viết họ và tên", "The citizen signs for it: full name"), "")
                                            .name("signature").error(error_of(&field)).render())
                                        (button(ButtonKind::Primary, tr(lang, "Trả thẻ", "Hand over"), None))
                                    }
                                } @else {
                                    form method="post" action={ "/officer/cards/" (c.id) "/advance" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        @let next = if c.state == "collected" { "produced" } else { "at-commune" };
                                        input type="hidden" name="to" value=(next);
                                        (button(ButtonKind::Secondary, state_text(lang, next), None))
                                    }
                                }
                            },
                        ]
                    }).collect(),
                ))
            }
        }
    };
    let ctx = PageContext { lang, title, caller: Some(caller), csrf: Some(&csrf), path: "/officer/cards" };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

#[derive(Debug, Deserialize)]
pub struct AdvanceForm {
    csrf: Option<String>,
    to: Option<String>,
    signature: Option<String>,
}

/// A form posted on a card: the CSRF token checked, the card found in the caller's communes
/// (else a 403 or a 404 page).
async fn posted_card(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    id: &str,
    csrf: Option<&str>,
) -> Result<cards::Card, Response> {
    if !csrf_ok(state, headers, csrf.unwrap_or_default()) {
        return Err((StatusCode::FORBIDDEN, lang.t("csrf")).into_response());
    }
    match cards::get(&state.db, id).await {
        Ok(Some(c)) if caller.covers(&c.commune) => Ok(c),
        Ok(_) => Err(crate::pages::message_page(
            state,
            headers,
            lang,
            StatusCode::NOT_FOUND,
            "not-found",
            lang.t("not_found"),
        )),
        Err(e) => Err(internal(&e)),
    }
}

async fn birth_of(state: &AppState, pid: &str) -> (Option<time::Date>, Option<String>) {
    match pid.parse::<civitas_core::Pid>() {
        Ok(p) => match state.register.get(&p).await {
            Ok(Some(person)) => (person.birth_date.to_date(), Some(person.full_name)),
            _ => (None, None),
        },
        Err(_) => (None, None),
    }
}

async fn advance(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Form(form): Form<AdvanceForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let card = match posted_card(&state, &headers, lang, &caller, &id, form.csrf.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let to = match form.to.as_deref().and_then(CardState::parse) {
        Some(to @ (CardState::Produced | CardState::AtCommune)) => to,
        _ => {
            let message = tr(lang, "Chọn bước tiếp theo của thẻ.", "Choose the card's next step.").to_owned();
            return render(&state, &headers, lang, &caller, None, &[("to".into(), message)]).await;
        }
    };
    let (birth, _) = birth_of(&state, &card.pid).await;
    let actor = format!("officer:{}", caller.claims.sub);
    match cards::advance(&state.db, &card.id, to, birth, &actor, None, crate::now()).await {
        Ok(_) => Redirect::to(&format!("/officer/cards?done={}", card.id)).into_response(),
        Err(CardError::Store(e)) => internal(&e),
        Err(e) => render(&state, &headers, lang, &caller, None, &[("to".into(), e.to_string())]).await,
    }
}

async fn handover(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Form(form): Form<AdvanceForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let card = match posted_card(&state, &headers, lang, &caller, &id, form.csrf.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let field = format!("signature-{}", card.id);
    let (birth, name) = birth_of(&state, &card.pid).await;
    let signed = form.signature.as_deref().and_then(civitas_core::text::clean_free_text).unwrap_or_default();
    let agrees = name.as_deref().is_some_and(|n| civitas_core::fold(n) == civitas_core::fold(&signed));
    if !agrees {
        let message = tr(
            lang,
            "Công dân ký nhận bằng họ và tên đúng như trong Cơ sở dữ liệu quốc gia về dân cư.",
            "The citizen signs with their full name as the register has it.",
        )
        .to_owned();
        return render(&state, &headers, lang, &caller, None, &[(field, message)]).await;
    }
    let actor = format!("officer:{}", caller.claims.sub);
    let receipt = format!("receipt signed by {signed}");
    match cards::advance(&state.db, &card.id, CardState::Returned, birth, &actor, Some(&receipt), crate::now()).await {
        Ok(_) => Redirect::to(&format!("/officer/cards?done={}", card.id)).into_response(),
        Err(CardError::Store(e)) => internal(&e),
        Err(e) => render(&state, &headers, lang, &caller, None, &[(field, e.to_string())]).await,
    }
}
