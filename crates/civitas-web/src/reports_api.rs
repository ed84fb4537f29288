//! Project 06 steering over HTTP: the indicator catalogue and the Decision 766 index (public),
//! an indicator's figures and form 06a for a unit the caller covers (JSON, CSV or XLSX). The
//! rules and figures are `civitas_reports`; this module parses, checks the requested unit and
//! renders.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civitas_core::period::Period;
use civitas_reports::export::{Cell, Table};
use civitas_reports::query;
use civitas_reports::{Form06a, IndicatorValue, ReportError, Window};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::Problem;

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/indicators", get(list))
        .route("/api/v1/indicators/{code}", get(indicator))
        .route("/api/v1/reports/06a", get(form_06a))
        .route("/api/v1/index", get(public_index))
        .route("/api/v1/index/{unit}", get(unit_index))
        .into_router()
}

pub(crate) fn report_problem(e: ReportError) -> Problem {
    match e {
        ReportError::UnknownIndicator(code) => Problem::not_found(format!("no indicator {code:?} in the catalogue")),
        ReportError::Invalid(why) => Problem::bad_request("invalid-report", why),
        ReportError::Store(e) => Problem::from(e),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// A province (2 digits) or commune (5 digits) code within the caller's units; default: the
    /// caller's first unit.
    unit: Option<String>,
    /// A period identifier: `2026`, `2026S1`, `2026N9` (January–September), `2026Q3`, `202611`,
    /// `2026W48`, `20261130`; default: the current month.
    period: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    format: Option<String>,
    /// The day the figures are as of (`YYYY-MM-DD`, default today): a running period is
    /// counted up to that day and "in progress" is taken on it. A later day is a projection (the
    /// dossiers that will be overdue by then if nothing else happens).
    as_of: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Csv,
    Xlsx,
}

pub(crate) fn format_of(text: Option<&str>) -> Result<Format, Problem> {
    match text.unwrap_or("json") {
        "json" => Ok(Format::Json),
        "csv" => Ok(Format::Csv),
        "xlsx" => Ok(Format::Xlsx),
        other => Err(Problem::bad_request("invalid-format", format!("format is json, csv or xlsx, not {other:?}"))),
    }
}

/// The period asked for (default: the current month, or year), as of the day asked for
/// (default: today, local time).
pub(crate) fn window_of(text: Option<&str>, as_of: Option<&str>, default_year: bool) -> Result<Window, Problem> {
    let today = civitas_services::dossiers::local_today(crate::now());
    let as_of = match as_of.filter(|t| !t.is_empty()) {
        Some(t) => time::Date::parse(t, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| Problem::bad_request("invalid-as-of", format!("as_of is a day as YYYY-MM-DD, not {t:?}")))?,
        None => today,
    };
    let period = match text.filter(|t| !t.is_empty()) {
        Some(t) => Period::parse(t).map_err(|e| Problem::bad_request("invalid-period", e.to_string()))?,
        None if default_year => Period::Year(as_of.year()),
        None => Period::Month { year: as_of.year(), month: as_of.month() as u8 },
    };
    Window::new(period, as_of).map_err(|e| Problem::bad_request("period-not-begun", e.to_string()))
}

/// This year so far (the fallback of pages given a period they cannot show).
pub(crate) fn this_year() -> Window {
    let today = civitas_services::dossiers::local_today(crate::now());
    let year = Period::Year(today.year());
    Window::new(year, today).unwrap_or(Window::whole(year))
}

/// A unit code as the facts know it: `VN`, a province or a commune of the 2025 catalogue.
pub(crate) fn known_unit(unit: &str) -> Result<String, Problem> {
    let all = civitas_core::units::AdminUnits::get();
    if unit == civitas_reports::NATION || all.province(unit).is_some() || all.commune(unit).is_some() {
        Ok(unit.to_owned())
    } else {
        Err(Problem::bad_request(
            "invalid-unit",
            format!("{unit:?} is not VN, a province (2 digits) or a commune (5 digits) of the current catalogue"),
        ))
    }
}

/// The unit an officer asks for: within their units (a province covers its communes), or 403.
pub(crate) fn requested_unit(caller: &Caller, unit: Option<&str>) -> Result<String, Problem> {
    let unit = match unit.filter(|u| !u.is_empty()) {
        Some(u) => known_unit(u)?,
        None => caller.claims.units.first().cloned().ok_or_else(|| Problem::forbidden("the token names no unit"))?,
    };
    if unit == civitas_reports::NATION || !caller.covers_unit(&unit) {
        return Err(Problem::forbidden(format!("{unit} is outside your units")));
    }
    Ok(unit)
}

/// A table as CSV or XLSX, named from checked values only.
pub(crate) fn download(table: &Table, name: &str, format: Format) -> Response {
    let safe: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || "-_".contains(*c)).collect();
    let (bytes, kind, ext) = match format {
        Format::Xlsx => match table.xlsx() {
            Ok(b) => (b, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
            Err(e) => {
                tracing::error!(error = %e, "XLSX export failed");
                return Problem::internal().into_response();
            }
        },
        _ => (table.csv().into_bytes(), "text/csv; charset=utf-8", "csv"),
    };
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{safe}.{ext}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(kind)), (header::CONTENT_DISPOSITION, disposition)],
        bytes,
    )
        .into_response()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorList {
    version: String,
    #[schema(value_type = Vec<Object>)]
    items: Vec<civitas_reports::Indicator>,
}

