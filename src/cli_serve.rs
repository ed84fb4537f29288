//! `civitas serve`: the HTTP server, its configuration, the demo seeding, and a clean
//! shutdown on Ctrl-C / SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use civitas::config::Config;
use civitas_core::UnitCode;
use civitas_identity::{KeyRing, Role, tokens};
use civitas_registry::Register;

pub(crate) async fn serve(config: Config, listen: Option<String>, demo: bool) -> anyhow::Result<ExitCode> {
    let listen = listen.unwrap_or(config.listen.clone());
    let db = civitas::open_tuned(&config.database, &config.pool()).await?;
    let keys = KeyRing::open(&db, civitas::now(), config.kek()?).await?;
    let listener =
        tokio::net::TcpListener::bind(&listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    let secure = config.secure_cookies.unwrap_or(!addr.ip().is_loopback());
    let issuer = config.issuer.clone().unwrap_or_else(|| format!("http://{addr}"));
    let mut state = civitas_web::AppState::new(db.clone(), keys, secure, &issuer, config.dev_outbox || demo).await?;
    let proxies = config
        .trusted_proxies
        .iter()
        .map(|p| {
            p.parse::<std::net::IpAddr>().map_err(|_| anyhow::anyhow!("trusted_proxies: {p:?} is not an IP address"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    state.trusted_proxies = std::sync::Arc::new(proxies);
    state.card_policy = std::sync::Arc::new(config.card_policy()?);
    civitas_services::codes::set_format(config.code_format()?);
    civitas_store::claims::set_item_lease_secs(i64::try_from(config.job_claim_lease_secs).unwrap_or(i64::MAX));
    if let Some(replica) = &config.database_replica {
        if db.backend() != civitas_store::Backend::Postgres {
            anyhow::bail!(
                "database_replica needs a PostgreSQL primary (database is {})",
                civitas::redact(&config.database)
            );
        }
        state.use_replica(civitas_store::Db::connect_replica(replica, &config.pool()).map_err(|e| {
            anyhow::anyhow!("database_replica {}: {}", civitas::redact(replica), civitas::error_chain(&e))
        })?);
        tracing::info!(replica = %civitas::redact(replica), "searches read from the replica");
    }
    let delays = config
        .disclosure_delays
        .iter()
        .map(|d| civitas_web::DisclosureDelay::parse(d).map_err(|e| anyhow::anyhow!("disclosure_delays: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    state.set_disclosure_delays(delays);
    let witnesses = config
        .witnesses
        .iter()
        .map(|w| civitas_exchange::witness::parse(w).map_err(|e| anyhow::anyhow!("witnesses: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !witnesses.is_empty() {
        tracing::info!(count = witnesses.len(), "the log's checkpoints are sent to witnesses");
        state.set_witnesses(witnesses);
    }
    if let Some(path) = &config.holidays_file {
        state.set_calendar(crate::load_calendar(Some(PathBuf::from(path)))?);
    }
    if let Some(path) = &config.procedures_file {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("procedures_file {path}: {e}"))?;
        let catalogue = civitas_services::catalogue::Catalogue::parse(&text)
            .map_err(|e| anyhow::anyhow!("procedures_file {path}: {e}"))?;
        state.set_catalogue(catalogue);
    }
    if let Some(path) = &config.indicators_file {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("indicators_file {path}: {e}"))?;
        let catalogue =
            civitas_reports::Catalogue::parse(&text).map_err(|e| anyhow::anyhow!("indicators_file {path}: {e}"))?;
        state.indicators = std::sync::Arc::new(catalogue);
    }
    let portal = civitas::portal_link(
        config.portal_url.as_deref(),
        &config.portal_client_id,
        config.portal_client_secret_file.as_deref(),
        &config.portal_status,
        &state.catalogue,
        demo,
        &issuer,
    )?;
    if let Some(link) = &portal {
        tracing::info!(url = %link.url, "dossiers are synchronised to the national portal");
    }
    state.set_portal(portal);
    if !civitas_core::dossier::valid_body(&config.body_code) {
        anyhow::bail!(
            "body_code {:?} is not a receiving body code (QCVN 102: e.g. H01.1 or H15.50.05.13)",
            config.body_code
        );
    }
    state.body_code = config.body_code.clone();
    if demo {
        let register = Register::new(db.clone());
        let started = std::time::Instant::now();
        let added = civitas::seed_demo(&register, config.demo_people).await?;
        if added > 0 {
            tracing::info!(
                people = added,
                seconds = started.elapsed().as_secs_f32(),
                "seeded demo population of Hà Nội"
            );
        }
        let demo_ids = civitas::seed_demo_identity(&state.identity, &register).await?;
        {
            let office = state.office();
            let signer = state.certificate_signer();
            let processing = state.processing(&office, &signer);
            let seeding = civitas_services::demo::Seeding {
                processing: &processing,
                intake: &state.intake,
                catalogue: &state.catalogue,
                body_code: &state.body_code,
                now: civitas::now,
            };
            civitas_services::demo::seed_civil(&seeding).await;
            // A year of one-stop history and the steering committees, for the dashboard.
            let started = std::time::Instant::now();
            let mut people = Vec::new();
            for pid in register.living_adults(1950, 2006, 400).await? {
                if let Ok(p) = pid.parse::<civitas_core::Pid>()
                    && let Some(person) = register.get(&p).await?
                    && person.permanent_residence.is_some()
                {
                    people.push(person);
                }
            }
            let received = civitas_services::demo_history::seed_history(&seeding, &people, 365, 4, 6).await;
            let accounts = seed_eid_history(&state.identity, &register).await?;
            let mut communes: Vec<String> = vec![demo_ids.commune.clone()];
            for p in &people {
                if let Some(r) = &p.permanent_residence
                    && !communes.contains(&r.commune.as_str().to_owned())
                    && communes.len() < 4
                {
                    communes.push(r.commune.as_str().to_owned());
                }
            }
            let set_up =
                civitas_reports::committees::seed_demo(&db, &state.indicators, "01", &communes, civitas::now()).await?;
            if received + set_up > 0 {
                tracing::info!(
                    dossiers = received,
                    accounts,
                    committees = set_up,
                    seconds = started.elapsed().as_secs_f32(),
                    "seeded the steering demo"
                );
            }
        }
        // The card simulator's test CSCA (seed "demo") is trusted, so its cards verify and
        // onboard; a real installation pins Vietnam's CSCA instead (`civitas trust add-csca`).
        if civitas_identity::chip::trust::list(&db).await?.is_empty() {
            let csca = civitas_onboarding::sim::authorities("demo").csca;
            civitas_identity::chip::trust::add_csca(&db, &csca.cert, &config.card_policy()?, "demo", civitas::now())
                .await
                .map_err(|e| anyhow::anyhow!("trusting the demo CSCA: {e}"))?;
        }
        let sample = register.sample_pid().await?.unwrap_or_default();
        let token = tokens::issue(
            &state.keys,
            "demo-officer",
            Role::RegistryOfficer,
            &[UnitCode::parse("01")?],
            civitas::now().unix_timestamp(),
            12 * 3600,
        );
        let totp = state.identity.current_totp_code(&demo_ids.officer, civitas::now()).await?.unwrap_or_default();
        let citizens: Vec<String> = demo_ids.citizens.iter().map(|(p, l)| format!("{p} (level {l})")).collect();
        println!(
            "\ncivitas demo — {people} people in the register\n\n\
             \x20 Citizen pages:     {issuer}/account  (ID number + password {pw})\n\
             \x20   citizens:        {citizens}\n\
             \x20 Officer console:   {issuer}/signin  ID {officer}, password {pw}, then the 6-digit code\n\
             \x20   TOTP key:        {key}  (current code {totp}; add the key to an authenticator app)\n\
             \x20   level-2 citizen: {citizen2} TOTP key {citizen2_key}\n\
             \x20 Public services:   {issuer}/services  (citizens apply online); officers of commune {commune}\n\
             \x20   sign in at {issuer}/signin like the officer above, then {issuer}/officer/queue:\n\
             \x20   one-stop {os0} TOTP key {os0_key}\n\
             \x20   specialist {os1} TOTP key {os1_key}\n\
             \x20   leader {os2} TOTP key {os2_key}\n\
             \x20 Civil status:      births, a marriage and a death were registered; certificates: {issuer}/verify\n\
             \x20   follow-ups wait for the social insurance agency: run `civitas agency-sim` (port 8090)\n\
             \x20 National portal:   dossiers wait to be synchronised: run `civitas portal-sim` (port 8091);\n\
             \x20   operators see the backlog and dead letters at {issuer}/officer/portal\n\
             \x20 OpenID discovery:  {issuer}/.well-known/openid-configuration\n\
             \x20   web client:      demo-portal / {portal}  (redirect http://127.0.0.1:<any port>/callback)\n\
             \x20   agency client:   demo-agency / {agency}  (client_credentials, scope registry.read)\n\
             \x20   its grants:      civitas agency grants; calls state X-Purpose: health-insurance,\n\
             \x20                    X-Acting-Official and X-Case-Id (POST {issuer}/api/v1/exchange/verify)\n\
             \x20 Chip cards:        the card simulator's test CSCA (seed demo) is trusted:\n\
             \x20   civitas card-sim issue --pid {sample} --out /tmp/card, then curl -H \"Authorization: Bearer $TOKEN\"\n\
             \x20   -H 'Content-Type: application/json' -d @/tmp/card/card.json {issuer}/api/v1/cards/verify\n\
             \x20   remote onboarding: {issuer}/api/v1/onboarding/sessions (README); reviews: {issuer}/officer/onboarding\n\
             \x20   card desk and Project 06 counters: {issuer}/officer/cards\n\
             \x20 Messages (SMS):    {issuer}/dev/outbox\n\
             \x20 API document:      {issuer}/api/openapi.json\n\
             \x20 Sample person:     curl -H \"Authorization: Bearer $TOKEN\" {issuer}/api/v1/people/{sample}\n\n\
             \x20 TOKEN (registry-officer, Hà Nội, 12 h):\n  {token}\n",
            people = register.count().await?,
            pw = civitas::DEMO_PASSWORD,
            officer = demo_ids.officer,
            key = state.identity.totp_key(&demo_ids.officer).await?.unwrap_or_default(),
            citizen2 = demo_ids.citizens[1].0,
            citizen2_key = state.identity.totp_key(&demo_ids.citizens[1].0).await?.unwrap_or_default(),
            portal = civitas::DEMO_PORTAL_SECRET,
            agency = civitas::DEMO_AGENCY_SECRET,
            citizens = citizens.join(", "),
            commune = demo_ids.commune,
            os0 = demo_ids.one_stop[0],
            os1 = demo_ids.one_stop[1],
            os2 = demo_ids.one_stop[2],
            os0_key = state.identity.totp_key(&demo_ids.one_stop[0]).await?.unwrap_or_default(),
            os1_key = state.identity.totp_key(&demo_ids.one_stop[1]).await?.unwrap_or_default(),
            os2_key = state.identity.totp_key(&demo_ids.one_stop[2]).await?.unwrap_or_default(),
        );
    }
    tracing::info!(%addr, database = %civitas::redact(&config.database), "listening");
    civitas_web::serve(listener, state, shutdown_signal()).await?;
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}

/// A year of e-ID accounts for the steering dashboard: 800 adults of the demo register, their
/// accounts created over the past 365 days more and more often (adoption growing), two in
/// five registered online at level 1, the rest enrolled at level 2 at a counter.
async fn seed_eid_history(identity: &civitas_identity::Identity, register: &Register) -> anyhow::Result<usize> {
    let pids = register.living_adults(1950, 2008, 800).await?;
    let n = pids.len().max(1) as f64;
    let now = civitas::now();
    let holders: Vec<(String, i64, time::OffsetDateTime)> = pids
        .into_iter()
        .enumerate()
        .map(|(i, pid)| {
            let days_ago = (365.0 * (1.0 - ((i as f64 + 1.0) / n).sqrt())).round() as i64 + 1;
            let at = now - time::Duration::days(days_ago) - time::Duration::minutes((i % 480) as i64);
            (pid, if i % 5 < 2 { 1 } else { 2 }, at)
        })
        .collect();
    Ok(identity.seed_demo_history(&holders, "civitas-demo").await?)
}
