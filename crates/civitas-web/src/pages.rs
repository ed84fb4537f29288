//! Server-rendered officer pages (Vietnamese by default, `?lang=en` for English): sign-in with
//! an access token, people search, a person with household and history.
//!
//! Until the OpenID Connect provider exists, officers sign in by pasting a token issued by
//! `civitas token`; it is kept in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` unless served
//! on loopback http). Every form carries a CSRF token (double-submit cookie).

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use civitas_core::PartialDate;
use civitas_registry::{Person, Residence};

use crate::AppState;
use crate::api::{log_reads, may_read, search_query};
use crate::auth::{Caller, caller_from_token};
use crate::i18n::Lang;

const SESSION_COOKIE: &str = "civitas_session";
const CSRF_COOKIE: &str = "civitas_csrf";
const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("civitas.js");

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/", get(|| async { Redirect::to("/account") }))
        .route(
            "/static/style.css",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], STYLE)
            }),
        )
        .route(
            "/static/civitas.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")],
                    SCRIPT,
                )
            }),
        )
        .route("/signin/token", get(signin_page).post(signin))
        .route("/signout", axum::routing::post(signout))
        .route("/officer/search", get(search_page))
        .route("/officer/people/{pid}", get(person_page))
        .into_router()
}

pub(crate) use crate::cookies::cookie;

#[derive(Debug, Deserialize, Default)]
pub struct LangParam {
    lang: Option<String>,
}

/// The page language: `?lang=` first, then the `lang` cookie, else Vietnamese.
pub(crate) fn lang(headers: &HeaderMap, param: Option<&str>) -> Lang {
    param.and_then(Lang::parse).or_else(|| cookie(headers, "lang").and_then(Lang::parse)).unwrap_or(Lang::Vi)
}

pub(crate) fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let value = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

fn new_csrf() -> String {
    let mut bytes = [0u8; 24];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The MAC half of a form's CSRF token: HMAC of the browser's CSRF nonce (its cookie) and of
/// the session the browser holds (the provider's session cookie and an officer's token
/// cookie), keyed by a server secret. A token is therefore bound to one browser *and* one
/// session: a cookie planted by a sibling host, or a form of another session, does not pass.
fn csrf_mac(state: &AppState, nonce: &str, headers: &HeaderMap) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, state.identity.csrf_key());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(nonce.as_bytes());
    for name in [crate::cookies::SID_COOKIE, SESSION_COOKIE] {
        ctx.update(b"\0");
        ctx.update(cookie(headers, name).unwrap_or_default().as_bytes());
    }
    URL_SAFE_NO_PAD.encode(&ctx.sign().as_ref()[..18])
}

/// Checks a submitted CSRF token against this request's cookies (constant time).
pub(crate) fn csrf_ok(state: &AppState, headers: &HeaderMap, submitted: &str) -> bool {
    let Some(nonce) = cookie(headers, CSRF_COOKIE).filter(|n| n.len() >= 16) else { return false };
    let Some((sent_nonce, sent_mac)) = submitted.split_once('.') else { return false };
    let expected = format!("{nonce}.{}", csrf_mac(state, nonce, headers));
    let given = format!("{sent_nonce}.{sent_mac}");
    // Compared by hash, so the time taken does not reveal a common prefix.
    Sha256::digest(expected.as_bytes()) == Sha256::digest(given.as_bytes())
}

pub(crate) struct PageContext<'a> {
    pub lang: Lang,
    pub title: &'a str,
    pub caller: Option<&'a Caller>,
    pub csrf: Option<&'a str>,
    pub path: &'a str,
}

pub(crate) fn layout(ctx: &PageContext, body: Markup) -> Markup {
    let t = |k| ctx.lang.t(k);
    let other = ctx.lang.other();
    let sep = if ctx.path.contains('?') { '&' } else { '?' };
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (ctx.title) " · civitas" }
                link rel="stylesheet" href="/static/style.css";
                meta name="theme-color" content="#9b1c1c";
            }
            body {
                a class="skip" href="#main" { (t("skip")) }
                header class="top" {
                    div class="bar" {
                        div class="brand" {
                            a href="/" {
                                span class="emblem" aria-hidden="true" { "★" }
                                span { (t("app")) span class="service" { (crate::i18n::tr(ctx.lang, "Dịch vụ công và định danh điện tử", "Public services and electronic identity")) } }
                            }
                        }
                        nav aria-label="Menu" {
                            a href=(format!("{}{}lang={}", ctx.path, sep, other.code())) lang=(other.code()) hreflang=(other.code()) { (t("switch")) }
                            @if let (Some(c), Some(csrf)) = (ctx.caller, ctx.csrf) {
                                span class="who" { (t("signed_in_as")) ": " (c.claims.sub) " · " (t("unit")) ": " (c.unit_label()) }
                                form method="post" action="/signout" class="inline" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" class="link" { (t("signout")) }
                                }
                            }
                        }
                    }
                }
                main id="main" { (body) }
                footer class="bottom" { div { (crate::i18n::tr(ctx.lang, "Đề án 06 · Hệ thống thông tin giải quyết thủ tục hành chính", "Project 06 · Administrative procedure system")) } }
                script src="/static/civitas.js" defer {}
            }
        }
    }
}

