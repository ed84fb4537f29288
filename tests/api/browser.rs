//! The officer pages in a real browser (Debian's Chromium through ChromeDriver), with an axe-core
//! accessibility check on every page: no violation of any impact. Plus the cookie and
//! CSRF rules of the sign-in form over plain HTTP.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use civitas_identity::Role;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::helpers::*;

pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    _profile: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // ChromeDriver and the Chromium it started share a process group of their own: end them
        // all, or every test leaves a browser running.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub(crate) fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

pub(crate) fn skip(why: &str) -> Option<Browser> {
    if required() {
        panic!("browser tests are required in CI: {why}");
    }
    eprintln!("\n*** SKIPPED browser test: {why} (run scripts/setup-test-env) ***\n");
    None
}

pub(crate) async fn browser() -> Option<Browser> {
    browser_with(&[]).await
}

/// A browser started with more command-line switches (a fake camera, say).
pub(crate) async fn browser_with(extra: &[String]) -> Option<Browser> {
    let driver_path = "/usr/bin/chromedriver";
    if !std::path::Path::new(driver_path).exists() {
        return skip("chromedriver not installed");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let driver = Command::new(driver_path)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let profile = temp_dir();
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.0.display()));
    args.extend(extra.iter().cloned());
    let caps = serde_json::json!({
        "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args }
    });
    let caps = match caps {
        serde_json::Value::Object(m) => m,
        _ => return None,
    };
    let mut last_error = String::new();
    for _ in 0..50 {
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps.clone());
        match builder.connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(client) => return Some(Browser { client, driver, _profile: profile }),
            Err(e) => last_error = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not start a browser session: {last_error}");
}

pub(crate) fn axe_source() -> Option<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(path).ok()
}

/// Runs axe-core on the current page; fails on any violation (minor ones included).
pub(crate) async fn assert_accessible(c: &Client, axe: &str, page: &str) {
    let violations = axe_violations(c, axe).await;
    assert!(violations.is_empty(), "accessibility violations on {page}: {violations:#?}");
}

pub(crate) async fn axe_violations(c: &Client, axe: &str) -> Vec<String> {
    c.execute(&format!("{axe}\n;return true;"), vec![]).await.expect("inject axe");
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations
               .map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => n.target.join(' ')).join(', '))));",
            vec![],
        )
        .await
        .expect("run axe");
    serde_json::from_value(result).expect("axe result")
}

/// Clicks `css` and waits for the new page to replace the old one.
pub(crate) async fn click_and_wait(c: &Client, css: &str) {
    let old = c.find(Locator::Css("html")).await.expect("page");
    c.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("no element {css}")).click().await.expect("click");
    for _ in 0..200 {
        if old.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("clicking {css} did not load a new page");
}

/// Waits until the browser is on a URL ending with `suffix` (clicks navigate asynchronously).
pub(crate) async fn wait_for_path(c: &Client, suffix: &str) {
    for _ in 0..100 {
        if c.current_url().await.is_ok_and(|u| u.as_str().ends_with(suffix)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("browser did not reach {suffix}; it is at {:?}", c.current_url().await.map(|u| u.to_string()));
}

pub(crate) async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("no element {css}")).text().await.unwrap()
}

/// axe-core, a browser and a server, or `None` (loudly; a failure in CI) when the tools are missing.
pub(crate) async fn setup() -> Option<(String, Browser, TestApp)> {
    setup_on(Backend::Sqlite).await
}

