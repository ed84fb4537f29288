//! Birth and death registration completeness (issue #17, OpenCRVS's method) end to end:
//! registrations driven through the one-stop workflow (within the statutory time and late),
//! the register's population counted by `civitas reports population`, and the indicators equal
//! to a model written here: registrations within the time / round(crude rate × population /
//! 1,000 × days / 365).

use std::collections::HashMap;

use civitas_identity::Role;
use civitas_registry::store::Attribution;
use civitas_registry::{LegalBasis, Register};
use serde_json::{Value, json};
use time::Duration;

use crate::civil::{Desk, act, to_decision, upload};
use crate::helpers::*;
use crate::on_both_databases;
use crate::one_stop::citizen_token;
use crate::reports::{caught_up, civitas_on};

/// A few thousand synthetic people of Hà Nội, so that a year's estimate is not rounded to 0.
async fn populate(app: &TestApp) {
    let register = Register::new(app.db.clone());
    let province = civitas_core::ProvinceCode::parse("01").unwrap();
    let mut generator = civitas_registry::synth::Generator::new(province, 17, TODAY).unwrap();
    let basis = LegalBasis { basis: "test".into(), document_ref: None };
    let at = civitas_store::timestamp(civitas::now());
    let attribution = Attribution { actor: "test", legal_basis: &basis, at: &at };
    let mut batch = Vec::new();
    while batch.len() < 3000 {
        batch.extend(generator.household());
    }
    register.import_batch(&batch, &attribution).await.unwrap();
}

/// The model's population: living people per commune of permanent residence, summed by hand
/// to the two communes, the province and the nation.
async fn living(app: &TestApp) -> HashMap<String, i64> {
    let sql = "SELECT permanent_commune, CAST(COUNT(*) AS BIGINT) FROM people WHERE status = 'living' \
               AND permanent_commune IS NOT NULL GROUP BY permanent_commune";
    let rows: Vec<(String, i64)> =
        civitas_store::dispatch!(&app.db, pool => sqlx::query_as(sql).fetch_all(pool).await).unwrap();
    let mut out = HashMap::new();
    let units = civitas_core::units::AdminUnits::get();
    for (commune, n) in rows {
        *out.entry("VN".to_owned()).or_default() += n;
        if let Some(c) = units.commune(&commune) {
            *out.entry(c.province_code.clone()).or_default() += n;
        }
        *out.entry(commune).or_default() += n;
    }
    out
}

