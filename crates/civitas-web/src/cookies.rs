//! Cookies of the browser: reading one, and the provider's session cookie with the session it
//! names. Used by the pages, the OpenID endpoints and the access policy alike.

use axum::http::{HeaderMap, header};

use civitas_identity::Session;

use crate::AppState;

/// The provider's browser-session cookie.
pub const SID_COOKIE: &str = "civitas_sid";

/// The value of cookie `name`, if the request has it.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session of this browser at the provider, if any.
pub(crate) async fn browser_session(state: &AppState, headers: &HeaderMap) -> Option<(String, Session)> {
    let token = cookie(headers, SID_COOKIE)?;
    let session = state.identity.session(token, crate::now().unix_timestamp()).await.ok()??;
    Some((token.to_owned(), session))
}
