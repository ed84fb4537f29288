//! e-ID accounts (Decree 69/2024): one per person in the register, username = PID, level 1 or 2,
//! their credentials (password, TOTP, recovery codes), lifecycle (pending → active ⇄ locked →
//! revoked), sign-in throttling, and the officers' roles. Every change writes an `eid.*` event in
//! its transaction; messages to the holder go through the notification outbox.

use serde::Serialize;

use civitas_core::{LifeStatus, PartialDate, Pid, text};
use civitas_registry::Person;
use civitas_store::{NewEvent, StoreError, dispatch, insert_events, outbox};

use crate::password::PolicyError;
use crate::secret::{ct_eq, digest, random_digits, random_token};
use crate::tokens::Role;
use crate::{Identity, totp};

pub const ACR_LEVEL1: &str = "urn:vn:eid:loa:1";
pub const ACR_LEVEL2: &str = "urn:vn:eid:loa:2";

/// The `acr` value of an assurance level.
pub fn acr_of(level: i64) -> &'static str {
    if level >= 2 { ACR_LEVEL2 } else { ACR_LEVEL1 }
}

/// The level an `acr` value asks for.
pub fn level_of_acr(acr: &str) -> Option<i64> {
    match acr {
        ACR_LEVEL1 => Some(1),
        ACR_LEVEL2 => Some(2),
        _ => None,
    }
}

const CODE_TTL_SECS: i64 = 600;
const CODE_ATTEMPTS: i64 = 5;
/// One-time codes sent per person and purpose in an hour (each is an SMS).
const CODES_PER_HOUR: i64 = 3;
/// Failures allowed before back-off starts, per account and per client address.
const FREE_FAILURES_ACCOUNT: i64 = 3;
const FREE_FAILURES_IP: i64 = 20;
const MAX_BACKOFF_SECS: i64 = 900;
/// Account failures at which the holder is told by SMS.
const NOTIFY_AT_FAILURES: i64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// Registered online, waiting for the activation code.
    Pending,
    Active,
    Locked,
    Revoked,
}

impl AccountState {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Pending => "pending",
            AccountState::Active => "active",
            AccountState::Locked => "locked",
            AccountState::Revoked => "revoked",
        }
    }
    fn parse(s: &str) -> AccountState {
        match s {
            "pending" => AccountState::Pending,
            "active" => AccountState::Active,
            "locked" => AccountState::Locked,
            _ => AccountState::Revoked,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct AccountRow {
    pub pid: String,
    pub level: i64,
    pub state: String,
    pub state_reason: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub totp_secret: Option<Vec<u8>>,
    pub level2_by: Option<String>,
    pub level2_place: Option<String>,
    pub level2_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const ACCOUNT_COLUMNS: &str = "pid, level, state, state_reason, phone, email, password_hash, totp_secret, \
     level2_by, level2_place, level2_at, created_at, updated_at";

/// An account as shown to its holder and to officers (no secrets).
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub pid: String,
    pub level: i64,
    pub state: AccountState,
    pub state_reason: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub has_password: bool,
    pub has_totp: bool,
    pub level2_by: Option<String>,
    pub level2_place: Option<String>,
    pub level2_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            state: AccountState::parse(&r.state),
            has_password: r.password_hash.is_some(),
            has_totp: r.totp_secret.is_some(),
            pid: r.pid,
            level: r.level,
            state_reason: r.state_reason,
            phone: r.phone,
            email: r.email,
            level2_by: r.level2_by,
            level2_place: r.level2_place,
            level2_at: r.level2_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(&'static str, String),
    #[error("the password does not meet the policy: {0}")]
    Policy(PolicyError),
    #[error("no person with ID number {0} is in the register")]
    NoPerson(String),
    #[error("no e-ID account exists for {0}")]
    NoAccount(String),
    #[error("{0}")]
    NotAllowed(&'static str, String),
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("password hashing failed")]
    Hash(#[from] crate::password::HashError),
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        AccountError::Store(StoreError::Database(e))
    }
}

impl From<civitas_registry::RegisterError> for AccountError {
    fn from(e: civitas_registry::RegisterError) -> Self {
        match e {
            civitas_registry::RegisterError::Store(s) => AccountError::Store(s),
            other => AccountError::Store(StoreError::Corrupt(other.to_string())),
        }
    }
}

/// Second-factor material handed to the holder once (at the counter, or by the CLI).
#[derive(Debug, Clone, Serialize)]
pub struct SecondFactor {
    /// The TOTP secret, base32, for an authenticator app.
    pub totp_secret: String,
    /// `otpauth://totp/...` URI of the secret (shown as text or a QR code).
    pub otpauth_uri: String,
    pub recovery_codes: Vec<String>,
}

/// Why a sign-in failed. `BadCredentials` is the same for an unknown ID number and a wrong
/// password, so the answer does not tell whether an account exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInFailure {
    BadCredentials,
    /// Too many failures: try again after this many seconds.
    Throttled(i64),
    /// Correct password, but the account cannot be used (state and reason).
    Unusable(AccountState, Option<String>),
    /// The server has too many password checks waiting; try again shortly.
    Busy,
}

/// A successful password check.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub pid: String,
    pub level: i64,
    pub has_totp: bool,
}

/// Who may hold which level at which age (Decree 69/2024): under 6 only level 1, registered by a
/// parent or guardian; 6–13 level 1 by a guardian, level 2 on request at the counter; 14+ both,
/// by themselves.
pub fn age_allows(age: i32, level: i64, by_guardian: bool) -> Result<(), &'static str> {
    if age < 0 {
        return Err("the birth date lies in the future");
    }
    if age < 6 && level >= 2 {
        return Err("children under 6 can only hold a level-1 account");
    }
    if age < 14 && level == 1 && !by_guardian {
        return Err("children under 14 are registered by a parent or guardian from their level-2 account");
    }
    Ok(())
}

