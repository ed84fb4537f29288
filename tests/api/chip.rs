//! Chip cards verified (issue #16, part 3): cards whose certificates and SOD OpenSSL made —
//! ECDSA P-256, RSA-PSS under an RSA CSCA, brainpoolP384r1 with explicit curve parameters under
//! a P-521 CSCA — verify when their CSCA is trusted and fail `ds_untrusted` when it is not;
//! OpenSSL verifies the simulator's SODs; `POST /api/v1/cards/verify` answers with the checks,
//! the card and the register match, and logs the register read.

use std::collections::BTreeMap;
use std::process::Command;

use base64::Engine;
use serde_json::{Value, json};

use civitas_core::chip::{Dg13, Value13};
use civitas_core::mrz::Td1;
use civitas_identity::Role;
use civitas_identity::chip::{Allow, Anchor, Chip, TrustStore, passive_check, sim, trust};

use crate::helpers::*;
use crate::on_both_databases;

/// An's card data: DG1 and DG13 as a chip holds them.
pub fn an_files() -> (Td1, Dg13) {
    let td1 = Td1 {
        document_code: "ID".into(),
        issuer: "VNM".into(),
        pid: AN.parse().unwrap(),
        birth: "900315".into(),
        sex: Some(civitas_core::Sex::Male),
        expiry: Some("300315".into()),
        nationality: "VNM".into(),
        surname: "NGUYEN".into(),
        given_names: "VAN AN".into(),
    };
    let mut items = BTreeMap::new();
    for (id, v) in [
        (1, AN),
        (2, "Nguyễn Văn An"),
        (3, "15/03/1990"),
        (4, "Nam"),
        (5, "Việt Nam"),
        (11, "15/03/2022"),
        (12, "15/03/2030"),
    ] {
        items.insert(id, Value13::Text(v.into()));
    }
    (td1, Dg13 { version: 1, items })
}

fn openssl_present() -> bool {
    match Command::new("openssl").arg("version").output() {
        Ok(o) => o.status.success(),
        Err(_) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("openssl is required in CI: run scripts/setup-test-env");
            }
            eprintln!("\n*** SKIPPED (openssl not installed: run scripts/setup-test-env) ***\n");
            false
        }
    }
}

struct Ossl {
    dir: TempDir,
}

impl Ossl {
    fn path(&self, name: &str) -> String {
        self.dir.0.join(name).to_str().unwrap().to_owned()
    }
    fn run(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }
    fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.path(name), bytes).unwrap();
        self.path(name)
    }
    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }
    /// A private key: `ec:<curve>`, `ec-explicit:<curve>` or `rsa:<bits>`.
    fn key(&self, name: &str, kind: &str) -> String {
        let out = self.path(name);
        match kind.split_once(':') {
            Some(("ec", curve)) => self.run(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                &format!("ec_paramgen_curve:{curve}"),
                "-out",
                &out,
            ]),
            Some(("ec-explicit", curve)) => self.run(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                &format!("ec_paramgen_curve:{curve}"),
                "-pkeyopt",
                "ec_param_enc:explicit",
                "-out",
                &out,
            ]),
            Some(("rsa", bits)) => self.run(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                &format!("rsa_keygen_bits:{bits}"),
                "-out",
                &out,
            ]),
            _ => panic!("{kind}"),
        };
        out
    }
    /// A self-signed CSCA (CA, keyCertSign) with `key`, digest `md`.
    fn csca(&self, name: &str, key: &str, md: &str, cn: &str) -> String {
        let ext = self.write(
            &format!("{name}.ext"),
            b"[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n",
        );
        let out = self.path(&format!("{name}.pem"));
        self.run(&[
            "req",
            "-new",
            "-x509",
            "-key",
            key,
            &format!("-{md}"),
            "-subj",
            &format!("/C=VN/O=Test/CN={cn}"),
            "-days",
            "3650",
            "-config",
            &ext,
            "-extensions",
            "v3",
            "-out",
            &out,
        ]);
        out
    }
    /// A Document Signer certificate for `key`, issued by `ca` (`ca_key`).
    fn ds(&self, name: &str, key: &str, ca: &str, ca_key: &str, md: &str) -> String {
        let csr = self.path(&format!("{name}.csr"));
        self.run(&["req", "-new", "-key", key, "-subj", "/C=VN/O=Test/CN=Document Signer", "-out", &csr]);
        let ext = self.write(&format!("{name}.ext"), b"keyUsage=critical,digitalSignature\n");
        let out = self.path(&format!("{name}.pem"));
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-set_serial",
            "4242",
            "-days",
            "3000",
            "-extfile",
            &ext,
            "-out",
            &out,
        ];
        let md = format!("-{md}");
        args.push(&md);
        self.run(&args);
        out
    }
    /// An EF.SOD over `lds` made by `openssl cms -sign` with the DS.
    fn sod(&self, lds: &[u8], ds: &str, ds_key: &str, md: &str, keyopts: &[&str]) -> Vec<u8> {
        let lds_path = self.write("lds.der", lds);
        let out = self.path("sod.cms");
        let mut args = vec![
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-nosmimecap",
            "-in",
            &lds_path,
            "-signer",
            ds,
            "-inkey",
            ds_key,
            "-outform",
            "DER",
            "-econtent_type",
            "2.23.136.1.1.1",
            "-md",
            md,
            "-out",
            &out,
        ];
        for o in keyopts {
            args.extend(["-keyopt", o]);
        }
        self.run(&args);
        civitas_core::chip::tlv_bytes(0x77, &self.read("sod.cms"))
    }
}

