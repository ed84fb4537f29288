//! The electronic archive end to end: dossiers driven to every closing state and a birth
//! registered, its certificate issued and returned; `civitas archive export` writes one bag per
//! closed dossier and per civil-status record; the bags validate with the Library of
//! Congress's `bagit` and with `civitas archive verify`, which then fails naming the bag and
//! the file after a payload byte, a tag file, an added file or a borrowed signature; a second
//! export overwrites nothing; a document changed in the database is reported as drift by the
//! fixity check (CLI, API and page); a package past its retention is listed for a disposal
//! decision that only a leader of its unit records.

use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{Value, json};

use civitas_identity::Role;

use crate::civil::{Desk, act, to_decision, upload};
use crate::helpers::*;
use crate::on_both_databases;
use crate::one_stop::citizen_token;

/// The Library of Congress's BagIt validator, if set up (in CI it must be).
fn bagit_python() -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bagit/bin/python3");
    let have =
        std::process::Command::new(&python).args(["-c", "import bagit"]).output().is_ok_and(|o| o.status.success());
    if !have {
        assert!(std::env::var("CI").is_err(), "CI needs bagit (scripts/setup-test-env)");
        eprintln!("SKIPPED: validating the bags with bagit (PyPI; scripts/setup-test-env installs it)");
    }
    have.then_some(python)
}

