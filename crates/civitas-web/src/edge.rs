//! The outermost layer of the server: the application's size limits, error answers rewritten
//! into problems (API) or pages, and the security headers of every answer.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::problem::{Problem, bare_kind, is_api_path};

const MAX_URI_BYTES: usize = 8 * 1024;
const MAX_HEADER_BYTES: usize = 32 * 1024;
const MAX_HEADERS: usize = 80;

/// The outermost layer. Every error answer speaks RFC 9457 (API) or is a page (pages): the
/// rejections axum makes itself (query strings, bodies, unknown methods) come as plain text or
/// empty bodies and are rewritten here, keeping their status and their specific text; the
/// application's size limits are applied; the security headers are added to every answer.
pub async fn edge(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = is_api_path(request.uri().path());
    // The application's own limits, below the HTTP parser's (64 KiB URIs, 100 headers, which it
    // answers itself with an empty body): answered as problems like every other refusal.
    let uri_len = request.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    let headers = request.headers();
    let header_bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if uri_len > MAX_URI_BYTES {
        let detail = format!("the URI has {uri_len} bytes; at most {MAX_URI_BYTES} are accepted");
        return secured(
            &state,
            Problem::new(StatusCode::URI_TOO_LONG, "uri-too-long", "URI too long", detail).into_response(),
        );
    }
    if header_bytes > MAX_HEADER_BYTES || headers.len() > MAX_HEADERS {
        let detail = format!(
            "the request has {} headers of {header_bytes} bytes; at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes are accepted",
            headers.len()
        );
        let problem = Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            "Request headers too large",
            detail,
        );
        return secured(&state, problem.into_response());
    }
    // A page needs the language and CSRF cookies to answer an error: only the cookies are kept.
    let cookies: Vec<header::HeaderValue> =
        if api { Vec::new() } else { request.headers().get_all(header::COOKIE).iter().cloned().collect() };
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return secured(&state, response);
    }
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !(content_type.is_empty() || content_type.starts_with("text/plain")) {
        return secured(&state, response);
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    let detail =
        if text.is_empty() { status.canonical_reason().unwrap_or("the request was refused").to_owned() } else { text };
    let mut out = if api {
        let (slug, title) = bare_kind(status);
        Problem::new(status, slug, title, detail).into_response()
    } else {
        let mut headers = header::HeaderMap::new();
        for c in cookies {
            headers.append(header::COOKIE, c);
        }
        let lang = crate::pages::lang(&headers, None);
        let title = if status == StatusCode::NOT_FOUND { "not_found" } else { "error.page" };
        crate::pages::message_page(&state, &headers, lang, status, title, &detail)
    };
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    secured(&state, out)
}

/// Headers every answer carries: no `Referer` leaves the service (codes and tokens appear in
/// some URLs), HSTS whenever cookies are `Secure` (served over https).
fn secured(state: &crate::AppState, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    headers.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(header::HeaderValue::from_static("nosniff"));
    if state.secure_cookies {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            header::HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}
