//! Remote onboarding (issue #16, part 5): an e-ID account from the chip card the citizen's phone
//! reads, without a visit to the police. The server issues and checks everything; the phone is
//! not trusted:
//!
//! 1. [`start`]: an ID number and a phone; a code goes to the phone by SMS. The same answer
//!    whether or not the ID number is in the register (no enumeration); throttled per ID number,
//!    per phone and per client address.
//! 2. [`confirm_phone`]: the SMS code (five tries).
//! 3. [`challenge`]: a fresh 8-byte Active Authentication challenge, single use, bound to the
//!    session, valid two minutes.
//! 4. [`submit_card`]: the data groups, the SOD, the chip's answer to the challenge and a selfie.
//!    Passive authentication against the trust store, Active Authentication (a card without
//!    DG15 cannot prove its presence and is sent to the counter), DG13's ID number = the
//!    session's, the register match (name, birth date, sex, living, the card not lost, revoked,
//!    expired or replaced). Three refused cards end the session. Then, by policy: **level 1** is
//!    created and active at once; **level 2** (after a level-1 account, made now if there is
//!    none) waits in the review queue of the holder's commune.
//! 5. [`decide`]: a registry officer of that commune compares the selfie with the chip's portrait
//!    (DG2) and the register and approves, or refuses with a reason. The selfie and portrait are
//!    deleted with the decision; the evidence stays.
//! 6. [`status`]: the phone learns the outcome; an approval's second factor (TOTP key, recovery
//!    codes) is made when the phone collects it, once — no secret waits in the database.
//!
//! The face comparison is a [`FaceMatcher`]: none is built in ([`NoMatcher`] answers nothing,
//! never "yes"); an automatic matcher's score would be shown to the officer beside the images.

mod review;
pub mod sim;

pub use review::{Review, Status, decide, review, reviews, status};

use base64::Engine;
use serde::Serialize;

use civitas_core::Pid;
use civitas_identity::Identity;
use civitas_identity::accounts::{AccountError, normalize_phone};
use civitas_identity::chip::verdict::CardFiles;
use civitas_identity::chip::{Allow, Chip, aa, passive_check, trust};
use civitas_identity::secret::{ct_eq, digest, random_digits, random_token};
use civitas_registry::Register;
use civitas_store::unit::{Value, Write};
use civitas_store::{Db, StoreError, dispatch, outbox};

/// How long a session may take to reach the card step.
pub const SESSION_SECS: i64 = 30 * 60;
/// How long a level-2 request waits for its review and collection.
pub const REVIEW_SECS: i64 = 30 * 24 * 3600;
pub const CHALLENGE_SECS: i64 = 120;
pub const CODE_TRIES: i64 = 5;
pub const CARD_TRIES: i64 = 3;
/// The largest selfie accepted (decoded bytes).
pub const MAX_SELFIE_BYTES: usize = 2 * 1024 * 1024;

/// A face comparison between the selfie and the chip's portrait.
pub trait FaceMatcher: Send + Sync {
    fn name(&self) -> &'static str;
    /// A similarity in 0..=1, or None when no comparison was made.
    fn compare(&self, selfie: &[u8], portrait: &[u8]) -> Option<f32>;
}

/// No automatic comparison: the officer compares.
pub struct NoMatcher;

impl FaceMatcher for NoMatcher {
    fn name(&self) -> &'static str {
        "none"
    }
    fn compare(&self, _: &[u8], _: &[u8]) -> Option<f32> {
        None
    }
}

/// What the use cases work with.
pub struct Context<'a> {
    pub db: &'a Db,
    pub identity: &'a Identity,
    pub register: &'a Register,
    pub allow: &'a Allow,
    /// The server's trust store, reloaded when it changes.
    pub trust: &'a trust::Cached,
    pub matcher: &'a dyn FaceMatcher,
}

