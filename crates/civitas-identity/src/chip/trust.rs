//! The CSCA trust store: which Country Signing CAs this installation trusts, as the operator
//! put them there — a pinned certificate (`civitas trust add-csca`), or the CSCAs of an ICAO
//! master list whose own signature was verified and whose signer chains to a CSCA already
//! trusted (`civitas trust import-masterlist`) — and their CRLs, each verified by its CSCA. A
//! certificate shipped inside an SOD is never an anchor. Every change commits with its entry in
//! the transparency log.

use base64::Engine;
use civitas_core::chip::{
    Certificate, Crl, KEY_USAGE_KEY_CERT_SIGN, SignerId, name_country, name_text, parse_certificate, parse_crl,
    parse_master_list,
};
use civitas_store::unit::Write;
use civitas_store::{Db, StoreError, dispatch};
use std::collections::HashMap;

use serde::Serialize;
use sha2::Digest;

use super::sig::{self, Allow, Hash};

/// A trusted CSCA (or link certificate), by the SHA-256 of its DER.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub id: String,
    pub cert: Certificate,
    /// `csca` (self-signed) or `link` (a CSCA's new key, signed by a trusted one).
    pub kind: String,
    pub source: String,
}

/// The anchors and CRLs in force.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    pub anchors: Vec<Anchor>,
    /// (the anchor whose CRL it is, the CRL).
    pub crls: Vec<(String, Crl)>,
    /// Document Signer certificates whose signature by an anchor was verified (the SHA-256 of
    /// the DS → the anchor's id and the algorithm): one DS signs thousands of cards, its
    /// certificate's signature is checked once per store. Time and revocation are checked on
    /// every card.
    pub verified_ds: VerifiedDs,
}

/// The DS certificates known verified: SHA-256 of the certificate → (anchor id, algorithm).
pub type VerifiedDs = std::sync::Arc<std::sync::Mutex<HashMap<Vec<u8>, (String, String)>>>;

