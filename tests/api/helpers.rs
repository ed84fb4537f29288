//! `spawn_app`: a fresh database (SQLite file or new PostgreSQL database), migrated, with a small
//! fixture population, and the real server listening on 127.0.0.1:0.

use std::sync::atomic::{AtomicU32, Ordering};

use civitas_core::UnitCode;
use civitas_identity::{KeyRing, Role, tokens};
use civitas_registry::store::Attribution;
use civitas_registry::{LegalBasis, Person, Register};
use civitas_store::Db;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// The URL the server runs on (for tests that also run the CLI).
    #[allow(dead_code)]
    pub db_url: String,
    pub state: civitas_web::AppState,
    _dir: Option<TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Runs the `civitas` binary with `args` (logging warnings only).
pub fn civitas_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(args)
        .env("CIVITAS_LOG", "warn")
        .output()
        .expect("run civitas")
}

pub fn temp_dir() -> TempDir {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("civitas-test-{}-{n}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempDir(dir)
}

fn rand_suffix() -> u64 {
    civitas::now().unix_timestamp_nanos() as u64 % 1_000_000_007
}

pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh, empty database URL for `backend`, or `None` (with a loud message) when PostgreSQL is
/// not reachable outside CI. In CI (`CI=true`) an unreachable PostgreSQL fails the test.
pub async fn fresh_database(backend: Backend) -> Option<(String, Option<TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = temp_dir();
            let url = format!("sqlite://{}/civitas.db", dir.0.display());
            Some((url, Some(dir)))
        }
        Backend::Postgres => {
            let admin = postgres_admin_url();
            let pool = match sqlx::PgPool::connect(&admin).await {
                Ok(p) => p,
                Err(e) => {
                    if std::env::var("CI").is_ok_and(|v| v == "true") {
                        panic!("PostgreSQL at {admin} is required in CI: {e}");
                    }
                    eprintln!("\n*** SKIPPED (PostgreSQL not reachable at {admin}: {e}) ***\n");
                    return None;
                }
            };
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let name = format!("civitas_t{}_{n}_{}", std::process::id(), rand_suffix());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await
                .expect("create database");
            pool.close().await;
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin.clone());
            Some((format!("{base}/{name}"), None))
        }
    }
}

pub const TODAY: time::Date = time::macros::date!(2026 - 07 - 01);

/// People every test can rely on.
pub const AN: &str = "001090123456"; // Nguyễn Văn An, head of HKTEST1 in Phường Ba Đình (00004)
pub const BINH: &str = "001190000002"; // Trần Thị Bình, wife of An, same household
pub const CUONG: &str = "001215000003"; // Nguyễn Văn Cường, their son
pub const DUNG: &str = "079185000004"; // Lê Thị Dung, Phường Ngọc Hà (00008), own household
pub const BA_DINH: &str = "00004";
pub const NGOC_HA: &str = "00008";

fn fixture() -> Vec<Person> {
    let lines = [
        r#"{"pid":"001090123456","full_name":"Nguyễn Văn An","birth_date":"1990-03-15","sex":"male","marital_status":"married","spouse_pid":"001190000002","permanent_residence":{"commune":"00004","address":"Số 5 phố Đội Cấn"},"household_id":"HKTEST1","relation_to_head":"head"}"#,
        r#"{"pid":"001190000002","full_name":"Trần Thị Bình","birth_date":"1990-07-02","sex":"female","marital_status":"married","spouse_pid":"001090123456","permanent_residence":{"commune":"00004","address":"Số 5 phố Đội Cấn"},"household_id":"HKTEST1","relation_to_head":"spouse"}"#,
        r#"{"pid":"001215000003","full_name":"Nguyễn Văn Cường","birth_date":"2015-01-20","sex":"male","father_pid":"001090123456","mother_pid":"001190000002","permanent_residence":{"commune":"00004","address":"Số 5 phố Đội Cấn"},"household_id":"HKTEST1","relation_to_head":"child"}"#,
        r#"{"pid":"079185000004","full_name":"Lê Thị Dung","birth_date":"1985","sex":"female","religion":"Phật giáo","permanent_residence":{"commune":"00008","address":"Số 10 phố Kim Mã"},"household_id":"HKTEST2","relation_to_head":"head"}"#,
    ];
    lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Person>(l).expect("fixture").normalize_and_validate(TODAY).expect("valid fixture")
        })
        .collect()
}

pub async fn seed(db: &Db) {
    let register = Register::new(db.clone());
    let basis = LegalBasis { basis: "test fixture".into(), document_ref: None };
    let at = civitas_store::timestamp(time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000));
    let attribution = Attribution { actor: "fixture", legal_basis: &basis, at: &at };
    register.import_batch(&fixture(), &attribution).await.expect("seed fixture");
    // Some synthetic neighbours, so that search has something to rank.
    let mut generator =
        civitas_registry::synth::Generator::new(civitas_core::ProvinceCode::parse("01").unwrap(), 99, TODAY).unwrap();
    let mut people = Vec::new();
    while people.len() < 300 {
        people.extend(generator.household());
    }
    register.import_batch(&people, &attribution).await.expect("seed synthetic");
}

