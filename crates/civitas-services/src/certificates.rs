//! Civil-status certificates as stored: the signed payload of their QR and their status
//! (valid, revoked, superseded by a corrected re-issue).

use serde::Serialize;

use civitas_store::unit::{Value, Write};
use civitas_store::{Db, StoreError, dispatch};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Certificate {
    pub id: String,
    pub record_id: String,
    pub kind: String,
    pub dossier_code: String,
    pub unit_code: String,
    pub subject_pid: String,
    pub other_pid: Option<String>,
    pub registration_number: String,
    /// The compact JWS the QR carries.
    pub payload: String,
    /// valid, revoked or superseded.
    pub status: String,
    pub superseded_by: Option<String>,
    pub reason: Option<String>,
    pub document_id: Option<String>,
    pub issued_at: String,
}

const COLUMNS: &str = "id, record_id, kind, dossier_code, unit_code, subject_pid, other_pid, registration_number, payload, status, \
     superseded_by, reason, document_id, issued_at";

#[allow(clippy::too_many_arguments)]
pub fn insert(id: &str, record: &crate::civil::Record, payload: &str, document_id: Option<&str>, at: &str) -> Write {
    Write::new(
        format!(
            "INSERT INTO certificates ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'valid', NULL, NULL, $10, $11)"
        ),
        vec![
            id.into(),
            record.id.clone().into(),
            record.kind.clone().into(),
            record.dossier_code.clone().into(),
            record.unit_code.clone().into(),
            record.subject_pid.clone().into(),
            Value::Text(record.other_pid.clone()),
            record.registration_number.clone().into(),
            payload.into(),
            Value::Text(document_id.map(str::to_owned)),
            at.into(),
        ],
    )
}

/// Marks a certificate superseded by `by` (a corrected re-issue).
pub fn supersede(id: &str, by: &str, reason: &str) -> Write {
    Write::new(
        "UPDATE certificates SET status = 'superseded', superseded_by = $1, reason = $2 WHERE id = $3 AND status = 'valid'",
        vec![by.into(), reason.into(), id.into()],
    )
    .expecting(1, "the certificate is no longer valid")
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Certificate>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM certificates WHERE id = $1");
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Certificate>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)?,
    )
}

/// Certificates about `pid` (as the subject or the other party), newest first.
pub async fn of_person(db: &Db, pid: &str, limit: i64) -> Result<Vec<Certificate>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM certificates WHERE subject_pid = $1 OR other_pid = $1 ORDER BY issued_at DESC, id LIMIT $2"
    );
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Certificate>(sqlx::AssertSqlSafe(sql)).bind(pid).bind(limit).fetch_all(pool).await)?,
    )
}

/// Certificates registered by `units`, newest first.
pub async fn of_units(db: &Db, units: &[String], limit: i64) -> Result<Vec<Certificate>, StoreError> {
    let mut out = Vec::new();
    for u in units {
        let sql =
            format!("SELECT {COLUMNS} FROM certificates WHERE unit_code = $1 ORDER BY issued_at DESC, id LIMIT $2");
        let rows = dispatch!(db, pool => sqlx::query_as::<_, Certificate>(sqlx::AssertSqlSafe(sql)).bind(u).bind(limit).fetch_all(pool).await)?;
        out.extend(rows);
    }
    out.sort_by(|a, b| b.issued_at.cmp(&a.issued_at));
    out.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(out)
}

/// The valid certificate of a civil-status record.
pub async fn valid_of_record(db: &Db, record_id: &str) -> Result<Option<Certificate>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM certificates WHERE record_id = $1 AND status = 'valid'");
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Certificate>(sqlx::AssertSqlSafe(sql)).bind(record_id).fetch_optional(pool).await)?,
    )
}

/// Revokes a valid certificate (issued in error, a record annulled by a court) with the reason.
pub fn revoke(id: &str, reason: &str) -> Write {
    Write::new(
        "UPDATE certificates SET status = 'revoked', reason = $1 WHERE id = $2 AND status = 'valid'",
        vec![reason.into(), id.into()],
    )
    .expecting(1, "the certificate is no longer valid")
}