pub(crate) fn page(
    status: StatusCode,
    markup: Markup,
    lang_cookie: Option<(Lang, &AppState)>,
    csrf: Option<(&str, &AppState)>,
) -> Response {
    let mut response =
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        // Images may also be inline `data:` (the remote review's selfie and chip portrait, kept
        // out of any URL); scripts, styles and everything else stay same-origin.
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    if let Some((lang, state)) = lang_cookie {
        headers.append(header::SET_COOKIE, set_cookie(state, "lang", lang.code(), 31_536_000));
    }
    if let Some((csrf, state)) = csrf {
        // The cookie holds the nonce; the form holds nonce and MAC.
        let nonce = csrf.split('.').next().unwrap_or_default();
        headers.append(header::SET_COOKIE, set_cookie(state, CSRF_COOKIE, nonce, 86_400));
    }
    response
}

/// The signed-in officer, or a redirect to the sign-in page: a level-2 session at the provider
/// of an account holder with an officer role, or (for scripts and the interim set-up) a pasted
/// `civitas token`.
pub(crate) async fn page_caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let to_signin = || Redirect::to("/signin").into_response();
    if let Some((_, session)) = crate::cookies::browser_session(state, headers).await {
        let forbidden = || {
            let lang = lang(headers, None);
            message_page(state, headers, lang, StatusCode::FORBIDDEN, "forbidden", lang.t("officer.not_officer"))
        };
        let Ok(Some((role, units))) = state.identity.officer_role(&session.pid).await else { return Err(forbidden()) };
        if session.level < 2 {
            return Err(Redirect::to("/signin/otp").into_response());
        }
        let claims = civitas_identity::Claims {
            iss: state.identity.issuer.clone(),
            sub: session.pid.clone(),
            role,
            units,
            iat: session.auth_time,
            exp: session.expires_at,
            jti: session.sid(),
            fam: None,
        };
        let units = claims.unit_codes();
        if units.is_empty() {
            return Err(forbidden());
        }
        return Ok(Caller {
            claims,
            units,
            purpose: Some("officer-console".into()),
            request_id: None,
            how: "page",
            exchange: None,
        });
    }
    let token = cookie(headers, SESSION_COOKIE).ok_or_else(to_signin)?;
    let mut caller =
        caller_from_token(state, token, Some("officer-console".into()), None).await.map_err(|_| to_signin())?;
    caller.how = "page";
    // Agency systems call the API with a stated purpose; they never use the officer console.
    if caller.role() == civitas_identity::Role::AgencySystem {
        return Err(to_signin());
    }
    Ok(caller)
}

/// A page with a title and one paragraph (errors, confirmations).
pub(crate) fn message_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    status: StatusCode,
    title_key: &str,
    text: &str,
) -> Response {
    let (csrf, fresh) = csrf_of(state, headers);
    let title = lang.t(title_key);
    let body = html! { h1 { (title) } p { (text) } p { a href="/account" { (lang.t("account.home")) } } };
    let ctx = PageContext { lang, title, caller: None, csrf: None, path: "/account" };
    page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

/// Asks the user to confirm a sign-out requested by a client without a matching ID token.
pub(crate) fn logout_confirm_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    params: &std::collections::HashMap<String, String>,
) -> Response {
    let (csrf, fresh) = csrf_of(state, headers);
    let t = |k| lang.t(k);
    let body = html! {
        h1 { (t("logout.confirm")) }
        p { (t("logout.confirm_text")) }
        form method="post" action="/oauth2/logout" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="confirm" value="1";
            @for key in ["post_logout_redirect_uri", "state", "client_id", "ui_locales"] {
                @if let Some(v) = params.get(key) { input type="hidden" name=(key) value=(v); }
            }
            button type="submit" { (t("signout")) }
        }
    };
    let ctx = PageContext { lang, title: t("logout.confirm"), caller: None, csrf: None, path: "/oauth2/logout" };
    page(StatusCode::OK, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

/// The CSRF token of this browser's forms (`nonce.mac`, see [`csrf_mac`]), creating the nonce
/// when there is none (`true`: the page must set the cookie).
pub(crate) fn csrf_of(state: &AppState, headers: &HeaderMap) -> (String, bool) {
    let (nonce, fresh) = match cookie(headers, CSRF_COOKIE) {
        Some(v) if v.len() >= 16 && !v.contains('.') => (v.to_owned(), false),
        _ => (new_csrf(), true),
    };
    let mac = csrf_mac(state, &nonce, headers);
    (format!("{nonce}.{mac}"), fresh)
}

pub(crate) use crate::ui::error_summary;

async fn signin_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangParam>) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    render_signin(&state, &headers, lang, &[], StatusCode::OK, q.lang.is_some())
}

