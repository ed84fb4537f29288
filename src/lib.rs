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

/// Like [`open`], with the pool settings of the configuration (`serve`).
pub async fn open_tuned(url: &str, pool: &civitas_store::PoolSettings) -> anyhow::Result<Db> {
    open_with(url, civitas_store::Usage::Server, pool).await
}

async fn open_for(url: &str, usage: civitas_store::Usage) -> anyhow::Result<Db> {
    open_with(url, usage, &civitas_store::PoolSettings::default()).await
}

async fn open_with(url: &str, usage: civitas_store::Usage, pool: &civitas_store::PoolSettings) -> anyhow::Result<Db> {
    let db = Db::connect_tuned(url, usage, pool)
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
    let db = register.db();
    if register.count().await? > 0 {
        if is_demo(register).await? {
            return Ok(0);
        }
        anyhow::bail!(
            "serve --demo refuses this database: it holds people the demo did not generate. The demo adds \
             e-ID accounts with the published demo password, OpenID clients with published secrets and \
             registers births, a marriage and a death. Run `civitas serve` without --demo, or give --demo \
             an empty database (e.g. CIVITAS_DATABASE=sqlite://./demo.db)."
        );
    }
    let at = civitas_store::timestamp(now());
    civitas_store::claims::set_switch(db, DEMO_SWITCH, "true", &at).await?;
    let province = ProvinceCode::parse("01")?;
    let mut generator = Generator::new(province, 2026, DEMO_AS_OF)?;
    let basis = LegalBasis { basis: "Dữ liệu mẫu (demo)".into(), document_ref: None };
    let at = civitas_store::timestamp(now());
    let attribution = Attribution { actor: "civitas-demo", legal_basis: &basis, at: &at };
    let mut added = 0;
    let mut batch = Vec::with_capacity(5000);
    let mut generated = 0;
    let mut holders = Vec::new();
    while generated < people {
        let household = generator.household();
        generated += household.len();
        batch.extend(household);
        if batch.len() >= 5000 || generated >= people {
            added += register.import_batch(&batch, &attribution).await?.inserted;
            holders.extend(batch.iter().filter_map(|p| {
                Some(civitas_services::cards::Holder {
                    pid: p.pid.as_str().to_owned(),
                    birth: p.birth_date.to_date()?,
                    commune: p.communes().first()?.to_string(),
                })
            }));
            batch.clear();
        }
    }
    // Most adults hold a card; some are on their way.
    civitas_services::cards::seed_plausible(db, &holders, DEMO_AS_OF, &at).await?;
    Ok(added)
}

const DEMO_SWITCH: &str = "demo_database";

/// Whether the database is one `serve --demo` seeded: marked so when it was seeded, or (seeded
/// before the mark existed) every person in it was generated or registered by the demo.
async fn is_demo(register: &Register) -> anyhow::Result<bool> {
    if civitas_store::claims::switch(register.db(), DEMO_SWITCH).await?.as_deref() == Some("true") {
        return Ok(true);
    }
    Ok(register.count_changed_by_others("civitas-demo", "demo-").await? == 0)
}

/// The identity service over `db` for a server at `issuer` (CLI commands that manage accounts
/// and clients).
pub async fn identity(
    db: &Db,
    issuer: &str,
    kek: Option<std::sync::Arc<civitas_identity::kek::Kek>>,
) -> anyhow::Result<civitas_identity::Identity> {
    let keys = std::sync::Arc::new(civitas_identity::KeyRing::open(db, now(), kek).await?);
    let register = std::sync::Arc::new(Register::new(db.clone()));
    Ok(civitas_identity::Identity::new(db.clone(), register, keys, issuer).await?)
}

/// Checks every bag in `dir` (or the bag `dir` is) with this system's keys: each bag and what
/// is wrong with it (nothing: intact and signed here).
pub async fn check_bags(
    keys: &civitas_identity::KeyRing,
    dir: &std::path::Path,
) -> std::io::Result<Vec<(std::path::PathBuf, Vec<civitas_services::archive::bag::Problem>)>> {
    let mut out = Vec::new();
    for bag in civitas_services::archive::bag::bags_in(dir)? {
        let problems = civitas_services::archive::bag::check(&bag, |jws: String| async move {
            civitas_identity::tokens::verify_jws(keys, &jws).await.ok()
        })
        .await;
        out.push((bag, problems));
    }
    Ok(out)
}

/// Demo credentials: fixed, printed by `serve --demo`, for trying things out only.
pub const DEMO_PASSWORD: &str = "hoa-sen-vang-2026";
/// The purpose the demo agency's grants are for (what it states in `X-Purpose`).
pub const DEMO_AGENCY_PURPOSE: &str = "health-insurance";
/// The client secret of the demo's portal link (`serve --demo` with `civitas portal-sim`).
pub const DEMO_PORTAL_SECRET: &str = "demo-portal-secret-0123456789abcdef";

