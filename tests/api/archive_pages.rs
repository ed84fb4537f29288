//! The archive and document-code pages in Chromium (issue #18, part 4): a leader sees the
//! hand-over list, a drifted package and one due for disposal, approves its disposal through
//! the form; an officer looks a document code up (found, unknown, the empty form). axe-core
//! checks every page.

use fantoccini::Locator;
use serde_json::{Value, json};

use civitas_identity::Role;

use crate::browser::{assert_accessible, click_and_wait, setup, text_of};
use crate::helpers::*;
use crate::steering_pages::sign_in;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_and_document_code_pages_in_the_browser() {
    let Some((axe, browser, app)) = setup().await else { return };
    let c = &browser.client;
    crate::reports::drive(&app).await;
    // A document with a code: an online residence dossier with an uploaded lease.
    let citizen = crate::one_stop::citizen_token(&app, AN).await;
    let lease: Value = crate::one_stop::upload(&app, &citizen, "hop-dong.pdf", crate::one_stop::pdf("hợp đồng"))
        .await
        .json()
        .await
        .unwrap();
    let body = json!({ "procedure": "DVC-03", "fields": { "address": "Số 8 phố Kim Mã", "commune": BA_DINH, "basis": "rented" },
                       "components": { "CHO_O": lease["id"] } });
    let r = app.client.post(app.url("/api/v1/dossiers")).bearer_auth(&citizen).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let dossier: Value = r.json().await.unwrap();
    let code = dossier["data"]["codes"]["CHO_O"]["code"].as_str().unwrap().to_owned();

    // Packages prepared; one drifted, one past its retention.
    let keys = app.state.keys.clone();
    let signer = move |typ: &str, claims: &civitas_services::certificate_issue::CertClaims| {
        civitas_identity::tokens::sign_jws(&keys, typ, claims)
    };
    let a = civitas_services::archive::Archivist {
        db: &app.db,
        catalogue: &app.state.catalogue,
        signer: &signer,
        issuer: "http://127.0.0.1",
    };
    assert_eq!(civitas_services::archive::prepare_pending(&a, 100, civitas::now()).await.unwrap(), 5);
    let subjects: Vec<String> = civitas_store::dispatch!(&app.db, pool =>
        sqlx::query_scalar("SELECT subject FROM archive_packages ORDER BY subject").fetch_all(pool).await)
    .unwrap();
    let (drifted, due) = (&subjects[0], &subjects[1]);
    let sql = "UPDATE archive_packages SET fixity = 'drift', fixity_detail = 'data/dossier.json: its SHA-512 changed' WHERE subject = $1";
    civitas_store::dispatch!(&app.db, pool => sqlx::query(sql).bind(drifted).execute(pool).await.map(|_| ())).unwrap();
    let sql = "UPDATE archive_packages SET dispose_after = '2020-01-01' WHERE subject = $1";
    civitas_store::dispatch!(&app.db, pool => sqlx::query(sql).bind(due).execute(pool).await.map(|_| ())).unwrap();

    let leader = app.token(Role::Leader, &["01"]);
    sign_in(c, &app, &leader).await;
    c.goto(&app.url("/officer/archive?lang=en")).await.unwrap();
    assert!(text_of(c, "#archive-drift").await.contains(drifted.as_str()));
    assert!(text_of(c, "#archive-due").await.contains(due.as_str()));
    assert_eq!(c.find_all(Locator::Css("#archive-packages tbody tr")).await.unwrap().len(), 5);
    assert_accessible(c, &axe, "archive").await;
    let form = format!("form[action='/officer/archive/{due}/disposal']");
    c.find(Locator::Css(&format!("{form} input[name=note]")))
        .await
        .unwrap()
        .send_keys("Biên bản Hội đồng số 7")
        .await
        .unwrap();
    click_and_wait(c, &format!("{form} button[value=dispose]")).await;
    assert!(text_of(c, "#notice").await.contains(due.as_str()));
    assert!(text_of(c, "#archive-due-none").await.contains("No package"));
    assert_accessible(c, &axe, "archive after a decision").await;
    let p = civitas_services::archive::get(&app.db, due).await.unwrap().unwrap();
    assert_eq!(p.disposal.as_deref(), Some("dispose"));

    // The document code: found, unknown, the empty form.
    c.goto(&app.url("/officer/document-codes?lang=en")).await.unwrap();
    assert_accessible(c, &axe, "document codes").await;
    c.find(Locator::Id("code")).await.unwrap().send_keys(&code).await.unwrap();
    click_and_wait(c, "form[action='/officer/document-codes'] button").await;
    let found = text_of(c, "#document-code").await;
    assert!(found.contains(&code) && found.contains(dossier["code"].as_str().unwrap()), "{found}");
    assert_accessible(c, &axe, "a document code").await;
    c.goto(&app.url("/officer/document-codes?lang=en&code=no.such.code.01")).await.unwrap();
    assert!(text_of(c, "#not-found").await.contains("No document has this code"));
    assert_accessible(c, &axe, "an unknown document code").await;
}