/// The most Document Signers remembered as verified (the cache is emptied when full).
const VERIFIED_DS_MAX: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("the file is not a certificate: {0}")]
    Malformed(String),
    #[error("not a CSCA certificate: {0}")]
    NotCa(String),
    #[error("the certificate's own signature does not verify ({0})")]
    SelfSignature(String),
    #[error("no trusted CSCA issued it: {0}")]
    NoTrustedIssuer(String),
    #[error("the master list is refused: {0}")]
    MasterList(String),
    #[error("the CRL is refused: {0}")]
    Crl(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TrustError {
    pub fn code(&self) -> &'static str {
        match self {
            TrustError::Malformed(_) => "malformed",
            TrustError::NotCa(_) => "not-a-csca",
            TrustError::SelfSignature(_) => "self-signature-invalid",
            TrustError::NoTrustedIssuer(_) => "no-trusted-issuer",
            TrustError::MasterList(_) => "master-list-refused",
            TrustError::Crl(_) => "crl-refused",
            TrustError::Store(_) => "store",
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a DER, in hex: an anchor's or a CRL's id.
pub fn fingerprint(der: &[u8]) -> String {
    hex(&sha2::Sha256::digest(der))
}

/// The DER blocks of a PEM file (every `CERTIFICATE` or `X509 CRL` block), or the file itself
/// when it is DER.
pub fn pem_or_der(bytes: &[u8]) -> Result<Vec<Vec<u8>>, TrustError> {
    if bytes.first() == Some(&0x30) {
        return Ok(vec![bytes.to_vec()]);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| TrustError::Malformed("neither DER nor PEM text".into()))?;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            body = Some(String::new());
        } else if line.starts_with("-----END ") {
            let b = body.take().ok_or_else(|| TrustError::Malformed(format!("line {}: END without BEGIN", n + 1)))?;
            let der = base64::engine::general_purpose::STANDARD
                .decode(b.as_bytes())
                .map_err(|_| TrustError::Malformed(format!("line {}: the block is not base64", n + 1)))?;
            out.push(der);
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    if out.is_empty() {
        return Err(TrustError::Malformed("no PEM block".into()));
    }
    Ok(out)
}

impl TrustStore {
    /// The anchors that could have issued `cert` (its issuer Name, byte for byte).
    fn candidates<'a>(&'a self, issuer: &[u8]) -> impl Iterator<Item = &'a Anchor> + 'a {
        let issuer = issuer.to_vec();
        self.anchors.iter().filter(move |a| a.cert.subject == issuer)
    }

    /// The trusted anchor whose key signed `cert`, with the algorithm used; else why not.
    pub fn issuer_of(&self, cert: &Certificate, allow: &Allow) -> Result<(&Anchor, String), String> {
        let mut why = format!("no trusted CSCA is named “{}”", name_text(&cert.issuer));
        for anchor in self.candidates(&cert.issuer) {
            match sig::verify(&anchor.cert.key, &cert.signature_algorithm, None, &cert.tbs, &cert.signature, allow) {
                Ok(alg) => return Ok((anchor, alg)),
                Err(e) => why = format!("the signature by CSCA {}: {e}", &anchor.id[..16]),
            }
        }
        Err(why)
    }

    /// [`TrustStore::issuer_of`] for a Document Signer, remembered.
    pub fn issuer_of_ds(&self, ds: &Certificate, allow: &Allow) -> Result<(&Anchor, String), String> {
        // Keyed by the certificate and the allow-list it was verified under.
        let mut hasher = sha2::Sha256::new();
        hasher.update(&ds.der);
        hasher.update(format!("{allow:?}").as_bytes());
        let key = hasher.finalize().to_vec();
        let known = self.verified_ds.lock().ok().and_then(|m| m.get(&key).cloned());
        if let Some((id, alg)) = known
            && let Some(anchor) = self.anchors.iter().find(|a| a.id == id)
        {
            return Ok((anchor, alg));
        }
        let (anchor, alg) = self.issuer_of(ds, allow)?;
        if let Ok(mut m) = self.verified_ds.lock() {
            if m.len() >= VERIFIED_DS_MAX {
                m.clear();
            }
            m.insert(key, (anchor.id.clone(), alg.clone()));
        }
        Ok((anchor, alg))
    }

    /// The newest CRL of an anchor.
    pub fn crl_of(&self, anchor_id: &str) -> Option<&Crl> {
        self.crls.iter().filter(|(a, _)| a == anchor_id).map(|(_, c)| c).max_by_key(|c| c.this_update)
    }
}

/// What a certificate would be as an anchor: `csca` (self-signed, its signature verifies) or
/// `link` (signed by an anchor already trusted).
pub fn anchor_kind(cert: &Certificate, store: &TrustStore, allow: &Allow) -> Result<&'static str, TrustError> {
    if cert.ca != Some(true) {
        return Err(TrustError::NotCa("basicConstraints does not say cA".into()));
    }
    if cert.key_usage.is_some_and(|u| u & KEY_USAGE_KEY_CERT_SIGN == 0) {
        return Err(TrustError::NotCa("keyUsage lacks keyCertSign".into()));
    }
    if let Some(ext) = cert.unknown_critical.first() {
        return Err(TrustError::NotCa(format!("an unknown critical extension {ext}")));
    }
    if cert.issuer == cert.subject {
        sig::verify(&cert.key, &cert.signature_algorithm, None, &cert.tbs, &cert.signature, allow)
            .map_err(|e| TrustError::SelfSignature(e.to_string()))?;
        return Ok("csca");
    }
    store.issuer_of(cert, allow).map_err(TrustError::NoTrustedIssuer)?;
    Ok("link")
}

/// A listed certificate left out: its id and why.
pub type Skipped = (String, String);

/// The CSCAs a master list carries, once its signature and its signer's chain are verified:
/// the certificates to add as anchors, and those left out.
pub fn verify_master_list(
    bytes: &[u8],
    store: &TrustStore,
    allow: &Allow,
) -> Result<(Vec<Certificate>, Vec<Skipped>), TrustError> {
    let refuse = |m: String| TrustError::MasterList(m);
    let (signed, listed) = parse_master_list(bytes).map_err(|e| refuse(e.to_string()))?;
    let signers: Vec<Certificate> = signed.certificates.iter().filter_map(|c| parse_certificate(c).ok()).collect();
    let signer = signers
        .iter()
        .find(|c| match &signed.signer {
            SignerId::IssuerSerial(issuer, serial) => &c.issuer == issuer && &c.serial == serial,
            SignerId::SubjectKeyId(id) => c.subject_key_id.as_ref() == Some(id),
        })
        .ok_or_else(|| refuse("its signer's certificate is not in it".into()))?;
    if !signer.ext_key_usage.iter().any(|u| u == "2.23.136.1.1.3") {
        return Err(refuse(
            "the signer's certificate is not for master lists (extended key usage 2.23.136.1.1.3)".into(),
        ));
    }
    store
        .issuer_of(signer, allow)
        .map_err(|why| refuse(format!("its signer does not chain to a trusted CSCA: {why}")))?;
    let digest_alg =
        Hash::from_oid(&signed.signer_digest_algorithm).ok_or_else(|| refuse("an unknown digest algorithm".into()))?;
    if signed.content_type.as_deref() != Some("2.23.136.1.1.2")
        || signed.message_digest.as_deref() != Some(digest_alg.digest(&signed.econtent).as_slice())
    {
        return Err(refuse("its signed attributes do not match its content".into()));
    }
    sig::verify(
        &signer.key,
        &signed.signature_algorithm,
        Some(&signed.signer_digest_algorithm),
        &signed.signed_attributes,
        &signed.signature,
        allow,
    )
    .map_err(|e| refuse(format!("its signature: {e}")))?;
    let mut add = Vec::new();
    let mut skipped = Vec::new();
    for der in listed {
        let id = fingerprint(&der);
        match parse_certificate(&der) {
            Ok(cert) if cert.issuer == cert.subject => match anchor_kind(&cert, store, allow) {
                Ok(_) => add.push(cert),
                Err(e) => skipped.push((id, e.to_string())),
            },
            // Link certificates in a master list are taken when a listed or trusted CSCA signed them.
            Ok(cert) => skipped.push((id, format!("not self-signed (issuer “{}”)", name_text(&cert.issuer)))),
            Err(e) => skipped.push((id, e.to_string())),
        }
    }
    Ok((add, skipped))
}

/// One row of `civitas trust list` and `/api/v1/cards/trust`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AnchorRow {
    pub id: String,
    pub subject: String,
    pub country: Option<String>,
    pub kind: String,
    pub not_before: String,
    pub not_after: String,
    pub source: String,
    pub added_by: String,
    pub added_at: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub added: Vec<AnchorRow>,
    pub already_trusted: Vec<String>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, sqlx::FromRow)]