/// The portal link of the configuration (`portal_*`), or with `--demo` and none configured the
/// local `civitas portal-sim`, whose procedures without a national code get a placeholder
/// (`DEMO.NN`: the shipped catalogue leaves the codes to the province).
pub fn portal_link(
    url: Option<&str>,
    client_id: &str,
    secret_file: Option<&str>,
    status: &std::collections::BTreeMap<String, u8>,
    catalogue: &std::sync::Arc<civitas_services::catalogue::Catalogue>,
    demo: bool,
    public_url: &str,
) -> anyhow::Result<Option<civitas_exchange::portal::Link>> {
    let (url, secret, catalogue) = match (url, demo) {
        (Some(url), _) => {
            let Some(file) = secret_file else {
                anyhow::bail!("portal_url needs portal_client_secret_file (a file holding the client secret)");
            };
            let secret =
                std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("portal_client_secret_file {file}: {e}"))?;
            (url.to_owned(), secret.trim().to_owned(), catalogue.clone())
        }
        (None, true) => {
            let mut demo_catalogue = (**catalogue).clone();
            for p in &mut demo_catalogue.procedures {
                if p.national_code.trim().is_empty() {
                    p.national_code = format!("DEMO.{:02}", p.number);
                }
            }
            ("http://127.0.0.1:8091/".to_owned(), DEMO_PORTAL_SECRET.to_owned(), std::sync::Arc::new(demo_catalogue))
        }
        (None, false) => return Ok(None),
    };
    // A base URL ends with a slash, so that `token` and `api` are joined below it.
    let with_slash = if url.ends_with('/') { url.clone() } else { format!("{url}/") };
    let parsed = reqwest::Url::parse(&with_slash).map_err(|e| anyhow::anyhow!("portal_url {url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        anyhow::bail!("portal_url {url:?} is not an http(s) URL");
    }
    let status = civitas_exchange::portal::StatusMap::with_overrides(status).map_err(|e| anyhow::anyhow!(e))?;
    Ok(Some(civitas_exchange::portal::Link {
        url: parsed,
        client_id: client_id.to_owned(),
        client_secret: secret,
        status,
        catalogue,
        public_url: public_url.to_owned(),
    }))
}

pub const DEMO_AGENCY_SECRET: &str = "demo-agency-secret-0123456789abcdef";

/// What `serve --demo` set up for people to sign in with.
pub struct DemoIdentity {
    /// (pid, level) of the demo citizens.
    pub citizens: Vec<(String, i64)>,
    pub officer: String,
    /// The one-stop officer, specialist and leader of `commune`.
    pub one_stop: Vec<String>,
    pub commune: String,
}

