//! Changing the register: registration, corrections, residence changes; history and events.

use civitas_identity::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_databases;

async fn corrections(app: TestApp) {
    let officer = app.token(Role::RegistryOfficer, &[BA_DINH]);
    let path = format!("/api/v1/people/{CUONG}");
    let body = json!({
        "changes": {"full_name": "Nguyễn Văn Cường", "other_names": ["Bin"], "religion": "Phật giáo"},
        "legal_basis": {"basis": "Điều 7 Nghị định 87/2020", "document_ref": "QĐ-123/2026"},
        "expected_version": 1
    });
    let r = app.send_json(Method::PATCH, &path, &officer, body.clone()).await;
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["other_names"], json!(["Bin"]));
    assert_eq!(p["version"], 2);
    // The same request again is a version conflict.
    expect_problem(app.send_json(Method::PATCH, &path, &officer, body).await, 409).await;
    // Missing legal basis, empty change, unknown field, inconsistent sex: specific errors.
    let b = expect_problem(
        app.send_json(
            Method::PATCH,
            &path,
            &officer,
            json!({"changes": {"religion": "Không"}, "legal_basis": {"basis": " "}}),
        )
        .await,
        400,
    )
    .await;
    assert!(b["detail"].as_str().unwrap().contains("legal basis"));
    expect_problem(
        app.send_json(Method::PATCH, &path, &officer, json!({"changes": {}, "legal_basis": {"basis": "x"}})).await,
        400,
    )
    .await;
    let b = expect_problem(
        app.send_json(Method::PATCH, &path, &officer, json!({"changes": {"nmae": "x"}, "legal_basis": {"basis": "x"}}))
            .await,
        422,
    )
    .await;
    assert!(b["detail"].as_str().unwrap().contains("nmae"), "{b}");
    let b = expect_problem(
        app.send_json(
            Method::PATCH,
            &path,
            &officer,
            json!({"changes": {"birth_date": "2016-01-01"}, "legal_basis": {"basis": "x"}}),
        )
        .await,
        422,
    )
    .await;
    assert!(b["detail"].as_str().unwrap().contains("birth year"), "{b}");
    let r = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&officer)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_problem(r, 400).await;
    // Other roles and other communes may not change.
    let onestop = app.token(Role::OnestopOfficer, &[BA_DINH]);
    expect_problem(
        app.send_json(
            Method::PATCH,
            &path,
            &onestop,
            json!({"changes": {"religion": "Không"}, "legal_basis": {"basis": "x"}}),
        )
        .await,
        403,
    )
    .await;
    let other = app.token(Role::RegistryOfficer, &[NGOC_HA]);
    expect_problem(
        app.send_json(
            Method::PATCH,
            &path,
            &other,
            json!({"changes": {"religion": "Không"}, "legal_basis": {"basis": "x"}}),
        )
        .await,
        403,
    )
    .await;

    // The history keeps both versions, newest first, with actor and legal basis.
    let h: Value = app.get(&format!("/api/v1/people/{CUONG}/history"), &officer).await.json().await.unwrap();
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["version"], 2);
    assert_eq!(h[0]["change"], "corrected");
    assert_eq!(h[0]["actor"], "tester");
    assert_eq!(h[0]["legal_basis"]["document_ref"], "QĐ-123/2026");
    assert_eq!(h[1]["version"], 1);
    assert_eq!(h[1]["change"], "imported");
    assert_eq!(h[1]["record"]["religion"], "Không");
    // The change wrote its event.
    let events = civitas_store::events::read_after(&app.db, 0, 100_000).await.unwrap();
    let e = events.iter().rev().find(|e| e.subject == CUONG).unwrap();
    assert_eq!(e.kind, "person.corrected");
}
on_both_databases!(corrections_keep_history_and_check_input, corrections);

