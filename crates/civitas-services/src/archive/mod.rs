//! The electronic archive (issue #18, part 3): when a dossier closes (returned, refused,
//! rejected at receipt, withdrawn, lapsed) and for every civil-status record whose dossier
//! closed, civitas prepares an archive package — the signed PDFs and other documents, a JSON
//! record of the dossier and its control sheet, the file-level metadata of Circular 05/2025 and
//! a `bag-info.txt`, fixed by SHA-512 digests and signed by the server's key — and keeps it in
//! the database (`archive_packages`, `archive_contents`; the documents themselves stay in the
//! document store and are referenced). Packages are exported as BagIt bags
//! ([`bag`]), checked for fixity on a schedule, and listed for a disposal decision once past
//! their retention (recorded, never carried out silently).

pub mod bag;
mod records;

pub use records::{
    Disposal, DisposalError, Listing, decide_disposal, due_for_disposal, fixity, get, list, packages_since,
};

use civitas_store::unit::{Value, Write};
use civitas_store::{Db, StoreError, dispatch};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::catalogue::{Catalogue, Procedure};
use crate::certificate_issue::{CertClaims, Signer};
use crate::dossiers::{self, Dossier};

/// How long a package is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Permanent,
    Years(u16),
}

impl Retention {
    /// `permanent`, or a number of years: `10y` (1–100).
    pub fn parse(s: &str) -> Result<Retention, String> {
        let s = s.trim();
        if s == "permanent" {
            return Ok(Retention::Permanent);
        }
        match s.strip_suffix('y').map(str::parse::<u16>) {
            Some(Ok(n)) if (1..=100).contains(&n) => Ok(Retention::Years(n)),
            _ => Err(format!("retention {s:?} is not \"permanent\" or a number of years such as \"10y\" (1–100)")),
        }
    }

    /// The procedure's retention: its catalogue value; without one, permanent for civil status
    /// (Law on Civil Status, Art. 58), else 10 years.
    pub fn of(procedure: &Procedure) -> Retention {
        match Retention::parse(&procedure.retention) {
            Ok(r) => r,
            Err(_) if crate::civil::kind_of(&procedure.code).is_some() => Retention::Permanent,
            Err(_) => Retention::Years(10),
        }
    }

    pub fn code(self) -> String {
        match self {
            Retention::Permanent => "permanent".into(),
            Retention::Years(n) => format!("{n}y"),
        }
    }

    /// As Circular 05/2025's metadata writes it.
    pub fn vi(self) -> String {
        match self {
            Retention::Permanent => "Vĩnh viễn".into(),
            Retention::Years(n) => format!("{n} năm"),
        }
    }

    /// The first day a package closed on `closed` may be proposed for disposal.
    pub fn dispose_after(self, closed: Date) -> Option<Date> {
        match self {
            Retention::Permanent => None,
            Retention::Years(n) => {
                let year = closed.year() + i32::from(n);
                Date::from_calendar_date(year, closed.month(), closed.day())
                    .or_else(|_| Date::from_calendar_date(year, closed.month(), 28))
                    .ok()
            }
        }
    }
}

/// One payload file of a package.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackageFile {
    /// Under `data/`.
    pub path: String,
    pub size: i64,
    pub sha512: String,
    /// The document in the store (PDFs, scans); `None`: the file is in `archive_contents`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

/// A prepared archive package, as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Package {
    /// The dossier code, or `HT-` and the civil-status record's id.
    pub subject: String,
    /// dossier or civil_record
    pub kind: String,
    pub dossier_code: String,
    pub unit_code: String,
    pub procedure_code: String,
    pub title: String,
    pub closed_on: String,
    pub prepared_at: String,
    /// permanent or `Ny`.
    pub retention: String,
    pub dispose_after: Option<String>,
    /// The payload files (JSON list of [`PackageFile`]).
    #[serde(skip)]
    pub files: String,
    #[serde(skip)]
    pub bag_info: String,
    #[serde(skip)]
    pub signature: String,
    pub fixity_checked_at: Option<String>,
    /// unchecked, ok or drift.
    pub fixity: String,
    pub fixity_detail: Option<String>,
    /// keep or dispose, once decided.
    pub disposal: Option<String>,
    pub disposal_by: Option<String>,
    pub disposal_at: Option<String>,
    pub disposal_note: Option<String>,
}

