//! The transparency log of access in the database (issue #15, part 1): entries are sequenced
//! in the transaction that records the read (so a read is answered only after its entry is
//! committed, and a log that cannot commit fails the read), and an integrator builds the
//! RFC 6962 tree as C2SP tiles and signs a checkpoint in one transaction whose compare-and-swap
//! on the integrated size keeps several servers from forking the log.
//!
//! Tables: `tlog_state` (one row: origin, the log key's seed, the next index to sequence, the
//! integrated size and its signed checkpoint), `tlog_entries` (index, entry, leaf hash) and
//! `tlog_tiles` (each tile's current hashes; a partial tile is a prefix of the full one).
//! An entry is `salt (16 bytes) || record (JSON)`: tiles are public and reveal nothing, the
//! entries are for auditors, and a receipt carries the salt so its holder can rebuild the leaf.

use std::collections::BTreeMap;

use civitas_tlog::merkle::{HashReader, leaf_hash};
use civitas_tlog::note::{Checkpoint, Signer};
use civitas_tlog::tile::{MemoryTiles, TileHashes, extend, hashes_at};
use civitas_tlog::{Hash, TlogError};

use crate::{Db, StoreError, dispatch};

/// Length of the random salt that starts every entry.
pub const SALT_LEN: usize = 16;

/// Most entries integrated in one round.
const ROUND: i64 = 16_384;

/// The log's fixed facts.
#[derive(Clone)]
pub struct LogIdentity {
    pub origin: String,
    signer: std::sync::Arc<Signer>,
}

impl std::fmt::Debug for LogIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogIdentity").field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl LogIdentity {
    /// The verifier key (`<origin>+<id>+<key>`), public.
    pub fn vkey(&self) -> String {
        self.signer.vkey()
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Opens the log, creating it (origin, a new Ed25519 key, an empty signed checkpoint) on the
/// first start. `seal` and `open` protect the key's seed at rest (the operator's
/// key-encryption key), or pass it through.
pub async fn open(
    db: &Db,
    origin: &str,
    seal: impl Fn(&[u8]) -> Vec<u8>,
    unseal: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> Result<LogIdentity, StoreError> {
    let row = state(db).await?;
    let (origin, stored) = match row {
        Some((origin, stored)) => (origin, stored),
        None => {
            let mut seed = [0u8; 32];
            rand::fill(&mut seed);
            let signer = Signer::log(origin, &seed).map_err(|_| {
                StoreError::Corrupt(format!("log origin {origin:?} is not a valid key name (no spaces, no '+')"))
            })?;
            let empty = Checkpoint { origin: origin.to_owned(), size: 0, root: civitas_tlog::merkle::empty_root() };
            let note = signer.sign(&empty.text()).map_err(corrupt)?;
            let sealed = seal(&seed);
            let sql = "INSERT INTO tlog_state (id, origin, key_seed, next_index, size, checkpoint) VALUES (1, $1, $2, 0, 0, $3) \
                       ON CONFLICT (id) DO NOTHING";
            dispatch!(db, pool => sqlx::query(sql).bind(origin).bind(&sealed).bind(&note).execute(pool).await.map(|_| ()))?;
            // Another server may have created it first: read what is stored.
            state(db).await?.ok_or_else(|| corrupt("the log state row is missing"))?
        }
    };
    let seed = unseal(&stored)
        .ok_or_else(|| corrupt("the log key does not open: configure the key-encryption key it was sealed with"))?;
    let seed: [u8; 32] = seed.try_into().map_err(|_| corrupt("the log key is not 32 bytes"))?;
    let signer = Signer::log(&origin, &seed).map_err(corrupt)?;
    Ok(LogIdentity { origin, signer: std::sync::Arc::new(signer) })
}

async fn state(db: &Db) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let sql = "SELECT origin, key_seed FROM tlog_state WHERE id = 1";
    Ok(dispatch!(db, pool => sqlx::query_as::<_, (String, Vec<u8>)>(sql).fetch_optional(pool).await)?)
}

/// An entry ready to be sequenced: its bytes (salt || record) and leaf hash.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub entry: Vec<u8>,
    pub leaf: Hash,
}

/// Salts `record` and hashes it as a leaf.
pub fn prepare(record: &[u8]) -> Prepared {
    let mut salt = [0u8; SALT_LEN];
    rand::fill(&mut salt);
    let mut entry = Vec::with_capacity(SALT_LEN + record.len());
    entry.extend_from_slice(&salt);
    entry.extend_from_slice(record);
    let leaf = leaf_hash(&entry);
    Prepared { entry, leaf }
}

