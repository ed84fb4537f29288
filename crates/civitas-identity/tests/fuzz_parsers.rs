//! A bounded mutation fuzz run of every chip-card parser and of the two checks built on them
//! (issue #16): seeds are real-shaped files from the card simulator (SOD, DG1, DG2, DG13, DG14,
//! DG15, a certificate, a CRL, a master list, the MRZ and the card QR text); each round mutates a
//! corpus entry (bit flips, random bytes, inserted and deleted runs, duplicated runs, bent length
//! bytes, truncation, splices of two entries) and every input that parses joins the corpus. A
//! panic, or one input taking over 200 ms, fails the run and prints the input in hex.
//!
//! Not coverage-guided: cargo-fuzz needs a nightly toolchain, which this project's machines do
//! not have. Time per target: `CIVITAS_FUZZ_SECS` (default 30 s with `CI=true`, else 2 s).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use civitas_core::chip::{Dg13, Value13};
use civitas_core::mrz::Td1;
use civitas_identity::chip::{Allow, Anchor, Chip, TrustStore, aa, passive_check, sim, trust};

/// A fixed clock: the seeds' certificates and card are valid around it.
const NOW: time::OffsetDateTime = time::macros::datetime!(2026-12-01 08:00 UTC);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let source = &corpus[rng.below(corpus.len())];
    let mut v = source.clone();
    for _ in 0..=rng.below(4) {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, bytes);
            }
            3 if len > 1 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(32));
                v.drain(at..at + n);
            }
            4 if len > 1 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let run = v[at..at + n].to_vec();
                let to = rng.below(len + 1);
                v.splice(to..to, run);
            }
            5 if len > 0 => {
                // A length byte bent: a byte after a tag-looking byte moved up or down.
                let i = rng.below(len);
                v[i] = match rng.below(4) {
                    0 => v[i].wrapping_add(1),
                    1 => v[i].wrapping_sub(1),
                    2 => 0x80 | rng.below(5) as u8,
                    _ => 0xff,
                };
            }
            6 if len > 0 => v.truncate(rng.below(len)),
            7 => {
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(v.len() + 1);
                let from = rng.below(other.len() + 1);
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            _ => {}
        }
    }
    if &v == source {
        // Never the input itself: one bit at least.
        if v.is_empty() {
            v.push(rng.next() as u8);
        } else {
            let i = rng.below(v.len());
            v[i] ^= 1 << rng.below(8);
        }
    }
    v
}

fn budget() -> Duration {
    let secs = std::env::var("CIVITAS_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| if std::env::var("CI").is_ok_and(|v| v == "true") { 30.0 } else { 2.0 });
    Duration::from_secs_f64(secs)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Fuzzes `target` from `seeds` for the budget; returns (runs, accepted).
fn fuzz(name: &str, seeds: Vec<Vec<u8>>, seed: u64, target: impl Fn(&[u8]) -> bool) -> (u64, u64) {
    let mut corpus = seeds;
    let mut rng = Rng(seed | 1);
    let budget = budget();
    let started = Instant::now();
    let (mut runs, mut accepted) = (0u64, 0u64);
    while started.elapsed() < budget {
        let input = mutate(&mut rng, &corpus);
        let t = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| target(&input)));
        let took = t.elapsed();
        match outcome {
            Ok(ok) => {
                if ok {
                    accepted += 1;
                    if corpus.len() < 4096 && input.len() < 256 * 1024 {
                        corpus.push(input.clone());
                    }
                }
            }
            Err(_) => panic!("{name}: a panic on input {}", hex(&input)),
        }
        assert!(took < Duration::from_millis(200), "{name}: {took:?} on input {}", hex(&input));
        runs += 1;
    }
    eprintln!("fuzz {name}: {runs} inputs in {:.0?}, {accepted} accepted, corpus {}", started.elapsed(), corpus.len());
    assert!(runs > 100, "{name}: too few runs ({runs})");
    (runs, accepted)
}

struct Seeds {
    card: sim::Card,
    store: TrustStore,
    cert: Vec<u8>,
    crl: Vec<u8>,
    master_list: Vec<u8>,
    mrz: String,
}

