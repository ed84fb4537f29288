//! A schema-driven fuzzer this project did not write (schemathesis, installed by
//! `scripts/setup-test-env`) runs over `/api/openapi.json` against the real server, as an
//! officer and as a citizen: no 5xx, no status, content type, header or body that the document
//! does not declare, and schema-invalid input refused.

use std::process::Command;

use civitas_identity::Role;

use crate::helpers::*;
use crate::one_stop::citizen_token;

const SCHEMATHESIS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/schemathesis/bin/schemathesis");

fn run(app: &TestApp, token: &str, label: &str) {
    let out = Command::new(SCHEMATHESIS)
        .args([
            "run",
            &app.url("/api/openapi.json"),
            "--url",
            &app.base,
            "-H",
            &format!("Authorization: Bearer {token}"),
            "-H",
            "X-Purpose: fuzz test",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection",
            "--max-examples",
            "25",
            "--workers",
            "2",
            "--seed",
            "20261130",
            "--no-color",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        // Its cache of found crashes stays out of the repository.
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis ({label}) found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("passed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_undocumented() {
    if !std::path::Path::new(SCHEMATHESIS).exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("schemathesis is required in CI: run scripts/setup-test-env");
        }
        eprintln!("\n*** SKIPPED (schemathesis not installed: run scripts/setup-test-env) ***\n");
        return;
    }
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    app.clients().await;
    app.account(AN, 1).await;
    let citizen = citizen_token(&app, AN).await;
    let officer = app.token(Role::OnestopOfficer, &["01"]);
    let registrar = app.token(Role::RegistryOfficer, &["01"]);
    // The fuzzer is a blocking child process: keep the server's runtime free to answer it.
    let app = std::sync::Arc::new(app);
    for (token, label) in [(registrar, "registry officer"), (officer, "one-stop officer"), (citizen, "citizen")] {
        let a = app.clone();
        tokio::task::spawn_blocking(move || run(&a, &token, label)).await.unwrap();
    }
}