/// The indicator catalogue: codes, names, formulas (numerator and denominator as sums of
/// measures), units, period types, targets, sources, and the Decision 766 entries.
#[utoipa::path(get, path = "/api/v1/indicators", tag = "reports", responses((status = 200, body = IndicatorList)))]
pub async fn list(State(state): State<AppState>) -> Json<IndicatorList> {
    Json(IndicatorList { version: state.indicators.version.clone(), items: state.indicators.indicators.clone() })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorFigures {
    #[schema(value_type = Object)]
    value: IndicatorValue,
    /// The same for each unit one level below (the province's communes).
    #[schema(value_type = Vec<Object>)]
    units: Vec<IndicatorValue>,
}

/// An indicator's figures for a unit and the units below it, as a table (API and page exports).
pub(crate) fn indicator_table(i: &civitas_reports::Indicator, values: &[IndicatorValue]) -> Table {
    let row = |v: &IndicatorValue| -> Vec<Cell> {
        vec![
            v.unit.clone().into(),
            query::unit_name(&v.unit).into(),
            v.numerator.map(|n| n as f64).into(),
            v.denominator.map(|n| n as f64).into(),
            v.value.into(),
        ]
    };
    Table {
        title: i.code.clone(),
        headers: ["Mã đơn vị / Unit", "Đơn vị / Name", "Tử số / Numerator", "Mẫu số / Denominator", i.name("vi")]
            .map(str::to_owned)
            .to_vec(),
        rows: values.iter().map(row).collect(),
    }
}

/// One indicator for a unit and period, with the units below it (drill-down).
#[utoipa::path(get, path = "/api/v1/indicators/{code}", tag = "reports", params(("code" = String, Path), ReportQuery),
    responses((status = 200, body = IndicatorFigures), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn indicator(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, Problem> {
    let format = format_of(q.format.as_deref())?;
    let unit = requested_unit(&caller, q.unit.as_deref())?;
    let window = window_of(q.period.as_deref(), q.as_of.as_deref(), false)?;
    let period = window.period;
    let i = state
        .indicators
        .get(&code)
        .ok_or_else(|| Problem::not_found(format!("no indicator {code:?} in the catalogue")))?;
    let mut units = vec![unit.clone()];
    units.extend(query::children(&unit));
    let mut values = query::values_of_units(&state.db, i, &units, &window).await.map_err(report_problem)?;
    let value = values.remove(0);
    if format == Format::Json {
        return Ok(Json(IndicatorFigures { value, units: values }).into_response());
    }
    values.insert(0, value);
    let table = indicator_table(i, &values);
    Ok(download(&table, &format!("{}-{unit}-{period}", i.code), format))
}

/// Form 06a as a table: the unit, then the units below it.
pub(crate) fn table_06a(forms: &[Form06a]) -> Table {
    let mut headers = vec!["Mã đơn vị / Unit".to_owned(), "Đơn vị / Name".to_owned()];
    if let Some(f) = forms.first() {
        headers.extend(f.rows().iter().map(|(_, vi, en, _)| format!("{vi} / {en}")));
    }
    let rows = forms
        .iter()
        .map(|f| {
            let mut row: Vec<Cell> = vec![f.unit.clone().into(), query::unit_name(&f.unit).into()];
            row.extend(f.rows().iter().map(|(_, _, _, v)| Cell::from(*v)));
            row
        })
        .collect();
    Table { title: "06a".into(), headers, rows }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Form06aReport {
    #[schema(value_type = Object)]
    form: Form06a,
    #[schema(value_type = Vec<Object>)]
    units: Vec<Form06a>,
}

/// Statutory form 06a (received: total, carried over, new online, new at the counter or by post;
/// processed: total, early, on time, late; in progress: total, within time, late) for a unit
/// and period, with the units below it.
#[utoipa::path(get, path = "/api/v1/reports/06a", tag = "reports", params(ReportQuery),
    responses((status = 200, body = Form06aReport), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn form_06a(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ReportQuery>,
) -> Result<Response, Problem> {
    let format = format_of(q.format.as_deref())?;
    let unit = requested_unit(&caller, q.unit.as_deref())?;
    let window = window_of(q.period.as_deref(), q.as_of.as_deref(), false)?;
    let period = window.period;
    let mut units = vec![unit.clone()];
    units.extend(query::children(&unit));
    let mut forms = query::forms_06a(&state.db, &units, "", &window).await.map_err(report_problem)?;
    if format == Format::Json {
        let form = forms.remove(0);
        return Ok(Json(Form06aReport { form, units: forms }).into_response());
    }
    Ok(download(&table_06a(&forms), &format!("06a-{unit}-{period}"), format))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IndexQuery {
    /// A period identifier (default: the current year).
    period: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    format: Option<String>,
    /// The day the figures are as of (`YYYY-MM-DD`, default today).
    as_of: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvinceScore {
    unit: String,
    name: String,
    total: f64,
    /// (group, points, possible points).
    groups: Vec<(u8, f64, f64)>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IndexList {
    period: String,
    /// The last day counted.
    as_of: String,
    nation: ProvinceScore,
    provinces: Vec<ProvinceScore>,
}

/// The Decision 766 index of every province (and the nation) over a period, as the national
/// portal publishes it: the total out of 100 and the five groups.
#[utoipa::path(get, path = "/api/v1/index", tag = "reports", params(IndexQuery),
    responses((status = 200, body = IndexList), (status = 400, body = Problem)))]
pub async fn public_index(State(state): State<AppState>, Query(q): Query<IndexQuery>) -> Result<Response, Problem> {
    let format = format_of(q.format.as_deref())?;
    let window = window_of(q.period.as_deref(), q.as_of.as_deref(), true)?;
    let period = window.period;
    let mut units = vec![civitas_reports::NATION.to_owned()];
    units.extend(query::children(civitas_reports::NATION));
    let all = query::indexes(&state.db, &state.indicators, &units, &window).await.map_err(report_problem)?;
    let mut scores: Vec<ProvinceScore> = all
        .into_iter()
        .map(|i| ProvinceScore { name: query::unit_name(&i.unit), unit: i.unit, total: i.total, groups: i.groups })
        .collect();
    let nation = scores.remove(0);
    if format == Format::Json {
        let as_of = window.as_of().to_string();
        return Ok(Json(IndexList { period: period.to_string(), as_of, nation, provinces: scores }).into_response());
    }
    let mut headers =
        vec!["Mã / Code".to_owned(), "Tỉnh, thành phố / Province".to_owned(), "Tổng điểm / Total".to_owned()];
    headers.extend((1..=5).map(|g| format!("Nhóm / Group {g}")));
    let rows = std::iter::once(&nation)
        .chain(scores.iter())
        .map(|s| {
            let mut row: Vec<Cell> = vec![s.unit.clone().into(), s.name.clone().into(), Cell::Number(s.total)];
            row.extend(s.groups.iter().map(|g| Cell::Number(g.1)));
            row
        })
        .collect();
    Ok(download(&Table { title: "766".into(), headers, rows }, &format!("766-{period}"), format))
}

/// One unit's Decision 766 index: each sub-indicator's rate and points, the groups, the total.
#[utoipa::path(get, path = "/api/v1/index/{unit}", tag = "reports", params(("unit" = String, Path), IndexQuery),
    responses((status = 200, body = Object), (status = 400, body = Problem)))]
pub async fn unit_index(
    State(state): State<AppState>,
    Path(unit): Path<String>,
    Query(q): Query<IndexQuery>,
) -> Result<Response, Problem> {
    let format = format_of(q.format.as_deref())?;
    let unit = known_unit(&unit)?;
    let window = window_of(q.period.as_deref(), q.as_of.as_deref(), true)?;
    let period = window.period;
    let index = query::index(&state.db, &state.indicators, &unit, &window).await.map_err(report_problem)?;
    if format == Format::Json {
        return Ok(Json(index).into_response());
    }
    let headers = [
        "Chỉ số / Sub-indicator",
        "Mã / Code",
        "Tử số / Numerator",
        "Mẫu số / Denominator",
        "Tỷ lệ / Rate",
        "Điểm / Points",
        "Tối đa / Max",
    ]
    .map(str::to_owned)
    .to_vec();
    let rows = index
        .scores
        .iter()
        .map(|s| {
            vec![
                Cell::from(s.number.clone()),
                s.code.clone().into(),
                s.value.numerator.map(|n| n as f64).into(),
                s.value.denominator.map(|n| n as f64).into(),
                s.value.value.into(),
                Cell::Number(s.points),
                Cell::Number(s.max_points),
            ]
        })
        .collect();
    Ok(download(&Table { title: format!("766 {unit}"), headers, rows }, &format!("766-{unit}-{period}"), format))
}
