//! Chip card verification speed (issue #16's targets): passive authentication of simulated cards
//! (ECDSA P-256, SHA-256: the DS certificate's signature by the CSCA, the SOD's signature, five
//! data-group hashes, the DG1/DG13 cross-checks) on one thread, Active Authentication checks, and
//! the parsers' throughput in MB/s on real-shaped inputs.
//! Usage: `cargo bench --bench chip [-- SECONDS_PER_MEASURE]`. Prints JSON lines.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use civitas_core::chip::{Dg13, Value13};
use civitas_core::mrz::Td1;
use civitas_identity::chip::{Allow, Anchor, Chip, TrustStore, aa, passive_check, sim, trust};

fn measure(label: &str, secs: f64, bytes: usize, mut f: impl FnMut()) {
    // Warm up, then count runs for the given time.
    for _ in 0..50 {
        f();
    }
    let until = Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut runs = 0u64;
    while started.elapsed() < until {
        for _ in 0..64 {
            f();
        }
        runs += 64;
    }
    let s = started.elapsed().as_secs_f64();
    let per_sec = runs as f64 / s;
    let mb = if bytes > 0 { format!(",\"mb_per_s\":{:.1}", per_sec * bytes as f64 / 1e6) } else { String::new() };
    println!("{{\"label\":\"{label}\",\"runs\":{runs},\"per_s\":{per_sec:.0},\"us_each\":{:.2}{mb}}}", 1e6 / per_sec);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let secs: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let now = civitas::now();
    let csca = sim::csca("VN", "bench", now - time::Duration::days(1000));
    let ds = sim::signer(&csca, "bench", 7, (now - time::Duration::days(900), now + time::Duration::days(3000)), &[]);
    let td1 = Td1 {
        document_code: "ID".into(),
        issuer: "VNM".into(),
        pid: "001090123456".parse().expect("pid"),
        birth: "900315".into(),
        sex: Some(civitas_core::Sex::Male),
        expiry: Some("300315".into()),
        nationality: "VNM".into(),
        surname: "NGUYEN".into(),
        given_names: "VAN AN".into(),
    };
    let mut items = BTreeMap::new();
    for (id, v) in [
        (1, "001090123456"),
        (2, "Nguyễn Văn An"),
        (3, "15/03/1990"),
        (4, "Nam"),
        (5, "Việt Nam"),
        (6, "Kinh"),
        (7, "Không"),
        (8, "Phường Ba Đình, Thành phố Hà Nội"),
        (9, "Số 5 phố Đội Cấn, Phường Ba Đình, Thành phố Hà Nội"),
        (11, "15/03/2022"),
        (12, "15/03/2030"),
    ] {
        items.insert(id, Value13::Text(v.into()));
    }
    items.insert(13, Value13::List(vec!["Nguyễn Văn Bình".into(), "Trần Thị Cúc".into()]));
    let dg13 = Dg13 { version: 1, items };
    let card = sim::card(&td1, &dg13, &ds, now - time::Duration::days(30), "bench");
    let store = TrustStore {
        anchors: vec![Anchor {
            id: trust::fingerprint(&csca.cert),
            cert: civitas_core::chip::parse_certificate(&csca.cert).expect("csca"),
            kind: "csca".into(),
            source: "bench".into(),
        }],
        crls: vec![],
        ..TrustStore::default()
    };
    let allow = Allow::default();
    let chip = Chip { sod: &card.sod, dgs: &card.dgs };
    passive_check(&chip, &store, &allow, now).expect("the bench card verifies");
    let data_bytes: usize = card.sod.len() + card.dgs.values().map(Vec::len).sum::<usize>();
    measure("passive_authentication_p256", secs, data_bytes, || {
        black_box(passive_check(black_box(&chip), &store, &allow, now).is_ok());
    });
    let challenge = [7u8; 8];
    let answer = sim::answer(&card.aa_key, &challenge);
    let dg15 = &card.dgs[&15];
    measure("active_authentication_p256", secs, 0, || {
        black_box(aa::active_check(dg15, None, &challenge, &answer, &allow).is_ok());
    });
    let sod = card.sod.clone();
    measure("parse_sod", secs, sod.len(), || {
        black_box(civitas_core::chip::parse_sod(black_box(&sod)).is_ok());
    });
    let dg13_bytes = card.dgs[&13].clone();
    measure("parse_dg13", secs, dg13_bytes.len(), || {
        black_box(civitas_core::chip::parse_dg13(black_box(&dg13_bytes)).is_ok());
    });
    let dg1 = card.dgs[&1].clone();
    measure("parse_dg1", secs, dg1.len(), || {
        black_box(civitas_core::chip::parse_dg1(black_box(&dg1)).is_ok());
    });
    let dg2 = card.dgs[&2].clone();
    measure("parse_dg2", secs, dg2.len(), || {
        black_box(civitas_core::chip::parse_dg2(black_box(&dg2)).is_ok());
    });
    let cert = ds.cert.clone();
    measure("parse_certificate", secs, cert.len(), || {
        black_box(civitas_core::chip::parse_certificate(black_box(&cert)).is_ok());
    });
    let list: Vec<Vec<u8>> =
        (0..200).map(|i| sim::csca("VN", &format!("ml{i}"), now - time::Duration::days(10)).cert).collect();
    let refs: Vec<&[u8]> = list.iter().map(Vec::as_slice).collect();
    let mls = sim::signer(
        &csca,
        "mls",
        9,
        (now - time::Duration::days(900), now + time::Duration::days(3000)),
        &["2.23.136.1.1.3"],
    );
    let master = sim::master_list(&refs, &mls);
    measure("parse_master_list_200", secs, master.len(), || {
        black_box(civitas_core::chip::parse_master_list(black_box(&master)).is_ok());
    });
}
