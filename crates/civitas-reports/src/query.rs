//! Reading the facts: sums of measures over a [`Window`] — a period up to the day the figures
//! are as of — for one unit (flows over its whole months from the monthly rollup and its edge
//! days from the daily facts, stocks over everything before its end), indicator values, form 06a, the Decision 766
//! index, monthly trends and per-procedure / per-official tables. Each figure seeks the fact
//! rows of its periods and units by key (see [`crate::facts`]); nothing here reads dossiers or
//! people.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::Date;

use civitas_core::period::Period;
use civitas_store::{Db, dispatch};

use crate::ReportError;
use crate::catalogue::{Catalogue, Expr, Indicator, Kind};
use crate::fold::m;

/// Whose figures: a unit (`VN`, a province or a commune code) and a dimension ('' the total,
/// `p:<procedure>`, `o:<official>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub unit: String,
    pub dim: String,
}

impl Scope {
    pub fn unit(unit: &str) -> Scope {
        Scope { unit: unit.to_owned(), dim: String::new() }
    }
}

fn is_stock(measure: &str) -> bool {
    m::STOCKS.contains(&measure)
}

/// The days a figure covers: a period's days up to and including `as_of`, the day the figures
/// are as of (a running period is counted to date and its stocks are taken on `as_of`, not at
/// the period's end; a day after today is a projection: what the facts booked ahead — dossiers
/// turning overdue — will make of the stocks if nothing else happens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub period: Period,
    as_of: Date,
}

impl Window {
    /// `period` as of `as_of`; a period that begins after `as_of` has no figures yet.
    pub fn new(period: Period, as_of: Date) -> Result<Window, ReportError> {
        if period.start() > as_of {
            return Err(ReportError::Invalid(format!(
                "the period {period} begins on {}, after {as_of}, the day the figures are as of",
                period.start()
            )));
        }
        Ok(Window { period, as_of: as_of.min(Self::last_of(&period)) })
    }

    /// The whole period (stocks at its end).
    pub fn whole(period: Period) -> Window {
        Window { period, as_of: Self::last_of(&period) }
    }

    fn last_of(period: &Period) -> Date {
        period.end().previous_day().unwrap_or(period.start())
    }

    pub fn start(&self) -> Date {
        self.period.start()
    }

    /// The day after the last day counted.
    pub fn end(&self) -> Date {
        self.as_of.next_day().unwrap_or(self.as_of)
    }

    /// The last day counted: the period's last day, or `as_of` within a running period.
    pub fn as_of(&self) -> Date {
        self.as_of
    }

    /// Whether the window stops before the period's end (a running period).
    pub fn is_cut(&self) -> bool {
        self.as_of < Self::last_of(&self.period)
    }

    /// The previous period over as many of its days as this window has (the same point of the
    /// previous period, for trends: January–May against January–May).
    pub fn previous(&self) -> Window {
        let previous = self.period.previous();
        if !self.is_cut() {
            return Window::whole(previous);
        }
        let days = (self.as_of - self.start()).whole_days();
        let as_of = previous.start() + time::Duration::days(days);
        Window { period: previous, as_of: as_of.min(Self::last_of(&previous)) }
    }
}

/// The sums of `measures` for `scope` over `window` (stocks on its last day).
pub async fn sums(
    db: &Db,
    scope: &Scope,
    measures: &[&str],
    window: &Window,
) -> Result<HashMap<String, i64>, ReportError> {
    let units = [scope.unit.clone()];
    let mut all = sums_of_units(db, &units, &scope.dim, measures, window).await?;
    Ok(all.remove(&scope.unit).unwrap_or_default())
}

/// Where a piece of a period is summed: the monthly rollup (`report_facts_monthly`, months as
/// `YYYY-MM`) or the daily facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub monthly: bool,
    pub from: String,
    pub to: String,
}

fn month_of(d: Date) -> String {
    format!("{:04}-{:02}", d.year(), d.month() as u8)
}

fn next_month(d: Date) -> Date {
    let (y, m) = if d.month() == time::Month::December { (d.year() + 1, 1) } else { (d.year(), d.month() as u8 + 1) };
    Date::from_calendar_date(y, time::Month::try_from(m).unwrap_or(time::Month::January), 1).unwrap_or(d)
}

fn month_start(d: Date) -> Date {
    d.replace_day(1).unwrap_or(d)
}

