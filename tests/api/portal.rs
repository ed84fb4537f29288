//! Synchronisation with the National Public Service Portal (issue #18) over HTTP, against
//! `portal-sim`: dossiers driven through every state (early, on time, late, supplemented,
//! withdrawn, still open, rejected at receipt) reach the portal with the status codes of the
//! default mapping, in order, once in effect; a portal that is down at first is caught up; a
//! message the portal refuses becomes a dead letter that holds back its dossier's later
//! messages (never the other dossiers'), and an operator's replay sends them; the simulator
//! rejects malformed calls with the portal's error shape.

use std::sync::Arc;

use civitas_exchange::portal_sim::PortalSim;
use civitas_identity::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_databases;

/// Runs the portal simulator on `port` (0: any) until the returned sender is dropped.
pub(crate) async fn portal_sim(sim: Arc<PortalSim>, port: u16) -> (u16, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("sim port");
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = civitas_exchange::portal_sim::router(sim);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    (port, tx)
}

/// Points the server at the portal on `port`, with national codes `1.0000NN` for every
/// procedure (the shipped catalogue leaves them to the province).
pub(crate) fn link_to(app: &TestApp, port: u16) {
    let mut catalogue = (*app.state.catalogue).clone();
    for p in &mut catalogue.procedures {
        p.national_code = format!("1.{:06}", p.number);
    }
    app.state.set_portal(Some(civitas_exchange::portal::Link {
        url: reqwest::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
        client_id: "civitas".into(),
        client_secret: "s3cret-portal".into(),
        status: civitas_exchange::portal::StatusMap::default(),
        catalogue: Arc::new(catalogue),
        public_url: app.url("/"),
    }));
}

async fn backlog(app: &TestApp) -> (i64, i64) {
    civitas_services::portal::backlog(&app.db).await.unwrap()
}