impl Package {
    pub fn payload(&self) -> Vec<PackageFile> {
        serde_json::from_str(&self.files).unwrap_or_default()
    }
}

const COLUMNS: &str = "subject, kind, dossier_code, unit_code, procedure_code, title, closed_on, prepared_at, retention, \
     dispose_after, files, bag_info, signature, fixity_checked_at, fixity, fixity_detail, disposal, disposal_by, \
     disposal_at, disposal_note";

/// The states in which a dossier is closed and archived.
pub const CLOSED: &[&str] = &["returned", "refused", "rejected_at_receipt", "withdrawn", "lapsed"];

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Corrupt(String),
}

/// What preparing needs: the database, the procedure catalogue (titles, retention), the
/// server's signer and its public URL.
pub struct Archivist<'a> {
    pub db: &'a Db,
    pub catalogue: &'a Catalogue,
    pub signer: &'a dyn Signer,
    pub issuer: &'a str,
}

/// A package being prepared: its row and its payload (bytes of every file).
struct Draft {
    subject: String,
    kind: &'static str,
    dossier: Dossier,
    procedure_code: String,
    title: String,
    closed_on: Date,
    retention: Retention,
    files: Vec<(PackageFile, Vec<u8>)>,
}

/// The write that queues a closing dossier for its archive packages (in the closing
/// transaction).
pub fn enqueue(dossier: &str, at: &str) -> Write {
    Write::new(
        "INSERT INTO archive_queue (subject, queued_at) VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING",
        vec![dossier.into(), at.into()],
    )
}