/// [start, end) as whole months from the rollup and the days at either edge.
pub(crate) fn pieces(start: Date, end: Date) -> Vec<Piece> {
    let first = if start.day() == 1 { start } else { next_month(start) };
    let last = month_start(end);
    if first >= last {
        return vec![Piece { monthly: false, from: start.to_string(), to: end.to_string() }];
    }
    let mut out = vec![Piece { monthly: true, from: month_of(first), to: month_of(last) }];
    if start < first {
        out.push(Piece { monthly: false, from: start.to_string(), to: first.to_string() });
    }
    if last < end {
        out.push(Piece { monthly: false, from: last.to_string(), to: end.to_string() });
    }
    out
}

/// How a window is read: whole months from the rollup, edge days from the daily facts.
pub fn pieces_of(window: &Window) -> Vec<Piece> {
    pieces(window.start(), window.end())
}

/// The months a window touches (per-procedure and per-official breakdowns are kept per month):
/// the window itself when it is whole months.
pub fn breakdown_months(window: &Window) -> Piece {
    Piece { monthly: true, from: month_of(window.start()), to: month_of(next_month(window.as_of())) }
}

/// The periods a piece names, for an `IN` list (the facts are keyed by their period first):
/// its months (`YYYY-MM`) or days (`YYYY-MM-DD`). A stock's piece starts at `first_month`, the
/// first month any fact is kept in (nothing before it).
pub(crate) fn periods(piece: &Piece, first_month: Option<&str>) -> Vec<String> {
    let month = |s: &str| -> Option<Date> { crate::parse_day(&format!("{s}-01")) };
    let day = |s: &str| crate::parse_day(s);
    let (from, to) = if piece.monthly {
        let from = if piece.from.as_str() < "0001" { first_month.and_then(month) } else { month(&piece.from) };
        (from, month(&piece.to))
    } else {
        (day(&piece.from), day(&piece.to))
    };
    let (Some(mut at), Some(to)) = (from, to) else { return Vec::new() };
    let mut out = Vec::new();
    while at < to {
        if piece.monthly {
            out.push(month_of(at));
            at = next_month(at);
        } else {
            out.push(at.to_string());
            at = at.next_day().unwrap_or(to);
        }
    }
    out
}

/// Above this many (period, unit) keys a query is planned with its values (see
/// [`sums_of_units`]).
const MANY_KEYS: usize = 64;

/// The first month any fact is kept in (`YYYY-MM`), where the stocks' sums start.
async fn first_month(db: &Db) -> Result<Option<String>, ReportError> {
    let sql = "SELECT MIN(month) FROM report_facts_monthly";
    Ok(dispatch!(db, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?)
}

/// Everything before `end` (a stock): every month before `end`'s, and its days before `end`.
pub(crate) fn pieces_before(end: Date) -> Vec<Piece> {
    let last = month_start(end);
    let mut out = vec![Piece { monthly: true, from: "0000-00".into(), to: month_of(last) }];
    if last < end {
        out.push(Piece { monthly: false, from: last.to_string(), to: end.to_string() });
    }
    out
}

/// [`sums`] for several units at once (a drill-down table): whole months read from the monthly
/// rollup, edge days from the daily facts, stocks from every month before the window's end.
/// Every unit and measure is present (0 without facts).
pub async fn sums_of_units(
    db: &Db,
    units: &[String],
    dim: &str,
    measures: &[&str],
    window: &Window,
) -> Result<HashMap<String, HashMap<String, i64>>, ReportError> {
    let zero: HashMap<String, i64> = measures.iter().map(|m| ((*m).to_owned(), 0)).collect();
    let mut out: HashMap<String, HashMap<String, i64>> = units.iter().map(|u| (u.clone(), zero.clone())).collect();
    let flows: Vec<&str> = measures.iter().copied().filter(|m| !is_stock(m)).collect();
    let stocks: Vec<&str> = measures.iter().copied().filter(|m| is_stock(m)).collect();
    let first = if stocks.is_empty() { None } else { first_month(db).await? };
    for (list, parts) in [(flows, pieces_of(window)), (stocks, pieces_before(window.end()))] {
        if list.is_empty() || units.is_empty() {
            continue;
        }
        for piece in parts {
            let (table, column) =
                if piece.monthly { ("report_facts_monthly", "month") } else { ("report_facts", "day") };
            let periods = periods(&piece, first.as_deref());
            if periods.is_empty() {
                continue;
            }
            // One row per period, unit and dimension, a column per measure.
            let columns: Vec<usize> = list.iter().filter_map(|m| crate::facts::column(m)).collect();
            if columns.is_empty() {
                continue;
            }
            let (k, p) = (units.len(), periods.len());
            let sql = format!(
                "SELECT unit, {} FROM {table} WHERE {column} IN ({}) AND unit IN ({}) AND dim = ${} GROUP BY unit",
                crate::facts::sum_list(&columns),
                crate::placeholders(1, p),
                crate::placeholders(p + 1, k),
                p + k + 1,
            );
            let rows: Vec<crate::facts::KeyedSums> = dispatch!(db, pool => {
                // Many keys: planned with its values each time (PostgreSQL's cached generic plan
                // of long lists, blind to how many keys they name, took 140 ms where seeking
                // each took 5); few: the cached plan (planning again costs more than it saves).
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).persistent(p * k <= MANY_KEYS);
                for period in &periods {
                    q = q.bind(period.as_str());
                }
                for u in units {
                    q = q.bind(u.as_str());
                }
                let rows = q.bind(dim).fetch_all(pool).await?;
                crate::facts::keyed_sums(&rows, columns.len())
            })?;
            for (unit, sums) in rows {
                crate::facts::add_sums(out.entry(unit).or_default(), &columns, sums);
            }
        }
    }
    Ok(out)
}

