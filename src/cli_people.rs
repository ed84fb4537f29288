//! The register's data commands: `generate` (synthetic people), `import` (NDJSON, line-numbered
//! report) and `export` (NDJSON, PID order).

use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use civitas::config::Config;
use civitas::import::{self, ImportOptions};
use civitas_core::ProvinceCode;
use civitas_registry::Register;
use civitas_registry::synth::Generator;

pub(crate) fn generate(people: usize, province: &str, seed: u64, as_of: Option<&str>) -> anyhow::Result<ExitCode> {
    let province = ProvinceCode::parse_current(province)?;
    let as_of = match as_of {
        Some(s) => time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|e| anyhow::anyhow!("--as-of {s:?} is not a date YYYY-MM-DD: {e}"))?,
        None => civitas::DEMO_AS_OF,
    };
    let mut generator = Generator::new(province, seed, as_of)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut written = 0;
    while written < people {
        let mut household = generator.household();
        // The last household is cut to reach exactly `people`: its kept members refer to no one
        // who was not written (the file has no dangling references).
        if household.len() > people - written {
            household.truncate(people - written);
            let kept: std::collections::HashSet<civitas_core::Pid> = household.iter().map(|p| p.pid).collect();
            for p in &mut household {
                p.father_pid = p.father_pid.filter(|r| kept.contains(r));
                p.mother_pid = p.mother_pid.filter(|r| kept.contains(r));
                if p.spouse_pid.is_some_and(|r| !kept.contains(&r)) {
                    p.spouse_pid = None;
                    p.marital_status = civitas_core::MaritalStatus::Divorced;
                }
            }
        }
        for person in household {
            serde_json::to_writer(&mut out, &person)?;
            out.write_all(b"\n")?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn import_file(config: &Config, file: PathBuf, batch: Option<usize>) -> anyhow::Result<ExitCode> {
    let db = civitas::open_bulk(&config.database).await?;
    let batch = batch.unwrap_or(match db.backend() {
        civitas_store::Backend::Sqlite => 50_000,
        civitas_store::Backend::Postgres => 20_000,
    });
    let register = Register::new(db.clone());
    let (input, size): (Box<dyn std::io::BufRead + Send>, Option<u64>) = if file.as_os_str() == "-" {
        (Box::new(BufReader::new(std::io::stdin())), None)
    } else {
        let f = std::fs::File::open(&file).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))?;
        let size = f.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 20, f)), size)
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} lines read · {per_sec} · {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let _ = size;
    let options = ImportOptions {
        batch,
        actor: "civitas-import".into(),
        source: file.display().to_string(),
        today: civitas::now().date(),
    };
    let started = std::time::Instant::now();
    let report = import::run(&register, input, &options, |lines| bar.set_position(lines)).await?;
    bar.finish_and_clear();
    // Written without panicking when a pipe was closed (`civitas import f 2>&1 | head`): the
    // import itself is committed either way.
    let mut err = std::io::stderr().lock();
    for (line, reason) in &report.rejected {
        let _ = writeln!(err, "line {line}: {reason}");
    }
    let _ = writeln!(
        std::io::stdout().lock(),
        "imported {}, unchanged {}, rejected {}{} ({:.1} s)",
        report.imported,
        report.unchanged,
        report.rejected.len(),
        if report.households > 0 { format!(", households {}", report.households) } else { String::new() },
        started.elapsed().as_secs_f64()
    );
    db.close().await;
    Ok(if report.rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// Whether an error is the reader of our output going away (a closed pipe).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<civitas_registry::RegisterError>().is_some_and(|r| {
                matches!(r, civitas_registry::RegisterError::Output(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
            })
    })
}

pub(crate) async fn export(config: &Config, output: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    // An export is read-only work: with a replica configured, it reads from the replica.
    let db = match &config.database_replica {
        Some(replica) => civitas_store::Db::connect_replica(replica, &config.pool()).map_err(|e| {
            anyhow::anyhow!("database_replica {}: {}", civitas::redact(replica), civitas::error_chain(&e))
        })?,
        None => civitas::open_bulk(&config.database).await?,
    };
    let register = Register::new(db.clone());
    let sink: Box<dyn Write> = match &output {
        Some(path) => {
            Box::new(std::fs::File::create(path).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    // Households their heads' lines do not imply come first (their members refer to them).
    let households = register.households_not_implied().await?;
    for h in &households {
        let line = civitas_registry::store::households::HouseholdLine { household: h.clone() };
        let written =
            serde_json::to_writer(&mut out, &line).map_err(std::io::Error::other).and_then(|()| out.write_all(b"\n"));
        if let Err(e) = written {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                let _ = writeln!(std::io::stderr(), "export stopped: the output was closed");
                return Ok(ExitCode::from(1));
            }
            return Err(e.into());
        }
    }
    let result = register
        .export(5000, |p| {
            serde_json::to_writer(&mut out, p).map_err(std::io::Error::other)?;
            out.write_all(b"\n")
        })
        .await;
    let total = match result.map_err(anyhow::Error::from).and_then(|t| out.flush().map(|_| t).map_err(Into::into)) {
        Ok(t) => t,
        Err(e) if is_broken_pipe(&e) => {
            let _ = writeln!(std::io::stderr(), "export stopped: the output was closed");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e),
    };
    let _ = writeln!(std::io::stderr(), "exported {total} people, {} households of their own lines", households.len());
    Ok(ExitCode::SUCCESS)
}
