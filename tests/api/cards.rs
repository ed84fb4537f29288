//! Chip cards in the register (issue #16, part 1): a DVC-02 approval creates the card's record,
//! officers move it through its lifecycle (issue and expiry dates set when produced), the next
//! card replaces it, a loss and a death revoke it, the Project 06 counters count the stages.

use serde_json::{Value, json};

use civitas_identity::Role;

use crate::civil::{Desk, act, to_decision, upload};
use crate::helpers::*;
use crate::on_both_databases;
use crate::one_stop::citizen_token;

async fn approve_renewal(app: &TestApp, citizen: &str, desk: &Desk) -> String {
    let body = json!({ "procedure": "DVC-02", "fields": { "reason": "expired" } });
    let code = to_decision(app, citizen, desk, body).await;
    let r = act(app, &desk.chief, &code, json!({ "action": "approve" })).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    code
}

async fn cards_of(app: &TestApp, token: &str, pid: &str) -> Vec<Value> {
    let v: Value = app.get(&format!("/api/v1/people/{pid}/cards"), token).await.json().await.unwrap();
    v["items"].as_array().unwrap_or_else(|| panic!("{v}")).clone()
}

async fn set_state(app: &TestApp, token: &str, pid: &str, id: &str, state: &str) -> reqwest::Response {
    app.send_json(
        reqwest::Method::POST,
        &format!("/api/v1/people/{pid}/cards/{id}/state"),
        token,
        json!({ "state": state }),
    )
    .await
}

async fn counters(app: &TestApp, token: &str, unit: &str) -> Value {
    app.get(&format!("/api/v1/cards/counters?unit={unit}"), token).await.json::<Value>().await.unwrap()["counters"]
        .clone()
}

