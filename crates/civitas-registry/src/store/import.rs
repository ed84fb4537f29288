//! Bulk import: people not registered yet are inserted in large batches (SQLite: prepared
//! single-row inserts on a direct connection; PostgreSQL: COPY), idempotent by PID.

use super::*;

/// Rows per multi-row INSERT: 34 columns stay under SQLite's 32,766 bound parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 900;

/// Bulk insert of new `people` rows, skipping PIDs already registered; returns the PIDs
/// inserted. The one place where the two backends use different SQL: SQLite takes multi-row
/// `VALUES`, PostgreSQL takes one array per column through `UNNEST` (one short statement per
/// batch instead of one with tens of thousands of parameters).
pub(crate) trait InsertPeople {
    /// `copy`: on PostgreSQL, how `COPY` may be used (see [`CopyMode`]).
    async fn insert_people(&mut self, rows: &[RowValues<'_>], copy: CopyMode) -> Result<Vec<String>, sqlx::Error>;

    /// With `copy` on PostgreSQL, copies the households of `heads` in and returns none left to
    /// insert; otherwise (and on SQLite) returns `heads` for the portable `INSERT ... ON
    /// CONFLICT DO NOTHING`.
    async fn insert_copied_households<'p>(
        &mut self,
        heads: Vec<&'p &'p Person>,
        _at: &str,
        _copy: CopyMode,
    ) -> Result<Vec<&'p &'p Person>, sqlx::Error> {
        Ok(heads)
    }
}

/// How a batch of new people is written on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyMode {
    /// Portable `INSERT ... ON CONFLICT DO NOTHING` (single registrations, and the last resort).
    Insert,
    /// `COPY` of the rows whose PID is not registered yet, found by one query first.
    Checked,
    /// `COPY` of every row without looking first: a fresh import. A PID registered already
    /// fails the batch on the key, and it is written again `Checked`.
    Optimistic,
}

impl InsertPeople for sqlx::SqliteConnection {
    async fn insert_people(&mut self, rows: &[RowValues<'_>], _copy: CopyMode) -> Result<Vec<String>, sqlx::Error> {
        let mut inserted = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::new(format!("INSERT INTO people ({PERSON_COLUMNS}) "));
            qb.push_values(chunk, |mut b, v| bind_person!(b, v));
            qb.push(" ON CONFLICT (pid) DO NOTHING RETURNING pid");
            let pids: Vec<String> = qb.build_query_scalar().fetch_all(&mut *self).await?;
            inserted.extend(pids);
        }
        Ok(inserted)
    }
}

