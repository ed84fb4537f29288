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
struct Row {
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

const COLUMNS: &str = "code, procedure_code, body_code, unit_code, applicant_pid, applicant_name, channel, state, step_index, \
     data, received_at, received_on, statutory_days, appointment_on, pauses, supplement_due_on, apology_on, apology_reason, \
     finished_on, timeliness, rating, result_document, catalogue_version, version";

fn quoted<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
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

fn day(d: Date) -> String {
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

async fn by_key(db: &Db, applicant: &str, key: &str) -> Result<Option<Dossier>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM dossiers WHERE applicant_pid = $1 AND idempotency_key = $2");
    let row = dispatch!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(applicant).bind(key).fetch_optional(pool).await)?;
    row.map(Row::into_dossier).transpose()
}

/// Inserts an SMS to the holder of `pid`'s e-ID account (if they have one with a phone), within
/// the caller's transaction. Binds: subject, body, created_at, pid.
const NOTIFY: &str = "INSERT INTO outbox_messages (channel, recipient, subject, body, created_at) \
     SELECT 'sms', phone, $1, $2, $3 FROM accounts WHERE pid = $4 AND phone IS NOT NULL";

struct Pending {
    new: NewDossier,
    key: Option<String>,
    actor: String,
    now: time::OffsetDateTime,
    reply: oneshot::Sender<Result<String, DossierError>>,
}

/// Receives dossiers through one writer that commits whatever arrived together in one
/// transaction (group commit): each submission is acknowledged only after its transaction is
/// durable, and a burst costs one disk flush instead of one per dossier.
#[derive(Clone)]
pub struct Intake {
    db: Db,
    tx: mpsc::Sender<Pending>,
}

const BATCH: usize = 256;

impl Intake {
    pub fn start(db: Db, calendar: Arc<WorkCalendar>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Pending>(4096);
        let writer_db = db.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let items = std::mem::take(&mut batch);
                let (replies, work): (Vec<_>, Vec<_>) =
                    items.into_iter().map(|p| (p.reply, (p.new, p.key, p.actor, p.now))).unzip();
                match insert_batch(&writer_db, &calendar, &work).await {
                    Ok(codes) => {
                        for (reply, code) in replies.into_iter().zip(codes) {
                            let _ = reply.send(Ok(code));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "dossier intake: batch failed");
                        for reply in replies {
                            let _ = reply.send(Err(DossierError::Store(StoreError::Corrupt(
                                "the dossier could not be stored".into(),
                            ))));
                        }
                    }
                }
            }
        });
        Intake { db, tx }
    }

    /// Receives a dossier. With an `idempotency_key`, submitting again (even concurrently)
    /// returns the dossier the first submission created.
    pub async fn submit(
        &self,
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
            if let Some(existing) = by_key(&self.db, &new.applicant_pid, key).await? {
                return Ok(existing);
            }
        }
        let (reply, answer) = oneshot::channel();
        let applicant = new.applicant_pid.clone();
        let pending = Pending { new, key: idempotency_key.map(str::to_owned), actor: actor.to_owned(), now, reply };
        self.tx.try_send(pending).map_err(|_| DossierError::Busy)?;
        let code = answer.await.map_err(|_| DossierError::Busy)??;
        if code.is_empty() {
            // Another submission with the same key won; its dossier is the answer.
            if let Some(key) = idempotency_key
                && let Some(existing) = by_key(&self.db, &applicant, key).await?
            {
                return Ok(existing);
            }
            return Err(DossierError::Invalid("a submission with this Idempotency-Key is being stored".into()));
        }
        get(&self.db, &code).await?.ok_or(DossierError::NotFound(code))
    }
}

