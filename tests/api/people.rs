//! Reading the register: lookups, search, households, residence confirmation, scopes, access log.

use civitas_identity::Role;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_databases;

async fn person_lookup(app: TestApp) {
    let officer = app.token(Role::RegistryOfficer, &[BA_DINH]);
    let r = app.get(&format!("/api/v1/people/{AN}"), &officer).await;
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["pid"], AN);
    assert_eq!(p["full_name"], "Nguyễn Văn An");
    assert_eq!(p["birth_date"], "1990-03-15");
    assert_eq!(p["sex"], "male");
    assert_eq!(p["permanent_residence"]["commune"], BA_DINH);
    assert_eq!(p["household_id"], "HKTEST1");

    // Malformed PID: 400 with the reason.
    let body = expect_problem(app.get("/api/v1/people/12345", &officer).await, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("12 digits"), "{body}");
    let body = expect_problem(app.get("/api/v1/people/003090123456", &officer).await, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("003"), "{body}");
    // Well-formed but unknown: 404.
    expect_problem(app.get("/api/v1/people/001090999999", &officer).await, 404).await;
    // Partial birth date survives.
    let province = app.token(Role::OnestopOfficer, &["01"]);
    let r: Value = app.get(&format!("/api/v1/people/{DUNG}"), &province).await.json().await.unwrap();
    assert_eq!(r["birth_date"], "1985");
}
on_both_databases!(person_lookup_answers_200_400_404, person_lookup);

async fn scopes(app: TestApp) {
    // No token, garbage token, tampered token: 401.
    let r = app.client.get(app.url(&format!("/api/v1/people/{AN}"))).send().await.unwrap();
    assert_eq!(r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer realm=\"civitas\""));
    expect_problem(r, 401).await;
    expect_problem(app.get(&format!("/api/v1/people/{AN}"), "not-a-token").await, 401).await;
    let good = app.token(Role::RegistryOfficer, &[BA_DINH]);
    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    expect_problem(app.get(&format!("/api/v1/people/{AN}"), &tampered).await, 401).await;
    // An expired token.
    let expired = civitas_identity::tokens::issue(
        &app.state.keys,
        "old",
        Role::RegistryOfficer,
        &[civitas_core::UnitCode::parse(BA_DINH).unwrap()],
        civitas::now().unix_timestamp() - 7200,
        60,
    );
    let body = expect_problem(app.get(&format!("/api/v1/people/{AN}"), &expired).await, 401).await;
    assert!(body["detail"].as_str().unwrap().contains("expired"));

    // An officer of Ngọc Hà may not read a person of Ba Đình, and vice versa.
    let ngoc_ha = app.token(Role::RegistryOfficer, &[NGOC_HA]);
    expect_problem(app.get(&format!("/api/v1/people/{AN}"), &ngoc_ha).await, 403).await;
    assert_eq!(app.get(&format!("/api/v1/people/{DUNG}"), &ngoc_ha).await.status(), 200);
    expect_problem(app.get(&format!("/api/v1/people/{DUNG}"), &good).await, 403).await;
    expect_problem(app.get("/api/v1/households/HKTEST1", &ngoc_ha).await, 403).await;
    expect_problem(app.get(&format!("/api/v1/people/{AN}/history"), &ngoc_ha).await, 403).await;
    expect_problem(app.get(&format!("/api/v1/people/{AN}/residence-confirmation"), &ngoc_ha).await, 403).await;
    // A province unit covers its communes; another province does not.
    let hanoi = app.token(Role::Auditor, &["01"]);
    assert_eq!(app.get(&format!("/api/v1/people/{AN}"), &hanoi).await.status(), 200);
    let hcmc = app.token(Role::Auditor, &["79"]);
    expect_problem(app.get(&format!("/api/v1/people/{AN}"), &hcmc).await, 403).await;
    // Search never returns people outside the caller's units.
    let r: Value = app.get("/api/v1/people?q=nguyen%20van%20an", &ngoc_ha).await.json().await.unwrap();
    assert!(r["items"].as_array().unwrap().iter().all(|p| p["permanent_residence"]["commune"] == NGOC_HA), "{r}");
    let body = expect_problem(app.get(&format!("/api/v1/people?q=an&commune={BA_DINH}"), &ngoc_ha).await, 403).await;
    assert!(body["detail"].as_str().unwrap().contains(BA_DINH));
}
on_both_databases!(units_and_tokens_limit_access, scopes);

