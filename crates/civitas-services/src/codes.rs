//! Codes of digitised documents and results (issue #18). Every component a dossier digitises
//! (scanned at the counter, uploaded online) and every result gets a code. Its parts are kept
//! as fields — owner ID, national procedure code or result code, document type, number/symbol,
//! sequence — and printed by a configurable format (default, as one production system prints
//! them: component `{owner}.{procedure}.{type}.{seq:02}`, result
//! `{owner}.{result}.{number}.{seq:02}`). The sequence is per prefix (the other parts),
//! allocated by one atomic upsert in `daily_sequences`; a document has one code for life, so a
//! document attached again to a later dossier is *reused* under the code it already has.
//!
//! Sequences allocated for an action that is then abandoned (a concurrent change, a failed
//! render) are skipped, never given twice: codes may have gaps, like any database sequence.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, RwLock};

use serde::Serialize;

use civitas_store::unit::{Value, Write};
use civitas_store::{Db, StoreError, dispatch};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    Component,
    Result,
}

impl CodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeKind::Component => "component",
            CodeKind::Result => "result",
        }
    }
}

/// The parts of a code other than its sequence (they decide the sequence's scope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeParts {
    pub kind: CodeKind,
    pub owner: String,
    /// The national procedure code (component) or the result code (result).
    pub subject: String,
    /// The component's document type (empty for results).
    pub doc_type: String,
    /// The result's number/symbol (empty for components).
    pub number: String,
}

impl CodeParts {
    pub fn component(owner: &str, procedure: &str, doc_type: &str) -> Self {
        CodeParts {
            kind: CodeKind::Component,
            owner: owner.into(),
            subject: procedure.into(),
            doc_type: doc_type.into(),
            number: String::new(),
        }
    }

    pub fn result(owner: &str, result_code: &str, number: &str) -> Self {
        CodeParts {
            kind: CodeKind::Result,
            owner: owner.into(),
            subject: result_code.into(),
            doc_type: String::new(),
            number: number.into(),
        }
    }

    /// The sequence's scope in `daily_sequences` (bound to [`NEXT`]).
    pub fn scope(&self) -> String {
        format!(
            "code:{}:{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.kind.as_str(),
            self.owner,
            self.subject,
            self.doc_type,
            self.number
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Owner,
    Subject,
    DocType,
    Number,
    Seq(usize),
}

/// A printed form: literal text and placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

impl Template {
    /// Parses a format of `kind`: placeholders `{owner}`, `{procedure}` and `{type}`
    /// (components), `{owner}`, `{result}` and `{number}` (results), and `{seq}` or `{seq:0N}`
    /// (zero-padded to N digits). Every part must be printed, or two documents could print
    /// the same code.
    pub fn parse(kind: CodeKind, format: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = format;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err(format!("{format:?}: a '}}' without its '{{'"));
            }
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').ok_or_else(|| format!("{format:?}: a '{{' is not closed"))? + open;
            let name = &rest[open + 1..close];
            let piece = match (kind, name) {
                (_, "owner") => Piece::Owner,
                (CodeKind::Component, "procedure") | (CodeKind::Result, "result") => Piece::Subject,
                (CodeKind::Component, "type") => Piece::DocType,
                (CodeKind::Result, "number") => Piece::Number,
                (_, "seq") => Piece::Seq(1),
                (_, n) if n.starts_with("seq:0") => match n["seq:0".len()..].parse::<usize>() {
                    Ok(w) if (1..=9).contains(&w) => Piece::Seq(w),
                    _ => return Err(format!("{format:?}: {{{n}}} — the width is one digit, e.g. {{seq:02}}")),
                },
                (_, n) => return Err(format!("{format:?}: {{{n}}} is not a part of a {} code", kind.as_str())),
            };
            pieces.push(piece);
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        let needed: &[Needed] = match kind {
            CodeKind::Component => &[
                ("{owner}", |p| *p == Piece::Owner),
                ("{procedure}", |p| *p == Piece::Subject),
                ("{type}", |p| *p == Piece::DocType),
                ("{seq}", |p| matches!(p, Piece::Seq(_))),
            ],
            CodeKind::Result => &[
                ("{owner}", |p| *p == Piece::Owner),
                ("{result}", |p| *p == Piece::Subject),
                ("{number}", |p| *p == Piece::Number),
                ("{seq}", |p| matches!(p, Piece::Seq(_))),
            ],
        };
        for (name, is) in needed {
            match pieces.iter().filter(|p| is(p)).count() {
                0 => {
                    return Err(format!(
                        "{format:?}: {name} is missing (every part must be printed to keep codes unique)"
                    ));
                }
                1 => {}
                _ => return Err(format!("{format:?}: {name} is printed more than once")),
            }
        }
        Ok(Template(pieces))
    }

    pub fn render(&self, parts: &CodeParts, seq: i64) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Owner => out.push_str(&parts.owner),
                Piece::Subject => out.push_str(&parts.subject),
                Piece::DocType => out.push_str(&parts.doc_type),
                Piece::Number => out.push_str(&parts.number),
                Piece::Seq(w) => out.push_str(&format!("{seq:0w$}")),
            }
        }
        out
    }
}

