//! The transparency log of access (issue #15, part 1) through the real interfaces: reads of a
//! person become salted entries committed with the read, the integrator publishes C2SP tiles
//! and a signed checkpoint, the public side shows hashes only, auditors get the entries, and
//! Go's golang.org/x/mod/sumdb (an implementation this project did not write) verifies the
//! checkpoint, the tree, inclusion and consistency. A log that cannot commit fails the read.

use std::process::Command;
use std::time::Duration;

use civitas_identity::Role;
use civitas_tlog::merkle::{HashReader, leaf_hash};
use civitas_tlog::note::{Checkpoint, Verifier};
use civitas_tlog::tile::{MemoryTiles, TileHashes, TileId, decode_bundle, hashes_at};

use crate::helpers::*;
use crate::on_both_databases;

/// The log's checkpoint once it has at least `size` entries.
async fn checkpoint_of_size(app: &TestApp, vkey: &Verifier, size: u64) -> (Checkpoint, String) {
    for _ in 0..200 {
        let note = app.client.get(app.url("/log/checkpoint")).send().await.unwrap().text().await.unwrap();
        let (c, _) = Checkpoint::open(&note, vkey, &[]).expect("the checkpoint verifies with the published key");
        if c.size >= size {
            return (c, note);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the log did not reach {size} entries");
}

async fn tile(app: &TestApp, id: TileId) -> Vec<u8> {
    let r = app.client.get(app.url(&format!("/log/{}", id.path()))).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", id.path());
    r.bytes().await.unwrap().to_vec()
}

/// The public tiles of a tree of `size` leaves.
async fn public_tiles(app: &TestApp, size: u64) -> MemoryTiles {
    let mut tiles = MemoryTiles::default();
    let mut level = 0;
    while hashes_at(level, size) > 0 {
        let count = hashes_at(level, size);
        for index in 0..count.div_ceil(256) {
            let width = (count - index * 256).min(256) as u32;
            let bytes = tile(app, TileId { level, index, width }).await;
            let hashes = bytes.chunks_exact(32).map(|c| c.try_into().unwrap()).collect();
            tiles.0.insert((level, index), hashes);
        }
        level += 1;
    }
    tiles
}

/// Runs the Go verifier against the server (`old`: an earlier checkpoint for consistency):
/// whether it accepted the log, and what it said; `None` when Go is not installed.
fn go_verify(app: &TestApp, old: Option<&Checkpoint>) -> Option<(bool, String)> {
    let have_go = Command::new("go").arg("version").output().is_ok_and(|o| o.status.success());
    let have_mod = std::path::Path::new("/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog").exists();
    if !have_go || !have_mod {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI needs Go and x/mod (scripts/setup-test-env)");
        eprintln!("\n*** SKIPPED the Go check of the transparency log: go or golang-golang-x-mod-dev missing ***\n");
        return None;
    }
    let cache = temp_dir();
    let mut cmd = Command::new("go");
    cmd.arg("run")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tlog-verify/main.go"))
        .arg(&app.base)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", cache.0.join("gocache"))
        .env("GOFLAGS", "")
        .env("HOME", &cache.0);
    if let Some(old) = old {
        use base64::Engine;
        cmd.arg(old.size.to_string()).arg(base64::engine::general_purpose::STANDARD.encode(old.root));
    }
    let out = cmd.output().expect("go run");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some((out.status.success() && text.starts_with("ok "), text))
}

async fn log_of_reads(app: TestApp) {
    let officer = app.token(Role::RegistryOfficer, &[BA_DINH]);
    let vkey = app.client.get(app.url("/log/key")).send().await.unwrap().text().await.unwrap();
    let vkey = Verifier::parse(&vkey).expect("the published verifier key parses");
    assert!(vkey.name.ends_with("/civitas/access"), "{}", vkey.name);
    // Before any read: an empty log with a signed checkpoint.
    let (empty, _) = checkpoint_of_size(&app, &vkey, 0).await;
    assert_eq!(empty.root, civitas_tlog::merkle::empty_root());

    // 300 reads (more than a tile) by the officer: each answered read has its entry.
    for i in 0..300 {
        let pid = if i % 2 == 0 { AN } else { BINH };
        assert_eq!(app.get(&format!("/api/v1/people/{pid}"), &officer).await.status(), 200);
    }
    let (first, _) = checkpoint_of_size(&app, &vkey, 300).await;
    let indexed: i64 = sqlx_count(&app, "SELECT COUNT(*) FROM access_log WHERE log_index IS NOT NULL").await;
    assert!(indexed >= 300, "every read points at its log entry: {indexed}");

    // The public tiles rebuild the checkpoint's root; they never hold a PID.
    let tiles = public_tiles(&app, first.size).await;
    assert_eq!(civitas_tlog::merkle::root(&TileHashes(&tiles), first.size).unwrap(), first.root);
    for hashes in tiles.0.values() {
        let bytes: Vec<u8> = hashes.iter().flatten().copied().collect();
        assert!(!bytes.windows(12).any(|w| w == AN.as_bytes() || w == BINH.as_bytes()));
    }

    // Entry bundles are for auditors: a registry officer and anonymous callers are refused.
    let bundle_path = format!("/log/{}", TileId { level: 0, index: 0, width: 256 }.entries_path());
    assert_eq!(app.client.get(app.url(&bundle_path)).send().await.unwrap().status(), 401);
    assert_eq!(app.get(&bundle_path, &officer).await.status(), 403);
    let auditor = app.token(Role::Auditor, &["01"]);
    let r = app.get(&bundle_path, &auditor).await;
    assert_eq!(r.status(), 200);
    let entries = decode_bundle(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(entries.len(), 256);
    // Each entry is salt || record, its leaf hash is the public tile's, and the record says
    // who read whose data, why.
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(leaf_hash(e), TileHashes(&tiles).node(0, i as u64).unwrap());
    }
    let record: serde_json::Value = serde_json::from_slice(&entries[0][16..]).unwrap();
    assert_eq!(record["kind"], "read");
    assert_eq!(record["subject"], AN);
    assert_eq!(record["role"], "registry-officer");
    // Salted: two reads of the same fields of the same person are different leaves.
    assert_ne!(leaf_hash(&entries[0]), leaf_hash(&entries[2]));

    // Old access records (from before the log) are adopted into it.
    let at = civitas_store::timestamp(civitas::now());
    civitas_store::dispatch!(&app.db, pool => sqlx::query(
        "INSERT INTO access_log (at, actor, role, unit, purpose, subject_pid, fields, request_id) VALUES ($1, 'old', 'registry-officer', '01', 'p', '001090123456', 'full_name', NULL)")
        .bind(&at).execute(pool).await.map(|_| ())).unwrap();
    let (second, _) = checkpoint_of_size(&app, &vkey, 301).await;
    assert_eq!(sqlx_count(&app, "SELECT COUNT(*) FROM access_log WHERE log_index IS NULL").await, 0);

    // Proofs from the server's tiles verify, and the second tree extends the first.
    let proof = civitas_store::tlog::consistency_proof(&app.db, first.size, second.size).await.unwrap();
    civitas_tlog::merkle::verify_consistency(first.size, second.size, &first.root, &second.root, &proof).unwrap();
    let leaf = civitas_store::tlog::leaf(&app.db, 7).await.unwrap();
    let proof = civitas_store::tlog::inclusion_proof(&app.db, 7, second.size).await.unwrap();
    civitas_tlog::merkle::verify_inclusion(&leaf, 7, second.size, &proof, &second.root).unwrap();

    // The CLI checks the whole log (tiles, every entry with an auditor's token) and keeps the
    // checkpoint it saw; run again, it checks consistency with it.
    let dir = temp_dir();
    let state = dir.0.join("audit.state");
    let vkey_text = app.client.get(app.url("/log/key")).send().await.unwrap().text().await.unwrap();
    let audit = |token: Option<&str>| {
        let mut args = vec![
            "audit",
            "verify",
            "--url",
            app.base.as_str(),
            "--key",
            vkey_text.trim(),
            "--state",
            state.to_str().unwrap(),
        ];
        if let Some(t) = token {
            args.extend(["--token", t]);
        }
        civitas_cli(&args)
    };
    // `civitas log key` prints the key the server publishes (the operator hands it to auditors).
    let out = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["log", "key"])
        .env("CIVITAS_LOG", "warn")
        .env("CIVITAS_DATABASE", &app.db_url)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        vkey_text.trim(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = audit(Some(&auditor));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("every entry checked"));
    assert!(audit(None).status.success());

    // The data tracker: the holder's reads with their receipts, verifiable offline.
    app.clients().await;
    app.account(AN, 1).await;
    let holder = crate::one_stop::citizen_token_with(&app, AN, "openid access").await;
    let mine: serde_json::Value = app.get("/api/v1/me/access", &holder).await.json().await.unwrap();
    let items = mine["items"].as_array().unwrap();
    assert!(items.len() >= 151, "{}", items.len());
    assert!(items.iter().all(|i| i["actor"] != "" && i["log_index"].is_i64()));
    let newest_logged = items.iter().find(|i| i["log_index"].as_i64().unwrap() < second.size as i64).unwrap();
    let receipt_url = newest_logged["receipt"].as_str().unwrap();
    let r = app.get(receipt_url, &holder).await;
    assert_eq!(r.status(), 200);
    let receipt = r.text().await.unwrap();
    assert!(receipt.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{receipt}");
    let file = dir.0.join("receipt.txt");
    std::fs::write(&file, &receipt).unwrap();
    let out = civitas_cli(&["audit", "verify-receipt", file.to_str().unwrap(), "--key", vkey_text.trim()]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && said.starts_with("valid: entry") && said.contains(AN), "{said}");
    // A receipt whose record was changed (another reader named) does not verify.
    let parsed = civitas_tlog::receipt::Receipt::parse(&receipt).unwrap();
    let mut forged = parsed.clone();
    let mut entry = forged.extra.clone().unwrap();
    let at = entry.windows(16).position(|w| w == b"registry-officer").unwrap();
    entry[at] = b'R';
    forged.extra = Some(entry);
    std::fs::write(&file, forged.format()).unwrap();
    let out = civitas_cli(&["audit", "verify-receipt", file.to_str().unwrap(), "--key", vkey_text.trim()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    // Another person's read is not the holder's to download; the scope is required.
    let binh_index: i64 = civitas_store::dispatch!(&app.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT log_index FROM access_log WHERE subject_pid = $1 AND log_index IS NOT NULL LIMIT 1").bind(BINH).fetch_one(pool).await).unwrap();
    assert_eq!(app.get(&format!("/api/v1/me/access/{binh_index}/receipt"), &holder).await.status(), 404);
    assert_eq!(app.get("/api/v1/me/access/x/receipt", &holder).await.status(), 404);
    let no_scope = crate::one_stop::citizen_token_with(&app, AN, "openid dossiers").await;
    assert_eq!(app.get("/api/v1/me/access", &no_scope).await.status(), 403);

    // An entry altered in the database is named by the audit.
    civitas_store::dispatch!(&app.db, pool => sqlx::query("UPDATE tlog_entries SET entry = $1 WHERE idx = 5")
        .bind(b"tampered".to_vec()).execute(pool).await.map(|_| ()))
    .unwrap();
    let out = audit(Some(&auditor));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("FAIL entry 5 does not match its leaf hash"), "{said}");

    // An implementation this project did not write agrees...
    if let Some((ok, text)) = go_verify(&app, Some(&first)) {
        assert!(ok, "Go's sumdb/tlog refused the log: {text}");
        assert!(text.starts_with(&format!("ok {}", second.size)), "{text}");
        // ... and notices a stored hash altered in the database.
        civitas_store::dispatch!(&app.db, pool => sqlx::query(
            "UPDATE tlog_tiles SET hashes = $1 WHERE level = 0 AND idx = 0")
            .bind(vec![0u8; 256 * 32]).execute(pool).await.map(|_| ()))
        .unwrap();
        let (ok, text) = go_verify(&app, Some(&first)).unwrap();
        assert!(!ok && text.starts_with("FAIL"), "an altered tile passed: {text}");
        // So does the CLI, naming the tile.
        let out = audit(None);
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{said}");
        assert!(said.contains("tile/1/000.p/1 hash 0 is not the root of tile/0/000"), "{said}");
    }

    // Bad tile paths and tiles beyond the tree are 404s.
    for bad in [
        "/log/tile/0/1",
        "/log/tile/0/000.p/0",
        "/log/tile/9/000",
        "/log/tile/00/000",
        "/log/tile/0/x000/001",
        "/log/tile/1/000",
    ] {
        assert_eq!(app.client.get(app.url(bad)).send().await.unwrap().status(), 404, "{bad}");
    }

    // A log that cannot commit fails the read (fail closed): without its state row, no index.
    civitas_store::dispatch!(&app.db, pool => sqlx::query("DELETE FROM tlog_state").execute(pool).await.map(|_| ()))
        .unwrap();
    let r = app.get(&format!("/api/v1/people/{AN}"), &officer).await;
    assert_eq!(r.status(), 500, "a read whose log entry cannot be written is not answered");
}
on_both_databases!(reads_are_entries_of_a_verifiable_log, log_of_reads);

async fn sqlx_count(app: &TestApp, sql: &'static str) -> i64 {
    civitas_store::dispatch!(&app.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

/// A witness (`civitas witness serve`, a process of its own) cosigns each new checkpoint after
/// checking consistency with the one it cosigned before; the server publishes the checkpoint
/// with the cosignature.
async fn witnessed(app: TestApp) {
    use std::io::BufRead;
    let dir = temp_dir();
    let vkey_text = app.client.get(app.url("/log/key")).send().await.unwrap().text().await.unwrap();
    let log_key = Verifier::parse(&vkey_text).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let state = dir.0.join("witness.state");
    let mut child = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["witness", "serve", "--listen", &format!("127.0.0.1:{port}"), "--name", "witness.test"])
        .arg("--key")
        .arg(dir.0.join("witness.key"))
        .arg("--state")
        .arg(&state)
        .args(["--log-key", vkey_text.trim()])
        .env("CIVITAS_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    // "witness <vkey> of <origin> on http://…/add-checkpoint"
    let witness_vkey = first.split_whitespace().nth(1).unwrap().to_owned();
    let witness = Verifier::parse(&witness_vkey).unwrap();
    assert!(witness.is_cosigner());
    app.state.set_witnesses(vec![
        civitas_exchange::witness::parse(&format!("http://127.0.0.1:{port} {witness_vkey}")).unwrap(),
    ]);
    let officer = app.token(Role::RegistryOfficer, &[BA_DINH]);
    let mut cosigned_sizes = Vec::new();
    for round in 0..2 {
        for _ in 0..5 {
            assert_eq!(app.get(&format!("/api/v1/people/{AN}"), &officer).await.status(), 200);
        }
        let want = 5 * (round + 1);
        let mut seen = None;
        for _ in 0..200 {
            let note = app.client.get(app.url("/log/checkpoint")).send().await.unwrap().text().await.unwrap();
            let (c, opened) = Checkpoint::open(&note, &log_key, std::slice::from_ref(&witness)).unwrap();
            if c.size >= want && opened.verified_by.iter().any(|(n, t)| n == "witness.test" && t.is_some()) {
                seen = Some(c.size);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        cosigned_sizes.push(seen.expect("the checkpoint was cosigned by the witness"));
    }
    assert!(cosigned_sizes[1] > cosigned_sizes[0], "{cosigned_sizes:?}");
    // The witness persisted what it cosigned.
    let held = std::fs::read_to_string(&state).unwrap();
    assert!(held.split_whitespace().next().unwrap().parse::<u64>().unwrap() >= cosigned_sizes[1]);
    // A checkpoint of another key is refused by the witness (403), a bad request is 400.
    let client = reqwest::Client::new();
    let forged = civitas_tlog::note::Signer::log(&log_key.name, &[5u8; 32]).unwrap();
    let note = forged.sign(&Checkpoint { origin: log_key.name.clone(), size: 1, root: [0; 32] }.text()).unwrap();
    let url = format!("http://127.0.0.1:{port}/add-checkpoint");
    let r = client.post(&url).body(civitas_tlog::witness::request(0, &[], &note)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(client.post(&url).body("nonsense").send().await.unwrap().status(), 400);
    let _ = child.kill();
    let _ = child.wait();
}
on_both_databases!(a_witness_cosigns_the_checkpoints, witnessed);

/// A read the law lets an agency keep from the person for a time (a security investigation):
/// in the log at once, with its delay in the committed record; missing from the person's
/// tracker (and its receipt refused) until the delay has passed; a delay of 0 days shows it.
async fn delayed_disclosure(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    app.state.set_disclosure_delays(vec![
        civitas_web::DisclosureDelay::parse("tester:security-investigation=180").unwrap(),
        civitas_web::DisclosureDelay::parse("tester:audit-sample=0").unwrap(),
    ]);
    for bad in ["", "tester", "tester:p", "tester:p=x", ":p=1", "tester:=1", "tester:p=-1", "tester:p=4000"] {
        assert!(civitas_web::DisclosureDelay::parse(bad).is_err(), "{bad:?}");
    }
    let agency = app.token(Role::AgencySystem, &["01"]);
    for purpose in ["security-investigation", "audit-sample", "benefit-check"] {
        app.grant("tester", "register", purpose, &["record"], &[], &["01"]).await;
    }
    let read = |purpose: &'static str| {
        let (client, url, agency) = (app.client.clone(), app.url(&format!("/api/v1/people/{AN}")), agency.clone());
        async move { agency_call(client.get(url), purpose).bearer_auth(agency).send().await.unwrap().status() }
    };
    assert_eq!(read("security-investigation").await, 200);
    assert_eq!(read("audit-sample").await, 200);
    assert_eq!(read("benefit-check").await, 200);
    let holder = crate::one_stop::citizen_token_with(&app, AN, "openid access").await;
    let mine: serde_json::Value = app.get("/api/v1/me/access", &holder).await.json().await.unwrap();
    let purposes: Vec<&str> = mine["items"].as_array().unwrap().iter().filter_map(|i| i["purpose"].as_str()).collect();
    assert!(
        purposes.iter().any(|p| p.contains("audit-sample")) && purposes.iter().any(|p| p.contains("benefit-check")),
        "{purposes:?}"
    );
    assert!(!purposes.iter().any(|p| p.contains("security-investigation")), "a delayed read is hidden: {purposes:?}");
    // Never dropped: the read is in the log, with the instant it may be shown.
    let (index, after): (i64, String) = civitas_store::dispatch!(&app.db, pool => sqlx::query_as::<_, (i64, String)>(
        "SELECT log_index, disclose_after FROM access_log WHERE purpose LIKE '%security-investigation%'").fetch_one(pool).await).unwrap();
    assert!(after > civitas_store::timestamp(civitas::now() + time::Duration::days(179)), "{after}");
    assert_eq!(app.get(&format!("/api/v1/me/access/{index}/receipt"), &holder).await.status(), 404);
    let auditor = app.token(Role::Auditor, &["01"]);
    let vkey =
        Verifier::parse(&app.client.get(app.url("/log/key")).send().await.unwrap().text().await.unwrap()).unwrap();
    checkpoint_of_size(&app, &vkey, index as u64 + 1).await;
    let bundle = app
        .get(&format!("/log/{}", TileId { level: 0, index: 0, width: index as u32 + 1 }.entries_path()), &auditor)
        .await;
    let entries = decode_bundle(&bundle.bytes().await.unwrap()).unwrap();
    let record: serde_json::Value = serde_json::from_slice(&entries[index as usize][16..]).unwrap();
    assert_eq!(record["disclose_after"], after.as_str());
}
on_both_databases!(delayed_disclosure_hides_a_read_for_a_time, delayed_disclosure);

/// `kill -9` of a server under a read load: every read that was answered has its entry in the
/// log once the server is back (a read is answered only after its entry commits), and the log
/// verifies from the outside.
async fn killed_under_read_load(app: TestApp) {
    use std::sync::{Arc, Mutex};
    // Only the server process works on the database.
    app.state.jobs.stop();
    let mut server = crate::cluster::Server::start(&app.db_url, &app.base, &[]).await;
    let base = format!("http://{}", server.addr);
    let officer = app.token(Role::RegistryOfficer, &["01"]);
    let answered: Arc<Mutex<Vec<String>>> = Arc::default();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (base, officer, answered) = (base.clone(), officer.clone(), answered.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for i in 0.. {
                    let id = format!("k9-{w}-{i}");
                    let pid = [AN, BINH, CUONG][i % 3];
                    let r = client
                        .get(format!("{base}/api/v1/people/{pid}"))
                        .bearer_auth(&officer)
                        .header("x-request-id", &id)
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => answered.lock().unwrap().push(id),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    // Reads under way, then the process dies mid-flight.
    for _ in 0..100 {
        if answered.lock().unwrap().len() >= 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.kill();
    for w in workers {
        w.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() >= 50, "only {} reads answered before the kill", answered.len());

    // Back up: every answered read is in the log, integrated into a signed checkpoint.
    let server = crate::cluster::Server::start(&app.db_url, &app.base, &[]).await;
    let base = format!("http://{}", server.addr);
    let logged: std::collections::HashMap<String, Option<i64>> = civitas_store::dispatch!(&app.db, pool =>
        sqlx::query_as::<_, (String, Option<i64>)>("SELECT request_id, log_index FROM access_log WHERE request_id LIKE 'k9-%'")
            .fetch_all(pool).await)
    .unwrap()
    .into_iter()
    .collect();
    let missing: Vec<&String> = answered.iter().filter(|id| !logged.get(*id).is_some_and(|i| i.is_some())).collect();
    assert!(missing.is_empty(), "{} answered reads without a log entry, e.g. {:?}", missing.len(), missing.first());
    let highest = logged.values().flatten().copied().max().unwrap();
    for _ in 0..100 {
        let (size, _) = civitas_store::tlog::checkpoint(&app.db).await.unwrap();
        if size > highest as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(civitas_store::tlog::checkpoint(&app.db).await.unwrap().0 > highest as u64, "integrated after the restart");
    let vkey = reqwest::get(format!("{base}/log/key")).await.unwrap().text().await.unwrap();
    let auditor = app.token(Role::Auditor, &["01"]);
    let dir = temp_dir();
    let state = dir.0.join("audit.state");
    let state = state.to_str().unwrap();
    let out =
        civitas_cli(&["audit", "verify", "--url", &base, "--key", vkey.trim(), "--token", &auditor, "--state", state]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    // The state remembers its log: another log's state is named as such, not taken as a fork.
    let saved = std::fs::read_to_string(state).unwrap();
    std::fs::write(state, saved.replacen(&app.base.replace("http://", ""), "elsewhere.example", 1)).unwrap();
    let out = civitas_cli(&["audit", "verify", "--url", &base, "--key", vkey.trim(), "--state", state]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("another log"), "{}", String::from_utf8_lossy(&out.stdout));
}
on_both_databases!(answered_reads_survive_kill_9_in_the_log, killed_under_read_load);
