//! The e-ID pages: sign-in (ID number + password), the second-factor step, consent, online
//! registration and activation, forgotten password, the citizen's account page (level, sessions,
//! consents, who read my data), the officers' account desk (look up, raise to level 2, lock,
//! unlock), and the development outbox. Vietnamese by default, English on request; every form
//! carries a CSRF token; errors are listed in a summary and next to their fields.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use civitas_identity::accounts::{AccountError, SignInFailure};
use civitas_identity::{AccountState, Session};

use crate::AppState;
use crate::i18n::Lang;
use crate::oidc::{SID_COOKIE, browser_session};
use crate::pages::{
    PageContext, csrf_of, csrf_ok, error_summary, layout, message_page, page, page_caller, set_cookie, table_head,
};

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/signin", get(signin_page).post(signin))
        .route("/signin/otp", get(otp_page).post(otp))
        .route("/consent", get(consent_page).post(consent))
        .route("/register", get(register_page).post(register))
        .route("/activate", get(activate_page).post(activate))
        .route("/forgot", get(forgot_page).post(forgot))
        .route("/reset", get(reset_page).post(reset))
        .route("/account", get(account_page))
        .route("/account/consents/revoke", post(revoke_consent))
        .route("/account/sessions/end", post(end_session))
        .route("/account/sessions/end-all", post(end_all))
        .route("/account/lock", post(lock_own))
        .route("/account/child", post(register_child))
        .route("/officer/accounts", get(officer_account_page))
        .route("/officer/accounts/action", post(officer_action))
        .route("/dev/outbox", get(dev_outbox))
        .into_router()
}

/// One input of a form page.
struct Field<'a> {
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    autocomplete: &'a str,
    value: &'a str,
    hint: Option<&'a str>,
}

fn field<'a>(name: &'a str, label: &'a str, kind: &'a str, autocomplete: &'a str, value: &'a str) -> Field<'a> {
    Field { name, label, kind, autocomplete, value, hint: None }
}

