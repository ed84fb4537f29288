//! The OpenID Connect provider driven by a certified-style relying-party library (the Rust
//! `openidconnect` crate): discovery, the sign-in pages, consent, the code flow with PKCE, ID
//! token verification against the JWKS, userinfo, refresh rotation with reuse detection,
//! logout, step-up to level 2; and the bad-input catalogue answered per the specs.

use std::future::Future;
use std::pin::Pin;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_databases;

#[derive(Debug)]
pub struct HttpError(String);
impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for HttpError {}

type HttpFuture = Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send>>;

/// The HTTP client the library calls: reqwest, no redirects.
pub fn http_client(client: reqwest::Client) -> impl Fn(openidconnect::HttpRequest) -> HttpFuture {
    move |request: openidconnect::HttpRequest| {
        let client = client.clone();
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(|e| HttpError(e.to_string()))?;
            let response = client.execute(request).await.map_err(|e| HttpError(e.to_string()))?;
            let mut builder = http::Response::builder().status(response.status().as_u16());
            for (k, v) in response.headers() {
                builder = builder.header(k.as_str(), v.as_bytes());
            }
            let body = response.bytes().await.map_err(|e| HttpError(e.to_string()))?.to_vec();
            builder.body(body).map_err(|e| HttpError(e.to_string()))
        }) as HttpFuture
    }
}

/// Follows the provider's pages from `start` until it redirects to the client, signing in as
/// `pid`, answering the second-factor step with `otp`, and consenting. Returns the client
/// redirect and the paths visited.
pub async fn sign_in_through(app: &TestApp, jar: &mut Jar, start: &str, pid: &str, otp: &str) -> (String, Vec<String>) {
    let mut next = start.to_owned();
    let mut visited = vec![];
    for _ in 0..12 {
        if !next.starts_with(&app.base) {
            return (next, visited);
        }
        let path = next[app.base.len()..].to_owned();
        let r = query_param(&path, "r").unwrap_or_default();
        let route = path.split('?').next().unwrap_or_default().to_owned();
        visited.push(route.clone());
        let step = match route.as_str() {
            "/signin/otp" => {
                jar.get(&next).await;
                jar.post(&app.url("/signin/otp"), &[("code", otp), ("r", &r)]).await
            }
            "/signin" => {
                let page = jar.get(&next).await;
                assert_eq!(page.status, 200, "{}", page.body);
                jar.post(&app.url("/signin"), &[("pid", pid), ("password", PASSWORD), ("r", &r)]).await
            }
            "/consent" => {
                let page = jar.get(&next).await;
                assert_eq!(page.status, 200, "{}", page.body);
                jar.post(&app.url("/consent"), &[("decision", "allow"), ("r", &r)]).await
            }
            _ => jar.get(&next).await,
        };
        assert_eq!(step.status, 303, "{route}: {}", step.body);
        let location = step.location.expect("location");
        next = if location.starts_with('/') { app.url(&location) } else { location };
    }
    panic!("no redirect to the client after 12 steps: {visited:?}");
}

/// Exchanges the code in `redirect` at the token endpoint as `client` (secret `RP_SECRET`).
pub async fn exchange(app: &TestApp, client: &str, redirect: &str, redirect_uri: &str, verifier: &str) -> Value {
    let code = query_param(redirect, "code").expect("a code in the redirect");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    let r =
        app.client.post(app.url("/oauth2/token")).basic_auth(client, Some(RP_SECRET)).form(&form).send().await.unwrap();
    r.json().await.unwrap()
}

async fn discover(
    app: &TestApp,
    secret: &str,
) -> (
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    impl Fn(openidconnect::HttpRequest) -> HttpFuture,
) {
    let http = http_client(app.client.clone());
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("rp".into()),
        Some(ClientSecret::new(secret.into())),
    )
    // A loopback redirect on a port the client picked: any port matches (RFC 8252).
    .set_redirect_uri(RedirectUrl::new("http://127.0.0.1:43117/callback".into()).unwrap());
    (client, http)
}

