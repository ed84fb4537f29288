//! Moving a whole database from SQLite to PostgreSQL (`civitas migrate-data`): every table the
//! migrations create — people and their history, households, accounts, credentials, clients,
//! grants, keys, dossiers and their steps, documents, certificates, deliveries, events, the
//! access log, the outbox — copied row by row, serial counters set after the largest id, then
//! verified: the row count and a checksum of every table on both sides. The source's servers
//! should be stopped first: what changes during the move shows up as a mismatch.
//!
//! The columns and their types are read from the PostgreSQL target (both schemas come from the
//! same numbered migrations); the checksum of a table is the SHA-256 of its rows' SHA-256
//! digests in sorted order, so it does not depend on either database's collation.

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Db, StoreError};

/// One table's column names and PostgreSQL types.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<(String, Kind)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Bytes,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// What was moved and checked, per table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub table: String,
    pub source_rows: u64,
    pub target_rows: u64,
    pub source_checksum: String,
    pub target_checksum: String,
}

impl TableReport {
    pub fn matches(&self) -> bool {
        self.source_rows == self.target_rows && self.source_checksum == self.target_checksum
    }
}

fn postgres(db: &Db) -> Result<&sqlx::PgPool, StoreError> {
    match db {
        Db::Postgres(pool) => Ok(pool),
        Db::Sqlite(..) => Err(StoreError::Corrupt("the target of a data move must be PostgreSQL".into())),
    }
}

fn sqlite(db: &Db) -> Result<&sqlx::SqlitePool, StoreError> {
    match db {
        Db::Sqlite(pool, _) => Ok(pool),
        Db::Postgres(_) => Err(StoreError::Corrupt("the source of a data move must be SQLite".into())),
    }
}

/// The tables of the target, with their columns: all but the migrations' bookkeeping and the
/// job leases (the running servers' state, meaningless in another database); a partitioned
/// table once (its partitions are where PostgreSQL keeps its rows, not tables of their own).
pub async fn tables(target: &Db) -> Result<Vec<Table>, StoreError> {
    let pool = postgres(target)?;
    let sql = "SELECT c.table_name::text, c.column_name::text, c.data_type::text FROM information_schema.columns c \
               JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema \
               WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name NOT IN ('_sqlx_migrations', 'job_leases') \
               AND c.table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition) \
               ORDER BY c.table_name, c.ordinal_position";
    let rows: Vec<(String, String, String)> = sqlx::query_as(sql).fetch_all(pool).await?;
    let mut out: Vec<Table> = Vec::new();
    for (table, column, kind) in rows {
        let kind = match kind.as_str() {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "real" | "double precision" => Kind::Real,
            "bytea" => Kind::Bytes,
            _ => Kind::Text,
        };
        match out.last_mut() {
            Some(t) if t.name == table => t.columns.push((column, kind)),
            _ => out.push(Table { name: table, columns: vec![(column, kind)] }),
        }
    }
    Ok(out)
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn select_all(t: &Table) -> String {
    let cols: Vec<String> = t.columns.iter().map(|(c, _)| quoted(c)).collect();
    format!("SELECT {} FROM {}", cols.join(", "), quoted(&t.name))
}

fn sqlite_value(row: &sqlx::sqlite::SqliteRow, i: usize, kind: Kind) -> Result<Value, sqlx::Error> {
    Ok(match kind {
        Kind::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::Int),
        Kind::Real => row.try_get::<Option<f64>, _>(i)?.map_or(Value::Null, Value::Real),
        Kind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Value::Null, Value::Text),
        Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map_or(Value::Null, Value::Bytes),
    })
}

fn postgres_value(row: &sqlx::postgres::PgRow, i: usize, kind: Kind, declared: &str) -> Result<Value, sqlx::Error> {
    Ok(match kind {
        Kind::Int if declared == "integer" => {
            row.try_get::<Option<i32>, _>(i)?.map_or(Value::Null, |v| Value::Int(v.into()))
        }
        Kind::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::Int),
        Kind::Real => row.try_get::<Option<f64>, _>(i)?.map_or(Value::Null, Value::Real),
        Kind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Value::Null, Value::Text),
        Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map_or(Value::Null, Value::Bytes),
    })
}