/// Stores a batch in one transaction; the code of each (empty when its idempotency key was
/// already used).
async fn insert_batch(
    db: &Db,
    calendar: &WorkCalendar,
    items: &[(NewDossier, Option<String>, String, time::OffsetDateTime)],
) -> Result<Vec<String>, DossierError> {
    let next = "INSERT INTO daily_sequences (scope, day, last) VALUES ($1, $2, 1) \
                ON CONFLICT (scope, day) DO UPDATE SET last = daily_sequences.last + 1 RETURNING last";
    let insert = "INSERT INTO dossiers (code, procedure_code, body_code, unit_code, applicant_pid, applicant_name, channel, state, \
                  data, received_at, received_on, statutory_days, appointment_on, pauses, idempotency_key, catalogue_version, version) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', $8, $9, $10, $11, $12, '[]', $13, $14, 1) \
                  ON CONFLICT (applicant_pid, idempotency_key) DO NOTHING";
    let step = "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state) VALUES ($1, $2, $3, 'receive', NULL, 'received')";
    let _writer = db.write_lock().await;
    let codes = dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        let mut codes = Vec::with_capacity(items.len());
        let mut events = Vec::with_capacity(items.len());
        for (new, key, actor, now) in items {
            // A key used twice within this batch: the later one answers with the first's dossier.
            if key.is_some() && items.iter().take(codes.len()).any(|(o, k, _, _)| k == key && o.applicant_pid == new.applicant_pid) {
                codes.push(String::new());
                continue;
            }
            let received_on = calendar.receipt_day(*now);
            let (sequence,): (i64,) = sqlx::query_as(next).bind(&new.body_code).bind(day(received_on)).fetch_one(&mut *tx).await?;
            let code = DossierCode::new(&new.body_code, received_on, u32::try_from(sequence).unwrap_or(u32::MAX))
                .map(|c| c.to_string())
                .unwrap_or_default();
            let appointment = workflow::appointment(calendar, received_on, new.statutory_days, &[]);
            let at = civitas_store::timestamp(*now);
            let n = sqlx::query(insert).bind(&code).bind(&new.procedure_code).bind(&new.body_code).bind(&new.unit_code)
                .bind(&new.applicant_pid).bind(&new.applicant_name).bind(&new.channel).bind(new.data.to_string()).bind(&at)
                .bind(day(received_on)).bind(i64::from(new.statutory_days)).bind(day(appointment)).bind(key.as_deref())
                .bind(&new.catalogue_version).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                codes.push(String::new());
                continue;
            }
            sqlx::query(step).bind(&code).bind(&at).bind(actor).execute(&mut *tx).await?;
            let body = format!(
                "Hồ sơ {code} đã được tiếp nhận. Ngày hẹn trả kết quả: {}. / Dossier {code} received; results due {}.",
                vn_day(appointment), appointment
            );
            sqlx::query(NOTIFY).bind("Tiếp nhận hồ sơ / Dossier received").bind(body).bind(&at).bind(&new.applicant_pid)
                .execute(&mut *tx).await?;
            events.push(NewEvent {
                kind: "dossier.received",
                subject: code.clone(),
                payload: serde_json::json!({ "procedure": new.procedure_code, "applicant": new.applicant_pid, "channel": new.channel, "unit": new.unit_code, "appointment": day(appointment) }),
                actor: actor.clone(),
                occurred_at: at,
            });
            codes.push(code);
        }
        insert_events!(tx, &events)?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(codes)
    })?;
    Ok(codes)
}

/// `dd/mm/yyyy`, as dates are written in Vietnamese documents.
pub fn vn_day(d: Date) -> String {
    format!("{:02}/{:02}/{}", d.day(), d.month() as u8, d.year())
}

/// Who acts on a dossier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The one-stop officer (receipt, supplements at the counter, return).
    Onestop(String),
    /// An officer acting at a processing step.
    Officer(String, StepRole),
    Applicant(String),
    /// The server's own sweeps (lapsed supplements, apologies).
    System,
}

impl Actor {
    pub fn id(&self) -> String {
        match self {
            Actor::Onestop(id) | Actor::Officer(id, _) | Actor::Applicant(id) => id.clone(),
            Actor::System => "system".into(),
        }
    }
}

