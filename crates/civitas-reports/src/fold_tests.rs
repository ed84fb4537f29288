//! Tests of the fold: parts merged and rolled up.

use super::*;

fn event(id: i64, kind: &str, subject: &str, payload: serde_json::Value, at: &str) -> StoredEvent {
    StoredEvent {
        id,
        kind: kind.into(),
        subject: subject.into(),
        payload: payload.to_string(),
        actor: format!("officer-{}", id % 3),
        occurred_at: at.into(),
    }
}

/// Dossiers in communes of two provinces and one of a province itself, e-ID accounts, a
/// birth: folded whole, and in two and three parts merged, give the same rows; a
/// commune's facts reach its province and the nation.
#[test]
fn parts_merged_and_rolled_up_give_the_facts_of_one_fold() {
    let units = civitas_core::units::AdminUnits::get();
    let communes: Vec<(String, String)> =
        units.communes().iter().step_by(400).map(|c| (c.code.clone(), c.province_code.clone())).collect();
    let mut events = Vec::new();
    let mut id = 0;
    let mut next = || {
        id += 1;
        id
    };
    for (i, (commune, province)) in communes.iter().enumerate() {
        for j in 0..4 {
            let code = format!("D-{i}-{j}");
            let unit = if j == 3 { province.as_str() } else { commune.as_str() };
            let day = 10 + j;
            let received = json!({ "unit": unit, "procedure": format!("DVC-0{j}"), "channel": "online",
                "appointment": format!("2026-03-{:02}", day + 3), "reused": j % 2 == 0 });
            events.push(event(
                next(),
                "dossier.received",
                &code,
                received,
                &format!("2026-03-{day:02}T02:00:00.000000Z"),
            ));
            let to = if j == 2 { "withdrawn" } else { "result_issued" };
            let step = json!({ "to": "in_processing" });
            events.push(event(next(), "dossier.step", &code, step, &format!("2026-03-{day:02}T18:00:00.000000Z")));
            let end = json!({ "to": to, "result": true });
            events.push(event(next(), "dossier.step", &code, end, &format!("2026-04-{:02}T03:00:00Z", j + 1)));
            events.push(event(
                next(),
                "dossier.rated",
                &code,
                json!({ "rating": "satisfied" }),
                "2026-04-09T01:00:00Z",
            ));
        }
        let pid = format!("0010{i:08}");
        events.push(event(next(), "eid.created", &pid, json!({ "level": 2 }), "2026-03-01T01:00:00Z"));
        let birth = json!({ "dossier": format!("D-{i}-0"), "late": true });
        events.push(event(next(), "civil.birth_registered", &pid, birth, "2026-04-02T01:00:00Z"));
    }
    let communes_of = |fold: &mut Fold| {
        for (i, (commune, _)) in communes.iter().enumerate() {
            fold.communes.insert(format!("0010{i:08}"), commune.clone());
        }
    };
    let fold_in = |parts: u64| {
        let mut all: Option<Fold> = None;
        for k in 0..parts {
            let mut f = Fold { part: Some((k, parts)), ..Fold::default() };
            communes_of(&mut f);
            for e in &events {
                if f.owns(EventRef::from(e)) {
                    f.apply(e);
                }
            }
            match &mut all {
                None => all = Some(f),
                Some(a) => a.merge(f),
            }
        }
        let f = all.unwrap_or_default();
        let mut days: Vec<String> = f.fact_rows().iter().map(|r| format!("{r:?}")).collect();
        let mut months: Vec<String> = f.month_narrow().iter().map(|r| format!("{r:?}")).collect();
        days.sort();
        months.sort();
        (days, months, f.skipped, f.known())
    };
    let whole = fold_in(1);
    assert_eq!(fold_in(2), whole);
    assert_eq!(fold_in(3), whole);
    assert_eq!(whole.2, 0, "nothing skipped");
    let (commune, province) = &communes[0];
    let received =
        |unit: &str| whole.0.iter().filter(|r| r.starts_with(&format!("(\"dossiers.received\", \"{unit}\""))).count();
    assert_eq!(received(commune), 3, "three receipt days in the commune");
    assert_eq!(received(province), 4, "its province: the commune's three and its own");
    assert_eq!(received(crate::NATION), 4, "the nation: one row per day");
    let births =
        |unit: &str| whole.1.iter().any(|r| r.starts_with(&format!("(\"civil.births.late\", \"{unit}\", \"\"")));
    assert!(births(commune) && births(province) && births(crate::NATION));
}

use serde_json::json;

/// A payload with a field of another type is read field by field (that field counts as
/// absent); one that is not JSON counts nothing of its own.
#[test]
fn a_payload_of_other_types_is_read_field_by_field() {
    let commune = civitas_core::units::AdminUnits::get().communes()[0].code.clone();
    let mut f = Fold::default();
    let odd = json!({ "unit": commune, "procedure": "DVC-05", "channel": "online", "reused": "yes", "appointment": 5 });
    f.apply(&event(1, "dossier.received", "A", odd, "2026-03-02T01:00:00Z"));
    let mut broken = event(2, "dossier.step", "A", json!({}), "2026-03-03T01:00:00Z");
    broken.payload = "{not json".into();
    f.apply(&broken);
    f.apply(&event(3, "eid.created", "001099000001", json!({ "level": "2" }), "2026-03-02T01:00:00Z"));
    let rows: Vec<String> = f.fact_rows().iter().map(|r| format!("{r:?}")).collect();
    let has = |m: &str, unit: &str| rows.iter().any(|r| r.starts_with(&format!("(\"{m}\", \"{unit}\"")));
    assert!(has("dossiers.received", &commune) && has("dossiers.received.online", &commune));
    assert!(!has("dossiers.received.reused", &commune), "\"yes\" is not a boolean: {rows:?}");
    assert!(has("dossiers.overdue", &commune), "an appointment of another type: the day after receipt");
    assert!(has("eid.created.level1", crate::NATION), "a level of another type: level 1, holder unknown: {rows:?}");
    assert_eq!(f.skipped, 0);
}
