//! The officers' account desk and the guardian's registration of a child, over HTTP as a
//! browser drives them.

use crate::helpers::*;
use crate::on_both_databases;

async fn officer_signed_in(app: &TestApp) -> Jar {
    let second = app.account(BINH, 2).await.unwrap();
    app.state
        .identity
        .set_officer_role(BINH, civitas_identity::Role::RegistryOfficer, &[BA_DINH.to_owned()], "test", civitas::now())
        .await
        .unwrap();
    let mut jar = app.browser();
    jar.get(&app.url("/signin")).await;
    let r = jar.post(&app.url("/signin"), &[("pid", BINH), ("password", PASSWORD)]).await;
    assert_eq!(r.location.as_deref(), Some("/signin/otp"));
    // Before the second factor the console is closed.
    assert_eq!(jar.get(&app.url("/officer/search")).await.location.as_deref(), Some("/signin/otp"));
    let code = civitas_identity::totp::code(
        &civitas_identity::totp::decode_secret(&second.totp_secret).unwrap(),
        civitas::now().unix_timestamp(),
    );
    jar.get(&app.url("/signin/otp")).await;
    let r = jar.post(&app.url("/signin/otp"), &[("code", &code)]).await;
    assert_eq!(r.location.as_deref(), Some("/officer/search"));
    jar
}

