//! The notification outbox: messages to people (SMS, e-mail) are rows written in the same
//! transaction as the change that causes them, and delivered afterwards by a pluggable
//! [`Sender`]. The development sender logs each message; the rows stay readable (a local page
//! shows them), so nothing needs a real SMS gateway to be tried out.

use serde::Serialize;

use crate::{Db, StoreError, dispatch};

/// Insert statement for a message, for use inside a caller's transaction; binds: channel,
/// recipient, subject, body, created_at.
pub const INSERT: &str =
    "INSERT INTO outbox_messages (channel, recipient, subject, body, created_at) VALUES ($1, $2, $3, $4, $5)";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Message {
    pub id: i64,
    /// `sms` or `email`.
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// Delivers one message; an error leaves it pending for a later attempt.
pub trait Sender: Send + Sync + 'static {
    fn send(&self, message: &Message) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

/// Writes each message to the log (development and tests).
pub struct LogSender;

impl Sender for LogSender {
    async fn send(&self, m: &Message) -> Result<(), String> {
        tracing::info!(channel = %m.channel, recipient = %m.recipient, subject = %m.subject, body = %m.body, "notification (development sender)");
        Ok(())
    }
}

/// Messages not yet delivered, oldest first.
pub async fn pending(db: &Db, limit: i64) -> Result<Vec<Message>, StoreError> {
    let sql = "SELECT id, channel, recipient, subject, body, created_at, sent_at FROM outbox_messages \
               WHERE sent_at IS NULL AND attempts < 20 ORDER BY id LIMIT $1";
    Ok(dispatch!(db, pool => sqlx::query_as::<_, Message>(sql).bind(limit).fetch_all(pool).await)?)
}

/// Claims up to `limit` due messages for one round (see [`crate::claims`]): returns the claim
/// token and the messages, oldest first.
pub async fn claim_due(db: &Db, now_unix: i64, limit: i64) -> Result<(String, Vec<Message>), StoreError> {
    let due = "sent_at IS NULL AND attempts < 20 AND next_attempt_at <= $3";
    let token = crate::claims::claim_rows(db, "outbox_messages", due, "id", now_unix, limit).await?;
    let sql = "SELECT id, channel, recipient, subject, body, created_at, sent_at FROM outbox_messages \
               WHERE claim = $1 AND sent_at IS NULL ORDER BY id";
    let messages = dispatch!(db, pool => sqlx::query_as::<_, Message>(sql).bind(&token).fetch_all(pool).await)?;
    Ok((token, messages))
}

/// The newest messages to any of `addresses` (a person's own phone and e-mail, from their
/// account), newest first: what the account page shows its holder. None without an address.
pub async fn to_person(db: &Db, addresses: &[&str], limit: i64) -> Result<Vec<Message>, StoreError> {
    let (first, second) = match addresses {
        [] => return Ok(Vec::new()),
        [one] => (*one, *one),
        [one, two, ..] => (*one, *two),
    };
    let sql = "SELECT id, channel, recipient, subject, body, created_at, sent_at FROM outbox_messages \
               WHERE recipient = $1 OR recipient = $2 ORDER BY id DESC LIMIT $3";
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Message>(sql).bind(first).bind(second).bind(limit).fetch_all(pool).await)?,
    )
}

/// The newest messages, delivered or not (for the development page).
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Message>, StoreError> {
    let sql = "SELECT id, channel, recipient, subject, body, created_at, sent_at FROM outbox_messages ORDER BY id DESC LIMIT $1";
    Ok(dispatch!(db, pool => sqlx::query_as::<_, Message>(sql).bind(limit).fetch_all(pool).await)?)
}

/// One round: claims due messages (none while outbound delivery is paused), sends each and
/// records each result by itself (only while this round's claim holds). A failed message is
/// tried again after a back-off. Returns how many were attempted.
pub async fn deliver_once<S: Sender>(db: &Db, sender: &S, now_unix: i64) -> Result<usize, StoreError> {
    if crate::claims::outbound_paused(db).await? {
        return Ok(0);
    }
    let (token, messages) = claim_due(db, now_unix, 100).await?;
    for m in &messages {
        let result = sender.send(m).await;
        // Sent: recorded with its time; failed: tried again in 5 s.
        let sql = "UPDATE outbox_messages SET sent_at = $1, attempts = attempts + 1, next_attempt_at = $2 WHERE id = $3 AND claim = $4";
        let next = match &result {
            Ok(()) => now_unix,
            Err(e) => {
                tracing::warn!(id = m.id, error = %e, "notification not delivered; will retry");
                now_unix + 5
            }
        };
        let at = result.is_ok().then(now_text);
        let mut tries = 0;
        loop {
            let done = dispatch!(db, pool => sqlx::query(sql).bind(&at).bind(next).bind(m.id).bind(&token).execute(pool).await.map(|_| ()));
            match done.map_err(StoreError::from) {
                Ok(()) => break,
                Err(e) if crate::claims::transient(&e) && tries < 3 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(messages.len())
}

#[allow(clippy::disallowed_methods)]
fn now_text() -> String {
    crate::timestamp(time::OffsetDateTime::now_utc())
}
