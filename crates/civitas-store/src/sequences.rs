//! Daily sequence numbers (the last part of a one-stop dossier code): one atomic upsert per
//! number, unique across server processes on either backend.

use crate::{Db, StoreError, dispatch};

/// The next number (1, 2, ...) of `scope` on `day` (`YYYY-MM-DD`).
pub async fn next_daily(db: &Db, scope: &str, day: &str) -> Result<i64, StoreError> {
    let sql = "INSERT INTO daily_sequences (scope, day, last) VALUES ($1, $2, 1) \
               ON CONFLICT (scope, day) DO UPDATE SET last = daily_sequences.last + 1 RETURNING last";
    let _writer = db.write_lock().await;
    let (n,): (i64,) = dispatch!(db, pool => sqlx::query_as(sql).bind(scope).bind(day).fetch_one(pool).await)?;
    Ok(n)
}