/// How many closed dossiers wait for their packages.
pub async fn queued(db: &Db) -> Result<i64, StoreError> {
    let sql = "SELECT COUNT(*) FROM archive_queue";
    Ok(dispatch!(db, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?)
}

/// Prepares the packages of up to `limit` queued closed dossiers (and of their civil-status
/// records); returns how many packages were stored. Several servers may run it at once: a
/// package is stored once (the others' attempts are dropped), and a dossier leaves the queue
/// once both its packages exist.
pub async fn prepare_pending(a: &Archivist<'_>, limit: i64, now: time::OffsetDateTime) -> Result<usize, ArchiveError> {
    let sql = "SELECT subject FROM archive_queue ORDER BY queued_at, subject LIMIT $1";
    let queued: Vec<String> =
        dispatch!(a.db, pool => sqlx::query_scalar(sql).bind(limit).fetch_all(pool).await).map_err(StoreError::from)?;
    let mut stored = 0;
    for code in &queued {
        if get(a.db, code).await?.is_none()
            && let Some(draft) = dossier_draft(a, code).await?
        {
            stored += usize::from(store(a, draft, now).await?);
        }
        if let Some(record) = crate::civil::record_of(a.db, code).await?
            && get(a.db, &format!("HT-{}", record.id)).await?.is_none()
            && let Some(draft) = record_draft(a, code).await?
        {
            stored += usize::from(store(a, draft, now).await?);
        }
        let done = Write::new("DELETE FROM archive_queue WHERE subject = $1", vec![code.clone().into()]);
        let _ = civitas_store::unit::commit(a.db, &[done]).await?;
    }
    Ok(stored)
}

fn parse_day(s: &str) -> Option<Date> {
    Date::parse(s.get(..10)?, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

fn day(d: Date) -> String {
    d.to_string()
}

/// The extension of a stored document's file.
fn extension(media_type: &str) -> &'static str {
    match media_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        _ => "pdf",
    }
}

fn json_file(path: &str, value: &impl Serialize) -> (PackageFile, Vec<u8>) {
    let bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    (
        PackageFile { path: path.into(), size: bytes.len() as i64, sha512: bag::sha512_hex(&bytes), document: None },
        bytes,
    )
}

/// A stored document as a payload file at `path` (its extension added), if it is the owner's.
async fn document_file(
    db: &Db,
    id: &str,
    owner: &str,
    path: &str,
) -> Result<Option<(PackageFile, Vec<u8>)>, StoreError> {
    Ok(match crate::documents::by_id(db, id).await? {
        Some((doc, bytes)) if doc.owner_pid == owner => {
            let path = format!("{path}.{}", extension(&doc.media_type));
            let file = PackageFile {
                path,
                size: bytes.len() as i64,
                sha512: bag::sha512_hex(&bytes),
                document: Some(id.into()),
            };
            Some((file, bytes))
        }
        _ => None,
    })
}

/// The pages of a PDF (its `/Type /Page` objects); an image is one page.
fn pages(bytes: &[u8]) -> usize {
    if !bytes.starts_with(b"%PDF") {
        return 1;
    }
    let text = String::from_utf8_lossy(bytes);
    let n = text
        .match_indices("/Type")
        .filter(|(i, _)| {
            let rest = text[i + 5..].trim_start();
            rest.starts_with("/Page") && !rest.starts_with("/Pages")
        })
        .count();
    n.max(1)
}

/// The day a dossier closed: the day it was finished, else the day of its last step.
async fn closed_on(db: &Db, d: &Dossier) -> Result<Date, ArchiveError> {
    if let Some(day) = d.finished_on.as_deref().and_then(parse_day) {
        return Ok(day);
    }
    let steps = dossiers::steps(db, &d.code).await?;
    steps
        .last()
        .and_then(|s| time::OffsetDateTime::parse(&s.at, &time::format_description::well_known::Rfc3339).ok())
        .map(dossiers::local_today)
        .or_else(|| parse_day(&d.received_on))
        .ok_or_else(|| ArchiveError::Corrupt(format!("dossier {}: no day it closed", d.code)))
}

async fn dossier_draft(a: &Archivist<'_>, code: &str) -> Result<Option<Draft>, ArchiveError> {
    let Some(d) = dossiers::get(a.db, code).await? else { return Ok(None) };
    let procedure = a.catalogue.get(&d.procedure_code);
    let retention = procedure.map_or(Retention::Years(10), Retention::of);
    let name = procedure.map_or(d.procedure_code.clone(), |p| p.name_vi.clone());
    let steps = dossiers::steps(a.db, code).await?;
    let mut files = vec![json_file("data/dossier.json", &d), json_file("data/control-sheet.json", &steps)];
    let empty = serde_json::Map::new();
    let components = d.data.get("components").and_then(|c| c.as_object()).unwrap_or(&empty);
    for (component, id) in components {
        let Some(id) = id.as_str() else { continue };
        let safe: String = component.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect();
        if let Some(f) = document_file(a.db, id, &d.applicant_pid, &format!("data/components/{safe}-{id}")).await? {
            files.push(f);
        }
    }
    if let Some(id) = &d.result_document
        && let Some(f) = document_file(a.db, id, &d.applicant_pid, &format!("data/result/{id}")).await?
    {
        files.push(f);
    }
    let closed = closed_on(a.db, &d).await?;
    let title = bag::info_value(&format!("{name} — {}", d.applicant_name));
    Ok(Some(Draft {
        subject: d.code.clone(),
        kind: "dossier",
        procedure_code: d.procedure_code.clone(),
        title,
        closed_on: closed,
        retention,
        files,
        dossier: d,
    }))
}

async fn record_draft(a: &Archivist<'_>, dossier_code: &str) -> Result<Option<Draft>, ArchiveError> {
    let Some(record) = crate::civil::record_of(a.db, dossier_code).await? else { return Ok(None) };
    let Some(d) = dossiers::get(a.db, dossier_code).await? else { return Ok(None) };
    let mut files = vec![json_file("data/record.json", &record)];
    if let Some(id) = &d.result_document
        && let Some(f) = document_file(a.db, id, &d.applicant_pid, "data/certificate").await?
    {
        files.push(f);
    }
    let closed = match parse_day(&record.registered_on) {
        Some(day) => day,
        None => closed_on(a.db, &d).await?,
    };
    let kind = match record.kind.as_str() {
        "birth" => "Đăng ký khai sinh",
        "marriage" => "Đăng ký kết hôn",
        "death" => "Đăng ký khai tử",
        _ => "Đăng ký hộ tịch",
    };
    Ok(Some(Draft {
        subject: format!("HT-{}", record.id),
        kind: "civil_record",
        procedure_code: d.procedure_code.clone(),
        title: bag::info_value(&format!("{kind} số {} — {}", record.registration_number, d.applicant_name)),
        closed_on: closed,
        // Civil-status books are kept permanently (Law on Civil Status, Art. 58).
        retention: Retention::Permanent,
        files,
        dossier: d,
    }))
}

/// The file-level metadata of Circular 05/2025/TT-BNV for a draft.
fn metadata(a: &Archivist<'_>, draft: &Draft) -> serde_json::Value {
    let d = &draft.dossier;
    let procedure = a.catalogue.get(&draft.procedure_code);
    let codes = d.data.get("codes").and_then(|c| c.as_object());
    let documents: Vec<serde_json::Value> = draft
        .files
        .iter()
        .filter(|(f, _)| f.document.is_some())
        .map(|(f, bytes)| {
            let component = f.path.strip_prefix("data/components/").and_then(|p| p.split('-').next());
            let code = match component {
                Some(c) => codes.and_then(|m| m.get(c)).and_then(|v| v.get("code")).cloned(),
                None => d.data.get("result_code").cloned(),
            };
            serde_json::json!({
                "path": f.path, "document_code": code, "pages": pages(bytes), "bytes": f.size,
                "reliability": if component.is_some() { "digitised or submitted copy" } else { "original electronic document" },
            })
        })
        .collect();
    let pages_total: usize = draft.files.iter().filter(|(f, _)| f.document.is_some()).map(|(_, b)| pages(b)).sum();
    serde_json::json!({
        "standard": "Circular 05/2025/TT-BNV, file-level data",
        "file_code": draft.subject,
        "title": draft.title,
        "retention": draft.retention.vi(),
        "retention_code": draft.retention.code(),
        "access_level": "Hạn chế (dữ liệu cá nhân)",
        "language": "vi",
        "start_date": d.received_on,
        "end_date": day(draft.closed_on),
        "keywords": [
            procedure.map(|p| p.name_vi.clone()).unwrap_or_default(),
            procedure.map(|p| p.agency.clone()).unwrap_or_default(),
            draft.procedure_code,
            procedure.map(|p| p.national_code.clone()).unwrap_or_default(),
        ],
        "documents": documents.len(),
        "sheets": serde_json::Value::Null,
        "pages": pages_total,
        "physical_condition": "born digital or digitised; no paper original held here",
        "information_mark": "",
        "reliability": "electronic originals signed by the issuing agency; submitted copies with their SHA-256",
        "original_file_code": d.code,
        "backup": "database backups of the archive store; exported bags",
        "creator": { "body": d.body_code, "unit": d.unit_code, "system": a.issuer },
        "documents_list": documents,
    })
}

/// Signs and stores a draft (its package row and its JSON files) in one transaction; false
/// when another server stored it first.
async fn store(a: &Archivist<'_>, mut draft: Draft, now: time::OffsetDateTime) -> Result<bool, ArchiveError> {
    let meta = metadata(a, &draft);
    draft.files.push(json_file("data/metadata.json", &meta));
    let octets: i64 = draft.files.iter().map(|(f, _)| f.size).sum();
    let today = dossiers::local_today(now);
    let bag_info = [
        ("Source-Organization", format!("Bộ phận tiếp nhận {} (civitas)", draft.dossier.body_code)),
        ("External-Identifier", draft.subject.clone()),
        ("External-Description", draft.title.clone()),
        ("Bagging-Date", day(today)),
        ("Payload-Oxum", format!("{octets}.{}", draft.files.len())),
        ("Bag-Size", format!("{:.1} KB", octets as f64 / 1024.0)),
        ("Bag-Group-Identifier", draft.dossier.unit_code.clone()),
        ("Internal-Sender-Identifier", draft.dossier.code.clone()),
        ("Internal-Sender-Description", format!("civitas archive package; retention {}", draft.retention.code())),
    ]
    .iter()
    .map(|(k, v)| format!("{k}: {v}\n"))
    .collect::<String>();
    let hashes: Vec<(String, String)> = draft.files.iter().map(|(f, _)| (f.path.clone(), f.sha512.clone())).collect();
    let tagmanifest = bag::tagmanifest(&bag_info, &bag::manifest(&hashes));
    let mut f = std::collections::BTreeMap::new();
    f.insert("external".into(), draft.subject.clone());
    f.insert("oxum".into(), format!("{octets}.{}", draft.files.len()));
    let claims = CertClaims {
        iss: a.issuer.into(),
        id: draft.subject.clone(),
        typ: "archive".into(),
        no: bag::sha512_hex(tagmanifest.as_bytes()),
        reg: draft.dossier.unit_code.clone(),
        iat: now.unix_timestamp(),
        f,
    };
    let signature = a.signer.sign("civitas-archive+jwt", &claims);
    let files: Vec<&PackageFile> = draft.files.iter().map(|(f, _)| f).collect();
    let insert = format!(
        "INSERT INTO archive_packages ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, 'unchecked', NULL, NULL, NULL, NULL, NULL) \
         ON CONFLICT (subject) DO NOTHING"
    );
    let mut writes = vec![
        Write::new(
            insert,
            vec![
                draft.subject.clone().into(),
                draft.kind.into(),
                draft.dossier.code.clone().into(),
                draft.dossier.unit_code.clone().into(),
                draft.procedure_code.clone().into(),
                draft.title.clone().into(),
                day(draft.closed_on).into(),
                civitas_store::timestamp(now).into(),
                draft.retention.code().into(),
                Value::Text(draft.retention.dispose_after(draft.closed_on).map(day)),
                serde_json::to_string(&files).unwrap_or_default().into(),
                bag_info.into(),
                signature.into(),
            ],
        )
        .expecting(1, "the package was prepared meanwhile"),
    ];
    for (file, bytes) in draft.files.iter().filter(|(f, _)| f.document.is_none()) {
        writes.push(Write::new(
            "INSERT INTO archive_contents (subject, path, content) VALUES ($1, $2, $3)",
            vec![draft.subject.clone().into(), file.path.clone().into(), Value::Bytes(Some(bytes.clone()))],
        ));
    }
    Ok(civitas_store::unit::commit(a.db, &writes).await?.is_ok())
}

/// The payload of a package: every file with its bytes (JSON files from the archive store,
/// documents from the document store), or the first file whose bytes no longer match.
pub async fn payload(db: &Db, p: &Package) -> Result<Result<Vec<(String, Vec<u8>)>, String>, StoreError> {
    Ok(payloads(db, std::slice::from_ref(p)).await?.pop().unwrap_or_else(|| Err("no payload".into())))
}

/// `$1, $2, ...` for `n` values.
fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// The payloads of `packages` (see [`payload`]), read with one query for their rendered files
/// and one for their documents.
pub async fn payloads(
    db: &Db,
    packages: &[Package],
) -> Result<Vec<Result<Vec<(String, Vec<u8>)>, String>>, StoreError> {
    use std::collections::HashMap;
    if packages.is_empty() {
        return Ok(Vec::new());
    }
    let subjects: Vec<&str> = packages.iter().map(|p| p.subject.as_str()).collect();
    let sql = format!(
        "SELECT subject, path, content FROM archive_contents WHERE subject IN ({})",
        placeholders(subjects.len())
    );
    let rows: Vec<(String, String, Vec<u8>)> = dispatch!(db, pool => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for s in &subjects {
            q = q.bind(*s);
        }
        q.fetch_all(pool).await
    })?;
    let mut stored: HashMap<(String, String), Vec<u8>> = rows.into_iter().map(|(s, p, c)| ((s, p), c)).collect();
    let files: Vec<Vec<PackageFile>> = packages.iter().map(Package::payload).collect();
    let ids: Vec<String> = files.iter().flatten().filter_map(|f| f.document.clone()).collect();
    let mut documents: HashMap<String, Vec<u8>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let sql = format!("SELECT id, content FROM documents WHERE id IN ({})", placeholders(chunk.len()));
        let rows: Vec<(String, Vec<u8>)> = dispatch!(db, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in chunk {
                q = q.bind(id);
            }
            q.fetch_all(pool).await
        })?;
        documents.extend(rows);
    }
    let mut out = Vec::with_capacity(packages.len());
    for (p, files) in packages.iter().zip(files) {
        let mut payload = Vec::with_capacity(files.len());
        let mut problem = None;
        for f in files {
            let bytes = match &f.document {
                Some(id) => documents.get(id).cloned(),
                None => stored.remove(&(p.subject.clone(), f.path.clone())),
            };
            let Some(bytes) = bytes else {
                problem = Some(format!("{}: missing from the store", f.path));
                break;
            };
            if bag::sha512_hex(&bytes) != f.sha512 {
                problem = Some(format!("{}: its SHA-512 changed since the package was prepared", f.path));
                break;
            }
            payload.push((f.path, bytes));
        }
        out.push(match problem {
            Some(why) => Err(why),
            None => Ok(payload),
        });
    }
    Ok(out)
}