fn seeds() -> Seeds {
    let now = NOW;
    let csca = sim::csca("VN", "fuzz", now - time::Duration::days(1000));
    let ds = sim::signer(&csca, "fuzz", 7, (now - time::Duration::days(900), now + time::Duration::days(3000)), &[]);
    let td1: Td1 = "IDVNM0901234562001090123456<<3\n9001011M3001019VNM<<<<<<<<<<<4\nNGUYEN<<VAN<AN<<<<<<<<<<<<<<<<"
        .parse()
        .expect("a sample MRZ");
    let mut items = BTreeMap::new();
    for (id, v) in [
        (1, "001090123456"),
        (2, "Nguyễn Văn An"),
        (3, "01/01/1990"),
        (4, "Nam"),
        (11, "15/03/2022"),
        (12, "01/01/2030"),
    ] {
        items.insert(id, Value13::Text(v.into()));
    }
    items.insert(13, Value13::List(vec!["Nguyễn Văn Bình".into(), "Trần Thị Cúc".into()]));
    let card = sim::card(&td1, &Dg13 { version: 1, items }, &ds, now - time::Duration::days(30), "fuzz");
    let mls = sim::signer(
        &csca,
        "mls",
        9,
        (now - time::Duration::days(900), now + time::Duration::days(3000)),
        &["2.23.136.1.1.3"],
    );
    let store = TrustStore {
        anchors: vec![Anchor {
            id: trust::fingerprint(&csca.cert),
            cert: civitas_core::chip::parse_certificate(&csca.cert).expect("csca"),
            kind: "csca".into(),
            source: "fuzz".into(),
        }],
        crls: vec![],
        ..TrustStore::default()
    };
    Seeds {
        crl: sim::crl(&csca, &[7, 8, 9], now),
        master_list: sim::master_list(&[&csca.cert], &mls),
        cert: ds.cert.clone(),
        mrz: td1.to_lines().join("\n"),
        card,
        store,
    }
}

#[test]
fn every_chip_parser_survives_a_bounded_fuzz_run() {
    let s = seeds();
    let dg = |n: u8| vec![s.card.dgs[&n].clone()];
    use civitas_core::chip as c;
    fuzz("mrz", vec![s.mrz.clone().into_bytes()], 1, |b| {
        std::str::from_utf8(b).is_ok_and(|t| t.parse::<Td1>().is_ok())
    });
    fuzz("card-qr", vec![b"001090123456|123456789|Nguy\xe1\xbb\x85n V\xc4\x83n An|01011990|Nam|S\xe1\xbb\x91 5 ph\xe1\xbb\x91 \xc4\x90\xe1\xbb\x99i C\xe1\xba\xa5n, Ba \xc4\x90\xc3\xacnh, H\xc3\xa0 N\xe1\xbb\x99i|15032022".to_vec()], 2, |b| {
        std::str::from_utf8(b).is_ok_and(|t| t.parse::<civitas_core::card::CardQr>().is_ok())
    });
    fuzz("dg1", dg(1), 3, |b| c::parse_dg1(b).is_ok());
    fuzz("dg2", dg(2), 4, |b| c::parse_dg2(b).is_ok());
    fuzz("dg13", dg(13), 5, |b| c::parse_dg13(b).is_ok());
    fuzz("dg15", dg(15), 6, |b| c::parse_dg15(b).is_ok());
    fuzz("sod", vec![s.card.sod.clone()], 7, |b| c::parse_sod(b).is_ok());
    let lds = c::parse_sod(&s.card.sod).expect("sod").signed.econtent;
    fuzz("lds", vec![lds], 8, |b| c::parse_lds(b).is_ok());
    fuzz("certificate", vec![s.cert.clone()], 9, |b| c::parse_certificate(b).is_ok());
    fuzz("crl", vec![s.crl.clone()], 10, |b| c::parse_crl(b).is_ok());
    fuzz("master-list", vec![s.master_list.clone()], 11, |b| c::parse_master_list(b).is_ok());
    // The checks end to end: a mutated SOD, or one mutated data group, through passive
    // authentication; a mutated DG15 or answer through active authentication.
    let allow = Allow::default();
    let now = NOW;
    fuzz("passive-check-sod", vec![s.card.sod.clone()], 12, |b| {
        passive_check(&Chip { sod: b, dgs: &s.card.dgs }, &s.store, &allow, now).is_ok()
    });
    let all: Vec<Vec<u8>> = s.card.dgs.values().cloned().collect();
    fuzz("passive-check-dgs", all, 13, |b| {
        let mut dgs = s.card.dgs.clone();
        let n = *[1u8, 2, 13, 14, 15].get(b.len() % 5).unwrap_or(&1);
        dgs.insert(n, b.to_vec());
        passive_check(&Chip { sod: &s.card.sod, dgs: &dgs }, &s.store, &allow, now).is_ok()
    });
    let challenge = [3u8; 8];
    let answer = sim::answer(&s.card.aa_key, &challenge);
    let dg15 = s.card.dgs[&15].clone();
    fuzz("active-check", vec![dg15.clone(), answer.clone()], 14, |b| {
        aa::active_check(b, None, &challenge, &answer, &allow).is_ok()
            || aa::active_check(&dg15, None, &challenge, b, &allow).is_ok()
    });
}
