//! The card simulator's people: synthetic chips of people of the register as their card
//! records say (`civitas card-sim`, the tests, the demo), from a seed's authorities.

use civitas_identity::chip::sim;

/// The simulator's authorities for a seed: the CSCA, its Document Signer, an expired DS, the
/// master-list signer, and a foreign CSCA with its DS. Fixed dates keep them deterministic.
pub struct Authorities {
    pub csca: sim::Authority,
    pub ds: sim::Authority,
    pub expired_ds: sim::Authority,
    pub mls: sim::Authority,
    pub foreign_ds: sim::Authority,
}

pub fn authorities(seed: &str) -> Authorities {
    use time::macros::datetime;
    let from = datetime!(2020-01-01 0:00 UTC);
    let valid = (datetime!(2020-06-01 0:00 UTC), datetime!(2045-01-01 0:00 UTC));
    let csca = sim::csca("VN", seed, from);
    let ds = sim::signer(&csca, seed, 1001, valid, &[]);
    let expired_ds = sim::signer(&csca, &format!("{seed}-expired"), 1002, (from, datetime!(2020-06-01 0:00 UTC)), &[]);
    let mls = sim::signer(&csca, &format!("{seed}-mls"), 1003, valid, &["2.23.136.1.1.3"]);
    let foreign = sim::csca("VN", &format!("{seed}-foreign"), from);
    let foreign_ds = sim::signer(&foreign, &format!("{seed}-foreign"), 2001, valid, &[]);
    Authorities { csca, ds, expired_ds, mls, foreign_ds }
}

/// The simulated card of a person: issued on their newest card's issue date (else today),
/// signed by the seed's DS, or the variant an attacker would bring.
pub async fn card_of(
    db: &civitas_store::Db,
    person: &civitas_registry::model::Person,
    seed: &str,
    variant: &str,
    now: time::OffsetDateTime,
) -> Result<sim::Card, SimError> {
    let a = authorities(seed);
    let cards = civitas_services::cards::of_person(db, person.pid.as_str()).await?;
    let today = (now + time::Duration::hours(7)).date();
    let issued = cards
        .first()
        .and_then(|c| c.issued_on.as_deref())
        .and_then(|d| time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or(today);
    let expiry = person.birth_date.to_date().and_then(|b| civitas_core::card::card_expiry(b, issued));
    let (td1, dg13) = sim::files_for(person, issued, expiry);
    let signed_at = issued.with_hms(9, 0, 0).map(|t| t.assume_utc()).unwrap_or(now);
    let card_seed = format!("{seed} {}", person.pid.as_str());
    let ds = match variant {
        "genuine" | "tampered-dg13" | "no-dg15" => &a.ds,
        "foreign-csca" => &a.foreign_ds,
        "expired-ds" => &a.expired_ds,
        other => return Err(SimError::Variant(other.to_owned())),
    };
    let mut card = sim::card(&td1, &dg13, ds, signed_at, &card_seed);
    match variant {
        "tampered-dg13" => {
            let mut changed = dg13.clone();
            changed.items.insert(3, civitas_core::chip::Value13::Text("01/01/1970".into()));
            card.dgs.insert(13, changed.to_der());
        }
        "no-dg15" => {
            card.dgs.remove(&15);
        }
        _ => {}
    }
    Ok(card)
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("variant {0:?}: genuine, tampered-dg13, foreign-csca, expired-ds or no-dg15 (a clone: `answer --clone`)")]
    Variant(String),
    #[error(transparent)]
    Store(#[from] civitas_store::StoreError),
}

/// The chip's answer of a person's simulated card to an AA challenge (`clone`: a clone's, made
/// without the card's key).
pub fn answer(seed: &str, pid: &str, clone: bool, challenge: &[u8]) -> Vec<u8> {
    let key = if clone { sim::key(&format!("clone {seed} {pid}")) } else { sim::key(&format!("aa {seed} {pid}")) };
    sim::answer(&key, challenge)
}

/// What a run of the simulated phone gives: its steps, and the session (id, token) if one began.
pub type PhoneOutcome = (Vec<Step>, Option<(String, String)>);

/// One step the simulated phone took, and what the server answered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub what: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// What the simulated phone is asked to do.
pub struct PhoneRun<'a> {
    pub pid: &'a str,
    pub phone: &'a str,
    pub level: i64,
    pub password: &'a str,
    /// genuine, tampered-dg13, foreign-csca, expired-ds, no-dg15, clone or replay.
    pub variant: &'a str,
    pub client: &'a str,
}

