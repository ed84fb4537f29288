//! The transparency log's formats, without I/O (`../shared/TLOG.md` has the facts).
//!
//! - [`merkle`]: RFC 6962 §2.1 hashing, roots, inclusion and consistency proofs over any
//!   [`merkle::HashReader`] (the stored tiles), and their verification.
//! - [`tile`]: C2SP tlog-tiles paths (`tile/<L>/<N>[.p/<W>]`, height 8) and entry bundles.
//! - [`note`]: C2SP signed notes with Ed25519 keys (verifier keys, key IDs), checkpoints, and
//!   `cosignature/v1` witness signatures.
//! - [`receipt`]: C2SP `tlog-proof@v1` receipts: an entry's index, its inclusion proof and the
//!   checkpoint it is proved against, verifiable offline with the log's verifier key.

pub mod merkle;
pub mod note;
pub mod receipt;
pub mod tile;
pub mod witness;

/// A SHA-256 hash.
pub type Hash = [u8; 32];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TlogError {
    #[error("index {index} is not below the tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old size {old} is larger than the new size {new}")]
    BadSizes { old: u64, new: u64 },
    #[error("the proof does not lead to the root")]
    BadProof,
    #[error("a hash the proof needs is missing: level {level}, index {index}")]
    MissingHash { level: u32, index: u64 },
    #[error("tile {level}/{index} is not at hand")]
    MissingTile { level: u32, index: u64 },
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    #[error("malformed verifier key")]
    MalformedKey,
    #[error("no known key verifies the note")]
    UnverifiedNote,
    #[error("a signature of a known key is invalid")]
    InvalidSignature,
    #[error("malformed receipt: {0}")]
    MalformedReceipt(&'static str),
    #[error("malformed tile path")]
    MalformedTilePath,
}
