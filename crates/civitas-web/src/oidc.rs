//! OpenID Connect provider endpoints: discovery, JWKS, authorize (with PAR, RFC 9126), token,
//! userinfo, revocation (RFC 7009), introspection (RFC 7662) and RP-initiated logout. Errors
//! follow RFC 6749: JSON `{error, error_description}` from the back channel; redirects carrying
//! `error`, `state` and `iss` (RFC 9207) on the front channel once the redirect URI is trusted.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;

use civitas_identity::Client;
use civitas_identity::oidc::{AccessClaims, AuthRequest, OAuthError, basic_credentials};
use civitas_store::access_log::AccessRecord;

use crate::AppState;
use crate::pages::{self, lang};

pub use crate::cookies::SID_COOKIE;
use crate::cookies::browser_session;
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/jwks", get(jwks))
        .route("/oauth2/authorize", get(authorize_get).post(authorize_post))
        .route("/oauth2/continue", get(continue_get))
        .route("/oauth2/par", post(par))
        .route("/oauth2/token", post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/logout", get(logout_get).post(logout_post))
        .into_router()
}

fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn oauth_error(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response =
        (status, axum::Json(json!({ "error": e.error, "error_description": e.description }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"civitas\""));
    }
    no_store(response)
}

fn json_ok(value: impl serde::Serialize) -> Response {
    no_store((StatusCode::OK, axum::Json(value)).into_response())
}

async fn discovery(State(state): State<AppState>) -> Response {
    let iss = &state.identity.issuer;
    let body = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth2/authorize"),
        "pushed_authorization_request_endpoint": format!("{iss}/oauth2/par"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/userinfo"),
        "jwks_uri": format!("{iss}/oauth2/jwks"),
        "revocation_endpoint": format!("{iss}/oauth2/revoke"),
        "introspection_endpoint": format!("{iss}/oauth2/introspect"),
        "end_session_endpoint": format!("{iss}/oauth2/logout"),
        "scopes_supported": civitas_identity::oidc::SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": civitas_identity::oidc::GRANT_TYPES,
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [civitas_identity::accounts::ACR_LEVEL1, civitas_identity::accounts::ACR_LEVEL2],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "pid", "name",
            "family_name", "given_name", "birthdate", "gender", "address", "phone_number", "phone_number_verified", "email", "email_verified"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "require_pushed_authorization_requests": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "ui_locales_supported": ["vi", "en"],
    });
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
    response
}

async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = (StatusCode::OK, axum::Json(json!({ "keys": state.keys.jwks() }))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=60"));
    response
}

/// Builds `uri` with `params` added to its query.
pub(crate) fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

fn redirect_error(state: &AppState, redirect_uri: &str, client_state: Option<&str>, e: &OAuthError) -> Response {
    let mut params = vec![("error", e.error), ("error_description", e.description.as_str())];
    if let Some(s) = client_state {
        params.push(("state", s));
    }
    params.push(("iss", state.identity.issuer.as_str()));
    Redirect::to(&with_query(redirect_uri, &params)).into_response()
}

async fn authorize_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    authorize(state, headers, params).await
}

async fn authorize_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    authorize(state, headers, params).await
}

async fn authorize(state: AppState, headers: HeaderMap, params: HashMap<String, String>) -> Response {
    let now = crate::now().unix_timestamp();
    let lang = lang(&headers, params.get("ui_locales").and_then(|l| l.split_whitespace().next()));
    let local_error =
        |message: String| pages::message_page(&state, &headers, lang, StatusCode::BAD_REQUEST, "oidc.error", &message);
    if let Some(uri) = params.get("request_uri") {
        let Some(id) = uri.strip_prefix(REQUEST_URI_PREFIX) else {
            return local_error("request_uri must come from the pushed authorization request endpoint".into());
        };
        let Some(client_id) = params.get("client_id") else {
            return local_error("the request names no client_id".into());
        };
        let request = match state.identity.claim_pushed_request(id, client_id, now).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return local_error(
                    "the request_uri is unknown, expired, already used or pushed by another client".into(),
                );
            }
            Err(e) => return crate::problem::internal(&e).into_response(),
        };
        return continue_flow(&state, &headers, id, request).await;
    }
    match state.identity.validate_authorization(&params, now).await {
        Err(e) => local_error(e.0),
        Ok(Err((redirect_uri, client_state, e))) => redirect_error(&state, &redirect_uri, client_state.as_deref(), &e),
        Ok(Ok(request)) => match state.identity.save_request(&request, false, now).await {
            Ok(id) => continue_flow(&state, &headers, &id, request).await,
            Err(e) => crate::problem::internal(&e).into_response(),
        },
    }
}