async fn search(app: TestApp) {
    let t = app.token(Role::OnestopOfficer, &["01"]);
    let names = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|p| p["full_name"].as_str().unwrap().to_owned()).collect()
    };
    // Without diacritics, in NFD, with old tone placement, with a typo: An comes first.
    for q in ["nguyen%20van%20an", "Nguye%CC%83n%20Va%CC%86n%20An", "NGUYEN%20VAN%20AN", "nguyne%20van%20an"] {
        let r: Value = app.get(&format!("/api/v1/people?q={q}&commune={BA_DINH}"), &t).await.json().await.unwrap();
        assert_eq!(r["items"][0]["pid"], AN, "query {q}: {:?}", names(&r));
    }
    // The exact match ranks above a typo match; birth year and commune filter.
    let r: Value = app.get("/api/v1/people?q=nguyen%20van%20an&birth_year=1990", &t).await.json().await.unwrap();
    assert_eq!(r["items"][0]["pid"], AN);
    assert!(r["items"].as_array().unwrap().iter().all(|p| p["birth_date"].as_str().unwrap().starts_with("1990")));
    let r: Value = app.get("/api/v1/people?q=nguyen%20van%20an&birth_year=1991", &t).await.json().await.unwrap();
    assert!(!r["items"].as_array().unwrap().iter().any(|p| p["pid"] == AN));
    let r: Value = app.get("/api/v1/people?q=le%20thi%20dung&birth_year=1985", &t).await.json().await.unwrap();
    assert_eq!(r["items"][0]["pid"], DUNG);
    // Bad parameters are specific.
    expect_problem(app.get("/api/v1/people?q=a", &t).await, 400).await;
    expect_problem(app.get("/api/v1/people?q=an&birth_year=90", &t).await, 400).await;
    expect_problem(app.get("/api/v1/people?q=an&commune=999", &t).await, 400).await;
    expect_problem(app.get("/api/v1/people?q=an&limit=1000", &t).await, 400).await;
}
on_both_databases!(search_folds_diacritics_and_tolerates_a_typo, search);

async fn household_and_confirmation(app: TestApp) {
    let t = app.token(Role::OnestopOfficer, &[BA_DINH]);
    let h: Value = app.get("/api/v1/households/HKTEST1", &t).await.json().await.unwrap();
    assert_eq!(h["head_pid"], AN);
    let members: Vec<&str> = h["members"].as_array().unwrap().iter().map(|m| m["pid"].as_str().unwrap()).collect();
    assert_eq!(members, [AN, BINH, CUONG]);
    assert_eq!(h["members"][2]["relation_to_head"], "child");
    expect_problem(app.get("/api/v1/households/NOPE", &t).await, 404).await;
    expect_problem(app.get("/api/v1/households/bad%20id", &t).await, 400).await;

    let c: Value = app.get(&format!("/api/v1/people/{CUONG}/residence-confirmation"), &t).await.json().await.unwrap();
    assert_eq!(c["form"], "CT07");
    assert_eq!(c["pid"], CUONG);
    assert_eq!(c["permanent_residence"]["commune_name"], "Phường Ba Đình");
    assert_eq!(c["permanent_residence"]["province_name"], "Thành phố Hà Nội");
    assert_eq!(c["permanent_residence"]["full_address"], "Số 5 phố Đội Cấn, Phường Ba Đình, Thành phố Hà Nội");
    assert_eq!(c["relation_to_head"], "child");
    assert_eq!(c["household"]["head_name"], "Nguyễn Văn An");
    assert_eq!(c["household"]["members"].as_array().unwrap().len(), 3);
}
on_both_databases!(household_and_residence_confirmation, household_and_confirmation);

async fn access_log(app: TestApp) {
    // Agency systems must say why they read.
    let agency = app.token(Role::AgencySystem, &["01"]);
    let body = expect_problem(app.get(&format!("/api/v1/people/{AN}"), &agency).await, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("X-Purpose"));
    app.grant("tester", "register", "health-insurance card renewal", &["record"], &[], &["01"]).await;
    let r = agency_call(app.client.get(app.url(&format!("/api/v1/people/{AN}"))), "health-insurance card renewal")
        .bearer_auth(&agency)
        .header("X-Request-Id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("req-42"));
    let entries = civitas_store::access_log::for_subject(&app.db, AN, 10).await.unwrap();
    let e = &entries[0];
    assert_eq!(e.role, "agency-system");
    assert_eq!(e.unit, "01");
    assert_eq!(e.purpose.as_deref(), Some("health-insurance card renewal"));
    assert_eq!(e.request_id.as_deref(), Some("req-42"));
    assert_eq!(e.fields, "record");
    assert_eq!(e.how.as_deref(), Some("api"));
    assert_eq!(e.official.as_deref(), Some("Trần Thị Cán Bộ"));
    assert_eq!(e.case_id.as_deref(), Some("HS-2026-001"));
    assert_eq!(e.legal_basis.as_deref(), Some("Luật Căn cước 2023, điều 10"));
    // A refused read is not a read; a household read logs every member.
    let before = civitas_store::access_log::for_subject(&app.db, DUNG, 10).await.unwrap().len();
    let ba_dinh = app.token(Role::RegistryOfficer, &[BA_DINH]);
    app.get(&format!("/api/v1/people/{DUNG}"), &ba_dinh).await;
    assert_eq!(civitas_store::access_log::for_subject(&app.db, DUNG, 10).await.unwrap().len(), before);
    app.get("/api/v1/households/HKTEST1", &ba_dinh).await;
    let cuong = civitas_store::access_log::for_subject(&app.db, CUONG, 10).await.unwrap();
    assert_eq!(cuong[0].fields, "household");
    assert_eq!(cuong[0].actor, "tester");
}
on_both_databases!(every_read_is_logged_with_purpose, access_log);
