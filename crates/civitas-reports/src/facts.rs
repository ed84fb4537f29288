//! How the facts are stored: one row per (period, unit, dim) with a column per measure
//! (`report_facts` per day, `report_facts_monthly` per month), a zero stored as NULL. A day's
//! or a month's measures of one unit sit side by side in one row: a tenth of the rows and a
//! fifth of the bytes of a row per measure, which is what the consumer, a rebuild and every
//! query pay for. The column of measure `a.b_c` is `a_b_c`, in the order of [`m::ALL`]; a new
//! measure of the fold needs its column in a migration (every write names every column: a
//! missing one fails the first write, and the tests).

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use crate::fold::m;

/// How many measures (columns) a fact row holds.
pub const WIDTH: usize = m::ALL.len();

static COLUMNS: LazyLock<FxHashMap<&'static str, usize>> =
    LazyLock::new(|| m::ALL.iter().enumerate().map(|(i, m)| (*m, i)).collect());

/// The column of `measure` (`None`: not a stored measure, e.g. an estimated one).
pub fn column(measure: &str) -> Option<usize> {
    COLUMNS.get(measure).copied()
}

/// The SQL name of column `i` (a measure code with its dots as underscores: only letters,
/// digits and underscores, never anything a caller supplied).
pub fn column_name(i: usize) -> String {
    m::ALL[i].replace('.', "_")
}

/// One row to write: a period (`YYYY-MM-DD` or `YYYY-MM`), a unit and a dimension, with the
/// changes of its measures as (column, change), none zero.
#[derive(Debug, PartialEq, Eq)]
pub struct Row<'a> {
    pub period: String,
    pub unit: &'a str,
    pub dim: &'a str,
    pub values: Vec<(usize, i64)>,
}

impl Row<'_> {
    /// Every column's change, `None` for no change (stored as NULL).
    pub fn dense(&self) -> [Option<i64>; WIDTH] {
        let mut out = [None; WIDTH];
        for (c, v) in &self.values {
            out[*c] = Some(*v);
        }
        out
    }
}

/// `{period}, unit, dim` and every measure column, comma-separated.
pub fn column_list(period: &str) -> String {
    let mut out = format!("{period}, unit, dim");
    for i in 0..WIDTH {
        out.push_str(", ");
        out.push_str(&column_name(i));
    }
    out
}

/// The clause that adds a row's changes to the stored row of its key (a sum of zero is
/// stored as NULL again).
pub fn add_on_conflict(table: &str, period: &str) -> String {
    let sets: Vec<String> = (0..WIDTH)
        .map(|i| {
            let c = column_name(i);
            format!("{c} = NULLIF(COALESCE({table}.{c}, 0) + COALESCE(excluded.{c}, 0), 0)")
        })
        .collect();
    format!(" ON CONFLICT ({period}, unit, dim) DO UPDATE SET {}", sets.join(", "))
}

/// `CAST(SUM(c) AS BIGINT)` for each column, comma-separated (PostgreSQL sums BIGINTs as
/// NUMERIC).
pub fn sum_list(columns: &[usize]) -> String {
    let sums: Vec<String> = columns.iter().map(|c| format!("CAST(SUM({}) AS BIGINT)", column_name(*c))).collect();
    sums.join(", ")
}

/// A key (unit or dimension) with one sum per column (`None`: no change).
pub type KeyedSums = (String, Vec<Option<i64>>);

/// The rows of a `SELECT key, sums...`.
pub fn keyed_sums<R>(rows: &[R], n: usize) -> Result<Vec<KeyedSums>, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    rows.iter()
        .map(|r| {
            let sums = (1..=n).map(|i| r.try_get(i)).collect::<Result<_, _>>()?;
            Ok((r.try_get(0)?, sums))
        })
        .collect()
}

/// Adds the sums of `columns` to `at`, by measure code.
pub fn add_sums(at: &mut std::collections::HashMap<String, i64>, columns: &[usize], sums: Vec<Option<i64>>) {
    for (c, v) in columns.iter().zip(sums) {
        *at.entry(m::ALL[*c].to_owned()).or_default() += v.unwrap_or(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_dense_by_column() {
        let (a, b) = (column(m::RECEIVED).unwrap_or(usize::MAX), column(m::OPEN).unwrap_or(usize::MAX));
        let row = Row { period: "2026-03-03".into(), unit: "01", dim: "", values: vec![(a, -1)] };
        assert_eq!(row.dense()[a], Some(-1));
        assert_eq!(row.dense()[b], None);
        assert_eq!(column("not.stored"), None);
        assert_eq!(column_name(a), "dossiers_received");
        assert!(column_list("day").ends_with(", cards_returned"));
    }

    #[test]
    fn every_column_name_is_a_plain_identifier() {
        for i in 0..WIDTH {
            let c = column_name(i);
            assert!(c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{c}");
            assert_eq!(column(m::ALL[i]), Some(i));
        }
    }
}