/// A part a format must print, and how to recognise it.
type Needed = (&'static str, fn(&Piece) -> bool);

/// The printed forms of component and result codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFormat {
    pub component: Template,
    pub result: Template,
}

pub const DEFAULT_COMPONENT_FORMAT: &str = "{owner}.{procedure}.{type}.{seq:02}";
pub const DEFAULT_RESULT_FORMAT: &str = "{owner}.{result}.{number}.{seq:02}";

impl CodeFormat {
    pub fn new(component: &str, result: &str) -> Result<Self, String> {
        Ok(CodeFormat {
            component: Template::parse(CodeKind::Component, component)
                .map_err(|e| format!("document_code_format {component:?}: {e}"))?,
            result: Template::parse(CodeKind::Result, result)
                .map_err(|e| format!("result_code_format {result:?}: {e}"))?,
        })
    }

    pub fn render(&self, parts: &CodeParts, seq: i64) -> String {
        match parts.kind {
            CodeKind::Component => self.component.render(parts, seq),
            CodeKind::Result => self.result.render(parts, seq),
        }
    }
}

impl Default for CodeFormat {
    fn default() -> Self {
        CodeFormat {
            component: Template::parse(CodeKind::Component, DEFAULT_COMPONENT_FORMAT).unwrap_or(Template(Vec::new())),
            result: Template::parse(CodeKind::Result, DEFAULT_RESULT_FORMAT).unwrap_or(Template(Vec::new())),
        }
    }
}

static FORMAT: LazyLock<RwLock<Arc<CodeFormat>>> = LazyLock::new(|| RwLock::new(Arc::new(CodeFormat::default())));

/// Sets the process's printed forms (from the configuration, at start-up).
pub fn set_format(format: CodeFormat) {
    if let Ok(mut f) = FORMAT.write() {
        *f = Arc::new(format);
    }
}

pub fn format() -> Arc<CodeFormat> {
    FORMAT.read().map(|f| f.clone()).unwrap_or_default()
}

/// The statement allocating the next sequence of `parts` (returns it).
pub const NEXT: &str = "INSERT INTO daily_sequences (scope, day, last) VALUES ($1, '-', 1) \
     ON CONFLICT (scope, day) DO UPDATE SET last = daily_sequences.last + 1 RETURNING last";

/// A coded document, as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Coded {
    pub code: String,
    /// component or result
    pub kind: String,
    pub document_id: String,
    pub owner_pid: String,
    pub subject: String,
    pub doc_type: String,
    pub number: String,
    pub seq: i64,
    pub dossier_code: String,
    pub sha256: String,
    /// counter (scanned by an officer), online (uploaded by the applicant) or issued (a result).
    pub source: String,
    pub digitiser: String,
    pub coded_at: String,
    pub signature: Option<String>,
}

const COLUMNS: &str = "code, kind, document_id, owner_pid, subject, doc_type, number, seq, dossier_code, sha256, source, \
     digitiser, coded_at, signature";

/// The insert of a code (binds in [`COLUMNS`] order).
const INSERT: &str = "INSERT INTO document_codes (code, kind, document_id, owner_pid, subject, doc_type, number, seq, \
     dossier_code, sha256, source, digitiser, coded_at, signature) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

impl Coded {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        parts: &CodeParts,
        seq: i64,
        document_id: &str,
        dossier_code: &str,
        sha256: &str,
        source: &str,
        digitiser: &str,
        at: &str,
    ) -> Self {
        Coded {
            code: format().render(parts, seq),
            kind: parts.kind.as_str().into(),
            document_id: document_id.into(),
            owner_pid: parts.owner.clone(),
            subject: parts.subject.clone(),
            doc_type: parts.doc_type.clone(),
            number: parts.number.clone(),
            seq,
            dossier_code: dossier_code.into(),
            sha256: sha256.into(),
            source: source.into(),
            digitiser: digitiser.into(),
            coded_at: at.into(),
            signature: None,
        }
    }

    /// The write storing this code (inside the action's transaction).
    pub fn write(&self) -> Write {
        Write::new(
            INSERT,
            vec![
                self.code.clone().into(),
                self.kind.clone().into(),
                self.document_id.clone().into(),
                self.owner_pid.clone().into(),
                self.subject.clone().into(),
                self.doc_type.clone().into(),
                self.number.clone().into(),
                self.seq.into(),
                self.dossier_code.clone().into(),
                self.sha256.clone().into(),
                self.source.clone().into(),
                self.digitiser.clone().into(),
                self.coded_at.clone().into(),
                Value::Text(self.signature.clone()),
            ],
        )
        .expecting(1, "the document was coded meanwhile")
    }

    /// The claims the agency signs for a result: the code, the document and its SHA-256.
    pub fn claims(&self, issuer: &str, unit: &str, iat: i64) -> crate::certificate_issue::CertClaims {
        let mut f = BTreeMap::new();
        f.insert("sha256".into(), self.sha256.clone());
        f.insert("dossier".into(), self.dossier_code.clone());
        f.insert("owner".into(), self.owner_pid.clone());
        f.insert("result".into(), self.subject.clone());
        f.insert("number".into(), self.number.clone());
        crate::certificate_issue::CertClaims {
            iss: issuer.into(),
            id: self.document_id.clone(),
            typ: "result".into(),
            no: self.code.clone(),
            reg: unit.into(),
            iat,
            f,
        }
    }
}

