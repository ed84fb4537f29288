//! `civitas reports`: recompute the steering facts from the event log, catch up the consumer,
//! and print form 06a or an indicator for a unit and period.

use std::process::ExitCode;

use clap::Subcommand;

use civitas::config::Config;
use civitas_core::period::Period;
use civitas_reports::query::{self, Scope, Window};

#[derive(Subcommand)]
pub enum ReportsCommand {
    /// Recomputes every fact from the event log and the card register's log and replaces the
    /// stored ones (in one transaction); prints what it read and the rate.
    Rebuild,
    /// Folds the events not yet read (what the servers' `reports.consume` job does).
    Consume,
    /// Counts the register's living people per unit for a day (what the servers'
    /// `reports.population` job does once a day); a day counted already is left as it is.
    Population {
        /// The day the count is recorded for (YYYY-MM-DD; default today).
        #[arg(long)]
        day: Option<String>,
        /// Count again and replace a day counted already.
        #[arg(long)]
        recount: bool,
    },
    /// Prints form 06a of a unit (VN, a province or a commune) for a period.
    Form06a {
        #[arg(long, default_value = "VN")]
        unit: String,
        #[arg(long)]
        period: String,
        /// The day the figures are as of (YYYY-MM-DD; default today): a running period is
        /// counted to that day.
        #[arg(long)]
        as_of: Option<String>,
        /// csv or json (default).
        #[arg(long, default_value = "json")]
        format: String,
    },
    /// Prints an indicator's value for a unit and period as JSON.
    Indicator {
        code: String,
        #[arg(long, default_value = "VN")]
        unit: String,
        #[arg(long)]
        period: String,
        /// The day the figures are as of (YYYY-MM-DD; default today).
        #[arg(long)]
        as_of: Option<String>,
    },
}

/// `--period` as of `--as-of` (default today, local time).
fn window(period: &str, as_of: Option<&str>) -> anyhow::Result<Window> {
    let period = Period::parse(period).map_err(|e| anyhow::anyhow!("--period: {e}"))?;
    let as_of = match as_of {
        Some(d) => time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| anyhow::anyhow!("--as-of: a day as YYYY-MM-DD, not {d:?}"))?,
        None => civitas_services::dossiers::local_today(civitas::now()),
    };
    Window::new(period, as_of).map_err(|e| anyhow::anyhow!("--period: {e}"))
}

fn catalogue(config: &Config) -> anyhow::Result<civitas_reports::Catalogue> {
    match &config.indicators_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("indicators_file {path}: {e}"))?;
            civitas_reports::Catalogue::parse(&text).map_err(|e| anyhow::anyhow!("indicators_file {path}: {e}"))
        }
        None => Ok(civitas_reports::Catalogue::shipped()),
    }
}

pub async fn reports(config: &Config, command: ReportsCommand) -> anyhow::Result<ExitCode> {
    let db = civitas::open(&config.database).await?;
    match command {
        ReportsCommand::Rebuild => {
            let started = std::time::Instant::now();
            let r = civitas_reports::consumer::rebuild(&db).await?;
            let secs = started.elapsed().as_secs_f64();
            let read = r.events + r.card_events;
            println!(
                "rebuilt from {} events and {} card events in {secs:.2} s ({:.0} events/s; read and fold {:.2} s, write {:.2} s): {} facts, {} dossiers{}",
                r.events,
                r.card_events,
                read as f64 / secs.max(1e-9),
                r.scan_s,
                r.write_s,
                r.facts,
                r.dossiers,
                if r.skipped > 0 {
                    format!(", {} events skipped (their dossier's receipt is not in the log)", r.skipped)
                } else {
                    String::new()
                }
            );
        }
        ReportsCommand::Consume => {
            let consumer = civitas_reports::consumer::Consumer::default();
            let mut total = 0;
            loop {
                let p = consumer.run(&db, 100).await?;
                total += p.events;
                if p.events == 0 {
                    break;
                }
            }
            println!("folded {total} events");
        }
        ReportsCommand::Population { day, recount } => {
            let day = match day {
                Some(d) => time::Date::parse(&d, time::macros::format_description!("[year]-[month]-[day]"))
                    .map_err(|_| anyhow::anyhow!("--day: a day as YYYY-MM-DD, not {d:?}"))?,
                None => civitas_services::dossiers::local_today(civitas::now()),
            };
            match civitas_reports::population::count(&db, day, recount).await? {
                Some(c) => println!("counted {} living people in {} units for {day}", c.people, c.units),
                None => println!("{day} was counted already"),
            }
        }
        ReportsCommand::Form06a { unit, period, as_of, format } => {
            let window = window(&period, as_of.as_deref())?;
            let f = query::form_06a(&db, &Scope::unit(&unit), &window).await?;
            if format == "csv" {
                print!(
                    "{}",
                    civitas_reports::export::Table {
                        title: "06a".into(),
                        headers: vec!["key".into(), "chỉ tiêu".into(), "indicator".into(), "value".into()],
                        rows: f
                            .rows()
                            .into_iter()
                            .map(|(k, vi, en, v)| vec![k.into(), vi.into(), en.into(), v.into()])
                            .collect(),
                    }
                    .csv()
                );
            } else {
                println!("{}", serde_json::to_string_pretty(&f)?);
            }
        }
        ReportsCommand::Indicator { code, unit, period, as_of } => {
            let window = window(&period, as_of.as_deref())?;
            let cat = catalogue(config)?;
            let v = query::value(&db, &cat, &code, &Scope::unit(&unit), &window).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