/// Starts the server on a fresh database; `None` when the backend is unavailable (skipped).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    let (db_url, dir) = fresh_database(backend).await?;
    let db = civitas::open(&db_url).await.expect("open database");
    seed(&db).await;
    Some(serve_on(db, db_url, dir).await)
}

/// The server on the database at `db_url` (created and seeded here).
#[allow(dead_code)]
pub async fn spawn_app_at(db_url: String) -> TestApp {
    let db = civitas::open(&db_url).await.expect("open database");
    seed(&db).await;
    serve_on(db, db_url, None).await
}

/// A server on the existing database at `db_url` (nothing seeded), known to the world as
/// `issuer` (the public URL a restored server keeps).
#[allow(dead_code)]
pub async fn spawn_server_at(db_url: String, issuer: &str) -> TestApp {
    let db = civitas::open(&db_url).await.expect("open database");
    serve_as(db, db_url, None, Some(issuer)).await
}

/// Another server on the database of `app` (several servers behind one load balancer).
#[allow(dead_code)]
pub async fn spawn_peer(app: &TestApp) -> TestApp {
    let db = civitas::open(&app.db_url).await.expect("open database");
    serve_on(db, app.db_url.clone(), None).await
}

async fn serve_on(db: Db, db_url: String, dir: Option<TempDir>) -> TestApp {
    serve_as(db, db_url, dir, None).await
}

/// A server whose public URL (the OpenID issuer) is `issuer`, or its own address.
async fn serve_as(db: Db, db_url: String, dir: Option<TempDir>, issuer: Option<&str>) -> TestApp {
    let keys = KeyRing::load_or_create(&db, civitas::now()).await.expect("keys");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let issuer = issuer.map(str::to_owned).unwrap_or_else(|| format!("http://{addr}"));
    let state = civitas_web::AppState::new(db.clone(), keys, false, &issuer, true).await.expect("state");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server_state = state.clone();
    tokio::spawn(async move {
        let _ = civitas_web::serve(listener, server_state, async {
            let _ = rx.await;
        })
        .await;
    });
    TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        db,
        db_url,
        state,
        _dir: dir,
        shutdown: Some(tx),
    }
}

impl TestApp {
    pub fn token(&self, role: Role, units: &[&str]) -> String {
        let units: Vec<UnitCode> = units.iter().map(|u| UnitCode::parse(u).expect("unit")).collect();
        tokens::issue(&self.state.keys, "tester", role, &units, civitas::now().unix_timestamp(), 3600)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.expect("request")
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.client.request(method, self.url(path)).bearer_auth(token).json(&body).send().await.expect("request")
    }
}

/// Asserts a problem-details answer with `status` and returns its body.
pub async fn expect_problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status);
    assert!(body["type"].as_str().is_some_and(|t| t.starts_with("urn:civitas:problem:")), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    body
}

/// Defines `mod $name { sqlite, postgres }` running `$body(app)` on each backend.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $scenario:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await {
                    super::$scenario(app).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await {
                    super::$scenario(app).await;
                }
            }
        }
    };
}

/// The headers every call of an agency system carries: its purpose, the official it acts for,
/// the case.
pub fn agency_call(req: reqwest::RequestBuilder, purpose: &str) -> reqwest::RequestBuilder {
    req.header("x-purpose", purpose).header("x-acting-official", "Trần Thị Cán Bộ").header("x-case-id", "HS-2026-001")
}

/// A password that passes the policy, used by the identity tests.
pub const PASSWORD: &str = "sông Hồng mùa thu";

/// The demo-style clients the identity tests use.
pub const RP_SECRET: &str = "rp-secret-0123456789abcdef0123456789";
pub const AGENCY_SECRET: &str = "agency-secret-0123456789abcdef012345";

impl TestApp {
    /// Creates an active account; level 2 returns its TOTP key and recovery codes.
    pub async fn account(&self, pid: &str, level: i64) -> Option<civitas_identity::accounts::SecondFactor> {
        self.state.identity.create_account(pid, level, PASSWORD, "test", civitas::now()).await.expect("create account")
    }

