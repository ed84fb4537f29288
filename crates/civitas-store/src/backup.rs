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

/// How many people a PostgreSQL database about to receive a restore holds: `None` when it has
/// no civitas schema at all. Reads without migrating (a migrated target would collide with
/// the backup's own schema).
pub async fn pg_people(url: &str) -> Result<Option<i64>, StoreError> {
    let db = Db::connect(url).await?;
    let Db::Postgres(pool) = &db else { return Err(StoreError::UnsupportedUrl(url.to_owned())) };
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('people')::text").fetch_one(pool).await?;
    let people = match exists {
        Some(_) => Some(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM people").fetch_one(pool).await?),
        None => None,
    };
    pool.close().await;
    Ok(people)
}

/// Empties the PostgreSQL database at `url` for a restore: its schema `public` is dropped with
/// everything in it and made anew. (`pg_restore --clean` cannot drop the month partitions'
/// inherited keys one by one.)
pub async fn pg_empty(url: &str) -> Result<(), StoreError> {
    let db = Db::connect(url).await?;
    let Db::Postgres(pool) = &db else { return Err(StoreError::UnsupportedUrl(url.to_owned())) };
    let mut tx = pool.begin().await?;
    sqlx::query("DROP SCHEMA public CASCADE").execute(&mut *tx).await?;
    sqlx::query("CREATE SCHEMA public").execute(&mut *tx).await?;
    tx.commit().await?;
    pool.close().await;
    Ok(())
}
