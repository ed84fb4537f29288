//! Changing the register: registering a person, corrections and residence changes, each a
//! new version with its legal basis and events; and the planned writes other contexts commit
//! with their own (civil registration).

use super::*;

impl Register {
    /// Registers one new person (an officer's act), with a revision and an event.
    pub async fn register(&self, person: Person, attribution: &Attribution<'_>) -> Result<Person, RegisterError> {
        if attribution.legal_basis.basis.trim().is_empty() {
            return Err(RegisterError::MissingLegalBasis);
        }
        let pid = person.pid;
        let outcome =
            self.insert_new(std::slice::from_ref(&person), attribution, "registered", "person.registered").await?;
        if outcome.inserted == 0 {
            return Err(RegisterError::AlreadyRegistered(pid.to_string()));
        }
        self.get(&pid).await?.ok_or_else(|| RegisterError::PersonNotFound(pid.to_string()))
    }

    /// Writes a new version of one person: copies the current row into the history, replaces it
    /// and appends `events`, in one transaction. Fails on a version conflict.
    pub(crate) async fn write_version(
        &self,
        new: &Person,
        expected_version: i64,
        change: &str,
        attribution: &Attribution<'_>,
        events: &[NewEvent],
        household_writes: &[HouseholdWrite],
    ) -> Result<(), RegisterError> {
        let values = RowValues::new(new, change, attribution, expected_version + 1);
        let snapshot_sql = "INSERT INTO person_revisions (pid, version, at, actor, change, legal_basis, document_ref, snapshot) \
             SELECT pid, version, updated_at, changed_by, change_kind, legal_basis, document_ref, $1 FROM people WHERE pid = $2 AND version = $3";
        let result: Result<(), RegisterError> = dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            let current = sqlx::query_as::<_, PersonRow>(sqlx::AssertSqlSafe(const_format_people("WHERE pid = $1")))
                .bind(new.pid.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| RegisterError::PersonNotFound(new.pid.to_string()))?;
            if current.version != expected_version {
                return Err(RegisterError::VersionConflict { expected: expected_version, actual: current.version });
            }
            let (old, _) = current.into_person()?;
            let snapshot = serde_json::to_string(&old).unwrap_or_default();
            sqlx::query(snapshot_sql)
                .bind(snapshot)
                .bind(new.pid.as_str())
                .bind(expected_version)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM people WHERE pid = $1").bind(new.pid.as_str()).execute(&mut *tx).await?;
            let mut qb = QueryBuilder::new(format!("INSERT INTO people ({PERSON_COLUMNS}) "));
            qb.push_values(std::iter::once(&values), |mut b, v| bind_person!(b, v));
            qb.build().execute(&mut *tx).await?;
            for w in household_writes {
                match w {
                    HouseholdWrite::Create { id, head, residence } => {
                        sqlx::query("INSERT INTO households (id, head_pid, commune, address, version, updated_at) VALUES ($1, $2, $3, $4, 1, $5)")
                            .bind(id.as_str()).bind(head.as_str()).bind(residence.commune.as_str()).bind(residence.address.as_str()).bind(attribution.at)
                            .execute(&mut *tx).await?;
                    }
                    HouseholdWrite::Dissolve { id } => {
                        sqlx::query("DELETE FROM households WHERE id = $1").bind(id.as_str()).execute(&mut *tx).await?;
                    }
                }
            }
            let tokens = tokens(&new.full_name);
            for (i, t) in tokens.iter().enumerate() {
                let part = if i == 0 { "family" } else if i + 1 == tokens.len() { "given" } else { "middle" };
                sqlx::query("INSERT INTO name_vocab (part, token) VALUES ($1, $2) ON CONFLICT (part, token) DO NOTHING")
                    .bind(part).bind(t.as_str()).execute(&mut *tx).await?;
            }
            insert_events!(tx, events)?;
            tx.commit().await?;
            Ok(())
        });
        result
    }

    /// Corrects civil data of a person (not residence), keeping the earlier version.
    pub async fn correct(
        &self,
        pid: &Pid,
        change: Change,
        expected_version: Option<i64>,
        attribution: &Attribution<'_>,
        today: time::Date,
    ) -> Result<Person, RegisterError> {
        if attribution.legal_basis.basis.trim().is_empty() {
            return Err(RegisterError::MissingLegalBasis);
        }
        if change.is_empty() {
            return Err(RegisterError::NothingToChange);
        }
        let current = self.get(pid).await?.ok_or_else(|| RegisterError::PersonNotFound(pid.to_string()))?;
        let version = current.version.unwrap_or(1);
        let expected = expected_version.unwrap_or(version);
        let changed_fields = change_fields(&change);
        let was_living = current.status != LifeStatus::Deceased;
        let updated = change.apply(current).normalize_and_validate(today)?;
        let mut events = vec![NewEvent {
            kind: "person.corrected",
            subject: pid.to_string(),
            payload: serde_json::json!({ "fields": changed_fields, "version": expected + 1 }),
            actor: attribution.actor.to_owned(),
            occurred_at: attribution.at.to_owned(),
        }];
        if was_living && updated.status == LifeStatus::Deceased {
            // Other contexts follow deaths (the e-ID account is locked, for one).
            events.push(NewEvent {
                kind: "person.deceased",
                subject: pid.to_string(),
                payload: serde_json::json!({ "version": expected + 1 }),
                actor: attribution.actor.to_owned(),
                occurred_at: attribution.at.to_owned(),
            });
        }
        self.write_version(&updated, expected, "corrected", attribution, &events, &[]).await?;
        self.get(pid).await?.ok_or_else(|| RegisterError::PersonNotFound(pid.to_string()))
    }

    /// Records a residence change (registration of permanent or temporary residence, or the
    /// current address), moving the person between households when asked.
    pub async fn change_residence(
        &self,
        pid: &Pid,
        request: ResidenceChange,
        attribution: &Attribution<'_>,
    ) -> Result<Person, RegisterError> {
        if attribution.legal_basis.basis.trim().is_empty() {
            return Err(RegisterError::MissingLegalBasis);
        }
        let mut person = self.get(pid).await?.ok_or_else(|| RegisterError::PersonNotFound(pid.to_string()))?;
        if person.status != civitas_core::LifeStatus::Living {
            return Err(RegisterError::NotLiving(pid.to_string()));
        }
        if let ResidenceKind::Temporary(t) = &request.kind {
            let today = request.today;
            let ok = t
                .until
                .as_ref()
                .and_then(PartialDate::to_date)
                .is_some_and(|d| d > today && d <= today.saturating_add(time::Duration::days(2 * 366)));
            if !ok {
                return Err(RegisterError::StayEnd(today.to_string()));
            }
        }
        let version = request.expected_version.or(person.version).unwrap_or(1);
        let mut household_writes = Vec::new();
        let kind = match &request.kind {
            ResidenceKind::Permanent { residence, household } => {
                // Leaving the old household.
                if let (Some(old), Some(Relation::Head)) = (&person.household_id, person.relation_to_head) {
                    let others = self.household_member_count(old).await?.saturating_sub(1);
                    if others > 0 {
                        return Err(RegisterError::HeadLeaving(pid.to_string(), old.to_string()));
                    }
                    household_writes.push(HouseholdWrite::Dissolve { id: old.clone() });
                }
                match household {
                    HouseholdChoice::Join { id, relation } => {
                        if self.household_row(id).await?.is_none() {
                            return Err(RegisterError::HouseholdNotFound(id.to_string()));
                        }
                        person.household_id = Some(id.clone());
                        person.relation_to_head = Some(*relation);
                    }
                    HouseholdChoice::New { id } => {
                        household_writes.push(HouseholdWrite::Create {
                            id: id.clone(),
                            head: *pid,
                            residence: residence.clone(),
                        });
                        person.household_id = Some(id.clone());
                        person.relation_to_head = Some(Relation::Head);
                    }
                }
                person.permanent_residence = Some(residence.clone());
                person.current_residence = Some(residence.clone());
                "permanent"
            }
            ResidenceKind::Temporary(t) => {
                person.temporary_residence = Some(t.clone());
                person.current_residence = Some(Residence { commune: t.commune.clone(), address: t.address.clone() });
                "temporary"
            }
            ResidenceKind::Current(r) => {
                person.current_residence = Some(r.clone());
                "current"
            }
        };
        let event = NewEvent {
            kind: "person.residence_changed",
            subject: pid.to_string(),
            payload: serde_json::json!({
                "kind": kind,
                "commune": person.current_residence.as_ref().map(|r| r.commune.as_str()),
                "household_id": person.household_id.as_ref().map(|h| h.as_str()),
            }),
            actor: attribution.actor.to_owned(),
            occurred_at: attribution.at.to_owned(),
        };
        self.write_version(&person, version, "residence_changed", attribution, &[event], &household_writes).await?;
        self.get(pid).await?.ok_or_else(|| RegisterError::PersonNotFound(pid.to_string()))
    }
}

