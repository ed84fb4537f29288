//! The reliability suite with real processes: three `civitas serve` processes on one
//! PostgreSQL behind a round-robin balancer (a small TCP proxy that, like nginx's
//! `proxy_next_upstream error`, tries the next server when one refuses the connection). One
//! server is killed with SIGKILL while citizens submit dossiers through the balancer and the
//! servers deliver webhooks and SMS: every acknowledged dossier is kept, a retried submission
//! (same Idempotency-Key) never makes a second dossier, and every delivery and SMS goes out,
//! once in effect (a repeat only of what the dead server had claimed, answered 409 by the
//! receiver). Then a streaming replica serves the searches.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use civitas_identity::Role;
use civitas_store::dispatch;

use crate::helpers::*;
use crate::one_stop::citizen_token;

/// A `civitas serve` process; SIGKILLed when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
}

impl Server {
    /// Starts `civitas serve` on the existing database `db_url` as one of the servers of
    /// `issuer`, with extra configuration `env`, and waits until it is ready.
    pub async fn start(db_url: &str, issuer: &str, env: &[(&str, &str)]) -> Server {
        let addr = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("addr").to_string()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_civitas"))
            .args(["serve", "--database", db_url, "--listen", &addr])
            .env("CIVITAS_ISSUER", issuer)
            .env("CIVITAS_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start civitas serve");
        let server = Server { child, addr };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            let ready = client.get(format!("http://{}/readyz", server.addr)).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("civitas serve on {} not ready within 30 s", server.addr);
    }

