//! One-time codes (activation, password reset) and their limits, and public rate limits.

use super::*;

impl Identity {
    pub(crate) async fn send_now(
        &self,
        channel: &str,
        to: &str,
        subject: &str,
        body: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => sqlx::query(outbox::INSERT).bind(channel).bind(to).bind(subject).bind(body).bind(at).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Whether another code of `purpose` may be sent to `pid` now (at most [`CODES_PER_HOUR`]).
    pub(crate) async fn may_send_code(&self, pid: &str, purpose: &str, now: i64) -> Result<bool, StoreError> {
        let sql = "SELECT issued, window_start FROM one_time_codes WHERE pid = $1 AND purpose = $2";
        let row: Option<(i64, i64)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(pid).bind(purpose).fetch_optional(pool).await)?;
        Ok(!matches!(row, Some((issued, start)) if start >= now - 3600 && issued >= CODES_PER_HOUR))
    }

    /// Counts one use of a rate-limited public operation under `key` (an address, a dossier
    /// code ...): `Some(wait)` in seconds when the key is blocked, else `None` (and the use is
    /// counted; past `free` uses in the window each one doubles the wait, up to 15 minutes).
    pub async fn rate_limit(&self, key: &str, free: i64, now: i64) -> Result<Option<i64>, StoreError> {
        if let Some(wait) = self.throttled(&[key.to_owned()], now).await? {
            return Ok(Some(wait));
        }
        self.record_failure(key, free, now).await?;
        Ok(None)
    }

    /// The wait still to serve under `key`, without counting a use.
    pub async fn rate_wait(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
        self.throttled(&[key.to_owned()], now).await
    }

    /// Counts a failure under `key` (a wrong guess at a public lookup).
    pub async fn count_failure(&self, key: &str, free: i64, now: i64) -> Result<(), StoreError> {
        self.record_failure(key, free, now).await.map(|_| ())
    }

    /// Checks a one-time code of `purpose`; wrong codes count, and a code dies after five.
    pub(crate) async fn take_code(&self, pid: &str, purpose: &str, code: &str, now: i64) -> Result<bool, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            code_hash: Vec<u8>,
            expires_at: i64,
            attempts: i64,
        }
        let sql = "SELECT code_hash, expires_at, attempts FROM one_time_codes WHERE pid = $1 AND purpose = $2";
        let row = dispatch!(&self.db, pool => sqlx::query_as::<_, Row>(sql).bind(pid).bind(purpose).fetch_optional(pool).await)?;
        let Some(row) = row else { return Ok(false) };
        let ok = row.expires_at > now && row.attempts < CODE_ATTEMPTS && ct_eq(&row.code_hash, &digest(code.trim()));
        let sql = if ok {
            "DELETE FROM one_time_codes WHERE pid = $1 AND purpose = $2"
        } else {
            "UPDATE one_time_codes SET attempts = attempts + 1 WHERE pid = $1 AND purpose = $2"
        };
        dispatch!(&self.db, pool => sqlx::query(sql).bind(pid).bind(purpose).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(ok)
    }

    /// The checks shared by activation and password reset: an account of `pid` in `state`, a new
    /// password that passes the policy, and the one-time code of `purpose` (counted when wrong).
    /// Returns the account and the new password's hash.
    pub(crate) async fn password_by_code(
        &self,
        pid: &str,
        state: &str,
        purpose: &str,
        code: &str,
        password: &str,
        now: time::OffsetDateTime,
    ) -> Result<(AccountRow, String), AccountError> {
        let invalid = || AccountError::Invalid("invalid-code", "the code is wrong or has expired".into());
        let Ok(parsed) = Pid::parse(pid.trim()) else { return Err(invalid()) };
        let pid = parsed.as_str();
        let Some(row) = self.account_row(pid).await?.filter(|r| r.state == state) else { return Err(invalid()) };
        let person = self.living_person(pid).await?;
        crate::password::check_policy(password, pid, &person.full_name, &person.birth_date)
            .map_err(AccountError::Policy)?;
        if !self.take_code(pid, purpose, code, now.unix_timestamp()).await? {
            return Err(invalid());
        }
        Ok((row, self.hasher.hash(password).await?))
    }

    /// Activates a pending account with the code sent by SMS and sets its password.
    pub async fn activate(
        &self,
        pid: &str,
        code: &str,
        password: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        let (row, hash) = self.password_by_code(pid, "pending", "activate", code, password, now).await?;
        let pid = row.pid.as_str();
        let at = civitas_store::timestamp(now);
        let event = self.event("eid.activated", pid, serde_json::json!({ "level": row.level }), pid, &at);
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("UPDATE accounts SET state = 'active', password_hash = $1, updated_at = $2 WHERE pid = $3 AND state = 'pending'")
                .bind(&hash).bind(&at).bind(pid).execute(&mut *tx).await?;
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// Starts a password reset: when `phone` is the one on file of an active account, a code is
    /// sent to it. Always `Ok` for well-formed input.
    pub async fn start_password_reset(
        &self,
        pid: &str,
        phone: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        let parsed = Pid::parse(pid.trim()).map_err(|e| AccountError::Invalid("invalid-pid", e.to_string()))?;
        let phone = normalize_phone(phone)?;
        let pid = parsed.as_str();
        let Some(row) = self.account_row(pid).await? else { return Ok(()) };
        if row.state != "active" || row.phone.as_deref() != Some(phone.as_str()) {
            return Ok(());
        }
        if !self.may_send_code(pid, "reset", now.unix_timestamp()).await? {
            tracing::info!(pid, "reset code not sent: the hourly limit is reached");
            return Ok(());
        }
        let code = random_digits(6);
        let at = civitas_store::timestamp(now);
        let body =
            format!("Mã đặt lại mật khẩu tài khoản định danh điện tử của bạn là {code}. Mã có hiệu lực 10 phút.");
        let code_hash = digest(&code);
        let expires = now.unix_timestamp() + CODE_TTL_SECS;
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            upsert_code!(tx, pid, "reset", &code_hash, expires, now.unix_timestamp())?;
            sqlx::query(outbox::INSERT).bind("sms").bind(&phone).bind("Đặt lại mật khẩu").bind(&body).bind(&at).execute(&mut *tx).await?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// Sets a new password with a reset code; ends every session and grant of the account.
    pub async fn reset_password(
        &self,
        pid: &str,
        code: &str,
        password: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        let (row, hash) = self.password_by_code(pid, "active", "reset", code, password, now).await?;
        let pid = row.pid.as_str();
        let at = civitas_store::timestamp(now);
        let event = self.event("eid.password_reset", pid, serde_json::json!({}), pid, &at);
        let ts = now.unix_timestamp();
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE pid = $3").bind(&hash).bind(&at).bind(pid).execute(&mut *tx).await?;
            end_everything!(tx, pid, ts)?;
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await
        })?;
        Ok(())
    }
}
