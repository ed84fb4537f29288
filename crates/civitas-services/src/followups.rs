//! Follow-ups of interconnected procedures at other agencies: each is a sub-dossier with its
//! own deadline and a webhook delivery to the agency's registered endpoint, both written in the
//! transaction that approves the parent dossier (with an access-log record: handing personal
//! data to another agency is a read by a third party, with its purpose). Deliveries are sent
//! by the server's delivery worker, at least once, with the delivery id as idempotency key.

use serde::Serialize;

use civitas_store::unit::{Value, Write};
use civitas_store::{Db, StoreError, dispatch};

use crate::dossiers::Dossier;

/// A follow-up procedure of another agency.
#[derive(Debug, Clone, Copy)]
pub struct FollowUp {
    pub agency: &'static str,
    pub kind: &'static str,
    pub name_vi: &'static str,
    pub name_en: &'static str,
    /// The agency's time limit in working days.
    pub days: u32,
    /// Why the agency receives the data (the access log's purpose).
    pub purpose: &'static str,
}

/// The child's health-insurance card (interconnected group 1, Decree 63/2024).
pub const CHILD_HEALTH_CARD: FollowUp = FollowUp {
    agency: "social-insurance",
    kind: "health_insurance.child_card",
    name_vi: "Cấp thẻ bảo hiểm y tế cho trẻ dưới 6 tuổi",
    name_en: "Health-insurance card for a child under 6",
    days: 5,
    purpose: "health-insurance card for a newborn (Decree 63/2024)",
};

/// The funeral allowance (interconnected group 2).
pub const FUNERAL_ALLOWANCE: FollowUp = FollowUp {
    agency: "social-insurance",
    kind: "funeral_allowance.request",
    name_vi: "Giải quyết chế độ mai táng phí",
    name_en: "Funeral allowance",
    days: 5,
    purpose: "funeral allowance (Decree 63/2024)",
};

