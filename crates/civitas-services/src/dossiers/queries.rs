//! The sweep (lapsed supplements, apologies of late dossiers) and the read side: control
//! sheets, an applicant's dossiers, the work queue, ratings per official.

use super::*;

/// What the periodic sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub lapsed: usize,
    pub apologised: usize,
}

/// Closes dossiers whose supplement deadline passed, and writes the apology (form 04) of open
/// dossiers past their appointment date (new date: today + half the statutory time, at least
/// one working day; an officer may give a date of their own first).
pub async fn sweep(
    db: &Db,
    calendar: &WorkCalendar,
    catalogue: &crate::catalogue::Catalogue,
    now: time::OffsetDateTime,
) -> Result<Swept, DossierError> {
    let today = day(local_today(now));
    let mut swept = Swept::default();
    let lapsed_sql =
        "SELECT code FROM dossiers WHERE state = 'supplement_requested' AND supplement_due_on < $1 LIMIT 500";
    let codes: Vec<(String,)> = dispatch!(db, pool => sqlx::query_as(lapsed_sql).bind(&today).fetch_all(pool).await)
        .map_err(StoreError::from)?;
    for (code,) in codes {
        let Some(d) = get(db, &code).await? else { continue };
        let Some(p) = catalogue.get(&d.procedure_code) else { continue };
        let note = Some("Quá hạn bổ sung hồ sơ / supplement deadline passed".to_owned());
        match act(
            db,
            calendar,
            p,
            &code,
            Action::LapseSupplement,
            &Actor::System,
            ActInput { note, ..Default::default() },
            now,
        )
        .await
        {
            Ok(_) => swept.lapsed += 1,
            Err(DossierError::VersionConflict { .. } | DossierError::Transition(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let late_sql = "SELECT code, statutory_days FROM dossiers WHERE state IN ('received', 'in_processing', 'approved') \
                    AND appointment_on < $1 AND (apology_on IS NULL OR apology_on < $1) LIMIT 500";
    let late: Vec<(String, i64)> =
        dispatch!(db, pool => sqlx::query_as(late_sql).bind(&today).fetch_all(pool).await).map_err(StoreError::from)?;
    for (code, days) in late {
        let extra = u32::try_from(days / 2).unwrap_or(1).max(1);
        let new_date = calendar.add_working_days(local_today(now), extra);
        let reason = "Hồ sơ chưa được giải quyết đúng hạn / not processed by the appointment date";
        match apologize(db, &code, new_date, reason, &Actor::System, now).await {
            Ok(_) => swept.apologised += 1,
            Err(DossierError::VersionConflict { .. } | DossierError::Invalid(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(swept)
}

/// One row of the control sheet (form 05).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StepRecord {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub note: Option<String>,
}

/// The control sheet of a dossier, oldest first.
pub async fn steps(db: &Db, code: &str) -> Result<Vec<StepRecord>, StoreError> {
    let sql = "SELECT at, actor, action, from_state, to_state, note FROM dossier_steps WHERE code = $1 ORDER BY id";
    Ok(dispatch!(db, pool => sqlx::query_as::<_, StepRecord>(sql).bind(code).fetch_all(pool).await)?)
}

/// The dossiers of an applicant, newest first.
pub async fn of_applicant(db: &Db, pid: &str, limit: i64) -> Result<Vec<Dossier>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM dossiers WHERE applicant_pid = $1 ORDER BY received_at DESC, code DESC LIMIT $2"
    );
    let rows = dispatch!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(pid).bind(limit).fetch_all(pool).await)?;
    rows.into_iter().map(Row::into_dossier).collect()
}

/// A filter of the work queue.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub procedure: Option<String>,
    /// One state; by default every state that still needs an officer.
    pub state: Option<State>,
    /// Only dossiers due on or before this day (due soon / overdue).
    pub due_by: Option<Date>,
    pub limit: i64,
    pub offset: i64,
}

/// The states in which a dossier waits for an officer.
pub const OPEN: [State; 4] = [State::Received, State::InProcessing, State::SupplementRequested, State::Approved];

/// The SQL condition of [`OPEN`], spelled exactly as the partial index `dossiers_open_queue`
/// is, so both databases use that index.
pub(crate) const OPEN_SQL: &str = "state IN ('received', 'in_processing', 'supplement_requested', 'approved')";

/// The work queue of `units` (the dossiers whose competent unit is one of them), earliest
/// appointment first. One query per unit, each reading only the first rows of its index range,
/// merged here.
pub async fn queue(db: &Db, units: &[String], filter: &QueueFilter) -> Result<Vec<Dossier>, StoreError> {
    let limit = filter.limit.clamp(1, 200);
    let offset = filter.offset.clamp(0, 10_000);
    let mut merged: Vec<Dossier> = Vec::new();
    for unit in units {
        let mut binds: Vec<String> = vec![unit.clone()];
        let mut sql = format!("SELECT {COLUMNS} FROM dossiers WHERE unit_code = $1 AND ");
        match filter.state {
            None => sql.push_str(OPEN_SQL),
            Some(s) => {
                binds.push(name_of(s));
                sql.push_str(&format!("state = ${}", binds.len()));
            }
        }
        if let Some(p) = &filter.procedure {
            binds.push(p.clone());
            sql.push_str(&format!(" AND procedure_code = ${}", binds.len()));
        }
        if let Some(d) = filter.due_by {
            binds.push(day(d));
            sql.push_str(&format!(" AND appointment_on <= ${}", binds.len()));
        }
        // Numbers the server computed, not text from outside.
        sql.push_str(&format!(" ORDER BY appointment_on, code LIMIT {}", limit + offset));
        let rows = dispatch!(db, pool => {
            let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                q = q.bind(b);
            }
            q.fetch_all(pool).await
        })?;
        for r in rows {
            merged.push(r.into_dossier()?);
        }
    }
    merged.sort_by(|a, b| (&a.appointment_on, &a.code).cmp(&(&b.appointment_on, &b.code)));
    Ok(merged.into_iter().skip(offset as usize).take(limit as usize).collect())
}

/// Ratings per official: for each officer who acted on rated dossiers, how many of each.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OfficialRating {
    pub official: String,
    pub very_satisfied: i64,
    pub satisfied: i64,
    pub not_satisfied: i64,
}

pub async fn ratings_by_official(db: &Db, units: &[String]) -> Result<Vec<OfficialRating>, StoreError> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    let list = (1..=units.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT s.actor AS official, \
         SUM(CASE WHEN d.rating = 'very_satisfied' THEN 1 ELSE 0 END) AS very_satisfied, \
         SUM(CASE WHEN d.rating = 'satisfied' THEN 1 ELSE 0 END) AS satisfied, \
         SUM(CASE WHEN d.rating = 'not_satisfied' THEN 1 ELSE 0 END) AS not_satisfied \
         FROM dossiers d JOIN (SELECT DISTINCT code, actor FROM dossier_steps \
         WHERE action IN ('start_processing', 'forward', 'approve', 'refuse', 'issue_result', 'return')) s ON s.code = d.code \
         WHERE d.rating IS NOT NULL AND d.unit_code IN ({list}) GROUP BY s.actor ORDER BY s.actor"
    );
    Ok(dispatch!(db, pool => {
        let mut q = sqlx::query_as::<_, OfficialRating>(sqlx::AssertSqlSafe(sql));
        for u in units {
            q = q.bind(u);
        }
        q.fetch_all(pool).await
    })?)
}