/// The demo's simulated phone: the steps a phone app takes — start, read the SMS code (from the
/// development outbox), confirm it, ask for a challenge, read the simulated chip (seed `demo`)
/// and send its files with the chip's answer and a selfie — through the same use cases as the
/// API. Stops at the first refusal. Returns the steps and the session (id, token) if one began.
pub async fn run_phone(ctx: &crate::Context<'_>, run: &PhoneRun<'_>, now: time::OffsetDateTime) -> PhoneOutcome {
    let mut steps = Vec::new();
    let mut step = |what: &'static str, outcome: Result<String, String>| {
        let ok = outcome.is_ok();
        steps.push(Step { what, ok, detail: outcome.unwrap_or_else(|e| e) });
        ok
    };
    let started = crate::start(ctx, run.pid, run.phone, run.level, run.client, now).await;
    let Ok(s) = started.map_err(|e| step("start", Err(e.to_string()))) else { return (steps, None) };
    step("start", Ok(format!("session {}", s.session)));
    let session = Some((s.session.clone(), s.token.clone()));
    let phone = civitas_identity::accounts::normalize_phone(run.phone).unwrap_or_default();
    let sms =
        civitas_store::outbox::to_person(ctx.db, &[phone.as_str()], 1).await.ok().and_then(|m| m.into_iter().next());
    let code: String = sms.map(|m| m.body.chars().filter(char::is_ascii_digit).take(6).collect()).unwrap_or_default();
    if !step("sms", if code.len() == 6 { Ok(format!("code {code}")) } else { Err("no SMS arrived".into()) }) {
        return (steps, session);
    }
    if !step(
        "phone",
        crate::confirm_phone(ctx, &s.session, &s.token, &code, now)
            .await
            .map(|_| "confirmed".into())
            .map_err(|e| e.to_string()),
    ) {
        return (steps, session);
    }
    let first = crate::challenge(ctx, &s.session, &s.token, now).await;
    let Ok(first) = first.map_err(|e| step("challenge", Err(e.to_string()))) else { return (steps, session) };
    let challenge = if run.variant == "replay" {
        // The answer is to an earlier challenge; the server has replaced it since.
        match crate::challenge(ctx, &s.session, &s.token, now).await {
            Ok(_) => first.clone(),
            Err(e) => {
                step("challenge", Err(e.to_string()));
                return (steps, session);
            }
        }
    } else {
        first
    };
    step("challenge", Ok(challenge.clone()));
    let Some(pid) = run.pid.parse::<civitas_core::Pid>().ok() else { return (steps, session) };
    let person = match ctx.register.get(&pid).await {
        Ok(Some(p)) => p,
        _ => {
            step("chip", Err("the simulator makes cards only for people of the register".into()));
            return (steps, session);
        }
    };
    let variant = if matches!(run.variant, "clone" | "replay") { "genuine" } else { run.variant };
    let card = match card_of(ctx.db, &person, "demo", variant, now).await {
        Ok(c) => c,
        Err(e) => {
            step("chip", Err(e.to_string()));
            return (steps, session);
        }
    };
    step("chip", Ok(format!("{} data groups and the SOD read", card.dgs.len())));
    let bytes = crate::unhex(&challenge).unwrap_or_default();
    let answer = self::answer("demo", run.pid, run.variant == "clone", &bytes);
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    let dg = |n: u8| card.dgs.get(&n).map(|d| b64(d));
    let submission = crate::CardSubmission {
        sod: b64(&card.sod),
        dg1: dg(1).unwrap_or_default(),
        dg2: dg(2),
        dg13: dg(13).unwrap_or_default(),
        dg14: dg(14),
        dg15: dg(15),
        aa_response: Some(crate::hex(&answer)),
        selfie: b64(sim::PORTRAIT),
        password: Some(run.password.to_owned()),
    };
    let submitted = crate::submit_card(ctx, &s.session, &s.token, &submission, now).await;
    step(
        "card",
        submitted
            .map(|d| format!("{} (level {}), verified by {}, {}", d.state, d.level, d.csca, d.active_authentication))
            .map_err(|e| match e {
                crate::OnboardingError::Card { code, detail } => format!("{code}: {detail}"),
                other => other.to_string(),
            }),
    );
    (steps, session)
}
