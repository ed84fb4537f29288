//! Enrolment: accounts created by an officer, online registration, children registered by
//! a parent.

use super::*;

impl Identity {
    pub(crate) async fn account_row(&self, pid: &str) -> Result<Option<AccountRow>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE pid = $1");
        Ok(
            dispatch!(&self.db, pool => sqlx::query_as::<_, AccountRow>(sqlx::AssertSqlSafe(sql)).bind(pid).fetch_optional(pool).await)?,
        )
    }

    pub async fn account(&self, pid: &str) -> Result<Option<Account>, StoreError> {
        Ok(self.account_row(pid).await?.map(Account::from))
    }

    pub(crate) async fn living_person(&self, pid: &str) -> Result<Person, AccountError> {
        let parsed = Pid::parse(pid).map_err(|e| AccountError::Invalid("invalid-pid", e.to_string()))?;
        let person = self.register.get(&parsed).await?.ok_or_else(|| AccountError::NoPerson(pid.to_owned()))?;
        if person.status != LifeStatus::Living {
            return Err(AccountError::NotAllowed(
                "person-not-living",
                format!("the register records {pid} as {}", person.status.as_str()),
            ));
        }
        Ok(person)
    }

    /// Records the phone number an account's notifications go to (operators and the demo).
    pub async fn set_phone(&self, pid: &str, phone: &str) -> Result<(), AccountError> {
        let phone = normalize_phone(phone)?;
        let sql = "UPDATE accounts SET phone = $1 WHERE pid = $2";
        dispatch!(&self.db, pool => sqlx::query(sql).bind(&phone).bind(pid).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Creates an active account (operators, the demo, and officers at the counter). A level-2
    /// account gets a TOTP secret and recovery codes, returned once.
    pub async fn create_account(
        &self,
        pid: &str,
        level: i64,
        password: &str,
        actor: &str,
        now: time::OffsetDateTime,
    ) -> Result<Option<SecondFactor>, AccountError> {
        if !(1..=2).contains(&level) {
            return Err(AccountError::Invalid("invalid-level", "the level must be 1 or 2".into()));
        }
        let person = self.living_person(pid).await?;
        age_allows(person.birth_date.age_on(now.date()), level, true)
            .map_err(|m| AccountError::NotAllowed("age", m.into()))?;
        crate::password::check_policy(password, pid, &person.full_name, &person.birth_date)
            .map_err(AccountError::Policy)?;
        let hash = self.hasher.hash(password).await?;
        let second = (level == 2).then(|| new_second_factor(pid));
        let at = civitas_store::timestamp(now);
        let event =
            self.event("eid.created", pid, serde_json::json!({ "level": level, "channel": "operator" }), actor, &at);
        let secret = second.as_ref().and_then(|s| totp::decode_secret(&s.totp_secret));
        let codes: Vec<Vec<u8>> = second.iter().flat_map(|s| s.recovery_codes.iter().map(|c| digest(c))).collect();
        let sql = "INSERT INTO accounts (pid, level, state, password_hash, totp_secret, level2_by, level2_at, registered_by, created_at, updated_at) \
                   VALUES ($1, $2, 'active', $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (pid) DO NOTHING";
        let level2_by = (level == 2).then_some(actor);
        let level2_at = (level == 2).then_some(at.as_str());
        let created = dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            let done = sqlx::query(sql).bind(pid).bind(level).bind(&hash).bind(&secret).bind(level2_by).bind(level2_at).bind(actor).bind(&at)
                .execute(&mut *tx).await?.rows_affected();
            if done == 1 {
                for c in &codes {
                    sqlx::query("INSERT INTO recovery_codes (pid, code_hash) VALUES ($1, $2)").bind(pid).bind(c).execute(&mut *tx).await?;
                }
                insert_events!(tx, std::slice::from_ref(&event))?;
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(done == 1)
        })?;
        if !created {
            return Err(AccountError::NotAllowed("account-exists", format!("{pid} already has an e-ID account")));
        }
        Ok(second)
    }

    pub(crate) fn event(
        &self,
        kind: &'static str,
        pid: &str,
        payload: serde_json::Value,
        actor: &str,
        at: &str,
    ) -> NewEvent {
        NewEvent { kind, subject: pid.to_owned(), payload, actor: actor.to_owned(), occurred_at: at.to_owned() }
    }

    /// A parent registers a level-1 account for their child under 14 from their own level-2
    /// account (Decree 69/2024); the parent sets the child's password.
    pub async fn register_child(
        &self,
        guardian: &str,
        child: &str,
        password: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        let parent = self.account_row(guardian).await?.ok_or_else(|| AccountError::NoAccount(guardian.to_owned()))?;
        if parent.level < 2 || parent.state != "active" {
            return Err(AccountError::NotAllowed(
                "guardian-not-level-2",
                "only an active level-2 account may register a child".into(),
            ));
        }
        let person = self.living_person(child.trim()).await?;
        let is_parent = [person.father_pid, person.mother_pid].iter().flatten().any(|p| p.as_str() == guardian);
        if !is_parent {
            return Err(AccountError::NotAllowed(
                "not-a-parent",
                "the register does not record you as a parent of this child".into(),
            ));
        }
        if person.birth_date.age_on(now.date()) >= 14 {
            return Err(AccountError::NotAllowed(
                "child-over-14",
                "people aged 14 and over register themselves".into(),
            ));
        }
        let pid = person.pid.as_str();
        crate::password::check_policy(password, pid, &person.full_name, &person.birth_date)
            .map_err(AccountError::Policy)?;
        let hash = self.hasher.hash(password).await?;
        let at = civitas_store::timestamp(now);
        let event = self.event(
            "eid.created",
            pid,
            serde_json::json!({ "level": 1, "channel": "guardian", "guardian": guardian }),
            guardian,
            &at,
        );
        let sql = "INSERT INTO accounts (pid, level, state, password_hash, registered_by, created_at, updated_at) \
                   VALUES ($1, 1, 'active', $2, $3, $4, $4) ON CONFLICT (pid) DO NOTHING";
        let created = dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            let done = sqlx::query(sql).bind(pid).bind(&hash).bind(guardian).bind(&at).execute(&mut *tx).await?.rows_affected();
            if done == 1 {
                insert_events!(tx, std::slice::from_ref(&event))?;
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(done == 1)
        })?;
        if !created {
            return Err(AccountError::NotAllowed("account-exists", format!("{pid} already has an e-ID account")));
        }
        Ok(())
    }

    /// Online level-1 registration. Answers `Ok` whenever the input is well-formed, whether or not
    /// the details match the register (no user enumeration); when they match and the person may
    /// register, an activation code goes to `phone` through the outbox. When an account already
    /// exists, the phone on file is told instead.
    pub async fn register_online(
        &self,
        pid: &str,
        full_name: &str,
        birth_date: &str,
        phone: &str,
        email: Option<&str>,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        let parsed = Pid::parse(pid.trim()).map_err(|e| AccountError::Invalid("invalid-pid", e.to_string()))?;
        let birth: PartialDate = birth_date
            .trim()
            .parse()
            .map_err(|_| AccountError::Invalid("invalid-birth-date", "write the birth date as YYYY-MM-DD".into()))?;
        let phone = normalize_phone(phone)?;
        let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) if e.contains('@') && e.len() <= 254 && !e.contains(char::is_whitespace) => Some(e.to_owned()),
            Some(_) => return Err(AccountError::Invalid("invalid-email", "the e-mail address is not valid".into())),
            None => None,
        };
        if text::fold(full_name).trim().is_empty() {
            return Err(AccountError::Invalid("invalid-name", "enter the full name".into()));
        }
        let pid = parsed.as_str();
        let at = civitas_store::timestamp(now);
        let Some(person) = self.register.get(&parsed).await? else { return Ok(()) };
        let matches = text::fold(&person.full_name) == text::fold(full_name) && person.birth_date == birth;
        let eligible =
            person.status == LifeStatus::Living && age_allows(person.birth_date.age_on(now.date()), 1, false).is_ok();
        if !matches || !eligible {
            tracing::info!(pid, "online registration with details that do not match the register");
            return Ok(());
        }
        if let Some(existing) = self.account_row(pid).await?
            && existing.state != "pending"
        {
            if let Some(on_file) = existing.phone {
                let body = "Có yêu cầu đăng ký tài khoản định danh điện tử bằng số định danh của bạn, nhưng bạn đã có tài khoản. Nếu không phải bạn, hãy bỏ qua tin này.";
                self.send_now("sms", &on_file, "Đăng ký tài khoản", body, &at).await?;
            }
            return Ok(());
        }
        if !self.may_send_code(pid, "activate", now.unix_timestamp()).await? {
            tracing::info!(pid, "activation code not sent: the hourly limit is reached");
            return Ok(());
        }
        let code = random_digits(6);
        let body = format!("Mã kích hoạt tài khoản định danh điện tử của bạn là {code}. Mã có hiệu lực 10 phút.");
        let event = self.event("eid.registered", pid, serde_json::json!({ "level": 1, "channel": "online" }), pid, &at);
        let expires = now.unix_timestamp() + CODE_TTL_SECS;
        let code_hash = digest(&code);
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("INSERT INTO accounts (pid, level, state, phone, email, registered_by, created_at, updated_at) VALUES ($1, 1, 'pending', $2, $3, $1, $4, $4) \
                         ON CONFLICT (pid) DO UPDATE SET phone = $2, email = $3, updated_at = $4")
                .bind(pid).bind(&phone).bind(&email).bind(&at).execute(&mut *tx).await?;
            upsert_code!(tx, pid, "activate", &code_hash, expires, now.unix_timestamp())?;
            sqlx::query(outbox::INSERT).bind("sms").bind(&phone).bind("Kích hoạt tài khoản").bind(&body).bind(&at).execute(&mut *tx).await?;
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await
        })?;
        Ok(())
    }
}

