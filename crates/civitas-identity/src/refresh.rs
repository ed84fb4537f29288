//! Group commit for refresh-token rotation. Each refresh grant hands its presented token (by
//! hash) and its successor to one writer task, which consumes every queued token with a single
//! `UPDATE ... RETURNING` (only tokens that are unused, unexpired, of a live grant, an active
//! account and, unless offline, a live session) and stores their successors with one multi-row
//! `INSERT`, in one transaction. A grant is answered only after its rotation committed. Tokens
//! the statement did not consume (unknown, reused, expired, revoked ...) come back as `None`; the
//! caller then reads the row to give the precise error (and to revoke a reused token's family).

use sqlx::QueryBuilder;
use tokio::sync::{mpsc, oneshot};

use civitas_store::{Db, StoreError, dispatch};

/// A consumed token's row, for the successor and the new tokens.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Consumed {
    pub token_hash: Vec<u8>,
    pub family: String,
    pub client_id: String,
    pub pid: String,
    pub grant_data: String,
    pub session_hash: Option<Vec<u8>>,
}

struct Job {
    hash: Vec<u8>,
    successor: Vec<u8>,
    now: i64,
    reply: oneshot::Sender<Result<Option<Consumed>, String>>,
}

#[derive(Clone)]
pub(crate) struct RefreshWriter {
    queue: mpsc::Sender<Job>,
}

const BATCH: usize = 256;

impl RefreshWriter {
    pub fn start(db: Db) -> RefreshWriter {
        let (queue, mut rx) = mpsc::channel::<Job>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                // Let the requests that are being handled right now join this batch: a batch has a
                // fixed cost (a transaction) that a lone job would pay alone.
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                    while jobs.len() < BATCH {
                        match rx.try_recv() {
                            Ok(more) => jobs.push(more),
                            Err(_) => break,
                        }
                    }
                }
                let started = std::time::Instant::now();
                let result = rotate(&db, &jobs).await;
                tracing::debug!(
                    batch = jobs.len(),
                    micros = started.elapsed().as_micros() as u64,
                    "refresh rotation batch"
                );
                match result {
                    Ok(mut consumed) => {
                        for job in jobs {
                            let found =
                                consumed.iter().position(|c| c.token_hash == job.hash).map(|i| consumed.swap_remove(i));
                            let _ = job.reply.send(Ok(found));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = ?e, "refresh token rotation failed");
                        for job in jobs {
                            let _ = job.reply.send(Err("refresh token storage failed".into()));
                        }
                    }
                }
            }
        });
        RefreshWriter { queue }
    }

    /// Consumes the token with hash `hash` and stores `successor` in its place; `None` when the
    /// token could not be consumed.
    pub async fn rotate(&self, hash: Vec<u8>, successor: Vec<u8>, now: i64) -> Result<Option<Consumed>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Corrupt("the refresh token writer stopped".into());
        self.queue.send(Job { hash, successor, now, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(StoreError::Corrupt)
    }
}

async fn rotate(db: &Db, jobs: &[Job]) -> Result<Vec<Consumed>, StoreError> {
    let now = jobs.iter().map(|j| j.now).max().unwrap_or_default();
    let _writer = db.write_lock().await;
    let consumed = dispatch!(db, pool => {
        let mut tx = pool.begin().await?;
        let mut qb = QueryBuilder::new("UPDATE refresh_tokens SET used_at = ");
        qb.push_bind(now);
        qb.push(" WHERE used_at IS NULL AND expires_at > ");
        qb.push_bind(now);
        qb.push(
            " AND EXISTS (SELECT 1 FROM grants g WHERE g.family = refresh_tokens.family AND g.revoked_at IS NULL) \
              AND EXISTS (SELECT 1 FROM accounts a WHERE a.pid = refresh_tokens.pid AND a.state = 'active') \
              AND (refresh_tokens.session_hash IS NULL OR EXISTS (SELECT 1 FROM browser_sessions s \
                   WHERE s.id_hash = refresh_tokens.session_hash AND s.ended_at IS NULL AND s.expires_at > ",
        );
        qb.push_bind(now);
        qb.push(")) AND token_hash IN (");
        let mut list = qb.separated(", ");
        for j in jobs {
            list.push_bind(j.hash.as_slice());
        }
        qb.push(") RETURNING token_hash, family, client_id, pid, grant_data, session_hash");
        let consumed: Vec<Consumed> = qb.build_query_as().fetch_all(&mut *tx).await?;
        if !consumed.is_empty() {
            let mut insert = QueryBuilder::new(
                "INSERT INTO refresh_tokens (token_hash, family, client_id, pid, session_hash, grant_data, expires_at) ",
            );
            insert.push_values(consumed.iter(), |mut b, c| {
                let successor = jobs.iter().find(|j| j.hash == c.token_hash).map(|j| j.successor.clone()).unwrap_or_default();
                let ttl = if c.session_hash.is_some() { crate::oidc::SESSION_TTL } else { crate::oidc::OFFLINE_TTL };
                b.push_bind(successor)
                    .push_bind(c.family.clone())
                    .push_bind(c.client_id.clone())
                    .push_bind(c.pid.clone())
                    .push_bind(c.session_hash.clone())
                    .push_bind(c.grant_data.clone())
                    .push_bind(now + ttl);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(consumed)
    })?;
    Ok(consumed)
}
