//! The officers' e-ID account desk (look up, raise to level 2, lock, unlock, revoke; registry
//! officers of the person's units only) and the development outbox.

use super::*;

// ----- officers' account desk -----

/// An e-ID account's facts as the officer's desk shows them.
fn account_facts(lang: Lang, a: &civitas_identity::accounts::Account) -> Markup {
    let t = |k| lang.t(k);
    let mut rows = vec![
        (t("account.level"), html! { (if a.level >= 2 { t("level.2") } else { t("level.1") }) }),
        (
            t("account.state"),
            html! { (lang.t(&format!("state.{}", a.state.as_str()))) @if let Some(r) = &a.state_reason { " (" (r) ")" } },
        ),
        (t("phone"), html! { (a.phone.clone().unwrap_or_default()) }),
    ];
    if let (Some(by), Some(at)) = (&a.level2_by, &a.level2_at) {
        rows.push((
            t("officer.level2_by"),
            html! { (by) ", " (a.level2_place.clone().unwrap_or_default()) ", " (lang.time(at)) },
        ));
    }
    crate::ui::summary_list(None, &rows)
}

pub(super) async fn officer_account_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let caller = match page_caller(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    render_officer_account(&state, &headers, lang, &caller, q.pid.as_deref().unwrap_or_default(), None, &[]).await
}

pub(super) async fn render_officer_account(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &crate::auth::Caller,
    pid: &str,
    notice: Option<Markup>,
    errors: &[(&str, &str)],
) -> Response {
    let t = |k| lang.t(k);
    let (csrf, fresh) = csrf_of(state, headers);
    let mut lookup_error: Option<&str> = None;
    let mut found = None;
    if !pid.is_empty() {
        match civitas_core::Pid::parse(pid.trim()) {
            Err(_) => lookup_error = Some(t("error.pid")),
            Ok(p) => match state.register.get(&p).await {
                Ok(Some(person)) if crate::api::may_read(caller, &person) => {
                    if let Err(p) = crate::api::log_reads(state, caller, &[p.as_str()], &["eid-account"]).await {
                        return p.into_response();
                    }
                    found = Some((person, state.identity.account(p.as_str()).await.ok().flatten()));
                }
                Ok(Some(_)) => lookup_error = Some(t("forbidden.unit")),
                Ok(None) => lookup_error = Some(t("not_found.person")),
                Err(e) => return crate::problem::Problem::from(e).into_response(),
            },
        }
    }
    let mut all_errors: Vec<(&str, &str)> = errors.to_vec();
    if let Some(e) = lookup_error {
        all_errors.push(("pid", e));
    }
    let body = html! {
        h1 { (t("officer.accounts")) }
        (error_summary(lang, &all_errors))
        @if let Some(n) = notice { (crate::ui::banner(crate::ui::Tone::Success, Some("notice"), None, html! { p { (n) } })) }
        form method="get" action="/officer/accounts" role="search" {
            (inputs(&[field("pid", t("pid"), "text", "off", pid)], &all_errors))
            button type="submit" { (t("search.submit")) }
        }
        @if let Some((person, account)) = &found {
            h2 { (person.full_name) }
            @match account {
                None => p { (t("officer.no_account")) },
                Some(a) => {
                    (account_facts(lang, a))
                    @if a.state == AccountState::Active {
                        h3 { (t("officer.raise")) }
                        form method="post" action="/officer/accounts/action" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="pid" value=(a.pid);
                            input type="hidden" name="action" value="level2";
                            (inputs(&[field("place", t("officer.place"), "text", "off", "")], &all_errors))
                            button type="submit" { (t("officer.raise_button")) }
                        }
                        h3 { (t("officer.lock")) }
                        form method="post" action="/officer/accounts/action" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="pid" value=(a.pid);
                            input type="hidden" name="action" value="lock";
                            (inputs(&[field("reason", t("officer.reason"), "text", "off", "")], &all_errors))
                            button type="submit" class="danger" { (t("officer.lock_button")) }
                        }
                    }
                    @if a.state != AccountState::Revoked {
                        h3 { (t("officer.revoke")) }
                        form method="post" action="/officer/accounts/action" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="pid" value=(a.pid);
                            input type="hidden" name="action" value="revoke";
                            (inputs(&[field("revoke_reason", t("officer.reason"), "text", "off", "")], &all_errors))
                            button type="submit" class="danger" { (t("officer.revoke_button")) }
                        }
                    }
                    @if a.state == AccountState::Locked {
                        h3 { (t("officer.unlock")) }
                        form method="post" action="/officer/accounts/action" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="pid" value=(a.pid);
                            input type="hidden" name="action" value="unlock";
                            (inputs(&[field("reason", t("officer.reason"), "text", "off", "")], &all_errors))
                            button type="submit" { (t("officer.unlock_button")) }
                        }
                    }
                }
            }
        }
    };
    let ctx = PageContext {
        lang,
        title: t("officer.accounts"),
        caller: Some(caller),
        csrf: Some(&csrf),
        path: "/officer/accounts",
    };
    let status = if all_errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

