//! Remote onboarding (issue #16, part 5) through the phone's API: a card made by `card-sim`
//! onboards a citizen to level 1 at once, and to level 2 after a registry officer's review; a
//! tampered DG13, a foreign CSCA, an expired DS, a replayed AA answer, a clone and a withheld
//! DG15 are refused with their codes; sessions are throttled and bound to their token.

use base64::Engine;
use serde_json::{Value, json};

use civitas_identity::Role;
use civitas_identity::chip::{Allow, trust};
use civitas_services::cards::{self, CardState};

use crate::helpers::*;
use crate::on_both_databases;

const SEED: &str = "onboarding";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Gives `pid` a returned card in the register (collected, produced today, at the commune, handed over).
async fn give_card(app: &TestApp, pid: &str, commune: &str) {
    let now = civitas::now();
    let at = civitas_store::timestamp(now);
    let writes = cards::collected(pid, commune, "cccd-2021", None, None, "test", &at);
    civitas_store::unit::commit(&app.db, &writes).await.unwrap().unwrap();
    let id = cards::of_person(&app.db, pid).await.unwrap()[0].id.clone();
    let person = app.state.register.get(&pid.parse().unwrap()).await.unwrap().unwrap();
    for to in [CardState::Produced, CardState::AtCommune, CardState::Returned] {
        cards::advance(&app.db, &id, to, person.birth_date.to_date(), "test", None, now).await.unwrap();
    }
}

/// The simulated phone: the card's files for `pid` in `variant`.
async fn card(app: &TestApp, pid: &str, variant: &str) -> civitas_identity::chip::sim::Card {
    let person = app.state.register.get(&pid.parse().unwrap()).await.unwrap().unwrap();
    civitas_onboarding::sim::card_of(&app.db, &person, SEED, variant, civitas::now()).await.unwrap()
}

struct Phone<'a> {
    app: &'a TestApp,
    session: String,
    token: String,
}