async fn code_flow(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    let (client, http) = discover(&app, RP_SECRET).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("address".into()))
        .add_scope(Scope::new("pid".into()))
        .set_pkce_challenge(challenge)
        .url();
    let mut jar = app.browser();
    let (redirect, visited) = sign_in_through(&app, &mut jar, url.as_str(), AN, "").await;
    assert!(visited.contains(&"/consent".to_owned()), "{visited:?}");
    assert!(redirect.starts_with("http://127.0.0.1:43117/callback?"), "{redirect}");
    assert_eq!(query_param(&redirect, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(app.base.as_str()));
    let code = query_param(&redirect, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let id_verifier = client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = tokens.id_token().expect("id token").claims(&id_verifier, &nonce).expect("valid ID token").clone();
    // Pairwise subject: not the PID.
    assert_ne!(claims.subject().as_str(), AN);
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("urn:vn:eid:loa:1"));
    assert_eq!(
        claims.auth_method_refs().map(|v| v.iter().map(|a| a.as_str().to_owned()).collect::<Vec<_>>()),
        Some(vec!["pwd".to_owned()])
    );
    assert!(tokens.refresh_token().is_some());

    // Userinfo through the library, then the raw JSON (the `pid` claim is ours).
    let info: openidconnect::core::CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Nguyễn Văn An"));
    let raw: Value = app
        .client
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["pid"], AN);
    assert_eq!(raw["birthdate"], "1990-03-15");
    assert!(raw["address"]["formatted"].as_str().unwrap().contains("Phường Ba Đình"), "{raw}");
    assert!(raw.get("phone_number").is_none(), "phone was not asked for");
    // The read is in the person's access log with the client and purpose.
    let log = civitas_store::access_log::for_subject(&app.db, AN, 10).await.unwrap();
    assert!(log.iter().any(|e| e.actor == "rp" && e.role == "relying-party" && e.fields.contains("pid")), "{log:?}");

    // The code is single-use; replaying it revokes what it produced.
    let replay = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(openidconnect::PkceCodeVerifier::new("x".repeat(43)))
        .request_async(&http)
        .await;
    assert!(replay.is_err());
    let after =
        app.client.get(app.url("/oauth2/userinfo")).bearer_auth(tokens.access_token().secret()).send().await.unwrap();
    assert_eq!(after.status(), 401);
    assert!(after.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));

    // A second authorization: consent is remembered, no consent page.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let (redirect, visited) = sign_in_through(&app, &mut jar, url.as_str(), AN, "").await;
    assert!(!visited.iter().any(|p| p == "/consent" || p == "/signin"), "{visited:?}");
    let tokens = client
        .exchange_code(AuthorizationCode::new(query_param(&redirect, "code").unwrap()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap().clone();
    id_token.claims(&id_verifier, &nonce).unwrap();

    // Refresh rotates; using a rotated token again revokes the whole family.
    let first = tokens.refresh_token().unwrap().clone();
    let second = client.exchange_refresh_token(&first).unwrap().request_async(&http).await.expect("refresh");
    let rotated = second.refresh_token().unwrap().clone();
    assert_ne!(rotated.secret(), first.secret());
    let third = client.exchange_refresh_token(&rotated).unwrap().request_async(&http).await.expect("refresh again");
    let reuse = client.exchange_refresh_token(&first).unwrap().request_async(&http).await;
    assert!(
        matches!(reuse, Err(openidconnect::RequestTokenError::ServerResponse(ref e)) if e.error().as_ref() == "invalid_grant"),
        "{reuse:?}"
    );
    let newest = third.refresh_token().unwrap().clone();
    assert!(client.exchange_refresh_token(&newest).unwrap().request_async(&http).await.is_err(), "family revoked");
    let r =
        app.client.get(app.url("/oauth2/userinfo")).bearer_auth(third.access_token().secret()).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // A session-bound refresh token dies at logout; an offline_access one outlives it.
    let mut bound = None;
    let mut offline = None;
    for scope in ["profile", "offline_access"] {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, _) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new(scope.into()))
            .set_pkce_challenge(challenge)
            .url();
        let (redirect, _) = sign_in_through(&app, &mut jar, url.as_str(), AN, "").await;
        let t = client
            .exchange_code(AuthorizationCode::new(query_param(&redirect, "code").unwrap()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap();
        if scope == "profile" {
            bound = Some((t.refresh_token().unwrap().clone(), t.id_token().unwrap().to_string()));
        } else {
            offline = Some(t.refresh_token().unwrap().clone());
        }
    }
    let (bound, id_token_hint) = bound.unwrap();
    let logout = jar
        .get(&app.url(&format!(
            "/oauth2/logout?id_token_hint={id_token_hint}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fbye&state=s1"
        )))
        .await;
    assert_eq!(logout.status, 303, "{}", logout.body);
    assert_eq!(logout.location.as_deref(), Some("http://127.0.0.1:9/bye?state=s1"));
    assert_eq!(jar.get(&app.url("/account")).await.location.as_deref(), Some("/signin"));
    assert!(client.exchange_refresh_token(&bound).unwrap().request_async(&http).await.is_err());
    let survivor =
        client.exchange_refresh_token(&offline.unwrap()).unwrap().request_async(&http).await.expect("offline refresh");
    // Two concurrent uses of one refresh token: one wins, the other is reuse, and the family
    // (the winner's new token too) is revoked.
    let token = survivor.refresh_token().unwrap().clone();
    let (a, b) = tokio::join!(
        client.exchange_refresh_token(&token).unwrap().request_async(&http),
        client.exchange_refresh_token(&token).unwrap().request_async(&http)
    );
    assert_eq!(a.is_ok() as u8 + b.is_ok() as u8, 1, "exactly one concurrent use succeeds: {a:?} {b:?}");
    let winner = a.or(b).unwrap();
    assert!(
        client.exchange_refresh_token(winner.refresh_token().unwrap()).unwrap().request_async(&http).await.is_err()
    );
    // An unregistered post-logout redirect is refused on the provider's own page.
    let bad =
        jar.get(&app.url("/oauth2/logout?client_id=rp&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F")).await;
    assert_eq!(bad.status, 400);
}
on_both_databases!(authorization_code_flow, code_flow);

async fn step_up(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    let second = app.account(BINH, 2).await.unwrap();
    let (client, http) = discover(&app, RP_SECRET).await;
    let authorize = |acr: &str| {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_auth_context_value(openidconnect::AuthenticationContextClass::new(acr.into()))
            .set_pkce_challenge(challenge)
            .url();
        (url.to_string(), verifier, nonce)
    };
    // A level-1 account cannot meet a level-2 request.
    let mut jar = app.browser();
    let (url, _, _) = authorize("urn:vn:eid:loa:2");
    let (redirect, _) = sign_in_through(&app, &mut jar, &url, AN, "").await;
    assert_eq!(query_param(&redirect, "error").as_deref(), Some("unmet_authentication_requirements"), "{redirect}");

    // A level-2 account signs in at level 1, then steps up with TOTP when a client asks.
    let mut jar = app.browser();
    let (url, verifier, nonce) = authorize("urn:vn:eid:loa:1");
    let (redirect, visited) = sign_in_through(&app, &mut jar, &url, BINH, "").await;
    assert!(!visited.iter().any(|p| p == "/signin/otp"), "{visited:?}");
    let t = client
        .exchange_code(AuthorizationCode::new(query_param(&redirect, "code").unwrap()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let v = client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    assert_eq!(
        t.id_token().unwrap().claims(&v, &nonce).unwrap().auth_context_ref().unwrap().as_str(),
        "urn:vn:eid:loa:1"
    );

    let (url, verifier, nonce) = authorize("urn:vn:eid:loa:2");
    // A wrong code first: refused, then the right one.
    let code = civitas_identity::totp::code(
        &civitas_identity::totp::decode_secret(&second.totp_secret).unwrap(),
        civitas::now().unix_timestamp(),
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let step = jar.get(&url).await;
    let otp_path = step.location.unwrap();
    assert!(otp_path.starts_with("/signin/otp"), "{otp_path}");
    let r = query_param(&otp_path, "r").unwrap();
    jar.get(&app.url(&otp_path)).await;
    let refused = jar.post(&app.url("/signin/otp"), &[("code", wrong), ("r", &r)]).await;
    assert_eq!(refused.status, 422);
    let (redirect, _) = sign_in_through(&app, &mut jar, &app.url(&otp_path), BINH, &code).await;
    let t = client
        .exchange_code(AuthorizationCode::new(query_param(&redirect, "code").unwrap()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let claims = t.id_token().unwrap().claims(&v, &nonce).unwrap().clone();
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), "urn:vn:eid:loa:2");
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|a| a.as_str().to_owned()).collect();
    assert!(amr.contains(&"otp".to_owned()) && amr.contains(&"mfa".to_owned()), "{amr:?}");
    // The same TOTP code is not accepted twice (replay); a recovery code works once.
    let (url, _, _) = authorize("urn:vn:eid:loa:2");
    let mut fresh = app.browser();
    let first = fresh.get(&url).await;
    let signin = first.location.unwrap();
    let r = query_param(&signin, "r").unwrap();
    fresh.get(&app.url(&signin)).await;
    let to_otp = fresh.post(&app.url("/signin"), &[("pid", BINH), ("password", PASSWORD), ("r", &r)]).await;
    assert!(to_otp.location.as_deref().unwrap().starts_with("/signin/otp"));
    fresh.get(&app.url(to_otp.location.as_deref().unwrap())).await;
    assert_eq!(fresh.post(&app.url("/signin/otp"), &[("code", &code), ("r", &r)]).await.status, 422);
    let ok = fresh.post(&app.url("/signin/otp"), &[("code", &second.recovery_codes[0]), ("r", &r)]).await;
    assert_eq!(ok.status, 303);
}
on_both_databases!(step_up_to_level_2, step_up);

fn oauth_error(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_default()
}

async fn bad_input(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    app.account(DUNG, 1).await;
    let base = |extra: &str| {
        format!(
            "/oauth2/authorize?client_id=rp&response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback&state=st{extra}"
        )
    };
    let challenge = civitas_identity::secret::s256(&"v".repeat(50));
    let get = |path: String| {
        let client = app.client.clone();
        let url = app.url(&path);
        async move { client.get(url).send().await.unwrap() }
    };
    // Missing PKCE, plain PKCE: redirected back with invalid_request, state and iss.
    for extra in ["".to_owned(), format!("&code_challenge={challenge}&code_challenge_method=plain")] {
        let r = get(base(&extra)).await;
        assert_eq!(r.status(), 303);
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_request"), "{loc}");
        assert_eq!(query_param(&loc, "state").as_deref(), Some("st"));
        assert_eq!(query_param(&loc, "iss").as_deref(), Some(app.base.as_str()));
    }
    // Unknown scope, unsupported response type.
    let r = get(base(&format!("&code_challenge={challenge}&code_challenge_method=S256&scope=openid%20registry.read")))
        .await;
    assert_eq!(query_param(r.headers()["location"].to_str().unwrap(), "error").as_deref(), Some("invalid_scope"));
    let r = get(base(&format!("&code_challenge={challenge}&code_challenge_method=S256"))
        .replace("response_type=code", "response_type=token"))
    .await;
    assert_eq!(
        query_param(r.headers()["location"].to_str().unwrap(), "error").as_deref(),
        Some("unsupported_response_type")
    );
    // A foreign redirect URI or unknown client: never redirected, an error page instead.
    let r = get(base("").replace("http%3A%2F%2F127.0.0.1%3A5000%2Fcallback", "https%3A%2F%2Fevil.example%2Fcb")).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let r = get(base("").replace("client_id=rp", "client_id=nobody")).await;
    assert_eq!(r.status(), 400);
    // prompt=none without a session.
    let r = get(base(&format!("&code_challenge={challenge}&code_challenge_method=S256&prompt=none"))).await;
    assert_eq!(query_param(r.headers()["location"].to_str().unwrap(), "error").as_deref(), Some("login_required"));

    // A real code, then the token endpoint's catalogue.
    let mut jar = app.browser();
    let (redirect, _) = sign_in_through(
        &app,
        &mut jar,
        &app.url(&base(&format!("&code_challenge={challenge}&code_challenge_method=S256"))),
        AN,
        "",
    )
    .await;
    let code = query_param(&redirect, "code").unwrap();
    let token = |form: Vec<(&'static str, String)>, secret: &'static str| {
        let client = app.client.clone();
        let url = app.url("/oauth2/token");
        async move {
            let r = client.post(url).basic_auth("rp", Some(secret)).form(&form).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let exchange = |verifier: String| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", "http://127.0.0.1:5000/callback".to_owned()),
            ("code_verifier", verifier),
        ]
    };
    let (s, v) = token(exchange("v".repeat(50)), "wrong-secret").await;
    assert_eq!((s, oauth_error(&v)), (401, "invalid_client"));
    let (s, v) = token(exchange("w".repeat(50)), RP_SECRET).await;
    assert_eq!((s, oauth_error(&v)), (400, "invalid_grant"), "{v}");
    let mut wrong_redirect = exchange("v".repeat(50));
    wrong_redirect[2].1 = "http://127.0.0.1:5000/other".into();
    let (s, v) = token(wrong_redirect, RP_SECRET).await;
    assert_eq!((s, oauth_error(&v)), (400, "invalid_grant"));
    let (s, v) = token(exchange("v".repeat(50)), RP_SECRET).await;
    assert_eq!(s, 200, "{v}");
    let access = v["access_token"].as_str().unwrap().to_owned();
    let (s, v) = token(exchange("v".repeat(50)), RP_SECRET).await;
    assert_eq!((s, oauth_error(&v)), (400, "invalid_grant"), "reused code");
    let (s, v) = token(vec![("grant_type", "password".into())], RP_SECRET).await;
    assert_eq!((s, oauth_error(&v)), (400, "unsupported_grant_type"));
    let (s, v) = token(vec![("grant_type", "client_credentials".into())], RP_SECRET).await;
    assert_eq!((s, oauth_error(&v)), (400, "unauthorized_client"));

    // Tampered and garbage access tokens at userinfo.
    let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    for bad in [parts.join("."), "garbage".to_owned()] {
        let r = app.client.get(app.url("/oauth2/userinfo")).bearer_auth(bad).send().await.unwrap();
        assert_eq!(r.status(), 401);
    }

    // A locked account cannot sign in; the page says so only after the right password.
    app.state.identity.lock(DUNG, "officer:test", "lost phone", civitas::now()).await.unwrap();
    let mut jar = app.browser();
    jar.get(&app.url("/signin")).await;
    let r = jar.post(&app.url("/signin"), &[("pid", DUNG), ("password", PASSWORD)]).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("lost phone"));
    let r = jar.post(&app.url("/signin"), &[("pid", DUNG), ("password", "wrong password!")]).await;
    assert_eq!(r.status, 422);
    // Unknown ID number and wrong password read the same (no enumeration).
    let unknown = jar.post(&app.url("/signin"), &[("pid", "001099999999"), ("password", "wrong password!")]).await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("Số định danh hoặc mật khẩu không đúng."));

    // A death recorded in the register locks the account through the event outbox.
    let officer = app.token(civitas_identity::Role::RegistryOfficer, &[BA_DINH]);
    let r = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/people/{AN}"),
            &officer,
            serde_json::json!({"changes": {"status": "deceased"}, "legal_basis": {"basis": "Trích lục khai tử số 12/2026"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let mut locked = false;
    for _ in 0..100 {
        let a = app.state.identity.account(AN).await.unwrap().unwrap();
        if a.state == civitas_identity::AccountState::Locked {
            assert_eq!(a.state_reason.as_deref(), Some("deceased"));
            locked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(locked, "the account was not locked after the death was recorded");
    let r = jar.post(&app.url("/signin"), &[("pid", AN), ("password", PASSWORD)]).await;
    assert_eq!(r.status, 403);
    // ... and the tokens issued before are dead too.
    let r = app.client.get(app.url("/oauth2/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(r.status(), 401);
}
on_both_databases!(bad_input_catalogue, bad_input);

async fn machine_clients(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    // client_credentials: the token carries the agency role and reads the register API.
    let r = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth("agency", Some(AGENCY_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "registry.read")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: Value = r.json().await.unwrap();
    let access = v["access_token"].as_str().unwrap().to_owned();
    app.grant("agency", "register", "health insurance card", &["record"], &[], &["01"]).await;
    let r = agency_call(app.client.get(app.url(&format!("/api/v1/people/{AN}"))), "health insurance card")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth("agency", Some(AGENCY_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "openid pid")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(oauth_error(&r.json().await.unwrap()), "invalid_scope");

    // Introspection and revocation.
    let introspect = |token: String| {
        let client = app.client.clone();
        let url = app.url("/oauth2/introspect");
        async move {
            client
                .post(url)
                .basic_auth("agency", Some(AGENCY_SECRET))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let v = introspect(access.clone()).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["role"], "agency-system");
    let r = app
        .client
        .post(app.url("/oauth2/revoke"))
        .basic_auth("agency", Some(AGENCY_SECRET))
        .form(&[("token", &access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(introspect(access.clone()).await["active"], false);
    assert_eq!(introspect("nonsense".into()).await["active"], false);
    // Housekeeping: nothing is purged while it is still needed; a day later the revoked id goes.
    let now = civitas::now().unix_timestamp();
    let kept = app.state.identity.purge_expired(now).await.unwrap();
    assert_eq!(introspect(access.clone()).await["active"], false, "purged {kept} rows too early");
    assert!(app.state.identity.purge_expired(now + 86_400).await.unwrap() >= 1);

    // private_key_jwt with a key of the client's own; an assertion is accepted once.
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
    app.state
        .identity
        .create_client(
            civitas_identity::NewClient {
                id: "jwt-agency".into(),
                jwks: vec![jwk],
                scopes: vec!["registry.read".into()],
                grant_types: vec!["client_credentials".into()],
                role: Some(civitas_identity::Role::AgencySystem),
                units: vec![BA_DINH.into()],
                ..Default::default()
            },
            civitas::now(),
        )
        .await
        .unwrap();
    let now = civitas::now().unix_timestamp();
    let header = b64(br#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#);
    let claims = b64(serde_json::json!({"iss": "jwt-agency", "sub": "jwt-agency", "aud": app.url("/oauth2/token"), "exp": now + 60, "jti": "a1"}).to_string().as_bytes());
    let input = format!("{header}.{claims}");
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    let assertion = format!("{input}.{}", b64(&signature.to_bytes()));
    let send = |assertion: String| {
        let client = app.client.clone();
        let url = app.url("/oauth2/token");
        async move {
            client
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    ("client_assertion", &assertion),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(send(assertion.clone()).await, 200);
    assert_eq!(send(assertion).await, 401, "a replayed assertion");
    let forged = format!("{input}.{}", b64(&[0u8; 64]));
    assert_eq!(send(forged).await, 401);

    // PAR: the pushed request is used by reference, once.
    let challenge = civitas_identity::secret::s256(&"p".repeat(50));
    let r = app
        .client
        .post(app.url("/oauth2/par"))
        .basic_auth("rp", Some(RP_SECRET))
        .form(&[
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("redirect_uri", "http://127.0.0.1:7000/callback"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "par-state"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let request_uri = v["request_uri"].as_str().unwrap().to_owned();
    let authorize = format!("/oauth2/authorize?client_id=rp&request_uri={}", urlencode(&request_uri));
    let mut jar = app.browser();
    let (redirect, _) = sign_in_through(&app, &mut jar, &app.url(&authorize), AN, "").await;
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("par-state"));
    assert!(query_param(&redirect, "code").is_some());
    assert_eq!(app.client.get(app.url(&authorize)).send().await.unwrap().status(), 400, "request_uri is single-use");
    let r = app
        .client
        .post(app.url("/oauth2/par"))
        .basic_auth("rp", Some("wrong"))
        .form(&[("response_type", "code")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
on_both_databases!(machine_clients_par_and_introspection, machine_clients);

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap().trim_start_matches("x=").to_owned()
}
