//! Receiving dossiers with group commit: submissions of concurrent requests share one
//! transaction (and their SMS), idempotent by key.

use super::*;

/// Inserts an SMS to the holder of `pid`'s e-ID account (if they have one with a phone), within
/// the caller's transaction. Binds: subject, body, created_at, pid.
pub(crate) const NOTIFY: &str = "INSERT INTO outbox_messages (channel, recipient, subject, body, created_at) \
     SELECT 'sms', phone, $1, $2, $3 FROM accounts WHERE pid = $4 AND phone IS NOT NULL";

pub(crate) struct Pending {
    new: NewDossier,
    key: Option<String>,
    actor: String,
    now: time::OffsetDateTime,
    reply: oneshot::Sender<Result<String, DossierError>>,
}

/// Receives dossiers through one writer that commits whatever arrived together in one
/// transaction (group commit): each submission is acknowledged only after its transaction is
/// durable, and a burst costs one disk flush instead of one per dossier.
#[derive(Clone)]
pub struct Intake {
    db: Db,
    tx: mpsc::Sender<Pending>,
}

pub(crate) const BATCH: usize = 256;

impl Intake {
    pub fn start(db: Db, calendar: Arc<WorkCalendar>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Pending>(4096);
        let writer_db = db.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let items = std::mem::take(&mut batch);
                let (replies, work): (Vec<_>, Vec<_>) =
                    items.into_iter().map(|p| (p.reply, (p.new, p.key, p.actor, p.now))).unzip();
                match insert_batch(&writer_db, &calendar, &work).await {
                    Ok(codes) => {
                        for (reply, code) in replies.into_iter().zip(codes) {
                            let _ = reply.send(Ok(code));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "dossier intake: batch failed");
                        let unavailable = matches!(&e, DossierError::Store(s) if s.is_unavailable());
                        for reply in replies {
                            let why = "the dossier could not be stored".to_owned();
                            let e = if unavailable { StoreError::Unavailable(why) } else { StoreError::Corrupt(why) };
                            let _ = reply.send(Err(DossierError::Store(e)));
                        }
                    }
                }
            }
        });
        Intake { db, tx }
    }

    /// Receives a dossier. With an `idempotency_key`, submitting again (even concurrently)
    /// returns the dossier the first submission created.
    pub async fn submit(
        &self,
        new: NewDossier,
        idempotency_key: Option<&str>,
        actor: &str,
        now: time::OffsetDateTime,
    ) -> Result<Dossier, DossierError> {
        if !["online", "counter", "postal"].contains(&new.channel.as_str()) {
            return Err(DossierError::Invalid("the channel is online, counter or postal".into()));
        }
        if !civitas_core::dossier::valid_body(&new.body_code) {
            return Err(DossierError::Invalid(format!("{:?} is not a receiving body code", new.body_code)));
        }
        if let Some(key) = idempotency_key {
            if key.is_empty() || key.len() > 200 {
                return Err(DossierError::Invalid("the Idempotency-Key must have 1–200 characters".into()));
            }
            if let Some(existing) = by_key(&self.db, &new.applicant_pid, key).await? {
                return Ok(existing);
            }
        }
        let (reply, answer) = oneshot::channel();
        let applicant = new.applicant_pid.clone();
        let pending = Pending { new, key: idempotency_key.map(str::to_owned), actor: actor.to_owned(), now, reply };
        self.tx.try_send(pending).map_err(|_| DossierError::Busy)?;
        let code = answer.await.map_err(|_| DossierError::Busy)??;
        if code.is_empty() {
            // Another submission with the same key won; its dossier is the answer.
            if let Some(key) = idempotency_key
                && let Some(existing) = by_key(&self.db, &applicant, key).await?
            {
                return Ok(existing);
            }
            return Err(DossierError::Invalid("a submission with this Idempotency-Key is being stored".into()));
        }
        get(&self.db, &code).await?.ok_or(DossierError::NotFound(code))
    }
}

/// The codes of a received dossier's components (component → `{code, how}`), and whether
/// one was reused or taken from the applicant's store.
struct Coding {
    codes: serde_json::Map<String, serde_json::Value>,
    reused: bool,
    from_store: bool,
}