fn render_signin(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    errors: &[(&str, &str)],
    status: StatusCode,
    remember_lang: bool,
) -> Response {
    let (csrf, fresh) = csrf_of(state, headers);
    let t = |k| lang.t(k);
    let body = html! {
        h1 { (t("signin")) }
        (error_summary(lang, errors))
        form method="post" action="/signin/token" novalidate {
            input type="hidden" name="csrf" value=(csrf);
            @let error = errors.first().map(|(_, m)| *m);
            (crate::ui::field("token", "token", html! { (t("signin.token")) }, Some(t("signin.hint")), error, html! {
                textarea id="token" name="token" rows="4" autocomplete="off" spellcheck="false"
                    aria-describedby=[crate::ui::described_by("token", true, error.is_some())] {}
            }))
            button type="submit" { (t("signin.submit")) }
        }
    };
    let ctx = PageContext { lang, title: t("signin"), caller: None, csrf: None, path: "/signin/token" };
    page(status, layout(&ctx, body), remember_lang.then_some((lang, state)), fresh.then_some((csrf.as_str(), state)))
}

#[derive(Debug, Deserialize)]
pub struct SigninForm {
    token: Option<String>,
    csrf: Option<String>,
}

async fn signin(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<SigninForm>) -> Response {
    let lang = lang(&headers, None);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return (StatusCode::FORBIDDEN, "CSRF token missing or wrong: reload the sign-in page").into_response();
    }
    let token = form.token.unwrap_or_default().trim().to_owned();
    if token.is_empty() {
        return render_signin(
            &state,
            &headers,
            lang,
            &[("token", lang.t("signin.empty"))],
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
        );
    }
    match caller_from_token(&state, &token, None, None).await {
        Ok(caller) if caller.role() != civitas_identity::Role::AgencySystem => {
            let max_age = (caller.claims.exp - crate::now().unix_timestamp()).max(0);
            let mut response = Redirect::to("/officer/search").into_response();
            response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, &token, max_age));
            response
        }
        _ => render_signin(
            &state,
            &headers,
            lang,
            &[("token", lang.t("signin.invalid"))],
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

async fn signout(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return (StatusCode::FORBIDDEN, "CSRF token missing or wrong").into_response();
    }
    if let Some(token) = cookie(&headers, crate::cookies::SID_COOKIE)
        && let Err(e) = state.identity.end_session(token, crate::now().unix_timestamp()).await
    {
        return crate::problem::internal(&e).into_response();
    }
    let mut response = Redirect::to("/signin").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", 0));
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, crate::cookies::SID_COOKIE, "", 0));
    response
}

#[derive(Debug, Deserialize, Default)]
pub struct SearchForm {
    q: Option<String>,
    birth_year: Option<String>,
    commune: Option<String>,
    lang: Option<String>,
}

pub(crate) fn residence_text(r: &Residence) -> String {
    r.full_text()
}

pub(crate) fn date_text(d: &PartialDate) -> String {
    d.vn_text()
}

