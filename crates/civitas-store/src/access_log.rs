//! The append-only log of reads of personal data. Every read of a person's record by a token
//! holder goes through [`AccessLogger::append`]; a later stage exposes it to citizens and makes it a Merkle
//! log, which is why it lives apart from the domain tables.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AccessEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub role: String,
    pub unit: String,
    pub purpose: Option<String>,
    pub subject_pid: String,
    pub fields: String,
    pub request_id: Option<String>,
}

/// The reads of one person's data, newest first.
pub async fn for_subject(db: &crate::Db, pid: &str, limit: i64) -> Result<Vec<AccessEntry>, crate::StoreError> {
    let sql = "SELECT id, at, actor, role, unit, purpose, subject_pid, fields, request_id FROM access_log \
               WHERE subject_pid = $1 ORDER BY id DESC LIMIT $2";
    let rows = crate::dispatch!(db, pool => sqlx::query_as::<_, AccessEntry>(sql).bind(pid).bind(limit).fetch_all(pool).await)?;
    Ok(rows)
}

/// One read of one person's data, as handed to the [`AccessLogger`].
#[derive(Debug, Clone)]
pub struct AccessRecord {
    /// Who read: the token's subject.
    pub actor: String,
    pub role: String,
    pub unit: String,
    pub purpose: Option<String>,
    pub subject_pid: String,
    pub fields: String,
    pub request_id: Option<String>,
    pub at: String,
}

type Pending = (Vec<AccessRecord>, tokio::sync::oneshot::Sender<Result<(), String>>);

/// Group commit for the access log: each request hands over its records and waits until they
/// are committed (a read is never answered without its record), while one writer task commits
/// everything that queued up meanwhile in one transaction. Under load this turns thousands of
/// single-row commits per second into a few multi-row ones.
#[derive(Clone)]
pub struct AccessLogger {
    queue: tokio::sync::mpsc::Sender<Pending>,
}

impl AccessLogger {
    /// Starts the writer task on the current runtime.
    pub fn start(db: crate::Db) -> Self {
        let (queue, mut rx) = tokio::sync::mpsc::channel::<Pending>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < 256 {
                    match rx.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                let records: Vec<&AccessRecord> = batch.iter().flat_map(|(r, _)| r.iter()).collect();
                let result = write_batch(&db, &records).await.map_err(|e| {
                    tracing::error!(error = ?e, "writing the access log failed");
                    "the access log could not be written".to_owned()
                });
                for (_, reply) in batch {
                    let _ = reply.send(result.clone());
                }
            }
        });
        AccessLogger { queue }
    }

    /// Appends `records` and returns once they are committed.
    pub async fn append(&self, records: Vec<AccessRecord>) -> Result<(), crate::StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stopped = || crate::StoreError::Corrupt("the access log writer stopped".into());
        self.queue.send((records, tx)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?.map_err(crate::StoreError::Corrupt)
    }
}

async fn write_batch(db: &crate::Db, records: &[&AccessRecord]) -> Result<(), crate::StoreError> {
    let _writer = db.write_lock().await;
    crate::dispatch!(db, pool => {
        let mut tx = crate::BeginWrite::begin_write(pool).await?;
        for chunk in records.chunks(1000) {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO access_log (at, actor, role, unit, purpose, subject_pid, fields, request_id) ");
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.at.as_str())
                    .push_bind(r.actor.as_str())
                    .push_bind(r.role.as_str())
                    .push_bind(r.unit.as_str())
                    .push_bind(r.purpose.as_deref())
                    .push_bind(r.subject_pid.as_str())
                    .push_bind(r.fields.as_str())
                    .push_bind(r.request_id.as_deref());
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}