/// The digest of one row (type-tagged, length-prefixed values).
fn row_digest(values: &[Value]) -> [u8; 32] {
    let mut h = Sha256::new();
    for v in values {
        match v {
            Value::Null => h.update([0u8]),
            Value::Int(i) => {
                h.update([1u8]);
                h.update(i.to_be_bytes());
            }
            Value::Real(r) => {
                h.update([2u8]);
                h.update(r.to_bits().to_be_bytes());
            }
            Value::Text(s) => {
                h.update([3u8]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
            Value::Bytes(b) => {
                h.update([4u8]);
                h.update((b.len() as u64).to_be_bytes());
                h.update(b);
            }
        }
    }
    h.finalize().into()
}

fn table_checksum(mut digests: Vec<[u8; 32]>) -> String {
    digests.sort_unstable();
    let mut h = Sha256::new();
    for d in &digests {
        h.update(d);
    }
    let sum: [u8; 32] = h.finalize().into();
    sum.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rows per INSERT: PostgreSQL takes at most 65,535 parameters per statement.
fn rows_per_insert(columns: usize) -> usize {
    (60_000 / columns.max(1)).clamp(1, 1000)
}

async fn insert_rows(pool: &sqlx::PgPool, t: &Table, rows: &[Vec<Value>]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let n = t.columns.len();
    let cols: Vec<String> = t.columns.iter().map(|(c, _)| quoted(c)).collect();
    let tuples: Vec<String> = (0..rows.len())
        .map(|r| {
            let params: Vec<String> = (1..=n).map(|c| format!("${}", r * n + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let sql = format!("INSERT INTO {} ({}) VALUES {}", quoted(&t.name), cols.join(", "), tuples.join(", "));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in rows {
        for (v, (_, kind)) in row.iter().zip(&t.columns) {
            q = match (v, kind) {
                (Value::Null, Kind::Int) => q.bind(None::<i64>),
                (Value::Null, Kind::Real) => q.bind(None::<f64>),
                (Value::Null, Kind::Bytes) => q.bind(None::<Vec<u8>>),
                (Value::Null, Kind::Text) => q.bind(None::<String>),
                (Value::Int(i), _) => q.bind(*i),
                (Value::Real(r), _) => q.bind(*r),
                (Value::Text(s), _) => q.bind(s.clone()),
                (Value::Bytes(b), _) => q.bind(b.clone()),
            };
        }
    }
    q.execute(pool).await?;
    Ok(())
}

/// Copies every table of `source` (SQLite) into `target` (PostgreSQL, migrated and empty),
/// calling `progress(table, rows)` after each table, then moves the serial counters past the
/// copied ids.
pub async fn copy_all(source: &Db, target: &Db, mut progress: impl FnMut(&str, u64)) -> Result<(), StoreError> {
    let (from, to) = (sqlite(source)?, postgres(target)?);
    for t in tables(target).await? {
        // Integer columns the target declares as INTEGER (not BIGINT) need an i32 on insert.
        let mut copied = 0u64;
        let mut batch: Vec<Vec<Value>> = Vec::new();
        let per_insert = rows_per_insert(t.columns.len());
        let sql = select_all(&t);
        let mut stream = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(from);
        while let Some(row) = stream.try_next().await? {
            let mut values = Vec::with_capacity(t.columns.len());
            for (i, (_, kind)) in t.columns.iter().enumerate() {
                values.push(sqlite_value(&row, i, *kind)?);
            }
            batch.push(values);
            if batch.len() >= per_insert {
                insert_rows(to, &t, &batch).await?;
                copied += batch.len() as u64;
                batch.clear();
            }
        }
        insert_rows(to, &t, &batch).await?;
        copied += batch.len() as u64;
        progress(&t.name, copied);
    }
    let serials = "SELECT table_name::text, column_name::text FROM information_schema.columns \
                   WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%' \
                   AND table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition)";
    let serials: Vec<(String, String)> = sqlx::query_as(serials).fetch_all(to).await?;
    for (table, column) in serials {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), COALESCE((SELECT MAX({qc}) FROM {qt}), 0) + 1, false)",
            t = table.replace('\'', "''"),
            c = column.replace('\'', "''"),
            qc = quoted(&column),
            qt = quoted(&table)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(to).await?;
    }
    Ok(())
}

/// Rows in the target's tables (the migrations' bookkeeping excepted): 0 for an empty database.
pub async fn target_rows(target: &Db) -> Result<u64, StoreError> {
    let pool = postgres(target)?;
    let mut total = 0u64;
    for t in tables(target).await? {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", quoted(&t.name))))
            .fetch_one(pool)
            .await?;
        total += u64::try_from(n).unwrap_or(0);
    }
    Ok(total)
}

/// Counts and checksums of every table on both sides.
pub async fn verify(source: &Db, target: &Db) -> Result<Vec<TableReport>, StoreError> {
    let (from, to) = (sqlite(source)?, postgres(target)?);
    let declared: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    .fetch_all(to)
    .await?;
    let mut out = Vec::new();
    for t in tables(target).await? {
        let sql = select_all(&t);
        let mut source_digests = Vec::new();
        let mut stream = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).fetch(from);
        while let Some(row) = stream.try_next().await? {
            let values: Result<Vec<Value>, sqlx::Error> =
                t.columns.iter().enumerate().map(|(i, (_, k))| sqlite_value(&row, i, *k)).collect();
            source_digests.push(row_digest(&values?));
        }
        let types: Vec<&str> = t
            .columns
            .iter()
            .map(|(c, _)| {
                declared
                    .iter()
                    .find(|(tn, cn, _)| *tn == t.name && cn == c)
                    .map(|(_, _, d)| d.as_str())
                    .unwrap_or("text")
            })
            .collect();
        let mut target_digests = Vec::new();
        let mut stream = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(to);
        while let Some(row) = stream.try_next().await? {
            let values: Result<Vec<Value>, sqlx::Error> =
                t.columns.iter().enumerate().map(|(i, (_, k))| postgres_value(&row, i, *k, types[i])).collect();
            target_digests.push(row_digest(&values?));
        }
        out.push(TableReport {
            table: t.name.clone(),
            source_rows: source_digests.len() as u64,
            target_rows: target_digests.len() as u64,
            source_checksum: table_checksum(source_digests),
            target_checksum: table_checksum(target_digests),
        });
    }
    Ok(out)
}
