//! Demo civil registrations for `serve --demo`: a few births, a marriage and a death taken
//! through the real workflow (online submission, receipt, appraisal, the leader's approval,
//! the certificate as the result), so certificates, follow-ups and timelines exist from the start.

use std::collections::BTreeMap;

use civitas_core::{LifeStatus, MaritalStatus, Sex};
use civitas_registry::{Person, Register};

use crate::catalogue::{Catalogue, StepRole};
use crate::dossiers::{self, ActInput, Actor, Intake};
use crate::processing::{self, Processing};
use crate::submission::{self, Receiving, SubmissionError};
use crate::workflow::Action;

/// What seeding needs: the processing use case with its ports, the intake, the catalogue.
pub struct Seeding<'a> {
    pub processing: &'a Processing<'a>,
    pub intake: &'a Intake,
    pub catalogue: &'a Catalogue,
    /// Identity code of the receiving body (QCVN 102).
    pub body_code: &'a str,
    /// The clock (each step of the demo's dossiers is taken at the time it is taken).
    pub now: fn() -> time::OffsetDateTime,
}

/// A small PDF standing in for a paper the citizen hands in.
fn paper(title: &str) -> Vec<u8> {
    let doc = civitas_docs::Document {
        title: title.to_owned(),
        blocks: vec![
            civitas_docs::Block::Title(title.to_uppercase()),
            civitas_docs::Block::Text("Bản điện tử (dữ liệu mẫu).".into()),
        ],
        qr: None,
        footer: "civitas demo".into(),
        subject: None,
    };
    civitas_docs::render(&doc).unwrap_or_default()
}

