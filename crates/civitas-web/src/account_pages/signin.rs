//! Signing in with the e-ID (ID number and password, then the second factor) and the consent
//! page of the authorization flow.

use super::*;

// ----- sign-in -----

pub(super) async fn client_name_of(state: &AppState, r: Option<&str>) -> Option<String> {
    let now = crate::now().unix_timestamp();
    let request = state.identity.stored_request(r?, now).await.ok()??;
    Some(state.identity.client(&request.client_id, now).await.ok()??.name)
}

pub(super) async fn signin_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let response =
        render_signin(&state, &headers, lang, interaction_id(q.r.clone()).as_deref(), "", &[], StatusCode::OK).await;
    remember_lang(&state, response, lang, q.lang.is_some())
}

/// Keeps a language chosen with `?lang=` for the next pages.
pub(super) fn remember_lang(state: &AppState, mut response: Response, lang: Lang, chosen: bool) -> Response {
    if chosen {
        response.headers_mut().append(header::SET_COOKIE, set_cookie(state, "lang", lang.code(), 31_536_000));
    }
    response
}

pub(super) async fn render_signin(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    r: Option<&str>,
    pid: &str,
    errors: &[(&str, &str)],
    status: StatusCode,
) -> Response {
    let t = |k| lang.t(k);
    let client = client_name_of(state, r).await;
    let intro = html! {
        @if let Some(name) = &client { p { (t("signin.for")) " " strong { (name) } } }
        p class="hint" { (t("signin.intro")) }
    };
    let after = html! {
        p { a href="/register" { (t("register")) } " · " a href="/forgot" { (t("forgot")) } " · " a href="/signin/token" { (t("signin.with_token")) } }
    };
    let hidden: Vec<(&str, &str)> = r.map(|r| vec![("r", r)]).unwrap_or_default();
    let fields = [
        field("pid", t("pid"), "text", "username", pid),
        field("password", t("password"), "password", "current-password", ""),
    ];
    form_page(
        state,
        headers,
        lang,
        status,
        t("signin.title"),
        intro,
        "/signin",
        &hidden,
        &fields,
        errors,
        t("signin.submit"),
        after,
    )
}

#[derive(Debug, Deserialize)]
pub struct SigninForm {
    pid: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
    r: Option<String>,
}

pub(super) async fn signin(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Form(form): Form<SigninForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return csrf_refused(lang);
    }
    let t = |k| lang.t(k);
    let pid = form.pid.unwrap_or_default().trim().to_owned();
    let password = form.password.unwrap_or_default();
    let r = interaction_id(form.r);
    let mut errors: Vec<(&str, &str)> = vec![];
    if pid.is_empty() {
        errors.push(("pid", t("signin.pid_missing")));
    }
    if password.is_empty() {
        errors.push(("password", t("signin.password_missing")));
    }
    if !errors.is_empty() {
        return render_signin(&state, &headers, lang, r.as_deref(), &pid, &errors, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    }
    let now = crate::now();
    let outcome = match state.identity.authenticate(&pid, &password, &client_ip(&state, &headers, &ext), now).await {
        Ok(o) => o,
        Err(e) => return internal(&e),
    };
    let auth = match outcome {
        Ok(a) => a,
        Err(failure) => {
            let (status, message) = failure_text(lang, &failure);
            return render_signin(&state, &headers, lang, r.as_deref(), &pid, &[("password", &message)], status).await;
        }
    };
    if let Some(old) = crate::pages::cookie(&headers, SID_COOKIE) {
        let _ = state.identity.end_session(old, now.unix_timestamp()).await;
    }
    let token = match state
        .identity
        .start_session(&auth.pid, 1, &["pwd"], &user_agent(&headers), &client_ip(&state, &headers, &ext), now)
        .await
    {
        Ok(t) => t,
        Err(e) => return internal(&e),
    };
    let officer = matches!(state.identity.officer_role(&auth.pid).await, Ok(Some(_)));
    let mut wants_level2 = officer;
    if let Some(id) = &r
        && let Ok(Some(mut request)) = state.identity.stored_request(id, now.unix_timestamp()).await
    {
        request.prompt.retain(|p| p != "login");
        request.max_age = None;
        wants_level2 = request.level >= 2;
        if let Err(e) = state.identity.update_request(id, &request).await {
            return internal(&e);
        }
    }
    let next = if wants_level2 && auth.level >= 2 && auth.has_totp {
        r.as_ref().map(|r| format!("/signin/otp?r={r}")).unwrap_or_else(|| "/signin/otp".into())
    } else if let Some(r) = &r {
        format!("/oauth2/continue?r={r}")
    } else {
        "/account".into()
    };
    let mut response = Redirect::to(&next).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, SID_COOKIE, &token, civitas_identity::oidc::SESSION_TTL));
    response
}

