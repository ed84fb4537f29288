//! A year of one-stop history for `serve --demo`, so the steering dashboard has something to
//! show: dossiers of a few simple procedures received on every working day of the past twelve
//! months (more of them online month after month), taken through the real workflow at the
//! times they happened — most finished early, some on time, some late, a few after a
//! supplement, some withdrawn, the newest still open — and rated. Deterministic for a seed.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Duration, OffsetDateTime};

use civitas_registry::Person;

use crate::catalogue::Procedure;
use crate::dossiers::{self, ActInput, Actor, Rating};
use crate::processing;
use crate::submission::{self, Receiving};
use crate::workflow::Action;

use super::demo::Seeding;

/// The procedures the history uses (simple forms, no register change) and their fields.
fn fields_of(code: &str, person: &Person, day: time::Date) -> Option<Vec<(&'static str, String)>> {
    let commune = person.permanent_residence.as_ref().map(|r| r.commune.as_str().to_owned()).unwrap_or_default();
    let later = |n: i64| (day + Duration::days(n)).to_string();
    Some(match code {
        "DVC-05" => vec![("destination", "Huế".into()), ("from", later(3)), ("until", later(20))],
        "DVC-06" => vec![("address", "Số 5 ngõ 12 phố Kim Mã".into()), ("commune", commune), ("until", later(200))],
        "DVC-14" => vec![("organisation", "Công ty TNHH Sông Hồng".into())],
        "DVC-21" => vec![("school", "Trường THPT Chu Văn An".into())],
        "DVC-22" => vec![("purpose", "Xin việc".into())],
        _ => return None,
    })
}

/// (The power company's DVC-24 and DVC-25 need proof of the address that only an earlier DVC-03
/// result replaces: the demo's applicants have none.)
const PROCEDURES: &[&str] = &["DVC-05", "DVC-06", "DVC-14", "DVC-21", "DVC-22"];

/// Seeds `per_day` dossiers on each working day of the `days` before `today`, unless the
/// history exists (dossiers older than a week). Returns how many were received.
pub async fn seed_history(s: &Seeding<'_>, people: &[Person], days: i64, per_day: usize, seed: u64) -> usize {
    let db = s.processing.db;
    let now = (s.now)();
    let week_ago = crate::dossiers::local_today(now - Duration::days(7)).to_string();
    let old: i64 =
        civitas_store::dispatch!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM dossiers WHERE received_on < $1")
        .bind(&week_ago).fetch_one(pool).await)
        .unwrap_or(1);
    if old > 0 || people.is_empty() {
        return 0;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut received = 0;
    for back in (1..=days).rev() {
        let at = now - Duration::days(back);
        let day = dossiers::local_today(at);
        if !s.processing.calendar.is_working_day(day) {
            continue;
        }
        // Online share grows from about 45 % a year ago to about 80 % now.
        let online_share = 0.80 - 0.35 * back as f64 / days as f64;
        for _ in 0..per_day {
            let person = &people[rng.random_range(0..people.len())];
            let code = PROCEDURES[rng.random_range(0..PROCEDURES.len())];
            let channel = if rng.random_bool(online_share) {
                "online"
            } else if rng.random_bool(0.1) {
                "postal"
            } else {
                "counter"
            };
            let hour = Duration::hours(1 + rng.random_range(0..8)) + Duration::minutes(rng.random_range(0..60));
            let start = at.replace_time(time::Time::MIDNIGHT) + hour;
            match one(s, &mut rng, person, code, channel, start, now).await {
                Ok(()) => received += 1,
                Err(e) => tracing::debug!(error = %e, procedure = code, "demo history: a dossier was skipped"),
            }
        }
    }
    received
}

async fn one(
    s: &Seeding<'_>,
    rng: &mut ChaCha8Rng,
    person: &Person,
    code: &str,
    channel: &str,
    start: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), String> {
    let p: &Procedure = s.catalogue.get(code).ok_or("no procedure")?;
    let db = s.processing.db;
    let day = dossiers::local_today(start);
    let fields: BTreeMap<String, String> =
        fields_of(code, person, day).ok_or("no fields")?.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let receiving = Receiving { body_code: s.body_code, catalogue_version: &s.catalogue.version, channel };
    let new = submission::prepare(db, &receiving, p, person, &fields, &BTreeMap::new(), serde_json::json!({}))
        .await
        .map_err(|e| format!("{e:?}"))?;
    let d = s.intake.submit(new, None, person.pid.as_str(), start).await.map_err(|e| e.to_string())?;
    let appointment = dossiers::parse_day(&d.appointment_on).map_err(|e| e.to_string())?;
    let desk = Actor::Onestop(format!("motcua-{}", rng.random_range(1..=3)));
    let clerk = rng.random_range(1..=4);
    let officer = |role| Actor::Officer(format!("chuyenvien-{clerk}"), role);
    let act = |action: Action, actor: Actor, at: OffsetDateTime, input: ActInput| {
        let code = d.code.clone();
        async move {
            let current = dossiers::get(db, &code).await.map_err(|e| e.to_string())?.ok_or("dossier gone")?;
            processing::perform(s.processing, p, &current, action, &actor, input, false, at)
                .await
                .map_err(|e| e.to_string())
        }
    };
    let fate = rng.random_range(0..100);
    // A withdrawn dossier leaves on its second day.
    if fate < 2 {
        act(
            Action::Withdraw,
            Actor::Applicant(person.pid.as_str().to_owned()),
            start + Duration::days(1),
            ActInput::default(),
        )
        .await?;
        return Ok(());
    }
    let mut t = start + Duration::hours(2);
    act(Action::StartProcessing, desk.clone(), t, ActInput::default()).await?;
    if fate < 7 {
        let ask = ActInput {
            note: Some("Bổ sung giấy tờ chứng minh".into()),
            supplement_days: Some(5),
            ..ActInput::default()
        };
        act(Action::RequestSupplement, officer(p.steps[0].role), t + Duration::hours(1), ask).await?;
        t += Duration::days(2);
        let given = ActInput { note: Some("Đã bổ sung".into()), ..ActInput::default() };
        act(Action::Supplement, Actor::Applicant(person.pid.as_str().to_owned()), t, given).await?;
    }
    // When it is finished: mostly early, some on the day, some late.
    let finish = match fate {
        0..=79 => t.max(start + Duration::hours(5)),
        80..=91 => appointment_time(appointment, start),
        _ => appointment_time(appointment, start) + Duration::days(rng.random_range(1..6)),
    };
    if finish > now - Duration::hours(1) {
        return Ok(()); // still in progress
    }
    for (i, step) in p.steps.iter().enumerate() {
        let action = if i + 1 == p.steps.len() { Action::Approve } else { Action::Forward };
        act(action, officer(step.role), finish - Duration::minutes(30), ActInput::default()).await?;
    }
    act(Action::IssueResult, officer(crate::catalogue::StepRole::Specialist), finish, ActInput::default()).await?;
    act(Action::Return, desk, finish + Duration::minutes(10), ActInput::default()).await?;
    if rng.random_bool(0.4) {
        let rating = match rng.random_range(0..10) {
            0 => Rating::NotSatisfied,
            1..=4 => Rating::Satisfied,
            _ => Rating::VerySatisfied,
        };
        dossiers::rate(db, &d.code, person.pid.as_str(), rating, finish + Duration::hours(3))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The moment in the afternoon of a dossier's promised day.
fn appointment_time(appointment: time::Date, start: OffsetDateTime) -> OffsetDateTime {
    start + Duration::days((appointment - dossiers::local_today(start)).whole_days())
}