/// The statement that takes `n` indices: the row lock it holds until commit orders the
/// sequencing transactions of every server.
pub const TAKE_INDICES: &str = "UPDATE tlog_state SET next_index = next_index + $1 WHERE id = 1 RETURNING next_index";

/// The latest signed checkpoint and its size.
pub async fn checkpoint(db: &Db) -> Result<(u64, String), StoreError> {
    let sql = "SELECT size, checkpoint FROM tlog_state WHERE id = 1";
    let (size, note) = dispatch!(db, pool => sqlx::query_as::<_, (i64, String)>(sql).fetch_optional(pool).await)?
        .ok_or_else(|| corrupt("the transparency log is not set up"))?;
    Ok((size as u64, note))
}

/// The stored hashes of tile (level, index) (empty when it does not exist yet).
pub async fn tile(db: &Db, level: u32, index: u64) -> Result<Vec<Hash>, StoreError> {
    let sql = "SELECT hashes FROM tlog_tiles WHERE level = $1 AND idx = $2";
    let bytes = dispatch!(db, pool => sqlx::query_scalar::<_, Vec<u8>>(sql).bind(level as i64).bind(index as i64).fetch_optional(pool).await)?;
    Ok(split_hashes(&bytes.unwrap_or_default()))
}

fn split_hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes.chunks_exact(32).map(|c| c.try_into().unwrap_or([0u8; 32])).collect()
}

/// The entries `[first, first + count)`, in order.
pub async fn entries(db: &Db, first: u64, count: u64) -> Result<Vec<Vec<u8>>, StoreError> {
    let sql = "SELECT entry FROM tlog_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx";
    Ok(
        dispatch!(db, pool => sqlx::query_scalar::<_, Vec<u8>>(sql).bind(first as i64).bind((first + count) as i64).fetch_all(pool).await)?,
    )
}