async fn search_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(form): Query<SearchForm>,
    Query(all): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let lang = lang(&headers, form.lang.as_deref());
    let caller = match page_caller(&state, &headers).await {
        Ok(c) => c,
        Err(redirect) => return redirect,
    };
    let (csrf, fresh) = csrf_of(&state, &headers);
    let t = |k| lang.t(k);
    let submitted = form.q.is_some();
    let mut errors: Vec<(&str, &str)> = Vec::new();
    let mut results: Option<Vec<Person>> = None;
    if submitted {
        // The commune is typed by name (or code); one commune within the officer's units must
        // answer to it (Phường Ba Đình of Hà Nội, not Xã Ba Đình of Thanh Hóa).
        let scope = caller.communes();
        let commune = form.commune.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(|typed| {
            let found = match civitas_core::AdminUnits::get().resolve_commune(typed, None) {
                Ok(one) => vec![one],
                Err(several) => several,
            };
            let mine: Vec<_> = found.iter().filter(|c| scope.binary_search(&c.code).is_ok()).collect();
            match mine.as_slice() {
                [one] => one.code.clone(),
                _ => typed.to_owned(),
            }
        });
        match search_query(&caller, form.q.as_deref(), form.birth_year.as_deref(), commune.as_deref(), Some(50)) {
            Ok(query) => match state.register.search(&query, Some(&scope)).await {
                Ok(found) => {
                    let pids: Vec<&str> = found.iter().map(|p| p.pid.as_str()).collect();
                    if let Err(p) = log_reads(&state, &caller, &pids, &["search-result"]).await {
                        return p.into_response();
                    }
                    results = Some(found);
                }
                Err(e) => return crate::problem::Problem::from(e).into_response(),
            },
            Err(problem) => {
                let (field, key) = match problem.type_.rsplit(':').next().unwrap_or_default() {
                    "invalid-birth-year" => ("birth_year", "search.bad_year"),
                    "invalid-commune" | "forbidden" => ("commune", "search.bad_commune"),
                    _ => ("q", "search.short"),
                };
                errors.push((field, t(key)));
            }
        }
    }
    let field_error = |name: &str| errors.iter().find(|(f, _)| *f == name).map(|(_, m)| *m);
    let body = html! {
        h1 { (t("search")) }
        (error_summary(lang, &errors))
        form method="get" action="/officer/search" class="search" role="search" {
            (crate::ui::TextInput::new("q", t("search.name"), form.q.as_deref().unwrap_or_default()).hint(Some(t("search.name.hint"))).error(field_error("q")).render())
            (crate::ui::TextInput::new("birth_year", t("search.year"), form.birth_year.as_deref().unwrap_or_default()).numeric().width("w4").error(field_error("birth_year")).render())
            (crate::ui::TextInput::new("commune", t("search.commune"), form.commune.as_deref().unwrap_or_default()).width("w20").commune_picker(None).autocomplete("off").error(field_error("commune")).render())
            button type="submit" { (t("search.submit")) }
        }
        @if let Some(found) = &results {
            h2 { (t("search.results")) " (" (found.len()) ")" }
            @if found.is_empty() {
                p { (t("search.none")) }
            } @else {
                (crate::ui::Table {
                    id: "results",
                    caption: None,
                    columns: vec![
                        crate::ui::Column::sortable(t("full_name")),
                        crate::ui::Column::plain(t("pid")),
                        crate::ui::Column::sortable(t("birth_date")),
                        crate::ui::Column::plain(t("sex")),
                        crate::ui::Column::sortable(t("permanent")),
                    ],
                    rows: found.iter().map(|p| {
                        let residence = p.permanent_residence.as_ref().map(residence_text).unwrap_or_default();
                        crate::ui::Row {
                            keys: vec![civitas_core::text::fold(&p.full_name), String::new(), p.birth_date.to_string(), String::new(), residence.clone()],
                            cells: vec![
                                html! { a href=(format!("/officer/people/{}", p.pid)) { (p.full_name) } },
                                html! { (p.pid) },
                                html! { (lang.partial_date(&p.birth_date)) },
                                html! { (p.sex.label(lang.code())) },
                                html! { (residence) },
                            ],
                        }
                    }).collect(),
                    path: "/officer/search",
                    keep: Vec::new(),
                    prefix: "",
                    // Every result is shown (and logged as read): sorting, no pages.
                    page_size: 50,
                }.render_for(lang, &all))
            }
        }
    };
    let path = format!(
        "/officer/search{}",
        if submitted { format!("?q={}", form.q.as_deref().map(url_escape).unwrap_or_default()) } else { String::new() }
    );
    let ctx = PageContext { lang, title: t("search"), caller: Some(&caller), csrf: Some(&csrf), path: &path };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page(
        status,
        layout(&ctx, body),
        form.lang.is_some().then_some((lang, &state)),
        fresh.then_some((csrf.as_str(), &state)),
    )
}

