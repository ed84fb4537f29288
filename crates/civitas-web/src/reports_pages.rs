//! The steering pages: a leader's dashboard per unit (headline figures against the previous
//! period, the Decision 766 score with its groups and a 12-month trend, form 06a with the units
//! below, on-time rates per procedure and per official, the committees' tasks), its exports,
//! and the public page of the index per province on a tile-grid cartogram. Figures come from
//! `civitas_reports` (the facts kept from the event log); charts are SVG drawn by
//! [`crate::charts`], each with a table of the same figures.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use civitas_core::period::Period;
use civitas_reports::fold::m;
use civitas_reports::query::{self, Scope, Window};

use crate::AppState;
use crate::auth::Caller;
use crate::charts;
use crate::i18n::{Lang, tr};
use crate::pages::{PageContext, csrf_of, layout, page};
use crate::reports_api::{Format, download, format_of, table_06a};
use crate::ui::{Tone, banner, error_summary};

pub fn routes() -> axum::Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/officer/reports", get(dashboard))
        .route("/officer/reports/export", get(export))
        .route("/index766", get(public_index))
        .into_router()
}

#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    unit: Option<String>,
    period: Option<String>,
    lang: Option<String>,
    format: Option<String>,
    table: Option<String>,
}

/// A refused request as a page: the problem's status and its detail in words.
pub(crate) fn problem_page(state: &AppState, headers: &HeaderMap, lang: Lang, p: &crate::problem::Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
    let key = match status {
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        _ => "error.page",
    };
    crate::pages::message_page(state, headers, lang, status, key, &p.detail)
}

fn internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a steering page failed");
    crate::problem::Problem::internal().into_response()
}

/// The headline indicators, in the order shown.
const HEADLINES: &[&str] = &[
    "dossiers.received",
    "dossiers.processed",
    "dossiers.on_time_rate",
    "dossiers.online_share",
    "dossiers.in_progress.late",
    "ratings.satisfaction",
    "eid.created.level2",
    "cards.returned",
];

fn number(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "–".into(),
        Some(v) if unit == "%" => format!("{v:.2} %"),
        Some(v) if v.fract() == 0.0 => format!("{}", v as i64),
        Some(v) => format!("{v:.2}"),
    }
}

fn period_links(lang: Lang, unit: &str, p: &Period) -> Markup {
    let start = p.start();
    let (y, mo) = (start.year(), start.month() as u8);
    let options = [
        (tr(lang, "Tháng", "Month"), Period::Month { year: y, month: mo }),
        (tr(lang, "Quý", "Quarter"), Period::Quarter { year: y, quarter: (mo - 1) / 3 + 1 }),
        (tr(lang, "6 tháng", "6 months"), Period::SixMonths { year: y, half: if mo <= 6 { 1 } else { 2 } }),
        (tr(lang, "9 tháng", "9 months"), Period::NineMonths { year: y }),
        (tr(lang, "Năm", "Year"), Period::Year(y)),
    ];
    let href = |q: &Period| format!("/officer/reports?unit={unit}&period={q}");
    html! {
        nav class="sub-nav" aria-label=(tr(lang, "Kỳ báo cáo", "Reporting period")) {
            ul {
                li { a href=(href(&p.previous())) rel="prev" { "← " (p.previous().label(lang.code())) } }
                @for (label, q) in &options {
                    li { a href=(href(q)) aria-current=[(q == p).then_some("page")] { (label) } }
                }
            }
        }
    }
}