impl Phone<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let url = self.app.url(&format!("/api/v1/onboarding/sessions/{}{path}", self.session));
        let mut req = self.app.client.request(method, url).header("x-onboarding-token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }
    async fn challenge(&self) -> Vec<u8> {
        let r = self.call(reqwest::Method::POST, "/challenge", None).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let h = v["challenge"].as_str().unwrap();
        (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
    }
    async fn submit(
        &self,
        card: &civitas_identity::chip::sim::Card,
        answer: &[u8],
        password: Option<&str>,
    ) -> reqwest::Response {
        let mut body = json!({
            "sod": b64(&card.sod),
            "dg1": b64(&card.dgs[&1]),
            "dg2": b64(&card.dgs[&2]),
            "dg13": b64(&card.dgs[&13]),
            "dg14": b64(&card.dgs[&14]),
            "aa_response": hex(answer),
            "selfie": b64(civitas_identity::chip::sim::PORTRAIT),
        });
        if let Some(d) = card.dgs.get(&15) {
            body["dg15"] = json!(b64(d));
        }
        if let Some(p) = password {
            body["password"] = json!(p);
        }
        self.call(reqwest::Method::POST, "/card", Some(body)).await
    }
    async fn status(&self) -> Value {
        let r = self.call(reqwest::Method::GET, "", None).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

async fn start<'a>(app: &'a TestApp, pid: &str, phone: &str, level: i64) -> Phone<'a> {
    let r = app
        .client
        .post(app.url("/api/v1/onboarding/sessions"))
        .json(&json!({"pid": pid, "phone": phone, "level": level}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    let phone_session =
        Phone { app, session: v["session"].as_str().unwrap().into(), token: v["token"].as_str().unwrap().into() };
    let sms = app.outbox(phone).await;
    let code: String = sms[0].chars().filter(char::is_ascii_digit).take(6).collect();
    let r = phone_session.call(reqwest::Method::POST, "/phone", Some(json!({"code": code}))).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    phone_session
}

async fn refused(r: reqwest::Response, code: &str) {
    let p = expect_problem(r, 422).await;
    assert_eq!(p["type"], format!("urn:civitas:problem:{code}"), "{p}");
}

async fn onboarding(app: TestApp) {
    let now = civitas::now();
    let authorities = civitas_onboarding::sim::authorities(SEED);
    trust::add_csca(&app.db, &authorities.csca.cert, &Allow::default(), "test", now).await.unwrap();
    give_card(&app, AN, BA_DINH).await;
    give_card(&app, BINH, BA_DINH).await;
    give_card(&app, DUNG, NGOC_HA).await;

    // ----- level 1 at once (An) -----
    let phone = start(&app, AN, "0912000001", 1).await;
    let genuine = card(&app, AN, "genuine").await;
    // Each attack, on a fresh challenge, refused with its code.
    for (variant, code) in [("tampered-dg13", "dg-hash-mismatch"), ("foreign-csca", "ds-untrusted")] {
        let c = phone.challenge().await;
        let bad = card(&app, AN, variant).await;
        refused(phone.submit(&bad, &civitas_onboarding::sim::answer(SEED, AN, false, &c), Some(PASSWORD)).await, code)
            .await;
    }
    let c = phone.challenge().await;
    let answer = civitas_onboarding::sim::answer(SEED, AN, false, &c);
    let ok = phone.submit(&genuine, &answer, Some(PASSWORD)).await;
    assert_eq!(ok.status(), 200, "{}", ok.text().await.unwrap());
    let v: Value = ok.json().await.unwrap();
    assert_eq!((v["state"].as_str(), v["level"].as_i64()), (Some("active"), Some(1)), "{v}");
    assert!(v["csca"].as_str().unwrap().contains("Test CSCA onboarding"));
    assert_eq!(v["active_authentication"], "ecdsa-p256-sha256");
    let account = app.state.identity.account(AN).await.unwrap().expect("an account");
    assert_eq!((account.level, account.state.as_str()), (1, "active"));
    // The same submission again: the challenge is gone (single use).
    let again = phone.submit(&genuine, &answer, Some(PASSWORD)).await;
    let p = expect_problem(again, 409).await;
    assert!(
        p["detail"].as_str().unwrap().contains("not phone-verified")
            || p["type"] == "urn:civitas:problem:challenge-missing",
        "{p}"
    );
    // The session token is the key: another token finds nothing.
    let stranger = Phone { app: &app, session: phone.session.clone(), token: "guess".into() };
    assert_eq!(stranger.call(reqwest::Method::GET, "", None).await.status(), 404);

    // ----- replay, clone, expired DS, withheld DG15: refused (Bình, level 2) -----
    let phone = start(&app, BINH, "0912000002", 2).await;
    let genuine = card(&app, BINH, "genuine").await;
    let first = phone.challenge().await;
    let old_answer = civitas_onboarding::sim::answer(SEED, BINH, false, &first);
    let _fresh = phone.challenge().await; // replaces the first
    refused(phone.submit(&genuine, &old_answer, Some(PASSWORD)).await, "aa-invalid").await;
    let c = phone.challenge().await;
    refused(
        phone.submit(&genuine, &civitas_onboarding::sim::answer(SEED, BINH, true, &c), Some(PASSWORD)).await,
        "aa-invalid",
    )
    .await;
    assert_eq!(phone.status().await["failure"], "aa_invalid");
    // A challenge that was never asked for.
    let p = expect_problem(phone.submit(&genuine, &old_answer, Some(PASSWORD)).await, 409).await;
    assert_eq!(p["type"], "urn:civitas:problem:challenge-missing");
    // Two refusals so far; a good card still passes.
    let c = phone.challenge().await;
    let ok = phone.submit(&genuine, &civitas_onboarding::sim::answer(SEED, BINH, false, &c), Some(PASSWORD)).await;
    assert_eq!(ok.status(), 200, "{}", ok.text().await.unwrap());
    let v: Value = ok.json().await.unwrap();
    assert_eq!((v["state"].as_str(), v["level"].as_i64()), (Some("review"), Some(2)));
    let account = app.state.identity.account(BINH).await.unwrap().expect("a level-1 account now");
    assert_eq!(account.level, 1);
    assert_eq!(phone.status().await["state"], "review");

    // Three refused cards end a session (Dũng: expired DS, withheld DG15, tampered).
    let dung = start(&app, DUNG, "0912000004", 2).await;
    for (variant, code) in
        [("expired-ds", "ds-expired"), ("no-dg15", "dg-missing"), ("tampered-dg13", "dg-hash-mismatch")]
    {
        let c = dung.challenge().await;
        let bad = card(&app, DUNG, variant).await;
        refused(dung.submit(&bad, &civitas_onboarding::sim::answer(SEED, DUNG, false, &c), Some(PASSWORD)).await, code)
            .await;
    }
    assert_eq!(dung.status().await["state"], "failed");
    expect_problem(dung.call(reqwest::Method::POST, "/challenge", None).await, 409).await;

    // ----- the review queue: only the holder's commune -----
    let officer = app.token(Role::RegistryOfficer, &[BA_DINH]);
    let v: Value = app.get("/api/v1/onboarding/reviews", &officer).await.json().await.unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["pid"], BINH);
    assert!(items[0].get("selfie").is_none(), "the list carries no images");
    let far = app.token(Role::RegistryOfficer, &[NGOC_HA]);
    let v: Value = app.get("/api/v1/onboarding/reviews", &far).await.json().await.unwrap();
    assert!(v["items"].as_array().unwrap().is_empty());
    let path = format!("/api/v1/onboarding/reviews/{}", phone.session);
    assert_eq!(app.get(&path, &far).await.status(), 404);
    let detail: Value = app.get(&path, &officer).await.json().await.unwrap();
    assert!(detail["selfie"].as_str().unwrap().starts_with("data:image/jpeg;base64,"));
    assert!(detail["portrait"].as_str().unwrap().starts_with("data:image/jpeg;base64,"));
    assert_eq!(detail["evidence"]["face"]["matcher"], "none");
    assert!(detail["evidence"]["face"]["score"].is_null(), "no matcher that always says yes");
    assert_eq!(detail["evidence"]["register_match"]["matches"], true);
    // The officer's look at the photos is a logged read.
    let log = civitas_store::access_log::for_subject(&app.db, BINH, 20).await.unwrap();
    assert!(log.iter().any(|r| r.fields.contains("onboarding-photos")), "{log:?}");
    // A refusal needs a reason; a decision outside the commune finds nothing.
    let decision_path = format!("{path}/decision");
    let decide = |token: String, body: Value| {
        let (app, path) = (&app, decision_path.clone());
        async move { app.send_json(reqwest::Method::POST, &path, &token, body).await }
    };
    expect_problem(decide(officer.clone(), json!({"decision": "refuse"})).await, 400).await;
    expect_problem(decide(officer.clone(), json!({"decision": "maybe"})).await, 400).await;
    expect_problem(decide(far.clone(), json!({"decision": "approve"})).await, 404).await;
    let r = decide(officer.clone(), json!({"decision": "approve"})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    expect_problem(decide(officer.clone(), json!({"decision": "refuse", "reason": "late"})).await, 409).await;
    let detail: Value = app.get(&path, &officer).await.json().await.unwrap();
    assert!(
        detail.get("selfie").is_none() && detail.get("portrait").is_none(),
        "images deleted with the decision: {detail}"
    );
    // The phone collects the second factor, once; the account is level 2.
    let s = phone.status().await;
    assert_eq!(s["state"], "delivered", "{s}");
    assert!(s["second_factor"]["totp_secret"].as_str().is_some_and(|t| t.len() >= 16), "{s}");
    assert_eq!(s["second_factor"]["recovery_codes"].as_array().map(Vec::len), Some(8));
    let s = phone.status().await;
    assert!(s.get("second_factor").is_none(), "given once: {s}");
    assert_eq!(app.state.identity.account(BINH).await.unwrap().unwrap().level, 2);
    // The audit trail in the event log: the refusals with their codes, the verified card with
    // its CSCA and AA result, the officer's decision, the level raised.
    let kinds = |pid: &'static str| {
        let db = app.db.clone();
        async move {
            let sql = "SELECT kind, payload FROM events WHERE subject = $1 AND kind LIKE 'eid.%' ORDER BY id";
            civitas_store::dispatch!(&db, pool => sqlx::query_as::<_, (String, String)>(sql).bind(pid).fetch_all(pool).await)
                .unwrap()
        }
    };
    let binh = kinds(BINH).await;
    let names: Vec<&str> = binh.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "eid.onboarding_refused",
            "eid.onboarding_refused",
            "eid.created",
            "eid.onboarding_verified",
            "eid.onboarding_decided",
            "eid.level_raised"
        ],
        "{binh:?}"
    );
    assert!(binh[0].1.contains("aa_invalid"));
    assert!(binh[3].1.contains("Test CSCA onboarding") && binh[3].1.contains("ecdsa-p256-sha256"), "{}", binh[3].1);
    assert!(binh[4].1.contains("\"approved\":true"), "{}", binh[4].1);

    // ----- throttling and bad input -----
    let start_raw = |pid: &str, phone: &str| {
        app.client.post(app.url("/api/v1/onboarding/sessions")).json(&json!({"pid": pid, "phone": phone})).send()
    };
    // An's ID number: one session so far; three are free, the fourth starts a wait that the
    // fifth must serve.
    for phone in ["0912000011", "0912000012", "0912000013"] {
        assert_eq!(start_raw(AN, phone).await.unwrap().status(), 201);
    }
    let r = start_raw(AN, "0912000014").await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    // An unknown ID number is answered like a known one (no enumeration).
    assert_eq!(start_raw("001099999999", "0912000021").await.unwrap().status(), 201);
    expect_problem(start_raw("12", "0912000022").await.unwrap(), 400).await;
    expect_problem(start_raw(CUONG, "12345").await.unwrap(), 400).await;
    // Wrong SMS codes: five tries, then the session fails.
    let r = app
        .client
        .post(app.url("/api/v1/onboarding/sessions"))
        .json(&json!({"pid": CUONG, "phone": "0912000031"}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let cuong =
        Phone { app: &app, session: v["session"].as_str().unwrap().into(), token: v["token"].as_str().unwrap().into() };
    for _ in 0..5 {
        expect_problem(cuong.call(reqwest::Method::POST, "/phone", Some(json!({"code": "000000x"}))).await, 400).await;
    }
    assert_eq!(cuong.status().await["state"], "failed");
}
on_both_databases!(remote_onboarding, onboarding);

/// The officer's review in Chromium: the queue, the request with both images and the register's
/// data (axe-core finds nothing), a refusal without a reason answered on the page, then the
/// approval; the phone collects level 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_reviews_a_remote_request_in_the_browser() {
    use crate::browser::{assert_accessible, click_and_wait, officer_signs_in, setup, text_of};
    use fantoccini::Locator;
    let Some((axe, browser, app)) = setup().await else { return };
    let c = &browser.client;
    let now = civitas::now();
    let authorities = civitas_onboarding::sim::authorities(SEED);
    trust::add_csca(&app.db, &authorities.csca.cert, &Allow::default(), "test", now).await.unwrap();
    give_card(&app, BINH, BA_DINH).await;
    let phone = start(&app, BINH, "0912000002", 2).await;
    let genuine = card(&app, BINH, "genuine").await;
    let ch = phone.challenge().await;
    let r = phone.submit(&genuine, &civitas_onboarding::sim::answer(SEED, BINH, false, &ch), Some(PASSWORD)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    officer_signs_in(c, &app, Role::RegistryOfficer).await;
    c.goto(&app.url("/officer/onboarding")).await.unwrap();
    assert!(text_of(c, "#reviews").await.contains(BINH));
    assert_accessible(c, &axe, "review queue").await;
    click_and_wait(c, "#reviews a").await;
    for img in ["#selfie", "#portrait"] {
        let loaded = c
            .execute(
                &format!("const i = document.querySelector('{img}'); return i.complete && i.naturalWidth > 0;"),
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(loaded, serde_json::json!(true), "{img} shows");
    }
    assert!(text_of(c, "#register").await.contains("Trần Thị Bình"));
    assert_accessible(c, &axe, "review").await;
    // Refusing needs a reason: said on the page, nothing decided.
    click_and_wait(c, "button[value='refuse']").await;
    assert!(text_of(c, ".error-summary").await.contains("lý do"), "{}", text_of(c, "main").await);
    assert_accessible(c, &axe, "review with an error").await;
    click_and_wait(c, "button[value='approve']").await;
    assert!(text_of(c, "#notice").await.contains(&phone.session));
    assert!(c.find(Locator::Id("empty")).await.is_ok(), "the queue is empty");
    let s = phone.status().await;
    assert_eq!(s["state"], "delivered", "{s}");
    assert_eq!(app.state.identity.account(BINH).await.unwrap().unwrap().level, 2);
    let _ = browser.client.clone().close().await;
}

/// The demo's simulated phone in Chromium: a genuine card onboards An at level 1 step by step; a
/// clone is refused at the card step; the page passes axe-core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_phone_walks_through_onboarding_in_the_browser() {
    use crate::browser::{assert_accessible, click_and_wait, fill, setup, text_of};
    let Some((axe, browser, app)) = setup().await else { return };
    let c = &browser.client;
    let demo = civitas_onboarding::sim::authorities("demo");
    trust::add_csca(&app.db, &demo.csca.cert, &Allow::default(), "test", civitas::now()).await.unwrap();
    give_card(&app, AN, BA_DINH).await;
    give_card(&app, BINH, BA_DINH).await;
    c.goto(&app.url("/onboarding/demo")).await.unwrap();
    assert_accessible(c, &axe, "onboarding demo").await;
    let run = |pid: &'static str, phone: &'static str, variant: &'static str| async move {
        fill(c, "pid", pid).await;
        fill(c, "phone", phone).await;
        fill(c, "password", PASSWORD).await;
        c.find(fantoccini::Locator::Css(&format!("#variant option[value='{variant}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        click_and_wait(c, "form[action='/onboarding/demo'] button").await;
        text_of(c, "#steps").await
    };
    let steps = run(AN, "0912000101", "genuine").await;
    assert!(steps.contains("active (level 1)"), "{steps}");
    assert!(!steps.contains("bị từ chối"), "{steps}");
    assert_accessible(c, &axe, "onboarding demo steps").await;
    assert_eq!(app.state.identity.account(AN).await.unwrap().unwrap().level, 1);
    let steps = run(BINH, "0912000102", "clone").await;
    assert!(steps.contains("aa_invalid"), "{steps}");
    click_and_wait(c, "form[action='/onboarding/demo/status'] button").await;
    assert!(text_of(c, "#state").await.contains("phone-verified"));
    let _ = browser.client.clone().close().await;
}
