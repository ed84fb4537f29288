//! `civitas agency`: other agencies' endpoints and the exchange's grants.

use std::process::ExitCode;

use clap::Subcommand;

use civitas::config::Config;

#[derive(Subcommand)]
pub enum AgencyCommand {
    /// Registers (or updates) an agency's endpoint.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// The URL follow-ups are POSTed to (e.g. http://127.0.0.1:8090/hooks for agency-sim).
        #[arg(long)]
        url: String,
    },
    /// Lists the registered agencies.
    List,
    /// Grants an agency's system (an OpenID client with role agency-system) a service of the
    /// exchange for a purpose under a legal basis: these fields, in these units, until a day.
    /// The grant is an entry of the transparency log.
    Grant {
        #[arg(long)]
        agency: String,
        /// The system's OpenID client id.
        #[arg(long)]
        system: String,
        /// register, verify, attributes or events.
        #[arg(long)]
        service: String,
        /// The purpose exactly as the system will state it in X-Purpose.
        #[arg(long)]
        purpose: String,
        #[arg(long = "legal-basis")]
        legal_basis: String,
        /// Fields, comma-separated or repeated (attributes; for register: record, history, ... or *).
        #[arg(long = "fields", value_delimiter = ',')]
        fields: Vec<String>,
        /// Life events for an events grant: birth, death, marriage, residence.
        #[arg(long = "events", value_delimiter = ',')]
        events: Vec<String>,
        /// Administrative units (province or commune codes), repeatable.
        #[arg(long = "unit")]
        units: Vec<String>,
        /// The last day in force, YYYY-MM-DD.
        #[arg(long)]
        until: String,
    },
    /// Lists the grants (of one agency).
    Grants {
        #[arg(long)]
        agency: Option<String>,
    },
    /// Revokes a grant (an entry of the transparency log); its subscriptions end.
    Revoke {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

pub async fn agency(config: &Config, command: AgencyCommand) -> anyhow::Result<ExitCode> {
    let db = civitas::open(&config.database).await?;
    match command {
        AgencyCommand::Add { id, name, url } => {
            // Parsed, not prefix-matched: a scheme, a host, nothing user-ish in it.
            let parsed = reqwest::Url::parse(&url).map_err(|e| anyhow::anyhow!("--url {url:?} is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https")
                || parsed.host_str().is_none_or(str::is_empty)
                || !parsed.username().is_empty()
                || parsed.password().is_some()
            {
                anyhow::bail!("--url must be an http(s) URL with a host and no user name or password");
            }
            civitas_services::followups::put_agency(&db, &id, &name, &url, &civitas_store::timestamp(civitas::now()))
                .await?;
            println!("agency {id}: {url}");
        }
        AgencyCommand::List => {
            for a in civitas_services::followups::agencies(&db).await? {
                println!("{}  {}  {}{}", a.id, a.url, a.name, if a.active == 1 { "" } else { "  (inactive)" });
            }
        }
        AgencyCommand::Grant { agency, system, service, purpose, legal_basis, fields, events, units, until } => {
            use civitas_exchange::grants;
            let new = grants::NewGrant {
                agency_id: agency,
                system_id: system,
                service,
                purpose,
                legal_basis,
                fields,
                events,
                units,
                valid_until: until,
            };
            let by = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()));
            match grants::create(&db, &new, &by, civitas::now()).await {
                Ok(g) => println!("{}", g.id),
                Err(e) => {
                    eprintln!("civitas: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        AgencyCommand::Grants { agency } => {
            for g in civitas_exchange::grants::all(&db, agency.as_deref()).await? {
                let state = match &g.revoked_at {
                    Some(at) => format!("revoked {at}"),
                    None => format!("until {}", g.valid_until),
                };
                println!(
                    "{}  {}  {}  {}  purpose {:?}  fields {}{}  units {}  {}",
                    g.id,
                    g.agency_id,
                    g.system_id,
                    g.service,
                    g.purpose,
                    g.fields,
                    if g.events.is_empty() { String::new() } else { format!("  events {}", g.events) },
                    g.units,
                    state
                );
            }
        }
        AgencyCommand::Revoke { id, reason } => {
            let by = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()));
            match civitas_exchange::grants::revoke(&db, &id, &by, &reason, civitas::now()).await {
                Ok(g) => println!("{} revoked", g.id),
                Err(e) => {
                    eprintln!("civitas: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
