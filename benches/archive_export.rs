//! The electronic archive (issue #18's target: export ≥ 500 dossiers/s with their PDFs): N
//! dossiers received online through the intake use case, each with an uploaded component
//! (a 100 KB PDF) and a 30 KB result, closed; then timed: preparing their packages (signed),
//! exporting them as BagIt bags into a temporary directory, checking every bag
//! (`archive::bag::check`, signature included) and a fixity pass over the archive store.
//! Usage: `cargo bench --bench archive_export [-- DOSSIERS [DATABASE_URL]]` (default 2,000, a
//! temporary SQLite file). Prints JSON lines.

use std::sync::Arc;
use std::time::Instant;

use civitas_store::Db;

fn pdf(tag: &str, size: usize) -> Vec<u8> {
    let mut out = format!("%PDF-1.4\n% {tag}\n1 0 obj << /Type /Page >> endobj\n").into_bytes();
    let filler: Vec<u8> = (0..size).map(|i| b'a' + (i % 23) as u8).collect();
    out.extend_from_slice(&filler);
    out.extend_from_slice(b"\n%%EOF\n");
    out
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let n: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(2_000);
    let dir = std::env::temp_dir().join(format!("civitas-bench-archive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let url = args.get(1).cloned().unwrap_or_else(|| format!("sqlite://{}", dir.join("a.db").display()));
    let db = Db::connect(&url).await.expect("database");
    db.migrate().await.expect("migrate");
    let now = civitas::now();
    let calendar = Arc::new(civitas_core::workdays::WorkCalendar::shipped());
    let intake = Arc::new(civitas_services::dossiers::Intake::start(db.clone(), calendar));

    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (db, intake) = (db.clone(), intake.clone());
        tasks.spawn(async move {
            let pid = format!("001090{i:06}");
            let scan =
                civitas_services::documents::store(&db, &pid, "hop-dong.pdf", &pdf(&format!("scan {i}"), 100_000), now)
                    .await
                    .expect("scan");
            let result =
                civitas_services::documents::store(&db, &pid, "ket-qua.pdf", &pdf(&format!("result {i}"), 30_000), now)
                    .await
                    .expect("result");
            let new = civitas_services::dossiers::NewDossier {
                procedure_code: "DVC-05".into(),
                body_code: "H01.1".into(),
                unit_code: "00004".into(),
                applicant_pid: pid.clone(),
                applicant_name: "Nguyễn Văn An".into(),
                channel: "online".into(),
                data: serde_json::json!({ "fields": { "destination": "Huế" }, "components": { "GT": scan.id } }),
                statutory_days: 1,
                catalogue_version: "bench".into(),
                national_code: String::new(),
            };
            let d = intake.submit(new, None, &pid, now).await.expect("intake");
            let close =
                "UPDATE dossiers SET state = 'returned', finished_on = $1, result_document = $2 WHERE code = $3";
            let today = civitas_services::dossiers::local_today(now).to_string();
            civitas_store::dispatch!(&db, pool => sqlx::query(close).bind(&today).bind(&result.id).bind(&d.code)
                .execute(pool).await.map(|_| ()))
            .expect("close");
            civitas_store::unit::commit(&db, &[civitas_services::archive::enqueue(&d.code, &today)])
                .await
                .expect("queue")
                .expect("queued");
        });
        if tasks.len() >= 256 {
            while let Some(r) = tasks.join_next().await {
                r.expect("task");
            }
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task");
    }
    println!("{{\"label\":\"setup\",\"dossiers\":{n},\"s\":{:.1}}}", t.elapsed().as_secs_f64());

    let keys = civitas_identity::KeyRing::load_or_create(&db, now).await.expect("keys");
    let catalogue = civitas_services::catalogue::Catalogue::shipped();
    let signer = |typ: &str, c: &civitas_services::certificate_issue::CertClaims| {
        civitas_identity::tokens::sign_jws(&keys, typ, c)
    };
    let a = civitas_services::archive::Archivist {
        db: &db,
        catalogue: &catalogue,
        signer: &signer,
        issuer: "https://bench.example",
    };
    let t = Instant::now();
    let mut prepared = 0;
    while civitas_services::archive::queued(&db).await.expect("queue") > 0 {
        prepared += civitas_services::archive::prepare_pending(&a, 500, now).await.expect("prepare");
    }
    let s = t.elapsed().as_secs_f64();
    println!("{{\"label\":\"prepare\",\"packages\":{prepared},\"s\":{s:.2},\"per_s\":{:.0}}}", prepared as f64 / s);

    // The reads alone (what export and fixity read from the database).
    let t = Instant::now();
    let since = civitas_services::dossiers::local_today(now) - time::Duration::days(1);
    let packages = civitas_services::archive::packages_since(&db, since).await.expect("packages");
    let mut read_bytes = 0;
    for chunk in packages.chunks(100) {
        for files in civitas_services::archive::payloads(&db, chunk).await.expect("payloads") {
            read_bytes += files.expect("intact").iter().map(|(_, b)| b.len()).sum::<usize>();
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{{\"label\":\"read\",\"packages\":{},\"mb\":{:.0},\"s\":{s:.2},\"per_s\":{:.0}}}",
        packages.len(),
        read_bytes as f64 / 1e6,
        packages.len() as f64 / s
    );

    let out = dir.join("bags");
    let t = Instant::now();
    let report = civitas_services::archive::export(&db, since, &out).await.expect("export");
    let s = t.elapsed().as_secs_f64();
    let written = report.written.len();
    let bytes: u64 = walk(&out);
    println!(
        "{{\"label\":\"export\",\"bags\":{written},\"mb\":{:.0},\"s\":{s:.2},\"per_s\":{:.0},\"target_per_s\":500}}",
        bytes as f64 / 1e6,
        written as f64 / s
    );
    assert_eq!(written, n, "every dossier exported");

    let t = Instant::now();
    let bags = civitas::check_bags(&keys, &out).await.expect("bags");
    let bad = bags.iter().filter(|(_, problems)| !problems.is_empty()).count();
    let s = t.elapsed().as_secs_f64();
    println!(
        "{{\"label\":\"verify\",\"bags\":{},\"bad\":{bad},\"s\":{s:.2},\"per_s\":{:.0}}}",
        bags.len(),
        bags.len() as f64 / s
    );

    let t = Instant::now();
    let (checked, drifted) = civitas_services::archive::fixity(&db, n as i64, now).await.expect("fixity");
    let s = t.elapsed().as_secs_f64();
    println!(
        "{{\"label\":\"fixity\",\"packages\":{checked},\"drifted\":{drifted},\"s\":{s:.2},\"per_s\":{:.0}}}",
        checked as f64 / s
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                total += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    total
}
