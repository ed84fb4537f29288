//! The HTTP edge of civitas: the JSON API under `/api/v1` (described at `/api/openapi.json`,
//! errors as RFC 9457 problem details), the officer pages, `/healthz`, `/readyz`, `/metrics`.
//!
//! Handlers are thin: an extractor authorizes, one domain call does the work, a typed DTO or a
//! template answers. No SQL here.

pub mod account_pages;
pub mod api;
pub mod archive_pages;
pub mod auth;
pub mod calendar;
pub mod cards_api;
pub mod cards_pages;
pub mod certificates;
pub mod charts;
pub mod codes_pages;
pub mod committees_api;
pub mod committees_pages;
pub mod cookies;
pub mod dossiers;
pub mod edge;
pub mod exchange;
pub mod exchange_pages;
pub mod files;
pub mod guard;
pub mod i18n;
pub mod input;
pub mod metrics;
pub mod oidc;
pub mod onboarding;
pub mod onboarding_demo;
pub mod one_stop;
pub mod openapi;
pub mod pages;
pub mod policy;
pub mod portal_api;
pub mod problem;
pub mod reports_api;
pub mod reports_pages;
pub mod service_pages;
pub mod style_page;
pub mod transparency;
pub mod ui;
pub mod verify_page;
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
    /// Group-committing writer of the access log (each record an entry of the transparency log).
    pub access_log: civitas_store::access_log::AccessLogger,
    /// The transparency log's origin and key.
    pub log: civitas_store::tlog::LogIdentity,
    /// The log's witnesses (configuration `witnesses`), read by the collection job.
    witnesses: Arc<std::sync::RwLock<Vec<civitas_exchange::witness::Witness>>>,
    /// Verified tokens, so a token's signature is checked once, not on every request.
    pub verified_tokens: Arc<auth::TokenCache>,
    /// Whether cookies must carry `Secure` (false only when serving plain http on loopback).
    pub secure_cookies: bool,
    /// Reads whose disclosure to the person is delayed (configuration `disclosure_delays`).
    disclosure_delays: Arc<std::sync::RwLock<Vec<DisclosureDelay>>>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (for per-address throttling).
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// The chip cards' algorithm allow-list (configuration `card_*`).
    pub card_policy: Arc<civitas_identity::chip::Allow>,
    /// The CSCA trust store, kept between requests (and its verified Document Signers).
    pub trust: Arc<civitas_identity::chip::trust::Cached>,
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
    /// The background jobs of this process (stopped by `serve` on shutdown).
    pub jobs: civitas_store::jobs::JobRuntime,
    /// The indicator catalogue (shipped, or the operator's `indicators_file`).
    pub indicators: Arc<civitas_reports::Catalogue>,
    /// The calendar the dossier sweep uses (replaced by [`AppState::set_calendar`]).
    sweep_calendar: Arc<std::sync::RwLock<Arc<civitas_core::workdays::WorkCalendar>>>,
    /// The catalogue the dossier sweep uses (replaced by [`AppState::set_catalogue`]).
    sweep_catalogue: Arc<std::sync::RwLock<Arc<civitas_services::catalogue::Catalogue>>>,
    /// Where dossiers are synchronised to (the National Public Service Portal; none: the
    /// messages wait in the outbox).
    portal: civitas_exchange::portal::SharedLink,
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
        let log = civitas_store::tlog::open(
            &db,
            &log_origin(issuer),
            |s| keys.seal_secret("tlog", s),
            |s| keys.open_secret("tlog", s),
        )
        .await?;
        let register = Arc::new(Register::new(db.clone()));
        let identity = Arc::new(Identity::new(db.clone(), register.clone(), keys.clone(), issuer).await?);
        let calendar = Arc::new(civitas_core::workdays::WorkCalendar::shipped());
        let catalogue = Arc::new(civitas_services::catalogue::Catalogue::shipped());
        let sweep_calendar = Arc::new(std::sync::RwLock::new(calendar.clone()));
        let jobs = civitas_store::jobs::JobRuntime::new();
        let sweep_catalogue = Arc::new(std::sync::RwLock::new(catalogue.clone()));
        register_jobs(&jobs, &db, &identity, &keys, issuer, sweep_calendar.clone(), sweep_catalogue.clone());
        let witnesses = Arc::new(std::sync::RwLock::new(Vec::new()));
        register_log_jobs(&jobs, &db, &log, witnesses.clone());
        register_exchange_jobs(&jobs, &db, &register);
        let portal: civitas_exchange::portal::SharedLink = Arc::new(std::sync::RwLock::new(None));
        civitas_exchange::portal::register_worker(&jobs, db.clone(), portal.clone(), now);
        let alive_db = db.clone();
        jobs.start(&alive_db.clone(), move || !alive_db.is_closed());
        Ok(AppState {
            jobs,
            indicators: Arc::new(civitas_reports::Catalogue::shipped()),
            sweep_calendar,
            sweep_catalogue,
            portal,
            intake: civitas_services::dossiers::Intake::start(db.clone(), calendar.clone()),
            catalogue,
            body_code: "H01.1".into(),
            committer: civitas_store::unit::GroupCommitter::start(db.clone()),
            access_log: civitas_store::access_log::AccessLogger::start(db.clone()),
            log,
            witnesses,
            verified_tokens: Arc::new(auth::TokenCache::default()),
            register,
            db,
            keys,
            identity,
            dev_outbox,
            metrics: Arc::new(metrics::Metrics::new()),
            secure_cookies,
            trusted_proxies: Arc::new(Vec::new()),
            card_policy: Arc::new(civitas_identity::chip::Allow::default()),
            trust: Arc::new(civitas_identity::chip::trust::Cached::default()),
            disclosure_delays: Arc::new(std::sync::RwLock::new(Vec::new())),
            calendar,
        })
    }
    /// Delays the disclosure of these agencies' reads for these purposes (configuration
    /// `disclosure_delays`).
    pub fn set_disclosure_delays(&self, delays: Vec<DisclosureDelay>) {
        if let Ok(mut d) = self.disclosure_delays.write() {
            *d = delays;
        }
    }

    /// When the person may see a read by `actor` for `purpose`: `None` at once.
    pub fn disclosure_delay_days(&self, actor: &str, purpose: &str) -> Option<i64> {
        let delays = self.disclosure_delays.read().ok()?;
        delays.iter().find(|d| d.actor == actor && d.purpose == purpose).map(|d| d.days)
    }

    /// Synchronises dossiers with the national portal at `link` (configuration `portal_*`),
    /// or stops sending (`None`: the messages wait).
    pub fn set_portal(&self, link: Option<civitas_exchange::portal::Link>) {
        if let Ok(mut l) = self.portal.write() {
            *l = link.map(Arc::new);
        }
    }

    /// The portal link in use, if any.
    pub fn portal(&self) -> Option<Arc<civitas_exchange::portal::Link>> {
        self.portal.read().ok().and_then(|l| l.clone())
    }

    /// Has the log's new checkpoints cosigned by these witnesses (and served with their
    /// cosignatures).
    pub fn set_witnesses(&self, witnesses: Vec<civitas_exchange::witness::Witness>) {
        if let Ok(mut w) = self.witnesses.write() {
            *w = witnesses;
        }
    }

    /// Sends read-only work (searches) to `replica`, a streaming replica of the database.
    pub fn use_replica(&mut self, replica: Db) {
        self.register = Arc::new(Register::new(self.db.clone()).with_replica(replica));
    }

    /// The papers this server prints: its body code, public URL and catalogue.
    pub fn office(&self) -> civitas_services::papers::Office<'_> {
        civitas_services::papers::Office {
            body_code: &self.body_code,
            issuer: &self.identity.issuer,
            catalogue: &self.catalogue,
        }
    }

    /// Signs certificate payloads with the key ring's current key.
    pub fn certificate_signer(
        &self,
    ) -> impl Fn(&str, &civitas_services::certificate_issue::CertClaims) -> String + Send + Sync + '_ {
        move |typ: &str, claims: &civitas_services::certificate_issue::CertClaims| {
            civitas_identity::tokens::sign_jws(&self.keys, typ, claims)
        }
    }

    /// What the processing use case needs of this server, with its ports.
    pub fn processing<'a>(
        &'a self,
        office: &'a civitas_services::papers::Office<'a>,
        signer: &'a dyn civitas_services::certificate_issue::Signer,
    ) -> civitas_services::processing::Processing<'a> {
        civitas_services::processing::Processing {
            db: &self.db,
            register: &self.register,
            calendar: &self.calendar,
            committer: &self.committer,
            issuer: &self.identity.issuer,
            signer,
            certificates: office,
            results: office,
        }
    }

    /// Uses another working-day calendar (an operator's holiday file) from now on.
    /// Uses an operator's procedure catalogue (configuration `procedures_file`) everywhere,
    /// the dossier sweep included.
    pub fn set_catalogue(&mut self, catalogue: civitas_services::catalogue::Catalogue) {
        self.catalogue = Arc::new(catalogue);
        if let Ok(mut c) = self.sweep_catalogue.write() {
            *c = self.catalogue.clone();
        }
    }

    pub fn set_calendar(&mut self, calendar: civitas_core::workdays::WorkCalendar) {
        self.calendar = Arc::new(calendar);
        self.intake = civitas_services::dossiers::Intake::start(self.db.clone(), self.calendar.clone());
        if let Ok(mut c) = self.sweep_calendar.write() {
            *c = self.calendar.clone();
        }
    }
}

