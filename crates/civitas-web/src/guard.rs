//! The enforcement of the access policy ([`crate::policy::RULES`]): the layer in front of every
//! handler. It finds the route's rule, authenticates the caller as the rule says, refuses
//! before the handler runs, and hands the verified caller to the handler's extractors.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use civitas_identity::Role;

use crate::AppState;
use crate::auth::{Caller, Citizen};
use crate::policy::{RULES, Rule, Who, find};
use crate::problem::Problem;

/// The layer every route passes: finds the route's rule, authenticates and authorizes the
/// caller by it, and hands the verified caller to the handler in the request's extensions.
pub async fn enforce(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(matched) = request.extensions().get::<MatchedPath>() else {
        // No route matched: the fallback answers (404).
        return next.run(request).await;
    };
    let Some(rule) = find(request.method(), matched.as_str()) else {
        return method_not_allowed(matched.as_str());
    };
    request.extensions_mut().insert(*rule);
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    match authorize(&state, rule, &mut parts).await {
        // Authorized: the body's text is checked before the handler (see `crate::input`).
        Ok(agency) => {
            let response = crate::input::refuse_unsafe_text(Request::from_parts(parts, body), next).await;
            match agency {
                // An agency system's call that was refused or failed is in the log too.
                Some(caller) => crate::exchange::after_call(&state, &caller, rule, &path, response).await,
                None => response,
            }
        }
        Err(refusal) => refusal,
    }
}

/// An agency system's caller is admitted under a grant of the rule's service
/// ([`crate::exchange::admit`]); the caller is returned for the record of a refusal after the
/// handler. A counter's card read is marked as such.
async fn admit(
    state: &AppState,
    rule: &Rule,
    mut caller: Caller,
    parts: &mut axum::http::request::Parts,
) -> Result<Option<Caller>, Response> {
    if rule.unit == crate::policy::UnitRule::CardHolder {
        caller.how = "counter-card";
    }
    let agency = if caller.role() == Role::AgencySystem {
        crate::exchange::admit(state, rule, &mut caller, parts).await?;
        Some(caller.clone())
    } else {
        None
    };
    parts.extensions.insert(caller);
    Ok(agency)
}

fn method_not_allowed(path: &str) -> Response {
    let allowed: Vec<&str> = RULES.iter().filter(|r| r.path == path).map(|r| r.method).collect();
    let mut response = Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{path} answers {}", allowed.join(", ")),
    )
    .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&allowed.join(", ")) {
        response.headers_mut().insert(header::ALLOW, v);
    }
    response
}

async fn authorize(
    state: &AppState,
    rule: &Rule,
    parts: &mut axum::http::request::Parts,
) -> Result<Option<Caller>, Response> {
    match rule.who {
        Who::Public | Who::Protocol => Ok(None),
        Who::Roles(roles) => {
            let caller =
                crate::auth::bearer_caller(state, parts, rule.purpose).await.map_err(IntoResponse::into_response)?;
            check_role(&caller, roles).map_err(IntoResponse::into_response)?;
            admit(state, rule, caller, parts).await
        }
        Who::Citizen => {
            let citizen =
                crate::auth::bearer_citizen(state, &parts.headers).await.map_err(IntoResponse::into_response)?;
            check_scopes(&citizen, rule.scopes).map_err(IntoResponse::into_response)?;
            parts.extensions.insert(citizen);
            Ok(None)
        }
        Who::RolesOrCitizen(roles) => {
            // An officer's token first; a citizen's token (no role) is then tried as a citizen.
            match crate::auth::bearer_caller(state, parts, rule.purpose).await {
                Ok(caller) => {
                    check_role(&caller, roles).map_err(IntoResponse::into_response)?;
                    admit(state, rule, caller, parts).await
                }
                Err(officer_refusal) => {
                    let citizen = crate::auth::bearer_citizen(state, &parts.headers)
                        .await
                        .map_err(|_| officer_refusal.into_response())?;
                    check_scopes(&citizen, rule.scopes).map_err(IntoResponse::into_response)?;
                    parts.extensions.insert(citizen);
                    Ok(None)
                }
            }
        }
        Who::OfficerPage(roles) => {
            let mut caller = crate::pages::page_caller(state, &parts.headers).await?;
            if !roles.contains(&caller.role()) {
                let lang = crate::pages::lang(&parts.headers, None);
                return Err(crate::pages::message_page(
                    state,
                    &parts.headers,
                    lang,
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    lang.t("forbidden.role"),
                ));
            }
            if let Some(p) = rule.purpose {
                caller.purpose = Some(p.to_owned());
            }
            if rule.unit == crate::policy::UnitRule::CardHolder {
                caller.how = "counter-card";
            }
            parts.extensions.insert(caller);
            Ok(None)
        }
        Who::CitizenPage => match crate::cookies::browser_session(state, &parts.headers).await {
            Some(_) => Ok(None),
            None => Err(Redirect::to("/signin").into_response()),
        },
    }
}

fn check_role(caller: &Caller, roles: &[Role]) -> Result<(), Problem> {
    if roles.contains(&caller.role()) {
        Ok(())
    } else {
        Err(Problem::forbidden(format!("role {} may not use this operation", caller.role().as_str())))
    }
}

fn check_scopes(citizen: &Citizen, scopes: &[&str]) -> Result<(), Problem> {
    let granted: Vec<&str> = citizen.scope.split_whitespace().collect();
    match scopes.iter().find(|s| !granted.contains(s)) {
        None => Ok(()),
        Some(missing) => Err(Problem::insufficient_scope(missing)),
    }
}
