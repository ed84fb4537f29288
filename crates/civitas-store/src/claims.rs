//! Work claimed in the database, so that several servers on one database do each piece of
//! background work once.
//!
//! - **Leases per job kind** (`job_leases`): the one server that runs a job at a time. A lease
//!   is taken when free or expired and renewed by its holder at each run; a dead holder's lease
//!   expires and another server takes it over.
//! - **Item claims**: a queue's due rows are claimed for one round with a random token, and
//!   their next attempt moves forward by the lease, in one statement (`FOR UPDATE SKIP LOCKED`
//!   on PostgreSQL, so claimers never wait for each other; SQLite has one writer). Only the
//!   token's holder records results; a dead holder's items become due again when the lease
//!   passes.
//! - **Outbound pause** (`switches.outbound_paused`): a restored copy starts with webhooks, SMS
//!   and e-mail paused until an operator resumes them.
//!
//! Lease times are this process's wall clock in milliseconds (the servers are assumed to keep
//! NTP time; a lease is many seconds, far above their skew).

use crate::{Backend, Db, StoreError, dispatch};

/// A random claim token (also a process's holder id).
pub fn token() -> String {
    let bytes: [u8; 12] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

static ITEM_LEASE_SECS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(60);

/// How long a claimed queue item (a webhook delivery, an SMS) stays reserved for the server
/// that claimed it: after a crash, the time before another server sends it. Default 60 s;
/// configuration `job_claim_lease_secs`. It must stay above the longest round of sending (a
/// shorter lease lets a second server claim what the first is still sending: a duplicate).
pub fn item_lease_secs() -> i64 {
    ITEM_LEASE_SECS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Sets this process's item lease (at start-up, from configuration); at least 1 s.
pub fn set_item_lease_secs(secs: i64) {
    ITEM_LEASE_SECS.store(secs.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// Milliseconds since the epoch, for leases.
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Claims up to `limit` due rows of a queue for one round: those of `table` where `due` holds
/// (`$3` in it is `now_unix`), in `order`; each gets the returned token in its `claim` column
/// and its `next_attempt_at` moves [`item_lease_secs`] ahead. The caller then reads its rows by
/// token.
pub async fn claim_rows(
    db: &Db,
    table: &'static str,
    due: &'static str,
    order: &'static str,
    now_unix: i64,
    limit: i64,
) -> Result<String, StoreError> {
    let token = token();
    // PostgreSQL: the rows are picked and locked once, by an InitPlan (`ARRAY(...)`), then
    // updated through the primary key. Two shapes that looked equivalent were not:
    // `id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)` may be run again per outer row, each
    // run locking other rows (one claimer took a whole queue of 600 with a limit of 256: the
    // three-process test); a materialized CTE joined back was planned as a nested loop over
    // the claim index on a freshly filled queue (0.5 s per claim of 256, 600 deliveries/s).
    // Rows locked under SKIP LOCKED are re-checked at the lock, so no outer re-check is needed.
    // SQLite (one writer) evaluates the IN list once and re-checks nothing concurrent.
    let sql = match db.backend() {
        Backend::Postgres => format!(
            "UPDATE {table} SET claim = $1, next_attempt_at = $2 WHERE id = ANY(ARRAY( \
             SELECT id FROM {table} WHERE {due} ORDER BY {order} LIMIT $4 FOR UPDATE SKIP LOCKED))"
        ),
        Backend::Sqlite => format!(
            "UPDATE {table} SET claim = $1, next_attempt_at = $2 WHERE id IN \
             (SELECT id FROM {table} WHERE {due} ORDER BY {order} LIMIT $4) AND {due}"
        ),
    };
    dispatch!(db, pool => sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&token)
        .bind(now_unix + item_lease_secs())
        .bind(now_unix)
        .bind(limit)
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(token)
}

/// Renews the claim `token` on its rows of `table` that are still open (`open` holds): their
/// lease starts again from `now_unix`. Returns the ids (as text) the token still holds: a row
/// whose lease ran out and that another server claimed meanwhile is no longer among them, so
/// a long round sends it no more (a round renews before each part it sends).
pub async fn renew_rows(
    db: &Db,
    table: &'static str,
    open: &'static str,
    token: &str,
    now_unix: i64,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let sql = format!("UPDATE {table} SET next_attempt_at = $2 WHERE claim = $1 AND {open} RETURNING CAST(id AS TEXT)");
    let ids: Vec<String> = dispatch!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(token)
        .bind(now_unix + item_lease_secs())
        .fetch_all(pool)
        .await)?;
    Ok(ids.into_iter().collect())
}

/// Takes or renews the lease of job `name` for `holder` until `now_ms + ttl_ms`; false when
/// another holder's lease is still running.
pub async fn acquire(db: &Db, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool, StoreError> {
    let sql = "INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
               ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
               WHERE job_leases.holder = excluded.holder OR job_leases.expires_at < $4 \
               RETURNING holder";
    let got: Option<String> = dispatch!(db, pool => sqlx::query_scalar(sql)
        .bind(name)
        .bind(holder)
        .bind(now_ms + ttl_ms)
        .bind(now_ms)
        .fetch_optional(pool)
        .await)?;
    Ok(got.as_deref() == Some(holder))
}

/// Gives the lease back (on shutdown), so another server takes over at once.
pub async fn release(db: &Db, name: &str, holder: &str) -> Result<(), StoreError> {
    let sql = "DELETE FROM job_leases WHERE name = $1 AND holder = $2";
    dispatch!(db, pool => sqlx::query(sql).bind(name).bind(holder).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// The current holder of each lease and when it expires (ms), by job name.
pub async fn leases(db: &Db) -> Result<Vec<(String, String, i64)>, StoreError> {
    let sql = "SELECT name, holder, expires_at FROM job_leases ORDER BY name";
    Ok(dispatch!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?)
}

const PAUSED: &str = "outbound_paused";

/// An operator's switch (`switches` table), if set.
pub async fn switch(db: &Db, name: &str) -> Result<Option<String>, StoreError> {
    let sql = "SELECT value FROM switches WHERE name = $1";
    Ok(dispatch!(db, pool => sqlx::query_scalar(sql).bind(name).fetch_optional(pool).await)?)
}

/// Sets an operator's switch (`at`: when, for the record).
pub async fn set_switch(db: &Db, name: &str, value: &str, at: &str) -> Result<(), StoreError> {
    let sql = "INSERT INTO switches (name, value, updated_at) VALUES ($1, $2, $3) \
               ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    dispatch!(db, pool => sqlx::query(sql).bind(name).bind(value).bind(at).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Whether outbound delivery (webhooks, SMS, e-mail) is paused.
pub async fn outbound_paused(db: &Db) -> Result<bool, StoreError> {
    Ok(switch(db, PAUSED).await?.as_deref() == Some("true"))
}

/// Pauses or resumes outbound delivery (`at`: when, for the record).
pub async fn set_outbound_paused(db: &Db, paused: bool, at: &str) -> Result<(), StoreError> {
    set_switch(db, PAUSED, if paused { "true" } else { "false" }, at).await
}

/// Whether an error is worth retrying at once: a deadlock or serialization failure
/// (PostgreSQL 40P01 / 40001) or a busy SQLite.
pub fn transient(e: &StoreError) -> bool {
    match e {
        StoreError::Database(sqlx::Error::Database(d)) => {
            matches!(d.code().as_deref(), Some("40P01" | "40001" | "5" | "6" | "517"))
        }
        _ => false,
    }
}

/// What waits to go out: webhook deliveries and SMS / e-mail messages not yet sent.
pub async fn queued(db: &Db) -> Result<(i64, i64), StoreError> {
    let hooks = "SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL AND dead = 0";
    let messages = "SELECT COUNT(*) FROM outbox_messages WHERE sent_at IS NULL AND attempts < 20";
    let h: i64 = dispatch!(db, pool => sqlx::query_scalar(hooks).fetch_one(pool).await)?;
    let m: i64 = dispatch!(db, pool => sqlx::query_scalar(messages).fetch_one(pool).await)?;
    Ok((h, m))
}
