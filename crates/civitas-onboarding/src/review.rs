//! The level-2 review queue of a commune, the officer's decision, and the phone's view of its
//! session (with the one-time collection of the second factor).

use serde::Serialize;

use civitas_identity::accounts::SecondFactor;
use civitas_store::StoreError;
use civitas_store::dispatch;
use civitas_store::unit::Value;

use crate::{COLUMNS, Context, OnboardingError, Row, execute, execute_noting, load};

/// A level-2 request waiting in a commune's queue.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub id: String,
    pub pid: String,
    pub commune: Option<String>,
    pub state: String,
    pub csca: Option<String>,
    pub active_authentication: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
    /// `data:` URLs of the selfie and the chip's portrait (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selfie: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portrait: Option<String>,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<String>,
    pub updated_at: String,
}

fn review_of(row: Row, detail: bool) -> Review {
    let data_url = |data: Option<String>, kind: Option<String>| match (data, kind) {
        (Some(d), Some(k)) if detail => Some(format!("data:{k};base64,{d}")),
        _ => None,
    };
    Review {
        evidence: if detail { row.evidence.as_deref().and_then(|e| serde_json::from_str(e).ok()) } else { None },
        selfie: data_url(row.selfie, row.selfie_type),
        portrait: data_url(row.portrait, row.portrait_type),
        id: row.id,
        pid: row.pid,
        commune: row.commune,
        state: row.state,
        csca: row.csca,
        active_authentication: row.aa,
        decided_by: row.decided_by,
        decision_reason: row.decision_reason,
        decided_at: row.decided_at,
        updated_at: row.updated_at,
    }
}

/// The requests waiting in the given communes, oldest first.
pub async fn reviews(ctx: &Context<'_>, communes: &[String]) -> Result<Vec<Review>, OnboardingError> {
    let sql = format!("SELECT {COLUMNS} FROM onboarding_sessions WHERE state = 'review' ORDER BY updated_at, id");
    let rows: Vec<Row> = dispatch!(ctx.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await)
        .map_err(StoreError::from)?;
    Ok(rows
        .into_iter()
        .filter(|r| r.commune.as_ref().is_some_and(|c| communes.contains(c)))
        .map(|r| review_of(r, false))
        .collect())
}

/// One request of the given communes with its evidence and images (None: no such request in
/// those communes).
pub async fn review(ctx: &Context<'_>, id: &str, communes: &[String]) -> Result<Option<Review>, OnboardingError> {
    let sql = format!("SELECT {COLUMNS} FROM onboarding_sessions WHERE id = $1 AND level = 2");
    let row: Option<Row> =
        dispatch!(ctx.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)
            .map_err(StoreError::from)?;
    Ok(row.filter(|r| r.commune.as_ref().is_some_and(|c| communes.contains(c))).map(|r| review_of(r, true)))
}

/// An officer's decision on a waiting request of their communes: approve, or refuse with a
/// reason. The images are deleted with it.
pub async fn decide(
    ctx: &Context<'_>,
    id: &str,
    officer: &str,
    communes: &[String],
    approve: bool,
    reason: &str,
    now: time::OffsetDateTime,
) -> Result<Review, OnboardingError> {
    let reason = civitas_core::text::clean_free_text(reason).unwrap_or_default();
    if !approve && reason.is_empty() {
        return Err(OnboardingError::Invalid("missing-reason", "give the reason for refusing".into()));
    }
    if reason.chars().count() > 500 {
        return Err(OnboardingError::Invalid("invalid-reason", "the reason is longer than 500 characters".into()));
    }
    let Some(current) = review(ctx, id, communes).await? else { return Err(OnboardingError::NotFound) };
    if current.state != "review" {
        return Err(OnboardingError::WrongState(format!("the request is already {}", current.state)));
    }
    let at = civitas_store::timestamp(now);
    let decided = civitas_store::NewEvent {
        kind: "eid.onboarding_decided",
        subject: current.pid.clone(),
        payload: serde_json::json!({ "session": id, "approved": approve, "reason": reason }),
        actor: officer.to_owned(),
        occurred_at: at.clone(),
    };
    let done = execute_noting(
        ctx,
        "UPDATE onboarding_sessions SET state = $2, decided_by = $3, decision_reason = $4, decided_at = $5, \
         selfie = NULL, portrait = NULL, updated_at = $5 WHERE id = $1 AND state = 'review'",
        vec![
            id.into(),
            (if approve { "approved" } else { "refused" }).into(),
            officer.into(),
            Value::Text(Some(reason.clone()).filter(|r| !r.is_empty())),
            at.into(),
        ],
        Some(decided),
    )
    .await?;
    if done == 0 {
        return Err(OnboardingError::WrongState("the request was decided meanwhile".into()));
    }
    tracing::info!(session = id, officer, approve, "onboarding: a level-2 request was decided");
    review(ctx, id, communes).await?.ok_or(OnboardingError::NotFound)
}

/// What the phone learns of its session.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub state: String,
    pub level: i64,
    pub failure: Option<String>,
    pub decision_reason: Option<String>,
    /// An approval's second factor, given once (when collected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_factor: Option<SecondFactor>,
}

/// The session's state; an approved level-2 request is raised to level 2 now and its second
/// factor given, once.
pub async fn status(
    ctx: &Context<'_>,
    id: &str,
    token: &str,
    now: time::OffsetDateTime,
) -> Result<Status, OnboardingError> {
    let row = load(ctx, id, token, now).await?;
    let mut status = Status {
        state: row.state.clone(),
        level: row.level,
        failure: row.failure.clone(),
        decision_reason: row.decision_reason.clone(),
        second_factor: None,
    };
    if row.state != "approved" {
        return Ok(status);
    }
    let at = civitas_store::timestamp(now);
    let claimed = execute(
        ctx,
        "UPDATE onboarding_sessions SET state = 'delivering', updated_at = $2 WHERE id = $1 AND state = 'approved'",
        vec![id.into(), at.clone().into()],
    )
    .await?;
    if claimed == 0 {
        status.state = "delivering".into();
        return Ok(status);
    }
    let officer = row.decided_by.clone().unwrap_or_default();
    let place = format!("remote review {id}");
    match ctx.identity.raise_to_level2(&row.pid, &officer, &place, now).await {
        Ok(second) => {
            execute(
                ctx,
                "UPDATE onboarding_sessions SET state = 'delivered', updated_at = $2 WHERE id = $1",
                vec![id.into(), at.into()],
            )
            .await?;
            status.state = "delivered".into();
            status.second_factor = Some(second);
            Ok(status)
        }
        Err(e) => {
            execute(
                ctx,
                "UPDATE onboarding_sessions SET state = 'approved', updated_at = $2 WHERE id = $1",
                vec![id.into(), at.into()],
            )
            .await?;
            Err(e.into())
        }
    }
}
