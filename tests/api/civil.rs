//! Interconnected civil registration over HTTP: approving a birth gives the child a new ID
//! number in a parent's household; a possible duplicate needs an officer's confirmation;
//! marriages that break a rule are refused with that rule; approving a death marks the person
//! deceased, deregisters their residence, names a household head to confirm, closes their open
//! dossiers and (through the register's events) locks their e-ID account.

use reqwest::Method;
use serde_json::{Value, json};

use civitas_identity::Role;

use crate::helpers::*;

/// Runs the agency simulator on `port` (0: any) until the returned sender is dropped.
async fn agency_sim(
    app: &TestApp,
    port: u16,
    refuse: &[&str],
) -> (u16, std::sync::Arc<civitas_exchange::sim::Sim>, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("sim port");
    let port = listener.local_addr().unwrap().port();
    let sim = civitas_exchange::sim::Sim::new(&app.url("/oauth2/jwks"), refuse.iter().map(|s| s.to_string()).collect());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = civitas_exchange::sim::router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    (port, sim, tx)
}

/// Registers the social insurance agency's endpoint at `port` on this machine.
async fn social_insurance_at(app: &TestApp, port: u16) {
    let at = civitas_store::timestamp(civitas::now());
    let url = format!("http://127.0.0.1:{port}/hooks");
    civitas_services::followups::put_agency(&app.db, "social-insurance", "BHXH", &url, &at).await.unwrap();
}

async fn until<F: Fn() -> bool>(what: &str, check: F) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}
use crate::on_both_databases;
use crate::one_stop::citizen_token;

fn officer(app: &TestApp, sub: &str, role: Role, unit: &str) -> String {
    let units = [civitas_core::UnitCode::parse(unit).unwrap()];
    civitas_identity::tokens::issue(&app.state.keys, sub, role, &units, civitas::now().unix_timestamp(), 3600)
}

pub(crate) struct Desk {
    pub(crate) onestop: String,
    pub(crate) clerk: String,
    pub(crate) chief: String,
}

impl Desk {
    pub(crate) fn of(app: &TestApp, unit: &str) -> Desk {
        Desk {
            onestop: officer(app, "mc", Role::OnestopOfficer, unit),
            clerk: officer(app, "cv", Role::Specialist, unit),
            chief: officer(app, "ld", Role::Leader, unit),
        }
    }
}

pub(crate) async fn act(app: &TestApp, token: &str, code: &str, body: Value) -> reqwest::Response {
    app.send_json(Method::POST, &format!("/api/v1/dossiers/{code}/actions"), token, body).await
}

/// Submits online as the holder of `citizen` and brings the dossier to the leader's step.
pub(crate) async fn to_decision(app: &TestApp, citizen: &str, desk: &Desk, body: Value) -> String {
    let r = app.client.post(app.url("/api/v1/dossiers")).bearer_auth(citizen).json(&body).send().await.unwrap();
    let status = r.status();
    let d: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{d}");
    let code = d["code"].as_str().unwrap().to_owned();
    assert_eq!(act(app, &desk.onestop, &code, json!({ "action": "start_processing" })).await.status(), 200);
    assert_eq!(act(app, &desk.clerk, &code, json!({ "action": "forward" })).await.status(), 200);
    code
}

