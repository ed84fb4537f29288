//! Synchronisation with the national portal (issue #18's target: ≥ 2,000 dossier updates/s to
//! `portal-sim`): N dossiers, each received and then moved once (4 messages: two dossier
//! messages, two progress steps), queued as the workflow queues them, then drained by one
//! server's `sync_once` rounds against an in-process `portal-sim` over HTTP on loopback.
//! Usage: `cargo bench --bench portal_sync [-- DOSSIERS [DATABASE_URL]]` (default 20,000, a
//! temporary SQLite file). Prints JSON lines.

use std::sync::Arc;
use std::time::Instant;

use civitas_services::dossiers::Dossier;
use civitas_services::portal::{self, StepFact};
use civitas_services::workflow::State;
use civitas_store::Db;

fn dossier(i: u64, state: State) -> Dossier {
    let new = civitas_services::dossiers::NewDossier {
        procedure_code: "DVC-05".into(),
        body_code: "H01.1".into(),
        unit_code: "00004".into(),
        applicant_pid: format!("001090{i:06}"),
        applicant_name: "Nguyễn Văn An".into(),
        channel: if i.is_multiple_of(2) { "online" } else { "counter" }.into(),
        data: serde_json::json!({ "fields": { "destination": "Huế" } }),
        statutory_days: 1,
        catalogue_version: "bench".into(),
        national_code: String::new(),
    };
    let day = time::macros::date!(2026 - 12 - 01);
    let code = format!("H01.1-261201-{i:06}");
    let received = civitas_services::dossiers::received_dossier(
        &new,
        &code,
        "2026-12-01T02:00:00.000000Z",
        day,
        day.next_day().unwrap_or(day),
    );
    Dossier { state, ..received }
}

fn step(action: &str, from: Option<&str>, to: &str, minute: u64) -> StepFact {
    StepFact {
        at: format!("2026-12-01T02:{:02}:00.000000Z", minute % 60),
        actor: "bench".into(),
        action: action.into(),
        from: from.map(str::to_owned),
        to: to.into(),
        note: None,
        appointment: None,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let dossiers: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("civitas-bench-portal-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let url = args.get(1).cloned().unwrap_or_else(|| format!("sqlite://{}", dir.join("p.db").display()));
    let db = Db::connect(&url).await.expect("database");
    db.migrate().await.expect("migrate");

    let t = Instant::now();
    let mut writes = Vec::new();
    for i in 0..dossiers {
        let received = [step("receive", None, "received", 0)];
        writes.extend(portal::writes(&dossier(i, State::Received), &received, true, "2026-12-01T02:00:00.000000Z"));
        let moved = [received[0].clone(), step("start_processing", Some("received"), "in_processing", 1)];
        writes.extend(portal::writes(&dossier(i, State::InProcessing), &moved, false, "2026-12-01T02:01:00.000000Z"));
        if writes.len() >= 4_000 {
            civitas_store::unit::commit(&db, &writes).await.expect("queue").expect("guard");
            writes.clear();
        }
    }
    civitas_store::unit::commit(&db, &writes).await.expect("queue").expect("guard");
    println!(
        "{{\"label\":\"queue\",\"dossiers\":{dossiers},\"messages\":{},\"s\":{:.1}}}",
        dossiers * 4,
        t.elapsed().as_secs_f64()
    );

    let sim = civitas_exchange::portal_sim::PortalSim::new("civitas", "bench-secret");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let router = civitas_exchange::portal_sim::router(sim.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mut catalogue = civitas_services::catalogue::Catalogue::shipped();
    for p in &mut catalogue.procedures {
        p.national_code = format!("1.{:06}", p.number);
    }
    let link = civitas_exchange::portal::Link {
        url: reqwest::Url::parse(&format!("http://127.0.0.1:{port}/")).expect("url"),
        client_id: "civitas".into(),
        client_secret: "bench-secret".into(),
        status: civitas_exchange::portal::StatusMap::default(),
        catalogue: Arc::new(catalogue),
        public_url: "http://127.0.0.1".into(),
    };
    let sender = civitas_exchange::portal::Sender::new().expect("client");
    let t = Instant::now();
    let mut rounds = 0;
    loop {
        let n = civitas_exchange::portal::sync_once(&db, &sender, &link, civitas::now).await.expect("sync");
        rounds += 1;
        if n == 0 {
            break;
        }
    }
    let s = t.elapsed().as_secs_f64();
    let (pending, dead) = portal::backlog(&db).await.expect("backlog");
    let held = sim.dossiers();
    let complete = held.values().filter(|h| h.statuses == [2, 4] && h.steps.len() == 2).count();
    println!(
        "{{\"label\":\"sync\",\"messages\":{},\"rounds\":{rounds},\"s\":{s:.1},\"messages_per_s\":{:.0},\"dossier_updates_per_s\":{:.0},\"pending\":{pending},\"dead\":{dead},\"complete_at_portal\":{complete}}}",
        dossiers * 4,
        (dossiers * 4) as f64 / s,
        (dossiers * 2) as f64 / s
    );
    let _ = std::fs::remove_dir_all(&dir);
}