fn eval(expr: &Expr, sums: &HashMap<String, i64>) -> i64 {
    expr.0.iter().map(|(sign, m)| sign * sums.get(m).copied().unwrap_or(0)).sum()
}

/// An indicator's figure for one scope and period.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorValue {
    pub code: String,
    pub unit: String,
    pub period: String,
    /// The last day counted (`YYYY-MM-DD`): the period's last day, or the day the figures are
    /// as of within a running period.
    pub as_of: String,
    /// False: the indicator is not measured yet (`not_measured` says why); no figures.
    pub measured: bool,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    /// The count, the percentage (2 decimals) or the average; None for a zero denominator.
    pub value: Option<f64>,
    pub target: Option<f64>,
    /// Whether the target is reached (None without a target or a value).
    pub met: Option<bool>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl IndicatorValue {
    fn of(i: &Indicator, scope: &Scope, window: &Window, sums: &HashMap<String, i64>) -> IndicatorValue {
        let num = i.numerator.as_ref().map(|e| eval(e, sums));
        let den = i.denominator.as_ref().map(|e| eval(e, sums));
        let value = match (i.kind, num, den) {
            (Kind::Count, Some(n), _) => Some(n as f64),
            (Kind::Ratio, Some(n), Some(d)) if d != 0 => Some(round2(n as f64 * 100.0 / d as f64)),
            (Kind::Average, Some(n), Some(d)) if d != 0 => Some(round2(n as f64 / d as f64)),
            _ => None,
        };
        IndicatorValue {
            code: i.code.clone(),
            unit: scope.unit.clone(),
            period: window.period.to_string(),
            as_of: window.as_of().to_string(),
            measured: i.numerator.is_some(),
            numerator: num,
            denominator: den,
            value,
            target: i.target,
            met: match (i.target, value) {
                (Some(t), Some(v)) => Some(v >= t),
                _ => None,
            },
        }
    }
}

/// The folded measures the indicators need (estimated ones are computed, see [`add_estimates`]).
fn measures_of<'a>(indicators: impl Iterator<Item = &'a Indicator>) -> Vec<&'a str> {
    let mut all: Vec<&str> = indicators
        .flat_map(|i| i.numerator.iter().chain(i.denominator.iter()))
        .flat_map(|e| e.measures())
        .filter(|m| !m::ESTIMATED.contains(m))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Adds each indicator's estimated events (its `estimate`) to the units' sums.
async fn add_estimates(
    db: &Db,
    indicators: &[&Indicator],
    units: &[String],
    window: &Window,
    sums: &mut HashMap<String, HashMap<String, i64>>,
) -> Result<(), ReportError> {
    for e in indicators.iter().filter_map(|i| i.estimate.as_ref()) {
        for (unit, n) in crate::population::estimate(db, e, units, window).await? {
            sums.entry(unit).or_default().insert(e.measure.clone(), n);
        }
    }
    Ok(())
}