#[derive(Debug, thiserror::Error)]
pub enum OnboardingError {
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("too many attempts: wait {0} s")]
    Throttled(i64),
    /// An unknown session or a wrong session token (the same answer).
    #[error("no such onboarding session")]
    NotFound,
    #[error("the session has expired; start again")]
    Expired,
    #[error("{0}")]
    WrongState(String),
    #[error("the code is wrong ({0} tries left)")]
    WrongCode(i64),
    #[error("{1}")]
    Challenge(&'static str, &'static str),
    #[error("the card is refused: {detail}")]
    Card { code: &'static str, detail: String },
    #[error("{1}")]
    Account(&'static str, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccountError> for OnboardingError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(code, m) => OnboardingError::Invalid(code, m),
            AccountError::Policy(p) => OnboardingError::Invalid("password-policy", p.to_string()),
            AccountError::NotAllowed(code, m) => OnboardingError::Account(code, m),
            AccountError::NoPerson(_) | AccountError::NoAccount(_) => {
                OnboardingError::Account("no-account", e.to_string())
            }
            AccountError::Store(s) => OnboardingError::Store(s),
            AccountError::Hash(h) => OnboardingError::Store(StoreError::Corrupt(h.to_string())),
        }
    }
}

impl From<civitas_registry::RegisterError> for OnboardingError {
    fn from(e: civitas_registry::RegisterError) -> Self {
        match e {
            civitas_registry::RegisterError::Store(s) => OnboardingError::Store(s),
            other => OnboardingError::Store(StoreError::Corrupt(other.to_string())),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: String,
    token_hash: String,
    pid: String,
    phone: String,
    level: i64,
    state: String,
    code_hash: Option<String>,
    code_attempts: i64,
    challenge: Option<String>,
    challenge_expires: Option<i64>,
    failure: Option<String>,
    commune: Option<String>,
    csca: Option<String>,
    aa: Option<String>,
    evidence: Option<String>,
    selfie: Option<String>,
    selfie_type: Option<String>,
    portrait: Option<String>,
    portrait_type: Option<String>,
    decided_by: Option<String>,
    decision_reason: Option<String>,
    decided_at: Option<String>,
    updated_at: String,
    expires_at: i64,
}

const COLUMNS: &str = "id, token_hash, pid, phone, level, state, code_hash, code_attempts, challenge, \
    challenge_expires, failure, commune, csca, aa, evidence, selfie, selfie_type, portrait, portrait_type, \
    decided_by, decision_reason, decided_at, updated_at, expires_at";

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) || s.is_empty() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

/// A new session: its id and the token the phone presents with every later call.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    pub session: String,
    pub token: String,
    pub expires_in: i64,
}

/// Starts a session for `pid` and `phone` asking for `level`; `client` is the caller's address.
pub async fn start(
    ctx: &Context<'_>,
    pid: &str,
    phone: &str,
    level: i64,
    client: &str,
    now: time::OffsetDateTime,
) -> Result<Started, OnboardingError> {
    let pid = Pid::parse(pid.trim()).map_err(|e| OnboardingError::Invalid("invalid-pid", e.to_string()))?;
    let phone = normalize_phone(phone)?;
    if !(1..=2).contains(&level) {
        return Err(OnboardingError::Invalid("invalid-level", "the level must be 1 or 2".into()));
    }
    let t = now.unix_timestamp();
    for (key, free) in [
        (format!("onboard:pid:{pid}"), 3),
        (format!("onboard:phone:{phone}"), 3),
        (format!("onboard:addr:{client}"), 10),
    ] {
        if let Some(wait) = ctx.identity.rate_limit(&key, free, t).await? {
            return Err(OnboardingError::Throttled(wait));
        }
    }
    let id = random_token(12);
    let token = random_token(24);
    let code = random_digits(6);
    let at = civitas_store::timestamp(now);
    let body = format!(
        "Mã xác thực đăng ký định danh điện tử bằng thẻ căn cước của bạn là {code}. Không chia sẻ mã này cho bất kỳ ai."
    );
    let writes = [
        Write::new(
            "INSERT INTO onboarding_sessions (id, token_hash, pid, phone, level, state, code_hash, created_at, updated_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, 'started', $6, $7, $7, $8)",
            vec![
                id.clone().into(),
                hex(&digest(&token)).into(),
                pid.as_str().into(),
                phone.clone().into(),
                Value::Int(Some(level)),
                hex(&digest(&code)).into(),
                at.clone().into(),
                Value::Int(Some(t + SESSION_SECS)),
            ],
        ),
        Write::new(
            outbox::INSERT,
            vec!["sms".into(), phone.into(), "Đăng ký định danh điện tử".into(), body.into(), at.into()],
        ),
    ];
    civitas_store::unit::commit(ctx.db, &writes).await?.map_err(|w| StoreError::Corrupt(w.into()))?;
    Ok(Started { session: id, token, expires_in: SESSION_SECS })
}

