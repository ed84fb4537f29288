//! Stored dossiers: submission (idempotent per applicant and `Idempotency-Key`, coded body +
//! date + daily sequence), and the actions of the workflow, each recorded as a step of the
//! processing control sheet and as a `dossier.*` event in the same transaction, guarded by the
//! dossier's version.

use serde::Serialize;
use time::Date;

use civitas_core::dossier::DossierCode;
use civitas_core::workdays::WorkCalendar;
use civitas_store::{NewEvent, StoreError, dispatch, insert_events};

use crate::workflow::{self, Action, Pause, State, Timeliness};

#[derive(Debug, Clone, Serialize)]
pub struct Dossier {
    pub code: String,
    pub procedure_code: String,
    pub body_code: String,
    pub applicant_pid: String,
    pub channel: String,
    pub state: State,
    pub data: serde_json::Value,
    pub received_at: String,
    pub received_on: String,
    pub statutory_days: i64,
    pub appointment_on: String,
    pub pauses: Vec<Pause>,
    pub finished_on: Option<String>,
    pub timeliness: Option<Timeliness>,
    pub version: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    code: String,
    procedure_code: String,
    body_code: String,
    applicant_pid: String,
    channel: String,
    state: String,
    data: String,
    received_at: String,
    received_on: String,
    statutory_days: i64,
    appointment_on: String,
    pauses: String,
    finished_on: Option<String>,
    timeliness: Option<String>,
    version: i64,
}

const COLUMNS: &str = "code, procedure_code, body_code, applicant_pid, channel, state, data, received_at, received_on, \
     statutory_days, appointment_on, pauses, finished_on, timeliness, version";

fn quoted<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

impl Row {
    fn into_dossier(self) -> Result<Dossier, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("dossier {}: {what}", self.code));
        Ok(Dossier {
            state: quoted(&self.state).ok_or_else(|| corrupt("state"))?,
            data: serde_json::from_str(&self.data).map_err(|_| corrupt("data"))?,
            pauses: serde_json::from_str(&self.pauses).map_err(|_| corrupt("pauses"))?,
            timeliness: self.timeliness.as_deref().and_then(quoted),
            code: self.code,
            procedure_code: self.procedure_code,
            body_code: self.body_code,
            applicant_pid: self.applicant_pid,
            channel: self.channel,
            received_at: self.received_at,
            received_on: self.received_on,
            statutory_days: self.statutory_days,
            appointment_on: self.appointment_on,
            finished_on: self.finished_on,
            version: self.version,
        })
    }
}

/// What an applicant (or the officer at the counter) hands in.
#[derive(Debug, Clone)]
pub struct NewDossier {
    pub procedure_code: String,
    pub body_code: String,
    pub applicant_pid: String,
    /// `online`, `counter` or `postal`.
    pub channel: String,
    pub data: serde_json::Value,
    pub statutory_days: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum DossierError {
    #[error("{0}")]
    Invalid(String),
    #[error("no dossier has code {0}")]
    NotFound(String),
    #[error(transparent)]
    Transition(#[from] workflow::TransitionError),
    #[error("the dossier changed meanwhile (version {actual}, expected {expected})")]
    VersionConflict { expected: i64, actual: i64 },
    #[error("storage failed")]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for DossierError {
    fn from(e: sqlx::Error) -> Self {
        DossierError::Store(StoreError::Database(e))
    }
}

fn day(d: Date) -> String {
    d.to_string()
}

fn parse_day(s: &str) -> Result<Date, StoreError> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| StoreError::Corrupt(format!("stored date {s:?}")))
}

pub async fn get(db: &civitas_store::Db, code: &str) -> Result<Option<Dossier>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM dossiers WHERE code = $1");
    let row = dispatch!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(code).fetch_optional(pool).await)?;
    row.map(Row::into_dossier).transpose()
}