/// A delayed disclosure: reads by the agency system `actor` (its client id) stating `purpose`
/// are in the log at once but shown in the person's data tracker only after `days`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureDelay {
    pub actor: String,
    pub purpose: String,
    pub days: i64,
}

impl DisclosureDelay {
    /// Parses `<client id>:<purpose>=<days>` (days 0–3650).
    pub fn parse(text: &str) -> Result<DisclosureDelay, String> {
        let bad = || format!("disclosure delay {text:?}: expected <client id>:<purpose>=<days>");
        let (who, days) = text.trim().rsplit_once('=').ok_or_else(bad)?;
        let (actor, purpose) = who.split_once(':').ok_or_else(bad)?;
        let days: i64 = days.trim().parse().map_err(|_| bad())?;
        if actor.trim().is_empty() || purpose.trim().is_empty() || !(0..=3650).contains(&days) {
            return Err(bad());
        }
        Ok(DisclosureDelay { actor: actor.trim().to_owned(), purpose: purpose.trim().to_owned(), days })
    }
}

/// The transparency log's name: the issuer's host and path, schema-less, with
/// `/civitas/access` (`hanoi.example.vn/civitas/access`). Fixed when the log is created.
pub fn log_origin(issuer: &str) -> String {
    let bare = issuer.split_once("://").map_or(issuer, |(_, rest)| rest).trim_end_matches('/');
    let bare: String = bare.chars().filter(|c| !c.is_whitespace() && *c != '+').collect();
    format!("{bare}/civitas/access")
}

