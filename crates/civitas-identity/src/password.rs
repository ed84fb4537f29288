//! Passwords: Argon2id with the OWASP parameters (m = 19 MiB, t = 2, p = 1), hashed off the async
//! runtime behind a semaphore sized to the cores, and the password policy.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::oneshot;

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
    #[error("the password must not be made of the holder's name")]
    ContainsName,
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
            PolicyError::ContainsName => "password-is-name",
        }
    }
}

/// Checks a new password of the person `pid` named `full_name`, born on `birth_date`.
pub fn check_policy(password: &str, pid: &str, full_name: &str, birth_date: &PartialDate) -> Result<(), PolicyError> {
    let chars = password.chars().count();
    if chars < 8 {
        return Err(PolicyError::TooShort);
    }
    if chars > 128 {
        return Err(PolicyError::TooLong);
    }
    let lower = password.to_lowercase();
    let folded = civitas_core::text::fold(&lower).replace(' ', "");
    // Letters without their digits and punctuation: "aaaaaaa1", "Abcdefg!" are as weak as the
    // letters alone; fewer than four distinct characters make a guessable password too.
    let letters: String = folded.chars().filter(|c| c.is_alphabetic()).collect();
    let distinct = lower.chars().collect::<std::collections::BTreeSet<_>>().len();
    if COMMON_SET.contains(lower.as_str())
        || COMMON_SET.contains(folded.as_str())
        || is_trivial(&lower)
        || (letters.len() >= 4 && is_trivial(&letters) && letters.len() * 10 >= chars * 6)
        || distinct < 4
    {
        return Err(PolicyError::Common);
    }
    let name_parts: Vec<String> =
        civitas_core::text::fold(full_name).split_whitespace().map(str::to_owned).filter(|p| !p.is_empty()).collect();
    if !letters.is_empty() && made_of(&letters, &name_parts) {
        return Err(PolicyError::ContainsName);
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

/// Whether `letters` is a sequence of the name's parts (each any number of times, any order):
/// "nguyenvanan", "anvan", "an" for Nguyễn Văn An.
fn made_of(letters: &str, parts: &[String]) -> bool {
    let n = letters.len();
    let mut reachable = vec![false; n + 1];
    reachable[0] = true;
    for i in 0..n {
        if !reachable[i] {
            continue;
        }
        for p in parts {
            if letters[i..].starts_with(p.as_str()) {
                reachable[i + p.len()] = true;
            }
        }
    }
    reachable[n]
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
    #[error("too many password checks are waiting; try again shortly")]
    Busy,
}

enum Job {
    Hash(String, oneshot::Sender<Result<String, HashError>>),
    Verify(String, String, oneshot::Sender<bool>),
}

/// Runs Argon2id on dedicated threads, one per core, fed by a bounded queue: hashes run back to
/// back with no hand-over gaps between them, and a flood of sign-ins is refused (`Busy`) instead
/// of queueing without end.
#[derive(Clone)]
pub struct Hasher {
    jobs: std::sync::mpsc::SyncSender<Job>,
    /// A hash of a random password, verified when an account does not exist, so that the answer
    /// takes as long for unknown usernames as for known ones.
    dummy: Arc<String>,
}

/// Password checks that may wait for a hashing thread before new ones are refused.
const QUEUE: usize = 512;

impl Hasher {
    pub fn new() -> Result<Hasher, HashError> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let dummy = hash_now(&crate::secret::random_token(16))?;
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..cores {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(Job::Hash(password, reply)) => {
                                let _ = reply.send(hash_now(&password));
                            }
                            Ok(Job::Verify(stored, password, reply)) => {
                                let _ = reply.send(verify_now(&stored, &password));
                            }
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| HashError::Failed(e.to_string()))?;
        }
        Ok(Hasher { jobs, dummy: Arc::new(dummy) })
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        self.jobs.try_send(job).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => HashError::Busy,
            std::sync::mpsc::TrySendError::Disconnected(_) => HashError::Failed("the hashing threads stopped".into()),
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash(password.to_owned(), reply))?;
        answer.await.map_err(|e| HashError::Failed(e.to_string()))?
    }

    /// Whether `password` matches `stored` (a PHC string); with `None`, checks against a dummy
    /// hash and answers false, taking the same time.
    pub async fn verify(&self, stored: Option<&str>, password: &str) -> Result<bool, HashError> {
        let known = stored.is_some();
        let stored = stored.map(str::to_owned).unwrap_or_else(|| self.dummy.as_ref().clone());
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify(stored, password.to_owned(), reply))?;
        let ok = answer.await.map_err(|e| HashError::Failed(e.to_string()))?;
        Ok(ok && known)
    }
}

