//! The printed papers of the one-stop shop as PDFs: the receipt and appointment slip (form 01),
//! the apology with a new date (form 04), a generic result document, and civil-status
//! certificates. Slips carry the QR of Circular 01/2023: dossier code, procedure code, applicant
//! ID, document name, source system, issue time (and, on slips, the appointment date), as
//! `key=value` pairs joined by `|`; certificates carry their signed payload (a compact JWS).
//!
//! [`Office`] is the renderer the processing use case is given ([`ResultRenderer`],
//! [`Renderer`]): the receiving body's code, the public base URL and the catalogue.

use civitas_docs::{Block, DocError, Document};

use crate::catalogue::{Catalogue, Procedure};
use crate::certificate_issue::{CertClaims, Renderer, field_label, title};
use crate::dossiers::{Dossier, parse_day, vn_day};
use crate::processing::ResultRenderer;

/// The office whose papers these are.
#[derive(Clone, Copy)]
pub struct Office<'a> {
    /// Identity code of the receiving body (QCVN 102).
    pub body_code: &'a str,
    /// The public base URL (where `/status` and `/verify` are).
    pub issuer: &'a str,
    pub catalogue: &'a Catalogue,
}

impl ResultRenderer for Office<'_> {
    fn result(
        &self,
        d: &Dossier,
        procedure: &Procedure,
        officer: &str,
        now: time::OffsetDateTime,
    ) -> Result<Vec<u8>, String> {
        result(self, d, procedure, officer, now).map_err(|e| e.to_string())
    }
}

impl Renderer for Office<'_> {
    fn certificate(&self, claims: &CertClaims, jws: &str) -> Result<Vec<u8>, String> {
        certificate(claims, jws).map_err(|e| e.to_string())
    }
}

const SYSTEM: &str = "civitas";

fn day_text(s: &str) -> String {
    parse_day(s).map(vn_day).unwrap_or_else(|_| s.to_owned())
}

/// The QR payload of a printed document.
pub fn qr_payload(d: &Dossier, document: &str, issued_at: &str, appointment: Option<&str>) -> String {
    let mut parts = vec![
        format!("MHS={}", d.code),
        format!("MTTHC={}", d.procedure_code),
        format!("CD={}", d.applicant_pid),
        format!("TGT={document}"),
        format!("HT={SYSTEM}"),
        format!("TG={issued_at}"),
    ];
    if let Some(a) = appointment {
        parts.push(format!("HEN={a}"));
    }
    parts.join("|")
}

fn header(office: &Office<'_>, d: &Dossier) -> Vec<Block> {
    let unit = civitas_core::AdminUnits::get();
    let unit_name = unit
        .commune(&d.unit_code)
        .map(|c| format!("UBND {}", c.name))
        .or_else(|| unit.province(&d.unit_code).map(|p| format!("Tỉnh/Thành phố {}", p.name)))
        .unwrap_or_default();
    vec![
        Block::Centered("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM".into()),
        Block::Centered("Độc lập - Tự do - Hạnh phúc".into()),
        Block::Gap(6.0),
        Block::Centered(format!("Bộ phận Một cửa — {unit_name} (mã {})", office.body_code)),
        Block::Gap(10.0),
    ]
}

fn render(doc: Document) -> Result<Vec<u8>, DocError> {
    civitas_docs::render(&doc)
}

fn procedure_name(office: &Office<'_>, d: &Dossier) -> String {
    office.catalogue.get(&d.procedure_code).map(|p| p.name_vi.clone()).unwrap_or_else(|| d.procedure_code.clone())
}

/// Form 01: receipt and appointment slip.
pub fn receipt(office: &Office<'_>, d: &Dossier) -> Result<Vec<u8>, DocError> {
    let title = "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ";
    let mut blocks = header(office, d);
    blocks.push(Block::Title(title.into()));
    blocks.push(Block::Centered(format!("Mã hồ sơ: {}", d.code)));
    blocks.push(Block::Gap(8.0));
    blocks.push(Block::Field("Tiếp nhận hồ sơ của".into(), d.applicant_name.clone()));
    blocks.push(Block::Field("Số định danh cá nhân".into(), d.applicant_pid.clone()));
    blocks.push(Block::Field("Thủ tục".into(), format!("{} ({})", procedure_name(office, d), d.procedure_code)));
    blocks.push(Block::Field("Hình thức nộp".into(), channel_vi(&d.channel).into()));
    blocks.push(Block::Field("Thời điểm tiếp nhận".into(), d.received_at.clone()));
    if let Some(p) = office.catalogue.get(&d.procedure_code) {
        blocks.push(Block::Text("Thành phần hồ sơ:".into()));
        for c in &p.components {
            let how = match c.replaced_by.as_deref() {
                Some("register") => "khai thác từ Cơ sở dữ liệu quốc gia về dân cư".to_owned(),
                Some("form") => "tờ khai điện tử".to_owned(),
                _ if d.data["components"].get(&c.code).is_some() => "đã nộp bản điện tử".to_owned(),
                _ => "chưa nộp".to_owned(),
            };
            blocks.push(Block::Text(format!("– {}: {how}", c.name_vi)));
        }
    }
    blocks.push(Block::Gap(6.0));
    blocks.push(Block::Field("Thời hạn giải quyết".into(), format!("{} ngày làm việc", d.statutory_days)));
    blocks.push(Block::Field("Ngày hẹn trả kết quả".into(), day_text(&d.appointment_on)));
    blocks.push(Block::Gap(6.0));
    blocks.push(Block::Text(format!(
        "Tra cứu tình trạng hồ sơ bằng mã hồ sơ và 4 số cuối của số định danh tại {}/status.",
        office.issuer
    )));
    render(Document {
        title: title.into(),
        blocks,
        qr: Some(qr_payload(d, "Giấy tiếp nhận hồ sơ và hẹn trả kết quả", &d.received_at, Some(&d.appointment_on))),
        footer: format!("{SYSTEM} · {} · Mẫu số 01", d.code),
        subject: None,
    })
}