/// The next sequence of `parts`, allocated on its own (before the action's transaction).
pub async fn allocate(db: &Db, parts: &CodeParts) -> Result<i64, StoreError> {
    let scope = parts.scope();
    let _writer = db.write_lock().await;
    let (n,): (i64,) = dispatch!(db, pool => sqlx::query_as(NEXT).bind(&scope).fetch_one(pool).await)?;
    Ok(n)
}

pub async fn get(db: &Db, code: &str) -> Result<Option<Coded>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM document_codes WHERE code = $1");
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Coded>(sqlx::AssertSqlSafe(sql)).bind(code).fetch_optional(pool).await)?,
    )
}

pub async fn of_document(db: &Db, document_id: &str) -> Result<Option<Coded>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM document_codes WHERE document_id = $1");
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Coded>(sqlx::AssertSqlSafe(sql)).bind(document_id).fetch_optional(pool).await)?,
    )
}

/// The codes first given in dossier `dossier` (its digitised components and its result).
pub async fn of_dossier(db: &Db, dossier: &str) -> Result<Vec<Coded>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM document_codes WHERE dossier_code = $1 ORDER BY coded_at, code");
    Ok(dispatch!(db, pool => sqlx::query_as::<_, Coded>(sqlx::AssertSqlSafe(sql)).bind(dossier).fetch_all(pool).await)?)
}

/// A result document's code, allocated and signed by the agency before the action's
/// transaction (which stores the code with the document, [`Coded::write`]). `number` is the
/// result's number or symbol (a registration number, else the dossier code).
#[allow(clippy::too_many_arguments)]
pub async fn signed_result(
    db: &Db,
    signer: &dyn crate::certificate_issue::Signer,
    issuer: &str,
    procedure: &crate::catalogue::Procedure,
    dossier: &crate::dossiers::Dossier,
    number: &str,
    bytes: &[u8],
    digitiser: &str,
    now: time::OffsetDateTime,
) -> Result<Coded, StoreError> {
    use sha2::Digest;
    let parts = CodeParts::result(&dossier.applicant_pid, &result_code(procedure), number);
    let seq = allocate(db, &parts).await?;
    let sha: String = sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    let at = civitas_store::timestamp(now);
    let mut coded = Coded::new(&parts, seq, &crate::documents::new_id(), &dossier.code, &sha, "issued", digitiser, &at);
    let claims = coded.claims(issuer, &dossier.unit_code, now.unix_timestamp());
    coded.signature = Some(signer.sign(RESULT_TYP, &claims));
    Ok(coded)
}

/// Codes the documents a supplement hands in (component → document id) for `dossier`: a
/// document that already has a code keeps it ("reused"), another gets a new one
/// ("digitised"). Returns what the dossier records per component and the writes that store
/// the new codes (with the action's transaction; sequences are allocated before it).
pub async fn code_supplied(
    db: &Db,
    dossier: &crate::dossiers::Dossier,
    procedure: &str,
    components: &[(String, String)],
    digitiser: &str,
    at: &str,
) -> Result<(serde_json::Map<String, serde_json::Value>, Vec<Write>), StoreError> {
    let mut recorded = serde_json::Map::new();
    let mut writes = Vec::new();
    for (component, document) in components {
        if let Some(existing) = of_document(db, document).await? {
            recorded.insert(component.clone(), serde_json::json!({ "code": existing.code, "how": "reused" }));
            continue;
        }
        let sql = "SELECT sha256 FROM documents WHERE id = $1 AND owner_pid = $2";
        let row: Option<(String,)> = dispatch!(db, pool => sqlx::query_as(sql).bind(document)
            .bind(&dossier.applicant_pid).fetch_optional(pool).await)?;
        let Some((sha,)) = row else { continue };
        let parts = CodeParts::component(&dossier.applicant_pid, procedure, component);
        let seq = allocate(db, &parts).await?;
        let source = if dossier.channel == "online" { "online" } else { "counter" };
        let coded = Coded::new(&parts, seq, document, &dossier.code, &sha, source, digitiser, at);
        recorded.insert(component.clone(), serde_json::json!({ "code": coded.code, "how": "digitised" }));
        writes.push(coded.write());
    }
    Ok((recorded, writes))
}

