//! Consistent copies of a SQLite database while servers use it (`VACUUM INTO`: one read
//! transaction, the copy compacted and without its WAL). PostgreSQL copies are made by
//! `pg_dump` (the binary calls it), which also reads one snapshot.

use crate::{Db, StoreError};

/// Writes a consistent copy of the SQLite database to `path` (which must not exist).
pub async fn sqlite_copy(db: &Db, path: &str) -> Result<(), StoreError> {
    match db {
        Db::Sqlite(pool, _) => {
            sqlx::query("VACUUM INTO $1").bind(path).execute(pool).await?;
            Ok(())
        }
        Db::Postgres(_) => Err(StoreError::Corrupt("VACUUM INTO is for SQLite; use pg_dump".into())),
    }
}
