//! The citizen's account page (level, sessions, consents, who read my data) and its actions:
//! revoke a consent, end sessions, lock the account, register a child.

use super::*;
use crate::i18n::tr;
use crate::ui::{Column, Row};

// ----- the citizen's account page -----

pub(super) async fn account_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
    Query(all): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let t = |k| lang.t(k);
    let Some((_, session)) = browser_session(&state, &headers).await else {
        return Redirect::to("/signin").into_response();
    };
    let now = crate::now().unix_timestamp();
    let pid = session.pid.clone();
    let (account, sessions, consents, reads, person) = match (
        state.identity.account(&pid).await,
        state.identity.sessions_of(&pid, now).await,
        state.identity.consents_of(&pid).await,
        civitas_store::access_log::disclosed_for_subject(&state.db, &pid, &civitas_store::timestamp(crate::now()), 200)
            .await,
    ) {
        (Ok(Some(a)), Ok(s), Ok(c), Ok(r)) => {
            let person = match civitas_core::Pid::parse(&pid) {
                Ok(p) => state.register.get(&p).await.ok().flatten(),
                Err(_) => None,
            };
            (a, s, c, r, person)
        }
        _ => {
            return message_page(
                &state,
                &headers,
                lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                "oidc.error",
                t("error.internal"),
            );
        }
    };
    // The SMS and e-mails sent to the holder (codes, receipts, results, apologies).
    let addresses: Vec<&str> = [account.phone.as_deref(), account.email.as_deref()].into_iter().flatten().collect();
    let messages = match civitas_store::outbox::to_person(&state.db, &addresses, 100).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "the account page could not list the holder's messages");
            Vec::new()
        }
    };
    let officer = matches!(state.identity.officer_role(&pid).await, Ok(Some(_)));
    // The holder's own cards (their own data: not a third party's read).
    let my_cards = match civitas_services::cards::of_person(&state.db, &pid).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "the account page could not list the holder's cards");
            Vec::new()
        }
    };
    let agencies = crate::transparency::agency_names(&state).await;
    let (csrf, fresh) = csrf_of(&state, &headers);
    let here = session.sid();
    let body = html! {
        (crate::pages::citizen_nav(lang))
        h1 { (t("account.title")) }
        @if let Some(p) = &person { p class="lead" { (p.full_name) } }
        (crate::ui::summary_list(None, &[
            (t("pid"), html! { (pid) }),
            (t("account.level"), html! { (if account.level >= 2 { t("level.2") } else { t("level.1") }) }),
            (t("account.state"), html! { (lang.t(&format!("state.{}", account.state.as_str()))) }),
            (t("phone"), html! { (account.phone.clone().unwrap_or_else(|| t("none").into())) }),
            (t("account.second_factor"), html! { (if account.has_totp { t("yes") } else { t("no") }) }),
            (t("account.session_level"), html! { (if session.level >= 2 { t("level.2") } else { t("level.1") }) }),
        ]))
        @if officer { p { a href="/officer/search" { (t("officer.console")) } } }
        h2 { (tr(lang, "Thẻ căn cước của tôi", "My identity card")) }
        @if my_cards.is_empty() {
            p id="no-card" { (tr(lang, "Cơ sở dữ liệu chưa ghi nhận thẻ nào của bạn.", "The register knows no card of yours yet.")) }
        } @else {
            (crate::ui::Table::simple(
                "my-cards",
                &[tr(lang, "Thẻ", "Card"), tr(lang, "Trạng thái", "State"), tr(lang, "Ngày cấp", "Issued"), tr(lang, "Có giá trị đến", "Valid until")],
                my_cards.iter().map(|c| vec![
                    html! { (if c.generation == "can-cuoc-2024" { tr(lang, "Thẻ căn cước (2024)", "Identity card (2024)") } else { tr(lang, "Căn cước công dân gắn chip (2021)", "Citizen identity card with chip (2021)") }) },
                    html! { (crate::cards_pages::state_tag(lang, &c.state)) },
                    html! { (c.issued_on.as_deref().map(|d| lang.day(d)).unwrap_or_else(|| "—".into())) },
                    html! { (match (&c.expires_on, &c.issued_on) {
                        (Some(d), _) => lang.day(d),
                        (None, Some(_)) => tr(lang, "Không thời hạn", "No expiry").to_owned(),
                        (None, None) => "—".to_owned(),
                    }) },
                ]).collect(),
            ))
        }
        h2 { (t("account.sessions")) }
        (crate::ui::Table::simple(
            "sessions",
            &[t("account.started"), t("account.device"), t("account.address"), t("account.level"), t("account.action")],
            sessions.iter().map(|s| vec![
                html! { (lang.time(&s.created_at)) @if s.sid() == here { " " (crate::ui::tag(crate::ui::Tone::Info, t("account.this_device"))) } },
                html! { (s.user_agent) },
                html! { (s.ip) },
                html! { (s.level) },
                html! {
                    form method="post" action="/account/sessions/end" class="inline" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="sid" value=(s.sid());
                        button type="submit" class="link" { (t("account.end")) }
                    }
                },
            ]).collect(),
        ))
        form method="post" action="/account/sessions/end-all" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { (t("account.end_all")) }
        }
        h2 { (t("account.consents")) }
        @if consents.is_empty() { p { (t("account.no_consents")) } } @else {
            (crate::ui::Table::simple(
                "consents",
                &[t("account.client"), t("account.scopes"), t("account.granted"), t("account.action")],
                consents.iter().map(|(client_id, name, scopes, at)| vec![
                    html! { (name) },
                    html! { (scopes) },
                    html! { (lang.time(at)) },
                    html! {
                        form method="post" action="/account/consents/revoke" class="inline" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="client_id" value=(client_id);
                            button type="submit" class="link" { (t("account.revoke")) }
                        }
                    },
                ]).collect(),
            ))
        }
        h2 { (t("account.reads")) }
        p class="hint" { (tr(lang, "Mỗi lần đọc dữ liệu của bạn được ghi vào sổ nhật ký minh bạch, không ai sửa hay xoá được mà không bị phát hiện. Biên nhận của từng lần đọc kiểm chứng được mà không cần hỏi lại hệ thống.", "Every read of your data is written into a transparency log that nobody can change or erase unnoticed. Each read's receipt can be checked without asking this system.")) }
        @if reads.is_empty() { p { (t("account.no_reads")) } } @else {
            (crate::ui::Table {
                id: "reads",
                caption: None,
                columns: vec![Column::sortable(t("time")), Column::sortable(t("actor")), Column::sortable(t("account.purpose")), Column::plain(t("account.fields")), Column::plain(tr(lang, "Biên nhận", "Receipt"))],
                rows: reads.iter().map(|r| Row {
                    cells: vec![
                        html! { (lang.time(&r.at)) },
                        html! { (crate::transparency::reader_text(lang, r, agencies.get(&r.actor).map(String::as_str))) },
                        html! {
                            (crate::transparency::purpose_text(lang, r.purpose.as_deref(), r.legal_basis.as_deref()))
                            @if let Some(c) = &r.case_id { br; small { (tr(lang, "Hồ sơ", "Case")) ": " (c) } }
                        },
                        html! { (r.fields) br; small { (crate::transparency::how_text(lang, r.how.as_deref())) } },
                        html! { @if let Some(i) = r.log_index {
                            a href=(format!("/account/access/{i}/receipt")) download { (tr(lang, "Tải về", "Download")) span class="visually-hidden" { " " (tr(lang, "biên nhận của lần đọc lúc", "the receipt of the read at")) " " (lang.time(&r.at)) } }
                        } @else { (tr(lang, "đang ghi vào sổ", "being logged")) } },
                    ],
                    keys: vec![r.at.clone(), r.actor.clone(), r.purpose.clone().unwrap_or_default(), String::new(), String::new()],
                }).collect(),
                path: "/account",
                keep: Vec::new(),
                prefix: "reads.",
                page_size: 10,
            }.render_for(lang, &all))
        }
        h2 { (tr(lang, "Tin nhắn và thư đã gửi cho bạn", "Messages sent to you")) }
        @if messages.is_empty() {
            p { (tr(lang, "Chưa có tin nhắn nào. Khi bạn nộp hồ sơ, thông báo sẽ hiện ở đây.", "No messages yet. When you apply for a service, its notices appear here.")) }
        } @else {
            (crate::ui::Table {
                id: "messages",
                caption: None,
                columns: vec![Column::sortable(tr(lang, "Thời gian", "Time")), Column::sortable(tr(lang, "Kênh", "Channel")), Column::plain(tr(lang, "Nội dung", "Message"))],
                rows: messages.iter().map(|m| Row {
                    cells: vec![
                        html! { (lang.time(&m.created_at)) },
                        html! { (if m.channel == "sms" { "SMS" } else { "E-mail" }) },
                        html! { @if !m.subject.is_empty() && m.channel != "sms" { strong { (m.subject) } ": " } (m.body) },
                    ],
                    keys: vec![m.created_at.clone(), m.channel.clone(), String::new()],
                }).collect(),
                path: "/account",
                keep: Vec::new(),
                prefix: "msg.",
                page_size: 10,
            }.render_for(lang, &all))
        }
        @if account.level >= 2 {
            h2 { (t("child.title")) }
            p class="hint" { (t("child.intro")) }
            @if session.level < 2 { p { a href="/signin/otp" { (t("child.step_up")) } } } @else {
                form method="post" action="/account/child" novalidate {
                    input type="hidden" name="csrf" value=(csrf);
                    (inputs(&[field("child_pid", t("child.pid"), "text", "off", ""), field("child_password", t("child.password"), "password", "new-password", "")], &[]))
                    button type="submit" { (t("child.submit")) }
                }
            }
        }
        h2 { (t("account.lock")) }
        p { (t("account.lock_text")) }
        form method="post" action="/account/lock" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" class="danger" { (t("account.lock_button")) }
        }
        form method="post" action="/signout" {
            input type="hidden" name="csrf" value=(csrf);
            p { button type="submit" class="link" { (t("signout")) } }
        }
    };
    let ctx = PageContext { lang, title: t("account.title"), caller: None, csrf: None, path: "/account" };
    page(
        StatusCode::OK,
        layout(&ctx, body),
        q.lang.is_some().then_some((lang, &state)),
        fresh.then_some((csrf.as_str(), &state)),
    )
}

