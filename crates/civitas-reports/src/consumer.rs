//! The reports consumer: reads the event log (and the card register's log) after its durable
//! cursor, folds a batch into fact deltas, and writes them with the dossiers it touched and the
//! new cursor in one transaction. The cursor moves by compare-and-swap as the transaction's
//! first write, so when two servers fold the same batch only one commits; the other's
//! transaction changes nothing (exactly once, restarts included: an uncommitted batch is read
//! again). [`rebuild`] recomputes everything from the logs and swaps it in.

use std::collections::HashMap;

use civitas_store::events::{Settled, StoredEvent};
use civitas_store::{Db, dispatch};

use crate::ReportError;
use crate::fold::{CardEvent, DossierMemo, Fold, Known};
use crate::parse_day;

pub const CONSUMER: &str = "reports";
pub const CARDS_CONSUMER: &str = "reports.cards";

/// Events folded per transaction.
pub const BATCH: i64 = 50_000;

/// One consumer per process (it remembers the gaps it waits at).
pub struct Consumer {
    events: Settled,
    cards: Settled,
    batch: i64,
}

impl Default for Consumer {
    fn default() -> Self {
        Consumer::with_batch(BATCH)
    }
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub events: usize,
    /// Whether another server moved the cursor first (this run's batch was dropped).
    pub lost_race: bool,
}

impl Consumer {
    /// A consumer folding at most `batch` events per transaction.
    pub fn with_batch(batch: i64) -> Consumer {
        Consumer {
            events: Settled::new(civitas_store::events::GAP_GRACE),
            cards: Settled::new(civitas_store::events::GAP_GRACE),
            batch: batch.max(1),
        }
    }

    /// Folds what is there (up to `max_batches` batches of each log). Returns how many events
    /// were folded.
    pub async fn run(&self, db: &Db, max_batches: usize) -> Result<Progress, ReportError> {
        let mut total = Progress::default();
        for _ in 0..max_batches {
            let p = self.events_batch(db).await?;
            total.events += p.events;
            total.lost_race |= p.lost_race;
            if p.events == 0 || p.lost_race {
                break;
            }
        }
        for _ in 0..max_batches {
            let p = self.cards_batch(db).await?;
            total.events += p.events;
            total.lost_race |= p.lost_race;
            if p.events == 0 || p.lost_race {
                break;
            }
        }
        Ok(total)
    }

    async fn events_batch(&self, db: &Db) -> Result<Progress, ReportError> {
        let cursor = cursor(db, CONSUMER).await?;
        let upto = self.events.upto(db, cursor).await?.min(cursor + self.batch);
        if upto <= cursor {
            return Ok(Progress::default());
        }
        let mut fold = Fold::default();
        let read = if let Some(direct) = db.direct() {
            // A SQLite file: the reads on a direct connection (sqlx hands each row across threads).
            civitas_store::direct::blocking(|| direct.read(|conn| crate::scan::batch(conn, &mut fold, cursor, upto)))?
        } else {
            let events: Vec<StoredEvent> =
                dispatch!(db, pool => sqlx::query_as(EVENTS).bind(cursor).bind(upto).fetch_all(pool).await)?;
            prepare(db, &mut fold, &events).await?;
            for e in &events {
                fold.apply(e);
            }
            events.len()
        };
        let moved = commit(db, &fold, Move::Cas { consumer: CONSUMER, from: cursor, to: upto }).await?.is_some();
        Ok(Progress { events: if moved { read } else { 0 }, lost_race: !moved })
    }

    async fn cards_batch(&self, db: &Db) -> Result<Progress, ReportError> {
        let cursor = cursor(db, CARDS_CONSUMER).await?;
        let upto = self.cards.upto_in(db, "card_events", cursor).await?.min(cursor + self.batch);
        if upto <= cursor {
            return Ok(Progress::default());
        }
        let events = card_events(db, cursor, upto).await?;
        let mut fold = Fold::default();
        for e in &events {
            fold.apply_card(e);
        }
        let moved = commit(db, &fold, Move::Cas { consumer: CARDS_CONSUMER, from: cursor, to: upto }).await?.is_some();
        Ok(Progress { events: if moved { events.len() } else { 0 }, lost_race: !moved })
    }
}