#[derive(serde::Deserialize)]
pub struct ContinueQuery {
    r: String,
}

async fn continue_get(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ContinueQuery>) -> Response {
    let now = crate::now().unix_timestamp();
    match state.identity.stored_request(&q.r, now).await {
        Ok(Some(request)) => continue_flow(&state, &headers, &q.r, request).await,
        Ok(None) => {
            let lang = lang(&headers, None);
            pages::message_page(&state, &headers, lang, StatusCode::BAD_REQUEST, "oidc.error", lang.t("oidc.expired"))
        }
        Err(e) => crate::problem::internal(&e).into_response(),
    }
}

/// Decides the next step of an authorization request: sign in, second factor, consent, or the
/// redirect back to the client with a code.
pub(crate) async fn continue_flow(state: &AppState, headers: &HeaderMap, id: &str, request: AuthRequest) -> Response {
    let now = crate::now().unix_timestamp();
    let prompt_none = request.prompt.iter().any(|p| p == "none");
    let fail = |error: &'static str, d: &str| {
        let _ = &state;
        redirect_error(state, &request.redirect_uri, request.state.as_deref(), &OAuthError::new(error, d))
    };
    let session = browser_session(state, headers).await.map(|(_, s)| s);
    let Some(session) = session else {
        if prompt_none {
            return fail("login_required", "the user is not signed in");
        }
        return Redirect::to(&format!("/signin?r={id}")).into_response();
    };
    if !state.identity.session_satisfies(&session, &request, now) {
        if prompt_none {
            return fail("login_required", "the session does not meet the request (level, max_age or prompt)");
        }
        if state.identity.fresh_sign_in_needed(&session, &request, now) {
            return Redirect::to(&format!("/signin?r={id}")).into_response();
        }
        // Step-up: the account must be level 2 with a second factor.
        match state.identity.account(&session.pid).await {
            Ok(Some(a)) if a.level >= request.level && a.has_totp => {
                return Redirect::to(&format!("/signin/otp?r={id}")).into_response();
            }
            Ok(_) => {
                let _ = state.identity.drop_request(id).await;
                return fail(
                    "unmet_authentication_requirements",
                    "the account does not have the requested assurance level (level 2 is raised at a police counter)",
                );
            }
            Err(e) => return crate::problem::internal(&e).into_response(),
        }
    }
    let missing = match state.identity.missing_consent(&session.pid, &request).await {
        Ok(m) => m,
        Err(e) => return crate::problem::internal(&e).into_response(),
    };
    let ask = !missing.is_empty() || request.prompt.iter().any(|p| p == "consent");
    if ask {
        if prompt_none {
            return fail("consent_required", "the user has not consented to the requested scopes");
        }
        return Redirect::to(&format!("/consent?r={id}")).into_response();
    }
    match state.identity.issue_code(id, &request, &session, now).await {
        Ok(code) => {
            let mut params = vec![("code", code.as_str())];
            if let Some(s) = &request.state {
                params.push(("state", s));
            }
            params.push(("iss", state.identity.issuer.as_str()));
            Redirect::to(&with_query(&request.redirect_uri, &params)).into_response()
        }
        Err(e) => crate::problem::internal(&e).into_response(),
    }
}

/// Authenticates the calling client: `client_secret_basic`, `client_secret_post`,
/// `private_key_jwt`, or none for a public client.
async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    endpoint: &str,
) -> Result<Client, OAuthError> {
    let now = crate::now().unix_timestamp();
    let invalid = |d: &str| Err(OAuthError::new("invalid_client", d));
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.to_ascii_lowercase().starts_with("basic "));
    let (client_id, method) = if let Some(h) = basic {
        let Some((id, secret)) = basic_credentials(h) else { return invalid("malformed Basic credentials") };
        (id, Some(("basic", secret)))
    } else if form.get("client_assertion_type").map(String::as_str) == Some(ASSERTION_TYPE) {
        let Some(assertion) = form.get("client_assertion") else { return invalid("client_assertion is missing") };
        let id = match form.get("client_id") {
            Some(id) => id.clone(),
            None => match unverified_issuer(assertion) {
                Some(iss) => iss,
                None => return invalid("the client assertion names no issuer"),
            },
        };
        (id, Some(("jwt", assertion.clone())))
    } else if let Some(id) = form.get("client_id") {
        (id.clone(), form.get("client_secret").map(|s| ("post", s.clone())))
    } else {
        return invalid("client authentication is required");
    };
    let Some(client) = state.identity.client(&client_id, now).await? else {
        return invalid("client authentication failed");
    };
    match method {
        Some(("basic" | "post", secret)) if client.checks_secret(&secret) => Ok(client),
        Some(("jwt", assertion)) => {
            let token_endpoint = format!("{}{endpoint}", state.identity.issuer);
            if state.identity.check_client_assertion(&client, &assertion, &token_endpoint, now).await? {
                Ok(client)
            } else {
                invalid("the client assertion is invalid, expired or was used before")
            }
        }
        None if !client.is_confidential() => Ok(client),
        _ => invalid("client authentication failed"),
    }
}