#[derive(Debug, Deserialize)]
pub struct OfficerForm {
    csrf: Option<String>,
    pid: Option<String>,
    action: Option<String>,
    place: Option<String>,
    reason: Option<String>,
    revoke_reason: Option<String>,
}

pub(super) async fn officer_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<OfficerForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return csrf_refused(lang);
    }
    let caller = match page_caller(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let t = |k| lang.t(k);
    let pid = form.pid.unwrap_or_default();
    let Ok(parsed) = civitas_core::Pid::parse(&pid) else {
        return render_officer_account(&state, &headers, lang, &caller, &pid, None, &[("pid", t("error.pid"))]).await;
    };
    match state.register.get(&parsed).await {
        Ok(Some(person)) if crate::api::may_read(&caller, &person) => {}
        Ok(_) => return message_page(&state, &headers, lang, StatusCode::FORBIDDEN, "forbidden", t("forbidden.unit")),
        Err(e) => return crate::problem::Problem::from(e).into_response(),
    }
    let officer = format!("officer:{}", caller.claims.sub);
    let now = crate::now();
    let reason = form.reason.unwrap_or_default();
    let result = match form.action.as_deref() {
        Some("level2") => {
            match state.identity.raise_to_level2(&pid, &officer, form.place.as_deref().unwrap_or_default(), now).await {
                Ok(second) => {
                    let notice = html! {
                        p { strong { (t("officer.raised")) } }
                        p { (t("officer.totp_secret")) ": " code { (second.totp_secret) } }
                        p class="hint" { (second.otpauth_uri) }
                        p { (t("officer.recovery")) ": " @for c in &second.recovery_codes { code { (c) } " " } }
                    };
                    return render_officer_account(&state, &headers, lang, &caller, &pid, Some(notice), &[]).await;
                }
                Err(e) => Err(e),
            }
        }
        Some("lock") => state.identity.lock(&pid, &officer, &reason, now).await,
        Some("unlock") => state.identity.unlock(&pid, &officer, &reason, now).await,
        Some("revoke") => {
            state.identity.revoke(&pid, &officer, form.revoke_reason.as_deref().unwrap_or_default(), now).await
        }
        _ => return (StatusCode::BAD_REQUEST, "unknown action").into_response(),
    };
    let (notice, error): (Option<Markup>, Option<(&str, &str)>) = match result {
        Ok(()) => (Some(html! { p { (t("officer.done")) } }), None),
        Err(AccountError::Invalid("missing-place", _)) => (None, Some(("place", t("officer.place_missing")))),
        Err(AccountError::Invalid("missing-reason", _)) => {
            let field = if form.action.as_deref() == Some("revoke") { "revoke_reason" } else { "reason" };
            (None, Some((field, t("officer.reason_missing"))))
        }
        Err(e @ (AccountError::NotAllowed(..) | AccountError::NoAccount(_))) => {
            return message_page(&state, &headers, lang, StatusCode::CONFLICT, "officer.not_possible", &e.to_string());
        }
        Err(e) => return internal(&e),
    };
    let errors: Vec<(&str, &str)> = error.into_iter().collect();
    render_officer_account(&state, &headers, lang, &caller, &pid, notice, &errors).await
}

// ----- development outbox -----

#[derive(Debug, Deserialize)]
pub struct OutboxQuery {
    format: Option<String>,
}

/// The messages the development sender "delivered" (only when enabled: `serve --demo` or
/// `dev_outbox = true`).
pub(super) async fn dev_outbox(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<OutboxQuery>,
) -> Response {
    if !state.dev_outbox {
        return crate::problem::Problem::not_found("the development outbox is disabled").into_response();
    }
    let messages = match civitas_store::outbox::recent(&state.db, 50).await {
        Ok(m) => m,
        Err(e) => return internal(&e),
    };
    if q.format.as_deref() == Some("json") {
        return axum::Json(serde_json::json!({ "items": messages })).into_response();
    }
    let lang = crate::pages::lang(&headers, None);
    let body = html! {
        h1 { (lang.t("outbox.title")) }
        p class="hint" { (lang.t("outbox.intro")) }
        (crate::ui::Table::simple(
            "outbox",
            &[lang.t("time"), lang.t("outbox.to"), lang.t("outbox.subject"), lang.t("outbox.body")],
            messages.iter().map(|m| vec![
                html! { (lang.time(&m.created_at)) },
                html! { (m.channel) ": " (m.recipient) },
                html! { (m.subject) },
                html! { (m.body) },
            ]).collect(),
        ))
    };
    let ctx = PageContext { lang, title: lang.t("outbox.title"), caller: None, csrf: None, path: "/dev/outbox" };
    page(StatusCode::OK, layout(&ctx, body), None, None)
}
