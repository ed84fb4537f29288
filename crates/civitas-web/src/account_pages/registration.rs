//! Online registration, activation by SMS code, forgotten passwords and resets, with the
//! per-address limits on asking for and trying codes.

use super::*;

// ----- registration, activation, password reset -----

pub(super) fn account_error_text(lang: Lang, e: &AccountError) -> Option<(&'static str, String)> {
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

pub(super) async fn register_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
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

pub(super) fn render_register(
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
pub(super) const FREE_CODE_REQUESTS_PER_ADDRESS: i64 = 10;

/// Counts a request of `kind` (sending an SMS, or trying a code) from this client address; a
/// "try later" page when the address is blocked.
pub(super) async fn address_throttled(
    state: &AppState,
    headers: &HeaderMap,
    ext: &Extensions,
    kind: &str,
) -> Option<Response> {
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

pub(super) async fn register(
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
    // Typed as Vietnamese forms write it (15/03/1990); stored ISO. What is not a date goes on
    // as typed and is refused with the field named.
    let typed = v(&form.birth_date);
    let birth = civitas_core::PartialDate::parse_vn(&typed).map(|d| d.to_string()).unwrap_or(typed);
    let result = state
        .identity
        .register_online(
            &v(&form.pid),
            &v(&form.full_name),
            &birth,
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

pub(super) fn render_code_form(
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

pub(super) async fn activate_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    render_code_form(&state, &headers, lang, "/activate", q.pid.as_deref().unwrap_or_default(), &[], StatusCode::OK)
}

pub(super) async fn reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    render_code_form(&state, &headers, lang, "/reset", q.pid.as_deref().unwrap_or_default(), &[], StatusCode::OK)
}

pub(super) async fn activate(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Form(form): Form<CodeForm>,
) -> Response {
    code_action(state, headers, ext, form, "/activate").await
}

pub(super) async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Form(form): Form<CodeForm>,
) -> Response {
    code_action(state, headers, ext, form, "/reset").await
}

pub(super) async fn code_action(
    state: AppState,
    headers: HeaderMap,
    ext: Extensions,
    form: CodeForm,
    action: &str,
) -> Response {
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

pub(super) async fn forgot_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    render_forgot(&state, &headers, lang, "", "", &[], StatusCode::OK)
}

pub(super) fn render_forgot(
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

pub(super) async fn forgot(
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
