//! Documents: uploaded dossier components and issued results. The type is decided by the
//! content (PDF, JPEG, PNG magic numbers), never by the file name; the size is capped; each is
//! stored with its SHA-256, once per owner (the same file uploaded twice is one document, which
//! is what lets a later dossier reuse it).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use civitas_store::{Db, StoreError, dispatch};

/// Largest accepted document.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MediaType {
    #[serde(rename = "application/pdf")]
    Pdf,
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
        }
    }
}

/// The type of `bytes` by its magic number.
pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
    if bytes.starts_with(b"%PDF-") {
        Some(MediaType::Pdf)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(MediaType::Jpeg)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(MediaType::Png)
    } else {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("the file is empty")]
    Empty,
    #[error("the file has {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("the content of {name:?} is not a PDF, JPEG or PNG file (whatever its name says)")]
    UnsupportedType { name: String },
    #[error("the document name must be 1–200 characters")]
    Name,
    #[error("storage failed")]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Document {
    pub id: String,
    pub owner_pid: String,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    pub created_at: String,
    /// `upload` (handed in by the person) or `result` (issued by an agency).
    pub kind: String,
    /// For results: the dossier and procedure they answer.
    pub dossier_code: Option<String>,
    pub procedure_code: Option<String>,
}

const DOC_COLUMNS: &str =
    "id, owner_pid, name, media_type, size, sha256, created_at, kind, dossier_code, procedure_code";

/// Insert of a result document inside the caller's transaction; binds: id, owner, name, media
/// type, size, sha256, content, created_at, dossier code, procedure code.
pub const INSERT_RESULT: &str = "INSERT INTO documents (id, owner_pid, name, media_type, size, sha256, content, created_at, kind, dossier_code, procedure_code) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'result', $9, $10)";

/// A fresh opaque document id.
pub fn new_id() -> String {
    let mut id = [0u8; 16];
    rand::fill(&mut id);
    URL_SAFE_NO_PAD.encode(id)
}

/// Checks content (type by its bytes, size) and returns the media type and SHA-256 (hex).
pub fn prepare(bytes: &[u8]) -> Result<(MediaType, String), DocumentError> {
    if bytes.is_empty() {
        return Err(DocumentError::Empty);
    }
    if bytes.len() > MAX_BYTES {
        return Err(DocumentError::TooLarge { size: bytes.len(), max: MAX_BYTES });
    }
    let media = sniff(bytes).ok_or_else(|| DocumentError::UnsupportedType { name: "the file".into() })?;
    Ok((media, Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()))
}

/// Whether document `id` is in `pid`'s store.
pub async fn owned_by(db: &Db, id: &str, pid: &str) -> Result<bool, StoreError> {
    let sql = "SELECT id FROM documents WHERE id = $1 AND owner_pid = $2";
    let row: Option<(String,)> =
        dispatch!(db, pool => sqlx::query_as(sql).bind(id).bind(pid).fetch_optional(pool).await)?;
    Ok(row.is_some())
}

/// A document's description and content, whoever owns it (the caller checks access).
pub async fn by_id(db: &Db, id: &str) -> Result<Option<(Document, Vec<u8>)>, StoreError> {
    let sql = format!("SELECT {DOC_COLUMNS} FROM documents WHERE id = $1");
    let doc = dispatch!(db, pool => sqlx::query_as::<_, Document>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)?;
    let Some(doc) = doc else { return Ok(None) };
    let sql = "SELECT content FROM documents WHERE id = $1";
    let (bytes,): (Vec<u8>,) = dispatch!(db, pool => sqlx::query_as(sql).bind(id).fetch_one(pool).await)?;
    Ok(Some((doc, bytes)))
}

/// The newest result of `procedure` in `pid`'s store.
pub async fn latest_result(db: &Db, pid: &str, procedure: &str) -> Result<Option<Document>, StoreError> {
    let sql = format!(
        "SELECT {DOC_COLUMNS} FROM documents WHERE owner_pid = $1 AND kind = 'result' AND procedure_code = $2 ORDER BY created_at DESC LIMIT 1"
    );
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Document>(sqlx::AssertSqlSafe(sql)).bind(pid).bind(procedure).fetch_optional(pool).await)?,
    )
}

/// Checks and stores a document of `owner_pid`; the same content again returns the stored one.
pub async fn store(
    db: &Db,
    owner_pid: &str,
    name: &str,
    bytes: &[u8],
    now: time::OffsetDateTime,
) -> Result<Document, DocumentError> {
    let name = civitas_core::text::nfc(name.trim());
    if name.is_empty() || name.chars().count() > 200 {
        return Err(DocumentError::Name);
    }
    if bytes.is_empty() {
        return Err(DocumentError::Empty);
    }
    if bytes.len() > MAX_BYTES {
        return Err(DocumentError::TooLarge { size: bytes.len(), max: MAX_BYTES });
    }
    let media = sniff(bytes).ok_or_else(|| DocumentError::UnsupportedType { name: name.clone() })?;
    let sha256: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    let mut id = [0u8; 16];
    rand::fill(&mut id);
    let id = URL_SAFE_NO_PAD.encode(id);
    let at = civitas_store::timestamp(now);
    let insert = "INSERT INTO documents (id, owner_pid, name, media_type, size, sha256, content, created_at) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (owner_pid, sha256) DO NOTHING";
    let select = format!("SELECT {DOC_COLUMNS} FROM documents WHERE owner_pid = $1 AND sha256 = $2");
    let _writer = db.write_lock().await;
    let doc: Result<Document, sqlx::Error> = dispatch!(db, pool => {
        match sqlx::query(insert).bind(&id).bind(owner_pid).bind(&name).bind(media.as_str()).bind(bytes.len() as i64)
            .bind(&sha256).bind(bytes).bind(&at).execute(pool).await
        {
            Ok(_) => sqlx::query_as::<_, Document>(sqlx::AssertSqlSafe(select)).bind(owner_pid).bind(&sha256).fetch_one(pool).await,
            Err(e) => Err(e),
        }
    });
    let doc = doc.map_err(StoreError::from)?;
    Ok(doc)
}

/// The documents of `owner_pid`, newest first.
pub async fn list(db: &Db, owner_pid: &str) -> Result<Vec<Document>, StoreError> {
    let sql = format!("SELECT {DOC_COLUMNS} FROM documents WHERE owner_pid = $1 ORDER BY created_at DESC, id");
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Document>(sqlx::AssertSqlSafe(sql)).bind(owner_pid).fetch_all(pool).await)?,
    )
}

/// The content of a document of `owner_pid` (none when it belongs to someone else).
pub async fn content(db: &Db, owner_pid: &str, id: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let sql = "SELECT media_type, content FROM documents WHERE owner_pid = $1 AND id = $2";
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, (String, Vec<u8>)>(sql).bind(owner_pid).bind(id).fetch_optional(pool).await)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some(MediaType::Pdf));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]), Some(MediaType::Jpeg));
        assert_eq!(sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]), Some(MediaType::Png));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"<html>%PDF-"), None);
        assert_eq!(sniff(b""), None);
    }
}
