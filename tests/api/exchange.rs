//! The governed exchange (issue #15, part 5 and 6): grants made by operators (each a log entry),
//! agency systems authenticated with `private_key_jwt` calling verify / attributes / the
//! register under their grants, refusals specific and recorded, life events delivered to
//! subscribers within their grants, the holder's tracker, the auditor's search and alerts.

use reqwest::StatusCode;
use serde_json::{Value, json};

use civitas_identity::Role;

use crate::helpers::*;
use crate::on_both_databases;

const PURPOSE: &str = "health-insurance";

/// An agency system registered with a public key (`private_key_jwt`), and its access token.
async fn jwt_system(app: &TestApp, id: &str) -> String {
    use p256::ecdsa::signature::Signer;
    let key = <p256::ecdsa::SigningKey as p256::elliptic_curve::Generate>::try_generate().unwrap();
    let point = key.verifying_key().to_sec1_point(false);
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
    let jwk = civitas_identity::keys::Jwk {
        kty: "EC".into(),
        crv: "P-256".into(),
        x: b64(point.x().unwrap()),
        y: b64(point.y().unwrap()),
        kid: "k1".into(),
        alg: "ES256".into(),
        use_: "sig".into(),
    };
    let client = civitas_identity::NewClient {
        id: id.into(),
        name: "Hệ thống BHXH".into(),
        jwks: vec![jwk],
        scopes: vec!["registry.read".into()],
        grant_types: vec!["client_credentials".into()],
        role: Some(Role::AgencySystem),
        units: vec!["01".into()],
        ..Default::default()
    };
    app.state.identity.create_client(client, civitas::now()).await.unwrap();
    let now = civitas::now().unix_timestamp();
    let header = b64(br#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#);
    let claims = b64(json!({"iss": id, "sub": id, "aud": app.url("/oauth2/token"), "exp": now + 60, "jti": "x1"})
        .to_string()
        .as_bytes());
    let input = format!("{header}.{claims}");
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    let assertion = format!("{input}.{}", b64(&signature.to_bytes()));
    let r = app
        .client
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &assertion),
            ("scope", "registry.read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, path: &str, token: &str, purpose: &str, body: Value) -> reqwest::Response {
    agency_call(app.client.post(app.url(path)), purpose).bearer_auth(token).json(&body).send().await.unwrap()
}

/// The records of the log's private index for `actor`, newest first.
async fn records_of(app: &TestApp, actor: &str) -> Vec<civitas_store::access_log::AccessEntry> {
    let filter = civitas_store::access_log::AuditFilter { actor: Some(actor.into()), ..Default::default() };
    civitas_store::access_log::search(&app.db, &filter, None, 1000).await.unwrap()
}

/// The committed records of the transparency log (salt stripped) of a kind.
async fn log_records(app: &TestApp, kind: &str) -> Vec<Value> {
    let rows: Vec<Vec<u8>> = match &app.db {
        civitas_store::Db::Sqlite(pool, _) => {
            sqlx::query_scalar("SELECT entry FROM tlog_entries ORDER BY idx").fetch_all(pool).await.unwrap()
        }
        civitas_store::Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT entry FROM tlog_entries ORDER BY idx").fetch_all(pool).await.unwrap()
        }
    };
    rows.iter().filter_map(|e| serde_json::from_slice::<Value>(&e[16..]).ok()).filter(|v| v["kind"] == kind).collect()
}