pub(crate) fn change_fields(c: &Change) -> Vec<&'static str> {
    let mut v = Vec::new();
    macro_rules! f { ($($name:ident),*) => { $( if c.$name.is_some() { v.push(stringify!($name)); } )* } }
    f!(
        full_name,
        other_names,
        birth_date,
        birth_registration_place,
        hometown,
        ethnicity,
        religion,
        nationality,
        marital_status,
        status,
        father_pid,
        mother_pid,
        spouse_pid
    );
    v
}

#[derive(sqlx::FromRow)]
pub(crate) struct HouseholdRow {
    #[allow(dead_code)]
    pub(crate) id: String,
    pub(crate) head_pid: String,
    pub(crate) commune: String,
    pub(crate) address: String,
    pub(crate) version: i64,
    pub(crate) updated_at: String,
}

pub(crate) enum HouseholdWrite {
    Create { id: HouseholdId, head: Pid, residence: Residence },
    Dissolve { id: HouseholdId },
}

/// What kind of residence is being recorded.
#[derive(Debug, Clone)]
pub enum ResidenceKind {
    Permanent { residence: Residence, household: HouseholdChoice },
    Temporary(TemporaryResidence),
    Current(Residence),
}

#[derive(Debug, Clone)]
pub enum HouseholdChoice {
    Join { id: HouseholdId, relation: Relation },
    New { id: HouseholdId },
}

