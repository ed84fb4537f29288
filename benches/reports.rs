//! The steering layer's speed (issue #17's targets): the reports consumer folding the event log,
//! `reports rebuild`, and the latency of the figures the dashboard and the API read (form 06a of
//! the nation with its 34 provinces, of a province with its communes, the index of every
//! province, one indicator), over synthetic dossiers spread over the 3,321 communes and two
//! years. Usage: `cargo bench --bench reports [-- DOSSIERS [DATABASE_URL]]` (default 200,000
//! dossiers = 1 M events, a temporary SQLite file; `REPORTS_BATCH=N` folds N events per consumer
//! transaction instead of the server's 5,000; `REPORTS_ORDER=dossier` writes each dossier's
//! events together instead of in time order; `REPORTS_SKIP_CONSUMER=1` times the rebuild
//! only). Prints JSON lines.

use std::time::Instant;

use civitas_core::period::Period;
use civitas_reports::query::{self, Scope, Window};
use civitas_store::{Db, NewEvent, dispatch, insert_events};

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// A small deterministic generator (xorshift), enough to spread synthetic dossiers.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes the synthetic log: in time order (as a real log is: a dossier's steps are spread
/// over the days after its receipt, between other dossiers' events), or dossier by dossier
/// with `REPORTS_ORDER=dossier` (each dossier's five events together, as sessions 12 to 14
/// measured).
async fn seed(db: &Db, dossiers: u64) -> u64 {
    let by_dossier = std::env::var("REPORTS_ORDER").is_ok_and(|o| o == "dossier");
    let communes: Vec<String> =
        civitas_core::units::AdminUnits::get().communes().iter().map(|c| c.code.clone()).collect();
    let procedures = ["DVC-05", "DVC-06", "DVC-14", "DVC-21", "DVC-22", "DVC-24", "DVC-25"];
    let start = time::macros::datetime!(2025-01-01 02:00 UTC);
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut events = Vec::with_capacity(50_000);
    // Steps not yet due, by time (and a sequence number: equal times keep their order).
    let mut pending: std::collections::BinaryHeap<std::cmp::Reverse<(time::OffsetDateTime, u64)>> =
        std::collections::BinaryHeap::new();
    let mut held: std::collections::HashMap<u64, NewEvent> = std::collections::HashMap::new();
    let mut seq = 0u64;
    let mut written = 0;
    let at = |t: time::OffsetDateTime| civitas_store::timestamp(t);
    for i in 0..dossiers {
        let received = start + time::Duration::minutes((i * 730 * 24 * 60 / dossiers) as i64);
        while let Some(std::cmp::Reverse((t, _))) = pending.peek()
            && *t <= received
        {
            if let Some(e) = pending.pop().and_then(|std::cmp::Reverse((_, k))| held.remove(&k)) {
                events.push(e);
            }
        }
        let unit = &communes[rng.below(communes.len() as u64) as usize];
        // As a receiving body numbers its dossiers: its code, the day, a sequence (so a
        // batch's new dossiers fall all over the code order, one place per body).
        let (y, m, d) = received.date().to_calendar_date();
        let code = format!("H{unit}-{:02}{:02}{d:02}-{i:09}", y % 100, m as u8);
        let channel = ["online", "online", "counter", "postal"][rng.below(4) as usize];
        let days = 1 + rng.below(10) as i64;
        let appointment = (received + time::Duration::days(days)).date().to_string();
        events.push(NewEvent {
            kind: "dossier.received",
            subject: code.clone(),
            payload: serde_json::json!({ "procedure": procedures[rng.below(7) as usize], "channel": channel, "unit": unit,
                "appointment": appointment, "reused": rng.below(2) == 0, "digitised": rng.below(3) > 0 }),
            actor: "bench".into(),
            occurred_at: at(received),
        });
        let finished = received + time::Duration::days(rng.below(days as u64 + 3) as i64) + time::Duration::hours(2);
        for (action, from, to, t) in [
            ("start_processing", "received", "in_processing", received + time::Duration::hours(1)),
            ("approve", "in_processing", "approved", finished - time::Duration::hours(1)),
            ("issue_result", "approved", "result_issued", finished),
            ("return", "result_issued", "returned", finished + time::Duration::hours(1)),
        ] {
            let e = NewEvent {
                kind: "dossier.step",
                subject: code.clone(),
                payload: serde_json::json!({ "action": action, "from": from, "to": to, "appointment": appointment, "result": true }),
                // An official works in one commune (three per commune here).
                actor: format!("officer-{unit}-{}", rng.below(3)),
                occurred_at: at(t),
            };
            if by_dossier {
                events.push(e);
            } else {
                seq += 1;
                pending.push(std::cmp::Reverse((t, seq)));
                held.insert(seq, e);
            }
        }
        if i + 1 == dossiers {
            while let Some(std::cmp::Reverse((_, k))) = pending.pop() {
                events.extend(held.remove(&k));
            }
        }
        if events.len() >= 50_000 || i + 1 == dossiers {
            let stored = dispatch!(db, pool => async {
                let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
                insert_events!(tx, &events)?;
                tx.commit().await
            }.await);
            stored.expect("events stored");
            written += events.len() as u64;
            events.clear();
        }
    }
    written
}