/// `bagit.Bag(path).validate()` for each bag: the error text of the first that fails.
fn bagit_validate(python: &Path, bags: &[PathBuf]) -> Result<(), String> {
    let script = "import bagit, sys\nfor p in sys.argv[1:]:\n    bagit.Bag(p).validate()\n";
    let out = std::process::Command::new(python).arg("-c").arg(script).args(bags).output().expect("python");
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let mut all = vec![args[0], args[1], "--database", &app.db_url];
    all.extend_from_slice(&args[2..]);
    let out = civitas_cli(&all);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn bag_of(out: &Path, subject: &str) -> PathBuf {
    out.join(civitas_services::archive::bag_name(subject))
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

async fn archive_scenario(app: TestApp) {
    crate::reports::drive(&app).await;
    // A birth: a scanned birth certificate, the registration, the signed certificate, returned.
    app.account(BINH, 1).await;
    let mother = citizen_token(&app, BINH).await;
    let desk = Desk::of(&app, BA_DINH);
    let today = civitas_services::dossiers::local_today(civitas::now());
    let born = (today - time::Duration::days(10)).to_string();
    let scan = upload(&app, &mother, "giấy chứng sinh").await;
    let body = json!({ "procedure": "DVC-15", "fields": {
        "child_name": "Nguyễn Thị Mai", "child_birth_date": born, "child_sex": "female", "birth_cert_no": "GCS-2026-0002",
        "other_parent_pid": AN, "live_with": "applicant", "commune": BA_DINH },
        "components": { "GCS": scan } });
    let birth = to_decision(&app, &mother, &desk, body).await;
    for (token, action) in [(&desk.chief, "approve"), (&desk.clerk, "issue_result"), (&desk.onestop, "return")] {
        let r = act(&app, token, &birth, json!({ "action": action })).await;
        assert_eq!(r.status(), 200, "{action}");
    }
    let record = civitas_services::civil::record_of(&app.db, &birth).await.unwrap().expect("the birth record");
    let record_subject = format!("HT-{}", record.id);

    // The hand-over: one bag per closed dossier (5 of the driven 7, and the birth) and one for
    // the civil-status record.
    let dir = temp_dir();
    let out = dir.0.join("bags");
    let out_arg = out.to_str().unwrap().to_owned();
    let since = (today - time::Duration::days(1)).to_string();
    let (ok, text) = cli(&app, &["archive", "export", "--since", &since, "--out", &out_arg]);
    assert!(ok, "{text}");
    assert!(text.contains("wrote 7 bags"), "{text}");
    let bags = civitas_services::archive::bag::bags_in(&out).unwrap();
    assert_eq!(bags.len(), 7);
    let bad_day = cli(&app, &["archive", "export", "--since", "yesterday", "--out", &out_arg]);
    assert!(!bad_day.0 && bad_day.1.contains("is not a day"), "{}", bad_day.1);

    // The birth's dossier: the scan, the signed certificate, its record, control sheet and the
    // Circular 05/2025 metadata; kept permanently.
    let birth_bag = bag_of(&out, &birth);
    let files = files_under(&birth_bag);
    for f in [
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha512.txt",
        "tagmanifest-sha512.txt",
        "signature.jws",
        "data/dossier.json",
        "data/control-sheet.json",
        "data/metadata.json",
    ] {
        assert!(files.contains(&f.to_owned()), "{f} in {files:?}");
    }
    let scan_file = files.iter().find(|f| f.starts_with("data/components/GCS-")).expect("the scan").clone();
    assert!(std::fs::read_to_string(birth_bag.join(&scan_file)).unwrap().contains("giấy chứng sinh"));
    let result_file = files.iter().find(|f| f.starts_with("data/result/")).expect("the certificate").clone();
    let certificate = std::fs::read(birth_bag.join(&result_file)).unwrap();
    assert!(civitas_services::verification::payload_of_pdf(&certificate).is_some(), "the signed certificate PDF");
    let info = std::fs::read_to_string(birth_bag.join("bag-info.txt")).unwrap();
    assert!(info.contains(&format!("External-Identifier: {birth}\n")), "{info}");
    assert!(info.contains("Payload-Oxum: ") && info.contains("Bagging-Date: "), "{info}");
    let meta: Value = serde_json::from_slice(&std::fs::read(birth_bag.join("data/metadata.json")).unwrap()).unwrap();
    assert_eq!((meta["file_code"].as_str(), meta["retention"].as_str()), (Some(birth.as_str()), Some("Vĩnh viễn")));
    assert_eq!(meta["documents"], 2);
    assert!(meta["documents_list"].as_array().unwrap().iter().any(|d| d["document_code"].is_string()), "{meta}");
    let record_files = files_under(&bag_of(&out, &record_subject));
    assert!(
        record_files.contains(&"data/record.json".to_owned())
            && record_files.contains(&"data/certificate.pdf".to_owned())
    );
    // A residence declaration is kept 10 years.
    let leader = app.token(Role::Leader, &["01"]);
    let listed: Value = app.get("/api/v1/archive/packages", &leader).await.json().await.unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    let short = items.iter().find(|p| p["procedure_code"] == "DVC-05").expect("a DVC-05 package").clone();
    assert_eq!(short["retention"], "10y");
    assert!(short["dispose_after"].as_str().is_some_and(|d| d > today.to_string().as_str()));
    assert!(items.iter().filter(|p| p["procedure_code"] == "DVC-15").all(|p| p["retention"] == "permanent"));

    // Independent validation, and ours.
    if let Some(python) = bagit_python() {
        bagit_validate(&python, &bags).unwrap_or_else(|e| panic!("bagit refused a bag: {e}"));
    }
    let (ok, text) = cli(&app, &["archive", "verify", &out_arg]);
    assert!(ok && text.contains("7 bags checked: 7 intact"), "{text}");
    // Bad input: a directory without bags, one that does not exist, no subcommand.
    let empty = dir.0.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (ok, text) = cli(&app, &["archive", "verify", empty.to_str().unwrap()]);
    assert!(!ok && text.contains("holds no bag"), "{text}");
    let (ok, text) = cli(&app, &["archive", "verify", dir.0.join("nowhere").to_str().unwrap()]);
    assert!(!ok && text.contains("nowhere"), "{text}");
    let bare = civitas_cli(&["archive", "--database", &app.db_url]);
    let text = String::from_utf8_lossy(&bare.stderr);
    assert!(!bare.status.success() && text.contains("give a subcommand"), "{text}");

    // One byte of the certificate changed: both validators fail, ours naming bag and file.
    let mut changed = certificate.clone();
    let last = changed.len() - 2;
    changed[last] ^= 0x01;
    std::fs::write(birth_bag.join(&result_file), &changed).unwrap();
    let (ok, text) = cli(&app, &["archive", "verify", &out_arg]);
    assert!(!ok, "{text}");
    assert!(text.contains(&format!("FAIL {} {result_file}: its SHA-512 differs", birth_bag.display())), "{text}");
    assert!(text.contains("7 bags checked: 6 intact, 1 not"), "{text}");
    if let Some(python) = bagit_python() {
        assert!(bagit_validate(&python, std::slice::from_ref(&birth_bag)).is_err(), "bagit sees the change too");
    }
    std::fs::write(birth_bag.join(&result_file), &certificate).unwrap();
    // A tag file edited, a file slipped in, a signature borrowed from another bag.
    let record_bag = bag_of(&out, &record_subject);
    let info_path = record_bag.join("bag-info.txt");
    let original_info = std::fs::read_to_string(&info_path).unwrap();
    std::fs::write(&info_path, original_info.replace("Bagging-Date", "Bagging-date")).unwrap();
    std::fs::write(birth_bag.join("data/extra.txt"), "slipped in").unwrap();
    let other = bags.iter().find(|b| **b != birth_bag && **b != record_bag).unwrap();
    std::fs::copy(other.join("signature.jws"), birth_bag.join("signature.jws")).unwrap();
    let (ok, text) = cli(&app, &["archive", "verify", &out_arg]);
    assert!(!ok);
    assert!(text.contains("bag-info.txt: its SHA-512 differs from the tag manifest"), "{text}");
    assert!(text.contains("data/extra.txt: not in the manifest"), "{text}");
    assert!(text.contains("signature.jws: signs another tag manifest"), "{text}");
    // Exported again: what is there is not overwritten.
    let (ok, text) = cli(&app, &["archive", "export", "--since", &since, "--out", &out_arg]);
    assert!(ok && text.contains("wrote 0 bags") && text.contains("(7 already there)"), "{text}");
    assert_eq!(std::fs::read_to_string(&info_path).unwrap(), original_info.replace("Bagging-Date", "Bagging-date"));

    // Fixity of the archive store: a stored document changed in the database is drift.
    let (ok, text) = cli(&app, &["archive", "fixity"]);
    assert!(ok && text.contains("checked 7 packages: 0 drifted"), "{text}");
    let corrupt = "UPDATE documents SET content = $1 WHERE id = $2";
    civitas_store::dispatch!(&app.db, pool => sqlx::query(corrupt).bind(b"%PDF-1.4 altered".to_vec()).bind(&scan)
        .execute(pool).await.map(|r| r.rows_affected()))
    .unwrap();
    let (ok, text) = cli(&app, &["archive", "fixity"]);
    assert!(!ok, "{text}");
    assert!(text.contains(&format!("DRIFT {birth}: {scan_file}: its SHA-512 changed")), "{text}");
    let drift: Value = app.get("/api/v1/archive/packages?list=drift", &leader).await.json().await.unwrap();
    assert_eq!(drift["items"].as_array().unwrap().len(), 1);
    assert_eq!(drift["items"][0]["subject"], birth.as_str());
    expect_problem(app.get("/api/v1/archive/packages?list=everything", &leader).await, 400).await;
    let page = app
        .client
        .get(app.url("/officer/archive?lang=en"))
        .header("cookie", format!("civitas_session={leader}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"archive-drift\"") && html.contains(&scan_file), "the page shows the drift");
    let (ok, text) =
        cli(&app, &["archive", "export", "--since", &since, "--out", dir.0.join("again").to_str().unwrap()]);
    assert!(!ok && text.contains(&format!("NOT WRITTEN {birth}")), "a drifted package is not handed over: {text}");

    // Past retention: listed for a decision, which only a leader of the unit records.
    let subject = short["subject"].as_str().unwrap().to_owned();
    let unit = short["unit_code"].as_str().unwrap().to_owned();
    let yesterday = (today - time::Duration::days(1)).to_string();
    let due_sql = "UPDATE archive_packages SET dispose_after = $1 WHERE subject = $2";
    civitas_store::dispatch!(&app.db, pool => sqlx::query(due_sql).bind(&yesterday).bind(&subject)
        .execute(pool).await.map(|r| r.rows_affected()))
    .unwrap();
    let due: Value = app.get("/api/v1/archive/packages?list=due", &leader).await.json().await.unwrap();
    assert_eq!(due["items"].as_array().unwrap().len(), 1);
    let elsewhere = app.token(Role::Leader, &["79"]);
    let none: Value = app.get("/api/v1/archive/packages?list=due", &elsewhere).await.json().await.unwrap();
    assert!(none["items"].as_array().unwrap().is_empty(), "another province's leader sees none");
    let (ok, text) = cli(&app, &["archive", "disposal"]);
    assert!(ok && text.contains(&subject) && text.contains("1 packages past their retention"), "{text}");
    let app = &app;
    let decide = |token: String, body: Value| {
        let path = format!("/api/v1/archive/packages/{subject}/disposal");
        async move { app.send_json(Method::POST, &path, &token, body).await }
    };
    let dispose = json!({ "decision": "dispose", "note": "Biên bản Hội đồng xác định giá trị tài liệu số 1" });
    expect_problem(decide(elsewhere.clone(), dispose.clone()).await, 404).await;
    expect_problem(decide(app.token(Role::Auditor, &["01"]), dispose.clone()).await, 403).await;
    expect_problem(decide(leader.clone(), json!({ "decision": "dispose", "note": " " })).await, 422).await;
    expect_problem(decide(leader.clone(), json!({ "decision": "keep", "until": yesterday, "note": "x" })).await, 422)
        .await;
    expect_problem(decide(leader.clone(), json!({ "decision": "burn", "note": "x" })).await, 422).await;
    let permanent = format!("/api/v1/archive/packages/{birth}/disposal");
    let refused = expect_problem(app.send_json(Method::POST, &permanent, &leader, dispose.clone()).await, 422).await;
    assert!(refused["detail"].as_str().unwrap().contains("permanently"), "{refused}");
    let decided = decide(app.token(Role::Leader, &[&unit]), dispose.clone()).await;
    assert_eq!(decided.status(), 200);
    let decided: Value = decided.json().await.unwrap();
    assert_eq!((decided["disposal"].as_str(), decided["subject"].as_str()), (Some("dispose"), Some(subject.as_str())));
    expect_problem(decide(leader.clone(), dispose.clone()).await, 422).await;
    let due: Value = app.get("/api/v1/archive/packages?list=due", &leader).await.json().await.unwrap();
    assert!(due["items"].as_array().unwrap().is_empty(), "decided: no longer waiting");
    let kept: Value = app.get("/api/v1/archive/packages", &leader).await.json().await.unwrap();
    assert_eq!(kept["items"].as_array().unwrap().len(), 7, "nothing is deleted");
    let events = civitas_store::events::read_after(&app.db, 0, 100_000).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "archive.disposal" && e.subject == subject));
}
on_both_databases!(closed_dossiers_are_archived_as_signed_bags, archive_scenario);

