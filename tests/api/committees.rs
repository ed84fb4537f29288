//! Steering committees as a JSON API: a leader sets up a province committee and a village
//! work group; its secretary records a member and assigns a task pointing at an indicator;
//! the task's owner reports progress (a stale version is a 409); the counts per level; and
//! the refusals — another province, another role, a member who does not keep the committee,
//! bad input naming the field.

use reqwest::Method;
use serde_json::{Value, json};

use civitas_identity::Role;

use crate::helpers::*;
use crate::on_both_databases;
use crate::one_stop::officer;

async fn committees_api(app: TestApp) {
    let leader = officer(&app, "ld-hanoi", Role::Leader, "01");
    let secretary = officer(&app, "cv-thuky", Role::Specialist, "01");
    // A member of the province's committee, working for the province.
    let owner = officer(&app, "cv-badinh", Role::Specialist, "01");
    let commune_officer = officer(&app, "cv-phuong", Role::Specialist, BA_DINH);
    let elsewhere = officer(&app, "ld-hcm", Role::Leader, "79");
    let post = |path: &str, token: &str, body: Value| {
        let (path, token) = (path.to_owned(), token.to_owned());
        let app = &app;
        async move { app.send_json(Method::POST, &path, &token, body).await }
    };

    let board = json!({ "kind": "steering", "level": "province", "name": "Ban Chỉ đạo 06 thành phố Hà Nội", "secretary": "cv-thuky" });
    let r = post("/api/v1/committees?unit=01", &leader, board.clone()).await;
    assert_eq!(r.status(), 201);
    let province: Value = r.json().await.unwrap();
    let id = province["id"].as_str().unwrap().to_owned();
    assert_eq!((province["province"].as_str(), province["level"].as_str()), (Some("01"), Some("province")));
    let group = json!({ "kind": "work_group", "level": "village", "village": "Tổ dân phố số 5", "name": "Tổ công tác 06 tổ dân phố số 5", "secretary": "cv-badinh" });
    assert_eq!(post(&format!("/api/v1/committees?unit={BA_DINH}"), &leader, group).await.status(), 201);
    // Refused: a leader of another province; a specialist; bad input, naming the field.
    expect_problem(post("/api/v1/committees?unit=01", &elsewhere, board.clone()).await, 403).await;
    expect_problem(post("/api/v1/committees?unit=01", &secretary, board.clone()).await, 403).await;
    let mut bad = board.clone();
    bad["level"] = json!("ward");
    let p = expect_problem(post("/api/v1/committees?unit=01", &leader, bad).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "level", "{p}");
    let r = app
        .client
        .post(app.url("/api/v1/committees?unit=01"))
        .bearer_auth(&leader)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_problem(r, 400).await;

    // The secretary records a member and assigns a task with an indicator target, already late.
    let members = format!("/api/v1/committees/{id}/members");
    let member =
        json!({ "member": "cv-badinh", "name": "Nguyễn Văn Bình", "role": "member", "position": "Công an phường" });
    expect_problem(post(&members, &commune_officer, member.clone()).await, 404).await;
    let p = expect_problem(post(&members, &owner, member.clone()).await, 403).await;
    assert!(p["type"].as_str().unwrap().ends_with("not-permitted"), "only its secretary or a leader: {p}");
    let r = post(&members, &secretary, member.clone()).await;
    assert_eq!(r.status(), 200);
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["members"].as_array().unwrap().len(), 1);
    let yesterday = (civitas_services::dossiers::local_today(civitas::now()) - time::Duration::days(1)).to_string();
    let tasks = format!("/api/v1/committees/{id}/tasks");
    let task = json!({ "title": "Đạt 80 % hồ sơ có thành phần số hóa", "owner": "cv-badinh", "deadline": yesterday,
                       "indicator": "d766.4.2", "target": 80.0 });
    let mut stranger = task.clone();
    stranger["owner"] = json!("nobody");
    let p = expect_problem(post(&tasks, &secretary, stranger).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "owner");
    let mut unmeasured = task.clone();
    unmeasured["indicator"] = json!("d766.1.1");
    expect_problem(post(&tasks, &secretary, unmeasured).await, 422).await;
    let r = post(&tasks, &secretary, task).await;
    assert_eq!(r.status(), 201);
    let assigned: Value = r.json().await.unwrap();
    let task_id = assigned["id"].as_str().unwrap().to_owned();
    let committee: Value = app.get(&format!("/api/v1/committees/{id}"), &secretary).await.json().await.unwrap();
    assert_eq!(committee["tasks"][0]["overdue"], true, "{committee}");
    assert_eq!(committee["tasks"][0]["indicator"], "d766.4.2");

    // The owner reports progress; a report on a stale version is a conflict; a leader of
    // another province does not see the task.
    let reports = format!("/api/v1/tasks/{task_id}/reports");
    let progress = json!({ "progress": 50, "status": "in_progress", "note": "Đã số hóa 60 % hồ sơ", "version": 1 });
    let r = post(&reports, &owner, progress.clone()).await;
    assert_eq!(r.status(), 200);
    let detail: Value = r.json().await.unwrap();
    assert_eq!(
        (detail["task"]["progress"].as_i64(), detail["task"]["status"].as_str()),
        (Some(50), Some("in_progress"))
    );
    assert_eq!(detail["reports"].as_array().unwrap().len(), 1);
    expect_problem(post(&reports, &owner, progress.clone()).await, 409).await;
    let mut wrong = progress.clone();
    wrong["version"] = json!(2);
    wrong["progress"] = json!(150);
    let p = expect_problem(post(&reports, &owner, wrong).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "progress");
    let other = officer(&app, "cv-khac", Role::Specialist, "01");
    let mut fine = progress.clone();
    fine["version"] = json!(2);
    let p = expect_problem(post(&reports, &other, fine).await, 403).await;
    assert!(p["type"].as_str().unwrap().ends_with("not-permitted"), "{p}");
    expect_problem(app.get(&format!("/api/v1/tasks/{task_id}"), &elsewhere).await, 404).await;
    expect_problem(app.get(&format!("/api/v1/committees/{id}"), &elsewhere).await, 404).await;

    // The unit's committees and counts per level.
    let list: Value = app.get("/api/v1/committees?unit=01", &leader).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    let level = |name: &str| list["levels"].as_array().unwrap().iter().find(|l| l["level"] == name).cloned().unwrap();
    assert_eq!((level("province")["committees"].as_i64(), level("province")["tasks"].as_i64()), (Some(1), Some(1)));
    assert_eq!(level("province")["overdue"], 1);
    assert_eq!(level("village")["committees"], 1);
    let commune: Value =
        app.get(&format!("/api/v1/committees?unit={BA_DINH}"), &commune_officer).await.json().await.unwrap();
    assert_eq!(commune["items"].as_array().unwrap().len(), 1, "a commune sees its own groups, not the province's");
    expect_problem(app.get("/api/v1/committees?unit=01", &elsewhere).await, 403).await;
}
on_both_databases!(committees_and_tasks_over_the_api, committees_api);