/// Stores a one-time code of `purpose` (replacing an earlier one) inside a transaction. Within
/// the hour-long window of the first code, wrong guesses carry over to the new code (asking
/// again never resets them) and the number of codes sent is counted.
macro_rules! upsert_code {
    ($tx:expr, $pid:expr, $purpose:expr, $hash:expr, $expires:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO one_time_codes (pid, purpose, code_hash, expires_at, attempts, issued, window_start) VALUES ($1, $2, $3, $4, 0, 1, $5) \
             ON CONFLICT (pid, purpose) DO UPDATE SET code_hash = $3, expires_at = $4, \
             attempts = CASE WHEN one_time_codes.window_start < $5 - 3600 THEN 0 ELSE one_time_codes.attempts END, \
             issued = CASE WHEN one_time_codes.window_start < $5 - 3600 THEN 1 ELSE one_time_codes.issued + 1 END, \
             window_start = CASE WHEN one_time_codes.window_start < $5 - 3600 THEN $5 ELSE one_time_codes.window_start END",
        )
        .bind($pid)
        .bind($purpose)
        .bind($hash)
        .bind($expires)
        .bind($now)
        .execute(&mut *$tx)
        .await
    };
}

/// Ends the browser sessions and revokes the grants of `pid` (lock, revocation, password reset).
macro_rules! end_everything {
    ($tx:expr, $pid:expr, $now:expr) => {{
        sqlx::query("UPDATE browser_sessions SET ended_at = $1 WHERE pid = $2 AND ended_at IS NULL")
            .bind($now)
            .bind($pid)
            .execute(&mut *$tx)
            .await?;
        sqlx::query("UPDATE grants SET revoked_at = $1 WHERE pid = $2 AND revoked_at IS NULL")
            .bind($now)
            .bind($pid)
            .execute(&mut *$tx)
            .await
    }};
}

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

    async fn living_person(&self, pid: &str) -> Result<Person, AccountError> {
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

    fn event(&self, kind: &'static str, pid: &str, payload: serde_json::Value, actor: &str, at: &str) -> NewEvent {
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

    async fn send_now(&self, channel: &str, to: &str, subject: &str, body: &str, at: &str) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => sqlx::query(outbox::INSERT).bind(channel).bind(to).bind(subject).bind(body).bind(at).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Whether another code of `purpose` may be sent to `pid` now (at most [`CODES_PER_HOUR`]).
    async fn may_send_code(&self, pid: &str, purpose: &str, now: i64) -> Result<bool, StoreError> {
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
    async fn take_code(&self, pid: &str, purpose: &str, code: &str, now: i64) -> Result<bool, StoreError> {
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
    async fn password_by_code(
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

    /// Raises an account to level 2 after an officer verified the person at `place`. Returns the
    /// new second factor, handed over at the counter.
    pub async fn raise_to_level2(
        &self,
        pid: &str,
        officer: &str,
        place: &str,
        now: time::OffsetDateTime,
    ) -> Result<SecondFactor, AccountError> {
        let person = self.living_person(pid).await?;
        age_allows(person.birth_date.age_on(now.date()), 2, true)
            .map_err(|m| AccountError::NotAllowed("age", m.into()))?;
        let row = self.account_row(pid).await?.ok_or_else(|| AccountError::NoAccount(pid.to_owned()))?;
        if row.state != "active" {
            return Err(AccountError::NotAllowed("account-not-active", format!("the account is {}", row.state)));
        }
        if place.trim().is_empty() {
            return Err(AccountError::Invalid("missing-place", "name the place where the person was verified".into()));
        }
        let second = new_second_factor(pid);
        let secret = totp::decode_secret(&second.totp_secret);
        let at = civitas_store::timestamp(now);
        let event = self.event(
            "eid.level_raised",
            pid,
            serde_json::json!({ "level": 2, "place": place.trim(), "previous_level": row.level }),
            officer,
            &at,
        );
        let codes: Vec<Vec<u8>> = second.recovery_codes.iter().map(|c| digest(c)).collect();
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("UPDATE accounts SET level = 2, totp_secret = $1, totp_last_step = 0, level2_by = $2, level2_place = $3, level2_at = $4, updated_at = $4 WHERE pid = $5")
                .bind(&secret).bind(officer).bind(place.trim()).bind(&at).bind(pid).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM recovery_codes WHERE pid = $1").bind(pid).execute(&mut *tx).await?;
            for c in &codes {
                sqlx::query("INSERT INTO recovery_codes (pid, code_hash) VALUES ($1, $2)").bind(pid).bind(c).execute(&mut *tx).await?;
            }
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await
        })?;
        Ok(second)
    }

    /// Locks an account (by its holder, an officer with a reason, or the system on death); every
    /// session and grant ends.
    pub async fn lock(&self, pid: &str, by: &str, reason: &str, now: time::OffsetDateTime) -> Result<(), AccountError> {
        if reason.trim().is_empty() {
            return Err(AccountError::Invalid("missing-reason", "give the reason for locking".into()));
        }
        self.change_state(pid, &["active"], "locked", Some(reason.trim()), "eid.locked", by, now).await
    }

    pub async fn unlock(
        &self,
        pid: &str,
        by: &str,
        reason: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        let row = self.account_row(pid).await?.ok_or_else(|| AccountError::NoAccount(pid.to_owned()))?;
        if row.state_reason.as_deref() == Some(DECEASED_REASON) {
            return Err(AccountError::NotAllowed(
                "person-not-living",
                "the account was locked because the person died".into(),
            ));
        }
        self.living_person(pid).await?;
        self.change_state(
            pid,
            &["locked"],
            "active",
            Some(reason.trim()).filter(|r| !r.is_empty()),
            "eid.unlocked",
            by,
            now,
        )
        .await
    }

    pub async fn revoke(
        &self,
        pid: &str,
        by: &str,
        reason: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        if reason.trim().is_empty() {
            return Err(AccountError::Invalid("missing-reason", "give the reason for revoking".into()));
        }
        self.change_state(pid, &["active", "locked", "pending"], "revoked", Some(reason.trim()), "eid.revoked", by, now)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_state(
        &self,
        pid: &str,
        from: &[&str],
        to: &str,
        reason: Option<&str>,
        kind: &'static str,
        by: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        let row = self.account_row(pid).await?.ok_or_else(|| AccountError::NoAccount(pid.to_owned()))?;
        if !from.contains(&row.state.as_str()) {
            return Err(AccountError::NotAllowed(
                "wrong-account-state",
                format!("the account is {}; this action needs it {}", row.state, from.join(" or ")),
            ));
        }
        let at = civitas_store::timestamp(now);
        let event = self.event(kind, pid, serde_json::json!({ "reason": reason, "from": row.state }), by, &at);
        let ts = now.unix_timestamp();
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("UPDATE accounts SET state = $1, state_reason = $2, updated_at = $3 WHERE pid = $4")
                .bind(to).bind(reason).bind(&at).bind(pid).execute(&mut *tx).await?;
            if to != "active" {
                end_everything!(tx, pid, ts)?;
            }
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await
        })?;
        Ok(())
    }

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

    async fn throttled(&self, keys: &[String], now: i64) -> Result<Option<i64>, StoreError> {
        Ok(self.throttle_state(keys, now).await?.0)
    }

    /// The wait still to serve for `keys`, and whether the first key has failures on record.
    async fn throttle_state(&self, keys: &[String], now: i64) -> Result<(Option<i64>, bool), StoreError> {
        let sql = "SELECT key, blocked_until FROM login_throttle WHERE key = $1 OR key = $2";
        let Some(first) = keys.first() else { return Ok((None, false)) };
        let second = keys.get(1).unwrap_or(first);
        let rows: Vec<(String, i64)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(first).bind(second).fetch_all(pool).await)?;
        let wait = rows.iter().map(|r| r.1 - now).filter(|w| *w > 0).max();
        Ok((wait, rows.iter().any(|r| &r.0 == first)))
    }

    /// Counts a failure; after `free` failures each one doubles the wait (1 s, 2 s, 4 s ... 15 min).
    async fn record_failure(&self, key: &str, free: i64, now: i64) -> Result<i64, StoreError> {
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

    async fn second_factor_ok(&self, pid: &str, code: &str, now: time::OffsetDateTime) -> Result<bool, StoreError> {
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
        let last = civitas_store::events::last_id(&self.db).await?;
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

/// The reason recorded when an account is locked because its holder died.
pub const DECEASED_REASON: &str = "deceased";

fn new_second_factor(pid: &str) -> SecondFactor {
    let secret = totp::new_secret();
    let recovery_codes = (0..8)
        .map(|_| {
            let t = random_token(6).to_uppercase().replace(['-', '_'], "X");
            format!("{}-{}", &t[..4], &t[4..8])
        })
        .collect();
    SecondFactor { otpauth_uri: totp::otpauth_uri(&secret, pid), totp_secret: secret, recovery_codes }
}

/// Vietnamese mobile numbers: `0` + 9 digits, or `+84` + 9 digits; stored as `0xxxxxxxxx`.
pub fn normalize_phone(phone: &str) -> Result<String, AccountError> {
    let digits: String = phone.chars().filter(|c| !c.is_whitespace() && *c != '.' && *c != '-').collect();
    let local = if let Some(rest) = digits.strip_prefix("+84") { format!("0{rest}") } else { digits };
    if local.len() == 10 && local.starts_with('0') && local.chars().all(|c| c.is_ascii_digit()) {
        Ok(local)
    } else {
        Err(AccountError::Invalid(
            "invalid-phone",
            "write the mobile number as 10 digits starting with 0, or +84".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_levels() {
        assert!(age_allows(30, 1, false).is_ok());
        assert!(age_allows(14, 2, false).is_ok());
        assert!(age_allows(13, 1, false).is_err());
        assert!(age_allows(13, 1, true).is_ok());
        assert!(age_allows(8, 2, true).is_ok());
        assert!(age_allows(5, 2, true).is_err());
        assert!(age_allows(5, 1, true).is_ok());
    }

    #[test]
    fn phones() {
        assert_eq!(normalize_phone("+84 912 345 678").unwrap(), "0912345678");
        assert_eq!(normalize_phone("0912.345.678").unwrap(), "0912345678");
        assert!(normalize_phone("12345").is_err());
    }
}