#[derive(Debug, Clone)]
pub struct ResidenceChange {
    pub kind: ResidenceKind,
    pub expected_version: Option<i64>,
    /// The day of the registration (a temporary stay must end after it).
    pub today: time::Date,
}

/// The values of a `people` row in [`PERSON_COLUMNS`] order, for a planned write.
pub(crate) fn person_values(v: &RowValues<'_>) -> Vec<Value> {
    let p = v.p;
    let text = |s: Option<&str>| Value::Text(s.map(str::to_owned));
    vec![
        p.pid.as_str().into(),
        p.full_name.as_str().into(),
        v.name_folded.as_str().into(),
        v.family.as_str().into(),
        v.given.as_str().into(),
        v.other_names.as_str().into(),
        p.birth_date.to_string().into(),
        i64::from(p.birth_date.year()).into(),
        p.sex.as_str().into(),
        text(p.birth_registration_place.as_deref()),
        text(p.hometown.as_deref()),
        p.ethnicity.code().into(),
        p.religion.as_str().into(),
        p.nationality.as_str().into(),
        p.marital_status.as_str().into(),
        p.status.as_str().into(),
        text(p.father_pid.as_ref().map(|x| x.as_str())),
        text(p.mother_pid.as_ref().map(|x| x.as_str())),
        text(p.spouse_pid.as_ref().map(|x| x.as_str())),
        text(p.permanent_residence.as_ref().map(|r| r.commune.as_str())),
        text(p.permanent_residence.as_ref().map(|r| r.address.as_str())),
        text(p.temporary_residence.as_ref().map(|r| r.commune.as_str())),
        text(p.temporary_residence.as_ref().map(|r| r.address.as_str())),
        Value::Text(p.temporary_residence.as_ref().and_then(|r| r.until.map(|u| u.to_string()))),
        text(p.current_residence.as_ref().map(|r| r.commune.as_str())),
        text(p.current_residence.as_ref().map(|r| r.address.as_str())),
        text(p.household_id.as_ref().map(|h| h.as_str())),
        text(p.relation_to_head.map(|r| r.as_str())),
        v.change.into(),
        v.attribution.actor.into(),
        v.attribution.legal_basis.basis.as_str().into(),
        text(v.attribution.legal_basis.document_ref.as_deref()),
        v.version.into(),
        v.attribution.at.into(),
    ]
}

