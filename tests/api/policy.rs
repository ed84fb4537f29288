//! The authorization policy, tested from its table: every route × every role (and no token, a
//! citizen with and without the route's scopes) × a covering and a non-covering administrative
//! unit answers what `civitas_web::policy::RULES` says. A route the table forgets never starts
//! (the router refuses it), and a method the table does not list is a 405.

use civitas_identity::Role;
use civitas_web::policy::{RULES, Rule, UnitRule, Who};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_databases;
use crate::one_stop::citizen_token_with;

/// Ba Đình (AN's commune) is covered; Hồ Chí Minh City (79) is not.
const OTHER_PROVINCE: &str = "79";
/// The purpose every call states; the agency system `tester` holds a grant of every service
/// for it in Hà Nội, the system `ungranted` none.
const PURPOSE: &str = "kiểm tra hồ sơ";

struct Fixture {
    dossier: String,
}

fn concrete(rule: &Rule, f: &Fixture) -> String {
    let id = if rule.path.starts_with("/api/v1/households") { "HKTEST1" } else { "no-such-id" };
    let slip = if rule.path.starts_with("/officer/dossiers/{code}/{slip}") { "receipt.pdf" } else { "x" };
    let code = if rule.path.contains("procedures") || rule.path.starts_with("/services") {
        "DVC-05"
    } else if rule.path.contains("indicators") {
        "dossiers.received"
    } else if rule.path.contains("old-communes") {
        "00001"
    } else {
        &f.dossier
    };
    let path = rule
        .path
        .replace("{pid}", AN)
        .replace("{code}", code)
        .replace("{slip}", slip)
        .replace("{id}", id)
        .replace("{report}", "1");
    let path = path.replace("{unit}", "01");
    // The unit asked for is the one the covering token names.
    if rule.unit == UnitRule::Requested { format!("{path}?unit=01") } else { path }
}

/// A body that passes validation, where the unit rule is checked on the body's content.
fn body_for(rule: &Rule) -> Value {
    match (rule.method, rule.path) {
        ("POST", "/api/v1/people/{pid}/residence") => json!({
            "kind": "temporary", "residence": { "commune": BA_DINH, "address": "Số 1 phố Kim Mã" },
            "until": "2027-06-01", "legal_basis": { "basis": "policy test" } }),
        ("POST", "/api/v1/people") => json!({
            "person": { "pid": "001301000090", "full_name": "Phạm Thị Hòa", "birth_date": "2001-02-03", "sex": "female",
                        "permanent_residence": { "commune": BA_DINH, "address": "Số 2 phố Kim Mã" },
                        "household_id": "HKPOLICY", "relation_to_head": "head" },
            "legal_basis": { "basis": "policy test" } }),
        ("POST", "/api/v1/certificates/{id}/correct") => {
            json!({ "full_name": "Nguyễn Văn Ân", "reason": "policy test" })
        }
        ("POST", "/api/v1/certificates/{id}/revoke") => json!({ "reason": "policy test" }),
        ("POST", "/api/v1/exchange/verify") => json!({ "pid": AN, "attributes": { "full_name": "Nguyễn Văn An" } }),
        ("POST", "/api/v1/exchange/attributes") => json!({ "pid": AN, "fields": ["full_name"] }),
        ("POST", "/api/v1/exchange/subscriptions") => json!({ "events": ["birth"] }),
        ("POST", "/api/v1/people/{pid}/cards/{id}/state") => json!({ "state": "produced" }),
        ("POST", "/api/v1/counter/card-check") => {
            json!({ "card_qr": format!("{AN}||Tran Van Made Up|01011980|Nam|somewhere|01012020") })
        }
        ("POST", "/api/v1/dossiers/{code}/actions") => json!({ "action": "start_processing", "version": 999_999 }),
        ("POST", "/api/v1/archive/packages/{code}/disposal") => {
            json!({ "decision": "dispose", "note": "policy test" })
        }
        ("POST", "/api/v1/dossiers/{code}/apology") => json!({ "new_date": "2027-02-01", "reason": "policy test" }),
        _ => json!({}),
    }
}

