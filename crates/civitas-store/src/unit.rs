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
}

impl Write {
    pub fn new(sql: impl Into<Cow<'static, str>>, binds: Vec<Value>) -> Self {
        Write { sql: sql.into(), binds, expect_rows: None, what: "write" }
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
        let mut outcome: Result<Option<&'static str>, sqlx::Error> = Ok(None);
        for w in $writes.iter() {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(w.sql.to_string()));
            for b in &w.binds {
                q = match b {
                    $crate::unit::Value::Text(v) => q.bind(v.clone()),
                    $crate::unit::Value::Int(v) => q.bind(*v),
                    $crate::unit::Value::Bytes(v) => q.bind(v.clone()),
                };
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
    let _writer = db.write_lock().await;
    let outcome = crate::dispatch!(db, pool => {
        let mut tx = crate::BeginWrite::begin_write(pool).await?;
        match run_writes!(tx, writes)? {
            None => {
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
