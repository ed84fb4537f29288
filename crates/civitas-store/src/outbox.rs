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

/// The newest messages, delivered or not (for the development page).
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Message>, StoreError> {
    let sql = "SELECT id, channel, recipient, subject, body, created_at, sent_at FROM outbox_messages ORDER BY id DESC LIMIT $1";
    Ok(dispatch!(db, pool => sqlx::query_as::<_, Message>(sql).bind(limit).fetch_all(pool).await)?)
}

pub async fn deliver_once<S: Sender>(db: &Db, sender: &S) -> Result<usize, StoreError> {
    let messages = pending(db, 100).await?;
    for m in &messages {
        let (sql, at) = match sender.send(m).await {
            Ok(()) => {
                ("UPDATE outbox_messages SET sent_at = $1, attempts = attempts + 1 WHERE id = $2", Some(now_text()))
            }
            Err(e) => {
                tracing::warn!(id = m.id, error = %e, "notification not delivered; will retry");
                ("UPDATE outbox_messages SET sent_at = $1, attempts = attempts + 1 WHERE id = $2", None)
            }
        };
        dispatch!(db, pool => sqlx::query(sql).bind(at).bind(m.id).execute(pool).await.map(|_| ()))?;
    }
    Ok(messages.len())
}

#[allow(clippy::disallowed_methods)]
fn now_text() -> String {
    crate::timestamp(time::OffsetDateTime::now_utc())
}