/// Whether `actor` may take `action` on `dossier` of `procedure` (the unit is the caller's to
/// check). The processing steps of the procedure say which role acts at each.
pub fn permitted(procedure: &Procedure, dossier: &Dossier, action: Action, actor: &Actor) -> Result<(), DossierError> {
    let step_role = usize::try_from(dossier.step_index).ok().and_then(|i| procedure.step(i)).map(|s| s.role);
    let last_step = dossier.step_index + 1 >= procedure.steps.len() as i64;
    let no = |why: &str| Err(DossierError::Forbidden(why.to_owned()));
    match (action, actor) {
        (Action::Withdraw, Actor::Applicant(pid)) if *pid == dossier.applicant_pid => Ok(()),
        (Action::Supplement, Actor::Applicant(pid)) if *pid == dossier.applicant_pid => Ok(()),
        (Action::Supplement, Actor::Onestop(_)) => Ok(()),
        (Action::StartProcessing | Action::RejectAtReceipt | Action::Return, Actor::Onestop(_)) => Ok(()),
        (Action::RequestSupplement, Actor::Onestop(_)) if dossier.state == State::Received => Ok(()),
        (Action::RequestSupplement | Action::Forward, Actor::Officer(_, role)) if Some(*role) == step_role => {
            if action == Action::Forward && last_step {
                return no("this is the last processing step: approve or refuse instead");
            }
            Ok(())
        }
        (Action::Approve | Action::Refuse, Actor::Officer(_, role)) if Some(*role) == step_role => {
            if !last_step {
                return no("the dossier must first pass the earlier processing steps (forward it)");
            }
            Ok(())
        }
        (Action::IssueResult, Actor::Officer(_, StepRole::Specialist) | Actor::Onestop(_)) => Ok(()),
        (Action::LapseSupplement, Actor::System) => Ok(()),
        _ => no(&format!(
            "{} may not {} this dossier at its current step",
            match actor {
                Actor::Onestop(_) => "a one-stop officer",
                Actor::Officer(_, StepRole::Specialist) => "a specialist",
                Actor::Officer(_, StepRole::Leader) => "a leader",
                Actor::Applicant(_) => "the applicant",
                Actor::System => "the system",
            },
            name_of(action).replace('_', " ")
        )),
    }
}

/// A result document placed in the applicant's store when the result is issued.
#[derive(Debug, Clone)]
pub struct ResultFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The details of one action.
#[derive(Debug, Clone, Default)]
pub struct ActInput {
    /// What must be supplied, the reasons of a refusal, or a remark.
    pub note: Option<String>,
    /// The applicant's deadline to supply documents, in working days (request supplement).
    pub supplement_days: Option<u32>,
    /// Documents handed in with a supplement: component code → document id.
    pub components: Vec<(String, String)>,
    pub result: Option<ResultFile>,
    /// Refuse the action if the dossier is no longer at this version.
    pub expected_version: Option<i64>,
}