struct StoredAnchor {
    id: String,
    der: String,
    kind: String,
    source: String,
}

#[derive(Debug, sqlx::FromRow)]
struct StoredCrl {
    anchor_id: String,
    der: String,
}

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// Loads the trust store (anchors not removed, their CRLs).
pub async fn load(db: &Db) -> Result<TrustStore, StoreError> {
    let anchors: Vec<StoredAnchor> = dispatch!(db, pool => sqlx::query_as(
        "SELECT id, der, kind, source FROM trust_anchors WHERE removed_at IS NULL ORDER BY added_at, id")
        .fetch_all(pool).await)?;
    let crls: Vec<StoredCrl> = dispatch!(db, pool => sqlx::query_as(
        "SELECT anchor_id, der FROM trust_crls ORDER BY this_update")
        .fetch_all(pool).await)?;
    let decode = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).ok();
    let mut store = TrustStore::default();
    for a in anchors {
        // A row that no longer parses is left out (and so trusts nothing).
        if let Some(cert) = decode(&a.der).and_then(|d| parse_certificate(&d).ok()) {
            store.anchors.push(Anchor { id: a.id, cert, kind: a.kind, source: a.source });
        }
    }
    for c in crls {
        if let Some(crl) = decode(&c.der).and_then(|d| parse_crl(&d).ok()) {
            store.crls.push((c.anchor_id, crl));
        }
    }
    Ok(store)
}

