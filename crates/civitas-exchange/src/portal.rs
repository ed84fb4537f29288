//! The outbound adapter to the National Public Service Portal (issue #18): the facts queued by
//! `civitas_services::portal` rendered in the portal's wire format (`DongBoHoSoMC` for the
//! dossier, `CapNhatTienDoHoSoMC` for progress; dates `yyyyMMddHHmmss` in Vietnam time; the
//! status code from a configurable mapping of civitas's states), sent with an access token
//! (client credentials), a dossier's messages in order, retried with back-off; a message the
//! portal refuses is isolated from its batch and dead-lettered.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use civitas_services::catalogue::Catalogue;
use civitas_services::portal::{self, Message, Outcome, StepFact};
use civitas_services::workflow::State;
use civitas_store::Db;

/// Attempts before a message becomes a dead letter (1 s doubling to an hour: about a day).
pub const MAX_ATTEMPTS: i64 = 30;
/// Dossiers per call.
const PER_CALL: usize = 100;

/// The portal's status code (`TrangThaiHoSo`, 1–10) of each civitas state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMap(BTreeMap<String, u8>);

/// States whose dossier has been decided: the only ones that may be reported as processed
/// (9) or returned (10).
const DECIDED: [State; 3] = [State::ResultIssued, State::Returned, State::Refused];

const ALL: [State; 10] = [
    State::Received,
    State::InProcessing,
    State::SupplementRequested,
    State::Approved,
    State::Refused,
    State::ResultIssued,
    State::Returned,
    State::RejectedAtReceipt,
    State::Withdrawn,
    State::Lapsed,
];

impl Default for StatusMap {
    /// received 2, in processing 4, supplement requested 5, approved (result not yet issued) 4,
    /// refused 9 (decided, with `NgayTuChoi`), result issued 9, returned 10, rejected at
    /// receipt 3, withdrawn 7, lapsed (documents not supplied) 8.
    fn default() -> Self {
        let pairs = [
            (State::Received, 2),
            (State::InProcessing, 4),
            (State::SupplementRequested, 5),
            (State::Approved, 4),
            (State::Refused, 9),
            (State::ResultIssued, 9),
            (State::Returned, 10),
            (State::RejectedAtReceipt, 3),
            (State::Withdrawn, 7),
            (State::Lapsed, 8),
        ];
        StatusMap(pairs.into_iter().map(|(s, c)| (civitas_services::dossiers::name_of(s), c)).collect())
    }
}

impl StatusMap {
    /// The default mapping with the operator's changes (configuration `portal_status`, state
    /// name → code). Refuses unknown states, codes outside 1–10, and reporting a dossier that
    /// was not decided as processed or returned (9, 10).
    pub fn with_overrides(overrides: &BTreeMap<String, u8>) -> Result<StatusMap, String> {
        let mut map = StatusMap::default();
        for (state, code) in overrides {
            let Some(known) = ALL.iter().find(|s| civitas_services::dossiers::name_of(**s) == *state) else {
                let names: Vec<String> = ALL.iter().map(|s| civitas_services::dossiers::name_of(*s)).collect();
                return Err(format!("portal_status: {state:?} is not a dossier state (one of {})", names.join(", ")));
            };
            if !(1..=10).contains(code) {
                return Err(format!("portal_status: {state} = {code}: the portal's status codes are 1–10"));
            }
            if matches!(code, 9 | 10) && !DECIDED.contains(known) {
                return Err(format!(
                    "portal_status: {state} = {code} would report a dossier as processed that is not (only result_issued, returned and refused may be 9 or 10)"
                ));
            }
            map.0.insert(state.clone(), *code);
        }
        Ok(map)
    }

    pub fn code(&self, state: &str) -> Option<u8> {
        self.0.get(state).copied()
    }
}

/// Where and how to reach the portal.
#[derive(Debug, Clone)]
pub struct Link {
    /// The portal's base URL: `{url}/token` gives the access token, `{url}/api` takes the calls.
    pub url: reqwest::Url,
    pub client_id: String,
    pub client_secret: String,
    pub status: StatusMap,
    /// The procedure catalogue (national procedure codes, names, fees).
    pub catalogue: Arc<Catalogue>,
    /// This server's public base URL: a result's link is its `/verify` page.
    pub public_url: String,
}