async fn dashboard(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<DashboardQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let unit = match crate::reports_api::requested_unit(&caller, q.unit.as_deref()) {
        Ok(u) => u,
        Err(p) => return problem_page(&state, &headers, lang, &p),
    };
    // The year so far unless a period is asked for.
    let (window, errors) = match crate::reports_api::window_of(q.period.as_deref(), None, true) {
        Ok(w) => (w, Vec::new()),
        Err(p) => (crate::reports_api::this_year(), vec![("period".to_owned(), p.detail)]),
    };
    match render(&state, &headers, lang, &caller, &unit, &window, &errors).await {
        Ok(r) => r,
        Err(e) => internal(&e),
    }
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    unit: &str,
    window: &Window,
    errors: &[(String, String)],
) -> Result<Response, civitas_reports::ReportError> {
    let db = &state.db;
    let cat = &state.indicators;
    let period = &window.period;
    let heads: Vec<&civitas_reports::Indicator> = HEADLINES.iter().filter_map(|c| cat.get(c)).collect();
    let scope = Scope::unit(unit);
    let now = query::values(db, &heads, &scope, window).await?;
    let before = query::values(db, &heads, &scope, &window.previous()).await?;
    let index = query::index(db, cat, unit, window).await?;
    let mut units = vec![unit.to_owned()];
    units.extend(query::children(unit));
    let forms = query::forms_06a(db, &units, "", window).await?;
    let mut trend = Vec::new();
    for mo in query::last_12_months(window.as_of()) {
        trend.push((mo.period.to_string(), query::index(db, cat, unit, &mo).await?.total));
    }
    let outcome = [m::EARLY, m::ON_TIME, m::LATE];
    let procedures = query::by_dim(db, unit, "p", &[&[m::RECEIVED][..], &outcome[..]].concat(), window).await?;
    let officials = query::by_dim(db, unit, "o", &outcome, window).await?;
    let tasks =
        civitas_reports::committees::task_counts(db, unit, civitas_services::dossiers::local_today(crate::now()))
            .await?;

    let name = query::unit_name(unit);
    let title = format!("{} · {name}", tr(lang, "Điều hành Đề án 06", "Project 06 steering"));
    let rate = |g: &HashMap<String, i64>| {
        let done: i64 = outcome.iter().map(|k| g.get(*k).copied().unwrap_or(0)).sum();
        let good = g.get(m::EARLY).copied().unwrap_or(0) + g.get(m::ON_TIME).copied().unwrap_or(0);
        (done, if done > 0 { Some(good as f64 * 100.0 / done as f64) } else { None })
    };
    let export = |table: &str, format: &str| {
        format!("/officer/reports/export?table={table}&unit={unit}&period={period}&format={format}")
    };
    let group_names = [
        tr(lang, "Công khai, minh bạch", "Openness and transparency"),
        tr(lang, "Tiến độ, kết quả giải quyết", "Timeliness and results"),
        tr(lang, "Số hóa hồ sơ", "Digitisation"),
        tr(lang, "Cung cấp dịch vụ trực tuyến", "Online services"),
        tr(lang, "Mức độ hài lòng", "Satisfaction"),
    ];
    let group_label = |g: u8| group_names.get(usize::from(g).saturating_sub(1)).copied().unwrap_or("?");
    let (csrf, fresh) = csrf_of(state, headers);
    let body = html! {
        h1 { (tr(lang, "Điều hành Đề án 06", "Project 06 steering")) " " small { (name) " · " (period.label(lang.code())) (as_of_label(lang, window)) } }
        (error_summary(lang, errors))
        (period_links(lang, unit, period))
        form method="get" action="/officer/reports" class="inline-form" {
            input type="hidden" name="unit" value=(unit);
            label for="period" { (tr(lang, "Kỳ (2026, 2026Q3, 2026S1, 2026N9, 202611, 20261130)", "Period (2026, 2026Q3, 2026S1, 2026N9, 202611, 20261130)")) }
            input id="period" name="period" value=(period.to_string()) class="width-10";
            button type="submit" { (tr(lang, "Xem", "Show")) }
        }
        h2 { (tr(lang, "Chỉ tiêu chính", "Headline figures")) }
        dl id="headlines" class="figures" {
            @for ((i, v), b) in heads.iter().zip(&now).zip(&before) {
                div class="figure" id=(format!("figure-{}", i.code.replace('.', "-"))) {
                    dt { (i.name(lang.code())) }
                    dd class="value" { (number(v.value, &i.unit)) }
                    dd class="trend" {
                        @match (v.value, b.value) {
                            (Some(x), Some(y)) if x > y => { "▲ " (number(Some(x - y), &i.unit)) " " (tr(lang, "so với kỳ trước", "on the previous period")) }
                            (Some(x), Some(y)) if x < y => { "▼ " (number(Some(y - x), &i.unit)) " " (tr(lang, "so với kỳ trước", "on the previous period")) }
                            (Some(_), Some(_)) => { (tr(lang, "như kỳ trước", "as in the previous period")) }
                            _ => { (tr(lang, "kỳ trước: –", "previous period: –")) }
                        }
                        @if let (Some(t), Some(met)) = (v.target, v.met) {
                            br; (tr(lang, "Mục tiêu", "Target")) " " (number(Some(t), &i.unit)) ": "
                            (crate::ui::tag(if met { Tone::Success } else { Tone::Warning }, if met { tr(lang, "đạt", "met") } else { tr(lang, "chưa đạt", "not met") }))
                        }
                    }
                }
            }
        }
        h2 { (tr(lang, "Chỉ số phục vụ người dân, doanh nghiệp (Quyết định 766/QĐ-TTg)", "Service index (Decision 766/QĐ-TTg)")) }
        p id="index-total" class="big" { (format!("{:.2}", index.total)) " / 100" }
        (charts::bars("index-groups", tr(lang, "Điểm theo nhóm chỉ số", "Points per group"),
            &index.groups.iter().map(|(g, e, p)| (format!("{g}. {}", group_label(*g)), *e, *p)).collect::<Vec<_>>()))
        (crate::ui::Table::simple("index-table",
            &[tr(lang, "Chỉ số", "Sub-indicator"), tr(lang, "Tỷ lệ", "Rate"), tr(lang, "Điểm", "Points"), tr(lang, "Ghi chú", "Note")],
            index.scores.iter().map(|s| {
                let i = cat.get(&s.code);
                vec![
                    html! { (s.number) " " (i.map(|i| i.name(lang.code())).unwrap_or(&s.code)) },
                    html! { (number(s.value.value, i.map(|i| i.unit.as_str()).unwrap_or("%"))) },
                    html! { (format!("{:.2}", s.points)) " / " (s.max_points) },
                    html! { @if let Some(why) = i.and_then(|i| i.not_measured.as_deref()) { (tr(lang, "Chưa đo: ", "Not measured: ")) (why) } },
                ]
            }).collect()))
        h3 { (tr(lang, "Diễn biến 12 tháng", "The last 12 months")) }
        (charts::line("index-trend", tr(lang, "Tổng điểm theo tháng", "Total points per month"),
            &trend.iter().map(|(k, v)| (k[4..].to_owned(), Some(*v))).collect::<Vec<_>>(), 100.0))
        (crate::ui::Table::simple("trend-table", &[tr(lang, "Tháng", "Month"), tr(lang, "Tổng điểm", "Total")],
            trend.iter().map(|(k, v)| vec![html! { (k) }, html! { (format!("{v:.2}")) }]).collect()))
        h2 { (tr(lang, "Tình hình giải quyết TTHC (mẫu 06a)", "Dossiers processed (form 06a)")) }
        p {
            a href=(export("06a", "csv")) download { (tr(lang, "Tải CSV", "Download CSV")) } " · "
            a href=(export("06a", "xlsx")) download { (tr(lang, "Tải Excel (XLSX)", "Download Excel (XLSX)")) }
        }
        (form_table(lang, &forms))
        h2 { (tr(lang, "Theo thủ tục", "Per procedure")) }
        @let months = query::breakdown_months(window);
        @if !query::pieces_of(window).iter().all(|p| p.monthly) {
            p class="hint" { (tr(lang, "Số liệu theo thủ tục và theo cán bộ được lưu theo tháng: các tháng ", "Per-procedure and per-official figures are kept per month: the months "))
                (months.from) " – " (months.to) (tr(lang, " (không kể tháng cuối)", " (the last excluded)")) }
        }
        (crate::ui::Table::simple("per-procedure",
            &[tr(lang, "Thủ tục", "Procedure"), tr(lang, "Tiếp nhận", "Received"), tr(lang, "Đã giải quyết", "Processed"), tr(lang, "Đúng hạn", "On time")],
            procedures.iter().map(|(code, g)| {
                let (done, r) = rate(g);
                let p = state.catalogue.get(code).map(|p| if lang == Lang::En { p.name_en.clone() } else { p.name_vi.clone() }).unwrap_or_else(|| code.clone());
                vec![html! { (p) " " small { (code) } }, html! { (g.get(m::RECEIVED).copied().unwrap_or(0)) }, html! { (done) }, html! { (number(r, "%")) }]
            }).collect()))
        h2 { (tr(lang, "Theo cán bộ", "Per official")) }
        (crate::ui::Table::simple("per-official",
            &[tr(lang, "Cán bộ", "Official"), tr(lang, "Trước hạn", "Early"), tr(lang, "Đúng hạn", "On time"), tr(lang, "Quá hạn", "Late"), tr(lang, "Tỷ lệ đúng hạn", "On-time rate")],
            officials.iter().map(|(who, g)| {
                let (_, r) = rate(g);
                let n = |k: &str| g.get(k).copied().unwrap_or(0);
                vec![html! { (who) }, html! { (n(m::EARLY)) }, html! { (n(m::ON_TIME)) }, html! { (n(m::LATE)) }, html! { (number(r, "%")) }]
            }).collect()))
        h2 { (tr(lang, "Ban Chỉ đạo, Tổ công tác 06: nhiệm vụ", "Steering committees and work groups: tasks")) }
        (crate::ui::Table::simple("tasks",
            &[tr(lang, "Cấp", "Level"), tr(lang, "Ban/Tổ", "Committees"), tr(lang, "Nhiệm vụ", "Tasks"), tr(lang, "Hoàn thành", "Done"),
              tr(lang, "Đang thực hiện", "In progress"), tr(lang, "Thường xuyên", "Recurring"), tr(lang, "Quá hạn", "Overdue")],
            tasks.iter().map(|t| vec![
                html! { (civitas_reports::committees::level_name(&t.level, lang.code())) },
                html! { (t.committees) }, html! { (t.tasks) }, html! { (t.done) }, html! { (t.in_progress) }, html! { (t.recurring) },
                html! { @if t.overdue > 0 { (crate::ui::tag(Tone::Warning, &t.overdue.to_string())) } @else { "0" } },
            ]).collect()))
        p { a href=(format!("/officer/committees?unit={unit}")) { (tr(lang, "Xem các Ban, Tổ và nhiệm vụ", "Committees, work groups and their tasks")) } }
    };
    let path = format!("/officer/reports?unit={unit}&period={period}");
    let ctx = PageContext { lang, title: &title, caller: Some(caller), csrf: Some(&csrf), path: &path };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(page(status, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state))))
}

