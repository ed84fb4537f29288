//! Delivery of follow-ups to other agencies: each delivery is a compact JWS (ES256, the
//! server's signing key, published in its JWKS) POSTed to the agency's endpoint with the
//! delivery id as `Idempotency-Key`, at least once: failures are retried with exponential
//! back-off (1 s doubling to an hour, 15 attempts), refusals (4xx other than 408 / 429) and
//! exhausted deliveries become dead letters an operator can list and replay.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use civitas_identity::KeyRing;
use civitas_services::followups::{self, Delivery, Outcome};
use civitas_store::Db;

pub const MAX_ATTEMPTS: i64 = 15;

/// The claims of a delivery's JWS.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct DeliveryClaims {
    pub iss: String,
    /// The delivery id (also the `Idempotency-Key`).
    pub jti: String,
    pub iat: i64,
    pub kind: String,
    pub body: serde_json::Value,
}

fn backoff(attempts: i64) -> i64 {
    let base = 1i64 << attempts.clamp(0, 12);
    base.min(3600) + rand::random_range(0..=base.min(3600) / 4)
}

async fn send(client: &reqwest::Client, keys: &KeyRing, issuer: &str, d: &Delivery, now: i64) -> Outcome {
    let retry = |error: String| {
        if d.attempts + 1 >= MAX_ATTEMPTS {
            Outcome::Dead { error: format!("out of attempts: {error}") }
        } else {
            Outcome::Retry { error, next_attempt_at: now + backoff(d.attempts) }
        }
    };
    let Some(url) = &d.url else {
        return retry(format!("agency {} is not registered (civitas agency add)", d.agency_id));
    };
    let body: serde_json::Value = serde_json::from_str(&d.payload).unwrap_or_default();
    let claims = DeliveryClaims { iss: issuer.to_owned(), jti: d.id.clone(), iat: now, kind: d.kind.clone(), body };
    let jws = civitas_identity::tokens::sign_jws(keys, "civitas-webhook+jwt", &claims);
    let response = client
        .post(url)
        .header("content-type", "application/jose")
        .header("idempotency-key", &d.id)
        .body(jws)
        .send()
        .await;
    match response {
        // 409: the agency already has this delivery (an earlier attempt whose answer was lost).
        Ok(r) if r.status().is_success() || r.status() == reqwest::StatusCode::CONFLICT => {
            let text = r.text().await.unwrap_or_default();
            let reference = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["reference"].as_str().map(str::to_owned));
            Outcome::Delivered { reference, response: text.chars().take(2000).collect() }
        }
        Ok(r) => {
            let status = r.status();
            let text: String = r.text().await.unwrap_or_default().chars().take(500).collect();
            let error = format!("HTTP {status}: {text}");
            if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
                Outcome::Dead { error }
            } else {
                retry(error)
            }
        }
        Err(e) => retry(format!("no answer: {e}")),
    }
}

/// One round: claims due deliveries (up to 256; none while outbound delivery is paused), sends
/// them 64 at a time (renewing the claim before a part once a third of the lease has passed)
/// and records the outcomes (see [`followups::record`]). Returns how many were claimed.
pub async fn deliver_once(
    db: &Db,
    client: &reqwest::Client,
    keys: &Arc<KeyRing>,
    issuer: &str,
    clock: fn() -> time::OffsetDateTime,
) -> Result<usize, civitas_store::StoreError> {
    if civitas_store::claims::outbound_paused(db).await? {
        return Ok(0);
    }
    let now = clock().unix_timestamp();
    let (claim, batch) = followups::claim_due(db, now, 256).await?;
    if batch.is_empty() {
        return Ok(0);
    }
    let mut outcomes = Vec::with_capacity(batch.len());
    let claimed_at = std::time::Instant::now();
    let renew_after = Duration::from_secs(u64::try_from(civitas_store::claims::item_lease_secs() / 3).unwrap_or(0));
    for chunk in batch.chunks(64) {
        // A round that has been sending for a third of its lease (a slow receiver, a paused
        // process) renews its claim before the next part, and leaves out what another server
        // took over meanwhile. A quick round writes nothing more than its claim and results.
        let held = match claimed_at.elapsed() >= renew_after {
            false => None,
            true => Some(followups::renew_claim(db, &claim, clock().unix_timestamp()).await?),
        };
        let mut set = tokio::task::JoinSet::new();
        for d in chunk.iter().filter(|d| held.as_ref().is_none_or(|h| h.contains(&d.id))).cloned() {
            let client = client.clone();
            let keys = keys.clone();
            let issuer = issuer.to_owned();
            set.spawn(async move {
                let o = send(&client, &keys, &issuer, &d, now).await;
                (d.id, o)
            });
        }
        while let Some(Ok(r)) = set.join_next().await {
            outcomes.push(r);
        }
    }
    for (id, o) in &outcomes {
        match o {
            Outcome::Retry { error, .. } => tracing::info!(delivery = %id, %error, "webhook delivery will be retried"),
            Outcome::Dead { error } => tracing::warn!(delivery = %id, %error, "webhook delivery dead-lettered"),
            Outcome::Delivered { .. } => {}
        }
    }
    followups::record(db, &claim, &outcomes, &civitas_store::timestamp(clock())).await?;
    Ok(batch.len())
}

/// Registers the delivery of due follow-ups (a queue drained while it has work) with the
/// job runtime; `clock` is the caller's (the binary reads the time, domain code never does).
pub fn register_worker(
    jobs: &civitas_store::jobs::JobRuntime,
    db: Db,
    keys: Arc<KeyRing>,
    issuer: String,
    clock: fn() -> time::OffsetDateTime,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(64)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client could not be built; no deliveries");
            return;
        }
    };
    use civitas_store::jobs::{Claim, Schedule};
    jobs.register("webhooks.deliver", Schedule::Drain(Duration::from_millis(200)), Claim::Items, move || {
        let (db, client, keys, issuer) = (db.clone(), client.clone(), keys.clone(), issuer.clone());
        async move { deliver_once(&db, &client, &keys, &issuer, clock).await.map_err(|e| e.to_string()) }
    });
}