/// The dossier facts the adapter reads (a subset of `civitas_services::dossiers::Dossier`).
#[derive(Debug, Deserialize)]
struct DossierIn {
    code: String,
    procedure_code: String,
    body_code: String,
    unit_code: String,
    applicant_pid: String,
    applicant_name: String,
    channel: String,
    state: String,
    #[serde(default)]
    data: Value,
    received_at: String,
    appointment_on: String,
    result_document: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DossierFactsIn {
    creating: bool,
    dossier: DossierIn,
    steps: Vec<StepFact>,
}

#[derive(Debug, Deserialize)]
struct ProgressFactsIn {
    step: StepFact,
    body_code: String,
    appointment_on: String,
}

/// `yyyyMMddHHmmss` in Vietnam time of a stored RFC 3339 instant.
pub fn portal_time(rfc3339: &str) -> Result<String, String> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("stored time {rfc3339:?} is not RFC 3339"))?;
    let local = t.to_offset(time::UtcOffset::from_hms(7, 0, 0).map_err(|e| e.to_string())?);
    Ok(format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        local.year(),
        local.month() as u8,
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    ))
}

/// `yyyyMMdd170000` of a stored day: an appointment is due by the end of that working day.
fn portal_day_end(day: &str) -> String {
    format!("{}170000", day.replace('-', ""))
}

fn sector_name(agency: &str) -> &'static str {
    match agency {
        "police" => "Công an",
        "justice" => "Tư pháp - Hộ tịch",
        "social-insurance" => "Bảo hiểm xã hội",
        "natural-resources" => "Đất đai",
        "transport" => "Giao thông vận tải",
        "education" => "Giáo dục",
        "labour" => "Lao động - Thương binh và Xã hội",
        "power" => "Điện lực",
        _ => "Khác",
    }
}

fn action_text(action: &str) -> &'static str {
    match action {
        "receive" => "Tiếp nhận hồ sơ",
        "start_processing" => "Chuyển xử lý",
        "forward" => "Chuyển bước xử lý tiếp theo",
        "request_supplement" => "Yêu cầu bổ sung hồ sơ",
        "supplement" => "Bổ sung hồ sơ",
        "lapse_supplement" => "Quá hạn bổ sung, dừng xử lý",
        "approve" => "Phê duyệt",
        "refuse" => "Từ chối giải quyết",
        "issue_result" => "Ban hành kết quả",
        "return" => "Trả kết quả",
        "reject_at_receipt" => "Không tiếp nhận hồ sơ",
        "withdraw" => "Rút hồ sơ",
        _ => "Xử lý hồ sơ",
    }
}

fn title_of(action: &str) -> &'static str {
    match action {
        "receive" | "start_processing" | "return" | "reject_at_receipt" => "Cán bộ một cửa",
        "forward" | "request_supplement" | "issue_result" => "Chuyên viên",
        "approve" | "refuse" => "Lãnh đạo",
        "supplement" | "withdraw" => "Người nộp hồ sơ",
        _ => "Hệ thống",
    }
}

/// The last time `actions` happened on the control sheet, as a portal time (empty if never).
fn when(steps: &[StepFact], actions: &[&str]) -> Result<String, String> {
    match steps.iter().rev().find(|s| actions.contains(&s.action.as_str())) {
        Some(s) => portal_time(&s.at),
        None => Ok(String::new()),
    }
}