/// The transparency log's jobs: integration (tiles and a signed checkpoint, every 250 ms while
/// entries arrive; every server runs it — a fork is impossible: the checkpoint is swapped only
/// from the size it was computed on, a loser's round rolls back — so a server killed with
/// `kill -9` does not stop publication for a lease's 15 s) and the adoption of access records written
/// without an entry (the old access log; a follow-up delivery's read).
fn register_log_jobs(
    jobs: &civitas_store::jobs::JobRuntime,
    db: &Db,
    log: &civitas_store::tlog::LogIdentity,
    witnesses: Arc<std::sync::RwLock<Vec<civitas_exchange::witness::Witness>>>,
) {
    use civitas_store::jobs::{Claim, Schedule};
    use std::time::Duration;
    let (d, l) = (db.clone(), log.clone());
    jobs.register("tlog.integrate", Schedule::Every(Duration::from_millis(250)), Claim::Items, move || {
        let (d, l) = (d.clone(), l.clone());
        async move {
            let before = civitas_store::tlog::checkpoint(&d).await.map_err(|e| e.to_string())?.0;
            let after = civitas_store::tlog::integrate(&d, &l).await.map_err(|e| e.to_string())?;
            Ok(after.saturating_sub(before) as usize)
        }
    });
    let (d, vkey) = (db.clone(), log.vkey());
    let client = civitas_exchange::witness::client();
    jobs.register("tlog.witness", Schedule::Every(Duration::from_secs(1)), Claim::Lease, move || {
        let (d, vkey, client) = (d.clone(), vkey.clone(), client.clone());
        let list = witnesses.read().map(|w| w.clone()).unwrap_or_default();
        async move {
            if list.is_empty() {
                return Ok(0);
            }
            civitas_exchange::witness::collect(&d, &vkey, &list, &client).await.map_err(|e| e.to_string())
        }
    });
    let d = db.clone();
    jobs.register("tlog.adopt", Schedule::Every(Duration::from_secs(1)), Claim::Lease, move || {
        let d = d.clone();
        async move { civitas_store::tlog::adopt(&d, 1000).await.map_err(|e| e.to_string()) }
    });
}

