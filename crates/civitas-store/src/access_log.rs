//! The append-only log of reads of personal data. Every read of a person's record by a token
//! holder goes through [`AccessLogger::append`]: in one transaction the record becomes an
//! entry of the transparency log ([`crate::tlog`]: salted, sequenced under the log state's
//! row lock) and a row of `access_log`, the private index by subject that points at the entry
//! (`log_index`). The read is answered after that commit; when it fails, the read fails.

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
    /// The entry of the transparency log (none until an older record is adopted).
    pub log_index: Option<i64>,
    /// Shown to the person only from this instant (a delayed disclosure), if set.
    pub disclose_after: Option<String>,
    /// How the data was read: `api`, `page`, `userinfo`, `counter-card`, `follow-up`,
    /// `exchange:verify`, `exchange:attributes`, `life-event`.
    pub how: Option<String>,
    /// The official an agency system acted for (`X-Acting-Official`).
    pub official: Option<String>,
    pub legal_basis: Option<String>,
    /// The agency's case or the dossier the read served.
    pub case_id: Option<String>,
    /// None: the data was read. Otherwise the code of the refusal (an agency's call outside
    /// its grants), recorded like a read.
    pub outcome: Option<String>,
}

/// The columns of an [`AccessEntry`].
#[macro_export]
#[doc(hidden)]
macro_rules! access_columns {
    () => {
        "id, at, actor, role, unit, purpose, subject_pid, fields, request_id, log_index, disclose_after, \
         how, official, legal_basis, case_id, outcome"
    };
}
const COLUMNS: &str = access_columns!();

/// The reads of one person's data, newest first.
pub async fn for_subject(db: &crate::Db, pid: &str, limit: i64) -> Result<Vec<AccessEntry>, crate::StoreError> {
    let sql =
        concat!("SELECT ", access_columns!(), " FROM access_log WHERE subject_pid = $1 ORDER BY id DESC LIMIT $2");
    let rows = crate::dispatch!(db, pool => sqlx::query_as::<_, AccessEntry>(sql).bind(pid).bind(limit).fetch_all(pool).await)?;
    Ok(rows)
}

/// The reads of one person's data the person may see at `now` (the data tracker): those
/// whose disclosure is delayed appear once the delay has passed. Newest first.
pub async fn disclosed_for_subject(
    db: &crate::Db,
    pid: &str,
    now: &str,
    limit: i64,
) -> Result<Vec<AccessEntry>, crate::StoreError> {
    // A refused call read nothing: it is in the log (for auditors), not in the tracker.
    let sql = concat!(
        "SELECT ",
        access_columns!(),
        " FROM access_log WHERE subject_pid = $1 AND outcome IS NULL \
         AND (disclose_after IS NULL OR disclose_after <= $2) ORDER BY id DESC LIMIT $3"
    );
    let rows = crate::dispatch!(db, pool => sqlx::query_as::<_, AccessEntry>(sql).bind(pid).bind(now).bind(limit).fetch_all(pool).await)?;
    Ok(rows)
}

/// Whether log entry `index` records a read of `pid`'s data that `pid` may see at `now` (the
/// tracker's receipts are only for the person concerned, and not before a delayed disclosure).
pub async fn is_subject_of(db: &crate::Db, pid: &str, index: i64, now: &str) -> Result<bool, crate::StoreError> {
    let sql = "SELECT COUNT(*) FROM access_log WHERE subject_pid = $1 AND log_index = $2 AND outcome IS NULL \
               AND (disclose_after IS NULL OR disclose_after <= $3)";
    let n = crate::dispatch!(db, pool => sqlx::query_scalar::<_, i64>(sql).bind(pid).bind(index).bind(now).fetch_one(pool).await)?;
    Ok(n > 0)
}

/// One read of one person's data, as handed to the [`AccessLogger`].
#[derive(Debug, Clone, Default)]
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
    /// A delayed disclosure: the person's tracker shows the read only from this instant.
    pub disclose_after: Option<String>,
    /// See [`AccessEntry::how`].
    pub how: Option<String>,
    pub official: Option<String>,
    pub legal_basis: Option<String>,
    pub case_id: Option<String>,
    /// See [`AccessEntry::outcome`].
    pub outcome: Option<String>,
}

