//! Several servers on one database do each piece of background work once: three servers
//! share the webhook deliveries and SMS of one database (each claimed by one of them), and
//! three sweeps at the same moment give a late dossier one apology. An agency that answers a
//! repeated delivery with 409 "already received" counts as delivered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{Value, json};

use civitas_identity::Role;
use civitas_store::dispatch;

use crate::helpers::*;

/// An agency's endpoint that counts the requests per delivery id and answers a repeat with
/// 409, the way a receiver that deduplicates does.
async fn receiver() -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    // A little work, so that the servers' rounds overlap.
    receiver_taking(2).await
}

/// [`receiver`], taking `ms` milliseconds per delivery.
pub async fn receiver_taking(ms: u64) -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let s = s.clone();
            async move {
                let id = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                let n = {
                    let mut seen = s.lock().unwrap();
                    let n = seen.entry(id.clone()).or_insert(0);
                    *n += 1;
                    *n
                };
                if n > 1 {
                    (StatusCode::CONFLICT, axum::Json(json!({ "error": "already received" })))
                } else {
                    (StatusCode::OK, axum::Json(json!({ "reference": format!("R-{id}") })))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

async fn scalar(app: &TestApp, sql: &'static str) -> i64 {
    dispatch!(&app.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

async fn three_servers_deliver_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    // Nothing goes out until everything is queued, then all three servers compete for it.
    let at = civitas_store::timestamp(civitas::now());
    civitas_store::claims::set_outbound_paused(&app.db, true, &at).await.unwrap();
    let peers = [spawn_peer(&app).await, spawn_peer(&app).await];
    let (url, seen) = receiver().await;
    civitas_services::followups::put_agency(&app.db, "social-insurance", "BHXH", &url, &at).await.unwrap();
    const N: usize = 300;
    for i in 0..N {
        let sql = "INSERT INTO webhook_deliveries (id, agency_id, kind, subject_pid, dossier_code, payload, next_attempt_at, created_at) \
                   VALUES ($1, 'social-insurance', 'test', '001090123456', 'X', '{}', 0, $2)";
        let id = format!("D{i:04}");
        dispatch!(&app.db, pool => sqlx::query(sql).bind(&id).bind(&at).execute(pool).await.map(|_| ())).unwrap();
        let sql = "INSERT INTO outbox_messages (channel, recipient, subject, body, created_at) VALUES ('sms', $1, 's', 'b', $2)";
        dispatch!(&app.db, pool => sqlx::query(sql).bind(format!("09{i:08}")).bind(&at).execute(pool).await.map(|_| ())).unwrap();
    }
    civitas_store::claims::set_outbound_paused(&app.db, false, &at).await.unwrap();
    let mut done = false;
    for _ in 0..300 {
        let left = scalar(&app, "SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL").await
            + scalar(&app, "SELECT COUNT(*) FROM outbox_messages WHERE sent_at IS NULL").await;
        if left == 0 {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(done, "everything delivered within 30 s");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), N);
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "deliveries repeated: {repeated:?}");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM webhook_deliveries WHERE attempts <> 1 OR dead <> 0").await, 0);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM outbox_messages WHERE attempts <> 1").await, 0, "each SMS sent once");
    // The work was shared: every server's workers claimed in the same database.
    for server in std::iter::once(&app).chain(&peers) {
        let jobs: HashMap<_, _> = server.state.jobs.snapshot().into_iter().collect();
        assert_eq!(jobs["webhooks.deliver"].claim, Some(civitas_store::jobs::Claim::Items));
        assert_eq!(jobs["dossiers.sweep"].claim, Some(civitas_store::jobs::Claim::Lease));
    }
    let leaders = std::iter::once(&app)
        .chain(&peers)
        .filter(|s| s.state.jobs.snapshot().into_iter().any(|(n, j)| n == "dossiers.sweep" && j.leader))
        .count();
    assert!(leaders <= 1, "one server holds the sweep's lease ({leaders})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_deliver_each_webhook_and_sms_once_sqlite() {
    three_servers_deliver_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_deliver_each_webhook_and_sms_once_postgres() {
    three_servers_deliver_once(Backend::Postgres).await;
}

async fn one_apology(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    app.account(DUNG, 1).await;
    let set_phone = "UPDATE accounts SET phone = '0912000004' WHERE pid = $1";
    dispatch!(&app.db, pool => sqlx::query(set_phone).bind(DUNG).execute(pool).await.map(|_| ())).unwrap();
    let desk = app.token(Role::OnestopOfficer, &[NGOC_HA]);
    let qr = "079185000004||Le Thi Dung|01011985|Nữ|Số 10 phố Kim Mã, Ngọc Hà, Hà Nội|10102021";
    let mut codes = Vec::new();
    for i in 0..12 {
        let intake = json!({
            "procedure": "DVC-05", "card_qr": qr,
            "fields": { "destination": format!("Đà Nẵng {i}"), "from": "2026-12-01", "until": "2026-12-20" }
        });
        let r = app.send_json(Method::POST, "/api/v1/counter/dossiers", &desk, intake).await;
        assert_eq!(r.status(), 201);
        let d: Value = r.json().await.unwrap();
        codes.push(d["code"].as_str().unwrap().to_owned());
    }
    // A month later: three servers sweep at the same moment.
    let later = civitas::now() + time::Duration::days(30);
    let sweep = || civitas_services::dossiers::sweep(&app.db, &app.state.calendar, &app.state.catalogue, later);
    let (a, b, c) = tokio::join!(sweep(), sweep(), sweep());
    let total = a.unwrap().apologised + b.unwrap().apologised + c.unwrap().apologised;
    assert_eq!(total, codes.len(), "one apology per dossier among the three sweeps");
    for code in &codes {
        let sql = "SELECT COUNT(*) FROM dossier_steps WHERE code = $1 AND action = 'apologize'";
        let n: i64 = dispatch!(&app.db, pool => sqlx::query_scalar(sql).bind(code).fetch_one(pool).await).unwrap();
        assert_eq!(n, 1, "{code}: one apology step");
    }
    // A sweep that read its list of late dossiers before another server's apology committed
    // finds, reading the dossier itself, that it is done.
    let stale = civitas_services::dossiers::apologize(
        &app.db,
        &codes[0],
        civitas_services::dossiers::local_today(later) + time::Duration::days(10),
        "late",
        &civitas_services::dossiers::Actor::System,
        later,
    )
    .await;
    assert!(
        matches!(stale, Err(civitas_services::dossiers::DossierError::Invalid(_))),
        "a second apology for the same missed date: {stale:?}"
    );
    let sms = scalar(&app, "SELECT COUNT(*) FROM outbox_messages WHERE body LIKE 'Xin lỗi%'").await;
    assert_eq!(sms, i64::try_from(codes.len()).unwrap(), "one apology SMS per dossier");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sweeps_apologise_once_sqlite() {
    one_apology(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sweeps_apologise_once_postgres() {
    one_apology(Backend::Postgres).await;
}

/// A TCP relay in front of PostgreSQL that can be switched off (every connection cut, new
/// ones refused), as when the database server goes down, and on again.
struct Relay {
    addr: std::net::SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (u, l) = (up.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !u.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                l.lock().unwrap().push(task.abort_handle());
            }
        });
        Relay { addr, up, links }
    }

    fn down(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn up(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// While PostgreSQL cannot be reached (ten seconds here), requests are answered 503 with
/// `Retry-After` in bounded time (problem JSON for the API, a page for browsers), `/readyz` says why within a
/// second, and the server recovers by itself when the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_a_503_and_recovery_is_automatic() {
    let Some((url, _)) = fresh_database(Backend::Postgres).await else { return };
    // postgres://user@host:port/db → the same through the relay.
    let (scheme_user, rest) = url.split_once('@').unwrap();
    let (target, db) = rest.split_once('/').unwrap();
    let relay = Relay::start(target.to_owned()).await;
    let app = spawn_app_at(format!("{scheme_user}@{}/{db}", relay.addr)).await;
    let officer = app.token(Role::RegistryOfficer, &["01"]);
    let person = format!("/api/v1/people/{AN}");
    assert_eq!(app.get(&person, &officer).await.status(), 200);
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), 200);

    relay.down();
    let started = std::time::Instant::now();
    let r = app.get(&person, &officer).await;
    let waited = started.elapsed();
    assert_eq!(r.status(), 503, "{:?}", r.text().await);
    assert!(waited < std::time::Duration::from_secs(6), "answered in bounded time ({waited:?})");
    assert_eq!(r.headers()["retry-after"], "5");
    let problem = expect_problem(r, 503).await;
    assert_eq!(problem["type"].as_str().map(|t| t.ends_with("unavailable")), Some(true), "{problem}");
    let started = std::time::Instant::now();
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_millis(1800), "readyz within a second");
    assert_eq!(ready.status(), 503);
    let why = ready.text().await.unwrap();
    assert!(why.contains("database"), "{why}");
    // A browser gets a page saying to try again.
    let page = app
        .client
        .get(app.url("/status?code=H01.1-261201-0001&last4=3456"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));

    // A ten-second outage: every request meanwhile is answered 503 in bounded time.
    let down_since = started;
    while down_since.elapsed() < std::time::Duration::from_secs(10) {
        let asked = std::time::Instant::now();
        assert_eq!(app.get(&person, &officer).await.status(), 503);
        assert!(asked.elapsed() < std::time::Duration::from_secs(6), "bounded during the outage");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    relay.up();
    let mut recovered = false;
    for _ in 0..50 {
        if app.get(&person, &officer).await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "the server recovered by itself");
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), 200);
}

