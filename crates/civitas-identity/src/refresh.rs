//! Group commit for refresh-token rotation. Each refresh grant hands its presented token (by
//! hash) and its successor to one writer task, which rotates every queued token with a single
//! statement: `INSERT ... SELECT` of the successors of the presented tokens that are unexpired,
//! of a live grant, an active account and, unless offline, a live session, `ON CONFLICT
//! (parent_hash) DO NOTHING` (a token that already has a successor was used: the unique index
//! makes rotation single-use), `RETURNING` what was rotated. One statement is one atomic commit:
//! no transaction round trips. A grant is answered only after its rotation committed. Tokens not
//! rotated (unknown, reused, expired, revoked ...) come back as `None`; the caller then reads the
//! row to give the precise error (and to revoke a reused token's family).

use sqlx::QueryBuilder;
use tokio::sync::{mpsc, oneshot};

use civitas_store::{Db, StoreError, dispatch};

/// A rotated token: its hash and its grant family.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Consumed {
    pub token_hash: Vec<u8>,
    pub family: String,
}

struct Job {
    hash: Vec<u8>,
    successor: Vec<u8>,
    now: i64,
    reply: oneshot::Sender<Result<Option<String>, String>>,
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
                            let _ = job.reply.send(Ok(found.map(|c| c.family)));
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
    pub async fn rotate(&self, hash: Vec<u8>, successor: Vec<u8>, now: i64) -> Result<Option<String>, StoreError> {
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
        let mut qb = QueryBuilder::new(
            "INSERT INTO refresh_tokens (token_hash, parent_hash, family, expires_at) SELECT CASE r.token_hash",
        );
        for j in jobs {
            qb.push(" WHEN ");
            qb.push_bind(j.hash.as_slice());
            qb.push(" THEN ");
            qb.push_bind(j.successor.as_slice());
        }
        qb.push(" END, r.token_hash, r.family, CASE WHEN g.session_hash IS NULL THEN ");
        qb.push_bind(now + crate::oidc::OFFLINE_TTL);
        qb.push(" ELSE ");
        qb.push_bind(now + crate::oidc::SESSION_TTL);
        qb.push(" END FROM refresh_tokens r JOIN grants g ON g.family = r.family WHERE g.revoked_at IS NULL AND r.expires_at > ");
        qb.push_bind(now);
        qb.push(
            " AND EXISTS (SELECT 1 FROM accounts a WHERE a.pid = g.pid AND a.state = 'active') \
              AND (g.session_hash IS NULL OR EXISTS (SELECT 1 FROM browser_sessions s \
                   WHERE s.id_hash = g.session_hash AND s.ended_at IS NULL AND s.expires_at > ",
        );
        qb.push_bind(now);
        qb.push(")) AND r.token_hash IN (");
        let mut list = qb.separated(", ");
        for j in jobs {
            list.push_bind(j.hash.as_slice());
        }
        qb.push(") ON CONFLICT (parent_hash) DO NOTHING RETURNING parent_hash AS token_hash, family");
        qb.build_query_as::<Consumed>().fetch_all(pool).await
    })?;
    Ok(consumed)
}
