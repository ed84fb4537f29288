//! The citizen's and the officer's main journeys in Chromium on a phone-sized and on a desktop
//! viewport, built from the design system's components: every page passes axe-core with no
//! violation at all, nothing is wider than the phone's screen, no page shows an ISO date or
//! asks for a commune code, and every page's screenshot is kept as a test artefact
//! (`target/screenshots/`; `UPDATE_SCREENSHOTS=1` also refreshes the README's pictures in
//! `docs/screenshots/`). Also: the commune type-ahead (old and split names), drafts, table
//! sorting and paging, and a certificate verified through the page's camera scanner fed by
//! Chromium's fake camera.

use std::path::PathBuf;

use civitas_identity::Role;
use fantoccini::{Client, Locator};

use crate::browser::*;
use crate::helpers::*;

const VIEWPORTS: [(&str, u32, u32); 2] = [("phone", 390, 844), ("desktop", 1280, 900)];

/// The pages shown in the README (viewport, page name).
const README_SHOTS: [(&str, &str); 6] = [
    ("desktop", "apply"),
    ("phone", "apply-type-ahead"),
    ("desktop", "dossier"),
    ("phone", "my-dossiers"),
    ("desktop", "officer-queue"),
    ("desktop", "style"),
];

struct Shots<'a> {
    c: &'a Client,
    axe: &'a str,
    viewport: &'static str,
    width: u32,
}

impl Shots<'_> {
    /// Checks the page the browser shows, and keeps its screenshot.
    async fn page(&self, name: &str) {
        let label = format!("{name} ({})", self.viewport);
        assert_accessible(self.c, self.axe, &label).await;
        let main = text_of(self.c, "body").await;
        assert!(!has_iso_date(&main), "{label} shows an ISO date: {main}");
        assert!(!has_iso_timestamp(&main), "{label} shows an ISO time");
        if self.viewport == "phone" {
            let wide: i64 = serde_json::from_value(
                self.c.execute("return document.documentElement.scrollWidth;", vec![]).await.unwrap(),
            )
            .unwrap();
            assert!(wide <= self.width as i64 + 1, "{label} is {wide} px wide on a {} px screen", self.width);
        }
        let png = self.c.screenshot().await.expect("screenshot");
        let file = format!("{}-{name}.png", self.viewport);
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(&file), &png).unwrap();
        if std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1")
            && README_SHOTS.iter().any(|(v, n)| *v == self.viewport && *n == name)
        {
            let docs = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/screenshots"));
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(docs.join(&file), &png).unwrap();
        }
    }
}

fn screenshot_dir() -> PathBuf {
    let target =
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    PathBuf::from(target).join("screenshots")
}

/// Whether `text` holds a machine timestamp (`2026-11-30T10:45:30`).
fn has_iso_timestamp(text: &str) -> bool {
    text.as_bytes().windows(19).any(|w| w[10] == b'T' && w[13] == b':' && w[16] == b':' && w[4] == b'-')
}

async fn value(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id)).await.unwrap().prop("value").await.unwrap().unwrap_or_default()
}

