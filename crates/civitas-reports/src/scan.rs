//! The consumer's and the rebuild's reads on a SQLite file, through a direct read-only
//! connection ([`civitas_store::direct`]): the events are folded where rusqlite leaves them
//! (no copy per event in a rebuild), and a batch's dossier memos and e-ID holders' communes are
//! point reads by key on the same connection.

use rusqlite::{Connection, OptionalExtension, params};

use civitas_store::events::StoredEvent;

use crate::fold::{DossierMemo, EventRef, Fold, Known};
use crate::parse_day;

const EVENTS: &str =
    "SELECT id, kind, subject, payload, actor, occurred_at FROM events WHERE id > ?1 AND id <= ?2 ORDER BY id";

fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    // The columns are TEXT NOT NULL; a value of another type reads as empty (the fold then
    // ignores or skips the event) instead of stopping the consumer.
    Ok(row.get_ref(i)?.as_str().unwrap_or_default())
}

/// Folds the events in (after, upto] as the consumer does: reads them, loads the memos of
/// their dossiers and the communes of their e-ID holders, folds. Returns how many were read.
pub fn batch(conn: &Connection, fold: &mut Fold, after: i64, upto: i64) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(EVENTS)?;
    let events: Vec<StoredEvent> = stmt
        .query_map(params![after, upto], |row| {
            Ok(StoredEvent {
                id: row.get(0)?,
                kind: text(row, 1)?.to_owned(),
                subject: text(row, 2)?.to_owned(),
                payload: text(row, 3)?.to_owned(),
                actor: text(row, 4)?.to_owned(),
                occurred_at: text(row, 5)?.to_owned(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let (codes, pids) = Fold::needs(&events);
    for code in codes {
        if let std::collections::hash_map::Entry::Vacant(slot) = fold.dossiers.entry(code) {
            let memo = memo(conn, slot.key())?;
            slot.insert(Known { memo, dirty: false });
        }
    }
    for pid in pids {
        commune(conn, fold, &pid)?;
    }
    for e in &events {
        fold.apply(e);
    }
    Ok(events.len())
}

/// Folds the events in (after, upto] for a rebuild: each row as it is read, without copying
/// it; dossiers come from the fold itself (their receipts come first), never from the stored
/// memos being replaced. Returns how many were read.
pub fn stream(conn: &Connection, fold: &mut Fold, after: i64, upto: i64) -> rusqlite::Result<u64> {
    let mut stmt = conn.prepare_cached(EVENTS)?;
    let mut rows = stmt.query(params![after, upto])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let e = EventRef {
            kind: text(row, 1)?,
            subject: text(row, 2)?,
            payload: text(row, 3)?,
            actor: text(row, 4)?,
            occurred_at: text(row, 5)?,
        };
        n += 1;
        if !fold.owns(e) {
            continue;
        }
        if Fold::needs_communes(e.kind) {
            commune(conn, fold, e.subject)?;
        }
        fold.apply_ref(e);
    }
    Ok(n)
}

/// The stored memo of a dossier (`None`: the consumer never saw its receipt).
fn memo(conn: &Connection, code: &str) -> rusqlite::Result<Option<DossierMemo>> {
    let sql = "SELECT unit, procedure, channel, received_on, appointment_on, overdue_on, state, supplements \
               FROM report_dossiers WHERE code = ?1";
    let row = conn
        .prepare_cached(sql)?
        .query_row([code], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })
        .optional()?;
    Ok(row.and_then(|(unit, procedure, channel, received, appointment, overdue, state, supplements)| {
        Some(DossierMemo {
            unit,
            procedure,
            channel,
            received_on: parse_day(&received)?,
            appointment_on: parse_day(&appointment)?,
            overdue_on: overdue.as_deref().and_then(parse_day),
            state,
            supplements,
        })
    }))
}

/// Remembers the commune of an e-ID holder (once per fold).
fn commune(conn: &Connection, fold: &mut Fold, pid: &str) -> rusqlite::Result<()> {
    if fold.communes.contains_key(pid) {
        return Ok(());
    }
    let sql = "SELECT COALESCE(current_commune, permanent_commune, temporary_commune, '') FROM people WHERE pid = ?1";
    if let Some(c) = conn.prepare_cached(sql)?.query_row([pid], |r| r.get::<_, String>(0)).optional()? {
        fold.communes.insert(pid.to_owned(), c);
    }
    Ok(())
}

/// Folds the whole log up to `upto` for a rebuild on every core: each thread reads the log on
/// its own connection and folds its share ([`Fold::owns`]); the shares are merged. Returns
/// the fold and how many events were read.
pub fn parallel(direct: &civitas_store::direct::Direct, upto: i64) -> Result<(Fold, u64), civitas_store::StoreError> {
    const CHUNK: i64 = 50_000;
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8) as u64;
    let folds: Vec<Result<(Fold, u64), civitas_store::StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..parts)
            .map(|k| {
                s.spawn(move || {
                    let mut fold = Fold { part: Some((k, parts)), ..Fold::default() };
                    let (mut after, mut read) = (0, 0);
                    while after < upto {
                        let hi = (after + CHUNK).min(upto);
                        read += direct.read(|conn| stream(conn, &mut fold, after, hi))?;
                        after = hi;
                    }
                    Ok((fold, read))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Err(civitas_store::StoreError::Corrupt("a rebuild thread failed".into())))
            })
            .collect()
    });
    let mut all: Option<(Fold, u64)> = None;
    for f in folds {
        let (fold, read) = f?;
        match &mut all {
            None => all = Some((fold, read)),
            Some((a, _)) => a.merge(fold),
        }
    }
    let (mut fold, read) = all.unwrap_or_default();
    fold.part = None;
    Ok((fold, read))
}
