//! Units of work across contexts: a write planned by one context (a dossier step, a
//! notification) as plain SQL with its values, executed inside another context's transaction
//! (a change of the register), so both commit together or not at all.

use std::borrow::Cow;

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Bytes(Option<Vec<u8>>),
    /// Text in which [`SEQ`] is replaced by the value an earlier [`Write::capturing`] statement
    /// of the same unit returned (e.g. a registration number allocated in the transaction).
    Captured(String),
}

/// The placeholder of a captured value in [`Value::Captured`] text.
pub const SEQ: &str = "⟦seq⟧";

impl Value {
    /// Text values that mention [`SEQ`] become [`Value::Captured`].
    pub fn with_captured(self) -> Value {
        match self {
            Value::Text(Some(t)) if t.contains(SEQ) => Value::Captured(t),
            other => other,
        }
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_owned()))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}

/// One statement of a unit of work.
#[derive(Debug, Clone)]
pub struct Write {
    pub sql: Cow<'static, str>,
    pub binds: Vec<Value>,
    /// When set, the statement must affect exactly this many rows, or the whole transaction is
    /// abandoned (an optimistic-concurrency guard).
    pub expect_rows: Option<u64>,
    /// What the statement does, for the conflict error.
    pub what: &'static str,
    /// The statement returns one integer (`RETURNING ...`) that later statements use.
    pub capture: bool,
}

impl Write {
    pub fn new(sql: impl Into<Cow<'static, str>>, binds: Vec<Value>) -> Self {
        Write { sql: sql.into(), binds, expect_rows: None, what: "write", capture: false }
    }

    /// The statement returns one integer that later [`Value::Captured`] values use.
    pub fn capturing(mut self) -> Self {
        self.capture = true;
        self
    }

    /// Turns text values mentioning [`SEQ`] into captured ones.
    pub fn with_captured(mut self) -> Self {
        self.binds = self.binds.into_iter().map(Value::with_captured).collect();
        self
    }

    /// Requires exactly `rows` affected rows.
    pub fn expecting(mut self, rows: u64, what: &'static str) -> Self {
        self.expect_rows = Some(rows);
        self.what = what;
        self
    }
}

