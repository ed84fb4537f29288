//! What the National Public Service Portal must learn about each dossier (issue #18): every
//! change writes, in the transaction of the change, the dossier as it now is and the progress
//! step that changed it, as facts in civitas's own terms (`portal_outbox`). The adapter
//! (`civitas_exchange::portal`) renders them in the portal's wire format, with the configured
//! status mapping, when it sends them — a dossier's messages in order, the next one only after
//! the portal accepted the previous one — retrying with back-off; refused or exhausted messages
//! become dead letters an operator replays.

use serde::{Deserialize, Serialize};

use civitas_store::unit::{Value, Write};
use civitas_store::{Db, StoreError, dispatch};

use crate::dossiers::Dossier;

/// The portal's service that creates or updates a dossier.
pub const DOSSIER: &str = "DongBoHoSoMC";
/// The portal's service that records a progress step.
pub const PROGRESS: &str = "CapNhatTienDoHoSoMC";

/// One line of a dossier's control sheet, as the portal learns it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepFact {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub from: Option<String>,
    pub to: String,
    pub note: Option<String>,
    /// The appointment day after the step (YYYY-MM-DD), where recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<String>,
}

/// The facts of a dossier message: the dossier after the change and its whole control sheet
/// (the portal's dates — end of processing, refusal, return, supplements — come from it).
#[derive(Debug, Clone, Serialize)]
pub struct DossierFacts<'a> {
    /// True when the portal does not know the dossier yet (its first message).
    pub creating: bool,
    pub dossier: &'a Dossier,
    pub steps: &'a [StepFact],
}

/// The facts of a progress message.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressFacts<'a> {
    pub step: &'a StepFact,
    pub unit_code: &'a str,
    pub body_code: &'a str,
    pub appointment_on: &'a str,
}

const INSERT: &str =
    "INSERT INTO portal_outbox (dossier_code, service, facts, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, 0)";

/// The two messages of a change of `dossier` (as it is after the change) whose control sheet
/// is now `steps` (the last one the change's): the dossier, then the step. For the caller's
/// transaction; due at once (a dossier's messages go in id order).
pub fn writes(dossier: &Dossier, steps: &[StepFact], creating: bool, at: &str) -> Vec<Write> {
    let mut writes = Vec::with_capacity(2);
    let facts = DossierFacts { creating, dossier, steps };
    writes.push(Write::new(
        INSERT,
        vec![
            dossier.code.clone().into(),
            DOSSIER.into(),
            serde_json::to_string(&facts).unwrap_or_default().into(),
            at.to_owned().into(),
        ],
    ));
    if let Some(step) = steps.last() {
        let progress = ProgressFacts {
            step,
            unit_code: &dossier.unit_code,
            body_code: &dossier.body_code,
            appointment_on: &dossier.appointment_on,
        };
        writes.push(Write::new(
            INSERT,
            vec![
                dossier.code.clone().into(),
                PROGRESS.into(),
                serde_json::to_string(&progress).unwrap_or_default().into(),
                at.to_owned().into(),
            ],
        ));
    }
    writes
}

/// The control sheet of a dossier so far, in order.
pub async fn steps_of(db: &Db, code: &str) -> Result<Vec<StepFact>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        at: String,
        actor: String,
        action: String,
        from_state: Option<String>,
        to_state: String,
        note: Option<String>,
        appointment_on: Option<String>,
    }
    let sql = "SELECT at, actor, action, from_state, to_state, note, appointment_on FROM dossier_steps WHERE code = $1 ORDER BY id";
    let rows: Vec<Row> = dispatch!(db, pool => sqlx::query_as(sql).bind(code).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .map(|r| StepFact {
            at: r.at,
            actor: r.actor,
            action: r.action,
            from: r.from_state,
            to: r.to_state,
            note: r.note,
            appointment: r.appointment_on,
        })
        .collect())
}

/// A message waiting for the portal (or sent, or dead).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Message {
    pub id: i64,
    pub dossier_code: String,
    pub service: String,
    pub facts: String,
    pub attempts: i64,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub dead: i64,
    pub last_error: Option<String>,
}

const COLUMNS: &str = "id, dossier_code, service, facts, attempts, created_at, delivered_at, dead, last_error";

/// Due: undelivered, not dead, its time come, and the first undelivered message of its dossier
/// (so a dossier's messages reach the portal in the order they were written).
const DUE: &str = "delivered_at IS NULL AND dead = 0 AND next_attempt_at <= $3 AND NOT EXISTS \
     (SELECT 1 FROM portal_outbox earlier WHERE earlier.dossier_code = portal_outbox.dossier_code \
      AND earlier.id < portal_outbox.id AND earlier.delivered_at IS NULL)";
const OPEN: &str = "delivered_at IS NULL AND dead = 0";

/// Claims up to `limit` due messages for one round: the claim token and the messages (one per
/// dossier at most), in id order.
pub async fn claim_due(db: &Db, now_unix: i64, limit: i64) -> Result<(String, Vec<Message>), StoreError> {
    let token =
        civitas_store::claims::claim_rows(db, "portal_outbox", DUE, "next_attempt_at, id", now_unix, limit).await?;
    let sql = format!("SELECT {COLUMNS} FROM portal_outbox WHERE claim = $1 AND {OPEN} ORDER BY id");
    let batch = dispatch!(db, pool => sqlx::query_as::<_, Message>(sqlx::AssertSqlSafe(sql)).bind(&token).fetch_all(pool).await)?;
    Ok((token, batch))
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted { response: String },
    Retry { error: String, next_attempt_at: i64 },
    Dead { error: String },
}

