//! Retention of the tables that only grow: the events, the access log, and the history of the
//! outbound queues (SMS and e-mail sent, webhooks delivered).
//!
//! On PostgreSQL `events` and `access_log` are partitioned by calendar month of their time
//! (migration 0015); [`ensure_partitions`] keeps the partitions of this month and the next two
//! ready. [`archive`] moves every row older than a month boundary into JSON-lines files (one
//! per table, with a SHA-256 manifest that `sha256sum -c` checks), then removes those rows: whole month partitions are
//! dropped, the rest deleted, in one transaction that checks the count against the file.
//! Events that an event consumer has not read yet are never archived.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};

use crate::{Backend, Db, StoreError, dispatch};

/// A table whose old rows are archived.
struct Part {
    table: &'static str,
    /// The RFC 3339 time a row is dated by.
    time: &'static str,
    /// Rows that still live (unsent messages, undelivered or dead webhooks) are kept.
    finished: &'static str,
    /// Partitioned by month of `time` on PostgreSQL.
    partitioned: bool,
    columns: &'static [&'static str],
}

const PARTS: [Part; 4] = [
    Part {
        table: "events",
        time: "occurred_at",
        finished: "1 = 1",
        partitioned: true,
        columns: &["id", "kind", "subject", "payload", "actor", "occurred_at"],
    },
    Part {
        table: "access_log",
        time: "at",
        finished: "1 = 1",
        partitioned: true,
        columns: &["id", "at", "actor", "role", "unit", "purpose", "subject_pid", "fields", "request_id"],
    },
    Part {
        table: "outbox_messages",
        time: "created_at",
        finished: "sent_at IS NOT NULL",
        partitioned: false,
        columns: &["id", "channel", "recipient", "subject", "body", "created_at", "sent_at", "attempts"],
    },
    Part {
        table: "webhook_deliveries",
        time: "created_at",
        finished: "delivered_at IS NOT NULL",
        partitioned: false,
        columns: &[
            "id",
            "agency_id",
            "kind",
            "subject_pid",
            "dossier_code",
            "payload",
            "attempts",
            "delivered_at",
            "response",
            "created_at",
        ],
    },
];

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("the month must be written YYYY-MM (e.g. 2025-01), got {0:?}")]
    BadMonth(String),
    #[error("{0} is after the current month {1}: only finished months can be archived")]
    NotPast(String, String),
    #[error(
        "{0} events before {1} have not been read by every event consumer yet (slowest: {2}); archive an earlier month or wait"
    )]
    Unconsumed(i64, String, String),
    #[error("{0} already exists: archive into an empty directory")]
    Exists(PathBuf),
    #[error("writing the archive failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{table}: {written} rows written to the archive but {removed} would be removed; nothing was removed")]
    Mismatch { table: &'static str, written: u64, removed: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one table gave up to the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    pub table: &'static str,
    pub rows: u64,
    pub file: PathBuf,
    pub sha256: String,
    /// Month partitions dropped whole (PostgreSQL).
    pub partitions_dropped: Vec<String>,
}

/// Whether `month` is `YYYY-MM`.
fn valid_month(month: &str) -> bool {
    let b = month.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(month[5..].parse::<u8>(), Ok(1..=12))
}

/// Creates the month partitions of `events` and `access_log` for `month` (YYYY-MM) and the
/// two months after it, when missing (PostgreSQL; nothing to do on SQLite). A month whose rows
/// already went to the default partition (its partition was missing when they were written)
/// keeps them there, and is reported in the log.
pub async fn ensure_partitions(db: &Db, month: &str) -> Result<(), StoreError> {
    let Db::Postgres(pool) = db else { return Ok(()) };
    if !valid_month(month) {
        return Err(StoreError::Corrupt(format!("not a month: {month:?}")));
    }
    for part in PARTS.iter().filter(|p| p.partitioned) {
        let sql = "SELECT civitas_month_partition($1, to_char(to_date($2 || '-01', 'YYYY-MM-DD') + (k || ' month')::interval, 'YYYY-MM')) \
                   FROM generate_series(0, 2) AS k";
        if let Err(e) = sqlx::query(sql).bind(part.table).bind(month).execute(pool).await {
            if crate::sqlx_unavailable(&e) {
                return Err(e.into());
            }
            tracing::warn!(table = part.table, error = %e, "a month partition could not be created (its rows stay in the default partition)");
        }
    }
    Ok(())
}

/// Archives every finished row dated before `before` (YYYY-MM, at most `current_month`) into
/// `dir` and removes it from the database. See the module documentation.
pub async fn archive(db: &Db, before: &str, current_month: &str, dir: &Path) -> Result<Vec<Archived>, ArchiveError> {
    if !valid_month(before) {
        return Err(ArchiveError::BadMonth(before.to_owned()));
    }
    if before > current_month {
        return Err(ArchiveError::NotPast(before.to_owned(), current_month.to_owned()));
    }
    check_consumed(db, before).await?;
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for part in &PARTS {
        out.push(archive_part(db, part, before, dir).await?);
    }
    // The format of `sha256sum`: `sha256sum -c` checks an archive.
    let manifest: String = out.iter().map(|a| format!("{}  {}\n", a.sha256, file_name(&a.file))).collect();
    let path = dir.join(format!("MANIFEST-before-{before}.sha256"));
    write_new(&path, manifest.as_bytes())?;
    Ok(out)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists { ArchiveError::Exists(path.to_owned()) } else { e.into() }
    })?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// The events to archive must all have been read by every consumer of events.