async fn exchange(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    let system = jwt_system(&app, "bhxh-system").await;
    civitas_services::followups::put_agency(
        &app.db,
        "bhxh",
        "Bảo hiểm xã hội Việt Nam",
        "http://127.0.0.1:9/hooks",
        "x",
    )
    .await
    .unwrap();
    let operator = app.token(Role::Operator, &["01"]);
    let until = (civitas::now() + time::Duration::days(30)).date().to_string();
    let grant = |service: &str, fields: &[&str]| {
        json!({ "agency_id": "bhxh", "system_id": "bhxh-system", "service": service, "purpose": PURPOSE,
                "legal_basis": "Luật Bảo hiểm y tế, điều 12", "fields": fields, "units": ["01"], "valid_until": until })
    };

    // Bad grants are refused naming the field; nothing is made.
    for (mut body, field) in [
        (grant("verify", &["shoe_size"]), "fields"),
        (grant("verify", &[]), "fields"),
        (grant("teleport", &["full_name"]), "service"),
        (grant("verify", &["full_name"]), "valid_until"),
        (grant("verify", &["full_name"]), "units"),
        (grant("verify", &["full_name"]), "events"),
    ] {
        match field {
            "valid_until" => body["valid_until"] = json!("2020-01-01"),
            "units" => body["units"] = json!(["99"]),
            "events" => body["events"] = json!(["birth"]),
            _ => {}
        }
        let r = app.send_json(reqwest::Method::POST, "/api/v1/exchange/grants", &operator, body).await;
        let problem = expect_problem(r, 422).await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let mut other = grant("verify", &["full_name"]);
    other["system_id"] = json!("no-such-system");
    expect_problem(app.send_json(reqwest::Method::POST, "/api/v1/exchange/grants", &operator, other).await, 422).await;
    // Only operators make grants.
    let officer = app.token(Role::RegistryOfficer, &["01"]);
    let r = app
        .send_json(reqwest::Method::POST, "/api/v1/exchange/grants", &officer, grant("verify", &["full_name"]))
        .await;
    assert_eq!(r.status(), 403);

    let r = app
        .send_json(
            reqwest::Method::POST,
            "/api/v1/exchange/grants",
            &operator,
            grant("verify", &["full_name", "birth_date", "sex", "residence_commune"]),
        )
        .await;
    assert_eq!(r.status(), 201);
    let verify_grant: Value = r.json().await.unwrap();
    let r = app
        .send_json(
            reqwest::Method::POST,
            "/api/v1/exchange/grants",
            &operator,
            grant("attributes", &["full_name", "birth_date"]),
        )
        .await;
    assert_eq!(r.status(), 201);
    // Each grant is an entry of the log, committed with it.
    let made = log_records(&app, "grant").await;
    assert_eq!(made.len(), 2, "{made:?}");
    assert_eq!(made[0]["action"], "created");
    assert_eq!(made[0]["grant"]["id"], verify_grant["id"]);

    // Every call names the official and the case; a missing one is refused and recorded.
    let r = app
        .client
        .post(app.url("/api/v1/exchange/verify"))
        .bearer_auth(&system)
        .header("x-purpose", PURPOSE)
        .header("x-case-id", "C1")
        .json(&json!({ "pid": AN, "attributes": { "full_name": "Nguyễn Văn An" } }))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(r, 400).await;
    assert_eq!(problem["type"], "urn:civitas:problem:missing-official");

    // Verify: match / no match per attribute, never the register's values.
    let r = post(
        &app,
        "/api/v1/exchange/verify",
        &system,
        PURPOSE,
        json!({ "pid": AN, "attributes": { "full_name": "nguyễn  văn AN", "birth_date": "1990-03-15", "sex": "male", "residence_commune": BA_DINH } }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["all_match"], true, "{v}");
    let r = post(
        &app,
        "/api/v1/exchange/verify",
        &system,
        PURPOSE,
        json!({ "pid": AN, "attributes": { "full_name": "Nguyen Van An", "birth_date": "1991-03-15" } }),
    )
    .await;
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["results"]["full_name"], "no-match", "diacritics count: {v}");
    assert_eq!(v["results"]["birth_date"], "no-match");
    assert_eq!(v["all_match"], false);
    assert!(!text.contains("1990") && !text.contains("Nguyễn"), "no data is disclosed: {text}");

    // Outside the grant: specific 403s, each recorded with the person.
    let r = post(
        &app,
        "/api/v1/exchange/verify",
        &system,
        PURPOSE,
        json!({ "pid": AN, "attributes": { "ethnicity": "Kinh" } }),
    )
    .await;
    assert_eq!(expect_problem(r, 403).await["type"], "urn:civitas:problem:field-not-granted");
    let r = post(
        &app,
        "/api/v1/exchange/verify",
        &system,
        "debt-collection",
        json!({ "pid": AN, "attributes": { "full_name": "x" } }),
    )
    .await;
    let problem = expect_problem(r, 403).await;
    assert_eq!(problem["type"], "urn:civitas:problem:no-grant");
    assert!(problem["detail"].as_str().unwrap().contains(PURPOSE), "names the purposes held: {problem}");
    let r = post(&app, "/api/v1/exchange/attributes", &system, PURPOSE, json!({ "pid": AN, "fields": ["sex"] })).await;
    assert_eq!(expect_problem(r, 403).await["type"], "urn:civitas:problem:field-not-granted");
    // The register API of old goes through the same check: no register grant, no read.
    let r = agency_call(app.client.get(app.url(&format!("/api/v1/people/{AN}"))), PURPOSE)
        .bearer_auth(&system)
        .send()
        .await
        .unwrap();
    assert_eq!(expect_problem(r, 403).await["type"], "urn:civitas:problem:no-grant");
    // Bad input is a 400 naming what is wrong, recorded as well.
    let bad = |body: Value| post(&app, "/api/v1/exchange/verify", &system, PURPOSE, body);
    expect_problem(bad(json!({ "pid": "12345", "attributes": { "full_name": "x" } })).await, 400).await;
    let problem = expect_problem(bad(json!({ "pid": AN, "attributes": {} })).await, 400).await;
    assert_eq!(problem["type"], "urn:civitas:problem:no-attributes");
    let problem = expect_problem(bad(json!({ "pid": AN, "attributes": { "shoe_size": 42 } })).await, 400).await;
    assert_eq!(problem["type"], "urn:civitas:problem:unknown-attribute");
    expect_problem(bad(json!({ "pid": "079185000099", "attributes": { "full_name": "x" } })).await, 404).await;
    let fields =
        |f: Value| post(&app, "/api/v1/exchange/attributes", &system, PURPOSE, json!({ "pid": AN, "fields": f }));
    assert_eq!(expect_problem(fields(json!([])).await, 400).await["type"], "urn:civitas:problem:no-fields");
    let problem = expect_problem(fields(json!(["password"])).await, 400).await;
    assert_eq!(problem["type"], "urn:civitas:problem:unknown-attribute");
    let r = agency_call(app.client.post(app.url("/api/v1/exchange/verify")), PURPOSE)
        .bearer_auth(&system)
        .header("content-type", "application/json")
        .body("{\"pid\": ")
        .send()
        .await
        .unwrap();
    expect_problem(r, 400).await;

    // Attributes: only the granted ones.
    let r = post(&app, "/api/v1/exchange/attributes", &system, PURPOSE, json!({ "pid": AN })).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let keys: Vec<&String> = v["attributes"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["birth_date", "full_name"], "{v}");
    assert_eq!(v["attributes"]["full_name"], "Nguyễn Văn An");

    // Reads of every other kind: an officer's API call and page, a counter's card read, the
    // sign-in data an application receives.
    let registrar = app.token(Role::RegistryOfficer, &[BA_DINH]);
    assert_eq!(app.get(&format!("/api/v1/people/{AN}"), &registrar).await.status(), 200);
    let page = app
        .client
        .get(app.url(&format!("/officer/people/{AN}")))
        .header("cookie", format!("civitas_session={registrar}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let counter = app.token(Role::OnestopOfficer, &[BA_DINH]);
    let card = format!("{AN}||Nguyễn Văn An|15031990|Nam|Số 5 phố Đội Cấn|01012020");
    let r =
        app.send_json(reqwest::Method::POST, "/api/v1/counter/card-check", &counter, json!({ "card_qr": card })).await;
    assert_eq!(r.status(), 200);
    let holder = crate::one_stop::citizen_token_with(&app, AN, "openid profile access").await;
    assert_eq!(app.get("/oauth2/userinfo", &holder).await.status(), 200);

    // The holder sees the reads (how, the agency and its official, the legal basis, in plain
    // words), not the refusals; each with a receipt that verifies offline.
    let mine: Value = app.get("/api/v1/me/access", &holder).await.json().await.unwrap();
    let items = mine["items"].as_array().unwrap();
    let kinds: std::collections::BTreeSet<&str> = items.iter().filter_map(|i| i["how"].as_str()).collect();
    for how in ["api", "page", "counter-card", "userinfo", "exchange:verify", "exchange:attributes"] {
        assert!(kinds.contains(how), "{how} in the tracker: {kinds:?}");
    }
    let reads: Vec<&Value> = items.iter().filter(|i| i["actor"] == "bhxh-system").collect();
    assert_eq!(reads.len(), 3, "two verifications and one attributes read: {mine}");
    let attributes_read = reads.iter().find(|r| r["how"] == "exchange:attributes").unwrap();
    assert_eq!(attributes_read["agency"], "Bảo hiểm xã hội Việt Nam");
    let reader = attributes_read["explained"]["reader"].as_str().unwrap();
    assert!(reader.contains("Bảo hiểm xã hội Việt Nam") && reader.contains("Trần Thị Cán Bộ"), "{reader}");
    assert!(attributes_read["explained"]["purpose"].as_str().unwrap().contains("Luật Bảo hiểm y tế"));
    assert_eq!(attributes_read["case_id"], "HS-2026-001");
    let receipt_url = attributes_read["receipt"].as_str().unwrap().to_owned();
    let mut receipt = String::new();
    for _ in 0..100 {
        let r = app.get(&receipt_url, &holder).await;
        if r.status() == 200 {
            receipt = r.text().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let vkey = app.client.get(app.url("/log/key")).send().await.unwrap().text().await.unwrap();
    let dir = temp_dir();
    let file = dir.0.join("receipt.txt");
    std::fs::write(&file, &receipt).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["audit", "verify-receipt", file.to_str().unwrap(), "--key", vkey.trim()])
        .env("CIVITAS_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Trần Thị Cán Bộ"), "the receipt holds the official");
    // The account page says the same in words.
    let mut jar = app.browser();
    jar.get(&app.url("/signin")).await;
    assert_eq!(jar.post(&app.url("/signin"), &[("pid", AN), ("password", PASSWORD)]).await.status, 303);
    let page = jar.get(&app.url("/account")).await;
    assert!(page.body.contains("Bảo hiểm xã hội Việt Nam") && page.body.contains("Đọc thẻ căn cước tại quầy"));
    let records = records_of(&app, "bhxh-system").await;
    let read = records.iter().find(|r| r.how.as_deref() == Some("exchange:attributes")).unwrap();
    assert_eq!(read.official.as_deref(), Some("Trần Thị Cán Bộ"));
    assert_eq!(read.case_id.as_deref(), Some("HS-2026-001"));
    assert_eq!(read.legal_basis.as_deref(), Some("Luật Bảo hiểm y tế, điều 12"));
    assert_eq!(read.fields, "birth_date,full_name");
    let refusals: Vec<&str> = records.iter().filter_map(|r| r.outcome.as_deref()).collect();
    for code in ["missing-official", "field-not-granted", "no-grant", "invalid-pid"] {
        assert!(refusals.contains(&code), "{code} recorded: {refusals:?}");
    }
    assert!(records.iter().filter(|r| r.outcome.as_deref() == Some("field-not-granted")).all(|r| r.subject_pid == AN));

    // Revoked: refused from then on; the revocation is a log entry too.
    let r = app
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v1/exchange/grants/{}/revoke", verify_grant["id"].as_str().unwrap()),
            &operator,
            json!({ "reason": "hết nhu cầu" }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = post(
        &app,
        "/api/v1/exchange/verify",
        &system,
        PURPOSE,
        json!({ "pid": AN, "attributes": { "full_name": "x" } }),
    )
    .await;
    assert_eq!(expect_problem(r, 403).await["type"], "urn:civitas:problem:no-grant");
    let changes = log_records(&app, "grant").await;
    assert_eq!(changes.last().unwrap()["action"], "revoked");
    assert_eq!(changes.last().unwrap()["reason"], "hết nhu cầu");
    let r = app
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v1/exchange/grants/{}/revoke", verify_grant["id"].as_str().unwrap()),
            &operator,
            json!({ "reason": "again" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // Refusals are in the transparency log as well (without data).
    let logged = log_records(&app, "refusal").await;
    assert!(logged.iter().any(|r| r["refused"] == "no-grant" && r["actor"] == "bhxh-system"), "{logged:?}");

    // The auditor's search: by reader, official, refusals, time.
    let auditor = app.token(Role::Auditor, &["01"]);
    let v: Value = app.get("/api/v1/audit/access?actor=bhxh-system&refused=1", &auditor).await.json().await.unwrap();
    let items = v["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|i| !i["outcome"].is_null()), "{v}");
    let official = "/api/v1/audit/access?official=Tr%E1%BA%A7n%20Th%E1%BB%8B%20C%C3%A1n%20B%E1%BB%99";
    let v: Value = app.get(official, &auditor).await.json().await.unwrap();
    assert!(v["items"].as_array().unwrap().len() >= 3, "{v}");
    let v: Value =
        app.get("/api/v1/audit/access?actor=bhxh-system&to=2020-01-01", &auditor).await.json().await.unwrap();
    assert!(v["items"].as_array().unwrap().is_empty());
    let problem = expect_problem(app.get("/api/v1/audit/access?from=yesterday", &auditor).await, 400).await;
    assert!(problem["detail"].as_str().unwrap().contains("from"), "{problem}");
    assert_eq!(app.get("/api/v1/audit/access", &officer).await.status(), 403);
}
on_both_databases!(agency_calls_are_governed_by_grants, exchange);

/// Life events reach the subscribed agency within its grant: the kinds subscribed, people in
/// its units, the granted fields only; each hand-over is in the holder's tracker.
async fn life_events(app: TestApp) {
    let system = jwt_system(&app, "bhxh-events").await;
    app.grant("bhxh-events", "events", PURPOSE, &["full_name", "birth_date"], &["residence", "death"], &[BA_DINH])
        .await;
    // Subscriptions only within the grant.
    let r = post(&app, "/api/v1/exchange/subscriptions", &system, PURPOSE, json!({ "events": ["marriage"] })).await;
    let problem = expect_problem(r, 422).await;
    assert!(problem["detail"].as_str().unwrap().contains("marriage"), "{problem}");
    let r = post(&app, "/api/v1/exchange/subscriptions", &system, PURPOSE, json!({ "events": ["residence"] })).await;
    assert_eq!(r.status(), 201);
    let v: Value = agency_call(app.client.get(app.url("/api/v1/exchange/subscriptions")), PURPOSE)
        .bearer_auth(&system)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    // The fan-out starts from the events of its first round.
    wait_for(|| async { cursor(&app).await.is_some() }).await;
    let officer = app.token(Role::RegistryOfficer, &["01"]);
    for pid in [AN, DUNG] {
        let commune = if pid == AN { BA_DINH } else { NGOC_HA };
        let r = app
            .send_json(
                reqwest::Method::POST,
                &format!("/api/v1/people/{pid}/residence"),
                &officer,
                json!({ "kind": "temporary", "residence": { "commune": commune, "address": "Số 9 phố Kim Mã" },
                        "until": "2027-06-01", "legal_basis": { "basis": "test" } }),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    wait_for(|| async { !deliveries(&app).await.is_empty() }).await;
    // Let a second round pass: nothing more arrives.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let sent = deliveries(&app).await;
    assert_eq!(sent.len(), 1, "only AN lives in the granted commune: {sent:?}");
    let (kind, subject, payload) = &sent[0];
    assert_eq!(kind, "life-event.residence");
    assert_eq!(subject, AN);
    let payload: Value = serde_json::from_str(payload).unwrap();
    let keys: Vec<&String> = payload["data"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["birth_date", "full_name"], "{payload}");
    let records = civitas_store::access_log::for_subject(&app.db, AN, 20).await.unwrap();
    let handed = records.iter().find(|r| r.how.as_deref() == Some("life-event")).expect("the hand-over is recorded");
    assert_eq!(handed.actor, "bhxh-events");
    assert_eq!(handed.purpose.as_deref(), Some(PURPOSE));
}
on_both_databases!(life_events_reach_subscribers_within_their_grant, life_events);

async fn wait_for<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("not reached within 10 s");
}

async fn cursor(app: &TestApp) -> Option<i64> {
    let sql = "SELECT position FROM event_cursors WHERE consumer = 'exchange.life-events'";
    match &app.db {
        civitas_store::Db::Sqlite(pool, _) => sqlx::query_scalar(sql).fetch_optional(pool).await.unwrap(),
        civitas_store::Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_optional(pool).await.unwrap(),
    }
}

async fn deliveries(app: &TestApp) -> Vec<(String, String, String)> {
    let sql =
        "SELECT kind, subject_pid, payload FROM webhook_deliveries WHERE kind LIKE 'life-event.%' ORDER BY created_at";
    match &app.db {
        civitas_store::Db::Sqlite(pool, _) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        civitas_store::Db::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
    }
}

/// The operator's registry page makes and revokes grants (CSRF-bound forms, errors named);
/// the auditor's search and alert pages find and flag reading.
async fn pages(app: TestApp) {
    civitas_services::followups::put_agency(
        &app.db,
        "bhxh",
        "Bảo hiểm xã hội Việt Nam",
        "http://127.0.0.1:9/hooks",
        "x",
    )
    .await
    .unwrap();
    app.grant("sys-a", "register", PURPOSE, &["record"], &[], &["01"]).await;
    let operator = app.token(Role::Operator, &["01"]);
    let mut jar = app.browser();
    jar.get(&app.url("/signin/token")).await;
    jar.post(&app.url("/signin/token"), &[("token", operator.as_str())]).await;
    let page = jar.get(&app.url("/officer/exchange")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("sys-a") && page.body.contains("Cấp quyền mới"));
    let until = (civitas::now() + time::Duration::days(30)).date().to_string();
    let form = |fields: &str| {
        vec![
            ("agency_id", "test-agency".to_owned()),
            ("system_id", "sys-a".to_owned()),
            ("service", "verify".to_owned()),
            ("purpose", "kiểm tra".to_owned()),
            ("legal_basis", "Luật Căn cước".to_owned()),
            ("fields", fields.to_owned()),
            ("units", "01".to_owned()),
            ("valid_until", until.clone()),
        ]
    };
    let bad = form("full_name, shoe_size");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = jar.post(&app.url("/officer/exchange/grants"), &bad).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("shoe_size") && r.body.contains("href=\"#fields\""), "{}", r.body);
    let good = form("full_name, birth_date");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = jar.post(&app.url("/officer/exchange/grants"), &good).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let made = civitas_exchange::grants::all(&app.db, None).await.unwrap();
    let g = made.iter().find(|g| g.service == "verify").unwrap();
    assert_eq!(g.fields, "birth_date,full_name");
    // Without the session's CSRF token nothing changes.
    let r = app
        .client
        .post(app.url(&format!("/officer/exchange/grants/{}/revoke", g.id)))
        .header("cookie", format!("civitas_session={operator}"))
        .form(&[("reason", "x"), ("csrf", "forged.value")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = jar.post(&app.url(&format!("/officer/exchange/grants/{}/revoke", g.id)), &[("reason", "")]).await;
    assert_eq!(r.status, 422, "a reason is required");
    let r = jar.post(&app.url(&format!("/officer/exchange/grants/{}/revoke", g.id)), &[("reason", "thử nghiệm")]).await;
    assert_eq!(r.status, 303);
    assert!(civitas_exchange::grants::get(&app.db, &g.id).await.unwrap().unwrap().revoked_at.is_some());

    // Reading: one officer reads far more people than the others.
    let officers = ["officer-1", "officer-2", "officer-3"];
    let mut records = Vec::new();
    for (n, who) in officers.iter().enumerate() {
        let people = if n == 0 { 40 } else { 3 };
        for i in 0..people {
            records.push(civitas_store::access_log::AccessRecord {
                actor: (*who).into(),
                role: "registry-officer".into(),
                unit: "00004".into(),
                purpose: Some("register-read".into()),
                subject_pid: format!("0010900{i:05}"),
                fields: "record".into(),
                at: civitas_store::timestamp(civitas::now()),
                how: Some("api".into()),
                ..Default::default()
            });
        }
    }
    app.state.access_log.append(records).await.unwrap();
    let auditor = app.token(Role::Auditor, &["01"]);
    let mut jar = app.browser();
    jar.get(&app.url("/signin/token")).await;
    jar.post(&app.url("/signin/token"), &[("token", auditor.as_str())]).await;
    let page = jar.get(&app.url("/officer/audit/alerts")).await;
    assert_eq!(page.status, 200);
    let flagged = page.body.split("<tr").filter(|row| row.contains("Bất thường")).collect::<Vec<_>>();
    assert_eq!(flagged.len(), 1, "{}", page.body);
    assert!(flagged[0].contains("officer-1"));
    let page = jar.get(&app.url("/officer/audit?actor=officer-2")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("<tr").count(), 4, "a header row and three reads");
    let page = jar.get(&app.url("/officer/audit?from=31/12/2026")).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("href=\"#from\""));
    // The operator's registry page is not the auditor's search, and the other way round.
    assert_eq!(jar.post(&app.url("/officer/exchange/grants"), &good).await.status, 403);
}
on_both_databases!(registry_and_audit_pages, pages);