thread_local! {
    /// The Argon2 working memory of this thread, reused from hash to hash: allocating 19 MiB per
    /// hash costs a page fault and a page clear per 4 KiB (a fifth of the CPU time measured).
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn with_memory<R>(blocks: usize, f: impl FnOnce(&mut [argon2::Block]) -> R) -> R {
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() < blocks {
            m.resize(blocks, argon2::Block::default());
        }
        f(&mut m[..blocks])
    })
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
pub fn hash_now(password: &str) -> Result<String, HashError> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    let argon = argon2();
    let params = argon.params().clone();
    let mut out = [0u8; 32];
    with_memory(params.block_count(), |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
    })
    .map_err(|e| HashError::Failed(e.to_string()))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

/// Checks `password` against a PHC string made by any Argon2 implementation (its own
/// parameters, salt and output length), in constant time.
pub fn verify_now(stored: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt.as_ref(), parsed.hash.as_ref()) else { return false };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else { return false };
    let version = parsed.version.and_then(|v| Version::try_from(v).ok()).unwrap_or(Version::V0x13);
    let expected: &[u8] = expected.as_ref();
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    let computed = with_memory(params.block_count(), |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, memory)
    });
    computed.is_ok() && crate::secret::ct_eq(&out, expected)
}

/// The crate's own one-call API (allocating its memory each time): the reference point of the
/// raw-rate benchmark, and a cross-check of [`hash_now`] in the tests.
pub fn hash_with_crate_api(password: &str) -> Result<String, HashError> {
    argon2().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| HashError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;

    fn born() -> PartialDate {
        "1990-03-15".parse().unwrap()
    }

    fn check_policy_t(password: &str, pid: &str, born: &PartialDate) -> Result<(), PolicyError> {
        check_policy(password, pid, "Nguyễn Văn An", born)
    }

    #[test]
    fn policy() {
        let pid = "001090123456";
        assert_eq!(check_policy_t("short", pid, &born()), Err(PolicyError::TooShort));
        assert_eq!(check_policy_t("password", pid, &born()), Err(PolicyError::Common));
        assert_eq!(check_policy_t("Matkhau123", pid, &born()), Err(PolicyError::Common));
        assert_eq!(check_policy_t("23456789", pid, &born()), Err(PolicyError::Common));
        assert_eq!(check_policy_t("x001090123456", pid, &born()), Err(PolicyError::ContainsPid));
        assert_eq!(check_policy_t("15031990", pid, &born()), Err(PolicyError::BirthDate));
        assert_eq!(check_policy_t("15/03/1990", pid, &born()), Err(PolicyError::BirthDate));
        // The holder's name, alone or with the birth year; one letter repeated with a digit.
        assert_eq!(check_policy_t("Nguyễn Văn An", pid, &born()), Err(PolicyError::ContainsName));
        assert_eq!(check_policy_t("nguyenvanan", pid, &born()), Err(PolicyError::ContainsName));
        assert_eq!(check_policy_t("VanAn1990", pid, &born()), Err(PolicyError::ContainsName));
        assert_eq!(check_policy_t("an.nguyen.1990", pid, &born()), Err(PolicyError::ContainsName));
        assert_eq!(check_policy_t("aaaaaaa1", pid, &born()), Err(PolicyError::Common));
        assert_eq!(check_policy_t("abababa1", pid, &born()), Err(PolicyError::Common));
        assert!(check_policy_t("Nguyễn Văn An đi câu cá", pid, &born()).is_ok(), "a phrase with the name is fine");
        assert!(check_policy_t("sông Hồng mùa thu", pid, &born()).is_ok());
        assert!(check_policy_t("correct horse battery", pid, &born()).is_ok());
    }

    #[test]
    fn hash_and_verify() {
        let h = hash_now("sông Hồng mùa thu").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_now(&h, "sông Hồng mùa thu"));
        assert!(!verify_now(&h, "sông Hồng mùa xuân"));
        assert!(!verify_now("garbage", "x"));
        // Our PHC strings are what the crate's verifier accepts, and the other way round.
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(argon2().verify_password("sông Hồng mùa thu".as_bytes(), &parsed).is_ok());
        let theirs = hash_with_crate_api("correct horse battery").unwrap();
        assert!(verify_now(&theirs, "correct horse battery"));
        assert!(!verify_now(&theirs, "correct horse batterx"));
    }
}