/// Waits until `css` matches an element (the type-ahead answers asynchronously).
async fn wait_for(c: &Client, css: &str) {
    for _ in 0..100 {
        if c.find(Locator::Css(css)).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no element {css} appeared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_journeys_on_a_phone_and_a_desktop() {
    let Some((axe, browser, app)) = setup().await else { return };
    app.account(AN, 1).await;
    app.grant("tester", "register", "kiểm tra hồ sơ", &["record"], &[], &["01"]).await;
    let c = &browser.client;
    let dir = temp_dir();
    let lease = dir.0.join("hop-dong-thue.pdf");
    std::fs::write(&lease, b"%PDF-1.4\n% lease\n%%EOF\n").unwrap();
    for (viewport, width, height) in VIEWPORTS {
        c.set_window_size(width, height).await.unwrap();
        let shots = Shots { c, axe: &axe, viewport, width };

        // ----- before signing in -----
        c.delete_all_cookies().await.unwrap();
        c.goto(&app.url("/signin")).await.unwrap();
        shots.page("signin").await;
        c.goto(&app.url("/register")).await.unwrap();
        // The date of birth as Vietnamese forms write it, never an ISO date.
        assert!(!text_of(c, "form").await.contains("YYYY"));
        shots.page("register").await;

        // ----- the citizen -----
        citizen_signs_in(c, &app).await;
        shots.page("account").await;
        c.goto(&app.url("/my/documents")).await.unwrap();
        shots.page("my-documents").await;
        c.goto(&app.url("/services")).await.unwrap();
        shots.page("services").await;
        c.goto(&app.url("/services/DVC-03")).await.unwrap();
        shots.page("procedure").await;
        click_and_wait(c, "a[href='/services/DVC-03/apply']").await;
        assert_eq!(text_of(c, "#step").await, "Bước 1/3 · Điền tờ khai và giấy tờ");
        // No commune code is asked: the picker takes a province and a name.
        assert!(!text_of(c, "form").await.to_lowercase().contains("mã xã"));
        shots.page("apply").await;

        // The type-ahead: a pre-2025 ward that was split offers each ward it became, explained.
        c.find(Locator::Css("#f-commune-province option[value='01']")).await.unwrap().click().await.unwrap();
        let name = c.find(Locator::Id("f-commune-name")).await.unwrap();
        name.clear().await.unwrap();
        name.send_keys("kim ma").await.unwrap();
        wait_for(c, "#f-commune-name[aria-expanded='true']").await;
        let options = text_of(c, "ul[role=listbox]").await;
        assert!(options.contains("Phường Giảng Võ") && options.contains("đã chia vào 3 xã/phường"), "{options}");
        shots.page("apply-type-ahead").await;
        // The keyboard chooses: down to the first suggestion, Enter.
        name.send_keys("\u{E015}").await.unwrap(); // ArrowDown
        assert!(c.find(Locator::Css("li[role=option][aria-selected=true]")).await.is_ok());
        name.send_keys("\u{E007}").await.unwrap(); // Enter
        let chosen = value(c, "f-commune-name").await;
        assert!(["Phường Ba Đình", "Phường Giảng Võ", "Phường Ngọc Hà"].contains(&chosen.as_str()), "{chosen}");
        assert!(c.find(Locator::Css("#f-commune-name[aria-expanded='false']")).await.is_ok());
        // Typed without the picker: today's ward by its name, without diacritics.
        fill(c, "f-commune-name", "ba dinh").await;
        fill(c, "f-address", "Số 8 phố Kim Mã").await;

        // Saved as a draft, and taken up again from "my dossiers".
        click_and_wait(c, "button[name='draft']").await;
        assert!(text_of(c, "#draft-notice").await.contains("Đã lưu nháp lúc"));
        assert_eq!(value(c, "f-address").await, "Số 8 phố Kim Mã");
        c.goto(&app.url("/my/dossiers")).await.unwrap();
        assert!(text_of(c, "#drafts").await.contains("Đăng ký thường trú"));
        shots.page("my-dossiers-draft").await;
        click_and_wait(c, "#drafts a").await;
        assert!(text_of(c, "#draft-notice").await.contains("bản nháp bạn đã lưu"));
        assert_eq!(value(c, "f-address").await, "Số 8 phố Kim Mã");
        assert_eq!(value(c, "f-commune-name").await, "Phường Ba Đình");

        // A split old name typed whole is explained in the error summary.
        fill(c, "f-commune-name", "Phường Kim Mã").await;
        c.find(Locator::Css("#f-basis option[value='rented']")).await.unwrap().click().await.unwrap();
        c.find(Locator::Id("c-CHO_O")).await.unwrap().send_keys(lease.to_str().unwrap()).await.unwrap();
        click_and_wait(c, "button:not([name])").await;
        let summary = text_of(c, ".error-summary").await;
        assert!(summary.contains("là tên trước 07/2025") && summary.contains("Phường Ngọc Hà"), "{summary}");
        shots.page("apply-split-commune").await;
        // The province chosen stays chosen; today's ward it went into is understood.
        assert_eq!(value(c, "f-commune-province").await, "01");
        fill(c, "f-commune-name", "Ba Đình").await;
        click_and_wait(c, "button:not([name])").await;
        if text_of(c, "#step").await != "Bước 2/3 · Kiểm tra và nộp" {
            panic!("not accepted: {}", text_of(c, ".error-summary").await);
        }
        shots.page("check-answers").await;
        click_and_wait(c, "form[action='/services/DVC-03/submit'] button").await;
        let code = text_of(c, "#new-code").await;
        assert!(text_of(c, "#dossier-state .tag").await.contains("Đã tiếp nhận"));
        shots.page("dossier").await;
        c.goto(&app.url("/my/dossiers")).await.unwrap();
        assert!(c.find(Locator::Id("drafts")).await.is_err(), "the submitted draft is gone");
        assert!(text_of(c, "#dossiers").await.contains(&code));
        shots.page("my-dossiers").await;
        c.goto(&app.url("/verify")).await.unwrap();
        shots.page("verify").await;
        c.goto(&app.url(&format!("/status?code={code}&last4={}", &AN[8..]))).await.unwrap();
        shots.page("status").await;

        // ----- the officer -----
        officer_signs_in(c, &app, Role::OnestopOfficer).await;
        c.goto(&app.url("/officer/queue")).await.unwrap();
        assert!(text_of(c, "#queue").await.contains(&code));
        // Sorting by a column says so to assistive technology, and keeps the filters.
        click_and_wait(c, "#queue th:nth-child(3) a").await;
        assert_eq!(
            c.find(Locator::Css("#queue th:nth-child(3)")).await.unwrap().attr("aria-sort").await.unwrap().as_deref(),
            Some("ascending")
        );
        shots.page("officer-queue").await;
        c.goto(&app.url(&format!("/officer/dossiers/{code}"))).await.unwrap();
        shots.page("officer-dossier").await;
        c.goto(&app.url("/officer/counter")).await.unwrap();
        shots.page("officer-counter").await;
        officer_signs_in(c, &app, Role::RegistryOfficer).await;
        fill(c, "q", "nguyen van an").await;
        click_and_wait(c, "form.search button").await;
        shots.page("officer-search").await;
        c.goto(&app.url(&format!("/officer/people/{AN}"))).await.unwrap();
        shots.page("officer-person").await;
        c.goto(&app.url(&format!("/officer/accounts?pid={AN}"))).await.unwrap();
        assert!(text_of(c, "main").await.contains("Nguyễn Văn An"));
        shots.page("officer-accounts").await;
        c.goto(&app.url("/dev/outbox")).await.unwrap();
        shots.page("dev-outbox").await;
        // The exchange's registry (operator) and the audit pages (auditor).
        officer_signs_in(c, &app, Role::Operator).await;
        c.goto(&app.url("/officer/exchange")).await.unwrap();
        assert!(text_of(c, "#grants").await.contains("kiểm tra hồ sơ"));
        shots.page("officer-exchange").await;
        fill(c, "system_id", "tester").await;
        fill(c, "purpose", "thử").await;
        fill(c, "legal_basis", "Luật Căn cước").await;
        fill(c, "fields", "shoe_size").await;
        fill(c, "units", "01").await;
        click_and_wait(c, "form[action='/officer/exchange/grants'] button").await;
        assert!(text_of(c, ".error-summary").await.contains("shoe_size"));
        shots.page("officer-exchange-error").await;
        officer_signs_in(c, &app, Role::Auditor).await;
        c.goto(&app.url("/officer/audit?actor=tester")).await.unwrap();
        assert!(text_of(c, "#access").await.contains(AN));
        shots.page("officer-audit").await;
        c.goto(&app.url("/officer/audit/alerts")).await.unwrap();
        shots.page("officer-alerts").await;

        // ----- the design system's own page -----
        c.goto(&app.url("/dev/style")).await.unwrap();
        shots.page("style").await;
        c.goto(&app.url("/dev/style?page=3#sample-table")).await.unwrap();
        assert!(text_of(c, ".pager").await.contains("Trang 3/3"));
        c.goto(&app.url("/dev/style?lang=en")).await.unwrap();
        assert_eq!(text_of(c, "h1").await, "Design system");
        shots.page("style-en").await;
        c.goto(&app.url("/dev/style?lang=vi")).await.unwrap();
    }
    let _ = browser.client.clone().close().await;
}

struct Certificate {
    pdf: Vec<u8>,
    child_name: &'static str,
}

/// A birth registered through the API to its result: the certificate's PDF.
async fn birth_certificate(app: &TestApp) -> Certificate {
    use serde_json::json;
    app.clients().await;
    app.account(BINH, 1).await;
    let mother = crate::one_stop::citizen_token(app, BINH).await;
    let desk = crate::civil::Desk::of(app, BA_DINH);
    let born = (civitas_services::dossiers::local_today(civitas::now()) - time::Duration::days(6)).to_string();
    let paper = crate::civil::upload(app, &mother, "giấy chứng sinh").await;
    let body = json!({ "procedure": "DVC-15", "fields": {
        "child_name": "Nguyễn Thị Lan", "child_birth_date": born, "child_sex": "female", "birth_cert_no": "GCS-CAM-1",
        "other_parent_pid": AN, "live_with": "applicant", "commune": BA_DINH },
        "components": { "GCS": paper } });
    let code = crate::civil::to_decision(app, &mother, &desk, body).await;
    assert_eq!(crate::civil::act(app, &desk.chief, &code, json!({ "action": "approve" })).await.status(), 200);
    assert_eq!(crate::civil::act(app, &desk.clerk, &code, json!({ "action": "issue_result" })).await.status(), 200);
    let certs = civitas_services::certificates::of_person(&app.db, BINH, 5).await.unwrap();
    let payload = certs.first().expect("the birth certificate").payload.clone();
    let claims: civitas_services::certificate_issue::CertClaims =
        civitas_identity::tokens::verify_jws(&app.state.keys, &payload).await.unwrap();
    Certificate {
        pdf: civitas_services::papers::certificate(&claims, &payload).unwrap(), child_name: "Nguyễn Thị Lan"
    }
}

/// A YUV4MPEG2 video of one grey picture (`pgm`: a binary PGM, even width and height), which
/// Chromium's fake camera plays in a loop.
fn y4m_of_pgm(pgm: &[u8]) -> Vec<u8> {
    // P5\n<w> <h>\n255\n<bytes>
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&pgm[start..at]).into_owned());
    }
    at += 1;
    assert_eq!(fields[0], "P5");
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let (w2, h2) = (w & !1, h & !1);
    let mut out = format!("YUV4MPEG2 W{w2} H{h2} F5:1 Ip A1:1 C420jpeg\n").into_bytes();
    out.extend_from_slice(b"FRAME\n");
    for row in 0..h2 {
        out.extend_from_slice(&pgm[at + row * w..at + row * w + w2]);
    }
    out.extend(std::iter::repeat_n(128u8, w2 * h2 / 2));
    out
}