async fn residence(app: TestApp) {
    let ngoc_ha = app.token(Role::RegistryOfficer, &[NGOC_HA]);
    let ba_dinh = app.token(Role::RegistryOfficer, &[BA_DINH]);
    let basis = json!({"basis": "Luật Cư trú 2020, Điều 20", "document_ref": "H15.50.05.13-261008-0975"});
    // The head cannot leave while others remain.
    let move_an = json!({"kind": "permanent", "residence": {"commune": NGOC_HA, "address": "Số 1 phố Kim Mã"},
        "household": {"create": "HKNEW1"}, "legal_basis": basis});
    let b = expect_problem(
        app.send_json(Method::POST, &format!("/api/v1/people/{AN}/residence"), &ngoc_ha, move_an).await,
        409,
    )
    .await;
    assert!(b["detail"].as_str().unwrap().contains("HKTEST1"));
    // The son moves to Dung's household in Ngọc Hà: registered by a Ngọc Hà officer.
    let move_cuong = json!({"kind": "permanent", "residence": {"commune": NGOC_HA, "address": "Số 10 phố Kim Mã"},
        "household": {"join": "HKTEST2", "relation": "grandchild"}, "legal_basis": basis});
    expect_problem(
        app.send_json(Method::POST, &format!("/api/v1/people/{CUONG}/residence"), &ba_dinh, move_cuong.clone()).await,
        403,
    )
    .await;
    let r = app.send_json(Method::POST, &format!("/api/v1/people/{CUONG}/residence"), &ngoc_ha, move_cuong).await;
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["permanent_residence"]["commune"], NGOC_HA);
    assert_eq!(p["household_id"], "HKTEST2");
    let h: Value = app.get("/api/v1/households/HKTEST2", &ngoc_ha).await.json().await.unwrap();
    assert_eq!(h["members"].as_array().unwrap().len(), 2);
    let h: Value = app.get("/api/v1/households/HKTEST1", &ba_dinh).await.json().await.unwrap();
    assert_eq!(h["members"].as_array().unwrap().len(), 2);
    // Now the Ba Đình officer no longer sees him; the Ngọc Hà one does.
    expect_problem(app.get(&format!("/api/v1/people/{CUONG}"), &ba_dinh).await, 403).await;
    let c: Value =
        app.get(&format!("/api/v1/people/{CUONG}/residence-confirmation"), &ngoc_ha).await.json().await.unwrap();
    assert_eq!(c["household"]["head_pid"], DUNG);
    // Temporary residence, and bad input.
    let temp = json!({"kind": "temporary", "residence": {"commune": NGOC_HA, "address": "Phòng 2, số 8 ngõ 3"}, "until": "2027-06-30", "legal_basis": basis});
    let p: Value = app
        .send_json(Method::POST, &format!("/api/v1/people/{DUNG}/residence"), &ngoc_ha, temp)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["temporary_residence"]["until"], "2027-06-30");
    let bad = json!({"kind": "permanent", "residence": {"commune": NGOC_HA, "address": "x"}, "legal_basis": basis});
    expect_problem(app.send_json(Method::POST, &format!("/api/v1/people/{DUNG}/residence"), &ngoc_ha, bad).await, 422)
        .await;
    let bad = json!({"kind": "permanent", "residence": {"commune": "99999", "address": "x"}, "household": {"create": "HKX"}, "legal_basis": basis});
    let b = expect_problem(
        app.send_json(Method::POST, &format!("/api/v1/people/{DUNG}/residence"), &ngoc_ha, bad).await,
        422,
    )
    .await;
    assert!(b["detail"].as_str().unwrap().contains("99999"), "{b}");
    let join_missing = json!({"kind": "permanent", "residence": {"commune": NGOC_HA, "address": "x"},
        "household": {"join": "NOPE", "relation": "child"}, "legal_basis": basis});
    expect_problem(
        app.send_json(Method::POST, &format!("/api/v1/people/{BINH}/residence"), &ngoc_ha, join_missing).await,
        404,
    )
    .await;
    let events = civitas_store::events::read_after(&app.db, 0, 100_000).await.unwrap();
    assert!(events.iter().any(|e| e.subject == CUONG && e.kind == "person.residence_changed"));
}
on_both_databases!(residence_changes_move_households, residence);