async fn load(ctx: &Context<'_>, id: &str, token: &str, now: time::OffsetDateTime) -> Result<Row, OnboardingError> {
    let sql = format!("SELECT {COLUMNS} FROM onboarding_sessions WHERE id = $1");
    let row: Option<Row> =
        dispatch!(ctx.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)
            .map_err(StoreError::from)?;
    let row = row.ok_or(OnboardingError::NotFound)?;
    if !ct_eq(row.token_hash.as_bytes(), hex(&digest(token.trim())).as_bytes()) {
        return Err(OnboardingError::NotFound);
    }
    if row.expires_at < now.unix_timestamp() {
        return Err(OnboardingError::Expired);
    }
    Ok(row)
}

/// Runs one update of one session row: 1 when it changed the row, 0 when its condition did not
/// hold (a compare-and-set lost to another request or server).
async fn execute(ctx: &Context<'_>, sql: &'static str, values: Vec<Value>) -> Result<u64, OnboardingError> {
    execute_noting(ctx, sql, values, None).await
}

/// [`execute`] with an event of the event log in the same transaction (the audit of the card
/// step and of the officer's decision).
async fn execute_noting(
    ctx: &Context<'_>,
    sql: &'static str,
    values: Vec<Value>,
    event: Option<civitas_store::NewEvent>,
) -> Result<u64, OnboardingError> {
    let mut writes = vec![Write::new(sql, values).expecting(1, "the session changed meanwhile")];
    if let Some(e) = &event {
        writes.push(civitas_store::unit::event(e));
    }
    Ok(match civitas_store::unit::commit(ctx.db, &writes).await? {
        Ok(()) => 1,
        Err(_) => 0,
    })
}

fn event(
    kind: &'static str,
    row: &Row,
    actor: &str,
    payload: serde_json::Value,
    now: time::OffsetDateTime,
) -> civitas_store::NewEvent {
    civitas_store::NewEvent {
        kind,
        subject: row.pid.clone(),
        payload,
        actor: actor.to_owned(),
        occurred_at: civitas_store::timestamp(now),
    }
}

fn wrong_state(row: &Row, expected: &str) -> OnboardingError {
    OnboardingError::WrongState(format!("the session is {}, not {expected}", row.state))
}

/// Checks the SMS code of a started session.
pub async fn confirm_phone(
    ctx: &Context<'_>,
    id: &str,
    token: &str,
    code: &str,
    now: time::OffsetDateTime,
) -> Result<(), OnboardingError> {
    let row = load(ctx, id, token, now).await?;
    if row.state != "started" {
        return Err(wrong_state(&row, "waiting for its SMS code"));
    }
    let at = civitas_store::timestamp(now);
    let right = row.code_hash.as_deref().is_some_and(|h| ct_eq(h.as_bytes(), hex(&digest(code.trim())).as_bytes()));
    if !right {
        let tries = row.code_attempts + 1;
        execute(
            ctx,
            "UPDATE onboarding_sessions SET code_attempts = code_attempts + 1, \
             state = CASE WHEN code_attempts + 1 >= $2 THEN 'failed' ELSE state END, updated_at = $3 \
             WHERE id = $1 AND state = 'started'",
            vec![id.into(), Value::Int(Some(CODE_TRIES)), at.into()],
        )
        .await?;
        return Err(OnboardingError::WrongCode((CODE_TRIES - tries).max(0)));
    }
    let done = execute(
        ctx,
        "UPDATE onboarding_sessions SET state = 'phone-verified', code_hash = NULL, updated_at = $2 WHERE id = $1 AND state = 'started'",
        vec![id.into(), at.into()],
    )
    .await?;
    if done == 0 {
        return Err(OnboardingError::WrongState("the session changed meanwhile".into()));
    }
    Ok(())
}

