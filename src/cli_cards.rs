//! `civitas trust` (the CSCA trust store), `civitas cards verify` (a card's files checked
//! offline) and `civitas card-sim` (synthetic cards of people of the register).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use civitas::config::Config;
use civitas_identity::chip::{Anchor, TrustStore, sim, trust, verdict};

#[derive(Subcommand)]
pub enum TrustCommand {
    /// Trusts the CSCA certificates of a PEM or DER file (self-signed CAs, or link certificates
    /// signed by a CSCA already trusted). An entry of the transparency log.
    AddCsca { file: PathBuf },
    /// Trusts the CSCAs of an ICAO master list, once its signature verifies and its signer
    /// (extended key usage 2.23.136.1.1.3) chains to a CSCA already trusted.
    ImportMasterlist { file: PathBuf },
    /// Records a CSCA's CRL (PEM or DER), once that CSCA's signature on it verifies.
    ImportCrl { file: PathBuf },
    /// Lists the trusted CSCAs.
    List,
}

#[derive(Subcommand)]
pub enum CardsCommand {
    /// Checks a card's files offline (passive authentication in CHIP.md's order). Prints the
    /// verdict as JSON; exit 0 when valid, 1 with the failure's code otherwise.
    Verify {
        #[arg(long)]
        sod: PathBuf,
        #[arg(long)]
        dg1: PathBuf,
        #[arg(long)]
        dg13: PathBuf,
        #[arg(long)]
        dg14: Option<PathBuf>,
        #[arg(long)]
        dg15: Option<PathBuf>,
        /// Trust these CSCA certificates (PEM or DER, repeatable) instead of the database's
        /// trust store.
        #[arg(long)]
        csca: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum CardSimCommand {
    /// Writes the simulator's test CSCA certificate (PEM).
    Csca {
        #[arg(long, default_value = "demo")]
        seed: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Writes an ICAO master list carrying the test CSCA, signed by its master-list signer.
    MasterList {
        #[arg(long, default_value = "demo")]
        seed: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Writes the test CSCA's CRL (listing the Document Signer with --revoke-ds).
    Crl {
        #[arg(long, default_value = "demo")]
        seed: String,
        #[arg(long)]
        revoke_ds: bool,
        #[arg(long)]
        out: PathBuf,
    },
    /// Issues a synthetic chip for a person of the register: sod.bin, dg1.bin, dg13.bin,
    /// dg14.bin, dg15.bin and card.json (the body of POST /api/v1/cards/verify) in DIR.
    Issue {
        #[arg(long)]
        pid: String,
        #[arg(long, default_value = "demo")]
        seed: String,
        /// genuine, tampered-dg13, foreign-csca, expired-ds, no-dg15 (clone: see `answer`).
        #[arg(long, default_value = "genuine")]
        variant: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// The chip's answer to an Active Authentication challenge (hex in, hex out); `--clone`
    /// answers as a cloned chip without the card's key would.
    Answer {
        #[arg(long)]
        pid: String,
        #[arg(long, default_value = "demo")]
        seed: String,
        #[arg(long)]
        challenge: String,
        #[arg(long)]
        clone: bool,
    },
}

fn operator() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()))
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub async fn trust_command(config: &Config, command: TrustCommand) -> anyhow::Result<ExitCode> {
    let db = civitas::open(&config.database).await?;
    let allow = config.card_policy()?;
    let now = civitas::now();
    let outcome = match &command {
        TrustCommand::AddCsca { file } => trust::add_csca(&db, &read(file)?, &allow, &operator(), now).await,
        TrustCommand::ImportMasterlist { file } => {
            trust::import_master_list(&db, &read(file)?, &allow, &operator(), now).await
        }
        TrustCommand::ImportCrl { file } => {
            match trust::import_crl(&db, &read(file)?, &allow, &operator(), now).await {
                Ok(crl) => {
                    println!(
                        "CRL of {} ({} revoked), this update {}, next {}",
                        crl.issuer,
                        crl.revoked,
                        crl.this_update,
                        crl.next_update.as_deref().unwrap_or("-")
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => {
                    eprintln!("civitas: {e} [{}]", e.code());
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        TrustCommand::List => {
            for a in trust::list(&db).await? {
                println!(
                    "{}  {}  {}  {} .. {}  {}  ({})",
                    &a.id[..16],
                    a.kind,
                    a.subject,
                    &a.not_before[..10.min(a.not_before.len())],
                    &a.not_after[..10.min(a.not_after.len())],
                    a.source,
                    a.added_at
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    match outcome {
        Ok(report) => {
            for a in &report.added {
                println!("trusted {}  {}  {}", &a.id[..16], a.kind, a.subject);
            }
            for id in &report.already_trusted {
                println!("already trusted {}", &id[..16.min(id.len())]);
            }
            for (id, why) in &report.skipped {
                println!("skipped {}: {why}", &id[..16.min(id.len())]);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("civitas: {e} [{}]", e.code());
            Ok(ExitCode::FAILURE)
        }
    }
}

pub async fn cards_command(config: &Config, command: CardsCommand) -> anyhow::Result<ExitCode> {
    let CardsCommand::Verify { sod, dg1, dg13, dg14, dg15, csca } = command;
    let allow = config.card_policy()?;
    let store = if csca.is_empty() {
        trust::load(&civitas::open(&config.database).await?).await?
    } else {
        let mut store = TrustStore::default();
        for file in &csca {
            for der in trust::pem_or_der(&read(file)?).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))? {
                let cert = civitas_core::chip::parse_certificate(&der)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                let kind = trust::anchor_kind(&cert, &store, &allow)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                store.anchors.push(Anchor {
                    id: trust::fingerprint(&der),
                    cert,
                    kind: kind.into(),
                    source: file.display().to_string(),
                });
            }
        }
        store
    };
    let mut dgs = BTreeMap::new();
    dgs.insert(1u8, read(&dg1)?);
    dgs.insert(13, read(&dg13)?);
    if let Some(f) = dg14 {
        dgs.insert(14, read(&f)?);
    }
    if let Some(f) = dg15 {
        dgs.insert(15, read(&f)?);
    }
    let (v, _) = verdict::verdict(&read(&sod)?, &dgs, &store, &allow, civitas::now());
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(if v.valid {
        ExitCode::SUCCESS
    } else {
        eprintln!("civitas: {}", v.failure.as_ref().map(|f| f.code).unwrap_or("invalid"));
        ExitCode::FAILURE
    })
}

/// The simulator's authorities for a seed: the CSCA, its Document Signer, an expired DS, the
/// master-list signer, and a foreign CSCA with its DS. Fixed dates keep them deterministic.
struct Authorities {
    csca: sim::Authority,
    ds: sim::Authority,
    expired_ds: sim::Authority,
    mls: sim::Authority,
    foreign_ds: sim::Authority,
}

fn authorities(seed: &str) -> Authorities {
    use time::macros::datetime;
    let from = datetime!(2020-01-01 0:00 UTC);
    let valid = (datetime!(2020-06-01 0:00 UTC), datetime!(2045-01-01 0:00 UTC));
    let csca = sim::csca("VN", seed, from);
    let ds = sim::signer(&csca, seed, 1001, valid, &[]);
    let expired_ds = sim::signer(&csca, &format!("{seed}-expired"), 1002, (from, datetime!(2020-06-01 0:00 UTC)), &[]);
    let mls = sim::signer(&csca, &format!("{seed}-mls"), 1003, valid, &["2.23.136.1.1.3"]);
    let foreign = sim::csca("VN", &format!("{seed}-foreign"), from);
    let foreign_ds = sim::signer(&foreign, &format!("{seed}-foreign"), 2001, valid, &[]);
    Authorities { csca, ds, expired_ds, mls, foreign_ds }
}

fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub async fn card_sim(config: &Config, command: CardSimCommand) -> anyhow::Result<ExitCode> {
    match command {
        CardSimCommand::Csca { seed, out } => write(&out, pem(&authorities(&seed).csca.cert).as_bytes())?,
        CardSimCommand::MasterList { seed, out } => {
            let a = authorities(&seed);
            write(&out, &sim::master_list(&[&a.csca.cert], &a.mls))?
        }
        CardSimCommand::Crl { seed, revoke_ds, out } => {
            let a = authorities(&seed);
            let revoked: &[u64] = if revoke_ds { &[a.ds.serial] } else { &[] };
            write(&out, &sim::crl(&a.csca, revoked, civitas::now()))?
        }
        CardSimCommand::Issue { pid, seed, variant, out } => {
            let db = civitas::open(&config.database).await?;
            let pid: civitas_core::Pid = pid.parse().map_err(|e| anyhow::anyhow!("--pid: {e}"))?;
            let register = civitas_registry::Register::new(db.clone());
            let person = register.get(&pid).await?.ok_or_else(|| anyhow::anyhow!("no person has ID number {pid}"))?;
            let card = sim_card(&db, &person, &seed, &variant).await?;
            std::fs::create_dir_all(&out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            write(&out.join("sod.bin"), &card.sod)?;
            for (n, bytes) in &card.dgs {
                write(&out.join(format!("dg{n}.bin")), bytes)?;
            }
            use base64::Engine;
            let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
            let mut body = serde_json::json!({"sod": b64(&card.sod)});
            for (n, bytes) in &card.dgs {
                body[format!("dg{n}")] = serde_json::json!(b64(bytes));
            }
            write(&out.join("card.json"), serde_json::to_string_pretty(&body)?.as_bytes())?;
            println!("{}", out.display());
        }
        CardSimCommand::Answer { pid, seed, challenge, clone } => {
            let bytes = (0..challenge.len())
                .step_by(2)
                .map(|i| challenge.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| anyhow::anyhow!("--challenge must be hex"))?;
            let key =
                if clone { sim::key(&format!("clone {seed} {pid}")) } else { sim::key(&format!("aa {seed} {pid}")) };
            let answer: String = sim::answer(&key, &bytes).iter().map(|b| format!("{b:02x}")).collect();
            println!("{answer}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The simulated card of a person: issued on their newest card's issue date (else today),
/// signed by the seed's DS, or the variant an attacker would bring.
pub async fn sim_card(
    db: &civitas_store::Db,
    person: &civitas_registry::model::Person,
    seed: &str,
    variant: &str,
) -> anyhow::Result<sim::Card> {
    let a = authorities(seed);
    let cards = civitas_services::cards::of_person(db, person.pid.as_str()).await?;
    let today = (civitas::now() + time::Duration::hours(7)).date();
    let issued = cards
        .first()
        .and_then(|c| c.issued_on.as_deref())
        .and_then(|d| time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or(today);
    let expiry = person.birth_date.to_date().and_then(|b| civitas_core::card::card_expiry(b, issued));
    let (td1, dg13) = sim::files_for(person, issued, expiry);
    let signed_at = issued.with_hms(9, 0, 0).map(|t| t.assume_utc()).unwrap_or(civitas::now());
    let card_seed = format!("{seed} {}", person.pid.as_str());
    let ds = match variant {
        "genuine" | "tampered-dg13" | "no-dg15" => &a.ds,
        "foreign-csca" => &a.foreign_ds,
        "expired-ds" => &a.expired_ds,
        other => anyhow::bail!(
            "--variant {other:?}: genuine, tampered-dg13, foreign-csca, expired-ds or no-dg15 (a clone: `answer --clone`)"
        ),
    };
    let mut card = sim::card(&td1, &dg13, ds, signed_at, &card_seed);
    match variant {
        "tampered-dg13" => {
            let mut changed = dg13.clone();
            changed.items.insert(3, civitas_core::chip::Value13::Text("01/01/1970".into()));
            card.dgs.insert(13, changed.to_der());
        }
        "no-dg15" => {
            card.dgs.remove(&15);
        }
        _ => {}
    }
    Ok(card)
}