pub(crate) async fn upload(app: &TestApp, token: &str, text: &str) -> String {
    let r = app
        .client
        .post(app.url("/api/v1/me/documents?name=giay.pdf"))
        .bearer_auth(token)
        .body(format!("%PDF-1.4\n% {text}\n%%EOF\n"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

async fn birth(app: TestApp) {
    app.clients().await;
    app.account(BINH, 1).await;
    let mother = citizen_token(&app, BINH).await;
    let desk = Desk::of(&app, BA_DINH);
    let registrar = app.token(Role::RegistryOfficer, &["01"]);
    let (port, sim, _stop) = agency_sim(&app, 0, &[]).await;
    social_insurance_at(&app, port).await;
    let born = (civitas_services::dossiers::local_today(civitas::now()) - time::Duration::days(10)).to_string();
    let cert = upload(&app, &mother, "giấy chứng sinh").await;
    let body = |cert_no: &str| {
        json!({ "procedure": "DVC-15", "fields": {
            "child_name": "Nguyễn Thị Mai", "child_birth_date": born, "child_sex": "female", "birth_cert_no": cert_no,
            "other_parent_pid": AN, "live_with": "applicant", "commune": BA_DINH },
            "components": { "GCS": cert } })
    };
    let code = to_decision(&app, &mother, &desk, body("GCS-2026-0001")).await;
    let approved = act(&app, &desk.chief, &code, json!({ "action": "approve" })).await;
    assert_eq!(approved.status(), 200);
    let approved: Value = approved.json().await.unwrap();
    assert_eq!(approved["state"], "approved");
    let note = approved["steps"].as_array().unwrap().last().unwrap()["note"].as_str().unwrap().to_owned();
    let child = note.rsplit(' ').next().unwrap().to_owned();
    // A valid new ID number: Hà Nội (001), a girl born in the 2000s (3), the year.
    let pid: civitas_core::Pid = child.parse().expect("a valid PID");
    assert!(child.starts_with(&format!("0013{}", &born[2..4])), "{child}");
    assert_eq!(pid.sex(), civitas_core::Sex::Female);
    let person: Value = app.get(&format!("/api/v1/people/{child}"), &registrar).await.json().await.unwrap();
    assert_eq!(person["full_name"], "Nguyễn Thị Mai");
    assert_eq!((person["mother_pid"].as_str(), person["father_pid"].as_str()), (Some(BINH), Some(AN)));
    assert_eq!(person["household_id"], "HKTEST1");
    assert_eq!(person["relation_to_head"], "child", "the mother is the head's spouse");
    assert_eq!(person["permanent_residence"]["commune"], BA_DINH);
    let household: Value = app.get("/api/v1/households/HKTEST1", &registrar).await.json().await.unwrap();
    assert!(household["members"].as_array().unwrap().iter().any(|m| m["pid"] == child.as_str()));
    let record = civitas_services::civil::record_of(&app.db, &code).await.unwrap().expect("a birth record");
    assert_eq!((record.kind.as_str(), record.subject_pid.as_str()), ("birth", child.as_str()));
    assert!(record.registration_number.ends_with(&format!("/{}", &born[0..4])));
    let serial: u32 = record.registration_number.split('/').next().unwrap().parse().expect("a numbered registration");
    assert!(serial >= 1);
    let events = civitas_store::events::read_after(&app.db, 0, 10_000).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "person.registered" && e.subject == child));
    assert!(events.iter().any(|e| e.kind == "civil.birth_registered" && e.subject == child));
    // The interconnected follow-up: the health-insurance card request reaches the agency,
    // signed with the server's published key; the sub-dossier shows the agency's reference.
    until("the agency received the child's card request", || sim.received().len() == 1).await;
    let got = &sim.received()[0];
    assert_eq!(got.kind, "health_insurance.child_card");
    assert_eq!(
        (got.body["dossier"].as_str(), got.body["data"]["pid"].as_str()),
        (Some(code.as_str()), Some(child.as_str()))
    );
    let mut view = Value::Null;
    for _ in 0..50 {
        view = app.get(&format!("/api/v1/dossiers/{code}"), &mother).await.json().await.unwrap();
        if view["sub_dossiers"][0]["state"] == "accepted" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(view["sub_dossiers"][0]["state"], "accepted", "{view}");
    assert_eq!(view["sub_dossiers"][0]["reference"], got.reference.as_str());
    // Handing the child's data to the agency is in the child's access log, with its purpose.
    let log = civitas_store::access_log::for_subject(&app.db, &child, 10).await.unwrap();
    assert!(
        log.iter()
            .any(|r| r.actor == "social-insurance"
                && r.purpose.as_deref().is_some_and(|p| p.contains("health-insurance")))
    );

    // The certificate: issued as the result, in the mother's store, signed, verifiable offline.
    let issued = act(&app, &desk.clerk, &code, json!({ "action": "issue_result" })).await;
    assert_eq!(issued.status(), 200);
    // The steering figures count it as an interconnected dossier processed today.
    crate::reports::caught_up(&app).await;
    let today = civitas_services::dossiers::local_today(civitas::now());
    let day = format!("{:04}{:02}{:02}", today.year(), today.month() as u8, today.day());
    let leader = app.token(Role::Leader, &["01"]);
    let figure: Value = app
        .get(&format!("/api/v1/indicators/dossiers.interconnected.processed?unit={BA_DINH}&period={day}"), &leader)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(figure["value"]["value"].as_f64(), Some(1.0), "{figure}");
    let certs: Value = app.get("/api/v1/certificates", &mother).await.json().await.unwrap();
    let cert = certs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject_pid"] == child.as_str())
        .expect("the child's certificate")
        .clone();
    assert_eq!((cert["kind"].as_str(), cert["status"].as_str()), (Some("birth"), Some("valid")));
    let cert_id = cert["id"].as_str().unwrap().to_owned();
    let officer_list: Value = app.get("/api/v1/certificates?limit=5", &desk.chief).await.json().await.unwrap();
    assert!(officer_list["items"].as_array().unwrap().iter().any(|c| c["id"] == cert_id.as_str()));
    let stranger = app.token(Role::Leader, &[NGOC_HA]);
    expect_problem(app.get(&format!("/api/v1/certificates/{cert_id}/pdf"), &stranger).await, 404).await;
    let pdf = app.get(&format!("/api/v1/certificates/{cert_id}/pdf"), &mother).await;
    assert_eq!(pdf.status(), 200);
    let pdf = pdf.bytes().await.unwrap().to_vec();
    let jwks = app.client.get(app.url("/oauth2/jwks")).send().await.unwrap().text().await.unwrap();
    let dir = temp_dir();
    let keys = dir.0.join("jwks.json");
    std::fs::write(&keys, &jwks).unwrap();
    let file = dir.0.join("giay-khai-sinh.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let bin = env!("CARGO_BIN_EXE_civitas");
    let verify = |args: Vec<String>| std::process::Command::new(bin).arg("verify").args(args).output().unwrap();
    let ok = verify(vec![file.display().to_string(), "--keys".into(), keys.display().to_string()]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Nguyễn Thị Mai"));
    let payload = cert["payload"].as_str().unwrap().to_owned();
    if crate::one_stop::pdf_tools() {
        let (text, qr) = crate::one_stop::read_pdf(&pdf);
        assert!(
            text.contains("GIẤY KHAI SINH") && text.contains("Nguyễn Thị Mai") && text.contains("Trần Thị Bình"),
            "{text}"
        );
        assert_eq!(qr, payload, "the QR holds the signed payload");
        let from_qr = verify(vec!["--payload".into(), qr.clone(), "--keys".into(), keys.display().to_string()]);
        assert_eq!(from_qr.status.code(), Some(0));
    }
    // A tampered payload fails, saying why.
    let mut parts: Vec<String> = payload.split('.').map(str::to_owned).collect();
    let mut claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1]).unwrap(),
    )
    .unwrap();
    claims["f"]["n"] = json!("Nguyễn Thị Giả");
    parts[1] =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, serde_json::to_vec(&claims).unwrap());
    let tampered = parts.join(".");
    let bad = verify(vec!["--payload".into(), tampered.clone(), "--keys".into(), keys.display().to_string()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("does not verify"));
    // Online: /verify says valid, and invalid for the tampered one.
    let online = verify_online(&app, payload.as_str()).await;
    assert_eq!(online["status"], "valid", "{online}");
    let forged = verify_online(&app, tampered.as_str()).await;
    assert_eq!(forged["status"], "invalid");
    // A correction is its own audited act: the register and a new certificate; the old one superseded.
    let correction = json!({ "full_name": "Nguyễn Thị Mai Anh", "reason": "Sai tên so với giấy chứng sinh" });
    expect_problem(
        app.send_json(
            Method::POST,
            &format!("/api/v1/certificates/{cert_id}/correct"),
            &desk.clerk,
            correction.clone(),
        )
        .await,
        403,
    )
    .await;
    let r = app
        .send_json(Method::POST, &format!("/api/v1/certificates/{cert_id}/correct"), &desk.chief, correction.clone())
        .await;
    assert_eq!(r.status(), 201);
    let new_cert: Value = r.json().await.unwrap();
    let old = verify_online(&app, cert_id.as_str()).await;
    assert_eq!((old["status"].as_str(), old["superseded_by"].as_str()), (Some("superseded"), new_cert["id"].as_str()));
    let renamed: Value = app.get(&format!("/api/v1/people/{child}"), &registrar).await.json().await.unwrap();
    assert_eq!(renamed["full_name"], "Nguyễn Thị Mai Anh");
    expect_problem(
        app.send_json(Method::POST, &format!("/api/v1/certificates/{cert_id}/correct"), &desk.chief, correction).await,
        409,
    )
    .await;
    let page = app
        .client
        .get(app.url("/verify"))
        .query(&[("payload", new_cert["id"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Hợp lệ") && page.contains("Nguyễn Thị Mai Anh"));

    // The same child again (same mother, birth date and name): flagged; the officer must
    // confirm it is not a duplicate, and that is recorded.
    let cert2 = upload(&app, &mother, "giấy chứng sinh 2").await;
    let mut again = body("GCS-2026-0002");
    again["components"]["GCS"] = json!(cert2);
    let code2 = to_decision(&app, &mother, &desk, again).await;
    let flagged = act(&app, &desk.chief, &code2, json!({ "action": "approve" })).await;
    let problem = expect_problem(flagged, 409).await;
    assert!(problem["detail"].as_str().unwrap().contains(&child), "{problem}");
    let confirmed = act(
        &app,
        &desk.chief,
        &code2,
        json!({ "action": "approve", "not_duplicate": true, "note": "Sinh đôi, hai giấy chứng sinh" }),
    )
    .await;
    assert_eq!(confirmed.status(), 200);
    let twin = civitas_services::civil::record_of(&app.db, &code2).await.unwrap().unwrap();
    assert!(twin.flags.contains("not a duplicate"), "{}", twin.flags);
    // The same birth certificate number is flagged too.
    let cert3 = upload(&app, &mother, "giấy chứng sinh 3").await;
    let mut third = body("GCS-2026-0001");
    third["fields"]["child_name"] = json!("Nguyễn Văn Khác");
    third["components"]["GCS"] = json!(cert3);
    let code3 = to_decision(&app, &mother, &desk, third).await;
    expect_problem(act(&app, &desk.chief, &code3, json!({ "action": "approve" })).await, 409).await;
    // The leader decides: the specialist may not approve a birth.
    expect_problem(act(&app, &desk.clerk, &code3, json!({ "action": "approve" })).await, 403).await;
}
on_both_databases!(birth_registration, birth);

async fn register_person(app: &TestApp, registrar: &str, person: Value) {
    let basis = json!({ "basis": "test" });
    let r = app
        .send_json(Method::POST, "/api/v1/people", registrar, json!({ "person": person, "legal_basis": basis }))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn marriage(app: TestApp) {
    app.clients().await;
    let registrar = app.token(Role::RegistryOfficer, &["01"]);
    let home = json!({ "commune": NGOC_HA, "address": "Số 1 phố Đội Cấn" });
    // A family over three generations, all single adults: grandfather, his son and daughter,
    // and one grandchild of each.
    let people = [
        ("001050000101", "Trần Văn Ông", "1950-01-01", "male", None, None),
        ("001180000102", "Trần Thị Con", "1980-01-01", "female", Some("001050000101"), None),
        ("001082000103", "Trần Văn Anh", "1982-01-01", "male", Some("001050000101"), None),
        ("001204000104", "Trần Văn Cháu", "2004-01-01", "male", Some("001082000103"), None),
        ("001304000105", "Lê Thị Họ", "2004-06-01", "female", None, Some("001180000102")),
        ("001199000106", "Phạm Thị Đã Mất", "1999-01-01", "female", None, None),
    ];
    for (pid, name, born, sex, father, mother) in people {
        let mut p =
            json!({ "pid": pid, "full_name": name, "birth_date": born, "sex": sex, "permanent_residence": home });
        if let Some(f) = father {
            p["father_pid"] = json!(f);
        }
        if let Some(m) = mother {
            p["mother_pid"] = json!(m);
        }
        if pid == "001199000106" {
            p["status"] = json!("deceased");
        }
        register_person(&app, &registrar, p).await;
    }
    for pid in ["001050000101", "001204000104", DUNG] {
        app.account(pid, 1).await;
    }
    let desk = Desk::of(&app, NGOC_HA);
    let refused = |applicant: &'static str, partner: &'static str| {
        let app = &app;
        let desk = &desk;
        async move {
            let token = citizen_token(app, applicant).await;
            let body = json!({ "procedure": "DVC-11", "fields": { "partner_pid": partner, "commune": NGOC_HA } });
            let code = to_decision(app, &token, desk, body).await;
            let p = expect_problem(act(app, &desk.chief, &code, json!({ "action": "approve" })).await, 422).await;
            p["detail"].as_str().unwrap().to_owned()
        }
    };
    let direct = refused("001050000101", "001180000102").await;
    assert!(direct.contains("direct line"), "{direct}");
    let cousins = refused("001204000104", "001304000105").await;
    assert!(cousins.contains("within three generations"), "{cousins}");
    let minor = refused(DUNG, CUONG).await;
    assert!(minor.contains("the minimum age is 20"), "{minor}");
    let married = refused(DUNG, AN).await;
    assert!(married.contains("is married"), "{married}");
    let dead = refused("001204000104", "001199000106").await;
    assert!(dead.contains("is not living"), "{dead}");
    // Nothing changed for the refused.
    let an: Value = app.get(&format!("/api/v1/people/{DUNG}"), &registrar).await.json().await.unwrap();
    assert_eq!(an["marital_status"], "single");

    // Eligible: the grandson marries Dung.
    let token = citizen_token(&app, "001204000104").await;
    let body = json!({ "procedure": "DVC-11", "fields": { "partner_pid": DUNG, "commune": NGOC_HA } });
    let code = to_decision(&app, &token, &desk, body).await;
    assert_eq!(act(&app, &desk.chief, &code, json!({ "action": "approve" })).await.status(), 200);
    for (me, spouse) in [("001204000104", DUNG), (DUNG, "001204000104")] {
        let p: Value = app.get(&format!("/api/v1/people/{me}"), &registrar).await.json().await.unwrap();
        assert_eq!((p["marital_status"].as_str(), p["spouse_pid"].as_str()), (Some("married"), Some(spouse)));
    }
    let record = civitas_services::civil::record_of(&app.db, &code).await.unwrap().unwrap();
    assert_eq!(record.kind, "marriage");
}
on_both_databases!(marriage_rules, marriage);

async fn death(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    app.account(BINH, 1).await;
    let registrar = app.token(Role::RegistryOfficer, &["01"]);
    let widow = citizen_token(&app, BINH).await;
    let an_token = citizen_token(&app, AN).await;
    // An has a dossier still open.
    let open = json!({ "procedure": "DVC-05", "fields": { "destination": "Huế", "from": "2026-12-01", "until": "2026-12-05" } });
    let r = app.client.post(app.url("/api/v1/dossiers")).bearer_auth(&an_token).json(&open).send().await.unwrap();
    let open_code = r.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_owned();

    let desk = Desk::of(&app, BA_DINH);
    // The social insurance agency is down: its port is reserved but nothing answers.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    social_insurance_at(&app, port).await;
    let notice = upload(&app, &widow, "giấy báo tử").await;
    let died = (civitas_services::dossiers::local_today(civitas::now()) - time::Duration::days(2)).to_string();
    let body = json!({ "procedure": "DVC-16", "fields": { "deceased_pid": AN, "death_date": died, "commune": BA_DINH, "funeral_allowance": "yes", "bank_account": "0123456789 Vietcombank" }, "components": { "BT": notice } });
    let code = to_decision(&app, &widow, &desk, body).await;
    assert_eq!(act(&app, &desk.chief, &code, json!({ "action": "approve" })).await.status(), 200);

    let an: Value = app.get(&format!("/api/v1/people/{AN}"), &registrar).await.json().await.unwrap();
    assert_eq!(an["status"], "deceased");
    assert!(an.get("permanent_residence").is_none() && an.get("household_id").is_none(), "{an}");
    let household: Value = app.get("/api/v1/households/HKTEST1", &registrar).await.json().await.unwrap();
    assert_eq!(household["head_pid"], BINH, "the eldest adult member heads the household until it confirms");
    assert!(!household["members"].as_array().unwrap().iter().any(|m| m["pid"] == AN));
    let record = civitas_services::civil::record_of(&app.db, &code).await.unwrap().unwrap();
    assert!(record.flags.contains("named head until the household confirms"), "{}", record.flags);
    let closed: Value = app.get(&format!("/api/v1/dossiers/{open_code}"), &desk.onestop).await.json().await.unwrap();
    assert_eq!(closed["state"], "withdrawn");
    // Approving again is impossible; a second death registration is refused.
    expect_problem(act(&app, &desk.chief, &code, json!({ "action": "approve" })).await, 409).await;

    // The funeral allowance request waits while the agency is down, and arrives once it is up.
    let operator = app.token(Role::Operator, &["01"]);
    let mut tried = false;
    for _ in 0..50 {
        let sql = "SELECT attempts FROM webhook_deliveries WHERE dossier_code = $1";
        let attempts: i64 =
            civitas_store::dispatch!(&app.db, pool => sqlx::query_scalar(sql).bind(&code).fetch_one(pool).await)
                .unwrap();
        if attempts >= 1 {
            tried = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(tried, "a delivery was attempted while the agency was down");
    let (_, sim, _stop) = agency_sim(&app, port, &[]).await;
    until("the funeral allowance request arrived after the agency came back", || sim.received().len() == 1).await;
    let got = &sim.received()[0];
    assert_eq!(got.kind, "funeral_allowance.request");
    assert_eq!(
        (got.body["data"]["deceased_pid"].as_str(), got.body["data"]["beneficiary_pid"].as_str()),
        (Some(AN), Some(BINH))
    );
    assert_eq!(got.times, 1, "delivered once");
    let dead: Value = app.get("/api/v1/webhooks/dead", &operator).await.json().await.unwrap();
    assert_eq!(dead["items"].as_array().unwrap().len(), 0);
    expect_problem(app.get("/api/v1/webhooks/dead", &registrar).await, 403).await;

    // The identity context follows the register's events: An's account is locked and a sign-in fails.
    let mut locked = false;
    for _ in 0..100 {
        if let Ok(Some(a)) = app.state.identity.account(AN).await
            && a.state == civitas_identity::AccountState::Locked
        {
            locked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(locked, "the e-ID account of the deceased is locked");
    let mut jar = app.browser();
    jar.get(&app.url("/signin")).await;
    let r = jar.post(&app.url("/signin"), &[("pid", AN), ("password", PASSWORD)]).await;
    assert_ne!(r.status, 303, "no session for a deceased person");
    // The same form signs the widow in: the refusal above is the lock, not the form.
    let r = jar.post(&app.url("/signin"), &[("pid", BINH), ("password", PASSWORD)]).await;
    assert_eq!(r.status, 303);
}
on_both_databases!(death_registration, death);

/// An agency that refuses a delivery: it becomes a dead letter (the sub-dossier failed), an
/// operator lists it and, once the agency is fixed, replays it; it is delivered exactly once.
async fn dead_letters(app: TestApp) {
    app.clients().await;
    app.account(BINH, 1).await;
    let mother = citizen_token(&app, BINH).await;
    let desk = Desk::of(&app, BA_DINH);
    let operator = app.token(Role::Operator, &["01"]);
    let (port, refusing, stop) = agency_sim(&app, 0, &["health_insurance.child_card"]).await;
    social_insurance_at(&app, port).await;
    let cert = upload(&app, &mother, "giấy chứng sinh").await;
    let born = (civitas_services::dossiers::local_today(civitas::now()) - time::Duration::days(3)).to_string();
    let body = json!({ "procedure": "DVC-15", "fields": {
        "child_name": "Nguyễn Văn Bảo", "child_birth_date": born, "child_sex": "male", "birth_cert_no": "GCS-DL-1",
        "live_with": "applicant", "commune": BA_DINH }, "components": { "GCS": cert } });
    let code = to_decision(&app, &mother, &desk, body).await;
    assert_eq!(act(&app, &desk.chief, &code, json!({ "action": "approve" })).await.status(), 200);
    // No father was named: the mother's husband in the register is the child's father.
    let record = civitas_services::civil::record_of(&app.db, &code).await.unwrap().unwrap();
    let data: Value = serde_json::from_str(&record.data).unwrap();
    assert_eq!(data["father"], AN);
    let mut dead = Value::Null;
    for _ in 0..100 {
        dead = app.get("/api/v1/webhooks/dead", &operator).await.json().await.unwrap();
        if !dead["items"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let letter = dead["items"][0].clone();
    assert_eq!(letter["kind"], "health_insurance.child_card", "{dead}");
    assert!(letter["last_error"].as_str().unwrap().contains("422"), "{letter}");
    assert!(refusing.received().is_empty());
    let view: Value = app.get(&format!("/api/v1/dossiers/{code}"), &mother).await.json().await.unwrap();
    assert_eq!(view["sub_dossiers"][0]["state"], "failed");
    // The agency is fixed; the operator replays the letter.
    drop(stop);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, fixed, _stop) = agency_sim(&app, port, &[]).await;
    let id = letter["id"].as_str().unwrap();
    let r =
        app.client.post(app.url(&format!("/api/v1/webhooks/{id}/replay"))).bearer_auth(&operator).send().await.unwrap();
    assert_eq!(r.status(), 204);
    expect_problem(
        app.client.post(app.url(&format!("/api/v1/webhooks/{id}/replay"))).bearer_auth(&operator).send().await.unwrap(),
        404,
    )
    .await;
    until("the replayed delivery arrived", || fixed.received().len() == 1).await;
    assert_eq!(fixed.received()[0].id, id);
}
on_both_databases!(dead_letters_and_replay, dead_letters);

/// `/verify` of a certificate id or signed payload, as JSON.
async fn verify_online(app: &TestApp, payload: &str) -> Value {
    let r = app.client.get(app.url("/verify")).query(&[("payload", payload), ("format", "json")]).send().await.unwrap();
    r.json().await.unwrap()
}

/// The demo's sample registrations find their candidates in any population (they used to read
/// the first adults in ID-number order, all men of the 1900s, and registered only the death).
async fn demo_registrations(app: TestApp) {
    // The demo's own population (its generator seed), 20,000 people as `serve --demo` makes.
    let mut generator = civitas_registry::synth::Generator::new(
        civitas_core::ProvinceCode::parse("01").unwrap(),
        2026,
        civitas::DEMO_AS_OF,
    )
    .unwrap();
    let basis = civitas_registry::LegalBasis { basis: "demo".into(), document_ref: None };
    let at = civitas_store::timestamp(civitas::now());
    let attribution = civitas_registry::store::Attribution { actor: "test", legal_basis: &basis, at: &at };
    let mut people = Vec::new();
    while people.len() < 20_000 {
        people.extend(generator.household());
    }
    app.state.register.import_batch(&people, &attribution).await.unwrap();
    let demo = civitas::seed_demo_identity(&app.state.identity, &app.state.register).await.unwrap();
    let office = app.state.office();
    let signer = app.state.certificate_signer();
    let processing = app.state.processing(&office, &signer);
    let seeding = civitas_services::demo::Seeding {
        processing: &processing,
        intake: &app.state.intake,
        catalogue: &app.state.catalogue,
        body_code: &app.state.body_code,
        now: civitas::now,
    };
    civitas_services::demo::seed_civil(&seeding).await;
    assert_eq!(civitas_services::civil::count(&app.db).await.unwrap(), 5, "three births, a marriage, a death");
    // The death locks the deceased's account once the identity context has read the events;
    // the printed demo accounts are never the deceased's (they once were: the eldest adults).
    let scalar = |sql: &'static str| {
        let db = app.db.clone();
        async move {
            civitas_store::dispatch!(&db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
        }
    };
    let last = scalar("SELECT MAX(id) FROM events").await;
    for _ in 0..100 {
        if scalar("SELECT COALESCE(MIN(position), 0) FROM event_cursors").await >= last {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for (pid, _) in &demo.citizens {
        let mut browser = app.browser();
        browser.get(&app.url("/signin")).await;
        let step =
            browser.post(&app.url("/signin"), &[("pid", pid.as_str()), ("password", civitas::DEMO_PASSWORD)]).await;
        assert_eq!(step.status, 303, "demo citizen {pid} signs in: {}", step.body);
    }
}
on_both_databases!(demo_registers_births_marriage_and_death, demo_registrations);

/// A body of multipart/form-data with one file field, built by hand (the test client has no
/// multipart feature).
fn multipart(field: &str, file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "civitas-test-boundary-7f3a";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `/verify` by upload refuses, on a page that says why, what is not a certificate of this
/// system (nor a picture with a QR code) and what is too large; a forged payload in a PDF is
async fn too_large_upload(app: &TestApp, path: &str) -> String {
    too_large_head(app, path, "multipart/form-data; boundary=b", 9 * 1024 * 1024, None).await
}

/// "not valid", never "valid"; a broken PNG or JPEG is refused, not a crash.
async fn verify_uploads(app: TestApp) {
    let post = |content_type: String, body: Vec<u8>| {
        app.client.post(app.url("/verify")).header("content-type", content_type).body(body).send()
    };
    let (ct, body) = multipart("certificate", "anh.pdf", b"GIF89a not a pdf");
    let r = post(ct, body).await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("không phải bản điện tử"));
    let answer = too_large_upload(&app, "/verify").await;
    assert!(answer.contains("tệp quá lớn"), "{answer}");
    let forged = b"%PDF-1.4\n1 0 obj << /Subject (eyJhbGciOiJFUzI1NiJ9.eyJ4IjoxfQ.c2ln) >> endobj\n%%EOF\n";
    let (ct, body) = multipart("certificate", "forged.pdf", forged);
    let r = post(ct, body).await.unwrap();
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("Không hợp lệ") && !page.contains("Hợp lệ</h2>"), "{page}");
    for broken in [&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xff\xff\xff"[..], &b"\xff\xd8\xff\xe0 broken"[..]] {
        let (ct, body) = multipart("certificate", "photo.jpg", broken);
        assert_eq!(post(ct, body).await.unwrap().status(), 422);
    }
    let (ct, body) = multipart("other", "x.pdf", b"%PDF-1.4");
    assert_eq!(post(ct, body).await.unwrap().status(), 422, "no certificate field");

    // The camera scanner's frames (`?format=json`): problem details, never a page.
    let post_json = |content_type: String, body: Vec<u8>| {
        app.client.post(app.url("/verify?format=json")).header("content-type", content_type).body(body).send()
    };
    let (ct, body) = multipart("certificate", "frame.jpg", b"\xff\xd8\xff\xe0 not a picture");
    let problem = expect_problem(post_json(ct, body).await.unwrap(), 422).await;
    assert!(problem["type"].as_str().unwrap().ends_with("no-qr-code"), "{problem}");
    let (ct, body) = multipart("other", "frame.jpg", b"\xff\xd8");
    expect_problem(post_json(ct, body).await.unwrap(), 400).await;
    // Too big: refused by its declared length before the body is read, and the connection closed.
    let answer = too_large_upload(&app, "/verify?format=json").await;
    assert!(answer.contains("application/problem+json"), "{answer}");
    // A forged payload in a PDF is found, and said to be invalid.
    let (ct, body) = multipart("certificate", "forged.pdf", forged);
    let v: Value = post_json(ct, body).await.unwrap().json().await.unwrap();
    assert_eq!(v["status"], "invalid", "{v}");
}
on_both_databases!(verify_by_upload_refuses_what_is_not_a_certificate, verify_uploads);