/// A dossier message's `HoSo`, and whether the portal already knows the dossier.
fn render_dossier(link: &Link, facts: &str) -> Result<(bool, Value), String> {
    let f: DossierFactsIn = serde_json::from_str(facts).map_err(|e| format!("unreadable facts: {e}"))?;
    let d = &f.dossier;
    let procedure = link
        .catalogue
        .get(&d.procedure_code)
        .ok_or_else(|| format!("procedure {} is not in the catalogue", d.procedure_code))?;
    if procedure.national_code.trim().is_empty() {
        return Err(format!(
            "procedure {} has no national code (national_code in the procedure catalogue)",
            procedure.code
        ));
    }
    let status = link.status.code(&d.state).ok_or_else(|| format!("state {} has no portal status", d.state))?;
    let channel = match d.channel.as_str() {
        "counter" => 1,
        "online" => 2,
        _ => 3,
    };
    let received = portal_time(&d.received_at)?;
    let empty = serde_json::Map::new();
    let components = d.data.get("components").and_then(Value::as_object).unwrap_or(&empty);
    let replaced = d.data.get("replaced").and_then(Value::as_object).unwrap_or(&empty);
    // How each component came (`codes`, written at intake and with a supplement): digitised
    // now, or reused (a document or result that already had a code).
    let codes = d.data.get("codes").and_then(Value::as_object).unwrap_or(&empty);
    let coded = |component: &str| -> (String, String) {
        let c = codes.get(component);
        let text = |k: &str| c.and_then(|c| c.get(k)).and_then(Value::as_str).unwrap_or_default().to_owned();
        (text("code"), text("how"))
    };
    let mut documents: Vec<Value> = components
        .iter()
        .map(|(component, document)| {
            let (code, how) = coded(component);
            let reused = how == "reused";
            let id = if code.is_empty() { document.as_str().unwrap_or_default().to_owned() } else { code.clone() };
            json!({ "TepDinhKemId": id, "TenTepDinhKem": component,
                "MaThanhPhanHoSo": component, "DuongDanTaiTepTin": "", "DuocSoHoa": i32::from(!reused),
                "DuocTaiSuDung": i32::from(reused), "DuocLayTuKhoDMQG": 0,
                "MaKetQuaThayThe": if reused { code } else { String::new() } })
        })
        .collect();
    for (component, source) in replaced {
        let source = source.as_str().unwrap_or_default();
        let result = source.strip_prefix("result:").unwrap_or_default();
        let (code, _) = coded(component);
        let replacing = if code.is_empty() { result.to_owned() } else { code };
        documents.push(json!({ "TepDinhKemId": "", "TenTepDinhKem": component, "MaThanhPhanHoSo": component,
            "DuongDanTaiTepTin": "", "DuocSoHoa": 0, "DuocTaiSuDung": i32::from(!result.is_empty()),
            "DuocLayTuKhoDMQG": i32::from(source == "register"), "MaKetQuaThayThe": replacing }));
    }
    let result_code = d.data.get("result_code").and_then(Value::as_str).unwrap_or_default();
    let results: Vec<Value> = d
        .result_document
        .iter()
        .map(|id| {
            let link = if result_code.is_empty() {
                String::new()
            } else {
                let mut url = reqwest::Url::parse(&link.public_url).ok();
                if let Some(u) = url.as_mut() {
                    u.set_path("/verify");
                    u.query_pairs_mut().append_pair("payload", result_code);
                }
                url.map(String::from).unwrap_or_default()
            };
            json!({ "TenGiayTo": format!("Kết quả: {}", procedure.name_vi), "MaThanhPhanHoSo": "KQ", "GiayToId": id,
                "DuongDanTepTinKetQua": link, "MaGiayToKetQua": result_code })
        })
        .collect();
    let fees: Vec<Value> = (procedure.fee > 0)
        .then(|| json!({ "TenPhiLePhi": "Lệ phí", "MaPhiLePhi": "LP", "HinhThucThu": 1, "Gia": procedure.fee, "LoaiPhiLePhi": 1 }))
        .into_iter()
        .collect();
    // Each supplement request, with who asked, what, when, how it was answered, and the
    // appointment before the request and after the supplement (field names as the open
    // provincial systems send them).
    let mut supplements = Vec::new();
    for (i, s) in f.steps.iter().enumerate().filter(|(_, s)| s.action == "request_supplement") {
        let answered = f.steps[i + 1..].iter().find(|a| matches!(a.action.as_str(), "supplement" | "lapse_supplement"));
        let before = f.steps[..i].iter().rev().find_map(|p| p.appointment.clone());
        let supplied = answered.filter(|a| a.action == "supplement");
        supplements.push(json!({
            "HoSoBoSungId": format!("{}-BS{}", d.code, supplements.len() + 1),
            "NguoiYeuCauBoSung": s.actor,
            "NoiDungBoSung": s.note.clone().unwrap_or_default(),
            "NgayBoSung": portal_time(&s.at)?,
            "NguoiTiepNhanBoSung": supplied.map(|a| a.actor.clone()).unwrap_or_default(),
            "ThongTinTiepNhan": answered.and_then(|a| a.note.clone()).unwrap_or_default(),
            "NgayTiepNhanBoSung": match supplied { Some(a) => portal_time(&a.at)?, None => String::new() },
            "NgayHenTraTruoc": before.as_deref().map(portal_day_end).unwrap_or_default(),
            "NgayHenTraMoi": supplied.and_then(|a| a.appointment.as_deref()).map(portal_day_end).unwrap_or_default(),
        }));
    }
    let online = d.channel == "online";
    let hoso = json!({
        "MaHoSo": d.code,
        "MaTTHC": procedure.national_code,
        "TenTTHC": procedure.name_vi,
        "MaLinhVuc": procedure.agency,
        "TenLinhVuc": sector_name(&procedure.agency),
        "KenhThucHien": channel,
        "ChuHoSo": d.applicant_name,
        "LoaiDoiTuong": 1,
        "MaDoiTuong": if online { d.applicant_pid.as_str() } else { "" },
        "DinhDanhCHS": [{ "LoaiDinhDanh": 1, "SoDinhDanh": d.applicant_pid }],
        "SoDienThoai": "",
        "Email": "",
        "TrichYeuHoSo": format!("{} - {}", procedure.name_vi, d.applicant_name),
        "NgayNopHoSo": received,
        "NgayTiepNhan": received,
        "NgayHenTra": portal_day_end(&d.appointment_on),
        "NgayTra": when(&f.steps, &["return"])?,
        "NgayKetThucXuLy": when(&f.steps, &["approve", "refuse"])?,
        "NgayTuChoi": when(&f.steps, &["refuse", "reject_at_receipt"])?,
        "TrangThaiHoSo": status,
        "HinhThuc": i32::from(d.data.get("delivery").and_then(Value::as_str) == Some("post")),
        "DonViXuLy": d.unit_code,
        "GhiChu": f.steps.last().and_then(|s| s.note.clone()).unwrap_or_default(),
        "HoSoCoThanhPhanSoHoa": i32::from(
            components.keys().any(|c| coded(c).1 != "reused")
        ),
        "TaiKhoanDuocXacThucVoiVNeID": i32::from(online),
        "DuocThanhToanTrucTuyen": 0,
        "DSKetNoiCSDL": if replaced.values().any(|v| v == "register") { json!([{ "MaCSDL": "CSDLQGVDC" }]) } else { json!([]) },
        "TaiLieuNop": documents,
        "DanhSachGiayToKetQua": results,
        "DanhSachLePhi": fees,
        "DanhSachHoSoBoSung": supplements,
        "MaCoQuanTiepNhan": d.body_code,
    });
    Ok((!f.creating, hoso))
}

