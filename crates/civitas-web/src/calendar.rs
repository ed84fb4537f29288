//! The working-day calendar for operators and other systems (public, no token): holidays of a
//! year, the date N working days after a date, and lunar dates.

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civitas_core::lunar;

use crate::AppState;
use crate::problem::Problem;

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/calendar/holidays", get(holidays))
        .route("/api/v1/calendar/working-days", get(working_days))
        .route("/api/v1/calendar/lunar", get(lunar_date))
        .into_router()
}

fn parse_date(field: &str, raw: Option<&str>) -> Result<time::Date, Problem> {
    let raw = raw.ok_or_else(|| Problem::bad_request("invalid-date", format!("{field} is required (YYYY-MM-DD)")))?;
    time::Date::parse(raw.trim(), time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| Problem::bad_request("invalid-date", format!("{field}={raw:?} is not a date (YYYY-MM-DD)")))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct YearParam {
    /// Gregorian year, 1900–2100.
    year: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HolidayDto {
    /// YYYY-MM-DD.
    date: String,
    name_vi: String,
    name_en: String,
    /// A day off in lieu of a holiday that fell on a weekend.
    compensatory: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Holidays {
    year: i32,
    items: Vec<HolidayDto>,
}

fn year_of(raw: Option<&str>) -> Result<i32, Problem> {
    raw.and_then(|y| y.trim().parse::<i32>().ok())
        .filter(|y| (1900..=2100).contains(y))
        .ok_or_else(|| Problem::bad_request("invalid-year", "year must be a number between 1900 and 2100"))
}

#[utoipa::path(get, path = "/api/v1/calendar/holidays", tag = "calendar", params(YearParam),
    responses((status = 200, body = Holidays), (status = 400, body = Problem)))]
pub async fn holidays(State(state): State<AppState>, Query(q): Query<YearParam>) -> Result<Json<Holidays>, Problem> {
    let year = year_of(q.year.as_deref())?;
    let items = state
        .calendar
        .holidays(year)
        .into_iter()
        .map(|h| HolidayDto {
            date: h.date.to_string(),
            name_vi: h.name_vi,
            name_en: h.name_en,
            compensatory: h.compensatory,
        })
        .collect();
    Ok(Json(Holidays { year, items }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct WorkingDaysParams {
    /// Start date, YYYY-MM-DD (counting starts the day after).
    from: Option<String>,
    /// Number of working days, 0–1000.
    days: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkingDays {
    from: String,
    days: u32,
    /// The date `days` working days after `from`.
    date: String,
}

#[utoipa::path(get, path = "/api/v1/calendar/working-days", tag = "calendar", params(WorkingDaysParams),
    responses((status = 200, body = WorkingDays), (status = 400, body = Problem)))]
pub async fn working_days(
    State(state): State<AppState>,
    Query(q): Query<WorkingDaysParams>,
) -> Result<Json<WorkingDays>, Problem> {
    let from = parse_date("from", q.from.as_deref())?;
    if !(1900..=2100).contains(&from.year()) {
        return Err(Problem::bad_request("invalid-date", "from must be between 1900 and 2100"));
    }
    let days: u32 = q
        .days
        .as_deref()
        .and_then(|d| d.trim().parse().ok())
        .filter(|d| *d <= 1000)
        .ok_or_else(|| Problem::bad_request("invalid-days", "days must be a whole number from 0 to 1000"))?;
    let date = state.calendar.add_working_days(from, days);
    Ok(Json(WorkingDays { from: from.to_string(), days, date: date.to_string() }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DateParam {
    /// Gregorian date, YYYY-MM-DD.
    date: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Lunar {
    date: String,
    lunar_day: u8,
    lunar_month: u8,
    lunar_year: i32,
    /// The month is a leap (intercalary) month.
    leap: bool,
    /// Whether state agencies work that day.
    working_day: bool,
}

#[utoipa::path(get, path = "/api/v1/calendar/lunar", tag = "calendar", params(DateParam),
    responses((status = 200, body = Lunar), (status = 400, body = Problem)))]
pub async fn lunar_date(State(state): State<AppState>, Query(q): Query<DateParam>) -> Result<Json<Lunar>, Problem> {
    let date = parse_date("date", q.date.as_deref())?;
    if !(1900..=2100).contains(&date.year()) {
        return Err(Problem::bad_request("invalid-date", "date must be between 1900 and 2100"));
    }
    let l = lunar::to_lunar(date);
    Ok(Json(Lunar {
        date: date.to_string(),
        lunar_day: l.day,
        lunar_month: l.month,
        lunar_year: l.year,
        leap: l.leap,
        working_day: state.calendar.is_working_day(date),
    }))
}