/// The values of `indicators` for one scope and period (one query per kind of measure).
pub async fn values(
    db: &Db,
    indicators: &[&Indicator],
    scope: &Scope,
    window: &Window,
) -> Result<Vec<IndicatorValue>, ReportError> {
    let measures = measures_of(indicators.iter().copied());
    let units = [scope.unit.clone()];
    let mut all = sums_of_units(db, &units, &scope.dim, &measures, window).await?;
    add_estimates(db, indicators, &units, window, &mut all).await?;
    let sums = all.remove(&scope.unit).unwrap_or_default();
    Ok(indicators.iter().map(|i| IndicatorValue::of(i, scope, window, &sums)).collect())
}

pub async fn value(
    db: &Db,
    catalogue: &Catalogue,
    code: &str,
    scope: &Scope,
    window: &Window,
) -> Result<IndicatorValue, ReportError> {
    let i = catalogue.get(code).ok_or_else(|| ReportError::UnknownIndicator(code.to_owned()))?;
    Ok(values(db, &[i], scope, window).await?.remove(0))
}

/// Statutory summary form 06a for one unit and period. `received_total` = `carried_over` +
/// `new_online` + `new_direct`; it equals `processed_total` + `in_progress_total` +
/// `closed_otherwise` (withdrawn, lapsed, rejected at receipt: civitas's balance column).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Form06a {
    pub unit: String,
    pub period: String,
    /// The last day counted: in progress is taken on that day (see [`IndicatorValue::as_of`]).
    pub as_of: String,
    pub received_total: i64,
    pub carried_over: i64,
    pub new_online: i64,
    /// At the counter or by post.
    pub new_direct: i64,
    pub processed_total: i64,
    pub processed_early: i64,
    pub processed_on_time: i64,
    pub processed_late: i64,
    pub in_progress_total: i64,
    pub in_progress_within_time: i64,
    pub in_progress_late: i64,
    pub closed_otherwise: i64,
}

impl Form06a {
    /// The form's rows as (key, Vietnamese label, English label, value), in its order.
    pub fn rows(&self) -> Vec<(&'static str, &'static str, &'static str, i64)> {
        vec![
            ("received_total", "Tổng số hồ sơ tiếp nhận", "Received: total", self.received_total),
            ("carried_over", "Số kỳ trước chuyển qua", "Carried over", self.carried_over),
            ("new_online", "Mới tiếp nhận trực tuyến", "New, online", self.new_online),
            ("new_direct", "Mới tiếp nhận trực tiếp, bưu chính", "New, at the counter or by post", self.new_direct),
            ("processed_total", "Đã giải quyết: tổng số", "Processed: total", self.processed_total),
            ("processed_early", "Trước hạn", "Early", self.processed_early),
            ("processed_on_time", "Đúng hạn", "On time", self.processed_on_time),
            ("processed_late", "Quá hạn", "Late", self.processed_late),
            ("in_progress_total", "Đang giải quyết: tổng số", "In progress: total", self.in_progress_total),
            ("in_progress_within_time", "Trong hạn", "Within time", self.in_progress_within_time),
            ("in_progress_late", "Quá hạn", "Late", self.in_progress_late),
            (
                "closed_otherwise",
                "Rút, dừng, từ chối tiếp nhận",
                "Withdrawn, lapsed, rejected at receipt",
                self.closed_otherwise,
            ),
        ]
    }
}

pub async fn form_06a(db: &Db, scope: &Scope, window: &Window) -> Result<Form06a, ReportError> {
    let units = [scope.unit.clone()];
    Ok(forms_06a(db, &units, &scope.dim, window).await?.remove(0))
}