/// A progress message's step.
fn render_progress(link: &Link, code: &str, facts: &str) -> Result<Value, String> {
    let f: ProgressFactsIn = serde_json::from_str(facts).map_err(|e| format!("unreadable facts: {e}"))?;
    let status = link.status.code(&f.step.to).ok_or_else(|| format!("state {} has no portal status", f.step.to))?;
    let at = portal_time(&f.step.at)?;
    let what = action_text(&f.step.action);
    Ok(json!({
        "MaHoSo": code,
        "NguoiXuLy": f.step.actor,
        "ChucDanh": title_of(&f.step.action),
        "ThoiDiemXuLy": at,
        "PhongBanXuLy": f.body_code,
        "NoiDungXuLy": match &f.step.note { Some(n) => format!("{what}: {n}"), None => what.to_owned() },
        "TrangThai": status,
        "NgayBatDau": at,
        "NgayKetThucTheoQuyDinh": portal_day_end(&f.appointment_on),
    }))
}

/// Sends the portal's calls and keeps its access token.
pub struct Sender {
    http: reqwest::Client,
    /// (portal URL and client, token, when it stops being used).
    token: Mutex<Option<(String, String, std::time::Instant)>>,
}

enum Answer {
    Accepted(String),
    /// The portal refused the call (its `error_code` and message): the content is wrong.
    Refused(String),
    /// No answer, a server error, throttling: try again later.
    Failed(String),
}

