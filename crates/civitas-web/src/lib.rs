//! The HTTP edge of civitas: the JSON API under `/api/v1` (described at `/api/openapi.json`,
//! errors as RFC 9457 problem details), the officer pages, `/healthz`, `/readyz`, `/metrics`.
//!
//! Handlers are thin: an extractor authorizes, one domain call does the work, a typed DTO or a
//! template answers. No SQL here.

pub mod account_pages;
pub mod agency_sim;
pub mod api;
pub mod auth;
pub mod calendar;
pub mod certificates;
pub mod demo;
pub mod dossiers;
pub mod i18n;
pub mod input;
pub mod metrics;
pub mod oidc;
pub mod one_stop;
pub mod openapi;
pub mod pages;
pub mod policy;
pub mod problem;
pub mod service_pages;
pub mod slips;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use civitas_identity::{Identity, KeyRing};
use civitas_registry::Register;
use civitas_store::Db;

/// Everything a request handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub register: Arc<Register>,
    pub keys: Arc<KeyRing>,
    /// e-ID accounts, sessions and the OpenID provider.
    pub identity: Arc<Identity>,
    /// Whether `/dev/outbox` shows the messages of the development sender.
    pub dev_outbox: bool,
    pub metrics: Arc<metrics::Metrics>,
    /// Group-committing writer of the access log.
    pub access_log: civitas_store::access_log::AccessLogger,
    /// Verified tokens, so a token's signature is checked once, not on every request.
    pub verified_tokens: Arc<auth::TokenCache>,
    /// Whether cookies must carry `Secure` (false only when serving plain http on loopback).
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed (for per-address throttling).
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// The working-day calendar (shipped holiday announcements, or the operator's file).
    pub calendar: Arc<civitas_core::workdays::WorkCalendar>,
    /// The procedure catalogue (shipped, or the operator's file).
    pub catalogue: Arc<civitas_services::catalogue::Catalogue>,
    /// Group-committed dossier submissions.
    pub intake: civitas_services::dossiers::Intake,
    /// Identity code of the receiving body (QCVN 102), the first part of every dossier code.
    pub body_code: String,
    /// Commits units of work of concurrent requests together (civil-status approvals).
    pub committer: civitas_store::unit::GroupCommitter,
}

impl AppState {
    /// Builds the state for a server reachable at `issuer` (its public base URL) and starts the
    /// background work: the access-log writer, notification delivery (development sender: the
    /// log) and the identity context's follower of register events. Must be called within a
    /// Tokio runtime.
    pub async fn new(
        db: Db,
        keys: KeyRing,
        secure_cookies: bool,
        issuer: &str,
        dev_outbox: bool,
    ) -> Result<Self, civitas_store::StoreError> {
        let keys = Arc::new(keys);
        let register = Arc::new(Register::new(db.clone()));
        let identity = Arc::new(Identity::new(db.clone(), register.clone(), keys.clone(), issuer).await?);
        civitas_store::outbox::spawn_delivery(
            db.clone(),
            Arc::new(civitas_store::outbox::LogSender),
            std::time::Duration::from_millis(500),
        );
        let follower = identity.clone();
        let follower_db = db.clone();
        let ring = keys.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
            for round in 0u64.. {
                tick.tick().await;
                if civitas_store::dispatch!(&follower_db, pool => pool.is_closed()) {
                    break;
                }
                if let Err(e) = follower.follow_register(now()).await {
                    tracing::warn!(error = %e, "identity: following register events failed");
                }
                // Expired codes, tokens and sessions are deleted every ten minutes.
                if round % 1200 == 0
                    && let Err(e) = follower.purge_expired(now().unix_timestamp()).await
                {
                    tracing::warn!(error = %e, "purging expired identity rows failed");
                }
                // Keys rotated by another process (or `civitas keys rotate`) are picked up here.
                if round % 60 == 59
                    && let Err(e) = ring.reload(now()).await
                {
                    tracing::warn!(error = %e, "reloading signing keys failed");
                }
            }
        });
        let calendar = Arc::new(civitas_core::workdays::WorkCalendar::shipped());
        let catalogue = Arc::new(civitas_services::catalogue::Catalogue::shipped());
        spawn_sweeper(db.clone(), calendar.clone(), catalogue.clone());
        webhooks::spawn_worker(db.clone(), keys.clone(), issuer.to_owned());
        Ok(AppState {
            intake: civitas_services::dossiers::Intake::start(db.clone(), calendar.clone()),
            catalogue,
            body_code: "H01.1".into(),
            committer: civitas_store::unit::GroupCommitter::start(db.clone()),
            access_log: civitas_store::access_log::AccessLogger::start(db.clone()),
            verified_tokens: Arc::new(auth::TokenCache::default()),
            register,
            db,
            keys,
            identity,
            dev_outbox,
            metrics: Arc::new(metrics::Metrics::new()),
            secure_cookies,
            trusted_proxies: Arc::new(Vec::new()),
            calendar,
        })
    }

    /// Uses another working-day calendar (an operator's holiday file) from now on.
    pub fn set_calendar(&mut self, calendar: civitas_core::workdays::WorkCalendar) {
        self.calendar = Arc::new(calendar);
        self.intake = civitas_services::dossiers::Intake::start(self.db.clone(), self.calendar.clone());
        spawn_sweeper(self.db.clone(), self.calendar.clone(), self.catalogue.clone());
    }
}

/// Every minute: close dossiers whose supplement deadline passed, and write the apology of
/// dossiers past their appointment date.
fn spawn_sweeper(
    db: Db,
    calendar: Arc<civitas_core::workdays::WorkCalendar>,
    catalogue: Arc<civitas_services::catalogue::Catalogue>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            if civitas_store::dispatch!(&db, pool => pool.is_closed()) || Arc::strong_count(&calendar) == 1 {
                break;
            }
            if let Err(e) = civitas_services::dossiers::sweep(&db, &calendar, &catalogue, now()).await {
                tracing::warn!(error = %e, "dossier sweep failed");
            }
        }
    });
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .merge(oidc::routes())
        .merge(calendar::routes())
        .merge(dossiers::routes())
        .merge(one_stop::routes())
        .merge(webhooks::routes())
        .merge(certificates::routes())
        .merge(service_pages::routes())
        .merge(account_pages::routes())
        .merge(
            policy::PolicyRouter::new()
                .route("/api/openapi.json", get(openapi::document))
                .route("/healthz", get(metrics::healthz))
                .route("/readyz", get(metrics::readyz))
                .route("/metrics", get(metrics::export))
                .into_router(),
        )
        // Every route passes the one authorization policy (and the check of its body's text)
        // before its handler.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), policy::enforce))
        .fallback(problem::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), problem::edge))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// The current time. The web edge is where the clock is read (domain code takes `now`).
#[allow(clippy::disallowed_methods)]
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
