//! The one-stop system end to end over HTTP: a citizen applies online for permanent residence
//! with their e-ID access token (no data the register holds is asked), officers of the right
//! role and unit process it step by step, a supplement stops the clock, the result lands in the
//! citizen's document store, the citizen rates the service; a counter intake from a card QR; a
//! late dossier gets its apology slip; the printed slips carry extractable Vietnamese text and
//! a QR that decodes.

use reqwest::Method;
use serde_json::{Value, json};

use civitas_identity::{Role, tokens};
use civitas_services::workflow::Pause;

use crate::helpers::*;
use crate::oidc::{exchange, sign_in_through};
use crate::on_both_databases;

const PHONE: &str = "0912345678";

/// A PDF small enough for tests, accepted by content.
pub(crate) fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {text}\n%%EOF\n").into_bytes()
}

/// An access token for `pid` obtained through the real code flow of the provider, with the
/// scopes of the citizen's own dossiers, documents and certificates.
pub async fn citizen_token(app: &TestApp, pid: &str) -> String {
    citizen_token_with(app, pid, "openid dossiers documents certificates").await
}

/// An access token for `pid` with exactly `scope` (space-separated).
pub async fn citizen_token_with(app: &TestApp, pid: &str, scope: &str) -> String {
    let verifier = "v".repeat(60);
    let challenge = civitas_identity::secret::s256(&verifier);
    let scope = scope.replace(' ', "%20");
    let url = app.url(&format!(
        "/oauth2/authorize?client_id=rp&response_type=code&scope={scope}&redirect_uri=http%3A%2F%2F127.0.0.1%3A4100%2Fcallback&code_challenge={challenge}&code_challenge_method=S256"
    ));
    let mut jar = app.browser();
    let (redirect, _) = sign_in_through(app, &mut jar, &url, pid, "").await;
    let v = exchange(app, "rp", &redirect, "http://127.0.0.1:4100/callback", &verifier).await;
    v["access_token"].as_str().expect("access token").to_owned()
}

pub(crate) fn officer(app: &TestApp, sub: &str, role: Role, unit: &str) -> String {
    let units = [civitas_core::UnitCode::parse(unit).unwrap()];
    tokens::issue(&app.state.keys, sub, role, &units, civitas::now().unix_timestamp(), 3600)
}

