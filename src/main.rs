//! The `civitas` command: serve, migrate, generate, import, export, token, account, client,
//! openapi.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli_agency;
mod cli_archive;
mod cli_audit;
mod cli_cards;
mod cli_ops;
mod cli_people;
mod cli_reports;
mod cli_serve;

use civitas::config::Config;
use civitas_core::UnitCode;
use civitas_identity::{KeyRing, Role, tokens};
use cli_people::{export, generate, import_file};

#[derive(Parser)]
#[command(name = "civitas", version, about = "Population register, e-ID and public services of Project 06")]
struct Cli {
    /// Configuration file (TOML); default ./civitas.toml when present.
    #[arg(long, global = true, env = "CIVITAS_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://./civitas.db or postgres://user@host/db (overrides CIVITAS_DATABASE).
    #[arg(long, global = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve {
        /// Address and port, e.g. 127.0.0.1:8080 (overrides CIVITAS_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        /// Seed synthetic people of Hà Nội into an empty database and print how to try things.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Write synthetic people as NDJSON to standard output.
    Generate {
        #[arg(long)]
        people: usize,
        /// 2-digit province code (2025 catalogue).
        #[arg(long, default_value = "01")]
        province: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Reference date for ages (YYYY-MM-DD); fixed by default so a seed is reproducible.
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Import people from an NDJSON file ("-" for standard input).
    Import {
        file: PathBuf,
        /// Lines per transaction (default: 50,000 on SQLite, where fewer commits rewrite fewer
        /// index pages; 5,000 on PostgreSQL).
        #[arg(long)]
        batch: Option<usize>,
    },
    /// Write every person as NDJSON to standard output (or --output).
    Export {
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print a signed access token for scripts and operators.
    Token {
        #[arg(long)]
        role: String,
        /// 2-digit province or 5-digit commune code; repeat for several.
        #[arg(long = "unit", required = true)]
        units: Vec<String>,
        /// Who the token identifies (shown in the access log).
        #[arg(long, default_value = "operator")]
        subject: String,
        /// Lifetime in hours (default from configuration: 12).
        #[arg(long)]
        ttl_hours: Option<i64>,
    },
    /// Manage e-ID accounts.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Manage OpenID Connect clients (relying parties and agency systems).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Check a transparency log from the outside, or a receipt offline.
    Audit {
        #[command(subcommand)]
        command: cli_audit::AuditCommand,
    },
    /// A witness of a transparency log.
    Witness {
        #[command(subcommand)]
        command: cli_audit::WitnessCommand,
    },
    /// The transparency log of this server's database.
    Log {
        #[command(subcommand)]
        command: cli_audit::LogCommand,
    },
    /// Manage the server's signing keys (published at /oauth2/jwks).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The working-day calendar: holidays, working-day arithmetic, lunar dates.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
        /// A holiday override file (TOML) instead of the shipped one.
        #[arg(long, global = true)]
        overrides: Option<PathBuf>,
    },
    /// Print the OpenAPI document of the JSON API.
    Openapi,
    /// Write a consistent copy of the database while servers run (SQLite: VACUUM INTO;
    /// PostgreSQL: pg_dump, custom format).
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace the database with a backup; outbound delivery starts paused.
    Restore {
        #[arg(long)]
        from: PathBuf,
        /// Replace a database that holds data.
        #[arg(long)]
        force: bool,
    },
    /// Move every table of a SQLite database into an empty PostgreSQL one, then verify the
    /// row count and checksum of each table.
    MigrateData {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    /// The electronic archive (`export`, `verify`, `fixity`, `disposal`); or, with `--before`,
    /// move rows dated before a month (events, access log, sent messages, delivered webhooks)
    /// into JSON-lines files with a SHA-256 manifest, then remove them from the database
    /// (PostgreSQL: whole month partitions are dropped).
    #[command(args_conflicts_with_subcommands = true)]
    Archive {
        #[command(subcommand)]
        command: Option<cli_archive::ArchiveCommand>,
        /// The first month kept, YYYY-MM: everything before it is archived.
        #[arg(long)]
        before: Option<String>,
        /// A directory for the files (created; files already there are never overwritten).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Pause, resume or show outbound delivery (webhooks, SMS, e-mail).
    Outbound {
        #[command(subcommand)]
        command: cli_ops::OutboundCommand,
    },
    /// Other agencies' endpoints for the follow-ups of interconnected procedures.
    Agency {
        #[command(subcommand)]
        command: cli_agency::AgencyCommand,
    },
    /// The CSCA trust store for chip cards: pinned CSCAs, verified master lists, CRLs.
    Trust {
        #[command(subcommand)]
        command: cli_cards::TrustCommand,
    },
    /// Project 06 steering: rebuild the facts from the event log, print form 06a or an indicator.
    Reports {
        #[command(subcommand)]
        command: cli_reports::ReportsCommand,
    },
    /// Chip cards: a card's files checked offline.
    Cards {
        #[command(subcommand)]
        command: cli_cards::CardsCommand,
    },
    /// The card simulator: a test CSCA, synthetic chips of people of the register, their AA
    /// answers, and the broken variants (tests, demos, app developers).
    CardSim {
        #[command(subcommand)]
        command: cli_cards::CardSimCommand,
    },
    /// Follow-up deliveries: dead letters and their replay.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Checks a civil-status certificate offline: the signature of the payload its QR carries
    /// (from a certificate PDF, or given as text) against the published keys. Exit 0 when it
    /// verifies, 1 otherwise (with the reason). The certificate's current status (superseded,
    /// revoked) is only known online, at /verify.
    Verify {
        /// A certificate PDF (its payload is also in the PDF's Subject).
        file: Option<PathBuf>,
        /// The payload text (what the QR code reads).
        #[arg(long)]
        payload: Option<String>,
        /// A JWKS file (JSON with "keys"), e.g. saved from /oauth2/jwks.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// The JWKS URL of the issuing server.
        #[arg(long)]
        jwks: Option<String>,
    },
    /// Run a stand-in agency system that receives and verifies follow-up webhooks (demos, tests).
    AgencySim {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
        /// The civitas server's JWKS, to verify the deliveries' signatures.
        #[arg(long, default_value = "http://127.0.0.1:8080/oauth2/jwks")]
        jwks: String,
        /// A kind of follow-up to refuse (answered 422), repeatable.
        #[arg(long)]
        refuse: Vec<String>,
    },
    /// Run a stand-in National Public Service Portal that issues tokens and receives and
    /// validates dossier synchronisation (demos, tests).
    PortalSim {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8091")]
        listen: String,
        /// The client id it accepts.
        #[arg(long, default_value = "civitas")]
        client_id: String,
        /// A file holding the client secret it accepts (default: the demo's secret).
        #[arg(long)]
        client_secret_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Lists dead letters (refused or out of attempts).
    Dead,
    /// Puts a dead letter back in the queue.
    Replay { id: String },
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// The days off of a year.
    Holidays { year: i32 },
    /// The date N working days after a date.
    Add {
        #[arg(long)]
        from: String,
        #[arg(long)]
        days: u32,
    },
    /// The lunar date of a date.
    Lunar { date: String },
}

fn parse_day(raw: &str) -> anyhow::Result<time::Date> {
    time::Date::parse(raw.trim(), time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| anyhow::anyhow!("{raw:?} is not a date (YYYY-MM-DD)"))
}

/// The shipped calendar, or the one of an operator's holiday file.
fn load_calendar(file: Option<PathBuf>) -> anyhow::Result<civitas_core::workdays::WorkCalendar> {
    let Some(path) = file else { return Ok(civitas_core::workdays::WorkCalendar::shipped()) };
    let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    civitas_core::workdays::WorkCalendar::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn calendar_command(command: CalendarCommand, overrides: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let calendar = load_calendar(overrides)?;
    match command {
        CalendarCommand::Holidays { year } => {
            if !(1900..=2100).contains(&year) {
                anyhow::bail!("the year must be between 1900 and 2100");
            }
            for h in calendar.holidays(year) {
                println!("{}  {}  {}  ({})", h.date, h.date.weekday(), h.name_vi, h.name_en);
            }
        }
        CalendarCommand::Add { from, days } => {
            let from = parse_day(&from)?;
            if !(1900..=2100).contains(&from.year()) || days > 100_000 {
                anyhow::bail!("--from must be between 1900 and 2100 and --days at most 100000");
            }
            println!("{}", calendar.add_working_days(from, days));
        }
        CalendarCommand::Lunar { date } => {
            let d = parse_day(&date)?;
            let l = civitas_core::lunar::to_lunar(d);
            println!("{}/{}{}/{}", l.day, l.month, if l.leap { " (nhuận)" } else { "" }, l.year);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the published keys and which one signs.
    List,
    /// Add a new key (published at once, signing after a minute) and retire keys superseded
    /// long enough ago that no token they signed is still valid.
    Rotate,
    /// Print a new random key-encryption key (base64) for `key_encryption_key_file`.
    GenerateKek,
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an active account for a person in the register; the password is read from
    /// standard input. Level 2 prints the TOTP key and recovery codes once.
    Create {
        #[arg(long)]
        pid: String,
        #[arg(long, default_value_t = 1)]
        level: i64,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Make the holder an officer with this role (e.g. registry-officer).
        #[arg(long)]
        role: Option<String>,
        /// Units of the officer role: 2-digit province or 5-digit commune codes.
        #[arg(long = "unit")]
        units: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client.
    Create {
        #[arg(long)]
        id: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Scopes, space- or comma-separated, or repeated.
        #[arg(long = "scopes", value_delimiter = ',')]
        scopes: Vec<String>,
        /// Grant types: authorization_code, refresh_token, client_credentials.
        #[arg(long = "grant-types", value_delimiter = ',')]
        grant_types: Vec<String>,
        /// Read the client secret from standard input (client_secret_basic).
        #[arg(long, conflicts_with = "jwks_file")]
        secret_stdin: bool,
        /// The client's public keys (JWKS JSON file) for private_key_jwt.
        #[arg(long)]
        jwks_file: Option<PathBuf>,
        /// pairwise (default) or public subject identifiers.
        #[arg(long)]
        subject_type: Option<String>,
        /// For client_credentials: the role its tokens carry (e.g. agency-system).
        #[arg(long)]
        role: Option<String>,
        #[arg(long = "unit")]
        units: Vec<String>,
    },
}

fn parse_role(role: &str) -> anyhow::Result<Role> {
    Role::parse(role)
        .ok_or_else(|| anyhow::anyhow!("unknown role {role:?}; roles: {}", Role::ALL.map(|r| r.as_str()).join(", ")))
}

fn parse_units(units: &[String]) -> anyhow::Result<Vec<String>> {
    units.iter().map(|u| UnitCode::parse(u).map(|c| c.as_str().to_owned()).map_err(anyhow::Error::from)).collect()
}

fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| anyhow::anyhow!("cannot read the {what} from standard input: {e}"))?;
    let line = line.trim_end_matches(['\n', '\r']).to_owned();
    if line.is_empty() {
        anyhow::bail!("the {what} on standard input is empty");
    }
    Ok(line)
}

fn issuer_of(config: &Config) -> String {
    config.issuer.clone().unwrap_or_else(|| format!("http://{}", config.listen))
}

async fn account_command(config: &Config, command: AccountCommand) -> anyhow::Result<ExitCode> {
    let AccountCommand::Create { pid, level, password_stdin: _, role, units } = command;
    let role = role.as_deref().map(parse_role).transpose()?;
    let units = parse_units(&units)?;
    if role.is_some() && units.is_empty() {
        anyhow::bail!("an officer role needs at least one --unit");
    }
    let password = read_stdin_line("password")?;
    let db = civitas::open(&config.database).await?;
    let identity = civitas::identity(&db, &issuer_of(config), config.kek()?).await?;
    let second = identity
        .create_account(&pid, level, &password, "operator", civitas::now())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(role) = role {
        identity
            .set_officer_role(&pid, role, &units, "operator", civitas::now())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!("account {pid} created (level {level})");
    if let Some(s) = second {
        println!(
            "TOTP key: {}\notpauth URI: {}\nrecovery codes: {}",
            s.totp_secret,
            s.otpauth_uri,
            s.recovery_codes.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn client_command(config: &Config, command: ClientCommand) -> anyhow::Result<ExitCode> {
    let ClientCommand::Create {
        id,
        name,
        redirect_uris,
        post_logout_redirect_uris,
        scopes,
        grant_types,
        secret_stdin,
        jwks_file,
        subject_type,
        role,
        units,
    } = command;
    let split = |v: Vec<String>| {
        v.iter().flat_map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>()).collect::<Vec<_>>()
    };
    let secret = if secret_stdin { Some(read_stdin_line("client secret")?) } else { None };
    let jwks = match jwks_file {
        Some(path) => {
            let text =
                std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            #[derive(serde::Deserialize)]
            struct Set {
                keys: Vec<civitas_identity::keys::Jwk>,
            }
            serde_json::from_str::<Set>(&text)
                .map_err(|e| anyhow::anyhow!("{} is not a JWKS of EC P-256 keys: {e}", path.display()))?
                .keys
        }
        None => vec![],
    };
    let new = civitas_identity::NewClient {
        id: id.clone(),
        name,
        secret,
        jwks,
        redirect_uris,
        post_logout_redirect_uris,
        scopes: split(scopes),
        grant_types: split(grant_types),
        subject_type,
        role: role.as_deref().map(parse_role).transpose()?,
        units: parse_units(&units)?,
    };
    let db = civitas::open(&config.database).await?;
    let identity = civitas::identity(&db, &issuer_of(config), config.kek()?).await?;
    identity.create_client(new, civitas::now()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("client {id} registered");
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(mut c) => {
            if let Some(db) = &cli.database {
                c.database = db.clone();
            }
            c
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { listen, demo } => cli_serve::serve(config, listen, demo).await,
        Command::Migrate => {
            civitas::open(&config.database).await?;
            println!("database {} is up to date", civitas::redact(&config.database));
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate { people, province, seed, as_of } => generate(people, &province, seed, as_of.as_deref()),
        Command::Import { file, batch } => import_file(&config, file, batch).await,
        Command::Export { output } => export(&config, output).await,
        Command::Token { role, units, subject, ttl_hours } => {
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("unknown role {role:?}; roles: {}", Role::ALL.map(|r| r.as_str()).join(", "))
            })?;
            let units = units.iter().map(|u| UnitCode::parse(u)).collect::<Result<Vec<_>, _>>()?;
            let db = civitas::open(&config.database).await?;
            let keys = KeyRing::open(&db, civitas::now(), config.kek()?).await?;
            let ttl = ttl_hours.unwrap_or(config.token_ttl_hours);
            if !(1..=24 * 90).contains(&ttl) {
                anyhow::bail!("--ttl-hours must be between 1 and 2160");
            }
            println!("{}", tokens::issue(&keys, &subject, role, &units, civitas::now().unix_timestamp(), ttl * 3600));
            Ok(ExitCode::SUCCESS)
        }
        Command::Account { command } => account_command(&config, command).await,
        Command::Client { command } => client_command(&config, command).await,
        Command::Audit { command } => cli_audit::audit(command).await,
        Command::Witness { command } => cli_audit::witness(command).await,
        Command::Log { command } => cli_audit::log(&config, &issuer_of(&config), command).await,
        Command::Keys { command } => {
            if matches!(command, KeysCommand::GenerateKek) {
                println!("{}", civitas_identity::kek::Kek::generate());
                return Ok(ExitCode::SUCCESS);
            }
            let db = civitas::open(&config.database).await?;
            let kek = config.kek()?;
            // Opening the ring seals keys stored in the clear when a KEK is configured.
            KeyRing::open(&db, civitas::now(), kek.clone()).await?;
            if matches!(command, KeysCommand::Rotate) {
                let (kid, retired) = KeyRing::rotate(&db, civitas::now(), kek.as_deref()).await?;
                println!(
                    "new key {kid} (signs from {} s on); retired: {}",
                    civitas_identity::keys::PUBLISH_BEFORE_USE_SECS,
                    if retired.is_empty() { "none".to_owned() } else { retired.join(", ") }
                );
            }
            for k in KeyRing::list(&db, civitas::now(), kek.as_deref()).await? {
                println!("{}  created {}{}", k.kid, k.created_at, if k.signing { "  (signing)" } else { "" });
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Calendar { command, overrides } => calendar_command(command, overrides),
        Command::Openapi => {
            println!("{}", civitas_web::openapi::json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out } => cli_ops::backup(&config, &out).await,
        Command::Restore { from, force } => cli_ops::restore(&config, &from, force).await,
        Command::Outbound { command } => cli_ops::outbound(&config, command).await,
        Command::Archive { command: Some(command), .. } => cli_archive::run(&config, command).await,
        Command::Archive { command: None, before: Some(before), out: Some(out) } => {
            cli_ops::archive(&config, &before, &out).await
        }
        Command::Archive { .. } => {
            anyhow::bail!(
                "civitas archive: give a subcommand (export, verify, fixity, disposal) or --before YYYY-MM --out DIR"
            )
        }
        Command::MigrateData { from, to } => cli_ops::migrate_data(&from, &to).await,
        Command::Agency { command } => cli_agency::agency(&config, command).await,
        Command::Trust { command } => cli_cards::trust_command(&config, command).await,
        Command::Cards { command } => cli_cards::cards_command(&config, command).await,
        Command::Reports { command } => cli_reports::reports(&config, command).await,
        Command::CardSim { command } => cli_cards::card_sim(&config, command).await,
        Command::Webhooks { command } => {
            let db = civitas::open(&config.database).await?;
            match command {
                WebhooksCommand::Dead => {
                    for d in civitas_services::followups::dead_letters(&db, 1000).await? {
                        println!(
                            "{}  {}  {}  dossier {}  attempts {}  {}",
                            d.id,
                            d.agency_id,
                            d.kind,
                            d.dossier_code,
                            d.attempts,
                            d.last_error.unwrap_or_default()
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                WebhooksCommand::Replay { id } => {
                    let now = civitas::now();
                    if civitas_services::followups::replay(
                        &db,
                        &id,
                        now.unix_timestamp(),
                        &civitas_store::timestamp(now),
                    )
                    .await?
                    {
                        println!("{id}: queued again");
                        Ok(ExitCode::SUCCESS)
                    } else {
                        eprintln!("no dead letter {id}");
                        Ok(ExitCode::from(1))
                    }
                }
            }
        }
        Command::Verify { file, payload, keys, jwks } => verify_command(file, payload, keys, jwks).await,
        Command::PortalSim { listen, client_id, client_secret_file } => {
            let secret = match client_secret_file {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                    .trim()
                    .to_owned(),
                None => civitas::DEMO_PORTAL_SECRET.to_owned(),
            };
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            let addr = listener.local_addr()?;
            println!(
                "portal simulator on http://{addr}/ (token: /token, calls: /api); received: http://{addr}/dossiers"
            );
            let sim = civitas_exchange::portal_sim::PortalSim::new(&client_id, &secret);
            axum::serve(listener, civitas_exchange::portal_sim::router(sim))
                .with_graceful_shutdown(cli_serve::shutdown_signal())
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::AgencySim { listen, jwks, refuse } => {
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            println!(
                "agency simulator on http://{}/hooks (keys from {jwks}); received: http://{}/received",
                listener.local_addr()?,
                listener.local_addr()?
            );
            let sim = civitas_exchange::sim::Sim::new(&jwks, refuse);
            axum::serve(listener, civitas_exchange::sim::router(sim))
                .with_graceful_shutdown(cli_serve::shutdown_signal())
                .await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn verify_command(
    file: Option<PathBuf>,
    payload: Option<String>,
    keys: Option<PathBuf>,
    jwks: Option<String>,
) -> anyhow::Result<ExitCode> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<civitas_identity::keys::Jwk>,
    }
    let fail = |why: String| {
        println!("NOT VALID: {why}");
        Ok(ExitCode::from(1))
    };
    let payload = match (payload, file) {
        (Some(p), _) => p.trim().to_owned(),
        (None, Some(f)) => {
            let bytes = std::fs::read(&f).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?;
            match civitas_services::verification::payload_of_pdf(&bytes) {
                Some(p) => p,
                None => return fail(format!("{} carries no certificate payload", f.display())),
            }
        }
        (None, None) => anyhow::bail!("give a certificate PDF or --payload TEXT"),
    };
    let set: Set = match (keys, jwks) {
        (Some(path), _) => {
            let text =
                std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not a JWKS: {e}", path.display()))?
        }
        (None, Some(url)) => {
            let text = reqwest::get(&url).await.map_err(|e| anyhow::anyhow!("cannot fetch {url}: {e}"))?.text().await?;
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{url} is not a JWKS: {e}"))?
        }
        (None, None) => anyhow::bail!("give the issuer's keys: --keys FILE or --jwks URL"),
    };
    if payload.matches('.').count() != 2 {
        return fail("the payload is not a signed certificate (expected a compact JWS)".into());
    }
    match civitas_identity::tokens::verify_with_jwks::<civitas_services::certificate_issue::CertClaims>(
        &set.keys, &payload,
    ) {
        Some(c) => {
            println!("VALID SIGNATURE: {} no. {} (certificate {}, issued by {})", c.typ, c.no, c.id, c.iss);
            for (k, v) in &c.f {
                println!("  {k}: {v}");
            }
            println!("(whether it was since corrected or revoked: {}/verify?payload=...)", c.iss);
            Ok(ExitCode::SUCCESS)
        }
        None => fail("the signature does not verify with these keys (altered, or signed by someone else)".into()),
    }
}
