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

mod codes;
mod enrolment;
mod lifecycle;
mod signin;

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