/// The page's decision form: a leader keeps a package past retention for longer (CSRF bound to
/// the session; a forged token is refused).
async fn disposal_form(app: TestApp) {
    crate::reports::drive(&app).await;
    let keys = app.state.keys.clone();
    let signer = move |typ: &str, c: &civitas_services::certificate_issue::CertClaims| {
        civitas_identity::tokens::sign_jws(&keys, typ, c)
    };
    let a = civitas_services::archive::Archivist {
        db: &app.db,
        catalogue: &app.state.catalogue,
        signer: &signer,
        issuer: "http://127.0.0.1",
    };
    let stored = civitas_services::archive::prepare_pending(&a, 100, civitas::now()).await.unwrap();
    let again = civitas_services::archive::prepare_pending(&a, 100, civitas::now()).await.unwrap();
    assert_eq!(again, 0, "each package is prepared once (after {stored})");
    let sql = "UPDATE archive_packages SET dispose_after = '2020-01-01'";
    civitas_store::dispatch!(&app.db, pool => sqlx::query(sql).execute(pool).await.map(|r| r.rows_affected())).unwrap();
    let leader = app.token(Role::Leader, &["01"]);
    let mut jar = app.browser();
    jar.cookies.insert("civitas_session".into(), leader);
    let page = jar.get(&app.url("/officer/archive?lang=en")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"archive-due\""), "{}", page.body);
    let listed: Value =
        app.get("/api/v1/archive/packages?list=due", &app.token(Role::Leader, &["01"])).await.json().await.unwrap();
    let subject = listed["items"][0]["subject"].as_str().unwrap().to_owned();
    let until = (civitas_services::dossiers::local_today(civitas::now()) + time::Duration::days(365)).to_string();
    let path = app.url(&format!("/officer/archive/{subject}/disposal"));
    let forged = app
        .client
        .post(&path)
        .header("cookie", jar.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
        .form(&[("csrf", "forged"), ("decision", "keep"), ("until", until.as_str()), ("note", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let kept = jar.post(&path, &[("decision", "keep"), ("until", &until), ("note", "Còn giá trị tra cứu")]).await;
    assert_eq!(kept.status, 303, "{}", kept.body);
    let p = civitas_services::archive::get(&app.db, &subject).await.unwrap().unwrap();
    assert_eq!((p.disposal.as_deref(), p.dispose_after.as_deref()), (Some("keep"), Some(until.as_str())));
}
on_both_databases!(a_leader_keeps_a_package_from_the_page, disposal_form);