async fn check_consumed(db: &Db, before: &str) -> Result<(), ArchiveError> {
    let slowest: Option<(String, i64)> = dispatch!(db, pool => sqlx::query_as(
        "SELECT consumer, position FROM event_cursors ORDER BY position, consumer LIMIT 1").fetch_optional(pool).await)
    .map_err(StoreError::from)?;
    let (consumer, position) = slowest.unwrap_or_else(|| ("(no consumer has run yet)".into(), 0));
    let sql = format!("SELECT COUNT(*) FROM events WHERE {} < $1 AND id > $2", time_of(db, "occurred_at"));
    let unread: i64 = dispatch!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(before).bind(position).fetch_one(pool).await)
        .map_err(StoreError::from)?;
    if unread > 0 {
        return Err(ArchiveError::Unconsumed(unread, before.to_owned(), consumer));
    }
    Ok(())
}

/// The time column compared byte-wise on both backends.
fn time_of(db: &Db, column: &str) -> String {
    match db.backend() {
        Backend::Postgres => format!("{column} COLLATE \"C\""),
        Backend::Sqlite => column.to_owned(),
    }
}

/// Writes one table's old rows to its file, then removes them (checked against the count).
async fn archive_part(db: &Db, part: &Part, before: &str, dir: &Path) -> Result<Archived, ArchiveError> {
    let path = dir.join(format!("{}-before-{before}.jsonl", part.table));
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists { ArchiveError::Exists(path.clone()) } else { e.into() }
    })?;
    let mut writer = std::io::BufWriter::new(file);
    let mut digest = Sha256::new();
    let pairs: Vec<String> = part.columns.iter().map(|c| format!("'{c}', {c}")).collect();
    let object = match db.backend() {
        Backend::Postgres => format!("json_build_object({})::text", pairs.join(", ")),
        Backend::Sqlite => format!("json_object({})", pairs.join(", ")),
    };
    let condition = format!("{} AND {} < $1", part.finished, time_of(db, part.time));
    let sql = format!("SELECT {object} FROM {} WHERE {condition} ORDER BY id", part.table);
    let mut rows = 0u64;
    dispatch!(db, pool => {
        let mut stream = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(before).fetch(pool);
        while let Some(line) = stream.try_next().await.map_err(StoreError::from)? {
            writer.write_all(line.as_bytes())?;
            writer.write_all(b"\n")?;
            digest.update(line.as_bytes());
            digest.update(b"\n");
            rows += 1;
        }
        Ok::<(), ArchiveError>(())
    })?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    let partitions_dropped = remove(db, part, &condition, before, rows).await?;
    let sha256 = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Archived { table: part.table, rows, file: path, sha256, partitions_dropped })
}

/// Removes the archived rows in one transaction: month partitions wholly before `before` are
/// detached and dropped, the other rows deleted; rolled back unless exactly `written` rows go.
async fn remove(
    db: &Db,
    part: &Part,
    condition: &str,
    before: &str,
    written: u64,
) -> Result<Vec<String>, ArchiveError> {
    let delete = format!("DELETE FROM {} WHERE {condition}", part.table);
    match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await.map_err(StoreError::from)?;
            let mut dropped = Vec::new();
            let mut removed = 0u64;
            if part.partitioned {
                let prefix = format!("{}_", part.table);
                let partitions: Vec<String> = sqlx::query_scalar(
                    "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                     JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1 ORDER BY 1",
                )
                .bind(part.table)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::from)?;
                for name in partitions {
                    // events_2025_01 holds 2025-01: dropped when that month is before `before`.
                    let Some(month) = name.strip_prefix(&prefix).map(|m| m.replacen('_', "-", 1)) else { continue };
                    if !valid_month(&month) || month.as_str() >= before {
                        continue;
                    }
                    let count = format!("SELECT COUNT(*) FROM \"{name}\"");
                    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(StoreError::from)?;
                    let detach = format!("ALTER TABLE {} DETACH PARTITION \"{name}\"", part.table);
                    sqlx::query(sqlx::AssertSqlSafe(detach)).execute(&mut *tx).await.map_err(StoreError::from)?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE \"{name}\"")))
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from)?;
                    removed += u64::try_from(n).unwrap_or(0);
                    dropped.push(name);
                }
            }
            removed += sqlx::query(sqlx::AssertSqlSafe(delete))
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?
                .rows_affected();
            same_count(part, written, removed)?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok(dropped)
        }
        Db::Sqlite(pool, _) => {
            let _writer = db.write_lock().await;
            let mut tx = pool.begin().await.map_err(StoreError::from)?;
            let removed = sqlx::query(sqlx::AssertSqlSafe(delete))
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?
                .rows_affected();
            same_count(part, written, removed)?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok(Vec::new())
        }
    }
}

/// Removing is committed only when it removes exactly the rows the archive file holds.
fn same_count(part: &Part, written: u64, removed: u64) -> Result<(), ArchiveError> {
    match removed == written {
        true => Ok(()),
        false => Err(ArchiveError::Mismatch { table: part.table, written, removed }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        assert!(valid_month("2025-01") && valid_month("1999-12"));
        for bad in ["2025-13", "2025-00", "2025-1", "25-01-01", "2025/01", "abcd-01", ""] {
            assert!(!valid_month(bad), "{bad}");
        }
    }
}
