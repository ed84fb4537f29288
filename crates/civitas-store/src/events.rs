//! The append-only domain event log. An event exists if and only if its change committed:
//! callers insert events with [`insert_events!`](crate::insert_events) inside the transaction
//! that writes the change. Downstream consumers read by cursor (`id`).

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct NewEvent {
    /// Dotted name, e.g. `person.registered`, `person.residence_changed`.
    pub kind: &'static str,
    /// What the event is about: a PID, a household id ...
    pub subject: String,
    pub payload: serde_json::Value,
    pub actor: String,
    pub occurred_at: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredEvent {
    pub id: i64,
    pub kind: String,
    pub subject: String,
    pub payload: String,
    pub actor: String,
    pub occurred_at: String,
}

/// Inserts a slice of [`NewEvent`]s through `$exec` (a transaction of either backend), in
/// multi-row statements.
#[macro_export]
macro_rules! insert_events {
    ($exec:expr, $events:expr) => {{
        let events: &[$crate::NewEvent] = $events;
        let mut result = Ok(());
        for chunk in events.chunks(1000) {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO events (kind, subject, payload, actor, occurred_at) ");
            qb.push_values(chunk, |mut b, e| {
                b.push_bind(e.kind)
                    .push_bind(e.subject.as_str())
                    .push_bind(e.payload.to_string())
                    .push_bind(e.actor.as_str())
                    .push_bind(e.occurred_at.as_str());
            });
            if let Err(e) = qb.build().execute(&mut *$exec).await {
                result = Err(e);
                break;
            }
        }
        result
    }};
}

/// Events after `cursor`, oldest first, at most `limit`.
pub async fn read_after(db: &crate::Db, cursor: i64, limit: i64) -> Result<Vec<StoredEvent>, crate::StoreError> {
    let sql = "SELECT id, kind, subject, payload, actor, occurred_at FROM events WHERE id > $1 ORDER BY id LIMIT $2";
    let rows = crate::dispatch!(db, pool => sqlx::query_as::<_, StoredEvent>(sql).bind(cursor).bind(limit).fetch_all(pool).await)?;
    Ok(rows)
}

/// The id of the newest event (0 when there is none).
pub async fn last_id(db: &crate::Db) -> Result<i64, crate::StoreError> {
    let sql = "SELECT COALESCE(MAX(id), 0) FROM events";
    let (id,): (i64,) = crate::dispatch!(db, pool => sqlx::query_as(sql).fetch_one(pool).await)?;
    Ok(id)
}

/// (id, subject) of the events of one `kind` in (`after`, `upto`], oldest first: for consumers
/// that follow one kind without reading every other event's payload.
pub async fn of_kind_between(
    db: &crate::Db,
    kind: &str,
    after: i64,
    upto: i64,
) -> Result<Vec<(i64, String)>, crate::StoreError> {
    let sql = "SELECT id, subject FROM events WHERE id > $1 AND id <= $2 AND kind = $3 ORDER BY id";
    Ok(crate::dispatch!(db, pool => sqlx::query_as(sql).bind(after).bind(upto).bind(kind).fetch_all(pool).await)?)
}