/// A fresh Active Authentication challenge (hex), replacing any earlier one.
pub async fn challenge(
    ctx: &Context<'_>,
    id: &str,
    token: &str,
    now: time::OffsetDateTime,
) -> Result<String, OnboardingError> {
    let row = load(ctx, id, token, now).await?;
    if row.state != "phone-verified" {
        return Err(wrong_state(&row, "phone-verified"));
    }
    let bytes: [u8; 8] = rand::random();
    let challenge = hex(&bytes);
    execute(
        ctx,
        "UPDATE onboarding_sessions SET challenge = $2, challenge_expires = $3, updated_at = $4 WHERE id = $1 AND state = 'phone-verified'",
        vec![
            id.into(),
            challenge.clone().into(),
            Value::Int(Some(now.unix_timestamp() + CHALLENGE_SECS)),
            civitas_store::timestamp(now).into(),
        ],
    )
    .await?;
    Ok(challenge)
}

/// What the phone sends at the card step: the card's files (base64 of each as read), the chip's
/// answer, a selfie, a password.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardSubmission {
    pub sod: String,
    pub dg1: String,
    pub dg2: Option<String>,
    pub dg13: String,
    pub dg14: Option<String>,
    pub dg15: Option<String>,
    /// The chip's answer to the challenge, hex.
    pub aa_response: Option<String>,
    /// A photo of the citizen's face taken now (JPEG or PNG), base64.
    pub selfie: String,
    /// The password of the new account (when the person has none yet).
    pub password: Option<String>,
}

/// The outcome of the card step.
#[derive(Debug, Clone, Serialize)]
pub struct Submitted {
    /// `active` (level 1 at once) or `review` (level 2 waits for an officer).
    pub state: &'static str,
    pub level: i64,
    /// The CSCA that verified the card (name).
    pub csca: String,
    pub active_authentication: String,
}

fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        Some("image/png")
    } else {
        None
    }
}

async fn card_failed(
    ctx: &Context<'_>,
    row: &Row,
    code: &'static str,
    detail: String,
    now: time::OffsetDateTime,
) -> OnboardingError {
    let refused = event(
        "eid.onboarding_refused",
        row,
        &format!("onboarding:{}", row.id),
        serde_json::json!({ "session": row.id, "level": row.level, "code": code }),
        now,
    );
    let result = execute_noting(
        ctx,
        "UPDATE onboarding_sessions SET card_attempts = card_attempts + 1, failure = $2, \
         state = CASE WHEN card_attempts + 1 >= $3 THEN 'failed' ELSE state END, updated_at = $4 WHERE id = $1",
        vec![row.id.clone().into(), code.into(), Value::Int(Some(CARD_TRIES)), civitas_store::timestamp(now).into()],
        Some(refused),
    )
    .await;
    tracing::info!(session = %row.id, code, "onboarding: a card was refused");
    match result {
        Ok(_) => OnboardingError::Card { code, detail },
        Err(e) => e,
    }
}

