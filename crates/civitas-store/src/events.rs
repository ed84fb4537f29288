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

/// How long a gap in the event ids is waited for before it is taken as an id that will never
/// commit (a rolled-back transaction's).
pub const GAP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Where a consumer may safely read up to. Event ids are drawn when a transaction inserts and
/// become visible when it commits, so on PostgreSQL a later id can be visible while an earlier
/// one is still in flight: a consumer that moved its cursor past the gap would never see that
/// event. A `Settled` reader stops before the first gap after the cursor until the gap fills,
/// or until it has stayed open for `grace` (a rolled-back id).
pub struct Settled {
    grace: std::time::Duration,
    /// The first missing id seen and since when.
    gap: std::sync::Mutex<Option<(i64, std::time::Instant)>>,
}

impl Settled {
    pub fn new(grace: std::time::Duration) -> Self {
        Settled { grace, gap: std::sync::Mutex::new(None) }
    }

    /// The highest id after `cursor` below which no event can still appear.
    pub async fn upto(&self, db: &crate::Db, cursor: i64) -> Result<i64, crate::StoreError> {
        self.upto_in(db, "events", cursor).await
    }

    /// The same for another append-only log with an `id` drawn at insert (`card_events`).
    pub async fn upto_in(&self, db: &crate::Db, table: &'static str, cursor: i64) -> Result<i64, crate::StoreError> {
        let sql = format!("SELECT id FROM {table} WHERE id > $1 ORDER BY id LIMIT 10000");
        let ids: Vec<i64> = crate::dispatch!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(cursor).fetch_all(pool).await)?;
        let mut upto = cursor;
        for id in ids {
            if id == upto + 1 {
                upto = id;
                continue;
            }
            // A gap: ids upto+1 .. id-1 are missing.
            let missing = upto + 1;
            let Ok(mut gap) = self.gap.lock() else { return Ok(upto) };
            match *gap {
                Some((g, since)) if g == missing && since.elapsed() >= self.grace => {
                    *gap = None;
                    upto = id;
                }
                Some((g, _)) if g == missing => return Ok(upto),
                _ => {
                    *gap = Some((missing, std::time::Instant::now()));
                    return Ok(upto);
                }
            }
        }
        Ok(upto)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A consumer never moves past an id that may still commit: it waits at the gap, and takes
    /// it as abandoned only after the grace period.
    #[tokio::test]
    async fn settled_stops_at_a_gap_until_it_fills_or_its_grace_ends() {
        let dir = std::env::temp_dir().join(format!("civitas-events-{}", crate::claims::token()));
        let _ = std::fs::create_dir_all(&dir);
        let db = crate::Db::connect(&format!("sqlite://{}", dir.join("e.db").display())).await.unwrap();
        db.migrate().await.unwrap();
        let insert = |id: i64| {
            let db = db.clone();
            async move {
                let sql = "INSERT INTO events (id, kind, subject, payload, actor, occurred_at) VALUES ($1, 'k', 's', '{}', 'a', 't')";
                crate::dispatch!(&db, pool => sqlx::query(sql).bind(id).execute(pool).await.map(|_| ())).unwrap();
            }
        };
        for id in [1, 2, 4, 5] {
            insert(id).await;
        }
        let settled = Settled::new(std::time::Duration::from_millis(200));
        assert_eq!(settled.upto(&db, 0).await.unwrap(), 2, "3 is missing: it may still commit");
        assert_eq!(settled.upto(&db, 2).await.unwrap(), 2);
        insert(3).await;
        assert_eq!(settled.upto(&db, 2).await.unwrap(), 5, "the gap filled");
        insert(7).await;
        assert_eq!(settled.upto(&db, 5).await.unwrap(), 5);
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        assert_eq!(settled.upto(&db, 5).await.unwrap(), 7, "6 never came: skipped after the grace period");
    }
}