const EVENTS: &str =
    "SELECT id, kind, subject, payload, actor, occurred_at FROM events WHERE id > $1 AND id <= $2 ORDER BY id";

async fn card_events(db: &Db, after: i64, upto: i64) -> Result<Vec<CardEvent>, ReportError> {
    let sql = "SELECT id, commune, state, at FROM card_events WHERE id > $1 AND id <= $2 ORDER BY id";
    Ok(dispatch!(db, pool => sqlx::query_as(sql).bind(after).bind(upto).fetch_all(pool).await)?)
}

/// Where a consumer is (0 before its first run).
pub async fn cursor(db: &Db, consumer: &str) -> Result<i64, ReportError> {
    let sql = "SELECT position FROM event_cursors WHERE consumer = $1";
    let pos: Option<i64> = dispatch!(db, pool => sqlx::query_scalar(sql).bind(consumer).fetch_optional(pool).await)?;
    Ok(pos.unwrap_or(0))
}

type MemoRow = (String, String, String, String, String, String, Option<String>, String, i64);

/// Loads the dossiers and holders' communes a batch needs.
async fn prepare(db: &Db, fold: &mut Fold, events: &[StoredEvent]) -> Result<(), ReportError> {
    let (codes, pids) = Fold::needs(events);
    load_dossiers(db, fold, codes).await?;
    load_communes(db, fold, pids).await
}

async fn load_dossiers(db: &Db, fold: &mut Fold, codes: Vec<String>) -> Result<(), ReportError> {
    let codes: Vec<String> = codes.into_iter().filter(|c| !fold.dossiers.contains_key(c)).collect();
    for chunk in codes.chunks(500) {
        let sql = format!(
            "SELECT code, unit, procedure, channel, received_on, appointment_on, overdue_on, state, supplements \
             FROM report_dossiers WHERE code IN ({})",
            crate::placeholders(1, chunk.len())
        );
        let rows: Vec<MemoRow> = dispatch!(db, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for c in chunk {
                q = q.bind(c.as_str());
            }
            q.fetch_all(pool).await
        })?;
        for c in chunk {
            fold.dossiers.insert(c.clone(), Known::default());
        }
        for (code, unit, procedure, channel, received, appointment, overdue, state, supplements) in rows {
            let (Some(received_on), Some(appointment_on)) = (parse_day(&received), parse_day(&appointment)) else {
                continue;
            };
            let memo = DossierMemo {
                unit,
                procedure,
                channel,
                received_on,
                appointment_on,
                overdue_on: overdue.as_deref().and_then(parse_day),
                state,
                supplements,
            };
            fold.dossiers.insert(code, Known { memo: Some(memo), dirty: false });
        }
    }
    Ok(())
}

async fn load_communes(db: &Db, fold: &mut Fold, pids: Vec<String>) -> Result<(), ReportError> {
    let pids: Vec<String> = pids.into_iter().filter(|p| !fold.communes.contains_key(p)).collect();
    for chunk in pids.chunks(500) {
        let sql = format!(
            "SELECT pid, COALESCE(current_commune, permanent_commune, temporary_commune, '') FROM people WHERE pid IN ({})",
            crate::placeholders(1, chunk.len())
        );
        let rows: Vec<(String, String)> = dispatch!(db, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for p in chunk {
                q = q.bind(p.as_str());
            }
            q.fetch_all(pool).await
        })?;
        fold.communes.extend(rows);
    }
    Ok(())
}

/// How a fold's writes move the cursors.
enum Move<'a> {
    /// Compare-and-swap one consumer's cursor from one position to another.
    Cas { consumer: &'a str, from: i64, to: i64 },
    /// A rebuild: empty the facts and dossiers and set both cursors.
    Replace { events: i64, cards: i64 },
}

