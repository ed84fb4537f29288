//! The register's population as the completeness indicators need it: living people per commune
//! of permanent residence, summed to provinces and the nation, counted once a day (a job, or
//! `civitas reports population`) — never on a page view — and kept per day, so a period is
//! estimated from the count at or before its last day. The estimate of events (OpenCRVS):
//! round(crude rate per 1,000 × population / 1,000 × days / 365).

use std::collections::{BTreeMap, HashMap};

use time::Date;

use civitas_store::{Db, dispatch};

use crate::catalogue::Estimate;
use crate::query::Window;
use crate::{NATION, ReportError};

/// What a count did: `None` when the day was counted already (by another server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub units: usize,
    pub people: i64,
}

/// Counts the living people per commune and records the counts of `day` for every commune,
/// province and the nation — once: the nation's row is the claim, so several servers (or the
/// command line beside a server) count a day once. `recount` (an operator's explicit request)
/// replaces the day's counts instead.
pub async fn count(db: &Db, day: Date, recount: bool) -> Result<Option<Counted>, ReportError> {
    let sql = "SELECT permanent_commune, CAST(COUNT(*) AS BIGINT) FROM people \
               WHERE status = 'living' AND permanent_commune IS NOT NULL GROUP BY permanent_commune";
    let taken: Option<i64> = dispatch!(db, pool => {
        sqlx::query_scalar("SELECT people FROM report_population WHERE unit = $1 AND day = $2")
            .bind(NATION).bind(day.to_string()).fetch_optional(pool).await
    })?;
    if taken.is_some() && !recount {
        return Ok(None);
    }
    let per_commune: Vec<(String, i64)> = dispatch!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
    let mut units: BTreeMap<String, i64> = BTreeMap::new();
    units.insert(NATION.to_owned(), 0);
    for (commune, n) in &per_commune {
        for level in crate::levels(commune) {
            *units.entry(level).or_default() += n;
        }
    }
    let people = units.get(NATION).copied().unwrap_or(0);
    let rows: Vec<(String, i64)> = units.into_iter().collect();
    let day_text = day.to_string();
    let _writer = db.write_lock().await;
    let counted = dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        if recount {
            sqlx::query("DELETE FROM report_population WHERE day = $1").bind(day_text.as_str()).execute(&mut *tx).await?;
        }
        let claimed = sqlx::query("INSERT INTO report_population (unit, day, people) VALUES ($1, $2, $3) ON CONFLICT (unit, day) DO NOTHING")
            .bind(NATION).bind(day_text.as_str()).bind(people).execute(&mut *tx).await?.rows_affected() == 1;
        if claimed {
            let rest: Vec<&(String, i64)> = rows.iter().filter(|(u, _)| u != NATION).collect();
            for chunk in rest.chunks(5000) {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO report_population (unit, day, people) ");
                qb.push_values(chunk, |mut b, (unit, n)| {
                    b.push_bind(unit.as_str()).push_bind(day_text.as_str()).push_bind(*n);
                });
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok::<_, sqlx::Error>(claimed)
    })?;
    Ok(counted.then_some(Counted { units: rows.len(), people }))
}

/// The population of each of `units` as counted on the latest day at or before `day` (or, for a
/// unit counted only later, its first count); units never counted are absent.
pub async fn at(db: &Db, units: &[String], day: Date) -> Result<HashMap<String, i64>, ReportError> {
    let mut out = HashMap::new();
    if units.is_empty() {
        return Ok(out);
    }
    for (op, pick) in [("<=", "MAX"), (">", "MIN")] {
        let missing: Vec<&String> = units.iter().filter(|u| !out.contains_key(*u)).collect();
        if missing.is_empty() {
            break;
        }
        let sql = format!(
            "SELECT p.unit, p.people FROM report_population p WHERE p.unit IN ({}) AND p.day = \
             (SELECT {pick}(q.day) FROM report_population q WHERE q.unit = p.unit AND q.day {op} ${})",
            crate::placeholders(1, missing.len()),
            missing.len() + 1
        );
        let rows: Vec<(String, i64)> = dispatch!(db, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for u in &missing {
                q = q.bind(u.as_str());
            }
            q.bind(day.to_string()).fetch_all(pool).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// The province a unit's rate is taken from (a commune's province; None for the nation).
fn province_of(unit: &str) -> Option<String> {
    let all = civitas_core::units::AdminUnits::get();
    if all.province(unit).is_some() {
        Some(unit.to_owned())
    } else {
        all.commune(unit).map(|c| c.province_code.clone())
    }
}

/// Estimated events of each unit over `window`: rate × population / 1,000 × days / 365,
/// rounded, with the population counted at or before the window's last day; the nation sums
/// its provinces (each at its own rate). A unit without any count has no estimate (0).
pub async fn estimate(
    db: &Db,
    e: &Estimate,
    units: &[String],
    window: &Window,
) -> Result<HashMap<String, i64>, ReportError> {
    let mut wanted: Vec<String> = units.to_vec();
    if units.iter().any(|u| u == NATION) {
        wanted.extend(civitas_core::units::AdminUnits::get().provinces().iter().map(|p| p.code.clone()));
    }
    wanted.sort();
    wanted.dedup();
    let population = at(db, &wanted, window.as_of()).await?;
    let days = (window.end() - window.start()).whole_days() as f64;
    let yearly = |unit: &str| -> f64 {
        let n = population.get(unit).copied().unwrap_or(0) as f64;
        province_of(unit).map(|p| e.rate(&p)).unwrap_or(e.per_1000) * n / 1000.0
    };
    Ok(units
        .iter()
        .map(|u| {
            let per_year = if u == NATION {
                // Each province at its rate; people whose commune is in no province of the
                // catalogue (a code from before 2025) at the national rate.
                let provinces = civitas_core::units::AdminUnits::get().provinces();
                let counted: i64 = provinces.iter().map(|p| population.get(&p.code).copied().unwrap_or(0)).sum();
                let rest = (population.get(NATION).copied().unwrap_or(0) - counted).max(0) as f64;
                provinces.iter().map(|p| yearly(&p.code)).sum::<f64>() + e.per_1000 * rest / 1000.0
            } else {
                yearly(u)
            };
            (u.clone(), (per_year * days / 365.0).round() as i64)
        })
        .collect())
}