/// ", đến ngày 01/12/2026" when a running period is counted to date.
fn as_of_label(lang: Lang, window: &Window) -> String {
    if !window.is_cut() {
        return String::new();
    }
    let d = window.as_of();
    format!(" ({} {:02}/{:02}/{})", tr(lang, "đến ngày", "to"), d.day(), d.month() as u8, d.year())
}

/// Form 06a of a unit and the units below it, each below-unit linking to its own dashboard.
fn form_table(lang: Lang, forms: &[civitas_reports::Form06a]) -> Markup {
    let Some(first) = forms.first() else { return html! {} };
    let labels: Vec<&str> =
        first.rows().iter().map(|(_, vi, en, _)| if lang == Lang::En { *en } else { *vi }).collect();
    let mut columns = vec![tr(lang, "Đơn vị", "Unit")];
    columns.extend(labels.iter().copied());
    // Units without any dossier in the period are left out of the rows below the unit.
    let rows = forms
        .iter()
        .enumerate()
        .filter(|(i, f)| *i == 0 || f.received_total + f.in_progress_total + f.processed_total > 0)
        .map(|(i, f)| {
            let mut row = vec![if i == 0 {
                html! { strong { (query::unit_name(&f.unit)) } }
            } else {
                html! { a href=(format!("/officer/reports?unit={}&period={}", f.unit, f.period)) { (query::unit_name(&f.unit)) } }
            }];
            row.extend(f.rows().iter().map(|(_, _, _, v)| html! { (v) }));
            row
        })
        .collect();
    crate::ui::Table::simple("form-06a", &columns, rows)
}

