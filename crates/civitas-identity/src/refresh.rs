//! Refresh tokens and their group-committed rotation.
//!
//! A refresh token is `<id>.<secret>`: the row id (a sequence, so new rows append to the end of
//! the table's B-tree instead of landing on random pages) and 256 random bits, of which only the
//! SHA-256 is stored. Each refresh grant hands its presented token and its successor's secret
//! hash to one writer task, which rotates every queued token with a single statement:
//! `INSERT ... SELECT` of the successors of the presented tokens whose secret matches and that
//! are unexpired, of a live grant, an active account and, unless offline, a live session, `ON
//! CONFLICT (parent_id) DO NOTHING` (a token that already has a successor was used: the unique
//! index makes rotation single-use, also between concurrent requests), `RETURNING` the new ids.
//! One statement is one atomic commit. A grant is answered only after its rotation committed.
//! Tokens not rotated (unknown, reused, expired, revoked ...) come back as `None`; the caller
//! then reads the row to give the precise error (and to revoke a reused token's family).

use sqlx::QueryBuilder;
use tokio::sync::{mpsc, oneshot};

use civitas_store::{Db, StoreError, dispatch};

use crate::secret::{digest, random_token};

/// How long a browser session (and the refresh tokens bound to it) lasts, in seconds.
pub const SESSION_TTL: i64 = 8 * 3600;
/// How long an offline grant's refresh token lasts without use, in seconds.
pub const OFFLINE_TTL: i64 = 30 * 86_400;

/// A refresh token as presented: its row id and the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Presented {
    pub id: i64,
    pub secret_hash: Vec<u8>,
}

/// Splits `<id>.<secret>`; `None` for anything else.
pub(crate) fn parse(token: &str) -> Option<Presented> {
    let (id, secret) = token.trim().split_once('.')?;
    let id: i64 = id.parse().ok().filter(|i| *i > 0)?;
    (secret.len() >= 32 && !secret.contains('.')).then(|| Presented { id, secret_hash: digest(secret) })
}

/// A new secret and its hash; the token string is made once the row id is known.
pub(crate) fn new_secret() -> (String, Vec<u8>) {
    let secret = random_token(32);
    let hash = digest(&secret);
    (secret, hash)
}

pub(crate) fn token_string(id: i64, secret: &str) -> String {
    format!("{id}.{secret}")
}

/// A rotated token: the presented token's id, its successor's id, and the grant family.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Rotated {
    id: i64,
    parent_id: i64,
    family: String,
}

struct Job {
    presented: Presented,
    successor_hash: Vec<u8>,
    now: i64,
    reply: oneshot::Sender<Result<Option<(i64, String)>, String>>,
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
            // Jobs for a token already in the running batch wait for the next one, so that each
            // batch names a token once.
            let mut deferred: Vec<Job> = Vec::new();
            loop {
                let mut jobs: Vec<Job> = Vec::new();
                if deferred.is_empty() {
                    match rx.recv().await {
                        Some(first) => jobs.push(first),
                        None => break,
                    }
                }
                let mut carry = std::mem::take(&mut deferred);
                // Let the requests being handled right now join this batch: a batch has a fixed
                // cost that a lone job would pay alone.
                for round in 0..4 {
                    if round > 0 {
                        tokio::task::yield_now().await;
                    }
                    while jobs.len() + carry.len() < BATCH {
                        match rx.try_recv() {
                            Ok(more) => carry.push(more),
                            Err(_) => break,
                        }
                    }
                }
                for job in carry {
                    if jobs.iter().any(|j| j.presented.id == job.presented.id) {
                        deferred.push(job);
                    } else {
                        jobs.push(job);
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
                    Ok(rotated) => {
                        for job in jobs {
                            let found = rotated
                                .iter()
                                .find(|r| r.parent_id == job.presented.id)
                                .map(|r| (r.id, r.family.clone()));
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

    /// Consumes `presented` and stores a successor with `successor_hash` in its place: the
    /// successor's id and the grant family, or `None` when the token could not be consumed.
    pub async fn rotate(
        &self,
        presented: Presented,
        successor_hash: Vec<u8>,
        now: i64,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Corrupt("the refresh token writer stopped".into());
        self.queue.send(Job { presented, successor_hash, now, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(StoreError::Corrupt)
    }
}

async fn rotate(db: &Db, jobs: &[Job]) -> Result<Vec<Rotated>, StoreError> {
    if jobs.is_empty() {
        return Ok(vec![]);
    }
    let now = jobs.iter().map(|j| j.now).max().unwrap_or_default();
    let _writer = db.write_lock().await;
    let rotated = dispatch!(db, pool => {
        let mut qb = QueryBuilder::new("INSERT INTO refresh_tokens (secret_hash, parent_id, family, expires_at) SELECT CASE r.id");
        for j in jobs {
            qb.push(" WHEN ");
            qb.push_bind(j.presented.id);
            qb.push(" THEN ");
            qb.push_bind(j.successor_hash.as_slice());
        }
        qb.push(" END, r.id, r.family, CASE WHEN g.session_hash IS NULL THEN ");
        qb.push_bind(now + OFFLINE_TTL);
        qb.push(" ELSE ");
        qb.push_bind(now + SESSION_TTL);
        qb.push(" END FROM refresh_tokens r JOIN grants g ON g.family = r.family WHERE r.secret_hash = CASE r.id");
        for j in jobs {
            qb.push(" WHEN ");
            qb.push_bind(j.presented.id);
            qb.push(" THEN ");
            qb.push_bind(j.presented.secret_hash.as_slice());
        }
        qb.push(" END AND g.revoked_at IS NULL AND r.expires_at > ");
        qb.push_bind(now);
        qb.push(
            " AND EXISTS (SELECT 1 FROM accounts a WHERE a.pid = g.pid AND a.state = 'active') \
              AND (g.session_hash IS NULL OR EXISTS (SELECT 1 FROM browser_sessions s \
                   WHERE s.id_hash = g.session_hash AND s.ended_at IS NULL AND s.expires_at > ",
        );
        qb.push_bind(now);
        qb.push(")) AND r.id IN (");
        let mut list = qb.separated(", ");
        for j in jobs {
            list.push_bind(j.presented.id);
        }
        qb.push(") ON CONFLICT (parent_id) DO NOTHING RETURNING id, parent_id, family");
        qb.build_query_as::<Rotated>().fetch_all(pool).await
    })?;
    Ok(rotated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse() {
        let (secret, hash) = new_secret();
        let token = token_string(42, &secret);
        assert_eq!(parse(&token), Some(Presented { id: 42, secret_hash: hash }));
        assert_eq!(parse("42"), None);
        assert_eq!(parse("x.abcdefabcdefabcdefabcdefabcdefabcdef"), None);
        assert_eq!(parse("0.abcdefabcdefabcdefabcdefabcdefabcdef"), None);
        assert_eq!(parse("7.short"), None);
    }
}
