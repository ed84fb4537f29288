//! Operations endpoints, the OpenAPI contract and public reference data.

use serde_json::Value;

use crate::helpers::*;
use crate::on_both_databases;

async fn operations(app: TestApp) {
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let t = app.token(civitas_identity::Role::Auditor, &["01"]);
    app.get(&format!("/api/v1/people/{AN}"), &t).await;
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("civitas_http_requests_total{method=\"GET\",route=\"/api/v1/people/{pid}\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("civitas_http_request_duration_seconds_bucket"));
    // The background jobs run in the one runtime and show their runs, failures, items and lag.
    for job in
        ["identity.follow_register", "keys.reload", "dossiers.sweep", "webhooks.deliver", "notifications.deliver"]
    {
        let runs = format!("civitas_job_runs_total{{job=\"{job}\"}}");
        assert!(metrics.contains(&runs), "{runs} in {metrics}");
        assert!(metrics.contains(&format!("civitas_job_failures_total{{job=\"{job}\"}} 0")), "{job}: {metrics}");
    }
    assert!(metrics.contains("civitas_job_seconds_since_success{job=\"keys.reload\"}"), "{metrics}");
    // One server alone leads its leased jobs (once their first run has taken the lease).
    assert!(!metrics.contains("civitas_job_leader{job=\"webhooks.deliver\"}"), "item-claiming jobs have no leader");
    let mut leads = false;
    for _ in 0..50 {
        let m = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        if m.contains("civitas_job_leader{job=\"dossiers.sweep\"} 1") {
            leads = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(leads, "the only server leads the sweep");
    assert!(metrics.trim_end().ends_with("# EOF"), "OpenMetrics ends with # EOF");
    let body = expect_problem(app.client.get(app.url("/api/v1/nothing-here")).send().await.unwrap(), 404).await;
    assert!(body["detail"].as_str().unwrap().contains("/api/v1/nothing-here"));
    // Readiness follows the database.
    app.db.close().await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
}
on_both_databases!(health_readiness_and_metrics, operations);

#[tokio::test]
async fn served_openapi_matches_the_committed_contract() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let served: Value = app.client.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(served["openapi"], "3.1.0");
    for path in [
        "/api/v1/people/{pid}",
        "/api/v1/people",
        "/api/v1/people/{pid}/history",
        "/api/v1/households/{id}",
        "/api/v1/people/{pid}/residence-confirmation",
    ] {
        assert!(served["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .expect("openapi.json is committed");
    let committed: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(served, committed, "the API changed: run `cargo run -- openapi > openapi.json` and review the diff");
}

#[tokio::test]
async fn administrative_units_are_public_reference_data() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let r: Value = app
        .client
        .get(app.url("/api/v1/units/communes?q=ba%20dinh&province=01"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r[0]["code"], "00004");
    assert_eq!(r[0]["province_name"], "Thành phố Hà Nội");
    // Phường Đội Cấn was split between Ba Đình and Ngọc Hà in 2025.
    let r: Value =
        app.client.get(app.url("/api/v1/units/old-communes/00022")).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["old_name"], "Phường Đội Cấn");
    let mut codes: Vec<&str> =
        r["candidates"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    codes.sort();
    assert_eq!(codes, ["00004", "00008"]);
    expect_problem(app.client.get(app.url("/api/v1/units/old-communes/99999")).send().await.unwrap(), 404).await;
    expect_problem(app.client.get(app.url("/api/v1/units/communes?q=x&province=02")).send().await.unwrap(), 400).await;

    // The pages' type-ahead: today's names by prefix, and old names with what they became.
    let suggest = |q: &'static str| {
        let url = app.url(&format!("/api/v1/units/communes/suggest?{q}"));
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let r: Value = suggest("q=ba%20d&province=01").await.json().await.unwrap();
    assert_eq!(r[0]["name"], "Phường Ba Đình");
    assert!(r[0]["formerly"].is_null());
    let r: Value = suggest("q=kim%20ma&province=01&lang=en").await.json().await.unwrap();
    let names: Vec<&str> = r.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Phường Ba Đình", "Phường Giảng Võ", "Phường Ngọc Hà"]);
    assert_eq!(r[0]["formerly"], "Phường Kim Mã");
    assert_eq!(r[0]["split_into"], 3);
    assert!(r[0]["detail"].as_str().unwrap().contains("was split into 3 communes"), "{r}");
    let r: Value = suggest("q=%C4%91i%E1%BB%87n%20bi%C3%AAn&province=01").await.json().await.unwrap();
    assert!(r.as_array().unwrap().iter().any(|s| s["formerly"] == "Phường Điện Biên" && s["split_into"] == 1), "{r}");
    let r: Value = suggest("q=").await.json().await.unwrap();
    assert_eq!(r, serde_json::json!([]));
    expect_problem(suggest("q=ba&province=02").await, 400).await;
    expect_problem(suggest("q=ba&province=abc").await, 400).await;
    let long = format!("q={}", "a".repeat(101));
    expect_problem(
        app.client.get(app.url(&format!("/api/v1/units/communes/suggest?{long}"))).send().await.unwrap(),
        400,
    )
    .await;
    expect_problem(suggest("province=01").await, 400).await;
}

/// The working-day calendar over HTTP (public) and from the command line.
#[tokio::test]
async fn calendar_endpoints_and_command() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let get = |path: &str| {
        let client = app.client.clone();
        let url = app.url(path);
        async move { client.get(url).send().await.unwrap() }
    };
    let v: serde_json::Value = get("/api/v1/calendar/holidays?year=2026").await.json().await.unwrap();
    let dates: Vec<&str> = v["items"].as_array().unwrap().iter().map(|h| h["date"].as_str().unwrap()).collect();
    assert!(dates.contains(&"2026-02-17") && dates.contains(&"2026-04-27"), "{dates:?}");
    let monday = v["items"].as_array().unwrap().iter().find(|h| h["date"] == "2026-04-27").unwrap();
    assert_eq!(monday["compensatory"], true);
    let v: serde_json::Value = get("/api/v1/calendar/working-days?from=2026-04-24&days=7").await.json().await.unwrap();
    assert_eq!(v["date"], "2026-05-08");
    let v: serde_json::Value = get("/api/v1/calendar/lunar?date=2026-02-17").await.json().await.unwrap();
    assert_eq!(
        (v["lunar_day"].as_u64(), v["lunar_month"].as_u64(), v["lunar_year"].as_i64(), v["working_day"].as_bool()),
        (Some(1), Some(1), Some(2026), Some(false))
    );
    for bad in [
        "/api/v1/calendar/holidays?year=20x6",
        "/api/v1/calendar/working-days?from=2026-13-01&days=3",
        "/api/v1/calendar/working-days?from=2026-01-01&days=-1",
        "/api/v1/calendar/lunar",
    ] {
        expect_problem(get(bad).await, 400).await;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["calendar", "add", "--from", "2026-02-13", "--days", "1"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2026-02-23", "Tết 2026: 14–22 February off");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["calendar", "holidays", "2027"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("2027-02-06"));
}

/// Dossier codes: body + date + a daily sequence that concurrent requests never share.
async fn dossier_sequences(app: TestApp) {
    let day = "2026-10-08";
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let db = app.db.clone();
        tasks.push(tokio::spawn(async move {
            civitas_store::sequences::next_daily(&db, "H15.50.05.13", day).await.unwrap()
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, (1..=100).collect::<Vec<i64>>());
    // Another body, another day: their own sequences.
    assert_eq!(civitas_store::sequences::next_daily(&app.db, "H15.50.05.14", day).await.unwrap(), 1);
    assert_eq!(civitas_store::sequences::next_daily(&app.db, "H15.50.05.13", "2026-10-09").await.unwrap(), 1);
    let date = time::macros::date!(2026 - 10 - 08);
    let code = civitas_core::dossier::DossierCode::new("H15.50.05.13", date, 101).unwrap();
    assert_eq!(code.to_string(), "H15.50.05.13-261008-0101");
}
on_both_databases!(dossier_code_sequences, dossier_sequences);

/// Documents: typed by content, capped in size, stored once per owner, readable only by them.
async fn documents(app: TestApp) {
    use civitas_services::documents::{self, DocumentError};
    let now = civitas::now();
    let pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n".to_vec();
    let doc = documents::store(&app.db, AN, "Giấy chứng sinh.pdf", &pdf, now).await.unwrap();
    assert_eq!((doc.media_type.as_str(), doc.size), ("application/pdf", pdf.len() as i64));
    // The same content again (under another name) is the same document.
    let again = documents::store(&app.db, AN, "scan.pdf", &pdf, now).await.unwrap();
    assert_eq!(again.id, doc.id);
    // A PNG named .pdf is a PNG; text named .pdf is refused; so is an oversized file.
    let png = [&[0x89u8, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..], b"rest"].concat();
    assert_eq!(documents::store(&app.db, AN, "photo.pdf", &png, now).await.unwrap().media_type, "image/png");
    assert!(matches!(
        documents::store(&app.db, AN, "x.pdf", b"hello", now).await,
        Err(DocumentError::UnsupportedType { .. })
    ));
    let big = [b"%PDF-".to_vec(), vec![0u8; documents::MAX_BYTES]].concat();
    assert!(matches!(documents::store(&app.db, AN, "big.pdf", &big, now).await, Err(DocumentError::TooLarge { .. })));
    assert!(matches!(documents::store(&app.db, AN, "e.pdf", b"", now).await, Err(DocumentError::Empty)));
    assert_eq!(documents::list(&app.db, AN).await.unwrap().len(), 2);
    assert_eq!(documents::content(&app.db, AN, &doc.id).await.unwrap().map(|(_, b)| b), Some(pdf));
    assert!(documents::content(&app.db, BINH, &doc.id).await.unwrap().is_none(), "another person's document");
}
on_both_databases!(documents_by_content, documents);

/// The page-weight budget: no page a citizen uses is over 100 KB of HTML, CSS and script
/// together (before images), so that it loads on a slow mobile connection.
async fn page_weights(app: TestApp) {
    app.account(AN, 1).await;
    let mut browser = app.browser();
    browser.get(&app.url("/signin")).await;
    let signed_in = browser.post(&app.url("/signin"), &[("pid", AN), ("password", PASSWORD)]).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let css = browser.get(&app.url("/static/style.css")).await;
    assert_eq!(css.status, 200);
    let script = browser.get(&app.url("/static/civitas.js")).await;
    assert_eq!(script.status, 200);
    const BUDGET: usize = 100 * 1024;
    for path in [
        "/account",
        "/services",
        "/services/DVC-03",
        "/services/DVC-03/apply",
        "/services/DVC-15/apply",
        "/my/dossiers",
        "/my/documents",
        "/verify",
        "/status",
        "/register",
        "/dev/style",
    ] {
        let page = browser.get(&app.url(path)).await;
        assert_eq!(page.status, 200, "{path}");
        let weight = page.body.len() + css.body.len() + script.body.len();
        assert!(weight <= BUDGET, "{path}: {weight} bytes of HTML, CSS and script, over the {BUDGET} budget");
    }
}
on_both_databases!(pages_stay_within_the_weight_budget, page_weights);
