//! The transparency log over HTTP, as C2SP tlog-tiles: the signed checkpoint, the hash tiles
//! and the verifier key are public; entry bundles (who read whose data) only for auditors.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use civitas_tlog::tile::{TileId, WIDTH, encode_bundle};

use crate::AppState;
use crate::auth::Caller;
use crate::i18n::{Lang, tr};
use crate::problem::Problem;

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/log/checkpoint", get(checkpoint))
        .route("/log/key", get(key))
        .route("/log/tile/entries/{*path}", get(entries))
        .route("/log/tile/{level}/{*path}", get(hash_tile))
        .route("/api/v1/me/access", get(my_access))
        .route("/api/v1/me/access/{index}/receipt", get(my_receipt))
        .route("/account/access/{index}/receipt", get(page_receipt))
        .into_router()
}

/// One read of the holder's data, as the data tracker lists it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AccessRead {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who read: the official's or the agency system's identifier.
    pub actor: String,
    pub role: String,
    /// The administrative unit the reader acted for.
    pub unit: String,
    /// Why (the route's purpose, or the agency's stated purpose).
    pub purpose: Option<String>,
    /// Which parts of the record.
    pub fields: String,
    pub request_id: Option<String>,
    /// The entry of the transparency log, and where its receipt is (none until an older
    /// record has been taken into the log).
    pub log_index: Option<i64>,
    pub receipt: Option<String>,
    /// How the data was read: `api`, `page`, `userinfo`, `counter-card`, `follow-up`,
    /// `life-event`, `exchange:verify`, `exchange:attributes`.
    pub how: Option<String>,
    /// The agency the reader belongs to (agency systems), by name.
    pub agency: Option<String>,
    /// The official an agency system acted for.
    pub official: Option<String>,
    pub legal_basis: Option<String>,
    /// The case or dossier the read served.
    pub case_id: Option<String>,
    /// The reader, the purpose and the way of reading in plain words (in the language asked
    /// for with `Accept-Language`, Vietnamese by default).
    pub explained: Explained,
}

/// A read in plain words.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Explained {
    pub reader: String,
    pub purpose: String,
    pub how: String,
}

/// The names of the agencies whose systems read, by the system's client id.
pub(crate) async fn agency_names(state: &AppState) -> std::collections::HashMap<String, String> {
    let (Ok(systems), Ok(agencies)) =
        (civitas_exchange::grants::systems(&state.db).await, civitas_services::followups::agencies(&state.db).await)
    else {
        return Default::default();
    };
    systems
        .into_iter()
        .filter_map(|(client, agency)| agencies.iter().find(|a| a.id == agency).map(|a| (client, a.name.clone())))
        .collect()
}

/// Who read, in plain words: the agency (and its official), or the kind of officer and unit.
pub(crate) fn reader_text(lang: Lang, r: &civitas_store::access_log::AccessEntry, agency: Option<&str>) -> String {
    let role = match r.role.as_str() {
        "registry-officer" => tr(lang, "Cán bộ Công an quản lý cư trú", "Police registry officer"),
        "onestop-officer" => tr(lang, "Cán bộ bộ phận một cửa", "One-stop officer"),
        "specialist" => tr(lang, "Chuyên viên xử lý hồ sơ", "Case specialist"),
        "leader" => tr(lang, "Lãnh đạo phê duyệt", "Approving leader"),
        "auditor" => tr(lang, "Thanh tra, kiểm tra", "Auditor"),
        "relying-party" => tr(lang, "Ứng dụng bạn đã cho phép đăng nhập", "An application you let sign you in"),
        "agency" | "agency-system" => tr(lang, "Hệ thống của cơ quan khác", "Another agency's system"),
        _ => "",
    };
    let who = match agency {
        Some(name) => name.to_owned(),
        None if r.unit.is_empty() => format!("{role}: {}", r.actor),
        None => format!("{role} ({} {})", tr(lang, "địa bàn", "unit"), r.unit),
    };
    match &r.official {
        Some(o) => format!("{who} — {} {o}", tr(lang, "cán bộ", "official")),
        None => who,
    }
}