pub(crate) async fn upload(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/me/documents?name={name}")))
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn act(app: &TestApp, token: &str, code: &str, body: Value) -> reqwest::Response {
    app.send_json(Method::POST, &format!("/api/v1/dossiers/{code}/actions"), token, body).await
}

/// Whether the PDF tools are here; in CI they must be.
pub fn pdf_tools() -> bool {
    let have = std::process::Command::new("pdftotext").arg("-v").output().is_ok()
        && std::process::Command::new("zbarimg").arg("--version").output().is_ok();
    if !have {
        assert!(std::env::var("CI").is_err(), "CI needs poppler-utils and zbar-tools (scripts/setup-test-env)");
        eprintln!("SKIPPED: PDF text and QR checks (install poppler-utils and zbar-tools: scripts/setup-test-env)");
    }
    have
}

/// The text of a PDF (pdftotext) and the content of its QR code (pdftoppm + zbarimg).
pub fn read_pdf(bytes: &[u8]) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("civitas-pdf-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("doc.pdf");
    std::fs::write(&file, bytes).unwrap();
    let text = std::process::Command::new("pdftotext").arg(&file).arg("-").output().unwrap();
    let png = dir.join("page");
    let status = std::process::Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&file)
        .arg(&png)
        .status()
        .unwrap();
    assert!(status.success());
    let qr = std::process::Command::new("zbarimg")
        .args(["-q", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(dir.join("page.png"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (String::from_utf8(text.stdout).unwrap(), String::from_utf8(qr.stdout).unwrap().trim().to_owned())
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn online_residence(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    let set_phone = "UPDATE accounts SET phone = $1 WHERE pid = $2";
    civitas_store::dispatch!(&app.db, pool => sqlx::query(set_phone).bind(PHONE).bind(AN).execute(pool).await.map(|r| r.rows_affected())).unwrap();
    let citizen = citizen_token(&app, AN).await;

    // The catalogue: searchable without diacritics; no household book, the register has it.
    let found: Value = app
        .client
        .get(app.url("/api/v1/procedures?q=dang%20ky%20thuong%20tru"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let residence = found["items"].as_array().unwrap().iter().find(|p| p["code"] == "DVC-03").expect("DVC-03").clone();
    assert_eq!(residence["days"], 7);
    let book = residence["components"].as_array().unwrap().iter().find(|c| c["code"] == "HOKHAU").unwrap();
    assert_eq!(book["replaced_by"], "register");
    let all: Value = app.client.get(app.url("/api/v1/procedures")).send().await.unwrap().json().await.unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 25);
    expect_problem(app.client.get(app.url("/api/v1/procedures/DVC-99")).send().await.unwrap(), 404).await;

    // Documents are checked by content and size, not by name.
    let r = upload(&app, &citizen, "hop-dong-thue.pdf", pdf("hợp đồng thuê nhà")).await;
    assert_eq!(r.status(), 201);
    let lease: Value = r.json().await.unwrap();
    expect_problem(upload(&app, &citizen, "anh.pdf", b"GIF89a....".to_vec()).await, 415).await;
    // The server answers 413 by the declared length, without reading the body, and closes
    // that connection.
    let answer =
        too_large_head(&app, "/api/v1/me/documents?name=big.pdf", "application/pdf", 11 * 1024 * 1024, Some(&citizen))
            .await;
    assert!(answer.contains("too-large"), "{answer}");
    expect_problem(upload(&app, "not-a-token", "a.pdf", pdf("a")).await, 401).await;

    // Bad forms: register data is not asked; required documents; unknown procedure.
    let submit = |body: Value, key: Option<&str>| {
        let mut r = app.client.post(app.url("/api/v1/dossiers")).bearer_auth(&citizen).json(&body);
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        r.send()
    };
    let fields = json!({ "address": "Số 8 phố Kim Mã", "commune": BA_DINH, "basis": "rented" });
    let bad = expect_problem(
        submit(json!({ "procedure": "DVC-03", "fields": { "full_name": "Someone Else", "basis": "castle" } }), None)
            .await
            .unwrap(),
        422,
    )
    .await;
    let fields_wrong: Vec<&str> =
        bad["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for f in ["fields.full_name", "fields.basis", "fields.address", "fields.commune", "components.CHO_O"] {
        assert!(fields_wrong.contains(&f), "{f} in {fields_wrong:?}");
    }
    expect_problem(
        submit(json!({ "procedure": "DVC-03", "fields": fields, "components": { "CHO_O": "someone-elses" } }), None)
            .await
            .unwrap(),
        422,
    )
    .await;
    expect_problem(submit(json!({ "procedure": "NOPE" }), None).await.unwrap(), 422).await;
    expect_problem(submit(json!({ "procedure": "DVC-03", "extra": 1 }), None).await.unwrap(), 400).await;

    // Submitted twice with one key: one dossier.
    let body = json!({ "procedure": "DVC-03", "fields": fields, "components": { "CHO_O": lease["id"] } });
    let first = submit(body.clone(), Some("apply-1")).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = submit(body.clone(), Some("apply-1")).await.unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    let code = first["code"].as_str().unwrap().to_owned();
    assert_eq!(again["code"], code.as_str());
    assert!(code.starts_with("H01.1-"), "{code}");
    assert_eq!(first["state"], "received");
    assert_eq!(first["unit_code"], BA_DINH);
    assert_eq!(first["data"]["applicant"]["full_name"], "Nguyễn Văn An", "taken from the register");
    assert_eq!(first["data"]["replaced"]["HOKHAU"], "register");
    assert_eq!(first["steps"][0]["action"], "receive");

    // The same key sent twice at once: still one dossier.
    let twice = json!({ "procedure": "DVC-05", "fields": { "destination": "Huế", "from": "2026-12-01", "until": "2026-12-05" } });
    let (a, b) = tokio::join!(submit(twice.clone(), Some("absence-1")), submit(twice, Some("absence-1")));
    let (a, b): (Value, Value) = (a.unwrap().json().await.unwrap(), b.unwrap().json().await.unwrap());
    assert_eq!(a["code"], b["code"]);

    // Anyone with the code and the last four digits sees the status, without personal data.
    let status = app
        .client
        .get(app.url(&format!("/api/v1/dossiers/{code}/status?pid_last4={}", &AN[8..])))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    let status: Value = status.json().await.unwrap();
    assert_eq!(status["state"], "received");
    assert!(!status.to_string().contains(AN));
    let wrong =
        app.client.get(app.url(&format!("/api/v1/dossiers/{code}/status?pid_last4=0000"))).send().await.unwrap();
    let unknown =
        app.client.get(app.url("/api/v1/dossiers/H01.1-261102-9999/status?pid_last4=3456")).send().await.unwrap();
    let (wrong, unknown) = (expect_problem(wrong, 404).await, expect_problem(unknown, 404).await);
    assert_eq!(wrong["detail"], unknown["detail"], "a wrong pair reads like an unknown code");

    // Officers of the commune: one-stop, specialist, leader; a specialist elsewhere.
    let desk = officer(&app, "mc-badinh", Role::OnestopOfficer, BA_DINH);
    let clerk = officer(&app, "cv-badinh", Role::Specialist, BA_DINH);
    let chief = officer(&app, "ld-badinh", Role::Leader, BA_DINH);
    let stranger = officer(&app, "cv-ngocha", Role::Specialist, NGOC_HA);
    let queue: Value = app.get("/api/v1/work-queue", &desk).await.json().await.unwrap();
    assert!(queue["items"].as_array().unwrap().iter().any(|i| i["code"] == code.as_str()));
    let theirs: Value = app.get("/api/v1/work-queue", &stranger).await.json().await.unwrap();
    assert!(theirs["items"].as_array().unwrap().is_empty(), "another commune's queue");
    expect_problem(app.get("/api/v1/work-queue?due=someday", &desk).await, 400).await;
    expect_problem(app.get("/api/v1/work-queue", &app.token(Role::Auditor, &["01"])).await, 403).await;

    // Wrong role, wrong unit, wrong state.
    expect_problem(act(&app, &chief, &code, json!({ "action": "start_processing" })).await, 403).await;
    expect_problem(act(&app, &stranger, &code, json!({ "action": "start_processing" })).await, 404).await;
    expect_problem(act(&app, &desk, &code, json!({ "action": "return" })).await, 409).await;
    expect_problem(act(&app, &desk, &code, json!({ "action": "levitate" })).await, 400).await;
    let started: Value =
        act(&app, &desk, &code, json!({ "action": "start_processing", "version": 1 })).await.json().await.unwrap();
    assert_eq!(
        (started["state"].as_str(), started["current_step"].as_str()),
        (Some("in_processing"), Some("appraise"))
    );
    expect_problem(act(&app, &clerk, &code, json!({ "action": "forward", "version": 1 })).await, 409).await;

    // The specialist asks for a supplement: the clock stops.
    expect_problem(act(&app, &clerk, &code, json!({ "action": "request_supplement" })).await, 422).await;
    let asked = act(
        &app,
        &clerk,
        &code,
        json!({ "action": "request_supplement", "note": "Bản sao hợp đồng thuê có công chứng", "supplement_days": 10 }),
    )
    .await;
    assert_eq!(asked.status(), 200);
    let asked: Value = asked.json().await.unwrap();
    assert_eq!(asked["state"], "supplement_requested");
    assert!(asked["supplement_due_on"].as_str().is_some());
    // As if it had been asked a week ago: the pause began seven days back.
    let today = civitas_services::dossiers::local_today(civitas::now());
    let paused_from = today - time::Duration::days(7);
    let pauses = serde_json::to_string(&[Pause { from: paused_from, until: None }]).unwrap();
    let sql = "UPDATE dossiers SET pauses = $1 WHERE code = $2";
    civitas_store::dispatch!(&app.db, pool => sqlx::query(sql).bind(&pauses).bind(&code).execute(pool).await.map(|r| r.rows_affected())).unwrap();
    let notarised: Value =
        upload(&app, &citizen, "hop-dong-cong-chung.pdf", pdf("công chứng")).await.json().await.unwrap();
    let supplied = app
        .send_json(
            Method::POST,
            &format!("/api/v1/dossiers/{code}/supplement"),
            &citizen,
            json!({ "components": { "CHO_O": notarised["id"] } }),
        )
        .await;
    assert_eq!(supplied.status(), 200);
    let supplied: Value = supplied.json().await.unwrap();
    assert_eq!(supplied["state"], "in_processing");
    let calendar = &app.state.calendar;
    let received = time::Date::parse(
        first["received_on"].as_str().unwrap(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    let expected = civitas_services::workflow::appointment(
        calendar,
        received,
        7,
        &[Pause { from: paused_from, until: Some(today) }],
    );
    assert_eq!(supplied["appointment_on"], expected.to_string().as_str(), "moved by the paused working days");
    assert!(calendar.working_days_between(paused_from, today) >= 4);
    assert_ne!(supplied["appointment_on"], first["appointment_on"]);

    // Steps in order, each by its role.
    expect_problem(act(&app, &chief, &code, json!({ "action": "approve" })).await, 403).await;
    let forwarded: Value = act(&app, &clerk, &code, json!({ "action": "forward" })).await.json().await.unwrap();
    assert_eq!(forwarded["current_step"], "decide");
    expect_problem(act(&app, &clerk, &code, json!({ "action": "approve" })).await, 403).await;
    expect_problem(act(&app, &chief, &code, json!({ "action": "refuse" })).await, 422).await;
    let approved: Value = act(&app, &chief, &code, json!({ "action": "approve" })).await.json().await.unwrap();
    assert_eq!(approved["state"], "approved");
    let issued: Value = act(&app, &clerk, &code, json!({ "action": "issue_result" })).await.json().await.unwrap();
    assert_eq!((issued["state"].as_str(), issued["timeliness"].as_str()), (Some("result_issued"), Some("early")));
    let sheet: Vec<&str> = issued["steps"].as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
    assert_eq!(
        sheet,
        ["receive", "start_processing", "request_supplement", "supplement", "forward", "approve", "issue_result"]
    );

    // The result is in the citizen's store, reusable; the messages went out.
    let mine: Value = app.get("/api/v1/me/documents", &citizen).await.json().await.unwrap();
    let result =
        mine["items"].as_array().unwrap().iter().find(|d| d["kind"] == "result").expect("result in the store").clone();
    assert_eq!(
        (result["procedure_code"].as_str(), result["dossier_code"].as_str()),
        (Some("DVC-03"), Some(code.as_str()))
    );
    let file = app.get(&format!("/api/v1/me/documents/{}", result["id"].as_str().unwrap()), &citizen).await;
    assert_eq!(file.headers()["content-type"], "application/pdf");
    let result_pdf = file.bytes().await.unwrap();
    let messages: Vec<Value> = {
        let v: Value = app.client.get(app.url("/dev/outbox?format=json")).send().await.unwrap().json().await.unwrap();
        v["items"].as_array().unwrap().iter().filter(|m| m["recipient"] == PHONE).cloned().collect()
    };
    let subjects: Vec<&str> = messages.iter().map(|m| m["subject"].as_str().unwrap()).collect();
    for s in [
        "Tiếp nhận hồ sơ / Dossier received",
        "Yêu cầu bổ sung hồ sơ / Supplement requested",
        "Có kết quả / Result ready",
    ] {
        assert!(subjects.contains(&s), "{s} in {subjects:?}");
    }
    // A power connection (DVC-24) reuses the residence result instead of asking for papers.
    let power =
        submit(json!({ "procedure": "DVC-24", "fields": { "address": "Số 8 phố Kim Mã" } }), None).await.unwrap();
    assert_eq!(power.status(), 201);
    let power: Value = power.json().await.unwrap();
    assert_eq!(power["data"]["components"]["CH"], result["id"]);
    assert_eq!(power["data"]["replaced"]["CH"], "result:DVC-03");

    // Rating: once, after the result, with a known value; seen per official.
    let rating_path = format!("/api/v1/dossiers/{code}/rating");
    let rate = |v: &str| app.send_json(Method::POST, &rating_path, &citizen, json!({ "rating": v }));
    expect_problem(rate("meh").await, 400).await;
    assert_eq!(rate("very_satisfied").await.status(), 200);
    expect_problem(rate("satisfied").await, 422).await;
    let ratings: Value = app.get("/api/v1/ratings/officials", &desk).await.json().await.unwrap();
    let officials: Vec<&str> =
        ratings["items"].as_array().unwrap().iter().map(|r| r["official"].as_str().unwrap()).collect();
    assert_eq!(officials, ["cv-badinh", "ld-badinh", "mc-badinh"]);
    assert_eq!(ratings["items"][0]["very_satisfied"], 1);
    expect_problem(
        app.send_json(Method::POST, &format!("/api/v1/dossiers/{code}/withdraw"), &citizen, json!({})).await,
        409,
    )
    .await;

    // Who may see the dossier: its applicant and officers of its unit.
    assert_eq!(app.get(&format!("/api/v1/dossiers/{code}"), &citizen).await.status(), 200);
    assert_eq!(app.get(&format!("/api/v1/dossiers/{code}"), &clerk).await.status(), 200);
    expect_problem(app.get(&format!("/api/v1/dossiers/{code}"), &stranger).await, 404).await;

    // The receipt slip (form 01): Vietnamese text extractable, QR of Circular 01/2023.
    let slip = app.get(&format!("/api/v1/dossiers/{code}/receipt.pdf"), &citizen).await;
    assert_eq!(slip.status(), 200);
    let slip = slip.bytes().await.unwrap();
    assert!(slip.starts_with(b"%PDF-"));
    expect_problem(app.get(&format!("/api/v1/dossiers/{code}/apology.pdf"), &citizen).await, 404).await;
    if pdf_tools() {
        let (text, qr) = read_pdf(&slip);
        assert!(text.contains("GIẤY TIẾP NHẬN HỒ SƠ"), "{text}");
        assert!(text.contains("Nguyễn Văn An") && text.contains("Đăng ký thường trú"), "{text}");
        assert!(qr.starts_with(&format!("MHS={code}|MTTHC=DVC-03|CD={AN}|")), "{qr}");
        assert!(qr.contains("|HT=civitas|") && qr.contains("|HEN="), "{qr}");
        let (text, qr) = read_pdf(&result_pdf);
        assert!(text.contains("KẾT QUẢ GIẢI QUYẾT") && text.contains("Số 8 phố Kim Mã"), "{text}");
        assert!(qr.contains(&format!("MHS={code}")), "{qr}");
    }
}
on_both_databases!(online_residence_registration, online_residence);

/// Counter intake from the card QR (matched to the register, differences shown), and a dossier
/// that runs late: the sweep writes the apology (form 04) with a new date, and notifies.
async fn counter_and_late(app: TestApp) {
    let desk = officer(&app, "mc-ngocha", Role::OnestopOfficer, NGOC_HA);
    let check = |qr: &str| app.send_json(Method::POST, "/api/v1/counter/card-check", &desk, json!({ "card_qr": qr }));
    let qr = "079185000004||Le Thi Dung|01011985|Nữ|Số 10 phố Kim Mã, Ngọc Hà, Hà Nội|10102021";
    let checked: Value = check(qr).await.json().await.unwrap();
    assert_eq!(checked["full_name"], "Lê Thị Dung");
    let fields: Vec<&str> =
        checked["mismatches"].as_array().unwrap().iter().map(|m| m["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["full_name", "birth_date"],
        "no diacritics on the card text, and the register knows only the year"
    );
    let bad = expect_problem(check("079185000004|Lê Thị Dung").await, 422).await;
    assert_eq!(bad["errors"][0]["field"], "card_qr");
    expect_problem(check("079185999999||X|01011985|Nữ|x|").await, 422).await;
    let clerk = officer(&app, "cv-ngocha", Role::Specialist, NGOC_HA);
    expect_problem(
        app.send_json(Method::POST, "/api/v1/counter/card-check", &clerk, json!({ "card_qr": qr })).await,
        403,
    )
    .await;

    let intake = json!({
        "procedure": "DVC-05", "card_qr": qr,
        "fields": { "destination": "Đà Nẵng", "from": "2026-12-01", "until": "2026-12-20" }
    });
    let r = app.send_json(Method::POST, "/api/v1/counter/dossiers", &desk, intake).await;
    assert_eq!(r.status(), 201);
    let d: Value = r.json().await.unwrap();
    let code = d["code"].as_str().unwrap().to_owned();
    assert_eq!((d["channel"].as_str(), d["unit_code"].as_str()), (Some("counter"), Some(NGOC_HA)));
    assert_eq!(d["data"]["card_mismatches"].as_array().unwrap().len(), 2);
    assert_eq!(d["data"]["applicant"]["full_name"], "Lê Thị Dung");
    // The read of the register at the counter is in Dung's access log with its purpose.
    let log = civitas_store::access_log::for_subject(&app.db, DUNG, 10).await.unwrap();
    assert!(log.iter().any(|r| r.purpose.as_deref() == Some("counter-intake") && r.actor == "mc-ngocha"), "{log:?}");

    // An officer's apology needs a later date and a reason.
    let apology_path = format!("/api/v1/dossiers/{code}/apology");
    let apology = |body: Value| app.send_json(Method::POST, &apology_path, &desk, body);
    expect_problem(apology(json!({ "new_date": "2020-01-01", "reason": "x" })).await, 422).await;
    expect_problem(apology(json!({ "new_date": "soon", "reason": "x" })).await, 400).await;

    // A month later nobody has acted: the sweep apologises, with a new date after today.
    let later = civitas::now() + time::Duration::days(30);
    let swept =
        civitas_services::dossiers::sweep(&app.db, &app.state.calendar, &app.state.catalogue, later).await.unwrap();
    assert_eq!(swept.apologised, 1);
    let again =
        civitas_services::dossiers::sweep(&app.db, &app.state.calendar, &app.state.catalogue, later).await.unwrap();
    assert_eq!(again.apologised, 0, "one apology per missed date");
    let late: Value = app.get(&format!("/api/v1/dossiers/{code}"), &desk).await.json().await.unwrap();
    let new_date = late["apology_on"].as_str().unwrap().to_owned();
    assert!(new_date > civitas_services::dossiers::local_today(later).to_string());
    let queue: Value = app.get("/api/v1/work-queue?due=overdue", &desk).await.json().await.unwrap();
    assert_eq!(queue["items"].as_array().unwrap().len(), 0, "not overdue today, only in a month");
    let slip = app.get(&format!("/api/v1/dossiers/{code}/apology.pdf"), &desk).await;
    assert_eq!(slip.status(), 200);
    let slip = slip.bytes().await.unwrap();
    if pdf_tools() {
        let (text, qr) = read_pdf(&slip);
        assert!(text.contains("XIN LỖI") && text.contains("Lê Thị Dung"), "{text}");
        let (y, m, d) = (&new_date[0..4], &new_date[5..7], &new_date[8..10]);
        assert!(text.contains(&format!("{d}/{m}/{y}")), "the new date on the slip: {text}");
        assert!(qr.contains(&format!("HEN={new_date}")), "{qr}");
    }
    let start: Value = act(&app, &desk, &code, json!({ "action": "start_processing" })).await.json().await.unwrap();
    assert_eq!(start["state"], "in_processing");
    // A supplement request that lapses closes the dossier.
    act(
        &app,
        &clerk,
        &code,
        json!({ "action": "request_supplement", "note": "Giấy mời công tác", "supplement_days": 1 }),
    )
    .await;
    let lapsed =
        civitas_services::dossiers::sweep(&app.db, &app.state.calendar, &app.state.catalogue, later).await.unwrap();
    assert_eq!(lapsed.lapsed, 1);
    let closed: Value = app.get(&format!("/api/v1/dossiers/{code}"), &desk).await.json().await.unwrap();
    assert_eq!(closed["state"], "lapsed");
}
on_both_databases!(counter_intake_and_apology, counter_and_late);
