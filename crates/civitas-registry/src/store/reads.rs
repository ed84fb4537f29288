//! Reading the register: people by PID, existence checks, samples, history, households,
//! export and ranked search.

use super::*;

impl Register {
    pub async fn get(&self, pid: &Pid) -> Result<Option<Person>, RegisterError> {
        Ok(self.get_with_meta(pid).await?.map(|(p, _)| p))
    }

    pub async fn get_with_meta(&self, pid: &Pid) -> Result<Option<(Person, ChangeMeta)>, RegisterError> {
        if let Some(direct) = self.db.direct() {
            // The hot read of the API (agency systems look people up by PID): a primary-key
            // lookup on the calling thread, without a round trip to sqlx's worker thread.
            let row = direct.read(|c| {
                use rusqlite::OptionalExtension;
                static SQL: std::sync::LazyLock<String> =
                    std::sync::LazyLock::new(|| format!("SELECT {PERSON_ROW_COLUMNS} FROM people WHERE pid = ?1"));
                c.prepare_cached(&SQL)?.query_row([pid.as_str()], PersonRow::from_direct).optional()
            })?;
            return Ok(row.map(PersonRow::into_person).transpose()?);
        }
        let sql = const_format_people("WHERE pid = $1");
        let row = dispatch!(&self.db, pool => sqlx::query_as::<_, PersonRow>(sqlx::AssertSqlSafe(sql)).bind(pid.as_str()).fetch_optional(pool).await)?;
        Ok(row.map(PersonRow::into_person).transpose()?)
    }