/// Runs `f` over the stored tiles, fetching each tile it needs (a proof or a root reads a few
/// tiles per level).
pub async fn with_tiles<T>(
    db: &Db,
    cache: &mut MemoryTiles,
    f: impl Fn(&TileHashes<'_, MemoryTiles>) -> Result<T, TlogError>,
) -> Result<T, StoreError> {
    for _ in 0..256 {
        match f(&TileHashes(cache)) {
            Ok(v) => return Ok(v),
            Err(TlogError::MissingTile { level, index }) => {
                let hashes = tile(db, level, index).await?;
                if hashes.is_empty() {
                    return Err(corrupt(format!("tile {level}/{index} of the transparency log is missing")));
                }
                if cache.0.get(&(level, index)).is_some_and(|h| h.len() >= hashes.len()) {
                    return Err(corrupt(format!("tile {level}/{index} is shorter than the tree needs")));
                }
                cache.0.insert((level, index), hashes);
            }
            Err(e) => return Err(corrupt(e)),
        }
    }
    Err(corrupt("too many tiles for one proof"))
}

/// One integration round: the entries sequenced since the last checkpoint (at most 16,384)
/// become tiles and a new signed checkpoint, in one transaction that only commits when no
/// other server integrated meanwhile. Returns the new size (or the old one when there was
/// nothing to do).
pub async fn integrate(db: &Db, log: &LogIdentity) -> Result<u64, StoreError> {
    let sql = "SELECT size, next_index FROM tlog_state WHERE id = 1";
    let (size, next) = dispatch!(db, pool => sqlx::query_as::<_, (i64, i64)>(sql).fetch_optional(pool).await)?
        .ok_or_else(|| corrupt("the transparency log is not set up"))?;
    if next <= size {
        return Ok(size as u64);
    }
    let upto = next.min(size + ROUND);
    let sql = "SELECT idx, leaf FROM tlog_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx";
    let rows =
        dispatch!(db, pool => sqlx::query_as::<_, (i64, Vec<u8>)>(sql).bind(size).bind(upto).fetch_all(pool).await)?;
    // Entries commit in index order (the state row's lock), so a gap means a transaction is
    // still committing: integrate up to it.
    let mut leaves: Vec<Hash> = Vec::with_capacity(rows.len());
    for (i, (idx, leaf)) in rows.iter().enumerate() {
        if *idx != size + i as i64 {
            break;
        }
        leaves.push(leaf.as_slice().try_into().map_err(|_| corrupt(format!("leaf {idx} is not 32 bytes")))?);
    }
    if leaves.is_empty() {
        return Ok(size as u64);
    }
    let old = size as u64;
    let new = old + leaves.len() as u64;
    // The partial tiles at the old size, which the new hashes extend.
    let mut cache = MemoryTiles::default();
    let mut level = 0u32;
    while hashes_at(level, old) > 0 {
        let count = hashes_at(level, old);
        if !count.is_multiple_of(civitas_tlog::tile::WIDTH) {
            let index = count / civitas_tlog::tile::WIDTH;
            cache.0.insert((level, index), tile(db, level, index).await?);
        }
        level += 1;
    }
    let changed = extend(&cache, old, &leaves).map_err(corrupt)?;
    for (k, v) in &changed {
        cache.0.insert(*k, v.clone());
    }
    let root = with_tiles(db, &mut cache, |r| civitas_tlog::merkle::root(r, new)).await?;
    let note = log.signer.sign(&Checkpoint { origin: log.origin.clone(), size: new, root }.text()).map_err(corrupt)?;
    write_round(db, old, new, &changed, &note).await?;
    Ok(new)
}

async fn write_round(
    db: &Db,
    old: u64,
    new: u64,
    changed: &BTreeMap<(u32, u64), Vec<Hash>>,
    note: &str,
) -> Result<(), StoreError> {
    let _writer = db.write_lock().await;
    let upsert = "INSERT INTO tlog_tiles (level, idx, hashes) VALUES ($1, $2, $3) \
                  ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes";
    let cas = "UPDATE tlog_state SET size = $1, checkpoint = $2 WHERE id = 1 AND size = $3";
    let swapped = dispatch!(db, pool => {
        let mut tx = crate::BeginWrite::begin_write(pool).await?;
        for ((level, index), hashes) in changed {
            let bytes: Vec<u8> = hashes.iter().flatten().copied().collect();
            sqlx::query(upsert).bind(*level as i64).bind(*index as i64).bind(bytes).execute(&mut *tx).await?;
        }
        let done = sqlx::query(cas).bind(new as i64).bind(note).bind(old as i64).execute(&mut *tx).await?.rows_affected();
        if done == 1 {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        done == 1
    });
    if !swapped {
        tracing::debug!(old, "another server integrated the transparency log first; this round is dropped");
    }
    Ok(())
}

/// An inclusion proof of entry `index` in the tree of `size` leaves, from the stored tiles.
pub async fn inclusion_proof(db: &Db, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
    let mut cache = MemoryTiles::default();
    with_tiles(db, &mut cache, |r| civitas_tlog::merkle::inclusion_proof(r, index, size)).await
}

/// A consistency proof between two tree sizes, from the stored tiles.
pub async fn consistency_proof(db: &Db, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
    let mut cache = MemoryTiles::default();
    with_tiles(db, &mut cache, |r| civitas_tlog::merkle::consistency_proof(r, old, new)).await
}

/// The leaf hash of entry `index` (from the level-0 tile).
pub async fn leaf(db: &Db, index: u64) -> Result<Hash, StoreError> {
    let mut cache = MemoryTiles::default();
    with_tiles(db, &mut cache, |r| r.node(0, index)).await
}

/// Adopts access records that have no log entry yet — those written before the log existed
/// (the migration of the old access log) and those a unit of work wrote in another context's
/// transaction (a follow-up delivery's read) — as entries, oldest first, at most `limit`.
pub async fn adopt(db: &Db, limit: i64) -> Result<usize, StoreError> {
    let sql =
        concat!("SELECT ", crate::access_columns!(), " FROM access_log WHERE log_index IS NULL ORDER BY id LIMIT $1");
    let rows = dispatch!(db, pool => sqlx::query_as::<_, crate::access_log::AccessEntry>(sql).bind(limit).fetch_all(pool).await)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let prepared: Vec<Prepared> =
        rows.iter().map(|r| prepare(&crate::access_log::AccessRecord::from(r).log_record())).collect();
    let _writer = db.write_lock().await;
    let adopted = dispatch!(db, pool => {
        let mut tx = crate::BeginWrite::begin_write(pool).await?;
        let next: i64 = sqlx::query_scalar(TAKE_INDICES).bind(rows.len() as i64).fetch_one(&mut *tx).await?;
        let first = next - rows.len() as i64;
        let mut adopted = 0usize;
        for (i, (row, p)) in rows.iter().zip(&prepared).enumerate() {
            let index = first + i as i64;
            sqlx::query("INSERT INTO tlog_entries (idx, entry, leaf) VALUES ($1, $2, $3)")
                .bind(index)
                .bind(p.entry.as_slice())
                .bind(p.leaf.as_slice())
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query("UPDATE access_log SET log_index = $1 WHERE id = $2 AND log_index IS NULL")
                .bind(index)
                .bind(row.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            adopted += done as usize;
            if done != 1 {
                // Adopted meanwhile by another server: give the indices back by not committing.
                tx.rollback().await?;
                return Ok(0);
            }
        }
        tx.commit().await?;
        adopted
    });
    Ok(adopted)
}

/// Why a receipt cannot be given (yet).
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("entry {0} is not in a signed checkpoint yet; try again in a second")]
    NotYetIntegrated(u64),
    #[error("no entry {0}")]
    NoEntry(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The C2SP `tlog-proof@v1` receipt of entry `index` against the latest checkpoint. `extra`
/// holds the whole entry (salt and record), so the receipt alone proves the record was logged.
pub async fn receipt(db: &Db, index: u64) -> Result<civitas_tlog::receipt::Receipt, ReceiptError> {
    let (size, note) = checkpoint(db).await?;
    if index >= size {
        let next: i64 = dispatch!(db, pool => sqlx::query_scalar("SELECT next_index FROM tlog_state WHERE id = 1").fetch_one(pool).await).map_err(StoreError::from)?;
        return Err(if (index as i64) < next {
            ReceiptError::NotYetIntegrated(index)
        } else {
            ReceiptError::NoEntry(index)
        });
    }
    let entry = entries(db, index, 1).await?.pop().ok_or(ReceiptError::NoEntry(index))?;
    let proof = inclusion_proof(db, index, size).await?;
    Ok(civitas_tlog::receipt::Receipt { extra: Some(entry), index, proof, checkpoint: note })
}

/// The checkpoint to publish: the latest, with the witnesses' cosignatures when some were
/// collected for it.
pub async fn published_checkpoint(db: &Db) -> Result<String, StoreError> {
    let sql = "SELECT checkpoint, cosigned FROM tlog_state WHERE id = 1";
    let (note, cosigned) =
        dispatch!(db, pool => sqlx::query_as::<_, (String, String)>(sql).fetch_optional(pool).await)?
            .ok_or_else(|| corrupt("the transparency log is not set up"))?;
    Ok(if cosigned.starts_with(&note) { cosigned } else { note })
}

/// A witness of the log: where it listens and its verifier key.
#[derive(Debug, Clone)]
pub struct Witness {
    pub url: String,
    pub key: civitas_tlog::note::Verifier,
}

/// Parses `"<url> <verifier key>"`.
pub fn parse_witness(text: &str) -> Result<Witness, String> {
    let (url, key) =
        text.trim().split_once(' ').ok_or_else(|| format!("witness {text:?}: expected \"<url> <verifier key>\""))?;
    let key = civitas_tlog::note::Verifier::parse(key.trim()).map_err(|e| format!("witness {url}: {e}"))?;
    if !key.is_cosigner() {
        return Err(format!("witness {url}: the key is not a cosignature/v1 key"));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("witness {url}: not an http(s) URL"));
    }
    Ok(Witness { url: url.trim_end_matches('/').to_owned(), key })
}

/// The latest checkpoint, and the cosigned version of it collected so far (or empty).
pub async fn checkpoint_and_cosigned(db: &Db) -> Result<(u64, String, String), StoreError> {
    let sql = "SELECT size, checkpoint, cosigned FROM tlog_state WHERE id = 1";
    let (size, note, cosigned) =
        dispatch!(db, pool => sqlx::query_as::<_, (i64, String, String)>(sql).fetch_optional(pool).await)?
            .ok_or_else(|| corrupt("the transparency log is not set up"))?;
    Ok((size as u64, note, cosigned))
}

/// The size a witness cosigned last (0 before the first).
pub async fn witness_size(db: &Db, url: &str) -> Result<u64, StoreError> {
    let sql = "SELECT size FROM tlog_witnesses WHERE url = $1";
    Ok(dispatch!(db, pool => sqlx::query_scalar::<_, i64>(sql).bind(url).fetch_optional(pool).await)?.unwrap_or(0)
        as u64)
}

pub async fn set_witness_size(db: &Db, url: &str, size: u64) -> Result<(), StoreError> {
    let sql =
        "INSERT INTO tlog_witnesses (url, size) VALUES ($1, $2) ON CONFLICT (url) DO UPDATE SET size = excluded.size";
    dispatch!(db, pool => sqlx::query(sql).bind(url).bind(size as i64).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Keeps `cosigned` (the checkpoint `note` with cosignature lines) — only while `note` is still
/// the latest checkpoint.
pub async fn set_cosigned(db: &Db, note: &str, cosigned: &str) -> Result<(), StoreError> {
    let sql = "UPDATE tlog_state SET cosigned = $1 WHERE id = 1 AND checkpoint = $2";
    dispatch!(db, pool => sqlx::query(sql).bind(cosigned).bind(note).execute(pool).await.map(|_| ()))?;
    Ok(())
}