/// A paper certificate held in front of the camera: Chromium's fake camera plays a picture of
/// the certificate's PDF (rendered by poppler), the page's scanner sends frames to the server
/// (Chromium on Linux has no barcode detector), and the verdict page says valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_is_verified_with_the_camera() {
    if !crate::one_stop::pdf_tools() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("poppler's pdftoppm is required in CI");
        }
        eprintln!("\n*** SKIPPED camera test: pdftoppm missing (run scripts/setup-test-env) ***\n");
        return;
    }
    let Some(axe) = axe_source() else { return };
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    let certificate = birth_certificate(&app).await;
    let dir = temp_dir();
    let pdf = dir.0.join("giay-khai-sinh.pdf");
    std::fs::write(&pdf, &certificate.pdf).unwrap();
    // The QR code (4.2 cm) with some paper around it at 500 dpi, in grey, 1280 × 960 (the size
    // the page asks the camera for, so Chromium does not crop or scale it): what a phone held
    // close over the code sees (the page asks for that; the decoder does not read a code of
    // about 5 pixels per module, as a whole A4 page photographed at 300 dpi gives).
    let shot = dir.0.join("camera");
    let rendered = std::process::Command::new("pdftoppm")
        .args([
            "-r",
            "500",
            "-x",
            "2690",
            "-y",
            "190",
            "-W",
            "1280",
            "-H",
            "960",
            "-gray",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
        ])
        .arg(&pdf)
        .arg(&shot)
        .status()
        .unwrap();
    assert!(rendered.success());
    let pgm = std::fs::read(dir.0.join("camera.pgm")).unwrap();
    let video = dir.0.join("camera.y4m");
    std::fs::write(&video, y4m_of_pgm(&pgm)).unwrap();
    let Some(browser) = browser_with(&[
        "--use-fake-ui-for-media-stream".into(),
        "--use-fake-device-for-media-stream".into(),
        format!("--use-file-for-fake-video-capture={}", video.display()),
    ])
    .await
    else {
        return;
    };
    let c = &browser.client;
    c.goto(&app.url("/verify")).await.unwrap();
    wait_for(c, "#camera:not([hidden])").await;
    assert_accessible(c, &axe, "verify with the camera").await;
    c.find(Locator::Id("camera-start")).await.unwrap().click().await.unwrap();
    for _ in 0..600 {
        if c.current_url().await.is_ok_and(|u| u.query().is_some_and(|q| q.contains("payload="))) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if c.find(Locator::Css("#verdict")).await.is_err() {
        if let Ok(v) = c.execute("const v = document.querySelector('video'); const k = document.createElement('canvas'); k.width = v.videoWidth; k.height = v.videoHeight; k.getContext('2d').drawImage(v, 0, 0); return k.toDataURL('image/jpeg', 0.92);", vec![]).await {
            use base64::Engine;
            let url = v.as_str().unwrap_or_default().to_owned();
            let bytes = base64::engine::general_purpose::STANDARD.decode(url.split(',').nth(1).unwrap_or_default()).unwrap_or_default();
            // What the camera showed, kept beside the screenshots for whoever looks into it.
            let _ = std::fs::create_dir_all(screenshot_dir());
            let _ = std::fs::write(screenshot_dir().join("camera-frame.jpg"), bytes);
        }
        let status = c.find(Locator::Id("camera-status")).await.ok();
        let status = match status {
            Some(e) => e.text().await.unwrap_or_default(),
            None => String::new(),
        };
        panic!(
            "the camera read no code: the page says {status:?} at {:?}",
            c.current_url().await.map(|u| u.to_string())
        );
    }
    let verdict = text_of(c, "#verdict").await;
    assert!(verdict.contains("Hợp lệ"), "the camera's picture verified: {verdict}");
    assert!(text_of(c, "main").await.contains(certificate.child_name));
    assert_accessible(c, &axe, "verify result from the camera").await;
    let _ = browser.client.clone().close().await;
}