pub(crate) async fn setup_on(backend: Backend) -> Option<(String, Browser, TestApp)> {
    let Some(axe) = axe_source() else {
        if required() {
            panic!("axe-core missing: run scripts/setup-test-env");
        }
        eprintln!("\n*** SKIPPED browser test: axe-core missing (run scripts/setup-test-env) ***\n");
        return None;
    };
    let browser = browser().await?;
    Some((axe, browser, spawn_app(backend).await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_searches_and_reads_a_person_in_the_browser() {
    let Some((axe, browser, app)) = setup().await else { return };
    let c = &browser.client;

    // The checker itself finds a violation where there is one (an image without text).
    c.goto(
        "data:text/html,<html lang=en><head><title>t</title></head><body><main><img src=x.png></main></body></html>",
    )
    .await
    .unwrap();
    let found = axe_violations(c, &axe).await;
    assert!(found.iter().any(|v| v.starts_with("image-alt")), "axe did not flag a missing alt: {found:?}");

    // Not signed in: the sign-in page, in Vietnamese.
    c.goto(&app.url("/signin/token")).await.unwrap();
    wait_for_path(c, "/signin/token").await;
    assert_eq!(text_of(c, "h1").await, "Đăng nhập cán bộ");
    assert_eq!(c.find(Locator::Css("html")).await.unwrap().attr("lang").await.unwrap().as_deref(), Some("vi"));
    assert_accessible(c, &axe, "sign-in").await;

    // An empty submission shows the error summary.
    click_and_wait(c, "form[action='/signin/token'] button").await;
    assert!(text_of(c, ".error-summary").await.contains("Nhập mã truy cập."));
    assert_accessible(c, &axe, "sign-in with error").await;

    // Sign in with a token of Phường Ba Đình.
    let token = app.token(Role::RegistryOfficer, &[BA_DINH]);
    c.find(Locator::Id("token")).await.unwrap().send_keys(&token).await.unwrap();
    click_and_wait(c, "form[action='/signin/token'] button").await;
    wait_for_path(c, "/officer/search").await;
    assert_eq!(text_of(c, "h1").await, "Tra cứu công dân");
    assert_accessible(c, &axe, "search").await;

    // A bad birth year is explained next to the field.
    c.find(Locator::Id("q")).await.unwrap().send_keys("nguyen van an").await.unwrap();
    c.find(Locator::Id("birth_year")).await.unwrap().send_keys("90").await.unwrap();
    click_and_wait(c, "form.search button").await;
    assert!(text_of(c, ".error-summary").await.contains("Năm sinh phải là 4 chữ số."));
    assert_accessible(c, &axe, "search with error").await;

    // Search without diacritics finds An first, filtered by a commune typed by its name.
    c.find(Locator::Id("birth_year")).await.unwrap().clear().await.unwrap();
    c.find(Locator::Id("commune")).await.unwrap().send_keys("ba dinh").await.unwrap();
    click_and_wait(c, "form.search button").await;
    assert_eq!(text_of(c, "#results tbody tr td a").await, "Nguyễn Văn An");
    let results = text_of(c, "#results").await;
    assert!(!has_iso_date(&results), "dates as people read them: {results}");
    assert_accessible(c, &axe, "search results").await;

    // The person, with household and history.
    click_and_wait(c, "#results tbody tr td a").await;
    assert_eq!(text_of(c, "h1").await, "Nguyễn Văn An");
    let body = text_of(c, "main").await;
    assert!(
        body.contains("Nguyễn Văn Cường") && body.contains("Hộ gia đình HKTEST1") && body.contains("Lịch sử thay đổi"),
        "{body}"
    );
    assert!(body.contains("Số 5 phố Đội Cấn, Phường Ba Đình, Thành phố Hà Nội"));
    assert_accessible(c, &axe, "person").await;

    // English switch, remembered in a cookie.
    click_and_wait(c, "nav a[lang='en']").await;
    assert_eq!(c.find(Locator::Css("html")).await.unwrap().attr("lang").await.unwrap().as_deref(), Some("en"));
    assert!(text_of(c, "main").await.contains("Household HKTEST1"));
    assert_accessible(c, &axe, "person (English)").await;
    c.goto(&app.url("/officer/search")).await.unwrap();
    assert_eq!(text_of(c, "h1").await, "Search people");

    // A person of another commune is refused with a friendly page.
    c.goto(&app.url(&format!("/officer/people/{DUNG}"))).await.unwrap();
    assert_eq!(text_of(c, "h1").await, "Access denied");
    assert_accessible(c, &axe, "forbidden").await;

    // Sign out.
    click_and_wait(c, "form[action='/signout'] button").await;
    wait_for_path(c, "/signin").await;
    c.goto(&app.url("/officer/search")).await.unwrap();
    wait_for_path(c, "/signin").await;
    let _ = browser.client.clone().close().await;
}

async fn post_signin(app: &TestApp, csrf_cookie: Option<&str>, token: &str, csrf: &str) -> reqwest::Response {
    let mut request = app.client.post(app.url("/signin/token"));
    if let Some(cookie) = csrf_cookie {
        request = request.header("cookie", format!("civitas_csrf={cookie}"));
    }
    request.form(&[("token", token), ("csrf", csrf)]).send().await.unwrap()
}

#[tokio::test]
async fn signin_cookies_are_protected_and_forms_need_csrf() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let page = app.client.get(app.url("/signin/token")).send().await.unwrap();
    let csrf_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("civitas_csrf="))
        .expect("csrf cookie")
        .to_owned();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Lax"), "{csrf_cookie}");
    let nonce = csrf_cookie.trim_start_matches("civitas_csrf=").split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    // The form carries the nonce and a MAC the server keys (bound to the browser's session).
    let start = html.find("name=\"csrf\" value=\"").expect("csrf field") + "name=\"csrf\" value=\"".len();
    let csrf = html[start..start + html[start..].find('"').unwrap()].to_owned();
    assert!(csrf.starts_with(&format!("{nonce}.")), "{csrf}");
    let token = app.token(Role::OnestopOfficer, &[BA_DINH]);
    // Without the CSRF cookie, or with a wrong value: refused.
    let r = post_signin(&app, None, &token, &csrf).await;
    assert_eq!(r.status(), 403);
    let r = post_signin(&app, Some(&nonce), &token, "wrong").await;
    assert_eq!(r.status(), 403);
    // The double-submit trick of a sibling host that plants its own cookie: refused (the
    // attacker cannot make the MAC).
    let planted = "plantedplantedplanted";
    let r = post_signin(&app, Some(planted), &token, planted).await;
    assert_eq!(r.status(), 403);
    let r = post_signin(&app, Some(planted), &token, &format!("{planted}.{}", &csrf[nonce.len() + 1..])).await;
    assert_eq!(r.status(), 403);
    let r = post_signin(&app, Some(&nonce), &token, &csrf).await;
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("civitas_session="))
        .unwrap()
        .to_owned();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/"),
        "{session}"
    );
    // Served on loopback http in this test, so not Secure; a non-loopback server sets Secure.
    assert!(!session.contains("Secure"));
    let r = post_signin(&app, Some(&nonce), "forged", &csrf).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Mã truy cập không hợp lệ hoặc đã hết hạn."));
}