impl From<&AccessEntry> for AccessRecord {
    fn from(r: &AccessEntry) -> Self {
        AccessRecord {
            actor: r.actor.clone(),
            role: r.role.clone(),
            unit: r.unit.clone(),
            purpose: r.purpose.clone(),
            subject_pid: r.subject_pid.clone(),
            fields: r.fields.clone(),
            request_id: r.request_id.clone(),
            at: r.at.clone(),
            disclose_after: r.disclose_after.clone(),
            how: r.how.clone(),
            official: r.official.clone(),
            legal_basis: r.legal_basis.clone(),
            case_id: r.case_id.clone(),
            outcome: r.outcome.clone(),
        }
    }
}

impl AccessRecord {
    /// The record as the log commits it (JSON, fixed field order; the salt comes before it).
    pub fn log_record(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Logged<'a> {
            kind: &'static str,
            at: &'a str,
            actor: &'a str,
            role: &'a str,
            unit: &'a str,
            purpose: Option<&'a str>,
            subject: &'a str,
            fields: &'a str,
            request_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            disclose_after: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            how: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            official: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            legal_basis: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            case: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            refused: Option<&'a str>,
        }
        serde_json::to_vec(&Logged {
            kind: if self.outcome.is_some() { "refusal" } else { "read" },
            at: &self.at,
            actor: &self.actor,
            role: &self.role,
            unit: &self.unit,
            purpose: self.purpose.as_deref(),
            subject: &self.subject_pid,
            fields: &self.fields,
            request_id: self.request_id.as_deref(),
            disclose_after: self.disclose_after.as_deref(),
            how: self.how.as_deref(),
            official: self.official.as_deref(),
            legal_basis: self.legal_basis.as_deref(),
            case: self.case_id.as_deref(),
            refused: self.outcome.as_deref(),
        })
        .unwrap_or_default()
    }
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
    /// Starts the writer: on a SQLite file, a thread of its own with a direct connection (no
    /// hop through sqlx's worker thread per statement); otherwise a task on the current runtime.
    pub fn start(db: crate::Db) -> Self {
        let (queue, rx) = tokio::sync::mpsc::channel::<Pending>(4096);
        if let (Some(direct), Some(lock)) = (db.direct().cloned(), db.writer_lock()) {
            let spawned =
                std::thread::Builder::new().name("access-log".into()).spawn(move || write_directly(&direct, &lock, rx));
            if let Err(e) = spawned {
                // Requests then fail with "the access log writer stopped": no read goes unlogged.
                tracing::error!(error = %e, "cannot start the access log writer thread");
            }
        } else {
            tokio::spawn(write_with_pool(db, rx));
        }
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

/// Takes what queued up (at most 256 requests) after the first request.
fn drain(first: Pending, rx: &mut tokio::sync::mpsc::Receiver<Pending>) -> Vec<Pending> {
    let mut batch = vec![first];
    while batch.len() < 256 {
        match rx.try_recv() {
            Ok(more) => batch.push(more),
            Err(_) => break,
        }
    }
    batch
}

fn reply(batch: Vec<Pending>, result: Result<(), String>) {
    for (_, reply) in batch {
        let _ = reply.send(result.clone());
    }
}

const FAILED: &str = "the access log could not be written";

async fn write_with_pool(db: crate::Db, mut rx: tokio::sync::mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let batch = drain(first, &mut rx);
        let records: Vec<&AccessRecord> = batch.iter().flat_map(|(r, _)| r.iter()).collect();
        let result = write_batch(&db, &records).await.map_err(|e| {
            tracing::error!(error = ?e, "writing the access log failed");
            FAILED.to_owned()
        });
        reply(batch, result);
    }
}

const INSERT: &str = "INSERT INTO access_log (at, actor, role, unit, purpose, subject_pid, fields, request_id, log_index, disclose_after, \
                      how, official, legal_basis, case_id, outcome) \
                      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
const INSERT_ENTRY: &str = "INSERT INTO tlog_entries (idx, entry, leaf) VALUES (?1, ?2, ?3)";