pub(crate) fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn person_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Query(q): Query<LangParam>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    let caller = match page_caller(&state, &headers).await {
        Ok(c) => c,
        Err(redirect) => return redirect,
    };
    let (csrf, fresh) = csrf_of(&state, &headers);
    let t = |k| lang.t(k);
    let path = format!("/officer/people/{}", url_escape(&raw));
    let ctx = PageContext { lang, title: t("person"), caller: Some(&caller), csrf: Some(&csrf), path: &path };
    let message = |status: StatusCode, title: &str, text: &str| {
        let body = html! { h1 { (title) } p { (text) } p { a href="/officer/search" { (t("back")) } } };
        page(status, layout(&PageContext { title, ..ctx }, body), None, fresh.then_some((csrf.as_str(), &state)))
    };
    let pid = match civitas_core::Pid::parse(&raw) {
        Ok(pid) => pid,
        Err(e) => return message(StatusCode::BAD_REQUEST, t("bad_pid"), &e.to_string()),
    };
    let person = match state.register.get(&pid).await {
        Ok(Some(p)) => p,
        Ok(None) => return message(StatusCode::NOT_FOUND, t("not_found"), t("not_found.person")),
        Err(e) => return crate::problem::Problem::from(e).into_response(),
    };
    if !may_read(&caller, &person) {
        return message(StatusCode::FORBIDDEN, t("forbidden"), t("forbidden.unit"));
    }
    let household = match &person.household_id {
        Some(id) => state.register.household(id).await.ok().flatten(),
        None => None,
    };
    let history = state.register.history(&pid).await.ok().flatten().unwrap_or_default();
    let mut pids = vec![person.pid.as_str().to_owned()];
    if let Some(h) = &household {
        pids.extend(h.members.iter().map(|m| m.pid.as_str().to_owned()).filter(|p| p != person.pid.as_str()));
    }
    let refs: Vec<&str> = pids.iter().map(String::as_str).collect();
    if let Err(p) = log_reads(&state, &caller, &refs, &["record", "household", "history"]).await {
        return p.into_response();
    }
    let none = t("none");
    let rows: Vec<(&str, String)> = vec![
        ("pid", person.pid.to_string()),
        ("full_name", person.full_name.clone()),
        ("birth_date", lang.partial_date(&person.birth_date)),
        ("sex", person.sex.label(lang.code()).to_owned()),
        ("ethnicity", person.ethnicity.name().to_owned()),
        ("religion", person.religion.clone()),
        ("nationality", person.nationality.clone()),
        ("hometown", person.hometown.clone().unwrap_or_else(|| none.into())),
        ("marital", person.marital_status.label(lang.code()).to_owned()),
        ("status", person.status.label(lang.code()).to_owned()),
        ("permanent", person.permanent_residence.as_ref().map(residence_text).unwrap_or_else(|| none.into())),
        (
            "temporary",
            person
                .temporary_residence
                .as_ref()
                .map(|r| residence_text(&Residence { commune: r.commune.clone(), address: r.address.clone() }))
                .unwrap_or_else(|| none.into()),
        ),
        ("current", person.current_residence.as_ref().map(residence_text).unwrap_or_else(|| none.into())),
    ];
    let body = html! {
        p { a href="/officer/search" { (t("back")) } }
        h1 { (person.full_name) }
        (crate::ui::summary_list(None, &rows.iter().map(|(k, v)| (t(k), html! { (v) })).collect::<Vec<_>>()))
        @if let Some(h) = &household {
            h2 { (t("household")) " " (h.id) }
            (crate::ui::Table::simple(
                "household",
                &[t("full_name"), t("pid"), t("birth_date"), t("relation")],
                h.members.iter().map(|m| vec![
                    html! { a href=(format!("/officer/people/{}", m.pid)) { (m.full_name) } },
                    html! { (m.pid) },
                    html! { (lang.partial_date(&m.birth_date)) },
                    html! { (m.relation_to_head.label(lang.code())) },
                ]).collect(),
            ))
        }
        h2 { (t("history")) }
        (crate::ui::Table::simple(
            "history",
            &[t("version"), t("time"), t("change"), t("actor"), t("basis")],
            history.iter().map(|r| vec![
                html! { (r.version) },
                html! { (lang.time(&r.at)) },
                html! { (r.change) },
                html! { (r.actor) },
                html! { (r.legal_basis.basis) @if let Some(d) = &r.legal_basis.document_ref { " (" (d) ")" } },
            ]).collect(),
        ))
    };
    page(
        StatusCode::OK,
        layout(&ctx, body),
        q.lang.is_some().then_some((lang, &state)),
        fresh.then_some((csrf.as_str(), &state)),
    )
}

/// The citizen's navigation between the service pages and the account.
pub(crate) fn citizen_nav(lang: Lang) -> Markup {
    let tr = |vi, en| crate::i18n::tr(lang, vi, en);
    crate::ui::sub_nav(
        tr("Dịch vụ", "Services"),
        &[
            ("/services", tr("Dịch vụ công", "Public services")),
            ("/my/dossiers", tr("Hồ sơ của tôi", "My dossiers")),
            ("/my/documents", tr("Kho dữ liệu của tôi", "My documents")),
            ("/account", tr("Tài khoản", "Account")),
        ],
    )
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