impl Sender {
    pub fn new() -> Result<Sender, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .pool_max_idle_per_host(16)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Sender { http, token: Mutex::new(None) })
    }

    async fn token(&self, link: &Link) -> Result<String, String> {
        let key = format!("{} {}", link.url, link.client_id);
        if let Ok(held) = self.token.lock()
            && let Some((k, t, until)) = held.as_ref()
            && *k == key
            && *until > std::time::Instant::now()
        {
            return Ok(t.clone());
        }
        let url = link.url.join("token").map_err(|e| format!("portal URL: {e}"))?;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", link.client_id.as_str()),
            ("client_secret", link.client_secret.as_str()),
        ];
        let body = serde_urlencoded_form(&form);
        let r = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("token: no answer: {e}"))?;
        let status = r.status();
        let v: Value = r.json().await.map_err(|_| format!("token: HTTP {status}, not JSON"))?;
        let Some(token) = v["access_token"].as_str() else {
            return Err(format!("token: HTTP {status}: {}", v["message"].as_str().unwrap_or("no access_token")));
        };
        let ttl = v["expires_in"].as_u64().unwrap_or(300).saturating_sub(30).max(1);
        if let Ok(mut held) = self.token.lock() {
            *held = Some((key, token.to_owned(), std::time::Instant::now() + Duration::from_secs(ttl)));
        }
        Ok(token.to_owned())
    }

    fn forget_token(&self) {
        if let Ok(mut held) = self.token.lock() {
            *held = None;
        }
    }

    async fn call(&self, link: &Link, envelope: &Value) -> Answer {
        let token = match self.token(link).await {
            Ok(t) => t,
            Err(e) => return Answer::Failed(e),
        };
        let url = match link.url.join("api") {
            Ok(u) => u,
            Err(e) => return Answer::Failed(format!("portal URL: {e}")),
        };
        let r = match self.http.post(url).bearer_auth(token).json(envelope).send().await {
            Ok(r) => r,
            Err(e) => return Answer::Failed(format!("no answer: {e}")),
        };
        let status = r.status();
        let text: String = r.text().await.unwrap_or_default().chars().take(2000).collect();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = match &v["error_code"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        if status == reqwest::StatusCode::UNAUTHORIZED {
            self.forget_token();
            return Answer::Failed(format!("HTTP 401: {text}"));
        }
        if status.is_server_error() || matches!(status.as_u16(), 408 | 429) || code.is_empty() {
            return Answer::Failed(format!("HTTP {status}: {text}"));
        }
        if code == "0" { Answer::Accepted(text) } else { Answer::Refused(format!("error_code {code}: {text}")) }
    }
}

fn serde_urlencoded_form(pairs: &[(&str, &str)]) -> String {
    let mut out = reqwest::Url::parse("http://x/").ok();
    if let Some(u) = out.as_mut() {
        u.query_pairs_mut().extend_pairs(pairs);
    }
    out.and_then(|u| u.query().map(str::to_owned)).unwrap_or_default()
}

fn backoff(attempts: i64) -> i64 {
    let base = 1i64 << attempts.clamp(0, 12);
    base.min(3600) + rand::random_range(0..=base.min(3600) / 4)
}