    /// `kill -9`: no shutdown, no lease released, claims left behind.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A round-robin TCP balancer in front of `backends`: each connection goes to the next
/// server; a server that refuses the connection is skipped (the next one is tried).
async fn balancer(backends: Vec<String>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (backends, next) = (backends.clone(), next.clone());
            tokio::spawn(async move {
                let first = next.fetch_add(1, Ordering::Relaxed);
                for i in 0..backends.len() {
                    let target = &backends[(first + i) % backends.len()];
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn count(db: &civitas_store::Db, sql: &'static str) -> i64 {
    dispatch!(db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

/// Submits one dossier through the balancer with `key`, retrying (same key) until the
/// answer is 201 or 200; returns the dossier code.
async fn submit_until_acknowledged(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    body: &Value,
    key: &str,
) -> String {
    for _ in 0..100 {
        let sent = client
            .post(format!("{base}/api/v1/dossiers"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == 201 || r.status() == 200 => {
                let v: Value = r.json().await.unwrap();
                return v["code"].as_str().expect("a dossier code").to_owned();
            }
            // A connection cut by the dying server, or a 503: the client tries again.
            Ok(r) => assert!(r.status() == 503 || r.status() == 502, "unexpected answer {}", r.status()),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("submission {key} never acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_behind_a_balancer_survive_kill_9() {
    let Some(app) = spawn_app(Backend::Postgres).await else { return };
    app.clients().await;
    app.account(AN, 1).await;
    let citizen = citizen_token(&app, AN).await;
    let lease: Value = app
        .client
        .post(app.url("/api/v1/me/documents?name=lease.pdf"))
        .bearer_auth(&citizen)
        .body(b"%PDF-1.4\n% lease\n%%EOF\n".to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = json!({
        "procedure": "DVC-03",
        "fields": { "address": "Số 8 phố Kim Mã", "commune": BA_DINH, "basis": "rented" },
        "components": { "CHO_O": lease["id"] },
    });
    // Only the three processes work from here on.
    app.state.jobs.stop();
    let at = civitas_store::timestamp(civitas::now());
    civitas_store::claims::set_outbound_paused(&app.db, true, &at).await.unwrap();
    // An agency that takes a little time per delivery (rounds are in flight when a server dies).
    let (hook, seen) = crate::reliability::receiver_taking(5).await;
    civitas_services::followups::put_agency(&app.db, "social-insurance", "BHXH", &hook, &at).await.unwrap();
    const N: i64 = 600;
    let deliveries = "INSERT INTO webhook_deliveries (id, agency_id, kind, subject_pid, dossier_code, payload, next_attempt_at, created_at) \
                      SELECT 'K' || n, 'social-insurance', 'test', '001090123456', 'X', '{}', 0, $2 FROM generate_series(1, $1) AS n";
    let sms = "INSERT INTO outbox_messages (channel, recipient, subject, body, created_at) \
               SELECT 'sms', '09' || lpad(n::text, 8, '0'), 's', 'b', $2 FROM generate_series(1, $1) AS n";
    for sql in [deliveries, sms] {
        dispatch!(&app.db, pool => sqlx::query(sql).bind(N).bind(&at).execute(pool).await.map(|_| ())).unwrap();
    }

    // A claim lease shorter than the default (the dead server's claims are taken over within the
    // test) yet longer than a round of these debug builds on two busy cores.
    let env = [("CIVITAS_JOB_CLAIM_LEASE_SECS", "20")];
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Server::start(&app.db_url, &app.base, &env).await);
    }
    let base = format!("http://{}", balancer(servers.iter().map(|s| s.addr.clone()).collect()).await);
    // A new connection per request, so that the balancer spreads them over the servers.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();

    civitas_store::claims::set_outbound_paused(&app.db, false, &at).await.unwrap();
    let citizens: Vec<_> = (0..4)
        .map(|w| {
            let (client, base, token, body) = (client.clone(), base.clone(), citizen.clone(), body.clone());
            tokio::spawn(async move {
                let mut codes = Vec::new();
                for i in 0..40 {
                    let key = format!("w{w}-{i}");
                    codes.push((key.clone(), submit_until_acknowledged(&client, &base, &token, &body, &key).await));
                }
                codes
            })
        })
        .collect();
    // The kill comes once deliveries are flowing (not after a fixed time: a fast machine had
    // delivered all 600 within 400 ms, leaving nothing in flight to lose).
    for _ in 0..500 {
        if seen.lock().unwrap().len() >= 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let in_flight = count(&app.db, "SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL").await;
    let seen_at_kill = seen.lock().unwrap().len();
    // A round claims at most 256 (a PostgreSQL plan once let one claimer take the whole queue).
    let claims: Vec<(Option<String>, i64)> = dispatch!(&app.db, pool => sqlx::query_as(
        "SELECT claim, COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL GROUP BY claim").fetch_all(pool).await).unwrap();
    assert!(claims.iter().all(|(c, n)| c.is_none() || *n <= 256), "claims at the kill: {claims:?}");
    servers[1].kill();
    assert!(in_flight > 0, "the server died while deliveries were pending");

    let mut acknowledged = HashMap::new();
    for task in citizens {
        for (key, code) in task.await.unwrap() {
            assert!(acknowledged.insert(key, code).is_none());
        }
    }
    // Every acknowledged dossier is stored, once per key.
    let stored: Vec<(String, String)> = dispatch!(&app.db, pool => sqlx::query_as(
        "SELECT idempotency_key, code FROM dossiers WHERE idempotency_key LIKE 'w%'").fetch_all(pool).await)
    .unwrap();
    assert_eq!(stored.len(), acknowledged.len(), "one dossier per submission, none lost, none twice");
    for (key, code) in &stored {
        assert_eq!(acknowledged.get(key), Some(code), "the acknowledged code of {key} is the stored one");
    }

    // Deliveries and SMS: all out, the dead server's claims taken over after their lease.
    let started = Instant::now();
    loop {
        let left = count(&app.db, "SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL").await
            + count(&app.db, "SELECT COUNT(*) FROM outbox_messages WHERE sent_at IS NULL").await;
        if left == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{left} deliveries left after 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM webhook_deliveries WHERE dead <> 0").await,
        0,
        "none dead-lettered"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), N as usize, "every delivery reached the agency");
    // A repeat can only be something the dead server had claimed and maybe sent before dying:
    // at most one round of its claims (256), answered 409 and recorded as delivered.
    let repeated = seen.values().filter(|n| **n > 1).count();
    eprintln!("cluster: {seen_at_kill} deliveries had reached the agency at the kill");
    eprintln!(
        "cluster: {in_flight} deliveries pending at the kill, all out {:.1} s later, {repeated} repeated",
        started.elapsed().as_secs_f32()
    );
    assert!(repeated <= 256, "{repeated} deliveries repeated");
    assert!(seen.values().all(|n| *n <= 2), "no delivery arrived three times");
    let resent = count(&app.db, "SELECT COUNT(*) FROM outbox_messages WHERE attempts > 1").await;
    assert!(resent <= 100, "at most one round of SMS of the dead server resent ({resent})");

    // The two survivors still answer through the balancer.
    let officer = app.token(Role::RegistryOfficer, &["01"]);
    for _ in 0..4 {
        let r = client.get(format!("{base}/api/v1/people/{AN}")).bearer_auth(&officer).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
}

/// The streaming replica of the test PostgreSQL (scripts/pg-replica) holding the database of
/// `db_url`; `None` (loudly) when there is none outside CI.
async fn replica_of(db_url: &str) -> Option<String> {
    let base =
        std::env::var("TEST_POSTGRES_REPLICA_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5433".into());
    let name = db_url.rsplit('/').next().unwrap_or_default();
    if let Err(e) = sqlx::PgPool::connect(&format!("{base}/postgres")).await {
        assert!(std::env::var("CI").is_err(), "CI needs the PostgreSQL replica of scripts/pg-replica: {e}");
        eprintln!("\n*** SKIPPED (no PostgreSQL replica at {base}: run scripts/pg-replica) ***\n");
        return None;
    }
    Some(format!("{base}/{name}"))
}

/// WAL replay paused on the replica while this lives (the replica then lags the primary).
struct ReplayPaused(String);

impl ReplayPaused {
    async fn start(replica: &str) -> ReplayPaused {
        let pool = sqlx::PgPool::connect(replica).await.unwrap();
        sqlx::query("SELECT pg_wal_replay_pause()").execute(&pool).await.unwrap();
        ReplayPaused(replica.to_owned())
    }
}

impl Drop for ReplayPaused {
    fn drop(&mut self) {
        let _ = Command::new("psql").args([self.0.as_str(), "-qtAc", "SELECT pg_wal_replay_resume()"]).output();
    }
}

async fn search(client: &reqwest::Client, base: &str, token: &str, query: &str) -> Vec<String> {
    let r = client.get(format!("{base}/api/v1/people?{query}")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["items"].as_array().unwrap().iter().map(|p| p["pid"].as_str().unwrap().to_owned()).collect()
}

/// With `database_replica`, searches and exports read from the streaming replica (while its
/// replay is paused they do not see a new person, whom a read by ID number on the primary
/// does see); a replica that cannot be reached is fallen back from, never an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_and_exports_read_from_the_streaming_replica() {
    let Some(app) = spawn_app(Backend::Postgres).await else { return };
    let Some(replica) = replica_of(&app.db_url).await else { return };
    // The replica catches up with the seeded register.
    let people = count(&app.db, "SELECT COUNT(*) FROM people").await;
    let started = Instant::now();
    loop {
        let on_replica = match sqlx::PgPool::connect(&replica).await {
            Ok(pool) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM people").fetch_one(&pool).await.unwrap_or(0),
            Err(_) => 0,
        };
        if on_replica == people {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the replica did not catch up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server = Server::start(&app.db_url, &app.base, &[("CIVITAS_DATABASE_REPLICA", &replica)]).await;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let officer = app.token(Role::RegistryOfficer, &["01"]);
    assert_eq!(search(&client, &base, &officer, "q=Nguyen%20Van%20An&birth_year=1990").await, vec![AN.to_owned()]);

    // A namesake registered while the replica lags: on the primary at once, in searches only
    // once the replica has replayed it.
    let paused = ReplayPaused::start(&replica).await;
    let namesake = json!({"pid": "001201000088", "full_name": "Nguyễn Văn An", "birth_date": "2001-05-05", "sex": "male",
        "permanent_residence": {"commune": BA_DINH, "address": "Số 3 phố Đội Cấn"}, "household_id": "HKAN2", "relation_to_head": "head"});
    let r = client
        .post(format!("{base}/api/v1/people"))
        .bearer_auth(&officer)
        .json(&json!({"person": namesake, "legal_basis": {"basis": "test"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = client.get(format!("{base}/api/v1/people/001201000088")).bearer_auth(&officer).send().await.unwrap();
    assert_eq!(r.status(), 200, "a read by ID number is on the primary");
    let query = "q=Nguyen%20Van%20An&birth_year=2001";
    assert!(search(&client, &base, &officer, query).await.is_empty(), "the search read the lagging replica");
    let export = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["export", "--database", &app.db_url])
        .env("CIVITAS_DATABASE_REPLICA", &replica)
        .env("CIVITAS_LOG", "warn")
        .output()
        .unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let exported = String::from_utf8(export.stdout).unwrap();
    assert!(exported.contains(AN) && !exported.contains("001201000088"), "the export read the replica");
    drop(paused);
    let started = Instant::now();
    while search(&client, &base, &officer, query).await.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(30), "the replica did not replay the namesake");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A replica that cannot be reached: searches fall back to the primary.
    let unreachable = format!("postgres://postgres@127.0.0.1:1/{}", app.db_url.rsplit('/').next().unwrap());
    let lonely = Server::start(&app.db_url, &app.base, &[("CIVITAS_DATABASE_REPLICA", &unreachable)]).await;
    let base = format!("http://{}", lonely.addr);
    assert_eq!(search(&client, &base, &officer, query).await, vec!["001201000088".to_owned()]);
}
