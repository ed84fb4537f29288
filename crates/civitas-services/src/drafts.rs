//! Drafts: a citizen's unfinished application, saved with "Lưu nháp" and offered again when
//! the form is opened, on any device. One draft per person and procedure; submitting the
//! dossier deletes it. The answers are kept as typed (an unfinished form need not be valid),
//! within the size a form may have.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use civitas_store::{Db, StoreError, dispatch};

/// The most a draft keeps: answers and chosen documents together, as JSON.
pub const MAX_BYTES: usize = 64 * 1024;

/// What was saved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The e-form's answers by field name.
    pub fields: BTreeMap<String, String>,
    /// The documents chosen per component (IDs in the citizen's store).
    pub components: BTreeMap<String, String>,
}

/// A saved draft with its procedure and time (for the citizen's list).
#[derive(Debug, Clone)]
pub struct Saved {
    pub procedure_code: String,
    pub draft: Draft,
    /// RFC 3339 UTC.
    pub saved_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("the draft is larger than {MAX_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Saves (or replaces) `pid`'s draft of `procedure_code`.
pub async fn save(
    db: &Db,
    pid: &str,
    procedure_code: &str,
    draft: &Draft,
    now: time::OffsetDateTime,
) -> Result<String, DraftError> {
    let data = serde_json::to_string(draft).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if data.len() > MAX_BYTES {
        return Err(DraftError::TooLarge);
    }
    let at = civitas_store::timestamp(now);
    let sql = "INSERT INTO drafts (pid, procedure_code, data, saved_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (pid, procedure_code) DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at";
    dispatch!(db, pool => sqlx::query(sql).bind(pid).bind(procedure_code).bind(&data).bind(&at).execute(pool).await.map(|_| ())).map_err(StoreError::from)?;
    Ok(at)
}

/// `pid`'s draft of `procedure_code`, if one was saved.
pub async fn load(db: &Db, pid: &str, procedure_code: &str) -> Result<Option<Saved>, StoreError> {
    let sql = "SELECT procedure_code, data, saved_at FROM drafts WHERE pid = $1 AND procedure_code = $2";
    let row = dispatch!(db, pool => sqlx::query_as::<_, (String, String, String)>(sql).bind(pid).bind(procedure_code).fetch_optional(pool).await)?;
    Ok(row.map(saved))
}

/// Every draft of `pid`, newest first.
pub async fn of_person(db: &Db, pid: &str) -> Result<Vec<Saved>, StoreError> {
    let sql = "SELECT procedure_code, data, saved_at FROM drafts WHERE pid = $1 ORDER BY saved_at DESC";
    let rows =
        dispatch!(db, pool => sqlx::query_as::<_, (String, String, String)>(sql).bind(pid).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(saved).collect())
}

/// Deletes `pid`'s draft of `procedure_code` (after submission, or when the citizen discards it).
pub async fn delete(db: &Db, pid: &str, procedure_code: &str) -> Result<(), StoreError> {
    let sql = "DELETE FROM drafts WHERE pid = $1 AND procedure_code = $2";
    dispatch!(db, pool => sqlx::query(sql).bind(pid).bind(procedure_code).execute(pool).await.map(|_| ()))?;
    Ok(())
}

fn saved((procedure_code, data, saved_at): (String, String, String)) -> Saved {
    // A draft that no longer parses (written by another version) is offered empty, not an error.
    Saved { procedure_code, draft: serde_json::from_str(&data).unwrap_or_default(), saved_at }
}