fn inputs(fields: &[Field], errors: &[(&str, &str)]) -> Markup {
    html! {
        @for f in fields {
            @let error = errors.iter().find(|(n, _)| *n == f.name).map(|(_, m)| *m);
            @let described = [f.hint.map(|_| format!("{}-hint", f.name)), error.map(|_| format!("{}-error", f.name))]
                .into_iter().flatten().collect::<Vec<_>>().join(" ");
            div class=(if error.is_some() { "field error" } else { "field" }) {
                label for=(f.name) { (f.label) }
                @if let Some(h) = f.hint { p class="hint" id=(format!("{}-hint", f.name)) { (h) } }
                @if let Some(m) = error { p class="error-message" id=(format!("{}-error", f.name)) { (m) } }
                @if described.is_empty() {
                    input type=(f.kind) id=(f.name) name=(f.name) value=(f.value) autocomplete=(f.autocomplete);
                } @else {
                    input type=(f.kind) id=(f.name) name=(f.name) value=(f.value) autocomplete=(f.autocomplete) aria-describedby=(described);
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    status: StatusCode,
    title: &str,
    intro: Markup,
    action: &str,
    hidden: &[(&str, &str)],
    fields: &[Field],
    errors: &[(&str, &str)],
    submit: &str,
    after: Markup,
) -> Response {
    let (csrf, fresh) = csrf_of(state, headers);
    let body = html! {
        h1 { (title) }
        (error_summary(lang, errors))
        (intro)
        form method="post" action=(action) novalidate {
            input type="hidden" name="csrf" value=(csrf);
            @for (k, v) in hidden { input type="hidden" name=(k) value=(v); }
            (inputs(fields, errors))
            button type="submit" { (submit) }
        }
        (after)
    };
    let ctx = PageContext { lang, title, caller: None, csrf: None, path: action };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

/// An interaction id (`r`) as the provider makes them (URL-safe base64, at most 64
/// characters); anything else is dropped before it can reach a URL or a header.
fn interaction_id(r: Option<String>) -> Option<String> {
    r.filter(|r| {
        !r.is_empty() && r.len() <= 64 && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Lets the forms of a page in an authorization flow end at the client: browsers apply the
/// CSP `form-action` to redirects after a form post, and the flow ends with a redirect to the
/// client's origin.
async fn allow_client_target(state: &AppState, r: Option<&str>, mut response: Response) -> Response {
    let Some(r) = r else { return response };
    let Ok(Some(request)) = state.identity.stored_request(r, crate::now().unix_timestamp()).await else {
        return response;
    };
    // Parsed, never sliced: only a valid redirect URI's serialized origin reaches the header.
    let Some(origin) = civitas_identity::redirect::origin(&request.redirect_uri) else { return response };
    let csp = format!("default-src 'self'; style-src 'self'; form-action 'self' {origin}; frame-ancestors 'none'");
    if let Ok(v) = axum::http::HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

fn csrf_refused(lang: Lang) -> Response {
    (StatusCode::FORBIDDEN, lang.t("csrf")).into_response()
}

/// The address a request came from: the TCP peer, or — when the peer is one of the configured
/// trusted reverse proxies — the right-most address of `X-Forwarded-For` that is not a trusted
/// proxy itself (addresses further left could be forged by the client).
pub(crate) fn client_ip(state: &AppState, headers: &HeaderMap, ext: &Extensions) -> String {
    let peer = ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    match peer {
        Some(peer) => client_address(peer, forwarded, &state.trusted_proxies).to_string(),
        None => "unknown".into(),
    }
}

pub(crate) fn client_address(
    peer: std::net::IpAddr,
    forwarded: Option<&str>,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(list) = forwarded else { return peer };
    for hop in list.rsplit(',') {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::client_address;

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxy = "10.0.0.2".parse().unwrap();
        let trusted = [proxy, "10.0.0.3".parse().unwrap()];
        let other = "203.0.113.9".parse().unwrap();
        // A direct client cannot claim another address.
        assert_eq!(client_address(other, Some("198.51.100.1"), &trusted), other);
        // Through the proxies: the right-most untrusted hop; a forged left part is ignored.
        assert_eq!(
            client_address(proxy, Some("1.2.3.4, 198.51.100.7, 10.0.0.3"), &trusted).to_string(),
            "198.51.100.7"
        );
        assert_eq!(client_address(proxy, None, &trusted), proxy);
        assert_eq!(client_address(proxy, Some("garbage"), &trusted), proxy);
    }
}

fn user_agent(headers: &HeaderMap) -> String {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

fn internal(e: &(dyn std::error::Error + 'static)) -> Response {
    crate::problem::internal(e).into_response()
}

#[derive(Debug, Deserialize, Default)]
pub struct FlowQuery {
    r: Option<String>,
    lang: Option<String>,
    pid: Option<String>,
}

// ----- sign-in -----

async fn client_name_of(state: &AppState, r: Option<&str>) -> Option<String> {
    let now = crate::now().unix_timestamp();
    let request = state.identity.stored_request(r?, now).await.ok()??;
    Some(state.identity.client(&request.client_id, now).await.ok()??.name)
}

async fn signin_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<FlowQuery>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let response =
        render_signin(&state, &headers, lang, interaction_id(q.r.clone()).as_deref(), "", &[], StatusCode::OK).await;
    remember_lang(&state, response, lang, q.lang.is_some())
}

/// Keeps a language chosen with `?lang=` for the next pages.
fn remember_lang(state: &AppState, mut response: Response, lang: Lang, chosen: bool) -> Response {
    if chosen {
        response.headers_mut().append(header::SET_COOKIE, set_cookie(state, "lang", lang.code(), 31_536_000));
    }
    response
}

async fn render_signin(
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

async fn signin(
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

fn failure_text(lang: Lang, failure: &SignInFailure) -> (StatusCode, String) {
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

async fn otp_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<FlowQuery>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    if browser_session(&state, &headers).await.is_none() {
        return Redirect::to("/signin").into_response();
    }
    let r = interaction_id(q.r.clone());
    let response = render_otp(&state, &headers, lang, r.as_deref(), &[], StatusCode::OK);
    allow_client_target(&state, r.as_deref(), response).await
}

fn render_otp(
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

async fn otp(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<OtpForm>) -> Response {
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

fn scope_text(lang: Lang, scope: &str) -> &'static str {
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
        _ => lang.t("scope.other"),
    }
}

async fn consent_context(
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

async fn consent_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<FlowQuery>) -> Response {
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

async fn consent(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<ConsentForm>) -> Response {
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

// ----- registration, activation, password reset -----

fn account_error_text(lang: Lang, e: &AccountError) -> Option<(&'static str, String)> {
    Some(match e {
        AccountError::Invalid(slug, _) => match *slug {
            "invalid-pid" => ("pid", lang.t("error.pid").to_owned()),
            "invalid-birth-date" => ("birth_date", lang.t("error.birth_date").to_owned()),
            "invalid-phone" => ("phone", lang.t("error.phone").to_owned()),
            "invalid-email" => ("email", lang.t("error.email").to_owned()),
            "invalid-name" => ("full_name", lang.t("error.name").to_owned()),
            "invalid-code" => ("code", lang.t("error.code").to_owned()),
            _ => return None,
        },
        AccountError::Policy(p) => ("password", lang.t(&format!("policy.{}", p.slug())).to_owned()),
        AccountError::NoPerson(_) | AccountError::NoAccount(_) | AccountError::NotAllowed(..) => {
            ("code", lang.t("error.code").to_owned())
        }
        _ => return None,
    })
}

async fn register_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<FlowQuery>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let response = render_register(&state, &headers, lang, &RegisterForm::default(), &[], StatusCode::OK);
    remember_lang(&state, response, lang, q.lang.is_some())
}

#[derive(Debug, Deserialize, Default)]
pub struct RegisterForm {
    pid: Option<String>,
    full_name: Option<String>,
    birth_date: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    csrf: Option<String>,
}

fn render_register(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    f: &RegisterForm,
    errors: &[(&str, &str)],
    status: StatusCode,
) -> Response {
    let t = |k| lang.t(k);
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let (pid, name, birth, phone, email) = (v(&f.pid), v(&f.full_name), v(&f.birth_date), v(&f.phone), v(&f.email));
    let mut birth_field = field("birth_date", t("birth_date"), "text", "bday", &birth);
    birth_field.hint = Some(t("register.birth_hint"));
    let fields = [
        field("pid", t("pid"), "text", "username", &pid),
        field("full_name", t("full_name"), "text", "name", &name),
        birth_field,
        field("phone", t("phone"), "tel", "tel", &phone),
        field("email", t("email.optional"), "email", "email", &email),
    ];
    let intro = html! { p class="hint" { (t("register.intro")) } };
    form_page(
        state,
        headers,
        lang,
        status,
        t("register"),
        intro,
        "/register",
        &[],
        &fields,
        errors,
        t("register.submit"),
        html! {},
    )
}

/// Requests of a code flow per client address before each further one doubles the wait.
const FREE_CODE_REQUESTS_PER_ADDRESS: i64 = 10;

/// Counts a request of `kind` (sending an SMS, or trying a code) from this client address; a
/// "try later" page when the address is blocked.
async fn address_throttled(state: &AppState, headers: &HeaderMap, ext: &Extensions, kind: &str) -> Option<Response> {
    let key = format!("{kind}-ip:{}", client_ip(state, headers, ext));
    // Trying codes is more frequent than asking for them (typos), and each try is still limited
    // per code (five per hour).
    let free = if kind == "code" { 3 * FREE_CODE_REQUESTS_PER_ADDRESS } else { FREE_CODE_REQUESTS_PER_ADDRESS };
    match state.identity.rate_limit(&key, free, crate::now().unix_timestamp()).await {
        Ok(None) => None,
        Ok(Some(wait)) => Some(too_many(state, headers, wait)),
        Err(e) => Some(internal(&e)),
    }
}

pub(crate) fn too_many(state: &AppState, headers: &HeaderMap, wait: i64) -> Response {
    let lang = crate::pages::lang(headers, None);
    let text = match lang {
        Lang::Vi => format!("Có quá nhiều yêu cầu từ địa chỉ này. Hãy thử lại sau {wait} giây."),
        Lang::En => format!("Too many requests from this address. Try again in {wait} seconds."),
    };
    let mut response = message_page(state, headers, lang, StatusCode::TOO_MANY_REQUESTS, "error.page", &text);
    if let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Form(form): Form<RegisterForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return csrf_refused(lang);
    }
    if let Some(refused) = address_throttled(&state, &headers, &ext, "register").await {
        return refused;
    }
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let result = state
        .identity
        .register_online(
            &v(&form.pid),
            &v(&form.full_name),
            &v(&form.birth_date),
            &v(&form.phone),
            form.email.as_deref(),
            crate::now(),
        )
        .await;
    match result {
        Ok(()) => {
            Redirect::to(&format!("/activate?pid={}", crate::pages::url_escape(v(&form.pid).trim()))).into_response()
        }
        Err(e) => match account_error_text(lang, &e) {
            Some((f, m)) => {
                render_register(&state, &headers, lang, &form, &[(f, &m)], StatusCode::UNPROCESSABLE_ENTITY)
            }
            None => internal(&e),
        },
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct CodeForm {
    pid: Option<String>,
    code: Option<String>,
    password: Option<String>,
    phone: Option<String>,
    csrf: Option<String>,
}

fn render_code_form(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    action: &str,
    pid: &str,
    errors: &[(&str, &str)],
    status: StatusCode,
) -> Response {
    let t = |k| lang.t(k);
    let mut password = field("password", t("password.new"), "password", "new-password", "");
    password.hint = Some(t("password.hint"));
    let fields = [
        field("pid", t("pid"), "text", "username", pid),
        field("code", t("code"), "text", "one-time-code", ""),
        password,
    ];
    let (title, intro) = if action == "/activate" { ("activate", "activate.intro") } else { ("reset", "reset.intro") };
    form_page(
        state,
        headers,
        lang,
        status,
        t(title),
        html! { p { (t(intro)) } },
        action,
        &[],
        &fields,
        errors,
        t("save"),
        html! {},
    )
}

async fn activate_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<FlowQuery>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    render_code_form(&state, &headers, lang, "/activate", q.pid.as_deref().unwrap_or_default(), &[], StatusCode::OK)
}

async fn reset_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<FlowQuery>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    render_code_form(&state, &headers, lang, "/reset", q.pid.as_deref().unwrap_or_default(), &[], StatusCode::OK)
}

async fn activate(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Form(form): Form<CodeForm>,
) -> Response {
    code_action(state, headers, ext, form, "/activate").await
}

async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Form(form): Form<CodeForm>,
) -> Response {
    code_action(state, headers, ext, form, "/reset").await
}

async fn code_action(state: AppState, headers: HeaderMap, ext: Extensions, form: CodeForm, action: &str) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return csrf_refused(lang);
    }
    if let Some(refused) = address_throttled(&state, &headers, &ext, "code").await {
        return refused;
    }
    let pid = form.pid.unwrap_or_default().trim().to_owned();
    let code = form.code.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let result = if action == "/activate" {
        state.identity.activate(&pid, &code, &password, crate::now()).await
    } else {
        state.identity.reset_password(&pid, &code, &password, crate::now()).await
    };
    match result {
        Ok(()) => {
            let key = if action == "/activate" { "activate.done" } else { "reset.done" };
            message_page(&state, &headers, lang, StatusCode::OK, key, lang.t(&format!("{key}_text")))
        }
        Err(e) => match account_error_text(lang, &e) {
            Some((f, m)) => {
                render_code_form(&state, &headers, lang, action, &pid, &[(f, &m)], StatusCode::UNPROCESSABLE_ENTITY)
            }
            None => internal(&e),
        },
    }
}

async fn forgot_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<FlowQuery>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    render_forgot(&state, &headers, lang, "", "", &[], StatusCode::OK)
}

fn render_forgot(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    pid: &str,
    phone: &str,
    errors: &[(&str, &str)],
    status: StatusCode,
) -> Response {
    let t = |k| lang.t(k);
    let fields = [field("pid", t("pid"), "text", "username", pid), field("phone", t("phone"), "tel", "tel", phone)];
    form_page(
        state,
        headers,
        lang,
        status,
        t("forgot"),
        html! { p { (t("forgot.intro")) } },
        "/forgot",
        &[],
        &fields,
        errors,
        t("forgot.submit"),
        html! {},
    )
}

async fn forgot(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Form(form): Form<CodeForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return csrf_refused(lang);
    }
    if let Some(refused) = address_throttled(&state, &headers, &ext, "forgot").await {
        return refused;
    }
    let pid = form.pid.unwrap_or_default();
    let phone = form.phone.unwrap_or_default();
    match state.identity.start_password_reset(&pid, &phone, crate::now()).await {
        Ok(()) => Redirect::to(&format!("/reset?pid={}", crate::pages::url_escape(pid.trim()))).into_response(),
        Err(e) => match account_error_text(lang, &e) {
            Some((f, m)) => {
                render_forgot(&state, &headers, lang, &pid, &phone, &[(f, &m)], StatusCode::UNPROCESSABLE_ENTITY)
            }
            None => internal(&e),
        },
    }
}

// ----- the citizen's account page -----

async fn account_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<FlowQuery>) -> Response {
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
        civitas_store::access_log::for_subject(&state.db, &pid, 20).await,
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
    let officer = matches!(state.identity.officer_role(&pid).await, Ok(Some(_)));
    let (csrf, fresh) = csrf_of(&state, &headers);
    let here = session.sid();
    let body = html! {
        (crate::service_pages::citizen_nav(lang))
        h1 { (t("account.title")) }
        @if let Some(p) = &person { p class="lead" { (p.full_name) } }
        dl class="facts" {
            dt { (t("pid")) } dd { (pid) }
            dt { (t("account.level")) } dd { (if account.level >= 2 { t("level.2") } else { t("level.1") }) }
            dt { (t("account.state")) } dd { (lang.t(&format!("state.{}", account.state.as_str()))) }
            dt { (t("phone")) } dd { (account.phone.clone().unwrap_or_else(|| t("none").into())) }
            dt { (t("account.second_factor")) } dd { (if account.has_totp { t("yes") } else { t("no") }) }
            dt { (t("account.session_level")) } dd { (if session.level >= 2 { t("level.2") } else { t("level.1") }) }
        }
        @if officer { p { a href="/officer/search" { (t("officer.console")) } } }
        h2 { (t("account.sessions")) }
        table {
            thead { (table_head(lang, &["account.started", "account.device", "account.address", "account.level", "account.action"])) }
            tbody {
                @for s in &sessions {
                    tr {
                        td { (s.created_at) @if s.sid() == here { " " strong { (t("account.this_device")) } } }
                        td { (s.user_agent) }
                        td { (s.ip) }
                        td { (s.level) }
                        td {
                            form method="post" action="/account/sessions/end" class="inline" {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="sid" value=(s.sid());
                                button type="submit" class="link" { (t("account.end")) }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action="/account/sessions/end-all" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { (t("account.end_all")) }
        }
        h2 { (t("account.consents")) }
        @if consents.is_empty() { p { (t("account.no_consents")) } } @else {
            table {
                thead { (table_head(lang, &["account.client", "account.scopes", "account.granted", "account.action"])) }
                tbody {
                    @for (client_id, name, scopes, at) in &consents {
                        tr {
                            td { (name) } td { (scopes) } td { (at) }
                            td {
                                form method="post" action="/account/consents/revoke" class="inline" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="client_id" value=(client_id);
                                    button type="submit" class="link" { (t("account.revoke")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (t("account.reads")) }
        @if reads.is_empty() { p { (t("account.no_reads")) } } @else {
            table {
                thead { (table_head(lang, &["time", "actor", "account.purpose", "account.fields"])) }
                tbody { @for r in &reads { tr { td { (r.at) } td { (r.actor) " (" (r.role) ")" } td { (r.purpose.clone().unwrap_or_default()) } td { (r.fields) } } } }
            }
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
async fn own_session(state: &AppState, headers: &HeaderMap, csrf: Option<&str>) -> Result<Session, Response> {
    let lang = crate::pages::lang(headers, None);
    if !csrf_ok(state, headers, csrf.unwrap_or_default()) {
        return Err(csrf_refused(lang));
    }
    browser_session(state, headers).await.map(|(_, s)| s).ok_or_else(|| Redirect::to("/signin").into_response())
}

async fn revoke_consent(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<AccountForm>) -> Response {
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

async fn end_session(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<AccountForm>) -> Response {
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

async fn end_all(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<AccountForm>) -> Response {
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

async fn lock_own(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<AccountForm>) -> Response {
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

async fn register_child(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<ChildForm>) -> Response {
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

// ----- officers' account desk -----

async fn officer_account_page(
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

async fn render_officer_account(
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
        @if let Some(n) = notice { div class="notice" role="status" { (n) } }
        form method="get" action="/officer/accounts" role="search" {
            (inputs(&[field("pid", t("pid"), "text", "off", pid)], &all_errors))
            button type="submit" { (t("search.submit")) }
        }
        @if let Some((person, account)) = &found {
            h2 { (person.full_name) }
            @match account {
                None => p { (t("officer.no_account")) },
                Some(a) => {
                    dl class="facts" {
                        dt { (t("account.level")) } dd { (if a.level >= 2 { t("level.2") } else { t("level.1") }) }
                        dt { (t("account.state")) } dd { (lang.t(&format!("state.{}", a.state.as_str()))) @if let Some(r) = &a.state_reason { " (" (r) ")" } }
                        dt { (t("phone")) } dd { (a.phone.clone().unwrap_or_default()) }
                        @if let (Some(by), Some(at)) = (&a.level2_by, &a.level2_at) {
                            dt { (t("officer.level2_by")) } dd { (by) ", " (a.level2_place.clone().unwrap_or_default()) ", " (at) }
                        }
                    }
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

async fn officer_action(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<OfficerForm>) -> Response {
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
async fn dev_outbox(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<OutboxQuery>) -> Response {
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
        table {
            thead { (table_head(lang, &["time", "outbox.to", "outbox.subject", "outbox.body"])) }
            tbody { @for m in &messages { tr { td { (m.created_at) } td { (m.channel) ": " (m.recipient) } td { (m.subject) } td { (m.body) } } } }
        }
    };
    let ctx = PageContext { lang, title: lang.t("outbox.title"), caller: None, csrf: None, path: "/dev/outbox" };
    page(StatusCode::OK, layout(&ctx, body), None, None)
}