async fn wait_for<F: Fn() -> bool>(what: &str, check: F) {
    for _ in 0..600 {
        if check() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

pub(crate) async fn synchronised(app: &TestApp) {
    for _ in 0..600 {
        if backlog(app).await == (0, 0) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let sql = "SELECT CAST(id AS TEXT) || ' ' || service || ' ' || CAST(attempts AS TEXT) || ' ' || CAST(next_attempt_at AS TEXT) || ' ' || COALESCE(last_error, '') FROM portal_outbox WHERE delivered_at IS NULL ORDER BY id";
    let rows: Vec<String> =
        civitas_store::dispatch!(&app.db, pool => sqlx::query_scalar(sql).fetch_all(pool).await).unwrap();
    panic!(
        "the portal outbox did not drain: {:?} at {}: {rows:#?}",
        backlog(app).await,
        civitas::now().unix_timestamp()
    );
}

fn statuses(held: &civitas_exchange::portal_sim::Held) -> Vec<i64> {
    held.steps.iter().map(|s| s["TrangThai"].as_i64().unwrap()).collect()
}

async fn sync_scenario(app: TestApp) {
    // The portal is down when the dossiers change: nothing is lost, the messages wait.
    let free = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    link_to(&app, port);
    let s = crate::reports::drive(&app).await;
    assert_eq!(s.lives.len(), 7);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (pending, dead) = backlog(&app).await;
    assert!(pending > 0 && dead == 0, "waiting while the portal is down: {pending} pending, {dead} dead");
    let officer = app.token(Role::OnestopOfficer, &["01"]);
    let codes: Vec<String> = {
        let sql = "SELECT code FROM dossiers ORDER BY received_at, code";
        civitas_store::dispatch!(&app.db, pool => sqlx::query_scalar(sql).fetch_all(pool).await).unwrap()
    };
    assert_eq!(codes.len(), 7);
    let view: Value = app.get(&format!("/api/v1/dossiers/{}", codes[0]), &officer).await.json().await.unwrap();
    assert_eq!(view["portal_sync"]["state"], "pending", "{}", view["portal_sync"]);
    assert!(view["portal_sync"]["last_error"].as_str().unwrap_or_default().contains("no answer"));

    // The portal comes up: everything is caught up, in order.
    let sim = PortalSim::new("civitas", "s3cret-portal");
    let (_, _stop) = portal_sim(sim.clone(), port).await;
    synchronised(&app).await;
    let held = sim.dossiers();
    assert_eq!(held.len(), 7, "{:?}", held.keys().collect::<Vec<_>>());
    assert!(sim.refused().is_empty(), "malformed calls: {:?}", sim.refused());
    // The life of each dossier (drive's order): status of every dossier message, then of steps.
    let finished = vec![2, 4, 4, 9, 10];
    let expected: Vec<Vec<i64>> = vec![
        finished.clone(),
        finished.clone(),
        finished.clone(),
        vec![2, 4, 5, 4, 4, 9],
        vec![2, 7],
        vec![2],
        vec![2, 3],
    ];
    for (code, want) in codes.iter().zip(&expected) {
        let h = &held[code];
        let got: Vec<i64> = h.statuses.iter().map(|s| i64::from(*s)).collect();
        assert_eq!(&got, want, "{code}: the dossier's statuses at the portal");
        assert_eq!(&statuses(h), want, "{code}: its progress steps");
        assert_eq!(h.duplicates, 0, "{code}: nothing arrived twice");
        assert!(h.hoso["MaTTHC"].as_str().unwrap().starts_with("1.0000"), "{}", h.hoso);
        for f in ["NgayNopHoSo", "NgayTiepNhan", "NgayHenTra"] {
            assert_eq!(h.hoso[f].as_str().unwrap().len(), 14, "{code}: {f} {}", h.hoso[f]);
        }
        let step_times: Vec<&str> = h.steps.iter().map(|s| s["ThoiDiemXuLy"].as_str().unwrap()).collect();
        let mut sorted = step_times.clone();
        sorted.sort();
        assert_eq!(step_times, sorted, "{code}: steps in time order");
    }
    // Channels (counter 1, online 2, post 3), the dates a status needs, the applicant's e-ID.
    let hoso = |i: usize| held[&codes[i]].hoso.clone();
    let channels: Vec<i64> = (0..7).map(|i| hoso(i)["KenhThucHien"].as_i64().unwrap()).collect();
    assert_eq!(channels, vec![2, 1, 2, 2, 2, 3, 2]);
    assert!(
        !hoso(0)["NgayTra"].as_str().unwrap().is_empty() && !hoso(0)["NgayKetThucXuLy"].as_str().unwrap().is_empty()
    );
    assert!(hoso(5)["NgayKetThucXuLy"].as_str().unwrap().is_empty(), "an open dossier is not reported processed");
    assert!(!hoso(6)["NgayTuChoi"].as_str().unwrap().is_empty());
    assert_eq!(hoso(0)["TaiKhoanDuocXacThucVoiVNeID"], 1);
    assert_eq!(hoso(1)["TaiKhoanDuocXacThucVoiVNeID"], 0);
    let supplements = hoso(3)["DanhSachHoSoBoSung"].as_array().unwrap().clone();
    assert_eq!(supplements.len(), 1, "{supplements:?}");
    assert_eq!(supplements[0]["NoiDungBoSung"], "Giấy mời công tác");
    assert_eq!(supplements[0]["NgayTiepNhanBoSung"].as_str().unwrap().len(), 14);
    // The appointment before the request and after the supplement (17:00 of the day).
    let portal_day = |d: time::Date| format!("{}170000", d.to_string().replace('-', ""));
    let (_, _, after) = s.lives[3].pause.expect("dossier 3 was supplemented");
    assert_eq!(supplements[0]["NgayHenTraTruoc"], portal_day(s.lives[3].appointment).as_str());
    assert_eq!(supplements[0]["NgayHenTraMoi"], portal_day(after).as_str());
    assert_eq!(supplements[0]["HoSoBoSungId"], format!("{}-BS1", codes[3]).as_str());
    assert!(supplements[0]["NguoiYeuCauBoSung"].as_str().is_some_and(|a| !a.is_empty()));
    let view: Value = app.get(&format!("/api/v1/dossiers/{}", codes[0]), &officer).await.json().await.unwrap();
    assert_eq!(view["portal_sync"]["state"], "synced", "{}", view["portal_sync"]);
    assert_eq!(view["portal_sync"]["accepted"], 10);

    // A dossier whose message the portal refuses: a dead letter, its next message waits, the
    // other dossiers go on; the operator's replay sends both.
    let citizen = crate::one_stop::citizen_token(&app, AN).await;
    let online = json!({ "procedure": "DVC-05", "fields": { "destination": "Huế", "from": "2027-01-05", "until": "2027-01-10" } });
    let submit = |body: Value| {
        let (app, citizen) = (&app, citizen.clone());
        async move {
            let r = app.send_json(Method::POST, "/api/v1/dossiers", &citizen, body).await;
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_owned()
        }
    };
    let other = submit(online.clone()).await;
    let operator = app.token(Role::Operator, &["01"]);
    // The simulator refuses the next dossier before it is created.
    let next = next_code(&other);
    sim.refuse_dossier(&next, true);
    let refused = submit(online.clone()).await;
    assert_eq!(refused, next, "dossier codes are sequential per body and day");
    wait_until_dead(&app).await;
    let dead: Value = app.get("/api/v1/portal/dead", &operator).await.json().await.unwrap();
    let items = dead["items"].as_array().unwrap_or_else(|| panic!("{dead}"));
    let mine: Vec<&Value> = items.iter().filter(|m| m["dossier_code"] == refused.as_str()).collect();
    assert_eq!(mine.len(), 1, "{dead}");
    assert!(mine[0]["last_error"].as_str().unwrap().contains("refused by the simulator"), "{}", mine[0]);
    assert_eq!(mine[0]["facts"], "", "the operator's list holds no personal data");
    wait_for("the other dossier synchronised", || sim.dossiers().contains_key(&other)).await;
    assert!(!sim.dossiers().contains_key(&refused));
    let view: Value = app.get(&format!("/api/v1/dossiers/{refused}"), &officer).await.json().await.unwrap();
    assert_eq!(view["portal_sync"]["state"], "dead");
    assert_eq!(view["portal_sync"]["pending"], 1, "its progress step waits behind the dead letter");
    // Only operators see and replay; a bad id is named.
    let r = app.get("/api/v1/portal/dead", &officer).await;
    assert_eq!(r.status(), 403);
    let r = app.send_json(Method::POST, "/api/v1/portal/dead/abc/replay", &operator, json!({})).await;
    expect_problem(r, 400).await;
    let r = app.send_json(Method::POST, "/api/v1/portal/dead/999999/replay", &operator, json!({})).await;
    expect_problem(r, 404).await;
    // The pages: the officer's dossier shows the dead letter; the operator's page lists it and
    // replays it (a form bound to the session); an officer may not see that page.
    let mut desk = app.browser();
    desk.get(&app.url("/signin/token")).await;
    desk.post(&app.url("/signin/token"), &[("token", officer.as_str())]).await;
    let page = desk.get(&app.url(&format!("/officer/dossiers/{refused}"))).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("data-state=\"dead\""), "{}", page.body);
    assert_eq!(desk.get(&app.url("/officer/portal")).await.status, 403);
    let mut ops = app.browser();
    ops.get(&app.url("/signin/token")).await;
    ops.post(&app.url("/signin/token"), &[("token", operator.as_str())]).await;
    let page = ops.get(&app.url("/officer/portal")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(refused.as_str()) && page.body.contains("refused by the simulator"), "{}", page.body);
    sim.refuse_dossier(&refused, false);
    let id = mine[0]["id"].as_i64().unwrap();
    // Without the session's CSRF token, or with an id that is no number, nothing is replayed.
    let r = app
        .client
        .post(app.url(&format!("/officer/portal/dead/{id}/replay")))
        .header("cookie", format!("civitas_session={operator}"))
        .form(&[("csrf", "forged.value")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(ops.post(&app.url("/officer/portal/dead/x1/replay"), &[]).await.status, 404);
    assert_eq!(backlog(&app).await.1, 1, "still dead");
    let r = ops.post(&app.url(&format!("/officer/portal/dead/{id}/replay")), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = app.send_json(Method::POST, &format!("/api/v1/portal/dead/{id}/replay"), &operator, json!({})).await;
    expect_problem(r, 404).await;
    synchronised(&app).await;
    let h = &sim.dossiers()[&refused];
    assert_eq!((h.statuses.clone(), statuses(h)), (vec![2], vec![2]));
    let status: Value = app.get("/api/v1/portal/status", &operator).await.json().await.unwrap();
    assert_eq!(
        (status["configured"].as_bool(), status["pending"].as_i64(), status["dead"].as_i64()),
        (Some(true), Some(0), Some(0))
    );

    // The simulator itself: no token, a wrong secret, a malformed item, an unknown dossier.
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let r = client.post(format!("{base}/api")).json(&json!({"service": "DongBoHoSoMC"})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=civitas&client_secret=wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let token: Value = client
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=civitas&client_secret=s3cret-portal")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let mut bad = held[&codes[0]].hoso.clone();
    bad["NgayTiepNhan"] = json!("2026-13-01");
    let r = client
        .post(format!("{base}/api"))
        .bearer_auth(token)
        .json(&json!({ "service": "DongBoHoSoMC", "isUpdating": "True", "data": [bad] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_code"], "-1");
    assert!(body["message"].as_str().unwrap().contains("NgayTiepNhan"), "{body}");
    let mut unknown = held[&codes[0]].hoso.clone();
    unknown["MaHoSo"] = json!("H01.1-990101-0001");
    let r = client
        .post(format!("{base}/api"))
        .bearer_auth(token)
        .json(&json!({ "service": "DongBoHoSoMC", "isUpdating": "True", "data": [unknown] }))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("does not exist"), "{body}");
}

/// The dossier code after `code` (same body and day, sequence + 1).
fn next_code(code: &str) -> String {
    let (head, seq) = code.rsplit_once('-').unwrap();
    let n: u32 = seq.parse().unwrap();
    format!("{head}-{:0width$}", n + 1, width = seq.len())
}

async fn wait_until_dead(app: &TestApp) {
    for _ in 0..600 {
        if backlog(app).await.1 > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no dead letter appeared");
}

on_both_databases!(portal_synchronisation, sync_scenario);

/// Three servers on one database synchronise together: each dossier reaches the portal with
/// its exact status history, nothing twice (a dossier's messages are claimed one at a time, in
/// order, whichever server claims them).
async fn three_servers(app: TestApp) {
    let peers = [spawn_peer(&app).await, spawn_peer(&app).await];
    let sim = PortalSim::new("civitas", "s3cret-portal");
    let (port, _stop) = portal_sim(sim.clone(), 0).await;
    for server in [&app, &peers[0], &peers[1]] {
        link_to(server, port);
    }
    app.clients().await;
    app.account(AN, 1).await;
    let citizen = crate::one_stop::citizen_token(&app, AN).await;
    let online = json!({ "procedure": "DVC-05", "fields": { "destination": "Huế", "from": "2027-01-05", "until": "2027-01-10" } });
    let procedure = app.state.catalogue.get("DVC-05").unwrap();
    let onestop = civitas_services::dossiers::Actor::Onestop("mc-1".into());
    let clerk =
        civitas_services::dossiers::Actor::Officer("cv-1".into(), civitas_services::catalogue::StepRole::Specialist);
    use civitas_services::workflow::Action;
    let mut codes = Vec::new();
    for _ in 0..40 {
        // Submitted at the first server (the citizen's token names it as issuer); the three
        // servers' sync jobs share the sending.
        let r = app.send_json(Method::POST, "/api/v1/dossiers", &citizen, online.clone()).await;
        assert_eq!(r.status(), 201);
        let code = r.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_owned();
        for (action, actor) in [
            (Action::StartProcessing, &onestop),
            (Action::Approve, &clerk),
            (Action::IssueResult, &clerk),
            (Action::Return, &onestop),
        ] {
            let input = civitas_services::dossiers::ActInput::default();
            civitas_services::dossiers::act(
                &app.db,
                &app.state.calendar,
                procedure,
                &code,
                action,
                actor,
                input,
                civitas::now(),
            )
            .await
            .unwrap_or_else(|e| panic!("{action:?} on {code}: {e}"));
        }
        codes.push(code);
    }
    synchronised(&app).await;
    let held = sim.dossiers();
    for code in &codes {
        let h = &held[code];
        assert_eq!(h.statuses, vec![2, 4, 4, 9, 10], "{code}");
        assert_eq!(statuses(h), vec![2, 4, 4, 9, 10], "{code}: steps");
        assert_eq!(h.duplicates, 0, "{code}: nothing arrived twice");
    }
}

on_both_databases!(portal_three_servers, three_servers);

/// Three `civitas serve` processes on one PostgreSQL synchronise a queue of 2,000 dossiers; one
/// is killed with SIGKILL mid-way and the portal restarts meanwhile: every dossier still
/// reaches the portal with its exact status history and steps, in order, once in effect (a
/// repeat only of what the dead server had claimed, answered as a duplicate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_sync_survives_kill_9_and_a_portal_restart() {
    let Some(app) = spawn_app(Backend::Postgres).await else { return };
    app.state.jobs.stop();
    let dir = temp_dir();
    let secret = dir.0.join("portal-secret");
    std::fs::write(&secret, "s3cret-portal\n").unwrap();
    // The operator's catalogue: the shipped one with national procedure codes.
    let shipped = include_str!("../../crates/civitas-services/data/procedures.toml");
    let mut procedures = String::new();
    for (n, part) in shipped.split("national_code = \"\"").enumerate() {
        if n > 0 {
            procedures.push_str(&format!("national_code = \"1.{n:06}\""));
        }
        procedures.push_str(part);
    }
    let procedures_file = dir.0.join("procedures.toml");
    std::fs::write(&procedures_file, procedures).unwrap();
    const N: u64 = 2000;
    let mut writes = Vec::new();
    for i in 0..N {
        writes.extend(queued(i));
    }
    civitas_store::unit::commit(&app.db, &writes).await.unwrap().unwrap();

    let sim = PortalSim::new("civitas", "s3cret-portal");
    let (port, stop_sim) = portal_sim(sim.clone(), 0).await;
    let url = format!("http://127.0.0.1:{port}/");
    let env = [
        ("CIVITAS_JOB_CLAIM_LEASE_SECS", "20"),
        ("CIVITAS_PORTAL_URL", url.as_str()),
        ("CIVITAS_PORTAL_CLIENT_SECRET_FILE", secret.to_str().unwrap()),
        ("CIVITAS_PROCEDURES_FILE", procedures_file.to_str().unwrap()),
    ];
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(crate::cluster::Server::start(&app.db_url, &app.base, &env).await);
    }
    wait_for("the portal receiving", || sim.dossiers().len() >= 30).await;
    servers[1].kill();
    let at_kill = backlog(&app).await.0;
    assert!(at_kill > 0, "messages were pending when the server died");
    // The portal goes away and comes back on the same address, with what it held.
    drop(stop_sim);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let while_down = backlog(&app).await.0;
    assert!(while_down > 0, "messages were waiting while the portal was down");
    eprintln!("portal: {at_kill} messages pending at the kill, {while_down} while the portal was down");
    let (_, _stop) = portal_sim(sim.clone(), port).await;
    for _ in 0..1800 {
        if backlog(&app).await == (0, 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(backlog(&app).await, (0, 0), "the outbox drained");
    let held = sim.dossiers();
    assert_eq!(held.len(), N as usize);
    let mut repeated = 0;
    for (code, h) in &held {
        assert_eq!(h.statuses, vec![2, 4], "{code}");
        assert_eq!(statuses(h), vec![2, 4], "{code}: steps");
        repeated += h.duplicates;
    }
    eprintln!("portal: {repeated} messages arrived twice (the dead server's claims), none stored twice");
    assert!(repeated <= 512, "at most one round of the dead server repeated: {repeated}");
}

/// The messages of dossier `i`, queued as the workflow queues them: received, then taken into
/// processing.
fn queued(i: u64) -> Vec<civitas_store::unit::Write> {
    use civitas_services::portal::StepFact;
    use civitas_services::workflow::State;
    let new = civitas_services::dossiers::NewDossier {
        procedure_code: "DVC-05".into(),
        body_code: "H01.1".into(),
        unit_code: BA_DINH.into(),
        applicant_pid: AN.into(),
        applicant_name: "Nguyễn Văn An".into(),
        channel: "online".into(),
        data: json!({}),
        statutory_days: 1,
        catalogue_version: "test".into(),
        national_code: String::new(),
    };
    let day = time::macros::date!(2026 - 12 - 01);
    let code = format!("H01.1-261201-{i:06}");
    let received = civitas_services::dossiers::received_dossier(
        &new,
        &code,
        "2026-12-01T02:00:00.000000Z",
        day,
        day.next_day().unwrap(),
    );
    let dossier = |state: State| civitas_services::dossiers::Dossier { state, ..received.clone() };
    let step = |action: &str, from: Option<&str>, to: &str, minute: u32| StepFact {
        at: format!("2026-12-01T02:{minute:02}:00.000000Z"),
        actor: "mc-1".into(),
        action: action.into(),
        from: from.map(str::to_owned),
        to: to.into(),
        note: None,
        appointment: None,
    };
    let received = [step("receive", None, "received", 0)];
    let mut writes =
        civitas_services::portal::writes(&dossier(State::Received), &received, true, "2026-12-01T02:00:00Z");
    let moved = [received[0].clone(), step("start_processing", Some("received"), "in_processing", 1)];
    writes.extend(civitas_services::portal::writes(
        &dossier(State::InProcessing),
        &moved,
        false,
        "2026-12-01T02:01:00Z",
    ));
    writes
}
