//! Passwords: Argon2id with the OWASP parameters (m = 19 MiB, t = 2, p = 1), hashed off the async
//! runtime behind a semaphore sized to the cores, and the password policy.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use civitas_core::PartialDate;

const COMMON: &str = include_str!("../data/common-passwords.txt");

static COMMON_SET: LazyLock<std::collections::HashSet<&'static str>> =
    LazyLock::new(|| COMMON.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect());

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the password must have at least 8 characters")]
    TooShort,
    #[error("the password must have at most 128 characters")]
    TooLong,
    #[error("the password is too common")]
    Common,
    #[error("the password must not contain the ID number")]
    ContainsPid,
    #[error("the password must not be the birth date")]
    BirthDate,
}

impl PolicyError {
    /// A stable identifier, for problem types and page messages.
    pub fn slug(self) -> &'static str {
        match self {
            PolicyError::TooShort => "password-too-short",
            PolicyError::TooLong => "password-too-long",
            PolicyError::Common => "password-too-common",
            PolicyError::ContainsPid => "password-contains-pid",
            PolicyError::BirthDate => "password-is-birth-date",
        }
    }
}

/// Checks a new password of the person `pid` born on `birth_date`.
pub fn check_policy(password: &str, pid: &str, birth_date: &PartialDate) -> Result<(), PolicyError> {
    let chars = password.chars().count();
    if chars < 8 {
        return Err(PolicyError::TooShort);
    }
    if chars > 128 {
        return Err(PolicyError::TooLong);
    }
    let lower = password.to_lowercase();
    let folded = civitas_core::text::fold(&lower).replace(' ', "");
    if COMMON_SET.contains(lower.as_str()) || COMMON_SET.contains(folded.as_str()) || is_trivial(&lower) {
        return Err(PolicyError::Common);
    }
    let tail = pid.get(pid.len().saturating_sub(9)..).unwrap_or(pid);
    if (!pid.is_empty() && password.contains(pid)) || (tail.len() == 9 && password.contains(tail)) {
        return Err(PolicyError::ContainsPid);
    }
    let digits: String = password.chars().filter(char::is_ascii_digit).collect();
    let y = birth_date.year();
    let mut forms = vec![];
    if let (Some(m), Some(d)) = (birth_date.month(), birth_date.day()) {
        forms.push(format!("{d:02}{m:02}{y}"));
        forms.push(format!("{y}{m:02}{d:02}"));
        forms.push(format!("{d}{m}{y}"));
    }
    if forms.contains(&digits) && digits.len() * 10 >= chars * 6 {
        return Err(PolicyError::BirthDate);
    }
    Ok(())
}

/// One repeated character, or a run of consecutive characters such as `12345678` / `abcdefgh`.
fn is_trivial(p: &str) -> bool {
    let b = p.as_bytes();
    b.windows(2).all(|w| w[0] == w[1])
        || b.windows(2).all(|w| w[1] == w[0].wrapping_add(1))
        || b.windows(2).all(|w| w[1].wrapping_add(1) == w[0])
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Runs Argon2id on blocking threads, at most as many at once as there are cores.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified when an account does not exist, so that the answer
    /// takes as long for unknown usernames as for known ones.
    dummy: Arc<String>,
}

impl Hasher {
    pub fn new() -> Result<Hasher, HashError> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let dummy = hash_now(&crate::secret::random_token(16))?;
        Ok(Hasher { permits: Arc::new(Semaphore::new(cores)), dummy: Arc::new(dummy) })
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let _permit = self.permits.acquire().await.map_err(|e| HashError::Failed(e.to_string()))?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_now(&password)).await.map_err(|e| HashError::Failed(e.to_string()))?
    }

    /// Whether `password` matches `stored` (a PHC string); with `None`, checks against a dummy
    /// hash and answers false, taking the same time.
    pub async fn verify(&self, stored: Option<&str>, password: &str) -> bool {
        let Ok(_permit) = self.permits.acquire().await else { return false };
        let known = stored.is_some();
        let stored = stored.map(str::to_owned).unwrap_or_else(|| self.dummy.as_ref().clone());
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_now(&stored, &password)).await.unwrap_or(false);
        ok && known
    }
}

pub fn hash_now(password: &str) -> Result<String, HashError> {
    argon2().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| HashError::Failed(e.to_string()))
}

pub fn verify_now(stored: &str, password: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn born() -> PartialDate {
        "1990-03-15".parse().unwrap()
    }

    #[test]
    fn policy() {
        let pid = "001090123456";
        assert_eq!(check_policy("short", pid, &born()), Err(PolicyError::TooShort));
        assert_eq!(check_policy("password", pid, &born()), Err(PolicyError::Common));
        assert_eq!(check_policy("Matkhau123", pid, &born()), Err(PolicyError::Common));
        assert_eq!(check_policy("23456789", pid, &born()), Err(PolicyError::Common));
        assert_eq!(check_policy("x001090123456", pid, &born()), Err(PolicyError::ContainsPid));
        assert_eq!(check_policy("15031990", pid, &born()), Err(PolicyError::BirthDate));
        assert_eq!(check_policy("15/03/1990", pid, &born()), Err(PolicyError::BirthDate));
        assert!(check_policy("sông Hồng mùa thu", pid, &born()).is_ok());
        assert!(check_policy("correct horse battery", pid, &born()).is_ok());
    }

    #[test]
    fn hash_and_verify() {
        let h = hash_now("sông Hồng mùa thu").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_now(&h, "sông Hồng mùa thu"));
        assert!(!verify_now(&h, "sông Hồng mùa xuân"));
        assert!(!verify_now("garbage", "x"));
    }
}
