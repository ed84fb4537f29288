//! The one database of civitas, SQLite (embedded default) or PostgreSQL, chosen by URL.
//!
//! Owns connection set-up, migrations for both backends, the append-only `events` table (every
//! state change writes its events in the same transaction) and the append-only access log.
//! Contexts write their SQL once, in the portable subset both databases accept (`$1`
//! placeholders, `ON CONFLICT`, `RETURNING`), and run it on either pool with [`dispatch!`].

pub mod access_log;
pub mod archive;
pub mod backup;
pub mod changes;
pub mod claims;
pub mod direct;
pub mod events;
pub mod jobs;
pub mod outbox;
pub mod sequences;
pub mod tlog;
pub mod transfer;
pub mod unit;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use events::NewEvent;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL must start with sqlite:// or postgres://, got {0:?}")]
    UnsupportedUrl(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Whether the database could not be reached (down, restarting, out of connections, or
    /// no connection free in time), as opposed to a failed statement.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(e) => sqlx_unavailable(e),
            _ => false,
        }
    }
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(d) => {
            // PostgreSQL: connection exceptions (08xxx), shutting down / starting up (57P01-03),
            // too many connections (53300).
            d.code().is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300"))
        }
        _ => false,
    }
}

/// Whether `e` (one link of an error chain) says the database could not be reached.
pub fn unavailable(e: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(s) = e.downcast_ref::<StoreError>() {
        return s.is_unavailable();
    }
    e.downcast_ref::<sqlx::Error>().is_some_and(sqlx_unavailable)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How a server's connection pool behaves (configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// PostgreSQL connections this process may open (default 16; six servers at 16 fill a
    /// default PostgreSQL's 100).
    pub max_connections: u32,
    /// How long a request waits for a free connection (or a new one) before the database is
    /// considered unavailable (default 2 s).
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings { max_connections: 16, acquire_timeout: Duration::from_secs(2) }
    }
}

/// What a connection pool is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Server,
    Bulk,
}

/// A connection pool to one of the two supported databases. A SQLite pool comes with what this
/// process shares about the file: the in-process writer lock (see [`Db::write_lock`]) and the
/// direct connections of the hot paths (see [`direct`]).
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool, Local),
    Postgres(PgPool),
}

/// What one process shares about one SQLite file besides the sqlx pool.
#[derive(Clone, Debug, Default)]
pub struct Local {
    /// Serializes write transactions on the file inside this process.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Plain connections for hot paths; `None` for an in-memory database (a second connection
    /// would see another, empty database).
    direct: Option<std::sync::Arc<direct::Direct>>,
}

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend `$db` is. The body
/// is compiled once per backend, so it may use every sqlx API with concrete types.
#[macro_export]
macro_rules! dispatch {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool, _) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// PostgreSQL connection options with `random_page_cost` 1.1, unless they set it already.
fn with_random_page_cost(options: PgConnectOptions) -> PgConnectOptions {
    if options.get_options().is_some_and(|o| o.contains("random_page_cost")) {
        return options;
    }
    options.options([("random_page_cost", "1.1")])
}