/// Backup while the server runs → restore into another database → a server on the copy
/// accepts the old tokens, and sends nothing (webhooks, SMS) until an operator resumes
/// outbound delivery.
async fn backup_and_safe_restore(backend: Backend) {
    if backend == Backend::Postgres && std::process::Command::new("pg_dump").arg("--version").output().is_err() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("pg_dump is required in CI");
        }
        eprintln!("\n*** SKIPPED (pg_dump not installed) ***\n");
        return;
    }
    let Some(app) = spawn_app(backend).await else { return };
    app.clients().await;
    app.account(AN, 1).await;
    let citizen = crate::one_stop::citizen_token(&app, AN).await;
    let officer = app.token(Role::RegistryOfficer, &["01"]);
    // A browser session, signed in before the backup.
    let mut browser = app.browser();
    assert_eq!(browser.get(&app.url("/signin")).await.status, 200);
    let signed_in = browser.post(&app.url("/signin"), &[("pid", AN), ("password", PASSWORD)]).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    // Something queued to go out when the copy is made (the original is paused, so it stays).
    let at = civitas_store::timestamp(civitas::now());
    civitas_store::claims::set_outbound_paused(&app.db, true, &at).await.unwrap();
    let (url, seen) = receiver().await;
    civitas_services::followups::put_agency(&app.db, "social-insurance", "BHXH", &url, &at).await.unwrap();
    let sql = "INSERT INTO webhook_deliveries (id, agency_id, kind, subject_pid, dossier_code, payload, next_attempt_at, created_at) \
               VALUES ('OLD-1', 'social-insurance', 'test', '001090123456', 'X', '{}', 0, $1)";
    dispatch!(&app.db, pool => sqlx::query(sql).bind(&at).execute(pool).await.map(|_| ())).unwrap();
    let sql = "INSERT INTO outbox_messages (channel, recipient, subject, body, created_at) VALUES ('sms', '0912000001', 's', 'old', $1)";
    dispatch!(&app.db, pool => sqlx::query(sql).bind(&at).execute(pool).await.map(|_| ())).unwrap();

    let dir = temp_dir();
    let file = dir.0.join("backup.bin");
    let file = file.to_str().unwrap();
    let out = civitas_cli(&["backup", "--database", &app.db_url, "--out", file]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = civitas_cli(&["backup", "--database", &app.db_url, "--out", file]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"), "never overwrites a backup");

    let (copy_url, _copy_dir) = fresh_database(backend).await.unwrap();
    let out = civitas_cli(&["restore", "--database", &copy_url, "--from", file]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PAUSED"));
    let out = civitas_cli(&["restore", "--database", &copy_url, "--from", file]);
    assert!(!out.status.success(), "a database with data is replaced only with --force");

    // The copy takes the original's place: the same public URL.
    let copy = spawn_server_at(copy_url.clone(), &app.state.identity.issuer).await;
    assert_eq!(copy.get(&format!("/api/v1/people/{AN}"), &officer).await.status(), 200, "the officer's token");
    assert_eq!(copy.get("/api/v1/me/documents", &citizen).await.status(), 200, "the citizen's token");
    let account = browser.get(&copy.url("/account")).await;
    assert_eq!(account.status, 200, "the browser session goes on: {:?}", account.location);
    assert!(account.body.contains("Nguyễn Văn An"), "the account page of the signed-in citizen");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(seen.lock().unwrap().is_empty(), "the copy sent nothing while paused");
    let unsent = "SELECT COUNT(*) FROM outbox_messages WHERE sent_at IS NULL";
    assert_eq!(scalar(&copy, unsent).await, 1);

    let out = civitas_cli(&["outbound", "resume", "--database", &copy_url]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("outbound delivery is on"));
    let mut sent = false;
    for _ in 0..100 {
        if scalar(&copy, unsent).await == 0 && seen.lock().unwrap().contains_key("OLD-1") {
            sent = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(sent, "resumed: the queued webhook and SMS went out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_safe_restore_sqlite() {
    backup_and_safe_restore(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_safe_restore_postgres() {
    backup_and_safe_restore(Backend::Postgres).await;
}

/// `civitas migrate-data` moves a SQLite database that has been used (accounts, grants, a
/// dossier with its steps and SMS, documents, the access log) into PostgreSQL, verifies every
/// table, and a server on the PostgreSQL copy answers the API the same, old tokens included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_data_moves_everything_to_postgres() {
    let Some((pg_url, _)) = fresh_database(Backend::Postgres).await else { return };
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    app.clients().await;
    app.account(DUNG, 1).await;
    let set_phone = "UPDATE accounts SET phone = '0912000004' WHERE pid = $1";
    dispatch!(&app.db, pool => sqlx::query(set_phone).bind(DUNG).execute(pool).await.map(|_| ())).unwrap();
    let citizen = crate::one_stop::citizen_token(&app, DUNG).await;
    let desk = app.token(Role::OnestopOfficer, &[NGOC_HA]);
    let officer = app.token(Role::RegistryOfficer, &["01"]);
    let qr = "079185000004||Le Thi Dung|01011985|Nữ|Số 10 phố Kim Mã, Ngọc Hà, Hà Nội|10102021";
    let intake = json!({
        "procedure": "DVC-05", "card_qr": qr,
        "fields": { "destination": "Đà Nẵng", "from": "2026-12-01", "until": "2026-12-20" }
    });
    let d: Value = app.send_json(Method::POST, "/api/v1/counter/dossiers", &desk, intake).await.json().await.unwrap();
    let code = d["code"].as_str().unwrap().to_owned();
    let paths = [
        (format!("/api/v1/people/{DUNG}"), officer.clone()),
        (format!("/api/v1/dossiers/{code}"), desk.clone()),
        ("/api/v1/me/documents".to_owned(), citizen.clone()),
        (format!("/api/v1/people/{DUNG}/history"), officer.clone()),
    ];
    let mut before = Vec::new();
    for (path, token) in &paths {
        let r = app.get(path, token).await;
        assert_eq!(r.status(), 200, "{path}");
        before.push(r.json::<Value>().await.unwrap());
    }
    // The source's servers are stopped before a move (its background jobs write).
    app.state.jobs.stop();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let out = civitas_cli(&["migrate-data", "--from", &app.db_url, "--to", &pg_url]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("counts and checksums match"), "{stdout}");
    let out = civitas_cli(&["migrate-data", "--from", &app.db_url, "--to", &pg_url]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"), "never into a database with data");

    let moved = spawn_server_at(pg_url.clone(), &app.state.identity.issuer).await;
    for ((path, token), old) in paths.iter().zip(&before) {
        let r = moved.get(path, token).await;
        assert_eq!(r.status(), 200, "{path} on PostgreSQL");
        assert_eq!(&r.json::<Value>().await.unwrap(), old, "{path} answers the same");
    }
    for table in [
        "people",
        "accounts",
        "dossiers",
        "dossier_steps",
        "access_log",
        "events",
        "signing_keys",
        "oidc_clients",
        "grants",
        "outbox_messages",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let a: i64 =
            dispatch!(&app.db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).fetch_one(pool).await)
                .unwrap();
        let b: i64 =
            dispatch!(&moved.db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await).unwrap();
        assert!(a > 0, "{table} has rows to move");
        assert!(b >= a, "{table}: {a} rows moved ({b} now)");
    }
    // The checksums see a changed value.
    let report = civitas_store::transfer::verify(&app.db, &moved.db).await.unwrap();
    assert!(report.iter().all(|t| t.matches() || !["people", "accounts"].contains(&t.table.as_str())));
    let sql = "UPDATE people SET full_name = 'Lê Thị Dũng' WHERE pid = $1";
    dispatch!(&moved.db, pool => sqlx::query(sql).bind(DUNG).execute(pool).await.map(|_| ())).unwrap();
    let report = civitas_store::transfer::verify(&app.db, &moved.db).await.unwrap();
    let people = report.iter().find(|t| t.table == "people").unwrap();
    assert_eq!(people.source_rows, people.target_rows);
    assert!(!people.matches(), "a changed name changes the checksum");
    // New rows continue after the moved ids (serial counters moved past them).
    let r = moved
        .send_json(
            Method::POST,
            "/api/v1/counter/dossiers",
            &desk,
            json!({ "procedure": "DVC-05", "card_qr": qr, "fields": { "destination": "Huế", "from": "2026-12-01", "until": "2026-12-20" } }),
        )
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
}

/// `civitas archive`: rows dated before a month leave the database for JSON-lines files with
/// a SHA-256 manifest (`sha256sum -c`); unsent messages and undelivered webhooks stay; events
/// an event consumer has not read yet are refused; on PostgreSQL whole month partitions go.
async fn archive_moves_old_rows_out(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let old = "2023-05-02T08:00:00.000000Z";
    if backend == Backend::Postgres {
        // The month's partition, as the migration makes for the months of existing rows.
        let sql = "SELECT civitas_month_partition('access_log', '2023-05')::text";
        dispatch!(&app.db, pool => sqlx::query(sql).execute(pool).await.map(|_| ())).unwrap();
    }
    let rows = [
        "INSERT INTO access_log (at, actor, role, unit, purpose, subject_pid, fields, request_id) VALUES ($1, 'o', 'registry-officer', '01', 'p', '001090123456', 'full_name', NULL)",
        "INSERT INTO access_log (at, actor, role, unit, purpose, subject_pid, fields, request_id) VALUES ($1, 'o', 'registry-officer', '01', 'p', '001190000002', 'full_name', NULL)",
        "INSERT INTO outbox_messages (channel, recipient, subject, body, created_at, sent_at, attempts) VALUES ('sms', '0900000001', 's', 'sent', $1, $1, 1)",
        "INSERT INTO outbox_messages (channel, recipient, subject, body, created_at, attempts) VALUES ('sms', '0900000002', 's', 'never sent', $1, 20)",
        "INSERT INTO webhook_deliveries (id, agency_id, kind, subject_pid, dossier_code, payload, attempts, next_attempt_at, delivered_at, created_at) VALUES ('A1', 'x', 'k', '001090123456', 'X', '{}', 1, 0, $1, $1)",
        "INSERT INTO webhook_deliveries (id, agency_id, kind, subject_pid, dossier_code, payload, attempts, next_attempt_at, created_at) VALUES ('A2', 'x', 'k', '001090123456', 'X', '{}', 1, 99999999999, $1)",
    ];
    for sql in rows {
        dispatch!(&app.db, pool => sqlx::query(sql).bind(old).execute(pool).await.map(|_| ())).unwrap();
    }
    let dir = temp_dir();
    let out = dir.0.join("archive");
    let out_arg = out.to_str().unwrap().to_owned();
    let args = ["archive", "--database", &app.db_url, "--before", "2025-01", "--out", &out_arg];
    // An event consumer that has not read the seeded events holds them back.
    let slow = "INSERT INTO event_cursors (consumer, position) VALUES ('slow-consumer', 0)";
    dispatch!(&app.db, pool => sqlx::query(slow).execute(pool).await.map(|_| ())).unwrap();
    let refused = civitas_cli(&args);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("slow-consumer") && why.contains("not been read"), "{why}");
    let before = scalar(&app, "SELECT COUNT(*) FROM events WHERE occurred_at < '2025-01'").await;
    assert!(before > 0, "the fixture's events are dated 2024");
    let forget = "DELETE FROM event_cursors WHERE consumer = 'slow-consumer'";
    dispatch!(&app.db, pool => sqlx::query(forget).execute(pool).await.map(|_| ())).unwrap();
    // The identity context's follower reads the events.
    let last = scalar(&app, "SELECT MAX(id) FROM events").await;
    for _ in 0..100 {
        if scalar(&app, "SELECT COALESCE(MIN(position), 0) FROM event_cursors").await >= last {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let done = civitas_cli(&args);
    let report = String::from_utf8_lossy(&done.stdout).into_owned();
    assert!(done.status.success(), "{report}{}", String::from_utf8_lossy(&done.stderr));
    let lines = |table: &str| {
        std::fs::read_to_string(out.join(format!("{table}-before-2025-01.jsonl"))).unwrap().lines().count() as i64
    };
    assert_eq!(lines("events"), before);
    assert_eq!((lines("access_log"), lines("outbox_messages"), lines("webhook_deliveries")), (2, 1, 1));
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(out.join("access_log-before-2025-01.jsonl")).unwrap().lines().next().unwrap(),
    )
    .unwrap();
    assert_eq!((first["at"].as_str(), first["subject_pid"].as_str()), (Some(old), Some(AN)));
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "MANIFEST-before-2025-01.sha256"])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM events WHERE occurred_at < '2025-01'").await, 0);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM access_log WHERE at < '2025-01'").await, 0);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM outbox_messages WHERE created_at < '2025-01'").await,
        1,
        "unsent stays"
    );
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM webhook_deliveries WHERE created_at < '2025-01'").await, 1);
    if backend == Backend::Postgres {
        assert!(report.contains("partitions dropped: access_log_2023_05"), "{report}");
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM pg_class WHERE relname = 'access_log_2023_05'").await, 0);
    }
    // The register goes on: a new event, a read.
    let officer = app.token(Role::RegistryOfficer, &["01"]);
    assert_eq!(app.get(&format!("/api/v1/people/{AN}"), &officer).await.status(), 200);

    // Nothing is overwritten; a bad month is named.
    let again = civitas_cli(&args);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let bad = civitas_cli(&["archive", "--database", &app.db_url, "--before", "2025-13", "--out", &out_arg]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("YYYY-MM"));
    let future = civitas_cli(&["archive", "--database", &app.db_url, "--before", "2999-01", "--out", &out_arg]);
    assert!(String::from_utf8_lossy(&future.stderr).contains("only finished months"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_moves_old_rows_out_sqlite() {
    archive_moves_old_rows_out(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_moves_old_rows_out_postgres() {
    archive_moves_old_rows_out(Backend::Postgres).await;
}

/// `civitas keys rotate` on any machine reaches every server within seconds: on PostgreSQL by
/// a notification (the servers' poll there is 30 s, so only the notification fits the 3 s
/// allowed), on SQLite by the 2 s poll.
async fn rotated_keys_reach_every_server(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let peer = spawn_peer(&app).await;
    let keys = |server: &TestApp| {
        let (client, url) = (server.client.clone(), server.url("/oauth2/jwks"));
        async move {
            let jwks: Value = client.get(url).send().await.unwrap().json().await.unwrap();
            jwks["keys"].as_array().map(Vec::len).unwrap_or(0)
        }
    };
    assert_eq!(keys(&peer).await, 1);
    // Both servers have started listening (their first reload ran) before the rotation.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let out = civitas_cli(&["keys", "rotate", "--database", &app.db_url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rotated = std::time::Instant::now();
    let allowed = std::time::Duration::from_secs(match backend {
        Backend::Postgres => 3,
        Backend::Sqlite => 4,
    });
    for server in [&app, &peer] {
        while keys(server).await < 2 {
            assert!(rotated.elapsed() < allowed, "the new key reached {} within {allowed:?}", server.base);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_reach_every_server_sqlite() {
    rotated_keys_reach_every_server(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_reach_every_server_postgres() {
    rotated_keys_reach_every_server(Backend::Postgres).await;
}