/// The writer thread of a SQLite file: one transaction per batch, under the process's writer
/// lock like every other write transaction. A failed connection is reopened for the next batch.
fn write_directly(
    direct: &crate::direct::Direct,
    lock: &tokio::sync::Mutex<()>,
    mut rx: tokio::sync::mpsc::Receiver<Pending>,
) {
    let mut conn: Option<rusqlite::Connection> = None;
    while let Some(first) = rx.blocking_recv() {
        let batch = drain(first, &mut rx);
        let result = (|| -> rusqlite::Result<()> {
            let conn = match &mut conn {
                Some(c) => c,
                None => conn.insert(direct.open_writer(2_048)?),
            };
            let records: Vec<&AccessRecord> = batch.iter().flat_map(|(r, _)| r.iter()).collect();
            let prepared: Vec<crate::tlog::Prepared> =
                records.iter().map(|r| crate::tlog::prepare(&r.log_record())).collect();
            let _writer = lock.blocking_lock();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let take = crate::tlog::TAKE_INDICES.replace("$1", "?1");
                let next: i64 = tx.query_row(&take, [records.len() as i64], |row| row.get(0))?;
                let first = next - records.len() as i64;
                let mut insert = tx.prepare_cached(INSERT)?;
                let mut entry = tx.prepare_cached(INSERT_ENTRY)?;
                for (i, (r, p)) in records.iter().zip(&prepared).enumerate() {
                    let index = first + i as i64;
                    entry.execute(rusqlite::params![index, p.entry, p.leaf.as_slice()])?;
                    insert.execute(rusqlite::params![
                        r.at,
                        r.actor,
                        r.role,
                        r.unit,
                        r.purpose,
                        r.subject_pid,
                        r.fields,
                        r.request_id,
                        index,
                        r.disclose_after,
                        r.how,
                        r.official,
                        r.legal_basis,
                        r.case_id,
                        r.outcome
                    ])?;
                }
            }
            tx.commit()
        })();
        let result = result.map_err(|e| {
            tracing::error!(error = ?e, "writing the access log failed");
            conn = None;
            FAILED.to_owned()
        });
        reply(batch, result);
    }
}

