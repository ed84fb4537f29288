//! The append-only log of reads of personal data. Every read of a person's record by a token
//! holder goes through [`record`]; a later stage exposes it to citizens and makes it a Merkle
//! log, which is why it lives apart from the domain tables.

use serde::Serialize;

#[derive(Debug, Clone)]
pub struct AccessRecord<'a> {
    pub actor: &'a str,
    pub role: &'a str,
    pub unit: &'a str,
    pub purpose: Option<&'a str>,
    pub subject_pid: &'a str,
    /// Which fields (or field groups) were released.
    pub fields: &'a [&'a str],
    pub request_id: Option<&'a str>,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AccessEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub role: String,
    pub unit: String,
    pub purpose: Option<String>,
    pub subject_pid: String,
    pub fields: String,
    pub request_id: Option<String>,
}

pub async fn record(db: &crate::Db, r: &AccessRecord<'_>) -> Result<(), crate::StoreError> {
    let sql = "INSERT INTO access_log (at, actor, role, unit, purpose, subject_pid, fields, request_id) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    let fields = r.fields.join(",");
    crate::dispatch!(db, pool => sqlx::query(sql)
        .bind(&r.at)
        .bind(r.actor)
        .bind(r.role)
        .bind(r.unit)
        .bind(r.purpose)
        .bind(r.subject_pid)
        .bind(&fields)
        .bind(r.request_id)
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The reads of one person's data, newest first.
pub async fn for_subject(db: &crate::Db, pid: &str, limit: i64) -> Result<Vec<AccessEntry>, crate::StoreError> {
    let sql = "SELECT id, at, actor, role, unit, purpose, subject_pid, fields, request_id FROM access_log \
               WHERE subject_pid = $1 ORDER BY id DESC LIMIT $2";
    let rows = crate::dispatch!(db, pool => sqlx::query_as::<_, AccessEntry>(sql).bind(pid).bind(limit).fetch_all(pool).await)?;
    Ok(rows)
}