/// A trust store kept by a server between requests, reloaded when the anchors or CRLs change
/// (any server may change them: the version is read from the database on each use).
#[derive(Debug, Default)]
pub struct Cached {
    inner: tokio::sync::RwLock<Option<(String, std::sync::Arc<TrustStore>)>>,
}

impl Cached {
    pub async fn get(&self, db: &Db) -> Result<std::sync::Arc<TrustStore>, StoreError> {
        let version: (i64, Option<String>, i64, Option<String>) = dispatch!(db, pool => sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM trust_anchors WHERE removed_at IS NULL), \
                    (SELECT MAX(added_at) FROM trust_anchors), \
                    (SELECT COUNT(*) FROM trust_crls), (SELECT MAX(added_at) FROM trust_crls)")
            .fetch_one(pool).await)?;
        let version = format!("{version:?}");
        if let Some((v, store)) = self.inner.read().await.as_ref()
            && *v == version
        {
            return Ok(store.clone());
        }
        let store = std::sync::Arc::new(load(db).await?);
        *self.inner.write().await = Some((version, store.clone()));
        Ok(store)
    }
}

fn ts(t: time::OffsetDateTime) -> String {
    civitas_store::timestamp(t)
}

fn row_of(cert: &Certificate, kind: &str, source: &str, by: &str, at: &str) -> AnchorRow {
    AnchorRow {
        id: fingerprint(&cert.der),
        subject: name_text(&cert.subject),
        country: name_country(&cert.subject),
        kind: kind.to_owned(),
        not_before: ts(cert.not_before),
        not_after: ts(cert.not_after),
        source: source.to_owned(),
        added_by: by.to_owned(),
        added_at: at.to_owned(),
    }
}

fn anchor_writes(row: &AnchorRow, der: &[u8]) -> (Write, Vec<u8>) {
    let write = Write::new(
        "INSERT INTO trust_anchors (id, subject, country, kind, not_before, not_after, source, der, added_by, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
        vec![
            row.id.clone().into(),
            row.subject.clone().into(),
            civitas_store::unit::Value::Text(row.country.clone()),
            row.kind.clone().into(),
            row.not_before.clone().into(),
            row.not_after.clone().into(),
            row.source.clone().into(),
            b64(der).into(),
            row.added_by.clone().into(),
            row.added_at.clone().into(),
        ],
    );
    let entry = serde_json::to_vec(&serde_json::json!({"kind": "trust", "action": "csca-added", "anchor": row}))
        .unwrap_or_default();
    (write, entry)
}

/// Trusts the CSCA (or link) certificates of a PEM or DER file.
pub async fn add_csca(
    db: &Db,
    bytes: &[u8],
    allow: &Allow,
    by: &str,
    now: time::OffsetDateTime,
) -> Result<ImportReport, TrustError> {
    let mut store = load(db).await?;
    let at = ts(now);
    let mut report = ImportReport::default();
    let mut writes = Vec::new();
    let mut entries = Vec::new();
    for der in pem_or_der(bytes)? {
        let cert = parse_certificate(&der).map_err(|e| TrustError::Malformed(e.to_string()))?;
        let id = fingerprint(&der);
        if store.anchors.iter().any(|a| a.id == id) {
            report.already_trusted.push(id);
            continue;
        }
        let kind = anchor_kind(&cert, &store, allow)?;
        let row = row_of(&cert, kind, "pinned", by, &at);
        let (w, e) = anchor_writes(&row, &der);
        writes.push(w);
        entries.push(e);
        store.anchors.push(Anchor { id, cert, kind: kind.to_owned(), source: "pinned".into() });
        report.added.push(row);
    }
    commit(db, &writes, &entries).await?;
    Ok(report)
}