/// Writes a fold's facts and touched dossiers and moves the cursor from `from` to `to` — or
/// nothing, if the cursor is no longer at `from` (returns `None`). `replace` (a rebuild) first
/// empties the facts and dossiers and sets every cursor unconditionally. Returns the fact rows
/// written (daily and monthly).
async fn commit(db: &Db, fold: &Fold, how: Move<'_>) -> Result<Option<usize>, ReportError> {
    // In key order: the inserts then walk each table's primary-key B-tree from left to right
    // instead of jumping around it (a rebuild writes into empty tables: appends). The keys
    // start with the period, and a batch of the log in time order covers a few days: its rows
    // land on a few neighbouring pages.
    // The two tables' rows on two cores (a rebuild's largest step before its writes).
    let (facts, months) = civitas_store::direct::blocking(|| {
        std::thread::scope(|s| {
            let months = s.spawn(|| fold.month_rows());
            (fold.day_rows(), months.join())
        })
    });
    let months = months.map_err(|_| civitas_store::StoreError::Corrupt("the monthly facts' thread failed".into()))?;
    // A rebuild writes into emptied tables: plain inserts.
    let replacing = matches!(how, Move::Replace { .. });
    let mut memos: Vec<(&String, &DossierMemo)> = fold.dirty().collect();
    memos.sort_unstable_by_key(|(c, _)| *c);
    let written = facts.len() + months.len();
    let _writer = db.write_lock().await;
    if let Some(direct) = db.direct() {
        // A SQLite file: prepared single-row statements on a plain connection (what `civitas
        // import` does), several times faster than multi-row statements through sqlx.
        let rows = Rows { facts: &facts, months: &months, memos: &memos };
        let run = || direct.write(|conn| write_direct(conn, &rows, &how));
        return Ok(civitas_store::direct::blocking(run)?.then_some(written));
    }
    if let (Move::Replace { events, cards }, Db::Postgres(pool)) = (&how, db) {
        // A rebuild on PostgreSQL: COPY into fresh tables without their keys, build each key by
        // one sort, and swap the tables in. Readers keep reading the old tables until the swap
        // at the end; the cursors move first (a consumer's compare-and-swap waits for this
        // transaction and then finds its position gone).
        let mut tx = pool.begin().await?;
        let set = "INSERT INTO event_cursors (consumer, position) VALUES ($1, $2) \
                   ON CONFLICT (consumer) DO UPDATE SET position = excluded.position";
        for (consumer, pos) in [(CONSUMER, *events), (CARDS_CONSUMER, *cards)] {
            sqlx::query(set).bind(consumer).bind(pos).execute(&mut *tx).await?;
        }
        const TABLES: [(&str, &str); 3] = [
            ("report_facts", "day, unit, dim"),
            ("report_facts_monthly", "month, unit, dim"),
            ("report_dossiers", "code"),
        ];
        let run = async |tx: &mut sqlx::PgConnection, sql: String| {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await.map(|_| ())
        };
        for (t, _) in TABLES {
            run(&mut tx, format!("CREATE TABLE {t}_next (LIKE {t} INCLUDING DEFAULTS)")).await?;
        }
        let rows = Rows { facts: &facts, months: &months, memos: &memos };
        copy_rows(&mut tx, &rows, "_next").await?;
        for (t, key) in TABLES {
            run(&mut tx, format!("ALTER TABLE {t}_next ADD CONSTRAINT {t}_next_pkey PRIMARY KEY ({key})")).await?;
            run(&mut tx, format!("DROP TABLE {t}")).await?;
            run(&mut tx, format!("ALTER TABLE {t}_next RENAME TO {t}")).await?;
            run(&mut tx, format!("ALTER TABLE {t} RENAME CONSTRAINT {t}_next_pkey TO {t}_pkey")).await?;
        }
        tx.commit().await?;
        // Fresh tables have no statistics until autovacuum gets to them: the planner would
        // guess (form 06a of the nation took 115 ms at p95 instead of about 15).
        for (t, _) in TABLES {
            sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {t}"))).execute(pool).await?;
        }
        return Ok(Some(written));
    }
    let moved = dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        let moved = match how {
            Move::Replace { events, cards } => {
                // The cursors first: a consumer's compare-and-swap waits for this transaction
                // and then finds its position gone.
                let set = "INSERT INTO event_cursors (consumer, position) VALUES ($1, $2) \
                           ON CONFLICT (consumer) DO UPDATE SET position = excluded.position";
                for (consumer, pos) in [(CONSUMER, events), (CARDS_CONSUMER, cards)] {
                    sqlx::query(set).bind(consumer).bind(pos).execute(&mut *tx).await?;
                }
                sqlx::query("DELETE FROM report_facts").execute(&mut *tx).await?;
                sqlx::query("DELETE FROM report_facts_monthly").execute(&mut *tx).await?;
                sqlx::query("DELETE FROM report_dossiers").execute(&mut *tx).await?;
                true
            }
            Move::Cas { consumer, from, to } => {
                sqlx::query("INSERT INTO event_cursors (consumer, position) VALUES ($1, 0) ON CONFLICT (consumer) DO NOTHING")
                    .bind(consumer).execute(&mut *tx).await?;
                sqlx::query("UPDATE event_cursors SET position = $1 WHERE consumer = $2 AND position = $3")
                    .bind(to).bind(consumer).bind(from).execute(&mut *tx).await?.rows_affected() == 1
            }
        };
        if moved {
            // 800 rows of 38 values: within SQLite's 32,766 parameters.
            for (table, period, rows) in [("report_facts", "day", &facts), ("report_facts_monthly", "month", &months)] {
                for chunk in rows.chunks(800) {
                    let mut qb = sqlx::QueryBuilder::new(format!("INSERT INTO {table} ({}) ", crate::facts::column_list(period)));
                    qb.push_values(chunk, |mut b, row| {
                        b.push_bind(row.period.as_str()).push_bind(row.unit).push_bind(row.dim);
                        for v in row.dense() {
                            b.push_bind(v);
                        }
                    });
                    if !replacing {
                        qb.push(crate::facts::add_on_conflict(table, period));
                    }
                    qb.build().execute(&mut *tx).await?;
                }
            }
            for chunk in memos.chunks(1000) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO report_dossiers (code, unit, procedure, channel, received_on, appointment_on, overdue_on, state, supplements) ");
                qb.push_values(chunk, |mut b, (code, d)| {
                    b.push_bind(code.as_str()).push_bind(d.unit.as_str()).push_bind(d.procedure.as_str()).push_bind(d.channel.as_str())
                        .push_bind(d.received_on.to_string()).push_bind(d.appointment_on.to_string())
                        .push_bind(d.overdue_on.map(|o| o.to_string())).push_bind(d.state.as_str()).push_bind(d.supplements);
                });
                qb.push(" ON CONFLICT (code) DO UPDATE SET appointment_on = excluded.appointment_on, overdue_on = excluded.overdue_on, \
                          state = excluded.state, supplements = excluded.supplements");
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok::<_, sqlx::Error>(moved)
    })?;
    Ok(moved.then_some(written))
}