#[derive(Debug, Deserialize)]
pub struct AccountForm {
    csrf: Option<String>,
    sid: Option<String>,
    client_id: Option<String>,
}

/// The session of a form post from the account page, CSRF-checked.
pub(super) async fn own_session(
    state: &AppState,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<Session, Response> {
    let lang = crate::pages::lang(headers, None);
    if !csrf_ok(state, headers, csrf.unwrap_or_default()) {
        return Err(csrf_refused(lang));
    }
    browser_session(state, headers).await.map(|(_, s)| s).ok_or_else(|| Redirect::to("/signin").into_response())
}

pub(super) async fn revoke_consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Response {
    let session = match own_session(&state, &headers, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.identity.revoke_consent(&session.pid, form.client_id.as_deref().unwrap_or_default(), crate::now()).await
    {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(e) => internal(&e),
    }
}

pub(super) async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Response {
    let session = match own_session(&state, &headers, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state
        .identity
        .end_session_by_sid(&session.pid, form.sid.as_deref().unwrap_or_default(), crate::now().unix_timestamp())
        .await
    {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(e) => internal(&e),
    }
}

pub(super) async fn end_all(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Response {
    let session = match own_session(&state, &headers, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.identity.end_all_sessions(&session.pid, crate::now().unix_timestamp()).await {
        Ok(()) => {
            let mut r = Redirect::to("/signin").into_response();
            r.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SID_COOKIE, "", 0));
            r
        }
        Err(e) => internal(&e),
    }
}

pub(super) async fn lock_own(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Response {
    let session = match own_session(&state, &headers, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = crate::pages::lang(&headers, None);
    match state.identity.lock(&session.pid, &session.pid, "holder's request", crate::now()).await {
        Ok(()) => {
            let mut r =
                message_page(&state, &headers, lang, StatusCode::OK, "account.locked", lang.t("account.locked_text"));
            r.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SID_COOKIE, "", 0));
            r
        }
        Err(e) => internal(&e),
    }
}

#[derive(Debug, Deserialize)]
pub struct ChildForm {
    csrf: Option<String>,
    child_pid: Option<String>,
    child_password: Option<String>,
}

pub(super) async fn register_child(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ChildForm>,
) -> Response {
    let session = match own_session(&state, &headers, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = crate::pages::lang(&headers, None);
    if session.level < 2 {
        return Redirect::to("/signin/otp").into_response();
    }
    let child = form.child_pid.unwrap_or_default();
    let result = state
        .identity
        .register_child(&session.pid, &child, form.child_password.as_deref().unwrap_or_default(), crate::now())
        .await;
    match result {
        Ok(()) => message_page(&state, &headers, lang, StatusCode::OK, "child.done", lang.t("child.done_text")),
        Err(AccountError::Policy(p)) => message_page(
            &state,
            &headers,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            "child.title",
            lang.t(&format!("policy.{}", p.slug())),
        ),
        Err(AccountError::Invalid(..) | AccountError::NoPerson(_)) => {
            message_page(&state, &headers, lang, StatusCode::UNPROCESSABLE_ENTITY, "child.title", lang.t("error.pid"))
        }
        Err(AccountError::NotAllowed(slug, _)) => message_page(
            &state,
            &headers,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            "child.title",
            lang.t(&format!("child.{slug}")),
        ),
        Err(e) => internal(&e),
    }
}
