//! `civitas archive`: the electronic archive's hand-over (`export`), the check of exported bags
//! (`verify`), the fixity check of the archive store (`fixity`) and the disposal list
//! (`disposal`); without a subcommand, `--before` moves old log rows out (cli_ops::archive).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use civitas::config::Config;
use civitas_services::archive;

#[derive(Subcommand)]
pub enum ArchiveCommand {
    /// Prepare the packages of closed dossiers and civil-status records not yet packaged, then
    /// write the BagIt bags of those closed on or after a day into a directory (bags already
    /// there are never overwritten).
    Export {
        /// The first day, YYYY-MM-DD.
        #[arg(long)]
        since: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Check every bag in a directory (or the bag that is the directory): each payload file's
    /// SHA-512, nothing added or missing, Payload-Oxum, the tag manifest and this system's
    /// signature. Exit 1 naming the bag and the file at the first defect of each bag.
    Verify { dir: PathBuf },
    /// Re-check the digests of the archive store's packages now (the server does it hourly);
    /// exit 1 if any drifted.
    Fixity,
    /// List the packages past their retention, waiting for a disposal decision.
    Disposal,
}

/// The procedure catalogue of the configuration (`procedures_file`), else the shipped one.
fn catalogue(config: &Config) -> anyhow::Result<civitas_services::catalogue::Catalogue> {
    match &config.procedures_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("procedures_file {path}: {e}"))?;
            civitas_services::catalogue::Catalogue::parse(&text)
                .map_err(|e| anyhow::anyhow!("procedures_file {path}: {e}"))
        }
        None => Ok(civitas_services::catalogue::Catalogue::shipped()),
    }
}

fn parse_day(s: &str) -> anyhow::Result<time::Date> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| anyhow::anyhow!("--since {s:?} is not a day (YYYY-MM-DD)"))
}

pub async fn run(config: &Config, command: ArchiveCommand) -> anyhow::Result<ExitCode> {
    let db = civitas::open(&config.database).await?;
    match command {
        ArchiveCommand::Export { since, out } => {
            let since = parse_day(&since)?;
            let keys = civitas_identity::KeyRing::open(&db, civitas::now(), config.kek()?).await?;
            let catalogue = catalogue(config)?;
            let issuer = config.issuer.clone().unwrap_or_else(|| format!("http://{}", config.listen));
            let signer = |typ: &str, c: &civitas_services::certificate_issue::CertClaims| {
                civitas_identity::tokens::sign_jws(&keys, typ, c)
            };
            let a = archive::Archivist { db: &db, catalogue: &catalogue, signer: &signer, issuer: &issuer };
            let mut prepared = 0;
            while archive::queued(&db).await? > 0 {
                prepared += archive::prepare_pending(&a, 500, civitas::now()).await?;
            }
            let report = archive::export(&db, since, &out).await?;
            println!(
                "prepared {prepared} new packages; wrote {} bags to {} ({} already there)",
                report.written.len(),
                out.display(),
                report.existing.len()
            );
            for (subject, why) in &report.drifted {
                println!("NOT WRITTEN {subject}: {why}");
            }
            Ok(if report.drifted.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        ArchiveCommand::Verify { dir } => verify(&db, config, &dir).await,
        ArchiveCommand::Fixity => {
            let (mut checked, mut drifted) = (0, 0);
            let total = archive::packages_since(&db, time::Date::MIN).await?.len();
            while checked < total {
                let (n, d) = archive::fixity(&db, 1000, civitas::now()).await?;
                if n == 0 {
                    break;
                }
                checked += n;
                drifted += d;
            }
            for p in archive::list(&db, archive::Listing::Drift, time::Date::MAX, &|_: &str| true, usize::MAX).await? {
                println!("DRIFT {}: {}", p.subject, p.fixity_detail.unwrap_or_default());
            }
            println!("checked {checked} packages: {drifted} drifted");
            Ok(if drifted == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        ArchiveCommand::Disposal => {
            let today = civitas_services::dossiers::local_today(civitas::now());
            let due = archive::due_for_disposal(&db, today, &|_: &str| true).await?;
            for p in &due {
                println!(
                    "{}\t{}\t{}\tkept {} until {}\t{}",
                    p.subject,
                    p.unit_code,
                    p.closed_on,
                    p.retention,
                    p.dispose_after.as_deref().unwrap_or_default(),
                    p.title
                );
            }
            println!(
                "{} packages past their retention wait for a decision (a leader records it at /officer/archive)",
                due.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn verify(db: &civitas_store::Db, config: &Config, dir: &Path) -> anyhow::Result<ExitCode> {
    let keys = civitas_identity::KeyRing::open(db, civitas::now(), config.kek()?).await?;
    let bags = civitas::check_bags(&keys, dir).await.map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    if bags.is_empty() {
        anyhow::bail!("{} holds no bag (no bagit.txt)", dir.display());
    }
    let mut bad = 0;
    for (bag, problems) in &bags {
        if !problems.is_empty() {
            bad += 1;
        }
        for p in problems {
            println!("FAIL {} {}: {}", bag.display(), p.file, p.problem);
        }
    }
    println!("{} bags checked: {} intact, {bad} not", bags.len(), bags.len() - bad);
    Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