/// Codes the components of dossier `$code` inside the intake transaction `$tx` (a macro: the
/// transaction is SQLite's or PostgreSQL's). A document that already has a code keeps it.
macro_rules! code_components {
    ($tx:ident, $new:expr, $code:expr, $actor:expr, $at:expr) => {{
        use crate::codes::{CodeParts, Coded, NEXT};
        let (new, code, actor, at): (&NewDossier, &str, &str, &str) = ($new, $code, $actor, $at);
        let lookup = "SELECT d.sha256, c.code FROM documents d LEFT JOIN document_codes c ON c.document_id = d.id \
                      WHERE d.id = $1 AND d.owner_pid = $2";
        let mut out = Coding { codes: serde_json::Map::new(), reused: false, from_store: false };
        let procedure = if new.national_code.is_empty() { &new.procedure_code } else { &new.national_code };
        let source = if new.channel == "online" { "online" } else { "counter" };
        let empty = serde_json::Map::new();
        let components = new.data.get("components").and_then(|c| c.as_object()).unwrap_or(&empty);
        for (component, document) in components {
            let Some(document) = document.as_str() else { continue };
            let row: Option<(String, Option<String>)> =
                sqlx::query_as(lookup).bind(document).bind(&new.applicant_pid).fetch_optional(&mut *$tx).await?;
            let Some((sha256, existing)) = row else { continue };
            let (printed, how) = match existing {
                Some(c) => {
                    out.reused = true;
                    out.from_store = true;
                    (c, "reused")
                }
                None => {
                    let parts = CodeParts::component(&new.applicant_pid, procedure, component);
                    let (seq,): (i64,) = sqlx::query_as(NEXT).bind(parts.scope()).fetch_one(&mut *$tx).await?;
                    let c = Coded::new(&parts, seq, document, code, &sha256, source, actor, at);
                    if let Some(what) = civitas_store::run_writes!($tx, [c.write()])? {
                        return Err(DossierError::Invalid(what.into()));
                    }
                    (c.code, "digitised")
                }
            };
            out.codes.insert(component.clone(), serde_json::json!({ "code": printed, "how": how }));
        }
        // An earlier result replacing a paper (`result:<procedure>`) is a component above, with
        // the result's code; it comes from the applicant's store.
        let replaced = new.data.get("replaced").and_then(|c| c.as_object()).unwrap_or(&empty);
        if replaced.values().any(|s| s.as_str().is_some_and(|s| s.starts_with("result:"))) {
            out.from_store = true;
        }
        out
    }};
}

