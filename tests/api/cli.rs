//! The `civitas` command as an operator runs it: generate → import (idempotent, line-numbered
//! rejections) → export round trip, token, on SQLite and PostgreSQL.

use std::process::Command;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_civitas");

fn civitas(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).env("CIVITAS_LOG", "warn").output().expect("run civitas")
}

/// The JSON records of an NDJSON file, each re-serialized with sorted keys.
fn canonical_lines(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap().to_string()).collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn import_round_trip(backend: Backend) {
    let Some((url, _dir)) = fresh_database(backend).await else { return };
    let dir = temp_dir();
    let file = dir.0.join("people.ndjson");
    let out = civitas(&["generate", "--people", "3000", "--province", "01", "--seed", "7"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(&file, &out.stdout).unwrap();
    let again = civitas(&["generate", "--people", "3000", "--province", "01", "--seed", "7"]);
    assert_eq!(out.stdout, again.stdout, "generation is deterministic for a seed");
    let file_s = file.to_str().unwrap();

    let out = civitas(&["import", file_s, "--database", &url, "--batch", "700"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("imported 3000, unchanged 0, rejected 0"), "{}", text(&out.stdout));
    let out = civitas(&["import", file_s, "--database", &url]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("imported 0, unchanged 3000, rejected 0"), "{}", text(&out.stdout));

    // Export, then import into a second database: the same people come out again.
    let exported = dir.0.join("export.ndjson");
    let out = civitas(&["export", "--database", &url, "--output", exported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let Some((url2, _dir2)) = fresh_database(backend).await else { return };
    let out = civitas(&["import", exported.to_str().unwrap(), "--database", &url2]);
    assert!(text(&out.stdout).starts_with("imported 3000,"), "{}", text(&out.stdout));
    let second = dir.0.join("export2.ndjson");
    civitas(&["export", "--database", &url2, "--output", second.to_str().unwrap()]);
    assert_eq!(std::fs::read(&exported).unwrap(), std::fs::read(&second).unwrap());
    let mut original = canonical_lines(&file);
    let mut round = canonical_lines(&exported);
    original.sort();
    round.sort();
    assert_eq!(original, round, "export must round-trip the generated records");

    // Registered and new people in one batch (on PostgreSQL the optimistic COPY meets the
    // registered ones and the batch is written again with only the new ones).
    let others = civitas(&["generate", "--people", "3000", "--province", "01", "--seed", "8"]);
    let known: std::collections::HashSet<String> = canonical_lines(&file)
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["pid"].to_string())
        .collect();
    let new_lines: Vec<&str> = std::str::from_utf8(&others.stdout)
        .unwrap()
        .lines()
        .filter(|l| !known.contains(&serde_json::from_str::<serde_json::Value>(l).unwrap()["pid"].to_string()))
        .collect();
    assert!(new_lines.len() > 2500, "seed 8 mostly differs from seed 7");
    let mixed = dir.0.join("mixed.ndjson");
    let mut body = std::fs::read_to_string(&file).unwrap();
    for l in &new_lines {
        body.push_str(l);
        body.push('\n');
    }
    std::fs::write(&mixed, body).unwrap();
    let out = civitas(&["import", mixed.to_str().unwrap(), "--database", &url2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = format!("imported {}, unchanged 3000, rejected 0", new_lines.len());
    assert!(text(&out.stdout).starts_with(&expected), "{} (expected {expected})", text(&out.stdout));
    let out = civitas(&["import", mixed.to_str().unwrap(), "--database", &url2]);
    let expected = format!("imported 0, unchanged {}, rejected 0", 3000 + new_lines.len());
    assert!(text(&out.stdout).starts_with(&expected), "{}", text(&out.stdout));

    // A file with broken lines: each reported by number, valid lines kept, exit code 2.
    let broken = dir.0.join("broken.ndjson");
    let lines = [
        r#"{"pid":"001090555001","full_name":"Đỗ Văn Nam","birth_date":"1990-02-03","sex":"male"}"#,
        r#"{"pid":"001090555002","full_name":"Đỗ Văn Bắc","birth_date":"1991-02-03","sex":"male"}"#,
        r#"{"pid":"12345","full_name":"Hồ Văn Tây","birth_date":"1990","sex":"male"}"#,
        r#"not json"#,
        r#"{"pid":"001090555003","full_name":"Đỗ Thị Đông","birth_date":"1990-02-30","sex":"female"}"#,
        "",
        r#"{"pid":"001090555001","full_name":"Đỗ Văn Nam","birth_date":"1990-02-03","sex":"male"}"#,
        r#"{"pid":"001190555004","full_name":"Đỗ Thị Thu","birth_date":"1990-05-06","sex":"female","permanent_residence":{"commune":"00004","address":"Số 1"}}"#,
    ];
    std::fs::write(&broken, lines.join("\n")).unwrap();
    let out = civitas(&["import", broken.to_str().unwrap(), "--database", &url]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(stdout.starts_with("imported 2, unchanged 0, rejected 5"), "{stdout}");
    assert!(stderr.contains("line 2: pid: the ID number says birth year 1990, the record says 1991"), "{stderr}");
    assert!(stderr.contains("line 3:") && stderr.contains("12 digits"), "{stderr}");
    assert!(stderr.contains("line 4: invalid JSON record"), "{stderr}");
    assert!(
        stderr.contains(
            "line 3: invalid JSON record: a personal ID number has 12 digits, this one has 5 characters (column 14)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("line 5:") && stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains("line 7: ID number 001090555001 already appears on line 1"), "{stderr}");

    // A byte-order mark on line 1 is not an error; a registered PID with different data is
    // reported (exit 2), not counted as unchanged; the same data is unchanged.
    let again = dir.0.join("again.ndjson");
    let changed = lines[0].replace("Đỗ Văn Nam", "Đỗ Văn Nâm");
    std::fs::write(&again, format!("\u{feff}{}\n{changed}\n", lines[7])).unwrap();
    let out = civitas(&["import", again.to_str().unwrap(), "--database", &url]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("imported 0, unchanged 1, rejected 1"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("line 2: ID number 001090555001 is registered with different data"));

    // References: a parent on a later line (another batch) is found; a parent or household
    // that exists nowhere is a rejected line, and so is a record referring to a rejected one.
    let refs = dir.0.join("refs.ndjson");
    let records = [
        r#"{"pid":"001090555010","full_name":"Đỗ Văn Con","birth_date":"1990-02-03","sex":"male","father_pid":"001060555014"}"#,
        r#"{"pid":"001090555011","full_name":"Đỗ Văn Mồ","birth_date":"1990-02-03","sex":"male","father_pid":"001060999999"}"#,
        r#"{"pid":"001090555012","full_name":"Đỗ Văn Hộ","birth_date":"1990-02-03","sex":"male","household_id":"HKNONE","relation_to_head":"child"}"#,
        r#"{"pid":"001090555013","full_name":"Đỗ Văn Cháu","birth_date":"1990-02-03","sex":"male","father_pid":"001090555011"}"#,
        r#"{"pid":"001060555014","full_name":"Đỗ Văn Bố","birth_date":"1960-02-03","sex":"male"}"#,
    ];
    std::fs::write(&refs, records.join("\n")).unwrap();
    let out = civitas(&["import", refs.to_str().unwrap(), "--database", &url, "--batch", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("imported 2, unchanged 0, rejected 3"), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("line 2: refers to ID number 001060999999"), "{stderr}");
    assert!(stderr.contains("line 3: household HKNONE does not exist"), "{stderr}");
    assert!(stderr.contains("line 4: refers to ID number 001090555011"), "{stderr}");

    // Output closed early: no panic, no "corrupt data".
    let mut child = Command::new(BIN)
        .args(["export", "--database", &url])
        .env("CIVITAS_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(101), "panicked: {}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("corrupt"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_round_trip_sqlite() {
    import_round_trip(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_round_trip_postgres() {
    import_round_trip(Backend::Postgres).await;
}

#[test]
fn token_and_configuration_errors_are_clear() {
    let dir = temp_dir();
    let url = format!("sqlite://{}/t.db", dir.0.display());
    let out = civitas(&["token", "--role", "registry-officer", "--unit", "00004", "--database", &url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim().split('.').count(), 3);
    let out = civitas(&["token", "--role", "operator", "--unit", "01", "--database", &url]);
    assert!(out.status.success(), "operator is a role: {}", text(&out.stderr));
    let out = civitas(&["token", "--role", "mayor", "--unit", "00004", "--database", &url]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unknown role \"mayor\""));
    let out = civitas(&["token", "--role", "auditor", "--unit", "02", "--database", &url]);
    assert!(text(&out.stderr).contains("no province has code 02"), "{}", text(&out.stderr));
    let out = Command::new(BIN).args(["migrate", "--database", &url]).env("CIVITAS_DATABSE", "x").output().unwrap();
    assert!(text(&out.stderr).contains("unknown environment variable CIVITAS_DATABSE"), "{}", text(&out.stderr));
    let out = civitas(&["migrate", "--database", "mysql://x"]);
    assert!(text(&out.stderr).contains("sqlite:// or postgres://"), "{}", text(&out.stderr));
}

fn civitas_stdin(args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .env("CIVITAS_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run civitas");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Operators create accounts and clients and rotate keys with the CLI, against the database a
/// running server uses; the server sees the results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_clients_and_keys_from_the_command_line() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let db = app.db_url.as_str();
    let out = civitas_stdin(
        &[
            "account",
            "create",
            "--pid",
            AN,
            "--level",
            "2",
            "--password-stdin",
            "--role",
            "registry-officer",
            "--unit",
            BA_DINH,
            "--database",
            db,
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("TOTP key: ") && stdout.contains("recovery codes: "), "{stdout}");
    // The person must exist, the password must pass the policy, passwords never on the command line.
    let out =
        civitas_stdin(&["account", "create", "--pid", "001099999999", "--password-stdin", "--database", db], "x\n");
    assert!(!out.status.success());
    let out = civitas_stdin(&["account", "create", "--pid", BINH, "--password-stdin", "--database", db], "password\n");
    assert!(text(&out.stderr).contains("too common"), "{}", text(&out.stderr));
    let out = civitas(&["account", "create", "--pid", BINH, "--database", db]);
    assert!(text(&out.stderr).contains("--password-stdin"), "{}", text(&out.stderr));
    // The new account signs in at the server.
    let mut jar = app.browser();
    jar.get(&app.url("/signin")).await;
    let r = jar.post(&app.url("/signin"), &[("pid", AN), ("password", PASSWORD)]).await;
    assert_eq!(r.location.as_deref(), Some("/signin/otp"), "an officer goes on to the second factor");

    // A client with a secret from standard input; bad input is refused with the reason.
    let out = civitas_stdin(
        &[
            "client",
            "create",
            "--id",
            "portal",
            "--redirect-uri",
            "https://portal.example/cb",
            "--scopes",
            "openid profile",
            "--grant-types",
            "authorization_code,refresh_token",
            "--secret-stdin",
            "--database",
            db,
        ],
        "portal-secret-0123456789abcdef0123\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = civitas_stdin(
        &[
            "client",
            "create",
            "--id",
            "x",
            "--redirect-uri",
            "http://evil.example/cb",
            "--grant-types",
            "authorization_code",
            "--secret-stdin",
            "--database",
            db,
        ],
        "0123456789abcdef0123456789abcdef\n",
    );
    assert!(text(&out.stderr).contains("https"), "{}", text(&out.stderr));
    let out = civitas(&[
        "client",
        "create",
        "--id",
        "y",
        "--scopes",
        "everything",
        "--grant-types",
        "client_credentials",
        "--database",
        db,
    ]);
    assert!(text(&out.stderr).contains("unknown scope"), "{}", text(&out.stderr));
    let r = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth("portal", Some("portal-secret-0123456789abcdef0123"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the client authenticates; the token is what is wrong");

    // Key rotation: the new key is published at once.
    let out = civitas(&["keys", "rotate", "--database", db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().filter(|l| l.contains("created")).count(), 2, "{}", text(&out.stdout));
    app.state.keys.reload(civitas::now()).await.unwrap();
    let jwks: serde_json::Value = app.client.get(app.url("/oauth2/jwks")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}

/// Signing keys sealed with the operator's key-encryption key: whoever reads the database
/// without the KEK cannot use them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_are_sealed_with_the_operators_kek() {
    let dir = temp_dir();
    let url = format!("sqlite://{}/k.db", dir.0.display());
    let with = |kek: &std::path::Path, args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("CIVITAS_LOG", "warn")
            .env("CIVITAS_KEY_ENCRYPTION_KEY_FILE", kek)
            .output()
            .expect("run civitas")
    };
    let out = civitas(&["keys", "generate-kek"]);
    assert!(out.status.success());
    let kek = dir.0.join("kek");
    std::fs::write(&kek, &out.stdout).unwrap();
    // Keys made in the clear first, then sealed in place by the first command with the KEK.
    assert!(civitas(&["keys", "list", "--database", &url]).status.success());
    let out = with(&kek, &["keys", "rotate", "--database", &url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let db = civitas::open(&url).await.unwrap();
    let stored: Vec<(Vec<u8>,)> = civitas_store::dispatch!(&db, pool => sqlx::query_as("SELECT private_key FROM signing_keys").fetch_all(pool).await).unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|(k,)| k.starts_with(b"civitas-kek1:")), "every key sealed");
    db.close().await;
    // Without the KEK: a clear refusal; with it: a token; with another KEK: refused.
    let out = civitas(&["token", "--role", "auditor", "--unit", "01", "--database", &url]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("sealed"), "{}", text(&out.stderr));
    let out = with(&kek, &["token", "--role", "auditor", "--unit", "01", "--database", &url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let other = dir.0.join("other");
    std::fs::write(&other, civitas(&["keys", "generate-kek"]).stdout).unwrap();
    let out = with(&other, &["token", "--role", "auditor", "--unit", "01", "--database", &url]);
    assert!(text(&out.stderr).contains("does not open"), "{}", text(&out.stderr));
}

/// `serve --demo` on a database that holds people the demo did not generate refuses with a
/// clear message (it would add accounts with the public demo password and register a death),
/// before it changes anything; on an empty database it seeds and marks the database as its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_refuses_a_database_with_real_people() {
    let Some((url, _dir)) = fresh_database(Backend::Sqlite).await else { return };
    let db = civitas::open(&url).await.unwrap();
    seed(&db).await;
    db.close().await;
    let out = Command::new(BIN)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--database", &url])
        .env("CIVITAS_LOG", "warn")
        .env("CIVITAS_DEMO_PEOPLE", "50")
        .output()
        .unwrap();
    assert!(!out.status.success(), "served: {}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("serve --demo refuses this database"), "{stderr}");
    let db = civitas::open(&url).await.unwrap();
    let accounts: i64 = civitas_store::dispatch!(&db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(pool).await).unwrap();
    assert_eq!(accounts, 0, "nothing was added");
    // The demo's own database is marked, so the next `serve --demo` goes on seeding nothing.
    let register = civitas_registry::Register::new(db.clone());
    let (empty_url, _dir2) = fresh_database(Backend::Sqlite).await.unwrap();
    let empty = civitas::open(&empty_url).await.unwrap();
    let seeded = civitas::seed_demo(&civitas_registry::Register::new(empty.clone()), 200).await.unwrap();
    assert!(seeded >= 200);
    // Most adults of the demo hold a card, some are on their way, each with its history.
    let states: Vec<(String, i64)> = civitas_store::dispatch!(&empty, pool =>
        sqlx::query_as("SELECT state, COUNT(*) FROM cards GROUP BY state ORDER BY state").fetch_all(pool).await)
    .unwrap();
    let count = |s: &str| states.iter().find(|(x, _)| x == s).map_or(0, |(_, n)| *n);
    assert!(count("returned") > 2 * (count("collected") + count("produced") + count("at-commune")), "{states:?}");
    assert!(count("returned") > 0 && count("produced") + count("at-commune") + count("collected") > 0, "{states:?}");
    let events: i64 = civitas_store::dispatch!(&empty, pool =>
        sqlx::query_scalar("SELECT COUNT(*) FROM card_events WHERE state = 'returned'").fetch_one(pool).await)
    .unwrap();
    assert_eq!(events, count("returned"));
    assert_eq!(civitas::seed_demo(&civitas_registry::Register::new(empty), 40).await.unwrap(), 0);
    assert!(civitas::seed_demo(&register, 40).await.is_err());
}

/// Export → import round-trips households exactly, including one whose head died (the
/// successor named by the system, waiting for the household to confirm): such a household
/// travels as a line of its own, ordinary ones stay implied by their heads' lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn households_round_trip_after_a_death() {
    let Some((url, _dir)) = fresh_database(Backend::Sqlite).await else { return };
    let db = civitas::open(&url).await.unwrap();
    seed(&db).await;
    // What a death registration leaves: An dead and out of the household, Bình named head.
    for sql in [
        "UPDATE people SET status = 'deceased', household_id = NULL, relation_to_head = NULL, permanent_commune = NULL, permanent_address = NULL WHERE pid = '001090123456'",
        "UPDATE households SET head_pid = '001190000002', head_to_confirm = 1 WHERE id = 'HKTEST1'",
    ] {
        civitas_store::dispatch!(&db, pool => sqlx::query(sql).execute(pool).await.map(|_| ())).unwrap();
    }
    let households = |db: civitas_store::Db| async move {
        let sql = "SELECT id, head_pid, commune, address, head_to_confirm FROM households ORDER BY id";
        let rows: Vec<(String, String, String, String, i64)> =
            civitas_store::dispatch!(&db, pool => sqlx::query_as(sql).fetch_all(pool).await).unwrap();
        rows
    };
    let before = households(db.clone()).await;
    db.close().await;
    let dir = temp_dir();
    let exported = dir.0.join("export.ndjson");
    let out = civitas(&["export", "--database", &url, "--output", exported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body = std::fs::read_to_string(&exported).unwrap();
    let household_lines: Vec<&str> = body.lines().filter(|l| l.starts_with("{\"household\"")).collect();
    assert_eq!(household_lines.len(), 1, "only the household its head's line cannot imply: {household_lines:?}");
    assert!(household_lines[0].contains("\"head_to_confirm\":true"), "{}", household_lines[0]);

    let Some((url2, _dir2)) = fresh_database(Backend::Sqlite).await else { return };
    let out = civitas(&["import", exported.to_str().unwrap(), "--database", &url2]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("rejected 0, households 1"), "{}", text(&out.stdout));
    let db2 = civitas::open(&url2).await.unwrap();
    assert_eq!(households(db2.clone()).await, before, "the households are the same");
    db2.close().await;
    let second = dir.0.join("export2.ndjson");
    civitas(&["export", "--database", &url2, "--output", second.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&exported).unwrap(),
        std::fs::read(&second).unwrap(),
        "export → import → export is stable"
    );

    // A household line that is wrong is reported with its line number; the rest is imported.
    let bad = dir.0.join("bad.ndjson");
    std::fs::write(
        &bad,
        "{\"household\":{\"id\":\"HX\",\"head_pid\":\"123\",\"commune\":\"00004\",\"address\":\"x\"}}\n",
    )
    .unwrap();
    let out = civitas(&["import", bad.to_str().unwrap(), "--database", &url2]);
    assert!(text(&out.stderr).contains("line 1: household head"), "{}", text(&out.stderr));
}

/// The operators' database commands refuse what they cannot do, with the reason, and change
/// nothing: a move that is not SQLite → PostgreSQL, a restore from a file that is not a
/// backup, a backup over an existing file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_commands_refuse_bad_input() {
    let Some((url, dir)) = fresh_database(Backend::Sqlite).await else { return };
    let dir = dir.unwrap();
    let out = civitas(&["migrate-data", "--from", "postgres://x@127.0.0.1/a", "--to", &url]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("moves a SQLite database"), "{}", text(&out.stderr));
    let not_backup = dir.0.join("notes.txt");
    std::fs::write(&not_backup, "these are not the droids").unwrap();
    let target = format!("sqlite://{}/restored.db", dir.0.display());
    let out = civitas(&["restore", "--database", &target, "--from", not_backup.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("is not a SQLite backup"), "{}", text(&out.stderr));
    assert!(!dir.0.join("restored.db").exists(), "nothing was written");
    let out = civitas(&["restore", "--database", &target, "--from", "/nonexistent/backup"]);
    assert!(text(&out.stderr).contains("is not a backup file"), "{}", text(&out.stderr));
    let out = civitas(&["backup", "--database", &url, "--out", not_backup.to_str().unwrap()]);
    assert!(text(&out.stderr).contains("exists"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&not_backup).unwrap(), "these are not the droids");
    let out = civitas(&["outbound", "status", "--database", &url]);
    assert!(
        text(&out.stdout).contains("outbound delivery is on; queued: 0 webhook deliveries, 0 SMS/e-mail"),
        "{}",
        text(&out.stdout)
    );
    // A read replica is for a PostgreSQL primary, and must be a postgres:// URL.
    let replica = |database: &str, replica: &str| {
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
            .env("CIVITAS_LOG", "warn")
            .env("CIVITAS_DATABASE_REPLICA", replica)
            .output()
            .expect("run civitas")
    };
    let out = replica(&url, "postgres://postgres@127.0.0.1:5433/x");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("database_replica needs a PostgreSQL primary"), "{}", text(&out.stderr));
    if let Some((pg, _)) = fresh_database(Backend::Postgres).await {
        let out = replica(&pg, "mysql://somewhere/x");
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("a replica must be postgres://"), "{}", text(&out.stderr));
    }
}

/// Agencies and grants from the command line: endpoints are parsed URLs, grants are checked
/// field by field, listed, revoked (each a log entry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agencies_and_grants_from_the_command_line() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.clients().await;
    let db = app.db_url.as_str();
    for bad in ["not a url", "ftp://bhxh.example/hooks", "http://user:pw@bhxh.example/hooks", "mailto:a@b.vn"] {
        let out = civitas(&["agency", "add", "--id", "bhxh", "--name", "BHXH", "--url", bad, "--database", db]);
        assert!(!out.status.success(), "{bad} was accepted");
        assert!(text(&out.stderr).contains("--url"), "{}", text(&out.stderr));
    }
    let out = civitas(&[
        "agency",
        "add",
        "--id",
        "bhxh",
        "--name",
        "BHXH",
        "--url",
        "http://127.0.0.1:8090/hooks",
        "--database",
        db,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let until = (civitas::now() + time::Duration::days(30)).date().to_string();
    let grant = |fields: &str, system: &str| {
        civitas(&[
            "agency",
            "grant",
            "--agency",
            "bhxh",
            "--system",
            system,
            "--service",
            "verify",
            "--purpose",
            "health-insurance",
            "--legal-basis",
            "Luật Bảo hiểm y tế",
            "--fields",
            fields,
            "--unit",
            "01",
            "--until",
            &until,
            "--database",
            db,
        ])
    };
    let out = grant("full_name,shoe_size", "agency");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("shoe_size"), "{}", text(&out.stderr));
    let out = grant("full_name", "rp");
    assert!(
        text(&out.stderr).contains("agency-system"),
        "a relying party is not an agency system: {}",
        text(&out.stderr)
    );
    let out = grant("full_name,birth_date", "agency");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    assert!(id.starts_with("G-"), "{id}");
    let listed = text(&civitas(&["agency", "grants", "--database", db]).stdout);
    assert!(listed.contains(&id) && listed.contains("birth_date,full_name") && listed.contains("until"), "{listed}");
    let out = civitas(&["agency", "revoke", &id, "--reason", "hết hạn hợp đồng", "--database", db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = civitas(&["agency", "revoke", &id, "--reason", "again", "--database", db]);
    assert!(!out.status.success() && text(&out.stderr).contains("already revoked"), "{}", text(&out.stderr));
    let listed = text(&civitas(&["agency", "grants", "--agency", "bhxh", "--database", db]).stdout);
    assert!(listed.contains("revoked"), "{listed}");
}
