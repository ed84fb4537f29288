//! A stand-in for the National Public Service Portal (`civitas portal-sim`), for demos and
//! tests: it issues access tokens to one client (client credentials), takes `DongBoHoSoMC` and
//! `CapNhatTienDoHoSoMC` calls, validates every item (required fields, `yyyyMMddHHmmss` dates,
//! channel and status codes, the dates a status needs, a progress step for a dossier it does
//! not know, an update of a dossier it does not know) and answers in the portal's shape
//! (`{"error_code": "0", ...}`; a refused call names the item and the field and stores
//! nothing). A create repeated for a dossier it knows, and a step it already has, are answered
//! as successes and counted as duplicates: the receiving side is idempotent. `GET /dossiers`
//! lists what it holds, with each dossier's status history.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};

/// What the simulator holds of one dossier.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    /// The latest `HoSo`.
    pub hoso: Value,
    /// `TrangThaiHoSo` of every accepted create or update, in arrival order.
    pub statuses: Vec<u8>,
    /// The progress steps, in arrival order (without duplicates).
    pub steps: Vec<Value>,
    /// Creates or steps that arrived again (answered as successes, not stored twice).
    pub duplicates: u32,
}

#[derive(Default)]
pub struct PortalSim {
    pub client_id: String,
    pub client_secret: String,
    tokens: Mutex<Vec<String>>,
    dossiers: Mutex<BTreeMap<String, Held>>,
    /// Calls refused (for tests: what was malformed).
    refused: Mutex<Vec<String>>,
    /// Dossier codes whose items it refuses as if malformed (tests of dead letters).
    refuse: Mutex<Vec<String>>,
}

impl PortalSim {
    pub fn new(client_id: &str, client_secret: &str) -> Arc<PortalSim> {
        Arc::new(PortalSim {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            ..Default::default()
        })
    }

    pub fn dossiers(&self) -> BTreeMap<String, Held> {
        self.dossiers.lock().map(|d| d.clone()).unwrap_or_default()
    }

    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Refuses (or, with `false`, accepts again) every item of dossier `code`.
    pub fn refuse_dossier(&self, code: &str, refuse: bool) {
        if let Ok(mut r) = self.refuse.lock() {
            r.retain(|c| c != code);
            if refuse {
                r.push(code.to_owned());
            }
        }
    }

    fn refuses(&self, code: &str) -> bool {
        self.refuse.lock().map(|r| r.iter().any(|c| c == code)).unwrap_or(false)
    }

    /// Forgets every token issued (as after a restart of the portal's token service).
    pub fn revoke_tokens(&self) {
        if let Ok(mut t) = self.tokens.lock() {
            t.clear();
        }
    }
}

pub fn router(sim: Arc<PortalSim>) -> Router {
    Router::new()
        .route("/token", post(token))
        .route("/api", post(api))
        .route("/dossiers", get(list))
        .route("/dossiers/{code}", get(one))
        .with_state(sim)
}

fn answer(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error_code": code, "message": message }))).into_response()
}

