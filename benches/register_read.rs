//! Point reads of the register without HTTP, to tell the database's share of a PID lookup from
//! the web stack's (BENCHMARKS.md, issue #2). Usage, on a database of `bench/run.sh`:
//! `cargo bench --bench register_read -- /tmp/civitas-bench/import.db PIDS` where PIDS holds one
//! personal ID number per line. Each round reads every PID once (`Register::get`: the direct
//! read-only connection, the row, the conversion to a `Person`), then again with the JSON
//! encoding the API does.

use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let [db, pids] = args.as_slice() else {
        return Err("usage: register_read DATABASE_FILE PID_FILE".into());
    };
    // Connecting would create a missing file; a benchmark wants the imported one.
    if !std::path::Path::new(db).is_file() {
        return Err(format!("{db} is not a database file (import people first, e.g. with bench/run.sh)").into());
    }
    let db = civitas_store::Db::connect(&format!("sqlite://{db}")).await?;
    let register = civitas_registry::store::Register::new(db);
    let pids: Vec<civitas_core::Pid> =
        std::fs::read_to_string(pids)?.lines().filter_map(|l| civitas_core::Pid::parse(l.trim()).ok()).collect();
    if pids.is_empty() {
        return Err("the PID file holds no valid personal ID number".into());
    }
    for round in 1..=3 {
        let started = Instant::now();
        let mut found = 0;
        for pid in &pids {
            found += usize::from(register.get(pid).await?.is_some());
        }
        let read_us = started.elapsed().as_secs_f64() / pids.len() as f64 * 1e6;
        let started = Instant::now();
        let mut bytes = 0;
        for pid in &pids {
            if let Some(person) = register.get(pid).await? {
                bytes += serde_json::to_vec(&person)?.len();
            }
        }
        let json_us = started.elapsed().as_secs_f64() / pids.len() as f64 * 1e6;
        println!(
            "{{\"round\":{round},\"reads\":{},\"found\":{found},\"read_us\":{read_us:.1},\"read_and_json_us\":{json_us:.1},\"json_bytes_avg\":{}}}",
            pids.len(),
            bytes / pids.len()
        );
    }
    Ok(())
}