/// Checks `action` on the dossier `code` as `actor` and plans its writes (the dossier row,
/// the control-sheet step, the result document, the notification, the event), for [`act`] or
/// for a context that commits them with its own (civil registration updates the register in
/// the same transaction). Returns the dossier as it was.
#[allow(clippy::too_many_arguments)]
pub async fn plan_act(
    db: &Db,
    calendar: &WorkCalendar,
    procedure: &Procedure,
    code: &str,
    action: Action,
    actor: &Actor,
    input: ActInput,
    now: time::OffsetDateTime,
) -> Result<(Dossier, Vec<Write>), DossierError> {
    let current = get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))?;
    if let Some(v) = input.expected_version
        && v != current.version
    {
        return Err(DossierError::VersionConflict { expected: v, actual: current.version });
    }
    let to = workflow::next(current.state, action)?;
    permitted(procedure, &current, action, actor)?;
    let note = input.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(civitas_core::text::nfc);
    if matches!(action, Action::RequestSupplement | Action::Refuse | Action::RejectAtReceipt) && note.is_none() {
        return Err(DossierError::Invalid("say what is missing, or why, in the note".into()));
    }
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(DossierError::Invalid("the note may have at most 2,000 characters".into()));
    }
    if action == Action::Supplement && input.components.is_empty() && note.is_none() {
        return Err(DossierError::Invalid(
            "hand in the documents asked for (or say what was supplied in the note)".into(),
        ));
    }
    for (component, document) in &input.components {
        if !procedure.components.iter().any(|c| &c.code == component) {
            return Err(DossierError::Invalid(format!(
                "{component} is not a component of procedure {}",
                procedure.code
            )));
        }
        if !crate::documents::owned_by(db, document, &current.applicant_pid).await? {
            return Err(DossierError::Invalid(format!("document {document} is not in the applicant's store")));
        }
    }
    let today = local_today(now);
    let mut pauses = current.pauses.clone();
    let mut supplement_due = current.supplement_due_on.clone();
    match action {
        Action::RequestSupplement => {
            let days = input.supplement_days.unwrap_or(15);
            if !(1..=60).contains(&days) {
                return Err(DossierError::Invalid("the applicant's deadline is 1–60 working days".into()));
            }
            pauses.push(Pause { from: today, until: None });
            supplement_due = Some(day(calendar.add_working_days(today, days)));
        }
        Action::Supplement | Action::LapseSupplement => {
            if let Some(open) = pauses.iter_mut().rev().find(|p| p.until.is_none()) {
                open.until = Some(today);
            }
            supplement_due = None;
        }
        _ => {}
    }
    let received_on = parse_day(&current.received_on)?;
    let appointment =
        workflow::appointment(calendar, received_on, u32::try_from(current.statutory_days).unwrap_or(0), &pauses);
    let finished = matches!(to, State::ResultIssued | State::Refused | State::RejectedAtReceipt).then_some(today);
    let timeliness = finished.filter(|_| to != State::RejectedAtReceipt).map(|f| workflow::timeliness(appointment, f));
    let step_index = match action {
        Action::Forward => current.step_index + 1,
        _ => current.step_index,
    };
    let mut data = current.data.clone();
    if !input.components.is_empty()
        && let Some(obj) = data.as_object_mut()
    {
        let comps = obj.entry("components").or_insert_with(|| serde_json::json!({}));
        if let Some(c) = comps.as_object_mut() {
            for (component, document) in &input.components {
                c.insert(component.clone(), serde_json::Value::String(document.clone()));
            }
        }
    }
    let at = civitas_store::timestamp(now);
    let action_text = name_of(action);
    let step_key = usize::try_from(current.step_index).ok().and_then(|i| procedure.step(i)).map(|s| s.key.clone());
    let event = NewEvent {
        kind: "dossier.step",
        subject: code.to_owned(),
        payload: serde_json::json!({ "action": action_text, "from": name_of(current.state), "to": name_of(to), "step": step_key, "appointment": day(appointment), "note": note }),
        actor: actor.id(),
        occurred_at: at.clone(),
    };
    let notice: Option<(&str, String)> = match action {
        Action::RequestSupplement => Some((
            "Yêu cầu bổ sung hồ sơ / Supplement requested",
            format!(
                "Hồ sơ {code} cần bổ sung: {}. Hạn bổ sung: {}. / Dossier {code} needs more documents by {}.",
                note.as_deref().unwrap_or_default(),
                supplement_due.as_deref().and_then(|d| parse_day(d).ok()).map(vn_day).unwrap_or_default(),
                supplement_due.as_deref().unwrap_or_default()
            ),
        )),
        Action::IssueResult => Some((
            "Có kết quả / Result ready",
            format!(
                "Hồ sơ {code} đã có kết quả, lưu trong kho dữ liệu của bạn. / The result of dossier {code} is in your document store."
            ),
        )),
        Action::Refuse => Some((
            "Từ chối giải quyết / Refused",
            format!(
                "Hồ sơ {code} không được giải quyết: {}. / Dossier {code} was refused.",
                note.as_deref().unwrap_or_default()
            ),
        )),
        Action::LapseSupplement => Some((
            "Hồ sơ đã đóng / Dossier closed",
            format!(
                "Hồ sơ {code} đã đóng vì quá hạn bổ sung. / Dossier {code} was closed: the documents were not supplied in time."
            ),
        )),
        _ => None,
    };
    let update = "UPDATE dossiers SET state = $1, pauses = $2, appointment_on = $3, finished_on = $4, timeliness = $5, \
                  step_index = $6, supplement_due_on = $7, data = $8, result_document = COALESCE($9, result_document), version = version + 1 \
                  WHERE code = $10 AND version = $11";
    let step = "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state, note) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let pauses_json = serde_json::to_string(&pauses).unwrap_or_else(|_| "[]".into());
    let timeliness_text = timeliness.map(name_of);
    let result_doc = input.result.as_ref().map(|r| {
        let prepared = crate::documents::prepare(&r.bytes);
        (crate::documents::new_id(), prepared, r)
    });
    if let Some((_, Err(e), _)) = &result_doc {
        return Err(DossierError::Invalid(e.to_string()));
    }
    let result_id = result_doc.as_ref().map(|(id, _, _)| id.clone());
    let mut writes = vec![
        Write::new(
            update,
            vec![
                name_of(to).into(),
                pauses_json.into(),
                day(appointment).into(),
                Value::Text(finished.map(day)),
                Value::Text(timeliness_text),
                step_index.into(),
                Value::Text(supplement_due),
                data.to_string().into(),
                Value::Text(result_id),
                code.into(),
                current.version.into(),
            ],
        )
        .expecting(1, "the dossier changed meanwhile"),
        Write::new(
            step,
            vec![
                code.into(),
                at.clone().into(),
                actor.id().into(),
                action_text.into(),
                name_of(current.state).into(),
                name_of(to).into(),
                Value::Text(note),
            ],
        ),
    ];
    if let Some((id, Ok((media, sha)), file)) = &result_doc {
        writes.push(Write::new(
            crate::documents::INSERT_RESULT,
            vec![
                id.clone().into(),
                current.applicant_pid.clone().into(),
                file.name.clone().into(),
                media.as_str().into(),
                (file.bytes.len() as i64).into(),
                sha.clone().into(),
                Value::Bytes(Some(file.bytes.clone())),
                at.clone().into(),
                code.into(),
                current.procedure_code.clone().into(),
            ],
        ));
    }
    if let Some((subject, body)) = notice {
        writes.push(notify_write(subject, &body, &at, &current.applicant_pid));
    }
    writes.push(civitas_store::unit::event(&event));
    Ok((current, writes))
}