async fn latency(label: &str, runs: usize, mut f: impl AsyncFnMut(usize)) {
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        let t = Instant::now();
        f(i).await;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let p50 = percentile(&mut samples, 0.5);
    let p95 = percentile(&mut samples, 0.95);
    println!("{{\"label\":\"{label}\",\"runs\":{runs},\"p50_ms\":{p50:.2},\"p95_ms\":{p95:.2}}}");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let dossiers: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let dir = std::env::temp_dir().join(format!("civitas-bench-reports-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let url = args.get(1).cloned().unwrap_or_else(|| format!("sqlite://{}", dir.join("r.db").display()));
    let db = Db::connect(&url).await.expect("database");
    db.migrate().await.expect("migrate");
    let t = Instant::now();
    let events = seed(&db, dossiers).await;
    println!("{{\"label\":\"seed\",\"events\":{events},\"s\":{:.1}}}", t.elapsed().as_secs_f64());

    // REPORTS_BATCH: events per consumer transaction (default: the server's).
    let batch = std::env::var("REPORTS_BATCH").ok().and_then(|b| b.parse().ok());
    let consumer = batch
        .map_or_else(civitas_reports::consumer::Consumer::default, civitas_reports::consumer::Consumer::with_batch);
    // REPORTS_SKIP_CONSUMER=1: straight to the rebuild (a large log).
    if std::env::var_os("REPORTS_SKIP_CONSUMER").is_none() {
        let t = Instant::now();
        let mut folded = 0;
        loop {
            let p = consumer.run(&db, 1_000).await.expect("consume");
            folded += p.events;
            if p.events == 0 {
                break;
            }
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{{\"label\":\"consumer\",\"events\":{folded},\"s\":{s:.1},\"events_per_s\":{:.0}}}",
            folded as f64 / s
        );
    }

    let t = Instant::now();
    let r = civitas_reports::consumer::rebuild(&db).await.expect("rebuild");
    let s = t.elapsed().as_secs_f64();
    println!(
        "{{\"label\":\"rebuild\",\"events\":{},\"facts\":{},\"s\":{s:.1},\"events_per_s\":{:.0},\"scan_s\":{:.1},\"write_s\":{:.1}}}",
        r.events,
        r.facts,
        r.events as f64 / s,
        r.scan_s,
        r.write_s
    );

    let cat = civitas_reports::Catalogue::shipped();
    let periods: Vec<Window> = ["2025", "2026", "2025Q3", "2026S1", "2025N9", "202511", "202603", "2026W10"]
        .iter()
        .map(|p| Window::whole(Period::parse(p).expect("period")))
        .collect();
    let mut nation = vec![civitas_reports::NATION.to_owned()];
    nation.extend(query::children(civitas_reports::NATION));
    let mut province = vec!["01".to_owned()];
    province.extend(query::children("01"));
    latency("06a nation + 34 provinces", 200, async |i| {
        query::forms_06a(&db, &nation, "", &periods[i % periods.len()]).await.expect("06a");
    })
    .await;
    latency("06a Hà Nội + its communes", 200, async |i| {
        query::forms_06a(&db, &province, "", &periods[i % periods.len()]).await.expect("06a");
    })
    .await;
    latency("index of the nation + 34 provinces", 200, async |i| {
        query::indexes(&db, &cat, &nation, &periods[i % periods.len()]).await.expect("index");
    })
    .await;
    latency("one indicator, one commune", 500, async |i| {
        let unit = &province[1 + i % (province.len() - 1)];
        query::value(&db, &cat, "d766.2.1", &Scope::unit(unit), &periods[i % periods.len()]).await.expect("value");
    })
    .await;
    latency("12-month trend of the index (dashboard)", 50, async |i| {
        for p in query::last_12_months(time::macros::date!(2026 - 12 - 31)) {
            query::index(&db, &cat, if i % 2 == 0 { "VN" } else { "01" }, &p).await.expect("index");
        }
    })
    .await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