/// Form 04: apology for the delay, with the new date.
pub fn apology(office: &Office<'_>, d: &Dossier) -> Result<Vec<u8>, DocError> {
    let title = "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ";
    let new_date = d.apology_on.clone().unwrap_or_default();
    let mut blocks = header(office, d);
    blocks.push(Block::Title(title.into()));
    blocks.push(Block::Centered(format!("Mã hồ sơ: {}", d.code)));
    blocks.push(Block::Gap(8.0));
    blocks.push(Block::Field("Kính gửi".into(), format!("Ông/Bà {}", d.applicant_name)));
    blocks.push(Block::Text(format!(
        "Ngày {}, Bộ phận Một cửa tiếp nhận hồ sơ {} của Ông/Bà, hẹn trả kết quả ngày {}. Hồ sơ chưa được giải quyết đúng hẹn.",
        day_text(&d.received_on),
        procedure_name(office, d),
        day_text(&d.appointment_on)
    )));
    blocks.push(Block::Field("Lý do".into(), d.apology_reason.clone().unwrap_or_default()));
    blocks.push(Block::Text("Chúng tôi thành thật xin lỗi Ông/Bà vì sự chậm trễ này.".into()));
    blocks.push(Block::Field("Ngày hẹn trả kết quả mới".into(), day_text(&new_date)));
    render(Document {
        title: title.into(),
        blocks,
        qr: Some(qr_payload(d, "Phiếu xin lỗi và hẹn lại ngày trả kết quả", &d.received_at, Some(&new_date))),
        footer: format!("{SYSTEM} · {} · Mẫu số 04", d.code),
        subject: None,
    })
}

/// A generic result document: the decision on the dossier, for the citizen's document store.
pub fn result(
    office: &Office<'_>,
    d: &Dossier,
    p: &Procedure,
    officer: &str,
    now: time::OffsetDateTime,
) -> Result<Vec<u8>, DocError> {
    let title = "KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH".to_owned();
    let issued = civitas_store::timestamp(now);
    let mut blocks = header(office, d);
    blocks.push(Block::Title(title.clone()));
    blocks.push(Block::Centered(p.name_vi.clone()));
    blocks.push(Block::Gap(8.0));
    blocks.push(Block::Field("Mã hồ sơ".into(), d.code.clone()));
    blocks.push(Block::Field("Người yêu cầu".into(), d.applicant_name.clone()));
    blocks.push(Block::Field("Số định danh cá nhân".into(), d.applicant_pid.clone()));
    if let Some(fields) = d.data["fields"].as_object() {
        for f in &p.fields {
            if let Some(v) = fields.get(&f.name).and_then(|v| v.as_str()) {
                blocks.push(Block::Field(f.label_vi.clone(), v.to_owned()));
            }
        }
    }
    blocks.push(Block::Text("Hồ sơ đã được giải quyết và chấp thuận theo quy định.".into()));
    blocks.push(Block::Field("Cán bộ ký".into(), officer.to_owned()));
    blocks.push(Block::Field("Thời điểm ban hành".into(), issued.clone()));
    render(Document {
        title,
        blocks,
        qr: Some(qr_payload(d, &format!("Kết quả {}", p.name_vi), &issued, None)),
        footer: format!("{SYSTEM} · {}", d.code),
        subject: None,
    })
}

fn channel_vi(c: &str) -> &'static str {
    match c {
        "online" => "Trực tuyến",
        "counter" => "Trực tiếp tại Bộ phận Một cửa",
        "postal" => "Qua dịch vụ bưu chính",
        _ => "Khác",
    }
}

/// The PDF of a certificate, from its signed payload (so the paper shows what the QR says).
pub fn certificate(claims: &CertClaims, jws: &str) -> Result<Vec<u8>, DocError> {
    let units = civitas_core::AdminUnits::get();
    let authority = units.commune(&claims.reg).map(|c| format!("UBND {}", c.name)).unwrap_or_default();
    let mut blocks = vec![
        Block::Centered("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM".into()),
        Block::Centered("Độc lập - Tự do - Hạnh phúc".into()),
        Block::Gap(8.0),
        Block::Centered(authority),
        Block::Gap(8.0),
        Block::Title(title(&claims.typ).into()),
        Block::Centered(format!("Số: {}", claims.no)),
        Block::Gap(8.0),
    ];
    for (k, v) in &claims.f {
        blocks.push(Block::Field(field_label(k).into(), v.clone()));
    }
    blocks.push(Block::Gap(8.0));
    blocks.push(Block::Text(format!(
        "Mã chứng nhận: {}. Kiểm tra tính hợp lệ: quét mã QR hoặc nhập mã tại trang /verify của hệ thống.",
        claims.id
    )));
    civitas_docs::render(&Document {
        title: title(&claims.typ).into(),
        blocks,
        qr: Some(jws.to_owned()),
        footer: format!("civitas · {} · {}", title(&claims.typ), claims.no),
        subject: Some(jws.to_owned()),
    })
}
