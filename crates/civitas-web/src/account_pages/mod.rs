//! The e-ID pages: sign-in (ID number + password), the second-factor step, consent, online
//! registration and activation, forgotten password, the citizen's account page (level, sessions,
//! consents, who read my data), the officers' account desk (look up, raise to level 2, lock,
//! unlock), and the development outbox. Vietnamese by default, English on request; every form
//! carries a CSRF token; errors are listed in a summary and next to their fields.

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use civitas_identity::accounts::{AccountError, SignInFailure};
use civitas_identity::{AccountState, Session};

use crate::AppState;
use crate::cookies::{SID_COOKIE, browser_session};
use crate::i18n::Lang;
use crate::pages::{PageContext, csrf_of, csrf_ok, error_summary, layout, message_page, page, page_caller, set_cookie};

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
            (crate::ui::TextInput::new(f.name, f.label, f.value).kind(f.kind).autocomplete(f.autocomplete).hint(f.hint).error(error).render())
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

pub(crate) use crate::auth::client_ip;

#[cfg(test)]
mod tests {
    use crate::auth::client_address;

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

mod account;
mod desk;
mod registration;
mod signin;

use account::*;
use desk::*;
use registration::*;
use signin::*;

pub(crate) use crate::pages::too_many;