/// A document code as an officer sees it: the code, and the unit of the dossier it was given
/// in.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    #[serde(flatten)]
    pub coded: Coded,
    /// The unit competent for the dossier that gave the code.
    pub unit: String,
}

/// Looks `code` up for an officer: `None` when there is no such code or `covers` does not
/// accept the unit of the dossier it was given in (a code's existence is not revealed).
pub async fn lookup(db: &Db, code: &str, covers: &(dyn Fn(&str) -> bool + Sync)) -> Result<Option<Found>, StoreError> {
    let code = code.trim();
    if code.is_empty() || code.len() > 200 {
        return Ok(None);
    }
    let Some(coded) = get(db, code).await? else { return Ok(None) };
    let sql = "SELECT unit_code FROM dossiers WHERE code = $1";
    let unit: Option<(String,)> =
        dispatch!(db, pool => sqlx::query_as(sql).bind(&coded.dossier_code).fetch_optional(pool).await)?;
    Ok(unit.map(|(u,)| u).filter(|u| covers(u)).map(|unit| Found { coded, unit }))
}

/// The JWS `typ` of a result's signature.
pub const RESULT_TYP: &str = "civitas-result+jwt";

/// The result code of a procedure: its catalogue value, else `KQ-` and its local code.
pub fn result_code(procedure: &crate::catalogue::Procedure) -> String {
    if procedure.result_code.trim().is_empty() {
        format!("KQ-{}", procedure.code)
    } else {
        procedure.result_code.trim().to_owned()
    }
}

/// The procedure code a component's code prints: the national code, else the local one.
pub fn procedure_code(procedure: &crate::catalogue::Procedure) -> String {
    if procedure.national_code.trim().is_empty() {
        procedure.code.clone()
    } else {
        procedure.national_code.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_formats_print_as_the_production_system_does() {
        let f = CodeFormat::default();
        let c = CodeParts::component("001095012345", "1.001234", "TP1");
        assert_eq!(f.render(&c, 1), "001095012345.1.001234.TP1.01");
        assert_eq!(f.render(&c, 123), "001095012345.1.001234.TP1.123");
        let r = CodeParts::result("001095012345", "KQ-DVC-05", "12/2026");
        assert_eq!(f.render(&r, 7), "001095012345.KQ-DVC-05.12/2026.07");
    }

    #[test]
    fn formats_are_checked() {
        assert!(CodeFormat::new("{type}-{owner}-{procedure}-{seq:04}", "{result}/{number}/{owner}/{seq}").is_ok());
        let err = |c: &str, r: &str| CodeFormat::new(c, r).err().unwrap_or_default();
        assert!(err("{owner}.{procedure}.{seq}", DEFAULT_RESULT_FORMAT).contains("{type} is missing"));
        assert!(err("{owner}.{procedure}.{type}", DEFAULT_RESULT_FORMAT).contains("{seq} is missing"));
        assert!(err("{owner}.{result}.{type}.{seq}", DEFAULT_RESULT_FORMAT).contains("{result} is not a part"));
        assert!(err("{owner}.{procedure}.{type}.{seq", DEFAULT_RESULT_FORMAT).contains("not closed"));
        assert!(err("{owner}}.{procedure}.{type}.{seq}", DEFAULT_RESULT_FORMAT).contains("without its"));
        assert!(err("{owner}.{procedure}.{type}.{seq:0x}", DEFAULT_RESULT_FORMAT).contains("width"));
        assert!(err(DEFAULT_COMPONENT_FORMAT, "{owner}.{result}.{seq}").contains("{number} is missing"));
        assert!(err("{owner}.{procedure}.{type}.{seq}.{seq}", DEFAULT_RESULT_FORMAT).contains("more than once"));
        assert!(err(DEFAULT_COMPONENT_FORMAT, "{owner}.{result}.{number}.{seq}").is_empty());
    }

    #[test]
    fn scopes_keep_every_part_apart() {
        let a = CodeParts::component("1", "2.3", "4");
        let b = CodeParts::component("1", "2", "3.4");
        assert_ne!(a.scope(), b.scope());
        assert_ne!(CodeParts::result("1", "2", "").scope(), CodeParts::component("1", "2", "").scope());
    }
}