async fn commit(db: &Db, writes: &[Write], entries: &[Vec<u8>]) -> Result<(), TrustError> {
    if writes.is_empty() {
        return Ok(());
    }
    civitas_store::unit::commit_logged(db, writes, entries)
        .await?
        .map_err(|what| TrustError::Store(StoreError::Corrupt(what.into())))
}

/// Trusts the CSCAs of an ICAO master list whose signature verifies and whose signer chains
/// to a CSCA already trusted.
pub async fn import_master_list(
    db: &Db,
    bytes: &[u8],
    allow: &Allow,
    by: &str,
    now: time::OffsetDateTime,
) -> Result<ImportReport, TrustError> {
    let store = load(db).await?;
    let (certs, skipped) = verify_master_list(bytes, &store, allow)?;
    let source = format!("master-list:{}", &fingerprint(bytes)[..16]);
    let at = ts(now);
    let mut report = ImportReport { skipped, ..ImportReport::default() };
    let mut writes = Vec::new();
    let mut entries = Vec::new();
    for cert in certs {
        let id = fingerprint(&cert.der);
        if store.anchors.iter().any(|a| a.id == id) || report.added.iter().any(|r| r.id == id) {
            report.already_trusted.push(id);
            continue;
        }
        let row = row_of(&cert, "csca", &source, by, &at);
        let (w, e) = anchor_writes(&row, &cert.der);
        writes.push(w);
        entries.push(e);
        report.added.push(row);
    }
    commit(db, &writes, &entries).await?;
    Ok(report)
}

/// A CRL as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct CrlRow {
    pub id: String,
    pub anchor_id: String,
    pub issuer: String,
    pub this_update: String,
    pub next_update: Option<String>,
    pub revoked: usize,
}

/// Records a CRL whose signature one trusted CSCA verifies.
pub async fn import_crl(
    db: &Db,
    bytes: &[u8],
    allow: &Allow,
    by: &str,
    now: time::OffsetDateTime,
) -> Result<CrlRow, TrustError> {
    let der = pem_or_der(bytes)?.into_iter().next().ok_or_else(|| TrustError::Crl("an empty file".into()))?;
    let crl = parse_crl(&der).map_err(|e| TrustError::Crl(e.to_string()))?;
    let store = load(db).await?;
    let anchor = store
        .candidates(&crl.issuer)
        .find(|a| sig::verify(&a.cert.key, &crl.signature_algorithm, None, &crl.tbs, &crl.signature, allow).is_ok())
        .ok_or_else(|| TrustError::Crl(format!("no trusted CSCA named “{}” signed it", name_text(&crl.issuer))))?;
    let row = CrlRow {
        id: fingerprint(&der),
        anchor_id: anchor.id.clone(),
        issuer: name_text(&crl.issuer),
        this_update: ts(crl.this_update),
        next_update: crl.next_update.map(ts),
        revoked: crl.revoked.len(),
    };
    let write = Write::new(
        "INSERT INTO trust_crls (id, anchor_id, this_update, next_update, der, added_by, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        vec![
            row.id.clone().into(),
            row.anchor_id.clone().into(),
            row.this_update.clone().into(),
            civitas_store::unit::Value::Text(row.next_update.clone()),
            b64(&der).into(),
            by.into(),
            ts(now).into(),
        ],
    );
    let entry = serde_json::to_vec(&serde_json::json!({"kind": "trust", "action": "crl-added", "by": by, "crl": row}))
        .unwrap_or_default();
    commit(db, &[write], &[entry]).await?;
    Ok(row)
}

/// Every anchor in force, oldest first.
pub async fn list(db: &Db) -> Result<Vec<AnchorRow>, StoreError> {
    Ok(dispatch!(db, pool => sqlx::query_as::<_, AnchorRow>(
        "SELECT id, subject, country, kind, not_before, not_after, source, added_by, added_at \
         FROM trust_anchors WHERE removed_at IS NULL ORDER BY added_at, id")
        .fetch_all(pool).await)?)
}