pub(super) fn failure_text(lang: Lang, failure: &SignInFailure) -> (StatusCode, String) {
    match failure {
        SignInFailure::BadCredentials => (StatusCode::UNPROCESSABLE_ENTITY, lang.t("signin.wrong").to_owned()),
        SignInFailure::Busy => (StatusCode::SERVICE_UNAVAILABLE, lang.t("signin.busy").to_owned()),
        SignInFailure::Throttled(wait) => {
            (StatusCode::TOO_MANY_REQUESTS, lang.t("signin.throttled").replace("{n}", &wait.to_string()))
        }
        SignInFailure::Unusable(AccountState::Pending, _) => {
            (StatusCode::FORBIDDEN, lang.t("signin.pending").to_owned())
        }
        SignInFailure::Unusable(state, reason) => {
            let reason = reason
                .as_deref()
                .map(|r| if r == civitas_identity::accounts::DECEASED_REASON { lang.t("reason.deceased") } else { r });
            let base = if *state == AccountState::Revoked { lang.t("signin.revoked") } else { lang.t("signin.locked") };
            (StatusCode::FORBIDDEN, format!("{base}{}", reason.map(|r| format!(" ({r})")).unwrap_or_default()))
        }
    }
}

pub(super) async fn otp_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    if browser_session(&state, &headers).await.is_none() {
        return Redirect::to("/signin").into_response();
    }
    let r = interaction_id(q.r.clone());
    let response = render_otp(&state, &headers, lang, r.as_deref(), &[], StatusCode::OK);
    allow_client_target(&state, r.as_deref(), response).await
}

pub(super) fn render_otp(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    r: Option<&str>,
    errors: &[(&str, &str)],
    status: StatusCode,
) -> Response {
    let t = |k| lang.t(k);
    let hidden: Vec<(&str, &str)> = r.map(|r| vec![("r", r)]).unwrap_or_default();
    let mut code = field("code", t("otp.code"), "text", "one-time-code", "");
    code.hint = Some(t("otp.hint"));
    form_page(
        state,
        headers,
        lang,
        status,
        t("otp.title"),
        html! {},
        "/signin/otp",
        &hidden,
        &[code],
        errors,
        t("otp.submit"),
        html! {},
    )
}

#[derive(Debug, Deserialize)]
pub struct OtpForm {
    code: Option<String>,
    csrf: Option<String>,
    r: Option<String>,
}

pub(super) async fn otp(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<OtpForm>) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return csrf_refused(lang);
    }
    let Some((token, session)) = browser_session(&state, &headers).await else {
        return Redirect::to("/signin").into_response();
    };
    let r = interaction_id(form.r);
    let now = crate::now();
    match state.identity.verify_second_factor(&session.pid, form.code.as_deref().unwrap_or_default(), now).await {
        Err(e) => internal(&e),
        Ok(Err(failure)) => {
            let (status, message) = match failure {
                SignInFailure::Throttled(_) => failure_text(lang, &failure),
                _ => (StatusCode::UNPROCESSABLE_ENTITY, lang.t("otp.wrong").to_owned()),
            };
            let response = render_otp(&state, &headers, lang, r.as_deref(), &[("code", &message)], status);
            allow_client_target(&state, r.as_deref(), response).await
        }
        Ok(Ok(())) => {
            if let Err(e) = state.identity.upgrade_session(&token, now).await {
                return internal(&e);
            }
            let next = match &r {
                Some(r) => format!("/oauth2/continue?r={r}"),
                None if matches!(state.identity.officer_role(&session.pid).await, Ok(Some(_))) => {
                    "/officer/search".into()
                }
                None => "/account".into(),
            };
            Redirect::to(&next).into_response()
        }
    }
}