/// A safe directory name for a package's bag.
pub fn bag_name(subject: &str) -> String {
    subject.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
}

/// What an export did.
#[derive(Debug, Default)]
pub struct Exported {
    pub written: Vec<String>,
    /// Bags already in the directory (never overwritten).
    pub existing: Vec<String>,
    /// Packages not written because their stored files drifted: (subject, the file and why).
    pub drifted: Vec<(String, String)>,
}

/// A bag ready to be written: its directory, payload, `bag-info.txt` and signature.
type Ready = (std::path::PathBuf, Vec<(String, Vec<u8>)>, String, String);

/// Writes `bags` on two threads.
fn write_bags(bags: Vec<Ready>) -> std::io::Result<()> {
    let half = bags.len().div_ceil(2);
    let (first, second) = bags.split_at(half);
    std::thread::scope(|s| {
        let other = s.spawn(|| first.iter().try_for_each(|(dir, files, info, sig)| bag::write(dir, files, info, sig)));
        let mine = second.iter().try_for_each(|(dir, files, info, sig)| bag::write(dir, files, info, sig));
        other.join().unwrap_or_else(|_| Err(std::io::Error::other("a writer thread failed"))).and(mine)
    })
}

/// Writes the bags of the packages closed on or after `since` into `out`: read in chunks, each
/// chunk written (on two threads) while the next is read.
pub async fn export(db: &Db, since: Date, out: &std::path::Path) -> Result<Exported, ArchiveError> {
    let mut report = Exported::default();
    let io = |e: std::io::Error| ArchiveError::Corrupt(format!("{}: {e}", out.display()));
    std::fs::create_dir_all(out).map_err(io)?;
    let packages = packages_since(db, since).await?;
    let mut writing: Option<tokio::task::JoinHandle<std::io::Result<()>>> = None;
    for chunk in packages.chunks(100) {
        let fresh: Vec<Package> = chunk
            .iter()
            .filter(|p| {
                let there = out.join(bag_name(&p.subject)).exists();
                if there {
                    report.existing.push(p.subject.clone());
                }
                !there
            })
            .cloned()
            .collect();
        let mut ready = Vec::with_capacity(fresh.len());
        for (p, payload) in fresh.iter().zip(payloads(db, &fresh).await?) {
            match payload {
                Ok(files) => {
                    ready.push((out.join(bag_name(&p.subject)), files, p.bag_info.clone(), p.signature.clone()));
                    report.written.push(p.subject.clone());
                }
                Err(why) => report.drifted.push((p.subject.clone(), why)),
            }
        }
        if let Some(h) = writing.take() {
            h.await.map_err(|e| ArchiveError::Corrupt(e.to_string()))?.map_err(io)?;
        }
        writing = Some(tokio::task::spawn_blocking(move || write_bags(ready)));
    }
    if let Some(h) = writing.take() {
        h.await.map_err(|e| ArchiveError::Corrupt(e.to_string()))?.map_err(io)?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_permanent_or_years() {
        assert_eq!(Retention::parse("permanent"), Ok(Retention::Permanent));
        assert_eq!(Retention::parse("10y"), Ok(Retention::Years(10)));
        for bad in ["", "0y", "101y", "ten years", "10"] {
            assert!(Retention::parse(bad).is_err(), "{bad}");
        }
        let d = time::macros::date!(2024 - 02 - 29);
        assert_eq!(Retention::Years(5).dispose_after(d), Some(time::macros::date!(2029 - 02 - 28)));
        assert_eq!(Retention::Permanent.dispose_after(d), None);
        assert_eq!(Retention::Years(20).vi(), "20 năm");
    }

    #[test]
    fn pages_are_counted_without_the_page_tree() {
        assert_eq!(pages(b"%PDF-1.4 << /Type /Pages /Count 2 >> << /Type /Page >> << /Type/Page >>"), 2);
        assert_eq!(pages(b"\x89PNG..."), 1);
        assert_eq!(bag_name("HT-a/b c"), "HT-a_b_c");
    }
}