/// A relying party's callback: answers every request with a small page, so the browser lands
/// somewhere after the provider redirects. Returns its port.
async fn callback_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let body = "<!doctype html><html lang=en><head><title>RP</title></head><body><main><h1>Relying party</h1></main></body></html>";
                let _ = stream
                    .write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes())
                    .await;
            });
        }
    });
    port
}

pub(crate) async fn fill(c: &Client, id: &str, text: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap_or_else(|_| panic!("no field {id}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizen_signs_in_to_a_relying_party_and_an_officer_uses_the_second_factor() {
    let Some((axe, browser, app)) = setup().await else { return };
    app.clients().await;
    app.account(AN, 1).await;
    let c = &browser.client;
    let port = callback_server().await;
    let verifier = "b".repeat(64);
    let challenge = civitas_identity::secret::s256(&verifier);
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let authorize = format!(
        "/oauth2/authorize?client_id=rp&response_type=code&scope=openid%20profile%20pid&state=xyz&nonce=n1&code_challenge={challenge}&code_challenge_method=S256&redirect_uri={}",
        serde_urlencoded::to_string([("x", &redirect)]).unwrap().trim_start_matches("x=")
    );

    // The relying party sends the person to the provider: the sign-in page names it.
    c.goto(&app.url(&authorize)).await.unwrap();
    assert_eq!(text_of(c, "h1").await, "Đăng nhập tài khoản định danh điện tử");
    assert!(text_of(c, "main").await.contains("Cổng dịch vụ công thử nghiệm"));
    assert_accessible(c, &axe, "e-ID sign-in").await;
    // A wrong password is explained in the summary and at the field.
    fill(c, "pid", AN).await;
    fill(c, "password", "not the password").await;
    click_and_wait(c, "form[action='/signin'] button").await;
    assert!(text_of(c, ".error-summary").await.contains("Số định danh hoặc mật khẩu không đúng."));
    assert_accessible(c, &axe, "e-ID sign-in with error").await;
    fill(c, "password", PASSWORD).await;
    click_and_wait(c, "form[action='/signin'] button").await;
    // Consent: what the client will see.
    assert_eq!(text_of(c, "h1").await, "Chia sẻ thông tin");
    let consent = text_of(c, "main").await;
    assert!(consent.contains("Xem số định danh cá nhân") && consent.contains("Xem họ tên"), "{consent}");
    assert_accessible(c, &axe, "consent").await;
    click_and_wait(c, "button[value='allow']").await;
    let mut landed = String::new();
    for _ in 0..100 {
        landed = c.current_url().await.unwrap().to_string();
        if landed.starts_with(&redirect) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(landed.starts_with(&redirect), "{landed}");
    assert_eq!(query_param(&landed, "state").as_deref(), Some("xyz"));
    let code = query_param(&landed, "code").expect("code");
    let r = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth("rp", Some(RP_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Signed in, a silent request (prompt=none) with the loopback URI dressed with userinfo
    // (`127.0.0.1:PORT@evil.example`) stays at the provider with an error: no code leaves.
    let evil = format!("http://127.0.0.1:{port}@evil.example/callback");
    let silent = format!(
        "/oauth2/authorize?client_id=rp&response_type=code&scope=openid&prompt=none&state=s&code_challenge={challenge}&code_challenge_method=S256&redirect_uri={}",
        serde_urlencoded::to_string([("x", &evil)]).unwrap().trim_start_matches("x=")
    );
    c.goto(&app.url(&silent)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let here = c.current_url().await.unwrap().to_string();
    assert!(here.starts_with(&app.base) && !here.contains("code="), "{here}");
    assert!(text_of(c, "main").await.contains("evil.example"), "the error names the refused URI");

    // The account page lists the session and the consent, in English on request.
    c.goto(&app.url("/account?lang=en")).await.unwrap();
    assert_eq!(text_of(c, "h1").await, "Your e-ID account");
    let page = text_of(c, "main").await;
    assert!(page.contains("Cổng dịch vụ công thử nghiệm") && page.contains("(this device)"), "{page}");
    assert_accessible(c, &axe, "account page").await;
    // Withdrawing the consent.
    click_and_wait(c, "form[action='/account/consents/revoke'] button").await;
    assert!(text_of(c, "main").await.contains("You have not shared data with any application."));
    click_and_wait(c, "form[action='/signout'] button").await;

    // Registration, activation and password-reset pages, with their error summaries.
    c.goto(&app.url("/register?lang=vi")).await.unwrap();
    assert_eq!(text_of(c, "h1").await, "Đăng ký tài khoản");
    assert_accessible(c, &axe, "registration").await;
    fill(c, "pid", "12").await;
    fill(c, "full_name", "Trần Thị Bình").await;
    fill(c, "birth_date", "02/07/1990").await; // as Vietnamese forms write it
    fill(c, "phone", "0912345678").await;
    click_and_wait(c, "form[action='/register'] button").await;
    assert!(text_of(c, ".error-summary").await.contains("12 chữ số"));
    assert_accessible(c, &axe, "registration with error").await;
    for (path, title) in
        [("/activate", "Kích hoạt tài khoản"), ("/forgot", "Quên mật khẩu"), ("/reset", "Đặt lại mật khẩu")]
    {
        c.goto(&app.url(path)).await.unwrap();
        assert_eq!(text_of(c, "h1").await, title);
        assert_accessible(c, &axe, path).await;
    }

    // An officer: password, then the TOTP code, then the console and the account desk.
    let second = app.account(BINH, 2).await.unwrap();
    app.state
        .identity
        .set_officer_role(BINH, civitas_identity::Role::RegistryOfficer, &[BA_DINH.to_owned()], "test", civitas::now())
        .await
        .unwrap();
    c.goto(&app.url("/signin?lang=vi")).await.unwrap();
    fill(c, "pid", BINH).await;
    fill(c, "password", PASSWORD).await;
    click_and_wait(c, "form[action='/signin'] button").await;
    assert_eq!(text_of(c, "h1").await, "Xác thực bước hai");
    assert_accessible(c, &axe, "second factor").await;
    let secret = civitas_identity::totp::decode_secret(&second.totp_secret).unwrap();
    fill(c, "code", &civitas_identity::totp::code(&secret, civitas::now().unix_timestamp())).await;
    click_and_wait(c, "form[action='/signin/otp'] button").await;
    wait_for_path(c, "/officer/search").await;
    c.goto(&app.url(&format!("/officer/accounts?pid={AN}"))).await.unwrap();
    assert_eq!(text_of(c, "h1").await, "Tài khoản định danh điện tử");
    assert!(text_of(c, "main").await.contains("Nguyễn Văn An"));
    assert_accessible(c, &axe, "officer account desk").await;
    fill(c, "place", "Công an phường Ba Đình").await;
    click_and_wait(c, "form input[value='level2'] ~ button").await;
    assert!(text_of(c, "#notice").await.contains("Đã nâng lên mức 2"));
    assert_accessible(c, &axe, "officer raised level").await;
    let _ = browser.client.clone().close().await;
}

/// Signs the browser out of everything and in with an officer's token.
pub(crate) async fn officer_signs_in(c: &Client, app: &TestApp, role: Role) {
    c.delete_all_cookies().await.unwrap();
    c.goto(&app.url("/signin/token")).await.unwrap();
    let token = app.token(role, &[BA_DINH]);
    c.find(Locator::Id("token")).await.unwrap().send_keys(&token).await.unwrap();
    click_and_wait(c, "form[action='/signin/token'] button").await;
}

pub(crate) async fn citizen_signs_in(c: &Client, app: &TestApp) {
    citizen_signs_in_as(c, app, AN).await;
}

pub(crate) async fn citizen_signs_in_as(c: &Client, app: &TestApp, pid: &str) {
    c.delete_all_cookies().await.unwrap();
    c.goto(&app.url("/signin")).await.unwrap();
    fill(c, "pid", pid).await;
    fill(c, "password", PASSWORD).await;
    click_and_wait(c, "form[action='/signin'] button").await;
    wait_for_path(c, "/account").await;
}

pub(crate) async fn click_button(c: &Client, value: &str) {
    click_and_wait(c, &format!("button[value='{value}']")).await;
}

/// The one-stop pages end to end in Chromium: a citizen applies online for permanent residence
/// (the register fills the applicant, an empty form shows the error summary, check your answers,
/// confirmation with the code); the one-stop officer takes it from the work queue and receives
/// another dossier at the counter from a card QR; the specialist asks for a document; the
/// citizen supplies it; after approval the result is in the citizen's documents and the citizen
/// rates the service; anyone looks the status up. axe-core checks every page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizen_applies_online_and_officers_process_it_in_the_browser() {
    one_stop_in_the_browser(Backend::Sqlite).await;
}

/// The same on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizen_applies_online_and_officers_process_it_in_the_browser_on_postgres() {
    one_stop_in_the_browser(Backend::Postgres).await;
}

async fn one_stop_in_the_browser(backend: Backend) {
    let Some((axe, browser, app)) = setup_on(backend).await else { return };
    app.account(AN, 1).await;
    let c = &browser.client;
    let dir = temp_dir();
    let lease = dir.0.join("hop-dong-thue.pdf");
    std::fs::write(&lease, b"%PDF-1.4\n% lease\n%%EOF\n").unwrap();

    // The catalogue, searched without diacritics.
    citizen_signs_in(c, &app).await;
    click_and_wait(c, "nav.sub a[href='/services']").await;
    assert_accessible(c, &axe, "catalogue").await;
    fill(c, "q", "thuong tru").await;
    click_and_wait(c, "form[action='/services'] button").await;
    click_and_wait(c, "a[href='/services/DVC-03']").await;
    assert_eq!(text_of(c, "h1").await, "Đăng ký thường trú");
    assert!(text_of(c, "main").await.contains("không cần nộp: lấy từ Cơ sở dữ liệu quốc gia về dân cư"));
    assert_accessible(c, &axe, "procedure").await;
    click_and_wait(c, "a[href='/services/DVC-03/apply']").await;
    // The applicant comes from the register; nothing of it is a field.
    assert!(text_of(c, "#applicant + dl").await.contains("Nguyễn Văn An"));
    assert!(c.find(Locator::Css("input[name='field.full_name']")).await.is_err());
    assert_accessible(c, &axe, "apply").await;
    click_and_wait(c, "form[enctype='multipart/form-data'] button").await;
    let summary = text_of(c, ".error-summary").await;
    assert!(summary.contains("Thông tin này là bắt buộc.") && summary.contains("Tải lên giấy tờ này."), "{summary}");
    assert_accessible(c, &axe, "apply with errors").await;
    fill(c, "f-address", "Số 8 phố Kim Mã").await;
    // The commune by its name, typed without diacritics, within the chosen province.
    c.find(Locator::Css("#f-commune-province option[value='01']")).await.unwrap().click().await.unwrap();
    fill(c, "f-commune-name", "ba dinh").await;
    c.find(Locator::Css("#f-basis option[value='rented']")).await.unwrap().click().await.unwrap();
    c.find(Locator::Id("c-CHO_O")).await.unwrap().send_keys(lease.to_str().unwrap()).await.unwrap();
    click_and_wait(c, "form[enctype='multipart/form-data'] button").await;
    assert_eq!(text_of(c, "h1").await, "Kiểm tra thông tin trước khi nộp");
    let answers = text_of(c, "#answers").await;
    assert!(answers.contains("Thuê, mượn, ở nhờ") && answers.contains("hop-dong-thue.pdf"), "{answers}");
    assert!(answers.contains("Phường Ba Đình, Thành phố Hà Nội"), "the commune by name: {answers}");
    assert!(!answers.contains(BA_DINH), "no commune code shown: {answers}");
    assert_accessible(c, &axe, "check your answers").await;
    assert_eq!(text_of(c, "#step").await, "Bước 2/3 · Kiểm tra và nộp");
    // Going back to change an answer keeps every answer and the chosen document.
    click_and_wait(c, "#change-answers").await;
    assert_eq!(text_of(c, "#step").await, "Bước 1/3 · Điền tờ khai và giấy tờ");
    let value = |id: &'static str| async move {
        c.find(Locator::Id(id)).await.unwrap().prop("value").await.unwrap().unwrap_or_default()
    };
    assert_eq!(value("f-address").await, "Số 8 phố Kim Mã");
    assert_eq!(value("f-commune-name").await, "Phường Ba Đình");
    assert_eq!(value("f-commune-province").await, "01");
    assert!(!value("c-CHO_O-store").await.is_empty(), "the uploaded lease stays chosen");
    click_and_wait(c, "form[enctype='multipart/form-data'] button").await;
    assert_eq!(text_of(c, "h1").await, "Kiểm tra thông tin trước khi nộp");
    assert!(text_of(c, "#answers").await.contains("hop-dong-thue.pdf"));
    click_and_wait(c, "form[action='/services/DVC-03/submit'] button").await;
    assert_eq!(text_of(c, "#step").await, "Bước 3/3 · Đã nộp");
    assert_eq!(text_of(c, "h1").await, "Đã nộp hồ sơ");
    // The due date, and how far it is in working days (DVC-03: seven).
    let facts = text_of(c, "dl.summary").await;
    assert!(facts.contains("(còn 7 ngày làm việc)") || facts.contains("(còn 8 ngày làm việc)"), "{facts}");
    let code = text_of(c, "#new-code").await;
    assert!(code.starts_with("H01.1-"), "{code}");
    assert_accessible(c, &axe, "confirmation").await;

    // The one-stop officer: the work queue of the commune, the dossier, hand it on.
    officer_signs_in(c, &app, Role::OnestopOfficer).await;
    c.goto(&app.url("/officer/queue")).await.unwrap();
    assert!(text_of(c, "#queue").await.contains(&code));
    assert_accessible(c, &axe, "work queue").await;
    click_and_wait(c, &format!("a[href='/officer/dossiers/{code}']")).await;
    assert_accessible(c, &axe, "officer dossier").await;
    click_button(c, "start_processing").await;
    assert_eq!(text_of(c, "#dossier-state").await, "Đang xử lý");
    // Counter intake: the card QR, matched to the register, differences shown.
    c.goto(&app.url("/officer/counter")).await.unwrap();
    assert_accessible(c, &axe, "counter").await;
    fill(c, "card_qr", "079185000004||Le Thi Dung|01011985|Nữ|Số 10 phố Kim Mã|10102021").await;
    c.find(Locator::Css("#procedure option[value='DVC-05']")).await.unwrap().click().await.unwrap();
    click_and_wait(c, "form[action='/officer/counter'] button").await;
    assert_eq!(text_of(c, "#person-name").await, "Lê Thị Dung");
    assert!(text_of(c, "#mismatches").await.contains("Le Thi Dung"));
    assert_accessible(c, &axe, "counter with the person").await;
    fill(c, "f-destination", "Đà Nẵng").await;
    // Dates as Vietnamese forms ask them: day, month, year; or typed whole into the day field.
    fill(c, "f-from-day", "1").await;
    fill(c, "f-from-month", "12").await;
    fill(c, "f-from-year", "2026").await;
    fill(c, "f-until-day", "20/12/2026").await;
    click_and_wait(c, "form[action='/officer/counter'] button").await;
    let received = text_of(c, "main").await;
    assert!(received.starts_with("Hồ sơ cần xử lý") || received.contains("Hồ sơ H01.1-"), "{received}");
    assert!(text_of(c, "h1").await.starts_with("Hồ sơ H01.1-"), "{received}");

    // The specialist asks for a document: a reason is required.
    officer_signs_in(c, &app, Role::Specialist).await;
    c.goto(&app.url(&format!("/officer/dossiers/{code}"))).await.unwrap();
    click_button(c, "request_supplement").await;
    assert!(text_of(c, ".error-summary").await.contains("Ghi rõ nội dung"));
    assert_accessible(c, &axe, "officer dossier with error").await;
    fill(c, "note", "Hợp đồng thuê có công chứng").await;
    click_button(c, "request_supplement").await;
    assert_eq!(text_of(c, "#dossier-state").await, "Yêu cầu bổ sung");

    // The citizen supplies it from their dossier page.
    citizen_signs_in(c, &app).await;
    c.goto(&app.url(&format!("/my/dossiers/{code}"))).await.unwrap();
    let page = text_of(c, "main").await;
    assert!(page.contains("Hợp đồng thuê có công chứng"));
    // Dates and times as people read them: no ISO date, no UTC timestamp.
    assert!(!has_iso_date(&page), "an ISO date on the page: {page}");
    let due = text_of(c, "#dossier-due").await;
    assert!(due.len() == 10 && due.as_bytes()[2] == b'/' && due.as_bytes()[5] == b'/', "{due}");
    assert_accessible(c, &axe, "my dossier").await;
    let notarised = dir.0.join("cong-chung.pdf");
    std::fs::write(&notarised, b"%PDF-1.4\n% notarised\n%%EOF\n").unwrap();
    c.find(Locator::Id("s-CHO_O")).await.unwrap().send_keys(notarised.to_str().unwrap()).await.unwrap();
    click_and_wait(c, &format!("form[action='/my/dossiers/{code}/supplement'] button")).await;
    assert_eq!(text_of(c, "#dossier-state").await, "Đang xử lý");

    // Forward, approve, issue (the specialist and the leader).
    officer_signs_in(c, &app, Role::Specialist).await;
    c.goto(&app.url(&format!("/officer/dossiers/{code}"))).await.unwrap();
    click_button(c, "forward").await;
    officer_signs_in(c, &app, Role::Leader).await;
    c.goto(&app.url(&format!("/officer/dossiers/{code}"))).await.unwrap();
    click_button(c, "approve").await;
    officer_signs_in(c, &app, Role::Specialist).await;
    c.goto(&app.url(&format!("/officer/dossiers/{code}"))).await.unwrap();
    click_button(c, "issue_result").await;
    assert_eq!(text_of(c, "#dossier-state").await, "Đã có kết quả");

    // The result is in the citizen's store; the citizen rates the service.
    citizen_signs_in(c, &app).await;
    c.goto(&app.url("/my/documents")).await.unwrap();
    assert!(text_of(c, "#documents").await.contains("Kết quả giải quyết"));
    assert_accessible(c, &axe, "my documents").await;
    c.goto(&app.url(&format!("/my/dossiers/{code}"))).await.unwrap();
    assert!(c.find(Locator::Id("result-link")).await.is_ok());
    c.find(Locator::Id("r-very_satisfied")).await.unwrap().click().await.unwrap();
    click_and_wait(c, &format!("form[action='/my/dossiers/{code}/rate'] button")).await;
    assert!(text_of(c, "#rated").await.contains("Rất hài lòng"));

    // Anyone: the status by code and the last four digits.
    c.delete_all_cookies().await.unwrap();
    c.goto(&app.url("/status")).await.unwrap();
    fill(c, "code", &code).await;
    fill(c, "last4", &AN[8..]).await;
    click_and_wait(c, "form[action='/status'] button").await;
    assert_eq!(text_of(c, "#public-state").await, "Đã có kết quả");
    assert_accessible(c, &axe, "status").await;
}

/// A birth registered online by a parent in the browser (the interconnected procedure): the
/// officers approve and issue on their pages; the parent sees the follow-up at social insurance
/// in the dossier's timeline; the certificate's QR text checks as valid at /verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_registers_a_birth_and_the_certificate_verifies_in_the_browser() {
    birth_in_the_browser(Backend::Sqlite).await;
}

/// The same on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_registers_a_birth_and_the_certificate_verifies_in_the_browser_on_postgres() {
    birth_in_the_browser(Backend::Postgres).await;
}

async fn birth_in_the_browser(backend: Backend) {
    let Some((axe, browser, app)) = setup_on(backend).await else { return };
    app.account(BINH, 1).await;
    let c = &browser.client;
    let dir = temp_dir();
    let paper = dir.0.join("giay-chung-sinh.pdf");
    std::fs::write(&paper, b"%PDF-1.4\n% birth\n%%EOF\n").unwrap();

    citizen_signs_in_as(c, &app, BINH).await;
    c.goto(&app.url("/services/DVC-15/apply")).await.unwrap();
    fill(c, "f-child_name", "Nguyễn Thị Hoa").await;
    // Typed as a parent writes it: dd/mm/yyyy, whole, into the day field.
    let born = civitas_services::dossiers::local_today(civitas::now()) - time::Duration::days(4);
    let typed = format!("{:02}/{:02}/{}", born.day(), born.month() as u8, born.year());
    fill(c, "f-child_birth_date-day", &typed).await;
    c.find(Locator::Css("#f-child_sex option[value='female']")).await.unwrap().click().await.unwrap();
    fill(c, "f-birth_cert_no", "GCS-BROWSER-1").await;
    fill(c, "f-other_parent_pid", AN).await;
    c.find(Locator::Css("#f-live_with option[value='applicant']")).await.unwrap().click().await.unwrap();
    // The parent writes the ward as it was named before the 2025 merger: Phường Điện Biên went
    // whole into today's Phường Ba Đình.
    c.find(Locator::Css("#f-commune-province option[value='01']")).await.unwrap().click().await.unwrap();
    fill(c, "f-commune-name", "Phường Điện Biên").await;
    c.find(Locator::Id("c-GCS")).await.unwrap().send_keys(paper.to_str().unwrap()).await.unwrap();
    click_and_wait(c, "form[enctype='multipart/form-data'] button").await;
    assert_eq!(text_of(c, "h1").await, "Kiểm tra thông tin trước khi nộp");
    let answers = text_of(c, "#answers").await;
    assert!(answers.contains("Phường Ba Đình, Thành phố Hà Nội"), "{answers}");
    assert!(!has_iso_date(&answers), "{answers}");
    click_and_wait(c, "form[action='/services/DVC-15/submit'] button").await;
    let code = text_of(c, "#new-code").await;

    for (role, action) in [
        (Role::OnestopOfficer, "start_processing"),
        (Role::Specialist, "forward"),
        (Role::Leader, "approve"),
        (Role::Specialist, "issue_result"),
    ] {
        officer_signs_in(c, &app, role).await;
        c.goto(&app.url(&format!("/officer/dossiers/{code}"))).await.unwrap();
        click_button(c, action).await;
    }
    assert_eq!(text_of(c, "#dossier-state").await, "Đã có kết quả");
    assert!(text_of(c, "main").await.contains("số định danh của trẻ"));

    citizen_signs_in_as(c, &app, BINH).await;
    c.goto(&app.url(&format!("/my/dossiers/{code}"))).await.unwrap();
    assert!(text_of(c, "#follow-ups").await.contains("Cấp thẻ bảo hiểm y tế cho trẻ dưới 6 tuổi"));
    assert_accessible(c, &axe, "dossier with follow-ups").await;

    // Anyone checks the certificate with the text of its QR code.
    let certs = civitas_services::certificates::of_person(&app.db, BINH, 5).await.unwrap();
    let payload = certs[0].payload.clone();
    c.delete_all_cookies().await.unwrap();
    c.goto(&app.url("/verify")).await.unwrap();
    assert_accessible(c, &axe, "verify").await;
    fill(c, "payload", &payload).await;
    click_and_wait(c, "form[action='/verify'] button").await;
    let verdict = text_of(c, "#verdict").await;
    assert!(verdict.contains("Hợp lệ"), "{verdict}");
    assert!(text_of(c, "main").await.contains("Nguyễn Thị Hoa"));
    assert_accessible(c, &axe, "verify result").await;

    // Or by uploading the certificate's PDF; a file that is no certificate is told so.
    let claims: civitas_services::certificate_issue::CertClaims =
        civitas_identity::tokens::verify_jws(&app.state.keys, &payload).await.unwrap();
    let pdf = dir.0.join("giay-khai-sinh.pdf");
    std::fs::write(&pdf, civitas_services::papers::certificate(&claims, &payload).unwrap()).unwrap();
    c.goto(&app.url("/verify")).await.unwrap();
    c.find(Locator::Id("certificate")).await.unwrap().send_keys(pdf.to_str().unwrap()).await.unwrap();
    click_and_wait(c, "form[enctype='multipart/form-data'] button").await;
    let verdict = text_of(c, "#verdict").await;
    assert!(verdict.contains("Hợp lệ"), "{verdict}");
    assert!(text_of(c, "main").await.contains("Nguyễn Thị Hoa"));
    // The camera path: a photo of the code on the paper (a JPEG, what a phone's camera hands
    // the file field); its QR code is read on the server.
    if crate::one_stop::pdf_tools() {
        let photo = dir.0.join("anh-chup");
        let rendered = std::process::Command::new("pdftoppm")
            // A close-up of the QR code (600 dpi of the page's top right quarter), as a phone
            // held over the code photographs it.
            .args(["-r", "600", "-x", "2480", "-y", "0", "-W", "2480", "-H", "1754", "-jpeg", "-f", "1", "-l", "1"])
            .arg("-singlefile")
            .arg(&pdf)
            .arg(&photo)
            .status()
            .unwrap();
        assert!(rendered.success());
        let photo = dir.0.join("anh-chup.jpg");
        c.goto(&app.url("/verify")).await.unwrap();
        c.find(Locator::Id("certificate")).await.unwrap().send_keys(photo.to_str().unwrap()).await.unwrap();
        click_and_wait(c, "form[enctype='multipart/form-data'] button").await;
        let verdict = text_of(c, "#verdict").await;
        assert!(verdict.contains("Hợp lệ"), "the QR code read from the photo: {verdict}");
    }
    c.find(Locator::Id("certificate")).await.unwrap().send_keys(paper.to_str().unwrap()).await.unwrap();
    click_and_wait(c, "form[enctype='multipart/form-data'] button").await;
    assert!(text_of(c, ".error-summary").await.contains("không phải bản điện tử"));
    assert_accessible(c, &axe, "verify upload refused").await;
}

/// Whether `text` holds a date written `YYYY-MM-DD` (as machines write it, not people).
pub(crate) fn has_iso_date(text: &str) -> bool {
    text.as_bytes()
        .windows(10)
        .any(|w| w.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() }))
}