pub(crate) fn insert_person_write(values: &RowValues<'_>) -> Write {
    let placeholders = (1..=34).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    Write::new(format!("INSERT INTO people ({PERSON_COLUMNS}) VALUES ({placeholders})"), person_values(values))
}

pub(crate) fn vocab_writes(full_name: &str) -> Vec<Write> {
    let toks = tokens(full_name);
    toks.iter()
        .enumerate()
        .map(|(i, t)| {
            let part = if i == 0 {
                "family"
            } else if i + 1 == toks.len() {
                "given"
            } else {
                "middle"
            };
            Write::new(
                "INSERT INTO name_vocab (part, token) VALUES ($1, $2) ON CONFLICT (part, token) DO NOTHING",
                vec![part.into(), t.as_str().into()],
            )
        })
        .collect()
}

impl Register {
    /// The writes that register a new person (validated), with the `person.registered` event;
    /// for another context to commit together with its own writes. Fails (as a guarded write)
    /// if the PID is taken.
    pub fn plan_register(&self, person: &Person, attribution: &Attribution<'_>) -> Result<Vec<Write>, RegisterError> {
        if attribution.legal_basis.basis.trim().is_empty() {
            return Err(RegisterError::MissingLegalBasis);
        }
        let values = RowValues::new(person, "registered", attribution, 1);
        let mut insert = insert_person_write(&values);
        insert.sql = format!("{} ON CONFLICT (pid) DO NOTHING", insert.sql).into();
        let mut writes = vec![insert.expecting(1, "the ID number is already registered")];
        writes.extend(vocab_writes(&person.full_name));
        writes.push(civitas_store::unit::event(&NewEvent {
            kind: "person.registered",
            subject: person.pid.as_str().to_owned(),
            payload: serde_json::Value::Null,
            actor: attribution.actor.to_owned(),
            occurred_at: attribution.at.to_owned(),
        }));
        Ok(writes)
    }

    /// The writes of a new version of a person (the current row copied into the history,
    /// replaced, `events` appended), guarded by `expected_version`.
    pub fn plan_version(
        &self,
        new: &Person,
        old: &Person,
        expected_version: i64,
        change: &str,
        attribution: &Attribution<'_>,
        events: &[NewEvent],
    ) -> Result<Vec<Write>, RegisterError> {
        if attribution.legal_basis.basis.trim().is_empty() {
            return Err(RegisterError::MissingLegalBasis);
        }
        let values = RowValues::new(new, change, attribution, expected_version + 1);
        let snapshot = serde_json::to_string(old).unwrap_or_default();
        let pid = new.pid.as_str();
        let mut writes = vec![
            Write::new(
                "INSERT INTO person_revisions (pid, version, at, actor, change, legal_basis, document_ref, snapshot) \
                 SELECT pid, version, updated_at, changed_by, change_kind, legal_basis, document_ref, $1 FROM people WHERE pid = $2 AND version = $3",
                vec![snapshot.into(), pid.into(), expected_version.into()],
            )
            .expecting(1, "the person changed meanwhile"),
            Write::new("DELETE FROM people WHERE pid = $1", vec![pid.into()]),
            insert_person_write(&values),
        ];
        writes.extend(vocab_writes(&new.full_name));
        writes.extend(events.iter().map(civitas_store::unit::event));
        Ok(writes)
    }
}