/// The SMS to the holder of `pid`'s e-ID account, as a planned write.
pub fn notify_write(subject: &str, body: &str, at: &str, pid: &str) -> Write {
    Write::new(NOTIFY, vec![subject.into(), body.into(), at.into(), pid.into()])
}

/// Commits planned writes; a guard that did not hold is a version conflict on `code`.
pub async fn commit_planned(db: &Db, code: &str, expected: i64, writes: &[Write]) -> Result<Dossier, DossierError> {
    if civitas_store::unit::commit(db, writes).await?.is_err() {
        let actual = get(db, code).await?.map(|d| d.version).unwrap_or_default();
        return Err(DossierError::VersionConflict { expected, actual });
    }
    get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))
}

/// Like [`commit_planned`], through a group committer (one flush for concurrent units).
pub async fn commit_planned_with(
    committer: &civitas_store::unit::GroupCommitter,
    db: &Db,
    code: &str,
    expected: i64,
    writes: Vec<Write>,
) -> Result<Dossier, DossierError> {
    if committer.commit(writes).await?.is_err() {
        let actual = get(db, code).await?.map(|d| d.version).unwrap_or_default();
        return Err(DossierError::VersionConflict { expected, actual });
    }
    get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))
}

/// Applies `action` to the dossier `code` as `actor`, recording the step, the event and the
/// applicant's notification in one transaction.
#[allow(clippy::too_many_arguments)]
pub async fn act(
    db: &Db,
    calendar: &WorkCalendar,
    procedure: &Procedure,
    code: &str,
    action: Action,
    actor: &Actor,
    input: ActInput,
    now: time::OffsetDateTime,
) -> Result<Dossier, DossierError> {
    let (current, writes) = plan_act(db, calendar, procedure, code, action, actor, input, now).await?;
    commit_planned(db, code, current.version, &writes).await
}