fn unverified_issuer(jwt: &str) -> Option<String> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss")?.as_str().map(str::to_owned)
}

async fn par(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let now = crate::now().unix_timestamp();
    let client = match authenticate_client(&state, &headers, &form, "/oauth2/par").await {
        Ok(c) => c,
        Err(e) => return oauth_error(e),
    };
    if form.contains_key("request_uri") {
        return oauth_error(OAuthError::new("invalid_request", "request_uri is not allowed in a pushed request"));
    }
    let mut params = form.clone();
    params.insert("client_id".into(), client.id.clone());
    match state.identity.validate_authorization(&params, now).await {
        Err(e) => oauth_error(OAuthError::new("invalid_request", e.0)),
        Ok(Err((_, _, e))) => oauth_error(e),
        Ok(Ok(request)) => match state.identity.save_request(&request, true, now).await {
            Ok(id) => no_store(
                (
                    StatusCode::CREATED,
                    axum::Json(json!({ "request_uri": format!("{REQUEST_URI_PREFIX}{id}"), "expires_in": civitas_identity::oidc::PAR_TTL })),
                )
                    .into_response(),
            ),
            Err(e) => oauth_error(e.into()),
        },
    }
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = crate::now().unix_timestamp();
    let client = match authenticate_client(&state, &headers, &form, "/oauth2/token").await {
        Ok(c) => c,
        Err(e) => return oauth_error(e),
    };
    let get = |k: &str| form.get(k).map(String::as_str);
    let result = match get("grant_type") {
        Some("authorization_code") => {
            if !client.allows_grant("authorization_code") {
                Err(OAuthError::new("unauthorized_client", "this client may not use the authorization_code grant"))
            } else {
                match get("code") {
                    Some(code) => {
                        state
                            .identity
                            .exchange_code(&client, code, get("redirect_uri"), get("code_verifier"), now)
                            .await
                    }
                    None => Err(OAuthError::new("invalid_request", "code is missing")),
                }
            }
        }
        Some("refresh_token") => match get("refresh_token") {
            Some(t) => state.identity.refresh(&client, t, get("scope"), now).await,
            None => Err(OAuthError::new("invalid_request", "refresh_token is missing")),
        },
        Some("client_credentials") => state.identity.client_credentials(&client, get("scope"), now),
        Some(other) => Err(OAuthError::new("unsupported_grant_type", format!("grant type {other:?} is not supported"))),
        None => Err(OAuthError::new("invalid_request", "grant_type is missing")),
    };
    match result {
        Ok(tokens) => json_ok(tokens),
        Err(e) => oauth_error(e),
    }
}

fn bearer_error(description: &str) -> Response {
    let value = format!("Bearer error=\"invalid_token\", error_description=\"{}\"", description.replace('"', "'"));
    let mut response =
        (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": "invalid_token", "error_description": description })))
            .into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    no_store(response)
}

async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let now = crate::now().unix_timestamp();
    let Some(token) = crate::auth::bearer_token(&headers) else {
        let mut r = (StatusCode::UNAUTHORIZED, "").into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"civitas\""));
        return r;
    };
    let claims: AccessClaims = match state.identity.verify_access_token(token.trim(), now).await {
        Ok(Some(c)) => c,
        Ok(None) => return bearer_error("the access token is invalid, expired or revoked"),
        Err(e) => return crate::problem::internal(&e).into_response(),
    };
    if !claims.scope.split_whitespace().any(|s| s == "openid") {
        return bearer_error("the access token was not issued for openid");
    }
    let Some(family) = claims.fam.clone() else { return bearer_error("the access token does not belong to a person") };
    let info = match state.identity.userinfo(&claims, now).await {
        Ok(Some(i)) => i,
        Ok(None) => return bearer_error("the grant was revoked"),
        Err(e) => return crate::problem::internal(&e).into_response(),
    };
    let (body, fields) = info;
    if !fields.is_empty() {
        let pid = match state.identity.grant_pid(&family).await {
            Ok(Some(p)) => p,
            _ => return bearer_error("the grant was revoked"),
        };
        let record = AccessRecord {
            actor: claims.client_id.clone(),
            role: "relying-party".into(),
            unit: String::new(),
            purpose: Some(format!("oidc userinfo: {}", claims.scope)),
            subject_pid: pid,
            fields: fields.join(","),
            request_id: headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned),
            at: civitas_store::timestamp(crate::now()),
            how: Some("userinfo".into()),
            ..Default::default()
        };
        if let Err(p) = state.access_log.append(vec![record]).await.map_err(crate::problem::Problem::from) {
            return p.into_response();
        }
    }
    json_ok(body)
}