/// A fold's rows, in key order.
struct Rows<'a> {
    facts: &'a [crate::facts::Row<'a>],
    months: &'a [crate::facts::Row<'a>],
    memos: &'a [(&'a String, &'a DossierMemo)],
}

/// A rebuild's rows by `COPY` (PostgreSQL) into the tables named with `suffix`, in slices of
/// about 8 MB.
async fn copy_rows(conn: &mut sqlx::PgConnection, rows: &Rows<'_>, suffix: &str) -> Result<(), sqlx::Error> {
    use civitas_store::{copy_field, end_copy_row};
    const SLICE: usize = 8 << 20;
    let send = async |conn: &mut sqlx::PgConnection, table: &str, data: Vec<u8>| -> Result<(), sqlx::Error> {
        let (name, columns) = table.split_once(' ').unwrap_or((table, ""));
        let mut copy = conn.copy_in_raw(&format!("COPY {name}{suffix} {columns} FROM STDIN")).await?;
        copy.send(data).await?;
        copy.finish().await.map(|_| ())
    };
    let mut data = Vec::with_capacity(SLICE + 1024);
    let flush = |data: &mut Vec<u8>| std::mem::replace(data, Vec::with_capacity(SLICE + 1024));
    for (table, period, facts) in [("report_facts", "day", rows.facts), ("report_facts_monthly", "month", rows.months)]
    {
        let target = format!("{table} ({})", crate::facts::column_list(period));
        for row in facts {
            for f in [row.period.as_str(), row.unit, row.dim] {
                copy_field(&mut data, Some(f));
            }
            for v in row.dense() {
                copy_field(&mut data, v.map(|v| v.to_string()).as_deref());
            }
            end_copy_row(&mut data);
            if data.len() >= SLICE {
                send(conn, &target, flush(&mut data)).await?;
            }
        }
        send(conn, &target, flush(&mut data)).await?;
    }
    let columns =
        "report_dossiers (code, unit, procedure, channel, received_on, appointment_on, overdue_on, state, supplements)";
    for (code, d) in rows.memos {
        let (received, appointment) = (d.received_on.to_string(), d.appointment_on.to_string());
        let overdue = d.overdue_on.map(|o| o.to_string());
        let supplements = d.supplements.to_string();
        for f in [code.as_str(), &d.unit, &d.procedure, &d.channel, &received, &appointment] {
            copy_field(&mut data, Some(f));
        }
        copy_field(&mut data, overdue.as_deref());
        copy_field(&mut data, Some(&d.state));
        copy_field(&mut data, Some(&supplements));
        end_copy_row(&mut data);
        if data.len() >= SLICE {
            send(conn, columns, flush(&mut data)).await?;
        }
    }
    send(conn, columns, flush(&mut data)).await
}