/// The LDSSecurityObject over `dgs` with `hash` (hashes by OpenSSL's `dgst`).
fn lds(o: &Ossl, dgs: &BTreeMap<u8, Vec<u8>>, hash: &str, hash_oid: &str) -> Vec<u8> {
    let entries: Vec<Vec<u8>> = dgs
        .iter()
        .map(|(n, bytes)| {
            let file = o.write(&format!("dg{n}.bin"), bytes);
            let h = o.run(&["dgst", &format!("-{hash}"), "-binary", &file]);
            sim::seq(&[sim::int(&[*n]), civitas_core::chip::tlv_bytes(0x04, &h)])
        })
        .collect();
    sim::seq(&[sim::int(&[0]), sim::seq(&[sim::oid(hash_oid)]), sim::seq(&entries)])
}

fn der_of_pem(o: &Ossl, pem: &str) -> Vec<u8> {
    o.run(&["x509", "-in", pem, "-outform", "DER"])
}

fn store_of(certs: &[Vec<u8>]) -> TrustStore {
    TrustStore {
        anchors: certs
            .iter()
            .map(|c| Anchor {
                id: trust::fingerprint(c),
                cert: civitas_core::chip::parse_certificate(c).unwrap(),
                kind: "csca".into(),
                source: "test".into(),
            })
            .collect(),
        crls: vec![],
        ..TrustStore::default()
    }
}

/// One algorithm family of the OpenSSL-made cards: the CSCA's and the DS's keys and digests,
/// the SOD's digest and key options.
struct Family {
    name: &'static str,
    csca: &'static str,
    csca_md: &'static str,
    ds: &'static str,
    ds_md: &'static str,
    sod_md: &'static str,
    keyopts: &'static [&'static str],
}