async fn write_batch(db: &crate::Db, records: &[&AccessRecord]) -> Result<(), crate::StoreError> {
    let prepared: Vec<crate::tlog::Prepared> = records.iter().map(|r| crate::tlog::prepare(&r.log_record())).collect();
    let _writer = db.write_lock().await;
    crate::dispatch!(db, pool => {
        let mut tx = crate::BeginWrite::begin_write(pool).await?;
        // Indices are taken under the log state's row lock, held to the commit: entries commit
        // in index order on every server.
        let next: i64 = sqlx::query_scalar(crate::tlog::TAKE_INDICES).bind(records.len() as i64).fetch_one(&mut *tx).await?;
        let first = next - records.len() as i64;
        let indexed: Vec<(i64, &AccessRecord, &crate::tlog::Prepared)> =
            records.iter().zip(&prepared).enumerate().map(|(i, (r, p))| (first + i as i64, *r, p)).collect();
        for chunk in indexed.chunks(1000) {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO tlog_entries (idx, entry, leaf) ");
            qb.push_values(chunk, |mut b, (index, _, p)| {
                b.push_bind(*index).push_bind(p.entry.as_slice()).push_bind(p.leaf.as_slice());
            });
            qb.build().execute(&mut *tx).await?;
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO access_log (at, actor, role, unit, purpose, subject_pid, fields, request_id, log_index, disclose_after, \
                 how, official, legal_basis, case_id, outcome) ",
            );
            qb.push_values(chunk, |mut b, (index, r, _)| {
                b.push_bind(r.at.as_str())
                    .push_bind(r.actor.as_str())
                    .push_bind(r.role.as_str())
                    .push_bind(r.unit.as_str())
                    .push_bind(r.purpose.as_deref())
                    .push_bind(r.subject_pid.as_str())
                    .push_bind(r.fields.as_str())
                    .push_bind(r.request_id.as_deref())
                    .push_bind(*index)
                    .push_bind(r.disclose_after.as_deref())
                    .push_bind(r.how.as_deref())
                    .push_bind(r.official.as_deref())
                    .push_bind(r.legal_basis.as_deref())
                    .push_bind(r.case_id.as_deref())
                    .push_bind(r.outcome.as_deref());
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// What an auditor searches the private index of the log by (all optional, combined with AND).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The reader: an agency system's client id, an officer's subject.
    pub actor: Option<String>,
    /// The official an agency system acted for.
    pub official: Option<String>,
    pub purpose: Option<String>,
    /// From this instant (RFC 3339), inclusive.
    pub from: Option<String>,
    /// Before this instant (RFC 3339), exclusive.
    pub to: Option<String>,
    /// Only refused calls.
    pub refused_only: bool,
}

/// Access records matching `filter`, newest first, at most `limit`, before record `before`
/// (paging by id).
pub async fn search(
    db: &crate::Db,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AccessEntry>, crate::StoreError> {
    let head = format!("SELECT {COLUMNS} FROM access_log WHERE 1 = 1");
    macro_rules! build {
        ($qb:expr) => {{
            if let Some(a) = &filter.actor {
                $qb.push(" AND actor = ").push_bind(a.clone());
            }
            if let Some(o) = &filter.official {
                $qb.push(" AND official = ").push_bind(o.clone());
            }
            if let Some(p) = &filter.purpose {
                $qb.push(" AND purpose = ").push_bind(p.clone());
            }
            if let Some(f) = &filter.from {
                $qb.push(" AND at >= ").push_bind(f.clone());
            }
            if let Some(t) = &filter.to {
                $qb.push(" AND at < ").push_bind(t.clone());
            }
            if filter.refused_only {
                $qb.push(" AND outcome IS NOT NULL");
            }
            if let Some(b) = before {
                $qb.push(" AND id < ").push_bind(b);
            }
            $qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        }};
    }
    let rows = match db {
        crate::Db::Sqlite(pool, _) => {
            let mut qb: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new(head);
            build!(qb);
            qb.build_query_as::<AccessEntry>().fetch_all(pool).await?
        }
        crate::Db::Postgres(pool) => {
            let mut qb: sqlx::QueryBuilder<sqlx::Postgres> = sqlx::QueryBuilder::new(head);
            build!(qb);
            qb.build_query_as::<AccessEntry>().fetch_all(pool).await?
        }
    };
    Ok(rows)
}

/// How much one reader read in a period: the alert view's row.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReaderVolume {
    /// The reader (an officer's subject, an agency system's client id).
    pub actor: String,
    /// The official an agency system acted for ("" for officers).
    pub official: String,
    pub role: String,
    /// Distinct people whose data was read.
    pub people: i64,
    pub reads: i64,
    pub refused: i64,
}

/// Readers and how many people each read from `from` (RFC 3339) on, most people first.
pub async fn volumes(db: &crate::Db, from: &str, limit: i64) -> Result<Vec<ReaderVolume>, crate::StoreError> {
    let sql = "SELECT actor, COALESCE(official, '') AS official, role, \
               COUNT(DISTINCT CASE WHEN outcome IS NULL THEN subject_pid END) AS people, \
               SUM(CASE WHEN outcome IS NULL THEN 1 ELSE 0 END) AS reads, \
               SUM(CASE WHEN outcome IS NULL THEN 0 ELSE 1 END) AS refused \
               FROM access_log WHERE at >= $1 GROUP BY actor, COALESCE(official, ''), role \
               ORDER BY people DESC, actor LIMIT $2";
    let rows = crate::dispatch!(db, pool => sqlx::query_as::<_, ReaderVolume>(sql).bind(from).bind(limit).fetch_all(pool).await)?;
    Ok(rows)
}

/// A reader reads unusually much when they read at least [`UNUSUAL_MIN_PEOPLE`] people and
/// more than [`UNUSUAL_FACTOR`] times the median of their peers (the other readers of the same
/// role in the period). A reader without peers is never flagged (nothing to compare with).
pub const UNUSUAL_MIN_PEOPLE: i64 = 10;
pub const UNUSUAL_FACTOR: i64 = 3;

/// For each of `volumes`, the median of its peers' people when it reads unusually much.
pub fn unusual(volumes: &[ReaderVolume]) -> Vec<Option<i64>> {
    volumes
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut peers: Vec<i64> = volumes
                .iter()
                .enumerate()
                .filter(|(j, p)| *j != i && p.role == v.role)
                .map(|(_, p)| p.people)
                .collect();
            if peers.is_empty() {
                return None;
            }
            peers.sort_unstable();
            let median = peers[peers.len() / 2];
            (v.people >= UNUSUAL_MIN_PEOPLE && v.people > UNUSUAL_FACTOR * median.max(1)).then_some(median)
        })
        .collect()
}

#[cfg(test)]
mod unusual_tests {
    use super::*;

    fn v(actor: &str, role: &str, people: i64) -> ReaderVolume {
        ReaderVolume {
            actor: actor.into(),
            official: String::new(),
            role: role.into(),
            people,
            reads: people,
            refused: 0,
        }
    }

    #[test]
    fn one_reader_far_above_peers_of_the_same_role_is_flagged() {
        let volumes = [
            v("a", "registry-officer", 40),
            v("b", "registry-officer", 5),
            v("c", "registry-officer", 6),
            v("d", "auditor", 500),
        ];
        assert_eq!(unusual(&volumes), vec![Some(6), None, None, None]);
        // Below the floor, or within the factor: not flagged.
        assert_eq!(unusual(&[v("a", "r", 9), v("b", "r", 1)]), vec![None, None]);
        assert_eq!(unusual(&[v("a", "r", 18), v("b", "r", 6)]), vec![None, None]);
        assert_eq!(unusual(&[v("a", "r", 19), v("b", "r", 6)]), vec![Some(6), None]);
    }
}
