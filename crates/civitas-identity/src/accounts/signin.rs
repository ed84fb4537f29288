//! Signing in: passwords with throttling, the second factor, officer roles, and following the
//! register (a death locks the account).

use super::*;

impl Identity {
    /// Checks an ID number and password, with throttling per account and per client address.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
        ip: &str,
        now: time::OffsetDateTime,
    ) -> Result<Result<Authenticated, SignInFailure>, StoreError> {
        let username: String = username.trim().chars().take(20).collect();
        let keys = [format!("account:{username}"), format!("ip:{ip}")];
        let ts = now.unix_timestamp();
        let (wait, failures_on_record) = self.throttle_state(&keys, ts).await?;
        if let Some(wait) = wait {
            return Ok(Err(SignInFailure::Throttled(wait)));
        }
        let row = match Pid::parse(&username) {
            Ok(pid) => self.account_row(pid.as_str()).await?,
            Err(_) => None,
        };
        let ok = match self.hasher.verify(row.as_ref().and_then(|r| r.password_hash.as_deref()), password).await {
            Ok(ok) => ok,
            Err(crate::password::HashError::Busy) => return Ok(Err(SignInFailure::Busy)),
            Err(e) => return Err(StoreError::Corrupt(e.to_string())),
        };
        let Some(row) = row.filter(|_| ok) else {
            let failures = self.record_failure(&keys[0], FREE_FAILURES_ACCOUNT, ts).await?;
            self.record_failure(&keys[1], FREE_FAILURES_IP, ts).await?;
            if failures == NOTIFY_AT_FAILURES
                && let Ok(pid) = Pid::parse(&username)
                && let Some(phone) = self.account_row(pid.as_str()).await?.and_then(|r| r.phone)
            {
                let body = "Tài khoản định danh điện tử của bạn vừa bị đăng nhập sai mật khẩu nhiều lần và tạm thời bị khóa đăng nhập. Nếu không phải bạn, hãy đổi mật khẩu.";
                self.send_now("sms", &phone, "Cảnh báo đăng nhập", body, &civitas_store::timestamp(now)).await?;
            }
            return Ok(Err(SignInFailure::BadCredentials));
        };
        let state = AccountState::parse(&row.state);
        if state != AccountState::Active {
            return Ok(Err(SignInFailure::Unusable(state, row.state_reason)));
        }
        if failures_on_record {
            dispatch!(&self.db, pool => sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(&keys[0]).execute(pool).await.map(|r| r.rows_affected()))?;
        }
        Ok(Ok(Authenticated { has_totp: row.totp_secret.is_some(), pid: row.pid, level: row.level }))
    }

    pub(crate) async fn throttled(&self, keys: &[String], now: i64) -> Result<Option<i64>, StoreError> {
        Ok(self.throttle_state(keys, now).await?.0)
    }

    /// The wait still to serve for `keys`, and whether the first key has failures on record.
    pub(crate) async fn throttle_state(&self, keys: &[String], now: i64) -> Result<(Option<i64>, bool), StoreError> {
        let sql = "SELECT key, blocked_until FROM login_throttle WHERE key = $1 OR key = $2";
        let Some(first) = keys.first() else { return Ok((None, false)) };
        let second = keys.get(1).unwrap_or(first);
        let rows: Vec<(String, i64)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(first).bind(second).fetch_all(pool).await)?;
        let wait = rows.iter().map(|r| r.1 - now).filter(|w| *w > 0).max();
        Ok((wait, rows.iter().any(|r| &r.0 == first)))
    }

    /// Counts a failure; after `free` failures each one doubles the wait (1 s, 2 s, 4 s ... 15 min).
    pub(crate) async fn record_failure(&self, key: &str, free: i64, now: i64) -> Result<i64, StoreError> {
        // A counter starts again 24 hours after its last failure (or an hour after a block ended).
        let sql = "INSERT INTO login_throttle (key, failures, blocked_until, last_failure_at) VALUES ($1, 1, 0, $2) \
                   ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN login_throttle.last_failure_at < $2 - 86400 \
                   OR (login_throttle.failures > $3 AND login_throttle.blocked_until < $2 - 3600) THEN 1 ELSE login_throttle.failures + 1 END, \
                   last_failure_at = $2 \
                   RETURNING failures";
        let (failures,): (i64,) =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(key).bind(now).bind(free).fetch_one(pool).await)?;
        if failures > free {
            let wait = 2i64
                .checked_shl((failures - free - 1).min(20) as u32)
                .unwrap_or(MAX_BACKOFF_SECS)
                .min(MAX_BACKOFF_SECS);
            let sql = "UPDATE login_throttle SET blocked_until = $1 WHERE key = $2";
            dispatch!(&self.db, pool => sqlx::query(sql).bind(now + wait).bind(key).execute(pool).await.map(|r| r.rows_affected()))?;
        }
        Ok(failures)
    }

    /// Checks a TOTP code (each time step accepted once) or an unused recovery code, with the
    /// same back-off as passwords after three wrong codes.
    pub async fn verify_second_factor(
        &self,
        pid: &str,
        code: &str,
        now: time::OffsetDateTime,
    ) -> Result<Result<(), SignInFailure>, StoreError> {
        let key = format!("otp:{pid}");
        let ts = now.unix_timestamp();
        if let Some(wait) = self.throttled(std::slice::from_ref(&key), ts).await? {
            return Ok(Err(SignInFailure::Throttled(wait)));
        }
        if self.second_factor_ok(pid, code, now).await? {
            dispatch!(&self.db, pool => sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(&key).execute(pool).await.map(|_| ()))?;
            return Ok(Ok(()));
        }
        self.record_failure(&key, FREE_FAILURES_ACCOUNT, ts).await?;
        Ok(Err(SignInFailure::BadCredentials))
    }

    pub(crate) async fn second_factor_ok(
        &self,
        pid: &str,
        code: &str,
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let Some(row) = self.account_row(pid).await? else { return Ok(false) };
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if let Some(secret) = &row.totp_secret
            && let Some(step) = totp::check(secret, &code, now.unix_timestamp())
        {
            let sql = "UPDATE accounts SET totp_last_step = $1 WHERE pid = $2 AND totp_last_step < $1";
            let done = dispatch!(&self.db, pool => sqlx::query(sql).bind(step as i64).bind(pid).execute(pool).await.map(|r| r.rows_affected()))?;
            return Ok(done == 1);
        }
        let sql = "UPDATE recovery_codes SET used_at = $1 WHERE pid = $2 AND code_hash = $3 AND used_at IS NULL";
        let hash = digest(&code.to_uppercase());
        let done = dispatch!(&self.db, pool => sqlx::query(sql).bind(now.unix_timestamp()).bind(pid).bind(&hash).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// The current TOTP code of `pid` (operator tooling and the demo only; never over HTTP).
    pub async fn current_totp_code(&self, pid: &str, now: time::OffsetDateTime) -> Result<Option<String>, StoreError> {
        Ok(self.account_row(pid).await?.and_then(|r| r.totp_secret).map(|s| totp::code(&s, now.unix_timestamp())))
    }

    /// The TOTP key of `pid` in base32 (operator tooling and the demo only; never over HTTP).
    pub async fn totp_key(&self, pid: &str) -> Result<Option<String>, StoreError> {
        Ok(self.account_row(pid).await?.and_then(|r| r.totp_secret).map(|s| totp::encode_secret(&s)))
    }

    /// The officer role and units of `pid`, when the account holder is an officer.
    pub async fn officer_role(&self, pid: &str) -> Result<Option<(Role, Vec<String>)>, StoreError> {
        let sql = "SELECT role, units FROM officer_roles WHERE pid = $1";
        let row: Option<(String, String)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(pid).fetch_optional(pool).await)?;
        Ok(row.and_then(|(r, u)| Some((Role::parse(&r)?, u.split(',').map(str::to_owned).collect()))))
    }

    pub async fn set_officer_role(
        &self,
        pid: &str,
        role: Role,
        units: &[String],
        actor: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        if self.account_row(pid).await?.is_none() {
            return Err(AccountError::NoAccount(pid.to_owned()));
        }
        let at = civitas_store::timestamp(now);
        let event = self.event(
            "eid.officer_role_set",
            pid,
            serde_json::json!({ "role": role.as_str(), "units": units }),
            actor,
            &at,
        );
        let units = units.join(",");
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("INSERT INTO officer_roles (pid, role, units) VALUES ($1, $2, $3) ON CONFLICT (pid) DO UPDATE SET role = $2, units = $3")
                .bind(pid).bind(role.as_str()).bind(&units).execute(&mut *tx).await?;
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// Reads the `person.deceased` events after this consumer's cursor (only those: other events
    /// are not fetched) and locks the accounts of the people concerned. Returns how many deaths
    /// were read.
    pub async fn follow_register(&self, now: time::OffsetDateTime) -> Result<usize, AccountError> {
        const CONSUMER: &str = "identity.deceased";
        let sql = "SELECT position FROM event_cursors WHERE consumer = $1";
        let cursor: Option<(i64,)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(CONSUMER).fetch_optional(pool).await)?;
        let cursor = cursor.map(|c| c.0).unwrap_or(0);
        // Not past an event that another transaction may still commit (PostgreSQL draws ids at
        // insert time): a death committed late is still seen.
        let last = self.register_events.upto(&self.db, cursor).await?;
        if last <= cursor {
            return Ok(0);
        }
        let deaths = civitas_store::events::of_kind_between(&self.db, "person.deceased", cursor, last).await?;
        for (_, pid) in &deaths {
            if let Some(row) = self.account_row(pid).await?
                && (row.state == "active" || row.state == "pending")
            {
                self.change_state(
                    pid,
                    &["active", "pending"],
                    "locked",
                    Some(DECEASED_REASON),
                    "eid.locked",
                    "system:register",
                    now,
                )
                .await?;
            }
        }
        let sql = "INSERT INTO event_cursors (consumer, position) VALUES ($1, $2) ON CONFLICT (consumer) DO UPDATE SET position = $2";
        dispatch!(&self.db, pool => sqlx::query(sql).bind(CONSUMER).bind(last).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(deaths.len())
    }
}
