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