/// Records a round's outcomes (only while the round's claim holds), in one transaction.
pub async fn record(db: &Db, claim: &str, outcomes: &[(i64, Outcome)], at: &str) -> Result<(), StoreError> {
    let mut sorted: Vec<&(i64, Outcome)> = outcomes.iter().collect();
    sorted.sort_by_key(|(id, _)| *id);
    let writes: Vec<Write> = sorted
        .iter()
        .map(|(id, o)| match o {
            Outcome::Accepted { response } => Write::new(
                "UPDATE portal_outbox SET delivered_at = $1, attempts = attempts + 1, response = $2, last_error = NULL WHERE id = $3 AND claim = $4",
                vec![at.into(), response.clone().into(), (*id).into(), claim.into()],
            ),
            Outcome::Retry { error, next_attempt_at } => Write::new(
                "UPDATE portal_outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3 AND claim = $4",
                vec![(*next_attempt_at).into(), error.clone().into(), (*id).into(), claim.into()],
            ),
            Outcome::Dead { error } => Write::new(
                "UPDATE portal_outbox SET attempts = attempts + 1, dead = 1, last_error = $1 WHERE id = $2 AND claim = $3",
                vec![error.clone().into(), (*id).into(), claim.into()],
            ),
        })
        .collect();
    if writes.is_empty() {
        return Ok(());
    }
    for attempt in 0..3 {
        match civitas_store::unit::commit(db, &writes).await {
            Ok(_) => return Ok(()),
            Err(e) if civitas_store::claims::transient(&e) && attempt < 2 => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Dead letters, newest first.
pub async fn dead_letters(db: &Db, limit: i64) -> Result<Vec<Message>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM portal_outbox WHERE dead = 1 ORDER BY id DESC LIMIT $1");
    Ok(dispatch!(db, pool => sqlx::query_as::<_, Message>(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await)?)
}

/// Puts a dead letter back in the queue (attempts reset); false when there is no such one.
pub async fn replay(db: &Db, id: i64, now_unix: i64) -> Result<bool, StoreError> {
    let write = Write::new(
        "UPDATE portal_outbox SET dead = 0, attempts = 0, next_attempt_at = $1, last_error = NULL, claim = NULL WHERE id = $2 AND dead = 1",
        vec![now_unix.into(), Value::Int(Some(id))],
    )
    .expecting(1, "no such dead letter");
    Ok(civitas_store::unit::commit(db, &[write]).await?.is_ok())
}

/// Where a dossier stands with the portal.
#[derive(Debug, Clone, Serialize)]
pub struct SyncState {
    /// `synced` (every message accepted), `pending` (waiting or being retried), `dead` (a
    /// message was refused or ran out of attempts: an operator must look), `none` (nothing to
    /// send: a dossier from before the synchronisation existed).
    pub state: &'static str,
    pub accepted: i64,
    pub pending: i64,
    pub dead: i64,
    /// The last error of a message not yet accepted.
    pub last_error: Option<String>,
    /// When the portal accepted the latest message.
    pub last_accepted_at: Option<String>,
    pub messages: Vec<Message>,
}

pub async fn sync_state(db: &Db, code: &str) -> Result<SyncState, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM portal_outbox WHERE dossier_code = $1 ORDER BY id");
    let messages: Vec<Message> =
        dispatch!(db, pool => sqlx::query_as::<_, Message>(sqlx::AssertSqlSafe(sql)).bind(code).fetch_all(pool).await)?;
    let accepted = messages.iter().filter(|m| m.delivered_at.is_some()).count() as i64;
    let dead = messages.iter().filter(|m| m.dead == 1).count() as i64;
    let pending = messages.len() as i64 - accepted - dead;
    let state = match (messages.is_empty(), dead, pending) {
        (true, _, _) => "none",
        (_, d, _) if d > 0 => "dead",
        (_, _, p) if p > 0 => "pending",
        _ => "synced",
    };
    let last_error = messages.iter().filter(|m| m.delivered_at.is_none()).find_map(|m| m.last_error.clone());
    let last_accepted_at = messages.iter().filter_map(|m| m.delivered_at.clone()).max();
    Ok(SyncState { state, accepted, pending, dead, last_error, last_accepted_at, messages })
}

/// Messages not yet accepted and dead letters, over all dossiers.
pub async fn backlog(db: &Db) -> Result<(i64, i64), StoreError> {
    let pending = "SELECT COUNT(*) FROM portal_outbox WHERE delivered_at IS NULL AND dead = 0";
    let dead = "SELECT COUNT(*) FROM portal_outbox WHERE dead = 1";
    let p: i64 = dispatch!(db, pool => sqlx::query_scalar(pending).fetch_one(pool).await)?;
    let d: i64 = dispatch!(db, pool => sqlx::query_scalar(dead).fetch_one(pool).await)?;
    Ok((p, d))
}