/// Records the apology (form 04) of a dossier that is, or will be, late, with the new date
/// promised and the reason; notifies the applicant. Timeliness is still judged against the
/// statutory date: an apologised dossier finished after it is late.
pub async fn apologize(
    db: &Db,
    code: &str,
    new_date: Date,
    reason: &str,
    actor: &Actor,
    now: time::OffsetDateTime,
) -> Result<Dossier, DossierError> {
    let current = get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))?;
    if current.state.is_final() || current.state == State::ResultIssued {
        return Err(DossierError::Invalid("the dossier is finished; there is nothing to apologise for".into()));
    }
    let reason = civitas_core::text::nfc(reason.trim());
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(DossierError::Invalid("give the reason of the delay (1–1,000 characters)".into()));
    }
    let appointment = parse_day(&current.appointment_on)?;
    if new_date <= appointment || new_date <= local_today(now) {
        return Err(DossierError::Invalid("the new date must be after the appointment date and after today".into()));
    }
    let at = civitas_store::timestamp(now);
    let update = "UPDATE dossiers SET apology_on = $1, apology_reason = $2, version = version + 1 WHERE code = $3 AND version = $4";
    let step = "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state, note) VALUES ($1, $2, $3, 'apologize', $4, $4, $5)";
    let body = format!(
        "Xin lỗi: hồ sơ {code} chậm so với hẹn {}. Ngày hẹn mới: {}. / Apologies: dossier {code} is late; new date {}.",
        vn_day(appointment),
        vn_day(new_date),
        new_date
    );
    let event = NewEvent {
        kind: "dossier.apology",
        subject: code.to_owned(),
        payload: serde_json::json!({ "appointment": current.appointment_on, "new_date": day(new_date), "reason": reason }),
        actor: actor.id(),
        occurred_at: at.clone(),
    };
    let actor_id = actor.id();
    let _writer = db.write_lock().await;
    let updated = dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query(update).bind(day(new_date)).bind(&reason).bind(code).bind(current.version).execute(&mut *tx).await?.rows_affected();
        if n == 1 {
            sqlx::query(step).bind(code).bind(&at).bind(&actor_id).bind(name_of(current.state)).bind(&reason).execute(&mut *tx).await?;
            sqlx::query(NOTIFY).bind("Thư xin lỗi / Apology").bind(&body).bind(&at).bind(&current.applicant_pid).execute(&mut *tx).await?;
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await?;
        }
        Ok::<_, sqlx::Error>(n == 1)
    })?;
    drop(_writer);
    if !updated {
        return Err(DossierError::VersionConflict { expected: current.version, actual: current.version + 1 });
    }
    get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))
}

/// The applicant's rating of a finished dossier (once).
pub async fn rate(
    db: &Db,
    code: &str,
    pid: &str,
    rating: Rating,
    now: time::OffsetDateTime,
) -> Result<Dossier, DossierError> {
    let current = get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))?;
    if current.applicant_pid != pid {
        return Err(DossierError::NotFound(code.to_owned()));
    }
    if !matches!(current.state, State::ResultIssued | State::Returned | State::Refused) {
        return Err(DossierError::Invalid("a dossier can be rated once its result or refusal is issued".into()));
    }
    if current.rating.is_some() {
        return Err(DossierError::Invalid("this dossier was already rated".into()));
    }
    let at = civitas_store::timestamp(now);
    let update = "UPDATE dossiers SET rating = $1, version = version + 1 WHERE code = $2 AND rating IS NULL";
    let step = "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state, note) VALUES ($1, $2, $3, 'rate', $4, $4, $5)";
    let event = NewEvent {
        kind: "dossier.rated",
        subject: code.to_owned(),
        payload: serde_json::json!({ "rating": name_of(rating) }),
        actor: pid.to_owned(),
        occurred_at: at.clone(),
    };
    let _writer = db.write_lock().await;
    let updated = dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query(update).bind(name_of(rating)).bind(code).execute(&mut *tx).await?.rows_affected();
        if n == 1 {
            sqlx::query(step).bind(code).bind(&at).bind(pid).bind(name_of(current.state)).bind(name_of(rating)).execute(&mut *tx).await?;
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await?;
        }
        Ok::<_, sqlx::Error>(n == 1)
    })?;
    drop(_writer);
    if !updated {
        return Err(DossierError::Invalid("this dossier was already rated".into()));
    }
    get(db, code).await?.ok_or_else(|| DossierError::NotFound(code.to_owned()))
}

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
const OPEN_SQL: &str = "state IN ('received', 'in_processing', 'supplement_requested', 'approved')";

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