/// The dashboard's tables as CSV or XLSX (`table=06a`, or an indicator code).
async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<DashboardQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let checked = (|| {
        let format = format_of(q.format.as_deref().or(Some("csv")))?;
        let unit = crate::reports_api::requested_unit(&caller, q.unit.as_deref())?;
        let window = crate::reports_api::window_of(q.period.as_deref(), None, true)?;
        Ok::<_, crate::problem::Problem>((format, unit, window))
    })();
    let (format, unit, window) = match checked {
        Ok(c) => c,
        Err(p) => return problem_page(&state, &headers, lang, &p),
    };
    let format = if format == Format::Json { Format::Csv } else { format };
    let period = window.period;
    let mut units = vec![unit.clone()];
    units.extend(query::children(&unit));
    match q.table.as_deref().unwrap_or("06a") {
        "06a" => match query::forms_06a(&state.db, &units, "", &window).await {
            Ok(forms) => download(&table_06a(&forms), &format!("06a-{unit}-{period}"), format),
            Err(e) => internal(&e),
        },
        code => {
            let Some(i) = state.indicators.get(code) else {
                let text = format!("{} {code}", tr(lang, "Không có chỉ tiêu", "No indicator"));
                return crate::pages::message_page(&state, &headers, lang, StatusCode::NOT_FOUND, "not_found", &text);
            };
            match query::values_of_units(&state.db, i, &units, &window).await {
                Ok(values) => {
                    let table = crate::reports_api::indicator_table(i, &values);
                    download(&table, &format!("{}-{unit}-{period}", i.code), format)
                }
                Err(e) => internal(&e),
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct IndexQuery {
    period: Option<String>,
    lang: Option<String>,
}

/// The public index per province, as the national portal publishes it.
async fn public_index(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<IndexQuery>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let (window, errors) = match crate::reports_api::window_of(q.period.as_deref(), None, true) {
        Ok(w) => (w, Vec::new()),
        Err(p) => (crate::reports_api::this_year(), vec![("period".to_owned(), p.detail)]),
    };
    let period = window.period;
    let mut units = vec![civitas_reports::NATION.to_owned()];
    units.extend(query::children(civitas_reports::NATION));
    let all = match query::indexes(&state.db, &state.indicators, &units, &window).await {
        Ok(a) => a,
        Err(e) => return internal(&e),
    };
    let totals: HashMap<&str, f64> = all.iter().filter(|i| i.data).map(|i| (i.unit.as_str(), i.total)).collect();
    let title = tr(lang, "Chỉ số phục vụ người dân, doanh nghiệp", "Service index for citizens and businesses");
    let mut ranked: Vec<&civitas_reports::query::Index> = all.iter().skip(1).filter(|i| i.data).collect();
    ranked.sort_by(|a, b| b.total.total_cmp(&a.total).then(a.unit.cmp(&b.unit)));
    let body = html! {
        h1 { (title) " " small { (period.label(lang.code())) (as_of_label(lang, &window)) } }
        (error_summary(lang, &errors))
        (banner(Tone::Info, None, None, html! { p { (tr(lang,
            "Theo Quyết định 766/QĐ-TTg: 5 nhóm chỉ số, tối đa 100 điểm, tính từ dữ liệu thời gian thực. Các chỉ số chưa đo được tính 0 điểm.",
            "Decision 766/QĐ-TTg: five groups, 100 points, computed from real-time data. Sub-indicators not measured yet score 0.")) } }))
        form method="get" action="/index766" class="inline-form" {
            label for="period" { (tr(lang, "Kỳ", "Period")) }
            input id="period" name="period" value=(period.to_string()) class="width-10";
            button type="submit" { (tr(lang, "Xem", "Show")) }
        }
        p id="nation-total" { (tr(lang, "Cả nước", "Nationwide")) ": " strong { (format!("{:.2}", totals.get(civitas_reports::NATION).copied().unwrap_or(0.0))) } " / 100" }
        div class="map-and-table" {
            (charts::tile_map("province-map", tr(lang, "Bản đồ ô: điểm của 34 tỉnh, thành phố", "Tile map: the 34 provinces' points"),
                (tr(lang, "QĐ Hoàng Sa (Đà Nẵng)", "Hoàng Sa (Đà Nẵng)"), tr(lang, "QĐ Trường Sa (Khánh Hòa)", "Trường Sa (Khánh Hòa)")),
                |code| totals.get(code).copied(),
                |code| format!("/api/v1/index/{code}?period={period}")))
            (crate::ui::Table::simple("province-index",
                &[tr(lang, "Hạng", "Rank"), tr(lang, "Tỉnh, thành phố", "Province"), tr(lang, "Tổng điểm", "Total"),
                  "1", "2", "3", "4", "5"],
                ranked.iter().enumerate().map(|(n, i)| {
                    let mut row = vec![html! { (n + 1) }, html! { (query::unit_name(&i.unit)) }, html! { strong { (format!("{:.2}", i.total)) } }];
                    row.extend(i.groups.iter().map(|g| html! { (format!("{:.2}", g.1)) }));
                    row
                }).collect()))
        }
        p { a href=(format!("/api/v1/index?period={period}&format=csv")) download { (tr(lang, "Tải CSV", "Download CSV")) } " · "
            a href=(format!("/api/v1/index?period={period}&format=xlsx")) download { (tr(lang, "Tải Excel (XLSX)", "Download Excel (XLSX)")) } }
    };
    let path = format!("/index766?period={period}");
    let ctx = PageContext { lang, title, caller: None, csrf: None, path: &path };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    page(status, layout(&ctx, body), None, None)
}