async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = crate::now().unix_timestamp();
    let client = match authenticate_client(&state, &headers, &form, "/oauth2/revoke").await {
        Ok(c) => c,
        Err(e) => return oauth_error(e),
    };
    let Some(token) = form.get("token") else {
        return oauth_error(OAuthError::new("invalid_request", "token is missing"));
    };
    match state.identity.revoke_token(&client, token, now).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => oauth_error(e.into()),
    }
}

async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = crate::now().unix_timestamp();
    let client = match authenticate_client(&state, &headers, &form, "/oauth2/introspect").await {
        Ok(c) => c,
        Err(e) => return oauth_error(e),
    };
    if !client.is_confidential() {
        return oauth_error(OAuthError::new("invalid_client", "only confidential clients may introspect tokens"));
    }
    let Some(token) = form.get("token") else {
        return oauth_error(OAuthError::new("invalid_request", "token is missing"));
    };
    match state.identity.introspect(&client.id, token, now).await {
        Ok(v) => json_ok(v),
        Err(e) => oauth_error(e.into()),
    }
}

async fn logout_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    logout(state, headers, q, false).await
}

async fn logout_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let confirmed = f.contains_key("confirm")
        && pages::csrf_ok(&state, &headers, f.get("csrf").map(String::as_str).unwrap_or_default());
    logout(state, headers, f, confirmed).await
}

/// RP-initiated logout: with a valid `id_token_hint` the session ends at once; without one the
/// user confirms (so a third-party page cannot sign people out). Redirects only to a
/// `post_logout_redirect_uri` registered for the client the hint names.
async fn logout(state: AppState, headers: HeaderMap, params: HashMap<String, String>, confirmed: bool) -> Response {
    let now = crate::now().unix_timestamp();
    let lang = lang(&headers, params.get("ui_locales").map(String::as_str));
    let hint = match params.get("id_token_hint") {
        Some(h) => match state.identity.id_token_hint(h).await {
            Some(hint) => Some(hint),
            None => {
                return pages::message_page(
                    &state,
                    &headers,
                    lang,
                    StatusCode::BAD_REQUEST,
                    "oidc.error",
                    lang.t("logout.bad_hint"),
                );
            }
        },
        None => None,
    };
    let client_id = hint.as_ref().map(|h| h.aud.clone()).or_else(|| params.get("client_id").cloned());
    let mut target = None;
    if let Some(uri) = params.get("post_logout_redirect_uri") {
        let client = match &client_id {
            Some(id) => state.identity.client(id, now).await.ok().flatten(),
            None => None,
        };
        match client {
            Some(c) if c.post_logout_redirect_uris.iter().any(|u| civitas_identity::redirect::matches(u, uri)) => {
                target = Some(uri.clone())
            }
            _ => {
                return pages::message_page(
                    &state,
                    &headers,
                    lang,
                    StatusCode::BAD_REQUEST,
                    "oidc.error",
                    lang.t("logout.bad_redirect"),
                );
            }
        }
    }
    let session = browser_session(&state, &headers).await;
    let sid_matches = match (&hint, &session) {
        (Some(h), Some((_, s))) => s.sid() == h.sid,
        _ => false,
    };
    if session.is_some() && !sid_matches && !confirmed {
        return pages::logout_confirm_page(&state, &headers, lang, &params);
    }
    if let Some((token, _)) = &session
        && let Err(e) = state.identity.end_session(token, now).await
    {
        return crate::problem::internal(&e).into_response();
    }
    let mut response = match target {
        Some(uri) => {
            let mut p: Vec<(&str, &str)> = vec![];
            if let Some(s) = params.get("state") {
                p.push(("state", s));
            }
            Redirect::to(&if p.is_empty() { uri.clone() } else { with_query(&uri, &p) }).into_response()
        }
        None => pages::message_page(&state, &headers, lang, StatusCode::OK, "logout.done", lang.t("logout.done_text")),
    };
    response.headers_mut().append(header::SET_COOKIE, pages::set_cookie(&state, SID_COOKIE, "", 0));
    response
}
