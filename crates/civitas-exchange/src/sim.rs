//! A stand-in for another agency's system (`civitas agency-sim`), for demos and tests: it
//! receives follow-up webhooks, checks each JWS against the civitas server's published keys
//! (fetched from its JWKS, again when a new key id appears), accepts each delivery id once
//! (a repeated one is answered as a duplicate with the same reference), and answers with a
//! reference number. `GET /received` lists what arrived.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use civitas_identity::keys::Jwk;

use crate::delivery::DeliveryClaims;

#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub id: String,
    pub kind: String,
    pub body: serde_json::Value,
    pub reference: String,
    /// How many times this delivery id arrived.
    pub times: u32,
}

#[derive(Default)]
pub struct Sim {
    pub jwks_url: String,
    /// Kinds this agency refuses (answered 422: a dead letter at civitas).
    pub refuse: Vec<String>,
    keys: Mutex<Vec<Jwk>>,
    received: Mutex<Vec<Received>>,
    index: Mutex<HashMap<String, usize>>,
}

impl Sim {
    pub fn new(jwks_url: &str, refuse: Vec<String>) -> Arc<Sim> {
        Arc::new(Sim { jwks_url: jwks_url.to_owned(), refuse, ..Default::default() })
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    async fn fetch_keys(&self) -> Vec<Jwk> {
        #[derive(serde::Deserialize)]
        struct Set {
            keys: Vec<Jwk>,
        }
        let fetched = match reqwest::get(&self.jwks_url).await {
            Ok(r) => r.json::<Set>().await.map(|s| s.keys).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        if let Ok(mut k) = self.keys.lock() {
            *k = fetched.clone();
        }
        fetched
    }

    async fn verify(&self, jws: &str) -> Option<DeliveryClaims> {
        let cached = self.keys.lock().map(|k| k.clone()).unwrap_or_default();
        if let Some(c) = civitas_identity::tokens::verify_with_jwks::<DeliveryClaims>(&cached, jws) {
            return Some(c);
        }
        let fresh = self.fetch_keys().await;
        civitas_identity::tokens::verify_with_jwks::<DeliveryClaims>(&fresh, jws)
    }
}

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new().route("/hooks", post(hook)).route("/received", get(list)).with_state(sim)
}

async fn hook(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    let Some(claims) = sim.verify(&text).await else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({ "error": "the signature does not verify against the published keys" })),
        )
            .into_response();
    };
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if key != claims.jti {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "Idempotency-Key differs from the signed id" })),
        )
            .into_response();
    }
    if sim.refuse.contains(&claims.kind) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({ "error": format!("this agency does not handle {}", claims.kind) })),
        )
            .into_response();
    }
    let (Ok(mut received), Ok(mut index)) = (sim.received.lock(), sim.index.lock()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Some(&i) = index.get(&claims.jti) {
        received[i].times += 1;
        let reference = received[i].reference.clone();
        return Json(serde_json::json!({ "status": "duplicate", "reference": reference })).into_response();
    }
    let reference = format!("AG-{:06}", received.len() + 1);
    index.insert(claims.jti.clone(), received.len());
    received.push(Received {
        id: claims.jti,
        kind: claims.kind,
        body: claims.body,
        reference: reference.clone(),
        times: 1,
    });
    tracing::info!(%reference, "agency simulator: delivery accepted");
    Json(serde_json::json!({ "status": "accepted", "reference": reference })).into_response()
}

async fn list(State(sim): State<Arc<Sim>>) -> Json<Vec<Received>> {
    Json(sim.received())
}