/// The card step: checks the card and the chip's answer, matches the register, then makes the
/// level-1 account or queues the level-2 review.
pub async fn submit_card(
    ctx: &Context<'_>,
    id: &str,
    token: &str,
    sub: &CardSubmission,
    now: time::OffsetDateTime,
) -> Result<Submitted, OnboardingError> {
    let row = load(ctx, id, token, now).await?;
    if row.state != "phone-verified" {
        return Err(wrong_state(&row, "phone-verified"));
    }
    // The challenge is used up by this submission, whatever follows.
    let t = now.unix_timestamp();
    let challenge = match (&row.challenge, row.challenge_expires) {
        (Some(c), Some(exp)) if exp >= t => c.clone(),
        (Some(_), _) => {
            return Err(OnboardingError::Challenge(
                "challenge-expired",
                "the challenge has expired; ask for a new one",
            ));
        }
        (None, _) => {
            return Err(OnboardingError::Challenge(
                "challenge-missing",
                "no challenge is waiting (each is used once); ask for a new one",
            ));
        }
    };
    let used = execute(
        ctx,
        "UPDATE onboarding_sessions SET challenge = NULL, challenge_expires = NULL WHERE id = $1 AND challenge = $2 AND state = 'phone-verified'",
        vec![id.into(), challenge.clone().into()],
    )
    .await?;
    if used == 0 {
        return Err(OnboardingError::Challenge(
            "challenge-missing",
            "the challenge was used meanwhile; ask for a new one",
        ));
    }
    let files = CardFiles {
        sod: sub.sod.clone(),
        dg1: sub.dg1.clone(),
        dg2: sub.dg2.clone(),
        dg13: sub.dg13.clone(),
        dg14: sub.dg14.clone(),
        dg15: sub.dg15.clone(),
    };
    let (sod, dgs) = files.decode().map_err(|e| OnboardingError::Invalid("invalid-card-files", e.to_string()))?;
    let selfie = base64::engine::general_purpose::STANDARD
        .decode(sub.selfie.trim())
        .map_err(|_| OnboardingError::Invalid("invalid-selfie", "the selfie is not base64".into()))?;
    if selfie.len() > MAX_SELFIE_BYTES {
        return Err(OnboardingError::Invalid(
            "invalid-selfie",
            format!("the selfie is larger than {MAX_SELFIE_BYTES} bytes"),
        ));
    }
    let selfie_type = image_type(&selfie)
        .ok_or_else(|| OnboardingError::Invalid("invalid-selfie", "the selfie is neither JPEG nor PNG".into()))?;
    let store = ctx.trust.get(ctx.db).await?;
    let passed = match passive_check(&Chip { sod: &sod, dgs: &dgs }, &store, ctx.allow, now) {
        Ok(p) => p,
        Err(e) => return Err(card_failed(ctx, &row, e.code(), e.to_string(), now).await),
    };
    let Some(dg15) = dgs.get(&15) else {
        let detail = "the card cannot prove it is present (no Active Authentication key); use the counter".to_owned();
        return Err(card_failed(ctx, &row, "aa_missing", detail, now).await);
    };
    let Some(response) = sub.aa_response.as_deref().filter(|r| !r.trim().is_empty()) else {
        return Err(card_failed(ctx, &row, "aa_missing", aa::AaFailure::Missing.to_string(), now).await);
    };
    let Some(response) = unhex(response) else {
        return Err(OnboardingError::Invalid("invalid-aa-response", "the chip's answer must be hex".into()));
    };
    let challenge_bytes = unhex(&challenge).unwrap_or_default();
    let aa_alg = match aa::active_check(dg15, dgs.get(&14).map(Vec::as_slice), &challenge_bytes, &response, ctx.allow) {
        Ok(a) => a,
        Err(e) => return Err(card_failed(ctx, &row, e.code(), e.to_string(), now).await),
    };
    if passed.dg13.pid().map(|p| p.as_str().to_owned()).as_deref() != Some(row.pid.as_str()) {
        let detail = "the card is not the card of the ID number this session was started with".to_owned();
        return Err(card_failed(ctx, &row, "card_of_another_person", detail, now).await);
    }
    let pid = Pid::parse(&row.pid).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let person = ctx.register.get(&pid).await?;
    let cards = civitas_services::cards::of_person(ctx.db, &row.pid).await?;
    let matched = civitas_services::cards::register_match(person.as_ref(), Some(&cards), &passed.dg13);
    if !matched.matches {
        let mut differ = Vec::new();
        for (ok, what) in [
            (matched.found, "in the register"),
            (matched.name, "name"),
            (matched.birth_date, "birth date"),
            (matched.sex, "sex"),
            (matched.living, "living"),
            (matched.card_valid != Some(false), "a valid card"),
            (matched.same_issue_date != Some(false), "the card's issue date"),
        ] {
            if !ok {
                differ.push(what);
            }
        }
        let detail = format!("the card does not agree with the register: {}", differ.join(", "));
        return Err(card_failed(ctx, &row, "register_mismatch", detail, now).await);
    }
    let person = person.ok_or_else(|| StoreError::Corrupt("the matched person vanished".into()))?;
    let portrait = dgs.get(&2).and_then(|d| civitas_core::chip::parse_dg2(d).ok());
    let score = portrait.as_ref().and_then(|p| ctx.matcher.compare(&selfie, &p.data));
    let evidence = serde_json::json!({
        "csca": passed.csca,
        "document_signer": passed.ds_subject,
        "algorithms": passed.algorithms,
        "crl": passed.crl,
        "checks": passed.checks,
        "active_authentication": aa_alg,
        "register_match": matched,
        "face": {"matcher": ctx.matcher.name(), "score": score},
        "portrait": portrait.is_some(),
    });
    let actor = format!("onboarding:{id}");
    let account = ctx.identity.account(&row.pid).await?;
    let make_account = |password: Option<&String>| {
        password
            .filter(|p| !p.is_empty())
            .cloned()
            .ok_or_else(|| OnboardingError::Invalid("missing-password", "choose a password for the new account".into()))
    };
    match (row.level, &account) {
        (1, Some(_)) | (2, Some(civitas_identity::Account { level: 2, .. })) => {
            return Err(OnboardingError::Account(
                "account-exists",
                "this person already has an e-ID account at this level: sign in".into(),
            ));
        }
        (2, Some(a)) if a.state != civitas_identity::AccountState::Active => {
            return Err(OnboardingError::Account("account-not-active", format!("the account is {}", a.state.as_str())));
        }
        (_, None) => {
            let password = make_account(sub.password.as_ref())?;
            ctx.identity.create_account(&row.pid, 1, &password, &actor, now).await?;
            ctx.identity.set_phone(&row.pid, &row.phone).await?;
        }
        _ => {}
    }
    let at = civitas_store::timestamp(now);
    let commune = person.communes().first().map(|c| (*c).to_owned());
    let csca_name = passed.csca.1.clone();
    // A finished session stays readable a while (the phone asks for its state).
    let (state, expires) = if row.level == 1 { ("active", t + SESSION_SECS) } else { ("review", t + REVIEW_SECS) };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let (selfie_keep, selfie_type_keep, portrait_keep, portrait_type) = if row.level == 2 {
        (
            Some(b64(&selfie)),
            Some(selfie_type),
            portrait.as_ref().map(|p| b64(&p.data)),
            portrait.as_ref().map(|p| p.mime),
        )
    } else {
        (None, None, None, None)
    };
    let verified = event(
        "eid.onboarding_verified",
        &row,
        &actor,
        serde_json::json!({ "session": id, "level": row.level, "state": state, "evidence": evidence }),
        now,
    );
    execute_noting(
        ctx,
        "UPDATE onboarding_sessions SET state = $2, commune = $3, csca = $4, aa = $5, evidence = $6, selfie = $7, \
         selfie_type = $8, portrait = $9, portrait_type = $10, failure = NULL, updated_at = $11, expires_at = $12 \
         WHERE id = $1 AND state = 'phone-verified'",
        vec![
            id.into(),
            state.into(),
            Value::Text(commune),
            csca_name.clone().into(),
            aa_alg.clone().into(),
            evidence.to_string().into(),
            Value::Text(selfie_keep),
            Value::Text(selfie_type_keep.map(str::to_owned)),
            Value::Text(portrait_keep),
            Value::Text(portrait_type.map(str::to_owned)),
            at.into(),
            Value::Int(Some(expires)),
        ],
        Some(verified),
    )
    .await?;
    Ok(Submitted { state, level: if row.level == 1 { 1 } else { 2 }, csca: csca_name, active_authentication: aa_alg })
}