/// One round: claims due messages (at most one per dossier), renders them, sends them in
/// calls of up to 100 per service, isolates a refused message by sending its call's messages
/// one by one, and records the outcomes. Returns how many were claimed.
pub async fn sync_once(
    db: &Db,
    sender: &Sender,
    link: &Link,
    clock: fn() -> time::OffsetDateTime,
) -> Result<usize, civitas_store::StoreError> {
    if civitas_store::claims::outbound_paused(db).await? {
        return Ok(0);
    }
    let now = clock().unix_timestamp();
    let (claim, batch) = portal::claim_due(db, now, 512).await?;
    if batch.is_empty() {
        return Ok(0);
    }
    let retry = |m: &Message, error: String| {
        if m.attempts + 1 >= MAX_ATTEMPTS {
            Outcome::Dead { error: format!("out of attempts: {error}") }
        } else {
            Outcome::Retry { error, next_attempt_at: now + backoff(m.attempts) }
        }
    };
    let mut outcomes: Vec<(i64, Outcome)> = Vec::with_capacity(batch.len());
    // Calls: (service, isUpdating) → rendered messages.
    let mut calls: BTreeMap<(&str, bool), Vec<(&Message, Value)>> = BTreeMap::new();
    for m in &batch {
        let rendered = match m.service.as_str() {
            portal::DOSSIER => render_dossier(link, &m.facts).map(|(updating, v)| ((portal::DOSSIER, updating), v)),
            portal::PROGRESS => render_progress(link, &m.dossier_code, &m.facts).map(|v| ((portal::PROGRESS, true), v)),
            other => Err(format!("unknown service {other}")),
        };
        match rendered {
            Ok((key, v)) => calls.entry(key).or_default().push((m, v)),
            Err(e) => outcomes.push((m.id, retry(m, e))),
        }
    }
    for ((service, updating), items) in &calls {
        for chunk in items.chunks(PER_CALL) {
            let envelope = |data: Vec<&Value>| match *service {
                portal::DOSSIER => {
                    json!({ "service": service, "isUpdating": if *updating { "True" } else { "False" }, "data": data })
                }
                _ => json!({ "service": service, "data": data }),
            };
            match sender.call(link, &envelope(chunk.iter().map(|(_, v)| v).collect())).await {
                Answer::Accepted(text) => {
                    outcomes.extend(chunk.iter().map(|(m, _)| (m.id, Outcome::Accepted { response: text.clone() })))
                }
                Answer::Failed(e) => outcomes.extend(chunk.iter().map(|(m, _)| (m.id, retry(m, e.clone())))),
                Answer::Refused(e) if chunk.len() == 1 => {
                    tracing::warn!(dossier = %chunk[0].0.dossier_code, error = %e, "the portal refused a message: dead letter");
                    outcomes.push((chunk[0].0.id, Outcome::Dead { error: e }));
                }
                Answer::Refused(_) => {
                    // One bad message refuses the call: send each by itself.
                    for (m, v) in chunk {
                        let outcome = match sender.call(link, &envelope(vec![v])).await {
                            Answer::Accepted(text) => Outcome::Accepted { response: text },
                            Answer::Failed(e) => retry(m, e),
                            Answer::Refused(e) => {
                                tracing::warn!(dossier = %m.dossier_code, error = %e, "the portal refused a message: dead letter");
                                Outcome::Dead { error: e }
                            }
                        };
                        outcomes.push((m.id, outcome));
                    }
                }
            }
        }
    }
    portal::record(db, &claim, &outcomes, &civitas_store::timestamp(clock())).await?;
    Ok(batch.len())
}

/// The link the server uses, changeable while it runs (none: nothing is sent, the messages
/// wait).
pub type SharedLink = Arc<RwLock<Option<Arc<Link>>>>;

/// Registers the synchronisation (a queue drained while it has work) with the job runtime.
pub fn register_worker(
    jobs: &civitas_store::jobs::JobRuntime,
    db: Db,
    link: SharedLink,
    clock: fn() -> time::OffsetDateTime,
) {
    let sender = match Sender::new() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(error = %e, "portal client could not be built; no synchronisation");
            return;
        }
    };
    use civitas_store::jobs::{Claim, Schedule};
    jobs.register("portal.sync", Schedule::Drain(Duration::from_millis(200)), Claim::Items, move || {
        let (db, sender) = (db.clone(), sender.clone());
        let link = link.read().ok().and_then(|l| l.clone());
        async move {
            match link {
                None => Ok(0),
                Some(link) => sync_once(&db, &sender, &link, clock).await.map_err(|e| e.to_string()),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, u8)]) -> Result<StatusMap, String> {
        StatusMap::with_overrides(&pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect())
    }

    #[test]
    fn the_mapping_refuses_flattering_and_unknown_states() {
        assert_eq!(StatusMap::default().code("received"), Some(2));
        assert_eq!(map(&[("refused", 8)]).unwrap().code("refused"), Some(8));
        for (state, code, says) in [
            ("lapsed", 9, "processed that is not"),
            ("supplement_requested", 10, "processed that is not"),
            ("in_processing", 9, "processed that is not"),
            ("received", 11, "1–10"),
            ("received", 0, "1–10"),
            ("paused", 4, "is not a dossier state"),
        ] {
            let e = map(&[(state, code)]).unwrap_err();
            assert!(e.contains(says), "{state} = {code}: {e}");
        }
    }

    #[test]
    fn portal_times_are_vietnam_local() {
        assert_eq!(portal_time("2026-12-01T17:30:05.123456Z").unwrap(), "20261202003005");
        assert!(portal_time("yesterday").is_err());
        assert_eq!(portal_day_end("2026-12-02"), "20261202170000");
    }
}
