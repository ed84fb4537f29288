//! Coded digitised documents over HTTP: a component uploaded with an online dossier gets a
//! code, kept when the same document is handed in again; the result gets a code signed by the
//! agency that `/verify` answers for (and refuses once the stored document no longer matches);
//! a later dossier reusing the result records the result's code; officers look codes up within
//! their units only (API and page); the Decision 766 measure of store reuse counts it.

use serde_json::{Value, json};

use civitas_identity::Role;

use crate::helpers::*;
use crate::on_both_databases;
use crate::one_stop::{act, citizen_token, officer, pdf, upload};

fn enc(code: &str) -> String {
    serde_urlencoded::to_string([("x", code)]).unwrap().trim_start_matches("x=").replace('+', "%20")
}

async fn verify(app: &TestApp, input: &str) -> Value {
    let r = app.client.get(app.url(&format!("/verify?format=json&payload={}", enc(input)))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn coded_documents(app: TestApp) {
    let sim = civitas_exchange::portal_sim::PortalSim::new("civitas", "s3cret-portal");
    let (port, _stop) = crate::portal::portal_sim(sim.clone(), 0).await;
    crate::portal::link_to(&app, port);
    app.clients().await;
    app.account(AN, 1).await;
    let citizen = citizen_token(&app, AN).await;
    let lease: Value = upload(&app, &citizen, "hop-dong-thue.pdf", pdf("hợp đồng thuê")).await.json().await.unwrap();
    let submit = |body: Value| {
        let citizen = citizen.clone();
        let req = app.client.post(app.url("/api/v1/dossiers")).bearer_auth(citizen).json(&body);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()
        }
    };
    let fields = json!({ "address": "Số 8 phố Kim Mã", "commune": BA_DINH, "basis": "rented" });
    let first =
        submit(json!({ "procedure": "DVC-03", "fields": fields, "components": { "CHO_O": lease["id"] } })).await;
    let dossier = first["code"].as_str().unwrap().to_owned();

    // The uploaded component was digitised with this dossier: its code has the owner, the
    // procedure, the component type and a sequence (the default format).
    let component = first["data"]["codes"]["CHO_O"].clone();
    assert_eq!(component["how"], "digitised", "{first}");
    let component_code = component["code"].as_str().unwrap().to_owned();
    assert_eq!(component_code, format!("{AN}.DVC-03.CHO_O.01"));
    // Handed in again with another dossier: the same document keeps its code.
    let second =
        submit(json!({ "procedure": "DVC-03", "fields": fields, "components": { "CHO_O": lease["id"] } })).await;
    assert_eq!(second["data"]["codes"]["CHO_O"], json!({ "code": component_code, "how": "reused" }));
    // Another document of the same type: the next sequence.
    let other: Value = upload(&app, &citizen, "hop-dong-khac.pdf", pdf("hợp đồng khác")).await.json().await.unwrap();
    let third =
        submit(json!({ "procedure": "DVC-03", "fields": fields, "components": { "CHO_O": other["id"] } })).await;
    assert_eq!(third["data"]["codes"]["CHO_O"]["code"], format!("{AN}.DVC-03.CHO_O.02"));

    // Officers of the dossier's unit look the code up; another commune's officer cannot tell
    // it exists.
    let desk = officer(&app, "mc-badinh", Role::OnestopOfficer, BA_DINH);
    let clerk = officer(&app, "cv-badinh", Role::Specialist, BA_DINH);
    let chief = officer(&app, "ld-badinh", Role::Leader, BA_DINH);
    let stranger = officer(&app, "cv-ngocha", Role::Specialist, NGOC_HA);
    let found = app.get(&format!("/api/v1/document-codes/{}", enc(&component_code)), &desk).await;
    assert_eq!(found.status(), 200);
    let found: Value = found.json().await.unwrap();
    assert_eq!(
        (found["kind"].as_str(), found["document_id"].as_str(), found["dossier_code"].as_str()),
        (Some("component"), lease["id"].as_str(), Some(dossier.as_str()))
    );
    assert_eq!(found["sha256"], lease["sha256"]);
    assert_eq!((found["source"].as_str(), found["unit"].as_str()), (Some("online"), Some(BA_DINH)));
    let hidden =
        expect_problem(app.get(&format!("/api/v1/document-codes/{}", enc(&component_code)), &stranger).await, 404)
            .await;
    let unknown = expect_problem(app.get("/api/v1/document-codes/no.such.code.01", &stranger).await, 404).await;
    assert_eq!(hidden["title"], unknown["title"]);
    let long = "9".repeat(300);
    expect_problem(app.get(&format!("/api/v1/document-codes/{long}"), &desk).await, 404).await;

    // Processed to its result: the result gets a code, signed by the agency.
    for (token, action) in
        [(&desk, "start_processing"), (&clerk, "forward"), (&chief, "approve"), (&clerk, "issue_result")]
    {
        let r = act(&app, token, &dossier, json!({ "action": action })).await;
        assert_eq!(r.status(), 200, "{action}: {}", r.text().await.unwrap_or_default());
    }
    let view: Value = app.get(&format!("/api/v1/dossiers/{dossier}"), &desk).await.json().await.unwrap();
    let result_code = view["data"]["result_code"].as_str().expect("a result code").to_owned();
    assert_eq!(result_code, format!("{AN}.KQ-DVC-03.{dossier}.01"));
    let coded: Value =
        app.get(&format!("/api/v1/document-codes/{}", enc(&result_code)), &chief).await.json().await.unwrap();
    assert_eq!((coded["kind"].as_str(), coded["source"].as_str()), (Some("result"), Some("issued")));
    assert_eq!(coded["document_id"], view["result_document"]);
    let signature = coded["signature"].as_str().expect("signed").to_owned();

    // `/verify` answers for the result's code, and for its signature.
    let v = verify(&app, &result_code).await;
    assert_eq!(v["status"], "valid", "{v}");
    assert_eq!(v["claims"]["no"], result_code.as_str());
    assert_eq!(v["claims"]["f"]["sha256"], coded["sha256"]);
    assert_eq!(verify(&app, &signature).await["status"], "valid");
    assert_eq!(verify(&app, &format!("{result_code}9")).await["status"], "invalid");
    // The page says so too.
    let page = app.client.get(app.url(&format!("/verify?payload={}", enc(&result_code)))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(&dossier));

    // A later dossier reuses the result instead of asking for papers: it records the result's
    // code, and counts as taken from the store.
    let power = submit(json!({ "procedure": "DVC-24", "fields": { "address": "Số 8 phố Kim Mã" } })).await;
    assert_eq!(power["data"]["codes"]["CH"], json!({ "code": result_code, "how": "reused" }));
    let events = "SELECT payload FROM events WHERE kind = 'dossier.received' AND subject = $1";
    let (payload,): (String,) = civitas_store::dispatch!(&app.db, pool => sqlx::query_as(events)
        .bind(power["code"].as_str().unwrap()).fetch_one(pool).await)
    .unwrap();
    let payload: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!((payload["reused"].as_bool(), payload["from_store"].as_bool()), (Some(true), Some(true)));

    // The national portal learns the codes and how each component came.
    crate::portal::synchronised(&app).await;
    let held = sim.dossiers();
    let tai_lieu = |code: &str| held[code].hoso["TaiLieuNop"].as_array().unwrap().clone();
    let lease_entry = tai_lieu(&dossier).into_iter().find(|t| t["MaThanhPhanHoSo"] == "CHO_O").unwrap();
    assert_eq!(
        (
            lease_entry["TepDinhKemId"].as_str(),
            lease_entry["DuocSoHoa"].as_i64(),
            lease_entry["DuocTaiSuDung"].as_i64()
        ),
        (Some(component_code.as_str()), Some(1), Some(0))
    );
    let again =
        tai_lieu(second["code"].as_str().unwrap()).into_iter().find(|t| t["MaThanhPhanHoSo"] == "CHO_O").unwrap();
    assert_eq!((again["DuocSoHoa"].as_i64(), again["DuocTaiSuDung"].as_i64()), (Some(0), Some(1)));
    assert_eq!(again["MaKetQuaThayThe"], component_code.as_str());
    let result_entry = &held[&dossier].hoso["DanhSachGiayToKetQua"][0];
    assert_eq!(result_entry["MaGiayToKetQua"], result_code.as_str());
    let link = result_entry["DuongDanTepTinKetQua"].as_str().unwrap();
    let r = app.client.get(format!("{link}&format=json")).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "valid", "the portal's link verifies: {link}");
    let reused = tai_lieu(power["code"].as_str().unwrap());
    assert!(
        reused.iter().any(|t| t["MaThanhPhanHoSo"] == "CH"
            && t["DuocTaiSuDung"] == 1
            && t["MaKetQuaThayThe"] == result_code.as_str()),
        "{reused:?}"
    );

    // The officer's page finds the code; another unit's officer is told there is none.
    let page = |token: &str, code: &str| {
        app.client
            .get(app.url(&format!("/officer/document-codes?code={}&lang=en", enc(code))))
            .header("cookie", format!("civitas_session={token}"))
            .send()
    };
    let r = page(&chief, &result_code).await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&result_code) && html.contains(&dossier) && html.contains("Check at /verify"), "{html}");
    let r = page(&stranger, &component_code).await.unwrap();
    assert_eq!(r.status(), 404);
    let html = r.text().await.unwrap();
    assert!(html.contains("No document has this code in your units") && !html.contains(&dossier));
    let r = page(&chief, "").await.unwrap();
    assert_eq!(r.status(), 200, "the empty form");

    // Once the stored document no longer matches what was signed, the code does not verify.
    let tamper = "UPDATE document_codes SET sha256 = $1 WHERE code = $2";
    civitas_store::dispatch!(&app.db, pool => sqlx::query(tamper).bind("0".repeat(64)).bind(&result_code)
        .execute(pool).await.map(|r| r.rows_affected()))
    .unwrap();
    let v = verify(&app, &result_code).await;
    assert_eq!(v["status"], "invalid", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("does not match"), "{v}");
}
on_both_databases!(components_and_results_are_coded_and_verifiable, coded_documents);