/// Form 06a for several units (in their order): three queries whatever their number.
pub async fn forms_06a(db: &Db, units: &[String], dim: &str, window: &Window) -> Result<Vec<Form06a>, ReportError> {
    let measures = [
        m::RECEIVED_ONLINE,
        m::RECEIVED_COUNTER,
        m::RECEIVED_POSTAL,
        m::EARLY,
        m::ON_TIME,
        m::LATE,
        m::WITHDRAWN,
        m::LAPSED,
        m::REJECTED,
        m::OPEN,
        m::OVERDUE,
    ];
    let now = sums_of_units(db, units, dim, &measures, window).await?;
    // Carried over: open at the end of the day before the period.
    let before = Window::whole(Period::Day(window.start().previous_day().unwrap_or(window.start())));
    let carried = sums_of_units(db, units, dim, &[m::OPEN], &before).await?;
    let mut out = Vec::with_capacity(units.len());
    for unit in units {
        let g = |k: &str| now.get(unit).and_then(|s| s.get(k)).copied().unwrap_or(0);
        let mut f = Form06a {
            unit: unit.clone(),
            period: window.period.to_string(),
            as_of: window.as_of().to_string(),
            carried_over: carried.get(unit).and_then(|s| s.get(m::OPEN)).copied().unwrap_or(0),
            new_online: g(m::RECEIVED_ONLINE),
            new_direct: g(m::RECEIVED_COUNTER) + g(m::RECEIVED_POSTAL),
            processed_early: g(m::EARLY),
            processed_on_time: g(m::ON_TIME),
            processed_late: g(m::LATE),
            in_progress_total: g(m::OPEN),
            in_progress_late: g(m::OVERDUE),
            closed_otherwise: g(m::WITHDRAWN) + g(m::LAPSED) + g(m::REJECTED),
            ..Form06a::default()
        };
        f.received_total = f.carried_over + f.new_online + f.new_direct;
        f.processed_total = f.processed_early + f.processed_on_time + f.processed_late;
        f.in_progress_within_time = f.in_progress_total - f.in_progress_late;
        out.push(f);
    }
    Ok(out)
}

/// The values of `indicator` for several units (a drill-down table).
pub async fn values_of_units(
    db: &Db,
    indicator: &Indicator,
    units: &[String],
    window: &Window,
) -> Result<Vec<IndicatorValue>, ReportError> {
    let measures = measures_of(std::iter::once(indicator));
    let mut sums = sums_of_units(db, units, "", &measures, window).await?;
    add_estimates(db, &[indicator], units, window, &mut sums).await?;
    let empty = HashMap::new();
    Ok(units
        .iter()
        .map(|u| IndicatorValue::of(indicator, &Scope::unit(u), window, sums.get(u).unwrap_or(&empty)))
        .collect())
}

/// The units one level below `unit`: the provinces of the nation, the communes of a province.
pub fn children(unit: &str) -> Vec<String> {
    let all = civitas_core::units::AdminUnits::get();
    if unit == crate::NATION {
        all.provinces().iter().map(|p| p.code.clone()).collect()
    } else if unit.len() == 2 {
        all.communes_of(unit).map(|c| c.code.clone()).collect()
    } else {
        Vec::new()
    }
}

/// The name of a unit (`VN`: Việt Nam).
pub fn unit_name(unit: &str) -> String {
    let all = civitas_core::units::AdminUnits::get();
    if unit == crate::NATION {
        return "Việt Nam".into();
    }
    all.province(unit)
        .map(|p| p.name.clone())
        .or_else(|| all.commune(unit).map(|c| c.name.clone()))
        .unwrap_or_else(|| unit.to_owned())
}

/// One sub-indicator's score.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    pub number: String,
    pub code: String,
    pub group: u8,
    pub max_points: f64,
    pub threshold: Option<f64>,
    pub value: IndicatorValue,
    /// Points earned (0 when not measured or without data).
    pub points: f64,
}

/// The Decision 766 index of one unit over a period: each sub-indicator's rate and points
/// (full at or above its threshold, linear below; without a threshold, points × rate / 100),
/// the five groups and the total out of 100.
#[derive(Debug, Clone, Serialize)]
pub struct Index {
    pub unit: String,
    pub period: String,
    pub as_of: String,
    pub scores: Vec<Score>,
    /// (group, points earned, points possible).
    pub groups: Vec<(u8, f64, f64)>,
    pub total: f64,
    /// Whether any sub-indicator has a value (a unit without dossiers in the period has none).
    pub data: bool,
}

pub fn points(rate: f64, max_points: f64, threshold: Option<f64>) -> f64 {
    let p = match threshold {
        Some(t) if rate >= t => max_points,
        Some(t) => rate * max_points / t,
        None => rate * max_points / 100.0,
    };
    round2(p.clamp(0.0, max_points))
}

pub async fn index(db: &Db, catalogue: &Catalogue, unit: &str, window: &Window) -> Result<Index, ReportError> {
    Ok(indexes(db, catalogue, &[unit.to_owned()], window).await?.remove(0))
}