async fn cards(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    let citizen = citizen_token(&app, AN).await;
    let province_desk = Desk::of(&app, "01");
    let registrar = app.token(Role::RegistryOfficer, &[BA_DINH]);

    // The renewal's approval creates the card's record: its data collected.
    let code = approve_renewal(&app, &citizen, &province_desk).await;
    let cards = cards_of(&app, &registrar, AN).await;
    assert_eq!(cards.len(), 1, "{cards:?}");
    let first = cards[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(cards[0]["state"], "collected");
    assert_eq!(cards[0]["commune"], BA_DINH);
    assert_eq!(cards[0]["dossier_code"], code.as_str());
    // The read is an access record like any other.
    let log = civitas_store::access_log::for_subject(&app.db, AN, 1).await.unwrap();
    assert_eq!(log[0].fields, "cards");

    // Forward only, one stage at a time; produced sets the dates (An, born 15/03/1990, renews at 40).
    let r = set_state(&app, &registrar, AN, &first, "returned").await;
    let problem = expect_problem(r, 409).await;
    assert!(problem["detail"].as_str().unwrap().contains("produced"), "{problem}");
    expect_problem(set_state(&app, &registrar, AN, &first, "shredded").await, 400).await;
    let produced: Value = set_state(&app, &registrar, AN, &first, "produced").await.json().await.unwrap();
    let today = civitas_services::dossiers::local_today(civitas::now());
    assert_eq!(produced["issued_on"], today.to_string());
    assert_eq!(produced["expires_on"], "2030-03-15");
    assert_eq!(produced["generation"], "can-cuoc-2024");
    assert_eq!(set_state(&app, &registrar, AN, &first, "at-commune").await.status(), 200);
    assert_eq!(set_state(&app, &registrar, AN, &first, "returned").await.status(), 200);
    // Only officers of the person's units; only registry officers change cards.
    let elsewhere = app.token(Role::RegistryOfficer, &["79"]);
    expect_problem(set_state(&app, &elsewhere, AN, &first, "revoked").await, 403).await;
    assert_eq!(app.get(&format!("/api/v1/people/{AN}/cards"), &elsewhere).await.status(), 403);
    expect_problem(set_state(&app, &province_desk.chief, AN, &first, "revoked").await, 403).await;
    // Another person's card is not found through this person.
    expect_problem(set_state(&app, &registrar, BINH, &first, "revoked").await, 404).await;

    // The next card replaces the returned one when it is handed over.
    approve_renewal(&app, &citizen, &province_desk).await;
    let second = cards_of(&app, &registrar, AN).await.iter().find(|c| c["state"] == "collected").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for state in ["produced", "at-commune", "returned"] {
        assert_eq!(set_state(&app, &registrar, AN, &second, state).await.status(), 200);
    }
    let states: Vec<(String, String)> = cards_of(&app, &registrar, AN)
        .await
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c["state"].as_str().unwrap().to_owned()))
        .collect();
    assert!(
        states.contains(&(first.clone(), "replaced".into())) && states.contains(&(second.clone(), "returned".into()))
    );

    // A loss reported revokes the valid card at once; with none valid, it is refused.
    let lost =
        app.send_json(reqwest::Method::POST, &format!("/api/v1/people/{AN}/cards/lost"), &registrar, json!({})).await;
    assert_eq!(lost.json::<Value>().await.unwrap()["state"], "lost");
    let again =
        app.send_json(reqwest::Method::POST, &format!("/api/v1/people/{AN}/cards/lost"), &registrar, json!({})).await;
    assert_eq!(expect_problem(again, 409).await["type"], "urn:civitas:problem:no-valid-card");

    // The counters of the commune (and of its province) count each stage once per card.
    let ba_dinh = counters(&app, &registrar, BA_DINH).await;
    assert_eq!(ba_dinh, json!({ "data_collected": 2, "produced": 2, "returned": 2 }));
    let leader = app.token(Role::Leader, &["01"]);
    assert_eq!(counters(&app, &leader, "01").await, ba_dinh);
    let problem = expect_problem(app.get("/api/v1/cards/counters?unit=79", &leader).await, 403).await;
    assert!(problem["detail"].as_str().unwrap().contains("79"));
    expect_problem(app.get("/api/v1/cards/counters?unit=xyz", &leader).await, 400).await;

    // A death revokes the card on its way (registered with the death, in its transaction).
    approve_renewal(&app, &citizen, &province_desk).await;
    app.account(BINH, 1).await;
    let widow = citizen_token(&app, BINH).await;
    let notice = upload(&app, &widow, "giấy báo tử").await;
    let died = (today - time::Duration::days(1)).to_string();
    let body = json!({ "procedure": "DVC-16", "fields": { "deceased_pid": AN, "death_date": died, "commune": BA_DINH, "funeral_allowance": "no" }, "components": { "BT": notice } });
    let commune_desk = Desk::of(&app, BA_DINH);
    let death = to_decision(&app, &widow, &commune_desk, body).await;
    let r = act(&app, &commune_desk.chief, &death, json!({ "action": "approve" })).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // (The deceased has no residence now: the province of registration reads them.)
    let province_registrar = app.token(Role::RegistryOfficer, &["01"]);
    let after = cards_of(&app, &province_registrar, AN).await;
    assert!(after.iter().all(|c| c["state"] != "collected"), "{after:?}");
    assert_eq!(after.iter().filter(|c| c["state"] == "revoked").count(), 1, "{after:?}");
    let events: Vec<(String, Option<String>)> = civitas_store::dispatch!(&app.db, pool =>
        sqlx::query_as("SELECT state, reason FROM card_events WHERE pid = $1 ORDER BY id").bind(AN).fetch_all(pool).await)
    .unwrap();
    let (state, reason) = events.last().unwrap();
    assert_eq!(state, "revoked");
    assert!(reason.as_deref().unwrap_or_default().contains(&death), "{reason:?}");
}
on_both_databases!(cards_live_through_their_lifecycle, cards);