async fn registration(app: TestApp) {
    let officer = app.token(Role::RegistryOfficer, &[BA_DINH]);
    let basis = json!({"basis": "Tiếp nhận dữ liệu từ sổ hộ khẩu giấy", "document_ref": "SHK-0001"});
    let person = json!({"pid": "001301000077", "full_name": "Phạm Thị Hoà", "birth_date": "2001-12-31", "sex": "female",
        "permanent_residence": {"commune": BA_DINH, "address": "Số 9 phố Liễu Giai"}, "household_id": "HKHOA", "relation_to_head": "head"});
    let r =
        app.send_json(Method::POST, "/api/v1/people", &officer, json!({"person": person, "legal_basis": basis})).await;
    assert_eq!(r.status(), 201);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["version"], 1);
    // Search with the new tone placement finds the old one.
    let r: Value =
        app.get("/api/v1/people?q=Ph%E1%BA%A1m%20Th%E1%BB%8B%20H%C3%B2a", &officer).await.json().await.unwrap();
    assert_eq!(r["items"][0]["pid"], "001301000077");
    expect_problem(
        app.send_json(Method::POST, "/api/v1/people", &officer, json!({"person": person, "legal_basis": basis})).await,
        409,
    )
    .await;
    let mut wrong_sex = person.clone();
    wrong_sex["pid"] = json!("001201000078");
    let b = expect_problem(
        app.send_json(Method::POST, "/api/v1/people", &officer, json!({"person": wrong_sex, "legal_basis": basis}))
            .await,
        422,
    )
    .await;
    assert!(b["detail"].as_str().unwrap().contains("sex"), "{b}");
    let mut elsewhere = person.clone();
    elsewhere["pid"] = json!("001301000079");
    elsewhere["permanent_residence"]["commune"] = json!(NGOC_HA);
    expect_problem(
        app.send_json(Method::POST, "/api/v1/people", &officer, json!({"person": elsewhere, "legal_basis": basis}))
            .await,
        403,
    )
    .await;
    let events = civitas_store::events::read_after(&app.db, 0, 100_000).await.unwrap();
    assert!(events.iter().any(|e| e.subject == "001301000077" && e.kind == "person.registered"));

    // A namesake in Thành phố Hồ Chí Minh: found by an HCMC officer, never by a Hà Nội-wide one
    // (the province-wide scope is checked on the ranked rows, not in SQL).
    let saigon = app.token(Role::RegistryOfficer, &["79"]);
    let commune = civitas_core::AdminUnits::get().communes_of("79").next().unwrap().code.clone();
    let namesake = json!({"pid": "079301000080", "full_name": "Phạm Thị Hoà", "birth_date": "2001-05-05", "sex": "female",
        "permanent_residence": {"commune": commune, "address": "Số 2 đường Lê Lợi"}});
    let r =
        app.send_json(Method::POST, "/api/v1/people", &saigon, json!({"person": namesake, "legal_basis": basis})).await;
    assert_eq!(r.status(), 201);
    let hanoi = app.token(Role::OnestopOfficer, &["01"]);
    let found: Value = app.get("/api/v1/people?q=pham%20thi%20hoa", &hanoi).await.json().await.unwrap();
    let pids: Vec<&str> = found["items"].as_array().unwrap().iter().map(|p| p["pid"].as_str().unwrap()).collect();
    assert!(pids.contains(&"001301000077") && !pids.contains(&"079301000080"), "{pids:?}");
    let found: Value = app.get("/api/v1/people?q=pham%20thi%20hoa", &saigon).await.json().await.unwrap();
    let pids: Vec<&str> = found["items"].as_array().unwrap().iter().map(|p| p["pid"].as_str().unwrap()).collect();
    assert_eq!(pids, ["079301000080"]);
}
on_both_databases!(officers_register_new_people, registration);