enum Credential<'a> {
    None,
    Bearer(&'a str),
    OfficerCookie(&'a str),
    Browser(&'a str),
}

async fn call(app: &TestApp, rule: &Rule, path: &str, cred: Credential<'_>) -> (u16, Option<String>, String) {
    let method = reqwest::Method::from_bytes(rule.method.as_bytes()).unwrap();
    let mut req = agency_call(app.client.request(method.clone(), app.url(path)), PURPOSE);
    if method != reqwest::Method::GET {
        req = req.header("content-type", "application/json").body(body_for(rule).to_string());
    }
    req = match cred {
        Credential::None => req,
        Credential::Bearer(t) => req.bearer_auth(t),
        Credential::OfficerCookie(t) => req.header("cookie", format!("civitas_session={t}")),
        Credential::Browser(cookies) => req.header("cookie", cookies),
    };
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = r.text().await.unwrap_or_default();
    (status, location, body)
}

/// Whether the access policy (not the workflow) refused the call.
fn policy_refused(status: u16, body: &str) -> bool {
    status == 401
        || (status == 403
            && (body.contains("urn:civitas:problem:forbidden")
                || body.contains("urn:civitas:problem:insufficient-scope")))
}

fn refused_page(status: u16, location: &Option<String>) -> bool {
    status == 403 || (status == 303 && location.as_deref().is_some_and(|l| l.starts_with("/signin")))
}

fn unit_for(rule: &Rule) -> &'static str {
    if matches!(rule.unit, UnitRule::List | UnitRule::Requested) { "01" } else { BA_DINH }
}

async fn matrix(app: TestApp) {
    app.clients().await;
    app.account(AN, 1).await;
    let all = civitas_exchange::grants::ATTRIBUTES;
    app.grant("tester", "register", PURPOSE, &["*"], &[], &["01"]).await;
    app.grant("tester", "verify", PURPOSE, &all, &[], &["01"]).await;
    app.grant("tester", "attributes", PURPOSE, &all, &[], &["01"]).await;
    app.grant("tester", "events", PURPOSE, &all, &["birth", "death"], &["01"]).await;
    let ungranted = civitas_identity::tokens::issue(
        &app.state.keys,
        "ungranted",
        Role::AgencySystem,
        &[civitas_core::UnitCode::parse("01").unwrap()],
        civitas::now().unix_timestamp(),
        600,
    );
    let full = citizen_token_with(&app, AN, "openid dossiers documents certificates access").await;
    let bare = citizen_token_with(&app, AN, "openid").await;
    let submitted = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .bearer_auth(&full)
        .json(&json!({ "procedure": "DVC-05", "fields": { "destination": "Huế", "from": "2027-01-05", "until": "2027-01-10" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 201);
    let dossier: Value = submitted.json().await.unwrap();
    let fixture = Fixture { dossier: dossier["code"].as_str().unwrap().to_owned() };
    // A citizen's browser session.
    let mut jar = app.browser();
    jar.get(&app.url("/signin")).await;
    let signed_in = jar.post(&app.url("/signin"), &[("pid", AN), ("password", PASSWORD)]).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let browser: String = jar.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");

    let mut checked = 0;
    for rule in RULES {
        let path = concrete(rule, &fixture);
        let what = format!("{} {}", rule.method, rule.path);
        match rule.who {
            Who::Public => {
                let (status, _, body) = call(&app, rule, &path, Credential::None).await;
                assert!(status != 401 && status < 500, "{what} public: {status} {body}");
            }
            Who::Protocol => {
                // The endpoint authenticates by its RFC: no server error without credentials.
                let (status, _, body) = call(&app, rule, &path, Credential::None).await;
                assert!(status < 500, "{what}: {status} {body}");
            }
            Who::Roles(roles) | Who::RolesOrCitizen(roles) => {
                let (status, _, body) = call(&app, rule, &path, Credential::None).await;
                assert_eq!(status, 401, "{what} without a token: {body}");
                for role in Role::ALL {
                    let token = app.token(role, &[unit_for(rule)]);
                    let (status, _, body) = call(&app, rule, &path, Credential::Bearer(&token)).await;
                    if roles.contains(&role) {
                        assert!(!policy_refused(status, &body) && status < 500, "{what} as {role:?}: {status} {body}");
                        if role == Role::AgencySystem {
                            // The same call by a system without a grant: refused, and recorded.
                            let (status, _, body) = call(&app, rule, &path, Credential::Bearer(&ungranted)).await;
                            assert_eq!(status, 403, "{what} without a grant: {body}");
                            assert!(body.contains("urn:civitas:problem:no-grant"), "{what}: {body}");
                        }
                        let other = app.token(role, &[OTHER_PROVINCE]);
                        let (status, _, body) = call(&app, rule, &path, Credential::Bearer(&other)).await;
                        let expected: &[u16] = match rule.unit {
                            UnitRule::Person | UnitRule::Household | UnitRule::Destination | UnitRule::Requested => {
                                &[403]
                            }
                            UnitRule::Dossier | UnitRule::Certificate | UnitRule::Committee => &[404],
                            // The made-up card differs from the register: refused outside.
                            UnitRule::CardHolder => &[422],
                            UnitRule::List | UnitRule::None => &[],
                        };
                        if expected.is_empty() {
                            assert!(!policy_refused(status, &body), "{what} as {role:?} of {OTHER_PROVINCE}: {status}");
                        } else {
                            assert!(expected.contains(&status), "{what} as {role:?} outside: {status} {body}");
                        }
                    } else {
                        assert_eq!(status, 403, "{what} as {role:?} (not allowed): {body}");
                    }
                    checked += 1;
                }
                if matches!(rule.who, Who::RolesOrCitizen(_)) {
                    check_citizen(&app, rule, &path, &full, &bare).await;
                } else {
                    let (status, _, body) = call(&app, rule, &path, Credential::Bearer(&full)).await;
                    assert!([401, 403].contains(&status), "{what} as a citizen: {status} {body}");
                }
            }
            Who::Citizen => {
                let (status, _, body) = call(&app, rule, &path, Credential::None).await;
                assert_eq!(status, 401, "{what} without a token: {body}");
                check_citizen(&app, rule, &path, &full, &bare).await;
                let officer = app.token(Role::RegistryOfficer, &[BA_DINH]);
                let (status, _, body) = call(&app, rule, &path, Credential::Bearer(&officer)).await;
                assert!([401, 403].contains(&status), "{what} as an officer: {status} {body}");
                checked += 1;
            }
            Who::OfficerPage(roles) => {
                let (status, location, _) = call(&app, rule, &path, Credential::None).await;
                assert!(refused_page(status, &location), "{what} signed out: {status}");
                for role in Role::ALL {
                    let token = app.token(role, &[unit_for(rule)]);
                    let (status, location, body) = call(&app, rule, &path, Credential::OfficerCookie(&token)).await;
                    if roles.contains(&role) {
                        assert!(
                            !refused_page(status, &location) && status < 500,
                            "{what} as {role:?}: {status} {body}"
                        );
                    } else {
                        assert!(refused_page(status, &location), "{what} as {role:?} (not allowed): {status}");
                    }
                    checked += 1;
                }
                // A citizen's session is not an officer's.
                let (status, location, _) = call(&app, rule, &path, Credential::Browser(&browser)).await;
                assert!(refused_page(status, &location), "{what} as a citizen: {status}");
            }
            Who::CitizenPage => {
                let (status, location, _) = call(&app, rule, &path, Credential::None).await;
                assert!(refused_page(status, &location), "{what} signed out: {status}");
                let (status, location, body) = call(&app, rule, &path, Credential::Browser(&browser)).await;
                assert!(
                    !(status == 303 && location.as_deref().is_some_and(|l| l.starts_with("/signin"))) && status < 500,
                    "{what} signed in: {status} {body}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 250, "only {checked} combinations checked");

    // Methods the table does not list are 405 (problem JSON), whatever the credentials.
    let officer = app.token(Role::RegistryOfficer, &[BA_DINH]);
    for rule in RULES {
        for method in ["GET", "POST", "PATCH", "PUT", "DELETE"] {
            if RULES.iter().any(|r| r.path == rule.path && r.method == method) {
                continue;
            }
            let path = concrete(rule, &fixture);
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let r = app.client.request(m, app.url(&path)).bearer_auth(&officer).send().await.unwrap();
            assert_eq!(r.status(), 405, "{method} {}", rule.path);
        }
    }
}

async fn check_citizen(app: &TestApp, rule: &Rule, path: &str, full: &str, bare: &str) {
    let what = format!("{} {}", rule.method, rule.path);
    let (status, _, body) = call(app, rule, path, Credential::Bearer(full)).await;
    assert!(!policy_refused(status, &body) && status < 500, "{what} as the citizen: {status} {body}");
    if rule.scopes.iter().any(|s| *s != "openid") {
        let (status, _, body) = call(app, rule, path, Credential::Bearer(bare)).await;
        assert_eq!(status, 403, "{what} without the scopes {:?}: {body}", rule.scopes);
        assert!(body.contains("insufficient-scope"), "{body}");
    }
}
on_both_databases!(every_route_answers_as_the_policy_table_says, matrix);

/// The README's access section is the table, generated.
#[test]
fn readme_access_section_is_the_policy_table() {
    let readme_path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(readme_path).unwrap();
    let begin = "<!-- policy table: generated from crates/civitas-web/src/policy.rs -->\n";
    let end = "<!-- end of policy table -->";
    let table = civitas_web::policy::markdown();
    let (Some(b), Some(e)) = (readme.find(begin), readme.find(end)) else {
        panic!("README.md has no policy table section (markers {begin:?} … {end:?})");
    };
    let current = &readme[b + begin.len()..e];
    if current != table {
        if std::env::var("UPDATE_README").is_ok_and(|v| v == "1") {
            let updated = format!("{}{}{}", &readme[..b + begin.len()], table, &readme[e..]);
            std::fs::write(readme_path, updated).unwrap();
        } else {
            panic!("README.md's access table differs from the policy table; run with UPDATE_README=1:\n{table}");
        }
    }
}