    pub async fn count(&self) -> Result<i64, RegisterError> {
        let n: i64 =
            dispatch!(&self.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM people").fetch_one(pool).await)?;
        Ok(n)
    }

    /// How many people were last changed by someone other than `actor` or an actor whose name
    /// starts with `prefix` (the demo's generator and its officers).
    pub async fn count_changed_by_others(&self, actor: &str, prefix: &str) -> Result<i64, RegisterError> {
        let sql = "SELECT COUNT(*) FROM people WHERE changed_by <> $1 AND changed_by NOT LIKE $2";
        let like = format!("{prefix}%");
        let n: i64 =
            dispatch!(&self.db, pool => sqlx::query_scalar(sql).bind(actor).bind(&like).fetch_one(pool).await)?;
        Ok(n)
    }

    /// Some person, for showing an example (the demo banner).
    pub async fn sample_pid(&self) -> Result<Option<String>, RegisterError> {
        let sql =
            "SELECT pid FROM people WHERE household_id IS NOT NULL AND relation_to_head = 'head' ORDER BY pid LIMIT 1";
        Ok(dispatch!(&self.db, pool => sqlx::query_scalar(sql).fetch_optional(pool).await)?)
    }

    /// Up to `n` living people born in or before `born_by` (demo accounts), in PID order.
    /// Which of `pids` are registered.
    pub async fn registered(&self, pids: &[Pid]) -> Result<std::collections::HashSet<Pid>, RegisterError> {
        let values: Vec<String> = pids.iter().map(|p| p.as_str().to_owned()).collect();
        let found = self.existing("SELECT pid FROM people WHERE pid IN", &values).await?;
        Ok(found.iter().filter_map(|r| r.parse::<Pid>().ok()).collect())
    }

    /// Which of `ids` are households of the register.
    pub async fn existing_households(
        &self,
        ids: &[HouseholdId],
    ) -> Result<std::collections::HashSet<HouseholdId>, RegisterError> {
        let values: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let found = self.existing("SELECT id FROM households WHERE id IN", &values).await?;
        Ok(found.iter().filter_map(|r| HouseholdId::parse(r).ok()).collect())
    }

    /// The `values` that `select` (`SELECT key FROM table WHERE key IN`, a constant) finds, 500
    /// per query.
    pub(crate) async fn existing(&self, select: &'static str, values: &[String]) -> Result<Vec<String>, RegisterError> {
        let mut found = Vec::new();
        for chunk in values.chunks(500) {
            let list = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
            let sql = format!("{select} ({list})");
            let rows: Vec<String> = dispatch!(&self.db, pool => {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
                for v in chunk {
                    q = q.bind(v);
                }
                q.fetch_all(pool).await
            })?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// Up to `n` living people of `sex` born in `born_from..=born_to` who belong to a household,
    /// in ID-number order (for the demo's sample registrations).
    pub async fn living_sample(
        &self,
        sex: civitas_core::Sex,
        born_from: i64,
        born_to: i64,
        n: i64,
    ) -> Result<Vec<String>, RegisterError> {
        let sql = "SELECT pid FROM people WHERE status = 'living' AND sex = $1 AND birth_year >= $2 AND birth_year <= $3 \
                   AND household_id IS NOT NULL ORDER BY pid LIMIT $4";
        let sex = if sex == civitas_core::Sex::Female { "female" } else { "male" };
        Ok(
            dispatch!(&self.db, pool => sqlx::query_scalar(sql).bind(sex).bind(born_from).bind(born_to).bind(n).fetch_all(pool).await)?,
        )
    }

    /// Up to `n` living people with a household born in `born_from..=born_by`, in PID order.
    pub async fn living_adults(&self, born_from: i64, born_by: i64, n: i64) -> Result<Vec<String>, RegisterError> {
        let sql = "SELECT pid FROM people WHERE status = 'living' AND birth_year >= $1 AND birth_year <= $2 \
                   AND household_id IS NOT NULL ORDER BY pid LIMIT $3";
        Ok(
            dispatch!(&self.db, pool => sqlx::query_scalar(sql).bind(born_from).bind(born_by).bind(n).fetch_all(pool).await)?,
        )
    }

    /// Every version of a person's record, newest first.
    pub async fn history(&self, pid: &Pid) -> Result<Option<Vec<Revision>>, RegisterError> {
        let Some((current, meta)) = self.get_with_meta(pid).await? else {
            return Ok(None);
        };
        #[derive(sqlx::FromRow)]
        struct RevisionRow {
            version: i64,
            at: String,
            actor: String,
            change: String,
            legal_basis: String,
            document_ref: Option<String>,
            snapshot: String,
        }
        let sql = "SELECT version, at, actor, change, legal_basis, document_ref, snapshot FROM person_revisions WHERE pid = $1 ORDER BY version DESC";
        let rows = dispatch!(&self.db, pool => sqlx::query_as::<_, RevisionRow>(sql).bind(pid.as_str()).fetch_all(pool).await)?;
        let mut out = vec![Revision {
            version: current.version.unwrap_or(1),
            at: meta.at,
            actor: meta.actor,
            change: meta.change,
            legal_basis: meta.legal_basis,
            record: current,
        }];
        for r in rows {
            let mut record: Person =
                serde_json::from_str(&r.snapshot).map_err(|_| corrupt(pid.as_str(), "revision snapshot"))?;
            record.version = Some(r.version);
            record.updated_at = Some(r.at.clone());
            out.push(Revision {
                version: r.version,
                at: r.at,
                actor: r.actor,
                change: r.change,
                legal_basis: LegalBasis { basis: r.legal_basis, document_ref: r.document_ref },
                record,
            });
        }
        Ok(Some(out))
    }

    pub(crate) async fn household_row(&self, id: &HouseholdId) -> Result<Option<HouseholdRow>, RegisterError> {
        let sql = "SELECT id, head_pid, commune, address, version, updated_at FROM households WHERE id = $1";
        Ok(
            dispatch!(&self.db, pool => sqlx::query_as::<_, HouseholdRow>(sql).bind(id.as_str()).fetch_optional(pool).await)?,
        )
    }

    pub(crate) async fn household_member_count(&self, id: &HouseholdId) -> Result<i64, RegisterError> {
        let sql = "SELECT COUNT(*) FROM people WHERE household_id = $1";
        Ok(dispatch!(&self.db, pool => sqlx::query_scalar::<_, i64>(sql).bind(id.as_str()).fetch_one(pool).await)?)
    }

    pub async fn household(&self, id: &HouseholdId) -> Result<Option<Household>, RegisterError> {
        let Some(row) = self.household_row(id).await? else {
            return Ok(None);
        };
        let sql = const_format_people("WHERE household_id = $1 ORDER BY pid");
        let rows = dispatch!(&self.db, pool => sqlx::query_as::<_, PersonRow>(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_all(pool).await)?;
        let mut members = Vec::with_capacity(rows.len());
        for r in rows {
            let (p, _) = r.into_person()?;
            members.push(HouseholdMember {
                pid: p.pid,
                full_name: p.full_name,
                birth_date: p.birth_date,
                sex: p.sex,
                relation_to_head: p.relation_to_head.unwrap_or(Relation::Other),
            });
        }
        members.sort_by_key(|m| (m.relation_to_head != Relation::Head, m.birth_date));
        let bad = |w: &str| corrupt(&row.head_pid, w);
        Ok(Some(Household {
            id: id.clone(),
            head_pid: Pid::parse(&row.head_pid).map_err(|_| bad("household head"))?,
            address: Residence {
                commune: CommuneCode::parse(&row.commune).map_err(|_| bad("household commune"))?,
                address: row.address,
            },
            members,
            version: row.version,
            updated_at: row.updated_at,
        }))
    }

    /// Streams every person in PID order, `batch` at a time, to `sink`.
    pub async fn export<F>(&self, batch: i64, mut sink: F) -> Result<u64, RegisterError>
    where
        F: FnMut(&Person) -> Result<(), std::io::Error>,
    {
        let mut after = String::new();
        let mut total = 0u64;
        loop {
            let sql = const_format_people("WHERE pid > $1 ORDER BY pid LIMIT $2");
            let rows = dispatch!(&self.db, pool => sqlx::query_as::<_, PersonRow>(sqlx::AssertSqlSafe(sql)).bind(&after).bind(batch).fetch_all(pool).await)?;
            if rows.is_empty() {
                return Ok(total);
            }
            for row in rows {
                let (mut p, _) = row.into_person()?;
                after = p.pid.to_string();
                p.version = None;
                p.updated_at = None;
                sink(&p).map_err(RegisterError::Output)?;
                total += 1;
            }
        }
    }

    pub(crate) async fn vocab(&self, db: &Db) -> Result<Arc<Vocab>, RegisterError> {
        if let Ok(guard) = self.vocab.read()
            && let Some((at, v)) = guard.as_ref()
            && at.elapsed() < Duration::from_secs(30)
        {
            return Ok(v.clone());
        }
        let rows: Vec<(String, String)> =
            dispatch!(db, pool => sqlx::query_as("SELECT part, token FROM name_vocab").fetch_all(pool).await)?;
        let vocab = Arc::new(Vocab::from_rows(rows));
        if let Ok(mut guard) = self.vocab.write() {
            *guard = Some((Instant::now(), vocab.clone()));
        }
        Ok(vocab)
    }

    /// Ranks `candidates` against the query and fetches the best `limit` rows that pass the
    /// filters, in rank order.
    pub(crate) async fn rank_and_fetch(
        &self,
        db: &Db,
        query_tokens: &[String],
        candidates: &HashMap<String, String>,
        q: &SearchQuery,
        allowed_communes: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<Person>, RegisterError> {
        let mut ranked: Vec<(i64, &str, &str)> = candidates
            .iter()
            .filter_map(|(pid, name)| search::score(query_tokens, name).map(|s| (s, name.as_str(), pid.as_str())))
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)).then_with(|| a.2.cmp(b.2)));
        let in_scope = |p: &Person| {
            let commune = p.permanent_residence.as_ref().map(|r| r.commune.as_str());
            q.birth_year.is_none_or(|y| i64::from(p.birth_date.year()) == y)
                && q.commune.as_deref().is_none_or(|c| commune == Some(c))
                && allowed_communes.is_none_or(|allowed| commune.is_some_and(|c| allowed.iter().any(|a| a == c)))
        };
        let mut out = Vec::with_capacity(limit);
        for chunk in ranked.chunks(limit.max(25)) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = const_format_people(&format!("WHERE pid IN ({})", placeholders.join(", ")));
            let rows = dispatch!(db, pool => {
                let mut query = sqlx::query_as::<_, PersonRow>(sqlx::AssertSqlSafe(sql));
                for (_, _, pid) in chunk {
                    query = query.bind(*pid);
                }
                query.fetch_all(pool).await
            })?;
            let mut by_pid: HashMap<String, Person> = HashMap::new();
            for r in rows {
                let (p, _) = r.into_person()?;
                by_pid.insert(p.pid.to_string(), p);
            }
            for (_, _, pid) in chunk {
                if let Some(p) = by_pid.remove(*pid).filter(|p| in_scope(p)) {
                    out.push(p);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Folded, typo-tolerant name search, ranked; restricted to `allowed_communes` when given.
    pub async fn search(
        &self,
        q: &SearchQuery,
        allowed_communes: Option<&[String]>,
    ) -> Result<Vec<Person>, RegisterError> {
        let Some(replica) = &self.replica else { return self.search_on(&self.db, q, allowed_communes).await };
        match self.search_on(replica, q, allowed_communes).await {
            Err(RegisterError::Store(e)) if e.is_unavailable() => {
                tracing::warn!(error = %e, "the read replica is unavailable: searching on the primary");
                self.search_on(&self.db, q, allowed_communes).await
            }
            result => result,
        }
    }

    async fn search_on(
        &self,
        db: &Db,
        q: &SearchQuery,
        allowed_communes: Option<&[String]>,
    ) -> Result<Vec<Person>, RegisterError> {
        let query_tokens = tokens(&q.text);
        if query_tokens.is_empty() {
            return Ok(Vec::new());
        }
        let vocab = self.vocab(db).await?;
        let plan = search::plan(&query_tokens, &vocab);
        if plan.is_empty() {
            return Ok(Vec::new());
        }
        // Narrow filters (a commune, a birth year, a commune-level scope) go into the SQL; a wide
        // scope (a province: 100+ communes) is checked on the ranked rows instead, so that the
        // candidate lookup stays on the covering name index.
        let narrow_scope = allowed_communes.map(|c| c.len() <= 10).unwrap_or(true);
        let sql_filters = q.commune.is_some() || q.birth_year.is_some() || narrow_scope;
        // Steps run lazily: when the exact full-name lookup already fills the page, the wider
        // typo-tolerant lookup (thousands of index entries for common names) is skipped.
        let limit = q.limit.clamp(1, 100) as usize;
        let mut candidates: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        for step in &plan {
            let rows: Vec<(String, String)> = dispatch!(db, pool => {
                let mut qb = QueryBuilder::new("SELECT pid, name_folded FROM people WHERE ");
                search::push_conditions(&mut qb, step, q, allowed_communes.filter(|_| sql_filters), sql_filters);
                qb.push(" LIMIT ");
                qb.push_bind(search::CANDIDATE_LIMIT);
                qb.build_query_as().fetch_all(pool).await
            })?;
            for (pid, name) in rows {
                candidates.entry(pid).or_insert(name);
            }
            out = self.rank_and_fetch(db, &query_tokens, &candidates, q, allowed_communes, limit).await?;
            if out.len() >= limit || candidates.len() as i64 >= search::CANDIDATE_LIMIT {
                break;
            }
        }
        Ok(out)
    }
}