/// The index of several units (in their order), from one pair of queries.
pub async fn indexes(
    db: &Db,
    catalogue: &Catalogue,
    units: &[String],
    window: &Window,
) -> Result<Vec<Index>, ReportError> {
    let subs = catalogue.index();
    let measures = measures_of(subs.iter().copied());
    let mut sums = sums_of_units(db, units, "", &measures, window).await?;
    add_estimates(db, &subs, units, window, &mut sums).await?;
    let empty = HashMap::new();
    let mut out = Vec::with_capacity(units.len());
    for unit in units {
        let scope = Scope::unit(unit);
        let mut scores = Vec::new();
        let mut groups: BTreeMap<u8, (f64, f64)> = BTreeMap::new();
        for i in &subs {
            let Some(x) = &i.index else { continue };
            let v = IndicatorValue::of(i, &scope, window, sums.get(unit).unwrap_or(&empty));
            let earned = if i.kind == Kind::Average {
                0.0
            } else {
                v.value.map(|r| points(r, x.points, x.threshold)).unwrap_or(0.0)
            };
            let g = groups.entry(x.group).or_default();
            g.0 += earned;
            g.1 += x.points;
            scores.push(Score {
                number: x.number.clone(),
                code: i.code.clone(),
                group: x.group,
                max_points: x.points,
                threshold: x.threshold,
                value: v,
                points: earned,
            });
        }
        let groups: Vec<(u8, f64, f64)> = groups.into_iter().map(|(g, (e, p))| (g, round2(e), p)).collect();
        let total = round2(groups.iter().map(|g| g.1).sum());
        let data = scores.iter().any(|s| s.value.value.is_some());
        out.push(Index {
            unit: unit.clone(),
            period: window.period.to_string(),
            as_of: window.as_of().to_string(),
            scores,
            groups,
            total,
            data,
        });
    }
    Ok(out)
}

/// The 12 months ending with the month of `as_of`, oldest first, the last one as of `as_of`.
pub fn last_12_months(as_of: Date) -> Vec<Window> {
    let last = Period::Month { year: as_of.year(), month: as_of.month() as u8 };
    let mut months = vec![last];
    for _ in 0..11 {
        let prev = months.last().map(|p| p.previous()).unwrap_or(last);
        months.push(prev);
    }
    months.reverse();
    months.into_iter().map(|p| Window::new(p, as_of).unwrap_or(Window::whole(p))).collect()
}

/// Monthly sums of `measures` for `scope` in the 12 months ending with the month of `as_of`
/// (stocks at each month's end, the running month's on `as_of`), oldest first.
pub async fn monthly(
    db: &Db,
    scope: &Scope,
    measures: &[&str],
    as_of: Date,
) -> Result<Vec<(Window, HashMap<String, i64>)>, ReportError> {
    let mut out = Vec::with_capacity(12);
    for w in last_12_months(as_of) {
        out.push((w, sums(db, scope, measures, &w).await?));
    }
    Ok(out)
}

/// Per dimension (`p:` procedures or `o:` officials) sums of `measures` for a unit and period.
pub async fn by_dim(
    db: &Db,
    unit: &str,
    prefix: &str,
    measures: &[&str],
    window: &Window,
) -> Result<BTreeMap<String, HashMap<String, i64>>, ReportError> {
    let (lo, hi) = (format!("{prefix}:"), format!("{prefix};"));
    let mut out: BTreeMap<String, HashMap<String, i64>> = BTreeMap::new();
    let columns: Vec<usize> = measures.iter().filter_map(|m| crate::facts::column(m)).collect();
    // Breakdowns are kept per month: the months the period touches.
    let periods = periods(&breakdown_months(window), None);
    if periods.is_empty() || columns.is_empty() {
        return Ok(out);
    }
    let p = periods.len();
    let sql = format!(
        "SELECT dim, {} FROM report_facts_monthly WHERE month IN ({}) AND unit = ${} AND dim >= ${} AND dim < ${} \
         GROUP BY dim",
        crate::facts::sum_list(&columns),
        crate::placeholders(1, p),
        p + 1,
        p + 2,
        p + 3,
    );
    let rows: Vec<crate::facts::KeyedSums> = dispatch!(db, pool => {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).persistent(p <= MANY_KEYS);
        for period in &periods {
            q = q.bind(period.as_str());
        }
        let rows = q.bind(unit).bind(lo.as_str()).bind(hi.as_str()).fetch_all(pool).await?;
        crate::facts::keyed_sums(&rows, columns.len())
    })?;
    for (dim, sums) in rows {
        if sums.iter().all(Option::is_none) {
            continue;
        }
        let key = dim.split_once(':').map(|(_, k)| k.to_owned()).unwrap_or(dim);
        crate::facts::add_sums(out.entry(key).or_default(), &columns, sums);
    }
    Ok(out)
}