/// `COPY` of the rows whose PID is not registered yet (checked first unless `Unchecked`): the
/// server's fastest way in. Returns the PIDs written.
async fn copy_people(
    conn: &mut sqlx::PgConnection,
    rows: &[RowValues<'_>],
    copy: CopyMode,
) -> Result<Vec<String>, sqlx::Error> {
    let mut existing = std::collections::HashSet::new();
    if copy == CopyMode::Checked {
        let pids: Vec<&str> = rows.iter().map(|r| r.p.pid.as_str()).collect();
        existing = sqlx::query_scalar::<_, String>("SELECT pid FROM people WHERE pid = ANY($1)")
            .bind(&pids)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
    }
    let new: Vec<&RowValues> = rows.iter().filter(|r| !existing.contains(r.p.pid.as_str())).collect();
    if !new.is_empty() {
        let mut data = Vec::with_capacity(new.len() * 400);
        for r in &new {
            copy_row(&mut data, r);
        }
        let mut copy = conn.copy_in_raw(&format!("COPY people ({PERSON_COLUMNS}) FROM STDIN")).await?;
        copy.send(data).await?;
        copy.finish().await?;
    }
    Ok(new.iter().map(|r| r.p.pid.as_str().to_owned()).collect())
}

impl InsertPeople for sqlx::PgConnection {
    async fn insert_copied_households<'p>(
        &mut self,
        heads: Vec<&'p &'p Person>,
        at: &str,
        copy: CopyMode,
    ) -> Result<Vec<&'p &'p Person>, sqlx::Error> {
        if copy == CopyMode::Insert || heads.is_empty() {
            return Ok(heads);
        }
        let mut data = Vec::with_capacity(heads.len() * 120);
        for p in &heads {
            let r = p.permanent_residence.as_ref();
            let id = p.household_id.as_ref().map(|h| h.as_str());
            let commune = r.map(|r| r.commune.as_str()).unwrap_or_default();
            let address = r.map(|r| r.address.as_str()).unwrap_or_default();
            for value in [id, Some(p.pid.as_str()), Some(commune), Some(address), Some("1"), Some(at)] {
                civitas_store::copy_field(&mut data, value);
            }
            civitas_store::end_copy_row(&mut data);
        }
        let mut copy = self
            .copy_in_raw("COPY households (id, head_pid, commune, address, version, updated_at) FROM STDIN")
            .await?;
        copy.send(data).await?;
        copy.finish().await?;
        Ok(Vec::new())
    }

    async fn insert_people(&mut self, rows: &[RowValues<'_>], copy: CopyMode) -> Result<Vec<String>, sqlx::Error> {
        if copy != CopyMode::Insert {
            return copy_people(self, rows, copy).await;
        }
        fn col<'r, T>(rows: &'r [RowValues<'r>], f: impl Fn(&'r RowValues<'r>) -> T) -> Vec<T> {
            rows.iter().map(f).collect()
        }
        let text = |f: &dyn Fn(&RowValues) -> String| -> Vec<String> { rows.iter().map(f).collect() };
        let opt = |f: &dyn Fn(&RowValues) -> Option<String>| -> Vec<Option<String>> { rows.iter().map(f).collect() };
        let types = [
            "text", "text", "text", "text", "text", "text", "text", "bigint", "text", "text", "text", "text", "text",
            "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text",
            "text", "text", "text", "text", "text", "text", "bigint", "text",
        ];
        let unnest: Vec<String> = types.iter().enumerate().map(|(i, t)| format!("${}::{t}[]", i + 1)).collect();
        let sql = format!(
            "INSERT INTO people ({PERSON_COLUMNS}) SELECT * FROM UNNEST({}) ON CONFLICT (pid) DO NOTHING RETURNING pid",
            unnest.join(", ")
        );
        let res = |r: &RowValues| {
            r.p.permanent_residence.as_ref().map(|x| (x.commune.as_str().to_owned(), x.address.clone()))
        };
        fn tmp<'a>(r: &'a RowValues<'a>) -> Option<&'a TemporaryResidence> {
            r.p.temporary_residence.as_ref()
        }
        let cur =
            |r: &RowValues| r.p.current_residence.as_ref().map(|x| (x.commune.as_str().to_owned(), x.address.clone()));
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
            .bind(text(&|r| r.p.pid.as_str().to_owned()))
            .bind(text(&|r| r.p.full_name.clone()))
            .bind(text(&|r| r.name_folded.clone()))
            .bind(text(&|r| r.family.clone()))
            .bind(text(&|r| r.given.clone()))
            .bind(text(&|r| r.other_names.clone()))
            .bind(text(&|r| r.p.birth_date.to_string()))
            .bind(col(rows, |r| i64::from(r.p.birth_date.year())))
            .bind(text(&|r| r.p.sex.as_str().to_owned()))
            .bind(opt(&|r| r.p.birth_registration_place.clone()))
            .bind(opt(&|r| r.p.hometown.clone()))
            .bind(text(&|r| r.p.ethnicity.code()))
            .bind(text(&|r| r.p.religion.clone()))
            .bind(text(&|r| r.p.nationality.clone()))
            .bind(text(&|r| r.p.marital_status.as_str().to_owned()))
            .bind(text(&|r| r.p.status.as_str().to_owned()))
            .bind(opt(&|r| r.p.father_pid.map(|x| x.as_str().to_owned())))
            .bind(opt(&|r| r.p.mother_pid.map(|x| x.as_str().to_owned())))
            .bind(opt(&|r| r.p.spouse_pid.map(|x| x.as_str().to_owned())))
            .bind(opt(&|r| res(r).map(|x| x.0)))
            .bind(opt(&|r| res(r).map(|x| x.1)))
            .bind(opt(&|r| tmp(r).map(|x| x.commune.as_str().to_owned())))
            .bind(opt(&|r| tmp(r).map(|x| x.address.clone())))
            .bind(opt(&|r| tmp(r).and_then(|x| x.until.map(|u| u.to_string()))))
            .bind(opt(&|r| cur(r).map(|x| x.0)))
            .bind(opt(&|r| cur(r).map(|x| x.1)))
            .bind(opt(&|r| r.p.household_id.as_ref().map(|h| h.as_str().to_owned())))
            .bind(opt(&|r| r.p.relation_to_head.map(|x| x.as_str().to_owned())))
            .bind(text(&|r| r.change.to_owned()))
            .bind(text(&|r| r.attribution.actor.to_owned()))
            .bind(text(&|r| r.attribution.legal_basis.basis.clone()))
            .bind(opt(&|r| r.attribution.legal_basis.document_ref.clone()))
            .bind(col(rows, |r| r.version))
            .bind(text(&|r| r.attribution.at.to_owned()))
            .fetch_all(&mut *self)
            .await
    }
}

impl Register {
    /// Inserts imported people that are not registered yet; those already registered are left
    /// as they are (import is idempotent by PID). One transaction per call.
    pub async fn import_batch(
        &self,
        people: &[Person],
        attribution: &Attribution<'_>,
    ) -> Result<ImportOutcome, RegisterError> {
        if let Some(direct) = self.db.direct().filter(|_| people.len() > 1) {
            // On a SQLite file: prepared single-row inserts on a plain connection, the way the
            // `sqlite3` shell loads rows, instead of building multi-row statements through sqlx.
            let _writer = self.db.write_lock().await;
            let run =
                || direct.write(|conn| insert_new_directly(conn, people, attribution, "imported", "person.imported"));
            return Ok(civitas_store::direct::blocking(run)?);
        }
        self.insert_new(people, attribution, "imported", "person.imported").await
    }

    pub(crate) async fn insert_new(
        &self,
        people: &[Person],
        attribution: &Attribution<'_>,
        change_kind: &str,
        event_kind: &'static str,
    ) -> Result<ImportOutcome, RegisterError> {
        // A batch (an import) is copied in, optimistically until a batch met people registered
        // already (a re-import), then after looking which are new; if someone registered one of
        // them meanwhile, the copy fails on the key and the batch is written again row by row.
        let mut copy = if people.len() < 100 {
            CopyMode::Insert
        } else if self.copy_conflicts.load(std::sync::atomic::Ordering::Relaxed) {
            CopyMode::Checked
        } else {
            CopyMode::Optimistic
        };
        loop {
            match self.insert_new_once(people, attribution, change_kind, event_kind, copy).await {
                Err(RegisterError::Store(StoreError::Database(sqlx::Error::Database(e))))
                    if copy != CopyMode::Insert && e.is_unique_violation() =>
                {
                    self.copy_conflicts.store(true, std::sync::atomic::Ordering::Relaxed);
                    copy = if copy == CopyMode::Optimistic { CopyMode::Checked } else { CopyMode::Insert };
                }
                other => return other,
            }
        }
    }

    pub(crate) async fn insert_new_once(
        &self,
        people: &[Person],
        attribution: &Attribution<'_>,
        change_kind: &str,
        event_kind: &'static str,
        copy: CopyMode,
    ) -> Result<ImportOutcome, RegisterError> {
        if people.is_empty() {
            return Ok(ImportOutcome::default());
        }
        let mut rows: Vec<RowValues> = people.iter().map(|p| RowValues::new(p, change_kind, attribution, 1)).collect();
        // Key order turns random primary-key inserts into runs on neighbouring pages.
        rows.sort_unstable_by_key(|r| r.p.pid);
        let vocab = name_vocab(people);
        let outcome = dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            let inserted = InsertPeople::insert_people(&mut *tx, &rows, copy).await?;
            let inserted_set: std::collections::HashSet<&str> = inserted.iter().map(String::as_str).collect();
            let new_people: Vec<&Person> = people.iter().filter(|p| inserted_set.contains(p.pid.as_str())).collect();
            let heads: Vec<&&Person> = new_people.iter().filter(|p| p.relation_to_head == Some(Relation::Head) && p.household_id.is_some()).collect();
            let heads = InsertPeople::insert_copied_households(&mut *tx, heads, attribution.at, copy).await?;
            for chunk in heads.chunks(1000) {
                let mut qb = QueryBuilder::new("INSERT INTO households (id, head_pid, commune, address, version, updated_at) ");
                qb.push_values(chunk, |mut b, p| {
                    let r = p.permanent_residence.as_ref();
                    b.push_bind(p.household_id.as_ref().map(|h| h.as_str()))
                        .push_bind(p.pid.as_str())
                        .push_bind(r.map(|r| r.commune.as_str()).unwrap_or_default())
                        .push_bind(r.map(|r| r.address.as_str()).unwrap_or_default())
                        .push_bind(1i64)
                        .push_bind(attribution.at);
                });
                qb.push(" ON CONFLICT (id) DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }
            let vocab: Vec<_> = vocab.iter().collect();
            for chunk in vocab.chunks(1000) {
                let mut qb = QueryBuilder::new("INSERT INTO name_vocab (part, token) ");
                qb.push_values(chunk, |mut b, (part, token)| {
                    b.push_bind(*part).push_bind(token.as_str());
                });
                qb.push(" ON CONFLICT (part, token) DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }
            // One event per written batch (a single registration is a batch of one): a bulk
            // import of a million people appends a few hundred events, not a million.
            let events = batch_events(&new_people, event_kind, attribution);
            insert_events!(tx, &events)?;
            tx.commit().await?;
            ImportOutcome { inserted: inserted.len() as u64, unchanged: (people.len() - inserted.len()) as u64 }
        });
        Ok(outcome)
    }
}

/// [`Register::import_batch`] on a direct SQLite connection: one transaction, a prepared
/// single-row insert per person (`ON CONFLICT DO NOTHING`: people already registered are left
/// as they are), then the households of new heads, the name vocabulary and the batch's event.
pub(crate) fn insert_new_directly(
    conn: &mut rusqlite::Connection,
    people: &[Person],
    attribution: &Attribution<'_>,
    change_kind: &str,
    event_kind: &'static str,
) -> rusqlite::Result<ImportOutcome> {
    static INSERT_PERSON: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let params: Vec<String> = (1..=34).map(|i| format!("?{i}")).collect();
        format!("INSERT INTO people ({PERSON_COLUMNS}) VALUES ({}) ON CONFLICT (pid) DO NOTHING", params.join(", "))
    });
    let mut rows: Vec<RowValues> = people.iter().map(|p| RowValues::new(p, change_kind, attribution, 1)).collect();
    // Key order turns random primary-key inserts into runs on neighbouring pages.
    rows.sort_unstable_by_key(|r| r.p.pid);
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut new_people: Vec<&Person> = Vec::with_capacity(rows.len());
    {
        let mut insert = tx.prepare_cached(&INSERT_PERSON)?;
        for v in &rows {
            let inserted = insert_row(&mut insert, v)?;
            if inserted == 1 {
                new_people.push(v.p);
            }
        }
        insert_rest(&tx, people, &new_people, attribution, event_kind)?;
    }
    tx.commit()?;
    let inserted = new_people.len() as u64;
    Ok(ImportOutcome { inserted, unchanged: people.len() as u64 - inserted })
}

/// One person's row through the prepared single-row insert; 1 if inserted, 0 if registered.
fn insert_row(insert: &mut rusqlite::CachedStatement<'_>, v: &RowValues<'_>) -> rusqlite::Result<usize> {
    let p = v.p;
    fn residence(r: &Option<Residence>) -> Option<(&str, &str)> {
        r.as_ref().map(|r| (r.commune.as_str(), r.address.as_str()))
    }
    let (permanent, current) = (residence(&p.permanent_residence), residence(&p.current_residence));
    let temporary = p.temporary_residence.as_ref();
    insert.execute(rusqlite::params![
        p.pid.as_str(),
        p.full_name,
        v.name_folded,
        v.family,
        v.given,
        v.other_names,
        p.birth_date.to_string(),
        i64::from(p.birth_date.year()),
        p.sex.as_str(),
        p.birth_registration_place,
        p.hometown,
        p.ethnicity.code(),
        p.religion,
        p.nationality,
        p.marital_status.as_str(),
        p.status.as_str(),
        p.father_pid.as_ref().map(Pid::as_str),
        p.mother_pid.as_ref().map(Pid::as_str),
        p.spouse_pid.as_ref().map(Pid::as_str),
        permanent.map(|r| r.0),
        permanent.map(|r| r.1),
        temporary.map(|r| r.commune.as_str()),
        temporary.map(|r| r.address.as_str()),
        temporary.and_then(|r| r.until.map(|u| u.to_string())),
        current.map(|r| r.0),
        current.map(|r| r.1),
        p.household_id.as_ref().map(|h| h.as_str()),
        p.relation_to_head.map(|r| r.as_str()),
        v.change,
        v.attribution.actor,
        v.attribution.legal_basis.basis,
        v.attribution.legal_basis.document_ref,
        v.version,
        v.attribution.at,
    ])
}

/// The rest of a direct import batch: the households of new heads, the name vocabulary, the
/// batch's events.
fn insert_rest(
    tx: &rusqlite::Transaction<'_>,
    people: &[Person],
    new_people: &[&Person],
    attribution: &Attribution<'_>,
    event_kind: &'static str,
) -> rusqlite::Result<()> {
    let mut household = tx.prepare_cached(
        "INSERT INTO households (id, head_pid, commune, address, version, updated_at) \
         VALUES (?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT (id) DO NOTHING",
    )?;
    for p in new_people.iter().filter(|p| p.relation_to_head == Some(Relation::Head)) {
        let Some(id) = &p.household_id else { continue };
        let r = p.permanent_residence.as_ref();
        household.execute(rusqlite::params![
            id.as_str(),
            p.pid.as_str(),
            r.map(|r| r.commune.as_str()).unwrap_or_default(),
            r.map(|r| r.address.as_str()).unwrap_or_default(),
            attribution.at,
        ])?;
    }
    let mut vocab =
        tx.prepare_cached("INSERT INTO name_vocab (part, token) VALUES (?1, ?2) ON CONFLICT (part, token) DO NOTHING")?;
    for (part, token) in name_vocab(people) {
        vocab.execute(rusqlite::params![part, token])?;
    }
    let mut event = tx.prepare_cached(
        "INSERT INTO events (kind, subject, payload, actor, occurred_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for e in batch_events(new_people, event_kind, attribution) {
        event.execute(rusqlite::params![e.kind, e.subject, e.payload.to_string(), e.actor, e.occurred_at])?;
    }
    Ok(())
}

/// Appends one `people` row in `COPY ... FROM STDIN` text format (columns in [`PERSON_COLUMNS`]
/// order, tab-separated, `\N` for NULL, backslash escapes).
pub(crate) fn copy_row(out: &mut Vec<u8>, v: &RowValues<'_>) {
    let p = v.p;
    let residence = |r: &Option<Residence>| r.as_ref().map(|r| (r.commune.as_str().to_owned(), r.address.clone()));
    let (permanent, current) = (residence(&p.permanent_residence), residence(&p.current_residence));
    let temporary = p.temporary_residence.as_ref();
    let birth_date = p.birth_date.to_string();
    let birth_year = p.birth_date.year().to_string();
    let until = temporary.and_then(|r| r.until.map(|u| u.to_string()));
    let version = v.version.to_string();
    let ethnicity = p.ethnicity.code();
    let values: [Option<&str>; 34] = [
        Some(p.pid.as_str()),
        Some(&p.full_name),
        Some(&v.name_folded),
        Some(&v.family),
        Some(&v.given),
        Some(&v.other_names),
        Some(&birth_date),
        Some(&birth_year),
        Some(p.sex.as_str()),
        p.birth_registration_place.as_deref(),
        p.hometown.as_deref(),
        Some(&ethnicity),
        Some(&p.religion),
        Some(&p.nationality),
        Some(p.marital_status.as_str()),
        Some(p.status.as_str()),
        p.father_pid.as_ref().map(Pid::as_str),
        p.mother_pid.as_ref().map(Pid::as_str),
        p.spouse_pid.as_ref().map(Pid::as_str),
        permanent.as_ref().map(|r| r.0.as_str()),
        permanent.as_ref().map(|r| r.1.as_str()),
        temporary.map(|r| r.commune.as_str()),
        temporary.map(|r| r.address.as_str()),
        until.as_deref(),
        current.as_ref().map(|r| r.0.as_str()),
        current.as_ref().map(|r| r.1.as_str()),
        p.household_id.as_ref().map(|h| h.as_str()),
        p.relation_to_head.map(|r| r.as_str()),
        Some(v.change),
        Some(v.attribution.actor),
        Some(&v.attribution.legal_basis.basis),
        v.attribution.legal_basis.document_ref.as_deref(),
        Some(&version),
        Some(v.attribution.at),
    ];
    for value in values {
        civitas_store::copy_field(out, value);
    }
    civitas_store::end_copy_row(out);
}