/// Why, in plain words: the operations' purposes are explained; an agency's stated purpose and
/// its legal basis are shown as stated.
pub(crate) fn purpose_text(lang: Lang, purpose: Option<&str>, legal_basis: Option<&str>) -> String {
    let p = purpose.unwrap_or_default();
    let plain = match p {
        "register-read" => tr(lang, "Tra cứu thông tin công dân", "Looking up a citizen's record").to_owned(),
        "register-search" => tr(lang, "Tìm kiếm công dân", "Searching for a citizen").to_owned(),
        "register-change" => tr(lang, "Cập nhật thông tin công dân", "Updating a citizen's record").to_owned(),
        "residence-confirmation" => tr(lang, "Xác nhận thông tin cư trú", "Confirming residence").to_owned(),
        "civil-status" => tr(lang, "Đăng ký, quản lý hộ tịch", "Civil registration").to_owned(),
        "dossier-processing" => tr(lang, "Giải quyết hồ sơ thủ tục hành chính", "Processing a dossier").to_owned(),
        "counter-intake" => {
            tr(lang, "Tiếp nhận hồ sơ tại bộ phận một cửa", "Receiving a dossier at the counter").to_owned()
        }
        "officer-console" => tr(lang, "Tra cứu trên màn hình cán bộ", "Lookup in the officers' console").to_owned(),
        "eid-administration" => tr(lang, "Quản lý tài khoản định danh điện tử", "Managing the e-ID account").to_owned(),
        "audit" => tr(lang, "Thanh tra, kiểm tra việc truy cập", "Auditing access").to_owned(),
        "card-verification" => tr(lang, "Kiểm tra thẻ căn cước gắn chip", "Checking a chip ID card").to_owned(),
        other if other.starts_with("oidc userinfo") => tr(
            lang,
            "Cung cấp thông tin đăng nhập cho ứng dụng bạn cho phép",
            "Sign-in data for an application you allowed",
        )
        .to_owned(),
        other => other.to_owned(),
    };
    match legal_basis {
        Some(b) => format!("{plain} ({} {b})", tr(lang, "căn cứ:", "legal basis:")),
        None => plain,
    }
}

/// How, in plain words.
pub(crate) fn how_text(lang: Lang, how: Option<&str>) -> &'static str {
    match how.unwrap_or_default() {
        "api" => tr(lang, "Qua giao diện lập trình (API)", "Through the API"),
        "page" => tr(lang, "Trên màn hình cán bộ", "On an officer's screen"),
        "userinfo" => tr(lang, "Khi đăng nhập vào ứng dụng", "When signing in to an application"),
        "counter-card" => tr(lang, "Đọc thẻ căn cước tại quầy", "Reading the ID card at a counter"),
        "card-chip" => tr(lang, "Đọc chip thẻ căn cước", "Reading the ID card's chip"),
        "follow-up" => tr(lang, "Chuyển hồ sơ liên thông", "Handing on an interconnected dossier"),
        "life-event" => tr(lang, "Thông báo sự kiện hộ tịch, cư trú", "Notifying a life event"),
        "exchange:verify" => {
            tr(lang, "Xác thực thông tin (chỉ khớp / không khớp)", "Verifying data (match / no match only)")
        }
        "exchange:attributes" => tr(lang, "Cung cấp thông tin được phép", "Providing the granted data"),
        _ => "",
    }
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AccessReads {
    /// Newest first (at most 200).
    pub items: Vec<AccessRead>,
}

/// The data tracker: every read of the holder's data, newest first, each with its receipt.
#[utoipa::path(get, path = "/api/v1/me/access", tag = "transparency",
    responses((status = 200, body = AccessReads), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn my_access(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    citizen: crate::auth::Citizen,
) -> Result<axum::Json<AccessReads>, Problem> {
    let now = civitas_store::timestamp(crate::now());
    let rows = civitas_store::access_log::disclosed_for_subject(&state.db, &citizen.pid, &now, 200)
        .await
        .map_err(|e| crate::problem::internal(&e))?;
    let lang = crate::pages::lang(&headers, None);
    let agencies = agency_names(&state).await;
    let items = rows
        .into_iter()
        .map(|r| AccessRead {
            explained: Explained {
                reader: reader_text(lang, &r, agencies.get(&r.actor).map(String::as_str)),
                purpose: purpose_text(lang, r.purpose.as_deref(), r.legal_basis.as_deref()),
                how: how_text(lang, r.how.as_deref()).to_owned(),
            },
            agency: agencies.get(&r.actor).cloned(),
            how: r.how,
            official: r.official,
            legal_basis: r.legal_basis,
            case_id: r.case_id,
            receipt: r.log_index.map(|i| format!("/api/v1/me/access/{i}/receipt")),
            at: r.at,
            actor: r.actor,
            role: r.role,
            unit: r.unit,
            purpose: r.purpose,
            fields: r.fields,
            request_id: r.request_id,
            log_index: r.log_index,
        })
        .collect();
    Ok(axum::Json(AccessReads { items }))
}

/// The receipt of log entry `index` for the person whose data it records.
async fn receipt_for(state: &AppState, pid: &str, index: &str) -> Result<Response, Problem> {
    let not_found = || Problem::not_found("no read of your data has this log index");
    let index: u64 = index.parse().map_err(|_| not_found())?;
    let now = civitas_store::timestamp(crate::now());
    let mine = civitas_store::access_log::is_subject_of(&state.db, pid, index as i64, &now)
        .await
        .map_err(|e| crate::problem::internal(&e))?;
    if !mine {
        return Err(not_found());
    }
    match civitas_store::tlog::receipt(&state.db, index).await {
        Ok(r) => {
            let mut response = text(r.format(), "no-store");
            let disposition = format!("attachment; filename=\"civitas-receipt-{index}.txt\"");
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                response.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            Ok(response)
        }
        Err(civitas_store::tlog::ReceiptError::NotYetIntegrated(_)) => {
            let mut p = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-yet-logged",
                "Not yet in a checkpoint",
                "the read is logged, and its entry enters a signed checkpoint within a second: try again",
            )
            .into_response();
            p.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Ok(p)
        }
        Err(civitas_store::tlog::ReceiptError::NoEntry(_)) => Err(not_found()),
        Err(civitas_store::tlog::ReceiptError::Store(e)) => Err(crate::problem::internal(&e)),
    }
}

