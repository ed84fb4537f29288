//! `civitas audit` and `civitas log`: checking a transparency log from the outside (its public
//! tiles, with an auditor's token its entries, against the last checkpoint seen) and checking
//! a receipt offline; printing this server's log verifier key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Subcommand;

use civitas_tlog::merkle::leaf_hash;
use civitas_tlog::note::{Checkpoint, Verifier};
use civitas_tlog::tile::{MemoryTiles, TileHashes, TileId, WIDTH, decode_bundle, hashes_at, subtree_root};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check a whole log: the checkpoint's signature, every public tile against the root, with
    /// an auditor's token every entry against its leaf, and consistency with the checkpoint
    /// this command saw last (kept in the state file). Exit 0, or 1 naming the first failure.
    Verify {
        /// The server's base URL (its /log/checkpoint and /log/tile/...).
        #[arg(long)]
        url: String,
        /// The log's verifier key (`civitas log key`), obtained independently of the server.
        #[arg(long)]
        key: String,
        /// An auditor's access token, to check every entry too.
        #[arg(long)]
        token: Option<String>,
        /// Where the last verified checkpoint is kept between runs.
        #[arg(long, default_value = "civitas-audit.state")]
        state: PathBuf,
    },
    /// Check a receipt (c2sp.org/tlog-proof@v1) offline: the checkpoint's signature and the
    /// entry's inclusion; prints the record. Exit 0 valid, 1 not.
    VerifyReceipt {
        file: PathBuf,
        #[arg(long)]
        key: String,
    },
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Print the transparency log's verifier key (creating the log if there is none yet).
    Key,
}

fn fail(what: String) -> anyhow::Result<ExitCode> {
    println!("FAIL {what}");
    Ok(ExitCode::from(1))
}

pub async fn audit(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::VerifyReceipt { file, key } => verify_receipt(&file, &key),
        AuditCommand::Verify { url, key, token, state } => verify_log(&url, &key, token.as_deref(), &state).await,
    }
}