async fn by_key(db: &civitas_store::Db, applicant: &str, key: &str) -> Result<Option<Dossier>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM dossiers WHERE applicant_pid = $1 AND idempotency_key = $2");
    let row = dispatch!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(applicant).bind(key).fetch_optional(pool).await)?;
    row.map(Row::into_dossier).transpose()
}

/// Receives a dossier. With an `idempotency_key`, submitting again (even concurrently) returns the
/// dossier the first submission created.
pub async fn submit(
    db: &civitas_store::Db,
    calendar: &WorkCalendar,
    new: NewDossier,
    idempotency_key: Option<&str>,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<Dossier, DossierError> {
    if !["online", "counter", "postal"].contains(&new.channel.as_str()) {
        return Err(DossierError::Invalid("the channel is online, counter or postal".into()));
    }
    if !civitas_core::dossier::valid_body(&new.body_code) {
        return Err(DossierError::Invalid(format!("{:?} is not a receiving body code", new.body_code)));
    }
    if let Some(key) = idempotency_key {
        if key.is_empty() || key.len() > 200 {
            return Err(DossierError::Invalid("the Idempotency-Key must have 1–200 characters".into()));
        }
        if let Some(existing) = by_key(db, &new.applicant_pid, key).await? {
            return Ok(existing);
        }
    }
    let received_on = calendar.receipt_day(now);
    let sequence = civitas_store::sequences::next_daily(db, &new.body_code, &day(received_on)).await?;
    let code = DossierCode::new(&new.body_code, received_on, u32::try_from(sequence).unwrap_or(u32::MAX))
        .map_err(|e| DossierError::Invalid(e.to_string()))?
        .to_string();
    let appointment = workflow::appointment(calendar, received_on, new.statutory_days, &[]);
    let at = civitas_store::timestamp(now);
    let event = NewEvent {
        kind: "dossier.received",
        subject: code.clone(),
        payload: serde_json::json!({ "procedure": new.procedure_code, "applicant": new.applicant_pid, "channel": new.channel, "appointment": day(appointment) }),
        actor: actor.to_owned(),
        occurred_at: at.clone(),
    };
    let insert = "INSERT INTO dossiers (code, procedure_code, body_code, applicant_pid, channel, state, data, received_at, received_on, \
                  statutory_days, appointment_on, pauses, idempotency_key, version) \
                  VALUES ($1, $2, $3, $4, $5, 'received', $6, $7, $8, $9, $10, '[]', $11, 1) ON CONFLICT (applicant_pid, idempotency_key) DO NOTHING";
    let step = "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state) VALUES ($1, $2, $3, 'receive', NULL, 'received')";
    let data = new.data.to_string();
    let _writer = db.write_lock().await;
    let inserted = dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query(insert).bind(&code).bind(&new.procedure_code).bind(&new.body_code).bind(&new.applicant_pid)
            .bind(&new.channel).bind(&data).bind(&at).bind(day(received_on)).bind(i64::from(new.statutory_days))
            .bind(day(appointment)).bind(idempotency_key).execute(&mut *tx).await?.rows_affected();
        if n == 1 {
            sqlx::query(step).bind(&code).bind(&at).bind(actor).execute(&mut *tx).await?;
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await?;
        }
        Ok::<_, sqlx::Error>(n == 1)
    })?;
    drop(_writer);
    if !inserted {
        // A concurrent submission with the same key won; its dossier is the answer.
        if let Some(key) = idempotency_key
            && let Some(existing) = by_key(db, &new.applicant_pid, key).await?
        {
            return Ok(existing);
        }
    }
    get(db, &code).await?.ok_or(DossierError::NotFound(code))
}

