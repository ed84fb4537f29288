//! Appends to the transparency log (issue #15): many concurrent "reads" hand their access
//! records to the group-committing access logger (each record becomes a salted log entry and
//! an `access_log` row in the batch's transaction, durable before the caller is answered),
//! then the integrator turns the entries into tiles and a signed checkpoint. Usage:
//! `cargo bench --bench tlog_append -- DATABASE_URL [SECONDS] [TASKS]` on an empty database
//! (`sqlite:///tmp/x.db` or `postgres://…`). Prints JSON lines.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use civitas_store::access_log::{AccessLogger, AccessRecord};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(url) = args.first() else {
        return Err("usage: tlog_append DATABASE_URL [SECONDS] [TASKS]".into());
    };
    let seconds: u64 = args.get(1).map_or(Ok(10), |s| s.parse())?;
    let tasks: usize = args.get(2).map_or(Ok(256), |s| s.parse())?;
    let db = civitas::open(url).await?;
    let log =
        civitas_store::tlog::open(&db, "bench.example/civitas/access", |s| s.to_vec(), |s| Some(s.to_vec())).await?;
    let logger = AccessLogger::start(db.clone());
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (logger, done) = (logger.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                let record = AccessRecord {
                    actor: format!("officer-{t}"),
                    role: "registry-officer".into(),
                    unit: "00004".into(),
                    purpose: Some("register-read".into()),
                    subject_pid: format!("00109{:07}", (t as u64 * 7919 + i) % 10_000_000),
                    fields: "record".into(),
                    request_id: None,
                    at: civitas_store::timestamp(civitas::now()),
                    disclose_after: None,
                    ..Default::default()
                };
                if logger.append(vec![record]).await.is_err() {
                    return;
                }
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for h in handles {
        h.await?;
    }
    let appended = done.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"label\":\"appends\",\"backend\":\"{}\",\"tasks\":{tasks},\"entries\":{appended},\"seconds\":{secs:.1},\"per_second\":{:.0}}}",
        url.split(':').next().unwrap_or_default(),
        appended as f64 / secs
    );
    // Integration: tiles and signed checkpoints until the log has caught up.
    let started = Instant::now();
    let mut size = civitas_store::tlog::checkpoint(&db).await?.0;
    let mut rounds = 0;
    while size < appended {
        size = civitas_store::tlog::integrate(&db, &log).await?;
        rounds += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"label\":\"integration\",\"entries\":{size},\"rounds\":{rounds},\"seconds\":{secs:.2},\"per_second\":{:.0}}}",
        size as f64 / secs
    );
    Ok(())
}