/// Cards made by OpenSSL in three algorithm families verify against their CSCA, and fail
/// `ds_untrusted` against another; the signed attributes this reader extracts are the bytes
/// OpenSSL's signature covers.
#[test]
fn cards_made_by_openssl_verify_when_their_csca_is_trusted() {
    if !openssl_present() {
        return;
    }
    let o = Ossl { dir: temp_dir() };
    let (td1, dg13) = an_files();
    let mut dgs = BTreeMap::new();
    dgs.insert(1u8, civitas_core::chip::dg1_der(&td1));
    dgs.insert(13u8, dg13.to_der());
    let families = [
        Family {
            name: "p256",
            csca: "ec:P-256",
            csca_md: "sha256",
            ds: "ec:P-256",
            ds_md: "sha256",
            sod_md: "sha256",
            keyopts: &[],
        },
        Family {
            name: "rsa-pss",
            csca: "rsa:3072",
            csca_md: "sha256",
            ds: "rsa:2048",
            ds_md: "sha256",
            sod_md: "sha256",
            keyopts: &["rsa_padding_mode:pss", "rsa_pss_saltlen:32"],
        },
        Family {
            name: "brainpool-explicit",
            csca: "ec:P-521",
            csca_md: "sha512",
            ds: "ec-explicit:brainpoolP384r1",
            ds_md: "sha512",
            sod_md: "sha384",
            keyopts: &[],
        },
    ];
    let other_key = o.key("other.key", "ec:P-256");
    let other = der_of_pem(&o, &o.csca("other", &other_key, "sha256", "Other CSCA"));
    for Family { name, csca: csca_kind, csca_md, ds: ds_kind, ds_md, sod_md, keyopts } in families {
        let hash_oid = if sod_md == "sha384" { "2.16.840.1.101.3.4.2.2" } else { "2.16.840.1.101.3.4.2.1" };
        let csca_key = o.key(&format!("{name}-csca.key"), csca_kind);
        let csca = o.csca(&format!("{name}-csca"), &csca_key, csca_md, &format!("CSCA {name}"));
        let ds_key = o.key(&format!("{name}-ds.key"), ds_kind);
        let ds = o.ds(&format!("{name}-ds"), &ds_key, &csca, &csca_key, ds_md);
        let lds = lds(&o, &dgs, sod_md, hash_oid);
        let sod = o.sod(&lds, &ds, &ds_key, sod_md, keyopts);
        let csca_der = der_of_pem(&o, &csca);
        let chip = Chip { sod: &sod, dgs: &dgs };
        let passed =
            passive_check(&chip, &store_of(std::slice::from_ref(&csca_der)), &Allow::default(), civitas::now())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(passed.csca.0, trust::fingerprint(&csca_der), "{name}");
        assert_eq!(passed.checks.last(), Some(&"consistent"), "{name}");
        eprintln!("{name}: {:?}", passed.algorithms);
        let refused = passive_check(&chip, &store_of(std::slice::from_ref(&other)), &Allow::default(), civitas::now())
            .unwrap_err();
        assert_eq!(refused.code(), "ds_untrusted", "{name}");
        // OpenSSL verifies its signature over exactly the bytes we extracted.
        if name == "p256" {
            let parsed = civitas_core::chip::parse_sod(&sod).unwrap();
            let attrs = o.write("attrs.der", &parsed.signed.signed_attributes);
            let sig = o.write("sig.der", &parsed.signed.signature);
            let public = o.write("pub.pem", &o.run(&["x509", "-in", &ds, "-pubkey", "-noout"]));
            let verify = |file: &str| {
                Command::new("openssl")
                    .args(["dgst", "-sha256", "-verify", &public, "-signature", &sig, file])
                    .output()
                    .unwrap()
                    .status
                    .success()
            };
            assert!(verify(&attrs), "OpenSSL verifies the signature over the extracted signed attributes");
            let mut changed = parsed.signed.signed_attributes.clone();
            let last = changed.len() - 1;
            changed[last] ^= 1;
            assert!(!verify(&o.write("changed.der", &changed)), "one byte changed: refused");
        }
    }
    // The same explicit-parameter key, a curve refused by policy: not allowed.
    let strict = Allow { curves: vec!["p256".into(), "p521".into()], ..Allow::default() };
    let key = o.key("bp.key", "ec-explicit:brainpoolP384r1");
    let csca_key = o.key("c.key", "ec:P-256");
    let csca = o.csca("c", &csca_key, "sha256", "C");
    let ds = o.ds("d", &key, &csca, &csca_key, "sha256");
    let sod = o.sod(&lds(&o, &dgs, "sha256", "2.16.840.1.101.3.4.2.1"), &ds, &key, "sha256", &[]);
    let e = passive_check(&Chip { sod: &sod, dgs: &dgs }, &store_of(&[der_of_pem(&o, &csca)]), &strict, civitas::now())
        .unwrap_err();
    assert_eq!(e.code(), "algorithm_not_allowed", "{e}");
}

