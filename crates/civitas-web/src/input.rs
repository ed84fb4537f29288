//! A guard on the text of every JSON and form body: control characters (NUL breaks PostgreSQL
//! text) and bidirectional formatting characters (text that reads differently from how it is
//! stored) are refused with a 422 naming the field, before any handler stores them. Files
//! (multipart, octet streams) are not text and are not looked at.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use civitas_core::text::is_unsafe_char;

use crate::problem::{FieldProblem, Problem};

/// Bodies read whole to be checked: the largest JSON or form the server accepts.
const MAX_TEXT_BODY: usize = 2 * 1024 * 1024;

pub async fn refuse_unsafe_text(request: Request, next: Next) -> Response {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let json = content_type.starts_with("application/json");
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    if !(json || form) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_TEXT_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Body too large",
                format!("a JSON or form body may have at most {MAX_TEXT_BODY} bytes"),
            )
            .into_response();
        }
    };
    let found = if json { unsafe_in_json(&bytes) } else { unsafe_in_form(&bytes) };
    if let Some(field) = found {
        let detail = format!("{field} holds a control or bidirectional formatting character");
        let problem = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "unsafe-text", "Unsafe text", detail.clone())
            .with_errors(vec![FieldProblem { field, detail }]);
        return problem.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// The path of the first string (or key) holding an unsafe character; a body that is not JSON
/// is left to the handler's own error.
fn unsafe_in_json(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    fn walk(v: &serde_json::Value, path: &str) -> Option<String> {
        match v {
            serde_json::Value::String(s) => s.chars().any(is_unsafe_char).then(|| path.to_owned()),
            serde_json::Value::Array(items) => {
                items.iter().enumerate().find_map(|(i, x)| walk(x, &format!("{path}[{i}]")))
            }
            serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                if k.chars().any(is_unsafe_char) { Some(p) } else { walk(x, &p) }
            }),
            _ => None,
        }
    }
    walk(&value, "")
}

fn unsafe_in_form(bytes: &[u8]) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).ok()?;
    pairs
        .into_iter()
        .find(|(k, v)| k.chars().chain(v.chars()).any(is_unsafe_char))
        .map(|(k, _)| k.chars().filter(|c| !is_unsafe_char(*c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_field() {
        assert_eq!(unsafe_in_json(br#"{"a":{"b":["ok","x\u0000"]}}"#).as_deref(), Some("a.b[1]"));
        assert_eq!(unsafe_in_json("{\"note\":\"abc\u{202E}def\"}".as_bytes()).as_deref(), Some("note"));
        assert_eq!(unsafe_in_json(br#"{"note":"d\u00f2ng 1\nd\u00f2ng 2"}"#), None);
        assert_eq!(unsafe_in_form(b"pid=1&reason=a%00b").as_deref(), Some("reason"));
        assert_eq!(unsafe_in_form(b"pid=1&reason=ok"), None);
    }
}