/// The writes of one follow-up: the delivery, the sub-dossier, the access-log record.
pub fn plan(
    f: &FollowUp,
    parent: &Dossier,
    subject_pid: &str,
    data: serde_json::Value,
    due_on: time::Date,
    at: &str,
    now_unix: i64,
) -> Vec<Write> {
    let delivery = crate::documents::new_id();
    let fields: Vec<String> = data.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    let payload = serde_json::json!({
        "id": delivery,
        "kind": f.kind,
        "dossier": parent.code,
        "procedure": parent.procedure_code,
        "subject": subject_pid,
        "due_on": due_on.to_string(),
        "data": data,
    });
    vec![
        Write::new(
            "INSERT INTO webhook_deliveries (id, agency_id, kind, subject_pid, dossier_code, payload, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
            vec![
                delivery.clone().into(),
                f.agency.into(),
                f.kind.into(),
                subject_pid.into(),
                parent.code.clone().into(),
                payload.to_string().into(),
                now_unix.into(),
                at.into(),
            ],
        ),
        Write::new(
            "INSERT INTO sub_dossiers (id, parent_code, agency_id, kind, name_vi, name_en, state, due_on, delivery_id, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'sending', $7, $8, $9)",
            vec![
                crate::documents::new_id().into(),
                parent.code.clone().into(),
                f.agency.into(),
                f.kind.into(),
                f.name_vi.into(),
                f.name_en.into(),
                due_on.to_string().into(),
                delivery.into(),
                at.into(),
            ],
        ),
        Write::new(
            "INSERT INTO access_log (at, actor, role, unit, purpose, subject_pid, fields, request_id, how, case_id) \
             VALUES ($1, $2, 'agency', $3, $4, $5, $6, $7, 'follow-up', $7)",
            vec![
                at.into(),
                f.agency.into(),
                parent.unit_code.clone().into(),
                f.purpose.into(),
                subject_pid.into(),
                fields.join(",").into(),
                Value::Text(Some(parent.code.clone())),
            ],
        ),
    ]
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SubDossier {
    pub id: String,
    pub agency_id: String,
    pub kind: String,
    pub name_vi: String,
    pub name_en: String,
    /// sending → accepted by the agency (or failed: see the dead letters).
    pub state: String,
    pub due_on: String,
    pub delivery_id: String,
    pub reference: Option<String>,
    pub updated_at: String,
}

pub async fn sub_dossiers_of(db: &Db, parent: &str) -> Result<Vec<SubDossier>, StoreError> {
    let sql = "SELECT id, agency_id, kind, name_vi, name_en, state, due_on, delivery_id, reference, updated_at \
               FROM sub_dossiers WHERE parent_code = $1 ORDER BY id";
    Ok(dispatch!(db, pool => sqlx::query_as::<_, SubDossier>(sql).bind(parent).fetch_all(pool).await)?)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Agency {
    pub id: String,
    pub name: String,
    pub url: String,
    pub active: i64,
}

/// Registers (or updates) an agency's endpoint.
pub async fn put_agency(db: &Db, id: &str, name: &str, url: &str, at: &str) -> Result<(), StoreError> {
    let sql = "INSERT INTO agencies (id, name, url, active, created_at) VALUES ($1, $2, $3, 1, $4) \
               ON CONFLICT (id) DO UPDATE SET name = excluded.name, url = excluded.url, active = 1";
    let _w = db.write_lock().await;
    dispatch!(db, pool => sqlx::query(sql).bind(id).bind(name).bind(url).bind(at).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn agencies(db: &Db) -> Result<Vec<Agency>, StoreError> {
    let sql = "SELECT id, name, url, active FROM agencies ORDER BY id";
    Ok(dispatch!(db, pool => sqlx::query_as::<_, Agency>(sql).fetch_all(pool).await)?)
}

/// A delivery due to be sent, with its agency's endpoint (none when the agency is not
/// registered or inactive).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub id: String,
    pub agency_id: String,
    pub kind: String,
    pub subject_pid: String,
    pub dossier_code: String,
    pub payload: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
    pub url: Option<String>,
}

const DELIVERY_COLUMNS: &str = "d.id, d.agency_id, d.kind, d.subject_pid, d.dossier_code, d.payload, d.attempts, d.last_error, d.created_at, \
     CASE WHEN a.active = 1 THEN a.url END AS url";

/// Claims up to `limit` due deliveries for one round (see `civitas_store::claims`): returns
/// the claim token and the deliveries, earliest due first.
pub async fn claim_due(db: &Db, now_unix: i64, limit: i64) -> Result<(String, Vec<Delivery>), StoreError> {
    let due = "delivered_at IS NULL AND dead = 0 AND next_attempt_at <= $3";
    let token =
        civitas_store::claims::claim_rows(db, "webhook_deliveries", due, "next_attempt_at", now_unix, limit).await?;
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d LEFT JOIN agencies a ON a.id = d.agency_id \
         WHERE d.claim = $1 AND d.delivered_at IS NULL AND d.dead = 0 ORDER BY d.id"
    );
    let batch = dispatch!(db, pool => sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(sql)).bind(&token).fetch_all(pool).await)?;
    Ok((token, batch))
}

/// Renews a round's claim before it sends the next part: the ids it still holds (see
/// `civitas_store::claims::renew_rows`).
pub async fn renew_claim(db: &Db, claim: &str, now_unix: i64) -> Result<std::collections::HashSet<String>, StoreError> {
    civitas_store::claims::renew_rows(db, "webhook_deliveries", "delivered_at IS NULL AND dead = 0", claim, now_unix)
        .await
}

pub async fn due(db: &Db, now_unix: i64, limit: i64) -> Result<Vec<Delivery>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d LEFT JOIN agencies a ON a.id = d.agency_id \
         WHERE d.delivered_at IS NULL AND d.dead = 0 AND d.next_attempt_at <= $1 ORDER BY d.next_attempt_at LIMIT $2"
    );
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(sql)).bind(now_unix).bind(limit).fetch_all(pool).await)?,
    )
}

/// Dead letters: deliveries an agency refused or that ran out of attempts.
pub async fn dead_letters(db: &Db, limit: i64) -> Result<Vec<Delivery>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d LEFT JOIN agencies a ON a.id = d.agency_id \
         WHERE d.dead = 1 ORDER BY d.created_at DESC LIMIT $1"
    );
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await)?,
    )
}

