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
use crate::problem::Problem;

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/log/checkpoint", get(checkpoint))
        .route("/log/key", get(key))
        .route("/log/tile/entries/{*path}", get(entries))
        .route("/log/tile/{level}/{*path}", get(hash_tile))
        .into_router()
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
    let (_, note) = civitas_store::tlog::checkpoint(&state.db).await.map_err(|e| crate::problem::internal(&e))?;
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