/// [`commit`] on a direct SQLite connection: the same writes in one immediate transaction.
fn write_direct(conn: &mut rusqlite::Connection, rows: &Rows<'_>, how: &Move<'_>) -> rusqlite::Result<bool> {
    use rusqlite::params;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let replacing = matches!(how, Move::Replace { .. });
    let moved = match *how {
        Move::Replace { events, cards } => {
            let set = "INSERT INTO event_cursors (consumer, position) VALUES (?1, ?2) \
                       ON CONFLICT (consumer) DO UPDATE SET position = excluded.position";
            for (consumer, pos) in [(CONSUMER, events), (CARDS_CONSUMER, cards)] {
                tx.execute(set, params![consumer, pos])?;
            }
            tx.execute_batch(
                "DELETE FROM report_facts; DELETE FROM report_facts_monthly; DELETE FROM report_dossiers;",
            )?;
            true
        }
        Move::Cas { consumer, from, to } => {
            tx.execute(
                "INSERT INTO event_cursors (consumer, position) VALUES (?1, 0) ON CONFLICT (consumer) DO NOTHING",
                params![consumer],
            )?;
            tx.execute(
                "UPDATE event_cursors SET position = ?1 WHERE consumer = ?2 AND position = ?3",
                params![to, consumer, from],
            )? == 1
        }
    };
    if !moved {
        tx.rollback()?;
        return Ok(false);
    }
    {
        for (table, period, facts) in
            [("report_facts", "day", rows.facts), ("report_facts_monthly", "month", rows.months)]
        {
            let values: Vec<String> = (1..=3 + crate::facts::WIDTH).map(|i| format!("?{i}")).collect();
            let mut sql =
                format!("INSERT INTO {table} ({}) VALUES ({})", crate::facts::column_list(period), values.join(", "));
            if !replacing {
                sql.push_str(&crate::facts::add_on_conflict(table, period));
            }
            let mut insert = tx.prepare(&sql)?;
            for row in facts {
                insert.raw_bind_parameter(1, row.period.as_str())?;
                insert.raw_bind_parameter(2, row.unit)?;
                insert.raw_bind_parameter(3, row.dim)?;
                for (i, v) in row.dense().into_iter().enumerate() {
                    insert.raw_bind_parameter(4 + i, v)?;
                }
                insert.raw_execute()?;
            }
        }
        let mut insert = tx.prepare(
            "INSERT INTO report_dossiers (code, unit, procedure, channel, received_on, appointment_on, overdue_on, state, supplements) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (code) DO UPDATE SET appointment_on = excluded.appointment_on, \
             overdue_on = excluded.overdue_on, state = excluded.state, supplements = excluded.supplements",
        )?;
        for (code, d) in rows.memos {
            insert.execute(params![
                code,
                d.unit,
                d.procedure,
                d.channel,
                d.received_on.to_string(),
                d.appointment_on.to_string(),
                d.overdue_on.map(|o| o.to_string()),
                d.state,
                d.supplements
            ])?;
        }
    }
    tx.commit()?;
    Ok(true)
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy)]
pub struct Rebuilt {
    pub events: u64,
    pub card_events: u64,
    /// Rows written: daily facts and monthly rollup.
    pub facts: usize,
    pub dossiers: usize,
    pub skipped: u64,
    /// Seconds spent reading and folding the logs (one pass), and writing the facts (for the
    /// CLI and the benchmark).
    pub scan_s: f64,
    pub write_s: f64,
}