async fn desk(app: TestApp) {
    app.account(AN, 1).await;
    app.account(DUNG, 1).await;
    let mut jar = officer_signed_in(&app).await;
    let page = jar.get(&app.url(&format!("/officer/accounts?pid={AN}"))).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Mức 1"));
    // Outside the officer's commune: refused (and not logged as read).
    let page = jar.get(&app.url(&format!("/officer/accounts?pid={DUNG}"))).await;
    assert_eq!(page.status, 422);
    assert!(civitas_store::access_log::for_subject(&app.db, DUNG, 5).await.unwrap().is_empty());
    let action = app.url("/officer/accounts/action");
    let r = jar.post(&action, &[("pid", DUNG), ("action", "lock"), ("reason", "x")]).await;
    assert_eq!(r.status, 403);
    // Raising needs the place; then the key and codes are shown once.
    let r = jar.post(&action, &[("pid", AN), ("action", "level2"), ("place", " ")]).await;
    assert_eq!(r.status, 422);
    let r = jar.post(&action, &[("pid", AN), ("action", "level2"), ("place", "Công an phường Ba Đình")]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("otpauth://totp/civitas:"), "{}", r.body);
    let a = app.state.identity.account(AN).await.unwrap().unwrap();
    assert_eq!((a.level, a.level2_place.as_deref()), (2, Some("Công an phường Ba Đình")));
    assert_eq!(a.level2_by.as_deref(), Some(&*format!("officer:{BINH}")));
    // Lock with a reason; unlock; revoke; a revoked account cannot be unlocked.
    assert_eq!(jar.post(&action, &[("pid", AN), ("action", "lock"), ("reason", "")]).await.status, 422);
    assert_eq!(
        jar.post(&action, &[("pid", AN), ("action", "lock"), ("reason", "Yêu cầu của cơ quan điều tra")]).await.status,
        200
    );
    assert_eq!(app.state.identity.account(AN).await.unwrap().unwrap().state, civitas_identity::AccountState::Locked);
    assert_eq!(jar.post(&action, &[("pid", AN), ("action", "lock"), ("reason", "again")]).await.status, 409);
    assert_eq!(jar.post(&action, &[("pid", AN), ("action", "unlock"), ("reason", "hết căn cứ")]).await.status, 200);
    let missing = jar.post(&action, &[("pid", AN), ("action", "revoke"), ("revoke_reason", " ")]).await;
    assert_eq!(missing.status, 422);
    assert!(missing.body.contains("id=\"revoke_reason-error\""), "the error sits at the revoke form's field");
    assert_eq!(jar.post(&action, &[("pid", AN), ("action", "revoke"), ("revoke_reason", "cấp sai")]).await.status, 200);
    assert_eq!(jar.post(&action, &[("pid", AN), ("action", "unlock"), ("reason", "x")]).await.status, 409);
    // Every change is an event with the officer as actor.
    let events = civitas_store::events::read_after(&app.db, 0, 1000).await.unwrap();
    let kinds: Vec<&str> =
        events.iter().filter(|e| e.subject == AN && e.kind.starts_with("eid.")).map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["eid.created", "eid.level_raised", "eid.locked", "eid.unlocked", "eid.revoked"]);
    // The reads are in the access log.
    let log = civitas_store::access_log::for_subject(&app.db, AN, 20).await.unwrap();
    assert!(log.iter().any(|e| e.actor == BINH && e.fields == "eid-account"), "{log:?}");
    // CSRF is checked on every action (signed in, but without the form's token).
    let cookies: String = jar.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let r = app
        .client
        .post(&action)
        .header("cookie", cookies)
        .form(&[("pid", AN), ("action", "lock"), ("reason", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Signed out: to the sign-in page, nothing done.
    let r = app.client.post(&action).form(&[("pid", AN), ("action", "lock"), ("reason", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 303);
}
on_both_databases!(officer_account_desk, desk);

async fn guardian(app: TestApp) {
    // Bình (level 2, mother of Cường, 11) registers her son; An (level 1) could not.
    let mut jar = officer_signed_in(&app).await;
    let child = app.url("/account/child");
    let r = jar.post(&child, &[("child_pid", DUNG), ("child_password", "con mèo đen 2026")]).await;
    assert_eq!(r.status, 422, "not her child");
    assert!(r.body.contains("không ghi nhận bạn là cha hoặc mẹ"));
    let r = jar.post(&child, &[("child_pid", CUONG), ("child_password", "password")]).await;
    assert_eq!(r.status, 422);
    let r = jar.post(&child, &[("child_pid", CUONG), ("child_password", "con mèo đen 2026")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = app.state.identity.account(CUONG).await.unwrap().unwrap();
    assert_eq!(a.level, 1);
    // The child signs in with the password the parent set.
    let mut child_jar = app.browser();
    child_jar.get(&app.url("/signin")).await;
    let r = child_jar.post(&app.url("/signin"), &[("pid", CUONG), ("password", "con mèo đen 2026")]).await;
    assert_eq!(r.location.as_deref(), Some("/account"));
    // A level-1 parent cannot.
    app.account(AN, 1).await;
    assert!(app.state.identity.register_child(AN, CUONG, "con mèo đen 2026", civitas::now()).await.is_err());
}
on_both_databases!(guardian_registers_a_child, guardian);

/// The account page lists the SMS and e-mails sent to its holder's phone — and nobody else's.
async fn my_messages(app: TestApp) {
    app.account(AN, 1).await;
    let set_phone = "UPDATE accounts SET phone = '0912345678' WHERE pid = $1";
    civitas_store::dispatch!(&app.db, pool => sqlx::query(set_phone).bind(AN).execute(pool).await.map(|_| ())).unwrap();
    let at = "2026-11-30T10:45:30.000000Z";
    for (to, body) in
        [("0912345678", "Hồ sơ H01.1-261130-0001 đã được tiếp nhận"), ("0987654321", "Tin của người khác")]
    {
        let sql = "INSERT INTO outbox_messages (channel, recipient, subject, body, created_at) VALUES ('sms', $1, 's', $2, $3)";
        civitas_store::dispatch!(&app.db, pool => sqlx::query(sql).bind(to).bind(body).bind(at).execute(pool).await.map(|_| ()))
            .unwrap();
    }
    let mut jar = app.browser();
    jar.get(&app.url("/signin")).await;
    let r = jar.post(&app.url("/signin"), &[("pid", AN), ("password", PASSWORD)]).await;
    assert_eq!(r.status, 303);
    let page = jar.get(&app.url("/account")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Hồ sơ H01.1-261130-0001 đã được tiếp nhận"), "{}", page.body);
    assert!(page.body.contains("30/11/2026 17:45"), "the time in Vietnam's time");
    assert!(!page.body.contains("Tin của người khác"), "another person's message");
}
on_both_databases!(the_account_page_lists_my_messages, my_messages);