/// Puts a dead letter back in the queue (attempts reset, its sub-dossier sending again);
/// false when there is no such dead letter.
pub async fn replay(db: &Db, id: &str, now_unix: i64, at: &str) -> Result<bool, StoreError> {
    let writes = [
        Write::new(
            "UPDATE webhook_deliveries SET dead = 0, attempts = 0, next_attempt_at = $1, last_error = NULL WHERE id = $2 AND dead = 1",
            vec![now_unix.into(), id.into()],
        )
        .expecting(1, "no such dead letter"),
        Write::new(
            "UPDATE sub_dossiers SET state = 'sending', updated_at = $1 WHERE delivery_id = $2",
            vec![at.into(), id.into()],
        ),
    ];
    Ok(civitas_store::unit::commit(db, &writes).await?.is_ok())
}

/// What happened to one attempt.
#[derive(Debug, Clone)]
pub enum Outcome {
    Delivered {
        reference: Option<String>,
        response: String,
    },
    /// Try again at `next_attempt_at`.
    Retry {
        error: String,
        next_attempt_at: i64,
    },
    /// Refused by the agency or out of attempts.
    Dead {
        error: String,
    },
}

/// Records the outcomes of a round of attempts claimed with `claim`: in one transaction
/// (retried on a deadlock), or, if that fails, each by itself, so one bad item loses no other
/// result. An outcome is recorded only while the round's claim holds.
pub async fn record(db: &Db, claim: &str, outcomes: &[(String, Outcome)], at: &str) -> Result<(), StoreError> {
    // The same order on every server: concurrent transactions lock rows in one order.
    let mut sorted: Vec<&(String, Outcome)> = outcomes.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let writes: Vec<Vec<Write>> = sorted.iter().map(|(id, o)| outcome_writes(id, o, claim, at)).collect();
    let all: Vec<Write> = writes.iter().flatten().cloned().collect();
    if all.is_empty() {
        return Ok(());
    }
    for attempt in 0..3 {
        match civitas_store::unit::commit(db, &all).await {
            Ok(_) => return Ok(()),
            Err(e) if civitas_store::claims::transient(&e) && attempt < 2 => continue,
            Err(e) => {
                tracing::warn!(error = %e, "recording a round of deliveries failed; recording each by itself");
                break;
            }
        }
    }
    let mut first_error = None;
    for item in &writes {
        if let Err(e) = civitas_store::unit::commit(db, item).await {
            tracing::warn!(error = %e, "recording a delivery's outcome failed; it will be attempted again");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The writes of one outcome (the delivery, and its sub-dossier's state).
fn outcome_writes(id: &str, o: &Outcome, claim: &str, at: &str) -> Vec<Write> {
    let mut writes = Vec::with_capacity(2);
    match o {
        Outcome::Delivered { reference, response } => {
            writes.push(Write::new(
                "UPDATE webhook_deliveries SET delivered_at = $1, attempts = attempts + 1, response = $2, last_error = NULL WHERE id = $3 AND claim = $4",
                vec![at.into(), response.clone().into(), id.into(), claim.into()],
            ));
            writes.push(Write::new(
                "UPDATE sub_dossiers SET state = 'accepted', reference = $1, updated_at = $2 WHERE delivery_id = $3",
                vec![Value::Text(reference.clone()), at.into(), id.into()],
            ));
        }
        Outcome::Retry { error, next_attempt_at } => writes.push(Write::new(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3 AND claim = $4",
            vec![(*next_attempt_at).into(), error.clone().into(), id.into(), claim.into()],
        )),
        Outcome::Dead { error } => {
            writes.push(Write::new(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, dead = 1, last_error = $1 WHERE id = $2 AND claim = $3",
                vec![error.clone().into(), id.into(), claim.into()],
            ));
            writes.push(Write::new(
                "UPDATE sub_dossiers SET state = 'failed', updated_at = $1 WHERE delivery_id = $2",
                vec![at.into(), id.into()],
            ));
        }
    }
    writes
}
