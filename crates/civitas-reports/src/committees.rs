//! Steering committees (Ban Chỉ đạo 06) and work groups (Tổ công tác 06) at province, commune
//! and village level: members with roles, tasks assigned to a member (one-off with a deadline,
//! or recurring every week, month or quarter), progress reports with an attachment, overdue
//! tasks, and the counts per level a progress meeting reads out. A task may point at an
//! indicator with a target ("reach 80 % online submissions by 30/06"). Every change is an
//! event of the log (`committee.*`), written in the change's transaction.

use serde::Serialize;
use time::{Date, Duration};

use civitas_store::{Db, NewEvent, dispatch, insert_events};

use crate::parse_day;

#[derive(Debug, thiserror::Error)]
pub enum CommitteeError {
    #[error("{field}: {problem}")]
    Invalid { field: &'static str, problem: String },
    #[error("no committee or task {0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the task changed meanwhile; read it again")]
    Conflict,
    #[error(transparent)]
    Store(#[from] civitas_store::StoreError),
}

impl From<sqlx::Error> for CommitteeError {
    fn from(e: sqlx::Error) -> Self {
        CommitteeError::Store(e.into())
    }
}

fn invalid(field: &'static str, problem: impl Into<String>) -> CommitteeError {
    CommitteeError::Invalid { field, problem: problem.into() }
}

pub const KINDS: &[&str] = &["steering", "work_group"];
pub const LEVELS: &[&str] = &["province", "commune", "village"];
pub const ROLES: &[&str] = &["head", "deputy", "member", "secretary"];
pub const RECURRENCES: &[&str] = &["weekly", "monthly", "quarterly"];
pub const STATUSES: &[&str] = &["assigned", "in_progress", "done"];

/// A level in words.
pub fn level_name(level: &str, lang: &str) -> &'static str {
    let en = lang == "en";
    match level {
        "province" => {
            if en {
                "Province"
            } else {
                "Cấp tỉnh"
            }
        }
        "commune" => {
            if en {
                "Commune"
            } else {
                "Cấp xã"
            }
        }
        "village" => {
            if en {
                "Village, residential group"
            } else {
                "Thôn, tổ dân phố"
            }
        }
        _ => "?",
    }
}

/// A kind in words.
pub fn kind_name(kind: &str, lang: &str) -> &'static str {
    match (kind, lang == "en") {
        ("steering", false) => "Ban Chỉ đạo 06",
        ("steering", true) => "Steering committee 06",
        (_, false) => "Tổ công tác 06",
        (_, true) => "Work group 06",
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Committee {
    pub id: String,
    pub kind: String,
    pub level: String,
    pub unit: String,
    pub province: String,
    pub village: Option<String>,
    pub name: String,
    pub secretary: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Member {
    pub member: String,
    pub name: String,
    pub role: String,
    pub position: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Task {
    pub id: String,
    pub committee_id: String,
    pub title: String,
    pub owner: String,
    pub deadline: String,
    pub recurring: Option<String>,
    pub status: String,
    pub progress: i64,
    pub indicator: Option<String>,
    pub target: Option<f64>,
    pub last_report_on: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

impl Task {
    /// When the next report is due: a one-off task's deadline; a recurring task's first date,
    /// then one interval after its last report.
    pub fn due(&self) -> Option<Date> {
        let deadline = parse_day(&self.deadline)?;
        let Some(every) = self.recurring.as_deref() else { return Some(deadline) };
        let Some(last) = self.last_report_on.as_deref().and_then(parse_day) else { return Some(deadline) };
        let days = match every {
            "weekly" => 7,
            "monthly" => 31,
            _ => 92,
        };
        Some(deadline.max(last + Duration::days(days)))
    }

    /// Not done and past its due date (a recurring task: its report is late).
    pub fn overdue(&self, today: Date) -> bool {
        (self.status != "done" || self.recurring.is_some()) && self.due().is_some_and(|d| d < today)
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TaskReport {
    pub id: i64,
    pub at: String,
    pub author: String,
    pub progress: i64,
    pub status: String,
    pub note: String,
    pub attachment_name: Option<String>,
    pub attachment_sha256: Option<String>,
}

/// A new committee or work group.
#[derive(Debug, Clone)]
pub struct NewCommittee {
    pub kind: String,
    pub level: String,
    pub unit: String,
    pub village: Option<String>,
    pub name: String,
    pub secretary: String,
}

fn nfc(s: &str) -> String {
    civitas_core::text::nfc(s.trim())
}

fn event(kind: &'static str, subject: &str, payload: serde_json::Value, actor: &str, at: &str) -> NewEvent {
    NewEvent { kind, subject: subject.to_owned(), payload, actor: actor.to_owned(), occurred_at: at.to_owned() }
}

/// The province of a unit the committee belongs to, checked against its level.
fn province_of(level: &str, unit: &str) -> Result<String, CommitteeError> {
    let all = civitas_core::units::AdminUnits::get();
    match level {
        "province" => all
            .province(unit)
            .map(|p| p.code.clone())
            .ok_or_else(|| invalid("unit", "a province-level committee belongs to a province (2 digits)")),
        _ => all
            .commune(unit)
            .map(|c| c.province_code.clone())
            .ok_or_else(|| invalid("unit", "a commune or village group belongs to a commune (5 digits)")),
    }
}

pub async fn create(
    db: &Db,
    new: NewCommittee,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<Committee, CommitteeError> {
    if !KINDS.contains(&new.kind.as_str()) {
        return Err(invalid("kind", format!("one of {}", KINDS.join(", "))));
    }
    if !LEVELS.contains(&new.level.as_str()) {
        return Err(invalid("level", format!("one of {}", LEVELS.join(", "))));
    }
    let province = province_of(&new.level, &new.unit)?;
    let village = new.village.as_deref().map(nfc).filter(|v| !v.is_empty());
    if (new.level == "village") != village.is_some() {
        return Err(invalid("village", "a village-level group names its village or residential group; others do not"));
    }
    let name = nfc(&new.name);
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid("name", "a name of 1 to 200 characters"));
    }
    if new.secretary.trim().is_empty() {
        return Err(invalid("secretary", "the officer who keeps the committee"));
    }
    let at = civitas_store::timestamp(now);
    let id = format!("BCD-{}", civitas_store::claims::token().chars().take(10).collect::<String>().to_uppercase());
    let c = Committee {
        id: id.clone(),
        kind: new.kind,
        level: new.level,
        unit: new.unit,
        province,
        village,
        name,
        secretary: new.secretary.trim().to_owned(),
        created_at: at.clone(),
    };
    let e = event(
        "committee.created",
        &id,
        serde_json::json!({ "kind": c.kind, "level": c.level, "unit": c.unit, "name": c.name }),
        actor,
        &at,
    );
    let _writer = db.write_lock().await;
    dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        sqlx::query("INSERT INTO committees (id, kind, level, unit, province, village, name, secretary, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&c.id).bind(&c.kind).bind(&c.level).bind(&c.unit).bind(&c.province).bind(&c.village).bind(&c.name).bind(&c.secretary).bind(&c.created_at)
            .execute(&mut *tx).await?;
        insert_events!(tx, std::slice::from_ref(&e))?;
        tx.commit().await
    })?;
    Ok(c)
}

/// Committees in `units` (provinces or communes; a province includes its communes' groups).
pub async fn list(db: &Db, units: &[String]) -> Result<Vec<Committee>, CommitteeError> {
    let mut out = Vec::new();
    for u in units {
        let (sql, key) = if u.len() == 2 {
            ("SELECT * FROM committees WHERE province = $1 ORDER BY level, unit, village, name", u)
        } else {
            ("SELECT * FROM committees WHERE unit = $1 AND level <> 'province' ORDER BY level, village, name", u)
        };
        let rows: Vec<Committee> = dispatch!(db, pool => sqlx::query_as(sql).bind(key).fetch_all(pool).await)?;
        out.extend(rows);
    }
    out.sort_by(|a, b| {
        (LEVELS.iter().position(|l| *l == a.level), &a.unit, &a.name).cmp(&(
            LEVELS.iter().position(|l| *l == b.level),
            &b.unit,
            &b.name,
        ))
    });
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

pub async fn get(db: &Db, id: &str) -> Result<(Committee, Vec<Member>, Vec<Task>), CommitteeError> {
    let c: Option<Committee> = dispatch!(db, pool => sqlx::query_as("SELECT * FROM committees WHERE id = $1").bind(id).fetch_optional(pool).await)?;
    let c = c.ok_or_else(|| CommitteeError::NotFound(id.to_owned()))?;
    let members: Vec<Member> = dispatch!(db, pool => sqlx::query_as(
        "SELECT member, name, role, position FROM committee_members WHERE committee_id = $1 ORDER BY role, name").bind(id).fetch_all(pool).await)?;
    let tasks: Vec<Task> = dispatch!(db, pool => sqlx::query_as(
        "SELECT id, committee_id, title, owner, deadline, recurring, status, progress, indicator, target, last_report_on, created_at, updated_at, version \
         FROM committee_tasks WHERE committee_id = $1 ORDER BY deadline, id").bind(id).fetch_all(pool).await)?;
    Ok((c, members, tasks))
}

/// Adds (or updates) a member.
pub async fn add_member(
    db: &Db,
    committee: &Committee,
    m: Member,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<(), CommitteeError> {
    let (member, name, position) = (m.member.trim().to_owned(), nfc(&m.name), nfc(&m.position));
    if member.is_empty() || member.len() > 100 {
        return Err(invalid("member", "the member's officer identifier (1 to 100 characters)"));
    }
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid("name", "the member's full name"));
    }
    if !ROLES.contains(&m.role.as_str()) {
        return Err(invalid("role", format!("one of {}", ROLES.join(", "))));
    }
    let at = civitas_store::timestamp(now);
    let e = event(
        "committee.member_set",
        &committee.id,
        serde_json::json!({ "member": member, "role": m.role }),
        actor,
        &at,
    );
    let _writer = db.write_lock().await;
    dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        sqlx::query("INSERT INTO committee_members (committee_id, member, name, role, position) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (committee_id, member) DO UPDATE SET name = excluded.name, role = excluded.role, position = excluded.position")
            .bind(&committee.id).bind(&member).bind(&name).bind(&m.role).bind(&position).execute(&mut *tx).await?;
        insert_events!(tx, std::slice::from_ref(&e))?;
        tx.commit().await
    })?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct NewTask {
    pub title: String,
    pub owner: String,
    pub deadline: String,
    pub recurring: Option<String>,
    pub indicator: Option<String>,
    pub target: Option<String>,
}

pub async fn assign(
    db: &Db,
    catalogue: &crate::Catalogue,
    committee: &Committee,
    members: &[Member],
    t: NewTask,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<Task, CommitteeError> {
    let title = nfc(&t.title);
    if title.is_empty() || title.chars().count() > 500 {
        return Err(invalid("title", "what is to be done (1 to 500 characters)"));
    }
    if !members.iter().any(|m| m.member == t.owner) {
        return Err(invalid("owner", "the task's owner is a member of the committee"));
    }
    let deadline = parse_day(t.deadline.trim()).ok_or_else(|| invalid("deadline", "a date YYYY-MM-DD"))?;
    let recurring = t.recurring.filter(|r| !r.is_empty());
    if let Some(r) = &recurring
        && !RECURRENCES.contains(&r.as_str())
    {
        return Err(invalid("recurring", format!("none, or one of {}", RECURRENCES.join(", "))));
    }
    let indicator = t.indicator.filter(|i| !i.is_empty());
    let target = match (&indicator, t.target.as_deref().map(str::trim).filter(|s| !s.is_empty())) {
        (None, None) => None,
        (None, Some(_)) => return Err(invalid("indicator", "a target needs the indicator it is for")),
        (Some(code), target) => {
            let i = catalogue
                .get(code)
                .ok_or_else(|| invalid("indicator", format!("no indicator {code:?} in the catalogue")))?;
            if i.numerator.is_none() {
                return Err(invalid("indicator", format!("{code} is not measured yet")));
            }
            let v: f64 = target
                .ok_or_else(|| invalid("target", "the value to reach"))?
                .replace(',', ".")
                .parse()
                .map_err(|_| invalid("target", "a number"))?;
            Some(v)
        }
    };
    let at = civitas_store::timestamp(now);
    let id = format!("NV-{}", civitas_store::claims::token().chars().take(10).collect::<String>().to_uppercase());
    let task = Task {
        id: id.clone(),
        committee_id: committee.id.clone(),
        title,
        owner: t.owner,
        deadline: deadline.to_string(),
        recurring,
        status: "assigned".into(),
        progress: 0,
        indicator,
        target,
        last_report_on: None,
        created_at: at.clone(),
        updated_at: at.clone(),
        version: 1,
    };
    let e = event(
        "committee.task_assigned",
        &id,
        serde_json::json!({ "committee": committee.id, "owner": task.owner, "deadline": task.deadline, "recurring": task.recurring, "indicator": task.indicator, "target": task.target }),
        actor,
        &at,
    );
    let _writer = db.write_lock().await;
    dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        sqlx::query("INSERT INTO committee_tasks (id, committee_id, title, owner, deadline, recurring, status, progress, indicator, target, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $10)")
            .bind(&task.id).bind(&task.committee_id).bind(&task.title).bind(&task.owner).bind(&task.deadline).bind(&task.recurring)
            .bind(&task.status).bind(&task.indicator).bind(task.target).bind(&at).execute(&mut *tx).await?;
        insert_events!(tx, std::slice::from_ref(&e))?;
        tx.commit().await
    })?;
    Ok(task)
}

pub async fn task(db: &Db, id: &str) -> Result<(Task, Vec<TaskReport>), CommitteeError> {
    let t: Option<Task> = dispatch!(db, pool => sqlx::query_as(
        "SELECT id, committee_id, title, owner, deadline, recurring, status, progress, indicator, target, last_report_on, created_at, updated_at, version \
         FROM committee_tasks WHERE id = $1").bind(id).fetch_optional(pool).await)?;
    let t = t.ok_or_else(|| CommitteeError::NotFound(id.to_owned()))?;
    let reports: Vec<TaskReport> = dispatch!(db, pool => sqlx::query_as(
        "SELECT id, at, author, progress, status, note, attachment_name, attachment_sha256 FROM task_reports WHERE task_id = $1 ORDER BY id DESC")
        .bind(id).fetch_all(pool).await)?;
    Ok((t, reports))
}

type AttachmentRow = (Option<String>, Option<String>, Option<Vec<u8>>);
/// (level, status, recurring, deadline, last report).
type TaskRow = (String, String, Option<String>, String, Option<String>);
/// (title, days to the deadline, recurrence, (indicator, target), status, progress).
type DemoTask = (&'static str, i64, Option<&'static str>, Option<(&'static str, &'static str)>, &'static str, i64);

/// A report's attachment: (name, content type, bytes).
pub async fn attachment(db: &Db, task_id: &str, report: i64) -> Result<(String, String, Vec<u8>), CommitteeError> {
    let row: Option<AttachmentRow> = dispatch!(db, pool => sqlx::query_as(
        "SELECT attachment_name, attachment_type, attachment FROM task_reports WHERE task_id = $1 AND id = $2")
        .bind(task_id).bind(report).fetch_optional(pool).await)?;
    match row {
        Some((Some(n), Some(t), Some(b))) => Ok((n, t, b)),
        _ => Err(CommitteeError::NotFound(format!("{task_id}/{report}"))),
    }
}

/// A progress report.
#[derive(Debug, Clone)]
pub struct Report {
    pub progress: i64,
    pub status: String,
    pub note: String,
    /// (file name, content type, bytes).
    pub attachment: Option<(String, String, Vec<u8>)>,
    pub expected_version: i64,
}

/// The largest attachment kept with a report.
pub const MAX_ATTACHMENT: usize = 5 * 1024 * 1024;

/// The owner or the committee's secretary reports progress.
pub async fn report(
    db: &Db,
    committee: &Committee,
    task: &Task,
    r: Report,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<(), CommitteeError> {
    if actor != task.owner && actor != committee.secretary {
        return Err(CommitteeError::Forbidden(
            "only the task's owner or the committee's secretary reports on it".into(),
        ));
    }
    if !(0..=100).contains(&r.progress) {
        return Err(invalid("progress", "a percentage from 0 to 100"));
    }
    if !STATUSES.contains(&r.status.as_str()) {
        return Err(invalid("status", format!("one of {}", STATUSES.join(", "))));
    }
    let note = nfc(&r.note);
    if note.is_empty() || note.chars().count() > 4000 {
        return Err(invalid("note", "what was done (1 to 4,000 characters)"));
    }
    if let Some((name, _, bytes)) = &r.attachment
        && (bytes.len() > MAX_ATTACHMENT || name.trim().is_empty())
    {
        return Err(invalid("attachment", "a named file of at most 5 MB"));
    }
    let at = civitas_store::timestamp(now);
    let today = crate::local_day(&at).map(|d| d.to_string()).unwrap_or_default();
    let sha = r.attachment.as_ref().map(|(_, _, b)| {
        use sha2::Digest;
        sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect::<String>()
    });
    let (name, kind, bytes) = match r.attachment {
        Some((n, t, b)) => (Some(n), Some(t), Some(b)),
        None => (None, None, None),
    };
    let e = event(
        "committee.task_reported",
        &task.id,
        serde_json::json!({ "progress": r.progress, "status": r.status, "attachment": sha }),
        actor,
        &at,
    );
    let _writer = db.write_lock().await;
    let updated = dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query("UPDATE committee_tasks SET status = $1, progress = $2, last_report_on = $3, updated_at = $4, version = version + 1 WHERE id = $5 AND version = $6")
            .bind(&r.status).bind(r.progress).bind(&today).bind(&at).bind(&task.id).bind(r.expected_version).execute(&mut *tx).await?.rows_affected();
        if n == 1 {
            sqlx::query("INSERT INTO task_reports (task_id, at, author, progress, status, note, attachment_name, attachment_type, attachment_sha256, attachment) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(&task.id).bind(&at).bind(actor).bind(r.progress).bind(&r.status).bind(&note).bind(&name).bind(&kind).bind(&sha).bind(&bytes)
                .execute(&mut *tx).await?;
            insert_events!(tx, std::slice::from_ref(&e))?;
            tx.commit().await?;
        }
        Ok::<_, sqlx::Error>(n == 1)
    })?;
    if updated { Ok(()) } else { Err(CommitteeError::Conflict) }
}

/// The counts of one level, as a progress meeting reads them out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LevelCount {
    pub level: String,
    pub committees: i64,
    pub tasks: i64,
    pub done: i64,
    pub in_progress: i64,
    pub recurring: i64,
    pub overdue: i64,
}

/// Committees and their tasks per level within `unit` (`VN`, a province or a commune).
pub async fn task_counts(db: &Db, unit: &str, today: Date) -> Result<Vec<LevelCount>, crate::ReportError> {
    let filter = if unit == crate::NATION {
        "1 = 1 OR c.province = $1"
    } else if unit.len() == 2 {
        "c.province = $1"
    } else {
        "c.unit = $1 AND c.level <> 'province'"
    };
    let committees: Vec<(String, i64)> = dispatch!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT c.level, COUNT(*) FROM committees c WHERE {filter} GROUP BY c.level"))).bind(unit).fetch_all(pool).await)?;
    let tasks: Vec<TaskRow> = dispatch!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT c.level, t.status, t.recurring, t.deadline, t.last_report_on FROM committee_tasks t JOIN committees c ON c.id = t.committee_id WHERE {filter}")))
        .bind(unit).fetch_all(pool).await)?;
    let mut out: Vec<LevelCount> =
        LEVELS.iter().map(|l| LevelCount { level: (*l).to_owned(), ..LevelCount::default() }).collect();
    for (level, n) in committees {
        if let Some(c) = out.iter_mut().find(|c| c.level == level) {
            c.committees = n;
        }
    }
    for (level, status, recurring, deadline, last) in tasks {
        let Some(c) = out.iter_mut().find(|c| c.level == level) else { continue };
        let t = Task {
            id: String::new(),
            committee_id: String::new(),
            title: String::new(),
            owner: String::new(),
            deadline,
            recurring,
            status,
            progress: 0,
            indicator: None,
            target: None,
            last_report_on: last,
            created_at: String::new(),
            updated_at: String::new(),
            version: 0,
        };
        c.tasks += 1;
        if t.recurring.is_some() {
            c.recurring += 1;
        } else if t.status == "done" {
            c.done += 1;
        } else {
            c.in_progress += 1;
        }
        if t.overdue(today) {
            c.overdue += 1;
        }
    }
    Ok(out)
}

/// The demo's committees (`serve --demo`): the province's steering committee and work group,
/// those of `communes`, and work groups of three villages or residential groups in each, with
/// members and tasks — some done, some in progress, some recurring, a few overdue. Skipped when
/// committees exist. Returns how many committees were set up.
pub async fn seed_demo(
    db: &Db,
    catalogue: &crate::Catalogue,
    province: &str,
    communes: &[String],
    now: time::OffsetDateTime,
) -> Result<usize, CommitteeError> {
    let existing: i64 =
        dispatch!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM committees").fetch_one(pool).await)?;
    if existing > 0 {
        return Ok(0);
    }
    let today = crate::local_day(&civitas_store::timestamp(now)).unwrap_or(now.date());
    let mut plan: Vec<(String, String, String, Option<String>, String)> = vec![
        ("steering".into(), "province".into(), province.to_owned(), None, "Ban Chỉ đạo Đề án 06 thành phố".into()),
        (
            "work_group".into(),
            "province".into(),
            province.to_owned(),
            None,
            "Tổ công tác triển khai Đề án 06 thành phố".into(),
        ),
    ];
    let units = civitas_core::units::AdminUnits::get();
    for c in communes {
        let name = units.commune(c).map(|x| x.name.clone()).unwrap_or_else(|| c.clone());
        plan.push(("steering".into(), "commune".into(), c.clone(), None, format!("Ban Chỉ đạo Đề án 06 {name}")));
        plan.push(("work_group".into(), "commune".into(), c.clone(), None, format!("Tổ công tác Đề án 06 {name}")));
        for v in ["Tổ dân phố số 1", "Tổ dân phố số 2", "Tổ dân phố số 3"] {
            plan.push((
                "work_group".into(),
                "village".into(),
                c.clone(),
                Some(v.to_owned()),
                format!("Tổ công tác 06 {v}, {name}"),
            ));
        }
    }
    let tasks: [DemoTask; 5] = [
        ("Rà soát, làm sạch dữ liệu dân cư trên địa bàn", -20, None, None, "done", 100),
        (
            "Hướng dẫn người dân kích hoạt tài khoản định danh mức 2",
            25,
            None,
            Some(("eid.created.level2", "500")),
            "in_progress",
            60,
        ),
        ("Đạt 80 % hồ sơ nộp trực tuyến", 30, None, Some(("dossiers.online_share", "80")), "in_progress", 70),
        ("Báo cáo tiến độ Đề án 06 hằng tháng", -45, Some("monthly"), None, "in_progress", 50),
        ("Thu nhận hồ sơ cấp thẻ căn cước lưu động", -5, None, Some(("cards.collected", "200")), "in_progress", 40),
    ];
    let mut n = 0;
    for (i, (kind, level, unit, village, name)) in plan.into_iter().enumerate() {
        let secretary = format!("thuky-{}", i + 1);
        let new = NewCommittee { kind, level, unit, village, name, secretary: secretary.clone() };
        let c = create(db, new, "civitas-demo", now).await?;
        let members = [
            ("truongban", "Nguyễn Văn Hùng", "head", "Chủ tịch UBND"),
            ("phoban", "Trần Thị Mai", "deputy", "Trưởng Công an"),
            (secretary.as_str(), "Lê Minh Tuấn", "secretary", "Cán bộ tư pháp"),
            ("thanhvien", "Phạm Thu Hà", "member", "Công chức một cửa"),
        ];
        let mut list = Vec::new();
        for (id, person, role, position) in members {
            let m = Member {
                member: format!("{id}-{}", i + 1),
                name: person.into(),
                role: role.into(),
                position: position.into(),
            };
            let m = if role == "secretary" { Member { member: secretary.clone(), ..m } } else { m };
            add_member(db, &c, m.clone(), "civitas-demo", now).await?;
            list.push(m);
        }
        // Two or three tasks each, in turn.
        for k in 0..(2 + i % 2) {
            let (title, due, recurring, indicator, status, progress) = tasks[(i + k) % tasks.len()];
            let owner = list[(i + k) % list.len()].member.clone();
            let t = NewTask {
                title: title.into(),
                owner: owner.clone(),
                deadline: (today + Duration::days(due)).to_string(),
                recurring: recurring.map(str::to_owned),
                indicator: indicator.map(|x| x.0.to_owned()),
                target: indicator.map(|x| x.1.to_owned()),
            };
            let task = assign(db, catalogue, &c, &list, t, "civitas-demo", now).await?;
            // Half of the overdue ones have not reported yet.
            if status == "done" || (i + k) % 2 == 0 {
                let r = Report {
                    progress,
                    status: status.into(),
                    note: "Đã triển khai theo kế hoạch".into(),
                    attachment: None,
                    expected_version: task.version,
                };
                report(db, &c, &task, r, &owner, now).await?;
            }
        }
        n += 1;
    }
    Ok(n)
}