/// Applies `action` to the dossier `code` as `actor`, recording the step (with `note`, e.g. what
/// must be supplied, or the reasons of a refusal) and the event.
pub async fn act(
    db: &civitas_store::Db,
    calendar: &WorkCalendar,
    code: &str,
    action: Action,
    actor: &str,
    note: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<Dossier, DossierError> {
    let current = get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))?;
    let to = workflow::next(current.state, action)?;
    if matches!(action, Action::RequestSupplement | Action::Refuse | Action::RejectAtReceipt)
        && note.is_none_or(|n| n.trim().is_empty())
    {
        return Err(DossierError::Invalid("say what is missing, or why, in the note".into()));
    }
    let today = now.to_offset(time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC)).date();
    let mut pauses = current.pauses.clone();
    match action {
        Action::RequestSupplement => pauses.push(Pause { from: today, until: None }),
        Action::Supplement | Action::LapseSupplement => {
            if let Some(open) = pauses.iter_mut().rev().find(|p| p.until.is_none()) {
                open.until = Some(today);
            }
        }
        _ => {}
    }
    let received_on = parse_day(&current.received_on)?;
    let appointment =
        workflow::appointment(calendar, received_on, u32::try_from(current.statutory_days).unwrap_or(0), &pauses);
    let finished = (to == State::ResultIssued || to == State::Refused).then_some(today);
    let timeliness = finished.map(|f| workflow::timeliness(appointment, f));
    let at = civitas_store::timestamp(now);
    let state_text =
        |s: State| serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let action_text = serde_json::to_value(action).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let event = NewEvent {
        kind: "dossier.step",
        subject: code.to_owned(),
        payload: serde_json::json!({ "action": action_text, "from": state_text(current.state), "to": state_text(to), "appointment": day(appointment), "note": note }),
        actor: actor.to_owned(),
        occurred_at: at.clone(),
    };
    let update = "UPDATE dossiers SET state = $1, pauses = $2, appointment_on = $3, finished_on = $4, timeliness = $5, version = version + 1 \
                  WHERE code = $6 AND version = $7";
    let step = "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state, note) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let pauses_json = serde_json::to_string(&pauses).unwrap_or_else(|_| "[]".into());
    let timeliness_text =
        timeliness.and_then(|t| serde_json::to_value(t).ok()).and_then(|v| v.as_str().map(str::to_owned));
    let _writer = db.write_lock().await;
    let updated = dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query(update).bind(state_text(to)).bind(&pauses_json).bind(day(appointment)).bind(finished.map(day))
            .bind(&timeliness_text).bind(code).bind(current.version).execute(&mut *tx).await?.rows_affected();
        if n == 1 {
            sqlx::query(step).bind(code).bind(&at).bind(actor).bind(&action_text).bind(state_text(current.state)).bind(state_text(to)).bind(note)
                .execute(&mut *tx).await?;
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await?;
        }
        Ok::<_, sqlx::Error>(n == 1)
    })?;
    drop(_writer);
    if !updated {
        let actual = get(db, code).await?.map(|d| d.version).unwrap_or_default();
        return Err(DossierError::VersionConflict { expected: current.version, actual });
    }
    get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))
}

/// The control sheet of a dossier: (time, actor, action, from, to, note), oldest first.
pub async fn steps(
    db: &civitas_store::Db,
    code: &str,
) -> Result<Vec<(String, String, String, Option<String>, String, Option<String>)>, StoreError> {
    let sql = "SELECT at, actor, action, from_state, to_state, note FROM dossier_steps WHERE code = $1 ORDER BY id";
    Ok(dispatch!(db, pool => sqlx::query_as(sql).bind(code).fetch_all(pool).await)?)
}

/// The dossiers of an applicant, newest first.
pub async fn of_applicant(db: &civitas_store::Db, pid: &str, limit: i64) -> Result<Vec<Dossier>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM dossiers WHERE applicant_pid = $1 ORDER BY received_at DESC, code DESC LIMIT $2"
    );
    let rows = dispatch!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(pid).bind(limit).fetch_all(pool).await)?;
    rows.into_iter().map(Row::into_dossier).collect()
}