/// Stores a batch in one transaction; the code of each (empty when its idempotency key was
/// already used).
pub(crate) async fn insert_batch(
    db: &Db,
    calendar: &WorkCalendar,
    items: &[(NewDossier, Option<String>, String, time::OffsetDateTime)],
) -> Result<Vec<String>, DossierError> {
    let next = "INSERT INTO daily_sequences (scope, day, last) VALUES ($1, $2, 1) \
                ON CONFLICT (scope, day) DO UPDATE SET last = daily_sequences.last + 1 RETURNING last";
    let insert = "INSERT INTO dossiers (code, procedure_code, body_code, unit_code, applicant_pid, applicant_name, channel, state, \
                  data, received_at, received_on, statutory_days, appointment_on, pauses, idempotency_key, catalogue_version, version) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', $8, $9, $10, $11, $12, '[]', $13, $14, 1) \
                  ON CONFLICT (applicant_pid, idempotency_key) DO NOTHING";
    let step = "INSERT INTO dossier_steps (code, at, actor, action, from_state, to_state, appointment_on) \
                VALUES ($1, $2, $3, 'receive', NULL, 'received', $4)";
    let _writer = db.write_lock().await;
    let codes = dispatch!(db, pool => {
        let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
        let mut codes = Vec::with_capacity(items.len());
        let mut events = Vec::with_capacity(items.len());
        for (new, key, actor, now) in items {
            // A key used twice within this batch: the later one answers with the first's dossier.
            if key.is_some() && items.iter().take(codes.len()).any(|(o, k, _, _)| k == key && o.applicant_pid == new.applicant_pid) {
                codes.push(String::new());
                continue;
            }
            let received_on = calendar.receipt_day(*now);
            let (sequence,): (i64,) = sqlx::query_as(next).bind(&new.body_code).bind(day(received_on)).fetch_one(&mut *tx).await?;
            let code = DossierCode::new(&new.body_code, received_on, u32::try_from(sequence).unwrap_or(u32::MAX))
                .map(|c| c.to_string())
                .unwrap_or_default();
            let appointment = workflow::appointment(calendar, received_on, new.statutory_days, &[]);
            let at = civitas_store::timestamp(*now);
            let n = sqlx::query(insert).bind(&code).bind(&new.procedure_code).bind(&new.body_code).bind(&new.unit_code)
                .bind(&new.applicant_pid).bind(&new.applicant_name).bind(&new.channel).bind(new.data.to_string()).bind(&at)
                .bind(day(received_on)).bind(i64::from(new.statutory_days)).bind(day(appointment)).bind(key.as_deref())
                .bind(&new.catalogue_version).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                codes.push(String::new());
                continue;
            }
            sqlx::query(step).bind(&code).bind(&at).bind(actor).bind(day(appointment)).execute(&mut *tx).await?;
            // Components get their codes: digitised now (a new code), or reused (the code the
            // document already has: an earlier dossier's component or result).
            let mut coding = code_components!(tx, new, &code, actor, &at);
            let with_codes;
            let new = if coding.codes.is_empty() {
                new
            } else {
                let mut copy = new.clone();
                if let Some(obj) = copy.data.as_object_mut() {
                    obj.insert("codes".into(), serde_json::Value::Object(std::mem::take(&mut coding.codes)));
                }
                sqlx::query("UPDATE dossiers SET data = $1 WHERE code = $2").bind(copy.data.to_string()).bind(&code)
                    .execute(&mut *tx).await?;
                with_codes = copy;
                &with_codes
            };
            // The national portal learns of the dossier (its first message) and its receipt.
            let received = received_dossier(new, &code, &at, received_on, appointment);
            let receipt = crate::portal::StepFact {
                at: at.clone(), actor: actor.clone(), action: "receive".into(), from: None, to: "received".into(), note: None,
                appointment: Some(day(appointment)),
            };
            let portal = crate::portal::writes(&received, &[receipt], true, &at);
            if let Some(what) = civitas_store::run_writes!(tx, portal)? {
                return Err(DossierError::Invalid(what.into()));
            }
            let body = format!(
                "Hồ sơ {code} đã được tiếp nhận. Ngày hẹn trả kết quả: {}. / Dossier {code} received; results due {}.",
                vn_day(appointment), appointment
            );
            sqlx::query(NOTIFY).bind("Tiếp nhận hồ sơ / Dossier received").bind(body).bind(&at).bind(&new.applicant_pid)
                .execute(&mut *tx).await?;
            events.push(NewEvent {
                kind: "dossier.received",
                subject: code.clone(),
                payload: serde_json::json!({
                    "procedure": new.procedure_code, "applicant": new.applicant_pid, "channel": new.channel,
                    "unit": new.unit_code, "appointment": day(appointment),
                    "reused": coding.reused || new.data.get("replaced").and_then(|r| r.as_object()).is_some_and(|r| !r.is_empty()),
                    "from_store": coding.from_store,
                    "digitised": new.data.get("components").and_then(|r| r.as_object()).is_some_and(|r| !r.is_empty()),
                }),
                actor: actor.clone(),
                occurred_at: at,
            });
            codes.push(code);
        }
        insert_events!(tx, &events)?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(codes)
    })?;
    Ok(codes)
}

/// A dossier as it is when received (what the portal's first message describes).
pub fn received_dossier(new: &NewDossier, code: &str, at: &str, received_on: Date, appointment: Date) -> Dossier {
    Dossier {
        code: code.to_owned(),
        procedure_code: new.procedure_code.clone(),
        body_code: new.body_code.clone(),
        unit_code: new.unit_code.clone(),
        applicant_pid: new.applicant_pid.clone(),
        applicant_name: new.applicant_name.clone(),
        channel: new.channel.clone(),
        state: State::Received,
        step_index: 0,
        data: new.data.clone(),
        received_at: at.to_owned(),
        received_on: day(received_on),
        statutory_days: i64::from(new.statutory_days),
        appointment_on: day(appointment),
        pauses: Vec::new(),
        supplement_due_on: None,
        apology_on: None,
        apology_reason: None,
        finished_on: None,
        timeliness: None,
        rating: None,
        result_document: None,
        catalogue_version: new.catalogue_version.clone(),
        version: 1,
    }
}