fn verify_receipt(file: &Path, key: &str) -> anyhow::Result<ExitCode> {
    let log = Verifier::parse(key).map_err(|e| anyhow::anyhow!("--key: {e}"))?;
    let text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let receipt = match civitas_tlog::receipt::Receipt::parse(&text) {
        Ok(r) => r,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    let Some(entry) = receipt.extra.clone() else {
        return fail("the receipt carries no entry (its extra line)".into());
    };
    match receipt.verify(&entry, &log) {
        Ok(checkpoint) => {
            let record = entry.get(civitas_store::tlog::SALT_LEN..).unwrap_or_default();
            println!(
                "valid: entry {} of the log {} (checkpoint of {} entries)",
                receipt.index, checkpoint.origin, checkpoint.size
            );
            println!("{}", String::from_utf8_lossy(record));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => fail(format!("entry {}: {e}", receipt.index)),
    }
}

async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> Result<Vec<u8>, String> {
    let mut request = client.get(url);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: {status}"));
    }
    response.bytes().await.map(|b| b.to_vec()).map_err(|e| format!("GET {url}: {e}"))
}

async fn verify_log(url: &str, key: &str, token: Option<&str>, state: &Path) -> anyhow::Result<ExitCode> {
    let log = Verifier::parse(key).map_err(|e| anyhow::anyhow!("--key: {e}"))?;
    let base = url.trim_end_matches('/');
    let client = reqwest::Client::new();
    let note = match get(&client, &format!("{base}/log/checkpoint"), None).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return fail(e),
    };
    let checkpoint = match Checkpoint::open(&note, &log, &[]) {
        Ok((c, _)) => c,
        Err(e) => return fail(format!("checkpoint: {e}")),
    };
    let size = checkpoint.size;
    // Every tile of the tree at this size.
    let mut tiles = MemoryTiles::default();
    let mut level = 0u32;
    while hashes_at(level, size) > 0 {
        let count = hashes_at(level, size);
        for index in 0..count.div_ceil(WIDTH) {
            let width = (count - index * WIDTH).min(WIDTH) as u32;
            let id = TileId { level, index, width };
            let bytes = match get(&client, &format!("{base}/log/{}", id.path()), None).await {
                Ok(b) => b,
                Err(e) => return fail(e),
            };
            if bytes.len() != width as usize * 32 {
                return fail(format!("tile {} has {} bytes, not {}", id.path(), bytes.len(), width * 32));
            }
            let hashes = bytes.chunks_exact(32).map(|c| c.try_into().unwrap_or([0u8; 32])).collect();
            tiles.0.insert((level, index), hashes);
        }
        level += 1;
    }
    // Each hash of a higher tile is the root of the full tile below it.
    for (&(level, index), hashes) in &tiles.0 {
        if level == 0 {
            continue;
        }
        for (i, h) in hashes.iter().enumerate() {
            let below = index * WIDTH + i as u64;
            let name = |l: u32, n: u64, w: usize| TileId { level: l, index: n, width: w as u32 }.path();
            match tiles.0.get(&(level - 1, below)) {
                Some(full) if full.len() as u64 == WIDTH && &subtree_root(full) == h => {}
                Some(_) => {
                    return fail(format!(
                        "{} hash {i} is not the root of {}",
                        name(level, index, hashes.len()),
                        name(level - 1, below, 256)
                    ));
                }
                None => return fail(format!("{} is missing", name(level - 1, below, 256))),
            }
        }
    }
    let root = match civitas_tlog::merkle::root(&TileHashes(&tiles), size) {
        Ok(r) => r,
        Err(e) => return fail(format!("the tiles: {e}")),
    };
    if root != checkpoint.root {
        return fail(format!("the tiles do not hash to the checkpoint's root (size {size})"));
    }
    // With an auditor's token: every entry against its leaf hash.
    if let Some(token) = token {
        let leaves = hashes_at(0, size);
        for index in 0..leaves.div_ceil(WIDTH) {
            let width = (leaves - index * WIDTH).min(WIDTH) as u32;
            let id = TileId { level: 0, index, width };
            let bundle = match get(&client, &format!("{base}/log/{}", id.entries_path()), Some(token)).await {
                Ok(b) => b,
                Err(e) => return fail(e),
            };
            let entries = match decode_bundle(&bundle) {
                Ok(e) if e.len() == width as usize => e,
                Ok(e) => return fail(format!("{} holds {} entries, not {width}", id.entries_path(), e.len())),
                Err(e) => return fail(format!("{}: {e}", id.entries_path())),
            };
            let hashes = &tiles.0[&(0, index)];
            for (i, e) in entries.iter().enumerate() {
                if leaf_hash(e) != hashes[i] {
                    return fail(format!("entry {} does not match its leaf hash", index * WIDTH + i as u64));
                }
            }
        }
    }
    // Consistency with the checkpoint seen last: the first entries still hash to its root.
    if let Ok(saved) = std::fs::read_to_string(state) {
        // `<origin> <size> <root>` (a state of the first format has no origin).
        let parts: Vec<&str> = saved.split_whitespace().collect();
        let (origin, old_size, old_root) = match parts.as_slice() {
            [origin, size, root] => (Some(*origin), *size, *root),
            [size, root] => (None, *size, *root),
            _ => return fail(format!("the state file {} is malformed", state.display())),
        };
        if let Some(origin) = origin
            && origin != checkpoint.origin
        {
            return fail(format!(
                "the state file {} is of another log ({origin}, not {}); give each log its own --state",
                state.display(),
                checkpoint.origin
            ));
        }
        let old_size: u64 = old_size.parse().map_err(|_| anyhow::anyhow!("state file: bad size"))?;
        let old_root = STANDARD.decode(old_root).map_err(|_| anyhow::anyhow!("state file: bad root"))?;
        if old_size > size {
            return fail(format!("the log shrank from {old_size} to {size} entries"));
        }
        match civitas_tlog::merkle::root(&TileHashes(&tiles), old_size) {
            Ok(r) if r.as_slice() == old_root.as_slice() => {}
            _ => {
                return fail(format!(
                    "the first {old_size} entries no longer hash to the checkpoint seen before: the log was rewritten or forked"
                ));
            }
        }
    }
    std::fs::write(state, format!("{} {size} {}\n", checkpoint.origin, STANDARD.encode(checkpoint.root)))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", state.display()))?;
    println!(
        "ok: {} entries, checkpoint signed by {}{}",
        size,
        checkpoint.origin,
        if token.is_some() { ", every entry checked" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn log(config: &civitas::config::Config, issuer: &str, command: LogCommand) -> anyhow::Result<ExitCode> {
    let LogCommand::Key = command;
    let db = civitas::open(&config.database).await?;
    let keys = civitas_identity::KeyRing::open(&db, civitas::now(), config.kek()?).await?;
    let log = civitas_store::tlog::open(
        &db,
        &civitas_web::log_origin(issuer),
        |s| keys.seal_secret("tlog", s),
        |s| keys.open_secret("tlog", s),
    )
    .await?;
    println!("{}", log.vkey());
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Run a witness (c2sp.org/tlog-witness) of one log: POST /add-checkpoint checks the log's
    /// signature and the consistency proof from the size it cosigned last, persists the new
    /// size, and answers a cosignature/v1 line.
    Serve {
        #[arg(long)]
        listen: String,
        /// The witness's key: 32 random bytes, base64 (created on the first start).
        #[arg(long)]
        key: PathBuf,
        /// The witness's key name.
        #[arg(long, default_value = "civitas-witness")]
        name: String,
        /// The log's verifier key (`civitas log key`).
        #[arg(long)]
        log_key: String,
        /// Where the size and root cosigned last are kept.
        #[arg(long, default_value = "civitas-witness.state")]
        state: PathBuf,
    },
}

fn witness_signer(path: &Path, name: &str) -> anyhow::Result<civitas_tlog::note::Signer> {
    let seed: [u8; 32] = match std::fs::read_to_string(path) {
        Ok(text) => STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("{}: not 32 bytes in base64", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::fill(&mut seed);
            write_atomically(path, format!("{}\n", STANDARD.encode(seed)).as_bytes())?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            seed
        }
        Err(e) => anyhow::bail!("{}: {e}", path.display()),
    };
    civitas_tlog::note::Signer::witness(name, &seed).map_err(|e| anyhow::anyhow!("--name {name:?}: {e}"))
}

/// Writes `path` so that a crash leaves the old or the new content, never a mix.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

struct WitnessState {
    held: tokio::sync::Mutex<civitas_tlog::witness::Held>,
    state: PathBuf,
    log: Verifier,
    signer: civitas_tlog::note::Signer,
}

pub async fn witness(command: WitnessCommand) -> anyhow::Result<ExitCode> {
    let WitnessCommand::Serve { listen, key, name, log_key, state } = command;
    let log = Verifier::parse(&log_key).map_err(|e| anyhow::anyhow!("--log-key: {e}"))?;
    let signer = witness_signer(&key, &name)?;
    let held = match std::fs::read_to_string(&state) {
        Ok(text) => civitas_tlog::witness::Held::parse(&text)
            .ok_or_else(|| anyhow::anyhow!("{}: not `<size> <root>`", state.display()))?,
        Err(_) => civitas_tlog::witness::Held::empty(),
    };
    let listener =
        tokio::net::TcpListener::bind(&listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    println!("witness {} of {} on http://{}/add-checkpoint", signer.vkey(), log.name, listener.local_addr()?);
    let shared = std::sync::Arc::new(WitnessState { held: tokio::sync::Mutex::new(held), state, log, signer });
    let app = axum::Router::new()
        .route("/add-checkpoint", axum::routing::post(add_checkpoint))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(shared);
    axum::serve(listener, app).with_graceful_shutdown(crate::cli_serve::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn add_checkpoint(
    axum::extract::State(w): axum::extract::State<std::sync::Arc<WitnessState>>,
    body: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut held = w.held.lock().await;
    let now = civitas::now().unix_timestamp().max(0) as u64;
    match civitas_tlog::witness::add_checkpoint(*held, &body, &w.log, &w.signer, now) {
        Ok((new, line)) => {
            // Persisted before answering: a witness never cosigns two inconsistent trees.
            if let Err(e) = write_atomically(&w.state, new.format().as_bytes()) {
                tracing::error!(error = %e, "the witness state could not be written");
                return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "state not written\n").into_response();
            }
            *held = new;
            line.into_response()
        }
        Err(refusal) => {
            let status =
                axum::http::StatusCode::from_u16(refusal.status).unwrap_or(axum::http::StatusCode::BAD_REQUEST);
            let content_type = if refusal.status == 409 { "text/x.tlog.size" } else { "text/plain; charset=utf-8" };
            (status, [(axum::http::header::CONTENT_TYPE, content_type)], refusal.body).into_response()
        }
    }
}
