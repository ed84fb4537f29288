//! Direct SQLite access (rusqlite) for the few hot paths where sqlx's design costs more than the
//! query itself.
//!
//! sqlx runs every SQLite connection on a worker thread of its own and hands each statement to
//! it through channels: a point read of one person costs two cross-thread wake-ups and a
//! statement round trip that take longer than SQLite's B-tree lookup (microseconds, the pages in
//! memory). The paths that run thousands of times per second therefore use plain connections
//! to the same file:
//!
//! - [`Direct::read`] runs a read on the calling thread, on a read-only connection taken from a
//!   small pool (WAL: readers see every committed transaction and never block the writer);
//! - [`Direct::write`] runs a bulk write (an import batch) on a kept read-write connection;
//! - [`Direct::open_writer`] opens a read-write connection with the server's pragmas, for a
//!   thread that owns it (the access-log writer, the WAL checkpointer).
//!
//! Everything else keeps using the sqlx pool.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Connections to one SQLite file, outside sqlx.
#[derive(Debug)]
pub struct Direct {
    path: PathBuf,
    synchronous: &'static str,
    /// Whether commits checkpoint the WAL (off in a server, which checkpoints in the background).
    autocheckpoint: bool,
    cache_kib: u32,
    readers: Mutex<Vec<Connection>>,
    /// The connection of [`Direct::write`], kept with its page cache between calls.
    writer: Mutex<Option<Connection>>,
    writer_cache_kib: u32,
    /// Idle readers kept; more may be open for a moment under load.
    keep: usize,
}

impl Direct {
    /// For the file at `path` (which sqlx has already created and migrated or will). The file
    /// is opened lazily, by the first read.
    pub fn new(path: &Path, synchronous: &'static str, autocheckpoint: bool, cache_kib: u32, keep: usize) -> Self {
        Direct {
            path: path.to_owned(),
            synchronous,
            autocheckpoint,
            cache_kib,
            readers: Mutex::new(Vec::new()),
            keep,
            writer: Mutex::new(None),
            // A bulk tool (autocheckpoint on) writes large batches through it.
            writer_cache_kib: if autocheckpoint { 65_536 } else { 4_096 },
        }
    }

    /// Runs `f` on this process's direct write connection, on the calling thread. Meant for
    /// bulk writes (an import batch); the caller holds the process's writer lock
    /// ([`crate::Db::write_lock`]) and `f` opens its own transaction. A connection whose call
    /// failed is closed, and the next call opens a fresh one.
    pub fn write<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, crate::StoreError> {
        let mut slot = self.writer.lock().map_err(|_| crate::StoreError::Corrupt("direct writer poisoned".into()))?;
        let conn = match &mut *slot {
            Some(c) => c,
            None => slot.insert(self.open_writer(self.writer_cache_kib)?),
        };
        let result = f(conn);
        if result.is_err() {
            *slot = None;
        }
        Ok(result?)
    }

    /// Runs `f` on an idle read-only connection, on the calling thread. For reads that take
    /// microseconds (point reads by key): a long scan here would hold up the async worker
    /// thread that calls it.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, crate::StoreError> {
        let idle = self.readers.lock().ok().and_then(|mut v| v.pop());
        let conn = match idle {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let result = f(&conn);
        if let Ok(mut v) = self.readers.lock()
            && v.len() < self.keep
        {
            v.push(conn);
        }
        Ok(result?)
    }

    fn open_reader(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "cache_size", format!("-{}", self.cache_kib))?;
        Ok(conn)
    }

    /// A read-write connection with the pragmas of this database's pool (WAL, the same
    /// `synchronous`, no automatic checkpoints when the server checkpoints in the background).
    pub fn open_writer(&self, cache_kib: u32) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", self.synchronous)?;
        conn.pragma_update(None, "cache_size", format!("-{cache_kib}"))?;
        conn.pragma_update(None, "temp_store", "memory")?;
        conn.pragma_update(None, "wal_autocheckpoint", if self.autocheckpoint { "1000" } else { "0" })?;
        conn.pragma_update(None, "journal_size_limit", "67108864")?;
        Ok(conn)
    }
}

/// Runs blocking `f` from async code: on a multi-threaded runtime through
/// [`tokio::task::block_in_place`] (the worker's other tasks move to another thread), on a
/// current-thread runtime (tests) in place.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}
