//! Operations: health, readiness, Prometheus metrics, and the request middleware that counts,
//! times and tags every request with a request id.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Instrument;

use crate::AppState;
use crate::problem::Problem;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("civitas");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register("http_requests", "HTTP requests by method, route and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency by route", latency.clone());
        Metrics { registry, requests, latency }
    }
}

/// Counts and times each request, and echoes or assigns an `x-request-id`.
pub async fn track(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let request_id = match request.headers().get("x-request-id").and_then(|v| v.to_str().ok()) {
        Some(id) if !id.is_empty() && id.len() <= 64 => id.to_owned(),
        _ => {
            let id = format!("{:016x}", rand::random::<u64>());
            if let Ok(v) = HeaderValue::from_str(&id) {
                request.headers_mut().insert("x-request-id", v);
            }
            id
        }
    };
    let span = tracing::info_span!("request", %method, %route, request_id = %request_id);
    let mut response = next.run(request).instrument(span).await;
    let status = response.status().as_u16();
    state.metrics.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status }).inc();
    state.metrics.latency.get_or_create(&RouteLabels { route: route.clone() }).observe(started.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    tracing::debug!(%method, %route, status, request_id = %request_id, micros = started.elapsed().as_micros() as u64, "request");
    response
}

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers.
/// Ready when the database answers within a second; otherwise 503 with the reason, within
/// that second (a load balancer's probe never hangs).
pub async fn readyz(State(state): State<AppState>) -> Response {
    let not_ready = |detail: String| {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready", detail).retry_after(1).into_response()
    };
    match tokio::time::timeout(std::time::Duration::from_secs(1), state.db.ping()).await {
        Ok(Ok(())) => "ready".into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "database not reachable");
            not_ready(format!("the database does not answer: {e}"))
        }
        Err(_) => not_ready("the database did not answer within 1 s".into()),
    }
}

pub async fn export(State(state): State<AppState>) -> Response {
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &state.metrics.registry) {
        return crate::problem::internal(&e).into_response();
    }
    append_jobs(&mut body, &state.jobs.snapshot());
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}

/// The job runtime's figures in OpenMetrics text, before the closing `# EOF`.
fn append_jobs(body: &mut String, jobs: &[(&'static str, civitas_store::jobs::JobStats)]) {
    use std::fmt::Write;
    let eof = body.rfind("# EOF").unwrap_or(body.len());
    let mut out = String::new();
    type Value = fn(&civitas_store::jobs::JobStats) -> Option<f64>;
    let families: [(&str, &str, &str, Value); 5] = [
        ("civitas_job_runs", "counter", "Runs of a background job", |s| Some(s.runs as f64)),
        ("civitas_job_failures", "counter", "Failed runs of a background job", |s| Some(s.failures as f64)),
        ("civitas_job_items", "counter", "Items a background job handled", |s| Some(s.items as f64)),
        (
            "civitas_job_seconds_since_success",
            "gauge",
            "Seconds since the last successful run of a background job (its lag)",
            |s| s.since_success,
        ),
        (
            "civitas_job_leader",
            "gauge",
            "Whether this server holds the lease of a leased background job (1) or stands by (0)",
            |s| (s.claim == Some(civitas_store::jobs::Claim::Lease)).then_some(if s.leader { 1.0 } else { 0.0 }),
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# TYPE {name} {kind}\n# HELP {name} {help}.");
        let suffix = if kind == "counter" { "_total" } else { "" };
        for (job, stats) in jobs {
            if let Some(v) = value(stats) {
                let _ = writeln!(out, "{name}{suffix}{{job=\"{job}\"}} {v}");
            }
        }
    }
    body.insert_str(eof, &out);
}
