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
}