impl Db {
    /// Connects to `url` (`sqlite://path`, `sqlite::memory:` or `postgres://...`), creating a
    /// SQLite file on first use.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        Self::connect_with(url, Usage::Server).await
    }

    /// Connects for `usage` with the default pool settings.
    pub async fn connect_with(url: &str, usage: Usage) -> Result<Db, StoreError> {
        Self::connect_tuned(url, usage, &PoolSettings::default()).await
    }

    /// Connects for `usage`: a server shares a few connections with modest page caches (each
    /// SQLite connection has its own cache); a bulk tool uses one connection with a large cache.
    /// On PostgreSQL `pool` sets how many connections this process may open and how long a
    /// request waits for one before it is answered 503.
    pub async fn connect_tuned(url: &str, usage: Usage, pool: &PoolSettings) -> Result<Db, StoreError> {
        let (connections, cache_kib) = match usage {
            Usage::Server => (4, 8_192),
            Usage::Bulk => (1, 65_536),
        };
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(if usage == Usage::Server {
                    // Every acknowledged write survives a power loss, not only a crash of the
                    // process (group commit keeps the flushes few).
                    SqliteSynchronous::Full
                } else {
                    SqliteSynchronous::Normal
                })
                .busy_timeout(Duration::from_secs(10))
                .pragma("cache_size", format!("-{cache_kib}"))
                .pragma("temp_store", "memory")
                // A server checkpoints the WAL from a background task (below) instead of inside
                // whichever commit crosses the threshold, which would stall every request
                // waiting on that commit for tens of milliseconds.
                .pragma("wal_autocheckpoint", if usage == Usage::Server { "0" } else { "1000" })
                // The WAL file is cut back to this size when it restarts.
                .pragma("journal_size_limit", "67108864");
            // A local file needs no liveness probe on every checkout (sqlx's default spends a
            // round trip to the connection's worker thread on each one).
            let pool = SqlitePoolOptions::new()
                .max_connections(connections)
                .min_connections(1)
                .acquire_timeout(pool.acquire_timeout)
                .test_before_acquire(false)
                .connect_with(options.clone())
                .await?;
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let direct = (!in_memory).then(|| {
                let synchronous = if usage == Usage::Server { "FULL" } else { "NORMAL" };
                // Two async worker threads read at a time; a third connection covers a moment
                // of overlap with a blocking task. Small caches: point reads need the interior
                // pages cached, the leaves come from the OS page cache (server RSS < 150 MB).
                std::sync::Arc::new(direct::Direct::new(
                    options.get_filename(),
                    synchronous,
                    usage == Usage::Bulk,
                    4_096,
                    3,
                ))
            });
            let writer: std::sync::Arc<tokio::sync::Mutex<()>> = Default::default();
            if usage == Usage::Server {
                match &direct {
                    Some(direct) => {
                        let (pool, writer, direct) = (pool.clone(), writer.clone(), std::sync::Arc::downgrade(direct));
                        std::thread::Builder::new()
                            .name("wal-checkpoint".into())
                            .spawn(move || checkpoint_in_background(pool, writer, direct))
                            .map_err(|e| StoreError::Corrupt(format!("cannot start the checkpoint thread: {e}")))?;
                    }
                    None => {
                        tokio::spawn(checkpoint_passively(pool.clone()));
                    }
                }
            }
            Ok(Db::Sqlite(pool, Local { writer, direct }))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // The planner's default cost of a random page (4.0) is for spinning disks: with it,
            // a steering figure that seeks a few thousand (month, unit) keys was planned as a
            // sequential scan of the whole fact table (form 06a of Hà Nội: 335 ms at p95 on a
            // 200 k-event log instead of about 20). 1.1 is the usual value for SSDs and cached
            // data; an operator who wants another sets it in the URL
            // (`?options=-c%20random_page_cost%3D2`), which is then left alone.
            let mut options = PgConnectOptions::from_str(url)?;
            options = with_random_page_cost(options);
            if usage == Usage::Bulk {
                // Bulk statements of tens of thousands of rows are slow by nature.
                options = sqlx::ConnectOptions::disable_statement_logging(options);
            }
            let max = if usage == Usage::Bulk { connections * 4 } else { pool.max_connections.max(1) };
            let pool = PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(pool.acquire_timeout)
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// A pool to a PostgreSQL streaming replica for read-only work. Connections are opened on
    /// first use (a replica that is down at start-up does not stop the server; its reads fall
    /// back to the primary) and every transaction on them is read-only, so a replica URL that
    /// points at a primary by mistake cannot be written through.
    pub fn connect_replica(url: &str, pool: &PoolSettings) -> Result<Db, StoreError> {
        if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
            return Err(StoreError::UnsupportedUrl(format!("{url} (a replica must be postgres://...)")));
        }
        let options = PgConnectOptions::from_str(url)?.options([("default_transaction_read_only", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(pool.max_connections.max(1))
            .acquire_timeout(pool.acquire_timeout)
            .connect_lazy_with(options);
        Ok(Db::Postgres(pool))
    }

    /// Whether the pool was closed (the process is shutting down or a test closed it).
    pub fn is_closed(&self) -> bool {
        dispatch!(self, pool => pool.is_closed())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(pool, _) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// On SQLite, waits for this process's turn to write and returns the guard to hold for the
    /// duration of a write transaction; on PostgreSQL, `None` (it has row locks). SQLite allows
    /// one writer at a time: without this, concurrent write transactions on different pool
    /// connections find the database locked and back off in the busy handler (milliseconds of
    /// sleeping), which costs far more under load than waiting in line.
    pub async fn write_lock(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self {
            Db::Sqlite(_, local) => Some(local.writer.clone().lock_owned().await),
            Db::Postgres(_) => None,
        }
    }

    /// The in-process writer lock of a SQLite database (`None` on PostgreSQL), for a thread
    /// outside the async runtime that writes through a [`direct`] connection.
    pub fn writer_lock(&self) -> Option<std::sync::Arc<tokio::sync::Mutex<()>>> {
        match self {
            Db::Sqlite(_, local) => Some(local.writer.clone()),
            Db::Postgres(_) => None,
        }
    }

    /// The direct connections of a SQLite file database (see [`direct`]); `None` on PostgreSQL
    /// and for an in-memory SQLite database.
    pub fn direct(&self) -> Option<&std::sync::Arc<direct::Direct>> {
        match self {
            Db::Sqlite(_, local) => local.direct.as_ref(),
            Db::Postgres(_) => None,
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        dispatch!(self, pool => pool.close().await)
    }
}

/// A server's WAL checkpoints, from a thread of their own with a direct connection.
///
/// SQLite starts the log over only when a checkpoint has copied all of it and no reader still
/// reads an older snapshot from it. Under a steady load of short reads and access-log commits,
/// passive checkpoints never see that moment: the log grew without bound (half a gigabyte in
/// 20 s of the lookup benchmark, and every read searches its index). So every 100 ms this runs a
/// `RESTART` checkpoint that does not wait for readers (busy timeout 0: with a reader on the
/// log it copies what it can, like a passive one, and the next tick tries again), holding the
/// process's writer lock meanwhile so that no writer of this process sleeps in SQLite's busy
/// handler. The log then stays within `journal_size_limit` (64 MiB).
///
/// Measured alternatives (lookup benchmark, half load): passive checkpoints only, p99 7 ms but
/// an unbounded log; a passive copy first and a restart only past 16-64 MiB of log, p99
/// 29-63 ms, because a restart of a long log holds writers up for 25-100 ms.
fn checkpoint_in_background(
    pool: SqlitePool,
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    direct: std::sync::Weak<direct::Direct>,
) {
    let mut conn = None;
    while !pool.is_closed() {
        std::thread::sleep(Duration::from_millis(100));
        // Ends with the last handle of the database (a closed pool or a dropped `Db`).
        let Some(direct) = direct.upgrade() else { break };
        let _writer = writer.blocking_lock();
        let result = (|| -> rusqlite::Result<()> {
            let conn = match &mut conn {
                Some(c) => c,
                None => conn.insert(direct.open_writer(256)?),
            };
            conn.busy_timeout(Duration::ZERO)?;
            conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
        })();
        if let Err(e) = result {
            tracing::warn!(error = %e, "WAL checkpoint failed");
            conn = None;
        }
    }
}

/// The checkpoints of a server on an in-memory database (no direct connection).
async fn checkpoint_passively(pool: SqlitePool) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    while !pool.is_closed() {
        tick.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await
            && !pool.is_closed()
        {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// Appends one field and its tab in PostgreSQL's `COPY ... FROM STDIN` text format: `\N` for
/// NULL, backslash, tab, newline and carriage return escaped.
pub fn copy_field(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.extend_from_slice(b"\\N"),
        Some(s) => {
            for b in s.bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(b),
                }
            }
        }
    }
    out.push(b'\t');
}

/// Turns the last field's tab into the end of the row (after [`copy_field`]s).
pub fn end_copy_row(out: &mut [u8]) {
    if let Some(last) = out.last_mut() {
        *last = b'\n';
    }
}

/// Formats an instant the way every table stores it: RFC 3339, UTC, microseconds, so that text
/// order is time order on both backends.
pub fn timestamp(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        at.month() as u8,
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

/// Starting a write transaction. On SQLite it is `BEGIN IMMEDIATE`: a transaction that reads
/// before it writes would otherwise start as a reader and, if another connection committed in
/// between, fail at its first write with `SQLITE_BUSY_SNAPSHOT`, which no busy timeout retries.
/// Immediate transactions take the write lock first and wait for it in the busy handler.
pub trait BeginWrite {
    type Database: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_connections_plan_for_cached_data_unless_the_url_says_otherwise() {
        let set = |url: &str| PgConnectOptions::from_str(url).map(with_random_page_cost).ok();
        let default = set("postgres://u@h/db");
        assert_eq!(default.as_ref().and_then(|o| o.get_options()), Some("-c random_page_cost=1.1"));
        let chosen = set("postgres://u@h/db?options=-c%20random_page_cost%3D2");
        assert_eq!(chosen.as_ref().and_then(|o| o.get_options()), Some("-c random_page_cost=2"));
    }
}
