//! RFC 9457 problem details, and the one place where domain errors become HTTP answers.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use civitas_registry::RegisterError;

/// An RFC 9457 problem details body (`application/problem+json`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:civitas:problem:<slug>`).
    #[serde(rename = "type")]
    pub type_: String,
    pub title: &'static str,
    pub status: u16,
    /// What went wrong in this request, specifically.
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Per-field problems of a submitted form (RFC 9457 extension member).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub errors: Box<[FieldProblem]>,
    /// Seconds a client should wait (sent as `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

/// One field of a submitted form that was not accepted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field's name (`fields.<name>` for e-form fields, `components.<code>` for documents).
    pub field: String,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            type_: format!("urn:civitas:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
            errors: Box::default(),
            retry_after: None,
        }
    }
    pub fn retry_after(mut self, seconds: i64) -> Self {
        self.retry_after = Some(u32::try_from(seconds.max(1)).unwrap_or(u32::MAX));
        self
    }
    pub fn with_errors(mut self, errors: Vec<FieldProblem>) -> Self {
        self.errors = errors.into_boxed_slice();
        self
    }
    pub fn bad_request(slug: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, slug, "Bad request", detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required", detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }
    /// A citizen's token lacks a scope the operation needs (RFC 6750 §3.1).
    pub fn insufficient_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            "Insufficient scope",
            format!("the access token was not granted the scope {scope:?} this operation needs"),
        )
    }
    /// The database cannot be reached: try again shortly.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable",
            "The database cannot be reached right now; try again in a few seconds.",
        )
        .retry_after(5)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "The server failed; the incident was logged.",
        )
    }
}

/// The `type` of a problem answer, kept on the response for the layers after the handler (an
/// agency system's refusal is recorded with it).
#[derive(Debug, Clone)]
pub struct ProblemType(pub String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&self)).into_response();
        response.extensions_mut().insert(ProblemType(self.type_.clone()));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is not read: the connection cannot be reused.
            response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer realm=\"civitas\""));
        }
        if let Some(wait) = self.retry_after
            && let Ok(v) = header::HeaderValue::from_str(&wait.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.type_ == "urn:civitas:problem:insufficient-scope" {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"civitas\", error=\"insufficient_scope\""),
            );
        }
        response
    }
}

/// Logs an unexpected error with its cause chain; answers without leaking it. A database that
/// cannot be reached (anywhere in the chain) is a 503 with `Retry-After`, not a failure of
/// the server.
pub fn internal(error: &(dyn std::error::Error + 'static)) -> Problem {
    let mut chain = error.to_string();
    let mut unavailable = civitas_store::unavailable(error);
    let mut source = error.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        unavailable |= civitas_store::unavailable(s);
        source = s.source();
    }
    if unavailable {
        tracing::warn!(error = %chain, "database unavailable");
        return Problem::unavailable();
    }
    tracing::error!(error = %chain, "request failed");
    Problem::internal()
}

impl From<RegisterError> for Problem {
    fn from(e: RegisterError) -> Self {
        match &e {
            RegisterError::PersonNotFound(_) => Problem::not_found(e.to_string()),
            RegisterError::HouseholdNotFound(_) => Problem::not_found(e.to_string()),
            RegisterError::AlreadyRegistered(_) => {
                Problem::new(StatusCode::CONFLICT, "already-registered", "Conflict", e.to_string())
            }
            RegisterError::VersionConflict { .. } => {
                Problem::new(StatusCode::CONFLICT, "version-conflict", "Conflict", e.to_string())
            }
            RegisterError::Invalid(_) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-record", "Invalid record", e.to_string())
            }
            RegisterError::NothingToChange => Problem::bad_request("nothing-to-change", e.to_string()),
            RegisterError::MissingLegalBasis => Problem::bad_request("missing-legal-basis", e.to_string()),
            RegisterError::HeadLeaving(..) => {
                Problem::new(StatusCode::CONFLICT, "head-leaving", "Conflict", e.to_string())
            }
            RegisterError::NotLiving(_) => Problem::new(StatusCode::CONFLICT, "not-living", "Conflict", e.to_string()),
            RegisterError::StayEnd(_) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-stay-end", "Invalid record", e.to_string())
            }
            RegisterError::Output(_) => internal(&e),
            RegisterError::Store(inner) => internal(inner),
        }
    }
}

impl From<civitas_store::StoreError> for Problem {
    fn from(e: civitas_store::StoreError) -> Self {
        internal(&e)
    }
}

/// Answers unknown routes.
pub async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!("no resource at {}", uri.path()))
}

/// Turns axum's rejection of a JSON body into a specific problem.
pub fn json_rejection(r: axum::extract::rejection::JsonRejection) -> Problem {
    use axum::extract::rejection::JsonRejection as J;
    match r {
        J::JsonDataError(e) => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "Invalid body", body_detail(&e))
        }
        J::JsonSyntaxError(e) => Problem::bad_request("malformed-json", body_detail(&e)),
        J::MissingJsonContentType(_) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
        ),
        other => {
            let status = other.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(status, "too-large", "Body too large", other.body_text())
            } else {
                Problem::new(status, "invalid-body", "Invalid body", other.body_text())
            }
        }
    }
}

/// The slug and title of a bare error status (answers that axum or hyper make themselves).
pub(crate) fn bare_kind(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => ("bad-request", "Bad request"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
        StatusCode::NOT_FOUND => ("not-found", "Not found"),
        StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "Body too large"),
        StatusCode::URI_TOO_LONG => ("uri-too-long", "URI too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "Unsupported media type"),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid-body", "Invalid body"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ("headers-too-large", "Request headers too large"),
        StatusCode::FORBIDDEN => ("forbidden", "Forbidden"),
        StatusCode::TOO_MANY_REQUESTS => ("too-many-requests", "Too many requests"),
        s if s.is_server_error() => ("internal", "Internal error"),
        _ => ("error", "Error"),
    }
}

/// Whether `path` is answered in JSON (the API, the protocol endpoints) rather than with pages.
pub(crate) fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/oauth2/") || path.starts_with("/.well-known/")
}

fn body_detail(e: &(dyn std::error::Error + 'static)) -> String {
    // serde's message (the innermost source) names the field and the reason.
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}
