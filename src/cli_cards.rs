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
        dg2: Option<PathBuf>,
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
    /// Issues a synthetic chip for a person of the register: sod.bin, dg1.bin, dg2.bin,
    /// dg13.bin, dg14.bin, dg15.bin and card.json (the body of POST /api/v1/cards/verify) in DIR.
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
    let CardsCommand::Verify { sod, dg1, dg2, dg13, dg14, dg15, csca } = command;
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
    if let Some(f) = dg2 {
        dgs.insert(2, read(&f)?);
    }
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
        CardSimCommand::Csca { seed, out } => {
            write(&out, pem(&civitas_onboarding::sim::authorities(&seed).csca.cert).as_bytes())?
        }
        CardSimCommand::MasterList { seed, out } => {
            let a = civitas_onboarding::sim::authorities(&seed);
            write(&out, &sim::master_list(&[&a.csca.cert], &a.mls))?
        }
        CardSimCommand::Crl { seed, revoke_ds, out } => {
            let a = civitas_onboarding::sim::authorities(&seed);
            let revoked: &[u64] = if revoke_ds { &[a.ds.serial] } else { &[] };
            write(&out, &sim::crl(&a.csca, revoked, civitas::now()))?
        }
        CardSimCommand::Issue { pid, seed, variant, out } => {
            let db = civitas::open(&config.database).await?;
            let pid: civitas_core::Pid = pid.parse().map_err(|e| anyhow::anyhow!("--pid: {e}"))?;
            let register = civitas_registry::Register::new(db.clone());
            let person = register.get(&pid).await?.ok_or_else(|| anyhow::anyhow!("no person has ID number {pid}"))?;
            let card = civitas_onboarding::sim::card_of(&db, &person, &seed, &variant, civitas::now()).await?;
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