/// The simulator's SODs are standard: OpenSSL verifies them against the simulator's CSCA.
#[test]
fn openssl_verifies_the_simulators_cards_and_master_lists() {
    if !openssl_present() {
        return;
    }
    let o = Ossl { dir: temp_dir() };
    let now = civitas::now();
    let csca = sim::csca("VN", "openssl", now - time::Duration::days(400));
    let ds = sim::signer(&csca, "openssl", 5, (now - time::Duration::days(300), now + time::Duration::days(3000)), &[]);
    let (td1, dg13) = an_files();
    let card = sim::card(&td1, &dg13, &ds, now - time::Duration::days(10), "an");
    // Strip the 77 wrapper: the ContentInfo inside is CMS.
    let sod = civitas_core::chip::parse_sod(&card.sod).unwrap();
    assert_eq!(card.sod[..2], [0x77, 0x82], "a two-byte length");
    let cms = &card.sod[4..];
    assert_eq!(sod.lds.hashes.len(), 5);
    o.write("csca.der", &csca.cert);
    o.run(&["x509", "-inform", "DER", "-in", &o.path("csca.der"), "-out", &o.path("csca.pem")]);
    o.write("sod.cms", cms);
    o.run(&[
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        &o.path("sod.cms"),
        "-CAfile",
        &o.path("csca.pem"),
        "-purpose",
        "any",
        "-out",
        &o.path("lds.out"),
    ]);
    assert_eq!(o.read("lds.out"), sod.signed.econtent);
    let mls = sim::signer(
        &csca,
        "mls",
        6,
        (now - time::Duration::days(300), now + time::Duration::days(3000)),
        &["2.23.136.1.1.3"],
    );
    let list = sim::master_list(&[&csca.cert], &mls);
    o.write("ml.der", &list);
    let listed = o.run(&[
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        &o.path("ml.der"),
        "-CAfile",
        &o.path("csca.pem"),
        "-purpose",
        "any",
    ]);
    assert!(!listed.is_empty(), "OpenSSL verifies the master list and gives its content");
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn files_json(card: &sim::Card) -> Value {
    json!({
        "sod": b64(&card.sod),
        "dg1": b64(&card.dgs[&1]),
        "dg2": b64(&card.dgs[&2]),
        "dg13": b64(&card.dgs[&13]),
        "dg14": b64(&card.dgs[&14]),
        "dg15": b64(&card.dgs[&15]),
    })
}

async fn verify(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.send_json(reqwest::Method::POST, "/api/v1/cards/verify", token, body).await
}

async fn cards_verified(app: TestApp) {
    let now = civitas::now();
    let csca = sim::csca("VN", "api", now - time::Duration::days(2000));
    let ds = sim::signer(&csca, "api", 5, (now - time::Duration::days(1900), now + time::Duration::days(3000)), &[]);
    let (td1, dg13) = an_files();
    let card = sim::card(&td1, &dg13, &ds, time::macros::datetime!(2022-03-15 09:00 UTC), "an");
    let officer = app.token(Role::RegistryOfficer, &[BA_DINH]);
    // Before the CSCA is trusted: ds_untrusted.
    let v: Value = verify(&app, &officer, files_json(&card)).await.json().await.unwrap();
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(v["failure"]["code"], "ds_untrusted", "{v}");
    assert!(v["register_match"].is_null());
    // Trusted by the operator (the use case `civitas trust add-csca` runs).
    let report = trust::add_csca(&app.db, &csca.cert, &Allow::default(), "test", now).await.unwrap();
    assert_eq!(report.added.len(), 1);
    let again = trust::add_csca(&app.db, &csca.cert, &Allow::default(), "test", now).await.unwrap();
    assert_eq!(again.already_trusted.len(), 1, "adding twice changes nothing");
    let r = verify(&app, &officer, files_json(&card)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["csca"][0], trust::fingerprint(&csca.cert));
    assert_eq!(v["card"]["pid"], AN);
    assert_eq!(v["card"]["generation"], "cccd-2021");
    assert_eq!(v["checks"].as_array().unwrap().len(), 8);
    let m = &v["register_match"];
    assert_eq!(
        (m["found"].as_bool(), m["name"].as_bool(), m["birth_date"].as_bool(), m["sex"].as_bool()),
        (Some(true), Some(true), Some(true), Some(true)),
        "{v}"
    );
    assert_eq!(m["living"], true);
    assert_eq!(m["card_valid"], false, "the register knows no card of An yet: {v}");
    assert_eq!(m["matches"], false);
    // The read is logged with its purpose and how.
    let log = civitas_store::access_log::for_subject(&app.db, AN, 20).await.unwrap();
    let read = log.iter().find(|r| r.purpose.as_deref() == Some("card-verification")).expect("logged");
    assert_eq!(read.how.as_deref(), Some("card-chip"));
    assert!(read.fields.contains("cards"), "{}", read.fields);
    // An officer of another province: the cryptography, no register match, nothing read.
    let far = app.token(Role::RegistryOfficer, &["79"]);
    let v: Value = verify(&app, &far, files_json(&card)).await.json().await.unwrap();
    assert_eq!(v["valid"], true);
    assert!(v["register_match"].is_null());
    assert_eq!(v["register_match_withheld"], "outside-your-units");
    // Attacks through the API: each its code.
    let mut tampered = files_json(&card);
    let mut other = dg13.clone();
    other.items.insert(3, Value13::Text("15/03/1991".into()));
    tampered["dg13"] = json!(b64(&other.to_der()));
    let v: Value = verify(&app, &officer, tampered).await.json().await.unwrap();
    assert_eq!(v["failure"]["code"], "dg_hash_mismatch", "{v}");
    let mut withheld = files_json(&card);
    withheld.as_object_mut().unwrap().remove("dg15");
    let v: Value = verify(&app, &officer, withheld).await.json().await.unwrap();
    assert_eq!(v["failure"]["code"], "dg_missing", "{v}");
    let expired_ds =
        sim::signer(&csca, "old", 9, (now - time::Duration::days(2000), now - time::Duration::days(1800)), &[]);
    let late = sim::card(&td1, &dg13, &expired_ds, time::macros::datetime!(2022-03-15 09:00 UTC), "an");
    let v: Value = verify(&app, &officer, files_json(&late)).await.json().await.unwrap();
    assert_eq!(v["failure"]["code"], "ds_expired", "{v}");
    // The CSCA's CRL revokes the DS.
    trust::import_crl(&app.db, &sim::crl(&csca, &[5], now), &Allow::default(), "test", now).await.unwrap();
    let v: Value = verify(&app, &officer, files_json(&card)).await.json().await.unwrap();
    assert_eq!(v["failure"]["code"], "ds_revoked", "{v}");
    // A CRL of an untrusted CSCA is refused.
    let rogue = sim::csca("VN", "rogue", now - time::Duration::days(10));
    assert!(trust::import_crl(&app.db, &sim::crl(&rogue, &[1], now), &Allow::default(), "test", now).await.is_err());
    // Bad input: a specific 400.
    let p = expect_problem(verify(&app, &officer, json!({"sod": "***", "dg1": "", "dg13": ""})).await, 400).await;
    assert!(p["detail"].as_str().unwrap().starts_with("sod: not base64"), "{p}");
    expect_problem(verify(&app, &officer, json!({"sod": "AA=="})).await, 422).await;
    // An operator does not read the register.
    let operator = app.token(Role::Operator, &[BA_DINH]);
    assert_eq!(verify(&app, &operator, files_json(&card)).await.status(), 403);
}
on_both_databases!(cards_are_verified_over_http, cards_verified);

fn civitas(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_civitas")).args(args).env("CIVITAS_LOG", "warn").output().expect("run civitas")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// ICAO 9303 check digits computed by a second implementation (Python, written from the
/// standard's rule: weights 7-3-1, `<` = 0, A = 10): every check digit of the simulator's MRZs.
const PY_MRZ_CHECK: &str = r#"
import sys
def cd(s):
    v = lambda c: 0 if c == '<' else (ord(c) - 48 if c.isdigit() else ord(c) - 55)
    return str(sum(v(c) * (7, 3, 1)[i % 3] for i, c in enumerate(s)) % 10)
for path in sys.argv[1:]:
    data = open(path, 'rb').read()
    assert data[:5] == b'\x61\x5d\x5f\x1f\x5a', data[:5]
    m = data[5:].decode('ascii')
    l1, l2 = m[0:30], m[30:60]
    assert cd(l1[5:14]) == l1[14], ('document', m)
    assert cd(l1[15:27]) == l1[29], ('id', m)
    assert cd(l2[0:6]) == l2[6], ('birth', m)
    if l2[8:14] != '<<<<<<':
        assert cd(l2[8:14]) == l2[14], ('expiry', m)
    assert cd(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]) == l2[29], ('composite', m)
print('ok', len(sys.argv) - 1)
"#;

/// The simulator, the trust store and the offline check from the command line, each attack
/// refused with its code; MRZ check digits agree with an independent implementation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_sim_trust_and_verify_from_the_command_line() {
    if !openssl_present() {
        return;
    }
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let db = app.db_url.as_str();
    let dir = temp_dir();
    let p = |name: &str| dir.0.join(name).to_str().unwrap().to_owned();
    let ok = |out: std::process::Output| {
        assert!(out.status.success(), "{} {}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    };
    let fails = |out: std::process::Output, code: &str| {
        assert!(!out.status.success(), "{}", text(&out.stdout));
        assert!(text(&out.stderr).contains(code), "expected {code}: {}", text(&out.stderr));
    };
    ok(civitas(&["card-sim", "csca", "--out", &p("csca.pem")]));
    for (variant, pid) in [
        ("genuine", AN),
        ("tampered-dg13", AN),
        ("foreign-csca", AN),
        ("expired-ds", AN),
        ("no-dg15", AN),
        ("genuine", BINH),
        ("genuine", CUONG),
        ("genuine", DUNG),
    ] {
        let out = format!("{variant}-{pid}");
        ok(civitas(&["card-sim", "issue", "--pid", pid, "--variant", variant, "--out", &p(&out), "--database", db]));
    }
    let verify = |card: &str, extra: &[&str]| {
        let d = |f: &str| format!("{}/{f}", p(card));
        let mut args = vec![
            "cards".to_owned(),
            "verify".into(),
            "--sod".into(),
            d("sod.bin"),
            "--dg1".into(),
            d("dg1.bin"),
            "--dg13".into(),
            d("dg13.bin"),
            "--dg14".into(),
            d("dg14.bin"),
            "--dg2".into(),
            d("dg2.bin"),
        ];
        if std::path::Path::new(&d("dg15.bin")).exists() {
            args.extend(["--dg15".into(), d("dg15.bin")]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(["--database".into(), db.to_owned()]);
        civitas(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let an = format!("genuine-{AN}");
    // Offline with a CSCA file; with the (empty) trust store: untrusted.
    let json: Value = serde_json::from_str(&ok(verify(&an, &["--csca", &p("csca.pem")]))).unwrap();
    assert_eq!(json["valid"], true, "{json}");
    assert_eq!(json["card"]["pid"], AN);
    fails(verify(&an, &[]), "ds_untrusted");
    // A master list cannot bootstrap trust: its signer chains to nothing trusted yet.
    ok(civitas(&["card-sim", "master-list", "--out", &p("ml.der")]));
    fails(civitas(&["trust", "import-masterlist", &p("ml.der"), "--database", db]), "master-list-refused");
    // Bad files are refused with their code; nothing is trusted.
    std::fs::write(p("junk.pem"), "not a certificate\n").unwrap();
    fails(civitas(&["trust", "add-csca", &p("junk.pem"), "--database", db]), "malformed");
    fails(
        civitas(&["trust", "add-csca", &format!("{}/dg1.bin", p(&format!("genuine-{AN}"))), "--database", db]),
        "malformed",
    );
    fails(civitas(&["trust", "import-crl", &p("junk.pem"), "--database", db]), "");
    assert!(civitas(&["trust", "add-csca", &p("missing.pem"), "--database", db]).status.code() != Some(0));
    assert!(!ok(civitas(&["trust", "list", "--database", db])).contains("CSCA"), "nothing trusted yet");
    ok(civitas(&["trust", "add-csca", &p("csca.pem"), "--database", db]));
    assert!(ok(civitas(&["trust", "list", "--database", db])).contains("Test CSCA demo"));
    assert!(ok(civitas(&["trust", "import-masterlist", &p("ml.der"), "--database", db])).contains("already trusted"));
    ok(verify(&an, &[]));
    for pid in [BINH, CUONG, DUNG] {
        ok(verify(&format!("genuine-{pid}"), &[]));
    }
    fails(verify(&format!("tampered-dg13-{AN}"), &[]), "dg_hash_mismatch");
    fails(verify(&format!("foreign-csca-{AN}"), &[]), "ds_untrusted");
    fails(verify(&format!("expired-ds-{AN}"), &[]), "ds_expired");
    fails(verify(&format!("no-dg15-{AN}"), &[]), "dg_missing");
    // Active Authentication: the card's answer verifies; a clone's does not.
    let challenge = "0102030405060708";
    let answer = ok(civitas(&["card-sim", "answer", "--pid", AN, "--challenge", challenge]));
    let clone = ok(civitas(&["card-sim", "answer", "--pid", AN, "--challenge", challenge, "--clone"]));
    let unhex = |s: &str| {
        (0..s.trim().len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s.trim()[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    let dg15 = std::fs::read(format!("{}/dg15.bin", p(&an))).unwrap();
    let dg14 = std::fs::read(format!("{}/dg14.bin", p(&an))).unwrap();
    let aa = |r: &str| {
        civitas_identity::chip::aa::active_check(&dg15, Some(&dg14), &unhex(challenge), &unhex(r), &Allow::default())
    };
    assert!(aa(&answer).is_ok());
    assert_eq!(aa(&clone).unwrap_err().code(), "aa_invalid");
    // The CSCA's CRL revokes the DS.
    ok(civitas(&["card-sim", "crl", "--revoke-ds", "--out", &p("crl.der")]));
    ok(civitas(&["trust", "import-crl", &p("crl.der"), "--database", db]));
    fails(verify(&an, &[]), "ds_revoked");
    // MRZ check digits by an independent implementation.
    let files: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("dg1.bin"))
        .filter(|f| f.exists())
        .map(|f| f.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(files.len(), 8);
    let out = Command::new("python3").arg("-c").arg(PY_MRZ_CHECK).args(&files).output().expect("python3");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "ok 8");
}

/// RSA Active Authentication (ISO/IEC 9796-2 scheme 1): OpenSSL makes the raw RSA signature
/// (the private key applied with `pkeyutl -decrypt -pkeyopt rsa_padding_mode:none`) of the block a chip would build; our check
/// recovers it, for SHA-1 (trailer `BC`, allowed only when configured) and SHA-256 (`34 CC`).
#[test]
fn rsa_active_authentication_made_by_openssl_verifies() {
    use sha2::Digest;
    if !openssl_present() {
        return;
    }
    let o = Ossl { dir: temp_dir() };
    let key = o.key("aa.key", "rsa:2048");
    let spki = o.run(&["pkey", "-in", &key, "-pubout", "-outform", "DER"]);
    let dg15 = civitas_core::chip::tlv_bytes(0x6f, &spki);
    let challenge = [0x11u8, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    let k = 256;
    let sign = |block: &[u8]| {
        let input = o.write("f.bin", block);
        o.run(&["pkeyutl", "-decrypt", "-inkey", &key, "-pkeyopt", "rsa_padding_mode:none", "-in", &input])
    };
    let with_sha1 = Allow { hashes: vec!["sha1".into(), "sha256".into()], ..Allow::default() };
    // SHA-1: 6A ‖ M1 ‖ SHA-1(M1 ‖ challenge) ‖ BC.
    let m1: Vec<u8> = (0..k - 1 - 20 - 1).map(|i| (i * 7 % 251) as u8).collect();
    let digest = sha1::Sha1::digest([m1.as_slice(), &challenge].concat());
    let block = [&[0x6a][..], &m1, &digest, &[0xbc]].concat();
    let s = sign(&block);
    assert_eq!(
        civitas_identity::chip::aa::active_check(&dg15, None, &challenge, &s, &with_sha1).unwrap(),
        "rsa-iso9796-2-2048-sha1"
    );
    let refused = civitas_identity::chip::aa::active_check(&dg15, None, &challenge, &s, &Allow::default()).unwrap_err();
    assert_eq!(refused.code(), "algorithm_not_allowed", "SHA-1 only when the operator allows it");
    let other = [0u8; 8];
    assert_eq!(
        civitas_identity::chip::aa::active_check(&dg15, None, &other, &s, &with_sha1).unwrap_err().code(),
        "aa_invalid"
    );
    // SHA-256: 6A ‖ M1 ‖ SHA-256(M1 ‖ challenge) ‖ 34 CC.
    let m1: Vec<u8> = (0..k - 1 - 32 - 2).map(|i| (i * 13 % 251) as u8).collect();
    let digest = sha2::Sha256::digest([m1.as_slice(), &challenge].concat());
    let block = [&[0x6a][..], &m1, &digest, &[0x34, 0xcc]].concat();
    let s = sign(&block);
    assert_eq!(
        civitas_identity::chip::aa::active_check(&dg15, None, &challenge, &s, &Allow::default()).unwrap(),
        "rsa-iso9796-2-2048-sha256"
    );
    let mut bent = s.clone();
    bent[100] ^= 1;
    assert_eq!(
        civitas_identity::chip::aa::active_check(&dg15, None, &challenge, &bent, &Allow::default()).unwrap_err().code(),
        "aa_invalid"
    );
}
