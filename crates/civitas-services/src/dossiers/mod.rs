//! Stored dossiers: submission (idempotent per applicant and `Idempotency-Key`, coded body +
//! date + daily sequence, group-committed), and the actions of the workflow, each recorded as a
//! step of the processing control sheet (form 05), a `dossier.*` event and, where the applicant
//! must know, a notification in the outbox — all in one transaction, guarded by the dossier's
//! version.

use std::sync::Arc;

use serde::Serialize;
use time::Date;
use tokio::sync::{mpsc, oneshot};

use civitas_core::dossier::DossierCode;
use civitas_core::workdays::WorkCalendar;
use civitas_store::unit::{Value, Write};
use civitas_store::{Db, NewEvent, StoreError, dispatch, insert_events};

use crate::catalogue::{Procedure, StepRole};
use crate::workflow::{self, Action, Pause, State, Timeliness};

#[derive(Debug, Clone, Serialize)]
pub struct Dossier {
    pub code: String,
    pub procedure_code: String,
    pub body_code: String,
    pub unit_code: String,
    pub applicant_pid: String,
    pub applicant_name: String,
    pub channel: String,
    pub state: State,
    /// Index of the processing step the dossier is at (while in processing).
    pub step_index: i64,
    pub data: serde_json::Value,
    pub received_at: String,
    pub received_on: String,
    pub statutory_days: i64,
    pub appointment_on: String,
    pub pauses: Vec<Pause>,
    pub supplement_due_on: Option<String>,
    pub apology_on: Option<String>,
    pub apology_reason: Option<String>,
    pub finished_on: Option<String>,
    pub timeliness: Option<Timeliness>,
    pub rating: Option<Rating>,
    pub result_document: Option<String>,
    pub catalogue_version: String,
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    VerySatisfied,
    Satisfied,
    NotSatisfied,
}

#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    code: String,
    procedure_code: String,
    body_code: String,
    unit_code: String,
    applicant_pid: String,
    applicant_name: String,
    channel: String,
    state: String,
    step_index: i64,
    data: String,
    received_at: String,
    received_on: String,
    statutory_days: i64,
    appointment_on: String,
    pauses: String,
    supplement_due_on: Option<String>,
    apology_on: Option<String>,
    apology_reason: Option<String>,
    finished_on: Option<String>,
    timeliness: Option<String>,
    rating: Option<String>,
    result_document: Option<String>,
    catalogue_version: String,
    version: i64,
}

pub(crate) const COLUMNS: &str = "code, procedure_code, body_code, unit_code, applicant_pid, applicant_name, channel, state, step_index, \
     data, received_at, received_on, statutory_days, appointment_on, pauses, supplement_due_on, apology_on, apology_reason, \
     finished_on, timeliness, rating, result_document, catalogue_version, version";

pub(crate) fn quoted<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

/// The snake_case name of a unit enum value (state, action, rating).
pub fn name_of<T: Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl Row {
    fn into_dossier(self) -> Result<Dossier, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("dossier {}: {what}", self.code));
        Ok(Dossier {
            state: quoted(&self.state).ok_or_else(|| corrupt("state"))?,
            data: serde_json::from_str(&self.data).map_err(|_| corrupt("data"))?,
            pauses: serde_json::from_str(&self.pauses).map_err(|_| corrupt("pauses"))?,
            timeliness: self.timeliness.as_deref().and_then(quoted),
            rating: self.rating.as_deref().and_then(quoted),
            code: self.code,
            procedure_code: self.procedure_code,
            body_code: self.body_code,
            unit_code: self.unit_code,
            applicant_pid: self.applicant_pid,
            applicant_name: self.applicant_name,
            channel: self.channel,
            step_index: self.step_index,
            received_at: self.received_at,
            received_on: self.received_on,
            statutory_days: self.statutory_days,
            appointment_on: self.appointment_on,
            supplement_due_on: self.supplement_due_on,
            apology_on: self.apology_on,
            apology_reason: self.apology_reason,
            finished_on: self.finished_on,
            result_document: self.result_document,
            catalogue_version: self.catalogue_version,
            version: self.version,
        })
    }
}

/// What an applicant (or the officer at the counter) hands in, already checked against the
/// procedure's e-form.
#[derive(Debug, Clone)]
pub struct NewDossier {
    pub procedure_code: String,
    pub body_code: String,
    /// The competent unit: a commune code for commune-level procedures, else a province code.
    pub unit_code: String,
    pub applicant_pid: String,
    pub applicant_name: String,
    /// `online`, `counter` or `postal`.
    pub channel: String,
    pub data: serde_json::Value,
    pub statutory_days: u32,
    pub catalogue_version: String,
    /// The procedure's national code (`MaTTHC`), printed in its components' codes (empty: the
    /// local procedure code).
    pub national_code: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DossierError {
    #[error("{0}")]
    Invalid(String),
    #[error("no dossier has code {0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Transition(#[from] workflow::TransitionError),
    #[error("the dossier changed meanwhile (version {actual}, expected {expected})")]
    VersionConflict { expected: i64, actual: i64 },
    #[error("the submission queue is full; try again shortly")]
    Busy,
    /// A birth that may already be registered: an officer must confirm or refuse.
    #[error("{0}")]
    PossibleDuplicate(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for DossierError {
    fn from(e: sqlx::Error) -> Self {
        DossierError::Store(StoreError::Database(e))
    }
}

pub(crate) fn day(d: Date) -> String {
    d.to_string()
}

pub fn parse_day(s: &str) -> Result<Date, StoreError> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| StoreError::Corrupt(format!("stored date {s:?}")))
}

/// Today in Vietnam (UTC+7).
pub fn local_today(now: time::OffsetDateTime) -> Date {
    now.to_offset(time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC)).date()
}

pub async fn get(db: &Db, code: &str) -> Result<Option<Dossier>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM dossiers WHERE code = $1");
    let row = dispatch!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(code).fetch_optional(pool).await)?;
    row.map(Row::into_dossier).transpose()
}

pub(crate) async fn by_key(db: &Db, applicant: &str, key: &str) -> Result<Option<Dossier>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM dossiers WHERE applicant_pid = $1 AND idempotency_key = $2");
    let row = dispatch!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(applicant).bind(key).fetch_optional(pool).await)?;
    row.map(Row::into_dossier).transpose()
}

mod acting;
mod intake;
mod queries;

pub use acting::*;
pub use intake::*;
pub use queries::*;
