//! Change notifications between the servers of one database: a server that changes something
//! every server caches (the signing keys) says so on a channel, and every server listening
//! re-reads it at once. PostgreSQL `NOTIFY` / `LISTEN`; on SQLite there is nothing to send
//! (the servers of one file poll).

use std::future::Future;
use std::time::Duration;

use sqlx::postgres::PgListener;

use crate::{Db, StoreError};

/// The signing keys changed (a rotation, a retirement).
pub const KEYS: &str = "civitas_keys";

/// Tells every server listening on `channel` that something changed (delivered when the
/// caller's transaction, if any, commits; here: at once).
pub async fn notify(db: &Db, channel: &str) -> Result<(), StoreError> {
    if let Db::Postgres(pool) = db {
        sqlx::query("SELECT pg_notify($1, '')").bind(channel).execute(pool).await?;
    }
    Ok(())
}

/// Runs `changed` each time `channel` is notified, and each time listening starts again after
/// the connection was lost (a notification may have been missed meanwhile). One connection
/// of the pool is held for it. PostgreSQL only (returns at once on SQLite); ends when the pool
/// closes.
pub fn listen<F, Fut>(db: &Db, channel: &'static str, changed: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let Db::Postgres(pool) = db else { return };
    let pool = pool.clone();
    tokio::spawn(async move {
        while !pool.is_closed() {
            let listening = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(channel).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let mut listener = match listening.await {
                Ok(l) => l,
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::debug!(channel, error = %e, "cannot listen for changes yet; trying again in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            changed().await;
            loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => changed().await,
                    // The connection was lost: listen anew (and catch up) on a fresh one.
                    Ok(None) => break,
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(e) => {
                        tracing::debug!(channel, error = %e, "listening for changes failed; starting again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    });
}