/// Creates demo accounts (two citizens, level 1 and level 2, and a level-2 registry officer of
/// Hà Nội), a demo relying-party web client and a demo agency client. Idempotent.
pub async fn seed_demo_identity(
    identity: &civitas_identity::Identity,
    register: &Register,
) -> anyhow::Result<DemoIdentity> {
    use civitas_identity::{AccountError, NewClient, Role, oidc::ClientError};
    let at = now();
    // Working-age holders: the demo's death registration takes someone of 75 or more, and
    // must never lock a demo account whose password the demo prints.
    let pids = register.living_adults(1961, 2000, 6).await?;
    if pids.len() < 6 {
        anyhow::bail!("the demo register has fewer than six adults");
    }
    let levels = [1, 2, 2, 2, 2, 2];
    for (pid, level) in pids.iter().zip(levels) {
        match identity.create_account(pid, level, DEMO_PASSWORD, "civitas-demo", at).await {
            Ok(_) | Err(AccountError::NotAllowed("account-exists", _)) => {}
            Err(e) => return Err(anyhow::anyhow!("demo account {pid}: {e}")),
        }
    }
    identity.set_officer_role(&pids[2], Role::RegistryOfficer, &["01".to_owned()], "civitas-demo", at).await?;
    // The one-stop shop of the first citizen's commune: where their online dossiers go.
    let commune = match pids[0].parse::<civitas_core::Pid>() {
        Ok(pid) => register.get(&pid).await?.and_then(|p| p.permanent_residence.map(|r| r.commune.as_str().to_owned())),
        Err(_) => None,
    };
    let commune = commune.unwrap_or_else(|| "00004".to_owned());
    for (pid, role) in pids[3..6].iter().zip([Role::OnestopOfficer, Role::Specialist, Role::Leader]) {
        identity.set_officer_role(pid, role, std::slice::from_ref(&commune), "civitas-demo", at).await?;
    }
    // The social insurance agency: `civitas agency-sim` on its default address stands in for it;
    // follow-ups wait (retried) until it runs.
    civitas_services::followups::put_agency(
        register.db(),
        "social-insurance",
        "Bảo hiểm xã hội (mô phỏng)",
        "http://127.0.0.1:8090/hooks",
        &civitas_store::timestamp(at),
    )
    .await?;
    // Phones for the demo citizens, so their notifications show in the development outbox.
    for (pid, phone) in pids[..2].iter().zip(["0912000001", "0912000002"]) {
        identity.set_phone(pid, phone).await?;
    }
    let portal = NewClient {
        id: "demo-portal".into(),
        name: "Cổng dịch vụ công (demo)".into(),
        secret: Some(DEMO_PORTAL_SECRET.into()),
        redirect_uris: vec!["http://127.0.0.1/callback".into(), "http://[::1]/callback".into()],
        post_logout_redirect_uris: vec!["http://127.0.0.1/signed-out".into()],
        scopes: [
            "openid",
            "profile",
            "address",
            "phone",
            "email",
            "pid",
            "offline_access",
            "dossiers",
            "documents",
            "certificates",
            "access",
        ]
        .map(String::from)
        .to_vec(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        ..Default::default()
    };
    let agency = NewClient {
        id: "demo-agency".into(),
        name: "Bảo hiểm xã hội (demo)".into(),
        secret: Some(DEMO_AGENCY_SECRET.into()),
        scopes: vec!["registry.read".into()],
        grant_types: vec!["client_credentials".into()],
        role: Some(Role::AgencySystem),
        units: vec!["01".into()],
        ..Default::default()
    };
    for client in [portal, agency] {
        match identity.create_client(client, at).await {
            Ok(()) | Err(ClientError::Exists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The demo agency's grants (each an entry of the log): verify and read attributes of people
    // of Hà Nội for health insurance, and hear of births and deaths there.
    if civitas_exchange::grants::all(register.db(), Some("social-insurance")).await?.is_empty() {
        let until = (at + time::Duration::days(365)).date().to_string();
        for (service, fields, events) in [
            ("verify", &["full_name", "birth_date", "sex", "residence_commune"][..], &[][..]),
            ("attributes", &["full_name", "birth_date", "sex", "residence_commune", "household_id"][..], &[][..]),
            ("register", &["record"][..], &[][..]),
            ("events", &["full_name", "birth_date", "sex", "residence_commune"][..], &["birth", "death"][..]),
        ] {
            let new = civitas_exchange::grants::NewGrant {
                agency_id: "social-insurance".into(),
                system_id: "demo-agency".into(),
                service: service.into(),
                purpose: DEMO_AGENCY_PURPOSE.into(),
                legal_basis: "Luật Bảo hiểm y tế 2008, sửa đổi 2024; Nghị định 63/2024/NĐ-CP".into(),
                fields: fields.iter().map(|f| (*f).to_owned()).collect(),
                events: events.iter().map(|e| (*e).to_owned()).collect(),
                units: vec!["01".into()],
                valid_until: until.clone(),
            };
            civitas_exchange::grants::create(register.db(), &new, "civitas-demo", at)
                .await
                .map_err(|e| anyhow::anyhow!("demo grant: {e}"))?;
        }
    }
    Ok(DemoIdentity {
        citizens: vec![(pids[0].clone(), 1), (pids[1].clone(), 2)],
        officer: pids[2].clone(),
        one_stop: pids[3..6].to_vec(),
        commune,
    })
}

#[cfg(test)]
mod portal_link_tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn link(url: Option<&str>, secret: Option<&str>, status: &[(&str, u8)], demo: bool) -> anyhow::Result<bool> {
        let catalogue = Arc::new(civitas_services::catalogue::Catalogue::shipped());
        let status: BTreeMap<String, u8> = status.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        super::portal_link(url, "civitas", secret, &status, &catalogue, demo, "http://127.0.0.1").map(|l| l.is_some())
    }

    #[test]
    fn bad_portal_configuration_is_named() {
        assert!(!link(None, None, &[], false).unwrap(), "no portal: nothing sent");
        assert!(link(None, None, &[], true).unwrap(), "the demo's portal-sim");
        let err = link(Some("http://portal.example/"), None, &[], false).unwrap_err().to_string();
        assert!(err.contains("portal_client_secret_file"), "{err}");
        let secret = std::env::temp_dir().join(format!("civitas-portal-secret-{}", std::process::id()));
        std::fs::write(&secret, "s\n").unwrap();
        let secret = secret.to_str().unwrap();
        let err = link(Some("ftp://portal.example"), Some(secret), &[], false).unwrap_err().to_string();
        assert!(err.contains("not an http(s) URL"), "{err}");
        let err = link(Some("not a url"), Some(secret), &[], false).unwrap_err().to_string();
        assert!(err.contains("portal_url"), "{err}");
        let err = link(Some("https://portal.example"), Some(secret), &[("lapsed", 9)], false).unwrap_err().to_string();
        assert!(err.contains("processed that is not"), "{err}");
        let err =
            link(Some("https://portal.example"), Some("/nonexistent/secret"), &[], false).unwrap_err().to_string();
        assert!(err.contains("portal_client_secret_file"), "{err}");
        assert!(link(Some("https://portal.example/dvc"), Some(secret), &[("refused", 8)], false).unwrap());
    }
}
