//! Reading the archive store, its fixity check and disposal decisions.

use civitas_store::unit::{Value, Write};
use civitas_store::{Db, StoreError, dispatch};
use time::Date;

use super::{COLUMNS, Package, payloads};

/// One package.
pub async fn get(db: &Db, subject: &str) -> Result<Option<Package>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM archive_packages WHERE subject = $1");
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Package>(sqlx::AssertSqlSafe(sql)).bind(subject).fetch_optional(pool).await)?,
    )
}

/// The packages of dossiers closed on or after `since`, in order of closing.
pub async fn packages_since(db: &Db, since: Date) -> Result<Vec<Package>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM archive_packages WHERE closed_on >= $1 ORDER BY closed_on, subject");
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Package>(sqlx::AssertSqlSafe(sql)).bind(since.to_string()).fetch_all(pool).await)?,
    )
}

/// Which packages a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// The latest prepared.
    Recent,
    /// Past their retention, without a decision (or kept until a day now past).
    DueForDisposal,
    /// Whose files no longer match their digests.
    Drift,
}

/// Up to `limit` packages of `listing`, within the units `covers` accepts.
pub async fn list(
    db: &Db,
    listing: Listing,
    today: Date,
    covers: &(dyn Fn(&str) -> bool + Sync),
    limit: usize,
) -> Result<Vec<Package>, StoreError> {
    let filter = match listing {
        Listing::Recent => "1 = 1 ORDER BY prepared_at DESC, subject",
        Listing::DueForDisposal => {
            "dispose_after IS NOT NULL AND dispose_after <= $1 AND (disposal IS NULL OR disposal = 'keep') \
             ORDER BY dispose_after, subject"
        }
        Listing::Drift => "fixity = 'drift' ORDER BY fixity_checked_at DESC, subject",
    };
    let sql = format!("SELECT {COLUMNS} FROM archive_packages WHERE {filter}");
    let today = today.to_string();
    let rows: Vec<Package> = if listing == Listing::DueForDisposal {
        dispatch!(db, pool => sqlx::query_as::<_, Package>(sqlx::AssertSqlSafe(sql)).bind(&today).fetch_all(pool).await)?
    } else {
        dispatch!(db, pool => sqlx::query_as::<_, Package>(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await)?
    };
    Ok(rows.into_iter().filter(|p| covers(&p.unit_code)).take(limit).collect())
}

/// Packages past retention (see [`Listing::DueForDisposal`]).
pub async fn due_for_disposal(
    db: &Db,
    today: Date,
    covers: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<Package>, StoreError> {
    list(db, Listing::DueForDisposal, today, covers, 10_000).await
}

/// A disposal decision on a package past its retention.
#[derive(Debug, Clone)]
pub enum Disposal {
    /// Kept for longer: proposed again after `until`.
    Keep { until: Date },
    /// Approved for destruction (by the appraisal council; the destruction itself is recorded
    /// outside civitas). The package stays listed as decided.
    Dispose,
}

#[derive(Debug, thiserror::Error)]
pub enum DisposalError {
    #[error("no package {0} that you may see")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records `decision` on package `subject` by `leader` (who must cover its unit), with the
/// reasons in `note`.
pub async fn decide_disposal(
    db: &Db,
    subject: &str,
    decision: &Disposal,
    note: &str,
    leader: &str,
    covers: &(dyn Fn(&str) -> bool + Sync),
    now: time::OffsetDateTime,
) -> Result<Package, DisposalError> {
    let not_found = || DisposalError::NotFound(subject.to_owned());
    let p = get(db, subject).await?.filter(|p| covers(&p.unit_code)).ok_or_else(not_found)?;
    let today = crate::dossiers::local_today(now);
    let due = p.dispose_after.as_deref().is_some_and(|d| d <= today.to_string().as_str());
    if !due {
        return Err(DisposalError::Invalid(match &p.dispose_after {
            None => format!("{subject} is kept permanently ({})", p.retention),
            Some(d) => format!("{subject} is kept until {d}: no decision before then"),
        }));
    }
    if p.disposal.as_deref() == Some("dispose") {
        return Err(DisposalError::Invalid(format!("{subject} was already approved for disposal")));
    }
    let note = civitas_core::text::nfc(note.trim());
    if note.is_empty() || note.chars().count() > 2000 {
        return Err(DisposalError::Invalid(
            "give the reasons (the council's minutes), at most 2,000 characters".into(),
        ));
    }
    let (kind, dispose_after) = match decision {
        Disposal::Keep { until } if *until > today => ("keep", until.to_string()),
        Disposal::Keep { .. } => return Err(DisposalError::Invalid("keep it until a day after today".into())),
        Disposal::Dispose => ("dispose", p.dispose_after.clone().unwrap_or_default()),
    };
    let at = civitas_store::timestamp(now);
    let writes = [
        Write::new(
            "UPDATE archive_packages SET disposal = $1, disposal_by = $2, disposal_at = $3, disposal_note = $4, dispose_after = $5 \
             WHERE subject = $6",
            vec![
                kind.into(),
                leader.into(),
                at.clone().into(),
                note.clone().into(),
                dispose_after.into(),
                subject.into(),
            ],
        )
        .expecting(1, "the package changed meanwhile"),
        civitas_store::unit::event(&civitas_store::NewEvent {
            kind: "archive.disposal",
            subject: subject.to_owned(),
            payload: serde_json::json!({ "decision": kind, "note": note, "unit": p.unit_code }),
            actor: leader.to_owned(),
            occurred_at: at,
        }),
    ];
    if let Err(what) = civitas_store::unit::commit(db, &writes).await? {
        return Err(DisposalError::Invalid(what.into()));
    }
    get(db, subject).await?.ok_or_else(not_found)
}

/// Re-checks the digests of up to `limit` packages, least recently checked first, and records
/// the outcome (`ok`, or `drift` naming the file); returns (checked, drifted).
pub async fn fixity(db: &Db, limit: i64, now: time::OffsetDateTime) -> Result<(usize, usize), StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM archive_packages ORDER BY CASE WHEN fixity_checked_at IS NULL THEN 0 ELSE 1 END, \
         fixity_checked_at, subject LIMIT $1"
    );
    let packages: Vec<Package> = dispatch!(db, pool => sqlx::query_as::<_, Package>(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await)?;
    let at = civitas_store::timestamp(now);
    let (mut checked, mut drifted) = (0, 0);
    let update =
        "UPDATE archive_packages SET fixity = $1, fixity_detail = $2, fixity_checked_at = $3 WHERE subject = $4";
    for chunk in packages.chunks(100) {
        let mut writes = Vec::with_capacity(chunk.len());
        for (p, payload) in chunk.iter().zip(payloads(db, chunk).await?) {
            let (state, detail) = match payload {
                Ok(_) => ("ok", None),
                Err(why) => {
                    tracing::error!(package = %p.subject, problem = %why, "archive fixity: drift");
                    drifted += 1;
                    ("drift", Some(why))
                }
            };
            writes.push(Write::new(
                update,
                vec![state.into(), Value::Text(detail), at.clone().into(), p.subject.clone().into()],
            ));
            checked += 1;
        }
        let _ = civitas_store::unit::commit(db, &writes).await?;
    }
    Ok((checked, drifted))
}