/// Recomputes every fact and dossier memo from the logs (up to the last settled event), then
/// replaces the stored ones and both cursors in one transaction. Consumers running meanwhile
/// lose their compare-and-swap and continue after the rebuild's cursor.
pub async fn rebuild(db: &Db) -> Result<Rebuilt, ReportError> {
    let upto = settled_end(db, "events").await?;
    let cards_upto = settled_end(db, "card_events").await?;
    let mut fold = Fold::default();
    let mut after = 0;
    let mut events_read = 0u64;
    let t = std::time::Instant::now();
    if let Some(direct) = db.direct() {
        // A SQLite file: one reader per core, each folding its share of the dossiers.
        (fold, events_read) = civitas_store::direct::blocking(|| crate::scan::parallel(direct, upto))?;
        after = upto;
    }
    const CHUNK: i64 = 50_000;
    while after < upto {
        let hi = (after + CHUNK).min(upto);
        let events: Vec<StoredEvent> =
            dispatch!(db, pool => sqlx::query_as(EVENTS).bind(after).bind(hi).fetch_all(pool).await)?;
        // Dossiers come from the fold itself (their receipts are folded first), never from the
        // stored memos being replaced.
        load_communes(db, &mut fold, Fold::needs(&events).1).await?;
        for e in &events {
            fold.apply(e);
        }
        events_read += events.len() as u64;
        after = hi;
    }
    let mut cards_read = 0u64;
    let mut after = 0;
    while after < cards_upto {
        let hi = (after + CHUNK).min(cards_upto);
        let events = card_events(db, after, hi).await?;
        for e in &events {
            fold.apply_card(e);
        }
        cards_read += events.len() as u64;
        after = hi;
    }
    let scan_s = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let facts = commit(db, &fold, Move::Replace { events: upto, cards: cards_upto }).await?;
    let write_s = t.elapsed().as_secs_f64();
    Ok(Rebuilt {
        events: events_read,
        card_events: cards_read,
        facts: facts.unwrap_or_default(),
        dossiers: fold.known(),
        skipped: fold.skipped,
        scan_s,
        write_s,
    })
}

/// The last id of a log below which nothing can still commit (the settled reader looks
/// 10,000 ids ahead at a time).
async fn settled_end(db: &Db, table: &'static str) -> Result<i64, ReportError> {
    let settled = Settled::new(civitas_store::events::GAP_GRACE);
    // Only the newest ids can still be in flight; far older gaps are rolled-back ids.
    let sql = format!("SELECT COALESCE(MAX(id), 0) FROM {table}");
    let last: i64 = dispatch!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).fetch_one(pool).await)?;
    let mut at = (last - 100_000).max(0);
    loop {
        let next = settled.upto_in(db, table, at).await?;
        if next == at {
            return Ok(at);
        }
        at = next;
    }
}

/// How many facts and dossiers are stored (for the CLI's report).
pub async fn counts(db: &Db) -> Result<HashMap<&'static str, i64>, ReportError> {
    let mut out = HashMap::new();
    for (name, sql) in
        [("facts", "SELECT COUNT(*) FROM report_facts"), ("dossiers", "SELECT COUNT(*) FROM report_dossiers")]
    {
        let n: i64 = dispatch!(db, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
        out.insert(name, n);
    }
    Ok(out)
}