    /// Registers `rp` (web client, loopback redirect, refresh tokens) and `agency`
    /// (client_credentials, agency-system of Hà Nội).
    pub async fn clients(&self) {
        use civitas_identity::NewClient;
        let rp = NewClient {
            id: "rp".into(),
            name: "Cổng dịch vụ công thử nghiệm".into(),
            secret: Some(RP_SECRET.into()),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:9/bye".into()],
            scopes: [
                "openid",
                "profile",
                "address",
                "phone",
                "pid",
                "offline_access",
                "dossiers",
                "documents",
                "certificates",
                "access",
            ]
            .map(String::from)
            .to_vec(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            ..Default::default()
        };
        let agency = NewClient {
            id: "agency".into(),
            name: "Bảo hiểm xã hội".into(),
            secret: Some(AGENCY_SECRET.into()),
            scopes: vec!["registry.read".into()],
            grant_types: vec!["client_credentials".into()],
            role: Some(Role::AgencySystem),
            units: vec!["01".into()],
            ..Default::default()
        };
        for c in [rp, agency] {
            self.state.identity.create_client(c, civitas::now()).await.expect("client");
        }
    }

    /// Grants the agency system `system` (an OpenID client with role agency-system of Hà Nội,
    /// created when missing, of the agency `test-agency`) `service` for `purpose`: `fields`
    /// (and `events`) in `units`, for a year. Returns the grant's id.
    pub async fn grant(
        &self,
        system: &str,
        service: &str,
        purpose: &str,
        fields: &[&str],
        events: &[&str],
        units: &[&str],
    ) -> String {
        let at = civitas::now();
        civitas_services::followups::put_agency(
            &self.db,
            "test-agency",
            "Cơ quan thử nghiệm",
            "http://127.0.0.1:9/hooks",
            &civitas_store::timestamp(at),
        )
        .await
        .unwrap();
        let client = civitas_identity::NewClient {
            id: system.into(),
            name: "Hệ thống thử nghiệm".into(),
            secret: Some(AGENCY_SECRET.into()),
            scopes: vec!["registry.read".into()],
            grant_types: vec!["client_credentials".into()],
            role: Some(Role::AgencySystem),
            units: vec!["01".into()],
            ..Default::default()
        };
        match self.state.identity.create_client(client, at).await {
            Ok(()) | Err(civitas_identity::oidc::ClientError::Exists(_)) => {}
            Err(e) => panic!("client {system}: {e}"),
        }
        let owner = civitas_exchange::grants::systems(&self.db)
            .await
            .unwrap()
            .into_iter()
            .find(|(c, _)| c == system)
            .map(|(_, a)| a)
            .unwrap_or_else(|| "test-agency".into());
        if owner != "test-agency" {
            civitas_services::followups::put_agency(&self.db, &owner, "Cơ quan", "http://127.0.0.1:9/hooks", "x")
                .await
                .unwrap();
        }
        let new = civitas_exchange::grants::NewGrant {
            agency_id: owner,
            system_id: system.into(),
            service: service.into(),
            purpose: purpose.into(),
            legal_basis: "Luật Căn cước 2023, điều 10".into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            units: units.iter().map(|u| (*u).to_owned()).collect(),
            valid_until: (at + time::Duration::days(365)).date().to_string(),
        };
        civitas_exchange::grants::create(&self.db, &new, "test", at).await.expect("grant").id
    }

    /// A cookie-keeping client that follows no redirects: what a browser does, step by step.
    pub fn browser(&self) -> Jar {
        Jar { client: self.client.clone(), cookies: Default::default(), csrf: None }
    }

    /// Messages in the development outbox for `recipient`, newest first.
    pub async fn outbox(&self, recipient: &str) -> Vec<String> {
        let v: serde_json::Value =
            self.client.get(self.url("/dev/outbox?format=json")).send().await.unwrap().json().await.unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["recipient"] == recipient)
            .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

pub struct Jar {
    pub client: reqwest::Client,
    pub cookies: std::collections::BTreeMap<String, String>,
    /// The CSRF token of the last page that had a form (tokens are bound to the session).
    pub csrf: Option<String>,
}

/// What a page request answered: status, `Location`, body.
pub struct Step {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Jar {
    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Step {
        for v in response.headers().get_all("set-cookie") {
            let Ok(v) = v.to_str() else { continue };
            let pair = v.split(';').next().unwrap_or_default();
            if let Some((k, val)) = pair.split_once('=') {
                if val.is_empty() || v.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), val.to_owned());
                }
            }
        }
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        let marker = "name=\"csrf\" value=\"";
        if let Some(start) = body.find(marker).map(|i| i + marker.len())
            && let Some(len) = body[start..].find('"')
        {
            self.csrf = Some(body[start..start + len].to_owned());
        }
        Step { status, location, body }
    }

    pub async fn get(&mut self, url: &str) -> Step {
        let r = self.client.get(url).header("cookie", self.cookie_header()).send().await.expect("GET");
        self.finish(r).await
    }

    /// Posts a form, adding the CSRF token from the cookie.
    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Step {
        let csrf = self.csrf.clone().unwrap_or_default();
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf", &csrf));
        let r = self.client.post(url).header("cookie", self.cookie_header()).form(&fields).send().await.expect("POST");
        self.finish(r).await
    }
}

/// The value of query parameter `name` in `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The answer (lower-cased) to a request to `path` whose head declares a body of `len` bytes,
/// sent over a raw connection without the body: it must be a 413 that closes the connection at
/// once. (A client still writing megabytes may see its write fail on the closed connection
/// before it reads the answer; sending only the head makes the check deterministic.)
pub async fn too_large_head(app: &TestApp, path: &str, content_type: &str, len: usize, token: Option<&str>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n{auth}Content-Length: {len}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server closes the connection after a 413");
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 413"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    answer
}
