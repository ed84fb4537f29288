//! Issuing a civil-status certificate: the essential fields of a registered record, read from
//! the register, signed as a compact JWS (the QR's payload) and rendered as a PDF. Signing and
//! rendering are ports ([`Signer`], [`Renderer`]) that the server wires to its key ring and its
//! PDF writer; this module knows neither.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use civitas_registry::{Person, Register};
use civitas_store::unit::Write;

use crate::certificates;
use crate::civil::Record;

/// What a certificate's QR says, signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertClaims {
    pub iss: String,
    /// The certificate id (its status is at `/verify`).
    pub id: String,
    /// birth, marriage or death.
    pub typ: String,
    /// Registration number (per commune and year).
    pub no: String,
    /// Registering commune code.
    pub reg: String,
    pub iat: i64,
    /// The essential fields, short keys (see [`field_label`]).
    pub f: BTreeMap<String, String>,
}

/// Signs a payload as a compact JWS with the server's key (header `typ` = `typ`).
pub trait Signer: Send + Sync {
    fn sign(&self, typ: &str, claims: &CertClaims) -> String;
}

/// Any signing function is a signer (the server's: its key ring's current key).
impl<F: Fn(&str, &CertClaims) -> String + Send + Sync> Signer for F {
    fn sign(&self, typ: &str, claims: &CertClaims) -> String {
        self(typ, claims)
    }
}

/// Renders a certificate as a PDF from its claims and the JWS its QR carries.
pub trait Renderer: Send + Sync {
    fn certificate(&self, claims: &CertClaims, jws: &str) -> Result<Vec<u8>, String>;
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("a person the record names is missing from the register")]
    MissingPerson,
    #[error("the certificate could not be rendered: {0}")]
    Render(String),
    #[error("reading the register failed")]
    Register(#[from] civitas_registry::RegisterError),
}

/// The printed label of a field key.
pub fn field_label(key: &str) -> &'static str {
    match key {
        "pid" => "Số định danh cá nhân",
        "n" => "Họ, chữ đệm, tên",
        "d" => "Ngày sinh",
        "s" => "Giới tính",
        "p" => "Nơi sinh",
        "m" => "Họ tên mẹ",
        "fa" => "Họ tên cha",
        "a" => "Bên thứ nhất",
        "b" => "Bên thứ hai",
        "md" => "Ngày đăng ký kết hôn",
        "dd" => "Ngày chết",
        "dp" => "Nơi đăng ký khai tử",
        // A result's signed claims (`codes::Coded::claims`).
        "sha256" => "Mã băm SHA-256 của văn bản",
        "dossier" => "Mã hồ sơ",
        "owner" => "Số định danh của chủ giấy tờ",
        "result" => "Mã kết quả",
        "number" => "Số, ký hiệu",
        _ => "Thông tin",
    }
}

/// The printed title of a kind of certificate.
pub fn title(kind: &str) -> &'static str {
    match kind {
        "birth" => "GIẤY KHAI SINH",
        "marriage" => "GIẤY CHỨNG NHẬN KẾT HÔN",
        "death" => "TRÍCH LỤC KHAI TỬ",
        "result" => "KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH",
        _ => "GIẤY CHỨNG NHẬN HỘ TỊCH",
    }
}

fn vn(date: &str) -> String {
    crate::dossiers::parse_day(date).map(crate::dossiers::vn_day).unwrap_or_else(|_| date.to_owned())
}

async fn person(register: &Register, pid: Option<&str>) -> Result<Option<Person>, IssueError> {
    let Some(pid) = pid.and_then(|p| p.parse::<civitas_core::Pid>().ok()) else { return Ok(None) };
    Ok(register.get(&pid).await?)
}

/// The essential fields of a record, from the register.
pub async fn fields_of(register: &Register, record: &Record) -> Result<BTreeMap<String, String>, IssueError> {
    let mut f = BTreeMap::new();
    let data: serde_json::Value = serde_json::from_str(&record.data).unwrap_or_default();
    let named = |p: Option<Person>| p.ok_or(IssueError::MissingPerson);
    match record.kind.as_str() {
        "birth" => {
            let child = named(person(register, Some(&record.subject_pid)).await?)?;
            f.insert("pid".into(), child.pid.as_str().to_owned());
            f.insert("n".into(), child.full_name.clone());
            f.insert("d".into(), vn(&record.event_date));
            f.insert("s".into(), child.sex.label("vi").to_owned());
            f.insert("p".into(), child.birth_registration_place.clone().unwrap_or_default());
            if let Some(m) = person(register, data["mother"].as_str()).await? {
                f.insert("m".into(), m.full_name);
            }
            if let Some(fa) = person(register, data["father"].as_str()).await? {
                f.insert("fa".into(), fa.full_name);
            }
        }
        "marriage" => {
            let a = named(person(register, Some(&record.subject_pid)).await?)?;
            let b = named(person(register, record.other_pid.as_deref()).await?)?;
            f.insert("a".into(), format!("{} ({})", a.full_name, record.subject_pid));
            f.insert("b".into(), format!("{} ({})", b.full_name, record.other_pid.clone().unwrap_or_default()));
            f.insert("md".into(), vn(&record.registered_on));
        }
        _ => {
            let dead = named(person(register, Some(&record.subject_pid)).await?)?;
            f.insert("pid".into(), record.subject_pid.clone());
            f.insert("n".into(), dead.full_name);
            f.insert("dd".into(), vn(&record.event_date));
            let place =
                civitas_core::AdminUnits::get().commune(&record.unit_code).map(|c| c.name.clone()).unwrap_or_default();
            f.insert("dp".into(), place);
        }
    }
    Ok(f)
}

/// A signed certificate ready to be stored: its id, JWS, PDF and the write of its row.
pub struct Issued {
    pub id: String,
    pub jws: String,
    pub pdf: Vec<u8>,
    pub write: Write,
}

/// Signs a new certificate of `record` with `fields` (the register's, or corrected ones).
pub fn sign(
    issuer: &str,
    signer: &dyn Signer,
    renderer: &dyn Renderer,
    record: &Record,
    fields: BTreeMap<String, String>,
    now: time::OffsetDateTime,
) -> Result<Issued, IssueError> {
    let id = crate::documents::new_id();
    let claims = CertClaims {
        iss: issuer.to_owned(),
        id: id.clone(),
        typ: record.kind.clone(),
        no: record.registration_number.clone(),
        reg: record.unit_code.clone(),
        iat: now.unix_timestamp(),
        f: fields,
    };
    let jws = signer.sign("civitas-certificate+jwt", &claims);
    let pdf = renderer.certificate(&claims, &jws).map_err(IssueError::Render)?;
    let write = certificates::insert(&id, record, &jws, None, &civitas_store::timestamp(now));
    Ok(Issued { id, jws, pdf, write })
}

/// Signs a new certificate of `record` from the register.
pub async fn issue(
    register: &Register,
    issuer: &str,
    signer: &dyn Signer,
    renderer: &dyn Renderer,
    record: &Record,
    now: time::OffsetDateTime,
) -> Result<Issued, IssueError> {
    let fields = fields_of(register, record).await?;
    sign(issuer, signer, renderer, record, fields, now)
}