async fn completeness(app: TestApp) {
    app.clients().await;
    populate(&app).await;
    app.account(BINH, 1).await;
    let mother = citizen_token(&app, BINH).await;
    let today = civitas_services::dossiers::local_today(civitas::now());
    let desk = Desk::of(&app, BA_DINH);
    // Two births: one registered 10 days after it (within 60 days), one 100 days after (late).
    for (i, days) in [10, 100].into_iter().enumerate() {
        let cert = upload(&app, &mother, "giấy chứng sinh").await;
        let (name, sex) = [("Nguyễn Thị Mai", "female"), ("Nguyễn Văn Minh", "male")][i];
        let body = json!({ "procedure": "DVC-09", "fields": {
            "child_name": name, "child_birth_date": (today - Duration::days(days)).to_string(),
            "child_sex": sex, "birth_cert_no": format!("GCS-2026-10{i}"), "other_parent_pid": AN,
            "live_with": "applicant", "commune": BA_DINH },
            "components": { "GCS": cert } });
        let code = to_decision(&app, &mother, &desk, body).await;
        assert_eq!(act(&app, &desk.chief, &code, json!({ "action": "approve" })).await.status(), 200, "birth {i}");
    }
    // Two deaths: Cường 3 days ago (within 15 days), Dũng 40 days ago (late).
    for (i, (pid, days)) in [(CUONG, 3), (DUNG, 40)].into_iter().enumerate() {
        let notice = upload(&app, &mother, "giấy báo tử").await;
        let body = json!({ "procedure": "DVC-10", "fields": {
            "deceased_pid": pid, "death_date": (today - Duration::days(days)).to_string(), "commune": BA_DINH },
            "components": { "BT": notice } });
        let code = to_decision(&app, &mother, &desk, body).await;
        assert_eq!(act(&app, &desk.chief, &code, json!({ "action": "approve" })).await.status(), 200, "death {i}");
    }
    caught_up(&app).await;

    // The count of today, taken again after the registrations (the server's job may have
    // counted the day at its start): what the command line says is what the register holds.
    let population = living(&app).await;
    let cli = |args: &[&str]| civitas_on(&app, args);
    let out = cli(&["reports", "population", "--recount"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.starts_with(&format!("counted {} living people", population["VN"])), "{said} / {population:?}");
    // Without --recount a counted day is left as it is (the job's claim: once per day).
    let again = cli(&["reports", "population"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("counted already"), "{again:?}");
    let bad = cli(&["reports", "population", "--day", "2026-13-01"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("--day"), "{bad:?}");

    // The year as of its last day (a projection of the stocks; no stocks here): 365 days.
    let year = today.year();
    let last = time::Date::from_calendar_date(year, time::Month::December, 31).unwrap();
    let days = (last - time::Date::from_calendar_date(year, time::Month::January, 1).unwrap()).whole_days() + 1;
    let leader = app.token(Role::Leader, &["01"]);
    let cases = [
        ("civil.birth_completeness", "civil.births.late", 15.0, 1),
        ("civil.death_completeness", "civil.deaths.late", 6.5, 1),
    ];
    for (code, late, rate, within) in cases {
        let r: Value = app
            .get(&format!("/api/v1/indicators/{code}?unit=01&period={year}&as_of={last}"), &leader)
            .await
            .json()
            .await
            .unwrap();
        let mut all = vec![r["value"].clone()];
        all.extend(r["units"].as_array().unwrap().iter().cloned());
        let mut seen = 0;
        for v in all {
            let unit = v["unit"].as_str().unwrap();
            let people = population.get(unit).copied().unwrap_or(0) as f64;
            let estimate = (rate * people / 1000.0 * days as f64 / 365.0).round() as i64;
            let numerator = if unit == "01" || unit == BA_DINH { within } else { 0 };
            assert_eq!(v["numerator"].as_i64(), Some(numerator), "{code} {unit}: {v}");
            assert_eq!(v["denominator"].as_i64(), Some(estimate), "{code} {unit}: {v}");
            let value = (estimate > 0).then(|| ((numerator as f64 * 100.0 / estimate as f64) * 100.0).round() / 100.0);
            assert_eq!(v["value"].as_f64(), value, "{code} {unit}: {v}");
            seen += usize::from(estimate > 0);
        }
        assert!(seen >= 1, "the province's estimate is above 0: {r}");
        // The registrations themselves, late ones included.
        let late: Value = app
            .get(&format!("/api/v1/indicators/{late}?unit=01&period={year}&as_of={last}"), &leader)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(late["value"]["value"].as_f64(), Some(1.0), "{late}");
    }
    // The same after a rebuild (the population is kept apart from the facts).
    let rebuilt = cli(&["reports", "rebuild"]);
    assert!(rebuilt.status.success(), "{rebuilt:?}");
    let r: Value = app
        .get(&format!("/api/v1/indicators/civil.birth_completeness?unit=01&period={year}&as_of={last}"), &leader)
        .await
        .json()
        .await
        .unwrap();
    let estimate = (15.0 * population["01"] as f64 / 1000.0 * days as f64 / 365.0).round() as i64;
    assert_eq!((r["value"]["numerator"].as_i64(), r["value"]["denominator"].as_i64()), (Some(1), Some(estimate)));
}
on_both_databases!(registration_completeness, completeness);