/// A receipt (C2SP `tlog-proof@v1`; `extra` is the entry: salt and record), verifiable offline
/// with `civitas audit verify-receipt FILE --key VKEY`.
#[utoipa::path(get, path = "/api/v1/me/access/{index}/receipt", tag = "transparency",
    params(("index" = u64, Path, description = "the read's log index")),
    responses((status = 200, body = String, content_type = "text/plain"), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn my_receipt(
    State(state): State<AppState>,
    citizen: crate::auth::Citizen,
    Path(index): Path<String>,
) -> Result<Response, Problem> {
    receipt_for(&state, &citizen.pid, &index).await
}

/// The same receipt from the account page (the holder's browser session).
async fn page_receipt(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(index): Path<String>,
) -> Result<Response, Problem> {
    let Some((_, session)) = crate::cookies::browser_session(&state, &headers).await else {
        return Ok(axum::response::Redirect::to("/signin").into_response());
    };
    receipt_for(&state, &session.pid, &index).await
}

fn text(body: String, cache: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

fn bytes(body: Vec<u8>, full: bool) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    // A full tile never changes; a partial one is a prefix of a later one and never changes
    // either at its width.
    let cache = if full { "public, max-age=31536000, immutable" } else { "public, max-age=3600" };
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

/// The latest signed checkpoint (C2SP tlog-checkpoint, a signed note).
async fn checkpoint(State(state): State<AppState>) -> Result<Response, Problem> {
    let note = civitas_store::tlog::published_checkpoint(&state.db).await.map_err(|e| crate::problem::internal(&e))?;
    Ok(text(note, "no-cache, max-age=1"))
}

/// The log's verifier key (`<origin>+<key id>+<key>`).
async fn key(State(state): State<AppState>) -> Response {
    text(format!("{}\n", state.log.vkey()), "public, max-age=3600")
}

fn bad_path() -> Problem {
    Problem::not_found("no such tile: paths are tile/<L>/<N>[.p/<W>] with N in 3-digit groups (x001/234)")
}

/// Which tile a path names, if the current tree has it.
async fn tile_of(state: &AppState, level: u32, path: &str) -> Result<TileId, Problem> {
    let id = TileId::parse(level, path).map_err(|_| bad_path())?;
    let (size, _) = civitas_store::tlog::checkpoint(&state.db).await.map_err(|e| crate::problem::internal(&e))?;
    if !id.exists_at(size) {
        return Err(Problem::not_found(format!("the log (size {size}) has no tile {}", id.path())));
    }
    Ok(id)
}

/// A hash tile: `width` hashes of 32 bytes.
async fn hash_tile(
    State(state): State<AppState>,
    Path((level, path)): Path<(String, String)>,
) -> Result<Response, Problem> {
    // One digit: a tree of 64-bit size has at most 8 tile levels.
    let level: u32 = match level.as_bytes() {
        [d @ b'0'..=b'7'] => u32::from(d - b'0'),
        _ => return Err(bad_path()),
    };
    let id = tile_of(&state, level, &path).await?;
    let hashes =
        civitas_store::tlog::tile(&state.db, id.level, id.index).await.map_err(|e| crate::problem::internal(&e))?;
    let width = id.width as usize;
    if hashes.len() < width {
        return Err(crate::problem::internal(&civitas_store::StoreError::Corrupt(
            "a tile the checkpoint commits to is shorter than its width".into(),
        )));
    }
    Ok(bytes(hashes[..width].iter().flatten().copied().collect(), u64::from(id.width) == WIDTH))
}

/// An entry bundle (auditors only): each entry, salt and record, as `u16 length || bytes`.
async fn entries(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<String>,
) -> Result<Response, Problem> {
    let id = tile_of(&state, 0, &path).await?;
    let first = id.index * WIDTH;
    let list = civitas_store::tlog::entries(&state.db, first, u64::from(id.width))
        .await
        .map_err(|e| crate::problem::internal(&e))?;
    if list.len() != id.width as usize {
        return Err(crate::problem::internal(&civitas_store::StoreError::Corrupt(
            "entries the checkpoint commits to are missing".into(),
        )));
    }
    Ok(bytes(encode_bundle(list.iter().map(Vec::as_slice)), u64::from(id.width) == WIDTH))
}
