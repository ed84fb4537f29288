//! The steering pages in Chromium (issue #17, parts 3 and 4): a provincial leader's dashboard
//! shows the same form 06a as the API, its charts with their tables, drills down to a commune,
//! answers a bad period on the page and exports CSV; the public index page draws the provinces;
//! a committee is set up, a member added, a task pointing at an indicator assigned, progress
//! reported with an attachment that downloads with the same bytes, an overdue task flagged,
//! and someone who is neither owner nor secretary cannot report. axe-core checks every page.

use fantoccini::{Client, Locator};
use serde_json::Value;

use civitas_identity::Role;

use crate::browser::{assert_accessible, click_and_wait, fill, setup, text_of};
use crate::helpers::*;
use crate::reports::{caught_up, drive, form_values, month_id};
use civitas_services::dossiers::local_today;

/// Signs in to the officer pages with a token (the token sign-in page).
pub(crate) async fn sign_in(c: &Client, app: &TestApp, token: &str) {
    c.delete_all_cookies().await.unwrap();
    c.goto(&app.url("/signin/token")).await.unwrap();
    c.find(Locator::Id("token")).await.unwrap().send_keys(token).await.unwrap();
    click_and_wait(c, "form[action='/signin/token'] button").await;
}

/// The numbers of the first row of a table (after its first cell).
async fn first_row_numbers(c: &Client, table: &str) -> Vec<i64> {
    let row = c.find(Locator::Css(&format!("#{table} tbody tr"))).await.unwrap();
    let mut out = Vec::new();
    for cell in row.find_all(Locator::Css("td")).await.unwrap().iter().skip(1) {
        out.push(cell.text().await.unwrap().trim().parse().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_steering_dashboard_and_committees_in_the_browser() {
    let Some((axe, browser, app)) = setup().await else { return };
    let c = &browser.client;
    let s = drive(&app).await;
    caught_up(&app).await;
    let leader = app.token(Role::Leader, &["01"]);
    let period = month_id(s.first);

    // The dashboard's form 06a equals the API's.
    let api: Value =
        app.get(&format!("/api/v1/reports/06a?unit=01&period={period}"), &leader).await.json().await.unwrap();
    let expected: Vec<i64> = form_values(&api["form"]).to_vec();
    sign_in(c, &app, &leader).await;
    c.goto(&app.url(&format!("/officer/reports?unit=01&period={period}"))).await.unwrap();
    assert_eq!(first_row_numbers(c, "form-06a").await, expected);
    assert!(expected[0] > 0, "the scenario's dossiers are in the month");
    for chart in ["index-groups", "index-trend"] {
        let svg = c.find(Locator::Id(chart)).await.unwrap();
        assert_eq!(svg.attr("role").await.unwrap().as_deref(), Some("img"));
    }
    assert!(text_of(c, "#trend-table").await.contains(&period));
    let index: Value = app
        .client
        .get(app.url(&format!("/api/v1/index/01?period={period}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(text_of(c, "#index-total").await, format!("{:.2} / 100", index["total"].as_f64().unwrap()));
    assert!(text_of(c, "#per-official").await.contains("cv-"), "{}", text_of(c, "#per-official").await);
    assert_accessible(c, &axe, "steering dashboard").await;
    // Drill down to a commune.
    click_and_wait(c, &format!("#form-06a a[href*='unit={BA_DINH}']")).await;
    assert!(text_of(c, "h1").await.contains("Ba Đình"), "{}", text_of(c, "h1").await);
    // The CSV export from the page.
    let script = "const done = arguments[arguments.length - 1];
        fetch(document.querySelector('a[href*=\"table=06a\"][href*=\"format=csv\"]').href)
          .then(r => r.arrayBuffer().then(b => done([r.status, new TextDecoder('utf-8', {ignoreBOM: true}).decode(b)])));";
    let got = c.execute_async(script, vec![]).await.unwrap();
    assert_eq!(got[0], 200);
    let csv = got[1].as_str().unwrap();
    assert!(csv.starts_with('\u{feff}') && csv.contains(&format!("\r\n{BA_DINH},Phường Ba Đình,")), "{got}");
    // A bad export format or period is answered with a page, not a file.
    c.goto(&app.url("/officer/reports/export?table=06a&unit=01&format=pdf")).await.unwrap();
    assert!(text_of(c, "main").await.contains("pdf"));
    // A bad period is answered on the page.
    c.goto(&app.url("/officer/reports?unit=01&period=2026Q7")).await.unwrap();
    assert!(text_of(c, ".error-summary").await.contains("2026Q7"), "{}", text_of(c, ".error-summary").await);
    assert_accessible(c, &axe, "dashboard with a bad period").await;
    // Outside the leader's units: refused.
    c.goto(&app.url("/officer/reports?unit=79")).await.unwrap();
    assert_eq!(text_of(c, "h1").await, "Không có quyền truy cập");

    // The public index.
    c.delete_all_cookies().await.unwrap();
    c.goto(&app.url(&format!("/index766?period={period}"))).await.unwrap();
    assert!(text_of(c, "#province-index").await.contains("Hà Nội"));
    assert_eq!(c.find_all(Locator::Css("#province-map a rect")).await.unwrap().len(), 34);
    assert_accessible(c, &axe, "public index").await;

    // A committee, a member, tasks, a report with an attachment.
    sign_in(c, &app, &leader).await;
    c.goto(&app.url("/officer/committees?unit=01")).await.unwrap();
    assert_accessible(c, &axe, "committees").await;
    click_and_wait(c, "form[action='/officer/committees'] button").await;
    assert!(text_of(c, ".error-summary").await.contains("name"), "an empty name is named");
    fill(c, "name", "Ban Chỉ đạo Đề án 06 thành phố").await;
    click_and_wait(c, "form[action='/officer/committees'] button").await;
    assert_eq!(text_of(c, "h1").await, "Ban Chỉ đạo Đề án 06 thành phố");
    let committee = c.current_url().await.unwrap().path().to_owned();
    fill(c, "member", "tester").await;
    fill(c, "name", "Nguyễn Văn Hùng").await;
    fill(c, "position", "Phó Chủ tịch UBND").await;
    click_and_wait(c, "form[action$='/members'] button").await;
    assert!(text_of(c, "#members").await.contains("Nguyễn Văn Hùng"));
    // Bad input is named on the page and nothing is assigned.
    fill(c, "title", "Đạt 80 % hồ sơ trực tuyến").await;
    fill(c, "deadline", "30/06/2099").await;
    click_and_wait(c, "form[action$='/tasks'] button").await;
    assert!(text_of(c, ".error-summary").await.contains("YYYY-MM-DD"), "{}", text_of(c, ".error-summary").await);
    fill(c, "title", "Đạt 80 % hồ sơ trực tuyến").await;
    fill(c, "deadline", "2099-06-30").await;
    c.find(Locator::Css("#indicator option[value='dossiers.online_share']")).await.unwrap().click().await.unwrap();
    fill(c, "target", "tám mươi").await;
    click_and_wait(c, "form[action$='/tasks'] button").await;
    assert!(text_of(c, ".error-summary").await.contains("a number"), "{}", text_of(c, ".error-summary").await);
    assert_accessible(c, &axe, "committee with an error").await;
    assert!(
        text_of(c, "#tasks").await.is_empty() || !text_of(c, "#tasks").await.contains("Đạt 80"),
        "nothing assigned"
    );
    fill(c, "title", "Đạt 80 % hồ sơ trực tuyến").await;
    fill(c, "deadline", "2099-06-30").await;
    c.find(Locator::Css("#indicator option[value='dossiers.online_share']")).await.unwrap().click().await.unwrap();
    fill(c, "target", "80").await;
    click_and_wait(c, "form[action$='/tasks'] button").await;
    let task = c.current_url().await.unwrap().path().to_owned();
    assert!(task.starts_with("/officer/tasks/NV-"), "{task}");
    // 2099 has not begun: the page shows this year's figure so far, as the API gives it.
    let not_begun = app.get("/api/v1/indicators/dossiers.online_share?unit=01&period=2099", &leader).await;
    assert_eq!(expect_problem(not_begun, 400).await["type"], "urn:civitas:problem:period-not-begun");
    let year = local_today(civitas::now()).year();
    let online: Value = app
        .get(&format!("/api/v1/indicators/dossiers.online_share?unit=01&period={year}"), &leader)
        .await
        .json()
        .await
        .unwrap();
    let shown = online["value"]["value"].as_f64().map(|x| format!("{x:.2}")).unwrap_or_else(|| "–".into());
    assert_eq!(text_of(c, "#indicator-value").await, shown, "{online}");
    assert!(text_of(c, "#indicator-period").await.contains(&year.to_string()));
    assert_accessible(c, &axe, "task").await;
    let dir = temp_dir();
    let file = dir.0.join("bien-ban.pdf");
    std::fs::write(&file, b"%PDF-1.4\n% hop giao ban\n%%EOF\n").unwrap();
    for (bad, says) in [("bốn mươi", "0"), ("150", "0 to 100")] {
        fill(c, "progress", bad).await;
        fill(c, "note", "x").await;
        click_and_wait(c, "form[enctype='multipart/form-data'] button").await;
        assert!(text_of(c, ".error-summary").await.contains(says), "{bad}: {}", text_of(c, ".error-summary").await);
    }
    assert_eq!(text_of(c, "#task-progress").await, "0 %", "nothing recorded");
    fill(c, "progress", "40").await;
    fill(c, "note", "Đã tuyên truyền tại 3 tổ dân phố").await;
    c.find(Locator::Id("attachment")).await.unwrap().send_keys(file.to_str().unwrap()).await.unwrap();
    click_and_wait(c, "form[enctype='multipart/form-data'] button").await;
    assert_eq!(text_of(c, "#task-progress").await, "40 %");
    let link = c.find(Locator::Css("#reports a")).await.unwrap().attr("href").await.unwrap().unwrap();
    let script = format!(
        "const done = arguments[arguments.length - 1]; fetch('{link}').then(r => r.text().then(t => done([r.status, t])));"
    );
    let got = c.execute_async(&script, vec![]).await.unwrap();
    assert_eq!(got, serde_json::json!([200, "%PDF-1.4\n% hop giao ban\n%%EOF\n"]));
    // An overdue task is flagged, and counted.
    c.goto(&app.url(&committee)).await.unwrap();
    fill(c, "title", "Rà soát dữ liệu dân cư").await;
    fill(c, "deadline", "2020-01-31").await;
    click_and_wait(c, "form[action$='/tasks'] button").await;
    c.goto(&app.url(&committee)).await.unwrap();
    assert!(text_of(c, "#tasks").await.contains("quá hạn"));
    c.goto(&app.url("/officer/committees?unit=01")).await.unwrap();
    let today = civitas_services::dossiers::local_today(civitas::now());
    let counts = civitas_reports::committees::task_counts(&app.db, "01", today).await.unwrap();
    let province = counts.iter().find(|l| l.level == "province").unwrap();
    assert_eq!(
        (province.committees, province.tasks, province.in_progress, province.overdue),
        (1, 2, 2, 1),
        "{counts:?}"
    );
    let shown = c.find_all(Locator::Css("#levels tbody tr:first-child td")).await.unwrap();
    let mut cells = Vec::new();
    for td in shown {
        cells.push(td.text().await.unwrap());
    }
    assert_eq!(cells[1..], ["1", "2", "0", "2", "0", "1"], "the page shows the counts");
    // Another officer of the province sees the task, but may not report on it.
    let other = civitas_identity::tokens::issue(
        &app.state.keys,
        "someone-else",
        Role::Specialist,
        &[civitas_core::UnitCode::parse("01").unwrap()],
        civitas::now().unix_timestamp(),
        3600,
    );
    sign_in(c, &app, &other).await;
    c.goto(&app.url(&task)).await.unwrap();
    assert!(c.find(Locator::Css("form[enctype='multipart/form-data']")).await.is_err(), "no report form");
    // A commune officer does not see the province's committee at all.
    sign_in(c, &app, &app.token(Role::Leader, &[BA_DINH])).await;
    c.goto(&app.url(&committee)).await.unwrap();
    assert_eq!(text_of(c, "h1").await, "Không tìm thấy");
    let _ = browser.client.clone().close().await;
}