/// The day facts start (the first day any fact is kept), for pages that offer periods.
pub async fn first_day(db: &Db) -> Result<Option<Date>, ReportError> {
    let d: Option<String> = dispatch!(db, pool => sqlx::query_scalar("SELECT MIN(day) FROM report_facts WHERE unit = 'VN'").fetch_one(pool).await)?;
    Ok(d.as_deref().and_then(crate::parse_day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_period_is_whole_months_and_edge_days() {
        let p = |from: &str, to: &str, monthly| Piece { monthly, from: from.into(), to: to.into() };
        assert_eq!(pieces(date!(2026 - 01 - 01), date!(2027 - 01 - 01)), vec![p("2026-01", "2027-01", true)]);
        assert_eq!(pieces(date!(2026 - 11 - 30), date!(2026 - 12 - 01)), vec![p("2026-11-30", "2026-12-01", false)]);
        assert_eq!(
            pieces(date!(2026 - 01 - 26), date!(2026 - 03 - 02)),
            vec![
                p("2026-02", "2026-03", true),
                p("2026-01-26", "2026-02-01", false),
                p("2026-03-01", "2026-03-02", false)
            ]
        );
        assert_eq!(pieces(date!(2026 - 12 - 28), date!(2027 - 01 - 04)), vec![p("2026-12-28", "2027-01-04", false)]);
        assert_eq!(pieces_before(date!(2026 - 07 - 01)), vec![p("0000-00", "2026-07", true)]);
        let names = |piece: &Piece, first: Option<&str>| periods(piece, first);
        assert_eq!(names(&p("2026-11", "2027-02", true), None), ["2026-11", "2026-12", "2027-01"]);
        assert_eq!(names(&p("0000-00", "2026-07", true), Some("2026-05")), ["2026-05", "2026-06"]);
        assert!(names(&p("0000-00", "2026-07", true), None).is_empty(), "no facts: no months");
        assert_eq!(names(&p("2026-12-30", "2027-01-02", false), None), ["2026-12-30", "2026-12-31", "2027-01-01"]);
        assert_eq!(
            pieces_before(date!(2026 - 07 - 15)),
            vec![p("0000-00", "2026-07", true), p("2026-07-01", "2026-07-15", false)]
        );
    }

    #[test]
    fn a_running_period_is_counted_to_date() {
        let year = Period::Year(2026);
        let w = Window::new(year, date!(2026 - 05 - 31)).unwrap();
        assert!(w.is_cut());
        assert_eq!(
            (w.start(), w.end(), w.as_of()),
            (date!(2026 - 01 - 01), date!(2026 - 06 - 01), date!(2026 - 05 - 31))
        );
        // The same point of the previous year: January to May.
        let p = w.previous();
        assert_eq!((p.period, p.end()), (Period::Year(2025), date!(2025 - 06 - 01)));
        // A finished period is whole; one that has not begun has no figures.
        let whole = Window::new(year, date!(2027 - 03 - 01)).unwrap();
        assert_eq!((whole, whole.is_cut(), whole.end()), (Window::whole(year), false, date!(2027 - 01 - 01)));
        assert_eq!(whole.previous(), Window::whole(Period::Year(2025)));
        assert!(Window::new(Period::Year(2027), date!(2026 - 12 - 31)).is_err());
        // A month longer than the previous one: the previous window stops at its end.
        let march = Window::new(Period::Month { year: 2026, month: 3 }, date!(2026 - 03 - 31)).unwrap();
        assert_eq!(march.previous(), Window::whole(Period::Month { year: 2026, month: 2 }));
        let twelve = last_12_months(date!(2026 - 12 - 01));
        assert_eq!(twelve.len(), 12);
        assert_eq!(twelve[0], Window::whole(Period::Month { year: 2026, month: 1 }));
        assert_eq!(twelve[11].end(), date!(2026 - 12 - 02));
    }
}