async fn through(
    s: &Seeding<'_>,
    person: &Person,
    procedure: &str,
    fields: &[(&str, String)],
    component: Option<(&str, &str)>,
) -> Result<String, String> {
    let p = s.catalogue.get(procedure).ok_or("no procedure")?;
    let db = s.processing.db;
    let now = (s.now)();
    let mut components = BTreeMap::new();
    if let Some((code, title)) = component {
        let doc = crate::documents::store(db, person.pid.as_str(), &format!("{title}.pdf"), &paper(title), now)
            .await
            .map_err(|e| e.to_string())?;
        components.insert(code.to_owned(), doc.id);
    }
    let fields: BTreeMap<String, String> = fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    let receiving = Receiving { body_code: s.body_code, catalogue_version: &s.catalogue.version, channel: "online" };
    let new = match submission::prepare(db, &receiving, p, person, &fields, &components, serde_json::json!({})).await {
        Ok(new) => new,
        Err(SubmissionError::Invalid(errors)) => {
            return Err(errors.into_iter().map(|e| e.detail).collect::<Vec<_>>().join("; "));
        }
        Err(SubmissionError::Store(e)) => return Err(e.to_string()),
    };
    let d = s.intake.submit(new, None, person.pid.as_str(), now).await.map_err(|e| e.to_string())?;
    let desk = Actor::Onestop("demo-motcua".into());
    let clerk = Actor::Officer("demo-chuyenvien".into(), StepRole::Specialist);
    let chief = Actor::Officer("demo-lanhdao".into(), StepRole::Leader);
    for (actor, action) in [
        (&desk, Action::StartProcessing),
        (&clerk, Action::Forward),
        (&chief, Action::Approve),
        (&clerk, Action::IssueResult),
    ] {
        let current = dossiers::get(db, &d.code).await.map_err(|e| e.to_string())?.ok_or("dossier gone")?;
        let now = (s.now)();
        processing::perform(s.processing, p, &current, action, actor, ActInput::default(), false, now)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(d.code)
}

/// Registers the demo's births, marriage and death unless it was done before. Failures are
/// logged, not fatal: the demo still serves.
pub async fn seed_civil(s: &Seeding<'_>) {
    let register: &Register = s.processing.register;
    if crate::civil::count(s.processing.db).await.unwrap_or(1) > 0 {
        return;
    }
    // Candidates of each kind the registrations need (people in ID-number order are grouped
    // by century and sex, so each kind is asked for by itself): young women and men, elders.
    let year = i64::from((s.now)().year());
    let mut pids = Vec::new();
    for (sex, from, to) in
        [(Sex::Female, year - 38, year - 21), (Sex::Male, year - 38, year - 23), (Sex::Male, 1900, year - 76)]
    {
        match register.living_sample(sex, from, to, 60).await {
            Ok(found) => pids.extend(found),
            Err(e) => tracing::warn!(error = %e, "demo: reading candidates failed"),
        }
    }
    let mut people = Vec::new();
    for pid in &pids {
        if let Ok(p) = pid.parse::<civitas_core::Pid>()
            && let Ok(Some(person)) = register.get(&p).await
            && person.status == LifeStatus::Living
            && person.permanent_residence.is_some()
        {
            people.push(person);
        }
    }
    let today = dossiers::local_today((s.now)());
    let mut report = births(s, &people, today).await;
    report.extend(marriage(s, &people, today).await);
    report.extend(death(s, &people, today).await);
    for r in report {
        match r {
            Ok(code) => tracing::info!(dossier = %code, "demo civil registration"),
            Err(e) => tracing::warn!(error = %e, "demo civil registration failed"),
        }
    }
}

/// Births: three young mothers.
async fn births(s: &Seeding<'_>, people: &[Person], today: time::Date) -> Vec<Result<String, String>> {
    let mut report = Vec::new();
    let mothers: Vec<_> = people
        .iter()
        .filter(|p| p.sex == Sex::Female && p.household_id.is_some() && (20..40).contains(&p.birth_date.age_on(today)))
        .take(3)
        .collect();
    for (i, m) in mothers.iter().enumerate() {
        let family = m.full_name.split(' ').next().unwrap_or("Nguyễn");
        let name = format!("{family} {}", ["Minh Anh", "Gia Bảo", "Ngọc Hân"][i % 3]);
        let sex = if i == 1 { "male" } else { "female" };
        let born = (today - time::Duration::days(5 + i as i64)).to_string();
        let commune = m.permanent_residence.as_ref().map(|r| r.commune.as_str().to_owned()).unwrap_or_default();
        let fields = [
            ("child_name", name),
            ("child_birth_date", born),
            ("child_sex", sex.to_owned()),
            ("birth_cert_no", format!("GCS-DEMO-{}", i + 1)),
            ("live_with", "applicant".to_owned()),
            ("commune", commune),
        ];
        report.push(through(s, m, "DVC-15", &fields, Some(("GCS", "Giấy chứng sinh"))).await);
    }
    report
}

/// A marriage: a single man and a single woman, unrelated, of age.
async fn marriage(s: &Seeding<'_>, people: &[Person], today: time::Date) -> Vec<Result<String, String>> {
    let mut report = Vec::new();
    let man = people.iter().find(|p| {
        p.sex == Sex::Male
            && p.marital_status == MaritalStatus::Single
            && p.spouse_pid.is_none()
            && (22..40).contains(&p.birth_date.age_on(today))
    });
    let woman = people.iter().find(|p| {
        p.sex == Sex::Female
            && p.marital_status == MaritalStatus::Single
            && p.spouse_pid.is_none()
            && (20..40).contains(&p.birth_date.age_on(today))
            && man.is_none_or(|m| m.household_id != p.household_id)
    });
    if let (Some(m), Some(w)) = (man, woman) {
        let commune = m.permanent_residence.as_ref().map(|r| r.commune.as_str().to_owned()).unwrap_or_default();
        let fields = [("partner_pid", w.pid.as_str().to_owned()), ("commune", commune)];
        report.push(through(s, m, "DVC-11", &fields, None).await);
    }
    report
}

/// A death: the eldest person found, registered by a relative of the household or anyone.
async fn death(s: &Seeding<'_>, people: &[Person], today: time::Date) -> Vec<Result<String, String>> {
    let mut report = Vec::new();
    if let Some(elder) =
        people.iter().filter(|p| p.birth_date.age_on(today) >= 75).max_by_key(|p| p.birth_date.age_on(today))
        && let Some(informant) = people
            .iter()
            .find(|p| p.pid != elder.pid && p.household_id == elder.household_id)
            .or(people.iter().find(|p| p.pid != elder.pid))
    {
        let commune = elder.permanent_residence.as_ref().map(|r| r.commune.as_str().to_owned()).unwrap_or_default();
        let fields = [
            ("deceased_pid", elder.pid.as_str().to_owned()),
            ("death_date", (today - time::Duration::days(2)).to_string()),
            ("commune", commune),
            ("funeral_allowance", "yes".to_owned()),
        ];
        report.push(through(s, informant, "DVC-16", &fields, Some(("BT", "Giấy báo tử"))).await);
    }
    report
}