/// The card pages in Chromium: the counters of the officer's units, the card desk moving a card
/// on and handing it over against the citizen's signature of receipt (a wrong name is answered on
/// the page), the counters on the page equal to the records, and the citizen's card on
/// `/account`. axe-core checks every page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_desk_and_the_citizens_card_in_the_browser() {
    use crate::browser::{assert_accessible, citizen_signs_in, click_and_wait, officer_signs_in, setup, text_of};
    use fantoccini::Locator;
    let Some((axe, browser, app)) = setup().await else { return };
    let c = &browser.client;
    let at = civitas_store::timestamp(civitas::now());
    let writes = civitas_services::cards::collected(AN, BA_DINH, "cccd-2021", None, None, "test", &at);
    civitas_store::unit::commit(&app.db, &writes).await.unwrap().unwrap();
    officer_signs_in(c, &app, Role::RegistryOfficer).await;
    c.goto(&app.url("/officer/cards")).await.unwrap();
    assert_eq!(text_of(c, "#count-collected").await, "1");
    assert_eq!(text_of(c, "#count-returned").await, "0");
    assert!(text_of(c, "#desk").await.contains(AN));
    assert_accessible(c, &axe, "card desk").await;
    // Produced, then at the commune.
    click_and_wait(c, "#desk form[action$='/advance'] button").await;
    assert!(c.find(Locator::Id("notice")).await.is_ok());
    click_and_wait(c, "#desk form[action$='/advance'] button").await;
    // Handed over: a wrong name is refused on the page, the right one signs for it.
    c.find(Locator::Css("input[name='signature']")).await.unwrap().send_keys("Nguyễn Văn Ba").await.unwrap();
    click_and_wait(c, "#desk form[action$='/handover'] button").await;
    assert!(text_of(c, ".error-summary").await.contains("họ và tên"));
    assert_accessible(c, &axe, "card desk with an error").await;
    c.find(Locator::Css("input[name='signature']")).await.unwrap().send_keys("nguyen van an").await.unwrap();
    click_and_wait(c, "#desk form[action$='/handover'] button").await;
    assert!(c.find(Locator::Id("no-cards")).await.is_ok(), "{}", text_of(c, "main").await);
    let counted = civitas_services::cards::counters(&app.db, &[BA_DINH.to_owned()]).await.unwrap();
    assert_eq!((counted.data_collected, counted.produced, counted.returned), (1, 1, 1));
    for (id, n) in [("#count-collected", 1), ("#count-produced", 1), ("#count-returned", 1)] {
        assert_eq!(text_of(c, id).await, n.to_string(), "{id} on the page equals the records");
    }
    let card = &civitas_services::cards::of_person(&app.db, AN).await.unwrap()[0];
    assert_eq!(card.state, "returned");
    // Bad input posted by hand from the page: a step the desk does not make (422), an unknown
    // card (404), no CSRF token (403); nothing changes.
    let post = |path: String, to: &'static str, with_csrf: bool| async move {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             const csrf = {};
             fetch('{path}', {{method: 'POST', body: new URLSearchParams({{csrf, to, signature: 'x'}})}})
               .then(r => done(r.status));",
            if with_csrf { "document.querySelector('input[name=csrf]').value" } else { "''" },
        )
        .replace("to, signature", &format!("to: '{to}', signature"));
        c.execute_async(&script, vec![]).await.unwrap()
    };
    c.goto(&app.url("/officer/cards")).await.unwrap();
    assert_eq!(post(format!("/officer/cards/{}/advance", card.id), "returned", true).await, serde_json::json!(422));
    assert_eq!(post("/officer/cards/C-nope/advance".into(), "produced", true).await, serde_json::json!(404));
    assert_eq!(post(format!("/officer/cards/{}/advance", card.id), "produced", false).await, serde_json::json!(403));
    assert_eq!(civitas_services::cards::of_person(&app.db, AN).await.unwrap()[0].state, "returned");
    assert!(card.issued_on.is_some() && card.expires_on.is_some());
    // The citizen sees it on their account page.
    app.account(AN, 1).await;
    citizen_signs_in(c, &app).await;
    assert!(text_of(c, "#my-cards").await.contains("Đã trả cho công dân"));
    assert_accessible(c, &axe, "account with a card").await;
    let _ = browser.client.clone().close().await;
}
