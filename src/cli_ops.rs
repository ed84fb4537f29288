//! Operators' commands for the database as a whole: consistent backups, restores that start
//! with outbound delivery paused, and pausing / resuming outbound delivery.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use civitas::config::Config;

#[derive(Subcommand)]
pub enum OutboundCommand {
    /// Stop sending webhooks, SMS and e-mail (they queue up).
    Pause,
    /// Send again (what queued up goes out).
    Resume,
    /// Say whether outbound delivery is paused, and what is queued.
    Status,
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// The file of a `sqlite://` URL.
fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.contains(":memory:") {
        anyhow::bail!("{url} is not a database file");
    }
    Ok(PathBuf::from(path))
}

fn run_tool(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run {program} (install the PostgreSQL client tools): {e}"))?;
    if !out.status.success() {
        anyhow::bail!("{program} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// `civitas backup --out FILE`: a consistent copy while servers run.
pub async fn backup(config: &Config, out: &Path) -> anyhow::Result<ExitCode> {
    if out.exists() {
        anyhow::bail!("{} exists; choose a new file name", out.display());
    }
    let target = out.to_str().ok_or_else(|| anyhow::anyhow!("the output path is not UTF-8"))?;
    if is_postgres(&config.database) {
        // One snapshot (pg_dump reads in a single repeatable-read transaction), custom format.
        run_tool("pg_dump", &["--format=custom", "--no-owner", "--file", target, "--dbname", &config.database])?;
    } else {
        let db = civitas::open(&config.database).await?;
        civitas_store::backup::sqlite_copy(&db, target).await?;
    }
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    println!("backup of {} written to {} ({size} bytes)", civitas::redact(&config.database), out.display());
    Ok(ExitCode::SUCCESS)
}

/// `civitas restore --from FILE`: the database becomes the backup's copy, with outbound
/// delivery paused (a copy never replays old messages to real endpoints by itself).
pub async fn restore(config: &Config, from: &Path, force: bool) -> anyhow::Result<ExitCode> {
    if !from.is_file() {
        anyhow::bail!("{} is not a backup file", from.display());
    }
    let source = from.to_str().ok_or_else(|| anyhow::anyhow!("the backup path is not UTF-8"))?;
    if is_postgres(&config.database) {
        match civitas_store::backup::pg_people(&config.database).await? {
            Some(n) if n > 0 && !force => {
                anyhow::bail!("the target database holds people; add --force to replace it with the backup")
            }
            Some(_) => civitas_store::backup::pg_empty(&config.database).await?,
            None => {}
        }
        run_tool(
            "pg_restore",
            &["--single-transaction", "--exit-on-error", "--no-owner", "--dbname", &config.database, source],
        )?;
    } else {
        let path = sqlite_path(&config.database)?;
        if path.exists() && !force {
            anyhow::bail!(
                "{} exists; add --force to replace it with the backup (stop its servers first)",
                path.display()
            );
        }
        let mut head = [0u8; 16];
        use std::io::Read;
        std::fs::File::open(from)?
            .read_exact(&mut head)
            .map_err(|_| anyhow::anyhow!("the backup file is too short"))?;
        if &head != b"SQLite format 3\0" {
            anyhow::bail!(
                "{} is not a SQLite backup (a PostgreSQL backup restores into a postgres:// database)",
                from.display()
            );
        }
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", path.display()));
            let _ = std::fs::remove_file(side);
        }
        std::fs::copy(from, &path)?;
    }
    let db = civitas::open(&config.database).await?;
    let at = civitas_store::timestamp(civitas::now());
    civitas_store::claims::set_outbound_paused(&db, true, &at).await?;
    println!(
        "restored {} from {}; outbound delivery (webhooks, SMS, e-mail) is PAUSED: check the endpoints, then run `civitas outbound resume`",
        civitas::redact(&config.database),
        from.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `civitas archive --before YYYY-MM --out DIR`.
pub async fn archive(config: &Config, before: &str, out: &Path) -> anyhow::Result<ExitCode> {
    let db = civitas::open(&config.database).await?;
    let month = civitas_store::timestamp(civitas::now())[..7].to_owned();
    let archived = civitas_store::archive::archive(&db, before, &month, out).await?;
    for a in &archived {
        let dropped = if a.partitions_dropped.is_empty() {
            String::new()
        } else {
            format!(" (partitions dropped: {})", a.partitions_dropped.join(", "))
        };
        println!("{:<20} {:>10} rows -> {}{dropped}", a.table, a.rows, a.file.display());
    }
    println!("manifest: {}", out.join(format!("MANIFEST-before-{before}.sha256")).display());
    Ok(ExitCode::SUCCESS)
}

/// `civitas outbound pause|resume|status`.
pub async fn outbound(config: &Config, command: OutboundCommand) -> anyhow::Result<ExitCode> {
    let db = civitas::open(&config.database).await?;
    let at = civitas_store::timestamp(civitas::now());
    match command {
        OutboundCommand::Pause => civitas_store::claims::set_outbound_paused(&db, true, &at).await?,
        OutboundCommand::Resume => civitas_store::claims::set_outbound_paused(&db, false, &at).await?,
        OutboundCommand::Status => {}
    }
    let paused = civitas_store::claims::outbound_paused(&db).await?;
    let (webhooks, messages) = civitas_store::claims::queued(&db).await?;
    println!(
        "outbound delivery is {}; queued: {webhooks} webhook deliveries, {messages} SMS/e-mail",
        if paused { "PAUSED" } else { "on" }
    );
    Ok(ExitCode::SUCCESS)
}

/// `civitas migrate-data --from sqlite://… --to postgres://…`: moves everything, then checks
/// the row count and checksum of every table; exit 0 only when all match.
pub async fn migrate_data(from: &str, to: &str) -> anyhow::Result<ExitCode> {
    if !from.starts_with("sqlite:") || !is_postgres(to) {
        anyhow::bail!("migrate-data moves a SQLite database (--from sqlite://…) into PostgreSQL (--to postgres://…)");
    }
    let source = civitas::open(from).await?;
    let target = civitas::open(to).await?;
    let rows = civitas_store::transfer::target_rows(&target).await?;
    if rows > 0 {
        anyhow::bail!("the target {} is not empty ({rows} rows); give an empty, new database", civitas::redact(to));
    }
    let started = std::time::Instant::now();
    civitas_store::transfer::copy_all(&source, &target, |table, n| {
        if n > 0 {
            eprintln!("copied {table}: {n} rows");
        }
    })
    .await?;
    let report = civitas_store::transfer::verify(&source, &target).await?;
    let mut bad = 0;
    let mut total = 0;
    for t in &report {
        total += t.target_rows;
        if !t.matches() {
            bad += 1;
            eprintln!(
                "MISMATCH {}: {} rows / {} rows, checksum {} / {}",
                t.table, t.source_rows, t.target_rows, t.source_checksum, t.target_checksum
            );
        }
    }
    // Outbound delivery follows the source's switch (copied with the other tables).
    println!(
        "moved {total} rows in {} tables from {} to {} ({:.1} s); counts and checksums {}",
        report.len(),
        civitas::redact(from),
        civitas::redact(to),
        started.elapsed().as_secs_f64(),
        if bad == 0 { "match".to_owned() } else { format!("DIFFER in {bad} tables") }
    );
    Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