/// The exchange's life-event fan-out: register events after its durable cursor become signed
/// webhooks to the subscribed agencies (one server at a time; the cursor moves by
/// compare-and-swap, so a round is never delivered twice).
fn register_exchange_jobs(jobs: &civitas_store::jobs::JobRuntime, db: &Db, register: &Arc<Register>) {
    use civitas_store::jobs::{Claim, Schedule};
    let (d, r) = (db.clone(), register.clone());
    let settled = Arc::new(civitas_store::events::Settled::new(civitas_store::events::GAP_GRACE));
    jobs.register(
        "exchange.life-events",
        Schedule::Every(std::time::Duration::from_secs(1)),
        Claim::Lease,
        move || {
            let (d, r, settled) = (d.clone(), r.clone(), settled.clone());
            async move { civitas_exchange::grants::fan_out(&d, &r, &settled, now()).await.map_err(|e| e.to_string()) }
        },
    );
}

/// The background work of the server, each as a job of the one runtime: notification
/// delivery, the identity context's follower of register events, the purge of expired identity
/// rows, key reloads, the dossier sweep (lapsed supplements, apologies), the month partitions
/// and webhook deliveries.
fn register_jobs(
    jobs: &civitas_store::jobs::JobRuntime,
    db: &Db,
    identity: &Arc<Identity>,
    keys: &Arc<KeyRing>,
    issuer: &str,
    calendar: Arc<std::sync::RwLock<Arc<civitas_core::workdays::WorkCalendar>>>,
    catalogue: Arc<std::sync::RwLock<Arc<civitas_services::catalogue::Catalogue>>>,
) {
    use civitas_store::jobs::{Claim, Schedule};
    use std::time::Duration;
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let d = db.clone();
    jobs.register("notifications.deliver", Schedule::Drain(Duration::from_millis(500)), Claim::Items, move || {
        let d = d.clone();
        async move {
            civitas_store::outbox::deliver_once(&d, &civitas_store::outbox::LogSender, now().unix_timestamp())
                .await
                .map_err(|e| text(&e))
        }
    });
    let i = identity.clone();
    let d = db.clone();
    let reports = Arc::new(civitas_reports::consumer::Consumer::default());
    jobs.register("reports.consume", Schedule::Drain(Duration::from_millis(500)), Claim::Lease, move || {
        let (db, reports) = (d.clone(), reports.clone());
        async move { reports.run(&db, 20).await.map(|p| p.events).map_err(|e| text(&e)) }
    });
    // The register's population per unit, counted once a day (the completeness indicators'
    // denominators); a count already taken that day (by any server) is left as it is.
    let d = db.clone();
    jobs.register("reports.population", Schedule::Every(Duration::from_secs(600)), Claim::Lease, move || {
        let d = d.clone();
        async move {
            let today = civitas_services::dossiers::local_today(now());
            civitas_reports::population::count(&d, today, false)
                .await
                .map(|c| c.map_or(0, |c| c.units))
                .map_err(|e| text(&e))
        }
    });
    jobs.register("identity.follow_register", Schedule::Every(Duration::from_millis(500)), Claim::Lease, move || {
        let i = i.clone();
        async move { i.follow_register(now()).await.map_err(|e| text(&e)) }
    });
    let i = identity.clone();
    jobs.register("identity.purge_expired", Schedule::Every(Duration::from_secs(600)), Claim::Lease, move || {
        let i = i.clone();
        async move { i.purge_expired(now().unix_timestamp()).await.map(|n| n as usize).map_err(|e| text(&e)) }
    });
    // Keys rotated by another process (`civitas keys rotate`) reach every server at once on
    // PostgreSQL (a notification, below); this poll is the safety net there (30 s) and the way
    // on SQLite (2 s: a read of the few unretired keys).
    let k = keys.clone();
    civitas_store::changes::listen(db, civitas_store::changes::KEYS, move || {
        let k = k.clone();
        async move {
            if let Err(e) = k.reload(now()).await {
                tracing::warn!(error = %e, "reloading the signing keys after a change failed (the poll retries)");
            }
        }
    });
    let poll = match db.backend() {
        civitas_store::Backend::Postgres => Duration::from_secs(30),
        civitas_store::Backend::Sqlite => Duration::from_secs(2),
    };
    let k = keys.clone();
    jobs.register("keys.reload", Schedule::Every(poll), Claim::EveryServer, move || {
        let k = k.clone();
        async move { k.reload(now()).await.map(|()| 0).map_err(|e| text(&e)) }
    });
    let d = db.clone();
    let cat = catalogue.clone();
    jobs.register("dossiers.sweep", Schedule::Every(Duration::from_secs(60)), Claim::Lease, move || {
        let d = d.clone();
        let calendar = calendar.read().map(|c| c.clone()).map_err(|_| ());
        let catalogue = catalogue.read().map(|c| c.clone()).map_err(|_| ());
        async move {
            let calendar = calendar.map_err(|_| "the calendar lock is poisoned".to_owned())?;
            let catalogue = catalogue.map_err(|_| "the catalogue lock is poisoned".to_owned())?;
            let swept =
                civitas_services::dossiers::sweep(&d, &calendar, &catalogue, now()).await.map_err(|e| text(&e))?;
            Ok(swept.lapsed + swept.apologised)
        }
    });
    // The electronic archive: packages of closed dossiers and civil-status records (one server
    // at a time; a package is stored once anyway), and a fixity check of the oldest-checked.
    let (d, k, iss) = (db.clone(), keys.clone(), issuer.to_owned());
    jobs.register("archive.prepare", Schedule::Drain(Duration::from_secs(30)), Claim::Lease, move || {
        let (d, k, iss) = (d.clone(), k.clone(), iss.clone());
        let catalogue = cat.read().map(|c| c.clone()).map_err(|_| ());
        async move {
            let catalogue = catalogue.map_err(|_| "the catalogue lock is poisoned".to_owned())?;
            let signer = |typ: &str, c: &civitas_services::certificate_issue::CertClaims| {
                civitas_identity::tokens::sign_jws(&k, typ, c)
            };
            let a =
                civitas_services::archive::Archivist { db: &d, catalogue: &catalogue, signer: &signer, issuer: &iss };
            civitas_services::archive::prepare_pending(&a, 200, now()).await.map_err(|e| text(&e))
        }
    });
    let d = db.clone();
    jobs.register("archive.fixity", Schedule::Every(Duration::from_secs(3600)), Claim::Lease, move || {
        let d = d.clone();
        async move { civitas_services::archive::fixity(&d, 2000, now()).await.map(|(n, _)| n).map_err(|e| text(&e)) }
    });
    // The month partitions of events and the access log (PostgreSQL), made ahead of time.
    let d = db.clone();
    jobs.register("store.partitions", Schedule::Every(Duration::from_secs(3600)), Claim::Lease, move || {
        let d = d.clone();
        async move {
            let month = civitas_store::timestamp(now())[..7].to_owned();
            civitas_store::archive::ensure_partitions(&d, &month).await.map(|()| 0).map_err(|e| text(&e))
        }
    });
    civitas_exchange::delivery::register_worker(jobs, db.clone(), keys.clone(), issuer.to_owned(), now);
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
        .merge(portal_api::routes())
        .merge(codes_pages::routes())
        .merge(archive_pages::routes())
        .merge(committees_api::routes())
        .merge(exchange::routes())
        .merge(cards_api::routes())
        .merge(reports_api::routes())
        .merge(reports_pages::routes())
        .merge(committees_pages::routes())
        .merge(onboarding::routes())
        .merge(onboarding_demo::routes())
        .merge(cards_pages::routes())
        .merge(exchange_pages::routes())
        .merge(certificates::routes())
        .merge(service_pages::routes())
        .merge(account_pages::routes())
        .merge(style_page::routes())
        .merge(transparency::routes())
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
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), guard::enforce))
        .fallback(problem::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), edge::edge))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let jobs = state.jobs.clone();
    let served = axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    // Background jobs finish their current run and stop with the server.
    jobs.stop();
    served
}

/// The current time. The web edge is where the clock is read (domain code takes `now`).
#[allow(clippy::disallowed_methods)]
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
