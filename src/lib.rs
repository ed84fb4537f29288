//! Wiring of the `civitas` binary: configuration, opening the database, the import pipeline
//! and demo seeding. Domain logic lives in the `crates/` contexts.

pub mod config;
pub mod import;

use civitas_core::ProvinceCode;
use civitas_registry::store::Attribution;
use civitas_registry::synth::Generator;
use civitas_registry::{LegalBasis, Register};
use civitas_store::Db;

/// The clock of the binary (domain code takes `now` as a parameter).
#[allow(clippy::disallowed_methods)]
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Connects to `url` and applies pending migrations.
pub async fn open(url: &str) -> anyhow::Result<Db> {
    open_for(url, civitas_store::Usage::Server).await
}

/// Like [`open`], with one connection and a large cache for import and export.
pub async fn open_bulk(url: &str) -> anyhow::Result<Db> {
    open_for(url, civitas_store::Usage::Bulk).await
}

async fn open_for(url: &str, usage: civitas_store::Usage) -> anyhow::Result<Db> {
    let db = Db::connect_with(url, usage)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open database {}: {}", redact(url), error_chain(&e)))?;
    db.migrate().await.map_err(|e| anyhow::anyhow!("migrating {} failed: {}", redact(url), error_chain(&e)))?;
    Ok(db)
}

/// The database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The reference date of generated demo data: fixed so that a seed always yields the same people.
pub const DEMO_AS_OF: time::Date = time::macros::date!(2026 - 07 - 01);

/// Seeds `people` synthetic residents of Hà Nội when the register is empty. Returns how many
/// were added (0 when the register already had people).
pub async fn seed_demo(register: &Register, people: usize) -> anyhow::Result<u64> {
    if register.count().await? > 0 {
        return Ok(0);
    }
    let province = ProvinceCode::parse("01")?;
    let mut generator = Generator::new(province, 2026, DEMO_AS_OF)?;
    let basis = LegalBasis { basis: "Dữ liệu mẫu (demo)".into(), document_ref: None };
    let at = civitas_store::timestamp(now());
    let attribution = Attribution { actor: "civitas-demo", legal_basis: &basis, at: &at };
    let mut added = 0;
    let mut batch = Vec::with_capacity(5000);
    let mut generated = 0;
    while generated < people {
        let household = generator.household();
        generated += household.len();
        batch.extend(household);
        if batch.len() >= 5000 || generated >= people {
            added += register.import_batch(&batch, &attribution).await?.inserted;
            batch.clear();
        }
    }
    Ok(added)
}