/// Runs `writes` on `$tx`; evaluates to `Result<Option<&'static str>, sqlx::Error>`, `Some(what)`
/// when a guarded statement affected another number of rows (the caller then drops the
/// transaction instead of committing).
#[macro_export]
macro_rules! run_writes {
    ($tx:expr, $writes:expr) => {{
        use sqlx::Row as _;
        let mut outcome: Result<Option<&'static str>, sqlx::Error> = Ok(None);
        let mut captured: i64 = 0;
        for w in $writes.iter() {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(w.sql.to_string()));
            for b in &w.binds {
                q = match b {
                    $crate::unit::Value::Text(v) => q.bind(v.clone()),
                    $crate::unit::Value::Int(v) => q.bind(*v),
                    $crate::unit::Value::Bytes(v) => q.bind(v.clone()),
                    $crate::unit::Value::Captured(t) => q.bind(t.replace($crate::unit::SEQ, &captured.to_string())),
                };
            }
            if w.capture {
                match q.fetch_one(&mut *$tx).await.and_then(|row| row.try_get::<i64, _>(0)) {
                    Ok(v) => captured = v,
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
                continue;
            }
            match q.execute(&mut *$tx).await {
                Ok(r) => {
                    if let Some(expected) = w.expect_rows
                        && r.rows_affected() != expected
                    {
                        outcome = Ok(Some(w.what));
                        break;
                    }
                }
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        outcome
    }};
}

/// The write of one event.
pub fn event(e: &crate::NewEvent) -> Write {
    Write::new(
        "INSERT INTO events (kind, subject, payload, actor, occurred_at) VALUES ($1, $2, $3, $4, $5)",
        vec![
            e.kind.into(),
            e.subject.clone().into(),
            e.payload.to_string().into(),
            e.actor.clone().into(),
            e.occurred_at.clone().into(),
        ],
    )
}

/// Runs `writes` in one write transaction: all of them, or (on an error or a guard that did
/// not hold) none. `Ok(Err(what))` names the guard that did not hold.
pub async fn commit(db: &crate::Db, writes: &[Write]) -> Result<Result<(), &'static str>, crate::StoreError> {
    commit_logged(db, writes, &[]).await
}

/// Runs `writes` and appends `records` as entries of the transparency log, in one write
/// transaction: a change that must itself be in the log (a grant of the exchange) commits with
/// its entry or not at all.
pub async fn commit_logged(
    db: &crate::Db,
    writes: &[Write],
    records: &[Vec<u8>],
) -> Result<Result<(), &'static str>, crate::StoreError> {
    let prepared: Vec<crate::tlog::Prepared> = records.iter().map(|r| crate::tlog::prepare(r)).collect();
    let _writer = db.write_lock().await;
    let outcome = crate::dispatch!(db, pool => {
        let mut tx = crate::BeginWrite::begin_write(pool).await?;
        match run_writes!(tx, writes)? {
            None => {
                let n = prepared.len() as i64;
                // Indices only when there are entries: the log's state row is not locked for nothing.
                let next: i64 = if n == 0 {
                    0
                } else {
                    sqlx::query_scalar(crate::tlog::TAKE_INDICES).bind(n).fetch_one(&mut *tx).await?
                };
                for (i, p) in prepared.iter().enumerate() {
                    sqlx::query("INSERT INTO tlog_entries (idx, entry, leaf) VALUES ($1, $2, $3)")
                        .bind(next - n + i as i64)
                        .bind(p.entry.as_slice())
                        .bind(p.leaf.as_slice())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(None)
            }
            Some(what) => Ok(Some(what)),
        }
    })?;
    Ok(match outcome {
        None => Ok(()),
        Some(what) => Err(what),
    })
}

/// A unit's outcome; a failed batch is told as its message and whether the database was
/// unreachable.
type Reply = tokio::sync::oneshot::Sender<Result<Result<(), &'static str>, (String, bool)>>;

/// Commits units of work from many callers together: each unit in its own savepoint (a unit
/// whose guard fails, or that errs, is rolled back alone), the whole batch in one transaction —
/// one flush to disk for everything that arrived together.
#[derive(Clone)]
pub struct GroupCommitter {
    db: crate::Db,
    tx: tokio::sync::mpsc::Sender<(Vec<Write>, Reply)>,
}

impl GroupCommitter {
    pub fn start(db: crate::Db) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<Write>, Reply)>(1024);
        let writer = db.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(64);
            while rx.recv_many(&mut batch, 64).await > 0 {
                let jobs = std::mem::take(&mut batch);
                let (units, replies): (Vec<Vec<Write>>, Vec<Reply>) = jobs.into_iter().unzip();
                match commit_batch(&writer, &units).await {
                    Ok(outcomes) => {
                        for (reply, o) in replies.into_iter().zip(outcomes) {
                            let _ = reply.send(Ok(o));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "group commit failed");
                        for reply in replies {
                            let _ = reply.send(Err((e.to_string(), e.is_unavailable())));
                        }
                    }
                }
            }
        });
        GroupCommitter { db, tx }
    }

    /// Commits one unit (with others that arrive at the same time); `Ok(Err(what))` names the
    /// guard that did not hold.
    pub async fn commit(&self, writes: Vec<Write>) -> Result<Result<(), &'static str>, crate::StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        if self.tx.send((writes.clone(), reply)).await.is_err() {
            return commit(&self.db, &writes).await;
        }
        match answer.await {
            Ok(Ok(o)) => Ok(o),
            Ok(Err((e, true))) => Err(crate::StoreError::Unavailable(e)),
            Ok(Err((e, false))) => Err(crate::StoreError::Corrupt(format!("the transaction failed: {e}"))),
            Err(_) => commit(&self.db, &writes).await,
        }
    }
}

async fn commit_batch(
    db: &crate::Db,
    units: &[Vec<Write>],
) -> Result<Vec<Result<(), &'static str>>, crate::StoreError> {
    let _writer = db.write_lock().await;
    let outcomes = crate::dispatch!(db, pool => {
        let mut tx = crate::BeginWrite::begin_write(pool).await?;
        let mut outcomes = Vec::with_capacity(units.len());
        for unit in units {
            sqlx::query("SAVEPOINT unit").execute(&mut *tx).await?;
            match run_writes!(tx, unit) {
                Ok(None) => {
                    sqlx::query("RELEASE SAVEPOINT unit").execute(&mut *tx).await?;
                    outcomes.push(Ok(()));
                }
                Ok(Some(what)) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT unit").execute(&mut *tx).await?;
                    sqlx::query("RELEASE SAVEPOINT unit").execute(&mut *tx).await?;
                    outcomes.push(Err(what));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a unit of work failed; rolled back alone");
                    sqlx::query("ROLLBACK TO SAVEPOINT unit").execute(&mut *tx).await?;
                    sqlx::query("RELEASE SAVEPOINT unit").execute(&mut *tx).await?;
                    outcomes.push(Err("the statement failed"));
                }
            }
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(outcomes)
    })?;
    Ok(outcomes)
}