async fn token(State(sim): State<Arc<PortalSim>>, body: String) -> Response {
    let form: BTreeMap<String, String> = reqwest::Url::parse(&format!("http://x/?{body}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.get("client_id") == Some(&sim.client_id)
        && form.get("client_secret") == Some(&sim.client_secret);
    if !ok {
        return answer(StatusCode::UNAUTHORIZED, "401", "invalid client credentials");
    }
    let bytes: [u8; 16] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Ok(mut t) = sim.tokens.lock() {
        t.push(token.clone());
    }
    Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": 3600 })).into_response()
}

/// A `yyyyMMddHHmmss` time that exists.
pub fn valid_time(s: &str) -> bool {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    let Ok(month) = time::Month::try_from(n(4..6) as u8) else { return false };
    time::Date::from_calendar_date(n(0..4) as i32, month, n(6..8) as u8).is_ok()
        && n(8..10) < 24
        && n(10..12) < 60
        && n(12..14) < 60
}

/// An integer code given as a number or as digits.
fn code_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn text<'a>(item: &'a Value, field: &str) -> &'a str {
    item.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// Why a `HoSo` is malformed.
fn check_dossier(h: &Value) -> Result<(), String> {
    for field in ["MaHoSo", "MaTTHC", "TenTTHC", "ChuHoSo", "DonViXuLy", "NgayTiepNhan", "NgayHenTra"] {
        if text(h, field).trim().is_empty() {
            return Err(format!("{field} is missing"));
        }
    }
    for field in ["NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayTra", "NgayKetThucXuLy", "NgayTuChoi"] {
        let v = text(h, field);
        if !v.is_empty() && !valid_time(v) {
            return Err(format!("{field} {v:?} is not yyyyMMddHHmmss"));
        }
    }
    if !matches!(code_of(&h["KenhThucHien"]), Some(1..=3)) {
        return Err("KenhThucHien must be 1, 2 or 3".into());
    }
    let status = code_of(&h["TrangThaiHoSo"]).unwrap_or(0);
    if !(1..=10).contains(&status) {
        return Err("TrangThaiHoSo must be 1–10".into());
    }
    if matches!(status, 9 | 10) && text(h, "NgayKetThucXuLy").is_empty() {
        return Err(format!("TrangThaiHoSo {status} needs NgayKetThucXuLy"));
    }
    if status == 10 && text(h, "NgayTra").is_empty() {
        return Err("TrangThaiHoSo 10 needs NgayTra".into());
    }
    if status == 3 && text(h, "NgayTuChoi").is_empty() {
        return Err("TrangThaiHoSo 3 needs NgayTuChoi".into());
    }
    if !h["DinhDanhCHS"].is_array() || !h["TaiLieuNop"].is_array() {
        return Err("DinhDanhCHS and TaiLieuNop must be lists".into());
    }
    Ok(())
}

fn check_step(s: &Value) -> Result<(), String> {
    for field in ["MaHoSo", "NguoiXuLy", "ThoiDiemXuLy", "NoiDungXuLy"] {
        if text(s, field).trim().is_empty() {
            return Err(format!("{field} is missing"));
        }
    }
    if !valid_time(text(s, "ThoiDiemXuLy")) {
        return Err("ThoiDiemXuLy is not yyyyMMddHHmmss".into());
    }
    if !matches!(code_of(&s["TrangThai"]), Some(1..=10)) {
        return Err("TrangThai must be 1–10".into());
    }
    Ok(())
}

async fn api(State(sim): State<Arc<PortalSim>>, headers: HeaderMap, body: String) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let known = sim.tokens.lock().map(|t| t.iter().any(|k| k == bearer)).unwrap_or(false);
    if bearer.is_empty() || !known {
        return answer(StatusCode::UNAUTHORIZED, "401", "access token missing or not valid");
    }
    let refuse = |why: String| {
        if let Ok(mut r) = sim.refused.lock() {
            r.push(why.clone());
        }
        answer(StatusCode::BAD_REQUEST, "-1", &why)
    };
    let Ok(envelope) = serde_json::from_str::<Value>(&body) else {
        return refuse("the body is not JSON".into());
    };
    let Some(items) = envelope["data"].as_array() else {
        return refuse("data must be a list".into());
    };
    let Ok(mut dossiers) = sim.dossiers.lock() else {
        return answer(StatusCode::INTERNAL_SERVER_ERROR, "500", "lock poisoned");
    };
    match envelope["service"].as_str() {
        Some("DongBoHoSoMC") => {
            let updating = match envelope["isUpdating"].as_str() {
                Some("True") => true,
                Some("False") => false,
                _ => return refuse("isUpdating must be \"True\" or \"False\"".into()),
            };
            for (i, h) in items.iter().enumerate() {
                if sim.refuses(text(h, "MaHoSo")) {
                    return refuse(format!("data[{i}] ({}): refused by the simulator", text(h, "MaHoSo")));
                }
                if let Err(e) = check_dossier(h) {
                    return refuse(format!("data[{i}] ({}): {e}", text(h, "MaHoSo")));
                }
                if updating && !dossiers.contains_key(text(h, "MaHoSo")) {
                    return refuse(format!(
                        "data[{i}]: dossier {} does not exist (isUpdating True)",
                        text(h, "MaHoSo")
                    ));
                }
            }
            for h in items {
                let status = code_of(&h["TrangThaiHoSo"]).and_then(|s| u8::try_from(s).ok()).unwrap_or(0);
                let code = text(h, "MaHoSo").to_owned();
                match dossiers.get_mut(&code) {
                    Some(held) if !updating => held.duplicates += 1,
                    Some(held) => {
                        held.hoso = h.clone();
                        held.statuses.push(status);
                    }
                    None => {
                        dossiers.insert(
                            code,
                            Held { hoso: h.clone(), statuses: vec![status], steps: Vec::new(), duplicates: 0 },
                        );
                    }
                }
            }
        }
        Some("CapNhatTienDoHoSoMC") => {
            for (i, s) in items.iter().enumerate() {
                if sim.refuses(text(s, "MaHoSo")) {
                    return refuse(format!("data[{i}] ({}): refused by the simulator", text(s, "MaHoSo")));
                }
                if let Err(e) = check_step(s) {
                    return refuse(format!("data[{i}] ({}): {e}", text(s, "MaHoSo")));
                }
                if !dossiers.contains_key(text(s, "MaHoSo")) {
                    return refuse(format!("data[{i}]: dossier {} does not exist", text(s, "MaHoSo")));
                }
            }
            for s in items {
                if let Some(held) = dossiers.get_mut(text(s, "MaHoSo")) {
                    let same =
                        |k: &Value| ["ThoiDiemXuLy", "TrangThai", "NoiDungXuLy"].iter().all(|f| k.get(*f) == s.get(*f));
                    if held.steps.iter().any(same) {
                        held.duplicates += 1;
                    } else {
                        held.steps.push(s.clone());
                    }
                }
            }
        }
        _ => return refuse("service must be DongBoHoSoMC or CapNhatTienDoHoSoMC".into()),
    }
    Json(json!({ "error_code": "0", "message": format!("{} item(s) accepted", items.len()) })).into_response()
}

async fn list(State(sim): State<Arc<PortalSim>>) -> Json<BTreeMap<String, Held>> {
    Json(sim.dossiers())
}

async fn one(State(sim): State<Arc<PortalSim>>, Path(code): Path<String>) -> Response {
    match sim.dossiers().remove(&code) {
        Some(held) => Json(held).into_response(),
        None => answer(StatusCode::NOT_FOUND, "404", "no such dossier"),
    }
}