// ----- consent -----

pub(super) fn scope_text(lang: Lang, scope: &str) -> &'static str {
    match scope {
        "profile" => lang.t("scope.profile"),
        "address" => lang.t("scope.address"),
        "phone" => lang.t("scope.phone"),
        "email" => lang.t("scope.email"),
        "pid" => lang.t("scope.pid"),
        "offline_access" => lang.t("scope.offline_access"),
        "dossiers" => lang.t("scope.dossiers"),
        "documents" => lang.t("scope.documents"),
        "certificates" => lang.t("scope.certificates"),
        "access" => lang.t("scope.access"),
        _ => lang.t("scope.other"),
    }
}

pub(super) async fn consent_context(
    state: &AppState,
    headers: &HeaderMap,
    r: &str,
) -> Option<(Session, civitas_identity::AuthRequest, String)> {
    let now = crate::now().unix_timestamp();
    let (_, session) = browser_session(state, headers).await?;
    let request = state.identity.stored_request(r, now).await.ok()??;
    let client = state.identity.client(&request.client_id, now).await.ok()??;
    Some((session, request, client.name))
}

pub(super) async fn consent_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let t = |k| lang.t(k);
    let r = interaction_id(q.r.clone()).unwrap_or_default();
    let Some((session, request, client_name)) = consent_context(&state, &headers, &r).await else {
        return message_page(&state, &headers, lang, StatusCode::BAD_REQUEST, "oidc.error", t("oidc.expired"));
    };
    let mut scopes = state.identity.missing_consent(&session.pid, &request).await.unwrap_or_default();
    if scopes.is_empty() {
        scopes = request.scope.iter().filter(|s| *s != "openid").cloned().collect();
    }
    let (csrf, fresh) = csrf_of(&state, &headers);
    let body = html! {
        h1 { (t("consent.title")) }
        p { strong { (client_name) } " " (t("consent.asks")) }
        ul class="scopes" {
            li { (t("scope.openid")) }
            @for s in &scopes { li { (scope_text(lang, s)) } }
        }
        p class="hint" { (t("consent.revocable")) }
        form method="post" action="/consent" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="r" value=(r);
            button type="submit" name="decision" value="allow" { (t("consent.allow")) }
            " "
            button type="submit" name="decision" value="deny" class="secondary" { (t("consent.deny")) }
        }
    };
    let ctx = PageContext { lang, title: t("consent.title"), caller: None, csrf: None, path: "/consent" };
    let response = page(StatusCode::OK, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), &state)));
    allow_client_target(&state, Some(&r), response).await
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    csrf: Option<String>,
    r: Option<String>,
    decision: Option<String>,
}

pub(super) async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return csrf_refused(lang);
    }
    let r = interaction_id(form.r).unwrap_or_default();
    let Some((session, mut request, _)) = consent_context(&state, &headers, &r).await else {
        return message_page(&state, &headers, lang, StatusCode::BAD_REQUEST, "oidc.error", lang.t("oidc.expired"));
    };
    if form.decision.as_deref() != Some("allow") {
        let _ = state.identity.drop_request(&r).await;
        let mut params = vec![("error", "access_denied"), ("error_description", "the user declined")];
        if let Some(s) = &request.state {
            params.push(("state", s));
        }
        params.push(("iss", state.identity.issuer.as_str()));
        return Redirect::to(&crate::oidc::with_query(&request.redirect_uri, &params)).into_response();
    }
    if let Err(e) = state.identity.give_consent(&session.pid, &request.client_id, &request.scope, crate::now()).await {
        return internal(&e);
    }
    request.prompt.retain(|p| p != "consent");
    if let Err(e) = state.identity.update_request(&r, &request).await {
        return internal(&e);
    }
    Redirect::to(&format!("/oauth2/continue?r={r}")).into_response()
}
