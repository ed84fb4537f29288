//! The e-ID provider, continued: online registration, throttling and discovery, prompts and
//! officers' claims, and the citizen's own API (split from `oidc.rs`, behaviour unchanged).

use serde_json::Value;

use crate::helpers::*;
use crate::oidc::{exchange, sign_in_through};
use crate::on_both_databases;

async fn registration(app: TestApp) {
    // Matching details: a code by SMS, activation with a password that passes the policy.
    let mut jar = app.browser();
    jar.get(&app.url("/register")).await;
    let form = [
        ("pid", BINH),
        ("full_name", "tran thi binh"),
        ("birth_date", "2/7/1990"), // day/month/year, as people write it
        ("phone", "0912 345 678"),
        ("email", ""),
    ];
    let r = jar.post(&app.url("/register"), &form).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some(&*format!("/activate?pid={BINH}")));
    let mut messages = vec![];
    for _ in 0..20 {
        messages = app.outbox("0912345678").await;
        if !messages.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let code: String = messages.first().expect("activation SMS").chars().filter(char::is_ascii_digit).take(6).collect();
    // Details that do not match: the same answer, and no message.
    let r = jar
        .post(
            &app.url("/register"),
            &[
                ("pid", DUNG),
                ("full_name", "Someone Else"),
                ("birth_date", "1985"),
                ("phone", "0987654321"),
                ("email", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(app.outbox("0987654321").await.is_empty());
    // Malformed input is explained.
    let r = jar
        .post(
            &app.url("/register"),
            &[("pid", "12"), ("full_name", "x"), ("birth_date", "1990-07-02"), ("phone", "0912345678"), ("email", "")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("12 chữ số"));
    // A weak password, a wrong code, then the right one.
    jar.get(&app.url(&format!("/activate?pid={BINH}"))).await;
    let weak = jar.post(&app.url("/activate"), &[("pid", BINH), ("code", &code), ("password", "matkhau123")]).await;
    assert_eq!(weak.status, 422);
    assert!(weak.body.contains("quá phổ biến"));
    let wrong = jar.post(&app.url("/activate"), &[("pid", BINH), ("code", "000000x"), ("password", PASSWORD)]).await;
    assert_eq!(wrong.status, 422);
    let ok = jar.post(&app.url("/activate"), &[("pid", BINH), ("code", &code), ("password", PASSWORD)]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // Sign in, see the account page.
    jar.get(&app.url("/signin")).await;
    let r = jar.post(&app.url("/signin"), &[("pid", BINH), ("password", PASSWORD)]).await;
    assert_eq!(r.location.as_deref(), Some("/account"));
    let page = jar.get(&app.url("/account")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Trần Thị Bình") && page.body.contains("Mức 1"), "{}", page.body);
    // Forgotten password: a code to the phone on file; the old sessions end.
    let r = jar.post(&app.url("/forgot"), &[("pid", BINH), ("phone", "+84912345678")]).await;
    assert_eq!(r.status, 303);
    let mut reset_code = String::new();
    for _ in 0..20 {
        if let Some(m) = app.outbox("0912345678").await.into_iter().find(|m| m.contains("đặt lại")) {
            reset_code = m.chars().filter(char::is_ascii_digit).take(6).collect();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let r = jar
        .post(&app.url("/reset"), &[("pid", BINH), ("code", &reset_code), ("password", "thu đô ngàn năm văn hiến")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(jar.get(&app.url("/account")).await.location.as_deref(), Some("/signin"));
    // The holder locks the account from the account page; signing in then says it is locked.
    jar.get(&app.url("/signin")).await;
    let r = jar.post(&app.url("/signin"), &[("pid", BINH), ("password", "thu đô ngàn năm văn hiến")]).await;
    assert_eq!(r.location.as_deref(), Some("/account"));
    jar.get(&app.url("/account")).await;
    let r = jar.post(&app.url("/account/lock"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(jar.get(&app.url("/account")).await.location.as_deref(), Some("/signin"));
    jar.get(&app.url("/signin")).await;
    let r = jar.post(&app.url("/signin"), &[("pid", BINH), ("password", "thu đô ngàn năm văn hiến")]).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Tài khoản đang bị khóa"), "{}", r.body);
    // Children under 14 cannot register themselves (Cường is 11): same answer, no message.
    jar.post(
        &app.url("/register"),
        &[
            ("pid", CUONG),
            ("full_name", "Nguyễn Văn Cường"),
            ("birth_date", "2015-01-20"),
            ("phone", "0900000003"),
            ("email", ""),
        ],
    )
    .await;
    assert!(app.outbox("0900000003").await.is_empty());
}
on_both_databases!(online_registration, registration);

#[tokio::test]
async fn throttling_backs_off_and_discovery_is_complete() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.account(AN, 1).await;
    let mut jar = app.browser();
    jar.get(&app.url("/signin")).await;
    let mut statuses = vec![];
    for _ in 0..5 {
        statuses.push(jar.post(&app.url("/signin"), &[("pid", AN), ("password", "not my password")]).await.status);
    }
    assert_eq!(&statuses[..3], &[422, 422, 422]);
    assert_eq!(statuses[4], 429, "{statuses:?}");
    // While blocked, even the right password waits.
    assert_eq!(jar.post(&app.url("/signin"), &[("pid", AN), ("password", PASSWORD)]).await.status, 429);
    let v: Value =
        app.client.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["issuer"], app.base);
    assert_eq!(v["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert!(v["acr_values_supported"].as_array().unwrap().iter().any(|a| a == "urn:vn:eid:loa:2"));
    let jwks: Value = app.client.get(v["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
}

async fn prompts_and_officer_claims(app: TestApp) {
    app.clients().await;
    // The relying party `rp` is also registered for `roles` here (an officers' application).
    app.state
        .identity
        .create_client(
            civitas_identity::NewClient {
                id: "console".into(),
                secret: Some(RP_SECRET.into()),
                redirect_uris: vec!["http://127.0.0.1/cb".into()],
                scopes: vec!["openid".into(), "roles".into()],
                grant_types: vec!["authorization_code".into()],
                subject_type: Some("public".into()),
                ..Default::default()
            },
            civitas::now(),
        )
        .await
        .unwrap();
    let second = app.account(BINH, 2).await.unwrap();
    app.state
        .identity
        .set_officer_role(BINH, civitas_identity::Role::RegistryOfficer, &[BA_DINH.to_owned()], "test", civitas::now())
        .await
        .unwrap();
    let verifier = "c".repeat(60);
    let challenge = civitas_identity::secret::s256(&verifier);
    let authorize = |client: &str, extra: &str| {
        app.url(&format!(
            "/oauth2/authorize?client_id={client}&response_type=code&scope=openid%20roles&redirect_uri=http%3A%2F%2F127.0.0.1%3A4000%2Fcb&code_challenge={challenge}&code_challenge_method=S256{extra}"
        ))
    };
    let code = civitas_identity::totp::code(
        &civitas_identity::totp::decode_secret(&second.totp_secret).unwrap(),
        civitas::now().unix_timestamp(),
    );
    let mut jar = app.browser();
    let (redirect, visited) =
        sign_in_through(&app, &mut jar, &authorize("console", "&acr_values=urn%3Avn%3Aeid%3Aloa%3A2"), BINH, &code)
            .await;
    assert!(visited.contains(&"/signin/otp".to_owned()), "{visited:?}");
    let v = exchange(&app, "console", &redirect, "http://127.0.0.1:4000/cb", &verifier).await;
    let access = v["access_token"].as_str().expect("access token").to_owned();
    // A level-2 officer's token carries the role and units under the officer's own PID, and the
    // register API accepts it within those units only.
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!((payload["sub"].as_str(), payload["role"].as_str()), (Some(BINH), Some("registry-officer")));
    assert_eq!(app.get(&format!("/api/v1/people/{AN}"), &access).await.status(), 200);
    assert_eq!(app.get(&format!("/api/v1/people/{DUNG}"), &access).await.status(), 403);

    // Introspection describes only the caller's own tokens.
    let introspect = |client: &'static str| {
        app.client.post(app.url("/oauth2/introspect")).basic_auth(client, Some(RP_SECRET)).form(&[("token", &access)])
    };
    let own: Value = introspect("console").send().await.unwrap().json().await.unwrap();
    assert_eq!(own["active"], true);
    let other: Value = introspect("rp").send().await.unwrap().json().await.unwrap();
    assert_eq!(other["active"], false, "another client learns nothing of this token");

    // prompt=login and max_age=0 force a fresh sign-in although a session exists; without them
    // the session is reused.
    let (_, visited) = sign_in_through(&app, &mut jar, &authorize("console", ""), BINH, "").await;
    assert!(!visited.contains(&"/signin".to_owned()), "{visited:?}");
    let (to, visited) = sign_in_through(&app, &mut jar, &authorize("console", "&prompt=login"), BINH, "").await;
    assert!(visited.contains(&"/signin".to_owned()), "{visited:?} {to}");
    let (to, visited) = sign_in_through(&app, &mut jar, &authorize("console", "&max_age=0"), BINH, "").await;
    assert!(visited.contains(&"/signin".to_owned()), "{visited:?} {to}");
    // Signing in again ended the first session, and with it the grant of its token.
    let old: Value = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth("console", Some(RP_SECRET))
        .form(&[("token", &access)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(old["active"], false);

    // An expired access token (validly signed) is refused at userinfo.
    let now = civitas::now().unix_timestamp();
    let expired = civitas_identity::oidc::AccessClaims {
        iss: app.base.clone(),
        sub: "x".into(),
        aud: "rp".into(),
        client_id: "rp".into(),
        scope: "openid profile".into(),
        iat: now - 600,
        exp: now - 300,
        jti: "expired-1".into(),
        role: None,
        units: vec![],
        fam: None,
        acr: None,
    };
    let token = civitas_identity::tokens::sign_jws(&app.state.keys, "at+jwt", &expired);
    let r = app.client.get(app.url("/oauth2/userinfo")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // ... and an unknown code is refused at the token endpoint (an expired one gets the same
    // invalid_grant; codes live 60 s).
    let r = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth("console", Some(RP_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("redirect_uri", "http://127.0.0.1:4000/cb"),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
on_both_databases!(prompts_max_age_and_officer_claims, prompts_and_officer_claims);

/// A relying party reads the citizen's own dossiers with the access token it obtained for them;
/// tokens of agency systems are not citizens.
async fn citizen_api(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    let new = civitas_services::dossiers::NewDossier {
        procedure_code: "DVC-03".into(),
        body_code: "H15.50.05.13".into(),
        unit_code: BA_DINH.into(),
        applicant_pid: AN.into(),
        applicant_name: "Nguyễn Văn An".into(),
        channel: "online".into(),
        data: serde_json::json!({}),
        statutory_days: 7,
        catalogue_version: "test".into(),
        national_code: String::new(),
    };
    let d = app.state.intake.submit(new, None, AN, civitas::now()).await.unwrap();
    let verifier = "d".repeat(60);
    let challenge = civitas_identity::secret::s256(&verifier);
    let url = app.url(&format!(
        "/oauth2/authorize?client_id=rp&response_type=code&scope=openid%20dossiers&redirect_uri=http%3A%2F%2F127.0.0.1%3A4100%2Fcallback&code_challenge={challenge}&code_challenge_method=S256"
    ));
    let mut jar = app.browser();
    let (redirect, _) = sign_in_through(&app, &mut jar, &url, AN, "").await;
    let v = exchange(&app, "rp", &redirect, "http://127.0.0.1:4100/callback", &verifier).await;
    let token = v["access_token"].as_str().unwrap();
    let mine: Value =
        app.client.get(app.url("/api/v1/me/dossiers")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(mine["items"][0]["code"], d.code.as_str());
    // The citizen's token is not an officer's: the register API refuses it.
    assert_eq!(app.get(&format!("/api/v1/people/{BINH}"), token).await.status(), 403);
    // An agency token is not a citizen; no token at all is 401.
    let agency: Value = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth("agency", Some(AGENCY_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    expect_problem(
        app.client
            .get(app.url("/api/v1/me/dossiers"))
            .bearer_auth(agency["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    expect_problem(app.client.get(app.url("/api/v1/me/dossiers")).send().await.unwrap(), 401).await;
}
on_both_databases!(citizen_reads_own_dossiers, citizen_api);
