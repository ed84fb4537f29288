//! Regression tests of the outside review (issue #12), through the real interfaces: each test
//! replays what an attacker or a careless user did, and asserts the refusal.

use civitas_identity::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_databases;
use crate::one_stop::{citizen_token, citizen_token_with};

/// C1: only the police who keep the register administer e-ID accounts; other roles (and
/// agency tokens pasted into the console) are refused before anything happens.
async fn account_desk_roles(app: TestApp) {
    app.account(AN, 1).await;
    for role in [Role::Auditor, Role::OnestopOfficer, Role::Specialist, Role::Leader, Role::Operator] {
        let token = app.token(role, &[BA_DINH]);
        let cookie = format!("civitas_session={token}; civitas_csrf=0123456789abcdef0123");
        let page = app
            .client
            .get(app.url(&format!("/officer/accounts?pid={AN}")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 403, "{role:?}");
        let r = app
            .client
            .post(app.url("/officer/accounts/action"))
            .header("cookie", &cookie)
            .form(&[("pid", AN), ("action", "level2"), ("place", "x"), ("csrf", "0123456789abcdef0123")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{role:?}");
    }
    assert_eq!(app.state.identity.account(AN).await.unwrap().unwrap().level, 1, "nothing was raised");
    // An agency's token is not a console sign-in.
    let agency = app.token(Role::AgencySystem, &[BA_DINH]);
    let mut jar = app.browser();
    jar.get(&app.url("/signin/token")).await;
    let r = jar.post(&app.url("/signin/token"), &[("token", &agency)]).await;
    assert_eq!(r.status, 422);
    assert!(!jar.cookies.contains_key("civitas_session"));
}
on_both_databases!(account_desk_is_for_registry_officers, account_desk_roles);

/// C2: redirect URIs are parsed: userinfo and look-alike hosts are refused, not redirected to,
/// and nothing of them reaches a header.
async fn redirect_uris(app: TestApp) {
    app.clients().await;
    let challenge = civitas_identity::secret::s256(&"v".repeat(60));
    for evil in [
        "http://127.0.0.1:80@evil.example/callback",
        "http://127.0.0.1:@evil.example/callback",
        "http://127.0.0.1:x@evil.example/callback",
        "http://[::1]@evil.example/callback",
        "http://127.0.0.1.evil.example/callback",
    ] {
        let url = app.url(&format!(
            "/oauth2/authorize?client_id=rp&response_type=code&scope=openid&prompt=none&code_challenge={challenge}&code_challenge_method=S256&redirect_uri={}",
            urlencode(evil)
        ));
        let r = app.client.get(url).send().await.unwrap();
        assert_eq!(r.status(), 400, "{evil}");
        assert!(r.headers().get("location").is_none(), "{evil}");
        let csp = r.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(!csp.contains("evil"), "{csp}");
        // PAR refuses it too.
        let r = app
            .client
            .post(app.url("/oauth2/par"))
            .basic_auth("rp", Some(RP_SECRET))
            .form(&[
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", evil),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "PAR {evil}");
    }
    // Registration parses too.
    for bad in ["http://127.0.0.1.evil.example/cb", "http://localhost.evil.example/cb", "https://a@evil.example/cb"] {
        let client = civitas_identity::NewClient {
            id: format!("c{}", bad.len()),
            name: "x".into(),
            secret: Some(RP_SECRET.into()),
            redirect_uris: vec![bad.into()],
            scopes: vec!["openid".into()],
            grant_types: vec!["authorization_code".into()],
            ..Default::default()
        };
        assert!(app.state.identity.create_client(client, civitas::now()).await.is_err(), "{bad}");
    }
    // A request_uri pushed by one client is neither usable nor used up by another.
    let pushed: Value = app
        .client
        .post(app.url("/oauth2/par"))
        .basic_auth("rp", Some(RP_SECRET))
        .form(&[
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", "http://127.0.0.1:4100/callback"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap();
    let with =
        |client: &str| app.url(&format!("/oauth2/authorize?client_id={client}&request_uri={}", urlencode(request_uri)));
    assert_eq!(app.client.get(with("agency")).send().await.unwrap().status(), 400);
    assert_ne!(app.client.get(with("rp")).send().await.unwrap().status(), 400, "still usable by its client");
}
on_both_databases!(redirect_uris_are_parsed, redirect_uris);

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// H1: a token granted only `openid` reads and writes nothing of the citizen's; without `pid`
/// the ID number is left out; applicants never see officers' ID numbers.
async fn scopes_enforced(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    let bare = citizen_token_with(&app, AN, "openid").await;
    for (method, path) in [
        (Method::GET, "/api/v1/me/documents"),
        (Method::POST, "/api/v1/me/documents?name=a.pdf"),
        (Method::GET, "/api/v1/me/dossiers"),
        (Method::POST, "/api/v1/dossiers"),
        (Method::GET, "/api/v1/certificates"),
    ] {
        let r = app.client.request(method.clone(), app.url(path)).bearer_auth(&bare).body("{}").send().await.unwrap();
        let www = r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let body = expect_problem(r, 403).await;
        assert_eq!(body["type"], "urn:civitas:problem:insufficient-scope", "{method} {path}");
        assert!(www.contains("insufficient_scope"), "{www}");
    }
    let docs = citizen_token_with(&app, AN, "openid documents").await;
    let r = app
        .client
        .post(app.url("/api/v1/me/documents?name=a.pdf"))
        .bearer_auth(&docs)
        .body(b"%PDF-1.4\n%%EOF\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["owner_pid"], "", "no pid scope, no ID number");
    let r =
        app.client.get(app.url(&format!("/api/v1/me/documents/{}", doc["id"].as_str().unwrap()))).bearer_auth(&docs);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(csp.contains("sandbox"), "documents are served sandboxed: {csp}");

    // The applicant sees "officer", not the officer's ID number.
    let citizen = citizen_token(&app, AN).await;
    let body = json!({ "procedure": "DVC-05", "fields": { "destination": "Huế", "from": "2027-01-05", "until": "2027-01-10" } });
    let d: Value = app.send_json(Method::POST, "/api/v1/dossiers", &citizen, body).await.json().await.unwrap();
    let code = d["code"].as_str().unwrap().to_owned();
    let desk = civitas_identity::tokens::issue(
        &app.state.keys,
        "079185000004",
        Role::OnestopOfficer,
        &[civitas_core::UnitCode::parse(BA_DINH).unwrap()],
        civitas::now().unix_timestamp(),
        600,
    );
    // A province-level officer's lists cover the province's communes, as single reads do.
    let province = app.token(Role::OnestopOfficer, &["01"]);
    let queue: Value = app.get("/api/v1/work-queue", &province).await.json().await.unwrap();
    assert!(queue["items"].to_string().contains(&code), "{queue}");
    assert_eq!(app.get(&format!("/api/v1/dossiers/{code}"), &province).await.status(), 200);
    let elsewhere = app.token(Role::OnestopOfficer, &["79"]);
    let queue: Value = app.get("/api/v1/work-queue", &elsewhere).await.json().await.unwrap();
    assert!(!queue["items"].to_string().contains(&code), "{queue}");
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/dossiers/{code}/actions"),
            &desk,
            json!({ "action": "start_processing" }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let seen: Value = app.get(&format!("/api/v1/dossiers/{code}"), &citizen).await.json().await.unwrap();
    let text = seen["steps"].to_string();
    assert!(!text.contains("079185000004"), "{text}");
    assert!(text.contains("\"officer\""), "{text}");
    assert_eq!(seen["applicant_pid"], "", "the token has no pid scope");
}
on_both_databases!(api_scopes_are_enforced, scopes_enforced);

/// H2: the counter card check is not a nationwide lookup.
async fn card_check_units(app: TestApp) {
    let hcmc = app.token(Role::OnestopOfficer, &["79"]);
    // A made-up card for someone of Hà Nội: refused naming the fields, no register values.
    let made_up = format!("{AN}||Tran Van X|01011980|Nam|somewhere|01012020");
    let r = app.send_json(Method::POST, "/api/v1/counter/card-check", &hcmc, json!({ "card_qr": made_up })).await;
    let body = expect_problem(r, 422).await;
    let text = body.to_string();
    assert!(!text.contains("Nguyễn Văn An") && !text.contains("Đội Cấn"), "{text}");
    assert!(civitas_store::access_log::for_subject(&app.db, AN, 5).await.unwrap().is_empty());
    // The real card (as the register holds it) at a counter elsewhere: accepted, logged, and
    // nothing beyond what the card shows.
    let real = format!("{AN}||Nguyễn Văn An|15031990|Nam|Số 5 phố Đội Cấn|01012020");
    let r = app.send_json(Method::POST, "/api/v1/counter/card-check", &hcmc, json!({ "card_qr": real })).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["permanent_residence"].is_null(), "{v}");
    let log = civitas_store::access_log::for_subject(&app.db, AN, 5).await.unwrap();
    assert_eq!(log[0].purpose.as_deref(), Some("counter-intake"));
}
on_both_databases!(card_check_is_not_a_nationwide_lookup, card_check_units);

/// Whether reads of AN with `token` are refused (401) within the token cache's recheck time.
async fn refused_within_recheck(app: &TestApp, token: &str, purpose: Option<&str>) -> bool {
    for _ in 0..30 {
        let mut r = app.client.get(app.url(&format!("/api/v1/people/{AN}"))).bearer_auth(token);
        if let Some(p) = purpose {
            r = r.header("x-purpose", p);
        }
        if r.send().await.unwrap().status() == 401 {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    false
}

/// M1: revoked, signed-out or locked: the token stops working at the API.
async fn tokens_against_state(app: TestApp) {
    app.clients().await;
    let token = |app: &TestApp| {
        app.client
            .post(app.url("/oauth2/token"))
            .basic_auth("agency", Some(AGENCY_SECRET))
            .form(&[("grant_type", "client_credentials"), ("scope", "registry.read")])
    };
    let access: Value = token(&app).send().await.unwrap().json().await.unwrap();
    let access = access["access_token"].as_str().unwrap().to_owned();
    app.grant("agency", "register", "cấp thẻ bảo hiểm y tế", &["record"], &[], &["01"]).await;
    let read = || {
        agency_call(app.client.get(app.url(&format!("/api/v1/people/{AN}"))), "cấp thẻ bảo hiểm y tế")
            .bearer_auth(&access)
            .send()
    };
    assert_eq!(read().await.unwrap().status(), 200, "a Vietnamese X-Purpose is a purpose");
    let r = app
        .client
        .post(app.url("/oauth2/revoke"))
        .basic_auth("agency", Some(AGENCY_SECRET))
        .form(&[("token", &access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Within the bounded recheck time (5 s) the revocation takes effect.
    assert!(refused_within_recheck(&app, &access, Some("cấp thẻ bảo hiểm y tế")).await, "a revoked token kept working");

    // A citizen's token after "sign out everywhere".
    app.account(AN, 1).await;
    let citizen = citizen_token(&app, AN).await;
    assert_eq!(app.get("/api/v1/me/dossiers", &citizen).await.status(), 200);
    app.state.identity.end_all_sessions(AN, civitas::now().unix_timestamp()).await.unwrap();
    expect_problem(app.get("/api/v1/me/dossiers", &citizen).await, 401).await;
}
on_both_databases!(tokens_are_checked_against_state, tokens_against_state);

/// M2, M4: asking for codes again neither resets the guesses nor sends unlimited SMS; public
/// lookups are rate-limited.
async fn throttles_remember(app: TestApp) {
    app.account(AN, 1).await;
    let phone = "0912345678";
    let set_phone = "UPDATE accounts SET phone = $1 WHERE pid = $2";
    civitas_store::dispatch!(&app.db, pool => sqlx::query(set_phone).bind(phone).bind(AN).execute(pool).await.map(|r| r.rows_affected())).unwrap();
    let now = civitas::now();
    for _ in 0..5 {
        app.state.identity.start_password_reset(AN, phone, now).await.unwrap();
    }
    let sms: Vec<String> = app.outbox(phone).await;
    let codes = sms.iter().filter(|b| b.contains("đặt lại mật khẩu")).count();
    assert_eq!(codes, 3, "three codes an hour: {sms:?}");
    // Five wrong guesses, a new code: still no more guesses.
    for _ in 0..5 {
        assert!(app.state.identity.reset_password(AN, "000000", PASSWORD, now).await.is_err());
    }
    let row: (i64,) = civitas_store::dispatch!(&app.db, pool => sqlx::query_as("SELECT CAST(attempts AS BIGINT) FROM one_time_codes WHERE pid = $1 AND purpose = 'reset'").bind(AN).fetch_one(pool).await).unwrap();
    assert_eq!(row.0, 5);
    app.state.identity.start_password_reset(AN, phone, now).await.unwrap();
    let row: (i64,) = civitas_store::dispatch!(&app.db, pool => sqlx::query_as("SELECT CAST(attempts AS BIGINT) FROM one_time_codes WHERE pid = $1 AND purpose = 'reset'").bind(AN).fetch_one(pool).await).unwrap();
    assert_eq!(row.0, 5, "asking again does not reset the counter");
    // Sign-in failures below the threshold survive the purge.
    let _ = app.state.identity.authenticate(AN, "wrong password", "10.0.0.1", now).await.unwrap();
    app.state.identity.purge_expired(now.unix_timestamp() + 3600).await.unwrap();
    let kept: Option<(i64,)> = civitas_store::dispatch!(&app.db, pool => sqlx::query_as("SELECT CAST(failures AS BIGINT) FROM login_throttle WHERE key = $1").bind(format!("account:{AN}")).fetch_optional(pool).await).unwrap();
    assert_eq!(kept.map(|k| k.0), Some(1));

    // Wrong digits at the public status: five are free, the next one blocks the code (429 with
    // Retry-After, doubling).
    app.clients().await;
    let citizen = citizen_token(&app, AN).await;
    let body = json!({ "procedure": "DVC-05", "fields": { "destination": "Huế", "from": "2027-01-05", "until": "2027-01-10" } });
    let d: Value = app.send_json(Method::POST, "/api/v1/dossiers", &citizen, body).await.json().await.unwrap();
    let code = d["code"].as_str().unwrap().to_owned();
    let mut statuses = vec![];
    for guess in 0..8 {
        let r = app.client.get(app.url(&format!("/api/v1/dossiers/{code}/status?pid_last4={guess:04}"))).send();
        let r = r.await.unwrap();
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..6], &[404; 6], "{statuses:?}");
    assert!(statuses[6..].iter().all(|s| *s == 429), "{statuses:?}");
    // Even the right digits wait now.
    let r = app.client.get(app.url(&format!("/api/v1/dossiers/{code}/status?pid_last4={}", &AN[8..]))).send();
    assert_eq!(r.await.unwrap().status(), 429);
}
on_both_databases!(throttles_remember_and_limit, throttles_remember);

/// M5: residence is not registered for the deceased nor with a past end; the record returned is
/// a logged read.
async fn residence_rules(app: TestApp) {
    let officer = app.token(Role::RegistryOfficer, &[NGOC_HA]);
    let body = |until: &str| {
        json!({ "kind": "temporary", "residence": { "commune": NGOC_HA, "address": "Số 3 phố Kim Mã" },
                "until": until, "legal_basis": { "basis": "Luật Cư trú 2020" } })
    };
    let path = format!("/api/v1/people/{AN}/residence");
    expect_problem(app.send_json(Method::POST, &path, &officer, body("2020-01-01")).await, 422).await;
    expect_problem(app.send_json(Method::POST, &path, &officer, body("2027")).await, 422).await;
    let r = app.send_json(Method::POST, &path, &officer, body("2027-05-01")).await;
    assert_eq!(r.status(), 200);
    let log = civitas_store::access_log::for_subject(&app.db, AN, 5).await.unwrap();
    assert_eq!(log[0].purpose.as_deref(), Some("register-change"));
    let dead = "UPDATE people SET status = 'deceased' WHERE pid = $1";
    civitas_store::dispatch!(&app.db, pool => sqlx::query(dead).bind(DUNG).execute(pool).await.map(|r| r.rows_affected())).unwrap();
    let path = format!("/api/v1/people/{DUNG}/residence");
    let b = expect_problem(app.send_json(Method::POST, &path, &officer, body("2027-05-01")).await, 409).await;
    assert_eq!(b["type"], "urn:civitas:problem:not-living");
}
on_both_databases!(residence_rules_hold, residence_rules);

/// M6 and the low-severity input defects: nothing is stored before the CSRF check; bad input
/// gets a specific problem, never a 500 or a bare body.
async fn input_defects(app: TestApp) {
    app.account(AN, 1).await;
    let mut jar = app.browser();
    jar.get(&app.url("/signin")).await;
    jar.post(&app.url("/signin"), &[("pid", AN), ("password", PASSWORD)]).await;
    let cookies: String = jar.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    // The file comes before the (wrong) token.
    let boundary = "XBOUNDARYX";
    let mut form = Vec::new();
    form.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file.upload\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n%%EOF\n\r\n").as_bytes());
    form.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nwrong\r\n--{boundary}--\r\n")
            .as_bytes(),
    );
    let r = app
        .client
        .post(app.url("/my/documents"))
        .header("cookie", &cookies)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let stored: (i64,) = civitas_store::dispatch!(&app.db, pool => sqlx::query_as("SELECT COUNT(*) FROM documents").fetch_one(pool).await).unwrap();
    assert_eq!(stored.0, 0, "nothing stored before the CSRF check");

    // The sign-in form's `r` with CR/LF: no 500.
    let r =
        jar.post(&app.url("/signin"), &[("pid", AN), ("password", PASSWORD), ("r", "abc\r\nSet-Cookie: x=y")]).await;
    assert!(r.status < 500, "{}", r.status);

    let officer = app.token(Role::OnestopOfficer, &["01"]);
    for path in
        ["/api/v1/people?q=an&limit=abc", "/api/v1/work-queue?limit=-1", "/api/v1/work-queue?offset=99999999999"]
    {
        expect_problem(app.get(path, &officer).await, 400).await;
    }
    expect_problem(app.client.get(app.url("/api/v1/units/communes")).send().await.unwrap(), 400).await;
    // Methods, bodies and media types.
    expect_problem(app.client.delete(app.url("/api/v1/procedures")).send().await.unwrap(), 405).await;
    let big = format!("{{\"card_qr\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/counter/card-check"))
        .bearer_auth(app.token(Role::OnestopOfficer, &[BA_DINH]))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    expect_problem(r, 413).await;
    let r = app
        .client
        .post(app.url("/api/v1/counter/card-check"))
        .bearer_auth(app.token(Role::OnestopOfficer, &[BA_DINH]))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    expect_problem(r, 415).await;
    // NUL and bidi controls in free text: refused naming the field, on both databases.
    let desk = app.token(Role::OnestopOfficer, &[BA_DINH]);
    let r =
        app.send_json(Method::POST, "/api/v1/counter/card-check", &desk, json!({ "card_qr": "0010901234\u{0}" })).await;
    let b = expect_problem(r, 422).await;
    assert_eq!(b["errors"][0]["field"], "card_qr");
    let r =
        app.send_json(Method::POST, "/api/v1/counter/card-check", &desk, json!({ "card_qr": "abc\u{202e}def" })).await;
    expect_problem(r, 422).await;
    // A name in mixed scripts (a Cyrillic А) is not a name.
    let registrar = app.token(Role::RegistryOfficer, &[BA_DINH]);
    let person = json!({ "pid": "001301000091", "full_name": "Nguyễn Văn \u{410}n", "birth_date": "2001-02-03",
                         "sex": "female", "permanent_residence": { "commune": BA_DINH, "address": "Số 2" },
                         "household_id": "HKMIX", "relation_to_head": "head" });
    let r = app
        .send_json(
            Method::POST,
            "/api/v1/people",
            &registrar,
            json!({ "person": person, "legal_basis": { "basis": "x" } }),
        )
        .await;
    expect_problem(r, 422).await;
    // Over-long URIs and headers: problems too.
    let long = format!("/api/v1/procedures?q={}", "a".repeat(10_000));
    expect_problem(app.client.get(app.url(&long)).send().await.unwrap(), 414).await;
    let mut big = app.client.get(app.url("/api/v1/procedures"));
    for i in 0..90 {
        big = big.header(format!("x-h{i}"), "a");
    }
    expect_problem(big.send().await.unwrap(), 431).await;
    // Security headers.
    let r = app.client.get(app.url("/services")).send().await.unwrap();
    assert_eq!(r.headers().get("referrer-policy").and_then(|v| v.to_str().ok()), Some("no-referrer"));
}
on_both_databases!(input_defects_are_answered, input_defects);

/// M1 for officers: an access token the provider issued to an officers' application (scope
/// `roles`, level 2) stops working at the API once the officer's account is locked.
async fn locked_officer(app: TestApp) {
    use crate::oidc::{exchange, sign_in_through};
    app.state
        .identity
        .create_client(
            civitas_identity::NewClient {
                id: "console".into(),
                name: "Officers' console".into(),
                secret: Some(RP_SECRET.into()),
                redirect_uris: vec!["http://127.0.0.1/cb".into()],
                scopes: vec!["openid".into(), "roles".into()],
                grant_types: vec!["authorization_code".into()],
                ..Default::default()
            },
            civitas::now(),
        )
        .await
        .unwrap();
    let second = app.account(BINH, 2).await.unwrap();
    app.state
        .identity
        .set_officer_role(BINH, Role::RegistryOfficer, &[BA_DINH.to_owned()], "test", civitas::now())
        .await
        .unwrap();
    let verifier = "e".repeat(60);
    let challenge = civitas_identity::secret::s256(&verifier);
    let url = app.url(&format!(
        "/oauth2/authorize?client_id=console&response_type=code&scope=openid%20roles&redirect_uri=http%3A%2F%2F127.0.0.1%3A4000%2Fcb&code_challenge={challenge}&code_challenge_method=S256&acr_values=urn%3Avn%3Aeid%3Aloa%3A2"
    ));
    let code = civitas_identity::totp::code(
        &civitas_identity::totp::decode_secret(&second.totp_secret).unwrap(),
        civitas::now().unix_timestamp(),
    );
    let mut jar = app.browser();
    let (redirect, _) = sign_in_through(&app, &mut jar, &url, BINH, &code).await;
    let v = exchange(&app, "console", &redirect, "http://127.0.0.1:4000/cb", &verifier).await;
    let access = v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/api/v1/people/{AN}"), &access).await.status(), 200);
    app.state.identity.lock(BINH, "officer:test", "lost phone", civitas::now()).await.unwrap();
    assert!(refused_within_recheck(&app, &access, None).await, "a locked officer's token kept working");
}
on_both_databases!(a_locked_officers_token_stops, locked_officer);