impl Identity {
    /// The demo's e-ID history (the steering dashboard's accounts over past months): accounts of
    /// `holders` (ID number, level, when) created back-dated — a level-1 account registered
    /// online and activated an hour later, a level-2 account enrolled at a counter — each with
    /// its events. Their password is a random secret hashed once and never shown, so nobody
    /// signs in with them. Holders with an account already are left out. Returns how many were
    /// created.
    pub async fn seed_demo_history(
        &self,
        holders: &[(String, i64, time::OffsetDateTime)],
        actor: &str,
    ) -> Result<usize, AccountError> {
        let hash = self.hasher.hash(&random_token(32)).await?;
        let sql = "INSERT INTO accounts (pid, level, state, password_hash, level2_by, level2_at, registered_by, created_at, updated_at) \
                   VALUES ($1, $2, 'active', $3, $4, $5, $6, $7, $7) ON CONFLICT (pid) DO NOTHING";
        let mut created = 0;
        for chunk in holders.chunks(500) {
            let done = dispatch!(&self.db, pool => {
                let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
                let mut events = Vec::new();
                for (pid, level, when) in chunk {
                    let at = civitas_store::timestamp(*when);
                    let level2 = (*level == 2).then_some(at.as_str());
                    let by = if *level == 2 { actor } else { pid.as_str() };
                    let inserted = sqlx::query(sql).bind(pid).bind(level).bind(&hash).bind(level2.map(|_| actor)).bind(level2)
                        .bind(by).bind(&at).execute(&mut *tx).await?.rows_affected() == 1;
                    if !inserted {
                        continue;
                    }
                    if *level == 2 {
                        events.push(self.event("eid.created", pid, serde_json::json!({ "level": 2, "channel": "counter" }), actor, &at));
                    } else {
                        let activated = civitas_store::timestamp(*when + time::Duration::hours(1));
                        events.push(self.event("eid.registered", pid, serde_json::json!({ "level": 1, "channel": "online" }), pid, &at));
                        events.push(self.event("eid.activated", pid, serde_json::json!({ "level": 1 }), pid, &activated));
                    }
                }
                let n = events.iter().filter(|e| e.kind != "eid.activated").count();
                insert_events!(tx, &events)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(n)
            })?;
            created += done;
        }
        Ok(created)
    }
}
